#!/usr/bin/env bats
# iobs-watch's long set-up on a terminal: the directories watched so
# far, then a summary; nothing without a terminal, or with -q.

load test_helper

@test "inotify set-up on a terminal: a line rewriting itself, then the summary; none otherwise" {
	mkdir -p "$T/big"
	(cd "$T/big" && mkdir -p d{1..50}/e{1..300})
	# script(1) gives it a pseudo-terminal; -t 1 ends it after 1 s.
	run script -qec "iobs-watch --backend=inotify -t 1 '$T/big' >/dev/null" /dev/null
	run -0 bash -c "printf '%s' \"\$1\" | tr '\r' '\n' | grep -v '^\$'" - "$output"
	assert_line --index $((${#lines[@]} - 1)) --regexp \
	    "^watching 15,051 directories, set up in [0-9.]+ s.\[K$"
	for l in "${lines[@]:0:${#lines[@]}-1}"; do
		[[ $l =~ ^setting\ up\ watches:\ [0-9,]+\ directories ]]
	done
	run script -qec "iobs-watch -q --backend=inotify -t 1 '$T/big' >/dev/null" /dev/null
	refute_output --partial "directories"
	run -2 --separate-stderr iobs-watch --backend=inotify -t 1 "$T/big"
	assert_equal "$stderr" ""
}
