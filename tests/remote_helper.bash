# Fixtures for the remote mirror tests: an sshd and an rsync daemon of
# the test's own on loopback (its own host key, config and authorized
# key; no system service touched), and a mirror to them.

load mirror_helper

SSHD=${SSHD:-/usr/sbin/sshd}

# free_port: a TCP port nothing listens on, on 127.0.0.1, now; others
# run servers on this machine too, so each test picks its own.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# sshd_usable: sshd can run here at all.
sshd_usable() {
	[ -x "$SSHD" ] && command -v ssh >/dev/null &&
	    command -v rsync >/dev/null && [ "$(id -u)" -eq 0 ]
}

# need_sshd: skips the test where sshd cannot run at all.
need_sshd() {
	[ -x "$SSHD" ] || skip "no $SSHD (apt-get install openssh-server)"
	command -v ssh >/dev/null || skip "no ssh (apt-get install openssh-client)"
	command -v rsync >/dev/null || skip "no rsync (apt-get install rsync)"
	[ "$(id -u)" -eq 0 ] || skip "sshd of the test's own needs root here"
}

# One sshd per file: setup_file starts it, every test that only uses it
# shares it (sshd_setup), and a test that takes its sshd down or reads
# its log starts its own (sshd_own).
setup_file() { sshd_file_setup; }
teardown_file() { sshd_file_teardown; }

sshd_file_setup() {
	sshd_usable || return 0
	ssh_files "$BATS_FILE_TMPDIR/ssh"
	sshd_run </dev/null >/dev/null 2>&1 3>&- &
	FILE_SSHD_PID=$!
	export FILE_SSHD_PID FILE_SSH_DIR=$SSH_DIR
	wait_for 10 sshd_up
}

sshd_file_teardown() {
	[ -n "${FILE_SSHD_PID:-}" ] || return 0
	kill -TERM "$FILE_SSHD_PID" 2>/dev/null || true
	wait "$FILE_SSHD_PID" 2>/dev/null || true
}

# sshd_run: the sshd of SSH_DIR, in the foreground.
sshd_run() {
	exec "$SSHD" -D -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"
}

# login_delay SECONDS: from now on, the login shell there takes that
# long to start, and adds a line to $SSH_DIR/logins each time (count
# them with logins). Its user's shell must be bash.
login_delay() {
	local shell
	shell=$(getent passwd "$(id -un)" | cut -d: -f7)
	case $shell in */bash) ;; *) skip "the login shell here is $shell, not bash" ;; esac
	printf 'echo login >>%q\n' "$SSH_DIR/logins" >"$SSH_DIR/home/.bashrc"
	[ "$1" = 0 ] || echo "sleep $1" >>"$SSH_DIR/home/.bashrc"
}

# logins: how many times the login shell there has started.
logins() {
	count_lines "$SSH_DIR/logins" login
}

# ssh_files DIR: keys, sshd_config and the client's ssh_config in DIR
# (SSH_DIR) for an sshd on a free port (SSH_PORT); RSH is the
# remote-shell command, HOST the name to use. Sessions there have HOME
# $SSH_DIR/home, whose .bashrc bash reads for every command ssh runs,
# as on a host: the machine's own (slow on some) is not the test's, and
# login_delay sets how long the test's takes. It starts at once.
ssh_files() {
	SSH_DIR=$1
	local d=$SSH_DIR
	mkdir -p "$d/home" /run/sshd
	chmod 700 "$d"
	: >"$d/home/.bashrc"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host" >/dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$d/id" >/dev/null
	cp "$d/id.pub" "$d/authorized_keys"
	SSH_PORT=$(free_port)
	cat >"$d/sshd_config" <<-CONF
	Port $SSH_PORT
	ListenAddress 127.0.0.1
	HostKey $d/host
	AuthorizedKeysFile $d/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	PidFile none
	MaxSessions 64
	MaxStartups 64
	LogLevel VERBOSE
	SetEnv HOME=$d/home
	CONF
	printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cat "$d/host.pub")" \
	    >"$d/known_hosts"
	cat >"$d/ssh_config" <<-CONF
	Host testhost
	HostName 127.0.0.1
	Port $SSH_PORT
	User $(id -un)
	IdentityFile $d/id
	IdentitiesOnly yes
	UserKnownHostsFile $d/known_hosts
	StrictHostKeyChecking yes
	LogLevel ERROR
	CONF
	RSH="ssh -F $d/ssh_config"
	HOST=testhost
}

# sshd_setup: the file's sshd, shared with the other tests of the file
# (its files in SSH_DIR; RSH and HOST set as ssh_files says); where the
# file has none, one of the test's own.
sshd_setup() {
	need_sshd
	if [ -z "${FILE_SSHD_PID:-}" ] || ! running "$FILE_SSHD_PID"; then
		sshd_own
		return
	fi
	SSH_DIR=$FILE_SSH_DIR
	SSHD_PID=$FILE_SSHD_PID
	SSH_PORT=$(sed -n 's/^Port //p' "$SSH_DIR/sshd_config")
	RSH="ssh -F $SSH_DIR/ssh_config"
	HOST=testhost
	SSHD_SHARED=1
}

# sshd_own: an sshd of the test's own, under $T/ssh, which it may stop
# and start again.
sshd_own() {
	need_sshd
	ssh_files "$T/ssh"
	SSHD_SHARED=
	start_sshd
}

sshd_up() {
	ssh -F "$SSH_DIR/ssh_config" -o BatchMode=yes testhost true \
	    </dev/null 2>/dev/null
}

# start_sshd: the test's sshd, in the foreground of a background job,
# on SSH_PORT; returns once it takes a connection.
start_sshd() {
	sshd_run 3>&- &
	SSHD_PID=$!
	BG_PIDS+=("$SSHD_PID")
	wait_for 10 sshd_up
}

# stop_sshd: the listener and every connection it forked, as a host
# going down would drop them. Never the file's, which others use.
stop_sshd() {
	local kids
	if [ -n "${SSHD_SHARED:-}" ]; then
		echo "stop_sshd: the file's sshd is shared; use sshd_own" >&2
		return 1
	fi
	kids=$(ps -o pid= --ppid "$SSHD_PID" 2>/dev/null || true)
	# shellcheck disable=SC2086
	kill -TERM "$SSHD_PID" $kids 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
}

# rsyncd_setup: an rsync daemon on loopback with a module "m" at
# $T/dmod; DAEMON is its URL.
rsyncd_setup() {
	command -v rsync >/dev/null || skip "no rsync (apt-get install rsync)"
	local port
	mkdir -p "$T/dmod"
	port=$(free_port)
	cat >"$T/rsyncd.conf" <<-CONF
	port = $port
	address = 127.0.0.1
	use chroot = no
	log file = $T/rsyncd.log
	[m]
	path = $T/dmod
	read only = no
	uid = $(id -u)
	gid = $(id -g)
	CONF
	rsync --daemon --no-detach --config="$T/rsyncd.conf" 3>&- &
	BG_PIDS+=("$!")
	DAEMON=rsync://127.0.0.1:$port/m
	wait_for 10 rsync "$DAEMON/" </dev/null >/dev/null 2>&1
}

# start_remote DEST [OPTIONS...]: iobs-watch $SRC | iobs-mirror
# OPTIONS DEST; returns once $DST (the local path of DEST) equals SRC.
start_remote() {
	local dest=$1
	shift
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$dest" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	wait_converged 20
}

# rsh_wrapper: the mirror's rsync, through PATH, becomes one that adds
# a line to $T/runs for each run it starts, and holds that run while
# $T/hold is there.
rsh_wrapper() {
	local real
	real=$(command -v rsync)
	mkdir -p "$T/bin"
	cat >"$T/bin/rsync" <<-EOF
	#!/bin/sh
	echo run >>"$T/runs"
	while [ -e "$T/hold" ]; do sleep 0.02; done
	exec "$real" "\$@"
	EOF
	chmod +x "$T/bin/rsync"
	export PATH="$T/bin:$PATH"
}

# whole_done: after start_remote, the first whole sync's end has been
# read: no child of the mirror is an rsync without --files-from (one
# exited and not yet reaped still counts; a batch's spare has it). The
# tree there may look equal before rsync has exited; a whole sync cut
# then is owed again.
whole_done() {
	! ps -o args= --ppid "$MIRROR_PID" |
	    grep -E '^\[?([^ ]*/)?rsync( |\]|$)' | grep -qv -e '--files-from'
}

# start_remote_nowait DEST [OPTIONS...]: as start_remote, without
# waiting for the remote to be equal.
start_remote_nowait() {
	local dest=$1
	shift
	mkfifo "$T/pipe"
	iobs-mirror "$@" "$dest" <"$T/pipe" >"$T/mirror.out" \
	    2>"$T/mirror.err" 3>&- &
	MIRROR_PID=$!
	BG_PIDS+=("$MIRROR_PID")
	iobs-watch "$SRC" >"$T/pipe" 2>"$T/watch.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
}
