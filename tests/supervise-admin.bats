#!/usr/bin/env bats
# iobs-supervise for an admin: a plugin refusing its options fails
# once, restart, status (with a bad config, as JSON, columns that fit),
# and SIGHUP reopening every log for logrotate.

load supervise_helper

# iobs-usage: answers --check, then at run time refuses its options as
# a real tool would: a line, the usage, exit 2.
usage_plugin() {
	cat >"$T/plugins/iobs-usage" <<-EOF
	#!/bin/sh
	[ "\${1:-}" = --check ] && exit 0
	echo start >>"$T/starts"
	echo "iobs-usage: --frob: unknown option" >&2
	echo "usage: iobs-usage [-x]" >&2
	exit 2
	EOF
	chmod +x "$T/plugins/iobs-usage"
}

@test "restart: usage errors, exit 2; not running, exit 1" {
	run -2 iobs-supervise -s "$STATE" restart
	assert_output --partial "usage:"
	run -2 iobs-supervise -s "$STATE" restart a b c
	assert_output --partial "usage:"
	run -2 iobs-supervise -s "$STATE" status --yaml
	assert_output --partial "usage:"
	conf "[watches]
[[data]]
plugins = cat"
	start_sup
	wait_ready "$T/data" cat
	run -1 iobs-supervise -s "$STATE" restart "$T/nope"
	assert_output "iobs-supervise: $T/nope: no such pipeline"
	run -1 iobs-supervise -s "$STATE" restart "$T/data" dog
	assert_output "iobs-supervise: $T/data dog: no such pipeline"
}

@test "a plugin exiting 2 is failed with its line, not restarted; restart and an edit try again" {
	usage_plugin
	conf "watch_config = yes
restart_delay = 0.1
[watches]
[[data]]
plugins = usage, cat
cat_out = $T/out"
	start_sup
	wait_for 10 eval 'status | grep -qE " usage +failed "'
	run -0 field_of "$T/data" usage 7
	assert_output 0
	run -0 cat "$T/log"
	assert_line "iobs-supervise: $T/data usage: iobs-usage exited 2: iobs-usage: --frob: unknown option; left down until the config changes or \"restart $T/data\""
	# Ten restart delays: a loop would have started it again by now.
	sleep 1
	assert_equal "$(count_lines "$T/starts" .)" 1
	# The other plugin of the watch runs on.
	is_ready "$T/data" cat
	# restart tries again, once.
	(cd "$T" && iobs-supervise -s "$STATE" restart data usage)
	wait_for 10 has_lines "$T/starts" . 2
	wait_for 10 eval 'status | grep -qE " usage +failed "'
	grep -q "$T/data usage: restart asked; restarting" "$T/log"
	# So does an edit of the config.
	echo "usage_x = 1" >>"$T/rc"
	wait_for 10 has_lines "$T/starts" . 3
	wait_for 10 eval 'status | grep -qE " usage +failed "'
	run -0 status
	assert_line --partial "iobs-usage exited 2: iobs-usage: --frob: unknown option"
	assert_equal "$(count_lines "$T/starts" .)" 3
}

@test "restart WATCH: every plugin of the watch starts again, with new pids" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	old=$(pids_of "$T/data" cat)
	run -0 iobs-supervise -c "$T/rc" restart "$T/data"
	wait_for 10 eval '[ "$(pids_of "$T/data" cat)" != "$old" ] && is_ready "$T/data" cat'
	assert_equal "$(count_lines "$T/out.starts" .)" 2
}

@test "status with a bad config: says so, shows what runs, exit 0" {
	conf "[watches]
[[data]]
plugins = cat"
	start_sup
	wait_ready "$T/data" cat
	echo "frob = 1" >>"$T/rc"
	run -0 iobs-supervise -c "$T/rc" status
	assert_line -n 0 "iobs-supervise: pid $SUP_PID, config $T/rc"
	assert_line -n 1 "iobs-supervise: $T/rc:7: frob: unknown key; running the config loaded before it"
	assert_line --regexp "^$T/data +cat +up +yes "
	run -0 iobs-supervise -c "$T/rc" status --json
	run -0 jq -r .config_error <<<"$output"
	assert_output "$T/rc:7: frob: unknown key"
}

@test "status --json: one object, every field of every pipeline" {
	conf "[watches]
[[data]]
plugins = cat, slow"
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$T/data" slow
	run -0 iobs-supervise -s "$STATE" status --json
	run -0 jq -e . <<<"$output"
	json=$output
	run -0 jq -r '[.running, .pid, (.config_error | tostring)] | @tsv' <<<"$json"
	assert_output "true	$SUP_PID	null"
	run -0 jq -r '.pipelines | map(.plugin) | sort | join(",")' <<<"$json"
	assert_output "cat,slow"
	run -0 jq -r '.pipelines[] | select(.plugin == "cat") |
	    [.watch, .state, .ready, (.watcher | type), (.pid | type),
	     .restarts, .last] | @tsv' <<<"$json"
	assert_output "$T/data	up	yes	number	number	0	-"
	kill -TERM "$SUP_PID"
	wait "$SUP_PID" || true
	SUP_PID=
	run -3 iobs-supervise -s "$STATE" status --json
	assert_output '{"running":false}'
}

@test "status: columns as wide as their contents" {
	long=$T/a-watch-path-well-over-twenty-four-characters
	mkdir "$long"
	conf "[watches]
[[data]]
plugins = cat
[[$long]]
plugins = slow"
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$long" slow
	out=$(status)
	# Every cell starts where its heading does, after a space.
	run -0 awk 'NR == 2 {
		for (i = 2; i <= 6; i++) {
			split($0, w, / +/)
			col[i] = index($0, " " w[i]) + 1
		}
	}
	NR > 2 {
		for (i = 2; i <= 6; i++)
			if (substr($0, col[i] - 1, 1) != " " ||
			    substr($0, col[i], 1) == " ")
				print "line " NR ": column " i " shifted"
		n++
	}
	END { print n " rows" }' <<<"$out"
	assert_output "2 rows"
}

@test "SIGHUP, config unchanged: every plugin reopens its log; after a rotation no line is lost" {
	conf "[watches]
[[data]]
plugins = scribe
scribe_log = $T/data.log"
	# The real scribe, from the stand-ins' directory.
	cp "$IOBS_BIN/iobs-scribe" "$T/plugins/iobs-scribe"
	start_sup
	wait_ready "$T/data" scribe
	for i in $(seq 1 50); do : >"$T/data/a$i"; done
	wait_for 10 grep -qs "'a50' was" "$T/data.log"
	mv "$T/data.log" "$T/data.log.1"
	# Files keep coming while the rotation happens.
	for i in $(seq 1 50); do : >"$T/data/b$i"; done
	kill -HUP "$SUP_PID"
	wait_for 10 test -s "$T/data.log"
	for i in $(seq 1 50); do : >"$T/data/c$i"; done
	wait_for 10 grep -qs "'c50' was" "$T/data.log"
	# Every file is in one log or the other, once.
	for f in a b c; do
		for i in 1 25 50; do
			run -0 grep -ch "'$f$i' was CREATED" "$T/data.log" \
			    "$T/data.log.1"
			assert_equal "$(( $(echo "$output" | paste -sd+) ))" 1
		done
	done
	run -1 grep -c "'c.*' was CREATED" "$T/data.log.1"
	grep -q "SIGHUP: reloading $T/rc, reopening the logs" "$T/log"
	# Reopened, not restarted.
	run -0 field_of "$T/data" scribe 7
	assert_output 0
}

@test "status: events seen and the time of the last, from the watcher's --stats-fd" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	before=$(date +%s)
	for i in 1 2 3; do echo x >"$T/data/f$i"; done
	# Three of CREATE, MODIFY, CLOSE_WRITE (no OPEN by default).
	wait_for 5 eval '[ "$(grep -cv "^#" "$T/out")" -ge 10 ]'
	# The count the watcher wrote: every record but the WATCH_INIT.
	want=$(( $(grep -cv "^#" "$T/out") - 1 ))
	wait_for 5 eval '[ "$(field_of "$T/data" cat 8)" = "$want" ]'
	run -0 iobs-supervise -s "$STATE" status --json
	run -0 jq -r '.pipelines[0] | "\(.events) \(.last_event | floor)"' <<<"$output"
	read -r events last <<<"$output"
	assert_equal "$events" "$want"
	[ "$last" -ge "$before" ] && [ "$last" -le "$(date +%s)" ]
	run -0 field_of "$T/data" cat 9
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}$'
}

@test "SIGHUP with an error in the config: the running one stays, the logs are reopened all the same" {
	conf "[watches]
[[data]]
plugins = scribe
scribe_log = $T/data.log"
	cp "$IOBS_BIN/iobs-scribe" "$T/plugins/iobs-scribe"
	start_sup
	wait_ready "$T/data" scribe
	echo "frob = 1" >>"$T/rc"
	mv "$T/data.log" "$T/data.log.1"
	kill -HUP "$SUP_PID"
	wait_for 10 grep -qs "WATCH RECONFIGURED; log reopened" "$T/data.log"
	grep -q "$T/rc:8: frob: unknown key; keeping the running config" "$T/log"
	: >"$T/data/after"
	wait_for 10 grep -qs "'after' was CREATED" "$T/data.log"
}

@test "status, state directory gone: not running, exit 3 as LSB's status; --json says so" {
	run -3 iobs-supervise -s "$T/gone" status
	assert_output "iobs-supervise: not running"
	run -3 iobs-supervise -s "$T/gone" status --json
	assert_output '{"running":false}'
	run -0 jq -e '.running == false' <<<"$output"
	run -1 iobs-supervise -s "$T/gone" restart "$T/data"
	assert_output "iobs-supervise: not running"
	# Stopped, its state left: the same.
	conf "[watches]
[[data]]
plugins = cat"
	start_sup
	wait_ready "$T/data" cat
	stop_pid "$SUP_PID"
	run -3 iobs-supervise -s "$STATE" status
	assert_output "iobs-supervise: not running"
}

@test "status, a config error before state_dir: the running supervisor is still found and listed" {
	conf "[watches]
[[data]]
plugins = cat"
	start_sup
	wait_ready "$T/data" cat
	# An unknown key above state_dir, which the parse never reaches.
	sed -i '1a bogus_key = 1' "$T/rc"
	run -0 iobs-supervise -c "$T/rc" status
	assert_line -n 0 "iobs-supervise: pid $SUP_PID, config $T/rc"
	assert_line -n 1 "iobs-supervise: $T/rc:2: bogus_key: unknown key in [global]; running the config loaded before it"
	assert_line --regexp "^$T/data +cat +up +yes "
	run -0 iobs-supervise -c "$T/rc" status --json
	run -0 jq -r '"\(.running) \(.config_error) \(.pipelines | length)"' <<<"$output"
	assert_output "true $T/rc:2: bogus_key: unknown key in [global] 1"
}

@test "status: options a plugin refused at a reload are the config error, until a good reload" {
	cat >"$T/plugins/iobs-picky" <<-'EOF'
	#!/bin/sh
	for a; do
		[ "$a" = --mode=bogus ] && { echo "iobs-picky: --mode=bogus: not a mode" >&2; exit 2; }
	done
	[ "${1:-}" = --check ] && exit 0
	exec cat >/dev/null
	EOF
	chmod +x "$T/plugins/iobs-picky"
	conf "watch_config = yes
[watches]
[[data]]
plugins = picky
picky_mode = each"
	start_sup
	wait_ready "$T/data" picky
	sed -i 's/^picky_mode = each/picky_mode = bogus/' "$T/rc"
	wait_for 10 grep -qs "keeping the running config" "$T/log"
	# The file parses: only the supervisor knows the plugin said no.
	run -0 iobs-supervise -c "$T/rc" status
	assert_line -n 1 "iobs-supervise: $T/rc:8: iobs-picky: --mode=bogus: not a mode; running the config loaded before it"
	assert_line --regexp "^$T/data +picky +up +yes "
	run -0 iobs-supervise -c "$T/rc" status --json
	run -0 jq -r .config_error <<<"$output"
	assert_output "$T/rc:8: iobs-picky: --mode=bogus: not a mode"
	sed -i 's/^picky_mode = bogus/picky_mode = batch/' "$T/rc"
	wait_for 10 eval '[ "$(iobs-supervise -c "$T/rc" status --json | jq -r .config_error)" = null ]'
}

@test "status: a restarted pipeline's events count from 0" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	for i in 1 2 3 4 5; do echo x >"$T/data/f$i"; done
	wait_for 5 eval '[ "$(field_of "$T/data" cat 8)" -ge 15 ]'
	old=$(pids_of "$T/data" cat)
	run -0 iobs-supervise -s "$STATE" restart "$T/data"
	wait_for 10 eval '[ "$(pids_of "$T/data" cat)" != "$old" ]'
	wait_ready "$T/data" cat
	run -0 field_of "$T/data" cat 8
	assert_output 0
	echo x >"$T/data/g"
	wait_for 5 eval '[ "$(field_of "$T/data" cat 8)" -ge 1 ]'
	run -0 field_of "$T/data" cat 8
	[ "$output" -lt 15 ]
}
