#!/usr/bin/env bats
# iobs-mirror --verify: DEST compared with the source every interval,
# what drifted behind the mirror's back repaired and logged.

load mirror_helper

setup() { mirror_setup; }

@test "--verify repairs what drifted in DEST behind the mirror's back, and logs each repair" {
	run -2 iobs-mirror --verify 0 "$DST" </dev/null
	assert_output --partial "--verify 0: an interval"
	mkdir "$SRC/d"
	echo f >"$SRC/f"
	echo g >"$SRC/d/g"
	start_mirror --verify 1 -v
	rm "$DST/f"
	chmod 600 "$DST/d/g"
	echo stray >"$DST/d/stray"
	# Within one interval, and a pass's own time.
	wait_converged 3
	run -0 cat "$T/mirror.out"
	assert_line "repair copy $DST/f"
	assert_line "repair attrs $DST/d/g"
	assert_line "repair delete $DST/d/stray"
	wait_for 3 grep -qE "^verified $DST: [1-9][0-9]* repaired" "$T/mirror.out"
	# Nothing drifted: a pass repairs nothing.
	: >"$T/mirror.out"
	wait_for 3 grep -q "^verified $DST: " "$T/mirror.out"
	run -0 cat "$T/mirror.out"
	assert_output "verified $DST: 0 repaired"
}
