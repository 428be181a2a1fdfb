#!/usr/bin/env bats
# iobs-mirror converges: after a seeded random storm of changes on the
# watched tree, hard links made and written through any name included,
# DEST equals the source, links and all, within 2 seconds, every seed.
# IOBS_LONG=1 runs more seeds and longer storms.

load mirror_helper

setup() { mirror_setup; mkdir "$T/outside"; }
teardown() { common_teardown; }

storm_converges() {
	local seed=$1 ops=$2
	# A tree to start from, mirrored by the first reconcile.
	storm -n 200 -s $((seed + 1000)) "$SRC" "$T/outside"
	start_mirror
	storm -n "$ops" -s "$seed" "$SRC" "$T/outside"
	wait_converged 2
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "storm converges: seed 1" { storm_converges 1 1500; }
@test "storm converges: seed 2" { storm_converges 2 1500; }
@test "storm converges: seed 19" { storm_converges 19 1500; }
@test "storm converges: seed 33" { storm_converges 33 1500; }
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
