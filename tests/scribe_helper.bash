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
	# The writing ends of the other scribes' FIFOs stay out of it,
	# or they would never see EOF.
	(
		for fd in ${SCRIBE_FDS[@]+"${SCRIBE_FDS[@]}"}; do
			exec {fd}>&-
		done
		exec iobs-scribe "$@" <"$T/$name.in" >"$T/$name.out" \
		    2>"$T/$name.err" 3>&-
	) &
	BG_PIDS+=("$!")
	eval "${name}_PID=$!"
	exec {fd}>"$T/$name.in"
	eval "${name}_FD=$fd"
	SCRIBE_FDS+=("$fd")
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
	local f keep=()
	for f in ${SCRIBE_FDS[@]+"${SCRIBE_FDS[@]}"}; do
		[ "$f" = "$fd" ] || keep+=("$f")
	done
	SCRIBE_FDS=(${keep[@]+"${keep[@]}"})
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

# pipeline NAME ARGS...: iobs-watch ARGS | iobs-scribe, through the
# FIFO $T/NAME.pipe; the scribe logs to $SCRIBE_LOG or $T/NAME.log.
# Waits for a WATCH STARTED line per root; sets NAME_WATCH and
# NAME_SCRIBE to the two process ids.
pipeline() {
	local name=$1 log before
	shift
	log=${SCRIBE_LOG:-$T/$name.log}
	# Pipelines may share a log: count the WATCH STARTED lines to come.
	before=$(count_lines "$log" "WATCH STARTED")
	mkfifo "$T/$name.pipe"
	iobs-scribe -o "$log" <"$T/$name.pipe" 2>"$T/$name.err" 3>&- &
	BG_PIDS+=("$!")
	eval "${name}_SCRIBE=$!"
	iobs-watch "$@" >"$T/$name.pipe" 2>"$T/$name.watch.err" 3>&- &
	BG_PIDS+=("$!")
	eval "${name}_WATCH=$!"
	wait_for 10 has_lines "$log" "WATCH STARTED" \
	    $((${before:-0} + $(count_args_roots "$@")))
}

# pipeline_stop NAME: stops the watcher, then waits for the scribe,
# which ends at EOF; its status is in STATUS.
pipeline_stop() {
	local w s
	eval "w=\$${1}_WATCH s=\$${1}_SCRIBE"
	stop_pid "$w"
	STATUS=0
	wait "$s" || STATUS=$?
}

# cache_keys DIR: the scribe's move keys left in the cache at DIR.
cache_keys() {
	cachetool list "$1" scribe.move.
}

# cache_has DIR KEY: KEY is live in the cache at DIR.
cache_has() {
	cache_keys "$1" | grep -qxF "$2"
}
