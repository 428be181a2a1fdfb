#!/usr/bin/env bats
# iobs-watch against the real kernel: errors, then the stream, on each
# backend: watch-on-inotify.bats, watch-on-poll.bats and
# watch-on-fanotify.bats are links to this file, which run it on theirs
# (see watch-backends.bats); IOBS_BACKEND=inotify|fanotify|poll does
# the same; neither, the watcher picks its own (auto). The usage errors,
# the same on every backend, are in watch-usage.bats.

load test_helper

setup_file() {
	# watch-on-BACKEND.bats, a link to this file, runs it on BACKEND:
	# make check runs those, not this one.
	case ${BATS_TEST_FILENAME##*/} in
	watch-on-*.bats)
		IOBS_BACKEND=${BATS_TEST_FILENAME##*/watch-on-}
		export IOBS_BACKEND=${IOBS_BACKEND%.bats} ;;
	esac
	if [ -n "${IOBS_BACKEND:-}" ]; then
		mkdir -p "$BATS_FILE_TMPDIR/bin"
		# poll scans often here, so that waits stay short.
		printf '#!/bin/sh\nexec "%s" --backend=%s %s "$@"\n' \
			"$IOBS_BIN/iobs-watch" "$IOBS_BACKEND" \
			"$([ "$IOBS_BACKEND" = poll ] && echo --interval=0.1)" \
			> "$BATS_FILE_TMPDIR/bin/iobs-watch"
		chmod +x "$BATS_FILE_TMPDIR/bin/iobs-watch"
	fi
}

setup() {
	common_setup
	mkdir "$T/w"
	[ -z "${IOBS_BACKEND:-}" ] || PATH="$BATS_FILE_TMPDIR/bin:$PATH"
	WATCH=$(command -v iobs-watch)
}

# not_on BACKEND... WHY: skips this test on those backends.
not_on() {
	local b why=${*: -1}
	for b in "${@:1:$#-1}"; do
		[ "${IOBS_BACKEND:-auto}" != "$b" ] || skip "$b: $why"
	done
}

# Paths of CREATE and MOVED_TO records, one per line, sorted and unique.
reported() {
	awk -F'\t' '$2 ~ /^(CREATE|MOVED_TO)/ { print $4 }' "$1" | sort -u
}

# every_entry_reported OUT DIR: every path below DIR has a record.
every_entry_reported() {
	find "$2" -mindepth 1 | sort > "$T/expected"
	reported "$1" > "$T/got"
	[ -z "$(comm -23 "$T/expected" "$T/got")" ]
}

assert_every_entry_reported() {
	wait_for 20 every_entry_reported "$1" "$2" ||
		{ comm -23 "$T/expected" "$T/got" | head; false; }
}

# A marker file whose record shows everything before it was read.
sync_marker() {
	touch "$T/w/.marker$1"
	wait_for 10 grep -q "/.marker$1\$" "$T/out"
}

@test "-e all, close, move and any case name their events" {
	start_watch "$T/out" -e CLOSE -e Move "$T/w"
	echo x > "$T/w/f"
	# Seen before it moves: poll reports a rename only of what it knew.
	wait_for 10 grep -q "CLOSE_WRITE.*/f\$" "$T/out"
	mv "$T/w/f" "$T/w/g"
	wait_for 10 grep -q "MOVED_TO.*/g\$" "$T/out"
	run awk -F'\t' '!/^#/ && !/WATCH_INIT/ { print $2 }' "$T/out"
	assert_output "CLOSE_WRITE,CLOSE
MOVED_FROM
MOVED_TO"
	stop_pid "$WATCH_PID"
	start_watch "$T/out2" -e all "$T/w"
	touch "$T/w/g"
	wait_for 10 grep -q "CLOSE_WRITE,CLOSE.*/g\$" "$T/out2"
}

@test "unreadable root (as nobody): exit 1, names path and cause" {
	not_on fanotify "nobody may not use fanotify"
	chmod 755 "$T"
	mkdir -m 700 "$T/private"
	run -1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$IOBS_BIN/iobs-watch" ${IOBS_BACKEND:+--backend=$IOBS_BACKEND} \
		"$T/private"
	assert_output --partial "$T/private"
	assert_output --partial "Permission denied"
}

@test "watch limit: one line naming the sysctl and its value, exit 1" {
	not_on fanotify poll "inotify's limit"
	mkdir -p "$T/w"/{a,b,c,d,e}
	run -1 unshare -U -r sh -c '
		echo 3 > /proc/sys/user/max_inotify_watches &&
		exec "$0" "$1" >/dev/null' "$WATCH" "$T/w"
	assert_output --regexp "^iobs-watch: $T/w/[a-e]: inotify watch limit reached \(user\.max_inotify_watches = 3\); raise it with sysctl$"
}

@test "instance limit: one line naming the sysctl, exit 1" {
	not_on fanotify poll "inotify's limit"
	run -1 unshare -U -r sh -c '
		echo 0 > /proc/sys/user/max_inotify_instances &&
		exec "$0" "$1" >/dev/null' "$WATCH" "$T/w"
	assert_output "iobs-watch: inotify instance limit reached (user.max_inotify_instances = 0); raise it with sysctl"
}

@test "a root on FUSE: a warning that remote changes go unseen" {
	not_on fanotify poll "a warning of inotify's"
	command -v bindfs >/dev/null || skip "bindfs is not installed"
	mkdir "$T/mnt"
	bindfs "$T/w" "$T/mnt" 2>/dev/null || skip "cannot mount FUSE here"
	start_watch "$T/out" "$T/mnt"
	fusermount -u "$T/mnt" 2>/dev/null || umount "$T/mnt"
	case ${IOBS_BACKEND:-auto} in
	auto) assert_file_contains "$T/out.err" "^iobs-watch: $T/mnt: on FUSE: inotify sees only the changes made on this machine; rescanning every 2.000 s\$" ;;
	*) assert_file_contains "$T/out.err" "^iobs-watch: $T/mnt: on FUSE: inotify sees only the changes made on this machine\$" ;;
	esac
}

@test "header, then WATCH_INIT with the root made absolute" {
	cd "$T"
	start_watch "$T/out" w
	run head -n 3 "$T/out"
	assert_line -n 0 "# iobs-stream 1"
	assert_line -n 1 --regexp "^# backend (inotify|fanotify|poll)\$"
	[ -z "${IOBS_BACKEND:-}" ] || assert_line -n 1 "# backend $IOBS_BACKEND"
	assert_line -n 2 --regexp "^[0-9]+\.[0-9]{6}	WATCH_INIT	0	$T/w\$"
}

@test "--ready-fd: a newline on the descriptor once every root is watched" {
	mkdir "$T/v"
	iobs-watch --ready-fd=5 "$T/w" "$T/v" > "$T/out" 5> "$T/ready" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 test -s "$T/ready"
	run od -An -c "$T/ready"
	assert_output --regexp '^ +\\n$'
	run grep -c WATCH_INIT "$T/out"
	assert_output 2
	run -2 iobs-watch --ready-fd=1 "$T/w"
	assert_output --partial "--ready-fd 1"
}

@test "records: TIME, EVENTS, COOKIE, PATH; flushed while running" {
	start_watch "$T/out" "$T/w"
	echo hi > "$T/w/f"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$T/w/f\$" "$T/out"
	run grep -E "^[0-9]+\.[0-9]{6}	CREATE	0	$T/w/f\$" "$T/out"
	assert_success
}

@test "SIGTERM: WATCH_DEAD is the last record, exit 0" {
	start_watch "$T/out" "$T/w"
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	run tail -n 1 "$T/out"
	assert_output --regexp "	WATCH_DEAD	0	$T/w\$"
}

@test "SIGHUP: WATCH_RECONFIG for each root" {
	mkdir "$T/v"
	start_watch "$T/out" "$T/w" "$T/v"
	kill -HUP "$WATCH_PID"
	wait_for 10 has_lines "$T/out" "	WATCH_RECONFIG	0	$T/[wv]\$" 2
}

@test "root deleted: its events, WATCH_DEAD, exit 0" {
	start_watch "$T/out" "$T/w"
	rmdir "$T/w"
	wait "$WATCH_PID"
	run tail -n 2 "$T/out"
	assert_line -n 0 --regexp "	DELETE_SELF	0	$T/w\$"
	assert_line -n 1 --regexp "	WATCH_DEAD	0	$T/w\$"
}

@test "a single file as root" {
	echo one > "$T/file"
	start_watch "$T/out" "$T/file"
	echo two >> "$T/file"
	wait_for 10 grep -q "	MODIFY	0	$T/file\$" "$T/out"
}

@test "the reader going away ends it quietly, exit 0" {
	bash -c '"$0" "$1" 2>"$2" | head -n 3 >/dev/null; echo "${PIPESTATUS[0]}" > "$3"' \
		"$WATCH" "$T/w" "$T/err" "$T/status" 3>&- &
	BG_PIDS+=($!)
	# Keep making events until head has gone and the watcher noticed.
	local i=0
	until [ -s "$T/status" ] || [ $i -ge $((500 * SLOW)) ]; do
		touch "$T/w/f$i"; i=$((i + 1)); sleep 0.02
	done
	run cat "$T/status"
	assert_output 0
	assert_file_empty "$T/err"
}

@test "mkdir -p and create, 50 rounds: every file reported" {
	start_watch "$T/out" "$T/w"
	for i in $(seq 50); do
		mkdir -p "$T/w/r$i/a/b/c" && touch "$T/w/r$i/a/b/c/f"
	done
	assert_every_entry_reported "$T/out" "$T/w"
}

@test "cp -r, 50 rounds: every file reported" {
	mkdir -p "$T/src/a/b/c" "$T/src/d"
	touch "$T/src/"{1,2,3} "$T/src/a/"{4,5} "$T/src/a/b/c/"{6,7,8} "$T/src/d/9"
	start_watch "$T/out" "$T/w"
	for i in $(seq 50); do cp -r "$T/src" "$T/w/c$i"; done
	assert_every_entry_reported "$T/out" "$T/w"
}

@test "tar x, 50 rounds: every file reported" {
	mkdir -p "$T/src/a/b/c" "$T/src/d"
	touch "$T/src/"{1,2,3} "$T/src/a/"{4,5} "$T/src/a/b/c/"{6,7,8} "$T/src/d/9"
	tar -C "$T" -cf "$T/src.tar" src
	start_watch "$T/out" "$T/w"
	for i in $(seq 50); do
		mkdir "$T/w/t$i" && tar -C "$T/w/t$i" -xf "$T/src.tar"
	done
	assert_every_entry_reported "$T/out" "$T/w"
}

@test "directories moved in from outside, 50 rounds: every file reported" {
	mkdir -p "$T/src/a/b/c" "$T/src/d"
	touch "$T/src/"{1,2,3} "$T/src/a/"{4,5} "$T/src/a/b/c/"{6,7,8} "$T/src/d/9"
	mkdir "$T/stage"
	for i in $(seq 50); do cp -r "$T/src" "$T/stage/m$i"; done
	start_watch "$T/out" "$T/w"
	for i in $(seq 50); do mv "$T/stage/m$i" "$T/w/m$i"; done
	assert_every_entry_reported "$T/out" "$T/w"
	# poll cannot tell a tree moved in from one made.
	[ "${IOBS_BACKEND:-}" = poll ] && return
	run grep -c "	MOVED_TO,ISDIR	[0-9]*	$T/w/m[0-9]*\$" "$T/out"
	assert_output 50
}

@test "directories made just before a rename above them: watched, every file reported" {
	local i d
	mkdir "$T/w/to"
	for i in $(seq 20); do
		mkdir -p "$T/w/p$i" "$T/w/g$i/p" "$T/w/a$i" "$T/w/m$i" "$T/w/r$i"
	done
	start_watch "$T/out" "$T/w"
	# Stopped, the watcher reads each mkdir's CREATE after the renames
	# made just after it: the parent's old path leads nowhere.
	kill -STOP "$WATCH_PID"
	for i in $(seq 20); do
		mkdir -p "$T/w/p$i/new/sub"
		touch "$T/w/p$i/new/early" "$T/w/p$i/new/sub/early"
		mv "$T/w/p$i" "$T/w/q$i"
		mkdir "$T/w/g$i/p/new"
		mv "$T/w/g$i" "$T/w/h$i"
		mkdir "$T/w/a$i/new"
		mv "$T/w/a$i" "$T/w/b$i"
		mv "$T/w/b$i" "$T/w/c$i"
		mkdir "$T/w/m$i/new"
		mv "$T/w/m$i" "$T/w/to/m$i"
		# The old path leads to another directory now.
		mkdir "$T/w/r$i/new"
		mv "$T/w/r$i" "$T/w/s$i"
		mkdir -p "$T/w/r$i/new"
	done
	kill -CONT "$WATCH_PID"
	sync_marker 1
	for d in $(find "$T/w" -type d -name new); do
		touch "$d/late"
		[ ! -d "$d/sub" ] || touch "$d/sub/late"
	done
	find "$T/w" -type f \( -name early -o -name late \) | sort > "$T/expected"
	run wc -l < "$T/expected"
	assert_output 180
	# A file made before the rename may be reported under the path
	# it had then, the rename's records after it (fanotify does so).
	created() {
		awk -F'\t' '$2 == "CREATE" { print $4 }' "$T/out" |
			sed "s#^$T/w/p\([0-9]*\)/new/#$T/w/q\1/new/#" | sort -u |
			comm -23 "$T/expected" - > "$T/missing"
		[ ! -s "$T/missing" ]
	}
	wait_for 20 created || { head "$T/missing"; false; }
}

@test "a tree moved in, a directory moved on out of it before the move is read: watched, every level" {
	# poll cannot tell a tree moved in from one made.
	not_on poll "no moves on poll"
	mkdir -p "$T/outside/d/e/f/g"
	start_watch "$T/out" "$T/w"
	# Stopped, the watcher lists d after e has left it for x: e is
	# met first by its rename, from a directory it knows.
	kill -STOP "$WATCH_PID"
	mv "$T/outside/d" "$T/w/d"
	mv "$T/w/d/e" "$T/w/x"
	kill -CONT "$WATCH_PID"
	sync_marker 1
	touch "$T/w/x/late" "$T/w/x/f/late" "$T/w/x/f/g/late"
	local p
	for p in x/late x/f/late x/f/g/late; do
		wait_for 10 grep -q "	CREATE	0	$T/w/$p\$" "$T/out" ||
			fail "no CREATE of $p: $(cat "$T/out")"
	done
}

@test "renamed directory: later records carry the new path, at any depth" {
	mkdir -p "$T/w/d/sub/deep"
	start_watch "$T/out" "$T/w"
	mv "$T/w/d" "$T/w/e"
	echo x > "$T/w/e/f"
	echo y > "$T/w/e/sub/deep/g"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$T/w/e/sub/deep/g\$" "$T/out"
	sed -n '/	MOVED_TO,ISDIR	/,$p' "$T/out" > "$T/after"
	run grep -c "	$T/w/d/" "$T/after"
	assert_output 0
	run grep -c "	CLOSE_WRITE,CLOSE	0	$T/w/e/f\$" "$T/after"
	assert_output 1
	run grep -E "	MOVED_FROM,ISDIR	[1-9][0-9]*	$T/w/d\$" "$T/out"
	assert_success
	cookie=$(awk -F'\t' '$2 == "MOVED_FROM,ISDIR" { print $3 }' "$T/out")
	run grep -E "	MOVED_TO,ISDIR	$cookie	$T/w/e\$" "$T/out"
	assert_success
}

@test "directory moved out: nothing below it is reported any more" {
	mkdir -p "$T/w/d/sub" "$T/outside"
	start_watch "$T/out" "$T/w"
	mv "$T/w/d" "$T/outside/d"
	touch "$T/outside/d/x" "$T/outside/d/sub/y"
	mkdir "$T/outside/d/newdir" && touch "$T/outside/d/newdir/z"
	sync_marker 1
	run grep -E "/(x|y|z|newdir)\$" "$T/out"
	assert_failure
	# poll sees it gone, and cannot tell where.
	[ "${IOBS_BACKEND:-}" = poll ] && return
	run grep -E "	MOVED_FROM,ISDIR	[0-9]+	$T/w/d\$" "$T/out"
	assert_success
}

@test "names with TAB, newline, backslash, invalid UTF-8, 255 bytes round-trip" {
	local names=($'tab\there' $'new\nline' 'back\slash' 'literal\n' \
		$'\xff\xfe-not-utf8' $'caf\xc3\xa9' '-leading dash' 'sp ace' \
		"$(printf 'x%.0s' $(seq 255))")
	start_watch "$T/out" "$T/w"
	for n in "${names[@]}"; do printf 1 > "$T/w/$n"; done
	sync_marker 1
	# Each record is one line: TAB and newline never leak into PATH.
	run awk -F'\t' '!/^#/ && NF != 4' "$T/out"
	assert_output ""
	streamcodec dec < "$T/out" | sort -zu > "$T/got"
	for n in "${names[@]}"; do printf '%s\0' "$T/w/$n"; done |
		sort -zu > "$T/want"
	run bash -c 'comm -z -23 "$0" "$1" | tr "\0" "\n" | cat -v' \
		"$T/want" "$T/got"
	assert_output ""
}

@test "symlinks are reported, never followed" {
	mkdir "$T/outside"
	ln -s "$T/outside" "$T/w/early-link"
	start_watch "$T/out" "$T/w"
	ln -s "$T/outside" "$T/w/link"
	touch "$T/outside/f"
	sync_marker 1
	run grep -c "	CREATE	0	$T/w/link\$" "$T/out"
	assert_output 1
	run grep -E "outside|/f\$" "$T/out"
	assert_failure
}

@test "-x, --exclude-glob prunes names at any depth and anchored paths" {
	mkdir -p "$T/w/.git/objects" "$T/w/sub/skip" "$T/w/other/skip"
	start_watch "$T/out" "$T/w" --exclude-glob .git -x '*.tmp' -x sub/skip
	touch "$T/w/.git/objects/o" "$T/w/a.tmp" "$T/w/sub/skip/s" \
		"$T/w/other/skip/kept" "$T/w/b.txt"
	mkdir -p "$T/w/new/.git" && touch "$T/w/new/.git/n"
	sync_marker 1
	run grep -E "\.git|\.tmp|/s\$|/n\$" "$T/out"
	assert_failure
	run grep -c "	CREATE	0	$T/w/\(b.txt\|other/skip/kept\)\$" "$T/out"
	assert_output 2
}

@test "-e selects events; lifecycle records always come" {
	# d exists first: a file written in a directory made after the
	# start may beat its watch, and the walk would report it as a
	# CREATE, which -e close_write leaves out (see CAVEATS).
	mkdir "$T/w/d"
	start_watch "$T/out" -e close_write "$T/w"
	echo x > "$T/w/f"
	mkdir "$T/w/e"
	echo y > "$T/w/d/g"
	wait_for 10 grep -q "$T/w/d/g\$" "$T/out"
	run awk -F'\t' '!/^#/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
CLOSE_WRITE,CLOSE
CLOSE_WRITE,CLOSE"
}

@test "-n watches the roots only" {
	mkdir "$T/w/sub"
	start_watch "$T/out" -n "$T/w"
	touch "$T/w/sub/deep" "$T/w/top"
	wait_for 10 grep -q "$T/w/top\$" "$T/out"
	run grep "/deep\$" "$T/out"
	assert_failure
}

# Directories the watcher opened while the spy watched, one per line.
opened_dirs() {
	awk -F'\t' '$2 == "OPEN,ISDIR" { print $4 }' "$1" | sort -u
}

@test "set-up on tmpfs or ext4 opens no directory without subdirectories" {
	not_on fanotify poll "the inotify backend's walk"
	case $(stat -f -c %T "$T") in
	tmpfs|ext2/ext3) ;;
	*) skip "link counts are trusted on tmpfs and ext4 only" ;;
	esac
	mkdir -p "$T/w/a/l1" "$T/w/a/l2" "$T/w/b"
	start_watch "$T/spy" --backend=inotify -e open "$T/w"
	start_watch "$T/out" --backend=inotify "$T/w"
	touch "$T/w/.m1"
	wait_for 10 grep -q "/.m1\$" "$T/spy"
	run opened_dirs "$T/spy"
	assert_output "$(printf '%s\n' "$T/w" "$T/w/a")"
	# --noleaf lists them all, as on a file system that miscounts.
	start_watch "$T/out2" --backend=inotify --noleaf "$T/w"
	touch "$T/w/.m2"
	wait_for 10 grep -q "/.m2\$" "$T/spy"
	run opened_dirs "$T/spy"
	assert_output "$(printf '%s\n' "$T/w" "$T/w/a" "$T/w/a/l1" "$T/w/a/l2" \
	    "$T/w/b")"
}

# Leaves are watched without a listing by default, and with one but
# completed from their parent with --noleaf: either way, fully.
@test "directories without subdirectories report every event in them" {
	not_on poll "a scan sees no reads"
	local opt f
	mkdir -p "$T/w/a/leaf" "$T/w/b"
	echo x > "$T/w/a/leaf/f"
	echo y > "$T/w/b/g"
	for opt in -q --noleaf; do
		start_watch "$T/out$opt" "$opt" -e all "$T/w"
		cat "$T/w/a/leaf/f" "$T/w/b/g" > /dev/null
		mkdir "$T/w/a/leaf/new$opt"
		wait_for 10 grep -q "	CREATE,ISDIR	0	$T/w/a/leaf/new$opt\$" "$T/out$opt"
		touch "$T/w/a/leaf/new$opt/h"
		wait_for 10 grep -q "	CREATE	0	$T/w/a/leaf/new$opt/h\$" "$T/out$opt"
		for f in a/leaf/f b/g; do
			run grep -c -E "	(OPEN|ACCESS|CLOSE_NOWRITE,CLOSE)	0	$T/w/$f\$" "$T/out$opt"
			assert_output 3
		done
		stop_pid "$WATCH_PID"
	done
}

@test "a root path longer than 255 bytes: records carry it whole" {
	local long
	long=$T/$(printf 'x%.0s' $(seq 200))/$(printf 'y%.0s' $(seq 200))
	mkdir -p "$long/sub"
	start_watch "$T/out" "$long"
	mv "$long/sub" "$long/renamed"
	touch "$long/renamed/f"
	wait_for 10 grep -q "	CREATE	0	$long/renamed/f\$" "$T/out"
}

@test "a directory moved from one root to another goes on with the second" {
	mkdir -p "$T/w/d/sub" "$T/v"
	start_watch "$T/out" "$T/w" "$T/v"
	mv "$T/w/d" "$T/v/d"
	wait_for 10 grep -q "	MOVED_TO,ISDIR	[0-9]*	$T/v/d\$" "$T/out"
	rm -rf "$T/w"
	wait_for 10 grep -q "	WATCH_DEAD	0	$T/w\$" "$T/out"
	touch "$T/v/d/sub/f"
	wait_for 10 grep -q "	CREATE	0	$T/v/d/sub/f\$" "$T/out"
	rm -rf "$T/v"
	wait_for 10 grep -q "	WATCH_DEAD	0	$T/v\$" "$T/out"
	wait "$WATCH_PID"
}

@test "set-up of a tree larger than the kernel queue: no OVERFLOW" {
	local max opt n=0
	max=$(cat /proc/sys/fs/inotify/max_queued_events)
	# Listing a directory queues several events of its own.
	(cd "$T/w" && seq -f 'd%.0f' 1 $((max / 4)) | xargs mkdir)
	for opt in --noleaf -q; do
		n=$((n + 1))
		start_watch "$T/out$n" "$opt" "$T/w"
		touch "$T/w/.marker$n"
		wait_for 10 grep -q "/.marker$n\$" "$T/out$n"
		run grep -c OVERFLOW "$T/out$n"
		assert_output 0
		touch "$T/w/d1/inside$n"
		wait_for 10 grep -q "	CREATE	0	$T/w/d1/inside$n\$" "$T/out$n"
	done
}

@test "a reader paused while 200,000 events happen loses nothing" {
	skip_valgrind "200,000 events outrun the kernel queue at its pace"
	mkfifo "$T/fifo"
	# On one CPU, the writer below and the watcher.
	taskset -c 0 iobs-watch -e all "$T/w" > "$T/fifo" 2> "$T/err" 3>&- &
	BG_PIDS+=($!)
	cat "$T/fifo" > "$T/out" 3>&- &
	local reader=$!
	BG_PIDS+=($reader)
	wait_for 10 grep -q WATCH_INIT "$T/out"
	kill -STOP "$reader"
	# CREATE, OPEN, ATTRIB, CLOSE_WRITE: four events per file. The
	# writer yields to the watcher, on the same CPU: a loaded machine
	# must not starve it into a kernel queue overflow, which is not
	# what this tests.
	(cd "$T/w" && seq -f 'f%.0f' 1 50000 |
	    taskset -c 0 nice -n 19 xargs touch)
	kill -CONT "$reader"
	wait_for 60 has_lines "$T/out" "	CLOSE_WRITE,CLOSE	0	$T/w/f" 50000 ||
		fail "$(grep -c OVERFLOW "$T/out") OVERFLOW records"
	run grep -c "	CREATE	0	$T/w/f" "$T/out"
	assert_output 50000
	run grep -c OVERFLOW "$T/out"
	assert_output 0
}

@test "a reader slower than --buffer: OVERFLOW, then a fresh WATCH_INIT" {
	mkfifo "$T/fifo"
	iobs-watch --buffer 64K "$T/w" > "$T/fifo" 2> "$T/err" 3>&- &
	BG_PIDS+=($!)
	cat "$T/fifo" > "$T/out" 3>&- &
	local reader=$!
	BG_PIDS+=($reader)
	wait_for 10 grep -q WATCH_INIT "$T/out"
	kill -STOP "$reader"
	(cd "$T/w" && seq -f 'f%.0f' 1 5000 | xargs touch)
	mkdir "$T/w/made-meanwhile"
	kill -CONT "$reader"
	wait_for 20 has_lines "$T/out" "	WATCH_INIT	" 2
	run awk -F'\t' '$2 ~ /OVERFLOW|WATCH_INIT/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
OVERFLOW
WATCH_INIT"
	touch "$T/w/made-meanwhile/after"
	wait_for 10 grep -q "	CREATE	0	$T/w/made-meanwhile/after\$" "$T/out"
	assert_file_contains "$T/err" "output buffer full"
}

@test "--buffer full while the reader keeps up: OVERFLOW, rescan at once, WATCH_INIT" {
	mkfifo "$T/fifo"
	iobs-watch --buffer 4K "$T/w" > "$T/fifo" 2> "$T/err" 3>&- &
	local watcher=$!
	BG_PIDS+=($watcher)
	cat "$T/fifo" > "$T/out" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 grep -q WATCH_INIT "$T/out"
	# Read at once, the queue makes more than 4K of records: the
	# buffer overflows, and the pipe takes all of it right away, so
	# nothing is left to wait for but the rescan.
	kill -STOP "$watcher"
	(cd "$T/w" && seq -f 'f%.0f' 1 500 | xargs touch)
	mkdir "$T/w/made-meanwhile"
	kill -CONT "$watcher"
	wait_for 10 has_lines "$T/out" "	WATCH_INIT	" 2
	run awk -F'\t' '$2 ~ /OVERFLOW|WATCH_INIT/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
OVERFLOW
WATCH_INIT"
	touch "$T/w/made-meanwhile/after"
	wait_for 10 grep -q "	CREATE	0	$T/w/made-meanwhile/after\$" "$T/out"
}

@test "the watcher paused past max_queued_events: OVERFLOW, rescan, WATCH_INIT" {
	# fanotify's queue is unlimited; poll has none.
	[ "${IOBS_BACKEND:-}" = inotify ] || skip "inotify's queue only"
	local max
	max=$(cat /proc/sys/fs/inotify/max_queued_events)
	start_watch "$T/out" -e all "$T/w"
	kill -STOP "$WATCH_PID"
	(cd "$T/w" && seq -f 'g%.0f' 1 $((max / 4 + 100)) | xargs touch)
	mkdir "$T/w/made-meanwhile"
	kill -CONT "$WATCH_PID"
	wait_for 20 has_lines "$T/out" "	WATCH_INIT	" 2
	run awk -F'\t' '$2 ~ /OVERFLOW|WATCH_INIT/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
OVERFLOW
WATCH_INIT"
	touch "$T/w/made-meanwhile/after"
	wait_for 10 grep -q "	CREATE	0	$T/w/made-meanwhile/after\$" "$T/out"
}

@test "--stats-fd: the events written and the time of the last, once a second" {
	iobs-watch --stats-fd=5 "$T/w" > "$T/out" 5> "$T/stats" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 has_lines "$T/out" $'\tWATCH_INIT\t' 1
	touch "$T/w/a" "$T/w/b"
	wait_for 10 has_lines "$T/out" $'\tCLOSE_WRITE,CLOSE\t0\t'"$T/w/b\$" 1
	n=$(grep -vc '^#' "$T/out")
	wait_for 5 grep -qE "^$((n - 1)) [0-9]+\.[0-9]{6}\$" "$T/stats"
	# The time is that of the last record.
	last=$(tail -1 "$T/out" | cut -f1)
	assert_equal "$(tail -1 "$T/stats" | cut -d' ' -f2)" "$last"
	run -2 iobs-watch --stats-fd=2 "$T/w"
	assert_output --partial "--stats-fd 2"
}

@test "a directory made just before its parent is renamed is watched under the new path" {
	mkdir "$T/w/p"
	start_watch "$T/out" "$T/w"
	sync_marker 1
	# Stopped, the watcher reads the three events at once: c's path
	# is gone when it adds c's watch.
	kill -STOP "$WATCH_PID"
	mkdir "$T/w/p/c"
	mv "$T/w/p" "$T/w/q"
	kill -CONT "$WATCH_PID"
	sync_marker 2
	touch "$T/w/q/c/f"
	wait_for 10 grep -q "	CREATE	0	$T/w/q/c/f\$" "$T/out"
}

# mount_below TYPE DIR: a tmpfs, or a loop ext4 (mkfs.ext4 on a file),
# mounted on DIR, unmounted at teardown if the test did not.
mount_below() {
	[ "$(id -u)" -eq 0 ] || skip "mounting needs root"
	mkdir -p "$2"
	case $1 in
	tmpfs) mount -t tmpfs none "$2" ;;
	ext4)
		command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed"
		truncate -s 16M "$T/ext4.img"
		mkfs.ext4 -q -F "$T/ext4.img"
		mount -o loop "$T/ext4.img" "$2" || skip "no loop device here" ;;
	esac
	MOUNTED+=("$2")
}

teardown() {
	local m
	for m in "${MOUNTED[@]}"; do umount -l "$m" 2>/dev/null || true; done
	common_teardown
}

# mounted_then_unmounted TYPE WHEN: a file system mounted inside the
# root before the start or after it is watched: a file written in it,
# and in a directory made in it, is reported; its unmount is reported,
# and the directory it covered is watched again.
mounted_then_unmounted() {
	mkdir -p "$T/w/m"
	echo covered > "$T/w/m/under"
	[ "$2" = after ] || { mount_below "$1" "$T/w/m"; mkdir "$T/w/m/d"; }
	start_watch "$T/out" "$T/w"
	if [ "$2" = after ]; then
		mount_below "$1" "$T/w/m"
		# Its tree comes as moved in; poll's scan finds m replaced.
		wait_for 10 grep -qE "	(MOVED_TO|CREATE),ISDIR	0	$T/w/m\$" "$T/out"
		mkdir "$T/w/m/d"
	fi
	sync_marker 1
	echo one > "$T/w/m/f"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$T/w/m/f\$" "$T/out"
	sleep 0.3	# poll: d's first scan must see it empty
	echo two > "$T/w/m/d/g"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$T/w/m/d/g\$" "$T/out"
	umount "$T/w/m"
	wait_for 10 grep -q "	UNMOUNT,ISDIR	0	$T/w/m\$" "$T/out"
	# What the mount covered is there again, and watched.
	echo again >> "$T/w/m/under"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$T/w/m/under\$" "$T/out"
	run grep -c "UNMOUNT" "$T/out"
	assert_output 1
	kill -0 "$WATCH_PID"
}

@test "a tmpfs mounted inside the root before start: written to, unmounted" {
	mounted_then_unmounted tmpfs before
}

@test "a tmpfs mounted inside the root after start: written to, unmounted" {
	mounted_then_unmounted tmpfs after
}

@test "a loop ext4 mounted inside the root before start: written to, unmounted" {
	mounted_then_unmounted ext4 before
}

@test "a loop ext4 mounted inside the root after start: written to, unmounted" {
	mounted_then_unmounted ext4 after
}

@test "a mount the backend cannot see: one line at start" {
	not_on inotify poll "fanotify's marks"
	[ "$(id -u)" -eq 0 ] || skip "mounting needs root"
	mkdir -p "$T/w/p" "$T/w/q"
	mount -t proc proc "$T/w/p" && MOUNTED+=("$T/w/p")
	mount -t tmpfs none "$T/w/q" && MOUNTED+=("$T/w/q")
	start_watch "$T/out" "$T/w"
	run cat "$T/out.err"
	assert_output --regexp "^iobs-watch: fanotify cannot see 1 mount below the roots: $T/w/p \\(proc: [^)]+\\)\$"
	touch "$T/w/q/seen"
	wait_for 10 grep -q "	CREATE	0	$T/w/q/seen\$" "$T/out"
}

@test "--rescan: a file written through a mapping kept open is reported" {
	printf '%64s\n' old > "$T/w/db"
	# The same without --rescan: the kernel says nothing of it.
	[ "${IOBS_BACKEND:-auto}" = poll ] ||
		{ iobs-watch "$T/w" > "$T/plain" 3>&- & BG_PIDS+=($!); }
	[ "${IOBS_BACKEND:-auto}" = poll ] ||
		wait_for 10 grep -q "WATCH_INIT" "$T/plain"
	start_watch "$T/out" --rescan=0.2 "$T/w"
	coproc MAP { mmapwrite "$T/w/db" new 3>&-; }
	BG_PIDS+=("$MAP_PID")
	read -r line <&"${MAP[0]}"
	[ "$line" = written ]
	wait_for 10 grep -q "	MODIFY	0	$T/w/db\$" "$T/out"
	if [ "${IOBS_BACKEND:-auto}" != poll ]; then
		sync_marker 1
		touch "$T/w/.marker2"
		wait_for 10 grep -q "/.marker2\$" "$T/plain"
		run grep -E "	(MODIFY|CLOSE_WRITE)[^	]*	0	$T/w/db\$" "$T/plain"
		assert_failure
	fi
	# Still mapped: nothing closed it.
	kill -0 "$MAP_PID"
	# The rescan's own listings of the directories are not reported.
	run grep "ISDIR" "$T/out"
	assert_failure
}
