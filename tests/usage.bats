#!/usr/bin/env bats
# --help and --version, the same in every tool (common/usage.c).

load test_helper

TOOLS="iobs-watch iobs-scribe iobs-mirror iobs-supervise iobs-exec"

@test "--help: the usage on standard output, exit 0" {
	local t
	for t in $TOOLS; do
		run --separate-stderr -0 "$t" --help
		assert_line --index 0 --regexp "^usage: $t "
		assert_equal "$stderr" ""
	done
}

@test "--help says what a usage error says, on the other stream" {
	local t
	for t in $TOOLS; do
		run --separate-stderr -2 "$t" -Z
		# Only the usage lines: getopt's own names the program its way.
		diff -u <("$t" --help) \
		    <(printf '%s\n' "$stderr" | grep -E '^(usage:|       )')
	done
}

@test "--version: name and version, exit 0" {
	local t v
	v=$(sed -n 's/^VERSION = //p' "$BATS_TEST_DIRNAME/../Makefile")
	for t in $TOOLS; do
		run --separate-stderr -0 "$t" --version
		assert_output "$t $v"
	done
}

@test "--help after other arguments is an option like any other" {
	run -2 iobs-watch -q --help
	assert_output --partial "usage: iobs-watch"
}
