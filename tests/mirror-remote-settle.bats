#!/usr/bin/env bats
# iobs-mirror to another machine: a live batch is over once its rsync
# has read the remote's goodbye, not when that rsync has exited; the
# next batch goes out while it exits, and its exit status still counts.

bats_require_minimum_version 1.5.0

load remote_helper

setup() { mirror_setup; }
teardown() { common_teardown; }

# exit_wrapper [STATUS]: the mirror's rsync, through PATH, becomes one
# that, for a batch's run, adds a line to $T/exiting once the real one
# is done and holds its own exit while $T/hold is there, then exits
# with the real one's status, or with STATUS once while $T/fail is
# there.
exit_wrapper() {
	local real
	real=$(command -v rsync)
	mkdir -p "$T/bin"
	cat >"$T/bin/rsync" <<-EOF
	#!/bin/sh
	case " \$* " in
	*" --files-from=- "*) ;;
	*) exec "$real" "\$@" ;;
	esac
	"$real" "\$@"
	rc=\$?
	echo exiting >>"$T/exiting"
	while [ -e "$T/hold" ]; do sleep 0.02; done
	if [ -e "$T/fail" ]; then
		rm -f "$T/fail"
		exit ${1:-0}
	fi
	exit \$rc
	EOF
	chmod +x "$T/bin/rsync"
	export PATH="$T/bin:$PATH"
}

# held_start: after start_remote, the whole sync's rsync gone, $T/hold
# made; EXITED is how many rsyncs' ssh had ended before.
held_start() {
	wait_for 10 whole_done
	touch "$T/hold"
	EXITED=$(count_lines "$T/exiting" exiting)
}

@test "remote settle: the next writes go out while the last batches' rsyncs still exit" {
	sshd_setup
	exit_wrapper
	start_remote "$HOST:$DST" -e "$RSH"
	held_start
	echo one >"$SRC/one"
	wait_for 10 test -f "$DST/one"
	# one's rsync has read the goodbye: it waits for its ssh, held.
	wait_for 10 has_lines "$T/exiting" exiting $((EXITED + 1))
	echo two >"$SRC/two"
	# There while one's rsync has not exited: it waits for the hold.
	wait_for 10 test -f "$DST/two"
	wait_for 10 has_lines "$T/exiting" exiting $((EXITED + 2))
	# And another, while both of them exit.
	echo three >"$SRC/three"
	wait_for 10 test -f "$DST/three"
	rm "$T/hold"
	wait_converged 10
	# The stream's end: both exits read, nothing owed, exit 0.
	kill "$WATCH_PID"
	wait_for 20 eval '! kill -0 "$MIRROR_PID" 2>/dev/null'
	run -0 wait "$MIRROR_PID"
	run -0 cat "$T/mirror.err"
	refute_output
}

@test "remote settle: a batch's rsync failing after its goodbye: its paths go again" {
	sshd_setup
	exit_wrapper 12
	start_remote "$HOST:$DST" -e "$RSH"
	held_start
	touch "$T/fail"
	echo one >"$SRC/one"
	wait_for 10 test -f "$DST/one"
	wait_for 10 has_lines "$T/exiting" exiting $((EXITED + 1))
	# Changed there behind the mirror's back: only a batch that
	# carries one again puts it right.
	echo wrong >"$DST/one"
	rm "$T/hold"
	wait_for 10 grep -q 'retrying' "$T/mirror.err"
	wait_for 10 grep -q 'back after' "$T/mirror.err"
	wait_converged 10
	[ "$(cat "$DST/one")" = one ]
}

@test "remote settle: the stream ends while a batch's rsync exits: its status still counts" {
	sshd_setup
	exit_wrapper 12
	start_remote "$HOST:$DST" -e "$RSH"
	held_start
	touch "$T/fail"
	echo one >"$SRC/one"
	wait_for 10 test -f "$DST/one"
	wait_for 10 has_lines "$T/exiting" exiting $((EXITED + 1))
	echo wrong >"$DST/one"
	kill "$WATCH_PID"
	rm "$T/hold"
	# Its failure read, one sent again before the mirror ends.
	wait_for 20 eval '! kill -0 "$MIRROR_PID" 2>/dev/null'
	run -0 wait "$MIRROR_PID"
	[ "$(cat "$DST/one")" = one ]
	grep -q 'retrying' "$T/mirror.err"
}
