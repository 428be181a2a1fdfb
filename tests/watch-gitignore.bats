#!/usr/bin/env bats
# --exclude-from FILE (gitignore syntax) and --gitignore, on each
# backend, against git's own answer: `git check-ignore` on the same
# paths of a real repository layout.

load test_helper

setup() {
	common_setup
	command -v git >/dev/null || skip "git is not installed"
	R=$T/repo
	mkdir -p "$R"
	git -C "$R" init -q .
	PATHS=$T/paths
	cat > "$PATHS" <<-'EOF2'
	x.log
	keep.log
	logs/x.log
	logs/keep.log
	build/out
	top.txt
	src/top.txt
	docs/a/b/c.tmp
	docs/c.tmp
	docs/a/c.txt
	src/cache/x
	cache/y
	src/a.o
	src/important.o
	src/sub/b.o
	src/local
	src/sub/local
	secret1
	src/secret2
	a/b/deep.txt
	a/b/c/deep.txt
	a/deep.txt
	[x].txt
	x.txt
	ab.c
	a1.c
	trailing-space 
	plain.txt
	src/main.c
	EOF2
}

# The patterns of the layout, in one file each.
root_patterns() {
	printf '%s\n' '*.log' '!keep.log' 'build/' '/top.txt' \
	    'docs/**/*.tmp' '**/cache' '# a comment' '\[x\].txt' \
	    'a[!b].c' 'trailing-space\ ' ''
}

# repo_gitignores: .gitignore files at three depths and the
# repository's .git/info/exclude; $T/want, what git keeps of $PATHS.
repo_gitignores() {
	root_patterns > "$R/.gitignore"
	mkdir -p "$R/src" "$R/a/b"
	printf '%s\n' '*.o' '!important.o' '/local' > "$R/src/.gitignore"
	printf '%s\n' 'secret*' > "$R/.git/info/exclude"
	printf '%s\n' 'deep.txt' > "$R/a/b/.gitignore"
	not_ignored > "$T/want"
}

# made_and_reported OUT: makes every path of $PATHS, and prints those
# the watcher reported as made, sorted.
made_and_reported() {
	local p
	while IFS= read -r p; do
		mkdir -p "$R/$(dirname "$p")"
		echo x > "$R/$p"
	done < "$PATHS"
	sync_mark "$1"
	awk -F'\t' '$2 == "CREATE" { print $4 }' "$1" |
	    sed "s|^$R/||" | grep -v '^\.mark$' | sort -u
}

# sync_mark OUT: a file made last, and reported.
sync_mark() {
	touch "$R/.mark"
	wait_for 10 grep -q "	CREATE	0	$R/.mark\$" "$1"
}

# not_ignored ARGS...: the paths git check-ignore ARGS says are not.
not_ignored() {
	git -C "$R" "$@" check-ignore --stdin < "$PATHS" > "$T/ignored" || true
	grep -vxFf "$T/ignored" "$PATHS" | sort
}

# compare BACKEND ARGS...: iobs-watch ARGS reports what git keeps.
gitignore_compare() {
	local backend=$1
	shift
	iobs-watch --backend="$backend" --interval=0.1 "$@" "$R" \
	    > "$T/out.$backend" 2>&1 3>&- &
	BG_PIDS+=($!)
	wait_for 10 grep -q "WATCH_INIT" "$T/out.$backend"
	made_and_reported "$T/out.$backend" > "$T/got"
	diff -u "$T/want" "$T/got"
	kill "${BG_PIDS[-1]}"
	while IFS= read -r p; do rm -f "$R/$p"; done < "$PATHS"
	rm -rf "$R/.mark" "$R/build" "$R/cache" "$R/src/cache"
}

backends() {
	echo inotify poll
	[ "$(id -u)" -ne 0 ] || echo fanotify
}

@test "--gitignore: what git check-ignore keeps is reported, nothing else, on each backend" {
	repo_gitignores
	# What git ignores is not nothing: the comparison can fail.
	[ "$(wc -l < "$T/ignored")" -ge 15 ]
	for b in $(backends); do
		gitignore_compare "$b" --gitignore
	done
}

@test "--exclude-from FILE: gitignore syntax, as git's core.excludesFile, on each backend" {
	root_patterns > "$T/patterns"
	printf '%s\n' 'src/*.o' 'secret*' >> "$T/patterns"
	not_ignored -c core.excludesFile="$T/patterns" > "$T/want"
	[ "$(wc -l < "$T/ignored")" -ge 12 ]
	for b in $(backends); do
		gitignore_compare "$b" --exclude-from="$T/patterns"
	done
}

@test "--gitignore: a .gitignore changed applies from then on; .git is left out" {
	printf '%s\n' '*.a' > "$R/.gitignore"
	start_watch "$T/out" --gitignore "$R"
	touch "$R/one.a" "$R/one.b"
	sync_mark "$T/out"
	printf '%s\n' '*.b' > "$R/.gitignore"
	wait_for 10 grep -q "	CLOSE_WRITE,CLOSE	0	$R/.gitignore\$" "$T/out"
	touch "$R/two.a" "$R/two.b" "$R/.git/x"
	rm "$R/.mark"
	sync_mark "$T/out"
	run awk -F'\t' '$2 == "CREATE" { print $4 }' "$T/out"
	assert_output "$R/one.b
$R/.mark
$R/two.a
$R/.mark"
}

@test "--exclude-from a missing file: exit 2, names it" {
	run -2 iobs-watch --exclude-from="$T/none" "$R"
	assert_output "iobs-watch: --exclude-from $T/none: No such file or directory"
}

# mirror_compare ARGS...: iobs-mirror ARGS copies to DEST what git
# keeps of $PATHS, nothing else: made before it starts (its first
# walk), then made again while it runs (the records of a watcher that
# ignores nothing).
mirror_compare() {
	local p
	D=$T/dest
	while IFS= read -r p; do
		mkdir -p "$R/$(dirname "$p")"
		echo x > "$R/$p"
	done < "$PATHS"
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$D" < "$T/pipe" > "$T/mirror.out" \
	    2> "$T/mirror.err" 3>&- &
	BG_PIDS+=($!)
	iobs-watch "$R" > "$T/pipe" 2> "$T/watch.err" 3>&- &
	BG_PIDS+=($!)
	copied_as_git_says || return 1
	while IFS= read -r p; do rm -f "$R/$p"; done < "$PATHS"
	rm -rf "$R/build" "$R/cache" "$R/src/cache"
	wait_for 10 eval '[ ! -e "$D/src/main.c" ]'
	while IFS= read -r p; do
		mkdir -p "$R/$(dirname "$p")"
		echo y > "$R/$p"
	done < "$PATHS"
	copied_as_git_says
	run -0 cat "$D/src/main.c"
	assert_output y
}

# copied_as_git_says: $D holds the paths of $T/want, once a file made
# last is there, and none of the others.
copied_as_git_says() {
	touch "$R/.mark.$SECONDS.$RANDOM"
	wait_for 10 eval 'ls "$D"/.mark.* >/dev/null 2>&1' || return 1
	rm -f "$R"/.mark.*
	local p
	while IFS= read -r p; do
		[ -e "$D/$p" ] && echo "$p"
	done < "$PATHS" | sort > "$T/copied"
	diff -u "$T/want" "$T/copied"
}

@test "iobs-mirror --gitignore: its first walk and the records copy what git keeps, nothing else" {
	repo_gitignores
	[ "$(wc -l < "$T/ignored")" -ge 15 ]
	mirror_compare --gitignore
	# As git: its own directory is no part of the tree.
	[ ! -e "$T/dest/.git" ]
}

@test "iobs-mirror --exclude-from FILE: gitignore syntax, first walk and records" {
	root_patterns > "$T/patterns"
	printf '%s\n' 'src/*.o' 'secret*' >> "$T/patterns"
	not_ignored -c core.excludesFile="$T/patterns" > "$T/want"
	[ "$(wc -l < "$T/ignored")" -ge 12 ]
	mirror_compare --exclude-from="$T/patterns"
	[ -e "$T/dest/.git" ]
}

@test "iobs-mirror --gitignore: a .gitignore changed, what it no longer ignores is copied" {
	printf '%s\n' '*.a' > "$R/.gitignore"
	mkdir "$R/d"
	touch "$R/d/one.a" "$R/d/one.b"
	mkfifo "$T/pipe"
	iobs-mirror --gitignore "$T/dest" < "$T/pipe" 2> "$T/mirror.err" 3>&- &
	BG_PIDS+=($!)
	iobs-watch "$R" > "$T/pipe" 2> "$T/watch.err" 3>&- &
	BG_PIDS+=($!)
	wait_for 10 test -e "$T/dest/d/one.b"
	[ ! -e "$T/dest/d/one.a" ]
	printf '%s\n' '*.b' > "$R/.gitignore"
	wait_for 10 test -e "$T/dest/d/one.a"
	# Ignored now, but not gone from the source: kept, as -x keeps.
	[ -e "$T/dest/d/one.b" ]
	touch "$R/d/two.a" "$R/d/two.b"
	wait_for 10 test -e "$T/dest/d/two.a"
	touch "$R/d/.mark"
	wait_for 10 test -e "$T/dest/d/.mark"
	[ ! -e "$T/dest/d/two.b" ]
}

@test "iobs-mirror --exclude-from: a missing file, or a remote destination: exit 2, one line" {
	run -2 iobs-mirror --exclude-from="$T/none" "$T/dest"
	assert_line -n 0 "iobs-mirror: --exclude-from $T/none: No such file or directory"
	run -2 iobs-mirror --gitignore host:/dest
	assert_line -n 0 --partial "iobs-mirror: --exclude-from, --gitignore: for a local destination only"
}
