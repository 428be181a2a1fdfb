#!/bin/bash
# Benchmarks iobs-mirror side by side with rsync -a and lsyncd, on tmpfs:
# initial sync of a 20,000-file tree (to one destination and to two), and
# of a cp -al tree of 20,000 hard-linked files (against rsync -aH), no-op
# restart, storm end to an exact copy (and with --backup-dir), latency of
# one small write (and with a read-only and an unreachable destination
# beside), rename of a 1 GB directory,
# dbench (4 clients) end to an exact copy, records applied per second.
# BENCH_MB=200 makes the renamed directory smaller; BENCH_DBENCH_S the
# dbench run shorter (default 20 s), 0 skips it.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${IOBS_BIN:-$here/bin}
MB=${BENCH_MB:-1024}
DBENCH_S=${BENCH_DBENCH_S:-20}
W=$(mktemp -d /dev/shm/iobs-bench.XXXXXX)
# What a tool left different, for the rows that say never: kept out of
# the table, in a file that outlives the run.
LOG=${BENCH_LOG:-$(mktemp /tmp/iobs-bench-mirror.XXXXXX.log)}
: >"$LOG"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT

for t in rsync lsyncd; do
	command -v $t >/dev/null ||
	    { echo "bench: $t missing: apt-get install -y rsync lsyncd" >&2; exit 1; }
done
cc -O2 -o "$W/latency" "$here/bench/latency.c"

# The log named once, at the end, when a row left something in it.
log_note() {
	[ -s "$LOG" ] && echo "  (what stayed different where a row says never: $LOG)"
	[ -s "$LOG" ] || rm -f "$LOG"
}

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t_now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '%-34s %12s %12s %12s %10s\n' "$@"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

init_stream() {
	printf '# iobs-stream 1\n0.000000\tWATCH_INIT\t0\t%s\n' "$1"
}

# lsyncd in the foreground, rsync mode, smallest delay; waits for its
# start-up sync to end.
start_lsyncd() {
	local src=$1 dst=$2 log=$3 delay=${4:-0}
	lsyncd -nodaemon -delay "$delay" -rsync "$src" "$dst" >"$log" 2>&1 &
	LSYNCD_PID=$!
	PIDS+=("$LSYNCD_PID")
	local i
	for i in $(seq 6000); do
		grep -q 'Startup of .* finished' "$log" && return 0
		sleep 0.01
	done
	echo "bench: lsyncd did not start" >&2
	return 1
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# start_iobs SRC DST [--backup-dir=.bk]: iobs-watch SRC | iobs-mirror
# DST, once equal (.bk left out of the comparison).
start_iobs() {
	mkfifo "$W/pipe.$$"
	"$BIN/iobs-mirror" ${3:+"$3"} "$2" <"$W/pipe.$$" 2>"$W/mirror.err" &
	MIRROR_PID=$!
	PIDS+=("$MIRROR_PID")
	"$BIN/iobs-watch" "$1" >"$W/pipe.$$" 2>/dev/null &
	WATCH_PID=$!
	PIDS+=("$WATCH_PID")
	until "$BIN/treecmp" -q ${3:+-x .bk} "$1" "$2"; do sleep 0.01; done
	rm -f "$W/pipe.$$"
}

# wait_equal SRC DST LIMIT_MS [SKIP]: ms until DST equals SRC (SKIP, a
# path, left out), or "never", with the first differences in $LOG.
wait_equal() {
	local t0=$(t_now) el
	while :; do
		if "$BIN/treecmp" -q ${4:+-x "$4"} "$1" "$2"; then
			ms "$t0"
			return
		fi
		el=$(ms "$t0")
		if [ "$el" -gt "$3" ]; then
			echo "never(>${3})"
			{
				echo "$2 never equal to $1 within $3 ms:"
				"$BIN/treecmp" "$1" "$2" | head -5 || true
			} >>"$LOG"
			return
		fi
	done
}

echo "iobs-mirror bench on $(uname -r), $(nproc) cores, tmpfs $W"
echo "making a 20,000-file tree..."
python3 "$here/bench/tree20k.py" "$W/tree"

echo
row "" "iobs-mirror" "rsync -a" "lsyncd" "iobs/rsync"
# 1. Initial sync.
t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" "$W/m1"; i_init=$(ms "$t")
t=$(t_now); rsync -a "$W/tree/" "$W/r1/"; r_init=$(ms "$t")
t=$(t_now); start_lsyncd "$W/tree" "$W/l1" "$W/l1.log"; l_init=$(ms "$t")
stop_pid "$LSYNCD_PID"
"$BIN/treecmp" -q "$W/tree" "$W/m1" || echo "bench: iobs-mirror copy differs!" >&2
row "initial sync, 20k files (ms)" "$i_init" "$r_init" "$l_init" "$(ratio "$i_init" "$r_init")"
# 1b. What its progress line costs: 5 runs each, in turn, medians.
p_on=() p_off=()
for i in 1 2 3 4 5; do
	rm -rf "$W/mp" "$W/mq"
	t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" --progress=none "$W/mq"; p_off+=("$(ms "$t")")
	t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" --progress=line "$W/mp" 2>/dev/null; p_on+=("$(ms "$t")")
done
rm -rf "$W/mp" "$W/mq"
row "  with --progress, median of 5 (ms)" "$(median "${p_on[@]}")" "$(median "${p_off[@]}") (none)" "" "$(ratio "$(median "${p_on[@]}")" "$(median "${p_off[@]}")")"
# 1c. Two local destinations from one stream against one: medians of 3,
# in turn.
one=() two=()
for i in 1 2 3; do
	rm -rf "$W/d1" "$W/d2" "$W/d3"
	t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" "$W/d1"; one+=("$(ms "$t")")
	t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" "$W/d2" "$W/d3"; two+=("$(ms "$t")")
done
"$BIN/treecmp" -q "$W/tree" "$W/d3" || echo "bench: iobs-mirror second copy differs!" >&2
rm -rf "$W/d1" "$W/d2" "$W/d3"
row "  two destinations, median of 3 (ms)" "$(median "${two[@]}")" "$(median "${one[@]}") (one)" "" "$(ratio "$(median "${two[@]}")" "$(median "${one[@]}")")"
# 2. No-op restart.
t=$(t_now); init_stream "$W/tree" | "$BIN/iobs-mirror" "$W/m1"; i_noop=$(ms "$t")
t=$(t_now); rsync -a "$W/tree/" "$W/r1/"; r_noop=$(ms "$t")
t=$(t_now); start_lsyncd "$W/tree" "$W/l1" "$W/l1.log"; l_noop=$(ms "$t")
stop_pid "$LSYNCD_PID"
row "no-op restart (ms)" "$i_noop" "$r_noop" "$l_noop" "$(ratio "$i_noop" "$r_noop")"
rm -rf "$W/m1" "$W/r1" "$W/l1"

# 2b. Initial sync of a cp -al tree: 20,000 files with two names each.
mkdir "$W/hl"
cp -a "$W/tree" "$W/hl/orig"
cp -al "$W/hl/orig" "$W/hl/copy"
t=$(t_now); init_stream "$W/hl" | "$BIN/iobs-mirror" "$W/mh"; i_hl=$(ms "$t")
t=$(t_now); rsync -aH "$W/hl/" "$W/rh/"; r_hl=$(ms "$t")
"$BIN/treecmp" -q -H "$W/hl" "$W/mh" || echo "bench: iobs-mirror links differ!" >&2
row "cp -al tree, 20k x 2 links (ms)" "$i_hl" "$r_hl (-aH)" "-" "$(ratio "$i_hl" "$r_hl")"
rm -rf "$W/hl" "$W/mh" "$W/rh"

# 3. Storm end to an exact copy (2,000 changes, 3 seeds).
mkdir -p "$W/s" "$W/out" "$W/ms" "$W/rs" "$W/ls"
"$BIN/storm" -n 300 -s 1000 "$W/s" "$W/out"
start_iobs "$W/s" "$W/ms"
rsync -a --delete "$W/s/" "$W/rs/"
start_lsyncd "$W/s" "$W/ls" "$W/ls.log"
i_storm=""; r_storm=""; l_storm=""
for seed in 1 2 3; do
	"$BIN/storm" -n 2000 -s "$seed" "$W/s" "$W/out"
	i_storm="$i_storm $(wait_equal "$W/s" "$W/ms" 10000)"
	t=$(t_now); rsync -a --delete "$W/s/" "$W/rs/"; r_storm="$r_storm $(ms "$t")"
	l_storm="$l_storm $(wait_equal "$W/s" "$W/ls" 5000)"
done
stop_pid "$LSYNCD_PID"
row "storm end -> equal, 3 seeds (ms)" "${i_storm# }" "${r_storm# }" "${l_storm# }" ""

# 4. One small write reaching DEST (300 writes; rsync: one run).
lat_i=$("$W/latency" 300 5000 "$W/s" "$W/ms")
start_lsyncd "$W/s" "$W/ls" "$W/ls.log"
lat_l=$("$W/latency" 20 2000 "$W/s" "$W/ls")
stop_pid "$LSYNCD_PID"
stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
set -- $lat_i; li50=$1 li99=$2
set -- $lat_l; ll50=$1 ll99=$2 lto=$3
t=$(t_now); echo x >"$W/s/latency.txt"; rsync -a --delete "$W/s/" "$W/rs/"; r_lat=$(ms "$t")
row "small write p50 (ms)" "$li50" "$r_lat" "$ll50" "$(ratio "$li50" "$r_lat")"
row "small write p99 (ms)" "$li99" "" "$ll99" ""

# 4b. The same writes with two more destinations, one read-only (a
# read-only bind mount; root only) and one a host that is down (ssh to
# a port nothing listens on): the healthy one's latency, beside one
# destination's taken just before.
start_iobs "$W/s" "$W/ms"
lat_1=$("$W/latency" 300 5000 "$W/s" "$W/ms")
stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
cp -a "$W/ms" "$W/m3"
extra=()
if [ "$(id -u)" = 0 ] && mkdir -p "$W/ro-real" "$W/ro" &&
    mount --bind "$W/ro-real" "$W/ro" 2>/dev/null; then
	mount -o remount,bind,ro "$W/ro" && extra+=("$W/ro")
fi
if command -v ssh >/dev/null; then
	dead=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	extra+=(-e "ssh -o BatchMode=yes -p $dead" "127.0.0.1:$W/down")
fi
mkfifo "$W/pipe3"
"$BIN/iobs-mirror" "$W/m3" "${extra[@]}" <"$W/pipe3" 2>"$W/mirror3.err" &
MIRROR_PID=$!; PIDS+=("$MIRROR_PID")
"$BIN/iobs-watch" "$W/s" >"$W/pipe3" 2>/dev/null &
WATCH_PID=$!; PIDS+=("$WATCH_PID")
until "$BIN/treecmp" -q "$W/s" "$W/m3"; do sleep 0.01; done
sleep 2	# the read-only one's first errors, the down one's first tries
lat_3=$("$W/latency" 300 5000 "$W/s" "$W/m3")
stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
umount "$W/ro" 2>/dev/null || true
set -- $lat_1; l1_50=$1 l1_99=$2
set -- $lat_3; l3_50=$1 l3_99=$2
row "small write p50, 3 dests (ms)" "$l3_50" "$l1_50 (one)" "" "$(ratio "$l3_50" "$l1_50")"
row "small write p99, 3 dests (ms)" "$l3_99" "$l1_99 (one)" "" "$(ratio "$l3_99" "$l1_99")"
echo "  (3 dests: a healthy one, measured; ${#extra[@]} more words: $(printf '%s ' "${extra[@]}" | sed "s|$W|W|g"))"
rm -rf "$W/m3" "$W/ro" "$W/ro-real"

# 4c. The storms of 3 again, on a tree of their own, the mirror keeping
# what they delete and replace (--backup-dir): beside 3's figures.
mkdir -p "$W/s2" "$W/out2"
"$BIN/storm" -n 300 -s 1000 "$W/s2" "$W/out2"
start_iobs "$W/s2" "$W/mb" --backup-dir=.bk
b_storm=""
for seed in 1 2 3; do
	"$BIN/storm" -n 2000 -s "$seed" "$W/s2" "$W/out2"
	b_storm="$b_storm $(wait_equal "$W/s2" "$W/mb" 10000 .bk)"
done
stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
row "storm, --backup-dir, 3 seeds (ms)" "${b_storm# }" "${i_storm# } (without)" "" ""
rm -rf "$W/s2" "$W/out2" "$W/mb"
[ "$lto" = 0 ] || echo "  (lsyncd: $lto of 20 writes not there after 2 s)"
rm -rf "$W/s" "$W/out" "$W/ms" "$W/rs" "$W/ls"

# 5. Renaming a big directory.
mkdir -p "$W/b/big/sub" "$W/mb" "$W/rb" "$W/lb"
for i in $(seq 16); do
	head -c $((MB * 1024 * 1024 / 16)) /dev/urandom >"$W/b/big/sub/f$i"
done
start_iobs "$W/b" "$W/mb"
ino=$(stat -c %i "$W/mb/big/sub/f1")
rsync -a --delete "$W/b/" "$W/rb/"
start_lsyncd "$W/b" "$W/lb" "$W/lb.log"
lino=$(stat -c %i "$W/lb/big/sub/f1")
t=$(t_now)
mv "$W/b/big" "$W/b/renamed"
until [ -e "$W/mb/renamed/sub/f16" ] && [ ! -e "$W/mb/big" ]; do :; done
i_ren=$(ms "$t")
"$BIN/treecmp" -q "$W/b" "$W/mb" || echo "bench: iobs-mirror rename differs!" >&2
[ "$(stat -c %i "$W/mb/renamed/sub/f1")" = "$ino" ] && i_bytes=0 || i_bytes=$((MB << 20))
t=$(t_now); rsync -a --delete "$W/b/" "$W/rb/"; r_ren=$(ms "$t")
l_ren=$(
	t=$(t_now)
	for i in $(seq 3000); do
		# lsyncd's rsync mode keeps no modes: equal contents will do.
		if [ ! -e "$W/lb/big" ] && diff -rq "$W/b" "$W/lb" >/dev/null 2>&1; then
			ms "$t"; exit
		fi
		sleep 0.01
	done
	echo "never(>30000)"
)
stop_pid "$LSYNCD_PID"
stop_pid "$WATCH_PID"; stop_pid "$MIRROR_PID"
[ "$(stat -c %i "$W/lb/renamed/sub/f1" 2>/dev/null)" = "$lino" ] &&
    l_bytes=0 || l_bytes=$((MB << 20))
row "rename ${MB} MB dir (ms)" "$i_ren" "$r_ren" "$l_ren" "$(ratio "$i_ren" "$r_ren")"
row "  bytes copied by rename" "$i_bytes" "$((MB << 20))" "$l_bytes" ""

# 6. dbench in the source, then time to an exact copy; the stream of
# the first run is replayed into a mirror for records applied per second.
[ "$DBENCH_S" -gt 0 ] || { log_note; exit 0; }
command -v dbench >/dev/null ||
    { echo "bench: dbench missing: apt-get install -y dbench" >&2; exit 1; }
LOADFILE=/usr/share/dbench/client.txt
# dbench_iobs EVENTS: D_MS, ms from dbench's end until DEST equals the
# source; the stream is kept in $W/dbench.stream.
dbench_iobs() {
	rm -rf "$W/ds" "$W/dm" "$W/wpipe" "$W/mpipe"
	mkdir -p "$W/ds" "$W/dm"
	mkfifo "$W/wpipe" "$W/mpipe"
	"$BIN/iobs-mirror" "$W/dm" <"$W/mpipe" >/dev/null 2>"$W/mirror.err" &
	MIRROR_PID=$!
	PIDS+=("$MIRROR_PID")
	tee "$W/dbench.stream" <"$W/wpipe" >"$W/mpipe" &
	TEE_PID=$!
	PIDS+=("$TEE_PID")
	"$BIN/iobs-watch" ${1:+-e "$1"} "$W/ds" >"$W/wpipe" 2>/dev/null &
	WATCH_PID=$!
	PIDS+=("$WATCH_PID")
	until "$BIN/treecmp" -q "$W/ds" "$W/dm"; do sleep 0.01; done
	dbench -c "$LOADFILE" -D "$W/ds" -t "$DBENCH_S" 4 >/dev/null 2>&1
	D_MS=$(wait_equal "$W/ds" "$W/dm" 60000)
	stop_pid "$WATCH_PID"; stop_pid "$TEE_PID"; stop_pid "$MIRROR_PID"
}
dbench_iobs ""
d_all=$D_MS
nrec=$(grep -vc '^#' "$W/dbench.stream" || true)
cp "$W/dbench.stream" "$W/replay.stream"
dbench_iobs close_write,create,delete,move,attrib
d_chg=$D_MS
rm -rf "$W/ds" "$W/ls"
mkdir -p "$W/ds" "$W/ls"
start_lsyncd "$W/ds" "$W/ls" "$W/ls.log"
dbench -c "$LOADFILE" -D "$W/ds" -t "$DBENCH_S" 4 >/dev/null 2>&1
l_db=$(
	t=$(t_now)
	for i in $(seq 6000); do
		# lsyncd's rsync mode keeps no modes: equal contents will do.
		if diff -rq "$W/ds" "$W/ls" >/dev/null 2>&1; then
			ms "$t"; exit
		fi
		sleep 0.01
	done
	echo "never(>60000)"
)
stop_pid "$LSYNCD_PID"
row "dbench ${DBENCH_S}s end -> equal (ms)" "$d_all" "" "$l_db" ""
row "  changes only (-e close_write,..)" "$d_chg" "" "" ""
# Replayed against the tree as dbench left it, into a copy of it.
cp -a "$W/ds" "$W/rp"
t=$(t_now); "$BIN/iobs-mirror" "$W/rp" <"$W/replay.stream" 2>/dev/null; rp=$(ms "$t")
row "records applied per second" "$(awk -v n="$nrec" -v t="$rp" 'BEGIN { printf "%d", t ? n * 1000 / t : 0 }')" "" "" ""
echo "  ($nrec records of a dbench stream replayed in $rp ms)"
log_note
