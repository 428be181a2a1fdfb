#!/usr/bin/env bats
# iobs-mirror's walk of the two trees: the directories both have are
# listed ahead, with each entry's lstat, on reader threads; a reconcile
# still finds every difference, in every position of the tree and of a
# directory bigger than the window of stats read ahead, and a listing
# that fails on either side is an error, never the end of it.

load mirror_helper

setup() { mirror_setup; }
teardown() { common_teardown; }

# wide DIR: ten directories a level, two levels, three files in each:
# more directories than the walk lists ahead at once.
wide() {
	local a b
	for a in 0 1 2 3 4 5 6 7 8 9; do
		for b in 0 1 2 3 4 5 6 7 8 9; do
			mkdir -p "$1/d$a/e$b"
			printf 'f%s%s0\n' "$a" "$b" >"$1/d$a/e$b/f0"
			printf 'f%s%s1\n' "$a" "$b" >"$1/d$a/e$b/f1"
			printf 'f%s%s2\n' "$a" "$b" >"$1/d$a/e$b/f2"
		done
		echo "$a" >"$1/d$a/top"
	done
}

# reconcile: a start of the mirror on $SRC, WATCH_INIT only.
reconcile() {
	stream "$T/s" "$SRC"
	iobs-mirror "$@" "$DST" <"$T/s"
}

# failing_mirror DIR ARGS...: iobs-mirror ARGS, with the listing of DIR
# failing with EIO after 12 entries (tests/shim/readdir_fail.c).
failing_mirror() {
	local dir=$1
	shift
	env LD_PRELOAD="$IOBS_REAL_BIN/readdir_fail.so" IOBS_FAIL_DIR="$dir" \
	    IOBS_FAIL_AFTER=12 \
	    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
	    iobs-mirror "$@"
}

@test "a reconcile finds each difference, first, between and last at every level" {
	wide "$SRC"
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
	# In the source: the root's entries, the first, middle and last.
	echo new >"$SRC/a-first"
	rm -r "$SRC/d5"
	rm -r "$SRC/d9"
	echo now-a-file >"$SRC/d9"
	# A level down.
	chmod 700 "$SRC/d0/e0"
	echo "added" >"$SRC/d7/e9/f3"
	rm -r "$SRC/d3/e9"
	# At the bottom: the same size, another time; another size; a
	# mode alone, the time kept; a symlink where a file was.
	printf 'xxxx\n' >"$SRC/d3/e5/f1"
	touch -d @1000000000 "$SRC/d3/e5/f1"
	echo longer than it was >"$SRC/d2/e4/f2"
	touch -r "$SRC/d6/e7/f1" "$T/time"
	chmod 600 "$SRC/d6/e7/f1"
	touch -r "$T/time" "$SRC/d6/e7/f1"
	rm "$SRC/d1/e0/f0"
	ln -s f1 "$SRC/d1/e0/f0"
	rm "$SRC/d8/e9/f2"
	if [ "$(id -u)" = 0 ]; then
		chown 1:1 "$SRC/d4/e2/f0"
		touch -r "$SRC/d4/e2/f1" "$SRC/d4/e2/f0"
	fi
	# In DEST: what the walk reads of DEST's side counts too.
	chmod 640 "$DST/d2/e3/f1"
	touch -r "$DST/d2/e3/f0" "$DST/d2/e3/f1"
	: >"$DST/d0/e9/f2"
	rm -r "$DST/d6/e1"
	echo stray >"$DST/d1/e8/extra"
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
}

# flat REL: a directory of 3000 files at REL ("" for the root) is
# mirrored, changed on both sides, and mirrored again, exactly; then a
# start with nothing to do changes nothing.
flat() {
	local i d=$SRC${1:+/$1} e=$DST${1:+/$1}
	mkdir -p "$d"
	for i in $(seq 0 2999); do
		printf '%d\n' "$i" >"$d/$(printf 'f%04d' "$i")"
	done
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
	# Either side of where the stats read ahead wrap (by 256 entries).
	for i in 0000 1022 1023 1024 1025 2047 2048 2999; do
		echo "changed $i" >"$d/f$i"
	done
	chmod 600 "$d/f1500"
	rm "$d/f0001" "$d/f2500"
	echo new >"$d/f1024a"
	echo new >"$d/zzz"
	: >"$e/f0700"
	chmod 700 "$e/f2049"
	echo stray >"$e/f0999x"
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
	find "$DST" -printf '%p %i %T@ %m\n' | sort >"$T/before"
	run -0 reconcile -vv
	assert_output ""
	find "$DST" -printf '%p %i %T@ %m\n' | sort >"$T/after"
	run -0 diff -u "$T/before" "$T/after"
}

@test "a flat directory of many entries is synced and compared exactly" {
	flat flat
}

@test "a flat root of many entries is synced and compared exactly" {
	flat ""
}

@test "files added to a directory DEST has are copied whole, links as links" {
	local i
	mkdir "$SRC/d"
	echo a >"$SRC/d/a"
	run -0 reconcile
	for i in $(seq -w 1 300); do
		printf '%s\n' "$i" >"$SRC/d/n$i"
	done
	ln "$SRC/d/n010" "$SRC/d/n200-link"
	ln "$SRC/d/n010" "$SRC/d/n011-link"
	ln "$SRC/d/a" "$SRC/d/a-link"
	ln -s n001 "$SRC/d/n150-sym"
	mkfifo "$SRC/d/n250-fifo"
	chmod 4755 "$SRC/d/n100"
	run -0 reconcile
	run -0 treecmp -H "$SRC" "$DST"
	assert_equal "$(stat -c %i "$DST/d/n010")" "$(stat -c %i "$DST/d/n200-link")"
	assert_equal "$(stat -c %i "$DST/d/a")" "$(stat -c %i "$DST/d/a-link")"
	run -0 find "$DST" -name '.iobs-mirror.*'
	assert_output ""
}

@test "a source listing that fails part-way below the root deletes nothing under it" {
	wide "$SRC"
	(cd "$SRC/d4/e6" && touch g{01..40})
	run -0 reconcile
	rm "$SRC/d4/e6/g30" "$SRC/d0/e0/f0"
	stream "$T/s" "$SRC"
	run -1 --separate-stderr failing_mirror "$SRC/d4/e6" "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: list $SRC/d4/e6: Input/output error"
	assert [ -e "$DST/d4/e6/g30" ]
	assert_equal "$(ls "$DST/d4/e6" | wc -l)" 43
	# The rest of the tree is mirrored as ever.
	assert [ ! -e "$DST/d0/e0/f0" ]
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
}

@test "a source directory deleted while listed is no error, and deletes nothing under it" {
	wide "$SRC"
	(cd "$SRC/d4/e6" && touch g{01..40})
	run -0 reconcile
	rm "$SRC/d4/e6/g30"
	stream "$T/s" "$SRC"
	# getdents64 says ENOENT of a directory removed while it is read:
	# a record will say it is gone; nothing to report, nothing proved.
	IOBS_FAIL_ERRNO=2 run -0 --separate-stderr \
	    failing_mirror "$SRC/d4/e6" "$DST" <"$T/s"
	assert_equal "$stderr" ""
	assert [ -e "$DST/d4/e6/g30" ]
}

@test "a DEST listing that fails part-way is an error: nothing there deleted or copied" {
	wide "$SRC"
	(cd "$SRC/d7/e2" && touch g{01..40})
	run -0 reconcile
	rm "$SRC/d7/e2/g05"
	echo new >"$SRC/d7/e2/new"
	echo stray >"$DST/d7/e2/stray"
	stream "$T/s" "$SRC"
	run -1 --separate-stderr failing_mirror "$DST/d7/e2" "$DST" <"$T/s"
	assert_equal "$stderr" "iobs-mirror: list $DST/d7/e2: Input/output error"
	assert [ -e "$DST/d7/e2/g05" ]
	assert [ -e "$DST/d7/e2/stray" ]
	assert [ ! -e "$DST/d7/e2/new" ]
	run -0 reconcile
	run -0 treecmp "$SRC" "$DST"
}

@test "a walk that passes over many entries of a big directory ends" {
	local i
	mkdir -p "$SRC/big"
	for i in $(seq -w 0 2999); do
		[ $((10#$i % 10)) = 0 ] && echo "$i" >"$SRC/big/f$i"
	done
	run -0 reconcile
	# DEST has nine in ten the source lacks, kept by --no-delete: the
	# walk compares only every tenth of DEST's entries.
	for i in $(seq -w 0 2999); do
		[ $((10#$i % 10)) = 0 ] || echo "$i" >"$DST/big/f$i"
	done
	stream "$T/s" "$SRC"
	run -0 timeout 60 iobs-mirror --no-delete "$DST" <"$T/s"
	assert_equal "$(ls "$DST/big" | wc -l)" 3000
	echo changed >"$SRC/big/f2990"
	run -0 timeout 60 iobs-mirror --no-delete "$DST" <"$T/s"
	assert_equal "$(cat "$DST/big/f2990")" changed
}
