#!/usr/bin/env bash
# iobs-exec side by side with incrond (its own instance, one table
# entry) and entr, on the same work in one run:
#   - change to command start latency, p50 and p99 (one file rewritten);
#   - runs per second in per-event mode, iobs-exec -j 1 and -j 4 beside
#     incrond, for files made as fast as touch makes them;
#   - files missed when 1,000 files are made by mkdir -p, cp -r, tar x.
# The command is bench/stamp, a small C program that logs when it
# started. Prints each figure and the ratio iobs-exec / other.
#
#   bash bench/exec.sh [WRITES] [FILES]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${IOBS_BIN:-$here/bin}
WRITES=${1:-200}
FILES=${2:-2000}
# entr waits for events to settle before it runs: writes closer than
# that would be merged, not missed.
GAP=${GAP:-100}
# Which parts to run; all by default.
PARTS=${PARTS:-latency rate missed}
part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}

for t in incrond:incron entr:entr; do
	if ! command -v "${t%%:*}" >/dev/null; then
		if [ "$(id -u)" -eq 0 ]; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			    "${t#*:}" >/dev/null
		else
			echo "bench: needs ${t%%:*}: sudo apt-get install ${t#*:}" >&2
			exit 1
		fi
	fi
done
[ -x "$BIN/iobs-exec" ] || make -C "$here" all >/dev/null

work=$(mktemp -d "$base/iobs-bench-exec.XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

cc -O2 -o "$work/stamp" "$here/bench/stamp.c"
cc -O2 -o "$work/execlat" "$here/bench/execlat.c"
stamp=$work/stamp

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
lines() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# wait_lines FILE N SECONDS: until FILE has N lines, or SECONDS pass.
wait_lines() {
	local end=$((SECONDS + $3))
	while [ "$(lines "$1")" -lt "$2" ] && [ $SECONDS -lt "$end" ]; do
		sleep 0.01
	done
}

# settle FILE: until FILE has not grown for 2 s (at most 60 s).
settle() {
	local n=-1 m end=$((SECONDS + 60))
	while [ $SECONDS -lt "$end" ]; do
		m=$(lines "$1")
		[ "$m" = "$n" ] && break
		n=$m
		sleep 2
	done
}

# iobs DIR ARGS...: iobs-watch DIR | iobs-exec ARGS, ready when the
# watcher has said WATCH_INIT.
iobs() {
	local dir=$1
	shift
	rm -f "$work/f1" "$work/f2"
	mkfifo "$work/f1" "$work/f2"
	"$BIN/iobs-exec" "$@" <"$work/f2" 2>>"$work/err" &
	tool_pid=$!
	pids+=("$tool_pid")
	tee "$work/stream" <"$work/f1" >"$work/f2" &
	pids+=($!)
	"$BIN/iobs-watch" "$dir" >"$work/f1" 2>>"$work/err" &
	pids+=($!)
	while ! grep -q $'\tWATCH_INIT\t' "$work/stream" 2>/dev/null; do
		sleep 0.01
	done
}

# incron DIR MASK: an incrond of our own, one entry: DIR MASK stamp.
incron() {
	mkdir -p "$work/incron.d" "$work/incron.spool"
	cat >"$work/incron.conf" <<-EOF
	system_table_dir = $work/incron.d
	user_table_dir = $work/incron.spool
	allowed_users = $work/incron.allow
	denied_users = $work/incron.deny
	lockfile_dir = $work
	lockfile_name = incrond-bench
	EOF
	printf '%s %s %s %s $@/$#\n' "$1" "$2" "$stamp" "$work/log" \
	    >"$work/incron.d/bench"
	incrond -n -f "$work/incron.conf" 2>>"$work/err" &
	tool_pid=$!
	pids+=("$tool_pid")
	# It logs nothing when it is ready: a probe file says so.
	local i=0
	while [ "$(lines "$work/log")" -eq 0 ] && [ $i -lt 500 ]; do
		: >"$1/.probe"
		sleep 0.02
		i=$((i + 1))
	done
	rm -f "$1/.probe"
	sleep 0.2
	: >"$work/log"
}

# stop_tool: the tool of the last phase, and whatever it runs.
stop_tool() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
	rm -f "$work/stream" "$work/log" "$work/f1" "$work/f2"
}

fresh() { rm -rf "$work/w"; mkdir "$work/w"; : >"$work/log"; }

if part latency; then
echo "== change to command start: $WRITES writes of one file, $GAP ms apart"
echo "   (ms: p50 p99 missed)"
fresh
: >"$work/w/f"
iobs "$work/w" -e close_write -- "$stamp" "$work/log" {path}
read -r i50 i99 imiss < <("$work/execlat" "$WRITES" "$GAP" 1000 "$work/w/f" "$work/log")
stop_tool
echo "   iobs-exec:   $i50 $i99 $imiss"
# Batch mode waits for a quiet window (-d, 50 ms) as entr waits for
# its events to settle: the like for like with entr.
fresh
: >"$work/w/f"
iobs "$work/w" -b -p -- "$stamp" "$work/log" {paths}
read -r b50 b99 bmiss < <("$work/execlat" "$WRITES" "$GAP" 1000 "$work/w/f" "$work/log")
stop_tool
echo "   iobs-exec -b: $b50 $b99 $bmiss"
fresh
: >"$work/w/f"
incron "$work/w" IN_CLOSE_WRITE
read -r c50 c99 cmiss < <("$work/execlat" "$WRITES" "$GAP" 1000 "$work/w/f" "$work/log")
stop_tool
echo "   incrond:     $c50 $c99 $cmiss"
fresh
: >"$work/w/f"
echo "$work/w/f" | entr -np "$stamp" "$work/log" /_ 2>>"$work/err" &
tool_pid=$!
pids+=("$tool_pid")
sleep 0.5
read -r e50 e99 emiss < <("$work/execlat" "$WRITES" "$GAP" 1000 "$work/w/f" "$work/log")
stop_tool
echo "   entr:        $e50 $e99 $emiss"
echo "   ratio p50 iobs-exec/incrond $(ratio "$i50" "$c50"), iobs-exec/entr $(ratio "$i50" "$e50")"
echo "   ratio p99 iobs-exec/incrond $(ratio "$i99" "$c99"), iobs-exec/entr $(ratio "$i99" "$e99")"
echo "   ratio p50 iobs-exec -b/entr $(ratio "$b50" "$e50"), p99 $(ratio "$b99" "$e99")"
fi

if part rate; then
echo "== runs per second: $FILES new files (touch), one run each"
# rate NAME: time from the first file to the last run, as runs/s.
rate() {
	local t0 n
	t0=$EPOCHREALTIME
	(cd "$work/w" && seq -f 't%.0f' 1 "$FILES" | xargs touch)
	wait_lines "$work/log" "$FILES" 120
	n=$(awk '{ print $2 }' "$work/log" | sort -u | wc -l)
	awk -v n="$n" -v t0="$t0" -v last="$(sort -n "$work/log" | tail -1 | cut -d' ' -f1)" \
	    'BEGIN { d = last / 1e9 - t0; printf "%.0f %d\n", (d > 0 ? n / d : 0), n }'
}
for j in 1 4; do
	fresh
	iobs "$work/w" -j $j -e close_write -- "$stamp" "$work/log" {path}
	read -r r n < <(rate)
	stop_tool
	eval "rj$j=$r nj$j=$n"
	echo "   iobs-exec -j $j: $r runs/s ($n of $FILES files)"
done
fresh
incron "$work/w" IN_CLOSE_WRITE
read -r rc nc < <(rate)
stop_tool
echo "   incrond:        $rc runs/s ($nc of $FILES files)"
echo "   ratio iobs-exec -j 1/incrond $(ratio "$rj1" "$rc"), -j 4/incrond $(ratio "$rj4" "$rc")"
echo "   (entr cannot be told about new files: with -d it exits on the first)"
fi

if part missed; then
echo "== files missed when 1,000 files are made in a new tree"
mkdir -p "$work/src"
for d in $(seq 1 10); do
	mkdir -p "$work/src/d$d/sub"
	(cd "$work/src/d$d/sub" && seq -f 'f%.0f' 1 100 | xargs touch)
done
tar -C "$work/src" -cf "$work/src.tar" .
make_tree() {
	case $1 in
	mkdir) for d in $(seq 1 10); do
			mkdir -p "$work/w/new/d$d/sub"
			(cd "$work/w/new/d$d/sub" && seq -f 'f%.0f' 1 100 | xargs touch)
		done ;;
	cp) cp -r "$work/src" "$work/w/new" ;;
	tar) mkdir "$work/w/new" && tar -C "$work/w/new" -xf "$work/src.tar" ;;
	esac
}
# missed: how many of the 1,000 files never had a run.
missed() {
	settle "$work/log"
	awk '$2 ~ /\/sub\/f[0-9]+$/ { print $2 }' "$work/log" | sort -u |
	    wc -l | awk '{ print 1000 - $1 }'
}
printf '   %-8s %10s %10s\n' "" iobs-exec incrond
for how in mkdir cp tar; do
	fresh
	iobs "$work/w" -e create,close_write -- "$stamp" "$work/log" {path}
	make_tree "$how"
	mi=$(missed)
	stop_tool
	fresh
	incron "$work/w" IN_CREATE,IN_CLOSE_WRITE
	make_tree "$how"
	mc=$(missed)
	stop_tool
	printf '   %-8s %10s %10s\n' "$how" "$mi" "$mc"
done
echo "   (entr names no new file: with -d it exits when one appears)"
fi

if [ -s "$work/err" ]; then
	echo "== errors"
	sort "$work/err" | uniq -c | sort -rn | head -5
fi
