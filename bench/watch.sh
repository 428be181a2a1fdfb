#!/usr/bin/env bash
# iobs-watch (its inotify backend) side by side with inotifywait -m -r,
# on the same work in one run: set-up time on a tree of 50,000
# directories, CPU per 100,000 events, peak RSS, the cost of --json and
# --format, and events lost. Prints each figure and the ratio
# iobs-watch / inotifywait (lower is better).
#
#   bash bench/watch.sh [DIRS] [RUNS]
#   BENCH_ONLY=formats bash bench/watch.sh     # just the output costs
#   BENCH_ONLY=backends bash bench/watch.sh    # just the backends
#   BENCH_ONLY=mounts bash bench/watch.sh      # just the mounts' cost
#   BENCH_ONLY=inotify bash bench/watch.sh     # just beside inotifywait
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
IOBS=${IOBS_WATCH:-$here/bin/iobs-watch}
DIRS=${1:-50000}
RUNS=${2:-5}
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}

if ! command -v inotifywait >/dev/null; then
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq inotify-tools >/dev/null
	else
		echo "bench: needs inotifywait: sudo apt-get install inotify-tools" >&2
		exit 1
	fi
fi
[ -x "$IOBS" ] || make -C "$here" all >/dev/null

work=$(mktemp -d "$base/iobs-bench.XXXXXX")
pids=()
mounted=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# CPU time in nanoseconds (schedstat is exact; stat counts 10 ms ticks).
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }
peak_rss_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# ready_after NAME MARKER CMD...: seconds from start until CMD prints
# MARKER (stdout or stderr), then its peak RSS; leaves it running as
# $ready_pid with its output in $work/NAME.out.
ready_after() {
	local name=$1 marker=$2 line t0 t1
	shift 2
	rm -f "$work/fifo"; mkfifo "$work/fifo"
	t0=$EPOCHREALTIME
	"$@" > "$work/fifo" 2>&1 &
	ready_pid=$!
	pids+=("$ready_pid")
	exec 4< "$work/fifo"
	while IFS= read -r line <&4; do
		case $line in *"$marker"*) break ;; esac
	done
	t1=$EPOCHREALTIME
	# Keep draining so the tool never blocks on a full pipe.
	cat <&4 > "$work/$name.out" &
	pids+=($!)
	exec 4<&-
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# cpu_per_100k PID0 PID1 CPU0 EVENTS: CPU seconds per 100,000 events.
cpu_per_100k() {
	awk -v t=$(($2 - $1)) -v n="$3" 'BEGIN { printf "%.3f", t / 1e9 / n * 100000 }'
}

# The output's cost: the plain stream, --json and --format, and
# inotifywait --format, all four watching the same tree at once.
formats() {
	local fmt='%w%f %e' p_plain p_json p_fmt p_inw r
	local c0_plain c0_json c0_fmt c0_inw c1_plain c1_json c1_fmt c1_inw
	local n_plain n_json n_fmt n_inw
	echo "== output cost: CPU per 100,000 events, all four at once"
	rm -rf "$tree"; mkdir -p "$tree/a"
	ready_after plain WATCH_INIT "$IOBS" "$tree" > /dev/null; p_plain=$ready_pid
	ready_after json WATCH_INIT "$IOBS" --json "$tree" > /dev/null; p_json=$ready_pid
	ready_after fmt "Watches established" "$IOBS" --format "$fmt" "$tree" > /dev/null; p_fmt=$ready_pid
	ready_after inwf "Watches established" inotifywait -m -r --format "$fmt" "$tree" > /dev/null; p_inw=$ready_pid
	c0_plain=$(cpu_ns "$p_plain"); c0_json=$(cpu_ns "$p_json")
	c0_fmt=$(cpu_ns "$p_fmt"); c0_inw=$(cpu_ns "$p_inw")
	for r in 1 2 3 4; do
		(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs touch)
		(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs rm)
	done
	sleep 1
	c1_plain=$(cpu_ns "$p_plain"); c1_json=$(cpu_ns "$p_json")
	c1_fmt=$(cpu_ns "$p_fmt"); c1_inw=$(cpu_ns "$p_inw")
	n_plain=$(grep -c "/a/f" "$work/plain.out" || true)
	n_json=$(grep -c "/a/f" "$work/json.out" || true)
	n_fmt=$(grep -c "/a/f" "$work/fmt.out" || true)
	n_inw=$(grep -c "/a/f" "$work/inwf.out" || true)
	cpu_plain=$(cpu_per_100k "$c0_plain" "$c1_plain" "$n_plain")
	cpu_json=$(cpu_per_100k "$c0_json" "$c1_json" "$n_json")
	cpu_fmt=$(cpu_per_100k "$c0_fmt" "$c1_fmt" "$n_fmt")
	cpu_inw=$(cpu_per_100k "$c0_inw" "$c1_inw" "$n_inw")
	printf '   events seen: stream %d   --json %d   --format %d   inotifywait --format %d\n' \
	    "$n_plain" "$n_json" "$n_fmt" "$n_inw"
	printf '   CPU s / 100k events: stream %s   --json %s   --format %s   inotifywait --format %s\n' \
	    "$cpu_plain" "$cpu_json" "$cpu_fmt" "$cpu_inw"
	printf '   --json / stream %s   --format / stream %s   (goal <= 1.5)\n' \
	    "$(ratio "$cpu_json" "$cpu_plain")" "$(ratio "$cpu_fmt" "$cpu_plain")"
	printf '   --json / inotifywait --format %s   --format / inotifywait --format %s   (goal <= 0.5)\n' \
	    "$(ratio "$cpu_json" "$cpu_inw")" "$(ratio "$cpu_fmt" "$cpu_inw")"
	stop "$p_plain"; stop "$p_json"; stop "$p_fmt"; stop "$p_inw"
}

tree=$work/tree
if [ "${BENCH_ONLY:-}" = formats ]; then
	formats
	exit 0
fi

if [ "${BENCH_ONLY:-}" != backends ] && [ "${BENCH_ONLY:-}" != mounts ]; then
echo "== tree: $DIRS directories on $base"
mkdir "$tree"
top=$(( (DIRS + 499) / 500 ))
for i in $(seq "$top"); do
	mkdir "$tree/t$i"
	(cd "$tree/t$i" && seq -f 'd%.0f' 1 $(( DIRS / top )) | xargs mkdir)
done
echo "   $(find "$tree" -type d | wc -l) directories"

# On tmpfs the watcher skips listing directories without subdirectories
# (link count 2); --noleaf shows the cost on a file system where it
# must list them all.
echo "== set-up time to ready, median of $RUNS runs each, alternating"
for f in iobs noleaf inw; do : > "$work/$f.setup"; : > "$work/$f.rss"; done
for r in $(seq "$RUNS"); do
	ready_after iobs WATCH_INIT "$IOBS" --backend=inotify "$tree" >> "$work/iobs.setup"
	peak_rss_kb "$ready_pid" >> "$work/iobs.rss"
	stop "$ready_pid"
	ready_after noleaf WATCH_INIT "$IOBS" --backend=inotify --noleaf "$tree" >> "$work/noleaf.setup"
	peak_rss_kb "$ready_pid" >> "$work/noleaf.rss"
	stop "$ready_pid"
	ready_after inw "Watches established" inotifywait -m -r "$tree" >> "$work/inw.setup"
	peak_rss_kb "$ready_pid" >> "$work/inw.rss"
	stop "$ready_pid"
done
s_iobs=$(median < "$work/iobs.setup"); s_inw=$(median < "$work/inw.setup")
s_nl=$(median < "$work/noleaf.setup")
m_iobs=$(median < "$work/iobs.rss"); m_inw=$(median < "$work/inw.rss")
m_nl=$(median < "$work/noleaf.rss")
printf '   iobs-watch %8.3f s   inotifywait %8.3f s   ratio %s\n' "$s_iobs" "$s_inw" "$(ratio "$s_iobs" "$s_inw")"
printf '   iobs-watch --noleaf %8.3f s   ratio %s\n' "$s_nl" "$(ratio "$s_nl" "$s_inw")"
printf '   peak RSS after set-up: iobs-watch %d KiB   inotifywait %d KiB   ratio %s\n' "$m_iobs" "$m_inw" "$(ratio "$m_iobs" "$m_inw")"
printf '   peak RSS, iobs-watch --noleaf %d KiB   ratio %s\n' "$m_nl" "$(ratio "$m_nl" "$m_inw")"

echo "== CPU per 100,000 events (both watching the same tree at once)"
rm -rf "$tree"; mkdir -p "$tree/a"
ready_after iobs2 WATCH_INIT "$IOBS" --backend=inotify "$tree" > /dev/null; p_iobs=$ready_pid
ready_after inw2 "Watches established" inotifywait -m -r "$tree" > /dev/null; p_inw=$ready_pid
c0_iobs=$(cpu_ns "$p_iobs"); c0_inw=$(cpu_ns "$p_inw")
# Each touch of a new file: CREATE, OPEN, ATTRIB, CLOSE_WRITE; rm: DELETE.
for round in 1 2 3 4; do
	(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs touch)
	(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs rm)
done
sleep 1
c1_iobs=$(cpu_ns "$p_iobs"); c1_inw=$(cpu_ns "$p_inw")
ev_iobs=$(grep -c $'\t' "$work/iobs2.out" || true)
ev_inw=$(wc -l < "$work/inw2.out")
cpu_iobs=$(awk -v t=$((c1_iobs - c0_iobs)) -v n="$ev_iobs" 'BEGIN { printf "%.3f", t / 1e9 / n * 100000 }')
cpu_inw=$(awk -v t=$((c1_inw - c0_inw)) -v n="$ev_inw" 'BEGIN { printf "%.3f", t / 1e9 / n * 100000 }')
printf '   events seen: iobs-watch %d   inotifywait %d\n' "$ev_iobs" "$ev_inw"
printf '   CPU s / 100k events: iobs-watch %s   inotifywait %s   ratio %s\n' "$cpu_iobs" "$cpu_inw" "$(ratio "$cpu_iobs" "$cpu_inw")"
r_iobs=$(peak_rss_kb "$p_iobs"); r_inw=$(peak_rss_kb "$p_inw")
printf '   peak RSS: iobs-watch %d KiB   inotifywait %d KiB   ratio %s\n' "$r_iobs" "$r_inw" "$(ratio "$r_iobs" "$r_inw")"
stop "$p_iobs"; stop "$p_inw"

formats

echo "== events lost (files reported / files made; both watching at once)"
lost_case() {
	local name=$1 script=$2 made got_iobs got_inw
	rm -rf "$tree"; mkdir "$tree"
	ready_after "iobs-$name" WATCH_INIT "$IOBS" --backend=inotify -e create,moved_to "$tree" > /dev/null; p_iobs=$ready_pid
	ready_after "inw-$name" "Watches established" inotifywait -m -r -e create,moved_to --format '%w%f' "$tree" > /dev/null; p_inw=$ready_pid
	(cd "$tree" && eval "$script")
	made=$(find "$tree" -type f | wc -l)
	sleep 1
	got_iobs=$(awk -F'\t' '$2 ~ /^(CREATE|MOVED_TO)$/ { print $4 }' "$work/iobs-$name.out" | sort -u | wc -l)
	# inotifywait prints directories too; count files only.
	got_inw=$(sort -u "$work/inw-$name.out" | while IFS= read -r p; do [ ! -f "$p" ] || echo; done | wc -l)
	printf '   %-28s made %6d   iobs-watch %6d (%5.1f%%)   inotifywait %6d (%5.1f%%)\n' \
	    "$name" "$made" "$got_iobs" "$(awk -v a="$got_iobs" -v b="$made" 'BEGIN{print 100*a/b}')" \
	    "$got_inw" "$(awk -v a="$got_inw" -v b="$made" 'BEGIN{print 100*a/b}')"
	stop "$p_iobs"; stop "$p_inw"
}
mkdir -p "$work/src/a/b/c" "$work/src/d"
touch "$work/src/"{1,2,3} "$work/src/a/"{4,5} "$work/src/a/b/c/"{6,7,8} "$work/src/d/9"
tar -C "$work" -cf "$work/src.tar" src
lost_case "mkdir -p + touch x2000" 'for i in $(seq 2000); do mkdir -p r$i/a/b/c && : > r$i/a/b/c/f; done'
lost_case "cp -r x200" 'for i in $(seq 200); do cp -r "$work/src" c$i; done'
lost_case "tar x x200" 'for i in $(seq 200); do mkdir t$i && tar -C t$i -xf "$work/src.tar"; done'
fi
[ "${BENCH_ONLY:-}" != inotify ] || exit 0

# ---------------------------------------------------------------------
# Backends side by side: fanotify (one mark for the whole file system),
# the inotify backend, fsnotifywait -S (inotify-tools' fanotify mode) and
# inotifywait -r. Needs root for fanotify; skipped otherwise.
#
#   BACKEND_DIRS="50000 200000" BACKEND_RUNS=3 bash bench/watch.sh
if [ "$(id -u)" -ne 0 ]; then
	echo "== backends: fanotify needs root; skipped"
	exit 0
fi
BACKEND_DIRS=${BACKEND_DIRS:-50000 200000}
BACKEND_RUNS=${BACKEND_RUNS:-3}

# make_tree DIR N: N directories, 500 to a parent.
make_tree() {
	local dir=$1 n=$2 top i
	rm -rf "$dir"; mkdir -p "$dir"
	top=$(( (n + 499) / 500 ))
	for i in $(seq "$top"); do
		mkdir "$dir/t$i"
		(cd "$dir/t$i" && seq -f 'd%.0f' 1 $(( n / top )) | xargs mkdir)
	done
}

# settled NAME R: seconds from ready until a file made in the tree is
# printed (fanotify walks the tree in that time); peak RSS after it.
settled() {
	local t0=$EPOCHREALTIME
	touch "$tree/settled-$1-$2"
	while ! grep -q "settled-$1-$2" "$work/$1.out" 2>/dev/null; do
		sleep 0.005
	done
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'
}

# seen_within SECONDS FILE NAME: 0 if NAME is printed in FILE in time.
seen_within() {
	local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
	while ! grep -q "$3" "$2" 2>/dev/null; do
		[ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
		sleep 0.005
	done
}

# The cost of following mounts below a root, on MOUNT_DIRS directories
# (200,000), half of them on 4 tmpfs mounted inside the root: set-up to
# ready and to the end of the walk, peak RSS, and whether a write in a
# mount is seen; the CPU the watcher spends per change of the mount
# table elsewhere on the machine (200 mounts and unmounts outside the
# root); the time from a bind mount of a 50,000-directory tree inside
# the root to a file written in it being printed.
mounts() {
	local n=${MOUNT_DIRS:-200000} b m r c0 c1 t0 seen
	echo "== mounts: $n directories, half on 4 tmpfs mounted inside the root"
	make_tree "$tree" $((n / 2))
	for m in 1 2 3 4; do
		mkdir "$tree/m$m"
		mount -t tmpfs none "$tree/m$m"; mounted+=("$tree/m$m")
		make_tree "$tree/m$m/t" $((n / 8))
	done
	mkdir -p "$work/outside" "$work/src"
	make_tree "$work/src" 50000
	for b in fanotify inotify; do
		if [ "$b" = inotify ] && [ "$(cat /proc/sys/fs/inotify/max_user_watches)" -le $((n + 1000)) ]; then
			echo "   inotify  skipped: $n directories are more than fs.inotify.max_user_watches"
			continue
		fi
		for r in 1 2 3; do
			ready_after "mnt-$b" WATCH_INIT "$IOBS" --backend="$b" "$tree" \
			    >> "$work/mnt-$b.setup"
			settled "mnt-$b" "$r" >> "$work/mnt-$b.settle"
			[ "$r" -eq 3 ] || stop "$ready_pid"
		done
		touch "$tree/m1/t/t1/d1/written"
		seen=no
		seen_within 5 "$work/mnt-$b.out" "m1/t/t1/d1/written" && seen=yes
		rm "$tree/m1/t/t1/d1/written"
		printf '   %-8s set-up s %.4f   walk done s %.4f   peak RSS KiB %d   a write in a mount seen: %s\n' \
		    "$b" "$(median < "$work/mnt-$b.setup")" \
		    "$(median < "$work/mnt-$b.settle")" "$(peak_rss_kb "$ready_pid")" "$seen"
		c0=$(cpu_ns "$ready_pid")
		for r in $(seq 200); do
			mount -t tmpfs none "$work/outside"; umount "$work/outside"
		done
		sleep 2
		c1=$(cpu_ns "$ready_pid")
		printf '   %-8s CPU per change of the mount table elsewhere: %.1f us\n' \
		    "$b" "$(awk -v t=$((c1 - c0)) 'BEGIN { print t / 1e3 / 400 }')"
		t0=$EPOCHREALTIME
		mkdir -p "$tree/newm"
		mount --bind "$work/src" "$tree/newm"; mounted+=("$tree/newm")
		touch "$tree/newm/t1/d1/late"
		seen="not seen in 20 s"
		seen_within 20 "$work/mnt-$b.out" "newm/t1/d1/late" &&
		    seen=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f s", b - a }')
		printf '   %-8s a 50,000-directory tree mounted inside, to a write in it printed: %s\n' \
		    "$b" "$seen"
		stop "$ready_pid"
		umount "$tree/newm"; rmdir "$tree/newm"
	done
	for m in 1 2 3 4; do umount "$tree/m$m"; done
	mounted=()
	rm -rf "$tree" "$work/src"
}

if [ "${BENCH_ONLY:-}" = mounts ]; then
	mounts
	exit 0
fi

for n in $BACKEND_DIRS; do
	echo "== backends: set-up to ready on $n directories, median of $BACKEND_RUNS"
	make_tree "$tree" "$n"
	for f in fan ino fsn inw; do : > "$work/$f.setup"; : > "$work/$f.rss"; : > "$work/$f.settle"; done
	for r in $(seq "$BACKEND_RUNS"); do
		ready_after fan WATCH_INIT "$IOBS" --backend=fanotify "$tree" >> "$work/fan.setup"
		settled fan "$r" >> "$work/fan.settle"
		peak_rss_kb "$ready_pid" >> "$work/fan.rss"; stop "$ready_pid"
		ready_after ino WATCH_INIT "$IOBS" --backend=inotify "$tree" >> "$work/ino.setup"
		settled ino "$r" >> "$work/ino.settle"
		peak_rss_kb "$ready_pid" >> "$work/ino.rss"; stop "$ready_pid"
		ready_after fsn "Watches established" fsnotifywait -S -m "$tree" >> "$work/fsn.setup"
		settled fsn "$r" >> "$work/fsn.settle"
		peak_rss_kb "$ready_pid" >> "$work/fsn.rss"; stop "$ready_pid"
		ready_after inw "Watches established" inotifywait -m -r "$tree" >> "$work/inw.setup"
		settled inw "$r" >> "$work/inw.settle"
		peak_rss_kb "$ready_pid" >> "$work/inw.rss"; stop "$ready_pid"
	done
	for f in fan ino fsn inw; do
		eval "s_$f=\$(median < \"\$work/$f.setup\")"
		eval "m_$f=\$(median < \"\$work/$f.rss\")"
		eval "l_$f=\$(median < \"\$work/$f.settle\")"
	done
	printf '   set-up s: fanotify %.4f   inotify %.4f   fsnotifywait -S %.4f   inotifywait -r %.4f\n' \
	    "$s_fan" "$s_ino" "$s_fsn" "$s_inw"
	printf '   then to the first event printed, s: fanotify %.4f (its walk)   inotify %.4f   fsnotifywait -S %.4f   inotifywait -r %.4f\n' \
	    "$l_fan" "$l_ino" "$l_fsn" "$l_inw"
	printf '   ratios: fanotify/fsnotifywait-S %s   fanotify/inotify %s   fanotify/inotifywait %s\n' \
	    "$(ratio "$s_fan" "$s_fsn")" "$(ratio "$s_fan" "$s_ino")" "$(ratio "$s_fan" "$s_inw")"
	printf '   peak RSS KiB: fanotify %d   inotify %d   fsnotifywait -S %d   inotifywait -r %d   fanotify/inotify %s\n' \
	    "$m_fan" "$m_ino" "$m_fsn" "$m_inw" "$(ratio "$m_fan" "$m_ino")"
done

echo "== backends: CPU per 100,000 events in the tree, another tree on the same file system busy"
rm -rf "$tree"; mkdir -p "$tree/a" "$work/busy"
ready_after fan2 WATCH_INIT "$IOBS" --backend=fanotify "$tree" > /dev/null; p_fan=$ready_pid
ready_after ino2 WATCH_INIT "$IOBS" --backend=inotify "$tree" > /dev/null; p_ino=$ready_pid
# The neighbour: files made, written and removed beside the tree.
( cd "$work/busy" && while :; do
	seq -f 'b%.0f' 1 2000 | xargs touch; seq -f 'b%.0f' 1 2000 | xargs rm
done ) &
busy=$!; pids+=("$busy")
sleep 1
c0_fan=$(cpu_ns "$p_fan"); c0_ino=$(cpu_ns "$p_ino")
for round in 1 2 3 4; do
	(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs touch)
	(cd "$tree/a" && seq -f 'f%.0f' 1 25000 | xargs rm)
done
sleep 1
c1_fan=$(cpu_ns "$p_fan"); c1_ino=$(cpu_ns "$p_ino")
kill "$busy"; wait "$busy" 2>/dev/null || true
ev_fan=$(grep -c $'\t'"$tree/" "$work/fan2.out" || true)
ev_ino=$(grep -c $'\t'"$tree/" "$work/ino2.out" || true)
out_fan=$(grep -vc $'\t'"$tree" "$work/fan2.out" || true)
cpu_fan=$(awk -v t=$((c1_fan - c0_fan)) -v n="$ev_fan" 'BEGIN { printf "%.3f", t / 1e9 / n * 100000 }')
cpu_ino=$(awk -v t=$((c1_ino - c0_ino)) -v n="$ev_ino" 'BEGIN { printf "%.3f", t / 1e9 / n * 100000 }')
printf '   records: fanotify %d   inotify %d   (lines not about the tree, fanotify: %d)\n' \
    "$ev_fan" "$ev_ino" "$out_fan"
printf '   CPU s / 100k events: fanotify %s   inotify %s   ratio %s\n' \
    "$cpu_fan" "$cpu_ino" "$(ratio "$cpu_fan" "$cpu_ino")"
printf '   peak RSS KiB: fanotify %d   inotify %d\n' "$(peak_rss_kb "$p_fan")" "$(peak_rss_kb "$p_ino")"
stop "$p_fan"; stop "$p_ino"

echo "== backends: events lost (files reported / files made; both at once)"
lost_backends() {
	local name=$1 script=$2 made f g
	rm -rf "$tree"; mkdir "$tree"
	ready_after "fan-$name" WATCH_INIT "$IOBS" --backend=fanotify -e create,moved_to "$tree" > /dev/null; p_fan=$ready_pid
	ready_after "ino-$name" WATCH_INIT "$IOBS" --backend=inotify -e create,moved_to "$tree" > /dev/null; p_ino=$ready_pid
	(cd "$tree" && eval "$script")
	made=$(find "$tree" -mindepth 1 | wc -l)
	sleep 1
	f=$(awk -F'\t' '$2 ~ /^(CREATE|MOVED_TO)/ { print $4 }' "$work/fan-$name.out" | sort -u | wc -l)
	g=$(awk -F'\t' '$2 ~ /^(CREATE|MOVED_TO)/ { print $4 }' "$work/ino-$name.out" | sort -u | wc -l)
	printf '   %-28s made %6d   fanotify %6d (lost %d)   inotify %6d (lost %d)\n' \
	    "$name" "$made" "$f" $((made - f)) "$g" $((made - g))
	stop "$p_fan"; stop "$p_ino"
}
if [ ! -d "$work/src" ]; then
	mkdir -p "$work/src/a/b/c" "$work/src/d"
	touch "$work/src/"{1,2,3} "$work/src/a/"{4,5} "$work/src/a/b/c/"{6,7,8} "$work/src/d/9"
	tar -C "$work" -cf "$work/src.tar" src
fi
mkdir -p "$work/stage"
lost_backends "mkdir -p + touch x2000" 'for i in $(seq 2000); do mkdir -p r$i/a/b/c && : > r$i/a/b/c/f; done'
lost_backends "cp -r x200" 'for i in $(seq 200); do cp -r "$work/src" c$i; done'
lost_backends "tar x x200" 'for i in $(seq 200); do mkdir t$i && tar -C t$i -xf "$work/src.tar"; done'
lost_backends "moved in x200" 'for i in $(seq 200); do cp -r "$work/src" "$work/stage/m$i"; mv "$work/stage/m$i" m$i; done'

echo "== poll: a scan of 100,000 entries (warm), and bytes per entry"
rm -rf "$tree"; mkdir -p "$tree"
for i in $(seq 100); do
	mkdir "$tree/d$i"
	(cd "$tree/d$i" && seq -f 'f%.0f' 1 999 | xargs touch)
done
entries=$(find "$tree" -mindepth 1 | wc -l)
mkdir -p "$work/empty"
ready_after pe WATCH_INIT "$IOBS" --backend=poll --interval=3600 "$work/empty" > /dev/null
rss_empty=$(awk '/^VmRSS/ { print $2 }' "/proc/$ready_pid/status"); stop "$ready_pid"
ready_after pf WATCH_INIT "$IOBS" --backend=poll --interval=0.5 "$tree" > "$work/first"
p_poll=$ready_pid; first=$(cat "$work/first")
# CPU seconds per scan over the next $1 seconds.
scan_cpu() {
	local c0 c1 t0 t1 n
	c0=$(cpu_ns "$p_poll"); t0=$EPOCHREALTIME
	sleep "$1"
	c1=$(cpu_ns "$p_poll"); t1=$EPOCHREALTIME
	n=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) / 0.5 }')
	awk -v c=$((c1 - c0)) -v n="$n" 'BEGIN { print c / 1e9 / n }'
}
# The first 2.5 s read every directory; then unchanged ones are
# stat'ed from their last listing (a listing that held).
reading=$(scan_cpu 2)
sleep 1.5
warm=$(scan_cpu 5)
rss_tree=$(awk '/^VmRSS/ { print $2 }' "/proc/$p_poll/status")
stop "$p_poll"
printf '   %d entries: first scan (to WATCH_INIT) %.3f s; scans reading every directory %.3f s CPU; warm scan (listings held) %.3f s CPU\n' \
    "$entries" "$first" "$reading" "$warm"
# The floor: find stats every entry too (-size needs it), nothing else.
find_cpu=$(for r in 1 2 3; do
	TIMEFORMAT='%U %S'
	{ time find "$tree" -size +1k > /dev/null; } 2>&1 |
	    awk '{ print $1 + $2 }'
done | sort -n | sed -n 2p)
printf '   same tree, find -size +1k (a stat of each entry), median of 3: %.3f s CPU; warm scan/find %.2f\n' \
    "$find_cpu" "$(awk -v a="$warm" -v b="$find_cpu" 'BEGIN { print a / b }')"
printf '   memory: %d KiB over an empty root: %.1f bytes per entry\n' \
    "$((rss_tree - rss_empty))" "$(awk -v k=$((rss_tree - rss_empty)) -v n="$entries" 'BEGIN { print k * 1024 / n }')"

mounts
