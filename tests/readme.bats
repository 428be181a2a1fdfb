#!/usr/bin/env bats
# The README's "In a shell" examples, run as written: each is taken
# from README.md, run by the shell its code block names (sh or bash) on
# a terminal (script(1)), fed changes, and stopped with a typed Ctrl-C
# where it runs until then.

load test_helper

README=$BATS_TEST_DIRNAME/../README.md

# The first line of every example these tests run.
EXAMPLES=(
	'# Paths of files written under data/, as they are closed'
	'# Anything deleted under srv/, with a time stamp'
	'# Which directories under www/ are busiest, counted until Ctrl-C'
	'# New files under data/, for jq'
	'# Wait for one file to be written into incoming/, then go on'
	'# Rebuild when a C file under src/ is written (.git ignored): names'
	"# inotifywait -m -r -e create,moved_to --format '%w%f' data, as it was"
)

setup() {
	common_setup
	mkdir -p "$T/run/data" "$T/run/srv" "$T/run/www/a" "$T/run/www/b" \
	    "$T/run/incoming" "$T/run/src/.git"
}

teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

# example FIRSTLINE: prints the code block's language, then the example
# that starts with FIRSTLINE, up to the blank line or the block's end.
example() {
	awk -v want="$1" '
	/^## / { section = ($0 == "## In a shell") }
	!section { next }
	/^```/ {
		if (inside && found) exit
		inside = !inside
		lang = substr($0, 4)
		next
	}
	inside && $0 == want { found = 1; print lang }
	found && $0 == "" { exit }
	found { print }
	' "$README"
}

# run_example FIRSTLINE: starts the example in $T/run, on a terminal
# whose screen is $T/screen; typing goes to fd 4. SIGINT is set back to
# its default, as on a terminal (a background job ignores it).
run_example() {
	local text lang code
	text=$(example "$1")
	lang=${text%%$'\n'*}
	code=${text#*$'\n'}
	case $lang in
	sh|bash) ;;
	*) fail "README: no sh or bash example starting '$1'" ;;
	esac
	mkfifo "$T/tty"
	# As from a terminal: not inside this suite's make (make check).
	(cd "$T/run" && unset MAKEFLAGS MFLAGS MAKELEVEL &&
	    SHELL=$(command -v "$lang") exec perl -e \
	    '$SIG{INT} = "DEFAULT"; exec @ARGV or die "$ARGV[0]: $!\n"' \
	    script -qfec "$code" /dev/null) <"$T/tty" >"$T/screen" 2>&1 3>&- &
	EX_PID=$!
	BG_PIDS+=("$EX_PID")
	exec 4>"$T/tty"
}

ctrl_c() {
	printf '\003' >&4
}

# The screen's lines without the terminal's carriage returns and the
# ^C it echoes.
screen() {
	tr -d '\r' <"$T/screen" | sed 's/^^C//'
}

on_screen() {
	screen | grep -q -E "$1"
}

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# watching N: some process of the example holds N inotify watches, or
# a fanotify filesystem mark, which covers every directory; WATCHER is
# that process, WATCHER_FD its inotify or fanotify descriptor.
watching() {
	local p fd
	for p in $(descendants "$EX_PID"); do
		for fd in /proc/"$p"/fd/*; do
			case $(readlink "$fd" 2>/dev/null) in
			anon_inode:inotify)
				WATCHER=$p WATCHER_FD=${fd##*/}
				[ "$(grep -c '^inotify wd' \
				    "/proc/$p/fdinfo/$WATCHER_FD")" -ge "$1" ] &&
				    return 0 ;;
			"anon_inode:[fanotify]")
				WATCHER=$p WATCHER_FD=${fd##*/}
				grep -q '^fanotify sdev:' \
				    "/proc/$p/fdinfo/$WATCHER_FD" && return 0 ;;
			esac
		done
	done
	return 1
}

# idle: the watcher sleeps in a read of its kernel queue, so it has
# read every event queued before (a queued event makes it runnable).
idle() {
	local st
	st=$(sed 's/.*) //' "/proc/$WATCHER/stat")
	[ "${st%% *}" = S ] &&
	    [ "$(cut -d' ' -f1,2 "/proc/$WATCHER/syscall")" = \
	    "0 $(printf '0x%x' "$WATCHER_FD")" ]
}

# ends STATUS: the example ends by itself, with STATUS.
ends() {
	local rc=0
	wait_for 10 eval "! running $EX_PID"
	wait "$EX_PID" || rc=$?
	assert_equal "$rc" "$1"
}

@test "README: every example in 'In a shell' is run here" {
	awk '/^## / { s = ($0 == "## In a shell") }
	    s && /^```/ { inside = !inside; first = 1; next }
	    s && inside && first && /^# / { print }
	    s && inside { first = ($0 == "") }' "$README" > "$T/readme"
	printf '%s\n' "${EXAMPLES[@]}" > "$T/tested"
	diff -u "$T/tested" "$T/readme"
}

@test "README: files written, as they are closed (sh)" {
	run_example "${EXAMPLES[0]}"
	wait_for 10 eval 'echo x > "$T/run/data/f$((++n))"; on_screen /data/f'
	ctrl_c
	ends 130
	# Only paths: no header, no WATCH_INIT, no WATCH_DEAD.
	run -1 grep -v -E "^$T/run/data/f[0-9]+\$" <(screen)
	assert_output ""
}

@test "README: anything deleted, with a time stamp (sh)" {
	run_example "${EXAMPLES[1]}"
	wait_for 10 eval 'touch "$T/run/srv/x"; rm "$T/run/srv/x"; on_screen DELETE'
	mkdir "$T/run/srv/d" && rmdir "$T/run/srv/d"
	wait_for 10 on_screen 'DELETE,ISDIR'
	ctrl_c
	ends 130
	run screen
	assert_line --regexp "^[0-9]+\.[0-9]{6}	DELETE	0	$T/run/srv/x\$"
	assert_line --regexp "^[0-9]+\.[0-9]{6}	DELETE,ISDIR	0	$T/run/srv/d\$"
}

@test "README: busiest directories, printed on Ctrl-C (sh)" {
	run_example "${EXAMPLES[2]}"
	wait_for 10 watching 3
	touch "$T/run/www/a/1" "$T/run/www/a/2" "$T/run/www/b/1"
	mkdir "$T/run/www/a/m" && rmdir "$T/run/www/a/m"
	# Nothing shows until Ctrl-C: wait for the watcher to have read it all.
	wait_for 10 idle
	ctrl_c
	wait_for 10 on_screen "www/b\$"
	run screen
	# CREATE, ATTRIB, CLOSE_WRITE a file (its OPEN is a read, which
	# the stream leaves out by default); CREATE, DELETE the dir.
	assert_line "8 $T/run/www/a"
	assert_line "3 $T/run/www/b"
	assert_equal "${#lines[@]}" 2
}

@test "README: new files for jq (sh)" {
	run_example "${EXAMPLES[3]}"
	wait_for 10 eval 'touch "$T/run/data/n$((++n))"; on_screen /data/n'
	ctrl_c
	ends 130
	run screen
	assert_line --regexp "^$T/run/data/n[0-9]+\$"
	refute_line --partial '{'
}

@test "README: wait for one file, then go on (sh)" {
	run_example "${EXAMPLES[4]}"
	wait_for 10 eval 'echo x > "$T/run/incoming/f$((++n))"; on_screen arrived'
	ends 0
	run screen
	assert_output arrived
}

@test "README: rebuild on a C file written, names read whole (bash)" {
	printf 'all:\n\t@echo built\n' > "$T/run/Makefile"
	run_example "${EXAMPLES[5]}"
	wait_for 10 watching 1
	echo x > "$T/run/src/notes.txt"
	echo x > "$T/run/src/.git/skip.c"
	echo x > "$T/run/src/a.c"
	echo x > "$T/run/src/with space
and newline.h"
	echo x > "$T/run/src/zz.c"
	# In order: a build for notes.txt or .git would come before zz.c's.
	wait_for 10 eval '[ "$(screen | grep -c "^built$")" -ge 3 ]'
	ctrl_c
	ends 130
	run screen
	assert_output "Setting up watches.
Watches established.
built
built
built"
}

@test "README: an inotifywait script with the name changed (sh)" {
	run_example "${EXAMPLES[6]}"
	wait_for 10 eval 'touch "$T/run/data/n$((++n))"; on_screen "^new: data/n"'
	mv "$T/run/data/n1" "$T/run/data/moved"
	wait_for 10 on_screen '^new: data/moved$'
	ctrl_c
	ends 130
	run screen
	assert_line 'Setting up watches.  Beware: since -r was given, this may take a while!'
	assert_line 'Watches established.'
	assert_line --regexp '^new: data/n[0-9]+$'
}
