#!/usr/bin/env bats
# iobs-mirror: usage and exit codes first, then reconcile, live events,
# safety and errors.

load mirror_helper

setup() { mirror_setup; }
teardown() { common_teardown; }

@test "no operand: usage, exit 2" {
	run -2 iobs-mirror </dev/null
	assert_output --partial "usage: iobs-mirror"
}

@test "unknown option: usage, exit 2" {
	run -2 iobs-mirror --bogus "$DST" </dev/null
	assert_output --partial "usage: iobs-mirror"
}

@test "no destination: usage, exit 2" {
	run -2 iobs-mirror </dev/null
	assert_output --partial "no destination"
	assert_output --partial "usage: iobs-mirror"
}

@test "--max-delete not a number: exit 2" {
	run -2 iobs-mirror --max-delete=lots "$DST" </dev/null
	assert_output --partial "--max-delete lots"
}

@test "DEST is a file: exit 2" {
	touch "$T/file"
	run -2 iobs-mirror "$T/file" </dev/null
	assert_output --partial "not a directory"
}

@test "--destination=DIR is as an operand; the same one twice is an error" {
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --destination="$DST" <"$T/s"
	run -0 converged
	run -2 iobs-mirror --destination="$DST" "$DST" <"$T/s"
	assert_output --partial "a destination given twice"
}

@test "DEST inside the watched root is refused, exit 2" {
	mkdir "$SRC/backup"
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$SRC/backup" <"$T/s"
	assert_output --partial "inside the watched root"
	run -0 find "$SRC/backup" -maxdepth 0 -empty
}

@test "watched root inside DEST is refused, exit 2" {
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$T" <"$T/s"
	assert_output --partial "inside $T"
	assert [ -d "$SRC" ]
}

@test "a second root is an error unless --root chooses" {
	mkdir "$T/other"
	echo o >"$T/other/o"
	echo s >"$SRC/s"
	stream "$T/s" "$SRC"
	rec WATCH_INIT 0 "$T/other"
	run -2 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "second root"
	run -0 iobs-mirror --root="$T/other/" "$DST" <"$T/s"
	run -0 treecmp "$T/other" "$DST"
}

@test "a malformed line is reported with its number and skipped" {
	stream "$T/s" "$SRC"
	printf 'garbage\n' >>"$T/s"
	echo a >"$SRC/a"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/a"
	mkdir "$DST"
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "stdin:3:"
	run -0 cmp "$SRC/a" "$DST/a"
}

@test "a last line with no newline is reported and skipped: a record cut short" {
	stream "$T/s" "$SRC"
	mkdir "$DST"
	# What a writer killed mid-record leaves; cut anywhere, it may
	# parse, as another path, so it is never applied.
	printf '1764057600.000000\tCREATE\t0\t%s/fil' "$SRC" >>"$T/s"
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output "iobs-mirror: stdin:3: no newline at the end of the input: a record cut short; line skipped"
}

@test "a source file that vanished is silent" {
	stream "$T/s" "$SRC"
	rec CREATE 0 "$SRC/gone"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/gone"
	rec ATTRIB 0 "$SRC/gone"
	run -0 --separate-stderr iobs-mirror "$DST" <"$T/s"
	assert_equal "$stderr" ""
	assert [ ! -e "$DST/gone" ]
}

@test "a directory moved out of the tree while its path is resolved is silent" {
	mkdir -p "$SRC/a/b/c/d/e/f/g" "$T/out"
	stream "$T/s" "$SRC"
	# Enough records that the moves below catch openat2(2) in the
	# middle of resolving a path, which then fails with EXDEV.
	yes "$(printf '1764057600.000000\tATTRIB\t0\t%s' "$SRC/a/b/c/d/e/f/g")" |
	    head -n $((100000 / SLOW_TOOLS)) >>"$T/s"
	(
		while [ ! -e "$T/stop" ]; do
			mv "$SRC/a" "$T/out/a" && mv "$T/out/a" "$SRC/a"
		done
	) 3>&- &
	BG_PIDS+=($!)
	run -0 --separate-stderr iobs-mirror "$DST" <"$T/s"
	touch "$T/stop"
	assert_equal "$stderr" ""
}

# A tree with one of everything, and odd names.
make_tree() {
	mkdir -p "$SRC/d/e" "$SRC/ro"
	printf 'hello\n' >"$SRC/d/f"
	printf 'x%.0s' $(seq 1000) >"$SRC/d/e/big"
	printf 'tab' >"$SRC/d/a	b"
	printf 'nl' >"$SRC/d/new
line"
	printf 'sp' >"$SRC/-dash and space \\ é"
	ln -s ../d/f "$SRC/d/e/link"
	ln -s /nonexistent "$SRC/dangling"
	ln "$SRC/d/f" "$SRC/hard"
	chmod 600 "$SRC/d/f"
	chmod 755 "$SRC/d/e/big"
	chmod 555 "$SRC/ro"
	touch -h -d '2001-02-03 04:05:06.123456789' "$SRC/d/e/link"
	touch -d '2002-02-03 04:05:06.987654321' "$SRC/d/e/big" "$SRC/d/e"
	touch -d '2003-01-01' "$SRC/ro" "$SRC/d"
}

@test "WATCH_INIT reconciles: copies a tree with its metadata" {
	make_tree
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
	assert_equal "$(readlink "$DST/d/e/link")" "../d/f"
	assert_equal "$(stat -c %y "$DST/d/e/link")" \
	    "$(stat -c %y "$SRC/d/e/link")"
}

@test "hard links in the tree stay hard links" {
	make_tree
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	assert_equal "$(inode "$DST/hard")" "$(inode "$DST/d/f")"
}

@test "files and hard links new to DEST are linked in whole, never under a temporary name" {
	unnamed_links || skip "linkat of a descriptor needs Linux 6.10 or root"
	mkdir "$DST"
	for i in 1 2 3; do
		printf 'file %s\n' "$i" >"$SRC/f$i"
	done
	ln "$SRC/f1" "$SRC/hard"
	start_watch "$T/dst.stream" "$DST"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
	assert_equal "$(inode "$DST/hard")" "$(inode "$DST/f1")"
	# Records come in order: once this one is in, all the copies are.
	touch "$DST/end"
	wait_for 10 grep -q "	$DST/end\$" "$T/dst.stream"
	run -0 field 4 "$T/dst.stream"
	assert_line "$DST/f3"
	assert_line "$DST/hard"
	refute_output --partial ".iobs-mirror."
}

@test "a directory new to DEST comes into place with its files whole" {
	mkdir -p "$SRC/d/sub" "$DST"
	for i in 1 2 3; do
		printf 'file %s\n' "$i" >"$SRC/d/f$i"
	done
	printf 'deeper\n' >"$SRC/d/sub/g"
	ln -s f1 "$SRC/d/link"
	ln "$SRC/d/f1" "$SRC/d/h"
	ln "$SRC/d/f2" "$SRC/hard"
	start_watch "$T/dst.stream" "$DST"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
	assert_equal "$(inode "$DST/d/h")" "$(inode "$DST/d/f1")"
	assert_equal "$(inode "$DST/hard")" "$(inode "$DST/d/f2")"
	touch "$DST/end"
	wait_for 10 grep -q "	$DST/end\$" "$T/dst.stream"
	# Nothing is seen under its name before the directory is renamed
	# into place, its files whole.
	first() {
		awk -F'\t' -v p="$1" '!/^#/ && ($4 == p ||
		    index($4, p "/") == 1) { print $2; exit }' "$T/dst.stream"
	}
	run -0 first "$DST/d"
	assert_output --regexp '^MOVED_TO'
}

@test "reconcile deletes what is gone and fixes metadata, incrementally" {
	make_tree
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	keep=$(inode "$DST/d/e/big")
	mkdir -p "$DST/extra/deep"
	echo x >"$DST/extra/deep/x"
	echo stale >"$DST/stale"
	chmod 700 "$DST/d/f"
	touch "$DST/d"
	rm "$SRC/d/a	b"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
	# An unchanged file is not copied again.
	assert_equal "$(inode "$DST/d/e/big")" "$keep"
}

@test "reconcile replaces an entry of another type" {
	mkdir -p "$SRC/x" "$DST/y" "$DST/z"
	echo y >"$SRC/y"
	ln -s y "$SRC/z"
	echo file >"$DST/x"
	echo in-dir >"$DST/y/f"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
}

@test "live: a written file reaches DEST, with its metadata" {
	start_mirror
	printf 'one\n' >"$SRC/f"
	wait_converged 2
	printf 'two\n' >>"$SRC/f"
	chmod 640 "$SRC/f"
	touch -d '1999-12-31 23:59:59.5' "$SRC/f"
	wait_converged 2
	mkdir -p "$SRC/a/b/c"
	echo deep >"$SRC/a/b/c/g"
	ln -s a/b "$SRC/sl"
	wait_converged 2
	rm -rf "$SRC/a"
	rm "$SRC/f"
	wait_converged 2
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: files moved in appear whole, never under a temporary name" {
	mkdir -p "$DST" "$T/out/d"
	printf 'new\n' >"$T/out/new"
	printf 'deeper\n' >"$T/out/d/f"
	# Once this is in DEST, the first reconcile is done and the
	# source is watched: what comes next comes as records.
	echo ready >"$SRC/ready"
	start_watch "$T/dst.stream" "$DST"
	start_mirror
	# A lone MOVED_TO: each is copied once, to a name DEST lacks.
	mv "$T/out/new" "$T/out/d" "$SRC"
	wait_converged 5
	# Records come in order: once this one is in, all the copies are.
	touch "$DST/end"
	wait_for 10 grep -q "	$DST/end\$" "$T/dst.stream"
	run -0 field 4 "$T/dst.stream"
	assert_line "$DST/new"
	assert_line "$DST/d/f"
	refute_output --partial ".iobs-mirror."
}

@test "live: a file renamed is renamed in DEST, not copied" {
	echo data >"$SRC/f"
	start_mirror
	ino=$(inode "$DST/f")
	mv "$SRC/f" "$SRC/g"
	wait_converged 2
	assert_equal "$(inode "$DST/g")" "$ino"
}

# bats test_tags=long
@test "live: a directory renamed is renamed in DEST, no data copied" {
	local mb=200
	[ -n "${IOBS_LONG:-}" ] && mb=1024
	mkdir -p "$SRC/big/sub"
	head -c $((mb * 1024 * 1024 / 4)) /dev/zero >"$SRC/big/sub/a"
	for i in 1 2 3; do cp "$SRC/big/sub/a" "$SRC/big/$i"; done
	start_mirror -vv
	ino=$(inode "$DST/big/sub/a")
	dino=$(inode "$DST/big")
	copies=$(grep -c '^copy ' "$T/mirror.out")
	mv "$SRC/big" "$SRC/renamed"
	wait_converged 2
	assert_equal "$(inode "$DST/renamed/sub/a")" "$ino"
	assert_equal "$(inode "$DST/renamed")" "$dino"
	stop_mirror
	run -0 grep -c '^copy ' "$T/mirror.out"
	assert_output "$copies"
	run -0 grep -Fx "rename $DST/big $DST/renamed" "$T/mirror.out"
}

@test "live: moved out of the tree is deleted, moved back in is copied" {
	mkdir -p "$SRC/d/e" "$T/outside"
	echo x >"$SRC/d/e/x"
	echo f >"$SRC/f"
	start_mirror
	mv "$SRC/d" "$T/outside/d"
	mv "$SRC/f" "$T/outside/f"
	wait_for 1 test ! -e "$DST/d"
	wait_for 1 test ! -e "$DST/f"
	mv "$T/outside/d" "$SRC/d2"
	mv "$T/outside/f" "$SRC/f2"
	wait_converged 2
}

@test "a MOVED_FROM/MOVED_TO pair the source does not bear out changes nothing" {
	mkdir "$SRC/docs"
	echo d >"$SRC/docs/d"
	echo f >"$SRC/file"
	echo o >"$SRC/old"
	stream "$T/s" "$SRC"
	rec MOVED_FROM,ISDIR 5 "$SRC/docs"
	rec MOVED_TO,ISDIR 5 "$SRC/zz"
	rec MOVED_FROM 6 "$SRC/file"
	rec MOVED_TO 6 "$SRC/gone"
	# The old name is gone, but the new one is not there.
	rec MOVED_FROM 7 "$SRC/old"
	rec MOVED_TO 7 "$SRC/new"
	rm "$SRC/old"
	run -0 iobs-mirror "$DST" <"$T/s"
	run -0 treecmp "$SRC" "$DST"
	assert [ -e "$DST/docs/d" ]
	assert [ ! -e "$DST/zz" ]
}

@test "live: an exchange (RENAME_EXCHANGE) converges: files, a file and a directory, two directories" {
	exchange_tree
	start_mirror
	exchange_all
}

@test "a pair whose new name is another inode than the old one is no rename" {
	echo AAAA >"$SRC/a"
	touch -d '2020-01-01 00:00:00' "$SRC/a"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	# b: another file, of a's size and time, where a was.
	rm "$SRC/a"
	echo BBBB >"$SRC/b"
	touch -d '2020-01-01 00:00:00' "$SRC/b"
	send MOVED_FROM 3 "$SRC/a"
	send MOVED_TO 3 "$SRC/b"
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 treecmp "$SRC" "$DST"
}

# renamed_dir_pairs N: a directory of N more files, mirrored, renamed;
# then in it a rename, and a pair that is none (another file of the
# same size and time under the new name).
renamed_dir_pairs() {
	mkdir "$SRC/d"
	for ((i = 0; i < $1; i++)); do : >"$SRC/d/n$i"; done
	echo AAAA >"$SRC/d/a"
	echo CCCC >"$SRC/d/c"
	touch -d '2020-01-01 00:00:00' "$SRC/d/a" "$SRC/d/c"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	ino=$(inode "$DST/d/a")
	mv "$SRC/d" "$SRC/e"
	# A rename: DEST's file keeps its inode, nothing copied.
	mv "$SRC/e/a" "$SRC/e/b"
	# No rename: y is another file, of c's size and time.
	rm "$SRC/e/c"
	echo DDDD >"$SRC/e/y"
	touch -d '2020-01-01 00:00:00' "$SRC/e/y"
	# The three pairs in one write, read together: a mirror slow to
	# read the first could otherwise find the stream quiet after it
	# and compare the renamed tree with a source already past the
	# second, copying b anew, which converges but is no rename.
	recs=$({
		send_move ,ISDIR 1 "$SRC/d" "$SRC/e"
		send_move "" 2 "$SRC/e/a" "$SRC/e/b"
		send_move "" 3 "$SRC/e/c" "$SRC/e/y"
	} 4>&1)
	printf '%s\n' "$recs" >&4
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 treecmp "$SRC" "$DST"
	assert_equal "$(inode "$DST/e/b")" "$ino"
}

@test "in a renamed directory, a pair is a rename only for the inode its old name was" {
	renamed_dir_pairs 0
}

@test "the same in a directory of 1,000 names, kept sorted in bulk" {
	renamed_dir_pairs 1000
}

# reads_in_pipeline [WATCH OPTIONS...]: iobs-watch on inotify, which
# cannot tell who read, | tee | iobs-mirror, from a shell; 20 files
# made and copied; the stream's read records counted in READS.
reads_in_pipeline() {
	mkfifo "$T/p1" "$T/p2"
	iobs-mirror "$DST" <"$T/p2" 2>"$T/mirror.err" 3>&- &
	BG_PIDS+=($!)
	tee "$T/stream" <"$T/p1" >"$T/p2" 3>&- &
	BG_PIDS+=($!)
	iobs-watch --backend=inotify "$@" "$SRC" >"$T/p1" 2>"$T/watch.err" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 grep -q WATCH_INIT "$T/stream"
	for i in $(seq 20); do echo "$i" >"$SRC/f$i"; done
	wait_converged 10
	READS=$(grep -cE $'\t(OPEN|ACCESS|CLOSE_NOWRITE)[,\t]' \
	    "$T/stream" || true)
}

@test "a shell pipeline on inotify: the mirror's own reads are not in the stream" {
	reads_in_pipeline
	assert_equal "$READS" 0
}

@test "iobs-watch -e all: reads are in the stream, the mirror's copies too" {
	reads_in_pipeline -e all
	[ "$READS" -ge 20 ]
}

@test "a lone MOVED_FROM deletes in DEST, the stream still open" {
	echo old >"$SRC/gone"
	echo keep >"$SRC/keep"
	stream "$T/s" "$SRC"
	# The stream stays open: the delete comes from the MOVED_FROM's timer.
	mkfifo "$T/in"
	iobs-mirror -v "$DST" <"$T/in" >"$T/out" 2>&1 3>&- &
	BG_PIDS+=($!)
	exec 4>"$T/in"
	cat "$T/s" >&4
	wait_for 2 test -e "$DST/gone"
	mv "$SRC/gone" "$T/gone"
	: >"$T/s"
	rec MOVED_FROM 7 "$SRC/gone"
	cat "$T/s" >&4
	wait_for 2 test ! -e "$DST/gone"
	exec 4>&-
	run -0 grep -F "delete $DST/gone" "$T/out"
}

@test "live: a file appended to without closing is copied while it grows" {
	start_mirror
	exec 4>"$SRC/log"
	echo line1 >&4
	wait_for 2 grep -q line1 "$DST/log"
	echo line2 >&4
	wait_for 2 grep -q line2 "$DST/log"
	exec 4>&-
	wait_converged 2
}

@test "a reader of DEST never sees a partial file" {
	head -c 4000000 /dev/zero | tr '\0' A >"$T/A"
	head -c 4000000 /dev/zero | tr '\0' B >"$T/B"
	cp "$T/A" "$SRC/f"
	start_mirror
	# The reader checks every version it reads is whole.
	(
		while [ ! -e "$T/stop" ]; do
			# One read each: a file is whole A, or whole B.
			cat "$DST/f" >"$T/seen"
			cmp -s "$T/seen" "$T/A" || cmp -s "$T/seen" "$T/B" ||
			    touch "$T/partial"
		done
	) 3>&- &
	BG_PIDS+=($!)
	for i in 1 2 3 4 5 6; do
		if [ $((i % 2)) = 1 ]; then v=B; else v=A; fi
		# One write, never truncated: the source is never partial
		# for a mirror to copy, as a cat that a busy machine stops
		# for longer than the mirror's wait for an open file (200
		# ms) would leave it; what is checked is the mirror's own
		# writes.
		dd if="$T/$v" of="$SRC/f" bs=4000000 count=1 conv=notrunc \
		    status=none
		wait_for 5 cmp -s "$DST/f" "$T/$v"
	done
	touch "$T/stop"
	assert [ ! -e "$T/partial" ]
}

@test "a sparse file stays sparse in DEST, at reconcile and live" {
	truncate -s 64M "$SRC/sparse"
	printf 'middle' | dd of="$SRC/sparse" bs=1 seek=$((32 << 20)) \
	    conv=notrunc status=none
	start_mirror
	run -0 cmp "$SRC/sparse" "$DST/sparse"
	# 64 MiB would be 131072 blocks of 512 bytes.
	[ "$(stat -c %b "$DST/sparse")" -lt 1024 ]
	truncate -s 128M "$SRC/live"
	printf 'end' >>"$SRC/live"
	wait_converged 10
	[ "$(stat -c %b "$DST/live")" -lt 1024 ]
	stop_mirror
}

@test "a stream never quiet (the tree read all the time) still runs the timers" {
	echo a >"$SRC/a"
	echo b >"$SRC/b"
	stream "$T/s" "$SRC"
	mkfifo "$T/fifo"
	# A lone MOVED_FROM, a delete once its timer runs out, then reads
	# of the tree faster than the mirror takes them: never quiet.
	{
		cat "$T/s"
		while [ ! -e "$DST/a" ]; do sleep 0.01; done
		rm "$SRC/a"
		printf '1764057600.000000\tMOVED_FROM\t7\t%s\n' "$SRC/a"
		yes "$(printf '1764057600.000000\tACCESS\t0\t%s' "$SRC/b")"
	} >"$T/fifo" 2>/dev/null 3>&- &
	BG_PIDS+=("$!")
	iobs-mirror "$DST" <"$T/fifo" >/dev/null 2>"$T/mirror.err" 3>&- &
	BG_PIDS+=("$!")
	wait_for 10 test -e "$DST/a"
	wait_for 5 test ! -e "$DST/a"
}

@test "a new directory's files, copied side by side: logged in the order listed, one unreadable reported once" {
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(id -u)" = 0 ] || skip "needs root to become nobody"
	mkdir -p "$SRC/d" "$DST"
	local i
	for i in $(seq -w 1 60); do
		printf 'file %s\n' "$i" >"$SRC/d/f$i"
	done
	echo secret >"$SRC/d/f30x"
	chmod 000 "$SRC/d/f30x"
	chmod 755 "$T"
	chown nobody "$DST"
	stream "$T/s" "$SRC"
	run -1 --separate-stderr setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups iobs-mirror -vv "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: read $SRC/d/f30x: Permission denied"
	grep '^copy ' <<<"$output" >"$T/copies"
	run -0 grep -c . "$T/copies"
	assert_output 60
	run -0 sort -c "$T/copies"
	run -1 treecmp "$SRC" "$DST"
	assert_output "d/f30x: only in first"
}
