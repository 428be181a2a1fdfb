#!/usr/bin/env bats
# make install: the layout an admin gets (sbin, units, logrotate, an
# example config), units systemd accepts, a logrotate file that works;
# and, with IOBS_LONG=1, the .deb.

load supervise_helper

REPO=$BATS_TEST_DIRNAME/..

# install_to ROOT [TARGET]: make install (or TARGET) of the programs
# under test, not built again, with every path under ROOT.
install_to() {
	make -s -C "$REPO" -o all "${2:-install}" BIN="$IOBS_REAL_BIN" \
	    PREFIX="$1/usr" SYSCONFDIR="$1/etc"
}

@test "make install: tools in bin, the supervisor in sbin, units, logrotate, example; uninstall removes them" {
	install_to "$T/root"
	run -0 sh -c "cd '$T/root' && find . -type f | sort"
	assert_output "./etc/logrotate.d/iobserver
./usr/bin/iobs-exec
./usr/bin/iobs-mirror
./usr/bin/iobs-scribe
./usr/bin/iobs-watch
./usr/lib/systemd/system/iobserver.service
./usr/lib/systemd/system/iobserver@.service
./usr/sbin/iobs-supervise
./usr/share/doc/iobserver/README.md
./usr/share/doc/iobserver/examples/iobserverrc.example
./usr/share/man/man1/iobs-exec.1
./usr/share/man/man1/iobs-mirror.1
./usr/share/man/man1/iobs-scribe.1
./usr/share/man/man1/iobs-watch.1
./usr/share/man/man5/iobs-stream.5
./usr/share/man/man5/iobs.conf.5
./usr/share/man/man7/iobs.7
./usr/share/man/man8/iobs-supervise.8"
	# The units name the paths they were installed with.
	grep -qx "ExecStart=$T/root/usr/sbin/iobs-supervise -c $T/root/etc/iobserver/iobserverrc" \
	    "$T/root/usr/lib/systemd/system/iobserver.service"
	install_to "$T/root" uninstall
	run -0 find "$T/root" -type f
	assert_output ""
}

@test "installed, the supervisor in sbin finds its watcher and plugins in bin: -n passes, the pipelines run" {
	# Built for this prefix, as the package is for /usr.
	make -s -C "$REPO" -j2 BUILD="$T/build" BIN="$T/bin" \
	    PREFIX="$T/root/usr" SYSCONFDIR="$T/root/etc" install >/dev/null
	mkdir -p "$T/data" "$T/state"
	echo a >"$T/data/a"
	cat >"$T/rc" <<-EOF
	[global]
	state_dir = $T/state
	[watches]
	[[$T/data]]
	plugins = scribe, mirror
	scribe_log = $T/data.log
	mirror_destination = $T/dst
	EOF
	# Nothing of the build tree on the way: PATH has no tools of ours.
	PATH=/usr/sbin:/usr/bin:/sbin:/bin run -0 \
	    "$T/root/usr/sbin/iobs-supervise" -n -c "$T/rc"
	PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    "$T/root/usr/sbin/iobs-supervise" -c "$T/rc" >"$T/stdout" \
	    2>"$T/log" 3>&- &
	SUP_PID=$!
	BG_PIDS+=("$SUP_PID")
	wait_for 20 treecmp -q "$T/data" "$T/dst"
	wait_for 10 grep -q "WATCH STARTED" "$T/data.log"
	run -0 "$T/root/usr/sbin/iobs-supervise" -c "$T/rc" status
	assert_line --regexp "^$T/data +scribe +up +yes "
	assert_line --regexp "^$T/data +mirror +up +yes "
	# Its watcher is the installed one.
	w=$(field_of "$T/data" scribe 5)
	assert_equal "$(readlink "/proc/${w%%,*}/exe")" \
	    "$T/root/usr/bin/iobs-watch"
}

@test "make install DESTDIR=: the installed supervisor runs the installed example config under the unit's bounding set: pipelines, log, mirror" {
	make -s -C "$REPO" -o all install BIN="$IOBS_REAL_BIN" \
	    DESTDIR="$T/root" PREFIX=/usr >/dev/null
	run -0 "$BATS_TEST_DIRNAME/installed-check" "$T/root" "$T/w"
	assert_output "ok: $T/root/usr/sbin/iobs-supervise runs the example config, installed"
}

@test "the units make the log directory, mode 0750" {
	install_to "$T/root"
	for u in iobserver.service iobserver@.service; do
		grep -qx "LogsDirectory=iobserver" \
		    "$T/root/usr/lib/systemd/system/$u"
		grep -qx "LogsDirectoryMode=0750" \
		    "$T/root/usr/lib/systemd/system/$u"
	done
}

@test "the units pass systemd-analyze verify" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	install_to "$T/root"
	cp "$T/root/usr/lib/systemd/system/iobserver@.service" \
	    "$T/iobserver@backup.service"
	for u in "$T/root/usr/lib/systemd/system/iobserver.service" \
	    "$T/iobserver@backup.service"; do
		MANPATH=$T/root/usr/share/man run -0 systemd-analyze verify "$u"
		assert_output ""
	done
	grep -qx "Type=notify" "$T/iobserver@backup.service"
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$T/iobserver@backup.service"
	grep -qx "ExecStart=$T/root/usr/sbin/iobs-supervise -s /run/iobserver-%i -c $T/root/etc/iobserver/%i.rc" \
	    "$T/iobserver@backup.service"
}

@test "the logrotate file: a forced rotation HUPs the supervisor; new lines go to the new log, none lost" {
	command -v logrotate >/dev/null || skip "no logrotate"
	install_to "$T/root"
	# The installed file, its paths moved under $T, without systemd.
	sed -e "s|/var/log/iobserver|$T/logs|; s|/run/iobserver|$T/run/iobserver|g" \
	    -e "s|/run/systemd/system|$T/no-systemd|" \
	    "$T/root/etc/logrotate.d/iobserver" >"$T/logrotate.conf"
	mkdir -p "$T/logs" "$T/run"
	STATE=$T/run/iobserver
	conf "[watches]
[[data]]
plugins = scribe
scribe_log = $T/logs/data.log"
	cp "$IOBS_BIN/iobs-scribe" "$T/plugins/iobs-scribe"
	start_sup
	wait_ready "$T/data" scribe
	for i in $(seq 1 30); do : >"$T/data/a$i"; done
	wait_for 10 grep -qs "'a30' was" "$T/logs/data.log"
	run -0 logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf"
	assert_exist "$T/logs/data.log.1"
	wait_for 10 grep -qs "SIGHUP: reloading" "$T/log"
	# The scribe says so in the new file once it has reopened it.
	wait_for 10 grep -qs "WATCH RECONFIGURED; log reopened" "$T/logs/data.log"
	for i in $(seq 1 30); do : >"$T/data/b$i"; done
	wait_for 10 grep -qs "'b30' was" "$T/logs/data.log"
	run -1 grep -q "'b" "$T/logs/data.log.1"
	assert_equal "$(grep -c "' was CREATED" "$T/logs/data.log.1")" 30
}

# bats test_tags=long
@test "the .deb: dpkg-buildpackage -us -uc -b builds it, dpkg -c lists the tools, lintian is clean, it runs its example [long]" {
	[ -n "${IOBS_LONG:-}" ] || skip "long: set IOBS_LONG=1"
	command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage"
	# A copy of the tree as committed plus what is being changed.
	mkdir "$T/src"
	(cd "$REPO" && git ls-files -co --exclude-standard -z |
	    xargs -0 cp --parents -t "$T/src")
	cd "$T/src"
	run -0 dpkg-buildpackage -us -uc -b
	deb=$(ls "$T"/iobserver_*.deb)
	run -0 dpkg -c "$deb"
	assert_line --regexp ' \./usr/bin/iobs-watch$'
	assert_line --regexp ' \./usr/bin/iobs-scribe$'
	assert_line --regexp ' \./usr/bin/iobs-mirror$'
	assert_line --regexp ' \./usr/sbin/iobs-supervise$'
	assert_line --regexp ' \./lib/systemd/system/iobserver\.service$'
	assert_line --regexp ' \./lib/systemd/system/iobserver@\.service$'
	assert_line --regexp ' \./etc/logrotate\.d/iobserver$'
	assert_line --regexp ' \./usr/share/doc/iobserver/examples/iobserverrc\.example$'
	if command -v lintian >/dev/null; then
		run -0 lintian --fail-on error,warning "$T"/iobserver_*.changes
	fi
	# Its files, unpacked as dpkg -i would put them (here under $T,
	# not on a machine others share): the installed supervisor runs
	# the installed example under the unit's bounding set.
	run -0 dpkg -x "$deb" "$T/pkg"
	run -0 "$BATS_TEST_DIRNAME/installed-check" "$T/pkg" "$T/w"
	run -0 dpkg -I "$deb"
	assert_line --regexp '^ Recommends: .*rsync'
	assert_line --regexp '^ Recommends: .*openssh-client'
	# .ci/run installs this one rather than build it again.
	if [ -n "${IOBS_DEB_KEEP:-}" ]; then
		cp "$deb" "$IOBS_DEB_KEEP/"
	fi
}

@test "make bench installs its anchors as make check does (mk/deps bench)" {
	run -0 make -n -s -C "$REPO" bench
	assert_line -n 0 "sh mk/deps bench"
	# Every package missing, as another user: mk/deps says what to run.
	mkdir "$T/fake"
	printf '#!/bin/sh\nexit 1\n' >"$T/fake/dpkg-query"
	printf '#!/bin/sh\necho 1000\n' >"$T/fake/id"
	chmod +x "$T/fake"/*
	PATH=$T/fake:$PATH run -1 sh "$REPO/mk/deps" bench
	assert_line --partial "sudo apt-get install -y"
	local p
	for p in inotify-tools rsync lsyncd; do
		assert_output --regexp " $p( |\$)"
	done
	# Without bench, they are not asked for.
	PATH=$T/fake:$PATH run -1 sh "$REPO/mk/deps"
	refute_output --partial lsyncd
}
