#!/usr/bin/env bats
# iobs-supervise and a mirror to several destinations: mirror_destination
# as a list, the refusals that point to it, and status showing each
# destination under its pipeline, from the keys the mirror writes.

load supervise_helper

# bad_conf LINE MESSAGE BODY: BODY is refused at LINE of $T/rc
# (counting the three [global] lines conf writes) with MESSAGE.
bad_conf() {
	conf "$3"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:$1: $2"
}

@test "mirror_destination = A, B: one --destination each, in order; one alone as before" {
	conf "[watches]
[[data]]
plugins = mirror
mirror_destination = $T/a, host:/b"
	start_sup
	wait_ready "$T/data" mirror
	run -0 iobs-supervise -s "$STATE" cache get "options/mirror$T/data"
	assert_output "--destination=$T/a
--destination=host:/b"
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/a|" "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 10 eval '[ "$(iobs-supervise -s "$STATE" cache get "options/mirror$T/data")" = "--destination=$T/a" ]'
}

@test "mirror_destination: one listed twice is refused at its line, with the fix" {
	bad_conf 6 "mirror_destination: $T/a/: listed twice; list each destination once" "[watches]
[[data]]
mirror_destination = $T/a, $T/b, $T/a/
plugins = mirror"
	bad_conf 6 "mirror_destination: host:/b: listed twice; list each destination once" "[watches]
[[data]]
mirror_destination = host://b/., host:/b
plugins = mirror"
	bad_conf 7 "replica_destination: $T//a: listed twice; list each destination once" "[watches]
[[data]]
mirror_destination = $T/a
replica_destination = $T//a
plugins = mirror"
	# Not the same place: a remote and a local path, a home and a root.
	conf "[watches]
[[data]]
mirror_destination = $T/a, h:$T/a, h:a, h:/a
plugins = mirror"
	run -0 iobs-supervise -n -c "$T/rc"
}

@test "plugins = mirror, mirror and a second [[PATH]]: refused, naming mirror_destination's list" {
	bad_conf 6 "plugin mirror: listed twice; a mirror to several destinations is one, with mirror_destination = DEST, DEST" "[watches]
[[data]]
plugins = mirror, mirror"
	bad_conf 7 "[[data]]: watched already, at line 5; give that one the plugins (a mirror to several destinations: mirror_destination = DEST, DEST)" "[watches]
[[data]]
plugins = mirror
[[data]]
plugins = mirror"
}
