#!/usr/bin/env bats
# iobs-supervise: config truth. Each tool is asked, "iobs-NAME --check
# OPTIONS", whether it takes the options the config gives it, at -n,
# at start and at each reload; a refusal is FILE:LINE.

load supervise_helper

# real_conf BODY: like conf, with the real tools as the plugins.
real_conf() {
	{
		printf '[global]\nplugin_dir = %s\nstate_dir = %s\n' \
		    "$IOBS_BIN" "$STATE"
		printf '%s\n' "$1"
	} >"$T/rc"
}

@test "--check: each tool parses its options and exits 0 or 2, reading nothing" {
	run -0 iobs-watch --check -e close_write -- "$T/data" </dev/full
	run -2 iobs-watch --check -e bogus -- "$T/data"
	assert_output --partial "iobs-watch: -e bogus: bogus is not an event"
	run -0 iobs-scribe --check -o "$T/log" </dev/full
	# scribe_json = yes, as iobs.conf(5) writes it.
	run -0 iobs-scribe --check --json=yes </dev/full
	run -2 iobs-scribe --check --bogus=1
	assert_line --index 0 "iobs-scribe: --bogus=1: unknown option"
	run -0 iobs-mirror --check "$T/dest" </dev/full
	assert_not_exist "$T/dest"
	run -2 iobs-mirror --check
	assert_line --index 0 "iobs-mirror: no destination"
	touch "$T/file"
	run -2 iobs-mirror --check "$T/file"
	assert_output "iobs-mirror: $T/file: not a directory"
}

@test "-n: an unknown event is refused at its line" {
	real_conf "[watches]
[[data]]
plugins = scribe
events = create, bogus"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:7: iobs-watch: -e bogus: bogus is not an event (see iobs-watch(1) for the names)"
}

@test "-n: an option the plugin does not have is refused at its line" {
	real_conf "[watches]
[[data]]
plugins = scribe
scribe_log = $T/log
scribe_bogus = 1"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:8: iobs-scribe: --bogus=1: unknown option"
}

@test "-n: a mirror with no destination is refused at its plugins line" {
	real_conf "[watches]
[[data]]
exclude = *.tmp
plugins = scribe, mirror"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:7: iobs-mirror: no destination"
	echo "mirror_destination = $T/rc" >>"$T/rc"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:8: iobs-mirror: $T/rc: not a directory"
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/dest|" "$T/rc"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
}

@test "-n: a plugin that does not answer --check is a warning, not an error" {
	printf '#!/bin/sh\necho "crashing on purpose" >&2\nexit 3\n' \
	    >"$T/plugins/iobs-naive"
	chmod +x "$T/plugins/iobs-naive"
	conf "[watches]
[[data]]
plugins = naive"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:6: iobs-naive --check: exited 3: crashing on purpose; its options are not checked"
	# One that takes --check for an unknown option says so by name.
	printf '#!/bin/sh\necho "iobs-old: unknown option $1" >&2\nexit 2\n' \
	    >"$T/plugins/iobs-old"
	chmod +x "$T/plugins/iobs-old"
	conf "[watches]
[[data]]
plugins = old"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:6: iobs-old --check: exited 2: iobs-old: unknown option --check; its options are not checked"
}

@test "at start: a config a tool refuses is not run, exit 2" {
	real_conf "[watches]
[[data]]
plugins = scribe
scribe_bogus = 1"
	run -2 iobs-supervise -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:7: iobs-scribe: --bogus=1: unknown option"
	assert_not_exist "$STATE/iobs-supervise.pid"
}

@test "at reload: an option the plugin refuses keeps the running config" {
	real_conf "watch_config = yes
[watches]
[[data]]
plugins = scribe
scribe_log = $T/log1"
	start_sup
	wait_ready "$T/data" scribe
	echo "scribe_bogus = 1" >>"$T/rc"
	wait_for 5 grep -qs "iobs-scribe: --bogus=1: unknown option; keeping the running config" "$T/log"
	run -0 cat "$T/log"
	assert_line "iobs-supervise: $T/rc:9: iobs-scribe: --bogus=1: unknown option; keeping the running config"
	is_ready "$T/data" scribe
	: >"$T/data/still"
	wait_for 5 grep -qs "still" "$T/log1"
}

@test "-n: the seed's iobserverrc passes the real scribe's and mirror's checks, once its mirror's parent exists" {
	cp "$BATS_TEST_DIRNAME/data/iobserverrc" "$T/iobserverrc"
	run -2 iobs-supervise -n -p "$IOBS_BIN" -c "$T/iobserverrc"
	assert_line "iobs-supervise: $T/iobserverrc:11: iobs-mirror: /some/example/mirror/dest: /some/example/mirror: no such directory; make it (mkdir -p /some/example/mirror) or mirror elsewhere"
	sed -i "s|/some/example/mirror/|$T/|" "$T/iobserverrc"
	run -0 iobs-supervise -n -p "$IOBS_BIN" -c "$T/iobserverrc"
	assert_output "iobs-supervise: $T/iobserverrc:5: /some/example/path: No such file or directory; watched once it exists
iobs-supervise: $T/iobserverrc:8: /some/example/path2: No such file or directory; watched once it exists"
}

@test "-n and start: a log or DEST whose directory above cannot be made is refused with the path and the fix; one level is made" {
	real_conf "[watches]
[[data]]
plugins = scribe, mirror
scribe_log = $T/var/log/iobserver/data.log
mirror_destination = $T/srv/backup/data"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:7: iobs-scribe: $T/var/log/iobserver/data.log: $T/var/log: no such directory; make it (mkdir -p $T/var/log/iobserver) or log elsewhere"
	mkdir -p "$T/var/log"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:8: iobs-mirror: $T/srv/backup/data: $T/srv/backup: no such directory; make it (mkdir -p $T/srv/backup) or mirror elsewhere"
	# Not run: exit 2 at once, which a unit does not restart.
	run -2 iobs-supervise -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:8: iobs-mirror: $T/srv/backup/data: $T/srv/backup: no such directory; make it (mkdir -p $T/srv/backup) or mirror elsewhere"
	assert_not_exist "$STATE/iobs-supervise.pid"
	mkdir -p "$T/srv/backup"
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
	: >"$T/data/a"
	start_sup
	wait_ready "$T/data" scribe
	wait_ready "$T/data" mirror
	# The log's directory, made with the mode systemd's LogsDirectory=
	# would give it: the log is nobody else's to read.
	wait_for 10 grep -qs "WATCH STARTED" "$T/var/log/iobserver/data.log"
	assert_equal "$(stat -c %a "$T/var/log/iobserver")" 750
	wait_for 10 test -e "$T/srv/backup/data/a"
	run -1 grep -q "restart" "$T/log"
}
