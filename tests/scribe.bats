#!/usr/bin/env bats
# iobs-scribe: options, exit codes and the sentence of every event.

load scribe_helper

@test "scribe: an unknown option is a usage error" {
	run -2 iobs-scribe --bogus </dev/null
	assert_line --partial "usage: iobs-scribe [-ju] [-e event[,...]] [-o file] [-t timefmt]"
}

@test "scribe: an operand is a usage error" {
	run -2 iobs-scribe /data </dev/null
	assert_line --partial "usage: iobs-scribe"
}

@test "scribe: an unknown event name for -e is a usage error" {
	run -2 iobs-scribe -e CREATE,BOGUS </dev/null
	assert_output --partial "iobs-scribe: -e BOGUS: unknown event"
	run -2 iobs-scribe --only=ISDIR </dev/null
}

@test "scribe: --log without a file is a usage error" {
	run -2 iobs-scribe --log </dev/null
	assert_line --partial "usage: iobs-scribe"
}

@test "scribe: a log that cannot be opened is a runtime error" {
	run -1 iobs-scribe -o "$T/no/such/dir/log" </dev/null
	assert_output --partial "iobs-scribe: $T/no/such/dir/log: No such file or directory"
}

@test "scribe: empty input ends with status 0 and no output" {
	run -0 iobs-scribe </dev/null
	assert_output ""
}

@test "scribe: every event and lifecycle record has its sentence" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|CREATE|0|/data/a.txt
$TIME|CREATE,ISDIR|0|/data/x
$TIME|OPEN|0|/data/a.txt
$TIME|OPEN,ISDIR|0|/data/x
$TIME|ACCESS|0|/data/a.txt
$TIME|MODIFY|0|/data/a.txt
$TIME|ATTRIB|0|/data/a.txt
$TIME|ATTRIB,ISDIR|0|/data/x
$TIME|CLOSE_WRITE,CLOSE|0|/data/a.txt
$TIME|CLOSE_NOWRITE,CLOSE|0|/data/a.txt
$TIME|CLOSE_NOWRITE,CLOSE,ISDIR|0|/data/x
$TIME|DELETE|0|/data/a.txt
$TIME|DELETE,ISDIR|0|/data/x
$TIME|OVERFLOW|0|/data
$TIME|WATCH_RECONFIG|0|/data
$TIME|UNMOUNT|0|/data
$TIME|MOVE_SELF|0|/data
$TIME|DELETE_SELF|0|/data
$TIME|WATCH_DEAD|0|/data
EOF2
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /data: WATCH STARTED
2025-11-25 08:00:00.123456 /data: file 'a.txt' was CREATED
2025-11-25 08:00:00.123456 /data: directory 'x' was CREATED
2025-11-25 08:00:00.123456 /data: file 'a.txt' was OPENED
2025-11-25 08:00:00.123456 /data: directory 'x' was OPENED
2025-11-25 08:00:00.123456 /data: file 'a.txt' was ACCESSED
2025-11-25 08:00:00.123456 /data: file 'a.txt' was MODIFIED
2025-11-25 08:00:00.123456 /data: the METADATA of file 'a.txt' was changed
2025-11-25 08:00:00.123456 /data: the METADATA of directory 'x' was changed
2025-11-25 08:00:00.123456 /data: file 'a.txt' was CLOSED after writing
2025-11-25 08:00:00.123456 /data: file 'a.txt' was CLOSED without writing
2025-11-25 08:00:00.123456 /data: directory 'x' was CLOSED without writing
2025-11-25 08:00:00.123456 /data: file 'a.txt' was DELETED
2025-11-25 08:00:00.123456 /data: directory 'x' was DELETED
2025-11-25 08:00:00.123456 /data: events were LOST (queue overflow); resynchronised
2025-11-25 08:00:00.123456 /data: WATCH RECONFIGURED; log reopened
2025-11-25 08:00:00.123456 /data: the filesystem of the watch root was UNMOUNTED
2025-11-25 08:00:00.123456 /data: the watch root was itself MOVED
2025-11-25 08:00:00.123456 /data: the watch root was itself DELETED
2025-11-25 08:00:00.123456 /data: WATCH STOPPED
EOF2
	iobs-scribe --utc <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
}

@test "scribe: the moves of one stream have their sentences" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|MOVED_FROM|4242|/data/a
$TIME|MOVED_TO|4242|/data/sub/b
$TIME|MOVED_FROM,ISDIR|77|/data/d
$TIME|MOVED_TO,ISDIR|77|/data/e
$TIME|MOVED_TO|5|/data/in
$TIME|MOVED_FROM|6|/data/out
EOF2
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /data: WATCH STARTED
2025-11-25 08:00:00.123456 /data: file 'a' was MOVED away
2025-11-25 08:00:00.123456 /data: file 'sub/b' was MOVED here
2025-11-25 08:00:00.123456 /data: file '/data/a' was MOVED to '/data/sub/b'
2025-11-25 08:00:00.123456 /data: directory 'd' was MOVED away
2025-11-25 08:00:00.123456 /data: directory 'e' was MOVED here
2025-11-25 08:00:00.123456 /data: directory '/data/d' was MOVED to '/data/e'
2025-11-25 08:00:00.123456 /data: file 'in' was MOVED here
2025-11-25 08:00:00.123456 /data: file '/data/in' was MOVED in from outside the watched tree
2025-11-25 08:00:00.123456 /data: file 'out' was MOVED away
2025-11-25 08:00:00.123456 /data: file '/data/out' was MOVED out of the watched tree
EOF2
	iobs-scribe --utc <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
}

@test "scribe: names are escaped as in the stream" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/da\\tta
$TIME|CREATE|0|/da\\tta/new\\nline
$TIME|CREATE|0|/da\\tta/caf\\303\\251 au lait
$TIME|CREATE|0|/da\\tta/thé vert
$TIME|CREATE|0|/da\\tta/rlo\\342\\200\\256
$TIME|CREATE|0|/da\\tta/back\\\\slash
$TIME|MOVED_FROM|9|/da\\tta/x\\ty
$TIME|MOVED_TO|9|/da\\tta/\\001
EOF2
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /da\tta: WATCH STARTED
2025-11-25 08:00:00.123456 /da\tta: file 'new\nline' was CREATED
2025-11-25 08:00:00.123456 /da\tta: file 'café au lait' was CREATED
2025-11-25 08:00:00.123456 /da\tta: file 'thé vert' was CREATED
2025-11-25 08:00:00.123456 /da\tta: file 'rlo\342\200\256' was CREATED
2025-11-25 08:00:00.123456 /da\tta: file 'back\\slash' was CREATED
2025-11-25 08:00:00.123456 /da\tta: file 'x\ty' was MOVED away
2025-11-25 08:00:00.123456 /da\tta: file '\001' was MOVED here
2025-11-25 08:00:00.123456 /da\tta: file '/da\tta/x\ty' was MOVED to '/da\tta/\001'
EOF2
	iobs-scribe --utc <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
}

@test "scribe: a record's root is the most recent WATCH_INIT prefix" {
	stream >"$T/in" <<EOF2
$TIME|CREATE|0|/elsewhere/a
$TIME|WATCH_INIT|0|/data
$TIME|WATCH_INIT|0|/database
$TIME|WATCH_INIT|0|/
$TIME|CREATE|0|/data/a
$TIME|CREATE|0|/other
$TIME|WATCH_INIT|0|/data
$TIME|CREATE|0|/data/b
$TIME|CREATE|0|/database/c
$TIME|WATCH_DEAD|0|/
$TIME|CREATE|0|/other
$TIME|CREATE|0|/databases
$TIME|WATCH_DEAD|0|/data
$TIME|CREATE|0|/data/d
EOF2
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 -: file '/elsewhere/a' was CREATED
2025-11-25 08:00:00.123456 /data: WATCH STARTED
2025-11-25 08:00:00.123456 /database: WATCH STARTED
2025-11-25 08:00:00.123456 /: WATCH STARTED
2025-11-25 08:00:00.123456 /: file 'data/a' was CREATED
2025-11-25 08:00:00.123456 /: file 'other' was CREATED
2025-11-25 08:00:00.123456 /data: WATCH STARTED
2025-11-25 08:00:00.123456 /data: file 'b' was CREATED
2025-11-25 08:00:00.123456 /: file 'database/c' was CREATED
2025-11-25 08:00:00.123456 /: WATCH STOPPED
2025-11-25 08:00:00.123456 -: file '/other' was CREATED
2025-11-25 08:00:00.123456 -: file '/databases' was CREATED
2025-11-25 08:00:00.123456 /data: WATCH STOPPED
2025-11-25 08:00:00.123456 -: file '/data/d' was CREATED
EOF2
	iobs-scribe --utc <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
}

@test "scribe: -e and --only log a subset" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|CREATE|0|/data/a
$TIME|OPEN|0|/data/a
$TIME|CLOSE_WRITE,CLOSE|0|/data/a
$TIME|CLOSE_NOWRITE,CLOSE|0|/data/a
$TIME|MOVED_FROM|1|/data/a
$TIME|MOVED_TO|1|/data/b
$TIME|DELETE|0|/data/b
$TIME|WATCH_DEAD|0|/data
EOF2
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /data: file 'a' was CREATED
2025-11-25 08:00:00.123456 /data: file 'a' was CLOSED after writing
2025-11-25 08:00:00.123456 /data: file 'a' was CLOSED without writing
2025-11-25 08:00:00.123456 /data: file '/data/a' was MOVED to '/data/b'
2025-11-25 08:00:00.123456 /data: WATCH STOPPED
EOF2
	iobs-scribe --utc -e CREATE,CLOSE --only=MOVE -e WATCH_DEAD \
	    <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
	# In either case, as iobs-watch -e and iobs.conf(5) write them.
	iobs-scribe --utc -e create,Close --only=move -e watch_dead \
	    <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
	# Without MOVE, moves are not tracked: no extra line.
	run -0 iobs-scribe --utc -e MOVED_FROM,MOVED_TO <"$T/in"
	assert_equal "${#lines[@]}" 2
	refute_output --partial "MOVED to"
}

@test "scribe: --timefmt, --utc and local time" {
	stream >"$T/in" <<EOF2
$TIME|CREATE|0|/data/a
EOF2
	run -0 iobs-scribe --utc --timefmt='%s %H:%M:%S.%f %%f' <"$T/in"
	assert_output "1764057600 08:00:00.123456 %f -: file '/data/a' was CREATED"
	run -0 iobs-scribe -u -t '' <"$T/in"
	assert_output " -: file '/data/a' was CREATED"
	TZ=JST-9 run -0 iobs-scribe <"$T/in"
	assert_output "2025-11-25 17:00:00.123456 -: file '/data/a' was CREATED"
	TZ=JST-9 run -0 iobs-scribe -t '%H:%M:%S' --utc <"$T/in"
	assert_output "08:00:00 -: file '/data/a' was CREATED"
}

# The last line, with no newline, is what a watcher killed mid-record
# leaves: whatever it says, it is not logged.
@test "scribe: a malformed line is reported with its number and skipped" {
	{
		stream <<EOF2
$TIME|WATCH_INIT|0|/data
not a record
$TIME|BOGUS|0|/data/a
$TIME|CREATE|x|/data/a
$TIME|CREATE|0|relative
$TIME|CREATE|0|/data/bad\\xzz
EOF2
		printf '# a comment\n\n'
		head -c 300000 /dev/zero | tr '\0' x
		printf '\n'
		stream <<EOF2
$TIME|CREATE|0|/data/good
EOF2
		printf '%s\tDELETE\t0\t/data/last-without-newline' "$TIME"
	} >"$T/in"
	iobs-scribe --utc <"$T/in" >"$T/got" 2>"$T/err"
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /data: WATCH STARTED
2025-11-25 08:00:00.123456 /data: file 'good' was CREATED
EOF2
	diff -u "$T/want" "$T/got"
	cat >"$T/wanterr" <<'EOF2'
iobs-scribe: stdin:3: expected 4 TAB-separated fields; line skipped
iobs-scribe: stdin:4: unknown event name; line skipped
iobs-scribe: stdin:5: bad COOKIE field; line skipped
iobs-scribe: stdin:6: PATH is not absolute; line skipped
iobs-scribe: stdin:7: bad escape in PATH; line skipped
iobs-scribe: stdin:10: line too long; line skipped
iobs-scribe: stdin:13: no newline at the end of the input: a record cut short; line skipped
EOF2
	diff -u "$T/wanterr" "$T/err"
}

@test "scribe: -o appends to a log created 0644, - is stdout" {
	stream >"$T/in" <<EOF2
$TIME|CREATE|0|/data/a
EOF2
	(umask 022; iobs-scribe -u -o "$T/log" <"$T/in")
	run -0 stat -c %a "$T/log"
	assert_output 644
	iobs-scribe -u --log="$T/log" <"$T/in"
	run -0 cat "$T/log"
	assert_equal "${#lines[@]}" 2
	run -0 iobs-scribe -u --log=- <"$T/in"
	assert_output "2025-11-25 08:00:00.123456 -: file '/data/a' was CREATED"
}

@test "scribe: the stream's PID says who made a change: user, command, pid; never a later process's name" {
	local now
	now=$(date +%s).000000
	# A process alive now, and a change made now: named.
	sleep 30 3>&- &
	BG_PIDS+=("$!")
	stream >"$T/in" <<EOF2
$now|WATCH_INIT|0|/data|0
$now|CREATE|0|/data/a|$!
$now|DELETE|0|/data/b|0
$TIME|MODIFY|0|/data/c|$!
$now|MODIFY|0|/data/d|2147483647
$now|ATTRIB|0|/data/e|x
EOF2
	run -0 iobs-scribe --utc <"$T/in"
	assert_line --regexp "/data: file 'a' was CREATED by $(id -nu) \\(sleep, pid $!\\)\$"
	# No PID, or a bad one: no one.
	assert_line --regexp "/data: file 'b' was DELETED\$"
	assert_line --regexp "/data: the METADATA of file 'e' was changed\$"
	# The change is older than the process with its pid now: not it.
	assert_line --regexp "/data: file 'c' was MODIFIED by pid $!\$"
	# Gone: its pid alone.
	assert_line --regexp "/data: file 'd' was MODIFIED by pid 2147483647\$"
}

@test "scribe: --json: one object a line, iobs-watch --json's members, the sentence, who; moves with their from" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|CREATE|0|/data/caf\\303\\251|2147483647
$TIME|CLOSE_WRITE,CLOSE|0|/data/a"b
$TIME|MOVED_FROM|7|/data/x
$TIME|MOVED_TO|7|/data/y
$TIME|CREATE|0|/data/bad\\377
$TIME|WATCH_DEAD|0|/data
EOF2
	cat >"$T/want" <<'EOF2'
{"time":1764057600.123456,"events":["WATCH_INIT"],"cookie":0,"path":"/data","sentence":"/data: WATCH STARTED"}
{"time":1764057600.123456,"events":["CREATE"],"cookie":0,"pid":2147483647,"path":"/data/café","sentence":"/data: file 'café' was CREATED by pid 2147483647"}
{"time":1764057600.123456,"events":["CLOSE_WRITE","CLOSE"],"cookie":0,"path":"/data/a\"b","sentence":"/data: file 'a\"b' was CLOSED after writing"}
{"time":1764057600.123456,"events":["MOVED_FROM"],"cookie":7,"path":"/data/x","sentence":"/data: file 'x' was MOVED away"}
{"time":1764057600.123456,"events":["MOVED_TO"],"cookie":7,"path":"/data/y","sentence":"/data: file 'y' was MOVED here"}
{"time":1764057600.123456,"events":["MOVE"],"cookie":0,"path":"/data/y","from":"/data/x","sentence":"/data: file '/data/x' was MOVED to '/data/y'"}
{"time":1764057600.123456,"events":["CREATE"],"cookie":0,"path":"/data/bad\ufffd","path_bytes":"L2RhdGEvYmFk/w==","sentence":"/data: file 'bad\\377' was CREATED"}
{"time":1764057600.123456,"events":["WATCH_DEAD"],"cookie":0,"path":"/data","sentence":"/data: WATCH STOPPED"}
EOF2
	iobs-scribe --json <"$T/in" >"$T/got"
	diff -u "$T/want" "$T/got"
	# Each line is JSON jq reads; --json=no is the text log.
	run -0 jq -r .sentence "$T/got"
	assert_line -n 1 "/data: file 'café' was CREATED by pid 2147483647"
	run -0 iobs-scribe --utc --json=no <"$T/in"
	assert_line -n 0 "2025-11-25 08:00:00.123456 /data: WATCH STARTED"
	run -2 iobs-scribe --json=maybe </dev/null
	assert_line -n 0 "iobs-scribe: --json=maybe: not yes or no"
}
