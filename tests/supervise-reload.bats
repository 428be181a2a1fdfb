#!/usr/bin/env bats
# iobs-supervise: live reload of the config and of the plugins.

load supervise_helper

# A config with one watch on data and the cat plugin writing to OUT.
cat_conf() {
	conf "watch_config = yes
restart_delay = 0.2
[watches]
[[data]]
plugins = cat
cat_out = $1
${2:-}"
}

start_cat() {
	cat_conf "$T/out" "${1:-}"
	start_sup
	wait_ready "$T/data" cat
	read -r W P <<<"$(pids_of "$T/data" cat)"
}

# within_a_second COMMAND...: the edit is applied within a second.
within_a_second() {
	wait_for 1 "$@"
}

@test "sed -i (a new file renamed over): picked up within a second" {
	start_cat
	sed -i "s|^cat_out = .*|cat_out = $T/new|" "$T/rc"
	within_a_second grep -qs "options changed; sending WATCH_RECONFIG" "$T/log"
	wait_for 5 grep -qs $'\tWATCH_RECONFIG\t0\t'"$T/data\$" "$T/out"
}

@test "vim-style save (the old file kept as a backup, a new one written)" {
	start_cat
	cp "$T/rc" "$T/rc.new"
	sed -i "s|^cat_out = .*|cat_out = $T/new|" "$T/rc.new"
	mv "$T/rc" "$T/rc~"
	cat "$T/rc.new" >"$T/rc"
	within_a_second grep -qs "options changed" "$T/log"
}

@test "written in place: picked up within a second" {
	start_cat
	sed "s|^cat_out = .*|cat_out = $T/new|" "$T/rc" >"$T/rc.new"
	cat "$T/rc.new" >"$T/rc"
	within_a_second grep -qs "options changed" "$T/log"
}

@test "plugin options alone: no restart, lines move to the new file, none lost" {
	start_cat
	for i in $(seq 1 100); do : >"$T/data/a$i"; done
	sed -i "s|^cat_out = .*|cat_out = $T/new|" "$T/rc"
	# Files keep coming while the change is applied.
	n=0
	while [ ! -s "$T/new" ] && [ "$n" -lt 3000 ]; do
		n=$((n + 1))
		: >"$T/data/b$n"
	done
	for i in $(seq 1 100); do : >"$T/data/c$i"; done
	wait_for 5 grep -qs "/data/c100\$" "$T/new"
	assert_equal "$(pids_of "$T/data" cat)" "$W $P"
	# Every file once, in one file or the other.
	cat "$T/out" "$T/new" | awk -F'\t' '$2 == "CLOSE_WRITE,CLOSE" { print $4 }' |
	    sort >"$T/seen"
	run -0 uniq -d "$T/seen"
	assert_output ""
	assert_equal "$(wc -l <"$T/seen")" $((200 + n))
	# The old file ends at WATCH_RECONFIG; the new one has the rest.
	run -0 tail -1 "$T/out"
	assert_output --regexp $'\tWATCH_RECONFIG\t0\t'"$T/data\$"
	run -1 grep -c "/data/c" "$T/out"
	assert_output 0
	run -1 grep -c "/data/a" "$T/new"
	assert_output 0
	run -0 iobs-supervise -s "$STATE" cache get "options/cat$T/data"
	assert_output "--out=$T/new"
}

@test "a bad edit is logged and the running config stays" {
	start_cat
	printf '[watches]\n[[data]]\nplugins = cat\nfrob = 1\n' >>"$T/rc"
	within_a_second grep -qs "rc:12: \[\[data\]\]: watched already, at line 7; give that one the plugins (a mirror to several destinations: mirror_destination = DEST, DEST); keeping the running config" "$T/log"
	cat_conf "$T/out" "frob = 1"
	within_a_second grep -qs "rc:10: frob: unknown key; keeping the running config" "$T/log"
	assert_equal "$(pids_of "$T/data" cat)" "$W $P"
	run -0 status
	assert_line --regexp "^$T/data +cat +up +yes "
	touch "$T/data/still"
	wait_for 5 grep -qs "/data/still\$" "$T/out"
}

@test "a watch added starts; one removed stops, its consumer reads WATCH_DEAD" {
	mkdir "$T/data2"
	start_cat
	cat >>"$T/rc" <<-EOF
	[[data2]]
	plugins = cat
	cat_out = $T/out2
	EOF
	within_a_second eval "status | grep -qE '^$T/data2 +cat +up '"
	wait_ready "$T/data2" cat
	read -r w2 p2 <<<"$(pids_of "$T/data2" cat)"
	cat_conf "$T/out"
	wait_for 5 eval "! status | grep -q '$T/data2'"
	run -0 tail -1 "$T/out2"
	assert_output --regexp $'\tWATCH_DEAD\t0\t'"$T/data2\$"
	wait_for 5 none_alive "$w2" "$p2"
	assert_equal "$(pids_of "$T/data" cat)" "$W $P"
}

@test "a watch-level option changed restarts that watch" {
	skip_valgrind "ps shows valgrind's command line, not the watcher's"
	start_cat
	cat_conf "$T/out" "exclude = *.tmp"
	within_a_second grep -qs "config or plugin changed; restarting" "$T/log"
	wait_for 5 none_alive "$W" "$P"
	wait_ready "$T/data" cat
	read -r w p <<<"$(pids_of "$T/data" cat)"
	run -0 ps -o args= -p "$w"
	# No events key: every change, no pure read (iobs.conf(5)).
	assert_output "iobs-watch --ready-fd=3 --stats-fd=4 --ignore-fd=5 --exclude-glob=*.tmp --event=modify,attrib,close_write,moved_from,moved_to,create,delete,delete_self,move_self -- $T/data"
	assert_equal "$(count_lines "$T/out" $'\tWATCH_INIT\t')" 2
}

@test "a plugin added to the list starts; the others keep running" {
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-cat2"
	start_cat
	sed -i "s|^plugins = cat\$|plugins = cat, cat2|" "$T/rc"
	echo "cat2_out = $T/out2" >>"$T/rc"
	wait_ready "$T/data" cat2
	assert_equal "$(pids_of "$T/data" cat)" "$W $P"
}

@test "SIGHUP reloads even without watch_config" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	sed -i "s|^cat_out = .*|cat_out = $T/new|" "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 5 grep -qs "WATCH_RECONFIG" "$T/out"
}

@test "watch_plugins: a new plugin executable restarts its pipelines" {
	cat_conf "$T/out"
	sed -i 's/^watch_config = yes/watch_plugins = yes/' "$T/rc"
	start_sup
	wait_ready "$T/data" cat
	read -r w p <<<"$(pids_of "$T/data" cat)"
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-cat.new"
	mv "$T/plugins/iobs-cat.new" "$T/plugins/iobs-cat"
	within_a_second grep -qs "config or plugin changed; restarting" "$T/log"
	wait_for 5 none_alive "$w" "$p"
	wait_ready "$T/data" cat
}
