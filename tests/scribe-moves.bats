#!/usr/bin/env bats
# iobs-scribe: moves matched within one stream, and across two
# pipelines that share one cache.

load scribe_helper

@test "scribe-moves: an unmatched MOVED_FROM is logged while the input is quiet" {
	scribe_start A --utc
	scribe_send A <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|MOVED_FROM|12|/data/gone
EOF2
	# No EOF: the half-second window alone flushes it.
	wait_for 5 grep -q "file '/data/gone' was MOVED out of the watched tree" "$T/A.out"
	scribe_stop A
	assert_equal "$STATUS" 0
	assert_equal "$(lines "$T/A.out")" 3
}

@test "scribe-moves: an unmatched MOVED_FROM is logged before its WATCH_DEAD" {
	stream >"$T/in" <<EOF2
$TIME|WATCH_INIT|0|/data
$TIME|WATCH_INIT|0|/other
$TIME|MOVED_FROM|12|/data/gone
$TIME|MOVED_FROM|13|/other/kept
$TIME|WATCH_DEAD|0|/data
$TIME|CREATE|0|/other/x
EOF2
	run -0 iobs-scribe --utc <"$T/in"
	assert_line -n 4 "2025-11-25 08:00:00.123456 /data: file '/data/gone' was MOVED out of the watched tree"
	assert_line -n 5 "2025-11-25 08:00:00.123456 /data: WATCH STOPPED"
	assert_line -n 6 "2025-11-25 08:00:00.123456 /other: file 'x' was CREATED"
	assert_line -n 7 "2025-11-25 08:00:00.123456 /other: file '/other/kept' was MOVED out of the watched tree"
}

@test "scribe-moves: SIGTERM logs the moves still waiting, status 0" {
	scribe_start A --utc
	scribe_send A <<EOF2
$TIME|MOVED_FROM|12|/data/gone
EOF2
	wait_for 5 has_n "$T/A.out" 1
	kill -TERM "$A_PID"
	scribe_stop A
	assert_equal "$STATUS" 0
	run -0 cat "$T/A.out"
	assert_line -n 1 "2025-11-25 08:00:00.123456 -: file '/data/gone' was MOVED out of the watched tree"
}

@test "scribe-moves: a move in a real watched tree" {
	mkdir "$T/d" "$T/d/sub"
	: >"$T/d/a"
	pipeline A "$T/d"
	mv "$T/d/a" "$T/d/sub/b"
	mv "$T/d/sub" "$T/d/sub2"
	wait_for 5 grep -qF "directory '$T/d/sub' was MOVED to '$T/d/sub2'" "$T/A.log"
	pipeline_stop A
	assert_equal "$STATUS" 0
	run -0 grep -F "MOVED" "$T/A.log"
	assert_line --partial "$T/d: file 'a' was MOVED away"
	assert_line --partial "$T/d: file 'sub/b' was MOVED here"
	assert_line --partial "$T/d: file '$T/d/a' was MOVED to '$T/d/sub/b'"
	assert_line --partial "$T/d: directory 'sub' was MOVED away"
	assert_line --partial "$T/d: directory 'sub2' was MOVED here"
	assert_equal "${#lines[@]}" 6
}

@test "scribe-moves: an unusable IOBS_CACHE is reported, moves still matched in-stream" {
	stream >"$T/in" <<EOF2
$TIME|MOVED_FROM|1|/data/a
$TIME|MOVED_TO|1|/data/b
EOF2
	IOBS_CACHE=$T/no-such-cache run -0 --separate-stderr iobs-scribe --utc <"$T/in"
	assert_line -n 2 --partial "file '/data/a' was MOVED to '/data/b'"
	[[ $stderr == *"iobs-scribe: IOBS_CACHE=$T/no-such-cache: cannot open the shared cache"* ]]
}

@test "scribe-moves: two scribes sharing a cache match a move once (FROM first)" {
	skip_valgrind "the 500 ms move window is shorter than a cache look-up"
	mkdir "$T/cache"
	export IOBS_CACHE=$T/cache
	scribe_start A --utc
	scribe_start B --utc
	scribe_send A <<EOF2
$TIME|WATCH_INIT|0|/a
$TIME|MOVED_FROM|4242|/a/x
EOF2
	wait_for 5 cache_has "$T/cache" scribe.move.4242
	scribe_send B <<EOF2
$TIME|WATCH_INIT|0|/b
$TIME|MOVED_TO|4242|/b/y
EOF2
	wait_for 5 grep -q "MOVED to" "$T/B.out"
	scribe_stop A
	assert_equal "$STATUS" 0
	scribe_stop B
	assert_equal "$STATUS" 0
	cat >"$T/wantA" <<'EOF2'
2025-11-25 08:00:00.123456 /a: WATCH STARTED
2025-11-25 08:00:00.123456 /a: file 'x' was MOVED away
EOF2
	cat >"$T/wantB" <<'EOF2'
2025-11-25 08:00:00.123456 /b: WATCH STARTED
2025-11-25 08:00:00.123456 /b: file 'y' was MOVED here
2025-11-25 08:00:00.123456 /b: file '/a/x' was MOVED to '/b/y'
EOF2
	diff -u "$T/wantA" "$T/A.out"
	diff -u "$T/wantB" "$T/B.out"
	run -0 cache_keys "$T/cache"
	assert_output ""
}

@test "scribe-moves: two scribes sharing a cache match a move once (TO first)" {
	skip_valgrind "the 500 ms move window is shorter than a cache look-up"
	mkdir "$T/cache"
	export IOBS_CACHE=$T/cache
	scribe_start A --utc
	scribe_start B --utc
	scribe_send B <<EOF2
$TIME|MOVED_TO|99|/b/y
EOF2
	wait_for 5 has_n "$T/B.out" 1
	scribe_send A <<EOF2
$TIME|MOVED_FROM|99|/a/x
EOF2
	wait_for 5 grep -q "MOVED to" "$T/B.out"
	scribe_stop A
	scribe_stop B
	run -0 cat "$T/A.out" "$T/B.out"
	assert_line "2025-11-25 08:00:00.123456 -: file '/a/x' was MOVED to '/b/y'"
	assert_equal "${#lines[@]}" 3
	refute_output --partial "watched tree"
	run -0 cache_keys "$T/cache"
	assert_output ""
}

@test "scribe-moves: a move between two watched pipelines under one cache" {
	mkdir "$T/cache" "$T/a" "$T/b" "$T/a/dir"
	echo hello >"$T/a/f"
	export IOBS_CACHE=$T/cache SCRIBE_LOG=$T/log
	pipeline A "$T/a"
	pipeline B "$T/b"
	mv "$T/a/f" "$T/b/g"
	mv "$T/a/dir" "$T/b/dir2"
	mv "$T/b/g" "$T/outside"
	wait_for 5 grep -qF "directory '$T/a/dir' was MOVED to '$T/b/dir2'" "$T/log"
	wait_for 5 grep -qF "file '$T/b/g' was MOVED out of the watched tree" "$T/log"
	pipeline_stop A
	pipeline_stop B
	run -0 grep -F "was MOVED to" "$T/log"
	assert_line --partial " $T/b: file '$T/a/f' was MOVED to '$T/b/g'"
	assert_equal "${#lines[@]}" 2
	run -0 grep -c "watched tree" "$T/log"
	assert_output 1
	run -0 cache_keys "$T/cache"
	assert_output ""
}
