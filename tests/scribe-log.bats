#!/usr/bin/env bats
# iobs-scribe: the log file, its rotation, and many writers of one log.

load scribe_helper

# creates FROM TO: CREATE records for /data/fFROM .. /data/fTO.
creates() {
	seq "$1" "$2" | awk -v t="$TIME" '{ printf "%s|CREATE|0|/data/f%d\n", t, $1 }'
}

@test "scribe-log: logrotate: rename, SIGHUP, no line lost" {
	scribe_start A --utc -o "$T/log"
	creates 1 1000 | scribe_send A
	# A line written: the signals are handled. Then rotate while the
	# scribe may still be writing the first half.
	wait_for 5 has_n "$T/log" 1
	mv "$T/log" "$T/log.1"
	kill -HUP "$A_PID"
	wait_for 5 test -f "$T/log"
	creates 1001 2000 | scribe_send A
	wait_for 5 grep -q "'/data/f2000' was CREATED" "$T/log"
	scribe_stop A
	assert_equal "$STATUS" 0
	assert_equal "$(lines "$T/log")" "$(( 2000 - $(lines "$T/log.1") ))"
	cat "$T/log.1" "$T/log" | sed "s|.*'/data/f\([0-9]*\)' was CREATED$|\1|" >"$T/got"
	seq 1 2000 | diff -u - "$T/got"
	# Every line written after the signal went to the new file.
	grep -q "'/data/f1001' was CREATED" "$T/log"
}

@test "scribe-log: WATCH_RECONFIG reopens the log" {
	scribe_start A --utc -o "$T/log"
	creates 1 10 | scribe_send A
	wait_for 5 has_n "$T/log" 10
	mv "$T/log" "$T/log.1"
	scribe_send A <<EOF2
$TIME|WATCH_RECONFIG|0|/data
$TIME|CREATE|0|/data/after
EOF2
	wait_for 5 has_n "$T/log" 2
	scribe_stop A
	cat >"$T/want" <<'EOF2'
2025-11-25 08:00:00.123456 /data: WATCH RECONFIGURED; log reopened
2025-11-25 08:00:00.123456 -: file '/data/after' was CREATED
EOF2
	diff -u "$T/want" "$T/log"
	assert_equal "$(lines "$T/log.1")" 10
}

@test "scribe-log: a log that cannot be reopened: warning, old file kept, status 1" {
	mkdir "$T/dir"
	scribe_start A --utc -o "$T/dir/log"
	creates 1 1 | scribe_send A
	wait_for 5 has_n "$T/dir/log" 1
	mv "$T/dir" "$T/moved"
	kill -HUP "$A_PID"
	wait_for 5 grep -q "cannot reopen the log" "$T/A.err"
	creates 2 2 | scribe_send A
	wait_for 5 has_n "$T/moved/log" 2
	scribe_stop A
	assert_equal "$STATUS" 1
	run -0 cat "$T/A.err"
	assert_output "iobs-scribe: $T/dir/log: cannot reopen the log; still writing to the old file: No such file or directory"
}

@test "scribe-log: two scribes appending to one log never interleave lines" {
	long=$(printf 'n%.0s' $(seq 300))
	seq 1 3000 | awk -v t="$TIME" -v l="$long" \
	    '{ printf "%s\tCREATE\t0\t/a/%s%d\n", t, l, $1 }' >"$T/inA"
	seq 1 3000 | awk -v t="$TIME" -v l="$long" \
	    '{ printf "%s\tDELETE\t0\t/b/%s%d\n", t, l, $1 }' >"$T/inB"
	iobs-scribe -u -o "$T/log" <"$T/inA" 3>&- &
	a=$!
	iobs-scribe -u -o "$T/log" <"$T/inB" 3>&- &
	b=$!
	wait "$a"
	wait "$b"
	assert_equal "$(lines "$T/log")" 6000
	# grep -c exits 1 when it counts no line.
	run -1 grep -Ecv "^2025-11-25 08:00:00\.123456 -: file '/(a/${long}[0-9]+' was CREATED|b/${long}[0-9]+' was DELETED)\$" "$T/log"
	assert_output 0
}

@test "scribe-log: the events of a real watched tree" {
	mkdir "$T/d"
	# Reads too: the stream leaves them out unless asked.
	pipeline A -e all "$T/d"
	echo hi >"$T/d/a.txt"
	mkdir "$T/d/x"
	chmod 600 "$T/d/a.txt"
	cat "$T/d/a.txt" >/dev/null
	rm "$T/d/a.txt"
	rmdir "$T/d/x"
	wait_for 5 grep -qF "directory 'x' was DELETED" "$T/A.log"
	pipeline_stop A
	assert_equal "$STATUS" 0
	sed "s/^[0-9-]* [0-9:.]* //" "$T/A.log" >"$T/got"
	run -0 cat "$T/got"
	assert_line -n 0 "$T/d: WATCH STARTED"
	assert_line "$T/d: file 'a.txt' was CREATED"
	assert_line "$T/d: file 'a.txt' was MODIFIED"
	assert_line "$T/d: file 'a.txt' was CLOSED after writing"
	assert_line "$T/d: directory 'x' was CREATED"
	assert_line "$T/d: the METADATA of file 'a.txt' was changed"
	assert_line "$T/d: file 'a.txt' was ACCESSED"
	assert_line "$T/d: file 'a.txt' was CLOSED without writing"
	assert_line "$T/d: file 'a.txt' was DELETED"
	assert_line "$T/d: directory 'x' was DELETED"
	assert_line -n -1 "$T/d: WATCH STOPPED"
	[ ! -s "$T/A.err" ]
}

@test "scribe-log: a deleted watch root" {
	mkdir "$T/d"
	pipeline A "$T/d"
	rmdir "$T/d"
	wait "$A_SCRIBE"
	sed "s/^[0-9-]* [0-9:.]* //" "$T/A.log" >"$T/got"
	run -0 cat "$T/got"
	assert_line "$T/d: the watch root was itself DELETED"
	assert_line -n -1 "$T/d: WATCH STOPPED"
}

@test "scribe-log: a torn last line, left by a writer killed mid-write, is cut at open" {
	printf '%s\n%s' "2026-11-25 10:00:00.000000 /data: file 'a' was CREATED" \
		"2026-11-25 10:00:01.0000" > "$T/log"
	printf '# iobs-stream 1\n1764057600.000000\tWATCH_INIT\t0\t/data\n' |
		iobs-scribe --utc -o "$T/log" 2> "$T/err"
	run cat "$T/log"
	assert_output "2026-11-25 10:00:00.000000 /data: file 'a' was CREATED
2025-11-25 08:00:00.000000 /data: WATCH STARTED"
	run cat "$T/err"
	assert_output "iobs-scribe: $T/log: cut a torn last line (24 bytes) left by a writer that was killed"
}

@test "scribe-log: another writer has the log open: its tail is left alone" {
	printf 'a line still being written' > "$T/log"
	flock -s "$T/log" sleep 30 3>&- &
	BG_PIDS+=($!)
	wait_for 5 test -n "$(awk '$2 == "FLOCK"' /proc/locks)"
	printf '# iobs-stream 1\n1764057600.000000\tWATCH_INIT\t0\t/data\n' |
		iobs-scribe --utc -o "$T/log" 2> "$T/err"
	run cat "$T/log"
	assert_output "a line still being written2025-11-25 08:00:00.000000 /data: WATCH STARTED"
	assert_file_empty "$T/err"
}
