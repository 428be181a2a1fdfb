#!/usr/bin/env bats
# iobs-mirror and its root: a root replaced under it is a new source,
# and a reconcile stopped for safety never ends the pipeline. The
# stream is written by the test, through a FIFO, record by record.

load mirror_helper

setup() { mirror_setup; }
teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

@test "a root replaced (OVERFLOW, WATCH_INIT) is a new source; the old one is never read again" {
	echo a >"$SRC/a"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	mv "$SRC" "$T/old"
	mkdir "$SRC"
	echo new >"$SRC/new"
	send OVERFLOW 0 "$SRC"
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	# A record of the new root names a file only the old one has.
	echo leaked >"$T/old/leaked"
	send CLOSE_WRITE,CLOSE 0 "$SRC/leaked"
	echo b >"$SRC/b"
	send CLOSE_WRITE,CLOSE 0 "$SRC/b"
	wait_for 10 test -e "$DST/b"
	assert [ ! -e "$DST/leaked" ]
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 treecmp "$SRC" "$DST"
}

@test "a replaced root found empty is refused once; the stream goes on; the source back, it converges" {
	echo a >"$SRC/a"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	mv "$SRC" "$T/old"
	mkdir "$SRC"
	send OVERFLOW 0 "$SRC"
	send WATCH_INIT 0 "$SRC"
	wait_for 10 has_lines "$T/mirror.err" "is empty but" 1
	assert [ -e "$DST/a" ]
	running "$MIRROR_PID"
	# What is safe is applied meanwhile: a file copied.
	echo n >"$SRC/n"
	send CLOSE_WRITE,CLOSE 0 "$SRC/n"
	wait_for 10 test -e "$DST/n"
	# No longer empty: the reconcile tried again on its timer goes.
	wait_converged 10
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 grep -c . "$T/mirror.err"
	assert_output 1
}

@test "a tree emptied while watched is mirrored at the rescan, the mirror still running" {
	mkdir "$SRC/d"
	echo a >"$SRC/a"
	echo b >"$SRC/d/b"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	rm -r "$SRC/a" "$SRC/d"
	send OVERFLOW 0 "$SRC"
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	running "$MIRROR_PID"
	echo x >"$SRC/x"
	send CLOSE_WRITE,CLOSE 0 "$SRC/x"
	wait_converged 10
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 cat "$T/mirror.err"
	assert_output ""
}

@test "with the real watcher, a tree emptied during an overflow is mirrored, the pipeline alive" {
	[ "$(cat /proc/sys/fs/inotify/max_queued_events)" -lt 50000 ] ||
	    skip "fs.inotify.max_queued_events too high to overflow"
	echo a >"$SRC/a"
	mkfifo "$T/pipe" "$T/raw"
	iobs-mirror "$DST" <"$T/pipe" >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	tee "$T/stream" <"$T/raw" >"$T/pipe" 3>&- &
	BG_PIDS+=("$!")
	# inotify: its queue overflows; fanotify's is unlimited as root.
	iobs-watch --backend=inotify "$SRC" >"$T/raw" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_converged 10
	# More events than the kernel queues for a stopped watcher
	# (fs.inotify.max_queued_events): OVERFLOW, then a rescan.
	kill -STOP "$WATCH_PID"
	(cd "$SRC" && touch f{00001..20000} && rm f* a)
	kill -CONT "$WATCH_PID"
	wait_for 20 has_lines "$T/stream" $'\tWATCH_INIT\t' 2
	run -0 grep -c $'\tOVERFLOW\t' "$T/stream"
	wait_converged 10
	echo b >"$SRC/b"
	wait_converged 10
	running "$MIRROR_PID"
	running "$WATCH_PID"
	run -0 cat "$T/mirror.err"
	assert_output ""
}

@test "a reconcile --max-delete stops is reported once, the stream applied meanwhile, and tried again" {
	echo a >"$SRC/a"
	mkdir "$DST"
	touch "$DST"/x{1..8}
	fifo_mirror -m 5
	send WATCH_INIT 0 "$SRC"
	wait_for 10 has_lines "$T/mirror.err" "more than --max-delete 5" 1
	assert [ -e "$DST/x8" ]
	echo n >"$SRC/n"
	send CLOSE_WRITE,CLOSE 0 "$SRC/n"
	wait_for 10 test -e "$DST/n"
	running "$MIRROR_PID"
	# Fewer to delete: the next try goes.
	rm "$DST"/x{1..4}
	wait_converged 10
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	run -0 grep -c . "$T/mirror.err"
	assert_output 1
}

@test "a refusal that still stands at the end of the stream: exit 1" {
	mkdir "$DST"
	echo keep >"$DST/keep"
	fifo_mirror
	send WATCH_INIT 0 "$SRC"
	wait_for 10 has_lines "$T/mirror.err" "is empty but" 1
	end_stream
	assert_equal "$MIRROR_STATUS" 1
	assert [ -e "$DST/keep" ]
}
