#!/usr/bin/env bats
# Faults injected into real processes: kill -9 of each member of a
# supervised scribe + mirror pipeline under a storm, DEST on a full
# file system, a source directory made unreadable, the watch root
# deleted and made again, an inotify watch limit below the tree's size.
# IOBS_LONG=1 repeats the kills over more seeds.

load supervise_helper
. "$BATS_TEST_DIRNAME/logline.bash"

setup() {
	common_setup
	SRC=$T/src
	DST=$T/dst
	STATE=$T/state
	mkdir "$SRC" "$T/outside"
}

teardown() {
	if [ -n "${SUP_PID:-}" ]; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait "$SUP_PID" 2>/dev/null || true
	fi
	common_teardown_fs
	common_teardown
}

# A tmpfs mounted for a test is gone with it.
common_teardown_fs() {
	if [ -n "${FS_MOUNTED:-}" ]; then
		umount -l "$FS_MOUNTED" 2>/dev/null || true
	fi
}

# pipe_conf [LINES...]: one watch on $SRC with the real scribe, logging
# to $T/scribe.log, and the real mirror into $DST; LINES go to [global].
pipe_conf() {
	{
		printf '[global]\nstate_dir = %s\n' "$STATE"
		printf 'restart_delay = 0.2\nrestart_delay_max = 1\n'
		printf 'restart_reset = 2\n'
		printf '%s\n' "$@"
		printf '[watches]\n[[%s]]\nplugins = scribe, mirror\n' "$SRC"
		printf 'scribe_log = %s\nmirror_destination = %s\n' \
		    "$T/scribe.log" "$DST"
	} >"$T/rc"
}

converged() {
	treecmp -q "$SRC" "$DST"
}

# wait_converged SECONDS: DEST equals the source; shows why not.
wait_converged() {
	if ! wait_for "$1" converged; then
		treecmp "$SRC" "$DST" | head -20 >&2
		cat "$T/log" "$T/mirror.err" >&2 2>/dev/null
		return 1
	fi
}

# The running supervisor is SUP_PID and has both pipelines ready: its
# pid is in the status, so that a killed one's leftovers do not count.
sup_ready() {
	local s
	s=$(status 2>/dev/null) || return 1
	grep -q "pid $SUP_PID," <<<"$s" &&
	    [ "$(grep -cE ' up +yes ' <<<"$s")" -eq 2 ]
}

start_pipes() {
	start_sup
	wait_for 20 sup_ready
}

# The scribe's log holds only whole lines.
log_whole() {
	run -0 bad_log_lines "$T/scribe.log" "$SRC"
	assert_output ""
}

# kill_under_storm VICTIM SEED: a storm on the tree; at a random moment
# in it, kill -9 of VICTIM (watch/mirror, mirror, watch/scribe, scribe
# or supervise, which is started again). Once the storm ends, DEST
# equals the source within 10 s and the log has no torn line.
kill_under_storm() {
	local victim=$1 seed=$2 w p pid spid restarts
	read -r w p <<<"$(pids_of "$SRC" "${victim#watch/}")"
	case $victim in
	watch/*) pid=$w ;;
	supervise) pid=$SUP_PID ;;
	*) pid=$p ;;
	esac
	restarts=$(count_lines "$T/log" 'killed by signal 9')
	storm -n 1500 -s "$seed" "$SRC" "$T/outside" &
	spid=$!
	# Not a synchronisation: the moment of the kill, 0 to 0.5 s in.
	sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
	kill -KILL "$pid"
	if [ "$victim" = supervise ]; then
		wait "$SUP_PID" || true
		# Its pipelines got SIGTERM from the kernel; a new one
		# starts while they finish.
		start_sup
	else
		wait_for 10 has_lines "$T/log" "killed by signal 9" \
		    $((restarts + 1)) || { cat "$T/log" >&2; false; }
	fi
	wait "$spid"
	wait_for 20 sup_ready
	wait_converged 10
}

kill_test() {
	local seed
	pipe_conf
	storm -n 200 -s 7 "$SRC" "$T/outside"
	start_pipes
	wait_converged 10
	for seed in 1 ${IOBS_LONG:+2 3 4 5 6 7 8}; do
		kill_under_storm "$1" "$seed"
	done
	log_whole
	# Only the kills went wrong: no member said anything.
	run grep -E "iobs-(watch|mirror|scribe):" "$T/log"
	assert_output ""
}

@test "iobs-watch: a root deleted while another process holds it open: WATCH_DEAD, exit 0" {
	mkdir "$T/w"
	start_watch "$T/out" "$T/w"
	# As iobs-mirror does: the kernel delays DELETE_SELF until it goes.
	exec 4<"$T/w"
	rmdir "$T/w"
	wait_for 10 has_lines "$T/out" $'\tWATCH_DEAD\t0\t'"$T/w\$" 1
	wait_for 10 eval '! running "$WATCH_PID"'
	exec 4<&-
	run -0 wait "$WATCH_PID"
	# Deleted and made again at once: the path names another
	# directory, not the one watched.
	mkdir "$T/w"
	start_watch "$T/out2" "$T/w"
	exec 4<"$T/w"
	rmdir "$T/w"
	mkdir "$T/w"
	wait_for 10 has_lines "$T/out2" $'\tWATCH_DEAD\t0\t'"$T/w\$" 1
	exec 4<&-
}
