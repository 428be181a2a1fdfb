#!/usr/bin/env bats
# iobs-supervise running the real iobs-scribe and iobs-mirror: a
# changed scribe_log or mirror_destination reaches the running plugin
# through the cache and WATCH_RECONFIG, and a killed plugin or watcher
# is started again; a restarted mirror is exact again.

load supervise_helper

setup() {
	common_setup
	mkdir -p "$T/data"
	STATE=$T/state
}

# scribe_conf LOG: one watch on data with the scribe logging to LOG,
# in UTC (--utc=yes). No plugin_dir: iobs-supervise finds iobs-scribe
# beside itself.
scribe_conf() {
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $STATE
	watch_config = yes
	restart_delay = 0.2
	[watches]
	[[data]]
	plugins = scribe
	scribe_log = $1
	scribe_utc = yes
	EOF
}

start_scribe() {
	scribe_conf "$T/old.log"
	start_sup
	wait_ready "$T/data" scribe
	wait_for 10 grep -qs "$T/data: WATCH STARTED\$" "$T/old.log"
	read -r W P <<<"$(pids_of "$T/data" scribe)"
}

# numbers FILE: the N of each file fN created, as the scribe logged it
# (and, on fanotify, who by).
numbers() {
	sed -n "s|.*$T/data: file 'f\([0-9]*\)' was CREATED\( by .*\)\{0,1\}\$|\1|p" "$1"
}

# logged FILE NAME: the creation of NAME is in FILE.
logged() {
	grep -qsF "$T/data: file '$2' was CREATED" "$1"
}

@test "e2e: scribe_log edited: the lines move to the new log, none lost or doubled, no restart" {
	start_scribe
	n=0
	while [ "$n" -lt 50 ]; do n=$((n + 1)); : >"$T/data/f$n"; done
	sed -i "s|^scribe_log = .*|scribe_log = $T/new.log|" "$T/rc"
	# The writer goes on while the change is applied; the wait is
	# bounded by the loop, the pause only spaces the files out.
	i=0
	while [ ! -s "$T/new.log" ] && [ "$i" -lt $((1000 * SLOW)) ]; do
		i=$((i + 1)) n=$((n + 1))
		: >"$T/data/f$n"
		sleep 0.01
	done
	[ -s "$T/new.log" ]
	for i in $(seq 1 50); do n=$((n + 1)); : >"$T/data/f$n"; done
	wait_for 10 logged "$T/new.log" "f$n"
	assert_equal "$(pids_of "$T/data" scribe)" "$W $P"
	grep -q "options changed; sending WATCH_RECONFIG" "$T/log"
	# Each number exactly once, across the two logs, and the old log
	# holds the first ones, the new log the rest.
	numbers "$T/old.log" >"$T/old.n"
	numbers "$T/new.log" >"$T/new.n"
	seq 1 "$n" | diff -u - <(cat "$T/old.n" "$T/new.n")
	[ -s "$T/old.n" ]
	[ -s "$T/new.n" ]
	run -0 head -1 "$T/new.log"
	assert_output --regexp "^[0-9-]+ [0-9:.]+ $T/data: WATCH RECONFIGURED; log reopened\$"
	run -0 iobs-supervise -s "$STATE" cache get "options/scribe$T/data"
	assert_output $'--log='"$T/new.log"$'\n--utc=yes'
	# Nothing went wrong on the way.
	run -1 grep -c "iobs-scribe:" "$T/log"
}

@test "e2e: kill -9 of the scribe: restarted, logging resumes after a fresh WATCH STARTED" {
	start_scribe
	: >"$T/data/f1"
	wait_for 10 logged "$T/old.log" f1
	kill -KILL "$P"
	wait_for 10 grep -qs "iobs-scribe killed by signal 9 (SIGKILL); restart 1" "$T/log"
	wait_for 10 eval '[ "$(field_of "$T/data" scribe 4)" = yes ] &&
	    [ "$(pids_of "$T/data" scribe)" != "$W $P" ]'
	wait_for 10 has_lines "$T/old.log" "$T/data: WATCH STARTED\$" 2
	: >"$T/data/f2"
	wait_for 10 logged "$T/old.log" f2
	run -0 numbers "$T/old.log"
	assert_output $'1\n2'
	# f2 comes after the second WATCH STARTED.
	run -0 awk '/WATCH STARTED$/ { s++ } /f2. was CREATED( by .*)?$/ { print s }' "$T/old.log"
	assert_output 2
	run -0 field_of "$T/data" scribe 7
	assert_output 1
}

@test "e2e: a restarted scribe starts with the options of the last edit" {
	start_scribe
	sed -i "s|^scribe_log = .*|scribe_log = $T/new.log|" "$T/rc"
	wait_for 10 grep -qs "WATCH RECONFIGURED" "$T/new.log"
	kill -KILL "$P"
	wait_for 10 has_lines "$T/new.log" "$T/data: WATCH STARTED\$" 1
	: >"$T/data/f1"
	wait_for 10 logged "$T/new.log" f1
	run -0 grep -c "WATCH STARTED" "$T/new.log"
	assert_output 1
	run -0 grep -c "WATCH STARTED" "$T/old.log"
	assert_output 1
}

# mirror_conf DEST [PLUGIN]: one watch on data mirrored to DEST by
# PLUGIN (mirror, or replica, iObserver's name), with its
# PLUGIN_destination key.
mirror_conf() {
	local pl=${2:-mirror}
	cat >"$T/rc" <<-EOF2
	[global]
	state_dir = $STATE
	watch_config = yes
	restart_delay = 0.2
	[watches]
	[[data]]
	plugins = $pl
	${pl}_destination = $1
	EOF2
}

# mirrored DEST: DEST is an exact copy of data.
mirrored() {
	treecmp -q "$T/data" "$1"
}

wait_mirrored() {
	if ! wait_for 10 mirrored "$1"; then
		treecmp "$T/data" "$1" | head -20 >&2
		cat "$T/log" >&2
		return 1
	fi
}

# populate: a small tree in data.
populate() {
	mkdir -p "$T/data/d/e"
	for i in 1 2 3 4 5; do
		echo "$i" >"$T/data/f$i"
		echo "$i" >"$T/data/d/e/g$i"
	done
	ln -s f1 "$T/data/link"
}

# start_mirror_sup DEST [PLUGIN]: the supervisor running the real
# mirror to DEST, which has caught up; W and P are its pids.
start_mirror_sup() {
	populate
	mirror_conf "$@"
	start_sup
	wait_ready "$T/data" mirror
	wait_mirrored "$1"
	read -r W P <<<"$(pids_of "$T/data" mirror)"
}

# change_tree N: changes of every kind in data: a new file, one
# rewritten, one deleted, a directory renamed, a mode changed.
change_tree() {
	echo "new $1" >"$T/data/new$1"
	echo "again $1" >>"$T/data/f2"
	rm -f "$T/data/f$((2 + $1))"
	mv "$T/data/d" "$T/data/d$1" 2>/dev/null ||
	    mv "$T/data/d$(($1 - 1))" "$T/data/d$1"
	chmod 600 "$T/data/f1"
}

# only_members: the supervisor's descendants are exactly the members
# of the running pipeline, nothing stray.
only_members() {
	[ "$(descendants "$SUP_PID" | sort -n | tr '\n' ' ')" = \
	    "$(printf '%s\n' $(pids_of "$T/data" mirror) | sort -n | tr '\n' ' ')" ]
}

# restarted_after_kill WHAT: the pipeline is up again with new pids,
# after one logged restart of WHAT killed by SIGKILL.
restarted_after_kill() {
	wait_for 10 grep -qs "$1 killed by signal 9 (SIGKILL); restart 1" "$T/log" ||
	    { cat "$T/log" >&2; return 1; }
	wait_for 10 eval '[ "$(field_of "$T/data" mirror 4)" = yes ] &&
	    [ "$(pids_of "$T/data" mirror)" != "$W $P" ]'
	run -0 field_of "$T/data" mirror 7
	assert_output 1
}

@test "e2e: kill -9 of the mirror: restarted, the mirror exact again, changes made while down included" {
	start_mirror_sup "$T/m"
	kill -KILL "$P"
	change_tree 1
	restarted_after_kill iobs-mirror
	wait_mirrored "$T/m"
	change_tree 2
	wait_mirrored "$T/m"
	wait_for 10 only_members
	none_alive "$W" "$P"
}

@test "e2e: kill -9 of the mirror's watcher: restarted, the mirror exact again" {
	start_mirror_sup "$T/m"
	kill -KILL "$W"
	change_tree 1
	restarted_after_kill iobs-watch
	wait_mirrored "$T/m"
	change_tree 2
	wait_mirrored "$T/m"
	wait_for 10 only_members
	none_alive "$W" "$P"
}

@test "e2e: mirror_destination edited: the new one becomes an exact mirror and is followed, no restart" {
	start_mirror_sup "$T/m"
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/m2|" "$T/rc"
	wait_for 10 grep -qs "options changed; sending WATCH_RECONFIG" "$T/log"
	wait_mirrored "$T/m2"
	change_tree 1
	wait_mirrored "$T/m2"
	assert_equal "$(pids_of "$T/data" mirror)" "$W $P"
	run -0 iobs-supervise -s "$STATE" cache get "options/mirror$T/data"
	assert_output "--destination=$T/m2"
	# The old one stays as it was; nothing went wrong on the way.
	[ ! -e "$T/m/new1" ]
	run -1 grep -c "iobs-mirror:" "$T/log"
}

@test "e2e: replica_destination, iObserver's name, works the same" {
	start_mirror_sup "$T/m" replica
	change_tree 1
	wait_mirrored "$T/m"
	sed -i "s|^replica_destination = .*|replica_destination = $T/m2|" "$T/rc"
	wait_mirrored "$T/m2"
	change_tree 2
	wait_mirrored "$T/m2"
	assert_equal "$(pids_of "$T/data" mirror)" "$W $P"
	kill -KILL "$P"
	change_tree 3
	restarted_after_kill iobs-mirror
	wait_mirrored "$T/m2"
	run -1 grep -c "iobs-mirror:" "$T/log"
}

@test "e2e: status shows a large initial sync as syncing with its progress, then up" {
	local d seen=
	for d in $(seq 1 40); do
		mkdir "$T/data/d$d"
		(cd "$T/data/d$d" && seq 1 1000 | xargs touch)
	done
	mirror_conf "$T/dst"
	start_sup
	# status, and STATUS= for systemd, say the phase while it lasts.
	for _ in $(seq 1 $((500 * SLOW))); do
		run -0 iobs-supervise -c "$T/rc" status --json
		if jq -e '.pipelines[0].phase == "syncing"' <<<"$output" \
		    >/dev/null; then
			seen=$output
			run -0 iobs-supervise -c "$T/rc" status
			break
		fi
		sleep 0.01
	done
	[ -n "$seen" ]
	assert_line --regexp "^$T/data +mirror +syncing .* [0-9,]+ entries, [0-9.]+ [kMG]?B copied"
	jq -e '.pipelines[0].pass_entries >= 0 and .pipelines[0].pass_since > 0' \
	    <<<"$seen"
	wait_mirrored "$T/dst"
	wait_for 10 eval 'iobs-supervise -c "$T/rc" status --json |
	    jq -e ".pipelines[0].phase == \"up\"" >/dev/null'
	run -0 iobs-supervise -c "$T/rc" status
	assert_line --regexp "^$T/data +mirror +up .* - +"
}

@test "e2e: a watch's exclude reaches the mirror's first pass and its records; mirror_exclude = a, b is two globs" {
	mkdir -p "$T/data/.git/objects" "$T/data/sub/build"
	echo k >"$T/data/keep"
	echo t >"$T/data/junk.tmp"
	echo g >"$T/data/.git/objects/x"
	echo b >"$T/data/sub/build/out"
	echo o >"$T/data/sub/old.bak"
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $STATE
	[watches]
	[[data]]
	plugins = mirror
	exclude = *.tmp, .git
	mirror_destination = $T/dst
	mirror_exclude = build, *.bak
	EOF
	start_sup
	wait_ready "$T/data" mirror
	wait_for 10 test -e "$T/dst/keep"
	# Then live: the excluded never arrive, the rest does.
	echo t >"$T/data/new.tmp"
	echo g >"$T/data/.git/HEAD"
	echo b >"$T/data/sub/build/out2"
	echo o >"$T/data/sub/new.bak"
	echo k >"$T/data/sub/keep2"
	wait_for 10 test -e "$T/dst/sub/keep2"
	run -0 sh -c "cd '$T/dst' && find . | sort"
	assert_output ".
./keep
./sub
./sub/keep2"
}

@test "e2e: gitignore = yes and exclude_from reach the watcher and the mirror's first pass and records" {
	mkdir -p "$T/data/.git/info" "$T/data/sub/build"
	printf '%s\n' '*.log' 'build/' >"$T/data/.gitignore"
	printf '%s\n' '*.o' >"$T/data/sub/.gitignore"
	printf '%s\n' 'secret*' >"$T/patterns"
	echo k >"$T/data/keep"
	echo l >"$T/data/old.log"
	echo b >"$T/data/sub/build/out"
	echo o >"$T/data/sub/a.o"
	echo s >"$T/data/secret1"
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $STATE
	[watches]
	[[data]]
	plugins = mirror
	gitignore = yes
	exclude_from = $T/patterns
	mirror_destination = $T/dst
	EOF
	start_sup
	wait_ready "$T/data" mirror
	wait_for 10 test -e "$T/dst/keep"
	echo l >"$T/data/sub/new.log"
	echo b >"$T/data/sub/build/out2"
	echo o >"$T/data/b.o"
	echo s >"$T/data/sub/secret2"
	echo k >"$T/data/sub/keep2"
	wait_for 10 test -e "$T/dst/sub/keep2"
	run -0 sh -c "cd '$T/dst' && find . | sort"
	assert_output ".
./.gitignore
./b.o
./keep
./sub
./sub/.gitignore
./sub/keep2"
	read -r W P <<<"$(pids_of "$T/data" mirror)"
	run -0 tr '\0' ' ' <"/proc/$W/cmdline"
	assert_output --partial " --gitignore --exclude-from=$T/patterns "
	run -0 tr '\0' ' ' <"/proc/$P/cmdline"
	assert_output --partial " --gitignore --exclude-from=$T/patterns "
}

@test "e2e: exclude_from: a relative or unreadable file is an error at its line" {
	cat >"$T/rc" <<-EOF
	[watches]
	[[data]]
	plugins = mirror
	exclude_from = patterns
	mirror_destination = $T/dst
	EOF
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:4: exclude_from: patterns: not an absolute path"
	sed -i "s|^exclude_from = .*|exclude_from = $T/none|" "$T/rc"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:4: exclude_from: $T/none: No such file or directory"
}

@test "e2e: on fanotify the scribe says who made a change: by USER (COMMAND, pid N); on inotify, no one" {
	[ "$(id -u)" -eq 0 ] || skip "fanotify needs root"
	local b writer fan_pid
	# Another user writes: nobody, in a shell that outlives its record.
	chmod 711 "$T"
	chmod 1777 "$T/data"
	for b in fanotify inotify; do
		cat >"$T/rc" <<-EOF
		[global]
		state_dir = $STATE
		[watches]
		[[data]]
		plugins = scribe
		backend = $b
		scribe_log = $T/$b.log
		EOF
		start_sup
		wait_ready "$T/data" scribe
		mkfifo -m 666 "$T/go"
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		    bash -c 'echo x >"$1"; read -r _ <"$2"' bash \
		    "$T/data/by-$b" "$T/go" 3>&- &
		writer=$!
		BG_PIDS+=("$writer")
		[ "$b" != fanotify ] || fan_pid=$writer
		wait_for 10 grep -qs "'by-$b' was CLOSED after writing" "$T/$b.log"
		echo go >"$T/go"
		wait "$writer"
		rm "$T/go"
		stop_pid "$SUP_PID"
		SUP_PID=
	done
	run -0 grep "'by-fanotify' was" "$T/fanotify.log"
	assert_line --regexp "file 'by-fanotify' was CREATED by $(id -nu 65534) \\(bash, pid $fan_pid\\)\$"
	assert_line --regexp "file 'by-fanotify' was CLOSED after writing by $(id -nu 65534) \\(bash, pid $fan_pid\\)\$"
	run -0 grep "'by-inotify' was" "$T/inotify.log"
	refute_output --partial " by "
}
