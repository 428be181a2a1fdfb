#!/usr/bin/env bats
# inotifywait's monitor options in iobs-watch: -m -r -q -t -o -1,
# --format and --timefmt, --fromfile, --exclude and --include; then
# inotifywait and iobs-watch side by side: the ten most common
# inotifywait monitor command lines, collected from its man page and
# public scripts, run with each command's name, on the same changes;
# their outputs compared line for line.

load test_helper

setup() {
	common_setup
	mkdir "$T/w"
}

# bg OUT ARGS...: iobs-watch ARGS in the background, from $T, stdout to
# OUT and stderr to OUT.err; BG is its pid.
bg() {
	local out=$1
	shift
	(cd "$T" && exec iobs-watch "$@") >"$out" 2>"$out.err" 3>&- &
	BG=$!
	BG_PIDS+=("$BG")
}

# established OUT: the watches of a -m or --format run are set.
established() {
	wait_for 10 grep -q '^Watches established\.$' "$1.err"
}

# assert_exit PID STATUS: PID ends (bounded wait) with STATUS.
assert_exit() {
	local rc=0
	wait_for 10 eval "! running $1"
	wait "$1" || rc=$?
	assert_equal "$rc" "$2"
}

# start_json OUT ARGS...: iobs-watch --json ARGS, once its WATCH_INIT is out.
start_json() {
	local out=$1
	shift
	bg "$out" --json "$@"
	wait_for 10 grep -q '"events":\["WATCH_INIT"\]' "$out"
}

@test "--json with --format: usage error, exit 2" {
	run -2 iobs-watch --json --format '%w' "$T/w"
	assert_output --partial "--json and --format"
}

@test "--timefmt or --no-newline without --format: exit 2" {
	run -2 iobs-watch --timefmt '%F' "$T/w"
	assert_output --partial "--timefmt without --format"
	run -2 iobs-watch --no-newline "$T/w"
	assert_output --partial "--no-newline without --format"
}

@test "--format: %T without --timefmt, a lone %, empty: exit 2" {
	run -2 iobs-watch --format '%T %w' "$T/w"
	assert_output --partial "%T without --timefmt"
	run -2 iobs-watch --format '%w%' "$T/w"
	assert_output --partial "a lone % at the end"
	run -2 iobs-watch --format '' "$T/w"
	assert_output --partial "empty format"
}

@test "a bad regular expression: exit 2, names option and pattern" {
	run -2 iobs-watch --exclude '(' "$T/w"
	assert_output --partial "--exclude (: "
	run -2 iobs-watch --includei 'a[' "$T/w"
	assert_output --partial "--includei a[: "
}

@test "-t not a number: exit 2" {
	run -2 iobs-watch -t soon "$T/w"
	assert_output --partial "-t soon"
	run -2 iobs-watch -t -1 "$T/w"
}

@test "--fromfile missing: exit 1; no paths anywhere: usage, exit 2" {
	run -1 iobs-watch --fromfile "$T/nope"
	assert_output --partial "--fromfile $T/nope"
	: > "$T/empty"
	run -2 iobs-watch --fromfile "$T/empty"
	assert_output --partial "usage:"
	run -2 iobs-watch "@$T/w"
	assert_output --partial "usage:"
}

@test "-o in a missing directory: exit 1, names it" {
	run -1 iobs-watch -o "$T/no/such" "$T/w"
	assert_output --partial "-o $T/no/such"
}

@test "-m -r: inotifywait's lines and its set-up messages" {
	mkdir "$T/w/sub"
	bg "$T/out" -m -r -e create,delete,close_write w
	established "$T/out"
	touch "$T/w/a" "$T/w/sub/b"
	rm "$T/w/a"
	mkdir "$T/w/sub/d"
	wait_for 10 grep -q 'CREATE,ISDIR d$' "$T/out"
	cat > "$T/want" <<'EOF2'
w/ CREATE a
w/ CLOSE_WRITE,CLOSE a
w/sub/ CREATE b
w/sub/ CLOSE_WRITE,CLOSE b
w/ DELETE a
w/sub/ CREATE,ISDIR d
EOF2
	diff -u "$T/want" "$T/out"
	printf '%s\n' 'Setting up watches.  Beware: since -r was given, this may take a while!' \
	    'Watches established.' > "$T/want.err"
	diff -u "$T/want.err" "$T/out.err"
}

@test "-q: no set-up messages; -qq: no records either" {
	start_json "$T/json" w
	bg "$T/out" -m -q w
	bg "$T/out2" -qq -1 -e create w
	local pid2=$BG
	# Files made until both have seen one (-qq shows it by exiting).
	wait_for 10 eval 'touch "$T/w/f$((++n))"; grep -q "w/ CREATE f" \
	    "$T/out" && ! running $pid2'
	run cat "$T/out.err"
	assert_output ""
	assert_exit "$pid2" 0
	run cat "$T/out2" "$T/out2.err"
	assert_output ""
}

@test "--format: every conversion as inotifywait prints it" {
	start_json "$T/json" w
	bg "$T/out" -e create,move --timefmt '%Y' --format '[%w|%f|%e|%:e|%T|%c|%%|%q|%0|%n]' w
	established "$T/out"
	mkdir "$T/w/dir"
	mv "$T/w/dir" "$T/w/dir2"
	wait_for 10 grep -q 'dir2' "$T/out"
	wait_for 10 grep -q 'dir2' "$T/json"
	local y cookie
	y=$(date +%Y)
	# %c is the cookie in hex; --json gives it in decimal.
	cookie=$(printf '%x' "$(jq -r 'select(.events[0] == "MOVED_TO") | .cookie' "$T/json")")
	[ "$cookie" != 0 ]
	{
	printf '[w/|dir|CREATE,ISDIR|CREATE:ISDIR|%s|0|%%|%%q|\0|\n]\n' "$y"
	printf '[w/|dir|MOVED_FROM,ISDIR|MOVED_FROM:ISDIR|%s|%s|%%|%%q|\0|\n]\n' "$y" "$cookie"
	printf '[w/|dir2|MOVED_TO,ISDIR|MOVED_TO:ISDIR|%s|%s|%%|%%q|\0|\n]\n' "$y" "$cookie"
	} > "$T/want"
	cmp "$T/want" "$T/out"
}

@test "--format %p: who made the change, 0 where unknown; %pe is still %Xe" {
	bg "$T/ino" --backend=inotify -e create --format '%f|%p|%pe' w
	established "$T/ino"
	if [ "$(id -u)" = 0 ]; then
		bg "$T/fan" --backend=fanotify -e create --format '%f|%p|%pe' w
		established "$T/fan"
	fi
	mkfifo "$T/go"
	sh -c 'read x < "$0"; exec mkdir "$1"' "$T/go" "$T/w/d" 3>&- &
	local maker=$!
	BG_PIDS+=($maker)
	echo > "$T/go"
	wait_for 10 grep -q '^d|' "$T/ino"
	run cat "$T/ino"
	assert_output "d|0|CREATEpISDIR"
	[ "$(id -u)" = 0 ] || return 0
	wait_for 10 grep -q '^d|' "$T/fan"
	run cat "$T/fan"
	assert_output "d|$maker|CREATEpISDIR"
}

@test "--format %w: the root as spelled, a file root whole, %f empty on it" {
	mkdir "$T/w/sub"
	: > "$T/file"
	bg "$T/out" -e create,attrib --format '%w|%f;' --no-newline \
	    ./w//sub file
	established "$T/out"
	touch "$T/w/sub/a"
	chmod 600 "$T/file"
	chmod 700 "$T/w/sub"
	wait_for 10 grep -q 'sub/|;$' "$T/out"
	run cat "$T/out"
	assert_output './w//sub/|a;./w//sub/|a;file|;./w//sub/|;'
}

@test "--exclude, --excludei, --include, --includei: regexes on %w%f" {
	mkdir "$T/w/.git"
	bg "$T/ex" -m -e create --exclude '\.swp$' --excludei '^w/\.GIT/' w
	bg "$T/in" -m -e create --includei '\.TXT$' w
	established "$T/ex"
	established "$T/in"
	touch "$T/w/a.swp" "$T/w/.git/index" "$T/w/b.txt" "$T/w/c.c" \
	    "$T/w/d.swp.txt"
	touch "$T/w/zz"
	wait_for 10 grep -q 'zz' "$T/ex"
	printf '%s\n' 'w/ CREATE b.txt' 'w/ CREATE c.c' 'w/ CREATE d.swp.txt' \
	    'w/ CREATE zz' > "$T/want"
	diff -u "$T/want" "$T/ex"
	wait_for 10 grep -q 'd.swp.txt' "$T/in"
	printf '%s\n' 'w/ CREATE b.txt' 'w/ CREATE d.swp.txt' > "$T/want"
	diff -u "$T/want" "$T/in"
}

@test "--fromfile and @ operands: paths to watch, @ excludes below" {
	mkdir -p "$T/w/keep" "$T/w/skip/deep" "$T/v" "$T/u"
	printf '%s\n' w '' '@' '@w/skip' "$T/v" > "$T/list"
	bg "$T/out" -m -e create --fromfile list u @u/x
	established "$T/out"
	touch "$T/w/keep/a" "$T/w/skip/b" "$T/w/skip/deep/c" "$T/v/d" \
	    "$T/u/e"
	mkdir "$T/u/x" && touch "$T/u/x/f"
	touch "$T/u/zz"
	wait_for 10 grep -q 'zz' "$T/out"
	sort "$T/out" > "$T/got"
	printf '%s\n' "$T/v/ CREATE d" 'u/ CREATE e' 'u/ CREATE zz' \
	    'w/keep/ CREATE a' | sort > "$T/want"
	diff -u "$T/want" "$T/got"
}

@test "--fromfile -: the paths from standard input" {
	echo "$T/w" | iobs-watch -1 -e create --format '%f' --fromfile - \
	    > "$T/out" 2>"$T/out.err" 3>&- &
	BG_PIDS+=($!)
	local pid=$!
	established "$T/out"
	touch "$T/w/x"
	assert_exit "$pid" 0
	run cat "$T/out"
	assert_output x
}

@test "-o: records appended to the file, made 0600" {
	echo old > "$T/log"
	bg "$T/out" -m -o "$T/log" -e create w
	established "$T/out"
	touch "$T/w/a"
	wait_for 10 grep -q 'CREATE a' "$T/log"
	printf '%s\n' old 'w/ CREATE a' > "$T/want"
	diff -u "$T/want" "$T/log"
	run cat "$T/out"
	assert_output ""
	rm "$T/log"
	bg "$T/out2" -o "$T/log" -m w
	established "$T/out2"
	run stat -c %a "$T/log"
	assert_output 600
}

@test "-1: one event and out, exit 0, as grep -m1 would want" {
	: > "$T/w/f"
	# The stream ends after that one record, with WATCH_DEAD.
	bg "$T/out" -1 -e close_write w/f
	wait_for 10 grep -q '	WATCH_INIT	' "$T/out"
	echo x > "$T/w/f"
	echo y > "$T/w/f"
	assert_exit "$BG" 0
	run awk -F'\t' '!/^#/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
CLOSE_WRITE,CLOSE
WATCH_DEAD"
}

@test "-1 passes over what the filters leave out" {
	bg "$T/out" -1 -m -e create --exclude 'skip' w
	established "$T/out"
	touch "$T/w/skip1" "$T/w/skip2" "$T/w/take" "$T/w/later"
	assert_exit "$BG" 0
	run cat "$T/out"
	assert_output "w/ CREATE take"
}

@test "-1 in a pipe: iobs-watch -1 -e close_write f | grep -q returns" {
	: > "$T/w/f"
	( sleep 0.5; while :; do echo x > "$T/w/f"; sleep 0.2; done ) 3>&- &
	BG_PIDS+=($!)
	run -0 timeout 20 sh -c 'iobs-watch -1 -e close_write "$1" |
	    grep -q -m1 CLOSE_WRITE' _ "$T/w/f"
}

@test "-t with nothing happening: exit 2; -1 -t: exit 2" {
	bg "$T/out" -t 1 w
	assert_exit "$BG" 2
	run awk -F'\t' '!/^#/ { print $2 }' "$T/out"
	assert_output "WATCH_INIT
WATCH_DEAD"
	bg "$T/out2" -1 -t 1 -m w
	assert_exit "$BG" 2
}

@test "-t counts quiet: events keep it running" {
	# Longer under the sanitizers, so that a busy machine's pause
	# between two changes is not the quiet it waits for.
	local t=$((1 + SLOW_TOOLS)) i=0 end
	bg "$T/out" -t "$t" -m -e create w
	established "$T/out"
	# Changes for longer than -t, several in each -t.
	end=$((SECONDS + t + 1))
	while [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		touch "$T/w/f$i"
		sleep 0.3
	done
	running "$BG"
	wait_for 10 grep -q "CREATE f$i\$" "$T/out"
	assert_exit "$BG" 2
	run grep -c CREATE "$T/out"
	assert_output "$i"
}

# The command lines, with DIR for the watched directory and OUT for
# -o's file. Where they come from:
LINES=(
	# inotifywait(1), EXAMPLES
	"-m -r --format '%:e %f' DIR"
	"-qmr -e 'moved_to,create' --format '%w%f%0' --no-newline DIR"
	# scripts that act on each file written (isocket watch.sh and
	# many more), one that syncs with rsync (watchdir.sh)
	"-m -r -e close_write --format '%w%f' DIR"
	"-mrq --timefmt '%d/%m/%y/%H:%M' --format '%T %w %f' -e modify,delete,create,attrib,moved_from,moved_to DIR"
	# inotifywait's default lines, read by while read dir ev file
	"-r -m -e modify DIR"
	"-mr --timefmt '%d/%m/%y %H:%M' --format '%T %w %f' -e close_write DIR"
	"-m -r -e close_write,moved_to --format '%w%f' DIR"
	# one level only (no -r): the same changes, none of them below
	"--monitor --timefmt '%d/%m/%y %H:%M' --format '%T %w %f' --excludei 'doc' -e close_write DIR"
	"-e close_write --timefmt '%a, %d %b %y %T %z' --format '%T,%w,%e' -m -q -o OUT DIR"
	"-m DIR -e create -e moved_to"
)

# watches PID N: PID's inotify instance holds at least N watches.
watches() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = anon_inode:inotify ] &&
		    [ "$(grep -c '^inotify wd' "/proc/$1/fdinfo/${fd##*/}")" \
		    -ge "$2" ] && return 0
	done
	return 1
}

# start TOOL N: TOOL with command line N, in $T, its output in
# $T/TOOL.out (or the -o file); PIDS gets its pid.
start() {
	local line=${LINES[$2]}
	line=${line//DIR/d}
	line=${line//OUT/$1.o}
	# On inotify, as inotifywait: fanotify merges a change into an
	# unread one of the same process on the same name even with other
	# events between them, which inotify does not (iobs-watch(1),
	# CAVEATS).
	[ "$1" != iobs-watch ] || line="--backend=inotify $line"
	(cd "$T" && eval "exec $1 $line") >"$T/$1.out" 2>"$T/$1.err" 3>&- &
	PIDS+=($!)
	BG_PIDS+=($!)
}

both_watch() {
	local p
	for p in "${PIDS[@]}"; do wait_for 10 watches "$p" "$1"; done
}

both_saw() {
	grep -q -a "$1" "$T/$2" && grep -q -a "$1" "$T/$3"
}

# both_have N A B: A and B hold N lines each (for a format without %f).
both_have() {
	[ "$(wc -l < "$T/$2")" -ge "$1" ] && [ "$(wc -l < "$T/$3")" -ge "$1" ]
}

# changes RECURSIVE: the same work for every command line; below the
# top level only when RECURSIVE.
changes() {
	# The kernel merges an event into the same one queued just before
	# it, if that is not read yet: no two changes in a row are alike.
	echo a > "$T/d/a.txt"
	echo b > "$T/d/b.txt"
	echo c >> "$T/d/a.txt"
	mv "$T/d/a.txt" "$T/d/c.txt"
	chmod 600 "$T/d/c.txt"
	cat "$T/d/c.txt" > /dev/null
	rm "$T/d/c.txt"
	echo doc > "$T/d/doc.txt"
	echo in > "$T/outside/moved in"
	mv "$T/outside/moved in" "$T/d/"
	mkdir "$T/d/new"
	if [ "$1" = 1 ]; then
		touch "$T/d/sub/b"
		both_watch 3
		echo x > "$T/d/new/x"
		mv "$T/d/sub" "$T/d/sub2"
		echo y > "$T/d/sub2/y"
	fi
	echo end > "$T/d/zz-end"
}

# compare N: both tools run command line N on the changes.
compare() {
	local n=$1 rec=1 out_i=inotifywait.out out_w=iobs-watch.out
	mkdir -p "$T/d/sub" "$T/outside"
	case ${LINES[$n]} in *-r*|*-mr*|*-qmr*) ;; *) rec=0 ;; esac
	case ${LINES[$n]} in *OUT*) out_i=inotifywait.o out_w=iobs-watch.o ;; esac
	PIDS=()
	start inotifywait "$n"
	start iobs-watch "$n"
	both_watch $((1 + rec))
	changes "$rec"
	# Files written: a.txt twice, b.txt, doc.txt, zz-end: five lines.
	if [ "$n" = 8 ]; then
		wait_for 10 both_have 5 "$out_i" "$out_w"
	else
		wait_for 10 both_saw zz-end "$out_i" "$out_w"
	fi
	kill "${PIDS[@]}"
	wait "${PIDS[@]}" 2>/dev/null || true
	# Where all events are printed, two differences iobs-watch(1)
	# lists are left out: each tool's listing of a directory shows in
	# the other's output, and inotifywait reports its own; and
	# inotifywait reports a subdirectory's own MOVE_SELF (no name),
	# which iobs-watch reports once, as its parent's MOVED_FROM/TO.
	if [ "$n" = 0 ]; then
		for f in "$out_i" "$out_w"; do
			grep -a -v -E '^(OPEN|ACCESS|CLOSE_NOWRITE:CLOSE):ISDIR |^MOVE_SELF $' \
			    "$T/$f" > "$T/$f.cut" || true
			mv "$T/$f.cut" "$T/$f"
		done
	fi
	# %T is the time each tool read the event: the clock may tick
	# between the two reads, so the time of day is masked.
	case ${LINES[$n]} in
	*%T*)
		for f in "$out_i" "$out_w"; do
			sed -E 's/[0-9]{2}:[0-9]{2}(:[0-9]{2})?/hh:mm/g' \
			    "$T/$f" > "$T/$f.cut"
			mv "$T/$f.cut" "$T/$f"
		done
		;;
	esac
	cmp "$T/$out_i" "$T/$out_w" ||
		diff -u --label inotifywait --label iobs-watch \
		    <(tr '\0' '@' < "$T/$out_i") <(tr '\0' '@' < "$T/$out_w")
	# Never compared empty.
	[ "$(tr '\0' '\n' < "$T/$out_w" | wc -l)" -ge 4 ]
}

@test "inotifywait -m -r --format '%:e %f' (inotifywait(1))" { compare 0; }
@test "inotifywait -qmr -e moved_to,create --format '%w%f%0' --no-newline" { compare 1; }
@test "inotifywait -m -r -e close_write --format '%w%f'" { compare 2; }
@test "inotifywait -mrq --timefmt --format '%T %w %f' -e modify,delete,..." { compare 3; }
@test "inotifywait -r -m -e modify (default lines)" { compare 4; }
@test "inotifywait -mr --timefmt --format '%T %w %f' -e close_write" { compare 5; }
@test "inotifywait -m -r -e close_write,moved_to --format '%w%f'" { compare 6; }
@test "inotifywait --monitor --format '%T %w %f' --excludei doc -e close_write" { compare 7; }
@test "inotifywait -e close_write --format '%T,%w,%e' -m -q -o FILE" { compare 8; }
@test "inotifywait -m DIR -e create -e moved_to (default lines)" { compare 9; }
