/*
 * iobs-watch: watch directory trees with inotify and print every event
 * as an iobs-stream(5) record.
 */
#define _GNU_SOURCE	/* asprintf, program_invocation_short_name */

#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "fromfile.h"
#include "path.h"
#include "usage.h"
#include "watch.h"

#define DEFAULT_BUFFER	(64UL * 1024 * 1024)
#define READ_SIZE	(256 * 1024)
/*
 * Coalescing: when small batches come back to back (a storm), wait a
 * moment before the next read so that the next batch is larger. Each
 * wake-up costs a context switch, which dominates the CPU per event;
 * a lone event, after a quiet spell, is read at once.
 */
#define STORM_GAP_US	1000	/* reads closer than this: a storm */
#define STORM_BATCH	(64 * sizeof(struct inotify_event))
#define STORM_WAIT_US	200

/* poll's scan interval, and auto's rescan on network file systems. */
#define DEFAULT_INTERVAL_MS	2000

/* How long an unpaired MOVED_FROM of a directory waits, at most. */
#define PENDING_MS	50
/* How often each root's path is looked at: see check_roots(). */
#define ROOT_CHECK_MS	1000
/* How often the clock is looked at under -t. */
#define TIMEOUT_TICK_MS	100

/* Always asked of the kernel: the directory map depends on them. */
#define BOOKKEEPING	(IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

static const char synopsis[] = "[-1mnqr] [-b size] [-e event[,...]] "
    "[-o file] [-t seconds] [-x glob] [--exclude[i] regex] "
    "[--exclude-from file] [--gitignore] "
    "[--include[i] regex] [--fromfile file] "
    "[--format fmt [--no-newline] [--timefmt fmt] | --json] [--noleaf] "
    "[--backend name] [--ignore-fd fd] [--ignore-pgid pgid] "
    "[--ignore-pid pid] [--interval seconds] [--pid] "
    "[--ready-fd fd] [--rescan seconds] [--stats-fd fd] path ...";

/* What --help says under inotifywait's name. */
static const char compat_synopsis[] = "[-hcdmPqrs] [-e event[,...]] "
    "[-o file] [-t seconds] [--format fmt [--no-newline] "
    "[--timefmt fmt] | -c] [--exclude[i] regex | --include[i] regex] "
    "[--fromfile file] [-I | -F | -S] file ...";
static const char options[] =
    "-1\texit 0 after the first event\n"
    "-b, --buffer=size\thold at most size bytes for a slow reader\n"
    "-e, --event=event[,...]\treport only these events\n"
    "-m, --monitor\tprint inotifywait's lines\n"
    "-n, --no-recursive\twatch the roots only\n"
    "-o, --outfile=file\tappend the records to file\n"
    "-q, --quiet\tno warnings (-qq: no set-up messages either)\n"
    "-r, --recursive\taccepted; recursion is the default\n"
    "-t, --timeout=seconds\texit 2 when no event comes for that long\n"
    "-x, --exclude-glob=glob\tignore entries matching glob\n"
    "--backend=name\tauto, inotify, fanotify or poll\n"
    "--exclude, --excludei=regex\tno event whose path matches regex\n"
    "--include, --includei=regex\tonly events whose path matches regex\n"
    "--exclude-from=file\tignore what file's gitignore patterns match\n"
    "--gitignore\tignore what the tree's .gitignore files do\n"
    "--format=fmt\tprint each event as fmt\n"
    "--no-newline\twith --format, no newline after each event\n"
    "--timefmt=fmt\tthe %T of --format, as strftime(3)\n"
    "--json\teach record as one JSON object a line\n"
    "--fromfile=file\tread paths to watch from file\n"
    "--noleaf\tlist every directory while setting up\n"
    "--pid\ta fifth field: the pid of who made the change\n"
    "--ignore-fd=fd\tread pids and groups to ignore from fd\n"
    "--ignore-pgid=pgid\tdrop events caused by process group pgid\n"
    "--ignore-pid=pid\tdrop events caused by process pid\n"
    "--interval=seconds\thow often the poll backend scans\n"
    "--rescan=seconds\tscan this often too, for writes no event reports\n"
    "--ready-fd=fd\twrite a line to fd once every root is watched\n"
    "--stats-fd=fd\twrite the events counted to fd, once a second\n"
    "--check\tcheck the options and exit 0, or 2\n"
    "--help, --version\tthis, or the version";

static void __dead2
usage(void)
{
	iobs_usage(stderr, synopsis);
	exit(2);
}

static size_t
parse_size(const char *s)
{
	char num[32], *end;
	unsigned long long mult = 1;
	const char *errstr;
	long long n;
	size_t len = strlen(s);

	if (len == 0 || len >= sizeof(num))
		errx(2, "--buffer %s: not a size (try 64M)", s);
	memcpy(num, s, len + 1);
	end = num + len - 1;
	switch (*end) {
	case 'k': case 'K': mult = 1024; break;
	case 'm': case 'M': mult = 1024 * 1024; break;
	case 'g': case 'G': mult = 1024 * 1024 * 1024; break;
	}
	if (mult != 1)
		*end = '\0';
	n = strtonum(num, 1, LLONG_MAX / (long long)mult, &errstr);
	if (errstr != NULL)
		errx(2, "--buffer %s: size is %s (try 64M)", s, errstr);
	if ((unsigned long long)n * mult < 4096)
		errx(2, "--buffer %s: too small (at least 4K)", s);
	return n * mult;
}

static void
parse_events(const char *s, uint32_t *mask)
{
	const char *bad;
	size_t len;

	if (iobs_events_select(s, mask, &bad) == -1) {
		len = strcspn(bad, ",");
		errx(2, "-e %s: %.*s is not an event (see iobs-watch(1) for "
		    "the names)", s, (int)len, bad);
	}
}

/* Seconds with up to three decimals, as in iobs.conf(5). */
static int
parse_interval(const char *opt, const char *s)
{
	char ipart[16];
	const char *dot = strchr(s, '.'), *errstr, *d;
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	long long ms;
	int scale = 100;

	if (ilen == 0 || ilen >= sizeof(ipart))
		errx(2, "%s %s: not a number of seconds (try 2)", opt, s);
	memcpy(ipart, s, ilen);
	ipart[ilen] = '\0';
	ms = strtonum(ipart, 0, 86400, &errstr);
	if (errstr != NULL)
		errx(2, "%s %s: seconds are %s (try 2)", opt, s, errstr);
	ms *= 1000;
	if (dot != NULL) {
		if (dot[1] == '\0' || strlen(dot + 1) > 3)
			errx(2, "%s %s: at most three decimals", opt, s);
		for (d = dot + 1; *d; d++, scale /= 10) {
			if (*d < '0' || *d > '9')
				errx(2, "%s %s: not a number of "
				    "seconds (try 2)", opt, s);
			ms += (*d - '0') * scale;
		}
	}
	if (ms < 10)
		errx(2, "%s %s: too short (at least 0.01)", opt, s);
	return ms;
}

/* --ignore-pid, --ignore-pgid: a process or group, by number. */
static pid_t
parse_id(const char *opt, const char *what, const char *s)
{
	const char *errstr;
	pid_t id;

	id = strtonum(s, 1, INT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "%s %s: %s is %s", opt, s, what, errstr);
	return id;
}

static void compat_say(const struct watcher *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void compat_fail(const char *, ...) __dead2
    __attribute__((format(printf, 1, 2)));

/* The root as the watcher keeps it: absolute, and "" for "/". */
static char *
absolute(const char *arg)
{
	char cwd[PATH_MAX], *path;

	if (arg[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
		err(1, "getcwd");
	path = iobs_path_absolute(arg[0] == '/' ? "" : cwd, arg);
	if (strcmp(path, "/") == 0)
		path[0] = '\0';
	return path;
}

static void
add_roots(struct watcher *w, int argc, char **argv)
{
	struct stat st;
	const char *given;
	size_t len;
	int i, j;

	if ((w->roots = calloc(argc, sizeof(*w->roots))) == NULL)
		err(1, "calloc");
	for (i = 0; i < argc; i++) {
		struct root *r = &w->roots[i];

		r->path = absolute(argv[i]);
		r->pathlen = strlen(r->path);
		if ((w->nofollow ? lstat(r->pathlen ? r->path : "/", &st) :
		    stat(r->pathlen ? r->path : "/", &st)) == -1) {
			if (w->compat == COMPAT_NONE)
				err(1, "%s", argv[i]);
			compat_say(w, "Couldn't watch %s: %s\n", argv[i],
			    strerror(errno));
			exit(1);
		}
		if ((r->vis = malloc(IOBS_VIS_MAX(r->pathlen) + 1)) == NULL)
			err(1, "malloc");
		r->vislen = r->pathlen ? iobs_vis(r->vis, r->path, r->pathlen) :
		    strlcpy(r->vis, "/", 2);
		/*
		 * inotifywait's %w: as typed, a directory with its slash;
		 * fsnotifywait's: absolute, and a file's directory, the
		 * file's name its %f.
		 */
		given = w->fanpaths ? r->pathlen ? r->path : "/" : argv[i];
		len = strlen(given);
		if ((r->given = malloc(len + 2)) == NULL)
			err(1, "malloc");
		memcpy(r->given, given, len + 1);
		if (S_ISDIR(st.st_mode) && given[len - 1] != '/')
			strlcpy(r->given + len++, "/", 2);
		r->givenlen = r->givenname = len;
		if (w->fanpaths && !S_ISDIR(st.st_mode))
			r->givenname = strrchr(r->given, '/') + 1 - r->given;
		for (j = 0; j < i; j++) {
			const struct root *o = &w->roots[j];
			const struct root *in = o->pathlen < r->pathlen ? o : r;
			const struct root *out = in == o ? r : o;

			if (strncmp(in->path, out->path, in->pathlen) == 0 &&
			    (out->path[in->pathlen] == '/' ||
			    out->path[in->pathlen] == '\0'))
				errx(2, "%s: inside %s, which is watched "
				    "already; give only the outer one",
				    out->vis, in->vis);
		}
		r->alive = 1;
		r->isfile = !S_ISDIR(st.st_mode);
		if (w->gi != NULL)
			iobs_gi_add_root(w->gi, r->path);
		r->follow_wd = -1;
	}
	w->nroots = w->nalive = argc;
}

/* A walk holds a descriptor per directory level: allow deep trees. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The buffer is touched only as far as reads fill it: keep them small. */
static size_t
read_size(const struct watcher *w)
{
	return w->be->readmax != 0 ? w->be->readmax : READ_SIZE;
}

static void
read_events(struct watcher *w, char *buf)
{
	ssize_t n;

	n = read(w->ifd, buf, read_size(w));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		err(1, "%s read", w->be->name);
	}
	gettimeofday(&w->now, NULL);
	ignore_read(&w->ign);
	w->be->dispatch(w, buf, n);
}

/*
 * The kernel sends a root's DELETE_SELF only once nobody holds the
 * directory any more, and iobs-mirror holds its source root open: a
 * root whose path is gone, or names another file, is dead now.
 */
static void
check_roots(struct watcher *w)
{
	struct root *r;
	struct stat st;
	int i;

	for (i = 0; i < w->nroots; i++) {
		r = &w->roots[i];
		if (!r->alive || !r->announced || r->waiting)
			continue;
		if (stat(r->pathlen ? r->path : "/", &st) == 0 ?
		    st.st_dev == r->dev && st.st_ino == r->ino :
		    errno != ENOENT && errno != ENOTDIR)
			continue;
		gettimeofday(&w->now, NULL);
		root_dead(w, i);
	}
}

/*
 * --stats-fd: "EVENTS SECONDS.MICROSECONDS", the events written so far
 * and the time of the last, once a tick when it changed; a reader that
 * is behind loses a line, not the watcher's time; one that is gone
 * ends them.
 */
static void
stats_report(struct watcher *w)
{
	char line[64];
	int n;

	if (w->stats_fd == -1 || w->nevents == w->nsent)
		return;
	n = snprintf(line, sizeof(line), "%llu %lld.%06ld\n", w->nevents,
	    (long long)w->last_event.tv_sec, (long)w->last_event.tv_usec);
	if (write(w->stats_fd, line, n) == n)
		w->nsent = w->nevents;
	else if (errno != EAGAIN) {
		close(w->stats_fd);
		w->stats_fd = -1;
	}
}

static void
coalesce(struct watcher *w, ssize_t got)
{
	static struct timeval last;
	static const struct timespec wait = { 0, STORM_WAIT_US * 1000 };
	long long gap;

	gap = (w->now.tv_sec - last.tv_sec) * 1000000LL +
	    (w->now.tv_usec - last.tv_usec);
	last = w->now;
	if (gap < STORM_GAP_US && (size_t)got < STORM_BATCH)
		(void)nanosleep(&wait, NULL);
}

/*
 * Events were lost: start over from the disk. The main loop alone
 * does it, once the reader has caught up.
 */
static void
watch_rebuild(struct watcher *w)
{
	int i, more;

	w->be->close(w);
	w->dropping = 0;
	w->be->open(w);
	for (i = 0; i < w->nroots; i++) {
		/* A file root waiting for its path: follow.c brings it. */
		if (!w->roots[i].alive || w->roots[i].waiting)
			continue;
		if (w->be->root(w, i) == -1) {
			if (!w->quiet)
				warn("%s", w->roots[i].vis);
			root_dead(w, i);
		}
	}
	mounts_start(w);
	more = w->be->learn != NULL && w->be->learn(w, LEARN_BUDGET);
	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive)
			emit_lifecycle(w, IOBS_WATCH_INIT, i);
	if (more) {
		flush_or_exit(w, !w->out.nonblock);
		w->be->learn(w, 0);
	}
}

static void
run(struct watcher *w, int wakefd)
{
	static char buf[READ_SIZE] __attribute__((aligned(8)));
	struct pollfd pfd[5];
	int64_t checked = now_ms(), scanned = now_ms();
	int timeout, ready;
	size_t mark;
	ssize_t n;

	while (w->nalive > 0 && !w->stop) {
		if (w->timeout_ms > 0 && now_ms() >= w->deadline) {
			w->timed_out = 1;
			break;
		}
		/*
		 * Events lost: say so, and stop watching. The one place
		 * the backend is dropped; nothing below tears it down.
		 */
		if (w->lost) {
			gettimeofday(&w->now, NULL);
			w->lost = 0;
			emit_all(w, IOBS_OVERFLOW);
			w->be->close(w);
			flush_or_exit(w, !w->out.nonblock);
			continue;
		}
		/*
		 * Caught up after an OVERFLOW: watch again. Here, not after
		 * poll(2): the buffer may drain anywhere, and the tick's
		 * signal interrupts a poll with nothing else to wait for.
		 */
		if (w->dropping && w->out.bytes == 0) {
			gettimeofday(&w->now, NULL);
			watch_rebuild(w);
			flush_or_exit(w, !w->out.nonblock);
			continue;
		}
		if (now_ms() - checked >= ROOT_CHECK_MS) {
			check_roots(w);
			mounts_check(w);
			flush_or_exit(w, !w->out.nonblock);
			stats_report(w);
			checked = now_ms();
			continue;
		}
		if (w->rescan && !w->dropping &&
		    now_ms() - scanned >= w->interval_ms) {
			gettimeofday(&w->now, NULL);
			mounts_check(w);
			mark = w->be->scan_start ? w->be->scan_start(w) : 0;
			scan_all(w);
			if (w->be->scan_done)
				w->be->scan_done(w, mark);
			flush_or_exit(w, !w->out.nonblock);
			scanned = now_ms();
			continue;
		}
		if (w->stash.len > 0) {
			gettimeofday(&w->now, NULL);
			stash_dispatch(w);
			flush_or_exit(w, !w->out.nonblock);
			continue;
		}
		/* Nothing to write and nothing timed: just read. */
		if (w->out.bytes == 0 && w->npending == 0 && !w->dropping &&
		    w->followfd == -1) {
			if ((n = signals_read(w, buf, read_size(w))) == -2) {
				if (signals_take(w))
					break;
				flush_or_exit(w, !w->out.nonblock);
				continue;
			}
			if (n == -1) {
				if (errno == EINTR)
					continue;
				err(1, "%s read", w->be->name);
			}
			gettimeofday(&w->now, NULL);
			ignore_read(&w->ign);
			w->be->dispatch(w, buf, n);
			flush_or_exit(w, !w->out.nonblock);
			coalesce(w, n);
			continue;
		}
		pfd[0].fd = w->ifd;
		pfd[0].events = POLLIN;
		pfd[1].fd = wakefd;
		pfd[1].events = POLLIN;
		pfd[2].fd = w->out.fd;
		pfd[2].events = POLLOUT;
		if (w->out.bytes == 0 || !w->out.nonblock)
			pfd[2].fd = -1;
		pfd[3].fd = w->followfd;
		pfd[3].events = POLLIN;
		pfd[4].fd = w->mounts.fd;
		pfd[4].events = POLLPRI;
		timeout = w->npending > 0 ? PENDING_MS : ROOT_CHECK_MS;
		if (w->timeout_ms > 0 && timeout > TIMEOUT_TICK_MS)
			timeout = TIMEOUT_TICK_MS;
		if (w->rescan && timeout > w->interval_ms)
			timeout = w->interval_ms;
		if ((ready = poll(pfd, 5, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (ready == 0)
			pending_expire(w);
		if ((pfd[1].revents & POLLIN) && signals_take(w))
			break;
		if (pfd[0].revents & POLLIN)
			read_events(w, buf);
		if (pfd[3].revents & POLLIN) {
			gettimeofday(&w->now, NULL);
			follow_read(w);
		}
		if (pfd[4].revents & (POLLPRI | POLLERR))
			mounts_changed(w);
		if (pfd[2].revents & (POLLERR | POLLHUP))
			exit(0);	/* the reader went away */
		flush_or_exit(w, !w->out.nonblock);
	}
	gettimeofday(&w->now, NULL);
	emit_all(w, IOBS_WATCH_DEAD);
	flush_or_exit(w, 1);
}

/* The stream's header, and which backend makes it. */
static void
header(struct watcher *w)
{
	char line[64];
	int len;

	len = snprintf(line, sizeof(line), "%s# backend %s\n",
	    IOBS_STREAM_HEADER, w->be->name);
	memcpy(outq_reserve(&w->out, len), line, len);
	outq_commit(&w->out, len);
}

/* What the options ask for, before the watcher is set up. */
struct opts {
	size_t		 limit;
	int		 ready_fd;
	int		 monitor, recursive, json, no_newline;
	int		 csv, daemon, filesystem;	/* compat's -c -d -S */
	const char	*format, *timefmt, *outfile;
	const char	*backend;	/* --backend: auto, or one by name */
	struct pathlist	 paths, excludes;
};

/* A POSIX extended regular expression on %w%f; regcomp's code. */
static int
add_regex_rc(struct regex_list *l, const char *pattern, int icase,
    char *why, size_t whylen)
{
	regex_t *re;
	int rc;

	if ((re = reallocarray(l->re, l->n + 1, sizeof(*re))) == NULL)
		err(1, "reallocarray");
	l->re = re;
	rc = regcomp(&re[l->n], pattern, REG_EXTENDED | REG_NOSUB |
	    (icase ? REG_ICASE : 0));
	if (rc != 0)
		regerror(rc, &re[l->n], why, whylen);
	else
		l->n++;
	return rc;
}

static void
add_regex(struct regex_list *l, const char *opt, const char *pattern,
    int icase)
{
	char why[256];

	if (add_regex_rc(l, pattern, icase, why, sizeof(why)) != 0)
		errx(2, "%s %s: %s", opt, pattern, why);
}

static int
add_regex_ok(struct regex_list *l, const char *pattern, int icase)
{
	char why[256];

	return add_regex_rc(l, pattern, icase, why, sizeof(why)) ? -1 : 0;
}

static void
free_regex(struct regex_list *l)
{
	regex_t *re = l->re;
	size_t i;

	for (i = 0; i < l->n; i++)
		regfree(&re[i]);
	free(re);
}

static void
read_fromfile(struct opts *o, const char *file)
{
	FILE *fp = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");

	if (fp == NULL)
		err(1, "--fromfile %s", file);
	if (pathlist_read(fp, &o->paths, &o->excludes) == -1)
		err(1, "--fromfile %s", file);
	if (fp != stdin)
		fclose(fp);
}

/* fnmatch(3)'s special characters in a path, escaped. */
static char *
glob_quote(const char *s)
{
	char *q, *d;

	if ((q = d = malloc(2 * strlen(s) + 2)) == NULL)
		err(1, "malloc");
	*d++ = '/';
	for (; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*d++ = '\\';
		*d++ = *s;
	}
	*d = '\0';
	return q;
}

/*
 * "@path": excluded, with all below it, as an anchored glob for the
 * root it lies in.
 */
static void
add_path_excludes(struct watcher *w, const struct pathlist *ex)
{
	char *abs, *glob;
	size_t i, len;
	int j;

	for (i = 0; i < ex->n; i++) {
		abs = absolute(ex->path[i]);
		for (j = 0; j < w->nroots; j++) {
			len = w->roots[j].pathlen;
			if (strncmp(abs, w->roots[j].path, len) != 0 ||
			    abs[len] != '/')
				continue;
			glob = glob_quote(abs + len + 1);
			iobs_exclude_add(&w->exclude, glob);
			free(glob);
		}
		free(abs);
	}
}

/*
 * Under the name inotifywait or fsnotifywait (or --compat=), the
 * options, messages and exit statuses are those of inotify-tools
 * 3.22: an option error is exit 1 with its own line, not usage.
 */
static const struct {
	const char	*name;
	int		 compat;
} compat_names[] = {
	{ "inotifywait",	COMPAT_INOTIFYWAIT },
	{ "iobs-inotifywait",	COMPAT_INOTIFYWAIT },
	{ "fsnotifywait",	COMPAT_FSNOTIFYWAIT },
	{ "iobs-fsnotifywait",	COMPAT_FSNOTIFYWAIT },
};

static int
compat_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(compat_names) / sizeof(compat_names[0]); i++)
		if (strcmp(name, compat_names[i].name) == 0)
			return compat_names[i].compat;
	return COMPAT_NONE;
}

/* The tool to act as: argv[0]'s name, or --compat=NAME, taken out. */
static int
compat_mode(int *argc, char *argv[])
{
	const char *base = strrchr(argv[0], '/');
	int i, c = compat_lookup(base ? base + 1 : argv[0]);

	for (i = 1; i < *argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--compat=", 9) != 0)
			continue;
		if ((c = compat_lookup(argv[i] + 9)) == COMPAT_NONE)
			errx(2, "%s: not a tool to act as (inotifywait or "
			    "fsnotifywait)", argv[i]);
		memmove(&argv[i], &argv[i + 1], (*argc - i) * sizeof(*argv));
		(*argc)--;
		i--;
	}
	return c;
}

/* What inotifywait says on stderr, or to syslog with -s or -d. */
static void
compat_say(const struct watcher *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (w->syslog)
		vsyslog(LOG_INFO, fmt, ap);
	else
		vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void __dead2
compat_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(1);
}

/* inotifywait's -t: a whole number, its two messages. */
static void
compat_timeout(struct watcher *w, const char *s)
{
	char *end;
	long n;

	if (*s == '\0')
		compat_fail("The provided value is not a valid timeout "
		    "value.\nPlease specify a long int value.\n");
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0)
		compat_fail("Something went wrong with the timeout value you "
		    "provided.\n%s\n", strerror(errno));
	if (*end != '\0')
		compat_fail("'%s' is not a valid timeout value.\nPlease "
		    "specify a long int value.\n", s);
	/* inotifywait keeps it in an unsigned int: -1 is forever too. */
	w->timeout_ms = n > 0 && n <= INT_MAX / 1000 ? n * 1000LL : 0;
}

static void
compat_parse(struct watcher *w, struct opts *o, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",		no_argument,		NULL, 'h' },
		{ "event",		required_argument,	NULL, 'e' },
		{ "monitor",		no_argument,		NULL, 'm' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ "filename",		no_argument,		NULL, 'f' },
		{ "recursive",		no_argument,		NULL, 'r' },
		{ "inotify",		no_argument,		NULL, 'I' },
		{ "fanotify",		no_argument,		NULL, 'F' },
		{ "filesystem",		no_argument,		NULL, 'S' },
		{ "csv",		no_argument,		NULL, 'c' },
		{ "daemon",		no_argument,		NULL, 'd' },
		{ "syslog",		no_argument,		NULL, 's' },
		{ "no-dereference",	no_argument,		NULL, 'P' },
		{ "format",		required_argument,	NULL, 'n' },
		{ "no-newline",		no_argument,		NULL, '0' },
		{ "timefmt",		required_argument,	NULL, 'i' },
		{ "fromfile",		required_argument,	NULL, 'z' },
		{ "outfile",		required_argument,	NULL, 'o' },
		{ "exclude",		required_argument,	NULL, 'a' },
		{ "excludei",		required_argument,	NULL, 'b' },
		{ "include",		required_argument,	NULL, 'j' },
		{ "includei",		required_argument,	NULL, 'k' },
		{ NULL,			0,			NULL, 0 }
	};
	const char *ex = NULL, *exi = NULL, *in = NULL, *ini = NULL;
	const char *fromfile = NULL, *bad;
	int ch, i, nex = 0, nexi = 0;
	FILE *fp;

	o->backend = w->compat == COMPAT_FSNOTIFYWAIT ? "fanotify" : "inotify";
	while ((ch = getopt_long(argc, argv, "mrhcdsPqt:fo:e:IFS", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			iobs_usage(stdout, compat_synopsis);
			exit(1);
		case 'm':
			o->monitor = 1;
			break;
		case 'q':
			w->quiet++;
			break;
		case 'r':
			o->recursive = 1;
			break;
		case 'I':
			o->backend = "inotify";
			break;
		case 'F':
			o->backend = "fanotify";
			break;
		case 'S':
			o->backend = "fanotify";
			o->filesystem = 1;
			break;
		case 'c':
			o->csv = 1;
			break;
		case 'd':
			o->daemon = o->monitor = w->syslog = 1;
			break;
		case 's':
			w->syslog = 1;
			break;
		case 'P':
			w->nofollow = 1;
			break;
		case 'f':
			compat_fail("The '--filename' option no longer exists.  "
			    "The option it enabled in earlier\nversions of "
			    "inotifywait is now turned on by default.\n");
		case 'n':
			o->format = optarg;
			break;
		case '0':
			o->no_newline = 1;
			break;
		case 'i':
			o->timefmt = optarg;
			break;
		case 'a':
			ex = optarg;
			nex++;
			break;
		case 'b':
			exi = optarg;
			nexi++;
			break;
		case 'j':
			in = optarg;
			break;
		case 'k':
			ini = optarg;
			break;
		case 'z':
			if (fromfile != NULL)
				compat_fail("Multiple --fromfile options "
				    "given.\n");
			fromfile = optarg;
			break;
		case 'o':
			if (o->outfile != NULL)
				compat_fail("Multiple --outfile options "
				    "given.\n");
			o->outfile = optarg;
			break;
		case 't':
			compat_timeout(w, optarg);
			break;
		case 'e':
			if (iobs_events_select(optarg, &w->print_mask,
			    &bad) == -1)
				compat_fail("'%s' is not a valid event!  Run "
				    "with the '--help' option to see a list "
				    "of events.\n", optarg);
			break;
		default:
			exit(1);	/* getopt(3) said why */
		}
	}
	if (ex != NULL && exi != NULL)
		compat_fail("--exclude and --excludei cannot both be "
		    "specified.\n");
	if (in != NULL && ini != NULL)
		compat_fail("--include and --includei cannot both be "
		    "specified.\n");
	if ((in != NULL || ini != NULL) && (ex != NULL || exi != NULL))
		compat_fail("include and exclude regexp cannot both be "
		    "specified.\n");
	if (o->format != NULL && o->csv)
		compat_fail("-c and --format cannot both be specified.\n");
	if (o->format == NULL && o->no_newline)
		compat_fail("--no-newline cannot be specified without "
		    "--format.\n");
	if (o->format == NULL && o->timefmt != NULL)
		compat_fail("--timefmt cannot be specified without "
		    "--format.\n");
	if (o->format != NULL && strstr(o->format, "%T") != NULL &&
	    o->timefmt == NULL)
		compat_fail("%%T is in --format string, but --timefmt was not "
		    "specified.\n");
	if (o->daemon && o->outfile == NULL)
		compat_fail("-o must be specified with -d.\n");
	if (nex > 1)
		fprintf(stderr, "--exclude: only the last option will be "
		    "taken into consideration.\n");
	if (nexi > 1)
		fprintf(stderr, "--excludei: only the last option will be "
		    "taken into consideration.\n");
	/* Regular expressions inotifywait would refuse: its own line. */
	if ((ex != NULL || exi != NULL) && add_regex_ok(&w->exclude_re,
	    ex ? ex : exi, exi != NULL) == -1)
		compat_fail("Error in `exclude' regular expression.\n");
	if ((in != NULL || ini != NULL) && add_regex_ok(&w->include_re,
	    in ? in : ini, ini != NULL) == -1)
		compat_fail("Error in `include' regular expression.\n");
	if (fromfile != NULL) {
		fp = strcmp(fromfile, "-") == 0 ? stdin :
		    fopen(fromfile, "r");
		if (fp == NULL)
			fprintf(stderr, "Couldn't open %s: %s\n", fromfile,
			    strerror(errno));
		else {
			if (pathlist_read(fp, &o->paths, &o->excludes) == -1)
				compat_fail("%s: %s\n", fromfile,
				    strerror(errno));
			if (fp != stdin)
				fclose(fp);
		}
	}
	for (i = optind; i < argc; i++)
		pathlist_take(&o->paths, &o->excludes, argv[i]);
	if (o->paths.n == 0)
		compat_fail("No files specified to watch!\n");
	w->recursive = o->recursive;
	w->oneshot = !o->monitor;
	w->fanpaths = strcmp(o->backend, "fanotify") == 0;
}

/*
 * Before the roots: -d's daemon, -o's file, -s's log, and the first
 * message; as inotifywait, in its order and words.
 */
static void
compat_start(struct watcher *w, struct opts *o)
{
	char *file = NULL;
	int fd;

	if (o->daemon) {
		if ((file = realpath(o->outfile, NULL)) == NULL)
			compat_fail("%s: %s\n", strerror(errno), o->outfile);
		if (daemon(0, 0) == -1)
			compat_fail("Failed to daemonize!\n");
	}
	if (o->outfile != NULL) {
		fd = open(file ? file : o->outfile, O_WRONLY | O_CREAT |
		    O_APPEND | O_CLOEXEC, 0600);
		if (fd == -1)
			compat_fail("Failed to open output file %s\n",
			    file ? file : o->outfile);
		if (dup2(fd, STDOUT_FILENO) == -1)
			err(1, "dup2");
		close(fd);
	}
	free(file);
	/* daemon(3) sent stderr to /dev/null already. */
	if (w->syslog)
		openlog(program_invocation_short_name, LOG_CONS | LOG_PID |
		    LOG_NDELAY, LOG_DAEMON);
	if (w->quiet)
		return;
	if (o->filesystem)
		compat_say(w, "Setting up filesystem watches.\n");
	else if (o->recursive)
		compat_say(w, "Setting up watches.  Beware: since -r was "
		    "given, this may take a while!\n");
	else
		compat_say(w, "Setting up watches.\n");
}

/*
 * Its exit status when no -t ran out: 0 after an event, 1 when every
 * watched path went away first. inotifywait says nothing then (and
 * under -m waits for ever): this says why.
 */
static int
compat_end(struct watcher *w)
{
	if (w->oneshot && w->nevents > 0)
		return 0;
	if (w->nalive == 0 && !w->quiet)
		compat_say(w, "%s: %s\n", program_invocation_short_name,
		    w->nroots == 1 ? "the watched path is gone; nothing left "
		    "to watch" : "every watched path is gone; nothing left "
		    "to watch");
	return 1;
}

/* A descriptor given to an option: 3 or more. */
static int
parse_fd(const char *opt, const char *arg)
{
	const char *errstr;
	int fd;

	fd = strtonum(arg, 3, INT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "%s %s: descriptor is %s", opt, arg, errstr);
	return fd;
}

static void
parse_options(struct watcher *w, struct opts *o, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "backend",		required_argument,	NULL, 'B' },
		{ "buffer",		required_argument,	NULL, 'b' },
		{ "event",		required_argument,	NULL, 'e' },
		{ "exclude-glob",	required_argument,	NULL, 'x' },
		{ "exclude-from",	required_argument,	NULL, 'U' },
		{ "gitignore",		no_argument,		NULL, 'H' },
		{ "exclude",		required_argument,	NULL, 'X' },
		{ "excludei",		required_argument,	NULL, 'Y' },
		{ "ignore-fd",		required_argument,	NULL, 'K' },
		{ "ignore-pgid",	required_argument,	NULL, 'g' },
		{ "ignore-pid",		required_argument,	NULL, 'G' },
		{ "include",		required_argument,	NULL, 'I' },
		{ "includei",		required_argument,	NULL, 'J' },
		{ "format",		required_argument,	NULL, 'F' },
		{ "fromfile",		required_argument,	NULL, 'Z' },
		{ "interval",		required_argument,	NULL, 'W' },
		{ "json",		no_argument,		NULL, 'j' },
		{ "monitor",		no_argument,		NULL, 'm' },
		{ "no-newline",		no_argument,		NULL, 'N' },
		{ "no-recursive",	no_argument,		NULL, 'n' },
		{ "noleaf",		no_argument,		NULL, 'L' },
		{ "outfile",		required_argument,	NULL, 'o' },
		{ "pid",		no_argument,		NULL, 'P' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "ready-fd",		required_argument,	NULL, 'R' },
		{ "recursive",		no_argument,		NULL, 'r' },
		{ "rescan",		required_argument,	NULL, 'E' },
		{ "timefmt",		required_argument,	NULL, 'T' },
		{ "timeout",		required_argument,	NULL, 't' },
		{ "stats-fd",		required_argument,	NULL, 'S' },
		{ NULL,			0,			NULL, 0 }
	};
	const char *errstr;
	char why[256];
	int ch, i, secs;

	/* Our own messages, prog: thing: what is wrong, not getopt's. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":1b:e:mno:qrt:x:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'B':
			o->backend = backend_check(optarg);
			break;
		case '1':
			w->oneshot = 1;
			break;
		case 'b':
			o->limit = parse_size(optarg);
			break;
		case 'e':
			parse_events(optarg, &w->print_mask);
			break;
		case 'F':
			o->format = optarg;
			break;
		case 'I':
		case 'J':
			add_regex(&w->include_re, ch == 'I' ? "--include" :
			    "--includei", optarg, ch == 'J');
			break;
		case 'j':
			o->json = 1;
			break;
		case 'G':
			ignore_add_pid(&w->ign,
			    parse_id("--ignore-pid", "pid", optarg));
			break;
		case 'g':
			ignore_add_pgid(&w->ign,
			    parse_id("--ignore-pgid", "process group",
			    optarg));
			break;
		case 'K':
			w->ign.fd = parse_fd("--ignore-fd", optarg);
			break;
		case 'L':
			w->noleaf = 1;
			break;
		case 'm':
			o->monitor = 1;
			break;
		case 'N':
			o->no_newline = 1;
			break;
		case 'n':
			w->recursive = 0;
			break;
		case 'o':
			o->outfile = optarg;
			break;
		case 'P':
			w->print_pid = 1;
			break;
		case 'q':
			w->quiet++;
			break;
		case 'R':
			o->ready_fd = parse_fd("--ready-fd", optarg);
			break;
		case 'r':
			o->recursive = 1;
			break;
		case 'T':
			o->timefmt = optarg;
			break;
		case 't':
			secs = strtonum(optarg, 0, INT_MAX / 1000, &errstr);
			if (errstr != NULL)
				errx(2, "-t %s: seconds is %s", optarg, errstr);
			w->timeout_ms = secs * 1000LL;
			break;
		case 'W':
			w->interval_ms = parse_interval("--interval", optarg);
			break;
		case 'E':
			w->interval_ms = parse_interval("--rescan", optarg);
			w->rescan = 1;
			break;
		case 'X':
		case 'Y':
			add_regex(&w->exclude_re, ch == 'X' ? "--exclude" :
			    "--excludei", optarg, ch == 'Y');
			break;
		case 'x':
			iobs_exclude_add(&w->exclude, optarg);
			break;
		case 'U':
			if (w->gi == NULL)
				w->gi = iobs_gi_new(0);
			if (iobs_gi_add_file(w->gi, optarg) == -1)
				err(2, "--exclude-from %s", optarg);
			break;
		case 'H':
			if (w->gi == NULL)
				w->gi = iobs_gi_new(0);
			iobs_gi_set_perdir(w->gi);
			break;
		case 'Z':
			read_fromfile(o, optarg);
			break;
		case 'S':
			w->stats_fd = parse_fd("--stats-fd", optarg);
			break;
		default:
			iobs_getopt_error(ch, argv, why, sizeof(why));
			warnx("%s", why);
			usage();
		}
	}
	for (i = optind; i < argc; i++)
		pathlist_take(&o->paths, &o->excludes, argv[i]);
	if (o->paths.n == 0) {
		warnx("no path to watch");
		usage();
	}
	if (o->json && o->format != NULL)
		errx(2, "--json and --format: choose one");
	if (o->timefmt != NULL && o->format == NULL)
		errx(2, "--timefmt without --format");
	if (o->no_newline && o->format == NULL)
		errx(2, "--no-newline without --format");
}

/* What a stream reports by default: what changes the tree. */
#define CHANGES	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | \
		 IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
		 IN_MOVE_SELF)

/* The output the options chose, and its format. */
static void
set_output(struct watcher *w, const struct opts *o)
{
	const char *why;
	char *spec;
	size_t len;

	if (w->compat != COMPAT_NONE) {
		if (o->csv) {
			w->output = OUT_CSV;
			return;
		}
		w->output = OUT_LINES;
		/*
		 * inotifywait appends the newline to the text, so a
		 * trailing % is a literal, and %p is no conversion.
		 */
		if (o->format == NULL)
			spec = strdup("%w %,e %f\n");
		else if (asprintf(&spec, "%s%s", o->format,
		    o->no_newline ? "" : "\n") == -1)
			spec = NULL;
		if (spec == NULL)
			err(1, "malloc");
		len = strlen(spec);
		if (len > 0 && spec[len - 1] == '%' &&
		    (len < 2 || spec[len - 2] != '%'))
			spec[len - 1] = '\0';
		if (fmt_compile(&w->fmt, spec, FMT_NO_NEWLINE | FMT_NO_PID,
		    &why) == -1)
			compat_fail("Something is wrong with your format "
			    "string.\n");
		free(spec);
		w->fmt.timefmt = o->timefmt;
		return;
	}
	if (o->json)
		w->output = OUT_JSON;
	else if (o->format != NULL || o->monitor) {
		w->output = OUT_LINES;
		/* inotifywait's own lines: %w %,e %f. */
		if (fmt_compile(&w->fmt, o->format ? o->format : "%w %,e %f",
		    o->no_newline ? FMT_NO_NEWLINE : 0, &why) == -1)
			errx(2, "--format %s: %s", o->format, why);
		if (w->fmt.has_time && o->timefmt == NULL)
			errx(2, "--format %s: %%T without --timefmt",
			    o->format);
		w->fmt.timefmt = o->timefmt;
	}
}

/* -o: the records go to file, appended, instead of standard output. */
static void
open_outfile(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd == -1)
		err(1, "-o %s", file);
	if (dup2(fd, STDOUT_FILENO) == -1)
		err(1, "dup2");
	close(fd);
}

/* What the options leave as they are. */
static void
defaults(struct watcher *w, struct opts *o)
{
	ignore_init(&w->ign);
	w->recursive = 1;
	w->stats_fd = -1;
	w->followfd = -1;
	w->mounts.fd = -1;
	w->interval_ms = DEFAULT_INTERVAL_MS;
	o->limit = DEFAULT_BUFFER;
	o->backend = "auto";
	o->ready_fd = -1;
}

/* What parsing the options took. */
static void
options_free(struct watcher *w, struct opts *o)
{
	iobs_gi_free(w->gi);
	iobs_exclude_free(&w->exclude);
	free_regex(&w->exclude_re);
	free_regex(&w->include_re);
	fmt_free(&w->fmt);
	pathlist_free(&o->paths);
	pathlist_free(&o->excludes);
	ignore_free(&w->ign);
}

/*
 * The roots watched, each one's WATCH_INIT out, readiness said: the
 * signals' wake-up descriptor for the main loop.
 */
static int
watch_start(struct watcher *w, struct opts *o)
{
	size_t mark;
	int i, wakefd, more;

	add_roots(w, o->paths.n, o->paths.path);
	add_path_excludes(w, &o->excludes);
	emit_init_roots(w);
	raise_fd_limit();
	outq_init(&w->out, STDOUT_FILENO, o->limit);
	tree_init(&w->tree);
	backend_start(w, o->backend);
	wakefd = signals_init(w, w->timeout_ms > 0 ? TIMEOUT_TICK_MS :
	    w->rescan && w->interval_ms < ROOT_CHECK_MS ? w->interval_ms :
	    ROOT_CHECK_MS);
	if (w->output == OUT_STREAM && w->quiet < 2)
		header(w);
	/* What inotifywait says on stderr, word for word: scripts wait for it. */
	if (w->output == OUT_LINES && !w->quiet && w->compat == COMPAT_NONE)
		fputs(o->recursive ? "Setting up watches.  Beware: since -r "
		    "was given, this may take a while!\n" :
		    "Setting up watches.\n", stderr);
	setup_begin(w);
	for (i = 0; i < w->nroots; i++) {
		if (w->be->root(w, i) == -1)
			err(1, "%s", w->roots[i].vis);
		follow_start(w, i);
		if (w->rescan) {
			mark = w->be->scan_start ? w->be->scan_start(w) : 0;
			scan_root(w, i, 0);
			if (w->be->scan_done)
				w->be->scan_done(w, mark);
		}
	}
	mounts_start(w);
	setup_end(w);
	more = w->be->learn != NULL && w->be->learn(w, LEARN_BUDGET);
	for (i = 0; i < w->nroots; i++) {
		gettimeofday(&w->now, NULL);
		emit_lifecycle(w, IOBS_WATCH_INIT, i);
		w->roots[i].announced = 1;
		flush_or_exit(w, !w->out.nonblock);
	}
	if ((w->output == OUT_LINES || w->output == OUT_CSV) && !w->quiet)
		compat_say(w, "Watches established.\n");
	/* Readiness, s6-style: a newline once every root is watched. */
	if (o->ready_fd != -1) {
		if (write(o->ready_fd, "\n", 1) != 1)
			warn("--ready-fd %d", o->ready_fd);
		close(o->ready_fd);
	}
	if (more)
		w->be->learn(w, 0);
#ifdef __GLIBC__
	/* What set-up freed (walk queues, outgrown tables) goes back. */
	malloc_trim(0);
#endif
	return wakefd;
}

static void
watch_free(struct watcher *w, struct opts *o)
{
	int i;

	w->be->free(w);
	mounts_free(w);
	scan_free(w);
	tree_clear(&w->tree);
	outq_free(&w->out);
	for (i = 0; i < w->nroots; i++) {
		free(w->roots[i].path);
		free(w->roots[i].vis);
		free(w->roots[i].given);
		free(w->roots[i].json);
	}
	free(w->roots);
	options_free(w, o);
	pathbuf_free(&w->path);
	pathbuf_free(&w->opath);
	pathbuf_free(&w->rel);
	pathbuf_free(&w->names);
	pathbuf_free(&w->stash);
	pathbuf_free(&w->deferred);
	signals_close();
	if (w->followfd != -1)
		close(w->followfd);
}

int
main(int argc, char *argv[])
{
	struct watcher w;
	struct opts o;
	int wakefd, check;

	memset(&w, 0, sizeof(w));
	memset(&o, 0, sizeof(o));
	if ((w.compat = compat_mode(&argc, argv)) != COMPAT_NONE) {
		/* getopt(3) and err(3) name the tool acted as. */
		if (compat_lookup(getprogname()) == COMPAT_NONE) {
			argv[0] = (char *)(w.compat == COMPAT_INOTIFYWAIT ?
			    "inotifywait" : "fsnotifywait");
			program_invocation_short_name = argv[0];
		}
		check = 0;
	} else {
		iobs_help_options(argc, argv, synopsis, options,
		    "iobs-watch(1)");
		check = iobs_check_mode(&argc, &argv);
	}
	defaults(&w, &o);
	if (w.compat != COMPAT_NONE)
		compat_parse(&w, &o, argc, argv);
	else
		parse_options(&w, &o, argc, argv);
	if (w.stats_fd != -1 && fcntl(w.stats_fd, F_SETFL, O_NONBLOCK) == -1)
		err(2, "--stats-fd %d", w.stats_fd);
	if (w.ign.fd != -1 && fcntl(w.ign.fd, F_SETFL, O_NONBLOCK) == -1)
		err(2, "--ignore-fd %d", w.ign.fd);
	/*
	 * The stream and --json report changes by default: a consumer's
	 * own reads of the tree (a mirror copying, in a shell pipeline on
	 * inotify, which cannot tell who read) are no news. Lines as
	 * inotifywait prints them report every event, as it does.
	 */
	if (w.print_mask == 0)
		w.print_mask = w.compat != COMPAT_NONE || o.monitor ||
		    o.format != NULL ? IN_ALL_EVENTS : CHANGES;
	w.kernel_mask = w.print_mask | BOOKKEEPING;
	set_output(&w, &o);
	/* --check: the options are good; nothing is watched or opened. */
	if (check) {
		options_free(&w, &o);
		return 0;
	}
	if (w.compat != COMPAT_NONE)
		compat_start(&w, &o);
	else if (o.outfile != NULL)
		open_outfile(o.outfile);
	wakefd = watch_start(&w, &o);
	w.deadline = now_ms() + w.timeout_ms;
	run(&w, wakefd);
	watch_free(&w, &o);
	/* -t: nothing came in time, inotifywait's 2. */
	if (w.timed_out)
		return 2;
	return w.compat != COMPAT_NONE ? compat_end(&w) : 0;
}
