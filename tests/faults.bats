#!/usr/bin/env bats
# Faults injected into real processes: kill -9 of each member of a
# supervised scribe + mirror pipeline under a storm, DEST on a full
# file system, a source directory made unreadable, the watch root
# deleted and made again, an inotify watch limit below the tree's size.
# IOBS_LONG=1 repeats the kills over more seeds.

load supervise_helper
. "$BATS_TEST_DIRNAME/logline.bash"

setup() {
	common_setup
	SRC=$T/src
	DST=$T/dst
	STATE=$T/state
	mkdir "$SRC" "$T/outside"
}

teardown() {
	if [ -n "${SUP_PID:-}" ]; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait "$SUP_PID" 2>/dev/null || true
	fi
	common_teardown_fs
	common_teardown
}

# A tmpfs mounted for a test is gone with it.
common_teardown_fs() {
	if [ -n "${FS_MOUNTED:-}" ]; then
		umount -l "$FS_MOUNTED" 2>/dev/null || true
	fi
}

# pipe_conf [LINES...]: one watch on $SRC with the real scribe, logging
# to $T/scribe.log, and the real mirror into $DST; LINES go to [global].
pipe_conf() {
	{
		printf '[global]\nstate_dir = %s\n' "$STATE"
		printf 'restart_delay = 0.2\nrestart_delay_max = 1\n'
		printf 'restart_reset = 2\n'
		printf '%s\n' "$@"
		printf '[watches]\n[[%s]]\nplugins = scribe, mirror\n' "$SRC"
		printf 'scribe_log = %s\nmirror_destination = %s\n' \
		    "$T/scribe.log" "$DST"
	} >"$T/rc"
}

converged() {
	treecmp -q "$SRC" "$DST"
}

# wait_converged SECONDS: DEST equals the source; shows why not.
wait_converged() {
	if ! wait_for "$1" converged; then
		treecmp "$SRC" "$DST" | head -20 >&2
		cat "$T/log" "$T/mirror.err" >&2 2>/dev/null
		return 1
	fi
}

# The running supervisor is SUP_PID and has both pipelines ready: its
# pid is in the status, so that a killed one's leftovers do not count.
sup_ready() {
	local s
	s=$(status 2>/dev/null) || return 1
	grep -q "pid $SUP_PID," <<<"$s" &&
	    [ "$(grep -cE ' up +yes ' <<<"$s")" -eq 2 ]
}

start_pipes() {
	start_sup
	wait_for 20 sup_ready
}

# The scribe's log holds only whole lines.
log_whole() {
	run -0 bad_log_lines "$T/scribe.log" "$SRC"
	assert_output ""
}

# kill_under_storm VICTIM SEED: a storm on the tree; at a random moment
# in it, kill -9 of VICTIM (watch/mirror, mirror, watch/scribe, scribe
# or supervise, which is started again). Once the storm ends, DEST
# equals the source within 10 s and the log has no torn line.
kill_under_storm() {
	local victim=$1 seed=$2 w p pid spid restarts k
	read -r w p <<<"$(pids_of "$SRC" "${victim#watch/}")"
	case $victim in
	watch/*) pid=$w ;;
	supervise) pid=$SUP_PID ;;
	*) pid=$p ;;
	esac
	restarts=$(count_lines "$T/log" 'killed by signal 9')
	# The kill comes k operations into the storm of 1,500, k drawn
	# from the seed: the storm's first part is done, the pipeline still
	# has it to read, and the rest of the storm has just begun.
	k=$((100 + seed * 7919 % 1300))
	storm -n "$k" -s "$seed" "$SRC" "$T/outside"
	storm -n $((1500 - k)) -s $((seed + 5000)) "$SRC" "$T/outside" &
	spid=$!
	kill -KILL "$pid"
	if [ "$victim" = supervise ]; then
		wait "$SUP_PID" || true
		# Its pipelines got SIGTERM from the kernel; a new one
		# starts while they finish.
		start_sup
	else
		wait_for 10 has_lines "$T/log" "killed by signal 9" \
		    $((restarts + 1)) || { cat "$T/log" >&2; false; }
	fi
	wait "$spid"
	wait_for 20 sup_ready
	wait_converged 10
}

# Seed 1 in make check; check-long (IOBS_LONG=1) adds seeds 2-8. Seed 8
# found a file written through a hard link that was then deleted.
kill_test() {
	local seed
	pipe_conf
	storm -n 200 -s 7 "$SRC" "$T/outside"
	start_pipes
	wait_converged 10
	for seed in 1 ${IOBS_LONG:+2 3 4 5 6 7 8}; do
		kill_under_storm "$1" "$seed"
	done
	log_whole
	# Only the kills went wrong: no member said anything, but that
	# the last record of a killed watcher was cut short.
	run sh -c 'grep -E "iobs-(watch|mirror|scribe):" "$1" |
	    grep -v ": a record cut short; line skipped\$"' _ "$T/log"
	assert_output ""
}

# bats test_tags=long
@test "kill -9 of the mirror's watcher under a storm: restarted, DEST converges" {
	kill_test watch/mirror
}

# bats test_tags=long
@test "kill -9 of the mirror under a storm: restarted, DEST converges" {
	kill_test mirror
}

# bats test_tags=long
@test "kill -9 of the scribe's watcher under a storm: log whole, DEST converges" {
	kill_test watch/scribe
}

# bats test_tags=long
@test "kill -9 of the scribe under a storm: restarted, no torn line" {
	kill_test scribe
}

# bats test_tags=long
@test "kill -9 of iobs-supervise under a storm: started again, DEST converges" {
	kill_test supervise
}

# How this sandbox can mount a small tmpfs: directly (root), in a mount
# namespace, or in a user and mount namespace; skips when none works.
fs_how() {
	mkdir -p "$T/probe"
	if mount -t tmpfs -o size=1m iobs-probe "$T/probe" 2>/dev/null; then
		umount "$T/probe"
		FS_NS=
	elif unshare -m sh -c 'mount -t tmpfs tmpfs "$1"' sh "$T/probe" \
	    2>/dev/null; then
		FS_NS=-m
	elif unshare -U -r -m sh -c 'mount -t tmpfs tmpfs "$1"' sh \
	    "$T/probe" 2>/dev/null; then
		FS_NS="-U -r -m"
	else
		skip "cannot mount a tmpfs here, not even with unshare -m"
	fi
}

# start_fs_mirror SIZE BALLAST_KB: iobs-watch $SRC | iobs-mirror into
# $FS/dst, on a tmpfs of SIZE on $FS that a ballast file of BALLAST_KB
# fills in part. The tmpfs is mounted by the mirror's own process, in
# its namespace if need be; FSV is where this shell sees it.
start_fs_mirror() {
	fs_how
	FS=$T/fs
	mkdir "$FS"
	[ -n "$FS_NS" ] || FS_MOUNTED=$FS
	mkfifo "$T/pipe"
	${FS_NS:+unshare $FS_NS} sh -c '
		mount -t tmpfs -o size="$1" iobs-faults "$3" || exit 99
		head -c "$2"K /dev/zero >"$3/ballast"
		mkdir "$3/dst"
		shift 3
		exec "$@"' sh "$1" "$2" "$FS" iobs-mirror "$FS/dst" \
	    <"$T/pipe" >"$T/mirror.out" 2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	BG_PIDS+=($!)
	if [ -n "$FS_NS" ]; then FSV=/proc/$MIRROR_PID/root$FS; else FSV=$FS; fi
	DST=$FSV/dst
	wait_converged 10
}

# fs_do COMMAND...: runs COMMAND where the tmpfs is mounted.
fs_do() {
	${FS_NS:+nsenter -t "$MIRROR_PID" ${FS_NS/-r/} --preserve-credentials} "$@"
}

# The mirror has applied every record before this one: a marker
# file made now is in DEST.
mirror_synced() {
	echo "$1" >"$SRC/marker"
	wait_for 10 grep -qsx "$1" "$DST/marker"
}

@test "DEST full: one error line, the mirror keeps on; ballast deleted: converges with no event" {
	echo a >"$SRC/a"
	# Room for big with no ballast, even beside an older copy of it
	# made while it was being written (a slow mirror reads it late):
	# the new copy is whole before it replaces the old one.
	start_fs_mirror 4m 3200
	head -c 1500K /dev/urandom >"$SRC/big"
	wait_for 10 grep -qs "No space left on device" "$T/mirror.err"
	local failed=$SECONDS
	# Every record about big, and the ones after, are applied.
	mirror_synced 1
	running "$MIRROR_PID"
	run -0 cat "$T/mirror.err"
	assert_output --regexp "^iobs-mirror: write [^ ]*/fs/dst/big: No space left on device\$"
	# No half-copied temporary file is left behind.
	run -0 find "$DST" -name '.iobs-mirror.*'
	assert_output ""
	# Space is freed outside DEST, which makes no event in the
	# source. What retries is iobs-mirror's own timer: a failed path
	# is tried again 1 s after the failure, then 2, 4, ... 60 s, so
	# the next try is at most as far off as the first failure is
	# behind (a loaded machine may have taken long to get here).
	rm "$FSV/ballast"
	wait_converged $((SECONDS - failed + 10))
	running "$MIRROR_PID"
	run -0 grep -c . "$T/mirror.err"
	assert_output 1
}

@test "DEST full: grown with remount, the next event retries at once" {
	echo a >"$SRC/a"
	start_fs_mirror 1m 0
	head -c 1500K /dev/urandom >"$SRC/big"
	wait_for 10 grep -qs "No space left on device" "$T/mirror.err"
	mirror_synced 1
	fs_do mount -o remount,size=4m "$FS"
	# What retries here is the next record, any record: a failed
	# path is tried again with the first one a second or more after
	# the last try, before the timer's turn.
	sleep 1
	mirror_synced 2
	converged
	run -0 grep -c . "$T/mirror.err"
	assert_output 1
}

# as_nobody COMMAND...: COMMAND without root's privileges, which would
# read anything.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

@test "a source directory made unreadable, as nobody: a line per entry, no crash, the rest mirrored, then converges" {
	command -v setpriv >/dev/null || skip "no setpriv"
	[ "$(id -u)" = 0 ] || skip "needs root to become nobody"
	mkdir -p "$SRC/locked/d1" "$SRC/open" "$DST"
	echo a >"$SRC/locked/a"
	echo f >"$SRC/locked/d1/f"
	echo b >"$SRC/open/b"
	chmod 755 "$T"
	chown nobody "$DST"
	mkfifo "$T/pipe"
	as_nobody iobs-mirror "$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	as_nobody iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_converged 10
	chmod 000 "$SRC/locked"
	echo new >"$SRC/locked/new"
	# As nobody, the mirror cannot see in the source that d1 is gone,
	# so the pair is no rename, nor read the source to copy: DEST
	# keeps d1 and lacks d2 until the directory is readable again.
	mv "$SRC/locked/d1" "$SRC/locked/d2"
	echo n >"$SRC/open/n"
	echo c >"$SRC/c"
	wait_for 10 test -e "$DST/c"
	# Everything else is mirrored; only what could not be read is not.
	wait_for 10 eval '[ -z "$(treecmp "$SRC" "$DST" | grep -v "^locked/")" ]'
	run -1 treecmp "$SRC" "$DST"
	assert_output "locked/d1: only in second
locked/d2: only in first
locked/new: only in first"
	running "$MIRROR_PID"
	running "$WATCH_PID"
	# One line for each entry, however many records named it.
	run -0 cat "$T/mirror.err"
	assert_output "iobs-mirror: read $SRC/locked/new: Permission denied
iobs-mirror: read $SRC/locked/d1: Permission denied
iobs-mirror: read $SRC/locked/d2: Permission denied"
	# Readable again: iobs-mirror tries the entries again by itself,
	# at the ATTRIB record of the chmod or on its timer.
	chmod 755 "$SRC/locked"
	wait_converged 10
	run -0 grep -c . "$T/mirror.err"
	assert_output 3
	run -0 cat "$T/watch.err"
	assert_output ""
}

@test "the watch root deleted: WATCH_DEAD, exit; made again: the pipelines restart and DEST converges" {
	pipe_conf
	mkdir "$SRC/d"
	echo a >"$SRC/d/a"
	echo b >"$SRC/b"
	start_pipes
	wait_converged 10
	rm -rf "$SRC"
	# Each watcher writes WATCH_DEAD and exits; the mirror follows the
	# deletes, and each pipeline waits for the path.
	wait_for 10 grep -qs "$SRC: WATCH STOPPED\$" "$T/scribe.log"
	wait_for 10 has_lines "$T/log" \
	    "$SRC (scribe|mirror): iobs-[a-z]+ exited 0; restart 1 in" 2
	wait_for 10 has_lines "$T/log" \
	    "$SRC (scribe|mirror): $SRC: No such file or directory; retrying until it is\$" 2
	run -0 ls -A "$DST"
	assert_output ""
	# Made again, whole, by a rename.
	mkdir -p "$T/new/e"
	echo c >"$T/new/e/c"
	mv "$T/new" "$SRC"
	wait_for 10 has_lines "$T/log" "$SRC: there now; watching it" 1
	wait_for 20 sup_ready
	wait_converged 10
	wait_for 10 has_lines "$T/scribe.log" "$SRC: WATCH STARTED\$" 2
	# Deleted again, made again empty, then filled: the pipelines
	# may start on the empty directory; the mirror follows anyway.
	rm -rf "$SRC"
	wait_for 10 has_lines "$T/scribe.log" "$SRC: WATCH STOPPED\$" 2
	wait_for 10 has_lines "$T/log" "retrying until it is\$" 4
	mkdir "$SRC"
	echo f >"$SRC/f"
	mkdir "$SRC/g"
	echo h >"$SRC/g/h"
	wait_for 20 sup_ready
	wait_converged 10
	log_whole
	run grep -E "iobs-(watch|mirror|scribe):" "$T/log"
	assert_output ""
}

@test "iobs-watch: a root deleted while another process holds it open: WATCH_DEAD, exit 0" {
	mkdir "$T/w"
	start_watch "$T/out" "$T/w"
	# As iobs-mirror does: the kernel delays DELETE_SELF until it goes.
	exec 4<"$T/w"
	rmdir "$T/w"
	wait_for 10 has_lines "$T/out" $'\tWATCH_DEAD\t0\t'"$T/w\$" 1
	wait_for 10 eval '! running "$WATCH_PID"'
	exec 4<&-
	run -0 wait "$WATCH_PID"
	# Deleted and made again at once: the path names another
	# directory, not the one watched.
	mkdir "$T/w"
	start_watch "$T/out2" "$T/w"
	exec 4<"$T/w"
	rmdir "$T/w"
	mkdir "$T/w"
	wait_for 10 has_lines "$T/out2" $'\tWATCH_DEAD\t0\t'"$T/w\$" 1
	exec 4<&-
}

@test "inotify watch limit below the tree's size: a line with watch and plugin, back-off, then failed" {
	unshare -U -r true 2>/dev/null || skip "no user namespaces"
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do mkdir "$SRC/d$i"; done
	pipe_conf 'fail_limit = 3' 'fail_window = 300'
	# The limit of a user namespace of our own, as in watch.bats;
	# both pipelines' watchers count against it.
	unshare -U -r sh -c 'echo 5 >/proc/sys/user/max_inotify_watches &&
	    exec "$@"' sh iobs-supervise -c "$T/rc" >"$T/stdout" 2>"$T/log" 3>&- &
	SUP_PID=$!
	BG_PIDS+=("$SUP_PID")
	wait_for 30 has_lines "$T/log" "left down until the next reload\$" 2
	running "$SUP_PID"
	# Each start said why in one line, under its watch and plugin.
	run -0 grep -c "watch limit reached" "$T/log"
	assert_output 6
	run -0 grep -vE "^iobs-supervise: $SRC (scribe|mirror): iobs-watch: $SRC(/d[0-9]+)?: inotify watch limit reached \(user\.max_inotify_watches = 5\); raise it with sysctl\$" "$T/log"
	refute_line --partial "watch limit reached"
	# Back-off between the starts, then failed: no spinning.
	for p in scribe mirror; do
		grep -q "^iobs-supervise: $SRC $p: iobs-watch exited 1; restart 1 in 0.2 s\$" "$T/log"
		grep -q "^iobs-supervise: $SRC $p: iobs-watch exited 1; restart 2 in 0.4 s\$" "$T/log"
		grep -q "^iobs-supervise: $SRC $p: iobs-watch exited 1; failed 3 times in 300 s: left down until the next reload\$" "$T/log"
		run -0 field_of "$SRC" "$p" 3
		assert_output failed
	done
	# Nothing crashed: the plugins saw the end of an empty stream.
	run -1 grep -E "iobs-(scribe|mirror) (exited [1-9]|killed)" "$T/log"
}
