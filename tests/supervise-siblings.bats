#!/usr/bin/env bats
# Nothing of a sibling's: no record and no log line is caused by the
# reads of a plugin of the same watch, its own included: a mirror's
# first pass and copies, an exec's commands, a plugin that reads what
# it is told of. By default (no events key) the watchers report no
# pure read on any backend; with events = all, fanotify leaves out
# the pipelines' own process groups.

load supervise_helper

# backends: those this machine runs (fanotify needs root).
backends() {
	if [ "$(id -u)" -eq 0 ]; then echo fanotify inotify poll
	else echo inotify poll; fi
}

# scribe_lines: the log's lines without their time stamps.
scribe_lines() {
	sed 's/^[0-9-]* [0-9:.]* //' "$T/scribe.log"
}

@test "scribe + mirror + exec: the log holds the real changes and none of the siblings' reads, on every backend" {
	local b
	for b in $(backends); do
		rm -rf "$T/data" "$T/dst" "$T/scribe.log" "$T/ran" "$STATE"
		mkdir -p "$T/data/d"
		for i in $(seq 1 20); do echo "$i" >"$T/data/d/f$i"; done
		cat >"$T/rc" <<-EOF
		[global]
		state_dir = $STATE
		[watches]
		[[data]]
		plugins = scribe, mirror, exec
		backend = $b
		interval = 0.2
		scribe_log = $T/scribe.log
		mirror_destination = $T/dst
		exec_command = sh -c 'cat -- "\$1" >/dev/null 2>&1; echo "\$1" >>"\$0"' $T/ran {path}
		EOF
		start_sup
		wait_ready "$T/data" scribe
		wait_ready "$T/data" mirror
		wait_ready "$T/data" exec
		# The mirror's first pass read every file.
		wait_for 20 diff -r "$T/data" "$T/dst"
		echo new >"$T/data/new"
		echo more >>"$T/data/d/f1"
		rm "$T/data/d/f2"
		# Every run of the exec (it reads each path) is over, and the
		# mirror has copied them all (reading them): then a marker.
		wait_for 20 grep -qs "^$T/data/d/f2\$" "$T/ran"
		wait_for 20 diff -r "$T/data" "$T/dst"
		: >"$T/data/zz"
		wait_for 20 grep -qs "'zz' was" "$T/scribe.log"
		wait_for 20 grep -qs "^$T/data/zz\$" "$T/ran"
		stop_pid "$SUP_PID"
		SUP_PID=
		run -1 grep -E "was (OPENED|ACCESSED|CLOSED without writing)" "$T/scribe.log"
		run -0 scribe_lines
		# On fanotify, who by: the shell of this test, or its pid.
		assert_line --regexp "^$T/data: file 'new' was CREATED( by .*)?\$"
		assert_line --regexp "^$T/data: file 'd/f1' was MODIFIED( by .*)?\$"
		assert_line --regexp "^$T/data: file 'd/f2' was DELETED( by .*)?\$"
		# No line for a file the storm did not touch: all were read.
		refute_output --partial "'d/f3'"
	done
}

@test "fanotify, events = all: a plugin is told nothing of its own reads, nor of its siblings'" {
	[ "$(id -u)" -eq 0 ] || skip "fanotify needs root"
	# iobs-reader --out=FILE: appends its stream to FILE, and reads
	# every file a record names, itself, as a plugin that looks at
	# what changed does. (Not by a cat: a process gone before its
	# events are read cannot be told apart; see iobs-watch(1).)
	cat >"$T/plugins/iobs-reader" <<-'EOF'
	#!/bin/sh
	[ "${1:-}" = --check ] && exit 0
	for a; do case $a in --out=*) out=${a#--out=} ;; esac; done
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$out"
		p=${line##*	}
		if [ -f "$p" ]; then
			while IFS= read -r _; do :; done <"$p"
		fi
	done
	EOF
	chmod +x "$T/plugins/iobs-reader"
	cp "$T/plugins/iobs-reader" "$T/plugins/iobs-reader2"
	for i in 1 2 3; do echo "$i" >"$T/data/f$i"; done
	conf "[watches]
[[data]]
plugins = reader, reader2
backend = fanotify
events = all
reader_out = $T/out1
reader2_out = $T/out2"
	start_sup
	wait_ready "$T/data" reader
	wait_ready "$T/data" reader2
	for i in 1 2 3; do echo more >>"$T/data/f$i"; done
	: >"$T/data/zz"
	wait_for 10 grep -qs "/zz\$" "$T/out1"
	wait_for 10 grep -qs "/zz\$" "$T/out2"
	# The writes are there; no read: the writers read nothing, and
	# each reader's cats are its own or its sibling's.
	run -0 grep -c $'\tMODIFY\t' "$T/out1"
	assert_output 3
	run -1 grep -E $'\t(ACCESS|CLOSE_NOWRITE)' "$T/out1" "$T/out2"
}
