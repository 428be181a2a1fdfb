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
		# The usage lines: --help goes on with the options.
		diff -u <("$t" --help | grep -E '^(usage:|       )') \
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

# man_options PAGE: every option its man page lists, one a line, as
# -x or --long (the list from its first .It Fl to the next section).
man_options() {
	awk '/^\.It Fl/ { on = 1
		for (i = 2; i < NF; i++) if ($i == "Fl") print "-" $(i + 1)
		next }
	    on && /^\.Sh/ { exit }' "$BATS_TEST_DIRNAME/../man/$1"
}

@test "--help: the usage, then every option of the man page, a line each, then the page" {
	local t page o
	for t in $TOOLS; do
		page=$(cd "$BATS_TEST_DIRNAME/../man" && ls "$t".[18])
		run --separate-stderr -0 "$t" --help
		assert_line --index -1 "see $t(${page##*.})"
		# Options, one a line, indented.
		while read -r o; do
			printf '%s\n' "$output" | grep -qE -- "^  (.*[ ,])?$o([ ,=[]|\$)" ||
			    fail "$t --help: no line for $o, which $page lists"
		done < <(man_options "$page")
	done
}

@test "usage errors: prog: thing: what is wrong, then the usage; never getopt's own words" {
	local t
	for t in $TOOLS; do
		run --separate-stderr -2 "$t" -Z
		assert_equal "${stderr_lines[0]}" "$t: -Z: unknown option"
		run --separate-stderr -2 "$t" --bogus
		assert_equal "${stderr_lines[0]}" "$t: --bogus: unknown option"
		refute_output --partial "unrecognized"
		refute_output --partial "invalid option"
	done
	run --separate-stderr -2 iobs-watch -b
	assert_equal "${stderr_lines[0]}" "iobs-watch: -b: missing argument"
	run --separate-stderr -2 iobs-watch --json=yes data
	assert_equal "${stderr_lines[0]}" "iobs-watch: --json=yes: takes no argument"
	run --separate-stderr -2 iobs-supervise -c
	assert_equal "${stderr_lines[0]}" "iobs-supervise: -c: missing argument"
	run --separate-stderr -2 iobs-supervise -c rc frob
	assert_equal "${stderr_lines[0]}" "iobs-supervise: frob: unknown command (status, restart or cache)"
	run --separate-stderr -2 iobs-supervise -c rc restart
	assert_equal "${stderr_lines[0]}" "iobs-supervise: restart: which watch?"
	run --separate-stderr -2 iobs-supervise -c rc status --frob
	assert_equal "${stderr_lines[0]}" "iobs-supervise: status: --frob: unknown argument"
	# No path is a usage error that says so.
	run --separate-stderr -2 iobs-watch
	assert_equal "${stderr_lines[0]}" "iobs-watch: no path to watch"
	assert_equal "${stderr_lines[1]%% *}" "usage:"
}
