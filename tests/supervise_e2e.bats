#!/usr/bin/env bats
# iobs-supervise running the real iobs-scribe: a changed scribe_log
# reaches the running scribe through the cache and WATCH_RECONFIG, and
# a killed scribe is started again.

load supervise_helper

setup() {
	common_setup
	mkdir -p "$T/data"
	STATE=$T/state
}

# scribe_conf LOG: one watch on data with the scribe logging to LOG,
# in UTC (--utc=yes). No plugin_dir: iobs-supervise finds iobs-scribe
# beside itself.
scribe_conf() {
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $STATE
	watch_config = yes
	restart_delay = 0.2
	[watches]
	[[data]]
	plugins = scribe
	scribe_log = $1
	scribe_utc = yes
	EOF
}

start_scribe() {
	scribe_conf "$T/old.log"
	start_sup
	wait_ready "$T/data" scribe
	wait_for 10 grep -qs "$T/data: WATCH STARTED\$" "$T/old.log"
	read -r W P <<<"$(pids_of "$T/data" scribe)"
}

# numbers FILE: the N of each file fN created, as the scribe logged it.
numbers() {
	sed -n "s|.*$T/data: file 'f\([0-9]*\)' was CREATED\$|\1|p" "$1"
}

# logged FILE NAME: the creation of NAME is in FILE.
logged() {
	grep -qsF "$T/data: file '$2' was CREATED" "$1"
}

@test "e2e: scribe_log edited: the lines move to the new log, none lost or doubled, no restart" {
	start_scribe
	n=0
	while [ "$n" -lt 50 ]; do n=$((n + 1)); : >"$T/data/f$n"; done
	sed -i "s|^scribe_log = .*|scribe_log = $T/new.log|" "$T/rc"
	# The writer goes on while the change is applied; the wait is
	# bounded by the loop, the pause only spaces the files out.
	i=0
	while [ ! -s "$T/new.log" ] && [ "$i" -lt $((1000 * SLOW)) ]; do
		i=$((i + 1)) n=$((n + 1))
		: >"$T/data/f$n"
		sleep 0.01
	done
	[ -s "$T/new.log" ]
	for i in $(seq 1 50); do n=$((n + 1)); : >"$T/data/f$n"; done
	wait_for 10 logged "$T/new.log" "f$n"
	assert_equal "$(pids_of "$T/data" scribe)" "$W $P"
	grep -q "options changed; sending WATCH_RECONFIG" "$T/log"
	# Each number exactly once, across the two logs, and the old log
	# holds the first ones, the new log the rest.
	numbers "$T/old.log" >"$T/old.n"
	numbers "$T/new.log" >"$T/new.n"
	seq 1 "$n" | diff -u - <(cat "$T/old.n" "$T/new.n")
	[ -s "$T/old.n" ]
	[ -s "$T/new.n" ]
	run -0 head -1 "$T/new.log"
	assert_output --regexp "^[0-9-]+ [0-9:.]+ $T/data: WATCH RECONFIGURED; log reopened\$"
	run -0 iobs-supervise -s "$STATE" cache get "options/scribe$T/data"
	assert_output $'--log='"$T/new.log"$'\n--utc=yes'
	# Nothing went wrong on the way.
	run -1 grep -c "iobs-scribe:" "$T/log"
}

@test "e2e: kill -9 of the scribe: restarted, logging resumes after a fresh WATCH STARTED" {
	start_scribe
	: >"$T/data/f1"
	wait_for 10 logged "$T/old.log" f1
	kill -KILL "$P"
	wait_for 10 grep -qs "iobs-scribe killed by signal 9 (SIGKILL); restart 1" "$T/log"
	wait_for 10 eval '[ "$(field_of "$T/data" scribe 4)" = yes ] &&
	    [ "$(pids_of "$T/data" scribe)" != "$W $P" ]'
	wait_for 10 has_lines "$T/old.log" "$T/data: WATCH STARTED\$" 2
	: >"$T/data/f2"
	wait_for 10 logged "$T/old.log" f2
	run -0 numbers "$T/old.log"
	assert_output $'1\n2'
	# f2 comes after the second WATCH STARTED.
	run -0 awk '/WATCH STARTED$/ { s++ } /f2. was CREATED$/ { print s }' "$T/old.log"
	assert_output 2
	run -0 field_of "$T/data" scribe 7
	assert_output 1
}

@test "e2e: a restarted scribe starts with the options of the last edit" {
	start_scribe
	sed -i "s|^scribe_log = .*|scribe_log = $T/new.log|" "$T/rc"
	wait_for 10 grep -qs "WATCH RECONFIGURED" "$T/new.log"
	kill -KILL "$P"
	wait_for 10 has_lines "$T/new.log" "$T/data: WATCH STARTED\$" 1
	: >"$T/data/f1"
	wait_for 10 logged "$T/new.log" f1
	run -0 grep -c "WATCH STARTED" "$T/new.log"
	assert_output 1
	run -0 grep -c "WATCH STARTED" "$T/old.log"
	assert_output 1
}
