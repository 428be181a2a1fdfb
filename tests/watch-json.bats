#!/usr/bin/env bats
# iobs-watch --json: one object a line for jq, lifecycle records too.

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

start_json() {
	local out=$1
	shift
	iobs-watch --json "$@" >"$out" 2>"$out.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_for 10 grep -q '"events":\["WATCH_INIT"\]' "$out"
}

@test "--json: time, events, cookie, path; jq reads every line" {
	start_json "$T/out" "$T/w"
	mkdir "$T/w/d"
	mv "$T/w/d" "$T/w/e"
	wait_for 10 grep -q '"MOVED_TO"' "$T/out"
	stop_pid "$WATCH_PID"
	# No header: every line is an object with exactly these members.
	run jq -s -c 'map(keys) | unique' "$T/out"
	assert_output '[["cookie","events","path","time"]]'
	run jq -s -c 'map([(.time | type), (.events | type),
	    (.cookie | type), (.path | type)]) | unique' "$T/out"
	assert_output '[["number","array","number","string"]]'
	run jq -r '"\(.events | join(",")) \(.path)"' "$T/out"
	assert_output "WATCH_INIT $T/w
CREATE,ISDIR $T/w/d
MOVED_FROM,ISDIR $T/w/d
MOVED_TO,ISDIR $T/w/e
WATCH_DEAD $T/w"
	# The two halves of the move share a cookie, not 0.
	run jq -s '[.[] | select(.events[0] | startswith("MOVED")) |
	    .cookie] | (.[0] == .[1] and .[0] > 0)' "$T/out"
	assert_output true
	# The time is the stream's: seconds, six decimals.
	run grep -c -E '^\{"time":[0-9]+\.[0-9]{6},' "$T/out"
	assert_output 5
}

@test "--json: a name that is not UTF-8 has path_bytes, its exact bytes" {
	start_json "$T/out" "$T/w"
	: > "$T/w/"$'bad\xff\xfe'
	: > "$T/w/café"
	wait_for 10 grep -q 'café' "$T/out"
	run jq -r 'select(.events == ["CREATE"] and has("path_bytes")) |
	    .path_bytes' "$T/out"
	assert_output "$(printf '%s' "$T/w/"$'bad\xff\xfe' | base64 -w0)"
	run jq -r 'select(.events == ["CREATE"]) | .path' "$T/out"
	assert_line "$T/w/bad��"
	assert_line "$T/w/café"
	run jq -r 'select(.path == "'"$T/w/café"'") | has("path_bytes")' \
	    "$T/out"
	assert_line false
}

@test "--json: quotes, controls, bidi escaped; jq gives the name back" {
	start_json "$T/out" "$T/w"
	local n
	for n in 'q"uote' 'back\slash' $'tab\t' $'nl\n' $'esc\033' \
	    $'rlo\xe2\x80\xae' $'c1\xc2\x85'; do
		: > "$T/w/$n"
	done
	touch "$T/w/zz"
	wait_for 10 grep -q 'zz' "$T/out"
	# Raw lines hold no control byte and no bidi character.
	run env LC_ALL=C.UTF-8 grep -c -P \
	    '[\x00-\x1f\x7f\x{80}-\x{9f}\x{202a}-\x{202e}\x{2066}-\x{2069}]' \
	    "$T/out"
	assert_output 0
	grep -q -F '"path":"'"$T/w"'/rlo\u202e"' "$T/out"
	jq -j 'select(.events == ["CREATE"]) | .path, "\u0000"' "$T/out" |
	    sort -z > "$T/got"
	printf "$T/w/%s\\0" 'q"uote' 'back\slash' $'tab\t' $'nl\n' \
	    $'esc\033' $'rlo\xe2\x80\xae' $'c1\xc2\x85' zz | sort -z > "$T/want"
	cmp "$T/want" "$T/got"
}

@test "--json: WATCH_RECONFIG on SIGHUP, WATCH_DEAD on SIGTERM" {
	start_json "$T/out" "$T/w" 
	kill -HUP "$WATCH_PID"
	wait_for 10 grep -q 'WATCH_RECONFIG' "$T/out"
	stop_pid "$WATCH_PID"
	run jq -r '.events[0]' "$T/out"
	assert_output "WATCH_INIT
WATCH_RECONFIG
WATCH_DEAD"
}
