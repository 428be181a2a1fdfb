#!/usr/bin/env bats
# iobs-supervise: usage, exit codes and config errors, before behaviour.

load supervise_helper

@test "no -c: the default config, /etc/iobserver/iobserverrc" {
	[ ! -e /etc/iobserver/iobserverrc ] || skip "this machine has one"
	run -2 iobs-supervise -n
	assert_output "iobs-supervise: /etc/iobserver/iobserverrc: No such file or directory"
	run -2 iobs-supervise
	assert_output "iobs-supervise: /etc/iobserver/iobserverrc: No such file or directory"
}

@test "the example config installed under share/doc is accepted where /srv and /var/log are" {
	sed "s|/srv/|$T/srv/|; s|/var/log/|$T/log/|" \
	    "$BATS_TEST_DIRNAME/../dist/iobserverrc.example" >"$T/rc"
	# What a fresh machine has; the scribe makes its log's directory,
	# the mirror its DEST.
	mkdir "$T/srv" "$T/log"
	run -0 iobs-supervise -n -p "$IOBS_BIN" -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:17: $T/srv/data: No such file or directory; watched once it exists"
}

@test "unknown option and stray operand: exit 2" {
	run -2 iobs-supervise -Z -c "$T/rc"
	assert_output --partial "usage:"
	run -2 iobs-supervise -c "$T/rc" frobnicate
	assert_output --partial "usage:"
	run -2 iobs-supervise -n -c "$T/rc" status
}

@test "a missing config file: exit 2, named" {
	run -2 iobs-supervise -n -c "$T/nope"
	assert_output "iobs-supervise: $T/nope: No such file or directory"
}

@test "-n accepts a good config silently" {
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
}

@test "-n accepts the seed's example config; missing paths are warnings" {
	cp "$BATS_TEST_DIRNAME/data/iobserverrc" "$T/iobserverrc"
	run -0 iobs-supervise -n -p "$T/plugins" -c "$T/iobserverrc"
	assert_line "iobs-supervise: $T/iobserverrc:5: /some/example/path: No such file or directory; watched once it exists"
	assert_line "iobs-supervise: $T/iobserverrc:8: /some/example/path2: No such file or directory; watched once it exists"
	assert_equal "${#lines[@]}" 2
}

@test "the seed's example config: replica is mirror, and must be found" {
	# The seed's own config, its plugin renamed to one nobody has.
	sed 's/scribe, replica/scribe, nosuch/' \
		"$BATS_TEST_DIRNAME/data/iobserverrc" > "$T/iobserverrc"
	run -2 iobs-supervise -n -p "$T/plugins" -c "$T/iobserverrc"
	assert_output --partial "$T/iobserverrc:9: plugin nosuch: no iobs-nosuch in $T/plugins"
	# replica finds iobs-mirror: in plugin_dir, else beside iobs-supervise
	# (its destination moved where the directory above it is).
	sed "s|/some/example/mirror/|$T/|" \
		"$BATS_TEST_DIRNAME/data/iobserverrc" > "$T/iobserverrc"
	rm "$T/plugins/iobs-mirror"
	mkdir "$T/empty"
	run -0 iobs-supervise -n -p "$T/empty" -c "$T/iobserverrc"
}

@test "the seed's test config: watches without plugins are warnings" {
	cp "$BATS_TEST_DIRNAME/data/t-config" "$T/t-config"
	run -0 iobs-supervise -n -p "$T/plugins" -c "$T/t-config"
	assert_line "iobs-supervise: $T/t-config:4: [[$T/watch1]]: no plugins; nothing runs for it (add plugins = scribe, for one)"
	assert_line "iobs-supervise: $T/t-config:5: [[$T/watch2]]: no plugins; nothing runs for it (add plugins = scribe, for one)"
	assert_line "iobs-supervise: $T/t-config:4: $T/watch1: No such file or directory; watched once it exists"
	assert_equal "${#lines[@]}" 4
}

@test "config errors: one line FILE:LINE: what, exit 2" {
	bad_conf 4 "[frob]: unknown section (global or watches)" "[frob]"
	bad_conf 4 "colour: unknown key in [global]" "colour = blue"
	bad_conf 4 "watch_config: maybe: not yes or no" "watch_config = maybe"
	bad_conf 4 "restart_delay: soon: not a time in seconds from 0.1 to 3600" \
	    "restart_delay = soon"
	bad_conf 4 "fail_limit: 0: too small (1 to 64)" "fail_limit = 0"
	bad_conf 4 "[[x]]: outside [watches]" "[[x]]"
	bad_conf 5 "plugins: key outside a [[PATH]] subsection" "[watches]
plugins = cat"
	bad_conf 6 "frob: unknown key" "[watches]
[[data]]
frob = 1
plugins = cat"
	bad_conf 6 "dog_out: no plugin of this watch is called dog" "[watches]
[[data]]
dog_out = x
plugins = cat"
	bad_conf 6 "plugin nope: no iobs-nope in $T/plugins, $IOBS_REAL_BIN or /usr/local/bin" \
	    "[watches]
[[data]]
plugins = cat, nope"
	bad_conf 6 "plugin cat: listed twice" "[watches]
[[data]]
plugins = cat, cat"
	bad_conf 7 "[[data]]: watched already, at line 5; give that one the plugins (a mirror to several destinations: mirror_destination = DEST, DEST)" "[watches]
[[data]]
plugins = cat
[[data]]
plugins = cat"
	bad_conf 7 "recursive: sometimes: not yes or no" "[watches]
[[data]]
plugins = cat
recursive = sometimes"
	bad_conf 7 "plugins: given twice" "[watches]
[[data]]
plugins = cat
plugins = cat"
	bad_conf 6 "backend: kqueue: not auto, inotify, fanotify or poll" \
	    "[watches]
[[data]]
backend = kqueue
plugins = cat"
	bad_conf 6 "interval: 0: not a time in seconds from 0.01" "[watches]
[[data]]
interval = 0
plugins = cat"
	bad_conf 4 "what: not key = value" "what"
}

@test "exclude and a plugin's exclude are lists of globs, one syntax; a glob that cannot be meant is refused at its line" {
	bad_conf 6 'exclude: *.tmp": a quote in a glob; a list is written unquoted, as in exclude = *.tmp, .git' \
	    '[watches]
[[data]]
exclude = "*.tmp", ".git"
plugins = cat'
	bad_conf 7 "cat_exclude: a[b: [ without its ]; write [[] for the character itself" \
	    "[watches]
[[data]]
plugins = cat
cat_exclude = *.tmp, a[b"
	bad_conf 6 "exclude: $T/data/build: a path under the watch is written from its root, as /build" \
	    "[watches]
[[data]]
exclude = $T/data/build
plugins = cat"
	bad_conf 6 "exclude: build/../x: an empty, . or .. component never matches a path" \
	    "[watches]
[[data]]
exclude = build/../x
plugins = cat"
	bad_conf 7 "cat_exclude: an empty list" "[watches]
[[data]]
plugins = cat
cat_exclude = ,"
	# What each plugin is asked to take: every list item an option of
	# its own (exclude), or the list joined by commas alone (events).
	cat >"$T/plugins/iobs-exec" <<-EOF
	#!/bin/sh
	[ "\$1" = --check ] && printf '%s\n' "\$@" >"$T/exec.args"
	exit 0
	EOF
	chmod +x "$T/plugins/iobs-exec"
	cp "$T/plugins/iobs-exec" "$T/plugins/iobs-other"
	sed -i "s|exec.args|other.args|" "$T/plugins/iobs-other"
	conf "[watches]
[[data]]
plugins = exec, other
exclude = *.tmp, /build/, [[]x
exec_exclude = *.bak,.git
exec_events = create, close_write
other_exclude = *.o
other_note = a, b"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
	run -0 cat "$T/exec.args"
	assert_output -- "--check
--exclude=*.tmp
--exclude=/build/
--exclude=[[]x
--exclude=*.bak
--exclude=.git
--events=create,close_write"
	# A plugin not of ours gets its own exclude, not the watch's, and
	# its other keys as written.
	run -0 cat "$T/other.args"
	assert_output -- "--check
--exclude=*.o
--note=a, b"
}

@test "a plugin that is not executable is refused" {
	chmod -x "$T/plugins/iobs-cat"
	conf "[watches]
[[data]]
plugins = cat"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:6: plugin cat: $T/plugins/iobs-cat is not executable"
}

@test "comments, quotes, booleans, continuation and relative paths" {
	conf "# a comment
[global]
watch_config = True   # trailing comment
watch_plugins = off
[watches]
  [[ \"data\" ]]
  plugins = 'cat'
  exclude = *.tmp, .git, \\
      'build'
  cat_out = $T/out
  recursive = 0"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
}

@test "status and cache without a running supervisor" {
	run -3 iobs-supervise -s "$STATE" status
	assert_output "iobs-supervise: not running"
	run -2 iobs-supervise -s "$STATE" cache
	assert_output --partial "usage:"
}
