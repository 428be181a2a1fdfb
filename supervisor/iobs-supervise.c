/*
 * iobs-supervise: run a pipeline for every watch of a config file,
 * restart what dies, apply edits live, keep the shared cache; and,
 * as subcommands, show its status and the cache from another shell.
 */
#define _GNU_SOURCE
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libutil.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watchlimit.h"
#include "options.h"
#include "signals.h"
#include "trust.h"
#include "usage.h"
#include "xalloc.h"

#ifndef IOBS_CONFIG
#define IOBS_CONFIG	"/etc/iobserver/iobserverrc"
#endif
#include "supervise.h"

static const char synopsis[] =
    "[-n] [--insecure-files] [-p plugin_dir] [-s state_dir] [-c config]\n"
    "[-c config | -s state_dir] status [--json]\n"
    "[-c config | -s state_dir] restart watch [plugin]\n"
    "[-c config | -s state_dir] cache command ...";
static const char options[] =
    "-c config\tthe configuration file (" IOBS_CONFIG ")\n"
    "-n\tcheck the configuration, each plugin's options too, and exit\n"
    "-p plugin_dir\tlook for plugins here first\n"
    "-s state_dir\tthe pid file and the cache\n"
    "--insecure-files\trun files others than root could change\n"
    "status [--json]\tthe pipelines of the running supervisor\n"
    "restart watch [plugin]\tstart those pipelines again\n"
    "cache command ...\tget, put, take, del, list or purge the cache\n"
    "--help, --version\tthis, or the version";

static void __dead2
usage(void)
{
	iobs_usage(stderr, synopsis);
	exit(2);
}

static char *
default_state_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char *dir;

	if (getuid() == 0)
		return xstrdup("/run/iobserver");
	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&dir, "%s/iobserver", xdg) == -1)
			err(1, "asprintf");
	} else if (asprintf(&dir, "/tmp/iobserver-%u", (unsigned)getuid())
	    == -1)
		err(1, "asprintf");
	return dir;
}

/* What is wrong with the command after the options; NULL: nothing. */
static const char *
command_error(int argc, char *argv[], int check, int json)
{
	static char why[256];

	if (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "cache") != 0 &&
	    strcmp(argv[0], "restart") != 0)
		snprintf(why, sizeof(why), "%.64s: unknown command (status, "
		    "restart or cache)", argv[0]);
	else if (check)
		snprintf(why, sizeof(why), "-n: checks a config; it takes no "
		    "command");
	else if (argv[0][0] == 's' && argc != 1 && !json)
		snprintf(why, sizeof(why), "status: %.64s: unknown argument",
		    argv[1]);
	else if (argv[0][0] == 'r' && argc < 2)
		snprintf(why, sizeof(why), "restart: which watch?");
	else if (argv[0][0] == 'r' && argc > 3)
		snprintf(why, sizeof(why), "restart: %.64s: one watch and one "
		    "plugin at most", argv[3]);
	else if (argv[0][0] == 'c' && argc == 1)
		snprintf(why, sizeof(why), "cache: which command? (get, put, "
		    "take, del, list or purge)");
	else
		return NULL;
	return why;
}

/* Loads the config or exits 2 with its one error line. */
static void
load(struct super *s, int show_warnings, int check)
{
	char errbuf[PATH_MAX + 256], *warns = NULL, *line, *p;

	if (config_trust(s, NULL, errbuf, sizeof(errbuf)) == -1 ||
	    config_load(s->conf_file, s->plugin_dir_opt, &s->conf, errbuf,
	    sizeof(errbuf), &warns) == -1 ||
	    config_trust(s, &s->conf, errbuf, sizeof(errbuf)) == -1 ||
	    (check && config_check(&s->conf, errbuf, sizeof(errbuf), &warns)
	    == -1))
		errx(2, "%s", errbuf);
	for (p = warns; show_warnings && (line = strsep(&p, "\n")) != NULL;)
		if (*line != '\0')
			warnx("%s", line);
	free(warns);
}

static void
shutdown_all(struct super *s, const char *why)
{
	struct pipeline *p, *next;

	if (s->stopping)
		return;
	warnx("%s: stopping every pipeline", why);
	notify_stopping(s);
	s->stopping = 1;
	for (p = s->pipes; p != NULL; p = next) {
		next = p->next;
		pipeline_event(s, p, E_REMOVE);
	}
}

static void
handle_signals(struct super *s)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int status;

	while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				pipeline_reaped(s, pid, status);
			break;
		case SIGHUP:
			warnx("SIGHUP: reloading %s, reopening the logs",
			    s->conf_file);
			reload_apply(s, 1);
			break;
		case SIGUSR1:
			restart_requests(s);
			break;
		default:
			shutdown_all(s, si.ssi_signo == SIGINT ? "SIGINT" :
			    "SIGTERM");
			break;
		}
	}
}

static void
run(struct super *s)
{
	struct pollfd *pfd = NULL;
	struct pipeline **who = NULL, *p;
	size_t n, cap = 0, i;
	int64_t next, now, t;
	int timeout;

	while (!s->stopping || s->pipes != NULL) {
		now = now_ms();
		pipeline_tick(s, now);
		if (s->reload_at != 0 && s->reload_at <= now)
			reload_apply(s, 0);
		if (s->stopping && s->pipes == NULL)
			break;
		notify_update(s);
		for (n = 0, p = s->pipes; p != NULL; p = p->next)
			n += 3;
		if (n + 2 > cap) {
			cap = n + 2;
			if ((pfd = reallocarray(pfd, cap, sizeof(*pfd))) ==
			    NULL || (who = reallocarray(who, cap,
			    sizeof(*who))) == NULL)
				err(1, "reallocarray");
		}
		pfd[0].fd = s->sfd;
		pfd[1].fd = s->ifd;
		n = 2;
		for (p = s->pipes; p != NULL; p = p->next) {
			who[n] = who[n + 1] = who[n + 2] = p;
			pfd[n++].fd = p->errfd;
			pfd[n++].fd = p->readyfd;
			pfd[n++].fd = p->statsfd;
		}
		for (i = 0; i < n; i++)
			pfd[i].events = POLLIN;
		next = pipeline_next_deadline(s);
		if (s->reload_at != 0 && (next == -1 || s->reload_at < next))
			next = s->reload_at;
		if ((t = notify_next(s)) != -1 && (next == -1 || t < next))
			next = t;
		timeout = next == -1 ? -1 : next <= now ? 0 :
		    next - now > INT_MAX ? INT_MAX : (int)(next - now);
		if (poll(pfd, n, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		/* Pipelines' descriptors first: signals may free them. */
		for (i = 2; i < n; i += 3) {
			p = who[i];
			if (pfd[i].revents && p->errfd == pfd[i].fd)
				pipeline_read_err(s, p);
			if (pfd[i + 1].revents && p->readyfd == pfd[i + 1].fd)
				pipeline_read_ready(s, p);
			if (pfd[i + 2].revents && p->statsfd == pfd[i + 2].fd)
				pipeline_read_stats(s, p);
		}
		if (pfd[1].revents & POLLIN)
			reload_event(s);
		if (pfd[0].revents & POLLIN)
			handle_signals(s);
	}
	free(pfd);
	free(who);
}

/*
 * Whoever can write in the state directory can feed options to the
 * plugins through the cache, or take the pid file: as ssh does with
 * its files, one not ours, or writable by others, is refused (exit 2).
 * A directory that is not there is left to the caller. The
 * directories above it are held to the rule of config_trust().
 */
static void
state_dir_trust(const struct super *s, const char *dir)
{
	static const char *sub[] = { "", "/cache" };
	struct stat st;
	char path[PATH_MAX], msg[PATH_MAX + 256];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", dir, sub[i]);
		if (lstat(path, &st) == -1) {
			if (errno == ENOENT)
				return;
			err(1, "%s", path);
		}
		if (S_ISLNK(st.st_mode))
			errx(2, "%s: a symbolic link; refusing it as a state "
			    "directory (name the directory itself)", path);
		if (!S_ISDIR(st.st_mode))
			errx(2, "%s: not a directory", path);
		if (st.st_uid != geteuid())
			errx(2, "%s: owned by uid %u, not by uid %u; refusing "
			    "it as a state directory (remove it, or give "
			    "another with -s)", path, (unsigned)st.st_uid,
			    (unsigned)geteuid());
		if ((st.st_mode & 022) != 0)
			errx(2, "%s: writable by group or others (mode %03o); "
			    "refusing it as a state directory (chmod go-w "
			    "it)", path, (unsigned)(st.st_mode & 0777));
	}
	if (!s->insecure &&
	    iobs_trust_path(dir, IOBS_TRUST_MISSING, msg, sizeof(msg)) == -1)
		errx(2, "%s", msg);
}

static void
state_dir_make(const struct super *s, const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		err(1, "%s", dir);
	state_dir_trust(s, dir);
}

static int
forget_key(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct iobs_cache *c = arg;

	(void)val;
	(void)len;
	(void)exp;
	iobs_cache_del(c, key);
	return 0;
}

/* What a killed predecessor left there is not true any more. */
static void
cache_reset(struct super *s)
{
	static const char *prefix[] = { "pipeline/", "options/", "watch/" };
	size_t i;

	for (i = 0; i < 3; i++)
		iobs_cache_list(s->cache, prefix[i], forget_key, s->cache);
	status_supervisor(s, NULL);
}

static int
supervise(struct super *s)
{
	struct pidfh *pfh;
	pid_t other;
	char *pidfile;
	size_t i, j;

	/* Before the pid file says we run, SIGTERM must reach the loop. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	s->sfd = iobs_signalfd(SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0);
	state_dir_make(s, s->state_dir);
	/* Also before it: with no instance left, nothing is left behind. */
	if ((s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		if (errno == EMFILE) {
			char msg[256];

			iobs_limit_message(IOBS_LIMIT_INSTANCES, msg,
			    sizeof(msg));
			errx(1, "%s", msg);
		}
		err(1, "inotify_init1");
	}
	if (asprintf(&pidfile, "%s/iobs-supervise.pid", s->state_dir) == -1 ||
	    asprintf(&s->cache_dir, "%s/cache", s->state_dir) == -1)
		err(1, "asprintf");
	if ((pfh = pidfile_open(pidfile, 0600, &other)) == NULL) {
		if (errno == EEXIST)
			errx(2, "%s: already running as pid %d", s->state_dir,
			    (int)other);
		err(1, "%s", pidfile);
	}
	if (pidfile_write(pfh) == -1)
		err(1, "%s", pidfile);
	/* Only this process uses it: children are exec'd, never given it. */
	if ((s->cache = iobs_cache_open(s->cache_dir, 1)) == NULL)
		err(1, "%s", s->cache_dir);
	s->since = time(NULL);
	cache_reset(s);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		err(1, "prctl");
	s->cwd_wd = s->pwd_wd = -1;
	reload_watch(s);
	for (i = 0; i < s->conf.nwatch; i++) {
		status_watch(s, &s->conf.watch[i]);
		for (j = 0; j < s->conf.watch[i].nplugin; j++)
			pipeline_add(s, &s->conf.watch[i],
			    &s->conf.watch[i].plugin[j]);
	}
	setproctitle("supervising %s", s->conf_file);
	notify_init();

	run(s);

	cache_reset(s);
	iobs_cache_del(s->cache, "supervisor");
	iobs_cache_close(s->cache);
	pidfile_remove(pfh);
	free(pidfile);
	close(s->ifd);
	close(s->sfd);
	return 0;
}

/*
 * The cache a subcommand reads: $IOBS_CACHE, else the state dir's.
 * NULL when there is none: no supervisor has run there since the
 * state dir was made (a unit's RuntimeDirectory is removed at stop).
 */
static struct iobs_cache *
open_cache_for(struct super *s)
{
	struct iobs_cache *c;
	struct stat st;
	char *dir;

	if (getenv(IOBS_CACHE_ENV) != NULL && *getenv(IOBS_CACHE_ENV) != '\0')
		dir = xstrdup(getenv(IOBS_CACHE_ENV));
	else if (asprintf(&dir, "%s/cache", s->state_dir) == -1)
		err(1, "asprintf");
	if (stat(dir, &st) == -1 && errno == ENOENT) {
		free(dir);
		return NULL;
	}
	if ((c = iobs_cache_open(dir, 0)) == NULL)
		err(1, "%s", dir);
	free(dir);
	return c;
}

int
main(int argc, char *argv[], char *envp[])
{
	static const struct option longopts[] = {
		{ "insecure-files",	no_argument,	NULL, 'I' },
		{ NULL,			0,		NULL, 0 }
	};
	struct super s;
	struct iobs_cache *c;
	int ch, check = 0, rc, json;
	char *state_opt = NULL, errbuf[PATH_MAX + 256], *conf_err = NULL;
	char *warns = NULL;
	const char *why;

	setproctitle_init(argc, argv, envp);
	iobs_help_options(argc, argv, synopsis, options,
	    "iobs-supervise(8)");
	memset(&s, 0, sizeof(s));
	/* Our own messages, prog: thing: what is wrong, not getopt's. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:np:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'I':
			s.insecure = 1;
			break;
		case 'c':
			s.conf_file = xstrdup(optarg);
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			s.plugin_dir_opt = xstrdup(optarg);
			break;
		case 's':
			state_opt = xstrdup(optarg);
			break;
		default:
			iobs_getopt_error(ch, argv, errbuf, sizeof(errbuf));
			warnx("%s", errbuf);
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	json = argc == 2 && strcmp(argv[0], "status") == 0 &&
	    strcmp(argv[1], "--json") == 0;
	if (argc == 0 && s.conf_file == NULL)
		s.conf_file = xstrdup(IOBS_CONFIG);
	if (argc > 0 && (why = command_error(argc, argv, check, json)) !=
	    NULL) {
		warnx("%s", why);
		usage();
	}
	if (s.conf_file != NULL && argc == 0) {
		environ_clean();
		load(&s, 1, 1);
	} else if (s.conf_file != NULL && (config_load(s.conf_file,
	    s.plugin_dir_opt, &s.conf, errbuf, sizeof(errbuf), &warns) == -1 ||
	    config_trust(&s, &s.conf, errbuf, sizeof(errbuf)) == -1))
		/* What runs is still there to see: said, not fatal. */
		conf_err = errbuf;
	free(warns);
	if (state_opt != NULL)
		s.state_dir = state_opt;
	else if (s.conf.state_dir != NULL)
		s.state_dir = xstrdup(s.conf.state_dir);
	else
		s.state_dir = default_state_dir();
	if (check) {
		state_dir_trust(&s, s.state_dir);
		rc = 0;
		goto done;
	}
	if (argc > 0) {
		if (getenv(IOBS_CACHE_ENV) == NULL ||
		    *getenv(IOBS_CACHE_ENV) == '\0')
			state_dir_trust(&s, s.state_dir);
		c = open_cache_for(&s);
		if (argv[0][0] == 's')
			rc = status_print(c, json, conf_err);
		else if (argv[0][0] == 'r')
			rc = restart_command(c, argc, argv);
		else if (c == NULL)
			errx(1, "%s/cache: no cache: no supervisor has run "
			    "there (see -s)", s.state_dir);
		else
			rc = cache_command(c, argc, argv);
		iobs_cache_close(c);
	} else
		rc = supervise(&s);
done:
	config_free(&s.conf);
	free(s.state_dir);
	free(s.cache_dir);
	free((char *)s.conf_file);
	free((char *)s.plugin_dir_opt);
	free(state_opt != s.state_dir ? state_opt : NULL);
	return rc;
}
