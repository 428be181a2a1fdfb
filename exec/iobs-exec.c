/*
 * iobs-exec: read an iobs-stream(5) on standard input and run a
 * command on changes: once for each record (queue.c), once for each
 * quiet window with the paths of that batch (runner.c), or restarting
 * a long-running command (runner.c again). The command is exec'd
 * directly, never through a shell.
 */
#define _GNU_SOURCE
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <ctype.h>
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

#include "bool.h"
#include "events.h"
#include "exec.h"
#include "options.h"
#include "signals.h"
#include "stream.h"
#include "usage.h"

#define DEFAULT_DELAY	50	/* ms */
#define DEFAULT_GRACE	5000	/* ms */
#define MAX_JOBS	1024
/*
 * Without -e, what changes the tree: reading it (OPEN, ACCESS,
 * CLOSE_NOWRITE) would have a build run itself again, and a file is
 * reported once written (CLOSE_WRITE), not at each MODIFY.
 */
#define CHANGES		(IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | \
	IN_MOVE_SELF | IN_UNMOUNT)

static const char synopsis[] = "[-0bpr] [-d ms] [-e event[,...]] [-j n] "
    "[-x glob] [--grace seconds] [--halt-on-error] [--insecure-files] "
    "-- command [arg ...]";
static const char options[] =
    "-0, --null[=yes|no]\tthe paths on standard input end in a NUL\n"
    "-b, --batch\tone run per quiet batch of changes\n"
    "-d, --delay=ms\tthe quiet window that ends a batch (50)\n"
    "-e, --events=list\tonly records with one of these events\n"
    "-j, --jobs=n\tup to n runs at once, per event\n"
    "-p, --postpone\tno first run before a change\n"
    "-r, --restart\tkeep the command running, restart it on changes\n"
    "-x, --exclude=glob\tno run for a path matching glob\n"
    "--command=string\tthe command as one string, split into words\n"
    "--grace=seconds\thow long a run told to stop has\n"
    "--halt-on-error[=yes|no]\tstop at the first run that fails\n"
    "--insecure-files\tas root, run a command others could change\n"
    "--mode=each|batch|restart\tthe mode, as a word\n"
    "--check\tcheck the options and exit 0, or 2\n"
    "--help, --version\tthis, or the version";

static void __dead2
usage(void)
{
	iobs_usage(stderr, synopsis);
	exit(2);
}

/* -e: names as the stream has them, in any case; CLOSE is both. */
static int
events_add(uint32_t *mask, const char *opt, const char *list, char *why,
    size_t whylen)
{
	enum iobs_lifecycle lc;
	const char *bad;
	char *copy, *p, *name, *c;
	uint32_t m;
	int rc = 0;

	if ((copy = strdup(list)) == NULL)
		err(1, "strdup");
	for (p = copy; rc == 0 && (name = strsep(&p, ",")) != NULL;) {
		while (isspace((unsigned char)*name))
			name++;
		for (c = name + strlen(name); c > name &&
		    isspace((unsigned char)c[-1]);)
			*--c = '\0';
		if (*name == '\0')
			continue;
		for (c = name; *c != '\0'; c++)
			*c = toupper((unsigned char)*c);
		if (strcmp(name, "CLOSE") == 0) {
			*mask |= IN_CLOSE_WRITE | IN_CLOSE_NOWRITE;
			continue;
		}
		if (iobs_events_parse(name, &m, &lc, &bad) == -1) {
			snprintf(why, whylen, "%s %s: unknown event (see "
			    "iobs-stream(5) for the names)", opt, name);
			rc = -1;
		} else if (lc != IOBS_NONE) {
			snprintf(why, whylen, "%s %s: not a change; the "
			    "lifecycle records are handled by mode", opt,
			    name);
			rc = -1;
		} else
			*mask |= m;
	}
	free(copy);
	return rc;
}

/* Seconds with up to three decimals, into milliseconds. */
static int
seconds(const char *s, int64_t max, int64_t *ms)
{
	char ipart[16], frac[4] = "000";
	const char *dot = strchr(s, '.'), *errstr;
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	long long i, f;

	if (ilen == 0 || ilen >= sizeof(ipart) ||
	    (dot != NULL && (dot[1] == '\0' || strlen(dot + 1) > 3)))
		return -1;
	memcpy(ipart, s, ilen);
	ipart[ilen] = '\0';
	i = strtonum(ipart, 0, max, &errstr);
	if (errstr != NULL)
		return -1;
	if (dot != NULL) {
		memcpy(frac, dot + 1, strlen(dot + 1));
		f = strtonum(frac, 0, 999, &errstr);
		if (errstr != NULL || strspn(dot + 1, "0123456789") !=
		    strlen(dot + 1))
			return -1;
	} else
		f = 0;
	*ms = i * 1000 + f;
	return *ms <= max * 1000 ? 0 : -1;
}

static void
options_free(struct options *o)
{
	iobs_exclude_free(&o->exclude);
	template_free(&o->cmd);
}

/*
 * Parses argv into o, from the defaults; the same for the command line
 * and for the options key of the supervisor. Returns 0, or -1 with
 * what is wrong in why.
 */
static int
parse_options(int argc, char *argv[], struct options *o, int *check,
    char *why, size_t whylen)
{
	static const struct option longopts[] = {
		{ "batch",	no_argument,		NULL, 'b' },
		{ "check",	no_argument,		NULL, 'C' },
		{ "command",	required_argument,	NULL, 'c' },
		{ "delay",	required_argument,	NULL, 'd' },
		{ "events",	required_argument,	NULL, 'e' },
		{ "exclude",	required_argument,	NULL, 'x' },
		{ "grace",	required_argument,	NULL, 'g' },
		{ "halt-on-error", optional_argument,	NULL, 'H' },
		{ "insecure-files", no_argument,	NULL, 'I' },
		{ "jobs",	required_argument,	NULL, 'j' },
		{ "mode",	required_argument,	NULL, 'm' },
		{ "null",	optional_argument,	NULL, '0' },
		{ "postpone",	optional_argument,	NULL, 'p' },
		{ "restart",	no_argument,		NULL, 'r' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *errstr, *command = NULL;
	char **words = NULL, sub[256], opt[32];
	/* An option of the other mode, as written. */
	char batch_opt[32] = "", jobs_opt[32] = "";
	int ch, nwords, rc, b, li;

	memset(o, 0, sizeof(*o));
	o->mode = MODE_EACH;
	o->delay = DEFAULT_DELAY;
	o->grace = DEFAULT_GRACE;
	o->jobs = 1;
	optind = 0;
	opterr = 0;
	/* '+': the command's own options are not ours. */
	while ((li = -1, ch = getopt_long(argc, argv, "+:0bd:e:j:prx:",
	    longopts, &li)) != -1) {
		/* Messages name the option as it was written. */
		if (li != -1)
			snprintf(opt, sizeof(opt), "--%s", longopts[li].name);
		else
			snprintf(opt, sizeof(opt), "-%c", ch);
		switch (ch) {
		case '0':
		case 'p':
		case 'H':
			b = 1;
			if (optarg != NULL && (b = iobs_bool(optarg)) == -1) {
				snprintf(why, whylen, "%s: not yes or no",
				    argv[optind - 1]);
				goto fail;
			}
			*(ch == '0' ? &o->nul : ch == 'p' ? &o->postpone :
			    &o->halt) = b;
			if (ch != 'H' && b)
				strlcpy(batch_opt, opt, sizeof(batch_opt));
			break;
		case 'I':
			o->insecure = 1;
			break;
		case 'b':
			if (o->mode != MODE_RESTART)
				o->mode = MODE_BATCH;
			break;
		case 'r':
			o->mode = MODE_RESTART;
			break;
		case 'm':
			if (strcmp(optarg, "each") == 0)
				o->mode = MODE_EACH;
			else if (strcmp(optarg, "batch") == 0)
				o->mode = MODE_BATCH;
			else if (strcmp(optarg, "restart") == 0)
				o->mode = MODE_RESTART;
			else {
				snprintf(why, whylen, "--mode=%s: not each, "
				    "batch or restart", optarg);
				goto fail;
			}
			break;
		case 'C':
			if (check != NULL)
				*check = 1;
			break;
		case 'c':
			command = optarg;
			break;
		case 'd':
			o->delay = strtonum(optarg, 0, 3600000, &errstr);
			if (errstr != NULL) {
				snprintf(why, whylen, "%s %s: %s (milliseconds"
				    ", 0 to 3600000)", opt, optarg, errstr);
				goto fail;
			}
			strlcpy(batch_opt, opt, sizeof(batch_opt));
			break;
		case 'e':
			if (events_add(&o->events, opt, optarg, why, whylen)
			    == -1)
				goto fail;
			break;
		case 'g':
			if (seconds(optarg, 3600, &o->grace) == -1) {
				snprintf(why, whylen, "%s %s: not a time "
				    "in seconds from 0 to 3600", opt, optarg);
				goto fail;
			}
			break;
		case 'j':
			o->jobs = strtonum(optarg, 1, MAX_JOBS, &errstr);
			if (errstr != NULL) {
				snprintf(why, whylen, "%s %s: %s (1 to %d)",
				    opt, optarg, errstr, MAX_JOBS);
				goto fail;
			}
			strlcpy(jobs_opt, opt, sizeof(jobs_opt));
			break;
		case 'x':
			iobs_exclude_add(&o->exclude, optarg);
			break;
		default:	/* ':' or '?' */
			iobs_getopt_error(ch, argv, why, whylen);
			goto fail;
		}
	}
	if (o->mode == MODE_EACH && *batch_opt != '\0') {
		snprintf(why, whylen, "%s: only with -b or -r", batch_opt);
		goto fail;
	}
	if (o->mode != MODE_EACH && *jobs_opt != '\0') {
		snprintf(why, whylen, "%s: only without -b or -r", jobs_opt);
		goto fail;
	}
	if (command != NULL && optind < argc) {
		snprintf(why, whylen, "--command and a command: give one");
		goto fail;
	}
	if (command != NULL) {
		if (words_split(command, &nwords, &words, sub,
		    sizeof(sub)) == -1) {
			snprintf(why, whylen, "--command: %s", sub);
			goto fail;
		}
		if ((rc = template_parse(&o->cmd, nwords, words,
		    o->mode != MODE_EACH, sub, sizeof(sub))) == -1)
			snprintf(why, whylen, "--command: %s", sub);
		argv_free(words);
	} else
		rc = template_parse(&o->cmd, argc - optind, argv + optind,
		    o->mode != MODE_EACH, why, whylen);
	if (rc == -1)
		goto fail;
	if (o->events == 0)
		o->events = CHANGES;
	return 0;
fail:
	iobs_exclude_free(&o->exclude);
	return -1;
}

/* -x: the path relative to its root, or any directory above it. */
static int
excluded(const struct exec *e, const char *rel)
{
	char buf[PATH_MAX], *slash, *name;
	size_t len = strlen(rel);

	if (e->o.exclude.n == 0 || len >= sizeof(buf) || *rel == '\0')
		return 0;
	memcpy(buf, rel, len + 1);
	for (name = buf;; name = slash + 1) {
		if ((slash = strchr(name, '/')) != NULL)
			*slash = '\0';
		if (iobs_exclude_match(&e->o.exclude, buf, name))
			return 1;
		if (slash == NULL)
			return 0;
		*slash = '/';
	}
}

/*
 * New options from the supervisor (WATCH_RECONFIG) or SIGHUP. Runs
 * already started keep theirs; the mode cannot change under a running
 * command.
 */
static void
reconfigure(struct exec *e)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	struct iobs_cache *cache;
	struct options o;
	char why[512], **argv;
	int argc, rc;

	if (key == NULL || *key == '\0' ||
	    (cache = iobs_cache_open_env()) == NULL)
		return;
	rc = iobs_options_fetch(cache, &argc, &argv);
	iobs_cache_close(cache);
	if (rc != 0)
		return;
	if (parse_options(argc, argv, &o, NULL, why, sizeof(why)) == -1)
		warnx("%s: %s; keeping the old options", key, why);
	else if (run_trusted(&o.cmd, o.insecure, why, sizeof(why)) == -1) {
		warnx("%s; keeping the old options", why);
		options_free(&o);
	} else if (o.mode != e->o.mode) {
		warnx("%s: the mode cannot change while iobs-exec runs; "
		    "keeping the old options (restart the pipeline)", key);
		options_free(&o);
	} else {
		options_free(&e->o);
		e->o = o;
	}
	iobs_options_free(argv);
}

/* Where the tool is in its life; a run's life is runner.c's table. */
enum phase {
	READING,	/* input comes */
	ENDING,		/* input is over: finish what is queued, then exit */
	HALTING,	/* --halt-on-error: start nothing more, then exit */
	STOPPING,	/* a signal: stop every run, then exit */
};

static void
change(struct exec *e, const char *path, size_t len, const char *events,
    uint32_t cookie, int overflow)
{
	struct iobs_root *r = iobs_roots_find(&e->roots, path, len);
	size_t rootlen = r != NULL ? r->len : 0;

	if (!overflow && excluded(e, path[rootlen] ? path + rootlen + 1 : ""))
		return;
	if (e->o.mode == MODE_EACH)
		queue_add(e, path, len, rootlen, events, cookie);
	else
		runner_change(e, path, len, overflow);
}

/* Returns 1 when the input is over: every root is dead. */
static int
record(struct exec *e, struct iobs_record *r)
{
	switch (r->lifecycle) {
	case IOBS_WATCH_INIT:
		/* The first run, unless -p; again after an OVERFLOW. */
		if (iobs_roots_init(&e->roots, r->path, r->pathlen) &&
		    e->o.postpone)
			break;
		if (e->o.mode != MODE_EACH)
			change(e, r->path, r->pathlen, r->events, 0, 0);
		break;
	case IOBS_WATCH_DEAD:
		return iobs_roots_dead(&e->roots, r->path, r->pathlen);
	case IOBS_WATCH_RECONFIG:
		reconfigure(e);
		break;
	case IOBS_OVERFLOW:
		change(e, r->path, r->pathlen, "OVERFLOW", 0, 1);
		break;
	case IOBS_NONE:
		if ((r->mask & e->o.events) != 0)
			change(e, r->path, r->pathlen, r->events, r->cookie,
			    0);
		break;
	}
	return 0;
}

/* Records until the input or the queue's room runs out; 1 at the end. */
static int
drain(struct exec *e, struct iobs_reader *rd)
{
	struct iobs_record r;
	char *line;

	while (!queue_full(e) && (line = iobs_reader_next(rd)) != NULL)
		if (iobs_reader_record(rd, line, &r) == 1 && record(e, &r))
			return 1;
	return rd->eof && rd->off == rd->len;
}

static void
reap(struct exec *e)
{
	pid_t pid;
	int status;

	/* -r makes us the reaper of the group's orphans: they end here. */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!queue_reaped(e, pid, status))
			(void)runner_reaped(e, pid, status);
}

/* Nothing new starts; term: what runs is told to stop. */
static void
stop(struct exec *e, int term, int64_t *kill_at)
{
	queue_drop(e);
	if (term) {
		queue_signal(e, SIGTERM);
		queue_signal(e, SIGCONT);
		*kill_at = now_ms() + e->o.grace;
	}
	if (e->o.mode != MODE_EACH)
		runner_event(e, E_STOP);
}

static int
finished(const struct exec *e)
{
	return queue_idle(e) && (e->o.mode == MODE_EACH ||
	    e->runner.state == R_DONE);
}

static void
loop(struct exec *e, int sfd)
{
	struct signalfd_siginfo si;
	struct iobs_reader rd;
	struct pollfd pfd[2];
	enum phase phase = READING;
	int64_t now, next, t, kill_at = 0;
	nfds_t n;

	iobs_reader_init(&rd, STDIN_FILENO);
	for (;;) {
		if (phase == READING && drain(e, &rd)) {
			phase = ENDING;
			/* A server is not kept for a tree nobody watches. */
			if (e->o.mode == MODE_RESTART)
				runner_event(e, E_STOP);
		}
		if (e->halt != -1 && (phase == READING || phase == ENDING)) {
			phase = HALTING;
			stop(e, 0, &kill_at);
		}
		now = now_ms();
		next = -1;
		if (phase != STOPPING && phase != HALTING)
			queue_dispatch(e, now);
		if (e->o.mode == MODE_EACH && e->queue.n > 0)
			next = now + 1000;	/* a fork that failed */
		if (e->o.mode != MODE_EACH) {
			t = runner_tick(e, now, phase == ENDING);
			if (t != -1 && (next == -1 || t < next))
				next = t;
			if (phase == ENDING && e->runner.state == R_IDLE)
				runner_event(e, E_STOP);
		}
		if (kill_at != 0 && kill_at <= now) {
			queue_signal(e, SIGKILL);
			kill_at = 0;
		}
		if (kill_at != 0 && (next == -1 || kill_at < next))
			next = kill_at;
		if (phase != READING && finished(e))
			break;
		n = 0;
		pfd[n].fd = sfd;
		pfd[n++].events = POLLIN;
		if (phase == READING && !queue_full(e) && !rd.eof) {
			pfd[n].fd = STDIN_FILENO;
			pfd[n++].events = POLLIN;
		}
		if (poll(pfd, n, next == -1 ? -1 : next <= now ? 0 :
		    next - now > INT_MAX ? INT_MAX : (int)(next - now)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd[0].revents & POLLIN)
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(e);
				else if (si.ssi_signo == SIGHUP)
					reconfigure(e);
				else if (phase != STOPPING) {
					phase = STOPPING;
					stop(e, 1, &kill_at);
				}
			}
		if (n > 1 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    iobs_reader_fill(&rd) == -1)
			err(1, "stdin");
	}
	iobs_reader_free(&rd);
}

int
main(int argc, char *argv[])
{
	struct exec e;
	char why[512];
	int sfd, check = 0;

	iobs_help_options(argc, argv, synopsis, options, "iobs-exec(1)");
	memset(&e, 0, sizeof(e));
	e.halt = -1;
	if (parse_options(argc, argv, &e.o, &check, why, sizeof(why)) == -1) {
		warnx("%s", why);
		usage();
	}
	if (run_trusted(&e.o.cmd, e.o.insecure, why, sizeof(why)) == -1)
		errx(2, "%s", why);
	if (check) {
		options_free(&e.o);
		return 0;
	}
	/* Before anything starts, so that no signal is lost. */
	sfd = iobs_signalfd(SIGCHLD, SIGHUP, SIGINT, SIGTERM, 0);
	if (e.o.mode == MODE_RESTART &&
	    prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		err(1, "prctl");
	if ((e.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "/dev/null");

	loop(&e, sfd);

	queue_free(&e.queue);
	batch_clear(&e.runner.pending);
	iobs_roots_free(&e.roots);
	options_free(&e.o);
	close(e.devnull);
	close(sfd);
	/* Runs failed are reported; a command never run is an error. */
	return e.halt != -1 ? e.halt : e.norun;
}
