#!/usr/bin/env bats
# iobs-watch's backends: choosing one, what only fanotify can do (who
# made a change, a whole file system seen through one mark), and the
# poll backend on FUSE, where inotify is blind. tests/watch.bats runs
# the common behaviour on each (make check sets IOBS_BACKEND).

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

# stopped PID: the process has stopped (SIGSTOP taken).
stopped() {
	[ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" = T ]
}

need_fanotify() {
	[ "$(id -u)" = 0 ] || skip "fanotify's filesystem mark needs root"
}

# mount_fuse: bindfs $T/under on $T/mnt, or skip.
mount_fuse() {
	command -v bindfs >/dev/null || skip "bindfs is not installed"
	mkdir -p "$T/under" "$T/mnt"
	bindfs "$T/under" "$T/mnt" 2>/dev/null || skip "cannot mount FUSE here"
	FUSE_MOUNTED=1
}

teardown() {
	if [ -n "${FUSE_MOUNTED:-}" ]; then
		# The watcher first: a busy mount does not unmount.
		for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
		for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
		fusermount -u "$T/mnt" 2>/dev/null || umount "$T/mnt" || true
	fi
	# group_start's shells, each of them: they may wait on $T/go.
	if [ -n "${GROUP:-}" ]; then
		kill -- -"$GROUP" 2>/dev/null || true
	fi
	common_teardown
}

@test "--backend: an unknown name is a usage error, exit 2" {
	run -2 iobs-watch --backend=kqueue "$T/w"
	assert_output "iobs-watch: --backend kqueue: not auto, inotify, fanotify or poll"
}

@test "--interval and --ignore-pid: bad numbers are usage errors, exit 2" {
	run -2 iobs-watch --interval=0 "$T/w"
	assert_output --partial "--interval 0: too short"
	run -2 iobs-watch --interval=1.2345 "$T/w"
	assert_output --partial "at most three decimals"
	run -2 iobs-watch --interval=soon "$T/w"
	assert_output --partial "--interval soon"
	run -2 iobs-watch --ignore-pid=0 "$T/w"
	assert_output --partial "--ignore-pid 0: pid is too small"
	run -2 iobs-watch --ignore-pid=me "$T/w"
	assert_output --partial "--ignore-pid me: pid is invalid"
	run -2 iobs-watch --ignore-pgid=-3 "$T/w"
	assert_output --partial "--ignore-pgid -3: process group is too small"
	run -2 iobs-watch --ignore-fd=2 "$T/w"
	assert_output --partial "--ignore-fd 2: descriptor is too small"
}

@test "--backend fanotify where not allowed: one line with the fix, exit 1" {
	chmod 755 "$T" "$T/w"
	run -1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IOBS_BIN/iobs-watch" --backend=fanotify "$T/w"
	assert_output --regexp "^iobs-watch: ($T/w: )?fanotify( cannot watch its file system)?: Operation not permitted \(needs CAP_SYS_ADMIN; try --backend inotify\)\$"
}

@test "auto: fanotify where allowed, inotify where it is not" {
	chmod 755 "$T" "$T/w"
	# Without CAP_SYS_ADMIN: as nobody, and as root of a user namespace,
	# which does not own the file system.
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IOBS_BIN/iobs-watch" "$T/w" > "$T/nobody" 2>&1 3>&- &
	BG_PIDS+=($!)
	wait_for 10 grep -q WATCH_INIT "$T/nobody"
	run sed -n 2p "$T/nobody"
	assert_output "# backend inotify"
	if unshare -U -r true 2>/dev/null; then
		unshare -U -r "$IOBS_BIN/iobs-watch" "$T/w" > "$T/userns" \
			2>&1 3>&- &
		BG_PIDS+=($!)
		wait_for 10 grep -q WATCH_INIT "$T/userns"
		run sed -n 2p "$T/userns"
		assert_output "# backend inotify"
	fi
	need_fanotify
	[ "$(stat -f -c %T "$T")" = tmpfs ] || skip "$T is not on tmpfs"
	start_watch "$T/out" "$T/w"
	run sed -n 2p "$T/out"
	assert_output "# backend fanotify"
	start_watch "$T/out2" --backend=auto "$T/w"
	run sed -n 2p "$T/out2"
	assert_output "# backend fanotify"
}

@test "fanotify: changes elsewhere on the same file system never appear" {
	need_fanotify
	mkdir -p "$T/other/sub" "$T/w/in"
	start_watch "$T/out" --backend=fanotify "$T/w"
	# Busy beside it: a sibling tree, and the rest of the file system
	# (where other tests write all the time).
	for i in $(seq 200); do
		echo "$i" > "$T/other/f$i"
		mkdir "$T/other/sub/d$i"
		mv "$T/other/f$i" "$T/other/sub/d$i/g"
		touch "$T/w-lookalike$i"
	done
	touch "$T/w/in/mine"
	wait_for 10 grep -q "	CREATE	0	$T/w/in/mine\$" "$T/out"
	run awk -F'\t' '!/^#/ && $4 !~ "^'"$T"'/w(/|$)"' "$T/out"
	assert_output ""
}

@test "fanotify: a rename is one MOVED_FROM/MOVED_TO pair; in and out of the tree, one half" {
	need_fanotify
	mkdir "$T/outside"
	echo x > "$T/w/a"
	echo y > "$T/outside/b"
	echo z > "$T/w/c"
	start_watch "$T/out" --backend=fanotify -e move "$T/w"
	mv "$T/w/a" "$T/w/a2"
	mv "$T/outside/b" "$T/w/b"
	mv "$T/w/c" "$T/outside/c"
	mv "$T/outside/c" "$T/outside/c2"
	touch "$T/w/.marker"
	mv "$T/w/.marker" "$T/w/.marker2"
	wait_for 10 grep -q "/.marker2\$" "$T/out"
	run awk -F'\t' '!/^#/ && $2 != "WATCH_INIT" { print $2, ($3 > 0), $4 }' "$T/out"
	assert_output "MOVED_FROM 1 $T/w/a
MOVED_TO 1 $T/w/a2
MOVED_TO 1 $T/w/b
MOVED_FROM 1 $T/w/c
MOVED_FROM 1 $T/w/.marker
MOVED_TO 1 $T/w/.marker2"
	run awk -F'\t' '$4 ~ /\/a2?$/ { print $3 }' "$T/out"
	assert_equal "$(echo "$output" | sort -u | wc -l)" 1
}

@test "fanotify: a directory met before, renamed, then deleted: paths stay right" {
	need_fanotify
	mkdir -p "$T/w/d/sub"
	start_watch "$T/out" --backend=fanotify "$T/w"
	touch "$T/w/d/sub/1"
	# Met: from here on the map follows it, event by event.
	wait_for 10 grep -q "	CREATE	0	$T/w/d/sub/1\$" "$T/out"
	mv "$T/w/d" "$T/w/e"
	touch "$T/w/e/sub/2"
	mv "$T/w/e/sub" "$T/w/sub2"
	touch "$T/w/sub2/3"
	rm -r "$T/w/sub2"
	mkdir "$T/w/sub2"
	touch "$T/w/sub2/4"
	wait_for 10 grep -q "	CREATE	0	$T/w/sub2/4\$" "$T/out"
	run awk -F'\t' '$2 == "CREATE" { print $4 }' "$T/out"
	assert_output "$T/w/d/sub/1
$T/w/e/sub/2
$T/w/sub2/3
$T/w/sub2/4"
}

@test "fanotify and poll: a directory or a root gone makes no inotify call" {
	need_fanotify
	command -v strace >/dev/null || skip "strace is not installed (mk/deps)"
	local b
	for b in fanotify poll; do
		mkdir -p "$T/$b/d/sub"
		strace -f -o "$T/$b.trace" -e trace=inotify_rm_watch \
		    iobs-watch --backend=$b --interval=0.1 "$T/$b" \
		    > "$T/$b.out" 2>&1 3>&- &
		BG_PIDS+=($!)
		wait_for 20 grep -q WATCH_INIT "$T/$b.out"
		touch "$T/$b/d/sub/1"
		wait_for 10 grep -q "	CREATE	0	$T/$b/d/sub/1\$" "$T/$b.out"
		rm -r "$T/$b/d"
		wait_for 10 grep -q "	DELETE,ISDIR	0	$T/$b/d\$" "$T/$b.out"
		rmdir "$T/$b"
		wait_for 10 grep -q "	WATCH_DEAD	0	$T/$b\$" "$T/$b.out"
		run grep -c '^[0-9]* *inotify_rm_watch' "$T/$b.trace"
		assert_output 0
	done
}

@test "fanotify: a directory not met yet, renamed after events in it: they have its old path" {
	need_fanotify
	mkdir -p "$T/w/sub/deep"
	: > "$T/w/a"
	start_watch "$T/out" --backend=fanotify -e create,move "$T/w"
	# Stopped: the events wait, and are read together.
	kill -STOP "$WATCH_PID"
	wait_for 5 stopped "$WATCH_PID"
	mv "$T/w/a" "$T/w/sub/deep/b"
	touch "$T/w/sub/deep/c"
	mv "$T/w/sub" "$T/w/sub2"
	touch "$T/w/sub2/deep/d"
	kill -CONT "$WATCH_PID"
	wait_for 10 grep -q "	CREATE	0	$T/w/sub2/deep/d\$" "$T/out"
	run awk -F'\t' '!/^#/ && $2 != "WATCH_INIT" { print $2, $4 }' "$T/out"
	assert_output "MOVED_FROM $T/w/a
MOVED_TO $T/w/sub/deep/b
CREATE $T/w/sub/deep/c
MOVED_FROM,ISDIR $T/w/sub
MOVED_TO,ISDIR $T/w/sub2
CREATE $T/w/sub2/deep/d"
}

@test "fanotify: a directory renamed while older events in it are still queued: they have its old path" {
	need_fanotify
	mkdir -p "$T/w/pre/D" "$T/w/many"
	start_watch "$T/out" --backend=fanotify -e create,move "$T/w"
	# Once this is out, the set-up walk is done.
	touch "$T/w/.marker1"
	wait_for 10 grep -q "/.marker1\$" "$T/out"
	kill -STOP "$WATCH_PID"
	wait_for 5 stopped "$WATCH_PID"
	touch "$T/w/pre/D/f"
	# More than the watcher reads ahead: the rename stays in the
	# kernel's queue while the record of f is written.
	seq 20000 | sed "s|^|$T/w/many/a-name-of-some-length-|" | xargs touch
	mv "$T/w/pre/D" "$T/w/pre/E"
	kill -CONT "$WATCH_PID"
	wait_for 20 grep -q "	MOVED_TO,ISDIR	[1-9][0-9]*	$T/w/pre/E\$" "$T/out"
	run awk -F'\t' '!/^#/ && $4 !~ /\/many\// { print $2, $4 }' "$T/out"
	assert_output "WATCH_INIT $T/w
CREATE $T/w/.marker1
CREATE $T/w/pre/D/f
MOVED_FROM,ISDIR $T/w/pre/D
MOVED_TO,ISDIR $T/w/pre/E"
}

@test "fanotify: a directory renamed while the set-up walk is on its way: OVERFLOW, or the right paths" {
	need_fanotify
	mkdir -p "$T/w/a/sub" "$T/w/big"
	(cd "$T/w/big" && seq 20000 | xargs mkdir)
	start_watch "$T/out" --backend=fanotify -e create,move "$T/w"
	kill -STOP "$WATCH_PID"
	wait_for 5 stopped "$WATCH_PID"
	touch "$T/w/a/sub/f"
	mv "$T/w/a" "$T/w/b"
	touch "$T/w/b/sub/g"
	kill -CONT "$WATCH_PID"
	touch "$T/w/.marker1"
	wait_for 20 grep -q "	\(CREATE	0	$T/w/.marker1\|OVERFLOW	0	$T/w\)\$" "$T/out"
	if grep -q OVERFLOW "$T/out"; then
		# Then watched again.
		wait_for 20 has_lines "$T/out" $'\tWATCH_INIT\t' 2
		run awk -F'\t' 'o { print $2, $4; exit } $2 == "OVERFLOW" { o = 1 }' "$T/out"
		assert_output "WATCH_INIT $T/w"
	else
		run awk -F'\t' '!/^#/ && $4 !~ /\/big\// { print $2, $4 }' "$T/out"
		assert_output "WATCH_INIT $T/w
CREATE $T/w/a/sub/f
MOVED_FROM,ISDIR $T/w/a
MOVED_TO,ISDIR $T/w/b
CREATE $T/w/b/sub/g
CREATE $T/w/.marker1"
	fi
}

@test "fanotify: WATCH_INIT waits for a few directories of the walk, not for a large root's" {
	need_fanotify
	command -v strace >/dev/null || skip "strace is not installed (mk/deps)"
	(cd "$T/w" && seq 300 | xargs mkdir)
	mkdir "$T/w/1/deep"
	strace -o "$T/trace" -s 256 -e trace=name_to_handle_at,write,writev \
		iobs-watch --backend=fanotify "$T/w" > "$T/out" 2>&1 3>&- &
	BG_PIDS+=($!)
	wait_for 20 grep -q WATCH_INIT "$T/out"
	BG_PIDS+=($(pgrep -P "${BG_PIDS[-1]}"))
	touch "$T/w/1/deep/f"
	wait_for 20 grep -q "	CREATE	0	$T/w/1/deep/f\$" "$T/out"
	# Before WATCH_INIT: 64 directories' handles, and the root's.
	run awk '/WATCH_INIT/ { print n + 0; exit } /^name_to_handle_at/ { n++ }' "$T/trace"
	[ "$output" -ge 64 ]
	[ "$output" -le 80 ]
	# The rest after it: every directory's.
	run grep -c '^name_to_handle_at' "$T/trace"
	[ "$output" -ge 302 ]
}

@test "fanotify: a busy directory moved in from outside is heard in full" {
	need_fanotify
	mkdir -p "$T/outside/busy/sub"
	start_watch "$T/out" --backend=fanotify "$T/w"
	# Busy outside: the watcher has the kernel keep quiet about it.
	for i in 1 2 3; do
		echo "$i" > "$T/outside/busy/f$i"
		touch "$T/outside/busy/sub/g$i"
	done
	# Read in order: once this is out, so is all of the above.
	touch "$T/w/.marker1"
	wait_for 10 grep -q "/.marker1\$" "$T/out"
	mv "$T/outside/busy" "$T/w/busy"
	touch "$T/w/busy/sub/made-at-once"
	wait_for 10 grep -q "	MOVED_TO,ISDIR	[1-9][0-9]*	$T/w/busy\$" "$T/out"
	echo more >> "$T/w/busy/f1"
	touch "$T/w/busy/sub/made-later" "$T/w/busy/new"
	wait_for 10 grep -q "	CREATE	0	$T/w/busy/new\$" "$T/out"
	wait_for 10 grep -q "	CREATE	0	$T/w/busy/sub/made-later\$" "$T/out"
	wait_for 10 grep -q "	MODIFY	0	$T/w/busy/f1\$" "$T/out"
	run grep -c "	CREATE	0	$T/w/busy/sub/\(g1\|g2\|g3\|made-at-once\)\$" "$T/out"
	assert_output 4
	run grep -c "/outside/" "$T/out"
	assert_output 0
}

# deep_tree DIR N: DIR/d/d/.../d/leaf, N levels of d (a multiple of 100).
# Deeper than PATH_MAX: chains of 100 are made, each moved into the next.
deep_tree() {
	local c100 i
	c100=$(printf 'd/%.0s' $(seq 100))
	c100=${c100%/}
	mkdir -p "$1/c0/$c100"
	: > "$1/c0/$c100/leaf"
	for i in $(seq $(($2 / 100 - 1))); do
		mkdir -p "$1/c$i/$c100"
		mv "$1/c$((i - 1))/d" "$1/c$i/$c100/"
	done
	mv "$1/c$(($2 / 100 - 1))/d" "$1/d"
}

@test "fanotify: a tree 3,000 directories deep moved in is heard in full" {
	need_fanotify
	deep_tree "$T/out-of-tree" 3000
	start_watch "$T/out" --backend=fanotify "$T/w"
	mv "$T/out-of-tree/d" "$T/w/d"
	# A fixed string: a regular expression of 3,000 repeats is slow to
	# build, and a wait builds it again at each look.
	local deep
	deep=$(printf '/d%.0s' $(seq 3000))
	wait_for 20 grep -qF "	CREATE	0	$T/w$deep/leaf" "$T/out"
	run grep -c "	CREATE,ISDIR	0	$T/w/d/" "$T/out"
	assert_output 2999
	kill -0 "$WATCH_PID"
}

@test "poll: an entry 5,000 directories deep is gone: its whole path" {
	# The scan holds a descriptor a level.
	[ "$(ulimit -n)" -gt 5100 ] || ulimit -n 8192 2>/dev/null ||
	    skip "RLIMIT_NOFILE below 5,100"
	deep_tree "$T/w" 5000
	start_watch "$T/out" --backend=poll --interval=0.5 "$T/w"
	local deep
	deep=$(printf 'd/%.0s' $(seq 5000))
	(cd "$T/w/${deep:0:2000}" && cd "${deep:2000:4000}" &&
	    cd "${deep:6000}" && rm leaf)
	wait_for 20 grep -q "	DELETE	0	" "$T/out"
	run awk -F'\t' '$2 == "DELETE" { print $4 }' "$T/out"
	assert_output "$T/w/${deep}leaf"
}

@test "--pid: a fifth field, who made the change; 0 on lifecycle records" {
	need_fanotify
	mkfifo "$T/go"
	sh -c 'read x < "$0"; exec touch "$1"' "$T/go" "$T/w/f" 3>&- &
	local maker=$!
	BG_PIDS+=($maker)
	start_watch "$T/out" --backend=fanotify --pid "$T/w"
	echo > "$T/go"
	wait_for 10 grep -q "	CREATE	0	$T/w/f	$maker\$" "$T/out"
	run grep -c $'\tWATCH_INIT\t0\t'"$T/w"$'\t0$' "$T/out"
	assert_output 1
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	run tail -n 1 "$T/out"
	assert_output --regexp $'\tWATCH_DEAD\t0\t'"$T/w"$'\t0$'
	# inotify does not know: 0.
	start_watch "$T/out2" --backend=inotify --pid "$T/w"
	touch "$T/w/g"
	wait_for 10 grep -q $'\tCREATE\t0\t'"$T/w/g"$'\t0$' "$T/out2"
}

@test "--ignore-pid hides exactly that process" {
	need_fanotify
	mkfifo "$T/go"
	sh -c 'read x < "$0"; exec cat "$1" "$1"' "$T/go" "$T/w/f" > /dev/null 3>&- &
	local reader=$!
	BG_PIDS+=($reader)
	echo data > "$T/w/f"
	start_watch "$T/out" --backend=fanotify -e all --ignore-pid="$reader" "$T/w"
	echo > "$T/go"
	wait "$reader" || true
	cat "$T/w/f" > /dev/null
	touch "$T/w/.marker"
	wait_for 10 grep -q "/.marker\$" "$T/out"
	# One OPEN of f: cat's, not the hidden reader's.
	run grep -c $'\tOPEN\t0\t'"$T/w/f"'$' "$T/out"
	assert_output 1
}

# group_start: a shell of its own process group, which reads $T/w/f,
# then $T/w/f2, then, in a child of its own, $T/w/f3, each time once
# told to (group_go), writing the name to $T/go.done when it is read;
# its group in $GROUP. Each lives on until teardown kills the group, so
# that the watcher can ask whose group it is.
group_start() {
	mkfifo "$T/go"
	exec 8<>"$T/go"
	echo x > "$T/w/f"
	echo x > "$T/w/f2"
	echo x > "$T/w/f3"
	setsid sh -c 'echo $$ > "$0.pgid"
		read x < "$0"; while read -r l; do :; done < "$1"
		echo f >> "$0.done"
		read x < "$0"; while read -r l; do :; done < "$1"2
		echo f2 >> "$0.done"
		( read x < "$0"; while read -r l; do :; done < "$1"3
		  echo f3 >> "$0.done"; read x < "$0" ) &
		wait' "$T/go" "$T/w/f" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 test -s "$T/go.pgid"
	GROUP=$(cat "$T/go.pgid")
}

# group_go NAME: the group reads $T/w/NAME, and it is read.
group_go() {
	echo >&8
	wait_for 10 grep -qx "$1" "$T/go.done"
}

# opens_of FILE: how many OPEN records of $T/w/FILE are in $T/out.
opens_of() {
	grep -c $'\tOPEN\t0\t'"$T/w/$1"'$' "$T/out" || true
}

marker() {
	touch "$T/w/.marker$1"
	wait_for 10 grep -q "/.marker$1\$" "$T/out"
}

@test "--ignore-pgid hides every process of that group, and no other" {
	need_fanotify
	group_start
	start_watch "$T/out" --backend=fanotify -e all --ignore-pgid="$GROUP" "$T/w"
	group_go f
	group_go f2
	group_go f3
	cat "$T/w/f2" > /dev/null
	marker 1
	run opens_of f
	assert_output 0
	run opens_of f3
	assert_output 0
	# cat's, not the group's.
	run opens_of f2
	assert_output 1
}

@test "--ignore-fd: each line is the whole set, from the next event on" {
	need_fanotify
	group_start
	mkfifo "$T/ctl"
	exec 7<>"$T/ctl"
	start_watch "$T/out" --backend=fanotify -e all --ignore-fd=7 "$T/w"
	echo "  $GROUP 99999 " >&7
	group_go f
	marker 1
	run opens_of f
	assert_output 0
	# An empty line: nobody is left out any more.
	echo >&7
	group_go f2
	wait_for 10 grep -q $'\tOPEN\t0\t'"$T/w/f2"'$' "$T/out"
	echo "$GROUP" >&7
	echo "12x" >&7
	group_go f3
	marker 2
	run opens_of f3
	assert_output 0
	run -0 cat "$T/out.err"
	assert_output --partial "iobs-watch: --ignore-fd 7: not a process group number in \"12x\"; the groups left out stay as they were"
	exec 7>&-
}

@test "poll: made, changed, renamed, deleted, as inotify would say" {
	echo one > "$T/w/keep"
	echo two > "$T/w/old"
	mkdir -p "$T/w/dir/sub"
	start_watch "$T/out" --backend=poll --interval=0.1 "$T/w"
	echo new > "$T/w/made"
	echo more >> "$T/w/keep"
	mv "$T/w/old" "$T/w/renamed"
	mv "$T/w/dir" "$T/w/dir2"
	rmdir "$T/w/dir2/sub"
	touch "$T/w/.marker"
	wait_for 10 grep -q "/.marker\$" "$T/out"
	chmod 600 "$T/w/made"
	wait_for 10 grep -q "	ATTRIB	0	$T/w/made\$" "$T/out"
	rm "$T/w/made"
	wait_for 10 grep -q "	DELETE	0	$T/w/made\$" "$T/out"
	run awk -F'\t' '!/^#/ && $4 !~ /marker/ { print $2, ($3 > 0), $4 }' "$T/out"
	assert_line "CREATE 0 $T/w/made"
	assert_line "CLOSE_WRITE,CLOSE 0 $T/w/made"
	assert_line "MODIFY 0 $T/w/keep"
	assert_line "CLOSE_WRITE,CLOSE 0 $T/w/keep"
	assert_line "MOVED_FROM 1 $T/w/old"
	assert_line "MOVED_TO 1 $T/w/renamed"
	assert_line "MOVED_FROM,ISDIR 1 $T/w/dir"
	assert_line "MOVED_TO,ISDIR 1 $T/w/dir2"
	assert_line "DELETE,ISDIR 0 $T/w/dir2/sub"
	refute_line --partial "CREATE 0 $T/w/renamed"
	refute_line --partial "DELETE 0 $T/w/old"
	# One cookie per pair.
	run awk -F'\t' '$4 ~ /\/(old|renamed)$/ { print $3 }' "$T/out"
	assert_equal "$(echo "$output" | sort -u | wc -l)" 1
}

@test "poll: excluded directories are never scanned" {
	need_fanotify
	mkdir -p "$T/w/.git/objects" "$T/w/src"
	start_watch "$T/spy" --backend=fanotify --pid -e open "$T/w"
	start_watch "$T/out" --backend=poll --interval=0.1 -x .git "$T/w"
	local poller=$WATCH_PID
	touch "$T/w/src/.marker" "$T/w/.git/objects/o"
	wait_for 10 grep -q "/.marker\$" "$T/out"
	# The spy saw the poller list src, but never .git.
	run awk -F'\t' -v p="$poller" '$5 == p { print $4 }' "$T/spy"
	assert_line "$T/w/src"
	refute_line --partial ".git"
	run grep -c .git "$T/out"
	assert_output 0
}

# dir_reads PID: what PID calls in half a second, as "getdents stats".
dir_reads() {
	timeout 0.5 strace -qq -p "$1" -e trace=getdents64,newfstatat,statx \
	    -o "$T/trace" 2>/dev/null || true
	echo "$(grep -c '^getdents64' "$T/trace")" \
	    "$(grep -c -E '^(newfstatat|statx)' "$T/trace")"
}

# held PID: PID scans, and reads no directory.
held() {
	local n
	n=$(dir_reads "$1")
	[ "${n% *}" = 0 ] && [ "${n#* }" -gt 0 ]
}

@test "poll: a directory whose entries held still is stat'ed, not read again" {
	command -v strace >/dev/null || skip "strace is not installed"
	mkdir -p "$T/w/a/deep" "$T/w/b"
	touch "$T/w/a/1" "$T/w/a/deep/3" "$T/w/b/2"
	start_watch "$T/out" --backend=poll --interval=0.1 "$T/w"
	# Times that held 2.5 s between two listings make a listing hold.
	wait_for 10 held "$WATCH_PID"
	# And every change is still seen: made, written, deleted, renamed.
	echo new > "$T/w/a/made"
	echo more >> "$T/w/b/2"
	rm "$T/w/a/deep/3"
	wait_for 2 grep -q "	CREATE	0	$T/w/a/made\$" "$T/out"
	wait_for 2 grep -q "	MODIFY	0	$T/w/b/2\$" "$T/out"
	wait_for 2 grep -q "	DELETE	0	$T/w/a/deep/3\$" "$T/out"
	mv "$T/w/b" "$T/w/a/deep/b"
	wait_for 2 grep -q "	MOVED_TO,ISDIR	[1-9][0-9]*	$T/w/a/deep/b\$" "$T/out"
	# The one below a held listing, written after the move: its new path.
	wait_for 10 held "$WATCH_PID"
	echo again >> "$T/w/a/deep/b/2"
	wait_for 2 grep -q "	MODIFY	0	$T/w/a/deep/b/2\$" "$T/out"
}

@test "poll: a held directory whose mtime is set back is read again: its ctime moved" {
	command -v strace >/dev/null || skip "strace is not installed"
	mkdir -p "$T/w/a"
	touch "$T/w/a/1"
	start_watch "$T/out" --backend=poll --interval=0.1 "$T/w"
	wait_for 10 held "$WATCH_PID"
	touch -r "$T/w/a" "$T/ref"
	echo new > "$T/w/a/made"
	touch -m -r "$T/ref" "$T/w/a"
	[ "$(stat -c %.9Y "$T/w/a")" = "$(stat -c %.9Y "$T/ref")" ]
	wait_for 2 grep -q "	CREATE	0	$T/w/a/made\$" "$T/out"
}

@test "poll: a directory whose times moved with no change seen in it: ATTRIB" {
	mkdir -p "$T/w/d/e" "$T/w/f"
	echo one >"$T/w/d/file"
	start_watch "$T/out" --backend=poll --interval=0.2 "$T/w"
	# Made and gone between two scans (none while stopped); a file
	# written there says nothing of that.
	kill -STOP "$WATCH_PID"
	touch "$T/w/d/x"
	rm "$T/w/d/x"
	echo two >>"$T/w/d/file"
	kill -CONT "$WATCH_PID"
	wait_for 5 grep -q "	ATTRIB,ISDIR	0	$T/w/d\$" "$T/out"
	# touch on a directory: ATTRIB, as inotify says.
	touch "$T/w/f"
	wait_for 5 grep -q "	ATTRIB,ISDIR	0	$T/w/f\$" "$T/out"
	# A rename, a chmod, a file made below: said, and no more.
	mv "$T/w/d" "$T/w/g"
	chmod 700 "$T/w/f"
	touch "$T/w/g/e/y"
	wait_for 5 grep -q "	CREATE	0	$T/w/g/e/y\$" "$T/out"
	sleep 0.5
	run awk -F'\t' '!/^#/ { print $2, $4 }' "$T/out"
	assert_output "WATCH_INIT $T/w
MODIFY $T/w/d/file
CLOSE_WRITE,CLOSE $T/w/d/file
ATTRIB,ISDIR $T/w/d
ATTRIB,ISDIR $T/w/f
MOVED_FROM,ISDIR $T/w/d
MOVED_TO,ISDIR $T/w/g
ATTRIB,ISDIR $T/w/f
CREATE $T/w/g/e/y
CLOSE_WRITE,CLOSE $T/w/g/e/y"
}

@test "poll on FUSE: every scan reads each directory; its times may not tell" {
	command -v strace >/dev/null || skip "strace is not installed"
	mount_fuse
	mkdir "$T/under/a"
	touch "$T/under/a/1"
	start_watch "$T/out" --backend=poll --interval=0.1 "$T/mnt"
	sleep 3
	run dir_reads "$WATCH_PID"
	[ "${output% *}" -gt 0 ]
}

@test "poll on FUSE: changes made underneath are seen within two intervals, renames as pairs" {
	mount_fuse
	echo x > "$T/under/old"
	start_watch "$T/out" --backend=poll --interval=1 "$T/mnt"
	echo made > "$T/under/made"
	wait_for 2 grep -q "	CREATE	0	$T/mnt/made\$" "$T/out"
	echo changed >> "$T/under/made"
	wait_for 2 grep -q "	MODIFY	0	$T/mnt/made\$" "$T/out"
	mv "$T/under/old" "$T/under/new"
	wait_for 2 grep -q "	MOVED_TO	[1-9][0-9]*	$T/mnt/new\$" "$T/out"
	rm "$T/under/made"
	wait_for 2 grep -q "	DELETE	0	$T/mnt/made\$" "$T/out"
	run grep -c -E "	MOVED_FROM	[1-9][0-9]*	$T/mnt/old\$" "$T/out"
	assert_output 1
	cookie=$(awk -F'\t' '$2 == "MOVED_FROM" { print $3 }' "$T/out")
	run grep -c "	MOVED_TO	$cookie	$T/mnt/new\$" "$T/out"
	assert_output 1
}

@test "auto on FUSE: inotify, and a rescan finds what it could not see, once" {
	mount_fuse
	start_watch "$T/out" --interval=0.2 "$T/mnt"
	run sed -n 2p "$T/out"
	assert_output "# backend inotify"
	# Made through the mount: inotify sees it, the rescan stays quiet.
	echo here > "$T/mnt/local"
	# Made underneath: only the rescan can tell.
	echo there > "$T/under/remote"
	wait_for 5 grep -q "	CREATE	0	$T/mnt/remote\$" "$T/out"
	wait_for 5 grep -q "	CREATE	0	$T/mnt/local\$" "$T/out"
	touch "$T/under/.marker"
	wait_for 5 grep -q "	CREATE	0	$T/mnt/.marker\$" "$T/out"
	run grep -c "	CREATE	0	$T/mnt/local\$" "$T/out"
	assert_output 1
	run grep -c "	CREATE	0	$T/mnt/remote\$" "$T/out"
	assert_output 1
}

@test "auto on FUSE: a file the rescan lists before its event is read is said once" {
	mount_fuse
	start_watch "$T/out" --interval=0.2 "$T/mnt"
	wait_for 5 grep -q WATCH_INIT "$T/out"
	# Held while the file is made through the mount: when it goes on,
	# its tick's rescan comes before the read of the kernel's event.
	kill -STOP "$WATCH_PID"
	echo late >"$T/mnt/late"
	sleep 0.5
	kill -CONT "$WATCH_PID"
	wait_for 5 grep -q "	CREATE	0	$T/mnt/late\$" "$T/out"
	touch "$T/under/.marker"
	wait_for 5 grep -q "	CREATE	0	$T/mnt/.marker\$" "$T/out"
	run grep -c "	CREATE	0	$T/mnt/late\$" "$T/out"
	assert_output 1
}

# outputs_on BACKEND: a file written in a directory there before the
# start, as --format, --json (a name that is not UTF-8) and the stream
# with --pid print it; --exclude drops the other.
outputs_on() {
	local b=$1 bad=$'x\xff' pid=0
	rm -rf "$T/w" && mkdir -p "$T/w/sub"
	(cd "$T" && exec iobs-watch --backend="$b" --interval=0.1 -e close_write \
		--format '%w|%f|%e|%p' --exclude 'skip' w/) \
		>"$T/fmt.$b" 2>"$T/fmt.$b.err" 3>&- &
	BG_PIDS+=($!)
	iobs-watch --backend="$b" --interval=0.1 -e close_write --json --pid "$T/w" \
		>"$T/json.$b" 2>"$T/json.$b.err" 3>&- &
	BG_PIDS+=($!)
	start_watch "$T/pid.$b" --backend="$b" --interval=0.1 \
		-e close_write --pid "$T/w"
	wait_for 10 grep -q '^Watches established\.$' "$T/fmt.$b.err"
	wait_for 10 grep -q WATCH_INIT "$T/json.$b"
	echo x >"$T/w/sub/skip"
	echo x >"$T/w/sub/$bad"
	# fanotify knows the writer: this shell.
	[ "$b" != fanotify ] || pid=$BASHPID
	wait_for 10 grep -q "^w/sub/|x" "$T/fmt.$b"
	wait_for 10 grep -q '"path_bytes"' "$T/json.$b"
	wait_for 10 grep -q "/sub/x.377	$pid\$" "$T/pid.$b"
	run grep -c skip "$T/fmt.$b"
	assert_output 0
	# Not UTF-8: in C, . matches any byte.
	run env LC_ALL=C grep -c "^w/sub/|x.|CLOSE_WRITE,CLOSE|$pid\$" "$T/fmt.$b"
	assert_output 1
	run jq -r 'select(.events[0] == "CLOSE_WRITE" and .path_bytes) |
	    "\(.path_bytes) \(.pid)"' "$T/json.$b"
	assert_output "$(printf '%s' "$T/w/sub/$bad" | base64 -w0) $pid"
	run jq -r 'select(.events[0] == "WATCH_INIT") | .pid' "$T/json.$b"
	assert_output 0
	run grep -c $'\tWATCH_INIT\t0\t'"$T/w"$'\t0$' "$T/pid.$b"
	assert_output 1
}

@test "every backend feeds --format, --exclude, --json and --pid alike" {
	outputs_on inotify
	outputs_on poll
	need_fanotify
	outputs_on fanotify
}
