# Fixtures for the iobs-mirror tests: a source tree and DEST under $T,
# a watcher piped into a mirror, and bounded waits on tree equality.

load test_helper

mirror_setup() {
	common_setup
	SRC=$T/src
	DST=$T/dst
	mkdir "$SRC"
}

# start_mirror [OPTIONS...]: iobs-watch $SRC | iobs-mirror OPTIONS $DST
# in the background, through a FIFO so that both PIDs are known;
# returns once the mirror's first reconcile is done. WATCH_OPTS: an
# array of iobs-watch's options.
start_mirror() {
	start_mirror_nowait "$@"
	wait_converged 10
}

# start_mirror_nowait [OPTIONS...]: start_mirror without waiting for
# DEST to be equal.
start_mirror_nowait() {
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "${WATCH_OPTS[@]}" "$SRC" >"$T/pipe" 2>"$T/watch.err" \
	    3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
}

# stop_mirror: stops the watcher; the mirror sees the end of the stream,
# finishes and exits; its status is in MIRROR_STATUS.
stop_mirror() {
	kill -TERM "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" 2>/dev/null || true
	MIRROR_STATUS=0
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
}

# Hard links included: names of one source inode are one DEST inode.
# CMP_OPTS: an array of treecmp's options (-x REL leaves REL out).
converged() {
	treecmp -q -H "${CMP_OPTS[@]}" "$SRC" "$DST"
}

# wait_converged SECONDS: DEST equals the source within SECONDS; shows
# the differences when not.
wait_converged() {
	if ! wait_for "$1" converged; then
		treecmp -H "${CMP_OPTS[@]}" "$SRC" "$DST" | head -20 >&2
		cat "$T/mirror.err" >&2 2>/dev/null || true
		return 1
	fi
}

# stream FILE ROOT: writes a stream header and WATCH_INIT for ROOT;
# add records with rec.
stream() {
	STREAM=$1
	printf '# iobs-stream 1\n' >"$STREAM"
	rec WATCH_INIT 0 "$2"
}

# rec EVENTS COOKIE PATH: appends one record to $STREAM.
rec() {
	printf '1764057600.000000\t%s\t%s\t%s\n' "$1" "$2" "$3" >>"$STREAM"
}

inode() {
	stat -c %i "$1"
}

# linkat(2) of a descriptor, which puts a new unnamed copy in place, is
# allowed from Linux 6.10, or to root; elsewhere a temporary name is.
unnamed_links() {
	local v
	[ "$(id -u)" -eq 0 ] && return 0
	v=$(uname -r)
	printf '6.10\n%s\n' "${v%%[-+]*}" | sort -V -C
}

# fifo_mirror [OPTIONS...]: iobs-mirror OPTIONS $DST in the background,
# reading the stream the test writes with send.
fifo_mirror() {
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/pipe"
	printf '# iobs-stream 1\n' >&4
}

# send EVENTS COOKIE PATH: one record to the mirror.
send() {
	printf '1764057600.000000\t%s\t%s\t%s\n' "$1" "$2" "$3" >&4
}

# send_move ISDIR COOKIE FROM TO: a MOVED_FROM/MOVED_TO pair in one
# write, so that a busy machine cannot part them by more than the
# mirror's wait for a pair (ISDIR: "" or ",ISDIR").
send_move() {
	printf '1764057600.000000\tMOVED_FROM%s\t%s\t%s\n1764057600.000000\tMOVED_TO%s\t%s\t%s\n' \
	    "$1" "$2" "$3" "$1" "$2" "$4" >&4
}

# end_stream: closes the stream; the mirror's exit status in
# MIRROR_STATUS.
end_stream() {
	exec 4>&-
	MIRROR_STATUS=0
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
}

# exchange_tree: files and directories under $SRC to swap with
# exchange_all; names that trade places have the same size and time,
# so that only their data tells them apart.
exchange_tree() {
	mkdir -p "$SRC/d1/in" "$SRC/d2"
	echo a >"$SRC/a"
	echo z >"$SRC/d2/z"
	echo p >"$SRC/p"
	echo q >"$SRC/q"
	echo 1 >"$SRC/d1/f"
	echo 2 >"$SRC/d2/f"
	echo deep >"$SRC/d1/in/deep"
	touch -d '2020-01-01 00:00:00' "$SRC/a" "$SRC/d2/z" "$SRC/p" \
	    "$SRC/q" "$SRC/d1/f" "$SRC/d2/f"
}

# exchange_all: swaps what exchange_tree made, waiting for DEST to be
# equal after each: replayed as two renames, an exchange leaves one
# name in DEST, or both with the same data.
exchange_all() {
	# Two files across directories.
	exchange "$SRC/a" "$SRC/d2/z"
	wait_converged 10
	# Two files in one directory.
	exchange "$SRC/p" "$SRC/q"
	wait_converged 10
	# A file and a directory, across directories.
	exchange "$SRC/q" "$SRC/d1/in"
	wait_converged 10
	# Two directories: their contents trade places.
	exchange "$SRC/d1" "$SRC/d2"
	wait_converged 10
	# Twice, one after the other, before a batch goes.
	exchange "$SRC/d1" "$SRC/d2"
	exchange "$SRC/a" "$SRC/p"
	wait_converged 10
	assert_equal "$(cat "$DST/d1/f")" 1
	assert_equal "$(cat "$DST/a")" q
}

# options LINE...: the options key ($KEY) holds these lines, as the
# supervisor writes it.
options() {
	printf '%s\n' "$@" | iobs-supervise cache put "$KEY"
}

# feed_start_nowait ARGS...: iobs-mirror ARGS reading the FIFO $T/feed,
# which the test writes with send (fd 4); a WATCH_INIT of $SRC first.
feed_start_nowait() {
	mkfifo "$T/feed"
	iobs-mirror "$@" <"$T/feed" >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/feed"
	printf '# iobs-stream 1\n' >&4
	send WATCH_INIT 0 "$SRC"
}

# feed_stop: the end of the stream; the mirror's status in STATUS.
feed_stop() {
	exec 4>&-
	STATUS=0
	wait "$MIRROR_PID" || STATUS=$?
}

# write NAME: a new file in the source, and its record.
write() {
	echo "$1" >"$SRC/$1"
	send CLOSE_WRITE,CLOSE 0 "$SRC/$1"
}
