# Fixtures for the iobs-supervise tests: stand-in plugins written in sh
# (as a user would write one), a config in $T/rc, and waits on the
# supervisor's status.

load test_helper

sup_setup() {
	common_setup
	mkdir -p "$T/plugins" "$T/data"
	STATE=$T/state

	# iobs-cat --out=FILE: appends its stream to FILE; on
	# WATCH_RECONFIG, reads its options again from the cache.
	cat >"$T/plugins/iobs-cat" <<-'EOF'
	#!/bin/sh
	[ "${1:-}" = --check ] && exit 0
	out=/dev/null
	for a; do case $a in --out=*) out=${a#--out=} ;; esac; done
	echo "start $$" >>"$out.starts"
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$out"
		case $line in
		*"	WATCH_RECONFIG	"*)
			for a in $(iobs-supervise cache get "$IOBS_OPTIONS"); do
				case $a in --out=*) out=${a#--out=} ;; esac
			done ;;
		esac
	done
	EOF
	# iobs-crash --log=FILE: notes the time it started, says so on
	# stderr and exits 3. Like iobs-cat, it answers --check as
	# iobs-supervise(8) asks a plugin to: it takes any option.
	cat >"$T/plugins/iobs-crash" <<-'EOF'
	#!/bin/sh
	[ "${1:-}" = --check ] && exit 0
	for a; do case $a in --log=*) log=${a#--log=} ;; esac; done
	date +%s.%N >>"$log"
	echo "crashing on purpose" >&2
	exit 3
	EOF
	# iobs-slow: never reads its input.
	cat >"$T/plugins/iobs-slow" <<-'EOF'
	#!/bin/sh
	exec sleep 3600
	EOF
	chmod +x "$T/plugins"/iobs-*
	# Stand-ins for the real scribe and mirror, for the seed config.
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-scribe"
	cp "$T/plugins/iobs-cat" "$T/plugins/iobs-mirror"
}

setup() { sup_setup; }

teardown() {
	if [ -n "${SUP_PID:-}" ]; then
		kill -TERM "$SUP_PID" 2>/dev/null || true
		wait "$SUP_PID" 2>/dev/null || true
	fi
	common_teardown
}

# conf BODY: writes $T/rc with a [global] section pointing at the
# stand-ins and $STATE, then BODY (the rest of the file).
conf() {
	{
		printf '[global]\nplugin_dir = %s\nstate_dir = %s\n' \
		    "$T/plugins" "$STATE"
		printf '%s\n' "$1"
	} >"$T/rc"
}

# start_sup [ARGS...]: runs iobs-supervise -c $T/rc in the background,
# log in $T/log, standard output in $T/stdout; waits for the pidfile.
start_sup() {
	iobs-supervise -c "$T/rc" "$@" >"$T/stdout" 2>"$T/log" 3>&- &
	SUP_PID=$!
	BG_PIDS+=("$SUP_PID")
	wait_for 10 test -s "$STATE/iobs-supervise.pid"
}

status() {
	iobs-supervise -s "$STATE" status
}

# dest_row DEST: that destination's row under its pipeline in status,
# its spaces squeezed: DEST, plugin#i, state, then the other columns.
dest_row() {
	status | awk -v d="$1" '$1 == d && $2 ~ /^mirror#/ { $1 = $1; print }'
}

# bad_conf LINE MESSAGE BODY: BODY is refused at LINE of $T/rc
# (counting the three [global] lines conf writes) with MESSAGE.
bad_conf() {
	conf "$3"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $T/rc:$1: $2"
}

# is_ready PATH PLUGIN: the pipeline is up and its watcher ready.
is_ready() {
	status | grep -qE "^$1 +$2 +up +yes "
}

wait_ready() {
	wait_for 10 is_ready "$1" "$2"
}

# field_of PATH PLUGIN N: the Nth column of that pipeline's status line.
field_of() {
	status | awk -v w="$1" -v p="$2" -v n="$3" '$1 == w && $2 == p { print $n }'
}

# Pids of the members of a pipeline.
pids_of() {
	field_of "$1" "$2" 5 | tr ',' ' '
}

# descendants PID: every process whose ancestry reaches PID.
descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
	{ parent[$1] = $2 }
	END {
		for (p in parent) {
			q = p
			while (q in parent && q != root && q > 1)
				q = parent[q]
			if (q == root && p != root)
				print p
		}
	}'
}

# alive PID...: succeeds when any of the PIDs still exists (not zombie).
alive() {
	local p s
	for p in "$@"; do
		s=$(ps -o stat= -p "$p" 2>/dev/null) || continue
		case $s in Z*) ;; *) return 0 ;; esac
	done
	return 1
}

none_alive() { ! alive "$@"; }
