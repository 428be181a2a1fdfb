#!/usr/bin/env bats
# iobs-watch reports nothing of its own: not its listing of a new
# directory, not its closing of a root, at start, at a rescan or later.

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

# Records of listing events (OPEN, ACCESS, CLOSE_NOWRITE on a directory).
listing_lines() {
	awk -F'\t' '$2 ~ /^(OPEN|ACCESS|CLOSE_NOWRITE)/ && $2 ~ /ISDIR/' "$1"
}

# marker OUT N: a file made under $T/w whose record shows all before it.
marker() {
	touch "$T/w/.marker$2"
	wait_for 10 grep -q "/.marker$2\$" "$1"
}

@test "start: nothing on the root after WATCH_INIT, whatever -e asks" {
	local n=0 opt
	mkdir -p "$T/w/a/b" "$T/w/c"
	for opt in -e=all -e=close_nowrite -e=open,access -e=close; do
		n=$((n + 1))
		start_watch "$T/out$n" "${opt%%=*}" "${opt#*=}" -e create "$T/w"
		marker "$T/out$n" "$n"
		stop_pid "$WATCH_PID"
		run listing_lines "$T/out$n"
		assert_output ""
	done
}

@test "start with several roots: nothing of ours on any" {
	mkdir -p "$T/w/a" "$T/v/b"
	start_watch "$T/out" -e all "$T/w" "$T/v"
	marker "$T/out" 1
	touch "$T/v/.end"
	wait_for 10 grep -q "/.end\$" "$T/out"
	run listing_lines "$T/out"
	assert_output ""
}

@test "a new directory: our listing of it is not reported, at any depth" {
	start_watch "$T/out" -e all "$T/w"
	mkdir "$T/w/n"
	mkdir "$T/w/n2" "$T/w/n2/deeper"
	mkdir -p "$T/tmp/x/y" && mv "$T/tmp/x" "$T/w/moved-in"
	marker "$T/out" 1
	wait_for 10 grep -q "	MOVED_TO,ISDIR	[0-9]*	$T/w/moved-in\$" "$T/out"
	run listing_lines "$T/out"
	assert_output ""
}

@test "someone else listing a directory is reported" {
	mkdir "$T/w/d"
	start_watch "$T/out" -e all "$T/w"
	ls "$T/w/d" > /dev/null
	ls "$T/w" > /dev/null
	marker "$T/out" 1
	run listing_lines "$T/out"
	assert_line --partial "OPEN,ISDIR	0	$T/w/d"
	assert_line --partial "CLOSE_NOWRITE,CLOSE,ISDIR	0	$T/w/d"
	assert_line --partial "OPEN,ISDIR	0	$T/w"
}

@test "a rescan after OVERFLOW: nothing of ours either" {
	mkfifo "$T/fifo"
	mkdir -p "$T/w/sub/deep"
	iobs-watch --buffer 64K -e all "$T/w" > "$T/fifo" 2> "$T/err" 3>&- &
	BG_PIDS+=($!)
	cat "$T/fifo" > "$T/out" 3>&- &
	local reader=$!
	BG_PIDS+=($reader)
	wait_for 10 grep -q WATCH_INIT "$T/out"
	kill -STOP "$reader"
	(cd "$T/w" && seq -f 'f%.0f' 1 5000 | xargs touch)
	mkdir "$T/w/made-meanwhile"
	kill -CONT "$reader"
	wait_for 20 has_lines "$T/out" "	WATCH_INIT	" 2
	mkdir "$T/w/after"
	marker "$T/out" 1
	run listing_lines "$T/out"
	assert_output ""
}
