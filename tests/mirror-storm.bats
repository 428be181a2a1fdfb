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
