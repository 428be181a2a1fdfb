#!/usr/bin/env bats
# iobs-supervise with mirror_destination = host:/path: the real
# iobs-mirror to an sshd of the test's own; status shows the backlog.

load remote_helper
load supervise_helper

setup() {
	common_setup
	SRC=$T/data
	DST=$T/m
	STATE=$T/state
	mkdir -p "$SRC"
}

teardown() {
	if [ -n "${SUP_PID:-}" ]; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait "$SUP_PID" 2>/dev/null || true
	fi
	common_teardown
}

# backlog_field N: the Nth column of the remote mirror's backlog line.
backlog_field() {
	status | awk -v w="$SRC" -v n="$1" '
	/^WATCH +PLUGIN +REMOTE/ { b = 1; next }
	b && $1 == w { print $n }'
}

@test "supervise: mirror_destination = host:/path, status shows the backlog" {
	sshd_setup
	echo a >"$SRC/a"
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $STATE
	restart_delay = 0.2
	[watches]
	[[data]]
	plugins = mirror
	mirror_destination = $HOST:$DST
	mirror_rsh = $RSH
	EOF
	run -0 iobs-supervise -n -c "$T/rc"
	start_sup
	wait_ready "$SRC" mirror
	wait_converged 20
	wait_for 10 eval '[ "$(backlog_field 3)" = live ]'
	[ "$(backlog_field 4)" = 0 ]
	[ "$(backlog_field 6)" = "$HOST:$DST" ]
	stop_sshd
	for i in 1 2 3; do echo "$i" >"$SRC/f$i"; done
	wait_for 10 eval '[ "$(backlog_field 3)" = away ]'
	[ "$(backlog_field 4)" -ge 3 ]
	[ "$(backlog_field 5)" != - ]
	start_sshd
	wait_converged 30
	wait_for 10 eval '[ "$(backlog_field 4)" = 0 ]'
	[ "$(backlog_field 3)" = live ]
}
