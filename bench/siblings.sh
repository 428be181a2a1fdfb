#!/bin/bash
# Records caused by the plugins' own reads: iobs-supervise runs a
# scribe and a mirror on one watch, on each backend, while a storm
# makes FILES files (50,000) by touch(1), which opens each one once and
# reads nothing. Every ACCESS and CLOSE_NOWRITE the scribe logs, and
# every OPEN past the storm's own, was caused by a reader of the tree:
# the mirror, or the supervisor's tools. Prints one line per backend.
# As root (fanotify), on a tmpfs of its own (fanotify marks a whole
# file system). "unit" is backend auto under the bounding set of
# dist/iobserver.service.in, as systemd would run it.
# EVENTS=all gives the watch that events key (reads reported, but on
# fanotify, where the pipelines' process groups are left out).
# Usage: bench/siblings.sh [files] [fanotify|inotify|poll|unit ...]
set -eu

n=${1:-50000}
shift || true
backends=${*:-fanotify inotify poll unit}
unit=$(dirname "$0")/../dist/iobserver.service.in
bset=-all
for c in $(sed -n 's/^CapabilityBoundingSet=//p' "$unit"); do
	c=${c#CAP_}
	bset=$bset,+${c,,}
done
bin=$(cd "${IOBS_BIN:-$(dirname "$0")/../bin}" && pwd)
dir=$(mktemp -d /dev/shm/iobs-bench.XXXXXX)
mounted=
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o mode=0700 iobs-bench "$dir"; then
	mounted=1
fi
sup=
cleanup() {
	[ -z "$sup" ] || { kill "$sup" 2>/dev/null; wait "$sup" 2>/dev/null; }
	[ -z "$mounted" ] || umount -l "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT

# until SECONDS COMMAND...: bounded wait.
until_ok() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -le "$end" ] || return 1
		sleep 0.2
	done
}

settled() {
	local a b
	a=$(stat -c %s "$dir/log" 2>/dev/null || echo 0)
	sleep 2
	b=$(stat -c %s "$dir/log" 2>/dev/null || echo 0)
	[ "$a" = "$b" ]
}

for backend in $backends; do
	rm -rf "$dir/data" "$dir/dst" "$dir/log" "$dir/state"
	mkdir -p "$dir/data/d" "$dir/state"
	cat >"$dir/rc" <<-EOF
	[global]
	state_dir = $dir/state
	[watches]
	[[$dir/data]]
	plugins = scribe, mirror
	backend = ${backend/unit/auto}
	${EVENTS:+events = $EVENTS}
	buffer = 512M
	scribe_log = $dir/log
	mirror_destination = $dir/dst
	EOF
	wrap=()
	[ "$backend" != unit ] || wrap=(setpriv --bounding-set "$bset" --)
	"${wrap[@]}" "$bin/iobs-supervise" -c "$dir/rc" 2>"$dir/sup.err" &
	sup=$!
	until_ok 30 sh -c "'$bin/iobs-supervise' -s '$dir/state' status |
	    grep -c ' up  *yes ' | grep -qx 2"
	start=$SECONDS
	(cd "$dir/data/d" && seq -f 'f%.0f' 1 "$n" | xargs touch)
	until_ok 600 sh -c "[ \"\$(ls '$dir/dst/d' 2>/dev/null | wc -l)\" -ge $n ]"
	until_ok 600 settled
	took=$((SECONDS - start))
	kill "$sup"
	wait "$sup" || true
	sup=
	opened=$(grep -c ' was OPENED$' "$dir/log" || true)
	accessed=$(grep -c ' was ACCESSED$' "$dir/log" || true)
	nowrite=$(grep -c ' was CLOSED without writing$' "$dir/log" || true)
	total=$(grep -vc 'WATCH ' "$dir/log" || true)
	reads=$((accessed + nowrite + (opened > n ? opened - n : 0)))
	# Under the unit's set, auto falls back to inotify without
	# CAP_SYS_ADMIN; the watcher says so on its standard error.
	[ "$backend" != unit ] || backend=unit/auto
	printf '%-9s %d files: %d log lines, %d caused by the plugins'"'"' reads (%d OPENED, %d ACCESSED, %d CLOSED without writing) in %d s\n' \
	    "$backend" "$n" "$total" "$reads" "$opened" "$accessed" "$nowrite" "$took"
done
