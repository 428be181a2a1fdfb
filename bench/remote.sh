#!/bin/bash
# Benchmarks iobs-mirror to a remote host:/path side by side with
# lsyncd in its rsyncssh mode (smallest delay) and plain rsync -a, all
# over one sshd of the bench's own, configured as a host is: the remote
# user's login shell runs for every session, as bash reads ~/.bashrc
# for every command ssh runs. Everything runs in a network namespace of
# its own, so that the loopback's byte counters are ours alone: one
# small write's latency, a 2,000-change storm to an exact copy, sshd
# stopped for 10 s, bytes over the wire for renaming a big directory,
# and the initial sync of 20,000 files.
#
# Twice: with a login shell that takes 1 s to start (a ~/.bashrc with
# "sleep 1", over root's home in a mount namespace of the bench's own:
# conda, nvm or pyenv cost that), then with this machine's own shell
# as it is. BENCH_SHELL=slow or =default runs one; BENCH_MB=200 makes
# the directory smaller. Run as root.
set -eu

if [ -z "${IOBS_BENCH_NETNS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 1; }
	exec unshare -n -m --propagation private \
	    env IOBS_BENCH_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${IOBS_BIN:-$here/bin}
MB=${BENCH_MB:-1024}
W=$(mktemp -d /dev/shm/iobs-rbench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

for t in rsync lsyncd ssh /usr/sbin/sshd; do
	command -v $t >/dev/null || { echo "bench: $t missing: apt-get" \
	    "install -y rsync lsyncd openssh-server openssh-client" >&2; exit 1; }
done
cc -O2 -o "$W/latency" "$here/bench/latency.c"

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t_now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '%-36s %14s %14s %14s %10s\n' "$@"; }
lo_bytes() { awk '$1 == "lo:" { print $2 }' /proc/net/dev; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The bench's sshd on 127.0.0.1:2222 of this namespace.
S=$W/ssh
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/host"
ssh-keygen -q -t ed25519 -N '' -f "$S/id"
cp "$S/id.pub" "$S/authorized_keys"
cat >"$S/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $S/host
AuthorizedKeysFile $S/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
MaxSessions 64
MaxStartups 64
EOF
printf '[127.0.0.1]:2222 %s\n' "$(cat "$S/host.pub")" >"$S/known_hosts"
cat >"$S/ssh_config" <<EOF
Host bench
HostName 127.0.0.1
Port 2222
User root
IdentityFile $S/id
IdentitiesOnly yes
UserKnownHostsFile $S/known_hosts
StrictHostKeyChecking yes
LogLevel ERROR
EOF
RSH="ssh -F $S/ssh_config"
# start_sshd [nowait]: the bench's sshd; once it takes a session,
# unless nowait (that look pays the login shell there too).
start_sshd() {
	/usr/sbin/sshd -D -f "$S/sshd_config" -E "$S/sshd.log" &
	SSHD_PID=$!
	PIDS+=("$SSHD_PID")
	[ "${1:-}" = nowait ] && return
	until $RSH bench true 2>/dev/null; do sleep 0.05; done
}
# stop_sshd: the listener and every connection, as a host going down.
stop_sshd() {
	local kids
	kids=$(ps -o pid= --ppid "$SSHD_PID" 2>/dev/null || true)
	# shellcheck disable=SC2086
	kill "$SSHD_PID" $kids 2>/dev/null || true
	wait "$SSHD_PID" 2>/dev/null || true
}
HOME_DIR=$(getent passwd root | cut -d: -f6)

# lsyncd, rsyncssh mode, delay 0, through the same sshd.
start_lsyncd() {
	local src=$1 dst=$2 log=$3
	cat >"$W/lsyncd.lua" <<EOF
settings { nodaemon = true, logfile = "$log", insist = false }
sync {
	default.rsyncssh, source = "$src", host = "127.0.0.1",
	targetdir = "$dst", delay = 0,
	ssh = { port = 2222, identityFile = "$S/id",
	    options = { User = "root", IdentitiesOnly = "yes",
	    UserKnownHostsFile = "$S/known_hosts",
	    StrictHostKeyChecking = "yes" } },
}
EOF
	lsyncd "$W/lsyncd.lua" >"$log.out" 2>&1 &
	LSYNCD_PID=$!
	PIDS+=("$LSYNCD_PID")
	local i
	for i in $(seq 12000); do
		grep -q 'Startup of .* finished' "$log" 2>/dev/null && return 0
		sleep 0.01
	done
	echo "bench: lsyncd did not start" >&2
	cat "$log" "$log.out" >&2
	return 1
}

# start_iobs SRC DST: iobs-watch SRC | iobs-mirror bench:DST, once equal.
start_iobs() {
	mkfifo "$W/pipe"
	"$BIN/iobs-mirror" -e "$RSH" "bench:$2" <"$W/pipe" 2>"$W/mirror.err" &
	MIRROR_PID=$!
	PIDS+=("$MIRROR_PID")
	"$BIN/iobs-watch" "$1" >"$W/pipe" 2>/dev/null &
	WATCH_PID=$!
	PIDS+=("$WATCH_PID")
	until "$BIN/treecmp" -q "$1" "$2"; do sleep 0.01; done
	rm -f "$W/pipe"
}

# equal SRC DST [contents]: DST equals SRC; "contents" compares data
# only (lsyncd keeps no directory times).
equal() {
	if [ "${3:-}" = contents ]; then
		diff -rq --no-dereference "$1" "$2" >/dev/null 2>&1
	else
		"$BIN/treecmp" -q "$1" "$2"
	fi
}

# wait_both SRC IOBS_DST LSYNCD_DST LIMIT_MS: "ms ms", until each is
# equal to SRC, from the same start, or "never".
wait_both() {
	local t0=$(t_now) a="" b="" el
	while [ -z "$a" ] || [ -z "$b" ]; do
		el=$(ms "$t0")
		[ -z "$a" ] && equal "$1" "$2" && a=$el
		[ -z "$b" ] && equal "$1" "$3" contents && b=$el
		if [ "$el" -gt "$4" ]; then
			echo "${a:-never(>$4)} ${b:-never(>$4)}"; return
		fi
		sleep 0.005
	done
	echo "$a $b"
}

# wait_equal SRC DST LIMIT_MS [contents]: ms until DST equals SRC, or
# "never"; "contents" compares data only (lsyncd keeps no directory
# times).
wait_equal() {
	local t0=$(t_now) el
	while :; do
		if [ "${4:-}" = contents ]; then
			diff -rq --no-dereference "$1" "$2" >/dev/null 2>&1 &&
			    { ms "$t0"; return; }
		elif "$BIN/treecmp" -q "$1" "$2"; then
			ms "$t0"; return
		fi
		el=$(ms "$t0")
		[ "$el" -gt "$3" ] && { echo "never(>${3})"; return; }
		sleep 0.005
	done
}

med() { printf '%s\n' $1 | sort -n | sed -n 2p; }

echo "iobs-mirror remote bench on $(uname -r), $(nproc) cores," \
    "$(rsync --version | head -1 | awk '{ print "rsync", $3 }'), lsyncd" \
    "$(lsyncd --version | awk '{ print $2 }'), sshd on loopback of a netns"

# bench MODE: every section, with the remote login shell of MODE.
bench() {
	echo
	echo "== remote login shell: $1"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
	t=$(t_now); $RSH bench true; echo "a session's start: $(ms "$t") ms (ssh bench true)"
	row "" "iobs-mirror" "lsyncd" "rsync -a" "iobs/lsyncd"

	# 1. One small write reaching the remote.
	mkdir -p "$W/s" "$W/ms" "$W/ls" "$W/out"
	"$BIN/storm" -n 300 -s 1000 "$W/s" "$W/out"
	start_iobs "$W/s" "$W/ms"
	start_lsyncd "$W/s" "$W/ls" "$W/ls.log"
	lat_i=$("$W/latency" 200 5000 "$W/s" "$W/ms")
	lat_l=$("$W/latency" 50 5000 "$W/s" "$W/ls")
	set -- $lat_i; li50=$1 li99=$2 ito=$3
	set -- $lat_l; ll50=$1 ll99=$2 lto=$3
	row "small write there, p50 (ms)" "$li50" "$ll50" "" "$(ratio "$li50" "$ll50")"
	row "small write there, p99 (ms)" "$li99" "$ll99" "" "$(ratio "$li99" "$ll99")"
	[ "$ito" = 0 ] || echo "  (iobs-mirror: $ito of 200 writes not there after 5 s)"
	[ "$lto" = 0 ] || echo "  (lsyncd: $lto of 50 writes not there after 5 s)"

	# 2. A storm of 2,000 changes to an exact copy (3 seeds).
	i_storm=""; l_storm=""
	for seed in 1 2 3; do
		"$BIN/storm" -n 2000 -s "$seed" "$W/s" "$W/out"
		set -- $(wait_both "$W/s" "$W/ms" "$W/ls" 20000)
		i_storm="$i_storm $1"; l_storm="$l_storm $2"
	done
	row "storm 2,000 -> equal, 3 seeds (ms)" "${i_storm# }" "${l_storm# }" "" ""
	echo "  (lsyncd judged on contents only: it keeps no directory times)"

	# 2b. sshd stopped for 10 s while both mirror changes, then started:
	# the time from its start until each copy is equal.
	i_out=""; l_out=""
	for k in 1 2 3; do
		stop_sshd
		"$BIN/storm" -n 200 -s "$((k + 10))" "$W/s" "$W/out"
		sleep 10
		start_sshd nowait
		set -- $(wait_both "$W/s" "$W/ms" "$W/ls" 60000)
		i_out="$i_out $1"; l_out="$l_out $2"
	done
	row "sshd away 10 s -> equal after, 3x (ms)" "${i_out# }" "${l_out# }" "" ""
	stop_pid "$LSYNCD_PID"
	stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
	rm -rf "$W/s" "$W/ms" "$W/ls" "$W/out"

	# 3. Renaming a big directory: bytes over the wire.
	mkdir -p "$W/b/big/sub" "$W/mb" "$W/lb"
	for i in $(seq 16); do
		head -c $((MB * 1024 * 1024 / 16)) /dev/urandom >"$W/b/big/sub/f$i"
	done
	start_iobs "$W/b" "$W/mb"
	start_lsyncd "$W/b" "$W/lb" "$W/lb.log"
	sleep 1
	b0=$(lo_bytes); t=$(t_now)
	mv "$W/b/big" "$W/b/renamed"
	# Cheap to test, unlike a byte compare of 2 GiB; compared whole after.
	i_ren="" l_ren=""
	while [ -z "$i_ren" ] || [ -z "$l_ren" ]; do
		el=$(ms "$t")
		[ -z "$i_ren" ] && [ -e "$W/mb/renamed/sub/f16" ] &&
		    [ ! -e "$W/mb/big" ] && i_ren=$el
		[ -z "$l_ren" ] && [ -e "$W/lb/renamed/sub/f16" ] &&
		    [ ! -e "$W/lb/big" ] && l_ren=$el
		if [ "$el" -gt 60000 ]; then
			i_ren=${i_ren:-never} l_ren=${l_ren:-never}
		fi
		sleep 0.002
	done
	wait_equal "$W/b" "$W/mb" 60000 >/dev/null
	sleep 1
	b1=$(lo_bytes)
	row "rename ${MB} MiB dir -> equal (ms)" "$i_ren" "$l_ren" "" ""
	stop_pid "$LSYNCD_PID"
	# Each alone, so that the bytes are its own.
	mv "$W/b/renamed" "$W/b/big2"
	wait_equal "$W/b" "$W/mb" 60000 >/dev/null
	sleep 0.5
	b2=$(lo_bytes)
	mv "$W/b/big2" "$W/b/big3"
	wait_equal "$W/b" "$W/mb" 60000 >/dev/null
	sleep 0.5
	b3=$(lo_bytes)
	stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
	i_bytes=$((b3 - b2))
	row "  bytes over loopback, rename" "$i_bytes" "$((b1 - b0 - i_bytes))" \
	    "$((MB << 20))" ""
	echo "  (lsyncd: both mirrors were running during its rename; its figure" \
	    "is the total less iobs-mirror's own rename)"
	rm -rf "$W/b" "$W/mb" "$W/lb"

	# 4. Initial sync of 20,000 files, vs plain rsync -a over the same ssh.
	echo "making a 20,000-file tree..."
	python3 "$here/bench/tree20k.py" "$W/tree"
	init_stream() { printf '# iobs-stream 1\n0.000000\tWATCH_INIT\t0\t%s\n' "$1"; }
	i_init=""; r_init=""
	for k in 1 2 3; do
		rm -rf "$W/m1" "$W/r1"
		t=$(t_now); rsync -a -e "$RSH" "$W/tree/" "bench:$W/r1/"; r_init="$r_init $(ms "$t")"
		t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" -e "$RSH" "bench:$W/m1"
		i_init="$i_init $(ms "$t")"
	done
	"$BIN/treecmp" -q "$W/tree" "$W/m1" || echo "bench: iobs-mirror copy differs!" >&2
	rm -rf "$W/l1"
	t=$(t_now); start_lsyncd "$W/tree" "$W/l1" "$W/l1.log"; l_init=$(ms "$t")
	stop_pid "$LSYNCD_PID"
	row "initial sync 20k files, 3 runs (ms)" "${i_init# }" "$l_init" "${r_init# }" ""
	row "  median, iobs/rsync" "$(med "$i_init")" "" "$(med "$r_init")" \
	    "$(ratio "$(med "$i_init")" "$(med "$r_init")")"
	t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" -e "$RSH" "bench:$W/m1"; i_noop=$(ms "$t")
	t=$(t_now); rsync -a -e "$RSH" "$W/tree/" "bench:$W/r1/"; r_noop=$(ms "$t")
	row "no-op restart 20k files (ms)" "$i_noop" "" "$r_noop" ""

	# 5. Hard links in the 20,000-file tree: a write through one name of a
	# file, until its names there are one file with the new contents. The
	# first pays iobs-mirror's walk for its inode table; the next does not.
	mkdir -p "$W/tree/links"
	ln "$W/tree/d000/e000/f000" "$W/tree/links/g000"
	rm -rf "$W/m5" "$W/l5"
	start_iobs "$W/tree" "$W/m5"
	start_lsyncd "$W/tree" "$W/l5" "$W/l5.log"
	# one_file DST: both names there are one file with the source's data.
	one_file() {
		local a=d000/e000/f000 b=links/g000
		[ "$(stat -c %d:%i "$1/$a" 2>/dev/null)" = \
		    "$(stat -c %d:%i "$1/$b" 2>/dev/null)" ] &&
		    cmp -s "$W/tree/$a" "$1/$a"
	}
	# one_both LIMIT_MS: "ms ms" from the same start until one_file holds
	# for iobs-mirror's copy and lsyncd's, or "never".
	one_both() {
		local t0=$(t_now) a="" b="" el
		while [ -z "$a" ] || [ -z "$b" ]; do
			el=$(ms "$t0")
			[ -z "$a" ] && one_file "$W/m5" && a=$el
			[ -z "$b" ] && one_file "$W/l5" && b=$el
			if [ "$el" -gt "$1" ]; then
				echo "${a:-never(>$1)} ${b:-never(>$1)}"; return
			fi
			sleep 0.002
		done
		echo "$a $b"
	}
	sleep 1
	echo more >>"$W/tree/links/g000"
	set -- $(one_both 5000)
	row "hard link, 1st write (table walk, ms)" "$1" "$2" "" ""
	echo again >>"$W/tree/d000/e000/f000"
	set -- $(one_both 5000)
	row "hard link, next write (ms)" "$1" "$2" "" ""
	echo "  (the write goes through one name; there, both names one file)"
	stop_pid "$LSYNCD_PID"
	stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
	rm -rf "$W/tree" "$W/m1" "$W/r1" "$W/l1" "$W/m5" "$W/l5" "$W"/*.log \
	    "$W"/*.log.out
}

for mode in ${BENCH_SHELL:-slow default}; do
	case $mode in
	slow)
		mkdir -p "$W/home"
		echo 'sleep 1' >"$W/home/.bashrc"
		mount --bind "$W/home" "$HOME_DIR"
		start_sshd
		bench "1 s to start (~/.bashrc: sleep 1)"
		stop_sshd
		umount "$HOME_DIR" ;;
	default)
		start_sshd
		bench "this machine's own, as it is"
		stop_sshd ;;
	*)	echo "bench: BENCH_SHELL: slow or default, not $mode" >&2
		exit 1 ;;
	esac
done
