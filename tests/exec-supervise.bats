#!/usr/bin/env bats
# iobs-exec under iobs-supervise: plugins = exec with exec_command,
# exec_mode, exec_events and exec_delay, checked by -n, at start and on
# reload, and run.

load supervise_helper

exec_conf() {
	conf "[watches]
[[$T/data]]
plugins = exec
exec_command = $1
exec_mode = $2
exec_events = $3
exec_delay = $4"
}

@test "exec conf: -n accepts good exec keys silently" {
	exec_conf "'$T/out dir/rec' {paths}" batch close_write,moved_to 100
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
	exec_conf "cp {path} /backup/{rel}" each close_write 0
	sed -i '/exec_delay/d' "$T/rc"
	run -0 iobs-supervise -n -c "$T/rc"
}

@test "exec conf: -n refuses each bad exec key at its line, exit 2" {
	exec_conf "make" sometimes close_write 100
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:8: iobs-exec: --mode=sometimes: not each, batch or restart"
	exec_conf "make" batch close_write,bogus 100
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:9: iobs-exec: --events BOGUS: unknown event (see iobs-stream(5) for the names)"
	exec_conf "make" batch close_write soon
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output --partial "iobs-supervise: $T/rc:10: iobs-exec: --delay soon: invalid"
	exec_conf "echo 'unclosed" batch close_write 100
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:7: iobs-exec: --command: ': quote not closed"
	exec_conf "echo {path}" batch close_write 100
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output --partial "iobs-supervise: $T/rc:7: iobs-exec: --command: {path}: only without -b or -r"
	# A bad key fails the start the same way: nothing runs.
	run -2 iobs-supervise -c "$T/rc"
	[ ! -e "$STATE/iobs-supervise.pid" ]
}

@test "exec conf: a batch under the supervisor runs the command with the paths" {
	cat >"$T/rec" <<-EOF
	#!/bin/sh
	cat >>"$T/paths"
	echo run >>"$T/runs"
	EOF
	chmod +x "$T/rec"
	exec_conf "$T/rec" batch close_write 50
	start_sup
	wait_ready "$T/data" exec
	# The first run is at WATCH_INIT, with the root.
	wait_for 10 grep -qx "$T/data" "$T/paths"
	echo x >"$T/data/new file"
	wait_for 10 grep -qx "$T/data/new file" "$T/paths"
}

@test "exec conf: a reload with a bad exec key keeps the running config" {
	exec_conf "true" batch close_write 50
	start_sup
	wait_ready "$T/data" exec
	read -r _ P <<<"$(pids_of "$T/data" exec)"
	sed -i 's/^exec_mode = .*/exec_mode = sometimes/' "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 10 grep -q "rc:8: iobs-exec: --mode=sometimes: not each, batch or restart; keeping the running config" "$T/log"
	is_ready "$T/data" exec
	[ "$(pids_of "$T/data" exec | cut -d' ' -f2)" = "$P" ]
}

@test "exec conf: a new exec_command reaches the running iobs-exec, no restart" {
	for n in 1 2; do
		printf '#!/bin/sh\ncat >>"%s"\n' "$T/paths$n" >"$T/rec$n"
		chmod +x "$T/rec$n"
	done
	exec_conf "$T/rec1" batch close_write 50
	start_sup
	wait_ready "$T/data" exec
	wait_for 10 grep -qx "$T/data" "$T/paths1"
	read -r _ P <<<"$(pids_of "$T/data" exec)"
	sed -i "s|^exec_command = .*|exec_command = $T/rec2|" "$T/rc"
	kill -HUP "$SUP_PID"
	# The options reach it with WATCH_RECONFIG; a change after that
	# runs the new command.
	wait_for 10 grep -q "reloading" "$T/log"
	i=0
	until [ -s "$T/paths2" ] || [ $i -gt $((200 * SLOW)) ]; do
		: >"$T/data/f$i"; i=$((i + 1)); sleep 0.05
	done
	grep -q "$T/data/f" "$T/paths2"
	[ "$(pids_of "$T/data" exec | cut -d' ' -f2)" = "$P" ]
}
