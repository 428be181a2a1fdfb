# Fixtures for the iobs-scribe tests: crafted streams and scribes fed
# through FIFOs that a test keeps open.

load test_helper

# A fixed time, 2025-11-25 08:00:00.123456 UTC.
TIME=1764057600.123456

# stream: the lines on stdin, '|' turned into TAB, after a header.
stream() {
	printf '# iobs-stream 1\n'
	sed 's/|/\t/g'
}

# scribe_start NAME ARGS...: runs iobs-scribe ARGS in the background,
# reading the FIFO $T/NAME.in, stdout to $T/NAME.out, stderr to
# $T/NAME.err. Sets NAME_PID and NAME_FD, the writing end of the FIFO.
scribe_start() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in"
	iobs-scribe "$@" <"$T/$name.in" >"$T/$name.out" \
	    2>"$T/$name.err" 3>&- &
	BG_PIDS+=("$!")
	eval "${name}_PID=$!"
	exec {fd}>"$T/$name.in"
	eval "${name}_FD=$fd"
}

# scribe_send NAME: the records on stdin ('|' for TAB) to scribe NAME.
scribe_send() {
	local fd
	eval "fd=\$${1}_FD"
	sed 's/|/\t/g' >&"$fd"
}

# scribe_stop NAME: closes its input and waits for it; the exit status
# is in STATUS.
scribe_stop() {
	local fd pid
	eval "fd=\$${1}_FD pid=\$${1}_PID"
	exec {fd}>&-
	STATUS=0
	wait "$pid" || STATUS=$?
}

# lines FILE: number of lines in FILE (0 when absent).
lines() {
	[ -f "$1" ] || { echo 0; return; }
	wc -l <"$1" | tr -d ' '
}

# has_n FILE N: FILE has at least N lines.
has_n() {
	[ "$(lines "$1")" -ge "$2" ]
}
