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
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "${WATCH_OPTS[@]}" "$SRC" >"$T/pipe" 2>"$T/watch.err" \
	    3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_converged 10
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
converged() {
	treecmp -q -H "$SRC" "$DST"
}

# wait_converged SECONDS: DEST equals the source within SECONDS; shows
# the differences when not.
wait_converged() {
	if ! wait_for "$1" converged; then
		treecmp -H "$SRC" "$DST" | head -20 >&2
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

# end_stream: closes the stream; the mirror's exit status in
# MIRROR_STATUS.
end_stream() {
	exec 4>&-
	MIRROR_STATUS=0
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
}
