#!/usr/bin/env bats
# iobs-mirror converges: after a seeded random storm of changes on the
# watched tree, hard links made and written through any name included,
# DEST equals the source, links and all, within 2 seconds, every seed.
# IOBS_LONG=1 runs more seeds and longer storms.

load mirror_helper

setup() { mirror_setup; mkdir "$T/outside"; }
teardown() {
	exec 4>&- 2>/dev/null || true
	common_teardown
}

# storm_converges SEED OPS [OPTIONS...]: iobs-mirror OPTIONS.
storm_converges() {
	local seed=$1 ops=$2
	shift 2
	# A tree to start from, mirrored by the first reconcile.
	storm -n 200 -s $((seed + 1000)) "$SRC" "$T/outside"
	start_mirror "$@"
	storm -n "$ops" -s "$seed" "$SRC" "$T/outside"
	wait_converged 2
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "storm converges: seed 1" { storm_converges 1 1500; }
@test "storm converges: seed 2" { storm_converges 2 1500; }
@test "storm converges: seed 19" { storm_converges 19 1500; }
@test "storm converges: seed 33" { storm_converges 33 1500; }
# What each storm deletes and replaces kept, by renames and links into
# the set: DEST the same all the same.
@test "storm converges with --backup-dir: seeds 1, 2, 3" {
	CMP_OPTS=(-x .bk)
	storm -n 300 -s 1000 "$SRC" "$T/outside"
	start_mirror --backup-dir .bk
	local s
	for s in 1 2 3; do
		storm -n 2000 -s "$s" "$SRC" "$T/outside"
		wait_converged 5
	done
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}
# bats test_tags=long
@test "storm converges: seeds 100-119, long" {
	[ -n "${IOBS_LONG:-}" ] || skip "set IOBS_LONG=1"
	local s
	for s in $(seq 100 119); do
		rm -rf "$SRC" "$DST" "$T/outside" "$T/pipe"
		mkdir "$SRC" "$T/outside"
		BG_PIDS=()
		storm_converges "$s" 5000
	done
}

# in_each_dir CMD: runs sh -c CMD - DIR in each directory of $SRC.
in_each_dir() {
	find "$SRC" -type d -exec sh -c "$1" - {} \;
}

@test "poll backend: a mirror converges as each directory's listing holds" {
	# 3 s still before each round: listings hold, and what is done
	# to a directory then is seen through its times alone.
	WATCH_OPTS=(--backend=poll --interval=0.2)
	storm -n 300 -s 1041 "$SRC" "$T/outside"
	start_mirror
	sleep 3
	in_each_dir ': > "$1/made"'
	wait_converged 3
	sleep 3
	in_each_dir 'echo more >> "$1/made"'
	wait_converged 3
	sleep 3
	in_each_dir 'mv "$1/made" "$1/renamed"'
	wait_converged 3
	sleep 3
	in_each_dir 'rm "$1/renamed"'
	wait_converged 3
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "poll backend: storms converge, what came and went between scans included" {
	# What is made and gone between two scans is never reported; its
	# directory's ATTRIB has the mirror compare the copy it made.
	local seed
	WATCH_OPTS=(--backend=poll --interval=0.2)
	storm -n 200 -s 1041 "$SRC" "$T/outside"
	start_mirror
	for seed in 41 42 43; do
		sleep 3
		storm -n 500 -s "$seed" "$SRC" "$T/outside"
		wait_converged 3
	done
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

# scan_stream [BACKEND]: fifo_mirror, its stream's header naming
# BACKEND (none: no such line), WATCH_INIT, and the first reconcile.
scan_stream() {
	fifo_mirror
	[ -z "${1:-}" ] || printf '# backend %s\n' "$1" >&4
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
}

@test "from a scan, ATTRIB on a directory: its entries compared, one level deep" {
	mkdir -p "$SRC/d/sub"
	echo keep >"$SRC/d/keep"
	scan_stream poll
	# What a copy of d caught that the stream never said is gone,
	echo caught >"$DST/d/caught"
	# and what it never said was made: iobs-watch's poll may say just
	# that d changed.
	echo unsaid >"$SRC/d/unsaid"
	echo deep >"$SRC/d/sub/deep"
	send ATTRIB,ISDIR 0 "$SRC/d"
	wait_for 5 test -e "$DST/d/unsaid"
	wait_for 5 test ! -e "$DST/d/caught"
	assert_equal "$(cat "$DST/d/unsaid")" unsaid
	# Below d is left to its own records ("sub" is listed before
	# "unsaid": had the walk gone down, deep would be there).
	assert [ ! -e "$DST/d/sub/deep" ]
	end_stream
	assert_equal "$MIRROR_STATUS" 0
}

@test "from a scan, an entry made: its directory's entries compared too; from inotify, not" {
	local b
	for b in poll inotify; do
		rm -rf "$SRC" "$DST" "$T/pipe"
		mkdir -p "$SRC/d"
		scan_stream "$b"
		# Caught by a copy of d: made and gone between two scans.
		echo caught >"$DST/d/caught"
		echo new >"$SRC/d/new"
		send CREATE 0 "$SRC/d/new"
		send CLOSE_WRITE,CLOSE 0 "$SRC/d/new"
		wait_for 5 test -e "$DST/d/new"
		if [ "$b" = poll ]; then
			wait_for 5 test ! -e "$DST/d/caught"
		else
			# inotify said all there was: no listing.
			sleep 0.3
			assert [ -e "$DST/d/caught" ]
		fi
		end_stream
		assert_equal "$MIRROR_STATUS" 0
	done
}

@test "records read together: many CLOSE_WRITEs of one file are one copy" {
	echo one >"$SRC/a"
	stream "$T/s" "$SRC"
	local i
	for i in $(seq 50); do
		rec CLOSE_WRITE,CLOSE 0 "$SRC/a"
	done
	run -0 iobs-mirror -vv "$DST" <"$T/s"
	run -0 grep -c "^copy $DST/a\$" <<<"$output"
	# The reconcile's copy, and one for the fifty records.
	assert_output 2
}

@test "records read together: those before an OVERFLOW are skipped for its rescan" {
	echo one >"$SRC/a"
	stream "$T/s" "$SRC"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/a"
	rec CREATE 0 "$SRC/b"
	rec OVERFLOW 0 "$SRC"
	rec WATCH_INIT 0 "$SRC"
	echo b >"$SRC/b"
	run -0 iobs-mirror -vv "$DST" <"$T/s"
	run -0 grep -c "^copy " <<<"$output"
	# a and b, each once, by the two reconciles.
	assert_output 2
	run -0 converged
}

@test "records read together: renames between the writes of a file do not cut the batch, one copy" {
	echo one >"$SRC/f"
	echo r >"$SRC/r3"
	stream "$T/s" "$SRC"
	local i
	for i in 0 1 2; do
		rec CLOSE_WRITE,CLOSE 0 "$SRC/f"
		rec MOVED_FROM $((i + 1)) "$SRC/r$i"
		rec MOVED_TO $((i + 1)) "$SRC/r$((i + 1))"
	done
	rec CLOSE_WRITE,CLOSE 0 "$SRC/f"
	run -0 iobs-mirror -vv "$DST" <"$T/s"
	run -0 grep -c "^copy $DST/f\$" <<<"$output"
	# The reconcile's copy, and one for the four records.
	assert_output 2
	run -0 converged
}

@test "records read together: those waiting for a renamed file follow it to its new name" {
	printf 'old!' >"$SRC/a"
	touch -d '2020-01-01 00:00:00' "$SRC/a"
	fifo_mirror -vv
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	# The same size and time: only the record tells the data changed.
	printf 'new!' >"$SRC/a"
	touch -d '2020-01-01 00:00:00' "$SRC/a"
	mv "$SRC/a" "$SRC/b"
	# In one write, so that they are read together however busy the
	# machine (bash's printf writes each line by itself).
	recs=$(
		send CLOSE_WRITE,CLOSE 0 "$SRC/a" 4>&1
		send MOVED_FROM 7 "$SRC/a" 4>&1
		send MOVED_TO 7 "$SRC/b" 4>&1
	)
	cat <<<"$recs" >&4
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	assert_equal "$(cat "$DST/b")" 'new!'
	assert [ ! -e "$DST/a" ]
	run -0 grep -c "^rename $DST/a $DST/b\$" "$T/mirror.out"
}
