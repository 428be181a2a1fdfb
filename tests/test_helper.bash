# Shared fixtures for the bats suite: a scratch directory per test (on
# tmpfs when there is one), the tools under test, and bounded waits.

bats_require_minimum_version 1.5.0

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load '/usr/lib/bats/bats-file/load'

: "${IOBS_BIN:=$BATS_TEST_DIRNAME/../bin}"
# Where the programs themselves are; under make valgrind, IOBS_BIN holds
# wrapper scripts instead.
: "${IOBS_REAL_BIN:=$IOBS_BIN}"
export PATH="$IOBS_BIN:$PATH"

# Sanitized builds run slower, and valgrind (make valgrind, which sets
# IOBS_VALGRIND and puts its wrappers first in IOBS_BIN) much slower;
# so does a machine running more tests at once than it has cores (make
# check runs IOBS_JOBS of them). Waits scale with SLOW; SLOW_TOOLS is
# the programs' part alone, for a test that sizes its work by it.
if [ -n "${IOBS_VALGRIND:-}" ]; then SLOW_TOOLS=20
elif [ -n "${IOBS_SANITIZED:-}" ]; then SLOW_TOOLS=4
else SLOW_TOOLS=1; fi
_cores=$(nproc 2>/dev/null || echo 1)
_jobs=${IOBS_JOBS:-1}
SLOW=$(( SLOW_TOOLS * ((_jobs + _cores - 1) / _cores) ))
[ "$SLOW" -ge "$SLOW_TOOLS" ] || SLOW=$SLOW_TOOLS
unset _cores _jobs

# skip_valgrind WHY: this test cannot work under valgrind.
skip_valgrind() {
	[ -z "${IOBS_VALGRIND:-}" ] || skip "under valgrind: $1"
}

common_setup() {
	local base=/dev/shm
	[ -d "$base" ] && [ -w "$base" ] || base=${BATS_TMPDIR:-/tmp}
	T=$(mktemp -d "$base/iobs-test.XXXXXX")
	# As root, on a tmpfs of its own: fanotify marks a whole file
	# system, and the tests running beside this one stay off it.
	T_MOUNTED=
	if [ "$(id -u)" -eq 0 ] &&
	    mount -t tmpfs -o mode=0700 iobs-test "$T" 2>/dev/null; then
		T_MOUNTED=1
	fi
	BG_PIDS=()
	MOUNTS=()
}

# bind DIR AT: a bind mount of DIR at AT, undone in common_teardown;
# skips where none can be made.
bind() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount"
	mkdir -p "$2"
	mount --bind "$1" "$2" || skip "mount --bind not allowed here"
	MOUNTS+=("$2")
}

# readonly_at DIR AT: DIR shown read-only at AT, as a bind mount.
readonly_at() {
	bind "$1" "$2"
	mount -o remount,bind,ro "$2" ||
	    skip "mount -o remount,bind,ro not allowed here"
}

# writable AT: the readonly_at at AT made writable again, in place: a
# mirror there holds its directory open, so an umount would be busy.
writable() {
	mount -o remount,bind,rw "$1"
}

common_teardown() {
	local p i
	for p in "${BG_PIDS[@]}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null || true
	done
	# Bounded: a process that will not go (a sanitizer's exit-time
	# leak scan can hang) is killed rather than hanging the suite; 5 s
	# for them all, scaled by the programs' slowness, twice that on a
	# busy machine, not by all of SLOW (a hang is no slower there).
	local end=$(( ${EPOCHREALTIME//[!0-9]/} / 1000 +
	    5000 * SLOW_TOOLS * (SLOW > SLOW_TOOLS ? 2 : 1) ))
	for p in "${BG_PIDS[@]}"; do
		while running "$p" &&
		    [ $(( ${EPOCHREALTIME//[!0-9]/} / 1000 )) -le "$end" ]; do
			sleep 0.02
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}"
	done
	[ -n "${T:-}" ] || return 0
	# Lazily: with whatever is mounted below it.
	if [ -n "${T_MOUNTED:-}" ]; then umount -l "$T" 2>/dev/null || true; fi
	rm -rf "$T"
}

# running PID: the process exists and is not a zombie waiting for us.
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}

setup() { common_setup; }
teardown() { common_teardown; }

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds; fails
# with a message after SECONDS (scaled by SLOW) by the clock, however
# slow COMMAND is itself (a tool run under valgrind). Every 20 ms for
# the first second, then every 100 ms: a look can be costly itself (a
# grep of a big file), and other tests share the machine.
wait_for() {
	local i=0 end
	end=$(( ${EPOCHREALTIME//[!0-9]/} / 1000 + ($1 * SLOW + 1) * 1000 ))
	shift
	until "$@"; do
		if [ $(( ${EPOCHREALTIME//[!0-9]/} / 1000 )) -gt "$end" ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -lt 50 ]; then sleep 0.02; else sleep 0.1; fi
	done
}

# count_lines FILE PATTERN: lines of FILE matching the ERE.
count_lines() {
	if [ -e "$1" ]; then grep -c -E "$2" "$1" 2>/dev/null || true
	else echo 0; fi
}

# has_lines FILE PATTERN N: at least N lines match.
has_lines() {
	[ "$(count_lines "$1" "$2")" -ge "$3" ]
}

# start_watch OUT ARGS...: runs iobs-watch ARGS in the background,
# stream to OUT and stderr to OUT.err, and waits for its WATCH_INIT.
start_watch() {
	local out=$1 n
	shift
	iobs-watch "$@" >"$out" 2>"$out.err" 3>&- &
	WATCH_PID=$!
	BG_PIDS+=("$WATCH_PID")
	n=$(count_args_roots "$@")
	wait_for 10 has_lines "$out" $'\tWATCH_INIT\t' "$n"
}

# opts_with_arg TOOL: the options of TOOL that take an argument, one a
# line, every spelling: its man page's list of options is the one
# place they are written (`.It Fl b Ar size , Fl -buffer Ns = Ns Ar size`).
opts_with_arg() {
	sed -n 's/^\.It Fl /Fl /p' "$BATS_TEST_DIRNAME/../man/$1".[18] |
	    tr ',' '\n' | awk '$1 == "Fl" && / Ar / { print "-" $2 }'
}

# Number of path operands among iobs-watch arguments: every argument but
# options and their arguments.
count_args_roots() {
	local n=0 skip=0 a
	[ -n "${_WATCH_ARG_OPTS:-}" ] ||
	    _WATCH_ARG_OPTS=" $(opts_with_arg iobs-watch | tr '\n' ' ') "
	for a in "$@"; do
		if [ "$skip" = 1 ]; then skip=0; continue; fi
		case $a in
		--*=*) ;;
		-*)
			case $_WATCH_ARG_OPTS in
			*" $a "*) skip=1 ;;
			esac ;;
		*) n=$((n + 1)) ;;
		esac
	done
	echo "$n"
}

# stop_pid PID: SIGTERM, then wait for it to exit.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# field N FILE: the Nth TAB-separated field of each record.
field() {
	awk -F'\t' -v n="$1" '!/^#/ { print $n }' "$2"
}
