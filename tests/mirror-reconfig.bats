#!/usr/bin/env bats
# iobs-mirror: new options from the cache on WATCH_RECONFIG and SIGHUP,
# as iobs-supervise hands them over (iobs-supervise(8), iobs-mirror(1)):
# checked as at start-up, then the new DEST reconciled at that point of
# the stream and followed.

load mirror_helper

setup() {
	mirror_setup
	KEY=options/mirror$SRC
	NEW=$T/new
	mkdir -m 700 "$T/cache"
	export IOBS_CACHE=$T/cache IOBS_OPTIONS=$KEY
}

teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

# feed_start ARGS...: feed_start_nowait, and the first reconcile
# waited for.
feed_start() {
	feed_start_nowait "$@"
	wait_converged 10
}

same() {
	treecmp -q "$1" "$2"
}

# wait_converged_to DIR: as wait_converged, for another DEST.
wait_converged_to() {
	if ! wait_for 10 same "$SRC" "$1"; then
		treecmp "$SRC" "$1" | head -20 >&2
		cat "$T/mirror.err" >&2
		return 1
	fi
}

# blocks_hup PID: the process has SIGHUP blocked, so a SIGHUP reaches
# its signalfd instead of killing it.
blocks_hup() {
	local mask
	mask=$(awk '/^SigBlk:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$mask" ] && (( 16#$mask & 1 ))
}

# errors N: the mirror has said N lines on standard error.
errors() {
	[ "$(grep -c . "$T/mirror.err")" -eq "$1" ]
}

@test "mirror-reconfig: a new --destination is reconciled at WATCH_RECONFIG, later records go there" {
	echo a >"$SRC/a"
	mkdir "$SRC/d"
	echo b >"$SRC/d/b"
	feed_start "$DST"
	write x
	wait_for 10 test -e "$DST/x"
	# In the source only: the reconcile of the new DEST brings it.
	echo y >"$SRC/y"
	options "--destination=$NEW"
	send WATCH_RECONFIG 0 "$SRC"
	wait_for 10 same "$SRC" "$NEW"
	write z
	rm "$SRC/a"
	send DELETE 0 "$SRC/a"
	wait_for 10 test -e "$NEW/z"
	wait_converged_to "$NEW"
	feed_stop
	assert_equal "$STATUS" 0
	[ ! -s "$T/mirror.err" ]
	# The old DEST is left as it was at WATCH_RECONFIG.
	assert [ -e "$DST/x" ]
	assert [ -e "$DST/a" ]
	assert [ ! -e "$DST/y" ]
	assert [ ! -e "$DST/z" ]
}

@test "mirror-reconfig: with the real iobs-watch, changes made during the switch all reach the new DEST" {
	for i in $(seq 1 50); do echo "$i" >"$SRC/f$i"; done
	start_mirror
	options "--destination=$NEW" --exclude='*.tmp'
	kill -HUP "$WATCH_PID"
	# A writer goes on while the change is applied, and 30 rounds
	# after the new DEST appears; bounded by the loop, the pause only
	# spaces the changes out.
	i=50 after=0
	while [ "$after" -lt 30 ] && [ "$i" -lt $((50 + 500 * SLOW)) ]; do
		[ ! -d "$NEW" ] || after=$((after + 1))
		i=$((i + 1))
		echo "$i" >"$SRC/f$i"
		echo "$i" >"$SRC/f$i.tmp"
		rm -f "$SRC/f$((i - 40))"
		sleep 0.01
	done
	for j in $(seq 1 20); do
		mv "$SRC/f$((i - j))" "$SRC/g$j" 2>/dev/null || true
		echo "$j" >>"$SRC/f$i"
	done
	[ -d "$NEW" ]
	mkdir -p "$SRC/late/deep"
	echo late >"$SRC/late/deep/l"
	wait_for 10 test -e "$NEW/late/deep/l"
	# The new DEST equals the source, the excluded files apart.
	rm -f "$SRC"/*.tmp
	wait_converged_to "$NEW"
	run -0 find "$NEW" -name '*.tmp'
	assert_output ""
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
	[ ! -s "$T/mirror.err" ]
}

@test "mirror-reconfig: a DEST inside the root, or holding it, or not a directory: one warning, the old DEST kept" {
	feed_start "$DST"
	touch "$T/file"
	# The key is read when the record is: one change at a time.
	n=0
	for bad in "$SRC/backup" "$T" "$T/file"; do
		options "--destination=$bad"
		send WATCH_RECONFIG 0 "$SRC"
		n=$((n + 1))
		wait_for 10 errors "$n"
	done
	write after
	wait_for 10 test -e "$DST/after"
	feed_stop
	assert_equal "$STATUS" 1
	run -0 cat "$T/mirror.err"
	assert_line -n 0 "iobs-mirror: $KEY: $SRC/backup is inside the watched root $SRC: it would copy itself; choose a destination outside it; keeping the old options"
	assert_line -n 1 "iobs-mirror: $KEY: the watched root $SRC is inside $T: mirroring would overwrite the source; choose another destination; keeping the old options"
	assert_line -n 2 "iobs-mirror: $KEY: $T/file: not a directory; keeping the old options"
	assert_equal "${#lines[@]}" 3
	# Nothing was made in the source, nothing written in $T.
	assert [ ! -e "$SRC/backup" ]
	run -0 same "$SRC" "$DST"
	assert [ ! -e "$T/src/src" ]
}

@test "mirror-reconfig: a bad option: one warning, the old options kept, good ones taken later" {
	feed_start "$DST"
	# The key is read when the record is: one change at a time.
	n=0
	for bad in --frob --max-delete=lots --root=/elsewhere; do
		options "--destination=$NEW" "$bad"
		send WATCH_RECONFIG 0 "$SRC"
		n=$((n + 1))
		wait_for 10 errors "$n"
	done
	options --exclude=x
	send WATCH_RECONFIG 0 "$SRC"
	wait_for 10 errors 4
	write a
	wait_for 10 test -e "$DST/a"
	assert [ ! -e "$NEW" ]
	options "--destination=$NEW"
	send WATCH_RECONFIG 0 "$SRC"
	write b
	wait_for 10 test -e "$NEW/b"
	feed_stop
	assert_equal "$STATUS" 0
	run -0 same "$SRC" "$NEW"
	run -0 cat "$T/mirror.err"
	assert_line -n 0 "iobs-mirror: $KEY: --frob: unknown option; keeping the old options"
	assert_line -n 1 "iobs-mirror: $KEY: --max-delete lots: number is invalid; keeping the old options"
	assert_line -n 2 "iobs-mirror: $KEY: --root cannot change while iobs-mirror runs; keeping the old options"
	assert_line -n 3 "iobs-mirror: $KEY: no destination; keeping the old options"
	assert_equal "${#lines[@]}" 4
}

@test "mirror-reconfig: a new DEST the safety checks stop: nothing deleted there, the old DEST kept" {
	echo a >"$SRC/a"
	feed_start "$DST"
	mkdir -p "$NEW/old"
	touch "$NEW/old/1" "$NEW/old/2" "$NEW/x"
	options "--destination=$NEW" --max-delete=2
	send WATCH_RECONFIG 0 "$SRC"
	wait_for 10 errors 1
	assert [ -e "$NEW/old/2" ]
	assert [ -e "$NEW/x" ]
	write b
	wait_for 10 test -e "$DST/b"
	# An empty source beside a full new DEST looks like a lost disk.
	rm "$SRC/a" "$SRC/b"
	send DELETE 0 "$SRC/a"
	send DELETE 0 "$SRC/b"
	wait_converged 10
	options "--destination=$NEW"
	send WATCH_RECONFIG 0 "$SRC"
	wait_for 10 errors 2
	# --force takes it.
	options "--destination=$NEW" --force
	send WATCH_RECONFIG 0 "$SRC"
	feed_stop
	assert_equal "$STATUS" 1
	run -0 same "$SRC" "$NEW"
	run -0 cat "$T/mirror.err"
	assert_line -n 0 "iobs-mirror: $KEY: $NEW: reconcile would delete 4 entries, more than --max-delete 2: nothing deleted; check the source, then use --force; keeping the old options"
	assert_line -n 1 --partial "iobs-mirror: $KEY: $SRC is empty but $NEW is not"
	assert_equal "${#lines[@]}" 2
}

@test "mirror-reconfig: a new --exclude on the same DEST: excluded entries are neither copied nor deleted" {
	echo k >"$SRC/keep.tmp"
	feed_start "$DST"
	options "--destination=$DST" "--exclude=*.tmp"
	send WATCH_RECONFIG 0 "$SRC"
	echo n >"$SRC/new.tmp"
	send CLOSE_WRITE,CLOSE 0 "$SRC/new.tmp"
	write plain
	wait_for 10 test -e "$DST/plain"
	feed_stop
	assert_equal "$STATUS" 0
	assert [ -e "$DST/keep.tmp" ]
	assert [ ! -e "$DST/new.tmp" ]
}

@test "mirror-reconfig: no key: the options stay and DEST is reconciled" {
	echo a >"$SRC/a"
	feed_start "$DST"
	# DEST drifted behind the mirror's back.
	rm "$DST/a"
	echo stray >"$DST/stray"
	send WATCH_RECONFIG 0 "$SRC"
	wait_converged 10
	feed_stop
	assert_equal "$STATUS" 0
	[ ! -s "$T/mirror.err" ]
}

@test "mirror-reconfig: without IOBS_OPTIONS the key is not read" {
	options "--destination=$NEW"
	unset IOBS_OPTIONS
	feed_start "$DST"
	send WATCH_RECONFIG 0 "$SRC"
	write a
	wait_for 10 test -e "$DST/a"
	feed_stop
	assert_equal "$STATUS" 0
	assert [ ! -e "$NEW" ]
}

@test "mirror-reconfig: SIGHUP reads the options too" {
	echo a >"$SRC/a"
	feed_start "$DST"
	options "--destination=$NEW"
	kill -HUP "$MIRROR_PID"
	wait_for 10 same "$SRC" "$NEW"
	write b
	wait_for 10 test -e "$NEW/b"
	feed_stop
	assert_equal "$STATUS" 0
	assert [ ! -e "$DST/b" ]
}

@test "mirror-reconfig: a new DEST given before WATCH_INIT is checked there, as at start-up" {
	mkfifo "$T/feed"
	iobs-mirror "$DST" <"$T/feed" >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/feed"
	options "--destination=$SRC/in"
	wait_for 10 blocks_hup "$MIRROR_PID"
	kill -HUP "$MIRROR_PID"
	wait_for 10 test -d "$SRC/in"
	printf '# iobs-stream 1\n' >&4
	send WATCH_INIT 0 "$SRC"
	feed_stop
	assert_equal "$STATUS" 2
	run -0 cat "$T/mirror.err"
	assert_output "iobs-mirror: $SRC/in is inside the watched root $SRC: it would copy itself; choose a destination outside it"
}

@test "mirror-reconfig: a reconcile --max-delete stopped goes once --force comes by SIGHUP" {
	echo a >"$SRC/a"
	mkdir "$DST"
	touch "$DST"/x{1..8}
	mkfifo "$T/feed"
	iobs-mirror -m 5 "$DST" <"$T/feed" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/feed"
	printf '# iobs-stream 1\n' >&4
	send WATCH_INIT 0 "$SRC"
	wait_for 10 errors 1
	assert [ -e "$DST/x8" ]
	wait_for 10 blocks_hup "$MIRROR_PID"
	options "--destination=$DST" "--max-delete=5" "--force"
	kill -HUP "$MIRROR_PID"
	wait_converged 10
	feed_stop
	assert_equal "$STATUS" 0
	run -0 errors 1
}
