#!/usr/bin/env bats
# iobs-watch's usage errors: found in the arguments, before any
# backend is chosen, so run once (watch.bats runs on each backend).

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

@test "no path: usage, exit 2" {
	run -2 iobs-watch
	assert_output --partial "usage: iobs-watch"
}

@test "unknown option: usage, exit 2" {
	run -2 iobs-watch --frobnicate "$T/w"
	assert_output --partial "usage: iobs-watch"
}

@test "bad -e event name: exit 2, names it" {
	run -2 iobs-watch -e create,bogus "$T/w"
	assert_output --partial "-e create,bogus: bogus is not an event"
}

@test "-e takes event names only: oneshot, isdir, ignored, unmount refused" {
	local e
	for e in oneshot isdir ignored unmount mask_add dont_follow onlydir \
	    q_overflow create, ''; do
		run -2 iobs-watch -e "create,$e" "$T/w"
		assert_output --partial "is not an event"
	done
	run -2 iobs-watch -e oneshot "$T/w"
	assert_output --partial "-e oneshot: oneshot is not an event"
}

@test "bad --buffer size: exit 2" {
	run -2 iobs-watch --buffer 12Q "$T/w"
	assert_output --partial "--buffer 12Q"
	run -2 iobs-watch --buffer 1 "$T/w"
	assert_output --partial "too small"
}

@test "bad --rescan interval: exit 2, names the option" {
	run -2 iobs-watch --rescan=0 "$T/w"
	assert_output "iobs-watch: --rescan 0: too short (at least 0.01)"
	run -2 iobs-watch --rescan=1.x "$T/w"
	assert_output "iobs-watch: --rescan 1.x: not a number of seconds (try 2)"
}

@test "missing root: exit 1, names the path" {
	run -1 iobs-watch "$T/nope"
	assert_output "iobs-watch: $T/nope: No such file or directory"
}

@test "nested roots: exit 2, says which" {
	mkdir "$T/w/sub"
	run -2 iobs-watch "$T/w" "$T/w/sub"
	assert_output --partial "$T/w/sub: inside $T/w"
}
