#!/usr/bin/env bats
# iobs-mirror's progress on long work: a line on a terminal, lines with
# --progress=lines, nothing otherwise.

load mirror_helper

setup() { mirror_setup; }

@test "progress: on a terminal a line rewriting itself, then a summary; none without one" {
	local d
	for d in $(seq 1 20); do
		mkdir "$SRC/d$d"
		for f in $(seq 1 100); do echo "$f" >"$SRC/d$d/f$f"; done
	done
	stream "$T/s" "$SRC"
	run -2 iobs-mirror --progress=bars "$DST" <"$T/s"
	assert_output --partial "--progress=bars: line, lines or none"
	# A pseudo-terminal: util-linux's script(1) gives it one.
	run -0 script -qec "iobs-mirror '$DST' <'$T/s'" /dev/null
	# Every line rewrites the one before; the last says what was done.
	run -0 bash -c "printf '%s' \"\$1\" | tr '\r' '\n' | grep -v '^\$'" - "$output"
	assert_line --index $((${#lines[@]} - 1)) --regexp \
	    "^synced $DST: 2,0[0-9][0-9] entries, 2,000 copied \(.* kB\) in [0-9.]+ s.\[K$"
	for l in "${lines[@]:0:${#lines[@]}-1}"; do
		[[ $l =~ ^syncing\ $DST:\ [0-9,]+\ entries ]]
	done
	run -0 treecmp "$SRC" "$DST"
	# No terminal, no --progress: nothing on standard error.
	rm -rf "$DST"
	run -0 --separate-stderr iobs-mirror "$DST" <"$T/s"
	assert_equal "$stderr" ""
	# --progress=lines, for a log: plain lines, the summary last.
	rm -rf "$DST"
	run -0 --separate-stderr iobs-mirror --progress=lines "$DST" <"$T/s"
	[[ $stderr =~ synced\ $DST:\ 2,0[0-9][0-9]\ entries,\ 2,000\ copied ]]
	[[ $stderr != *$'\r'* ]]
}
