#!/usr/bin/env bats
# iobs-supervise and a mirror to several destinations: mirror_destination
# as a list, the refusals that point to it, and status showing each
# destination under its pipeline, from the keys the mirror writes.

load supervise_helper

# real_conf BODY: like conf, with the real tools as the plugins.
real_conf() {
	{
		printf '[global]\nplugin_dir = %s\nstate_dir = %s\n' \
		    "$IOBS_BIN" "$STATE"
		printf 'restart_delay = 0.2\nrestart_delay_max = 1\n'
		printf '%s\n' "$1"
	} >"$T/rc"
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

# dests_key STATE2 QUEUED2: the key a mirror's front writes for $T/data,
# its first destination up, its second in STATE2 with QUEUED2 bytes.
dests_key() {
	printf 'dests=2\ndest.1=%s\nstate.1=up\nqueued.1=0\nexit.1=-\nsince.1=%s\ndest.2=%s\nstate.2=%s\nqueued.2=%s\nexit.2=1\nsince.2=%s\n' \
	    "$T/a" "$(date +%s)" "h:/b" "$1" "$2" "$(date +%s)" |
	    iobs-supervise -s "$STATE" cache put "dests/mirror$T/data"
}

@test "status: a row for each destination under its pipeline, with its state, backlog and pass; --json too" {
	conf "[watches]
[[data]]
plugins = mirror"
	start_sup
	wait_ready "$T/data" mirror
	run -0 status
	refute_output --partial "mirror#"
	now=$(date +%s)
	dests_key behind 1572864
	# The first one's pass; the second, remote, has paths waiting.
	printf 'dest=%s\nphase=syncing\nentries=4120\ncopied=10\nbytes=2048\nsince=%s\n' \
	    "$T/a" "$now" | iobs-supervise -s "$STATE" cache put \
	    "progress/mirror#1$T/data"
	printf 'dest=h:/b\nstate=away\npaths=3\noldest=%s\n' "$now" |
	    iobs-supervise -s "$STATE" cache put "backlog/mirror#2$T/data"
	run -0 status
	# Under the pipeline's own row, in the order of the list.
	assert_line --index 2 --regexp "^$T/data +mirror +up +yes "
	assert_line --index 3 --regexp "^  $T/a +mirror#1 +syncing +- +- +[0-9T:-]+ +- +- +- +4,120 entries, 2.0 kB copied +-\$"
	assert_line --index 4 --regexp "^  h:/b +mirror#2 +behind +- +- +[0-9T:-]+ +- +- +- +1.6 MB queued, 3 waiting +exited 1\$"
	# A column starts where its heading does, on every row.
	run -0 awk 'NR == 2 { c = index($0, "STATE") }
	    NR > 2 && NF == 0 { exit }
	    NR > 2 && substr($0, c - 1, 2) !~ /^ [^ ]/ {
		print "line " NR " shifted" }' <<<"$(status)"
	assert_output ""
	# The remote's own backlog, under the right watch.
	run -0 awk '$1 == "h:/b" && $2 == "away" { print $5 }' <<<"$(status)"
	assert_output "$T/data"
	run -0 iobs-supervise -s "$STATE" status --json
	json=$output
	run -0 jq -r '.pipelines[] | select(.plugin == "mirror") |
	    .destinations | map([.dest, .branch, .state, .queued, .exit,
	    .phase, .pass_entries, .waiting, .remote] | map(tostring) |
	    join(" ")) | .[]' <<<"$json"
	assert_output "$T/a 1 up 0 - syncing 4120 - -
h:/b 2 behind 1572864 1 behind null 3 away"
	run -0 jq -r '.remotes[] | [.dest, .watch] | join(" ")' <<<"$json"
	assert_output "h:/b $T/data"
	# Down: no queue shown, the back-off's state.
	dests_key down 0
	run -0 dest_row h:/b
	assert_output --regexp "^h:/b mirror#2 down .* 3 waiting exited 1\$"
}

@test "status: a restart forgets the destinations of the run before" {
	conf "[watches]
[[data]]
plugins = mirror"
	start_sup
	wait_ready "$T/data" mirror
	dests_key up 0
	echo 'dest=h:/b' | iobs-supervise -s "$STATE" cache put \
	    "backlog/mirror#2$T/data"
	echo 'phase=up' | iobs-supervise -s "$STATE" cache put \
	    "progress/mirror#1$T/data"
	# Another watch's keys are not this one's.
	echo 'dest=h:/c' | iobs-supervise -s "$STATE" cache put \
	    "backlog/mirror#2$T/data2"
	run -0 dest_row h:/b
	assert_output --regexp "^h:/b mirror#2 up "
	old=$(pids_of "$T/data" mirror)
	run -0 iobs-supervise -s "$STATE" restart "$T/data"
	wait_for 10 eval '[ "$(pids_of "$T/data" mirror)" != "$old" ] &&
	    is_ready "$T/data" mirror'
	run -0 status
	refute_output --partial "mirror#"
	run -0 iobs-supervise -s "$STATE" cache list "dests/"
	assert_output ""
	run -0 iobs-supervise -s "$STATE" cache list "backlog/"
	assert_output "backlog/mirror#2$T/data2"
	run -1 iobs-supervise -s "$STATE" cache get "progress/mirror#1$T/data"
}

@test "sd_notify's STATUS= names each destination that is not up" {
	conf "[watches]
[[data]]
plugins = mirror"
	notifylisten "$T/notify" "$T/notes" true 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -S "$T/notify"
	NOTIFY_SOCKET=$T/notify start_sup
	wait_ready "$T/data" mirror
	dests_key behind 1572864
	wait_for 10 grep -qx "STATUS=1 of 1 pipelines up, 0 failed, 0 waiting for their path; h:/b behind, 1.6 MB queued" "$T/notes"
	dests_key down 0
	wait_for 10 grep -qx "STATUS=1 of 1 pipelines up, 0 failed, 0 waiting for their path; h:/b down" "$T/notes"
	dests_key up 0
	wait_for 10 eval 'grep "^STATUS=" "$T/notes" | tail -n 1 |
	    grep -qx "STATUS=1 of 1 pipelines up, 0 failed, 0 waiting for their path"'
}

# dest_state DEST: that destination's state in status.
dest_state() {
	dest_row "$1" | cut -d' ' -f3
}

@test "e2e: two destinations, one read-only: the other gets every write and is up; the read-only one is failing, and, writable again, converges and is up" {
	mkdir "$T/d1" "$T/d2"
	echo a >"$T/data/a"
	readonly_at "$T/d2" "$T/ro"
	real_conf "[watches]
[[data]]
plugins = mirror
mirror_destination = $T/d1, $T/ro"
	run -0 iobs-supervise -n -c "$T/rc"
	start_sup
	wait_ready "$T/data" mirror
	wait_for 20 treecmp -q "$T/data" "$T/d1"
	echo b >"$T/data/b"
	wait_for 10 treecmp -q "$T/data" "$T/d1"
	run -0 status
	assert_line --index 2 --regexp "^$T/data +mirror +up +yes "
	wait_for 10 eval '[ "$(dest_state "$T/d1")" = up ]'
	# Its entries fail there, and it says so, and how many.
	wait_for 10 eval '[ "$(dest_state "$T/ro")" = failing ]'
	run -0 dest_row "$T/ro"
	assert_output --regexp "^$T/ro mirror#2 failing .* [0-9]+ failing"
	run -0 dest_row "$T/d1"
	refute_output --partial "failing"
	run -0 iobs-supervise -s "$STATE" status --json
	run -0 jq -r '.pipelines[0].destinations | map(.dest) | join(" ")' \
	    <<<"$output"
	assert_output "$T/d1 $T/ro"
	[ ! -e "$T/d2/a" ]
	writable "$T/ro"
	echo c >"$T/data/c"
	wait_for 30 treecmp -q "$T/data" "$T/ro"
	wait_for 10 treecmp -q "$T/data" "$T/d1"
	wait_for 10 eval '[ "$(dest_state "$T/ro")" = up ]'
}

@test "e2e: a reload from one destination to two restarts the mirror as a front; from two to one, to three, it is told" {
	mkdir "$T/d1" "$T/d2" "$T/d3"
	echo a >"$T/data/a"
	real_conf "[watches]
[[data]]
plugins = mirror
mirror_destination = $T/d1"
	start_sup
	wait_ready "$T/data" mirror
	wait_for 20 treecmp -q "$T/data" "$T/d1"
	old=$(pids_of "$T/data" mirror)
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/d1, $T/d2|" "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 20 treecmp -q "$T/data" "$T/d2"
	wait_for 10 grep -qs "$T/data mirror: one destination to several; restarting" "$T/log"
	[ "$(pids_of "$T/data" mirror)" != "$old" ]
	wait_for 10 eval '[ "$(dest_state "$T/d2")" = up ]'
	# A front takes new destinations as they come: no restart.
	old=$(pids_of "$T/data" mirror)
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/d2|" "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 10 grep -qs "$T/data mirror: options changed; sending WATCH_RECONFIG" "$T/log"
	sed -i "s|^mirror_destination = .*|mirror_destination = $T/d2, $T/d3, $T/d1|" "$T/rc"
	kill -HUP "$SUP_PID"
	echo b >"$T/data/b"
	wait_for 20 treecmp -q "$T/data" "$T/d3"
	wait_for 20 treecmp -q "$T/data" "$T/d1"
	[ "$(pids_of "$T/data" mirror)" = "$old" ]
}

@test "e2e: a mirror to one read-only destination is failing in status, and up once writable" {
	mkdir "$T/d2"
	echo a >"$T/data/a"
	readonly_at "$T/d2" "$T/ro"
	real_conf "[watches]
[[data]]
plugins = mirror
mirror_destination = $T/ro"
	start_sup
	wait_ready "$T/data" mirror
	wait_for 10 eval 'status | grep -qE "^$T/data +mirror +failing .* [0-9]+ failing"'
	run -0 iobs-supervise -s "$STATE" status --json
	run -0 jq -r '.pipelines[0].failing > 0' <<<"$output"
	assert_output true
	writable "$T/ro"
	echo b >"$T/data/b"
	wait_for 30 treecmp -q "$T/data" "$T/ro"
	wait_for 10 eval 'status | grep -qE "^$T/data +mirror +up "'
}
