#!/bin/bash
# iobs-mirror at scale, side by side with rsync -a on tmpfs: a tree of
# N files of 0-3,000 bytes, 20 to a directory, and a flat directory of
# 200,000; the initial sync (WATCH_INIT only, as a start does), the
# no-op restart, and the peak RSS of each (rsync's: the largest sum of
# its processes, sampled every 20 ms in runs of its own, so that the
# sampling slows no timed run). Times are the medians of BENCH_RUNS
# rounds (5), each tool in turn. BENCH_SIZES="20000 200000" by default;
# BENCH_MILLION=1 adds 1,000,000 (some minutes, 12 GB of tmpfs);
# BENCH_FLAT=0 leaves the flat row out.
# Goals (issue 28): initial sync <= 0.3x rsync, no-op <= 0.5x, at every
# size and flat; at 1,000,000 files, peak RSS <= 24 MB and <= rsync's.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${IOBS_BIN:-$here/bin}
SIZES=${BENCH_SIZES:-20000 200000}
RUNS=${BENCH_RUNS:-5}
[ -z "${BENCH_MILLION:-}" ] || SIZES="$SIZES 1000000"
W=$(mktemp -d /dev/shm/iobs-scale.XXXXXX)
# Three copies of a million files outgrow /dev/shm's inodes (half a
# page's worth of RAM each): as root, a tmpfs of the bench's own, the
# same kind of file system for both tools.
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o nr_inodes=0,size=75% \
    iobs-scale "$W"; then
	trap 'umount "$W"; rmdir "$W"' EXIT
else
	trap 'rm -rf "$W"' EXIT
fi

command -v rsync >/dev/null ||
    { echo "bench: rsync missing: apt-get install -y rsync" >&2; exit 1; }
[ -x /usr/bin/time ] ||
    { echo "bench: /usr/bin/time missing: apt-get install -y time" >&2; exit 1; }

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t_now() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '%-22s %9s %9s %6s %9s %9s %6s %9s %9s %6s\n' "$@"; }

# make_tree DIR N FLAT: N files, 20 to a directory, or all in one.
make_tree() {
	python3 - "$@" <<'PY'
import os, random, sys
random.seed(1)
root, n, flat = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
for i in range(n):
    d = root if flat else os.path.join(root, "d%03d" % (i // 20000), "e%05d" % (i // 20))
    if flat and i == 0 or not flat and i % 20 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d" % i), "wb") as fh:
        fh.write(b"x" * random.randint(0, 3000))
PY
}

# iobs SRC DST: ms and peak KB of a start of iobs-mirror on SRC.
iobs() {
	local t out
	t=$(t_now)
	out=$(printf '# iobs-stream 1\n0.000000\tWATCH_INIT\t0\t%s\n' "$1" |
	    /usr/bin/time -f %M "$BIN/iobs-mirror" --progress=none "$2" 2>&1)
	echo "$(ms "$t") ${out##*$'\n'}"
}

# rsync_time SRC DST: ms of rsync -a.
rsync_time() {
	local t
	t=$(t_now)
	rsync -a "$1/" "$2/"
	ms "$t"
}

# rsync_rss SRC DST: the largest sum of rsync's processes' RSS, in KB.
rsync_rss() {
	local pid peak=0 kb p v
	rsync -a "$1/" "$2/" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		kb=0
		for p in $pid $(pgrep -P "$pid") $(pgrep -P "$(pgrep -P "$pid" | head -1)" 2>/dev/null); do
			# Gone, or a zombie without VmRSS: nothing.
			v=$(awk '/^VmRSS/ { print $2 }' /proc/"$p"/status 2>/dev/null)
			kb=$((kb + ${v:-0}))
		done
		[ "$kb" -le "$peak" ] || peak=$kb
		sleep 0.02
	done
	wait "$pid"
	echo "$peak"
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }

echo "iobs-mirror at scale on $(uname -r), $(nproc) cores, tmpfs $W"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); medians of $RUNS rounds"
echo
row "" "init iobs" "rsync" "ratio" "no-op iobs" "rsync" "ratio" "RSS iobs" "rsync" "ratio"
run_size() {
	local n=$1 flat=$2 name k ii io r im ri ro rm_
	local -a I=() R=() O=() P=() M=() Q=()
	name="$(printf "%'d" "$n") files"
	[ "$flat" = 0 ] || name="$name, flat"
	rm -rf "${W:?}"/*
	make_tree "$W/src" "$n" "$flat"
	for ((k = 0; k < RUNS; k++)); do
		rm -rf "$W/i" "$W/r"
		read -r ii im <<<"$(iobs "$W/src" "$W/i")"
		I+=("$ii"); M+=("$im")
		R+=("$(rsync_time "$W/src" "$W/r")")
		read -r io im <<<"$(iobs "$W/src" "$W/i")"
		O+=("$io"); M+=("$im")
		P+=("$(rsync_time "$W/src" "$W/r")")
	done
	"$BIN/treecmp" -q "$W/src" "$W/i" || echo "bench: iobs-mirror copy differs!" >&2
	rm -rf "$W/r"
	Q+=("$(rsync_rss "$W/src" "$W/r")" "$(rsync_rss "$W/src" "$W/r")")
	ii=$(median "${I[@]}"); ri=$(median "${R[@]}")
	io=$(median "${O[@]}"); ro=$(median "${P[@]}")
	im=$(max "${M[@]}"); rm_=$(max "${Q[@]}")
	row "$name" "${ii} ms" "${ri} ms" "$(ratio "$ii" "$ri")" \
	    "${io} ms" "${ro} ms" "$(ratio "$io" "$ro")" \
	    "$(awk -v k="$im" 'BEGIN { printf "%.1f MB", k / 1024 }')" \
	    "$(awk -v k="$rm_" 'BEGIN { printf "%.1f MB", k / 1024 }')" \
	    "$(ratio "$im" "$rm_")"
}
for n in $SIZES; do
	run_size "$n" 0
done
[ "${BENCH_FLAT:-1}" = 0 ] || run_size 200000 1
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
