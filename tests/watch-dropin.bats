#!/usr/bin/env bats
# iobs-watch as a drop-in for inotifywait and fsnotifywait: the real
# tools and iobs-watch under their names run side by side on the same
# changes, and must print the same lines, say the same on stderr and
# end with the same status. Then what they lack: the same lines on
# every backend, and a single-file root that is replaced.

load test_helper

setup() {
	common_setup
	command -v /usr/bin/inotifywait >/dev/null ||
	    skip "needs inotify-tools (apt-get install inotify-tools)"
	mkdir -p "$T/w/sub" "$T/ours"
	# Named as the tools, so that getopt(3) names them alike.
	ln -s "$IOBS_REAL_BIN/iobs-watch" "$T/ours/inotifywait"
	ln -s "$IOBS_REAL_BIN/iobs-watch" "$T/ours/fsnotifywait"
}

# launch WHO ARGS...: the real tool (WHO=real) or iobs-watch under its
# name (WHO=ours), from $T, in the background; $T/WHO.out, .err, .rc.
launch() {
	local who=$1 path=/usr/bin rc
	shift
	[ "$who" = ours ] && path=$T/ours
	rm -f "$T/$who.rc" "$T/$who.pid"
	(
		cd "$T" || exit
		PATH="$path:$PATH" "$@" >"$T/$who.out" 2>"$T/$who.err" 3>&- &
		echo $! > "$T/$who.pid"
		rc=0
		wait $! || rc=$?
		echo $rc > "$T/$who.rc"
	) 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -s "$T/$who.pid"
	BG_PIDS+=("$(cat "$T/$who.pid")")
}

# watching WHO: its watches are set: a mark or a watch per directory
# of the watched tree shows in /proc (-q prints nothing to wait on).
watching() {
	local pid n want=$NDIRS
	pid=$(cat "$T/$1.pid")
	[ -e "$T/$1.rc" ] && return 0
	n=$(cat /proc/"$pid"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:') || true
	grep -qs '^fanotify' /proc/"$pid"/fdinfo/* && n=$want
	# Non-recursive: a watch on the root is all there is.
	[ -n "$RECURSIVE" ] || want=1
	[ "$n" -ge "$want" ] || return 1
	# And, unless -q or -s, the words that say so.
	[ -n "$SILENT" ] || grep -q '^Watches established\.$' "$T/$1.err"
}

# both TOOL ARGS...: the real TOOL and ours with ARGS, each once its
# watches are set.
both() {
	local a
	RECURSIVE= SILENT=
	for a in "$@"; do
		case $a in
		--*) ;;
		-*r*) RECURSIVE=1 ;;&
		-*[qs]*) SILENT=1 ;;
		esac
	done
	NDIRS=${WANT:-$(find "$T/w" -type d | wc -l)}
	launch real "$@"
	wait_for 10 watching real
	launch ours "$@"
	wait_for 10 watching ours
}

# ended: both have exited.
ended() {
	wait_for 10 test -e "$T/real.rc"
	wait_for 10 test -e "$T/ours.rc"
}

# stop: both killed, as a user stops a -m run.
stop() {
	local who
	for who in real ours; do
		[ -e "$T/$who.rc" ] || kill "$(cat "$T/$who.pid")"
	done
	ended
}

# seen PATTERN: both printed a line matching PATTERN.
seen() {
	wait_for 10 grep -qa -- "$1" "$T/real.out"
	wait_for 10 grep -qa -- "$1" "$T/ours.out"
}

# same: the same stdout, stderr and exit status.
same() {
	diff -u "$T/real.out" "$T/ours.out"
	diff -u "$T/real.err" "$T/ours.err"
	diff -u "$T/real.rc" "$T/ours.rc"
}

# refused ARGS...: both refuse ARGS with the same words and status.
refused() {
	local who path
	for who in real ours; do
		path=/usr/bin
		[ "$who" = ours ] && path=$T/ours
		(cd "$T" && PATH="$path:$PATH" "$@") >"$T/$who.out" \
		    2>"$T/$who.err" </dev/null && echo 0 >"$T/$who.rc" ||
		    echo $? >"$T/$who.rc"
	done
	same
	[ "$(cat "$T/ours.rc")" != 0 ]
}

@test "usage and option errors: inotifywait's words and exit 1" {
	refused inotifywait -x w
	refused inotifywait -e bogus w
	refused inotifywait -e create,nope w
	refused inotifywait -t soon w
	refused inotifywait -t '' w
	refused inotifywait
	refused inotifywait -d w
	refused inotifywait --exclude a --include b w
	refused inotifywait --exclude a --excludei b w
	refused inotifywait -c --format %w w
	refused inotifywait --format '%T' w
	refused inotifywait --timefmt %Y w
	refused inotifywait --no-newline w
	refused inotifywait --exclude '(' w
	refused inotifywait --filename w
	refused inotifywait -o a -o b w
	refused inotifywait nosuch
	refused inotifywait -r w nosuch
	refused fsnotifywait -x w
	refused fsnotifywait nosuch
}

@test "--compat=inotifywait: the same, under iobs-watch's own name" {
	run -1 iobs-watch --compat=inotifywait -x "$T/w"
	assert_output "inotifywait: invalid option -- 'x'"
	run -2 iobs-watch --compat=nosuchtool "$T/w"
	assert_output --partial "not a tool to act as"
	# Its own name keeps its own options and exit 2.
	run -2 iobs-watch -x
}

@test "one event and exit 0, without -m" {
	both inotifywait w
	touch "$T/w/a"
	ended
	same
	grep -qx 'w/ CREATE a' "$T/ours.out"
}

@test "-e close_write: the first close after a write, exit 0" {
	touch "$T/w/a"
	both inotifywait -e close_write w
	cat "$T/w/a" >/dev/null
	echo x > "$T/w/a"
	ended
	same
}

@test "-qq: nothing printed, exit 0 on the event" {
	both inotifywait -qq -e delete w
	touch "$T/w/a"
	rm "$T/w/a"
	ended
	same
	[ ! -s "$T/ours.out" ]
}

@test "-t: exit 2 when nothing comes in time, 0 on an event" {
	both inotifywait -t 1 w
	ended
	same
	assert_equal "$(cat "$T/ours.rc")" 2
	both inotifywait -t 10 -q -e create w
	touch "$T/w/now"
	ended
	same
	assert_equal "$(cat "$T/ours.rc")" 0
}

@test "-m: inotifywait's lines, not recursive without -r" {
	both inotifywait -m w
	touch "$T/w/a"
	echo x >> "$T/w/a"
	mv "$T/w/a" "$T/w/b"
	touch "$T/w/sub/below"
	mkdir "$T/w/d"
	rmdir "$T/w/d"
	rm "$T/w/b"
	touch "$T/w/end"
	seen 'CLOSE_WRITE,CLOSE end'
	stop
	same
	! grep -q below "$T/ours.out"
}

@test "-m -r: subdirectories too, and new ones" {
	mkdir "$T/w/sub/deep"
	both inotifywait -m -r -e create,modify,delete,moved_from,moved_to w
	touch "$T/w/sub/deep/a"
	mkdir "$T/w/new"
	seen 'CREATE,ISDIR new'
	# inotifywait watches a new directory only once it has seen it.
	wait_for 10 eval 'grep -q " wd:.*" /proc/$(cat "$T/real.pid")/fdinfo/* &&
	    [ "$(cat /proc/$(cat "$T/real.pid")/fdinfo/* | grep -c "^inotify wd:")" -gt $NDIRS ]'
	echo x > "$T/w/new/b"
	mv "$T/w/sub/deep/a" "$T/w/new/c"
	rm "$T/w/new/c"
	touch "$T/w/end"
	seen 'CREATE end'
	stop
	same
}

@test "-m -r --format '%w%f' -e create,moved_to: the README's loop" {
	both inotifywait -m -r -q -e create,moved_to --format '%w%f' w
	touch "$T/w/a" "$T/w/sub/b"
	mv "$T/w/a" "$T/w/sub/a2"
	touch "$T/w/end"
	seen 'w/end'
	stop
	same
}

@test "-c: CSV, quoted as inotifywait quotes" {
	both inotifywait -m -c w
	touch "$T/w/a b,c" "$T/w/ x\"y" "$T/w/plain"
	seen 'plain$'
	wait_for 10 eval '[ "$(grep -c plain "$T/ours.out")" = 4 ] &&
	    [ "$(grep -c plain "$T/real.out")" = 4 ]'
	stop
	same
	grep -qx 'w/,"CLOSE_WRITE,CLOSE","a b,c"' "$T/ours.out"
}

@test "-c on a file: the file, the events, an empty name" {
	echo x > "$T/w/f"
	both inotifywait -c -e modify w/f
	echo y >> "$T/w/f"
	ended
	same
}

@test "-d -o: a daemon writing to the file; -d implies syslog" {
	local p who
	# inotifywait -d wants the file made already: it takes its realpath.
	refused inotifywait -d -o nosuch.log w
	for who in real ours; do
		: > "$T/$who.log"
		p=/usr/bin
		[ $who = real ] || p=$T/ours
		# daemon(3) goes to /: the path is absolute.
		(cd "$T" && PATH="$p:$PATH" inotifywait -d -o "$who.log" \
		    -e create "$T/w") >"$T/$who.out" 2>"$T/$who.err"
		echo $? > "$T/$who.rc"
		# The daemon: the process whose command line names the log.
		wait_for 10 eval "pgrep -f 'inotifywait -d -o $who.log' >/dev/null"
		pgrep -f "inotifywait -d -o $who.log" > "$T/$who.pid"
		BG_PIDS+=($(cat "$T/$who.pid"))
		wait_for 10 eval "grep -qs '^inotify wd' /proc/$(cat "$T/$who.pid")/fdinfo/*"
	done
	# The tool behind the link, not inotify-tools'.
	[ "$(readlink /proc/"$(cat "$T/ours.pid")"/exe)" != /usr/bin/inotifywait ]
	touch "$T/w/a" "$T/w/b"
	wait_for 10 eval '[ "$(wc -l < "$T/real.log")" = 2 ]'
	wait_for 10 eval '[ "$(wc -l < "$T/ours.log")" = 2 ]'
	same
	diff -u "$T/real.log" "$T/ours.log"
	kill "$(cat "$T/real.pid")" "$(cat "$T/ours.pid")"
}

@test "-s: set-up messages to syslog, nothing on stderr" {
	both inotifywait -s -e create w
	touch "$T/w/a"
	ended
	same
	[ ! -s "$T/ours.err" ]
}

@test "--format: every escape, --timefmt, and what is no escape" {
	both inotifywait -m -e create,moved_from,moved_to --timefmt '%Y' \
	    --format '[%w|%f|%e|%:e|%T|%c|%%|%q|%p|%0|%n]%' w
	touch "$T/w/a"
	mv "$T/w/a" "$T/w/b"
	seen 'MOVED_TO|'
	stop
	same
	grep -qa "|$(date +%Y)|" "$T/ours.out"
	# The rename's cookie, in hex, the same in both lines.
	[ "$(grep -ac 'MOVED_.*|[1-9a-f][0-9a-f]*|%|' "$T/ours.out")" = 2 ]
}

@test "--format --no-newline, %0 between records" {
	both inotifywait -m -q -e create --format '%w%f%0' --no-newline w
	touch "$T/w/a" "$T/w/b"
	wait_for 10 eval 'grep -qa "w/b" "$T/real.out" && grep -qa "w/b" "$T/ours.out"'
	stop
	cmp "$T/real.out" "$T/ours.out"
	same
}

@test "--exclude and --excludei: POSIX extended regex on the whole path" {
	both inotifywait -m -q -r -e create --exclude '(^w/sub/|\.tmp$)' w
	touch "$T/w/a.tmp" "$T/w/sub/x" "$T/w/keep" "$T/w/end"
	seen 'CREATE end'
	stop
	same
	both inotifywait -m -q -e create --excludei '\.TMP$' w
	touch "$T/w/b.tmp" "$T/w/B.Tmp" "$T/w/keep2" "$T/w/end2"
	seen 'CREATE end2'
	stop
	same
}

@test "--include and --includei; only the last --exclude counts" {
	both inotifywait -m -q -e create --include 'w/k' w
	touch "$T/w/a" "$T/w/k1" "$T/w/k2"
	seen 'CREATE k2'
	stop
	same
	both inotifywait -m -e create --exclude 'k' --exclude 'a' w
	touch "$T/w/a" "$T/w/k3" "$T/w/k4"
	seen 'CREATE k4'
	stop
	same
	both inotifywait -m -q -e create --includei 'W/K' w
	touch "$T/w/b" "$T/w/k5"
	seen 'CREATE k5'
	stop
	same
}

@test "--fromfile with @ exclusions, and @ on the command line" {
	mkdir -p "$T/w/skip" "$T/w/keep"
	printf '%s\n' w @w/skip > "$T/list"
	WANT=3 both inotifywait -m -q -r -e create --fromfile list
	touch "$T/w/skip/no" "$T/w/keep/yes"
	seen 'CREATE yes'
	stop
	same
	WANT=3 both inotifywait -m -q -r -e create w @w/keep
	touch "$T/w/keep/no2" "$T/w/skip/yes2"
	seen 'CREATE yes2'
	stop
	same
}

@test "a single file: inotifywait's lines, no name" {
	echo x > "$T/w/f"
	both inotifywait -m w/f
	echo y >> "$T/w/f"
	cat "$T/w/f" > /dev/null
	chmod 600 "$T/w/f"
	seen 'ATTRIB'
	stop
	same
}

@test "an editor's save (sed -i) of a watched file, one-shot" {
	echo x > "$T/w/f"
	both inotifywait -e attrib w/f
	sed -i s/x/y/ "$T/w/f"
	ended
	same
	grep -qx 'w/f ATTRIB ' "$T/ours.out"
}

@test "an editor's save under -m: inotifywait's lines, then the new file" {
	echo x > "$T/w/f"
	both inotifywait -m -e attrib,delete_self,modify,moved_to,create w/f
	sed -i s/x/y/ "$T/w/f"
	seen 'DELETE_SELF'
	# inotifywait hears nothing more; iobs-watch follows the path.
	wait_for 10 grep -qx 'w/f MOVED_TO ' "$T/ours.out"
	echo more >> "$T/w/f"
	wait_for 10 grep -qx 'w/f MODIFY ' "$T/ours.out"
	stop
	head -n "$(wc -l < "$T/real.out")" "$T/ours.out" > "$T/ours.head"
	diff -u "$T/real.out" "$T/ours.head"
	printf '%s\n' 'w/f MOVED_TO ' 'w/f MODIFY ' > "$T/want"
	tail -n +"$(( $(wc -l < "$T/real.out") + 1 ))" "$T/ours.out" |
	    diff -u "$T/want" -
}

@test "a watched directory removed: inotifywait's exit 1, and why" {
	both inotifywait -e create w/sub
	rmdir "$T/w/sub"
	ended
	diff -u "$T/real.out" "$T/ours.out"
	diff -u "$T/real.rc" "$T/ours.rc"
	assert_equal "$(cat "$T/ours.rc")" 1
	# inotifywait exits without a word; this says why.
	grep -q 'the watched path is gone' "$T/ours.err"
}

@test "fsnotifywait -m: its absolute paths, on fanotify" {
	# Only what neither tool's own reads of the tree make.
	both fsnotifywait -q -m -e create,moved_from,moved_to,delete w
	mkdir "$T/w/n"
	seen 'CREATE,ISDIR n'
	mv "$T/w/n" "$T/w/m"
	seen 'MOVED_TO,ISDIR m'
	rmdir "$T/w/m"
	seen 'DELETE,ISDIR m'
	stop
	same
	grep -qx "$T/w/ CREATE,ISDIR n" "$T/ours.out"
}

@test "fsnotifywait: one event and exit; a file as its directory and name" {
	echo x > "$T/w/f"
	both fsnotifywait -q -e modify w/f
	echo y >> "$T/w/f"
	ended
	same
	grep -qx "$T/w/ MODIFY f" "$T/ours.out"
	both fsnotifywait -q -t 1 -e create w
	ended
	same
}

@test "fsnotifywait -I: inotify, inotifywait's lines" {
	both fsnotifywait -I -e create w
	touch "$T/w/a"
	ended
	same
}

# stream BACKEND ARGS...: iobs-watch's own stream on BACKEND, from $T,
# once its WATCH_INIT is out; $T/s.out.
stream() {
	local be=$1
	shift
	(cd "$T" && exec iobs-watch --backend "$be" --interval 0.2 "$@") \
	    >"$T/s.out" 2>"$T/s.err" 3>&- &
	BG_PIDS+=("$!")
	wait_for 10 grep -q 'WATCH_INIT' "$T/s.out"
}

# records: the events of the stream, without times.
records() {
	awk -F'\t' 'NF >= 4 && $2 !~ /^WATCH_/ { print $2 "\t" $4 }' "$T/s.out"
}

# replaced BACKEND: a file root saved by sed -i, deleted and made again,
# renamed over: followed by its path, each said as it happened, then
# its writes.
replaced() {
	echo x > "$T/w/f"
	stream "$1" -e close_write,moved_to,create,modify w/f
	sed -i s/x/y/ "$T/w/f"
	wait_for 10 grep -q "MOVED_TO.*$T/w/f\$" "$T/s.out"
	echo more >> "$T/w/f"
	wait_for 10 grep -q "CLOSE_WRITE.*$T/w/f\$" "$T/s.out"
	rm "$T/w/f"
	# Made again without a write of its own (a link): CREATE alone.
	: > "$T/spare"
	ln "$T/spare" "$T/w/f"
	wait_for 10 grep -q "CREATE.*$T/w/f\$" "$T/s.out"
	echo again >> "$T/w/f"
	wait_for 10 eval '[ "$(grep -c CLOSE_WRITE "$T/s.out")" = 2 ]'
	echo z > "$T/w/g"
	mv "$T/w/g" "$T/w/f"
	wait_for 10 eval '[ "$(grep -c MOVED_TO "$T/s.out")" = 2 ]'
	echo last >> "$T/w/f"
	wait_for 10 eval '[ "$(grep -c CLOSE_WRITE "$T/s.out")" = 3 ]'
	# Still running: never a silent exit.
	running "${BG_PIDS[-1]}"
	records | grep -v '	.*/g$' > "$T/got"
	printf '%s\t%s\n' MOVED_TO "$T/w/f" MODIFY "$T/w/f" \
	    CLOSE_WRITE,CLOSE "$T/w/f" CREATE "$T/w/f" MODIFY "$T/w/f" \
	    CLOSE_WRITE,CLOSE "$T/w/f" MOVED_TO "$T/w/f" MODIFY "$T/w/f" \
	    CLOSE_WRITE,CLOSE "$T/w/f" > "$T/want"
	diff -u "$T/want" "$T/got"
}

@test "a replaced single-file root is followed: inotify" {
	replaced inotify
}

@test "a replaced single-file root is followed: fanotify" {
	replaced fanotify
}

@test "a replaced single-file root is followed: poll" {
	replaced poll
}

# selfattr BACKEND: touch on a subdirectory, in -m lines and the stream.
selfattr() {
	mkdir -p "$T/w/d9/sub"
	(cd "$T/w" && exec iobs-watch --backend "$1" --interval 0.2 -m \
	    -e attrib d9) >"$T/m.out" 2>"$T/m.err" 3>&- &
	BG_PIDS+=("$!")
	stream "$1" -e attrib w/d9
	wait_for 10 grep -q '^Watches established' "$T/m.err"
	touch "$T/w/d9/sub"
	wait_for 10 grep -q 'sub' "$T/m.out"
	wait_for 10 grep -q 'sub$' "$T/s.out"
	# What inotifywait prints, on every backend.
	assert_equal "$(cat "$T/m.out")" "d9/ ATTRIB,ISDIR sub"
	assert_equal "$(records)" "ATTRIB,ISDIR	$T/w/d9/sub"
}

@test "a subdirectory's own ATTRIB: the same lines on inotify" {
	selfattr inotify
}

@test "a subdirectory's own ATTRIB: the same lines on fanotify" {
	selfattr fanotify
}

@test "a subdirectory's own ATTRIB: the same lines on poll" {
	selfattr poll
}

@test "-m -r: a subdirectory's own events, from it and its parent" {
	# Not open: each tool's set-up walk opens the other's directories.
	both inotifywait -m -r -e attrib w
	touch "$T/w/sub"
	chmod 700 "$T/w/sub"
	wait_for 10 eval '[ "$(wc -l < "$T/real.out")" = 4 ]'
	wait_for 10 eval '[ "$(wc -l < "$T/ours.out")" = 4 ]'
	stop
	same
	grep -qx 'w/sub/ ATTRIB,ISDIR ' "$T/ours.out"
}

@test "-m -r: a subdirectory deleted and one renamed, as its own watch says" {
	mkdir "$T/w/a" "$T/w/b"
	both inotifywait -m -r -e delete,delete_self,move,move_self w
	rmdir "$T/w/a"
	mv "$T/w/b" "$T/w/c"
	seen 'MOVE_SELF'
	stop
	same
	grep -qx 'w/a/ DELETE_SELF ' "$T/ours.out"
}

@test "make install: iobs-inotifywait and iobs-fsnotifywait; the plain names only with COMPAT_LINKS=1" {
	local repo=$BATS_TEST_DIRNAME/..
	make -s -C "$repo" -o all install BIN="$IOBS_REAL_BIN" \
	    PREFIX="$T/root/usr" SYSCONFDIR="$T/root/etc"
	assert_equal "$(readlink "$T/root/usr/bin/iobs-inotifywait")" iobs-watch
	assert_equal "$(readlink "$T/root/usr/bin/iobs-fsnotifywait")" iobs-watch
	[ ! -e "$T/root/usr/bin/inotifywait" ]
	[ ! -e "$T/root/usr/bin/fsnotifywait" ]
	# Under the link's name, inotifywait's words.
	run -1 "$T/root/usr/bin/iobs-inotifywait"
	assert_output "No files specified to watch!"
	make -s -C "$repo" -o all install BIN="$IOBS_REAL_BIN" \
	    PREFIX="$T/root/usr" SYSCONFDIR="$T/root/etc" COMPAT_LINKS=1
	assert_equal "$(readlink "$T/root/usr/bin/inotifywait")" iobs-watch
	assert_equal "$(readlink "$T/root/usr/bin/fsnotifywait")" iobs-watch
	make -s -C "$repo" -o all uninstall BIN="$IOBS_REAL_BIN" \
	    PREFIX="$T/root/usr" SYSCONFDIR="$T/root/etc"
	run ls "$T/root/usr/bin"
	assert_output ""
}
