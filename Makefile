# iobserver: five small tools around one event stream, iobs-stream(5).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/iobserver
# Where logrotate and the default config are: /etc whatever the prefix.
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
PKG_CONFIG ?= pkg-config
# Every tool's --version; debian/changelog says the same.
VERSION = 0.1.0
BATS ?= bats

# Where objects and binaries go; the sanitizer build uses its own.
BUILD ?= build
BIN ?= bin

CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Icommon \
	-DLIBBSD_NETBSD_VIS $(BSD_CFLAGS) -MMD -MP
# Evaluated when a recipe runs, so that `make check` can install
# pkg-config and the libraries before they are asked for.
BSD_CFLAGS = $(shell $(PKG_CONFIG) --cflags libbsd-overlay)
BSD_LIBS = $(shell $(PKG_CONFIG) --libs libbsd-overlay)
LMDB_LIBS = $(shell $(PKG_CONFIG) --libs lmdb 2>/dev/null || echo -llmdb)

SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

# A directory per tool: every .c file in it belongs to that tool.
COMMON_SRC = $(wildcard common/*.c)
WATCH_SRC = $(wildcard watcher/*.c)
SCRIBE_SRC = $(wildcard scribe/*.c)
MIRROR_SRC = $(wildcard mirror/*.c)
SUPERVISE_SRC = $(wildcard supervisor/*.c)
EXEC_SRC = $(wildcard exec/*.c)
TEST_SRC = $(wildcard tests/*.c)

PROGS = $(BIN)/iobs-watch $(if $(SCRIBE_SRC),$(BIN)/iobs-scribe) \
	$(if $(MIRROR_SRC),$(BIN)/iobs-mirror) \
	$(if $(SUPERVISE_SRC),$(BIN)/iobs-supervise) \
	$(if $(EXEC_SRC),$(BIN)/iobs-exec)
# Test helpers: one program per tests/*.c, linked with libiobs.
TEST_PROGS = $(patsubst tests/%.c,$(BIN)/%,$(TEST_SRC))
# LD_PRELOAD shims, tests/shim/NAME.c: never sanitized, which would
# make the sanitizer's runtime come second.
SHIM_PROGS = $(patsubst tests/shim/%.c,$(BIN)/%.so,$(wildcard tests/shim/*.c))
# Fuzz targets, tests/fuzz/NAME.c: each is also linked with a replay
# main() (tests/fuzz/replay.c), so that the suite runs every corpus
# file and every kept crash input on each build, sanitized or not.
FUZZ_TARGETS = stream config scribe exec format fromfile remote ignore \
	gitignore
FUZZ_PROGS = $(patsubst %,$(BIN)/fuzz-%,$(FUZZ_TARGETS))
# Where a fuzz program's main() comes from; empty for libFuzzer's.
FUZZ_MAIN = $(BUILD)/tests/fuzz/replay.o
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)
MAN7 = $(wildcard man/*.7)
MAN8 = $(wildcard man/*.8)
MANS = $(MAN1) $(MAN5) $(MAN7) $(MAN8)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

all: $(PROGS)

$(BUILD)/libiobs.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^

$(BIN)/iobs-watch: $(call obj,$(WATCH_SRC)) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ -linotifytools $(BSD_LIBS)

$(BIN)/iobs-scribe: $(call obj,$(SCRIBE_SRC)) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(BSD_LIBS)

$(BIN)/iobs-mirror: $(call obj,$(MIRROR_SRC)) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(BSD_LIBS) -pthread

$(BIN)/iobs-supervise: $(call obj,$(SUPERVISE_SRC)) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(BSD_LIBS)

$(BIN)/iobs-exec: $(call obj,$(EXEC_SRC)) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(BSD_LIBS)

$(BIN)/%: $(BUILD)/tests/%.o $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LMDB_LIBS) $(BSD_LIBS)

$(BIN)/%.so: tests/shim/%.c
	@mkdir -p $(BIN)
	$(CC) -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

$(BIN)/fuzz-stream: $(BUILD)/tests/fuzz/stream.o
$(BIN)/fuzz-config: $(BUILD)/tests/fuzz/config.o $(BUILD)/supervisor/config.o
$(BIN)/fuzz-scribe: $(BUILD)/tests/fuzz/scribe.o $(BUILD)/scribe/message.o
$(BIN)/fuzz-format: $(BUILD)/tests/fuzz/format.o $(BUILD)/watcher/format.o
$(BIN)/fuzz-fromfile: $(BUILD)/tests/fuzz/fromfile.o \
	$(BUILD)/watcher/fromfile.o
$(BIN)/fuzz-remote: $(BUILD)/tests/fuzz/remote.o $(BUILD)/mirror/rsync.o
$(BIN)/fuzz-ignore: $(BUILD)/tests/fuzz/ignore.o $(BUILD)/watcher/ignore.o
$(BIN)/fuzz-gitignore: $(BUILD)/tests/fuzz/gitignore.o \
	$(BUILD)/common/gitignore.o
$(FUZZ_PROGS): $(FUZZ_MAIN) $(BUILD)/libiobs.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libiobs.a $(BSD_LIBS)
$(BUILD)/tests/fuzz/config.o: CPPFLAGS += -Isupervisor
$(BIN)/fuzz-exec: $(BUILD)/tests/fuzz/exec.o $(BUILD)/exec/template.o
$(BUILD)/common/usage.o: CPPFLAGS += -DIOBS_VERSION='"$(VERSION)"'
$(BUILD)/supervisor/iobs-supervise.o: CPPFLAGS += \
	-DIOBS_CONFIG='"$(SYSCONFDIR)/iobserver/iobserverrc"'
# Where the supervisor, in sbin, finds the tools make install puts in bin.
$(BUILD)/supervisor/config.o: CPPFLAGS += -DIOBS_BINDIR='"$(BINDIR)"'

$(BUILD)/tests/fuzz/scribe.o: CPPFLAGS += -Iscribe
$(BUILD)/tests/fuzz/exec.o: CPPFLAGS += -Iexec
$(BUILD)/tests/fuzz/format.o $(BUILD)/tests/fuzz/fromfile.o \
	$(BUILD)/tests/fuzz/ignore.o $(BUILD)/tests/fuzz/gitignore.o: \
	CPPFLAGS += -Iwatcher
$(BUILD)/tests/fuzz/remote.o: CPPFLAGS += -Imirror

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# Installs what the build and the tests need, or says how.
deps:
	@sh mk/deps

# STYLE messages too, but those of cross-references mandoc cannot
# resolve on this machine (our pages not installed, an old mandoc.db).
lint-man:
	mandoc -Tlint -Wwarning $(MANS)
	@! mandoc -Tlint -Wstyle $(MANS) 2>&1 | grep -v \
	    -e 'referenced manual not found' -e 'mandoc\.db' | grep .

tests: $(TEST_PROGS) $(FUZZ_PROGS) $(SHIM_PROGS)

# The suite runs JOBS tests at a time (bats --jobs, GNU parallel):
# most of a test is waiting, so more than there are cores; waits scale
# with JOBS per core (IOBS_JOBS, tests/test_helper.bash). JOBS=1 runs
# them one by one.
NPROC := $(shell nproc 2>/dev/null || echo 1)
JOBS ?= $(shell echo $$(($(NPROC) * 6)))
BATS_RUN = IOBS_JOBS=$(JOBS) $(BATS) $(if $(filter-out 1,$(JOBS)),--jobs $(JOBS))
# tests/watch.bats runs once per backend, as its links watch-on-*.bats;
# fanotify needs root. The slowest files first, so that none is left
# to run alone at the end.
ROOT := $(filter 0,$(shell id -u))
FIRST = tests/mirror-remote.bats tests/mirror-storm.bats tests/faults.bats
SUITE = $(FIRST) $(filter-out $(FIRST) tests/watch.bats \
	$(if $(ROOT),,tests/watch-on-fanotify.bats),$(wildcard tests/*.bats))
SAN_ENV = IOBS_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

check: deps
	$(MAKE) -j$(NPROC) all tests
	$(MAKE) lint-man
	IOBS_BIN=$(CURDIR)/$(BIN) $(BATS_RUN) $(BATS_FLAGS) $(SUITE)

# What does not fit in check's few minutes (mk/check-long), all at
# once: the tests tagged long (bats test_tags=long) with IOBS_LONG=1,
# which makes them long (more seeds, longer storms, the .deb),
# SOAK_MINUTES of bench/soak and the whole suite on the sanitizer build
# (check-sanitize's).
SOAK_MINUTES ?= 2
check-long: deps
	$(MAKE) -j$(NPROC) all tests
	$(MAKE) -j$(NPROC) BUILD=build-san BIN=bin-san \
	    CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)" all tests
	BATS="$(BATS) $(BATS_FLAGS)" JOBS=$(JOBS) SOAK_MINUTES=$(SOAK_MINUTES) \
	    SAN_ENV="$(SAN_ENV)" sh mk/check-long $(CURDIR)/$(BIN) \
	    $(CURDIR)/bin-san $(SUITE)

# The whole suite again on an AddressSanitizer + UBSan build.
check-sanitize: deps
	$(MAKE) -j$(NPROC) BUILD=build-san BIN=bin-san \
	    CFLAGS="-O1 -g $(SANITIZE)" LDFLAGS="$(SANITIZE)" all tests
	IOBS_BIN=$(CURDIR)/bin-san $(SAN_ENV) $(BATS_RUN) $(BATS_FLAGS) $(SUITE)

# The suite with every program under valgrind: slow, so not in check.
valgrind:
	@sh mk/deps valgrind
	$(MAKE) all tests
	sh mk/valgrind $(BIN)

# Each fuzz target under libFuzzer for FUZZ_SECONDS; new inputs go to
# build-fuzz/corpus/NAME, crashes to build-fuzz/crash/NAME.
fuzz:
	@sh mk/deps fuzz
	$(MAKE) CC=$(FUZZ_CC) BUILD=build-fuzz BIN=bin-fuzz FUZZ_MAIN= \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link $(SANITIZE)" \
	    LDFLAGS="-fsanitize=fuzzer $(SANITIZE)" \
	    $(patsubst %,bin-fuzz/fuzz-%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t build-fuzz/crash/$$t || exit 1; \
		echo "fuzz-$$t: $(FUZZ_SECONDS) s"; \
		bin-fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
		    -artifact_prefix=build-fuzz/crash/$$t/ \
		    build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# Runs iobs-watch on a demo tree that it then changes.
run: deps all
	@sh mk/demo $(BIN)

# Side by side with inotifywait, rsync, lsyncd, incrond and entr;
# prints ratios.
bench:
	@sh mk/deps bench
	$(MAKE) all tests
	bash bench/watch.sh
	bash bench/scribe.sh
	bash bench/mirror.sh
	bash bench/exec.sh

# The supervisor is a daemon: sbin. Units name the paths they are
# installed with.
UNITS = iobserver.service iobserver@.service
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@DOCDIR@|$(DOCDIR)|g'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 755 $(filter-out %/iobs-supervise,$(PROGS)) \
	    $(DESTDIR)$(BINDIR)
	install -m 755 $(BIN)/iobs-supervise $(DESTDIR)$(SBINDIR)
	# iobs-watch acts as inotifywait under that name (iobs-watch(1));
	# the plain names, taken from inotify-tools, only when asked.
	for n in iobs-inotifywait iobs-fsnotifywait \
	    $(if $(COMPAT_LINKS),inotifywait fsnotifywait); do \
		ln -sf iobs-watch $(DESTDIR)$(BINDIR)/$$n || exit 1; done
	for s in 1 5 7 8; do \
		install -d $(DESTDIR)$(MANDIR)/man$$s; \
		for p in man/*.$$s; do [ -f "$$p" ] || continue; \
			install -m 644 "$$p" $(DESTDIR)$(MANDIR)/man$$s; done; \
	done
	# Their page is iobs-watch(1)'s AS INOTIFYWAIT.
	for n in iobs-inotifywait iobs-fsnotifywait; do \
		ln -sf iobs-watch.1 $(DESTDIR)$(MANDIR)/man1/$$n.1 || exit 1; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(DOCDIR)/examples
	for u in $(UNITS); do \
		$(SUBST) dist/$$u.in >$(DESTDIR)$(UNITDIR)/$$u || exit 1; \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$u; \
	done
	install -m 644 dist/iobserver.logrotate \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/iobserver
	install -m 644 dist/iobserverrc.example $(DESTDIR)$(DOCDIR)/examples
	install -m 644 README.md $(DESTDIR)$(DOCDIR)

uninstall:
	rm -f $(patsubst $(BIN)/%,$(DESTDIR)$(BINDIR)/%,$(PROGS)) \
	    $(DESTDIR)$(SBINDIR)/iobs-supervise
	for n in iobs-inotifywait iobs-fsnotifywait inotifywait fsnotifywait; do \
		[ "$$(readlink $(DESTDIR)$(BINDIR)/$$n)" != iobs-watch ] || \
		    rm -f $(DESTDIR)$(BINDIR)/$$n; done
	for p in $(MANS); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p#man/}; done
	rm -f $(DESTDIR)$(MANDIR)/man1/iobs-inotifywait.1 \
	    $(DESTDIR)$(MANDIR)/man1/iobs-fsnotifywait.1
	rm -f $(patsubst %,$(DESTDIR)$(UNITDIR)/%,$(UNITS)) \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/iobserver \
	    $(DESTDIR)$(DOCDIR)/examples/iobserverrc.example \
	    $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build build-san build-fuzz build-vg bin bin-san bin-fuzz bin-vg

.PHONY: all bench check check-long check-sanitize clean deps fuzz install lint-man \
	run tests uninstall valgrind

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
