#!/usr/bin/env bats
# iobs-mirror as root runs no remote shell nor rsync others could
# change: -e/--rsh, RSYNC_RSH and the rsync PATH finds are checked
# before anything runs.

load test_helper

setup() {
	[ "$(id -u)" = 0 ] || skip "the rule is root's"
	common_setup
	mkdir -p "$T/bin"
	# Never reached: a refusal comes before any connection.
	cat >"$T/bin/rsh" <<-EOF
	#!/bin/sh
	echo "\$@" >>"$T/ran"
	exit 255
	EOF
	chmod 755 "$T/bin/rsh"
}

@test "an --rsh program others can write: refused, exit 2, one line" {
	run -0 iobs-mirror --check -e "$T/bin/rsh -p 22" host:/dst
	chmod 777 "$T/bin/rsh"
	local line="iobs-mirror: $T/bin/rsh: owned by root, mode 0777, writable by group and others; chmod go-w it"
	run -2 iobs-mirror --check -e "$T/bin/rsh -p 22" host:/dst
	assert_output "$line"
	run -2 iobs-mirror -e "$T/bin/rsh -p 22" host:/dst </dev/null
	assert_output "$line"
	run -2 iobs-mirror --rsh="$T/bin/rsh" host:/dst </dev/null
	assert_output "$line"
	assert_not_exist "$T/ran"
}

@test "RSYNC_RSH: its program word is checked, also through PATH" {
	chmod 777 "$T/bin/rsh"
	RSYNC_RSH="$T/bin/rsh -l me" run -2 iobs-mirror host:/dst </dev/null
	assert_output "iobs-mirror: $T/bin/rsh: owned by root, mode 0777, writable by group and others; chmod go-w it"
	chmod 755 "$T/bin/rsh"
	chown nobody "$T/bin/rsh"
	PATH=$T/bin:$PATH RSYNC_RSH="rsh -l me" run -2 iobs-mirror host:/dst \
	    </dev/null
	assert_output "iobs-mirror: $T/bin/rsh: owned by nobody, mode 0755, not by root; chown root it"
	assert_not_exist "$T/ran"
}

@test "the rsync PATH finds is checked as well" {
	printf '#!/bin/sh\nexit 1\n' >"$T/bin/rsync"
	chmod 757 "$T/bin/rsync"
	PATH=$T/bin:$PATH run -2 iobs-mirror -e "$T/bin/rsh" host:/dst </dev/null
	assert_output "iobs-mirror: $T/bin/rsync: owned by root, mode 0757, writable by others; chmod go-w it"
}
