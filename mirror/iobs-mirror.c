/*
 * iobs-mirror: keep DEST an exact copy of the tree an iobs-stream(5)
 * on standard input is about, as it changes.
 */
#define _GNU_SOURCE

#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "options.h"
#include "path.h"
#include "signals.h"
#include "stream.h"
#include "usage.h"
#include "listing.h"
#include "mirror.h"
#include "remote.h"


/*
 * The safety checks of a DEST against the source root: not inside it,
 * which would make it copy itself, and not holding it. dfd is DEST
 * once open, or -1 to check a path that may not exist yet.
 */
static int
dest_check(struct mirror *m, int dfd, const char *dest, char *why,
    size_t whylen)
{
	const char *shown = m->root[0] ? m->root : "/";
	int fd, in;

	/* Not made yet: judged by the part of its path that exists. */
	if ((fd = dfd != -1 ? dfd : open_existing(dest)) == -1)
		return 0;
	in = dir_within(fd, m->sfd);
	if (fd != dfd)
		close(fd);
	if (in) {
		snprintf(why, whylen, "%s is inside the watched root %s: it "
		    "would copy itself; choose a destination outside it", dest,
		    shown);
		return -1;
	}
	if (dfd != -1 && dir_within(m->sfd, dfd)) {
		snprintf(why, whylen, "the watched root %s is inside %s: "
		    "mirroring would overwrite the source; choose another "
		    "destination", shown, dest);
		return -1;
	}
	return 0;
}

/*
 * DEST opened, and with make made if it does not exist (not with
 * --dry-run); -1 with the reason in why and in *code the exit status it
 * deserves at start-up, or 0 when it does not exist and make is 0.
 */
static int
dest_open(const struct mirror_options *o, int make, char *why, size_t whylen,
    int *code)
{
	struct stat st;
	int fd, save;

	if ((fd = open(o->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		return fd;
	if (errno == ENOENT && !make) {
		*code = 0;
		return -1;
	}
	if (errno == ENOENT && !o->dry_run && mkdir(o->dest, 0700) == 0 &&
	    (fd = open(o->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		return fd;
	save = errno;
	if (save == ENOTDIR || (stat(o->dest, &st) == 0 &&
	    !S_ISDIR(st.st_mode))) {
		snprintf(why, whylen, "%s: not a directory", o->dest);
		*code = 2;
	} else {
		snprintf(why, whylen, "%s: %s", o->dest, strerror(save));
		*code = 1;
	}
	return -1;
}

/*
 * One mirror per DEST: an exclusive lock on its directory, held while
 * the descriptor is open. The DEST held already (held) is the same open
 * directory, lock and all. -1 with the reason in why, and *fd closed.
 */
static int
dest_lock(const struct mirror_options *o, int held, int *fd, char *why,
    size_t whylen)
{
	struct stat a, b;

	if (o->dry_run)
		return 0;
	if (held != -1 && fstat(held, &a) == 0 && fstat(*fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		close(*fd);
		if ((*fd = fcntl(held, F_DUPFD_CLOEXEC, 0)) == -1)
			err(1, "fcntl");
		return 0;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		snprintf(why, whylen, "%s: another iobs-mirror is writing "
		    "there; stop it, or choose another destination", o->dest);
	else
		snprintf(why, whylen, "%s: lock: %s", o->dest,
		    strerror(errno));
	close(*fd);
	*fd = -1;
	return -1;
}

/*
 * At every WATCH_INIT the root is opened again and compared, by device
 * and inode, with the one held: a different directory (the old one
 * moved away, a new one made in its place) is a new source, checked
 * against DEST as at start-up, with the empty-source guard at its
 * first reconcile; the old one is never read again. Returns -1 when
 * the root cannot be followed, fatal only at the first.
 */
static int
open_root(struct mirror *m)
{
	char why[2 * PATH_MAX + 256];
	const char *shown = m->root[0] ? m->root : "/";
	struct stat st, held;
	int fd, code;

	why[0] = '\0';
	if ((fd = open(shown, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if (!m->rooted)
			err(1, "%s", shown);
		warn("%s: the watched root cannot be opened; waiting for the "
		    "next WATCH_INIT", shown);
		goto drop;
	}
	if (fstat(fd, &st) == -1)
		err(1, "fstat");
	if (m->sfd != -1 && fstat(m->sfd, &held) == 0 &&
	    held.st_dev == st.st_dev && held.st_ino == st.st_ino) {
		close(fd);
		return 0;
	}
	if (m->sfd != -1)
		close(m->sfd);
	m->sfd = fd;
	m->guard_empty = 1;
	/* Checked before it is made: never a new directory in the source. */
	if (dest_check(m, m->dfd, m->o.dest, why, sizeof(why)) == 0 &&
	    m->dfd == -1) {
		if ((m->dfd = dest_open(&m->o, 1, why, sizeof(why), &code))
		    == -1)
			errx(code, "%s", why);
		if (dest_lock(&m->o, -1, &m->dfd, why, sizeof(why)) == -1)
			errx(1, "%s", why);
		(void)dest_check(m, m->dfd, m->o.dest, why, sizeof(why));
	}
	if (why[0] == '\0' && m->dfd != -1)
		(void)backup_open(m, why, sizeof(why));
	if (why[0] == '\0') {
		m->rooted = 1;
		return 0;
	}
	if (!m->rooted)
		errx(2, "%s", why);
	warnx("%s; waiting for the next WATCH_INIT", why);
drop:
	m->rval = 1;
	if (m->sfd != -1)
		close(m->sfd);
	m->sfd = -1;
	return -1;
}

/*
 * A reconcile, as every WATCH_INIT, new DEST or SIGHUP asks. Stopped
 * for safety, it leaves DEST as it is, says why once, and is tried
 * again on a timer (refusal_due) until the source is back or --force
 * is given; the stream is read and applied meanwhile.
 */
static void
guarded_reconcile(struct mirror *m)
{
	char why[2 * PATH_MAX + 256];

	m->refused_last = now_ms();
	if (reconcile(m, why, sizeof(why)) == 0) {
		m->guard_empty = 0;
		m->refused = 0;
		return;
	}
	if (!m->refused) {
		warnx("%s; trying again meanwhile", why);
		m->refused = 1;
		m->refused_first = m->refused_last;
	}
}

/*
 * --verify: when the next pass is due, ms; -1 for none. A pass waits
 * for the records read to be applied, an interval longer at most.
 */
static int64_t
drift_due(struct mirror *m)
{
	int64_t now = now_ms();

	if (m->o.verify_ms == 0 || !m->active || m->sfd == -1 || m->refused)
		return -1;
	if (m->drift_at == 0)
		m->drift_at = now + m->o.verify_ms;
	if (m->pending.n > 0 || m->moves.n > 0 || m->deletes.n > 0 ||
	    m->dirty_files.n > 0)
		return m->drift_at + m->o.verify_ms;
	return m->drift_at;
}

/*
 * A reconcile whose every change is DEST having drifted from the
 * source behind the mirror's back: each is logged, "repair copy PATH".
 */
static void
drift_pass(struct mirror *m)
{
	char why[2 * PATH_MAX + 256];

	m->drifting = 1;
	m->repairs = 0;
	if (reconcile(m, why, sizeof(why)) == -1) {
		warnx("--verify: %s", why);
		m->rval = 1;
	}
	m->drifting = 0;
	flush_dirs(m);
	if (m->o.verbose > 0) {
		printf("verified %s: %lu repaired\n", m->o.dest, m->repairs);
		fflush(stdout);
	}
	m->drift_at = now_ms() + m->o.verify_ms;
}

/* When a reconcile stopped for safety is tried again: as a failed path. */
static int64_t
refusal_due(const struct mirror *m)
{
	int64_t wait = m->refused_last - m->refused_first;

	if (wait < RETRY_MS)
		wait = RETRY_MS;
	if (wait > RETRY_MAX_MS)
		wait = RETRY_MAX_MS;
	return m->refused_last + wait;
}

/* The same --root, or none in both. */
static int
same_root(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The current DEST made equal to the source again, where a reconcile
 * that stops for safety is not fatal: WATCH_RECONFIG without new
 * options.
 */
static void
resync(struct mirror *m)
{
	if (m->active)
		guarded_reconcile(m);
}

/*
 * Reads the options again, on WATCH_RECONFIG or SIGHUP. iobs-supervise
 * puts a plugin's options, one a line as on its command line, in the
 * cache key named by IOBS_OPTIONS before it has the watcher write
 * WATCH_RECONFIG. They are checked as at start-up, and DEST, new or
 * not, is reconciled right here in the stream: the records before have
 * reached the old DEST, those after it go to the new one, which by
 * then has everything. Anything wrong keeps the old options and DEST.
 * Without the key, DEST is only reconciled.
 */
static void
reconfigure(struct mirror *m)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	struct mirror_options o, old;
	struct remote_dest d;
	struct stat ost, nst;
	char why[2 * PATH_MAX + 256], why2[2 * PATH_MAX + 256], **argv;
	int argc, rc, dfd = -1, olddfd, code, guard;

	if (iobs_options_fetch(m->cache, &argc, &argv) != 0) {
		resync(m);
		return;
	}
	rc = mirror_options_parse(argc, argv, &o, why, sizeof(why));
	iobs_options_free(argv);
	if (rc == -1) {
		warnx("%s: %s; keeping the old options", key, why);
		return;
	}
	/* A front's child takes its own; one it drops ends. */
	if ((rc = mirror_options_own(&o, why, sizeof(why))) != 0) {
		if (rc == -1)
			warnx("%s: %s; keeping the old options", key, why);
		mirror_options_free(&o);
		return;
	}
	if (remote_dest_parse(o.dest, &d, why, sizeof(why)) == 1) {
		remote_dest_free(&d);
		warnx("%s: %s: a remote destination for a local mirror; "
		    "keeping the old options (restart iobs-mirror to change)",
		    key, o.dest);
		mirror_options_free(&o);
		return;
	}
	if (!same_root(o.want_root, m->o.want_root)) {
		warnx("%s: --root cannot change while iobs-mirror runs; "
		    "keeping the old options", key);
		mirror_options_free(&o);
		return;
	}
	/* Checked before it is made: never a new directory in the source. */
	if (m->sfd != -1 && dest_check(m, -1, o.dest, why, sizeof(why)) == -1)
		goto bad;
	if ((dfd = dest_open(&o, 1, why, sizeof(why), &code)) == -1 ||
	    dest_lock(&o, m->dfd, &dfd, why, sizeof(why)) == -1 ||
	    (m->sfd != -1 && dest_check(m, dfd, o.dest, why, sizeof(why))
	    == -1))
		goto bad;
	old = m->o;
	olddfd = m->dfd;
	m->o = o;
	m->dfd = dfd;
	/* Another file system may allow what the old one did not. */
	m->clone_ok = m->cfr_ok = m->unnamed_ok = 1;
	guard = m->guard_empty;
	/* A new DEST is guarded as a first one. */
	if (olddfd == -1 || fstat(olddfd, &ost) == -1 ||
	    fstat(dfd, &nst) == -1 || ost.st_dev != nst.st_dev ||
	    ost.st_ino != nst.st_ino)
		m->guard_empty = 1;
	/* Kept from the first delete on, or not taken at all. */
	if ((m->sfd != -1 && backup_open(m, why, sizeof(why)) == -1) ||
	    (m->active && reconcile(m, why, sizeof(why)) == -1)) {
		m->o = old;
		m->dfd = olddfd;
		m->guard_empty = guard;
		if (m->sfd != -1 && m->dfd != -1)
			(void)backup_open(m, why2, sizeof(why2));
		goto bad;
	}
	if (m->active) {
		m->guard_empty = 0;
		m->refused = 0;
	}
	if (olddfd != -1)
		close(olddfd);
	mirror_options_free(&old);
	return;
bad:
	/* A DEST that cannot be followed is a runtime failure. */
	warnx("%s: %s; keeping the old options", key, why);
	if (dfd != -1)
		close(dfd);
	mirror_options_free(&o);
	m->rval = 1;
}

static void
root_record(struct mirror *m, const struct iobs_record *r)
{
	if (!root_follow(&m->root, &m->rootlen, m->o.want_root, r))
		return;
	switch (r->lifecycle) {
	case IOBS_WATCH_INIT:
		apply_reset(m);
		m->active = open_root(m) == 0;
		if (m->active)
			guarded_reconcile(m);
		break;
	case IOBS_WATCH_DEAD:
		if (m->sfd != -1)
			apply_flush(m);
		m->active = 0;
		break;
	case IOBS_OVERFLOW:
		/* Events were lost: the WATCH_INIT that follows reconciles. */
		apply_reset(m);
		m->active = 0;
		break;
	case IOBS_WATCH_RECONFIG:
		/* The records before it are for the old options. */
		apply_pending(m);
		reconfigure(m);
		break;
	default:
		break;
	}
}

static void
record(struct mirror *m, char *line, struct iobs_reader *rd)
{
	struct iobs_record r;
	int n;

	n = iobs_reader_record(rd, line, &r);
	/* Scans cannot tell what came and went between two of them. */
	m->scanned = rd->scanned;
	if (n == 0)
		return;
	if (n == -1) {
		m->rval = 1;
		return;
	}
	if (r.lifecycle != IOBS_NONE) {
		root_record(m, &r);
		return;
	}
	if (!m->active || !apply_wants(r.mask) || root_rel(m->root,
	    m->rootlen, m->o.want_root, r.path, rd->lineno, &m->rval) == NULL)
		return;
	apply_record(m, &r);
}

/* SIGHUP, the only signal taken: the options are read again. */
static void
signals(struct mirror *m, int sigfd)
{
	struct signalfd_siginfo si;
	int hup = 0;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		hup = 1;
	if (hup) {
		apply_pending(m);
		reconfigure(m);
	}
}

static void
run(struct mirror *m, int sigfd)
{
	/* Static: still reachable when a reconcile stops with errx. */
	static struct iobs_reader rd;
	struct pollfd pfd[2];
	char *line;
	int64_t due;
	int ready, timeout;

	iobs_reader_init(&rd, STDIN_FILENO);
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = sigfd;
	pfd[1].events = POLLIN;
	while (!rd.eof) {
		while ((line = iobs_reader_next(&rd)) != NULL)
			record(m, line, &rd);
		/*
		 * Every record already there is read before any is applied,
		 * for a while: an OVERFLOW among them makes those before it
		 * moot, and one path written many times is copied once.
		 * Behind the stream, more of it is waited for, briefly.
		 * Nothing waiting, the timers come first.
		 */
		if (m->pending.n > 0 && !apply_batch_full(m) &&
		    poll(pfd, 1, apply_lagging(m) ? LAG_WAIT_MS : 0) == 1) {
			if (iobs_reader_fill(&rd) == -1)
				err(1, "standard input");
			continue;
		}
		apply_pending(m);
		/*
		 * Directory times once the input is drained, or every
		 * BUSY_MS under a stream that never is (reads of the tree
		 * are records too).
		 */
		if (m->dirty_dirs.n > 0 && (poll(pfd, 1, 0) == 0 ||
		    m->dirs_flushed + BUSY_MS <= now_ms())) {
			flush_dirs(m);
			m->dirs_flushed = now_ms();
		}
		timeout = apply_timeout(m);
		if (m->refused && m->active) {
			due = refusal_due(m) - now_ms();
			if (due < 0)
				due = 0;
			if (timeout == -1 || due < timeout)
				timeout = (int)due;
		}
		if ((due = drift_due(m)) != -1) {
			due -= now_ms();
			if (due < 0)
				due = 0;
			if (timeout == -1 || due < timeout)
				timeout = (int)due;
		}
		if ((ready = poll(pfd, 2, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		/* Between two records: the stream's order is kept. */
		if (pfd[1].revents & POLLIN)
			signals(m, sigfd);
		if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    iobs_reader_fill(&rd) == -1)
			err(1, "standard input");
		apply_timers(m, ready == 0);
		progress_failing(m, m->retry.n);
		if (m->refused && m->active && refusal_due(m) <= now_ms())
			guarded_reconcile(m);
		if ((due = drift_due(m)) != -1 && due <= now_ms())
			drift_pass(m);
	}
	while ((line = iobs_reader_next(&rd)) != NULL)
		record(m, line, &rd);
	if (m->sfd != -1)
		apply_flush(m);
	/* A refusal that still stands: DEST is not the copy it should be. */
	if (m->refused)
		m->rval = 1;
	iobs_reader_free(&rd);
}

/* --check of one DEST: a directory, or one that can be made. */
static void
check_dest(const char *dest)
{
	char why[2 * PATH_MAX + 256];
	struct stat st;

	if (stat(dest, &st) == 0 && !S_ISDIR(st.st_mode))
		errx(2, "%s: not a directory", dest);
	/* DEST is made at start, not the directories above it. */
	if (remote_dest_parse(dest, NULL, why, sizeof(why)) == 0 &&
	    stat(dest, &st) == -1 && errno == ENOENT &&
	    iobs_path_parent_missing(dest, why, sizeof(why)))
		errx(2, "%s: %s: no such directory; make it (mkdir -p %s) or "
		    "mirror elsewhere", dest, why, why);
}

int
main(int argc, char *argv[])
{
	static struct mirror m;
	struct remote_dest d;
	const char *cachedir, *key;
	char why[2 * PATH_MAX + 256];
	int code, sigfd, check;

	/* rsync's remote shell in a remote mirror (REMOTE, relay.c). */
	if (argc > 1 && strcmp(argv[1], "--relay") == 0)
		return relay_main(argc, argv);
	mirror_help(argc, argv);
	check = iobs_check_mode(&argc, &argv);
	memset(&m, 0, sizeof(m));
	m.sfd = -1;
	m.walk.staged_fd = -1;
	m.walk.dest_fd = -1;
	m.backup.dirfd = m.backup.setfd = -1;
	m.uid = geteuid();
	m.gid = getegid();
	m.clone_ok = m.cfr_ok = m.unnamed_ok = 1;
	if (mirror_options_parse(argc, argv, &m.o, why, sizeof(why)) == -1) {
		warnx("%s", why);
		mirror_usage();
	}
	if (check) {
		char **w;
		size_t i;

		for (i = 0; i < m.o.ndest; i++)
			check_dest(m.o.dests[i]);
		/* What a remote mirror would run: as it starts, one line. */
		if (m.o.rsh != NULL) {
			if ((w = rsh_words(m.o.rsh, why, sizeof(why))) == NULL)
				errx(2, "%s", why);
			words_free(w);
		}
		mirror_options_free(&m.o);
		return 0;
	}
	/* Before anything slow, so that an early SIGHUP does not kill. */
	sigfd = iobs_signalfd(SIGHUP, 0);
	progress_init(&m);
	/* The cache, for new options on WATCH_RECONFIG. */
	cachedir = getenv(IOBS_CACHE_ENV);
	key = getenv(IOBS_OPTIONS_ENV);
	if (cachedir != NULL && cachedir[0] != '\0' && key != NULL &&
	    key[0] != '\0' && (m.cache = iobs_cache_open_env()) == NULL)
		warn("%s=%s: cannot open the shared cache; options are those "
		    "of the command line", IOBS_CACHE_ENV, cachedir);

	/* Several: a front, and a child a DEST, each this program. */
	if ((code = mirror_options_own(&m.o, why, sizeof(why))) == -1) {
		code = fanout_main(argc, argv, &m.o, m.cache, sigfd);
		iobs_cache_close(m.cache);
		mirror_options_free(&m.o);
		progress_free(&m);
		close(sigfd);
		return code;
	}
	if (code == 1)
		errx(2, "%s=%s: not among the destinations", FANOUT_DEST_ENV,
		    getenv(FANOUT_DEST_ENV));
	/* A front's child: its messages say which destination. */
	if (getenv(FANOUT_DEST_ENV) != NULL && asprintf(
	    &program_invocation_short_name, "iobs-mirror to %s", m.o.dest)
	    == -1)
		err(1, "asprintf");

	/* host:/path or rsync://: rsync and ssh do the writing. */
	if (remote_dest_parse(m.o.dest, &d, why, sizeof(why)) == 1) {
		code = remote_main(&m.o, &d, m.cache, sigfd);
		remote_dest_free(&d);
		iobs_cache_close(m.cache);
		mirror_options_free(&m.o);
		close(sigfd);
		return code;
	}
	/* Every mode is given explicitly, as the source has it. */
	umask(0);
	/*
	 * A pipe of 1 MiB, not 64 KiB, where allowed: more of a storm is
	 * there to be read at once, and coalesced. Not a pipe: no matter.
	 */
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, BATCH_PIPE);
	/* One that does not exist is made once the root is known. */
	if ((m.dfd = dest_open(&m.o, 0, why, sizeof(why), &code)) == -1 &&
	    code != 0)
		errx(code, "%s", why);
	if (m.dfd != -1 && dest_lock(&m.o, -1, &m.dfd, why, sizeof(why)) == -1)
		errx(1, "%s", why);
	run(&m, sigfd);

	copiers_stop();
	listing_stop();
	apply_free(&m);
	progress_free(&m);
	links_clear(&m.links);
	inodes_clear(&m.inodes);
	iobs_cache_close(m.cache);
	mirror_options_free(&m.o);
	free(m.root);
	if (m.sfd != -1)
		close(m.sfd);
	if (m.dfd != -1)
		close(m.dfd);
	close(sigfd);
	return m.rval;
}
