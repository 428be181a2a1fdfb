#!/usr/bin/env bats
# Torture names end to end: names with TAB, newline, backslash, invalid
# UTF-8 and 255 bytes through iobs-watch, iobs-scribe and the codec;
# paths longer than PATH_MAX; the inotify limits under iobs-supervise.

load supervise_helper

# The names, and how the stream and the log must show each.
NAMES=($'tab\there' $'new\nline' 'back\slash' 'literal\n' \
	$'\xff\xfe-not-utf8' '-leading dash' 'sp ace' ' ' \
	"$(printf 'x%.0s' $(seq 255))")
SHOWN=('tab\there' 'new\nline' 'back\\slash' 'literal\\n' \
	'\377\376-not-utf8' '-leading dash' 'sp ace' ' ' \
	"$(printf 'x%.0s' $(seq 255))")

# deep DIR N FILE: goes N directories of 200 bytes down from DIR, one
# relative step at a time (making those missing), so that no path
# given to a system call is long, and makes FILE at the bottom.
deep() {
	local n i
	n=$(printf 'd%.0s' $(seq 200))
	(
		cd "$1" || exit 1
		for ((i = 0; i < $2; i++)); do
			{ [ -d "$n" ] || mkdir "$n"; } && cd "$n" || exit 1
		done
		: >"$3"
	)
}

# deep_path DIR N: the path deep DIR N makes, as a string.
deep_path() {
	local p=$1 i
	for ((i = 0; i < $2; i++)); do p=$p/$(printf 'd%.0s' $(seq 200)); done
	printf '%s\n' "$p"
}

@test "codec: escapes strvis never writes are malformed lines" {
	printf '%s\n' '# iobs-stream 1' \
	    $'1.0\tCREATE\t0\t/a\\q' $'1.0\tCREATE\t0\t/a\\' \
	    $'1.0\tCREATE\t0\t/a\\9' $'1.0\tCREATE\t0\t/a\\s' \
	    $'1.0\tCREATE\t0\t/a\\12' $'1.0\tCREATE\t0\t/a\\400' \
	    $'1.0\tCREATE\t0\t/a\\M-a' $'1.0\tCREATE\t0\t/a\\^A' \
	    $'1.0\tCREATE\t0\t/ok\\000\\0x\\a\\b\\f\\r\\v\\t\\n\\\\\\177' \
	    >"$T/in"
	run -1 bash -c 'streamcodec dec <"$1" >/dev/null' _ "$T/in"
	for n in 2 3 4 5 6 7 8 9; do
		assert_line "streamcodec: line $n: bad escape in PATH"
	done
	streamcodec dec <"$T/in" 2>/dev/null | od -An -c | tr -s ' ' >"$T/got" ||
		true
	printf ' / o k \\0 \\0 x \\a \\b \\f \\r \\v \\t \\n \\ 177 \\0\n' >"$T/want"
	diff -u "$T/want" "$T/got"
}

@test "codec: torture names survive encoding, one line each" {
	printf "$T/w/%s\\0" "${NAMES[@]}" >"$T/names"
	streamcodec enc <"$T/names" >"$T/stream"
	run -0 awk -F'\t' 'NF != 4' "$T/stream"
	assert_output ""
	assert_equal "$(wc -l <"$T/stream")" "${#NAMES[@]}"
	run -0 field 4 "$T/stream"
	for s in "${SHOWN[@]}"; do
		assert_line "$T/w/$s"
	done
	streamcodec dec <"$T/stream" >"$T/back"
	cmp "$T/names" "$T/back"
}

@test "torture names: iobs-watch to iobs-scribe, one log line each" {
	mkdir "$T/w"
	mkfifo "$T/pipe"
	iobs-scribe -u -e CREATE,WATCH_INIT <"$T/pipe" >"$T/log" \
	    2>"$T/log.err" 3>&- &
	BG_PIDS+=($!)
	iobs-watch "$T/w" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 grep -q 'WATCH STARTED' "$T/log"
	for n in "${NAMES[@]}"; do : >"$T/w/$n"; done
	: >"$T/w/zz-marker"
	wait_for 10 grep -q "'zz-marker' was CREATED" "$T/log"
	# Every line is a whole log line: no name broke one in two.
	run -1 grep -vE "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ $T/w: " "$T/log"
	sed -E 's/^[0-9-]+ [0-9:.]+ //' "$T/log" >"$T/lines"
	for s in "${SHOWN[@]}"; do
		run -0 grep -cxF -- "$T/w: file '$s' was CREATED" "$T/lines"
		assert_output 1
	done
	assert_equal "$(wc -l <"$T/log")" $(( ${#NAMES[@]} + 2 ))
	run cat "$T/log.err" "$T/watch.err"
	assert_output ""
}

# Paths are long here: checks print counts, not the paths.
@test "paths longer than PATH_MAX: right paths, or a warning that says why" {
	mkdir -p "$T/w/new"
	deep "$T/w" 22 f
	old=$(deep_path "$T/w" 22)
	new=$(deep_path "$T/w/new" 22)
	[ "${#old}" -gt 4096 ]
	start_watch "$T/out" "$T/w"
	deep "$T/w" 22 g
	deep "$T/w/new" 22 h
	: >"$T/w/.marker"
	wait_for 10 grep -q '/\.marker$' "$T/out"
	awk -F'\t' '!/^#/ { print $2 "\t" $4 }' "$T/out" >"$T/recs"
	# The walk at start-up stands in each directory: the tree made
	# before is watched to the bottom, with whole paths.
	run -0 grep -cxF $'CREATE\t'"$old/g" "$T/recs"
	assert_output 1
	if [ "$(sed -n 2p "$T/out")" = "# backend fanotify" ]; then
		# One mark covers them all: every path whole, no warning.
		run -0 grep -cxF $'CREATE\t'"$new/h" "$T/recs"
		assert_output 1
		assert_file_empty "$T/out.err"
	else
		# A directory made later is watched by its path, which the
		# kernel refuses past PATH_MAX: a warning names it and why.
		run -0 grep -c ': cannot watch: File name too long$' "$T/out.err"
		assert_output 1
		run -1 grep -cv ': cannot watch: File name too long$' "$T/out.err"
		assert_output 0
		run -0 grep -cxF $'CREATE,ISDIR\t'"${new%/*/*}" "$T/recs"
		assert_output 1
	fi
	# No record has a cut or mangled path.
	run -1 grep -cvE "	$T/w(/new)?(/d{200})*(/[fgh]|/\.marker)?\$" "$T/recs"
	assert_output 0
}

@test "watch limit under iobs-supervise: the watcher's error in the log, prefixed" {
	mkdir -p "$T/data"/{a,b,c,d,e}
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	unshare -U -r sh -c 'echo 4 > /proc/sys/user/max_inotify_watches &&
		exec "$0" -c "$1"' "$IOBS_BIN/iobs-supervise" "$T/rc" \
		>"$T/stdout" 2>"$T/log" 3>&- &
	SUP_PID=$!
	BG_PIDS+=("$SUP_PID")
	wait_for 10 grep -q 'watch limit' "$T/log"
	run -0 cat "$T/log"
	assert_line --regexp "^iobs-supervise: $T/data cat: iobs-watch: $T/data(/[a-e])?: inotify watch limit reached \(user\.max_inotify_watches = 4\); raise it with sysctl\$"
	wait_for 10 grep -q "^iobs-supervise: $T/data cat: .*restart 1 in" "$T/log"
	running "$SUP_PID"
}

@test "instance limit under iobs-supervise: the watcher's error, prefixed" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	unshare -U -r sh -c 'echo 1 > /proc/sys/user/max_inotify_instances &&
		exec "$0" -c "$1"' "$IOBS_BIN/iobs-supervise" "$T/rc" \
		>"$T/stdout" 2>"$T/log" 3>&- &
	SUP_PID=$!
	BG_PIDS+=("$SUP_PID")
	wait_for 10 grep -q 'instance limit' "$T/log"
	run -0 cat "$T/log"
	assert_line "iobs-supervise: $T/data cat: iobs-watch: inotify instance limit reached (user.max_inotify_instances = 1); raise it with sysctl"
	running "$SUP_PID"
}

@test "instance limit 0: iobs-supervise itself names the sysctl, exit 1" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	run -1 unshare -U -r sh -c '
		echo 0 > /proc/sys/user/max_inotify_instances &&
		exec "$0" -c "$1"' "$IOBS_BIN/iobs-supervise" "$T/rc"
	assert_output "iobs-supervise: inotify instance limit reached (user.max_inotify_instances = 0); raise it with sysctl"
	assert_file_not_exist "$STATE/iobs-supervise.pid"
}
