#!/bin/bash
# Lines per second of iobs-scribe on a recorded stream of 1,000,000
# records (generated once into a scratch directory), written to a log
# file on tmpfs and to /dev/null. Usage: bench/scribe.sh [records]
set -eu

n=${1:-1000000}
bin=${IOBS_BIN:-$(dirname "$0")/../bin}
dir=$(mktemp -d /dev/shm/iobs-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# A mix like a busy tree: creates, writes, closes, deletes, a move pair
# every 50 records, an escaped name now and then.
awk -v n="$n" 'BEGIN {
	print "# iobs-stream 1"
	print "1764057600.000000\tWATCH_INIT\t0\t/data"
	split("CREATE OPEN MODIFY CLOSE_WRITE,CLOSE ATTRIB CLOSE_NOWRITE,CLOSE ACCESS DELETE CREATE,ISDIR DELETE,ISDIR", ev, " ")
	for (i = 0; i < n - 2; i++) {
		t = sprintf("%d.%06d", 1764057600 + int(i / 20000), (i * 37) % 1000000)
		p = sprintf("/data/dir%d/file%d.txt", i % 97, i)
		if (i % 500 == 0)
			p = p "\\303\\251t\\303\\251"
		if (i % 50 == 49) {
			printf "%s\tMOVED_FROM\t%d\t%s\n", t, i, p
			printf "%s\tMOVED_TO\t%d\t%s.new\n", t, i, p
			i++
			continue
		}
		printf "%s\t%s\t0\t%s\n", t, ev[i % 10 + 1], p
	}
	print "1764057700.000000\tWATCH_DEAD\t0\t/data"
}' >"$dir/stream"

records=$(grep -vc '^#' "$dir/stream")
# run NAME LOG: one pass; a log of - goes through a pipe to wc.
run() {
	local name=$1 out=$2 start end lines
	rm -f "$dir/log"
	start=$(date +%s.%N)
	if [ "$out" = - ]; then
		lines=$("$bin/iobs-scribe" <"$dir/stream" | wc -l)
	else
		"$bin/iobs-scribe" -o "$out" <"$dir/stream"
		lines=$(wc -l <"$out")
	fi
	end=$(date +%s.%N)
	awk -v r="$records" -v l="$lines" -v s="$start" -v e="$end" \
	    -v o="$name" 'BEGIN { printf "%-24s %d records, %d lines in " \
	    "%.3f s: %.0f lines/s\n", o, r, l, e - s, l / (e - s) }'
}
run "log file on tmpfs" "$dir/log"
run "stdout to a pipe" -
mkdir "$dir/cache"
IOBS_CACHE=$dir/cache run "log file, IOBS_CACHE set" "$dir/log"
