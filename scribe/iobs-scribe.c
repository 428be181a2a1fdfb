/*
 * iobs-scribe: read an iobs-stream(5) on standard input and log what
 * happened in sentences a person can read, pairing the two halves of
 * each move, also across pipelines through the shared cache.
 */
#include <sys/inotify.h>
#include <sys/signalfd.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bool.h"
#include "clock.h"
#include "options.h"
#include "roots.h"
#include "signals.h"
#include "usage.h"
#include "scribe.h"

#define DEFAULT_TIMEFMT	"%Y-%m-%d %H:%M:%S.%f"

struct scribe {
	struct scribe_log	 log;
	struct scribe_clock	 clock;
	struct scribe_filter	 only;
	struct moves		*moves;		/* NULL: moves not logged */
	struct iobs_cache	*cache;
	struct iobs_roots	 roots;
	int			 json;		/* --json */
	char			*scratch;	/* a --json line's sentence */
	size_t			 scratchlen;
	int			 rval;
};

/* What the command line, or the options key in the cache, says. */
struct options {
	struct scribe_filter	 only;
	const char		*log;		/* "-": standard output */
	const char		*timefmt;
	int			 utc;
	int			 json;
};

static const char synopsis[] = "[-ju] [-e event[,...]] [-o file] "
    "[-t timefmt]";
static const char options[] =
    "-e, --only=event[,...]\tlog only these events\n"
    "-j, --json[=yes|no]\tone JSON object a line, for log shippers\n"
    "-o, --log=file\tappend to file, not standard output\n"
    "-t, --timefmt=timefmt\tthe time stamp, as strftime(3)\n"
    "-u, --utc[=yes|no]\ttime stamps in UTC\n"
    "--check\tcheck the options and exit 0, or 2\n"
    "--help, --version\tthis, or the version";

static void __dead2
usage(void)
{
	iobs_usage(stderr, synopsis);
	exit(2);
}

/*
 * Parses argv into o, from the defaults; the same for the command line
 * and for the options key. Returns 0, or -1 with what is wrong in why:
 * getopt reports nothing itself, so that a bad option in the cache
 * gives one warning, not two.
 */
static int
parse_options(int argc, char *argv[], struct options *o, char *why,
    size_t whylen)
{
	static const struct option longopts[] = {
		{ "json",	optional_argument,	NULL, 'j' },
		{ "log",	required_argument,	NULL, 'o' },
		{ "only",	required_argument,	NULL, 'e' },
		{ "timefmt",	required_argument,	NULL, 't' },
		/* =yes or =no too: iobs.conf(5) gives a value. */
		{ "utc",	optional_argument,	NULL, 'u' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *bad;
	int ch;

	memset(o, 0, sizeof(*o));
	o->log = "-";
	o->timefmt = DEFAULT_TIMEFMT;
	/* 0, not 1: glibc then forgets the argv it parsed before. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":e:jo:t:u", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'e':
			if (scribe_filter_add(&o->only, optarg, &bad) == -1) {
				snprintf(why, whylen, "-e %s: unknown event "
				    "(see iobs-scribe(1) for the names)", bad);
				return -1;
			}
			break;
		case 'j':
			if (optarg == NULL)
				o->json = 1;
			else if ((o->json = iobs_bool(optarg)) == -1) {
				snprintf(why, whylen, "--json=%s: not yes or "
				    "no", optarg);
				return -1;
			}
			break;
		case 'o':
			o->log = optarg;
			break;
		case 't':
			o->timefmt = optarg;
			break;
		case 'u':
			if (optarg == NULL)
				o->utc = 1;
			else if ((o->utc = iobs_bool(optarg)) == -1) {
				snprintf(why, whylen, "--utc=%s: not yes or no",
				    optarg);
				return -1;
			}
			break;
		default:	/* ':' or '?' */
			iobs_getopt_error(ch, argv, why, whylen);
			return -1;
		}
	}
	if (optind != argc) {
		snprintf(why, whylen, "%s: unexpected operand", argv[optind]);
		return -1;
	}
	if (o->only.mask == 0 && o->only.lifecycles == 0 && !o->only.moves) {
		o->only.mask = ~0U;
		o->only.lifecycles = ~0U;
		o->only.moves = 1;
	}
	return 0;
}

static size_t
root_len(const char *path, size_t len)
{
	return len == 1 && path[0] == '/' ? 0 : len;
}

/*
 * Starts a line in the log: timestamp and root; returns where the
 * sentence goes, with room for sentmax bytes and the newline. With
 * --json, the root and sentence alone, aside, for line_end().
 */
static char *
line_start(struct scribe *s, const struct timeval *tv, const char *rootvis,
    size_t rootvislen, size_t sentmax, char **start)
{
	size_t tlen, need = rootvislen + sentmax + 4;
	char *p;

	if (s->json) {
		if (need > s->scratchlen) {
			free(s->scratch);
			if ((s->scratch = malloc(need)) == NULL)
				err(1, "malloc");
			s->scratchlen = need;
		}
		p = *start = s->scratch;
	} else {
		tlen = scribe_clock_len(&s->clock, tv);
		p = *start = scribe_log_reserve(&s->log, tlen + need);
		p += scribe_clock_put(&s->clock, tv, p);
		*p++ = ' ';
	}
	memcpy(p, rootvis, rootvislen);
	p += rootvislen;
	*p++ = ':';
	*p++ = ' ';
	return p;
}

/* Ends the line; with --json, j says what the object holds. */
static void
line_end(struct scribe *s, char *start, char *end, struct scribe_jline *j)
{
	char *p;

	if (!s->json) {
		*end++ = '\n';
		scribe_log_commit(&s->log, end - start);
		return;
	}
	j->sentence = start;
	j->sentencelen = end - start;
	p = scribe_log_reserve(&s->log, SCRIBE_JSON_MAX(j->pathlen,
	    j->fromlen, j->sentencelen));
	scribe_log_commit(&s->log, scribe_json(p, j));
}

static void
log_record(struct scribe *s, const struct iobs_record *r, uint32_t event,
    const char *rootvis, size_t rootvislen, size_t relpos)
{
	struct scribe_jline j = { &r->time, r->events, r->cookie, r->pid,
	    r->path, NULL, r->pathlen, 0, NULL, 0 };
	char *start, *p;

	p = line_start(s, &r->time, rootvis, rootvislen,
	    SCRIBE_SENTENCE_MAX(r->pathlen) + SCRIBE_WHO_MAX, &start);
	p += scribe_format(p, r, event, relpos);
	p += scribe_who(p, r->pid, &r->time);
	line_end(s, start, p, &j);
}

/* The extra line of a move, called back by moves.c. */
static void
log_move(void *arg, enum scribe_move kind, const struct move_end *from,
    const struct move_end *to)
{
	struct scribe *s = arg;
	const struct move_end *e = kind == SCRIBE_MOVED_OUT ? from : to;
	struct scribe_jline j;
	char *vis = NULL, *start, *p;
	const char *rootvis = "-";
	size_t rootvislen = 1;

	if (e->rootlen == 0)
		rootvis = "/";
	else if (e->rootlen > 0) {
		if ((vis = malloc(IOBS_VIS_MAX(e->rootlen))) == NULL)
			err(1, "malloc");
		rootvislen = iobs_vis(vis, e->path, e->rootlen);
		rootvis = vis;
	}
	p = line_start(s, &e->time, rootvis, rootvislen,
	    SCRIBE_MOVE_MAX(from ? from->pathlen : 0, to ? to->pathlen : 0),
	    &start);
	p += scribe_format_move(p, kind, e->isdir, from ? from->path : NULL,
	    from ? from->pathlen : 0, to ? to->path : NULL,
	    to ? to->pathlen : 0);
	/* Events: MOVE, the name -e gives these lines. */
	memset(&j, 0, sizeof(j));
	j.time = &e->time;
	j.events = "MOVE";
	j.path = e->path;
	j.pathlen = e->pathlen;
	if (kind == SCRIBE_MOVED) {
		j.from = from->path;
		j.fromlen = from->pathlen;
	}
	line_end(s, start, p, &j);
	free(vis);
}

/* New options, checked already, take effect; -1 keeps the old ones. */
static int
options_apply(struct scribe *s, const char *key, const struct options *o,
    struct scribe_clock *clock)
{
	if (scribe_log_switch(&s->log, o->log) == -1) {
		warn("%s: --log=%s: cannot open the log; keeping the old "
		    "options and log", key, o->log);
		return -1;
	}
	scribe_clock_free(&s->clock);
	s->clock = *clock;
	s->only = o->only;
	s->json = o->json;
	if (s->only.moves && s->moves == NULL)
		s->moves = moves_new(s->cache, log_move, s);
	else if (!s->only.moves && s->moves != NULL) {
		moves_finish(s->moves);
		moves_free(s->moves);
		s->moves = NULL;
	}
	return 0;
}

/*
 * Reads the options again, on WATCH_RECONFIG or SIGHUP. iobs-supervise
 * puts a plugin's options, one a line as on its command line, in the
 * cache key named by IOBS_OPTIONS before it has the watcher write
 * WATCH_RECONFIG. Without that key the options stay and the log is
 * reopened, as logrotate needs.
 */
static void
reconfigure(struct scribe *s)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	struct scribe_clock clock;
	struct options o;
	char why[512], **argv;
	int argc, ok = 1;

	if (iobs_options_fetch(s->cache, &argc, &argv) != 0) {
		if (scribe_log_reopen(&s->log) == -1)
			s->rval = 1;
		return;
	}
	if (parse_options(argc, argv, &o, why, sizeof(why)) == -1)
		ok = 0;
	else if (scribe_clock_init(&clock, o.timefmt, o.utc) == -1) {
		scribe_clock_free(&clock);
		snprintf(why, sizeof(why), "--timefmt=%s: the timestamp "
		    "would be too long", o.timefmt);
		ok = 0;
	}
	if (!ok) {
		warnx("%s: %s; keeping the old options", key, why);
		if (scribe_log_reopen(&s->log) == -1)
			s->rval = 1;
	} else if (options_apply(s, key, &o, &clock) == -1) {
		scribe_clock_free(&clock);
		s->rval = 1;
	}
	iobs_options_free(argv);
}

static void
lifecycle(struct scribe *s, struct iobs_record *r)
{
	char *vis;
	size_t vislen;

	switch (r->lifecycle) {
	case IOBS_WATCH_INIT:
		(void)iobs_roots_init(&s->roots, r->path, r->pathlen);
		break;
	case IOBS_WATCH_DEAD:
		if (s->moves != NULL)
			moves_dead(s->moves, r->path,
			    root_len(r->path, r->pathlen));
		break;
	case IOBS_WATCH_RECONFIG:
		reconfigure(s);
		break;
	default:
		break;
	}
	if (s->only.lifecycles & (1U << r->lifecycle)) {
		if ((vis = malloc(IOBS_VIS_MAX(r->pathlen))) == NULL)
			err(1, "malloc");
		vislen = iobs_vis(vis, r->path, r->pathlen);
		log_record(s, r, 0, vis, vislen, r->pathlen);
		free(vis);
	}
	if (r->lifecycle == IOBS_WATCH_DEAD)
		iobs_roots_remove(&s->roots, r->path, r->pathlen);
}

static void
record(struct scribe *s, struct iobs_record *r, int64_t now)
{
	struct move_end e;
	struct iobs_root *root;
	size_t i, relpos;

	if (r->lifecycle != IOBS_NONE) {
		lifecycle(s, r);
		return;
	}
	root = iobs_roots_find(&s->roots, r->path, r->pathlen);
	relpos = root != NULL ? root->len + 1 : 0;
	for (i = 0; i < scribe_nevents; i++)
		if (r->mask & s->only.mask & scribe_events[i])
			log_record(s, r, scribe_events[i],
			    root ? root->vis : "-", root ? root->vislen : 1,
			    relpos);
	if (s->moves == NULL || (r->mask & (IN_MOVED_FROM | IN_MOVED_TO)) == 0)
		return;
	e.time = r->time;
	e.isdir = (r->mask & IN_ISDIR) != 0;
	e.path = r->path;
	e.pathlen = r->pathlen;
	e.rootlen = root != NULL ? (ssize_t)root->len : -1;
	if (r->mask & IN_MOVED_FROM)
		moves_from(s->moves, r->cookie, &e, now);
	if (r->mask & IN_MOVED_TO)
		moves_to(s->moves, r->cookie, &e, now);
}

static void
drain(struct scribe *s, struct iobs_reader *rd)
{
	struct iobs_record r;
	int64_t now = now_ms();
	char *line;

	while ((line = iobs_reader_next(rd)) != NULL)
		if (iobs_reader_record(rd, line, &r) == 1)
			record(s, &r, now);
}

/* SIGHUP reopens the log; returns 1 on SIGINT or SIGTERM. */
static int
signals(struct scribe *s, int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reconfigure(s);
		else
			stop = 1;
	}
	return stop;
}

static void
run(struct scribe *s, int sfd)
{
	struct iobs_reader rd;
	struct pollfd pfd[2];
	int timeout;

	iobs_reader_init(&rd, STDIN_FILENO);
	for (;;) {
		/* Whatever is going to wait is made visible first. */
		if (s->moves != NULL)
			moves_publish(s->moves);
		scribe_log_flush(&s->log);
		timeout = s->moves ? moves_timeout(s->moves, now_ms()) : -1;
		pfd[0].fd = STDIN_FILENO;
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if ((pfd[1].revents & POLLIN) && signals(s, sfd))
			break;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (iobs_reader_fill(&rd) == -1)
				err(1, "stdin");
			drain(s, &rd);
			if (rd.eof)
				break;
		}
		if (s->moves != NULL)
			moves_expire(s->moves, now_ms());
	}
	iobs_reader_free(&rd);
}

int
main(int argc, char *argv[])
{
	struct scribe s;
	struct options o;
	const char *cachedir, *optkey;
	char why[512];
	int sfd, check;

	iobs_help_options(argc, argv, synopsis, options, "iobs-scribe(1)");
	check = iobs_check_mode(&argc, &argv);
	memset(&s, 0, sizeof(s));
	if (parse_options(argc, argv, &o, why, sizeof(why)) == -1) {
		warnx("%s", why);
		usage();
	}
	s.only = o.only;
	s.json = o.json;
	if (scribe_clock_init(&s.clock, o.timefmt, o.utc) == -1)
		errx(2, "--timefmt %s: the timestamp would be too long",
		    o.timefmt);
	if (check) {
		scribe_clock_free(&s.clock);
		if (scribe_log_check(o.log, why, sizeof(why)) == -1)
			errx(2, "%s", why);
		return 0;
	}

	/* Before anything slow, so that an early SIGHUP does not kill. */
	sfd = iobs_signalfd(SIGHUP, SIGINT, SIGTERM, 0);
	scribe_log_open(&s.log, o.log);
	/* The cache: for moves across pipelines, and for new options. */
	cachedir = getenv(IOBS_CACHE_ENV);
	optkey = getenv(IOBS_OPTIONS_ENV);
	if (cachedir != NULL && cachedir[0] != '\0' && (s.only.moves ||
	    (optkey != NULL && optkey[0] != '\0')) &&
	    (s.cache = iobs_cache_open_env()) == NULL)
		warn("%s=%s: cannot open the shared cache; moves are matched "
		    "within this stream only, options are those of the "
		    "command line", IOBS_CACHE_ENV, cachedir);
	if (s.only.moves)
		s.moves = moves_new(s.cache, log_move, &s);
	run(&s, sfd);

	if (s.moves != NULL) {
		moves_finish(s.moves);
		moves_free(s.moves);
	}
	scribe_log_close(&s.log);
	iobs_cache_close(s.cache);
	scribe_clock_free(&s.clock);
	iobs_roots_free(&s.roots);
	free(s.scratch);
	close(sfd);
	return s.rval;
}
