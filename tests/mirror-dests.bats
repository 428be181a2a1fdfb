#!/usr/bin/env bats
# iobs-mirror DEST DEST...: one stream, several destinations, local and
# remote mixed, each on its own: one that is read-only, unreachable,
# stalled, killed or refused never holds the others, and catches up
# alone.

load remote_helper

setup() { mirror_setup; }
teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

# start_fan ARGS...: iobs-watch $SRC | iobs-mirror ARGS, without
# waiting; ARGS are the options and the destinations.
start_fan() {
	mkfifo "$T/pipe"
	iobs-mirror "$@" <"$T/pipe" >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
}

# equal DIR: DIR is a copy of the source, hard links included.
equal() {
	treecmp -q -H "$SRC" "$1"
}

# wait_equal SECONDS DIR: so within SECONDS; the differences when not.
wait_equal() {
	if ! wait_for "$1" equal "$2"; then
		treecmp -H "$SRC" "$2" | head -20 >&2
		cat "$T/mirror.err" >&2
		return 1
	fi
}

# child_of DEST: the pid of the front's child for DEST.
child_of() {
	local p
	for p in $(ps -o pid= --ppid "$MIRROR_PID"); do
		if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
		    grep -qxF "IOBS_MIRROR_DEST=$1"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

@test "dests: two local destinations both follow one stream" {
	echo a >"$SRC/a"
	mkdir -p "$SRC/d/e"
	echo b >"$SRC/d/e/b"
	start_fan "$T/one" "$T/two"
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	echo c >"$SRC/c"
	mv "$SRC/d" "$SRC/moved"
	ln "$SRC/c" "$SRC/c2"
	rm "$SRC/a"
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	# A child each, and the front: one stream read, two mirrors.
	[ "$(ps -o pid= --ppid "$MIRROR_PID" | wc -l)" -eq 2 ]
	stop_mirror
	[ "$MIRROR_STATUS" -eq 0 ]
	[ ! -s "$T/mirror.err" ]
}

@test "dests: -d and operands add up; the same one twice is refused" {
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror -d "$T/one" "$T/two" <"$T/s"
	run -0 treecmp "$SRC" "$T/one"
	run -0 treecmp "$SRC" "$T/two"
	run -2 iobs-mirror "$T/one" -d "$T/one" </dev/null
	assert_output --partial "$T/one: a destination given twice"
	ln -s one "$T/alias"
	run -2 iobs-mirror "$T/one" "$T/alias" <"$T/s"
	assert_output --partial "$T/one and $T/alias are one directory"
}

@test "dests: --check checks every destination" {
	run -0 iobs-mirror --check "$T/one" "$T/two"
	run -2 iobs-mirror --check "$T/one" "$T/no/such/dir"
	assert_output --partial "$T/no/such/dir"
}

@test "dests: an absolute --backup-dir for several is refused, a relative one kept in each" {
	run -2 iobs-mirror --backup-dir="$T/bk" "$T/one" "$T/two" </dev/null
	assert_output --partial "give a path relative to DEST"
	echo old >"$SRC/f"
	start_fan --backup-dir=.bk "$T/one" "$T/two"
	CMP_OPTS=(-x .bk)
	wait_for 10 treecmp -q -x .bk "$SRC" "$T/one"
	wait_for 10 treecmp -q -x .bk "$SRC" "$T/two"
	rm "$SRC/f"
	wait_for 10 test ! -e "$T/one/f" -a ! -e "$T/two/f"
	[ "$(cat "$T"/one/.bk/*/f)" = old ]
	[ "$(cat "$T"/two/.bk/*/f)" = old ]
}

@test "dests: a read-only destination holds neither the other nor the stream, and catches up once writable" {
	readonly_at "$T/ro-real" "$T/ro"
	echo a >"$SRC/a"
	start_fan "$T/one" "$T/ro"
	wait_equal 10 "$T/one"
	for i in 1 2 3; do
		echo "$i" >"$SRC/f$i"
		wait_equal 10 "$T/one"
	done
	running "$MIRROR_PID"
	run ! equal "$T/ro"
	grep -q "Read-only file system" "$T/mirror.err"
	writable "$T/ro"
	wait_equal 70 "$T/ro"
	echo more >"$SRC/after"
	wait_equal 10 "$T/ro"
	wait_equal 10 "$T/one"
}

@test "dests: local, read-only and a host down 10 s: the healthy one follows, the others converge after" {
	sshd_own
	readonly_at "$T/ro-real" "$T/ro"
	mkdir "$T/remote"
	echo a >"$SRC/a"
	start_fan -e "$RSH" "$T/one" "$T/ro" "$HOST:$T/remote"
	wait_equal 10 "$T/one"
	wait_equal 20 "$T/remote"
	stop_sshd
	local end=$((SECONDS + 10)) i=0
	while [ $SECONDS -lt $end ]; do
		echo "$i" >"$SRC/w$i"
		wait_equal 5 "$T/one"
		i=$((i + 1))
		sleep 0.5
	done
	run ! equal "$T/remote"
	start_sshd
	writable "$T/ro"
	wait_equal 70 "$T/remote"
	wait_equal 70 "$T/ro"
	wait_equal 10 "$T/one"
}

@test "dests: a child killed is started again and catches up alone" {
	echo a >"$SRC/a"
	start_fan "$T/one" "$T/two"
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	local pid
	pid=$(child_of "$T/two")
	kill -9 "$pid"
	echo b >"$SRC/b"
	mkdir "$SRC/d"
	echo c >"$SRC/d/c"
	wait_equal 10 "$T/one"
	wait_equal 15 "$T/two"
	[ "$(child_of "$T/two")" != "$pid" ]
	grep -qF "$T/two: its mirror was killed by signal 9; starting it again" \
	    "$T/mirror.err"
	echo e >"$SRC/e"
	wait_equal 10 "$T/two"
}

@test "dests: a stalled destination loses nothing: its backlog waits, then overflows into a resync" {
	echo a >"$SRC/a"
	mkfifo "$T/pipe"
	iobs-mirror --progress=lines "$T/one" "$T/two" <"$T/pipe" \
	    >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/pipe"
	printf '# iobs-stream 1\n1764057600.000000\tWATCH_INIT\t0\t%s\n' \
	    "$SRC" >&4
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	local pid
	pid=$(child_of "$T/two")
	kill -STOP "$pid"
	# A file the stream never names, and more stream than the front
	# keeps for one (32 MiB): only a resync can bring it.
	echo hidden >"$SRC/hidden"
	awk -v p="$SRC/a" 'BEGIN { for (i = 0; i < 400000; i++)
	    printf "1764057600.000000\tMODIFY\t0\t%s%0*d\n", p, 60, 0 }' >&4
	printf '1764057600.000000\tCLOSE_WRITE,CLOSE\t0\t%s\n' "$SRC/a" >&4
	echo b >"$SRC/b"
	printf '1764057600.000000\tCLOSE_WRITE,CLOSE\t0\t%s\n' "$SRC/b" >&4
	wait_for 10 test -e "$T/one/b"
	[ ! -e "$T/one/hidden" ]
	kill -CONT "$pid"
	wait_equal 20 "$T/two"
	grep -q "resynced $T/two" "$T/mirror.err"
	! grep -q "line skipped" "$T/mirror.err"
	# The front held 32 MiB for it, and gives them back once through.
	if [ -z "${IOBS_SANITIZED:-}" ]; then
		wait_for 5 eval '[ "$(awk "/^VmRSS/ { print \$2 }" \
		    /proc/$MIRROR_PID/status)" -lt 16384 ]'
	fi
	! grep -q "resynced $T/one" "$T/mirror.err"
	exec 4>&-
	local rc=0
	wait "$MIRROR_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/mirror.err"; false; }
}

@test "dests: a refused destination stops alone; the other goes on" {
	echo a >"$SRC/a"
	start_fan "$T/one" "$SRC/inside"
	wait_equal 10 "$T/one"
	wait_for 10 grep -q "$SRC/inside: its mirror stopped, refused" \
	    "$T/mirror.err"
	grep -q "inside the watched root" "$T/mirror.err"
	echo b >"$SRC/b"
	wait_equal 10 "$T/one"
	[ ! -e "$SRC/inside" ]
	stop_mirror
	[ "$MIRROR_STATUS" -eq 2 ]
}

@test "dests: a child's messages name its destination" {
	readonly_at "$T/ro-real" "$T/ro"
	echo a >"$SRC/a"
	start_fan "$T/one" "$T/ro"
	wait_equal 10 "$T/one"
	wait_for 10 grep -q "^iobs-mirror to $T/ro: " "$T/mirror.err"
}

# As iobs-supervise runs it: options from the cache, state kept there.
supervised() {
	mkdir -m 700 "$T/cache"
	KEY=options/mirror$SRC
	export IOBS_CACHE=$T/cache IOBS_OPTIONS=$KEY IOBS_PLUGIN=mirror \
	    IOBS_WATCH=$SRC
}

# cached KEY LINE: the cache's KEY has LINE.
cached() {
	iobs-supervise cache get "$1" | grep -qxF "$2"
}

@test "dests: new options add a destination and drop one; a bad key is said once" {
	supervised
	echo a >"$SRC/a"
	options "--destination=$T/one" "--destination=$T/two"
	feed_start_nowait -d "$T/one" -d "$T/two"
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	# Up once the front has written it all: within a second.
	wait_for 5 cached "dests/mirror$SRC" "state.2=up"
	run -0 iobs-supervise cache get "dests/mirror$SRC"
	assert_line "dests=2"
	assert_line "dest.2=$T/two"
	options "--destination=$T/one" "--destination=$T/three"
	send WATCH_RECONFIG 0 "$SRC"
	write b
	wait_equal 10 "$T/three"
	wait_equal 10 "$T/one"
	# Two ended with what it was sent before: it has a, not b.
	wait_for 10 test "$(ps -o pid= --ppid "$MIRROR_PID" | wc -l)" -eq 2
	[ -e "$T/two/a" ] && [ ! -e "$T/two/b" ]
	run -0 iobs-supervise cache get "dests/mirror$SRC"
	assert_line "dests=2"
	# Its number, for its keys: the lowest free when it started.
	assert_line --regexp "^dest\.[23]=$T/three\$"
	refute_line --partial "$T/two"
	options "--bogus"
	send WATCH_RECONFIG 0 "$SRC"
	write c
	wait_equal 10 "$T/three"
	[ "$(grep -c -- "--bogus" "$T/mirror.err")" -eq 1 ]
	feed_stop
	[ "$STATUS" -eq 0 ]
}

@test "dests: each child's progress has a key of its own" {
	supervised
	echo a >"$SRC/a"
	feed_start_nowait "$T/one" "$T/two"
	wait_equal 10 "$T/one"
	wait_equal 10 "$T/two"
	wait_for 10 iobs-supervise cache get "progress/mirror#2$SRC"
	run -0 iobs-supervise cache get "progress/mirror#2$SRC"
	assert_line "dest=$T/two"
	run -0 iobs-supervise cache get "progress/mirror#1$SRC"
	assert_line "dest=$T/one"
	run -1 iobs-supervise cache get "progress/mirror$SRC"
}
