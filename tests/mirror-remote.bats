#!/usr/bin/env bats
# iobs-mirror to another machine: [user@]host:/path over an sshd of the
# test's own, rsync://host/module to an rsync daemon of its own. Usage
# and exit codes first, then behaviour, then failures.

load remote_helper

setup() { mirror_setup; }
teardown() {
	# Lazily: whatever still has it open goes with common_teardown.
	if [ -n "${TMPFS:-}" ]; then umount -l "$TMPFS" 2>/dev/null || true; fi
	common_teardown
}

@test "remote: no host before ':' is a usage error, exit 2" {
	run -2 iobs-mirror :backup </dev/null
	assert_output --partial "no host before ':'"
}

@test "remote: a host beginning with '-' is refused, exit 2" {
	run -2 iobs-mirror -- -oProxyCommand=x:/backup </dev/null
	assert_output --partial "cannot begin with '-'"
	run -2 iobs-mirror '[-oProxyCommand=x]:/backup' </dev/null
	assert_output --partial "cannot begin with '-'"
	run -2 iobs-mirror 'me@-oProxyCommand=x:/backup' </dev/null
	assert_output --partial "cannot begin with '-'"
}

@test "remote: rsync:// without a module is a usage error, exit 2" {
	run -2 iobs-mirror rsync://127.0.0.1 </dev/null
	assert_output --partial "module"
}

@test "remote: an -e with a quote not closed is a usage error, exit 2" {
	run -2 iobs-mirror -e "ssh -o 'x" host:/backup </dev/null
	assert_output --partial "quote is not closed"
}

@test "remote: ./host:x is a local directory" {
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	cd "$T"
	run -0 iobs-mirror ./host:x <"$T/s"
	run -0 treecmp "$SRC" "$T/host:x"
}

@test "remote: start syncs the tree, live changes follow" {
	sshd_setup
	echo a >"$SRC/a"
	mkdir -p "$SRC/d/e"
	echo b >"$SRC/d/e/b"
	ln -s a "$SRC/link"
	start_remote "$HOST:$DST" -e "$RSH"
	echo c >"$SRC/c"
	echo more >>"$SRC/a"
	mkdir -p "$SRC/new/deep"
	echo n >"$SRC/new/deep/n"
	chmod 600 "$SRC/d/e/b"
	wait_converged 10
	rm -r "$SRC/d"
	rm "$SRC/link"
	wait_converged 10
	stop_mirror
	[ "$MIRROR_STATUS" -eq 0 ]
}

@test "remote: RSYNC_RSH gives the remote shell" {
	sshd_setup
	echo a >"$SRC/a"
	RSYNC_RSH=$RSH start_remote "$HOST:$DST"
	echo b >"$SRC/b"
	wait_converged 10
}

@test "remote: one ssh connection is shared by every batch" {
	sshd_own
	before=$(count_lines "$SSH_DIR/sshd.log" 'Accepted publickey')
	start_remote "$HOST:$DST" -e "$RSH"
	for i in 1 2 3 4 5 6; do
		echo "$i" >"$SRC/f$i"
		wait_converged 10
	done
	# sshd logs each connection: the master's only; the first run
	# waits for its socket.
	after=$(count_lines "$SSH_DIR/sshd.log" 'Accepted publickey')
	[ $((after - before)) -eq 1 ]
}

# remote_procs: what runs there for the test's own sshd, below the
# processes of its connections: the mirror's shells and rsyncs.
remote_procs() {
	local c p
	for c in $(pgrep -P "$SSHD_PID"); do
		for p in $(pgrep -P "$c"); do
			ps -o args= -p "$p"
			pgrep -a -P "$p" | cut -d' ' -f2- || true
		done
	done
}

@test "remote: no rsync waits there between batches; nothing of the mirror stays there after it" {
	sshd_own
	start_remote "$HOST:$DST" -e "$RSH"
	echo a >"$SRC/a"
	wait_converged 10
	# Its shells wait there for the next batches; no rsync does.
	wait_for 10 eval '[ "$(remote_procs | grep -c "^sh")" -eq 2 ]'
	wait_for 10 eval '! remote_procs | grep -q rsync'
	stop_mirror
	[ "$MIRROR_STATUS" -eq 0 ]
	wait_for 10 eval '[ -z "$(remote_procs)" ]'
}

# seq_writes N: N files written one after another, each once the last
# is there; the time from a write to its copy there that three in four
# are within, in ms.
seq_writes() {
	local i t0 ms=()
	for i in $(seq "$1"); do
		t0=${EPOCHREALTIME/./}
		echo "$i$RANDOM" >"$SRC/seq$i"
		wait_for 20 cmp -s "$SRC/seq$i" "$DST/seq$i"
		ms+=($(( (${EPOCHREALTIME/./} - t0) / 1000 )))
	done
	printf '%s\n' "${ms[@]}" | sort -n | sed -n "$(( ($1 * 3 + 3) / 4 ))p"
}

@test "remote: a login shell there that takes 1 s to start: latency within 10x of a quick one's" {
	sshd_own
	start_remote "$HOST:$DST" -e "$RSH"
	quick=$(seq_writes 11)
	stop_mirror
	login_delay 1
	rm -f "$T/pipe"
	DST=$T/dst2
	start_remote "$HOST:$DST" -e "$RSH"
	slow=$(seq_writes 11)
	echo "# a write there, 3 in 4 of 11 within ${quick} ms; ${slow} ms with the slow shell" >&3
	[ "$slow" -lt $((10 * quick)) ]
}

@test "remote: the login shell there starts once a session, not once a batch" {
	sshd_own
	login_delay 1
	before=$(logins)
	start_remote "$HOST:$DST" -e "$RSH"
	for i in 1 2 3 4 5 6; do
		echo "$i" >"$SRC/f$i"
		wait_converged 10
	done
	# Renames and deletes: a script there, in the same shells.
	mkdir "$SRC/d"
	mv "$SRC/f1" "$SRC/d/f1"
	rm "$SRC/f2"
	wait_converged 10
	[ $(($(logins) - before)) -le 2 ]
}

@test "remote: the stream ends with thousands of changes waiting: sent by the shells open, exit 0" {
	sshd_own
	login_delay 1
	start_remote "$HOST:$DST" -e "$RSH"
	wait_for 10 whole_done
	# The shells there are ready: no login from here on.
	wait_for 10 eval '[ "$(logins)" -eq 2 ]'
	mkdir "$SRC/d"
	for i in $(seq 3000); do echo "$i" >"$SRC/d/x$i"; done
	mv "$SRC/d" "$SRC/e"
	rm "$SRC/e/x1"
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || true
	MIRROR_STATUS=0
	wait_for 20 eval '! running "$MIRROR_PID"'
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
	[ "$MIRROR_STATUS" -eq 0 ]
	converged
	[ "$(logins)" -eq 2 ]
}

@test "remote: a renamed directory keeps its inodes there; no data sent" {
	sshd_setup
	mkdir -p "$SRC/big/sub"
	head -c 3000000 /dev/urandom >"$SRC/big/sub/data"
	start_remote "$HOST:$DST" -e "$RSH" -v
	ino=$(inode "$DST/big/sub/data")
	dino=$(inode "$DST/big")
	: >"$T/mirror.out"
	mv "$SRC/big" "$SRC/moved"
	wait_converged 10
	[ "$(inode "$DST/moved/sub/data")" = "$ino" ]
	[ "$(inode "$DST/moved")" = "$dino" ]
	# -v itemizes what rsync sends: no file's data.
	run ! grep -E '^[<>]f' "$T/mirror.out"
	# Between directories: both directories' times follow.
	mkdir "$SRC/from" "$SRC/to"
	echo f >"$SRC/from/f"
	wait_converged 10
	mv "$SRC/from/f" "$SRC/to/f"
	wait_converged 10
	# A file moved over another: the other is replaced, not kept.
	echo x >"$SRC/x"
	echo y >"$SRC/y"
	wait_converged 10
	ino=$(inode "$DST/x")
	mv "$SRC/x" "$SRC/y"
	wait_converged 10
	[ "$(inode "$DST/y")" = "$ino" ]
}

@test "remote: an exchange (RENAME_EXCHANGE) converges: files, a file and a directory, two directories" {
	sshd_setup
	exchange_tree
	start_remote "$HOST:$DST" -e "$RSH"
	exchange_all
}

@test "remote: a file in the root written: the root's times there stay" {
	sshd_setup
	echo one >"$SRC/x"
	start_remote "$HOST:$DST" -e "$RSH"
	# rsync's temporary name for x is made in the root there.
	echo two >>"$SRC/x"
	wait_converged 10
	assert_equal "$(stat -c %Y "$DST")" "$(stat -c %Y "$SRC")"
}

@test "remote: names of one file stay one file there, written through any" {
	sshd_setup
	mkdir -p "$SRC/a" "$SRC/b"
	echo one >"$SRC/a/f"
	start_remote "$HOST:$DST" -e "$RSH"
	ln "$SRC/a/f" "$SRC/b/g"
	wait_converged 10
	# Each write names one path; rsync -H links only names it is given
	# together.
	echo two >>"$SRC/b/g"
	wait_converged 10
	echo three >>"$SRC/a/f"
	wait_converged 10
	assert_equal "$(inode "$DST/b/g")" "$(inode "$DST/a/f")"
	assert_equal "$(cat "$DST/a/f")" "$(printf 'one\ntwo\nthree')"
	# A tree made of links, cp -al: one inode a name pair there too.
	cp -al "$SRC/a" "$SRC/c"
	wait_converged 10
	assert_equal "$(inode "$DST/c/f")" "$(inode "$DST/a/f")"
}

@test "remote: a directory renamed with one name of a file; written through the other" {
	sshd_setup
	mkdir -p "$SRC/a/deep" "$SRC/b"
	echo one >"$SRC/a/deep/f"
	ln "$SRC/a/deep/f" "$SRC/b/g"
	start_remote "$HOST:$DST" -e "$RSH"
	ino=$(inode "$DST/a/deep/f")
	mv "$SRC/a" "$SRC/moved"
	wait_converged 10
	[ "$(inode "$DST/moved/deep/f")" = "$ino" ]
	echo two >>"$SRC/b/g"
	wait_converged 10
	assert_equal "$(inode "$DST/b/g")" "$(inode "$DST/moved/deep/f")"
	assert_equal "$(cat "$DST/moved/deep/f")" "$(printf 'one\ntwo')"
	# And back, the file alone this time, written through its new name.
	mv "$SRC/moved/deep/f" "$SRC/b/h"
	wait_converged 10
	echo three >>"$SRC/b/h"
	wait_converged 10
	assert_equal "$(inode "$DST/b/g")" "$(inode "$DST/b/h")"
}

@test "remote: a name of a linked file deleted, then another written" {
	sshd_setup
	mkdir -p "$SRC/a" "$SRC/b" "$SRC/c"
	echo one >"$SRC/a/f"
	start_remote "$HOST:$DST" -e "$RSH"
	ln "$SRC/a/f" "$SRC/b/g"
	ln "$SRC/a/f" "$SRC/c/h"
	wait_converged 10
	rm "$SRC/b/g"
	wait_converged 10
	echo two >>"$SRC/a/f"
	wait_converged 10
	assert_equal "$(inode "$DST/c/h")" "$(inode "$DST/a/f")"
	assert_equal "$(cat "$DST/c/h")" "$(printf 'one\ntwo')"
	[ ! -e "$DST/b/g" ]
	# The name back as a file of its own: not one of the others there.
	rm "$SRC/c/h"
	echo other >"$SRC/c/h"
	wait_converged 10
	echo three >>"$SRC/a/f"
	wait_converged 10
	assert_equal "$(cat "$DST/c/h")" other
	[ "$(inode "$DST/c/h")" != "$(inode "$DST/a/f")" ]
}

# remote_written_then_gone OP: the mirror held (SIGSTOP), a/f written
# and chmod'ed through its other name b/g, which OP then replaces or
# deletes: no record names a/f, nor its directory, yet it changed, and
# must there too.
remote_written_then_gone() {
	sshd_setup
	mkdir "$SRC/a" "$SRC/b"
	printf 'one\n' >"$SRC/a/f"
	ln "$SRC/a/f" "$SRC/b/g"
	printf 'other\n' >"$SRC/other"
	start_remote "$HOST:$DST" -e "$RSH"
	kill -STOP "$MIRROR_PID"
	printf 'two\n' >"$SRC/b/g"
	chmod 600 "$SRC/b/g"
	touch -d '2001-02-03 04:05:06' "$SRC/b/g"
	eval "$1"
	sleep 0.3
	kill -CONT "$MIRROR_PID"
	wait_converged 10
}

@test "remote: a file written through another name, then that name renamed over" {
	remote_written_then_gone 'mv "$SRC/other" "$SRC/b/g"'
}

@test "remote: a file written through another name, then that name deleted" {
	remote_written_then_gone 'rm "$SRC/b/g"'
}

@test "remote: odd names reach the remote byte for byte" {
	sshd_setup
	local nl=$'new\nline' bad=$'bad\xff\xfeutf8'
	echo 1 >"$SRC/$nl"
	echo 2 >"$SRC/-leading dash"
	echo 3 >"$SRC/it's \"quoted\" \$(touch pwned) \`touch pwned\` *"
	start_remote "$HOST:$DST" -e "$RSH"
	echo 4 >"$SRC/$bad"
	mkdir "$SRC/ sp ace "
	echo 5 >"$SRC/ sp ace /back\\slash;rm -rf x"
	echo 6 >"$SRC/-n"
	wait_converged 10
	mv "$SRC/$nl" "$SRC/-$nl"
	mv "$SRC/ sp ace " "$SRC/\$HOME '"
	rm "$SRC/-n"
	wait_converged 10
	rm -r "$SRC/\$HOME '" "$SRC/$bad"
	wait_converged 10
	assert_not_exist "$HOME/pwned"
	assert_not_exist "$DST/pwned"
}

@test "remote: a path through a source symlink is never sent through it" {
	sshd_setup
	mkdir "$T/outside"
	echo secret >"$T/outside/secret"
	ln -s "$T/outside" "$SRC/a"
	stream "$T/s" "$SRC"
	{
		cat "$T/s"
		# The record once the whole sync is done, then time to act
		# on it before the stream ends.
		wait_for 10 test -L "$DST/a"
		printf '1764057600.000000\tCLOSE_WRITE,CLOSE\t0\t%s\n' \
		    "$SRC/a/secret"
		sleep 2
	} | iobs-mirror -e "$RSH" "$HOST:$DST" 2>"$T/mirror.err" || true
	[ -L "$DST/a" ]
	run ! grep -r secret "$DST"
}

@test "remote: a storm converges" {
	sshd_setup
	start_remote "$HOST:$DST" -e "$RSH"
	for d in 1 2 3 4 5; do
		mkdir "$SRC/d$d"
		for i in $(seq 1 100); do echo "$i" >"$SRC/d$d/f$i"; done
	done
	for i in $(seq 1 100 2); do rm "$SRC/d1/f$i"; done
	mv "$SRC/d2" "$SRC/d2b"
	for i in $(seq 1 50); do mv "$SRC/d3/f$i" "$SRC/d4/g$i"; done
	rm -r "$SRC/d5"
	for i in $(seq 1 100); do echo "again $i" >"$SRC/d2b/f$i"; done
	wait_converged 30
}

# only_flux_retries: the mirror retried nothing but what a storm's
# flux in the source makes rsync fail. Entries gone while rsync read
# them are sent again at once, no back-off, no report; but rsync 3.5.0
# may fail such a run itself ("Invalid packet at end of run"), its
# receiver may abort a run whose sender lost a directory above a listed
# name ("ABORTING due to invalid path from sender"), and its sender may
# fail to open a listed file the storm has just made a symlink
# ("[sender] send_files failed to open ...: Too many levels of symbolic
# links"): failures, retried, of the source, not the remote.
only_flux_retries() {
	if grep 'retrying' "$T/mirror.err" |
	    grep -v -e 'Invalid packet' -e 'invalid path from sender' \
	    -e 'rsync: \[sender\] ' |
	    grep -q .; then
		cat "$T/mirror.err" >&2
		false
	fi
}

@test "remote: seeded random storms converge, one after another" {
	sshd_setup
	mkdir "$T/outside"
	storm -n 300 -s 1000 "$SRC" "$T/outside"
	start_remote "$HOST:$DST" -e "$RSH"
	for seed in 1 2 3; do
		storm -n 2000 -s "$seed" "$SRC" "$T/outside"
		wait_converged 30
	done
	only_flux_retries
}

@test "remote: seeded random storms converge with --backup-dir" {
	sshd_setup
	mkdir "$T/outside"
	CMP_OPTS=(-x .bk)
	storm -n 300 -s 1000 "$SRC" "$T/outside"
	start_remote "$HOST:$DST" -e "$RSH" --backup-dir .bk
	for seed in 1 2 3; do
		storm -n 2000 -s "$seed" "$SRC" "$T/outside"
		wait_converged 30
	done
	only_flux_retries
}

# bats test_tags=long
@test "remote: seeded storms 100-111 converge, one after another, long" {
	[ -n "${IOBS_LONG:-}" ] || skip "set IOBS_LONG=1"
	sshd_setup
	mkdir "$T/outside"
	storm -n 300 -s 1000 "$SRC" "$T/outside"
	start_remote "$HOST:$DST" -e "$RSH"
	local seed
	for seed in $(seq 100 111); do
		storm -n 4000 -s "$seed" "$SRC" "$T/outside"
		wait_converged 60
	done
	only_flux_retries
}

@test "remote: an rsync daemon, rsync://host:port/module" {
	rsyncd_setup
	DST=$T/dmod/sub
	echo a >"$SRC/a"
	mkdir "$SRC/d"
	echo b >"$SRC/d/b"
	start_remote "$DAEMON/sub"
	echo c >"$SRC/c"
	mv "$SRC/d" "$SRC/e"
	rm "$SRC/a"
	wait_converged 10
	# Names of one file, written through the one not first.
	ln "$SRC/e/b" "$SRC/g"
	wait_converged 10
	echo more >>"$SRC/g"
	wait_converged 10
	stop_mirror
	[ "$MIRROR_STATUS" -eq 0 ]
}

@test "remote: an exchange converges on an rsync daemon too" {
	rsyncd_setup
	DST=$T/dmod/sub
	exchange_tree
	start_remote "$DAEMON/sub"
	exchange_all
}

@test "remote: --backup-dir keeps there what is deleted or replaced; --keep prunes" {
	sshd_setup
	CMP_OPTS=(-x .bk)
	mkdir -p "$SRC/d/sub" "$DST/.bk/2020-01-01T0000Z" \
	    "$DST/.bk/2020-01-02T0000Z"
	for i in $(seq 1 50); do echo "$i" >"$SRC/d/f$i"; done
	echo s >"$SRC/d/sub/s"
	echo old >"$SRC/w"
	echo victim >"$SRC/v"
	echo n >"$SRC/n"
	start_remote "$HOST:$DST" -e "$RSH" --backup-dir .bk --keep 2
	ino=$(inode "$DST/d")
	rm -rf "$SRC/d"
	echo newer >"$SRC/w"
	mv "$SRC/n" "$SRC/v"
	wait_converged 10
	set=$(ls -d "$DST"/.bk/20[2-9][0-9]-*Z | grep -v 2020-01-0)
	assert_equal "$(printf '%s\n' "$set" | wc -l)" 1
	# The directory went whole, by mv; rsync kept the overwritten file.
	assert_equal "$(inode "$set/d")" "$ino"
	assert_equal "$(find "$set/d" -type f | wc -l)" 51
	assert_equal "$(cat "$set/w")" old
	assert_equal "$(cat "$set/v")" victim
	# --keep 2: the new set and the newest before it.
	assert [ -d "$DST/.bk/2020-01-02T0000Z" ]
	assert [ ! -e "$DST/.bk/2020-01-01T0000Z" ]
}

@test "remote: --no-delete keeps there what the source deletes" {
	sshd_setup
	echo a >"$SRC/a"
	mkdir "$SRC/d"
	echo f >"$SRC/d/f"
	start_remote "$HOST:$DST" -e "$RSH" --no-delete
	rm "$SRC/a"
	rm -r "$SRC/d"
	echo b >"$SRC/b"
	wait_for 10 test -e "$DST/b"
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
	assert_equal "$(cat "$DST/a")" a
	assert_equal "$(cat "$DST/d/f")" f
}

@test "remote: --verify repairs what drifted there, and logs each repair" {
	sshd_setup
	mkdir "$SRC/d"
	echo f >"$SRC/f"
	echo g >"$SRC/d/g"
	start_remote "$HOST:$DST" -e "$RSH" --verify 1
	rm "$DST/f"
	echo stray >"$DST/d/stray"
	wait_converged 5
	run -0 cat "$T/mirror.out"
	assert_line --regexp "^repair [<>]f\+* $HOST:$DST/f$"
	assert_line --regexp "^repair \*deleting +$HOST:$DST/d/stray$"
}

@test "remote: progress: a whole run shows rsync's own line on a terminal" {
	sshd_setup
	for i in $(seq 1 300); do echo "$i" >"$SRC/f$i"; done
	stream "$T/s" "$SRC"
	run -0 script -qec "iobs-mirror -e '$RSH' '$HOST:$DST' <'$T/s'" /dev/null
	assert_output --regexp "[0-9]+%.*xfr#"
	run -0 treecmp "$SRC" "$DST"
}

# bats test_tags=long
@test "remote: progress: a backlog that lasts is shown, then caught up, long" {
	[ -n "${IOBS_LONG:-}" ] || skip "set IOBS_LONG=1"
	sshd_own
	echo a >"$SRC/a"
	# No terminal: the whole sync says nothing; --progress=lines, a
	# backlog that lasts is a line every 5 s, and its end one.
	start_remote "$HOST:$DST" -e "$RSH" --progress=lines
	stop_sshd
	echo more >"$SRC/more"
	wait_for 15 grep -q "^sending $HOST:$DST: [0-9]* paths waiting" \
	    "$T/mirror.err"
	start_sshd
	wait_for 20 grep -q "^sent $HOST:$DST: caught up in " "$T/mirror.err"
	wait_converged 10
	run ! grep -q '%' "$T/mirror.err"
}

@test "remote: from a poll stream, a directory's entries are compared, one level" {
	sshd_setup
	mkdir -p "$SRC/d/sub"
	echo a >"$SRC/d/a"
	echo s >"$SRC/d/sub/s"
	mkfifo "$T/pipe"
	iobs-mirror -e "$RSH" "$HOST:$DST" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	exec 4>"$T/pipe"
	printf '# iobs-stream 1\n# backend poll\n' >&4
	send WATCH_INIT 0 "$SRC"
	wait_converged 10
	# Made and removed between two scans, copied there meanwhile.
	echo stray >"$DST/d/stray"
	send ATTRIB,ISDIR 0 "$SRC/d"
	wait_for 10 test ! -e "$DST/d/stray"
	# Beside a file the scan saw made.
	echo stray >"$DST/d/stray2"
	echo n >"$SRC/d/new"
	send CREATE 0 "$SRC/d/new"
	wait_converged 10
	# One level: below is left to its own records.
	echo deeper >"$DST/d/sub/stray3"
	send ATTRIB,ISDIR 0 "$SRC/d"
	end_stream
	assert_equal "$MIRROR_STATUS" 0
	assert [ -e "$DST/d/sub/stray3" ]
}

@test "remote: empty source, non-empty remote: refused unless -f" {
	sshd_setup
	mkdir "$DST"
	echo keep >"$DST/keep"
	stream "$T/s" "$SRC"
	run -1 iobs-mirror -e "$RSH" "$HOST:$DST" <"$T/s"
	assert_output --partial "is empty while"
	assert_file_exist "$DST/keep"
	run -0 iobs-mirror -f -e "$RSH" "$HOST:$DST" <"$T/s"
	assert_file_not_exist "$DST/keep"
}

@test "remote: -n changes nothing there, says what it would do" {
	sshd_setup
	mkdir "$DST"
	echo a >"$SRC/a"
	echo old >"$DST/old"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror -n -e "$RSH" "$HOST:$DST" <"$T/s"
	assert_line --partial "*deleting"
	assert_line --regexp '^<f.* a$'
	assert_file_exist "$DST/old"
	assert_file_not_exist "$DST/a"
}

@test "remote: -X sends extended attributes, as rsync --xattrs" {
	sshd_setup
	echo a >"$SRC/a"
	setfattr -n user.colour -v blue "$SRC/a" 2>/dev/null ||
	    skip "no user xattrs on this file system"
	start_remote "$HOST:$DST" -e "$RSH" -X
	run -0 --separate-stderr getfattr --only-values -n user.colour "$DST/a"
	assert_output blue
	echo b >"$SRC/b"
	setfattr -n user.colour -v red "$SRC/b"
	wait_for 10 eval '[ "$(getfattr --only-values -n user.colour "$DST/b" 2>/dev/null)" = red ]'
}

@test "remote: --max-delete stops a whole sync that would delete more" {
	sshd_setup
	mkdir "$DST"
	echo keep >"$SRC/keep"
	touch "$DST/x1" "$DST/x2" "$DST/x3"
	stream "$T/s" "$SRC"
	run -1 iobs-mirror -m 2 -e "$RSH" "$HOST:$DST" <"$T/s"
	assert_output --partial "more than --max-delete=2"
	assert_file_exist "$DST/x1"
	run -0 iobs-mirror -m 3 -e "$RSH" "$HOST:$DST" <"$T/s"
	run -0 converged
}

@test "remote: a refused whole sync ends nothing; asked again, it goes through" {
	sshd_setup
	mkdir "$DST"
	echo keep >"$DST/keep"
	touch "$DST/x1" "$DST/x2" "$DST/x3"
	# The source is empty: refused; then a file, still three deletions
	# past -m 2: refused again, without a word; then two.
	start_remote_nowait "$HOST:$DST" -m 2 -e "$RSH"
	wait_for 10 has_lines "$T/mirror.err" 'is empty while' 1
	echo keep >"$SRC/keep"
	sleep 2 # asked again at least once: more than --max-delete
	running "$MIRROR_PID"
	running "$WATCH_PID"
	assert_file_exist "$DST/x1"
	rm "$DST/x3"
	wait_converged 20
	running "$MIRROR_PID"
	wait_for 10 has_lines "$T/mirror.err" 'refused before went through' 1
	[ "$(count_lines "$T/mirror.err" 'is empty while')" -eq 1 ]
	[ "$(count_lines "$T/mirror.err" 'more than --max-delete')" -le 1 ]
	# Live again: a change follows.
	echo new >"$SRC/new"
	wait_converged 10
}

@test "remote: --exclude is rsync's too: neither sent nor deleted" {
	sshd_setup
	mkdir -p "$SRC/a" "$DST"
	echo t >"$SRC/x.tmp"
	echo t >"$SRC/a/only"
	echo mine >"$DST/y.tmp"
	echo mine >"$DST/x.tmp"
	start_remote_nowait "$HOST:$DST" -e "$RSH" -x '*.tmp' -x a/only
	wait_for 10 test -d "$DST/a"
	echo t2 >"$SRC/z.tmp"
	echo ok >"$SRC/ok"
	wait_for 10 test -f "$DST/ok"
	# Renamed from an excluded name: copied, the excluded one kept.
	mv "$SRC/x.tmp" "$SRC/was-tmp"
	wait_for 10 test -f "$DST/was-tmp"
	assert_equal "$(cat "$DST/x.tmp")" mine
	rm "$SRC/was-tmp"
	wait_for 10 test ! -e "$DST/was-tmp"
	assert_file_not_exist "$DST/z.tmp"
	assert_file_not_exist "$DST/a/only"
	assert_file_exist "$DST/y.tmp"
}

@test "remote: sshd down mid-storm, up 3 s later: converges, one line each way" {
	sshd_own
	start_remote "$HOST:$DST" -e "$RSH"
	for i in $(seq 1 200); do echo "$i" >"$SRC/a$i"; done
	stop_sshd
	for i in $(seq 1 200); do echo "$i" >"$SRC/b$i"; done
	mkdir "$SRC/dir"
	mv "$SRC/a1" "$SRC/dir/a1"
	rm "$SRC/a2"
	wait_for 10 has_lines "$T/mirror.err" 'waiting, retrying' 1
	sleep 3 # the host is away this long
	start_sshd
	for i in $(seq 1 50); do echo "$i" >"$SRC/c$i"; done
	wait_converged 30
	running "$MIRROR_PID"
	running "$WATCH_PID"
	wait_for 10 has_lines "$T/mirror.err" ': back after' 1
	[ "$(count_lines "$T/mirror.err" 'waiting, retrying')" -eq 1 ]
	[ "$(count_lines "$T/mirror.err" ': back after')" -eq 1 ]
}

@test "remote: the host back after an outage: a login a session, the backlog and what follows go in them" {
	sshd_own
	login_delay 1
	start_remote "$HOST:$DST" -e "$RSH"
	wait_for 10 whole_done
	stop_sshd
	for i in $(seq 1 50); do echo "$i" >"$SRC/a$i"; done
	mv "$SRC/a1" "$SRC/b1"
	wait_for 10 has_lines "$T/mirror.err" 'waiting, retrying' 1
	before=$(logins)
	start_sshd
	wait_converged 30
	wait_for 10 has_lines "$T/mirror.err" ': back after' 1
	for i in 1 2 3; do
		echo "$i" >"$SRC/c$i"
		wait_converged 10
	done
	# start_sshd's own look, and the two shells there.
	[ $(($(logins) - before)) -le 3 ]
}

# bats test_tags=long
@test "remote: away for 9 s, the back-off at 8 s: the host back is used at once, long" {
	[ -n "${IOBS_LONG:-}" ] || skip "set IOBS_LONG=1"
	sshd_own
	start_remote "$HOST:$DST" -e "$RSH"
	stop_sshd
	echo b >"$SRC/b"
	wait_for 10 has_lines "$T/mirror.err" 'waiting, retrying' 1
	# Tries at 1, 3 and 7 s, the next at 15 s: its port is knocked on.
	sleep 9
	start_sshd
	wait_converged 3
	wait_for 10 has_lines "$T/mirror.err" ': back after' 1
}

@test "remote: past the bound, a whole sync once the remote is back" {
	sshd_own
	mkdir "$SRC/d"
	IOBS_REMOTE_BACKLOG=10 start_remote "$HOST:$DST" -e "$RSH"
	# The first whole sync confirmed: cut, it would be owed again, and
	# every path after it part of it, never counted against the bound.
	wait_for 10 whole_done
	stop_sshd
	echo 1 >"$SRC/d/one"
	wait_for 10 has_lines "$T/mirror.err" '[0-9]+ paths? waiting, retrying' 1
	for i in $(seq 1 30); do echo "$i" >"$SRC/d/f$i"; done
	wait_for 10 has_lines "$T/mirror.err" 'one whole sync instead' 1
	# Only a whole sync deletes there what no record named.
	echo stray >"$DST/stray"
	start_sshd
	wait_converged 30
	wait_for 10 has_lines "$T/mirror.err" 'back after .* with a whole sync waiting' 1
	[ "$(count_lines "$T/mirror.err" 'one whole sync instead')" -eq 1 ]
}

@test "remote: the remote away during the first whole sync: it is owed whole" {
	sshd_own
	rsh_wrapper
	mkdir "$SRC/d"
	echo a >"$SRC/d/a"
	# The first whole sync is out when the host goes away.
	touch "$T/hold"
	start_remote_nowait "$HOST:$DST" -e "$RSH"
	wait_for 10 has_lines "$T/runs" run 1
	stop_sshd
	rm "$T/hold"
	wait_for 10 has_lines "$T/mirror.err" 'a whole sync waiting, retrying' 1
	mkdir "$DST"
	echo stray >"$DST/stray"
	echo new >"$SRC/d/new"
	start_sshd
	wait_converged 30
	wait_for 10 has_lines "$T/mirror.err" 'with a whole sync waiting' 1
}

@test "remote: a failed run is reported by its reason, not by a directory vanished" {
	sshd_setup
	local real
	real=$(command -v rsync)
	mkdir -p "$T/bin"
	# A batch's rsync that fails, as rsync 3.5.0 can after a directory
	# vanished from the source while it read it, once $T/fail is there.
	cat >"$T/bin/rsync" <<-EOF
	#!/bin/sh
	case " \$* " in *" --files-from=- "*) ;; *) exec "$real" "\$@" ;; esac
	cat >"$T/list.\$\$"
	if [ -e "$T/fail" ]; then
		rm -f "$T/fail" "$T/list.\$\$"
		echo 'directory has vanished: "$SRC/gone"' >&2
		echo 'Invalid packet at end of run (11) [sender]' >&2
		exit 2
	fi
	exec "$real" "\$@" <"$T/list.\$\$"
	EOF
	chmod +x "$T/bin/rsync"
	PATH=$T/bin:$PATH start_remote "$HOST:$DST" -e "$RSH"
	touch "$T/fail"
	# Written again while waiting: a whole sync may still carry the first.
	wait_for 10 eval 'echo a >>"$SRC/a";
	    has_lines "$T/mirror.err" "Invalid packet.*retrying" 1'
	wait_converged 10
	run ! grep 'vanished' "$T/mirror.err"
}

@test "remote: a disk full there is reported, retried, converges" {
	sshd_setup
	mkdir "$DST"
	TMPFS=$DST
	mount -t tmpfs -o size=2m tmpfs "$DST" || skip "cannot mount a tmpfs"
	# Excluded: there only, never deleted by the mirror.
	start_remote "$HOST:$DST" -e "$RSH" -x filler
	head -c 1500000 /dev/zero >"$DST/filler"
	echo small >"$SRC/small"
	wait_for 10 test -f "$DST/small"
	head -c 1000000 /dev/urandom >"$SRC/big"
	wait_for 10 has_lines "$T/mirror.err" "No space left|waiting, retrying" 1
	rm "$DST/filler"
	wait_converged 30
	running "$MIRROR_PID"
}

@test "remote: a path the remote refuses is set aside; the rest goes on live" {
	sshd_setup
	rsh_wrapper
	echo a >"$SRC/stuck"
	start_remote "$HOST:$DST" -e "$RSH"
	chattr +i "$DST/stuck" 2>/dev/null || skip "no chattr +i on this file system"
	echo changed >"$SRC/stuck"
	echo other >"$SRC/other"
	wait_for 10 has_lines "$T/mirror.err" 'stuck: .*set aside' 1
	wait_for 10 test -f "$DST/other"
	# Retried alone, with back-off, while later changes go at once.
	n=$(count_lines "$T/runs" run)
	for i in 1 2 3; do
		echo "$i" >"$SRC/later$i"
		wait_for 10 test -f "$DST/later$i"
	done
	wait_for 10 has_lines "$T/runs" run $((n + 5))
	[ "$(count_lines "$T/mirror.err" 'stuck: ')" -eq 1 ]
	[ "$(count_lines "$T/mirror.err" 'waiting, retrying')" -eq 0 ]
	chattr -i "$DST/stuck"
	wait_converged 30
	wait_for 10 has_lines "$T/mirror.err" 'stuck: there at last' 1
	running "$MIRROR_PID"
	stop_mirror
	[ "$MIRROR_STATUS" -eq 0 ]
}

@test "remote: the stream ends while the remote is away: retried, drained, exit 0" {
	sshd_own
	start_remote "$HOST:$DST" -e "$RSH"
	wait_for 10 whole_done
	stop_sshd
	echo late >"$SRC/late"
	wait_for 10 has_lines "$T/mirror.err" 'waiting, retrying' 1
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || true
	start_sshd
	MIRROR_STATUS=0
	wait_for 20 eval '! running "$MIRROR_PID"'
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
	[ "$MIRROR_STATUS" -eq 0 ]
	converged
	[ "$(count_lines "$T/mirror.err" 'not sent')" -eq 0 ]
}

@test "remote: the stream ends, the remote stays away: retried until IOBS_REMOTE_DRAIN, exit 1" {
	sshd_own
	# Each try connects a shell there: a line in $T/runs.
	mkdir -p "$T/bin"
	cat >"$T/bin/ssh" <<-EOF
	#!/bin/sh
	case " \$* " in *" exec sh "*) echo run >>"$T/runs" ;; esac
	exec ssh "\$@"
	EOF
	chmod +x "$T/bin/ssh"
	RSH="$T/bin/ssh ${RSH#ssh }"
	IOBS_REMOTE_DRAIN=3 start_remote "$HOST:$DST" -e "$RSH"
	wait_for 10 whole_done
	stop_sshd
	echo late >"$SRC/late"
	wait_for 10 has_lines "$T/mirror.err" 'waiting, retrying' 1
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || true
	echo eof >>"$T/runs"
	MIRROR_STATUS=0
	wait_for 20 eval '! running "$MIRROR_PID"'
	wait "$MIRROR_PID" || MIRROR_STATUS=$?
	[ "$MIRROR_STATUS" -eq 1 ]
	has_lines "$T/mirror.err" ': 2 paths not sent: ' 1
	# Tried again after the end of the stream, the last time at 3 s.
	[ "$(sed '1,/^eof$/d' "$T/runs" | grep -c run)" -ge 2 ]
}
