#!/usr/bin/env bats
# iobs-scribe: new options from the cache on WATCH_RECONFIG and SIGHUP,
# as iobs-supervise hands them over (iobs-supervise(8), iobs-scribe(1)).

load scribe_helper

KEY=options/scribe/data

setup() {
	common_setup
	mkdir -m 700 "$T/cache"
	export IOBS_CACHE=$T/cache IOBS_OPTIONS=$KEY
}

# options LINE...: the options key holds these lines, as the supervisor
# writes it.
options() {
	printf '%s\n' "$@" | iobs-supervise cache put "$KEY"
}

# creates FROM TO: CREATE records for /data/fFROM .. /data/fTO.
creates() {
	seq "$1" "$2" | awk -v t="$TIME" '{ printf "%s|CREATE|0|/data/f%d\n", t, $1 }'
}

reconfig() {
	echo "$TIME|WATCH_RECONFIG|0|/data"
}

# numbers FILE: the N of each "/data/fN was CREATED" line, in order.
numbers() {
	sed -n "s|.*'/data/f\([0-9]*\)' was CREATED\$|\1|p" "$1"
}

@test "scribe-reconfig: a new --log takes effect at WATCH_RECONFIG, no line lost or doubled" {
	options "--log=$T/new" --utc
	scribe_start A --utc -o "$T/old"
	# One write to the FIFO: the scribe reads on while it switches.
	{ creates 1 1000; reconfig; creates 1001 2000; } | scribe_send A
	wait_for 10 grep -q "'/data/f2000' was CREATED" "$T/new"
	scribe_stop A
	assert_equal "$STATUS" 0
	[ ! -s "$T/A.err" ]
	[ ! -s "$T/A.out" ]
	seq 1 1000 | diff -u - <(numbers "$T/old")
	seq 1001 2000 | diff -u - <(numbers "$T/new")
	assert_equal "$(lines "$T/old")" 1000
	assert_equal "$(lines "$T/new")" 1001
	run -0 head -1 "$T/new"
	assert_output "2025-11-25 08:00:00.123456 /data: WATCH RECONFIGURED; log reopened"
}

@test "scribe-reconfig: --only, --utc and --timefmt replace the old options" {
	# The old ones: UTC, every event. The new ones: local time (UTC+9
	# here), seconds only, creations only.
	options "--log=$T/log" --only=CREATE --timefmt=%H:%M:%S --utc=no
	export TZ=JST-9
	scribe_start A --utc -o "$T/log"
	scribe_send A <<EOF2
$TIME|DELETE|0|/data/a
$TIME|WATCH_RECONFIG|0|/data
$TIME|DELETE|0|/data/b
$TIME|CREATE|0|/data/c
EOF2
	wait_for 5 grep -q "'/data/c'" "$T/log"
	scribe_stop A
	assert_equal "$STATUS" 0
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 -: file '/data/a' was DELETED
17:00:00 -: file '/data/c' was CREATED
EOF2
	diff -u "$T/want" "$T/log"
}

@test "scribe-reconfig: --utc=yes and --utc=no, as iobs.conf(5) spells them" {
	export TZ=JST-9
	options "--log=$T/log" --timefmt=%H --utc=yes
	scribe_start A --utc=no --timefmt=%H -o "$T/log"
	{ creates 1 1; reconfig; creates 2 2; } | scribe_send A
	wait_for 5 grep -q "'/data/f2'" "$T/log"
	scribe_stop A
	assert_equal "$STATUS" 0
	cat >"$T/want" <<'EOF2'
17 -: file '/data/f1' was CREATED
08 /data: WATCH RECONFIGURED; log reopened
08 -: file '/data/f2' was CREATED
EOF2
	diff -u "$T/want" "$T/log"
	run -2 iobs-scribe --utc=sometimes </dev/null
	assert_line -n 0 "iobs-scribe: --utc=sometimes: not yes or no"
}

@test "scribe-reconfig: --log=- moves the lines to standard output" {
	options --log=- --utc
	scribe_start A --utc -o "$T/log"
	{ creates 1 3; reconfig; creates 4 6; } | scribe_send A
	wait_for 5 grep -q "'/data/f6'" "$T/A.out"
	scribe_stop A
	seq 1 3 | diff -u - <(numbers "$T/log")
	seq 4 6 | diff -u - <(numbers "$T/A.out")
}

@test "scribe-reconfig: a bad option in the cache: one warning, the old options kept" {
	options "--log=$T/new" --only=CREATE --frob
	scribe_start A --utc -o "$T/log"
	scribe_send A <<EOF2
$TIME|DELETE|0|/data/a
$TIME|WATCH_RECONFIG|0|/data
$TIME|DELETE|0|/data/b
EOF2
	wait_for 5 grep -q "'/data/b'" "$T/log"
	# Good options again: they are taken at the next WATCH_RECONFIG.
	options "--log=$T/new" --utc
	{ reconfig; creates 1 1; } | scribe_send A
	wait_for 5 grep -q "'/data/f1'" "$T/new"
	scribe_stop A
	assert_equal "$STATUS" 0
	run -0 cat "$T/A.err"
	assert_output "iobs-scribe: $KEY: --frob: unknown option; keeping the old options"
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 -: file '/data/a' was DELETED
2025-11-25 08:00:00.123456 /data: WATCH RECONFIGURED; log reopened
2025-11-25 08:00:00.123456 -: file '/data/b' was DELETED
EOF2
	diff -u "$T/want" "$T/log"
	assert_equal "$(lines "$T/new")" 2
}

@test "scribe-reconfig: bad values are kept out too" {
	scribe_start A --utc -o "$T/log"
	options --only=BOGUS
	reconfig | scribe_send A
	wait_for 5 has_n "$T/A.err" 1
	options --utc=maybe
	reconfig | scribe_send A
	wait_for 5 has_n "$T/A.err" 2
	options "--log=$T/no/such/dir/log"
	reconfig | scribe_send A
	wait_for 5 has_n "$T/A.err" 3
	creates 1 1 | scribe_send A
	wait_for 5 grep -q "'/data/f1'" "$T/log"
	scribe_stop A
	# The log that cannot be opened is a runtime failure.
	assert_equal "$STATUS" 1
	run -0 cat "$T/A.err"
	assert_line -n 0 "iobs-scribe: $KEY: -e BOGUS: unknown event (see iobs-scribe(1) for the names); keeping the old options"
	assert_line -n 1 "iobs-scribe: $KEY: --utc=maybe: not yes or no; keeping the old options"
	assert_line -n 2 "iobs-scribe: $KEY: --log=$T/no/such/dir/log: cannot open the log; keeping the old options and log: No such file or directory"
	assert_equal "$(lines "$T/log")" 4
}

@test "scribe-reconfig: no key: the options stay and the log is reopened" {
	scribe_start A --utc -o "$T/log"
	creates 1 10 | scribe_send A
	wait_for 5 has_n "$T/log" 10
	mv "$T/log" "$T/log.1"
	{ reconfig; creates 11 20; } | scribe_send A
	wait_for 5 grep -q "'/data/f20'" "$T/log"
	scribe_stop A
	assert_equal "$STATUS" 0
	[ ! -s "$T/A.err" ]
	seq 1 10 | diff -u - <(numbers "$T/log.1")
	seq 11 20 | diff -u - <(numbers "$T/log")
	run -0 head -1 "$T/log"
	assert_output "2025-11-25 08:00:00.123456 /data: WATCH RECONFIGURED; log reopened"
}

@test "scribe-reconfig: without IOBS_OPTIONS the key is not read" {
	options "--log=$T/new"
	unset IOBS_OPTIONS
	scribe_start A --utc -o "$T/log"
	{ creates 1 1; reconfig; creates 2 2; } | scribe_send A
	wait_for 5 grep -q "'/data/f2'" "$T/log"
	scribe_stop A
	[ ! -e "$T/new" ]
	assert_equal "$(lines "$T/log")" 3
}

@test "scribe-reconfig: SIGHUP reads the options too" {
	scribe_start A --utc -o "$T/old"
	creates 1 10 | scribe_send A
	wait_for 5 has_n "$T/old" 10
	options "--log=$T/new" --utc
	kill -HUP "$A_PID"
	wait_for 5 test -e "$T/new"
	creates 11 20 | scribe_send A
	wait_for 5 grep -q "'/data/f20'" "$T/new"
	scribe_stop A
	assert_equal "$STATUS" 0
	seq 1 10 | diff -u - <(numbers "$T/old")
	seq 11 20 | diff -u - <(numbers "$T/new")
}

@test "scribe-reconfig: moves stop being matched when --only leaves MOVE out" {
	options "--log=$T/log" --utc --only=MOVED_FROM,MOVED_TO
	scribe_start A --utc -o "$T/log"
	scribe_send A <<EOF2
$TIME|MOVED_FROM|1|/data/a
$TIME|MOVED_TO|1|/data/b
$TIME|WATCH_RECONFIG|0|/data
$TIME|MOVED_FROM|2|/data/c
$TIME|MOVED_TO|2|/data/d
EOF2
	wait_for 5 grep -q "'/data/d' was MOVED here" "$T/log"
	scribe_stop A
	assert_equal "$STATUS" 0
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 -: file '/data/a' was MOVED away
2025-11-25 08:00:00.123456 -: file '/data/b' was MOVED here
2025-11-25 08:00:00.123456 -: file '/data/a' was MOVED to '/data/b'
2025-11-25 08:00:00.123456 -: file '/data/c' was MOVED away
2025-11-25 08:00:00.123456 -: file '/data/d' was MOVED here
EOF2
	diff -u "$T/want" "$T/log"
}
