#!/usr/bin/env bats
# iobs-exec as root runs no program others could change: the command
# given by a path, found in PATH, or named by a placeholder at run time.

load test_helper

setup() {
	[ "$(id -u)" = 0 ] || skip "the rule is root's"
	common_setup
	mkdir -p "$T/w" "$T/bin"
	cat >"$T/bin/mark" <<-EOF
	#!/bin/sh
	echo "\$0" >>"$T/ran"
	EOF
	chmod 755 "$T/bin/mark"
}

# feed PATH...: a stream with a root $T/w and a CLOSE_WRITE of each
# PATH, for iobs-exec's standard input.
feed() {
	local p
	printf '# iobs-stream 1\n1.0\tWATCH_INIT\t0\t%s\n' "$T/w"
	for p; do printf '1.1\tCLOSE_WRITE\t0\t%s\n' "$p"; done
}

@test "a command others can write: refused at start and at --check, exit 2" {
	run -0 iobs-exec --check -- "$T/bin/mark" {path}
	chmod 777 "$T/bin/mark"
	local line="iobs-exec: $T/bin/mark: owned by root, mode 0777, writable by group and others; chmod go-w it"
	run -2 iobs-exec --check -- "$T/bin/mark" {path}
	assert_output "$line"
	run -2 iobs-exec -- "$T/bin/mark" {path} </dev/null
	assert_output "$line"
	run -2 iobs-exec --command "$T/bin/mark {path}" </dev/null
	assert_output "$line"
	chmod 755 "$T/bin/mark"
	chown nobody "$T/bin/mark"
	run -2 iobs-exec -- "$T/bin/mark" </dev/null
	assert_output "iobs-exec: $T/bin/mark: owned by nobody, mode 0755, not by root; chown root it"
	assert_not_exist "$T/ran"
}

@test "a command found in PATH: the file found is checked" {
	chmod 775 "$T/bin"
	PATH=$T/bin:$PATH run -2 iobs-exec -- mark </dev/null
	assert_output "iobs-exec: $T/bin: owned by root, mode 0775, writable by group; chmod go-w it"
	chmod 755 "$T/bin"
	feed "$T/w/a" >"$T/stream"
	PATH=$T/bin:$PATH run -0 iobs-exec -- mark <"$T/stream"
	assert_file_exist "$T/ran"
}

@test "a program a placeholder names is checked as it runs: not run, said" {
	cp "$T/bin/mark" "$T/w/good"
	cp "$T/bin/mark" "$T/w/bad"
	chmod 777 "$T/w/bad"
	feed "$T/w/bad" "$T/w/good" >"$T/stream"
	# The runs go on; one refused was never run: 126, as sh exits.
	run -126 --separate-stderr iobs-exec -- {path} <"$T/stream"
	run -0 cat "$T/ran"
	assert_output "$T/w/good"
	assert_equal "$(printf '%s\n' "$stderr" | grep -c .)" 2
	[[ $stderr == *"iobs-exec: $T/w/bad: owned by root, mode 0777, writable by group and others; chmod go-w it"* ]] ||
	    fail "no refusal in: $stderr"
	[[ $stderr == *"{path}: exited 126; $T/w/bad"* ]] ||
	    fail "no failed run in: $stderr"
}

@test "--insecure-files runs it anyway" {
	chmod 777 "$T/bin/mark"
	feed "$T/w/a" >"$T/stream"
	run -0 iobs-exec --insecure-files -- "$T/bin/mark" <"$T/stream"
	assert_file_exist "$T/ran"
}

@test "another user than root runs what it likes" {
	command -v setpriv >/dev/null || skip "no setpriv"
	chmod 1777 "$T"
	chmod 777 "$T/bin/mark"
	feed "$T/w/a" >"$T/stream"
	run -0 setpriv --reuid=65534 --regid=65534 --clear-groups \
	    "$IOBS_BIN/iobs-exec" -- "$T/bin/mark" <"$T/stream"
	assert_file_exist "$T/ran"
}
