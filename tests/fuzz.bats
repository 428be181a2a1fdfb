#!/usr/bin/env bats
# The fuzz targets of tests/fuzz/, replayed without libFuzzer over their
# seed corpus and every crash input kept in tests/fuzz/regress/: on the
# sanitizer build (make check-sanitize) this is CI's fuzz regression run.

load test_helper

FUZZ=$BATS_TEST_DIRNAME/fuzz

# replay NAME: runs fuzz-NAME over corpus/NAME and regress/NAME.
replay() {
	local files=() f
	for f in "$FUZZ/corpus/$1"/* "$FUZZ/regress/$1"/*; do
		[ -f "$f" ] && files+=("$f")
	done
	[ "${#files[@]}" -gt 0 ]
	run "fuzz-$1" "${files[@]}"
	assert_success
	assert_output ""
}

@test "fuzz replay driver: usage, exit 2" {
	run -2 fuzz-stream
	assert_output --partial "usage:"
	run -1 fuzz-stream "$T/missing"
	assert_output --partial "$T/missing"
}

@test "fuzz replay: stream codec" {
	replay stream
}

@test "fuzz replay: config parser" {
	replay config
}

@test "fuzz replay: scribe sentences" {
	replay scribe
}

@test "fuzz replay: iobs-exec placeholders and --command words" {
	replay exec
}

@test "fuzz replay: --format" {
	replay format
}

@test "fuzz replay: --fromfile" {
	replay fromfile
}

@test "fuzz replay: remote destination, rsh and rsync lines" {
	replay remote
}

@test "fuzz replay: a line of iobs-watch --ignore-fd" {
	replay ignore
}

@test "fuzz replay: gitignore patterns of --exclude-from and --gitignore" {
	replay gitignore
}
