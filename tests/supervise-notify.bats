#!/usr/bin/env bats
# iobs-supervise and systemd: the sd_notify protocol, heard on a
# NOTIFY_SOCKET of the test's own (tests/notifylisten.c).

load supervise_helper

# listen: notifylisten on $T/notify, datagrams into $T/notes; at
# READY=1 it records the supervisor's status first.
listen() {
	notifylisten "$T/notify" "$T/notes" \
	    iobs-supervise -s "$STATE" status 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -S "$T/notify"
}

# syncing KEY: the mirror's progress key says it syncs.
syncing() {
	iobs-supervise -s "$STATE" cache get "$1" 2>/dev/null |
	    grep -qx "phase=syncing"
}

start_notified() {
	NOTIFY_SOCKET=$T/notify start_sup
}

# A tree whose watches take the watcher a while to set.
big_tree() {
	local i
	mkdir -p "$1"
	for i in $(seq 1 60); do
		mkdir -p "$1/d$i"/{a,b,c,d,e,f,g,h,i,j}/{k,l,m,n,o}
	done
}

@test "READY=1 only once every pipeline has written its WATCH_INIT" {
	big_tree "$T/big"
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out
[[big]]
plugins = cat, slow
cat_out = $T/bigout"
	listen
	start_notified
	wait_for 20 grep -qx "READY=1" "$T/notes"
	# What status said when READY=1 came: every pipeline up and ready.
	run -0 sed -n '/^WATCH /,/^READY=1$/p' "$T/notes"
	assert_equal "$(grep -cE ' up +yes ' <<<"$output")" 3
	refute_output --regexp ' (starting|down) '
	grep -qx "STATUS=3 of 3 pipelines up, 0 failed, 0 waiting for their path" "$T/notes"
	# Once only, and nothing said READY before.
	assert_equal "$(grep -c '^READY=1$' "$T/notes")" 1
	# The plugins do not get the socket.
	run -1 grep -q NOTIFY_SOCKET "/proc/$(field_of "$T/data" cat 5 | cut -d, -f2)/environ"
}

@test "a failed plugin and a missing path do not hold READY=1 back" {
	printf '#!/bin/sh\n[ "$1" = --check ] && exit 0\necho bad >&2\nexit 2\n' \
	    >"$T/plugins/iobs-bad"
	chmod +x "$T/plugins/iobs-bad"
	conf "[watches]
[[data]]
plugins = bad, cat
[[later]]
plugins = cat"
	listen
	start_notified
	wait_for 10 grep -qx "READY=1" "$T/notes"
	wait_for 5 grep -qx "STATUS=1 of 3 pipelines up, 1 failed, 1 waiting for their path" "$T/notes"
}

@test "SIGHUP: RELOADING=1, then READY=1 again; SIGTERM: STOPPING=1" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	listen
	start_notified
	wait_for 10 grep -qx "READY=1" "$T/notes"
	kill -HUP "$SUP_PID"
	wait_for 10 eval '[ "$(grep -c "^READY=1$" "$T/notes")" -eq 2 ]'
	run -0 grep -E '^(READY|RELOADING)=1$' "$T/notes"
	assert_output $'READY=1\nRELOADING=1\nREADY=1'
	grep -qE '^MONOTONIC_USEC=[0-9]+$' "$T/notes"
	kill -TERM "$SUP_PID"
	wait "$SUP_PID"
	SUP_PID=
	grep -qx "STOPPING=1" "$T/notes"
}

@test "without NOTIFY_SOCKET, or with a bad one, it runs all the same" {
	conf "[watches]
[[data]]
plugins = cat"
	NOTIFY_SOCKET=relative/path start_sup
	wait_ready "$T/data" cat
	grep -q "NOTIFY_SOCKET=relative/path: not a socket's path" "$T/log"
}

@test "STATUS= says a mirror's long first sync and how far it is" {
	local d
	for d in $(seq 1 80); do
		mkdir -p "$T/data/d$d"
		(cd "$T/data/d$d" && seq 1 1000 | xargs touch)
	done
	# The real mirror, beside iobs-supervise: no plugin_dir.
	printf '[global]\nstate_dir = %s\n[watches]\n[[data]]\nplugins = mirror\nmirror_destination = %s\n' \
	    "$STATE" "$T/dst" >"$T/rc"
	listen
	start_notified
	# Held while it syncs, so that the supervisor's second comes:
	# 80,000 entries can take less than one.
	local pid=
	wait_for 30 syncing "progress/mirror$T/data"
	pid=$(pgrep -f "iobs-mirror.*$T/dst\$" | head -1)
	kill -STOP "$pid"
	wait_for 30 grep -qE "^STATUS=.*; $T/dst syncing, [0-9,]+ entries, [0-9.]+ [kMG]?B copied" "$T/notes"
	kill -CONT "$pid"
	# Then back to the counts alone.
	wait_for 30 eval 'grep "^STATUS=" "$T/notes" | tail -n 1 |
	    grep -qx "STATUS=1 of 1 pipelines up, 0 failed, 0 waiting for their path"'
}
