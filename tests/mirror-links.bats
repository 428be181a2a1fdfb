#!/usr/bin/env bats
# iobs-mirror and hard links: names of one source inode are names of one
# DEST inode, at reconcile and live, whichever name is written.

bats_require_minimum_version 1.5.0

load mirror_helper

setup() { mirror_setup; }
teardown() { common_teardown; }

# same_inode PATH...: every PATH is one inode.
same_inode() {
	local first p
	first=$(inode "$1")
	for p in "$@"; do
		[ "$(inode "$p")" = "$first" ] || return 1
	done
}

@test "treecmp -H tells two copies from two links" {
	echo x >"$SRC/a"
	ln "$SRC/a" "$SRC/b"
	cp -r --preserve=mode,timestamps "$SRC" "$DST"
	run -0 treecmp -q "$SRC" "$DST"
	run -1 treecmp -H "$SRC" "$DST"
	assert_output --partial "not a hard link"
}

@test "live: a link made with ln is a link in DEST, not a copy" {
	mkdir "$SRC/a" "$SRC/b"
	echo one >"$SRC/a/f"
	start_mirror
	ln "$SRC/a/f" "$SRC/a/h"
	ln "$SRC/a/f" "$SRC/b/g"
	wait_for 5 test -e "$DST/b/g"
	wait_converged 5
	same_inode "$DST/a/f" "$DST/a/h" "$DST/b/g"
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: a write through any name updates every name in DEST" {
	mkdir "$SRC/a" "$SRC/b"
	echo one >"$SRC/a/f"
	ln "$SRC/a/f" "$SRC/a/h"
	ln "$SRC/a/f" "$SRC/b/g"
	start_mirror
	same_inode "$DST/a/f" "$DST/a/h" "$DST/b/g"
	local n
	for n in b/g a/h a/f b/g; do
		printf 'through %s\n' "$n" >>"$SRC/$n"
		wait_for 5 cmp -s "$SRC/a/f" "$DST/a/f"
		wait_converged 5
		same_inode "$DST/a/f" "$DST/a/h" "$DST/b/g"
	done
	run -0 cat "$DST/a/h"
	assert_line "through a/f"
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: a file linked once it was mirrored, then written through the new name" {
	echo one >"$SRC/f"
	start_mirror
	ln "$SRC/f" "$SRC/g"
	wait_for 5 test -e "$DST/g"
	echo two >>"$SRC/g"
	wait_converged 5
	same_inode "$DST/f" "$DST/g"
	stop_mirror
}

@test "live: cp -al of a tree links in DEST; writes through the copy reach both" {
	mkdir -p "$SRC/tree/d1" "$SRC/tree/d2"
	local i
	for i in $(seq 50); do
		echo "file $i" >"$SRC/tree/d$((i % 2 + 1))/f$i"
	done
	start_mirror
	cp -al "$SRC/tree" "$SRC/copy"
	wait_converged 10
	same_inode "$DST/tree/d2/f1" "$DST/copy/d2/f1"
	same_inode "$DST/tree/d1/f50" "$DST/copy/d1/f50"
	for i in 1 7 50; do
		echo changed >>"$SRC/copy/d$((i % 2 + 1))/f$i"
	done
	wait_converged 10
	run -0 tail -1 "$DST/tree/d1/f50"
	assert_output changed
	same_inode "$DST/tree/d2/f7" "$DST/copy/d2/f7"
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: a cp -al copy made outside and moved in links in DEST" {
	mkdir -p "$SRC/tree/d" "$T/out"
	local i
	for i in $(seq 20); do echo "file $i" >"$SRC/tree/d/f$i"; done
	start_mirror
	cp -al "$SRC/tree" "$T/out/copy"
	mv "$T/out/copy" "$SRC/copy"
	wait_converged 10
	same_inode "$DST/tree/d/f1" "$DST/copy/d/f1"
	same_inode "$DST/tree/d/f20" "$DST/copy/d/f20"
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: tar x of an archive with links makes links in DEST" {
	mkdir -p "$T/orig/x"
	echo data >"$T/orig/x/a"
	ln "$T/orig/x/a" "$T/orig/x/b"
	ln "$T/orig/x/a" "$T/orig/c"
	tar -C "$T/orig" -cf "$T/links.tar" x c
	start_mirror
	tar -C "$SRC" -xf "$T/links.tar"
	wait_converged 5
	same_inode "$DST/x/a" "$DST/x/b" "$DST/c"
	echo more >>"$SRC/c"
	wait_converged 5
	same_inode "$DST/x/a" "$DST/x/b" "$DST/c"
	stop_mirror
}

@test "a name linked elsewhere, then replaced, leaves its old siblings linked" {
	echo one >"$SRC/f"
	ln "$SRC/f" "$SRC/g"
	ln "$SRC/f" "$SRC/h"
	start_mirror
	echo other >"$SRC/new"
	mv "$SRC/new" "$SRC/g"
	echo more >>"$SRC/h"
	wait_converged 5
	same_inode "$DST/f" "$DST/h"
	run ! same_inode "$DST/f" "$DST/g"
	stop_mirror
}

# written_then_gone OP: with the mirror held (SIGSTOP), a/f is written
# and chmod'ed through its other name b/g, which OP then replaces or
# deletes; the mirror, let go, reads it all as one batch. No record
# names a/f nor its directory, yet a/f changed: DEST's must follow.
written_then_gone() {
	mkdir "$SRC/a" "$SRC/b"
	printf 'one\n' >"$SRC/a/f"
	ln "$SRC/a/f" "$SRC/b/g"
	printf 'other\n' >"$SRC/other"
	start_mirror
	kill -STOP "$MIRROR_PID"
	printf 'two\n' >"$SRC/b/g"
	chmod 600 "$SRC/b/g"
	touch -d '2001-02-03 04:05:06' "$SRC/b/g"
	eval "$1"
	# The watcher's records are all in the pipe before the mirror reads.
	sleep 0.3
	kill -CONT "$MIRROR_PID"
	wait_converged 5
	stop_mirror
	assert_equal "$MIRROR_STATUS" 0
}

@test "live: a file written through another name that is then replaced by a rename" {
	written_then_gone 'mv "$SRC/other" "$SRC/b/g"'
}

@test "live: a file written through another name that is then deleted" {
	written_then_gone 'rm "$SRC/b/g"'
}

@test "live: a file written through a name in a directory then deleted whole" {
	mkdir "$SRC/d"
	printf 'one\n' >"$SRC/f"
	ln "$SRC/f" "$SRC/d/g"
	start_mirror
	kill -STOP "$MIRROR_PID"
	printf 'three\n' >"$SRC/d/g"
	rm -r "$SRC/d"
	sleep 0.3
	kill -CONT "$MIRROR_PID"
	wait_converged 5
	stop_mirror
}

@test "live: a symlink with two names (cp -al links symlinks) is one in DEST; touch -h through either" {
	mkdir "$SRC/a"
	ln -s target "$SRC/a/sym"
	start_mirror
	cp -al "$SRC/a" "$SRC/b"
	wait_converged 5
	same_inode "$DST/a/sym" "$DST/b/sym"
	touch -h -d '2001-02-03 04:05:06' "$SRC/b/sym"
	wait_converged 5
	same_inode "$DST/a/sym" "$DST/b/sym"
	stop_mirror
}

@test "live: a name renamed over another that DEST has as a link of it goes" {
	echo one >"$SRC/x"
	echo two >"$SRC/y"
	start_mirror
	# DEST behind the source: its x and y one file, as they were in
	# the source a moment ago. rename(2) of one link over another
	# does nothing: both names would stay.
	ln -f "$DST/x" "$DST/y"
	mv "$SRC/x" "$SRC/y"
	wait_converged 5
	stop_mirror
}

@test "a FIFO or device node with two names is one in DEST, at reconcile and live" {
	mkfifo "$SRC/p"
	ln "$SRC/p" "$SRC/q"
	if [ "$(id -u)" = 0 ]; then
		mknod "$SRC/null" c 1 3
		ln "$SRC/null" "$SRC/zero-not"
	fi
	stream "$T/s" "$SRC"
	run -0 iobs-mirror "$DST" <"$T/s"
	same_inode "$DST/p" "$DST/q"
	run -0 treecmp -H "$SRC" "$DST"
	start_mirror
	mkfifo "$SRC/r"
	ln "$SRC/r" "$SRC/s"
	wait_converged 10
	same_inode "$DST/r" "$DST/s"
	# A name linked to another FIFO is linked again in DEST.
	ln -f "$SRC/p" "$SRC/r"
	wait_converged 10
	same_inode "$DST/p" "$DST/q" "$DST/r"
	if [ "$(id -u)" = 0 ]; then
		same_inode "$DST/null" "$DST/zero-not"
		assert [ -c "$DST/zero-not" ]
	fi
}

@test "a cp -al tree new to DEST: each inode copied once, its other names linked" {
	mkdir -p "$SRC/a/d"
	local i
	for i in $(seq 1 30); do
		echo "$i" >"$SRC/a/d/f$i"
	done
	ln "$SRC/a/d/f1" "$SRC/a/d/g1"
	cp -al "$SRC/a" "$SRC/b"
	stream "$T/s" "$SRC"
	iobs-mirror -vv "$DST" <"$T/s" >"$T/log"
	run -0 grep -c '^copy ' "$T/log"
	assert_output 30
	run -0 grep -c '^link ' "$T/log"
	assert_output 32
	same_inode "$DST/a/d/f1" "$DST/a/d/g1" "$DST/b/d/f1" "$DST/b/d/g1"
	run -0 treecmp -H "$SRC" "$DST"
}

@test "a new directory of many linked files under a low descriptor limit: all linked, no error" {
	mkdir "$SRC/a"
	local i
	for i in $(seq 1 1000); do
		echo "$i" >"$SRC/a/f$i"
	done
	cp -al "$SRC/a" "$SRC/b"
	stream "$T/s" "$SRC"
	# A file with other names holds a descriptor until it is linked:
	# not all of a directory's at once.
	run -0 --separate-stderr bash -c 'ulimit -n 400 &&
	    exec iobs-mirror "$1" <"$2"' sh "$DST" "$T/s"
	assert_equal "$stderr" ""
	run -0 treecmp -H "$SRC" "$DST"
}
