# The grammar of an iobs-scribe(1) log line with the default timefmt,
# for the fault tests and bench/soak: a line torn by a killed writer,
# or two lines run together, does not match it.

_LL_TS='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}'
_LL_SUBJ="((file|directory) '.*'|the watch root)"
_LL_VERB='CREATED|OPENED|ACCESSED|MODIFIED|CLOSED after writing|CLOSED without writing|MOVED away|MOVED here|DELETED|itself DELETED|itself MOVED'
_LL_SENT="$_LL_SUBJ was ($_LL_VERB)|the METADATA of $_LL_SUBJ was changed|the filesystem of $_LL_SUBJ was UNMOUNTED|WATCH STARTED|WATCH STOPPED|WATCH RECONFIGURED; log reopened|events were LOST \(queue overflow\); resynchronised|(file|directory) '.*' was MOVED (to '.*'|out of the watched tree|in from outside the watched tree)"

# Who made the change, where the stream had a PID (fanotify).
_LL_WHO=" by ((uid [0-9]+|[^ ()]+) \([^,()]*, pid [0-9]+\)|pid [0-9]+)"

# bad_log_lines FILE ROOT: prints the lines of FILE that are not whole
# log lines about ROOT (or '-'), or that hold a second timestamp.
bad_log_lines() {
	local root
	root=$(printf '%s' "$2" | sed 's/[][\.*^$+?(){}|]/\\&/g')
	LC_ALL=C grep -avE "^$_LL_TS ($root|-): ($_LL_SENT)($_LL_WHO)?\$" "$1"
	LC_ALL=C grep -aE "$_LL_TS.*$_LL_TS" "$1"
	return 0
}
