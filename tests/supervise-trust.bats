#!/usr/bin/env bats
# iobs-supervise runs only what root controls: the config, plugin_dir,
# each plugin, state_dir and every directory above them (links
# followed) owned by root and writable by nobody else, at -n, at start
# and at each reload; and its children get the environment it chooses.

load supervise_helper

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root to give files other owners"
	sup_setup
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
}

# refused LINE [CONFIG]: -n and a start both exit 2 with LINE alone,
# and nothing runs.
refused() {
	local rc=${2:-$T/rc}
	run -2 iobs-supervise -n -c "$rc"
	assert_output "iobs-supervise: $1"
	run -2 iobs-supervise -c "$rc"
	assert_output "iobs-supervise: $1"
	assert_not_exist "$STATE/iobs-supervise.pid"
	assert_not_exist "$T/out"
}

@test "the good layout is accepted, and --insecure-files is needed for a bad one" {
	run -0 iobs-supervise -n -c "$T/rc"
	assert_output ""
	chmod 666 "$T/rc"
	run -2 iobs-supervise -n -c "$T/rc"
	run -0 iobs-supervise -n --insecure-files -c "$T/rc"
	assert_output ""
	chmod 644 "$T/rc"
	start_sup
	wait_ready "$T/data" cat
}

@test "a config others can write: refused, exit 2" {
	chmod 666 "$T/rc"
	refused "$T/rc: owned by root, mode 0666, writable by group and others; chmod go-w it"
	chmod 620 "$T/rc"
	refused "$T/rc: owned by root, mode 0620, writable by group; chmod go-w it"
}

@test "a config owned by another user: refused, exit 2" {
	chown nobody "$T/rc"
	refused "$T/rc: owned by nobody, mode 0644, not by root; chown root it"
}

@test "the config's directory writable by others: refused; sticky is fine above" {
	mkdir "$T/etc"
	mv "$T/rc" "$T/etc/rc"
	chmod 777 "$T/etc"
	refused "$T/etc: owned by root, mode 0777, writable by group and others; chmod go-w it" "$T/etc/rc"
	# /tmp's way: others may add names, not take ours.
	chmod 1777 "$T/etc"
	run -0 iobs-supervise -n -c "$T/etc/rc"
	chown nobody "$T/etc"
	refused "$T/etc: owned by nobody, mode 1777, not by root; chown root it" "$T/etc/rc"
}

@test "plugin_dir writable by others, even sticky: refused, exit 2" {
	chmod 777 "$T/plugins"
	refused "$T/plugins: owned by root, mode 0777, writable by group and others; chmod go-w it"
	chmod 1777 "$T/plugins"
	refused "$T/plugins: owned by root, mode 1777, writable by group and others; chmod go-w it"
}

@test "a plugin owned by nobody, or of mode 0777: refused, exit 2" {
	chown nobody "$T/plugins/iobs-cat"
	refused "$T/plugins/iobs-cat: owned by nobody, mode 0755, not by root; chown root it"
	chown root "$T/plugins/iobs-cat"
	chmod 777 "$T/plugins/iobs-cat"
	refused "$T/plugins/iobs-cat: owned by root, mode 0777, writable by group and others; chmod go-w it"
}

@test "a state_dir, or a directory above it, others can write: refused, exit 2" {
	mkdir -m 777 "$STATE"
	run -2 iobs-supervise -n -c "$T/rc"
	assert_output "iobs-supervise: $STATE: writable by group or others (mode 777); refusing it as a state directory (chmod go-w it)"
	rmdir "$STATE"
	mkdir -m 777 "$T/run"
	STATE=$T/run/state
	conf "[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	refused "$T/run: owned by root, mode 0777, writable by group and others; chmod go-w it"
	assert_not_exist "$STATE"
}

@test "a symlink on the way to a file others can write: refused, naming the file" {
	mkdir "$T/real"
	mv "$T/rc" "$T/real/rc"
	ln -s real/rc "$T/rc"
	run -0 iobs-supervise -n -c "$T/rc"
	chmod 666 "$T/real/rc"
	refused "$T/real/rc: owned by root, mode 0666, writable by group and others; chmod go-w it"
	chmod 644 "$T/real/rc"
	# A link to a directory: what it points at is checked, and above.
	mkdir -m 777 "$T/open"
	mv "$T/plugins" "$T/open/plugins"
	ln -s open/plugins "$T/plugins"
	refused "$T/open: owned by root, mode 0777, writable by group and others; chmod go-w it"
	mv "$T/open/plugins" "$T/plugins.real"
	rm "$T/plugins"
	ln -s plugins.real "$T/plugins"
	run -0 iobs-supervise -n -c "$T/rc"
	# The link itself: whoever owns it can point it elsewhere.
	chown -h nobody "$T/plugins"
	refused "$T/plugins: a symbolic link owned by nobody; chown -h root it"
}

@test "a live edit that leaves the config writable by others is refused; the old config runs" {
	conf "[global]
watch_config = yes
[watches]
[[data]]
plugins = cat
cat_out = $T/out"
	start_sup
	wait_ready "$T/data" cat
	pids=$(pids_of "$T/data" cat)
	chmod 666 "$T/rc"
	conf "[global]
watch_config = yes
[watches]
[[data]]
plugins = cat
cat_out = $T/out2"
	local line="$T/rc: owned by root, mode 0666, writable by group and others; chmod go-w it"
	wait_for 10 grep -qF "iobs-supervise: $line; keeping the running config" "$T/log"
	run -0 iobs-supervise -c "$T/rc" status
	assert_line -n 1 "iobs-supervise: $line; running the config loaded before it"
	assert_equal "$(pids_of "$T/data" cat)" "$pids"
	touch "$T/data/f"
	wait_for 5 grep -qs $'\tCREATE\t0\t'"$T/data/f\$" "$T/out"
	assert_not_exist "$T/out2"
	# Mended, the same edit applies.
	chmod 644 "$T/rc"
	kill -HUP "$SUP_PID"
	wait_for 10 grep -qs $'\tWATCH_RECONFIG\t' "$T/out"
	touch "$T/data/g"
	wait_for 5 grep -qs $'\tCREATE\t0\t'"$T/data/g\$" "$T/out2"
}

@test "plugins get a clean PATH and no LD_PRELOAD or LD_LIBRARY_PATH" {
	cat >"$T/plugins/iobs-env" <<-EOF
	#!/bin/sh
	[ "\${1:-}" = --check ] && exit 0
	env >"$T/env.tmp" && mv "$T/env.tmp" "$T/env"
	exec cat >/dev/null
	EOF
	chmod 755 "$T/plugins/iobs-env"
	conf "[watches]
[[data]]
plugins = env"
	# A library that is not there: the loader says so and goes on.
	LD_PRELOAD=$T/none.so LD_LIBRARY_PATH=$T/lib GCONV_PATH=$T/gconv \
	    PATH=$T/bin:$PATH start_sup
	wait_for 10 test -s "$T/env"
	run -1 grep -E '^(LD_|GCONV_PATH=)' "$T/env"
	run -0 grep '^PATH=' "$T/env"
	assert_output "PATH=$(cd "$IOBS_REAL_BIN" && pwd -P):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	# What the supervisor sets for a plugin is still there.
	run -0 grep -c '^IOBS_WATCH=' "$T/env"
}
