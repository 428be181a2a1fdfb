#!/usr/bin/env bats
# inotifywait and iobs-watch side by side: the ten most common
# inotifywait monitor command lines, collected from its man page and
# public scripts, run with each command's name, on the same changes;
# their outputs compared line for line.

load test_helper

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

setup() {
	common_setup
	mkdir -p "$T/d/sub" "$T/outside"
}

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
