#!/usr/bin/env bats
# iobs-mirror and what is more than data: extended attributes
# (--xattrs), POSIX ACLs (--acls), file capabilities, and the types
# that are not plain files: sockets, FIFOs, device nodes.

load mirror_helper

setup() {
	mirror_setup
	command -v setfattr >/dev/null || skip "no setfattr (attr)"
	touch "$T/probe"
	setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null ||
	    skip "no user xattrs on $T"
}
teardown() { common_teardown; }

# xattrs PATH: its attributes but the ACL ones, name=value, sorted.
xattrs() {
	getfattr -h -d -m - --absolute-names "$1" 2>/dev/null |
	    grep -v -e '^#' -e '^$' -e '^system\.posix_acl' | sort
}

# acl PATH: its ACL entries, without the header.
acl() {
	getfacl -p -c "$1" 2>/dev/null
}

# socket PATH: a Unix socket bound at PATH (perl is always there).
socket_at() {
	perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0) or die "$!";
	    bind(S, pack_sockaddr_un($ARGV[0])) or die "$!"' "$1"
}

@test "--xattrs copies extended attributes at reconcile, and removes those the source lacks" {
	mkdir "$SRC/d"
	echo f >"$SRC/f"
	setfattr -n user.colour -v blue "$SRC/f"
	setfattr -n user.dir -v yes "$SRC/d"
	echo g >"$SRC/g"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$T/plain" <"$T/s"
	assert_equal "$(xattrs "$T/plain/f")" ""
	run -0 iobs-mirror --xattrs "$DST" <"$T/s"
	assert_equal "$(xattrs "$DST/f")" 'user.colour="blue"'
	assert_equal "$(xattrs "$DST/d")" 'user.dir="yes"'
	setfattr -n user.stale -v 1 "$DST/g"
	setfattr -x user.colour "$SRC/f"
	setfattr -n user.new -v 2 "$SRC/f"
	run -0 iobs-mirror -X "$DST" <"$T/s"
	assert_equal "$(xattrs "$DST/f")" 'user.new="2"'
	assert_equal "$(xattrs "$DST/g")" ""
}

@test "--xattrs live: an ATTRIB record sets and removes attributes" {
	echo f >"$SRC/f"
	mkdir "$SRC/d"
	start_mirror --xattrs
	setfattr -n user.k -v v1 "$SRC/f"
	setfattr -n user.k -v dv "$SRC/d"
	wait_for 10 eval '[ "$(xattrs "$DST/f")" = '"'"'user.k="v1"'"'"' ]'
	wait_for 10 eval '[ "$(xattrs "$DST/d")" = '"'"'user.k="dv"'"'"' ]'
	setfattr -x user.k "$SRC/f"
	wait_for 10 eval '[ -z "$(xattrs "$DST/f")" ]'
	echo new >"$SRC/new"
	setfattr -n user.k -v n "$SRC/new"
	wait_for 10 eval '[ "$(xattrs "$DST/new")" = '"'"'user.k="n"'"'"' ]'
}

@test "--acls copies access and default ACLs, at reconcile and live" {
	command -v setfacl >/dev/null || skip "no setfacl (acl)"
	setfacl -m u:nobody:r "$T/probe" 2>/dev/null || skip "no ACLs on $T"
	mkdir "$SRC/d"
	echo f >"$SRC/f"
	setfacl -m u:nobody:rw "$SRC/f"
	setfacl -d -m u:nobody:rx "$SRC/d"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$T/plain" <"$T/s"
	refute [ "$(acl "$T/plain/f")" = "$(acl "$SRC/f")" ]
	run -0 iobs-mirror --acls "$DST" <"$T/s"
	assert_equal "$(acl "$DST/f")" "$(acl "$SRC/f")"
	assert_equal "$(acl "$DST/d")" "$(acl "$SRC/d")"
	run -0 treecmp "$SRC" "$DST"
	rm -rf "$DST"
	start_mirror -A
	setfacl -m u:nobody:r "$SRC/f"
	wait_for 10 eval '[ "$(acl "$DST/f")" = "$(acl "$SRC/f")" ]'
	setfacl -b "$SRC/f"
	wait_for 10 eval '[ "$(acl "$DST/f")" = "$(acl "$SRC/f")" ]'
	wait_converged 10
}

@test "a file capability goes only with the owner: never with --no-owner" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v setcap >/dev/null || skip "no setcap (libcap2-bin)"
	printf '#!/bin/sh\n' >"$SRC/ping"
	chown nobody:nogroup "$SRC/ping"
	chmod 755 "$SRC/ping"
	setcap cap_net_raw+ep "$SRC/ping" 2>/dev/null || skip "no capabilities on $T"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --xattrs "$DST" <"$T/s"
	run -0 getcap "$DST/ping"
	assert_output --partial "cap_net_raw"
	run -0 iobs-mirror --xattrs --no-owner "$T/plain" <"$T/s"
	assert_equal "$(getfattr -h -d -m security "$T/plain/ping" 2>/dev/null)" ""
	# One there already goes too.
	setcap cap_net_raw+ep "$T/plain/ping"
	run -0 iobs-mirror --xattrs --no-owner "$T/plain" <"$T/s"
	assert_equal "$(getfattr -h -d -m security "$T/plain/ping" 2>/dev/null)" ""
}

@test "a socket is not copied, and what DEST had under its name goes: reconcile and live" {
	echo f >"$SRC/f"
	socket_at "$SRC/sock"
	mkdir "$DST"
	echo old >"$DST/sock"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	assert [ ! -e "$DST/sock" ]
	assert [ -e "$DST/f" ]
	# Live, from a tree the watcher and treecmp can start on.
	rm "$SRC/sock"
	start_mirror
	rm "$SRC/f"
	socket_at "$SRC/f"
	wait_for 10 test ! -e "$DST/f"
	echo g >"$SRC/g"
	wait_for 10 test -e "$DST/g"
	assert [ ! -e "$DST/f" ]
}

@test "a FIFO is made as a FIFO; a device node only by root" {
	mkfifo "$SRC/fifo"
	echo f >"$SRC/f"
	stream "$T/s" "$SRC"
	if [ "$(id -u)" = 0 ]; then
		mknod "$SRC/null" c 1 3
		run -0 iobs-mirror "$DST" <"$T/s"
		assert [ -c "$DST/null" ]
		assert_equal "$(stat -c %t,%T "$DST/null")" "1,3"
		command -v setpriv >/dev/null || return 0
		chown -R nobody "$T"
		chmod 755 "$T"
		run -0 --separate-stderr setpriv --reuid=nobody \
		    --regid=nogroup --clear-groups iobs-mirror "$T/nb" <"$T/s"
		assert_equal "$stderr" ""
		assert [ -p "$T/nb/fifo" ]
		assert [ ! -e "$T/nb/null" ]
	else
		run -0 iobs-mirror "$DST" <"$T/s"
	fi
	assert [ -p "$DST/fifo" ]
}
