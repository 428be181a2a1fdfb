#!/usr/bin/env bats
# iobs-exec: usage and exit codes; then names that cannot run anything,
# batches, restarts that leave no process behind, -j order per path,
# failures, the end of the stream, and signals.

load test_helper

setup() {
	common_setup
	mkdir -p "$T/w"
	# rec ARGS...: appends its argument count and arguments, each
	# ended by NUL, to $T/args; a line to $T/runs; its stdin to
	# $T/in.N, N the run's number.
	cat >"$T/rec" <<-EOF
	#!/bin/sh
	printf '%s\0' "\$#" "\$@" >>"$T/args"
	n=\$(( \$(cat "$T/runs" 2>/dev/null | wc -l) + 1 ))
	cat >"$T/in.\$n"
	echo "run \$n overflow=\${IOBS_OVERFLOW:-}" >>"$T/runs"
	EOF
	chmod +x "$T/rec"
}

# start_exec ARGS...: iobs-watch $T/w | tee $T/stream | iobs-exec ARGS,
# each its own process, joined by FIFOs; standard output in $T/out,
# standard error in $T/err. Waits for the watcher's WATCH_INIT.
start_exec() {
	mkfifo "$T/f1" "$T/f2"
	iobs-exec "$@" <"$T/f2" >"$T/out" 2>"$T/err" 3>&- &
	EXEC_PID=$!
	BG_PIDS+=("$EXEC_PID")
	tee "$T/stream" <"$T/f1" >"$T/f2" 3>&- &
	BG_PIDS+=("$!")
	iobs-watch "$T/w" >"$T/f1" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_for 10 has_lines "$T/stream" $'\tWATCH_INIT\t' 1
}

runs() { count_lines "$T/runs" '^run '; }
runs_are() { [ "$(runs)" -eq "$1" ]; }
runs_at_least() { [ "$(runs)" -ge "$1" ]; }

# stream FILE: records from "EVENTS|PATH" lines on stdin.
stream() {
	printf '# iobs-stream 1\n' >"$1"
	LC_ALL=C awk '{ i = index($0, "|"); if (i == 0) i = length($0) + 1
	    printf "1764057600.000000\t%s\t0\t%s\n", substr($0, 1, i - 1),
	    substr($0, i + 1) }' >>"$1"
}

@test "exec: no command is a usage error" {
	run -2 iobs-exec </dev/null
	assert_output --partial "iobs-exec: no command"
	assert_output --partial "usage: iobs-exec [-0bpr]"
	run -2 iobs-exec -b -- </dev/null
}

@test "exec: an unknown option is a usage error" {
	run -2 iobs-exec --bogus -- true </dev/null
	assert_output --partial "--bogus: unknown option"
	run -2 iobs-exec -q true </dev/null
	assert_output --partial "-q: unknown option"
}

@test "exec: numbers out of range are usage errors" {
	run -2 iobs-exec -j 0 -- true </dev/null
	assert_output --partial "-j 0: too small"
	run -2 iobs-exec -j x -- true </dev/null
	run -2 iobs-exec -b -d -1 -- true </dev/null
	assert_output --partial "-d -1: too small"
	run -2 iobs-exec -b --grace=1.2345 -- true </dev/null
	assert_output --partial "--grace 1.2345: not a time"
}

@test "exec: options of the other mode are usage errors" {
	run -2 iobs-exec -d 10 -- true </dev/null
	assert_output --partial "-d: only with -b or -r"
	run -2 iobs-exec -0 -- true </dev/null
	assert_output --partial "-0: only with -b or -r"
	run -2 iobs-exec -b -j 2 -- true </dev/null
	assert_output --partial "-j: only without -b or -r"
}

@test "exec: placeholders: unknown, or of the other mode, are usage errors" {
	run -2 iobs-exec -- echo {bogus} </dev/null
	assert_output --partial "{bogus}: unknown placeholder"
	run -2 iobs-exec -- echo {paths} </dev/null
	assert_output --partial "{paths}: only with -b or -r"
	run -2 iobs-exec -b -- echo {path} </dev/null
	assert_output --partial "{path}: only without -b or -r"
	run -2 iobs-exec -b -- echo x{paths} </dev/null
	assert_output --partial "{paths}: must be a whole argument"
}

@test "exec: -e with an unknown event or a lifecycle name is a usage error" {
	run -2 iobs-exec -e create,bogus -- true </dev/null
	assert_output --partial "-e BOGUS: unknown event"
	run -2 iobs-exec -e watch_init -- true </dev/null
	assert_output --partial "-e WATCH_INIT: not a change"
}

@test "exec: --command: words, quotes, no shell; and not with a command" {
	run -2 iobs-exec --command="echo 'a b" </dev/null
	assert_output --partial "--command: ': quote not closed"
	run -2 iobs-exec --command=echo -- echo </dev/null
	assert_output --partial "--command and a command"
	stream "$T/in" <<-EOF
	CREATE|/data/x y
	EOF
	run -0 iobs-exec --command="$T/rec 'a b' \"{name}\" \$HOME;" <"$T/in"
	printf '3\0a b\0x y\0$HOME;\0' >"$T/want"
	cmp "$T/want" "$T/args"
}

@test "exec: --check takes the options silently, or says what is wrong" {
	run -0 iobs-exec --check --mode=batch --delay=100 --events=close_write \
	    --command="make -C /src"
	assert_output ""
	run -2 iobs-exec --check --mode=sometimes --command=true
	assert_output --partial "--mode=sometimes: not each, batch or restart"
	[ ! -e "$T/runs" ]
}

@test "exec: empty input: exit 0, no run" {
	run -0 iobs-exec -b -- "$T/rec" </dev/null
	assert_output ""
	[ ! -e "$T/runs" ]
}

@test "exec: the placeholders and the environment of a record" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	CLOSE_WRITE,CLOSE|/data/sub/f.txt
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -- "$T/rec" {path} {rel} {dir} {name} {root} \
	    {events} {cookie} '{{path}' '{}' <"$T/in"
	printf '%s\0' 9 /data/sub/f.txt sub/f.txt /data/sub f.txt /data \
	    CLOSE_WRITE,CLOSE 0 '{path}' '{}' >"$T/want"
	cmp "$T/want" "$T/args"
	run -0 iobs-exec -- sh -c 'printf "%s|" "$IOBS_PATH" "$IOBS_REL" \
	    "$IOBS_ROOT" "$IOBS_EVENTS" "$IOBS_COOKIE"' <"$T/in"
	assert_output "/data/sub/f.txt|sub/f.txt|/data|CLOSE_WRITE,CLOSE|0|"
}

@test "exec: hostile names arrive as one argument each and run nothing" {
	start_exec -e close_write -- "$T/rec" {name} {path}
	names=('$(touch pwned)' '`touch pwned2`' '; rm -rf victim' \
	    $'new\nline' '-leading' '*' 'a b' "it's")
	mkdir "$T/victim"
	: >"$T/want"
	for n in "${names[@]}"; do
		printf 'x' >"$T/w/$n"
		printf '%s\0' 2 "$n" "$T/w/$n" >>"$T/want"
	done
	wait_for 10 runs_are ${#names[@]}
	cmp "$T/want" "$T/args"
	[ -d "$T/victim" ]
	[ ! -e pwned ] && [ ! -e "$T/pwned" ] && [ ! -e "$T/w/pwned" ]
	[ ! -e pwned2 ] && [ ! -e "$T/pwned2" ]
}

@test "exec: -b: a burst of 200 files is one run with 200 paths; none while quiet" {
	start_exec -b -p -d 200 -- "$T/rec" {paths}
	(cd "$T/w" && touch $(seq -f 'f%g' 1 200))
	wait_for 10 runs_are 1
	[ "$(sort -u "$T/in.1" | wc -l)" -eq 200 ]
	[ "$(wc -l <"$T/in.1")" -eq 200 ]
	# The same 200 as arguments.
	[ "$(tr '\0' '\n' <"$T/args" | head -1)" -eq 200 ]
	# Nothing changes for ten windows: no run. The next change is the
	# second run, so the tool was there to run one.
	sleep 2
	runs_are 1
	: >"$T/w/last"
	wait_for 10 runs_are 2
	[ "$(cat "$T/in.2")" = "$T/w/last" ]
}

@test "exec: -b: the first run is at WATCH_INIT with the root, unless -p" {
	start_exec -b -- "$T/rec"
	wait_for 10 runs_are 1
	[ "$(cat "$T/in.1")" = "$T/w" ]
}

@test "exec: -b: changes during a run make exactly one more run" {
	cat >"$T/slow" <<-EOF
	#!/bin/sh
	echo start >>"$T/runs"
	i=0
	while [ ! -e "$T/gate" ] && [ \$i -lt 500 ]; do sleep 0.02; i=\$((i+1)); done
	rm -f "$T/gate"
	cat >/dev/null
	echo end >>"$T/runs"
	EOF
	chmod +x "$T/slow"
	start_exec -b -p -d 20 -- "$T/slow"
	: >"$T/w/a"
	wait_for 10 has_lines "$T/runs" '^start' 1
	for i in 1 2 3 4 5 6 7 8 9 10; do : >"$T/w/b$i"; sleep 0.05; done
	: >"$T/gate"
	wait_for 10 has_lines "$T/runs" '^start' 2
	: >"$T/gate"
	wait_for 10 has_lines "$T/runs" '^end' 2
	# One more change is one more run: none was queued behind it.
	: >"$T/w/c"
	wait_for 10 has_lines "$T/runs" '^start' 3
	: >"$T/gate"
	wait_for 10 has_lines "$T/runs" '^end' 3
	[ "$(count_lines "$T/runs" '^start')" -eq 3 ]
}

@test "exec: -0 and OVERFLOW: NUL-ended paths; the root and IOBS_OVERFLOW=1" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	CREATE|/data/a
	OVERFLOW|/data
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -0 -b -p -d 0 -- "$T/rec" <"$T/in"
	printf '/data/a\0/data\0' >"$T/want"
	cmp "$T/want" "$T/in.1"
	assert_equal "$(cat "$T/runs")" "run 1 overflow=1"
}

@test "exec: -b: a name with a newline is one line: its directory" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	CREATE|/data/d/a\\nb
	CREATE|/data/c
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -b -p -- "$T/rec" {paths} <"$T/in"
	printf '/data/d\n/data/c\n' >"$T/want"
	cmp "$T/want" "$T/in.1"
	printf '%s\0' 2 $'/data/d/a\nb' /data/c >"$T/want"
	cmp "$T/want" "$T/args"
}

@test "exec: -j 4: runs overlap, and those of one path keep their order" {
	cat >"$T/job" <<-EOF
	#!/bin/sh
	echo "start \$1 \$2" >>"$T/log"
	sleep 0.2
	echo "end \$1 \$2" >>"$T/log"
	EOF
	chmod +x "$T/job"
	start_exec -j 4 -e create,close_write,attrib,delete -- "$T/job" \
	    {name} {events}
	for f in a b c d; do
		echo x >"$T/w/$f"
		chmod 600 "$T/w/$f"
		rm "$T/w/$f"
	done
	wait_for 20 has_lines "$T/log" '^end' 16
	for f in a b c d; do
		grep " $f " "$T/log" | cut -d' ' -f1,3 >"$T/got.$f"
		printf '%s\n' 'start CREATE' 'end CREATE' \
		    'start CLOSE_WRITE,CLOSE' 'end CLOSE_WRITE,CLOSE' \
		    'start ATTRIB' 'end ATTRIB' 'start DELETE' 'end DELETE' \
		    >"$T/want"
		diff -u "$T/want" "$T/got.$f"
	done
	# At some point more than one ran at once.
	awk '/^start/ { n++; if (n > max) max = n } /^end/ { n-- }
	    END { exit !(max > 1) }' "$T/log"
}

@test "exec: -j 1: runs one at a time, in stream order" {
	cat >"$T/job" <<-EOF
	#!/bin/sh
	echo "start \$1" >>"$T/log"
	sleep 0.05
	echo "end \$1" >>"$T/log"
	EOF
	chmod +x "$T/job"
	stream "$T/in" <<-EOF
	CREATE|/d/a
	CREATE|/d/b
	CREATE|/d/c
	EOF
	run -0 iobs-exec -- "$T/job" {name} <"$T/in"
	printf '%s\n' 'start a' 'end a' 'start b' 'end b' 'start c' 'end c' \
	    >"$T/want"
	diff -u "$T/want" "$T/log"
}

@test "exec: a failing command is reported in one line and the tool goes on" {
	stream "$T/in" <<-EOF
	CREATE|/d/a
	CREATE|/d/b
	EOF
	run -0 --separate-stderr iobs-exec -- sh -c \
	    'echo "$1" >>"$0"; exit 3' "$T/log" {path} <"$T/in"
	printf '/d/a\n/d/b\n' >"$T/want"
	diff -u "$T/want" "$T/log"
	[ "${#stderr_lines[@]}" -eq 2 ]
	assert_equal "${stderr_lines[0]}" \
	    "iobs-exec: sh -c echo \"\$1\" >>\"\$0\"; exit 3 $T/log {path}: exited 3; /d/a"
}

@test "exec: a command that cannot be run is named, the runs go on, exit 127 (126: found, not runnable), as sh" {
	stream "$T/in" <<-EOF
	CREATE|$T/nonexistent
	CREATE|$T/rec
	EOF
	# The program is the path: the first cannot run, the second runs.
	run -127 --separate-stderr iobs-exec -- {path} <"$T/in"
	assert_equal "${stderr_lines[0]}" "iobs-exec: $T/nonexistent: No such file or directory"
	run -0 runs
	assert_output 1
	touch "$T/plain"
	run -126 --separate-stderr iobs-exec -b -- "$T/plain" <"$T/in"
	assert_equal "${stderr_lines[0]}" "iobs-exec: $T/plain: Permission denied"
	# A command that ran and exited 127 itself is a failed run, no more.
	run -0 --separate-stderr iobs-exec -- sh -c 'exit 127' <"$T/in"
	assert_equal "${#stderr_lines[@]}" 2
}

@test "exec: --halt-on-error stops at the first failure with its status" {
	stream "$T/in" <<-EOF
	CREATE|/d/a
	CREATE|/d/b
	EOF
	run -3 iobs-exec --halt-on-error -- sh -c \
	    'echo "$1" >>"$0"; exit 3' "$T/log" {path} <"$T/in"
	assert_equal "$(cat "$T/log")" /d/a
	run -3 iobs-exec -b -p --halt-on-error -- sh -c 'cat >/dev/null; exit 3' \
	    <"$T/in"
	assert_output --partial "exited 3; a batch of 2 paths"
}

@test "exec: WATCH_DEAD ends it after the last run, exit 0" {
	start_exec -b -p -d 100 -- "$T/rec" {paths}
	: >"$T/w/a"
	wait_for 10 grep -q "CLOSE_WRITE.*/w/a\$" "$T/stream"
	kill -TERM "$WATCH_PID"
	wait_for 10 eval '! running "$EXEC_PID"'
	wait "$EXEC_PID"
	runs_are 1
	grep -qx "$T/w/a" "$T/in.1"
}

# server: its pid in $T/server, a grandchild that ignores SIGTERM in
# $T/gc; at its start, says whether an earlier grandchild is alive.
make_server() {
	cat >"$T/server" <<-EOF
	#!/bin/sh
	for p in \$(cat "$T/gc" 2>/dev/null); do
		kill -0 "\$p" 2>/dev/null && echo "alive \$p" >>"$T/log"
	done
	echo "start \$\$" >>"$T/log"
	sh -c 'trap "" TERM; exec sleep 1000' &
	echo \$! >>"$T/gc"
	wait
	EOF
	chmod +x "$T/server"
}

@test "exec: -r: the whole group goes, a grandchild too, before the next start" {
	make_server
	start_exec -r -d 20 --grace=0.3 -- "$T/server"
	wait_for 10 has_lines "$T/log" '^start' 1
	wait_for 10 test -s "$T/gc"
	: >"$T/w/a"
	wait_for 10 has_lines "$T/log" '^start' 2
	run ! grep alive "$T/log"
	first=$(head -1 "$T/gc")
	run ! kill -0 "$first"
}

@test "exec: -r: SIGTERM to iobs-exec stops the group first" {
	make_server
	start_exec -r --grace=0.2 -- "$T/server"
	wait_for 10 has_lines "$T/log" '^start' 1
	wait_for 10 test -s "$T/gc"
	gc=$(cat "$T/gc")
	kill -TERM "$EXEC_PID"
	wait_for 10 eval '! running "$EXEC_PID"'
	run ! kill -0 "$gc"
}

@test "exec: SIGTERM stops a long per-event run and exits" {
	start_exec --grace=0.2 -- sh -c 'echo $$ >"$0"; exec sleep 1000' \
	    "$T/pid"
	: >"$T/w/a"
	wait_for 10 test -s "$T/pid"
	kill -TERM "$EXEC_PID"
	wait_for 10 eval '! running "$EXEC_PID"'
	run ! kill -0 "$(cat "$T/pid")"
}

@test "exec: -x: an excluded name, or anything below it, runs nothing" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	CREATE|/data/.git/index
	CREATE|/data/x.tmp
	CREATE|/data/sub/keep
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -x .git -x '*.tmp' -- "$T/rec" {rel} <"$T/in"
	printf '%s\0' 1 sub/keep >"$T/want"
	cmp "$T/want" "$T/args"
}

@test "exec: -b: a command that writes into the tree runs at most once a window" {
	# It triggers itself, on purpose: each run's start, in ns.
	start_exec -b -d 300 -- sh -c 'date +%s%N >>"$0"' "$T/w/starts"
	wait_for 20 has_lines "$T/w/starts" . 4
	kill -TERM "$EXEC_PID"
	wait_for 10 eval '! running "$EXEC_PID"'
	awk 'NR > 1 && $1 - prev < 300000000 { bad = 1 } { prev = $1 }
	    END { exit bad }' "$T/w/starts"
}

@test "exec: -b -x: a command's own output does not start it again" {
	start_exec -b -d 50 -x starts -- sh -c 'date +%s%N >>"$0"' \
	    "$T/w/starts"
	wait_for 10 has_lines "$T/w/starts" . 1
	# Another change is one more run; the two writes to starts made
	# none (one that did would start a run that writes again, and so
	# on, past the count below).
	: >"$T/w/other"
	wait_for 10 has_lines "$T/w/starts" . 2
	sleep 0.5
	[ "$(count_lines "$T/w/starts" .)" -eq 2 ]
}

@test "exec: per event: OVERFLOW is one run for the root, IOBS_OVERFLOW=1" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	OVERFLOW|/data
	CREATE|/data/a
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -- "$T/rec" {path} {events} <"$T/in"
	printf '%s\0' 2 /data OVERFLOW 2 /data/a CREATE >"$T/want"
	cmp "$T/want" "$T/args"
	assert_equal "$(cut -d' ' -f3 "$T/runs")" "$(printf 'overflow=1\noverflow=')"
}

@test "exec: no -e: reads (OPEN, ACCESS, CLOSE_NOWRITE) start nothing" {
	stream "$T/in" <<-EOF
	WATCH_INIT|/data
	OPEN|/data/a
	ACCESS|/data/a
	CLOSE_NOWRITE,CLOSE|/data/a
	MODIFY|/data/a
	CLOSE_WRITE,CLOSE|/data/a
	WATCH_DEAD|/data
	EOF
	run -0 iobs-exec -- "$T/rec" {events} <"$T/in"
	printf '%s\0' 1 CLOSE_WRITE,CLOSE >"$T/want"
	cmp "$T/want" "$T/args"
	run -0 iobs-exec -e modify,access -- "$T/rec" {events} <"$T/in"
	printf '%s\0' 1 CLOSE_WRITE,CLOSE 1 ACCESS 1 MODIFY >"$T/want"
	cmp "$T/want" "$T/args"
}

@test "exec: -r: a server that fails by itself is reported, and started again by the next change" {
	start_exec -r -d 20 -- sh -c 'echo start >>"$0"; cat >/dev/null; exit 4' \
	    "$T/log"
	wait_for 10 has_lines "$T/log" start 1
	wait_for 10 grep -q "exited 4; a batch of 1 path\$" "$T/err"
	: >"$T/w/a"
	wait_for 10 has_lines "$T/log" start 2
	running "$EXEC_PID"
}

@test "exec: -b: paths too many for {paths}: the roots instead, all on stdin" {
	{
		echo 'WATCH_INIT|/data'
		awk 'BEGIN { for (i = 0; i < 20000; i++)
		    printf "CREATE|/data/%0120d\n", i }'
		echo 'WATCH_DEAD|/data'
	} | stream "$T/in"
	# One batch however slowly it is read: the end of input flushes it.
	run -0 iobs-exec -b -p -d 3600000 -- "$T/rec" {paths} <"$T/in"
	printf '%s\0' 1 /data >"$T/want"
	cmp "$T/want" "$T/args"
	[ "$(wc -l <"$T/in.1")" -eq 20000 ]
	assert_equal "$(cat "$T/runs")" "run 1 overflow=1"
}

@test "exec: -b: a storm that never pauses still gets its run (ceiling)" {
	start_exec -b -p -d 100 -- "$T/rec"
	# Changes every 20 ms, well inside the window, for up to 20 s.
	( i=0; while [ ! -e "$T/stop" ] && [ $i -lt 1000 ]; do
		: >"$T/w/storm"; sleep 0.02; i=$((i + 1)); done ) 3>&- &
	STORM=$!
	BG_PIDS+=("$STORM")
	wait_for 10 runs_at_least 1
	# The storm was still on: the run came from the ceiling.
	running "$STORM"
	: >"$T/stop"
}

@test "exec: per event: a run's stdin is /dev/null, never the stream" {
	stream "$T/in" <<-EOF
	CREATE|/d/a
	CREATE|/d/b
	CREATE|/d/c
	EOF
	run -0 iobs-exec -- sh -c 'cat; echo "run $0"' {name} <"$T/in"
	assert_output "$(printf 'run a\nrun b\nrun c')"
}

@test "exec: -r -p: no start until the first change" {
	start_exec -r -p -d 20 -- sh -c 'echo start >>"$0"; exec sleep 1000' \
	    "$T/log"
	# Fifteen windows after WATCH_INIT: nothing started.
	sleep 0.3
	[ ! -e "$T/log" ]
	: >"$T/w/a"
	wait_for 10 has_lines "$T/log" start 1
}

@test "exec: more records than the queue holds: iobs-exec reads as runs end, loses none" {
	skip_valgrind "4,200 runs"
	# The queue holds 4,096 records (QUEUE_MAX in exec/queue.c).
	mkdir "$T/out"
	{
		echo 'WATCH_INIT|/data'
		seq -f 'CREATE|/data/f%.0f' 1 4200
		echo 'WATCH_DEAD|/data'
	} | stream "$T/in"
	run -0 iobs-exec -j 4 -- touch "$T/out/{name}" <"$T/in"
	[ "$(ls "$T/out" | wc -l)" -eq 4200 ]
}
