/*
 * iobs-watch: watch directory trees with inotify and print every event
 * as an iobs-stream(5) record.
 */
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Always asked of the kernel: the directory map depends on them. */
#define BOOKKEEPING	(IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

static const char synopsis[] = "[-nq] [-b size] [-e event[,...]] "
    "[-x glob] [--backend name] [--ignore-pid pid] "
    "[--interval seconds] [--noleaf] [--pid] [--ready-fd fd] "
    "[--stats-fd fd] path ...";

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

static uint32_t
parse_events(const char *s)
{
	int mask = inotifytools_str_to_event_sep(s, ',');

	if (mask == -1 || mask == 0)
		errx(2, "-e %s: unknown event (see iobs-watch(1) for the "
		    "names)", s);
	return mask;
}

/* Seconds with up to three decimals, as in iobs.conf(5). */
static int
parse_interval(const char *s)
{
	char ipart[16];
	const char *dot = strchr(s, '.'), *errstr, *d;
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	long long ms;
	int scale = 100;

	if (ilen == 0 || ilen >= sizeof(ipart))
		errx(2, "--interval %s: not a number of seconds (try 2)", s);
	memcpy(ipart, s, ilen);
	ipart[ilen] = '\0';
	ms = strtonum(ipart, 0, 86400, &errstr);
	if (errstr != NULL)
		errx(2, "--interval %s: seconds are %s (try 2)", s, errstr);
	ms *= 1000;
	if (dot != NULL) {
		if (dot[1] == '\0' || strlen(dot + 1) > 3)
			errx(2, "--interval %s: at most three decimals", s);
		for (d = dot + 1; *d; d++, scale /= 10) {
			if (*d < '0' || *d > '9')
				errx(2, "--interval %s: not a number of "
				    "seconds (try 2)", s);
			ms += (*d - '0') * scale;
		}
	}
	if (ms < 10)
		errx(2, "--interval %s: too short (at least 0.01)", s);
	return ms;
}

static void
add_ignore_pid(struct watcher *w, const char *s)
{
	const char *errstr;
	pid_t pid;

	pid = strtonum(s, 1, INT_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "--ignore-pid %s: pid is %s", s, errstr);
	w->ignore_pid = reallocarray(w->ignore_pid, w->nignore + 1,
	    sizeof(*w->ignore_pid));
	if (w->ignore_pid == NULL)
		err(1, "reallocarray");
	w->ignore_pid[w->nignore++] = pid;
}

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
	int i, j;

	if ((w->roots = calloc(argc, sizeof(*w->roots))) == NULL)
		err(1, "calloc");
	for (i = 0; i < argc; i++) {
		struct root *r = &w->roots[i];

		r->path = absolute(argv[i]);
		r->pathlen = strlen(r->path);
		if (stat(r->pathlen ? r->path : "/", &st) == -1)
			err(1, "%s", argv[i]);
		if ((r->vis = malloc(IOBS_VIS_MAX(r->pathlen) + 1)) == NULL)
			err(1, "malloc");
		r->vislen = r->pathlen ? iobs_vis(r->vis, r->path, r->pathlen) :
		    strlcpy(r->vis, "/", 2);
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

static void
read_events(struct watcher *w, char *buf)
{
	ssize_t n;

	n = read(w->ifd, buf, READ_SIZE);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		err(1, "%s read", w->be->name);
	}
	gettimeofday(&w->now, NULL);
	w->be->dispatch(w, buf, n);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
		if (!r->alive || !r->announced)
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

static void
run(struct watcher *w, int wakefd)
{
	static char buf[READ_SIZE] __attribute__((aligned(8)));
	struct pollfd pfd[3];
	int64_t checked = now_ms(), scanned = now_ms();
	int timeout, ready;
	ssize_t n;

	while (w->nalive > 0) {
		if (now_ms() - checked >= ROOT_CHECK_MS) {
			check_roots(w);
			flush_or_exit(w, !w->out.nonblock);
			stats_report(w);
			checked = now_ms();
			continue;
		}
		if (w->rescan && !w->dropping &&
		    now_ms() - scanned >= w->interval_ms) {
			gettimeofday(&w->now, NULL);
			scan_all(w);
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
		if (w->out.bytes == 0 && w->npending == 0 && !w->dropping) {
			if ((n = signals_read(w, buf, READ_SIZE)) == -2) {
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
		timeout = w->npending > 0 ? PENDING_MS : ROOT_CHECK_MS;
		if (w->rescan && timeout > w->interval_ms)
			timeout = w->interval_ms;
		if ((ready = poll(pfd, 3, timeout)) == -1) {
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
		if (pfd[2].revents & (POLLERR | POLLHUP))
			exit(0);	/* the reader went away */
		flush_or_exit(w, !w->out.nonblock);
		if (w->dropping && w->out.bytes == 0) {
			gettimeofday(&w->now, NULL);
			watch_rebuild(w);
			flush_or_exit(w, !w->out.nonblock);
		}
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

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "backend",		required_argument,	NULL, 'B' },
		{ "buffer",		required_argument,	NULL, 'b' },
		{ "event",		required_argument,	NULL, 'e' },
		{ "exclude",		required_argument,	NULL, 'x' },
		{ "ignore-pid",		required_argument,	NULL, 'I' },
		{ "interval",		required_argument,	NULL, 'T' },
		{ "no-recursive",	no_argument,		NULL, 'n' },
		{ "noleaf",		no_argument,		NULL, 'L' },
		{ "pid",		no_argument,		NULL, 'P' },
		{ "quiet",		no_argument,		NULL, 'q' },
		{ "ready-fd",		required_argument,	NULL, 'R' },
		{ "stats-fd",		required_argument,	NULL, 'S' },
		{ NULL,			0,			NULL, 0 }
	};
	struct watcher w;
	size_t limit = DEFAULT_BUFFER;
	const char *errstr, *backend = "auto";
	int ch, i, wakefd, ready_fd = -1, check;

	iobs_help_version(argc, argv, synopsis);
	check = iobs_check_mode(&argc, &argv);
	memset(&w, 0, sizeof(w));
	w.recursive = 1;
	w.interval_ms = DEFAULT_INTERVAL_MS;
	w.stats_fd = -1;
	while ((ch = getopt_long(argc, argv, "b:e:nqx:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'B':
			backend = backend_check(optarg);
			break;
		case 'b':
			limit = parse_size(optarg);
			break;
		case 'I':
			add_ignore_pid(&w, optarg);
			break;
		case 'T':
			w.interval_ms = parse_interval(optarg);
			break;
		case 'P':
			w.print_pid = 1;
			break;
		case 'e':
			w.print_mask |= parse_events(optarg);
			break;
		case 'n':
			w.recursive = 0;
			break;
		case 'L':
			w.noleaf = 1;
			break;
		case 'q':
			w.quiet = 1;
			break;
		case 'x':
			iobs_exclude_add(&w.exclude, optarg);
			break;
		case 'R':
			ready_fd = strtonum(optarg, 3, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "--ready-fd %s: descriptor is %s", optarg,
				    errstr);
			break;
		case 'S':
			w.stats_fd = strtonum(optarg, 3, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "--stats-fd %s: descriptor is %s", optarg,
				    errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage();
	if (w.stats_fd != -1 && fcntl(w.stats_fd, F_SETFL, O_NONBLOCK) == -1)
		err(2, "--stats-fd %d", w.stats_fd);
	if (check) {
		iobs_exclude_free(&w.exclude);
		return 0;
	}
	if (w.print_mask == 0)
		w.print_mask = IN_ALL_EVENTS;
	w.kernel_mask = w.print_mask | BOOKKEEPING;

	add_roots(&w, argc, argv);
	raise_fd_limit();
	outq_init(&w.out, STDOUT_FILENO, limit);
	tree_init(&w.tree);
	backend_start(&w, backend);
	wakefd = signals_init(&w, w.rescan && w.interval_ms < ROOT_CHECK_MS ?
	    w.interval_ms : ROOT_CHECK_MS);
	header(&w);
	for (i = 0; i < w.nroots; i++) {
		if (w.be->root(&w, i) == -1)
			err(1, "%s", w.roots[i].vis);
		if (w.rescan)
			scan_root(&w, i, 0);
		gettimeofday(&w.now, NULL);
		emit_lifecycle(&w, IOBS_WATCH_INIT, i);
		w.roots[i].announced = 1;
		flush_or_exit(&w, !w.out.nonblock);
	}
	/* Readiness, s6-style: a newline once every root is watched. */
	if (ready_fd != -1) {
		if (write(ready_fd, "\n", 1) != 1)
			warn("--ready-fd %d", ready_fd);
		close(ready_fd);
	}
	run(&w, wakefd);

	w.be->free(&w);
	scan_free(&w);
	tree_clear(&w.tree);
	outq_free(&w.out);
	for (i = 0; i < w.nroots; i++) {
		free(w.roots[i].path);
		free(w.roots[i].vis);
	}
	free(w.roots);
	iobs_exclude_free(&w.exclude);
	pathbuf_free(&w.path);
	pathbuf_free(&w.vpath);
	pathbuf_free(&w.rel);
	pathbuf_free(&w.names);
	pathbuf_free(&w.stash);
	signals_close();
	free(w.ignore_pid);
	return 0;
}
