#!/usr/bin/env bats
# iobs-mirror's safety: a hostile stream or DEST changes nothing outside
# DEST; a reconcile does not wipe a backup by mistake; errors in DEST
# are reported and the mirror carries on.

load mirror_helper

setup() { mirror_setup; }
teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

# Something outside both trees that must not change.
make_victim() {
	VICTIM=$T/victim
	mkdir -p "$VICTIM/etc"
	echo secret >"$VICTIM/etc/passwd"
	echo keep >"$VICTIM/keep"
	find "$VICTIM" -printf '%p %y %m %s %T@\n' | sort >"$T/victim.before"
}

victim_unchanged() {
	find "$VICTIM" -printf '%p %y %m %s %T@\n' | sort >"$T/victim.after"
	diff -u "$T/victim.before" "$T/victim.after"
}

@test "a stream with .. or paths outside the root changes nothing outside DEST" {
	make_victim
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/../victim/keep"
	rec DELETE 0 "$SRC/../victim/keep"
	rec DELETE,ISDIR 0 "$SRC/../../$(basename "$T")/victim/etc"
	rec DELETE 0 "$VICTIM/etc/passwd"
	rec CREATE,ISDIR 0 "$SRC/./x/../../victim"
	rec MOVED_FROM 5 "$SRC/a"
	rec MOVED_TO 5 "$SRC/../victim/a"
	rec DELETE,ISDIR 0 "$SRC/.."
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "stdin:3: path outside"
	run -0 victim_unchanged
	assert [ -e "$DST/a" ]
}

@test "a symlink planted in DEST is never followed" {
	make_victim
	mkdir -p "$SRC/etc" "$SRC/d"
	echo new >"$SRC/etc/passwd"
	echo f >"$SRC/d/f"
	echo g >"$SRC/g"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	# DEST is tampered with: its directories become symlinks out.
	rm -rf "$DST/etc" "$DST/d"
	ln -s "$VICTIM/etc" "$DST/etc"
	ln -s "$VICTIM" "$DST/d"
	ln -sf "$VICTIM/keep" "$DST/g"
	: >"$T/s"
	rec WATCH_INIT 0 "$SRC"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/etc/passwd"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/g"
	rec ATTRIB 0 "$SRC/g"
	rec DELETE 0 "$SRC/d/keep"
	rec MOVED_FROM 9 "$SRC/d/f"
	rec MOVED_TO 9 "$SRC/d/f2"
	mv "$SRC/d/f" "$SRC/d/f2"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 victim_unchanged
	run -0 treecmp "$SRC" "$DST"
}

@test "a symlink planted in DEST stays unfollowed during live events" {
	make_victim
	mkdir "$SRC/d"
	start_mirror
	rm -rf "$DST/d"
	ln -s "$VICTIM" "$DST/d"
	echo x >"$SRC/d/keep"
	rm "$SRC/d/keep"
	echo y >"$SRC/d/new"
	wait_converged 2
	run -0 victim_unchanged
}

@test "DEST shown inside the root by a bind mount is refused, exit 2" {
	mkdir "$DST"
	echo a >"$SRC/a"
	bind "$DST" "$SRC/mnt"
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "inside the watched root"
	run -0 find "$DST" -maxdepth 0 -empty
	# A directory above DEST bound there shows it as well.
	mkdir "$T/up"
	bind "$T/up" "$SRC/up"
	run -2 iobs-mirror "$T/up/dst" <"$T/s"
	assert_output --partial "inside the watched root"
	assert [ ! -e "$T/up/dst" ]
}

@test "DEST a bind mount of a directory of the root is refused, exit 2" {
	mkdir -p "$SRC/sub/deeper"
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	# DEST is the source's sub, shown outside the root.
	bind "$SRC/sub" "$T/shown"
	run -2 iobs-mirror "$T/shown" <"$T/s"
	assert_output --partial "inside the watched root"
	# Or a directory below it, not made yet.
	run -2 iobs-mirror "$T/shown/deeper/dst" <"$T/s"
	assert_output --partial "inside the watched root"
	assert [ ! -e "$SRC/sub/deeper/dst" ]
	assert [ ! -e "$SRC/sub/a" ]
}

@test "DEST bound inside the root after the start is never copied into itself" {
	echo a >"$SRC/a"
	mkdir "$SRC/mnt" "$DST"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	bind "$DST" "$SRC/mnt"
	send CREATE,ISDIR 0 "$SRC/mnt"
	send ATTRIB 0 "$SRC/a"
	end_stream
	assert_equal "$MIRROR_STATUS" 1
	run -0 find "$DST/mnt" -mindepth 1
	assert_output ""
	run -0 grep -c "shown inside the watched root as mnt" "$T/mirror.err"
	assert_output 1
}

@test "the root shown inside DEST by a bind mount is refused, exit 2" {
	mkdir "$DST"
	echo a >"$SRC/a"
	bind "$SRC" "$DST/mnt"
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "is inside $DST"
	assert [ -e "$SRC/a" ]
}

@test "DEST reached through a symlink into the root is refused, exit 2" {
	mkdir "$SRC/sub"
	ln -s "$SRC/sub" "$T/link"
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$T/link/dst" <"$T/s"
	assert_output --partial "inside the watched root"
	assert [ ! -e "$SRC/sub/dst" ]
}

# failing_mirror DIR ARGS...: iobs-mirror ARGS run with readdir(3) of
# DIR failing with errno FAIL_ERRNO (EIO, 5, by default) after 12
# entries, while $T/failing exists.
failing_mirror() {
	local dir=$1
	shift
	env LD_PRELOAD="$IOBS_REAL_BIN/readdir_fail.so" IOBS_FAIL_DIR="$dir" \
	    IOBS_FAIL_AFTER=12 IOBS_FAIL_WHILE="$T/failing" \
	    IOBS_FAIL_ERRNO="${FAIL_ERRNO:-5}" \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	    iobs-mirror "$@"
}

@test "a listing that fails part-way deletes nothing under it: one line, exit 1" {
	mkdir "$SRC/big"
	(cd "$SRC/big" && touch f{0001..3000})
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	rm "$SRC/big/f0001" "$SRC/a"
	touch "$T/failing"
	run -1 --separate-stderr failing_mirror "$SRC/big" "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: list $SRC/big: Input/output error"
	assert_equal "$(find "$DST/big" -type f | wc -l)" 3000
	# The rest of the tree is mirrored as ever.
	assert [ ! -e "$DST/a" ]
	rm "$T/failing"
	run -0 failing_mirror "$SRC/big" "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "a listing that fails part-way with ENOMEM or EACCES deletes nothing either" {
	mkdir "$SRC/big"
	(cd "$SRC/big" && touch f{001..300})
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	rm "$SRC/big/f001"
	touch "$T/failing"
	FAIL_ERRNO=12 run -1 --separate-stderr failing_mirror "$SRC/big" \
	    "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: list $SRC/big: Cannot allocate memory"
	FAIL_ERRNO=13 run -1 --separate-stderr failing_mirror "$SRC/big" \
	    "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: list $SRC/big: Permission denied"
	assert_equal "$(find "$DST/big" -type f | wc -l)" 300
}

@test "live: a listing that fails is tried again until it succeeds, reported once" {
	mkdir -p "$SRC/d" "$DST/d"
	(cd "$SRC/d" && touch f{01..40})
	echo stale >"$DST/d/stale"
	touch "$T/failing"
	mkfifo "$T/pipe"
	failing_mirror "$SRC/d" "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	BG_PIDS+=("$!")
	wait_for 10 test -s "$T/mirror.err"
	assert [ -e "$DST/d/stale" ]
	rm "$T/failing"
	wait_converged 10
	run -0 cat "$T/mirror.err"
	assert_output "iobs-mirror: list $SRC/d: Input/output error"
	running "$MIRROR_PID"
}

@test "an empty source with a full DEST stops the reconcile, exit 1" {
	mkdir "$DST"
	echo precious >"$DST/backup"
	stream "$T/s" "$SRC"
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "is empty but"
	assert_output --partial "--force"
	assert [ -e "$DST/backup" ]
	run -0 iobs-mirror --force "$DST" <"$T/s"
	assert [ ! -e "$DST/backup" ]
}

@test "--max-delete stops a reconcile that would delete more, exit 1" {
	echo a >"$SRC/a"
	mkdir -p "$DST/old/sub"
	touch "$DST/old/1" "$DST/old/2" "$DST/old/sub/3" "$DST/x"
	stream "$T/s" "$SRC"
	run -1 iobs-mirror --max-delete 5 "$DST" <"$T/s"
	assert_output --partial "would delete 6 entries"
	assert [ -e "$DST/old/sub/3" ]
	assert [ -e "$DST/x" ]
	run -0 iobs-mirror -m 6 -v "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "--max-delete counts a temporary an interrupted copy left with all it holds" {
	echo a >"$SRC/a"
	mkdir -p "$DST/.iobs-mirror.99.1/sub"
	touch "$DST/.iobs-mirror.99.1/1" "$DST/.iobs-mirror.99.1/sub/2"
	stream "$T/s" "$SRC"
	run -1 iobs-mirror --max-delete 3 "$DST" <"$T/s"
	assert_output --partial "would delete 4 entries"
	run -0 iobs-mirror --max-delete 4 "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "--max-delete counts a directory that became a symlink or a file, with all it held" {
	mkdir -p "$SRC/d" "$SRC/e"
	(cd "$SRC/d" && touch f{001..300})
	touch "$SRC/e/1" "$SRC/e/2"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	rm -r "$SRC/d" "$SRC/e"
	ln -s elsewhere "$SRC/d"
	echo file >"$SRC/e"
	run -1 iobs-mirror --max-delete 5 "$DST" <"$T/s"
	assert_output --partial "would delete 304 entries"
	assert_equal "$(find "$DST/d" -type f | wc -l)" 300
	run -0 iobs-mirror --max-delete 304 "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "--max-delete counts the deletes of a walk a record starts, not those the kernel reports" {
	mkdir -p "$SRC/d/sub" "$SRC/k"
	touch "$SRC/d/sub/f"{01..20} "$SRC/k/f"{01..20}
	fifo_mirror -m 5
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	rm -r "$SRC/d/sub"
	echo now-a-file >"$SRC/d/sub"
	# A lone MOVED_TO: all of d is compared with the source.
	send MOVED_TO,ISDIR 0 "$SRC/d"
	wait_for 10 has_lines "$T/mirror.err" "more than --max-delete 5" 1
	assert [ -e "$DST/d/sub/f20" ]
	# A directory the kernel says was deleted goes, whatever it held.
	rm -r "$SRC/k"
	send DELETE,ISDIR 0 "$SRC/k"
	wait_for 10 test ! -e "$DST/k"
	running "$MIRROR_PID"
	end_stream
	assert_equal "$MIRROR_STATUS" 1
	run -0 grep -c . "$T/mirror.err"
	assert_output 1
}

@test "-v logs every delete" {
	echo a >"$SRC/a"
	mkdir -p "$DST/old"
	touch "$DST/old/1" "$DST/x"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror -v "$DST" <"$T/s"
	assert_line "delete $DST/old"
	assert_line "delete $DST/x"
	refute_line --partial "copy"
}

@test "--dry-run prints what it would do and changes nothing" {
	echo a >"$SRC/a"
	mkdir "$SRC/newdir" "$DST"
	echo x >"$DST/x"
	find "$DST" -printf '%p %T@\n' >"$T/before"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --dry-run "$DST" <"$T/s"
	assert_line "copy $DST/a"
	assert_line "mkdir $DST/newdir"
	assert_line "delete $DST/x"
	find "$DST" -printf '%p %T@\n' >"$T/after"
	run -0 diff -u "$T/before" "$T/after"
}

@test "--exclude: neither copied nor deleted" {
	mkdir -p "$SRC/build/o" "$SRC/keep" "$DST"
	echo o >"$SRC/build/o/x.o"
	echo c >"$SRC/keep/c.c"
	echo swp >"$SRC/keep/.c.swp"
	echo mine >"$DST/local.swp"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror -x build -x '*.swp' "$DST" <"$T/s"
	assert [ -e "$DST/keep/c.c" ]
	assert [ ! -e "$DST/build" ]
	assert [ ! -e "$DST/keep/.c.swp" ]
	assert [ -e "$DST/local.swp" ]
	rec CLOSE_WRITE,CLOSE 0 "$SRC/build/o/x.o"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/keep/.c.swp"
	run -0 iobs-mirror -x /build -x '*.swp' "$DST" <"$T/s"
	assert [ ! -e "$DST/build" ]
	assert [ ! -e "$DST/keep/.c.swp" ]
}

@test "a DEST error is one line, the mirror keeps on and retries at reconcile" {
	command -v setpriv >/dev/null || skip "no setpriv"
	mkdir -p "$SRC/locked" "$SRC/open" "$DST/locked" "$DST/open"
	echo a >"$SRC/locked/a"
	echo b >"$SRC/open/b"
	chown -R nobody "$T"
	# A directory of DEST that nobody can neither write nor chmod.
	chown root "$DST/locked"
	chmod 755 "$SRC/locked" "$DST/locked"
	touch -r "$SRC/locked" "$DST/locked"
	stream "$T/s" "$SRC"
	chown nobody "$T/s"
	run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups iobs-mirror "$DST" <"$T/s"
	assert_equal "$(grep -c . <<<"$stderr")" 1
	assert_equal "$(grep -c 'locked/a' <<<"$stderr")" 1
	# No chmod can help: the line says what can.
	assert_equal "$(grep -c "uid 0's: run iobs-mirror as that user or as root" \
	    <<<"$stderr")" 1
	assert [ -e "$DST/open/b" ]
	chown nobody "$DST/locked"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    iobs-mirror "$DST" <"$T/s"
	assert [ -e "$DST/locked/a" ]
}

@test "as root, owners are kept by default; --no-owner leaves files the mirror's" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	echo a >"$SRC/a"
	chown nobody:nogroup "$SRC/a"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --no-owner "$T/plain" <"$T/s"
	assert_equal "$(stat -c %U "$T/plain/a")" root
	run -0 iobs-mirror "$DST" <"$T/s"
	assert_equal "$(stat -c %U:%G "$DST/a")" nobody:nogroup
	run -0 iobs-mirror --owner "$T/o" <"$T/s"
	assert_equal "$(stat -c %U:%G "$T/o/a")" nobody:nogroup
}

@test "a new directory's files keep the source's group and mode in a setgid DEST or under a default ACL" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	mkdir -p "$SRC/d" "$DST" "$T/acl"
	echo a >"$SRC/d/a"
	chmod 664 "$SRC/d/a"
	echo b >"$SRC/d/b"
	chmod 1640 "$SRC/d/b"
	stream "$T/s" "$SRC"
	# The group a file is made with is DEST's, not the mirror's.
	chgrp nogroup "$DST"
	chmod 2755 "$DST"
	run -0 iobs-mirror "$DST" <"$T/s"
	assert_equal "$(stat -c %G:%a "$DST/d/a")" root:664
	assert_equal "$(stat -c %G:%a "$DST/d/b")" root:1640
	# A default ACL takes bits off the mode a file is made with.
	command -v setfacl >/dev/null || skip "no setfacl (acl)"
	setfacl -d -m g::-,o::- "$T/acl" 2>/dev/null || skip "no ACLs on $T"
	run -0 iobs-mirror "$T/acl" <"$T/s"
	assert_equal "$(stat -c %a "$T/acl/d/a")" 664
	run -0 treecmp "$SRC" "$DST"
}

@test "a setuid file whose owner is not kept loses setuid and setgid, at reconcile and live" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	printf '#!/bin/sh\n' >"$SRC/suid"
	chown nobody:nogroup "$SRC/suid"
	chmod 6755 "$SRC/suid"
	echo b >"$SRC/b"
	chown nobody:nogroup "$SRC/b"
	stream "$T/s" "$SRC"
	chmod 6755 "$SRC/b"
	rec ATTRIB 0 "$SRC/b"
	run -0 iobs-mirror --no-owner "$T/plain" <"$T/s"
	assert_equal "$(stat -c %U:%a "$T/plain/suid")" root:755
	assert_equal "$(stat -c %U:%a "$T/plain/b")" root:755
	# Kept with its owner, as rsync -a does: no privilege gained.
	run -0 iobs-mirror "$DST" <"$T/s"
	assert_equal "$(stat -c %U:%a "$DST/suid")" nobody:6755
	assert_equal "$(stat -c %U:%a "$DST/b")" nobody:6755
}

@test "not root: read-only directories and files are mirrored, live and at reconcile, with their modes" {
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(id -u)" = 0 ] || skip "needs root to become nobody"
	mkdir -p "$SRC/ro/sub" "$SRC/ro/gone"
	echo f >"$SRC/ro/f"
	echo g >"$SRC/ro/sub/g"
	touch "$SRC/ro/gone/x"
	chmod 444 "$SRC/ro/f" "$SRC/ro/sub/g"
	chmod 555 "$SRC/ro/sub" "$SRC/ro/gone" "$SRC/ro"
	chown -R nobody:nogroup "$T"
	chmod 755 "$T"
	mkfifo "$T/pipe"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    iobs-mirror "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_converged 10
	assert_equal "$(stat -c %a "$DST/ro")" 555
	# Root changes the source; nobody's mirror follows.
	echo changed >>"$SRC/ro/f"
	echo new >"$SRC/ro/sub/new"
	rm "$SRC/ro/sub/g"
	rm -r "$SRC/ro/gone"
	mv "$SRC/ro/f" "$SRC/ro/f2"
	# A read-only directory moved to another parent: its ".." changes.
	mkdir "$SRC/rw"
	mv "$SRC/ro/sub" "$SRC/rw/sub"
	wait_converged 10
	run -0 cat "$T/mirror.err"
	assert_output ""
	stop_pid "$WATCH_PID"
	wait "$MIRROR_PID"
	# And at a reconcile.
	echo again >"$SRC/rw/sub/again"
	rm "$SRC/rw/sub/new"
	stream "$T/s" "$SRC"
	chown nobody "$T/s"
	run -0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "--owner without root: exit 2" {
	command -v setpriv >/dev/null || skip "no setpriv"
	run -2 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    iobs-mirror --owner "$DST" </dev/null
	assert_output --partial "--owner"
}

@test "two mirrors on one DEST: the second exits 1 with one line, the first keeps on" {
	echo a >"$SRC/a"
	start_mirror
	stream "$T/s" "$SRC"
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "$DST: another iobs-mirror is writing there"
	assert_equal "${#lines[@]}" 1
	echo b >"$SRC/b"
	wait_converged 5
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
	# Its lock went with it.
	run -0 iobs-mirror "$DST" <"$T/s"
}

@test "--fsync: each file's data and its directory reach the disk before the next step" {
	command -v strace >/dev/null || skip "no strace"
	skip_valgrind "strace of a valgrind run"
	# LeakSanitizer cannot run under ptrace(2): it aborts at exit.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	mkdir "$SRC/d"
	echo a >"$SRC/a"
	echo b >"$SRC/d/b"
	stream "$T/s" "$SRC"
	run -0 strace -f -e trace=fsync -o "$T/trace" iobs-mirror "$DST" <"$T/s"
	run -1 grep -c "fsync(" "$T/trace"
	rm -rf "$DST"
	run -0 strace -f -e trace=fsync -o "$T/trace" iobs-mirror --fsync \
	    "$DST" <"$T/s"
	run -0 converged
	# Two files, each with its directory; a new directory's entries.
	run -0 grep -c "fsync(.*= 0" "$T/trace"
	[ "$output" -ge 5 ]
}
