#!/usr/bin/env bats
# iobs-supervise with mirror_destination = host:/path: the real
# iobs-mirror to an sshd of the test's own; status shows the backlog.

load remote_helper
load supervise_helper

setup() {
	common_setup
	SRC=$T/data
	DST=$T/m
	STATE=$T/state
	mkdir -p "$SRC"
}

# remote_conf DEST [MORE...]: $T/rc, a mirror of $SRC to DEST (a list
# as mirror_destination takes it) over $RSH; MORE lines go in [global].
remote_conf() {
	local dest=$1
	shift
	{
		printf '[global]\nstate_dir = %s\nrestart_delay = 0.2\n' "$STATE"
		[ $# -eq 0 ] || printf '%s\n' "$@"
		printf '[watches]\n[[data]]\nplugins = mirror\n'
		printf 'mirror_destination = %s\nmirror_rsh = %s\n' "$dest" "$RSH"
	} >"$T/rc"
}

# backlog_field N: the Nth column of the remote mirror's backlog line:
# 1 dest, 2 state, 3 paths waiting, 4 age of the oldest, 5 watch.
backlog_field() {
	status | awk -v w="$SRC" -v n="$1" '
	/^REMOTE +STATE +WAITING/ { b = 1; next }
	b && $5 == w { print $n }'
}

# json_away: status --json says the remote mirror of $SRC is away, with
# what waits.
json_away() {
	iobs-supervise -s "$STATE" status --json |
	    jq -e --arg w "$SRC" --arg d "$HOST:$DST" \
	    '.remotes[] | select(.watch == $w) | .dest == $d and
	    .state == "away" and .waiting >= 3 and .oldest_age >= 0' >/dev/null
}

@test "supervise: mirror_destination = host:/path, status shows the backlog" {
	sshd_own
	echo a >"$SRC/a"
	remote_conf "$HOST:$DST"
	run -0 iobs-supervise -n -c "$T/rc"
	start_sup
	wait_ready "$SRC" mirror
	wait_converged 20
	wait_for 10 eval '[ "$(backlog_field 2)" = live ]'
	[ "$(backlog_field 3)" = 0 ]
	[ "$(backlog_field 1)" = "$HOST:$DST" ]
	# A pipeline's own line is as it was.
	is_ready "$SRC" mirror
	stop_sshd
	for i in 1 2 3; do echo "$i" >"$SRC/f$i"; done
	# Away, and the three paths read: the first try may have gone
	# before the stream had them all.
	wait_for 10 eval '[ "$(backlog_field 2)" = away ] &&
	    [ "$(backlog_field 3)" -ge 3 ]'
	[ "$(backlog_field 4)" != - ]
	# The same in --json, for scripts; read again while it says
	# "retrying", as a try is under way.
	wait_for 10 json_away
	start_sshd
	wait_converged 30
	wait_for 10 eval '[ "$(backlog_field 3)" = 0 ]'
	[ "$(backlog_field 2)" = live ]
}

@test "supervise: a new remote mirror_destination is synced whole; a local one refused" {
	sshd_setup
	echo a >"$SRC/a"
	rc() { remote_conf "$1" "watch_config = yes"; }
	rc "$HOST:$DST"
	start_sup
	wait_ready "$SRC" mirror
	wait_converged 20
	read -r W P <<<"$(pids_of "$SRC" mirror)"
	rc "$HOST:$T/m2"
	wait_for 20 treecmp -q "$SRC" "$T/m2"
	echo b >"$SRC/b"
	wait_for 10 treecmp -q "$SRC" "$T/m2"
	rc "$T/local"
	wait_for 10 grep -q "a local destination for a remote mirror" "$T/log"
	echo c >"$SRC/c"
	wait_for 10 treecmp -q "$SRC" "$T/m2"
	# The same process all along: reconfigured, not restarted.
	[ "$(pids_of "$SRC" mirror)" = "$W $P" ]
}

@test "supervise: sd_notify's STATUS= carries the remote backlog, as status does" {
	sshd_own
	echo a >"$SRC/a"
	remote_conf "$HOST:$DST"
	notifylisten "$T/notify" "$T/notes" 3>&- &
	BG_PIDS+=("$!")
	wait_for 5 test -S "$T/notify"
	NOTIFY_SOCKET=$T/notify start_sup
	wait_ready "$SRC" mirror
	wait_converged 20
	wait_for 10 grep -q "^STATUS=1 of 1 pipelines up, .*; $HOST:$DST live, 0 waiting$" "$T/notes"
	stop_sshd
	for i in 1 2 3; do echo "$i" >"$SRC/f$i"; done
	wait_for 10 grep -qE "^STATUS=.*; $HOST:$DST away, [0-9]+ waiting, oldest [0-9]+s$" "$T/notes"
	start_sshd
	wait_converged 30
	# Back to nothing waiting, after it was away.
	wait_for 10 eval 'sed "1,/ away, /d" "$T/notes" | grep -q "^STATUS=.*; $HOST:$DST live, 0 waiting$"'
}

@test "supervise: a local and a remote destination; the remote away: status shows its paths waiting under the pipeline, the local one keeps up" {
	sshd_own
	echo a >"$SRC/a"
	remote_conf "$T/local, $HOST:$DST"
	run -0 iobs-supervise -n -c "$T/rc"
	start_sup
	wait_ready "$SRC" mirror
	wait_converged 20
	wait_for 10 treecmp -q "$SRC" "$T/local"
	wait_for 10 eval '[ "$(backlog_field 2)" = live ]'
	wait_for 10 eval 'dest_row "$T/local" | grep -q "^$T/local mirror#1 up "'
	stop_sshd
	for i in 1 2 3; do echo "$i" >"$SRC/f$i"; done
	# The local one has them while the remote one waits.
	wait_for 10 treecmp -q "$SRC" "$T/local"
	wait_for 10 eval '[ "$(backlog_field 2)" = away ] &&
	    [ "$(backlog_field 3)" -ge 3 ]'
	run -0 dest_row "$HOST:$DST"
	assert_output --regexp "^$HOST:$DST mirror#2 [a-z]+ .*[0-9]+ waiting"
	wait_for 10 eval 'dest_row "$T/local" | grep -q "^$T/local mirror#1 up "'
	run -0 iobs-supervise -s "$STATE" status --json
	run -0 jq -r --arg d "$HOST:$DST" '.pipelines[0].destinations[] |
	    select(.dest == $d) | [.branch, .remote, (.waiting >= 3)] |
	    map(tostring) | join(" ")' <<<"$output"
	# Away, or trying again since: its state moves on, its paths wait.
	assert_output --regexp "^2 (away|retrying) true$"
	start_sshd
	wait_converged 30
	wait_for 10 eval '[ "$(backlog_field 3)" = 0 ]'
}
