#!/usr/bin/env bats
# iobs-mirror --backup-dir, --keep and --no-delete: what the source
# deletes or replaces is kept, by rename, in a set of DIR named for its
# minute; or, with --no-delete, stays in DEST. Usage errors first.

load mirror_helper

setup() { mirror_setup; CMP_OPTS=(-x .bk); }

# the_set: the one set in $DST/.bk.
the_set() {
	local s
	s=$(ls "$DST/.bk")
	[ "$(printf '%s\n' "$s" | wc -l)" -eq 1 ] || return 1
	echo "$DST/.bk/$s"
}

@test "--keep without --backup-dir, or not a number or an age: exit 2" {
	run -2 iobs-mirror --keep 3 "$DST" </dev/null
	assert_output --partial "only with --backup-dir"
	run -2 iobs-mirror --backup-dir .bk --keep 3x "$DST" </dev/null
	assert_output --partial "a number of sets, or an age"
	run -2 iobs-mirror --backup-dir .bk --keep 0 "$DST" </dev/null
	assert_output --partial "--keep 0"
}

@test "--backup-dir that is DEST, climbs back in, is elsewhere or in the source: exit 2" {
	stream "$T/s" "$SRC"
	run -2 iobs-mirror --backup-dir . "$DST" <"$T/s"
	assert_output --partial "is DEST itself"
	run -2 iobs-mirror --backup-dir a/../b "$DST" <"$T/s"
	assert_output --partial "'..' after a name"
	run -2 iobs-mirror --backup-dir "$SRC/bk" "$DST" <"$T/s"
	assert_output --partial "inside the watched root"
	# A symlink planted in DEST is not followed out of it.
	mkdir -p "$DST" "$T/elsewhere"
	ln -s "$T/elsewhere" "$DST/.bk"
	run -2 iobs-mirror --backup-dir .bk/x "$DST" <"$T/s"
	assert_output --partial "--backup-dir .bk/x"
	assert [ ! -e "$T/elsewhere/x" ]
	rm "$DST/.bk"
	# Another file system: a backup is a rename, never a copy.
	[ "$(id -u)" = 0 ] || skip "needs root to mount"
	mkdir "$T/other"
	mount -t tmpfs none "$T/other"
	run -2 iobs-mirror --backup-dir "$T/other/bk" "$DST" <"$T/s"
	umount "$T/other"
	assert_output --partial "not on the file system of"
}

@test "rm -rf of a 10,000-file directory is one rename into the set; mv brings it back" {
	mkdir -p "$SRC/d/sub"
	for i in $(seq 1 10000); do echo "$i" >"$SRC/d/f$i"; done
	echo s >"$SRC/d/sub/s"
	echo keep >"$SRC/keep"
	start_mirror --backup-dir .bk -v
	ino=$(inode "$DST/d")
	rm -rf "$SRC/d"
	wait_for 10 test ! -e "$DST/d"
	set=$(the_set)
	# The same directory, renamed whole: its inode, all it held.
	assert_equal "$(inode "$set/d")" "$ino"
	assert_equal "$(find "$set/d" -type f | wc -l)" 10001
	run -0 grep -c '^delete, kept ' "$T/mirror.out"
	assert_output 1
	run -0 grep -Fx "delete, kept $DST/d" "$T/mirror.out"
	# Restored into the source, it is mirrored again.
	mv "$set/d" "$SRC/d"
	wait_converged 20
	assert_equal "$(cat "$DST/d/f7")" 7
}

@test "a file overwritten, replaced by a rename or deleted keeps its last version in the set" {
	echo old >"$SRC/w"
	echo victim >"$SRC/v"
	echo new >"$SRC/n"
	echo gone >"$SRC/g"
	start_mirror --backup-dir .bk
	echo newer >"$SRC/w"
	mv "$SRC/n" "$SRC/v"
	rm "$SRC/g"
	wait_converged 10
	set=$(the_set)
	assert_equal "$(cat "$set/w")" old
	assert_equal "$(cat "$set/v")" victim
	assert_equal "$(cat "$set/g")" gone
	assert_equal "$(cat "$DST/w")" newer
	assert_equal "$(stat -c %a "$set")" 700
}

@test "the backup directory in DEST is neither mirrored nor deleted, at reconcile either" {
	echo a >"$SRC/a"
	start_mirror --backup-dir .bk
	rm "$SRC/a"
	wait_converged 10
	set=$(the_set)
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
	# A restart reconciles: the source has no .bk, DEST keeps it.
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --backup-dir .bk "$DST" <"$T/s"
	assert_equal "$(cat "$set/a")" a
	# A .bk made in the source stays out of DEST's.
	mkdir "$SRC/.bk"
	echo intruder >"$SRC/.bk/x"
	run -0 iobs-mirror --backup-dir .bk "$DST" <"$T/s"
	assert [ ! -e "$DST/.bk/x" ]
	assert_equal "$(cat "$set/a")" a
}

@test "--keep N keeps the N newest sets, --keep AGE those younger; nothing else in DIR" {
	mkdir -p "$DST/.bk"
	for s in 2020-01-01T0000Z 2020-01-02T0000Z 2020-01-03T0000Z; do
		mkdir "$DST/.bk/$s"
	done
	mkdir "$DST/.bk/notes"
	recent=$(date -u -d '10 minutes ago' +%Y-%m-%dT%H%MZ)
	mkdir "$DST/.bk/$recent"
	echo a >"$SRC/a"
	echo b >"$SRC/b"
	echo c >"$SRC/c"
	start_mirror --backup-dir .bk --keep 3
	rm "$SRC/a"
	wait_converged 10
	# The new set, and the two newest before it.
	run -0 ls "$DST/.bk"
	assert_line 2020-01-03T0000Z
	assert_line "$recent"
	assert_line notes
	refute_line 2020-01-01T0000Z
	refute_line 2020-01-02T0000Z
	assert_equal "${#lines[@]}" 4
	stop_mirror
	# By age: the 2020 set goes, the one 10 minutes old stays.
	stream "$T/s" "$SRC"
	rm "$SRC/b"
	run -0 iobs-mirror --backup-dir .bk --keep 1h "$DST" <"$T/s"
	run -0 ls "$DST/.bk"
	refute_line 2020-01-03T0000Z
	assert_line "$recent"
	assert_line notes
}

@test "--no-delete keeps in DEST what the source deletes; renames stay renames" {
	mkdir "$SRC/d"
	echo a >"$SRC/a"
	echo f >"$SRC/d/f"
	echo r >"$SRC/r"
	mkdir "$DST"
	echo extra >"$DST/extra"
	start_mirror_nowait --no-delete
	wait_for 10 test -e "$DST/r"
	ino=$(inode "$DST/r")
	rm "$SRC/a"
	rm -r "$SRC/d"
	mv "$SRC/r" "$SRC/r2"
	wait_for 10 test -e "$DST/r2"
	assert_equal "$(inode "$DST/r2")" "$ino"
	assert [ ! -e "$DST/r" ]
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
	assert_equal "$(cat "$DST/a")" a
	assert_equal "$(cat "$DST/d/f")" f
	assert_equal "$(cat "$DST/extra")" extra
}

@test "a file deleted and a directory moved onto its name at once: the file kept, the directory in its place" {
	echo old >"$SRC/a"
	mkdir "$SRC/d"
	echo inside >"$SRC/d/f"
	start_mirror --backup-dir .bk
	# The delete waits a moment in the mirror; the rename does not,
	# and finds the file still there in DEST.
	rm "$SRC/a" && mv "$SRC/d" "$SRC/a"
	wait_converged 10
	[ "$(cat "$DST/a/f")" = inside ]
	set=$(the_set)
	[ "$(cat "$set/a")" = old ]
	! grep -q "Not a directory" "$T/mirror.err"
}

@test "a file kept in the minute's set, then a file under its new directory replaced: the set's directory wins" {
	echo old >"$SRC/x"
	start_mirror --backup-dir .bk
	# All in one minute, the set's, or nothing is tested.
	while [ "$(date -u +%S)" -ge 50 ]; do sleep 1; done
	rm "$SRC/x"
	wait_for 10 test ! -e "$DST/x"
	set=$(the_set)
	[ -f "$set/x" ]
	mkdir "$SRC/x"
	echo f >"$SRC/x/f.tmp"
	mv "$SRC/x/f.tmp" "$SRC/x/f"
	wait_converged 10
	echo g >"$SRC/x/g.tmp"
	mv "$SRC/x/g.tmp" "$SRC/x/f"
	wait_converged 10
	[ "$(the_set)" = "$set" ]
	[ "$(cat "$set/x/f")" = f ]
	! grep -q "Not a directory" "$T/mirror.err"
}
