#!/usr/bin/env bats
# iobs-mirror: usage and exit codes first, then reconcile, live events,
# safety and errors.

load mirror_helper

setup() { mirror_setup; }
teardown() { common_teardown; }

@test "no operand: usage, exit 2" {
	run -2 iobs-mirror </dev/null
	assert_output --partial "usage: iobs-mirror"
}

@test "unknown option: usage, exit 2" {
	run -2 iobs-mirror --bogus "$DST" </dev/null
	assert_output --partial "usage: iobs-mirror"
}

@test "two operands: usage, exit 2" {
	run -2 iobs-mirror "$DST" "$T/other" </dev/null
	assert_output --partial "usage: iobs-mirror"
}

@test "--max-delete not a number: exit 2" {
	run -2 iobs-mirror --max-delete=lots "$DST" </dev/null
	assert_output --partial "--max-delete lots"
}

@test "DEST is a file: exit 2" {
	touch "$T/file"
	run -2 iobs-mirror "$T/file" </dev/null
	assert_output --partial "not a directory"
}

@test "--destination=DIR is the operand; a different operand is an error" {
	echo a >"$SRC/a"
	stream "$T/s" "$SRC"
	run -0 iobs-mirror --destination="$DST" <"$T/s"
	run -0 converged
	run -2 iobs-mirror --destination="$DST" "$T/other" <"$T/s"
}

@test "DEST inside the watched root is refused, exit 2" {
	mkdir "$SRC/backup"
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$SRC/backup" <"$T/s"
	assert_output --partial "inside the watched root"
	run -0 find "$SRC/backup" -maxdepth 0 -empty
}

@test "watched root inside DEST is refused, exit 2" {
	stream "$T/s" "$SRC"
	run -2 iobs-mirror "$T" <"$T/s"
	assert_output --partial "inside $T"
	assert [ -d "$SRC" ]
}

@test "a second root is an error unless --root chooses" {
	mkdir "$T/other"
	echo o >"$T/other/o"
	echo s >"$SRC/s"
	stream "$T/s" "$SRC"
	rec WATCH_INIT 0 "$T/other"
	run -2 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "second root"
	run -0 iobs-mirror --root="$T/other/" "$DST" <"$T/s"
	run -0 treecmp "$T/other" "$DST"
}

@test "a malformed line is reported with its number and skipped" {
	stream "$T/s" "$SRC"
	printf 'garbage\n' >>"$T/s"
	echo a >"$SRC/a"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/a"
	mkdir "$DST"
	run -1 iobs-mirror "$DST" <"$T/s"
	assert_output --partial "stdin:3:"
	run -0 cmp "$SRC/a" "$DST/a"
}

@test "a source file that vanished is silent" {
	stream "$T/s" "$SRC"
	rec CREATE 0 "$SRC/gone"
	rec CLOSE_WRITE,CLOSE 0 "$SRC/gone"
	rec ATTRIB 0 "$SRC/gone"
	run -0 --separate-stderr iobs-mirror "$DST" <"$T/s"
	assert_equal "$stderr" ""
	assert [ ! -e "$DST/gone" ]
}
