#!/usr/bin/env bats
# iobs-supervise: running pipelines, restarts, stopping, one instance.

load supervise_helper

two_plugins() {
	local extra=
	[ "$2" = crash ] && extra="crash_log = $T/starts"
	conf "restart_delay = $1
[watches]
[[data]]
plugins = cat, $2
cat_out = $T/out
$extra"
}

# stop_sup: SIGTERM, and the supervisor's exit status must be 0.
stop_sup() {
	local rc=0
	kill -TERM "$SUP_PID"
	wait "$SUP_PID" || rc=$?
	SUP_PID=
	assert_equal "$rc" 0
}

@test "each plugin's stream starts with WATCH_INIT; status shows it ready" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	touch "$T/data/a"
	wait_for 5 grep -qs $'\tCLOSE_WRITE,CLOSE\t0\t'"$T/data/a\$" "$T/out"
	run -0 head -3 "$T/out"
	assert_line -n 0 "# iobs-stream 1"
	assert_line -n 1 --regexp '^# backend [a-z]+$'
	assert_line -n 2 --regexp $'^[0-9.]+\tWATCH_INIT\t0\t'"$T/data\$"
	run -0 status
	assert_line -n 0 "iobs-supervise: pid $SUP_PID, config $T/rc"
	assert_line -n 1 --regexp '^WATCH +PLUGIN +STATE +READY +PIDS +SINCE +RESTARTS +EVENTS +LAST-EVENT +PROGRESS +LAST EXIT$'
	assert_line -n 2 --regexp "^$T/data +cat +up +yes +[0-9]+,[0-9]+ +[0-9T:-]+ +0 +[0-9]+ +[0-9T:-]+ +- +-\$"
}

@test "processes: one group per pipeline, roles shown by ps" {
	skip_valgrind "ps shows valgrind's command line, not the tools'"
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-cat2"
	two_plugins 1 cat2
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$T/data" cat2
	read -r w1 p1 <<<"$(pids_of "$T/data" cat)"
	read -r w2 p2 <<<"$(pids_of "$T/data" cat2)"
	assert_equal "$(ps -o pgid= -p "$p1" | tr -d ' ')" "$w1"
	assert_equal "$(ps -o pgid= -p "$p2" | tr -d ' ')" "$w2"
	assert_equal "$(ps -o pgid= -p "$w1" | tr -d ' ')" "$w1"
	run -0 ps -o args= -p "$SUP_PID"
	assert_output "iobs-supervise: supervising $T/rc"
	run -0 ps -o args= -p "$w1"
	assert_output "iobs-watch --ready-fd=3 --stats-fd=4 --ignore-fd=5 --event=modify,attrib,close_write,moved_from,moved_to,create,delete,delete_self,move_self -- $T/data"
}

# writer_files N: there are N files of iobs-writer's in $T/data.
writer_files() {
	[ "$(ls "$T/data" | grep -c '^by-writer')" = "$1" ]
}

# The watchers are told the groups of the other pipelines of their
# watch as they come and go, whichever starts first: what a plugin does
# to the tree is never news to another plugin of it, before or after
# either is restarted. Only the fanotify backend knows who did it.
@test "what one plugin does to its watch is not news to another, across restarts" {
	[ "$(id -u)" = 0 ] || skip "fanotify, which knows who made a change, needs root"
	# iobs-writer: makes a file in its watch at each start, and lives.
	cat >"$T/plugins/iobs-writer" <<-'EOF'
	#!/bin/sh
	[ "${1:-}" = --check ] && exit 0
	: > "$IOBS_WATCH/by-writer.$$"
	while IFS= read -r line; do :; done
	EOF
	chmod +x "$T/plugins/iobs-writer"
	for order in "cat, writer" "writer, cat"; do
		rm -f "$T/out" "$T/data"/by-writer.* "$T/data/marker"
		conf "restart_delay = 0.1
[watches]
[[data]]
plugins = $order
cat_out = $T/out"
		start_sup
		wait_ready "$T/data" cat
		wait_ready "$T/data" writer
		read -r w p <<<"$(pids_of "$T/data" writer)"
		wait_for 10 test -e "$T/data/by-writer.$p"
		kill "$p"
		wait_for 10 writer_files 2
		wait_ready "$T/data" writer
		touch "$T/data/marker"
		wait_for 10 grep -q "/marker\$" "$T/out"
		run grep -c by-writer "$T/out"
		assert_output 0
		# Not the backend's doing: cat's watcher sees other writers.
		run grep -c $'\tCREATE\t0\t'"$T/data/marker"'$' "$T/out"
		assert_output 1
		stop_sup
	done
}

@test "a plugin that never reads holds up no other plugin" {
	two_plugins 1 slow
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$T/data" slow
	# Far more than a pipe holds, for the slow plugin's watcher.
	for i in $(seq 1 1500); do : >"$T/data/f$i"; done
	wait_for 20 has_lines "$T/out" $'\tCLOSE_WRITE,CLOSE\t' 1500
	run -0 status
	assert_line --regexp "^$T/data +slow +up +yes "
}

@test "a crashing plugin is restarted with a fresh WATCH_INIT; the other is untouched" {
	two_plugins 1 crash
	start_sup
	wait_ready "$T/data" cat
	read -r w p <<<"$(pids_of "$T/data" cat)"
	wait_for 10 has_lines "$T/starts" . 3
	# Its stderr reaches the log with watch and plugin.
	assert grep -q "^iobs-supervise: $T/data crash: crashing on purpose\$" "$T/log"
	assert grep -qE "^iobs-supervise: $T/data crash: iobs-crash exited 3; restart [0-9]+ in [0-9.]+ s\$" "$T/log"
	assert_equal "$(pids_of "$T/data" cat)" "$w $p"
	assert_equal "$(count_lines "$T/out" WATCH_INIT)" 1
}

@test "kill -9 of a consumer: restarted, from a fresh WATCH_INIT" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	read -r w p <<<"$(pids_of "$T/data" cat)"
	kill -9 "$p"
	wait_for 10 has_lines "$T/out" $'\tWATCH_INIT\t' 2
	wait_ready "$T/data" cat
	assert grep -q "iobs-cat killed by signal 9 (SIGKILL); restart 1 in 1 s" "$T/log"
	run -0 field_of "$T/data" cat 7
	assert_output 1
	# Every member of the old pipeline is gone.
	wait_for 5 none_alive "$w" "$p"
	touch "$T/data/after"
	wait_for 5 grep -qs "/data/after\$" "$T/out"
}

@test "a crash-looping plugin backs off: 1, 2, 4 s" {
	skip_valgrind "restart intervals are measured to the half second"
	two_plugins 1 crash
	start_sup
	wait_for 5 has_lines "$T/starts" . 1
	# Starts at 0, 1, 3 and 7 s; without back-off there would be 8 by
	# then.
	wait_for 10 has_lines "$T/starts" . 4
	run -0 count_lines "$T/starts" .
	assert_output 4
	run -0 awk 'NR > 1 { printf "%.0f\n", $1 - prev } { prev = $1 }' "$T/starts"
	assert_output $'1\n2\n4'
}

@test "dying too often: failed, left down, back after a reload" {
	conf "restart_delay = 0.1
fail_limit = 3
fail_window = 60
[watches]
[[data]]
plugins = crash
crash_log = $T/starts"
	start_sup
	wait_for 10 eval 'status | grep -qE " crash +failed "'
	assert grep -q "failed 3 times in 60 s: left down until the next reload" "$T/log"
	assert_equal "$(count_lines "$T/starts" .)" 3
	kill -HUP "$SUP_PID"
	wait_for 10 has_lines "$T/starts" . 4
}

@test "a missing watch path is reported and watched once it appears" {
	conf "restart_delay = 0.2
[watches]
[[later]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_for 5 grep -qs "$T/later: No such file or directory; retrying until it is" "$T/log"
	run -0 status
	assert_line --regexp "^$T/later +cat +waiting "
	mkdir "$T/later"
	wait_ready "$T/later" cat
}

@test "SIGTERM: consumers read WATCH_DEAD, nothing is left, exit 0" {
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-cat2"
	conf "[watches]
[[data]]
plugins = cat, cat2
cat_out = $T/out
cat2_out = $T/out2"
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$T/data" cat2
	kids=$(descendants "$SUP_PID")
	[ -n "$kids" ]
	stop_sup
	run -0 tail -1 "$T/out"
	assert_output --regexp $'\tWATCH_DEAD\t0\t'"$T/data\$"
	run -0 tail -1 "$T/out2"
	assert_output --regexp $'\tWATCH_DEAD\t0\t'"$T/data\$"
	# shellcheck disable=SC2086
	none_alive $kids
	[ ! -e "$STATE/iobs-supervise.pid" ]
	run -3 status
	assert_output "iobs-supervise: not running"
}

@test "a plugin that ignores the end of its input is killed after stop_timeout" {
	conf "stop_timeout = 0.5
[watches]
[[data]]
plugins = slow"
	printf '#!/bin/sh\ntrap "" TERM\nwhile :; do sleep 1; done\n' >"$T/plugins/iobs-slow"
	start_sup
	wait_ready "$T/data" slow
	read -r w p <<<"$(pids_of "$T/data" slow)"
	stop_sup
	assert grep -q "still running 0.5 s after SIGTERM; killed" "$T/log"
	none_alive "$w" "$p"
}

@test "SIGKILL of the supervisor leaves no orphan; the next start works" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	kids=$(descendants "$SUP_PID")
	[ -n "$kids" ]
	kill -KILL "$SUP_PID"
	wait "$SUP_PID" || true
	# shellcheck disable=SC2086
	wait_for 5 none_alive $kids
	start_sup
	wait_ready "$T/data" cat
}

@test "a second instance on the same state dir is refused, exit 2" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	run -2 iobs-supervise -c "$T/rc"
	assert_output "iobs-supervise: $STATE: already running as pid $SUP_PID"
}

@test "the state dir is mode 0700, the cache is found through IOBS_CACHE" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	assert_equal "$(stat -c %a "$STATE")" 700
	assert_equal "$(stat -c %a "$STATE/cache")" 700
	run -0 iobs-supervise -s "$STATE" cache get "options/cat$T/data"
	assert_output "--out=$T/out"
	run -0 iobs-supervise -s "$STATE" cache get "watch$T/data"
	assert_output "plugins=cat
watch=--event=modify,attrib,close_write,moved_from,moved_to,create,delete,delete_self,move_self
cat=--out=$T/out"
}

@test "a watch's other plugins' reads of the tree are not reported to a plugin" {
	[ "$(id -u)" = 0 ] || skip "only the fanotify backend knows who reads"
	# iobs-reader: reads each file written, itself, as iobs-mirror does.
	cat >"$T/plugins/iobs-reader" <<-EOF
	#!/bin/sh
	while IFS='	' read -r t e c p; do
		case \$e in CLOSE_WRITE*)
			while IFS= read -r l; do :; done < "\$p"
			echo "\$p" >> "$T/read" ;;
		esac
	done
	EOF
	chmod +x "$T/plugins/iobs-reader"
	# cat first: its watcher starts after the reader all the same.
	# By name: auto would too, as root.
	conf "[watches]
[[data]]
plugins = cat, reader
backend = fanotify
events = all
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	wait_ready "$T/data" reader
	echo data > "$T/data/a"
	wait_for 10 grep -qs "^$T/data/a\$" "$T/read"
	touch "$T/data/.marker"
	wait_for 10 grep -qs "/.marker\$" "$T/out"
	# The writer's OPEN only; nothing of the reader's.
	run grep -c $'\tOPEN\t0\t'"$T/data/a\$" "$T/out"
	assert_output 1
	run grep -c $'\tCLOSE_NOWRITE,CLOSE\t0\t'"$T/data/a\$" "$T/out"
	assert_output 0
}

@test "backend and interval reach the watcher" {
	conf "[watches]
[[data]]
plugins = cat
backend = poll
interval = 0.2
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	run sed -n 2p "$T/out"
	assert_output "# backend poll"
	touch "$T/data/f"
	wait_for 5 grep -qs $'\tCREATE\t0\t'"$T/data/f\$" "$T/out"
}

@test "a state dir others can write, or not ours, is refused, exit 2" {
	conf "[watches]
[[data]]
plugins = cat"
	mkdir -m 777 "$STATE"
	run -2 iobs-supervise -c "$T/rc"
	assert_output "iobs-supervise: $STATE: writable by group or others (mode 777); refusing it as a state directory (chmod go-w it)"
	chmod 770 "$STATE"
	run -2 iobs-supervise -c "$T/rc"
	assert_output --partial "$STATE: writable by group or others (mode 770)"
	run -2 iobs-supervise -s "$STATE" status
	assert_output --partial "$STATE: writable by group or others (mode 770)"
	chmod 700 "$STATE"
	chown 65534 "$STATE"
	run -2 iobs-supervise -c "$T/rc"
	assert_output "iobs-supervise: $STATE: owned by uid 65534, not by uid 0; refusing it as a state directory (remove it, or give another with -s)"
	assert_not_exist "$STATE/iobs-supervise.pid"
	chown 0 "$STATE"
	mkdir -m 777 "$STATE/cache"
	run -2 iobs-supervise -s "$STATE" cache list
	assert_output --partial "$STATE/cache: writable by group or others"
	rmdir "$STATE/cache"
	mv "$STATE" "$T/real"
	ln -s "$T/real" "$STATE"
	run -2 iobs-supervise -c "$T/rc"
	assert_output --partial "$STATE: a symbolic link; refusing it"
}

@test "no XDG_RUNTIME_DIR: a /tmp/iobserver-UID another user made is refused" {
	command -v setpriv >/dev/null || skip "no setpriv"
	local uid=$((40000 + RANDOM % 20000)) dir
	dir=/tmp/iobserver-$uid
	[ ! -e "$dir" ] || skip "$dir is there already"
	# Made by root, as another user could have made it first.
	mkdir -m 1777 "$dir"
	run env -u XDG_RUNTIME_DIR setpriv --reuid="$uid" --regid="$uid" \
	    --clear-groups "$IOBS_BIN/iobs-supervise" status
	rmdir "$dir"
	assert_failure 2
	assert_output "iobs-supervise: $dir: owned by uid 0, not by uid $uid; refusing it as a state directory (remove it, or give another with -s)"
}
