/*
 * Pipelines: for each watch and each of its plugins, one iobs-watch
 * whose standard output is the plugin's standard input, both in a
 * process group of their own. Each plugin has its own watcher, so the
 * kernel and that watcher's buffer keep plugins apart: a slow or dead
 * plugin holds up nobody else, and a restarted one starts from a
 * fresh WATCH_INIT.
 *
 * A pipeline's life is the state × event table below, applied by one
 * function, pipeline_event(); iobs-supervise(8) draws the same table.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervise.h"
#include "xalloc.h"

void
pipeline_add(struct super *s, const struct wconf *w,
    const struct plugin *pl)
{
	struct pipeline *p, **tail;
	size_t i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		err(1, "calloc");
	p->path = xstrdup(w->path);
	p->plugin = xstrdup(pl->name);
	p->exe = xstrdup(pl->exe);
	if ((p->wargv = calloc(w->nwargv + 1, sizeof(char *))) == NULL)
		err(1, "calloc");
	for (i = 0; i < w->nwargv; i++)
		p->wargv[i] = xstrdup(w->wargv[i]);
	p->nwargv = w->nwargv;
	p->opts = config_plugin_options(w, pl->name);
	p->errfd = p->readyfd = p->statsfd = p->ignfd = -1;
	p->state = S_DOWN;
	p->deadline = now_ms();
	p->delay = s->conf.restart_delay;
	strlcpy(p->last, "-", sizeof(p->last));
	for (tail = &s->pipes; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = p;
	status_save(s, p);
}

void
pipeline_free(struct pipeline *p)
{
	size_t i;

	if (p->errfd != -1)
		close(p->errfd);
	if (p->readyfd != -1)
		close(p->readyfd);
	if (p->statsfd != -1)
		close(p->statsfd);
	if (p->ignfd != -1)
		close(p->ignfd);
	free(p->path);
	free(p->plugin);
	free(p->exe);
	for (i = 0; i < p->nwargv; i++)
		free(p->wargv[i]);
	free(p->wargv);
	free(p->opts);
	free(p);
}

static void
unlink_pipeline(struct super *s, struct pipeline *p)
{
	struct pipeline **pp;

	for (pp = &s->pipes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	status_forget(s, p);
	pipeline_free(p);
}

/* from becomes to in a child, without its close-on-exec flag. */
static void
move_fd(int from, int to)
{
	if (from == to) {
		if (fcntl(to, F_SETFD, 0) == -1)
			_exit(127);
	} else if (dup2(from, to) == -1)
		_exit(127);
}

/*
 * In the child, between fork and exec: its own group, gone when the
 * supervisor goes, signals as they were before the supervisor's
 * changes, and only the descriptors it is meant to have.
 */
static void
child_setup(struct super *s, struct pipeline *p, pid_t parent, pid_t pgid,
    int fd0, int fd1, int fd2, int fd3, int fd4, int fd5)
{
	sigset_t none;
	char *key;

	(void)setpgid(0, pgid);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	move_fd(fd0, 0);
	move_fd(fd1, 1);
	move_fd(fd2, 2);
	/* fd4 and fd5 out of the way of those before them first. */
	if (fd4 == 3 && (fd4 = dup(fd4)) == -1)
		_exit(127);
	if ((fd5 == 3 || fd5 == 4) && (fd5 = dup(fd5)) == -1)
		_exit(127);
	if (fd3 != -1)
		move_fd(fd3, 3);
	if (fd4 != -1)
		move_fd(fd4, 4);
	if (fd5 != -1)
		move_fd(fd5, 5);
	closefrom(fd5 != -1 ? 6 : fd4 != -1 ? 5 : fd3 != -1 ? 4 : 3);
	key = options_key(p->plugin, p->path);
	if (setenv("IOBS_CACHE", s->cache_dir, 1) == -1 ||
	    setenv("IOBS_WATCH", p->path, 1) == -1 ||
	    setenv("IOBS_PLUGIN", p->plugin, 1) == -1 ||
	    setenv("IOBS_OPTIONS", key, 1) == -1)
		_exit(127);
	free(key);
}

/*
 * The watcher leaves out what the other plugins of its watch do to the
 * tree (a mirror's reads and its rsync's, say): the process groups of
 * those pipelines, on its --ignore-fd, as they come and go. Only the
 * fanotify backend knows who made a change.
 */
static void
exec_watcher(struct pipeline *p)
{
	static char exe[4096];
	char **argv;
	size_t i, n = 0;

	if ((argv = calloc(p->nwargv + 8, sizeof(char *))) == NULL)
		_exit(127);
	argv[n++] = "iobs-watch";
	argv[n++] = "--ready-fd=3";
	argv[n++] = "--stats-fd=4";
	argv[n++] = "--ignore-fd=5";
	/* The scribe says who made a change, where the backend knows. */
	if (strcmp(p->plugin, "scribe") == 0)
		argv[n++] = "--pid";
	for (i = 0; i < p->nwargv; i++)
		argv[n++] = p->wargv[i];
	argv[n++] = "--";
	argv[n++] = p->path;
	if (tool_path("watch", exe, sizeof(exe)) == 0)
		execv(exe, argv);
	else
		execvp("iobs-watch", argv);
	dprintf(2, "iobs-watch: cannot run: %s\n", strerror(errno));
	_exit(127);
}

/*
 * p's watcher is told the whole set again: the groups of the pipelines
 * of its watch that run now, its own among them (its plugin's reads,
 * and its writes, say a log kept in the tree, are no news to it
 * either; iobs-exec's commands run in groups of their own, so what
 * they change is reported). A full pipe (its watcher saw no event for
 * thousands of changes) is told again on the next tick.
 */
static void
tell_one(struct super *s, struct pipeline *p)
{
	struct pipeline *q;
	char line[IGNORE_TELL_MAX];
	size_t len = 0;
	int n;

	p->ign_owed = 0;
	if (p->ignfd == -1)
		return;
	for (q = s->pipes; q != NULL; q = q->next)
		if (q->pgid > 0 && strcmp(q->path, p->path) == 0 &&
		    len + 16 < sizeof(line) &&
		    (n = snprintf(line + len, sizeof(line) - len, "%s%ld",
		    len > 0 ? " " : "", (long)q->pgid)) > 0)
			len += n;
	line[len++] = '\n';
	/* Less than PIPE_BUF: all of it, or nothing and EAGAIN. */
	if (write(p->ignfd, line, len) == -1 && errno == EAGAIN)
		p->ign_owed = 1;
}

/* The groups of path's pipelines changed: each watcher of it is told. */
static void
tell_siblings(struct super *s, const struct pipeline *changed)
{
	struct pipeline *q;

	for (q = s->pipes; q != NULL; q = q->next)
		if (q != changed && strcmp(q->path, changed->path) == 0)
			tell_one(s, q);
}

static void
exec_plugin(struct pipeline *p)
{
	char **argv, *opts, *line, *name;
	size_t n = 0;

	if ((argv = calloc(strlen(p->opts) + 2, sizeof(char *))) == NULL ||
	    (opts = strdup(p->opts)) == NULL ||
	    asprintf(&name, "iobs-%s", p->plugin) == -1)
		_exit(127);
	argv[n++] = name;
	while ((line = strsep(&opts, "\n")) != NULL)
		if (*line != '\0')
			argv[n++] = line;
	execv(p->exe, argv);
	dprintf(2, "%s: cannot run: %s\n", p->exe, strerror(errno));
	_exit(127);
}

static int
path_ready(struct super *s, struct pipeline *p)
{
	struct stat st;

	if (stat(p->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (p->waiting)
			warnx("%s: there now; watching it", p->path);
		p->waiting = 0;
		return 1;
	}
	if (!p->waiting)
		warnx("%s %s: %s: %s; retrying until it is", p->path,
		    p->plugin, p->path, errno ? strerror(errno) :
		    "not a directory");
	p->waiting = 1;
	p->deadline = now_ms() + s->conf.restart_delay;
	status_save(s, p);
	return 0;
}

static void
spawn(struct super *s, struct pipeline *p)
{
	int data[2], errp[2], ready[2], stats[2], ign[2], devnull;
	pid_t self = getpid();

	errno = 0;
	if (!path_ready(s, p))
		return;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    pipe2(data, O_CLOEXEC) == -1 || pipe2(errp, O_CLOEXEC) == -1 ||
	    pipe2(ready, O_CLOEXEC) == -1 || pipe2(stats, O_CLOEXEC) == -1 ||
	    pipe2(ign, O_CLOEXEC | O_NONBLOCK) == -1)
		err(1, "pipe");
	/* Its first set is in the pipe before it can read an event. */
	p->ignfd = ign[1];
	/* The last run's destinations are not this one's. */
	status_forget_dests(s, p);
	tell_one(s, p);
	if ((p->wpid = fork()) == -1)
		err(1, "fork");
	if (p->wpid == 0) {
		child_setup(s, p, self, 0, devnull, data[1], errp[1],
		    ready[1], stats[1], ign[0]);
		exec_watcher(p);
	}
	p->pgid = p->wpid;
	(void)setpgid(p->wpid, p->pgid);
	close(ign[0]);
	/* Before its plugin runs, so that no change of it is news. */
	tell_one(s, p);
	tell_siblings(s, p);
	/* The watcher is not reaped before this fork: its group lives. */
	if ((p->ppid = fork()) == -1)
		err(1, "fork");
	if (p->ppid == 0) {
		child_setup(s, p, self, p->pgid, data[0], 1, errp[1], -1, -1,
		    -1);
		exec_plugin(p);
	}
	(void)setpgid(p->ppid, p->pgid);
	close(devnull);
	close(data[0]);
	close(data[1]);
	close(errp[1]);
	close(ready[1]);
	close(stats[1]);
	p->statsfd = stats[0];
	fcntl(p->statsfd, F_SETFL, O_NONBLOCK);
	p->errfd = errp[0];
	p->readyfd = ready[0];
	fcntl(p->errfd, F_SETFL, O_NONBLOCK);
	fcntl(p->readyfd, F_SETFL, O_NONBLOCK);
	p->stop_stage = 0;
	p->errlen = 0;
	p->lasterr[0] = '\0';
	p->started = now_ms();
	p->front = config_mirror_dests(p->plugin, p->opts) > 1;
	p->since = time(NULL);
	/* A new watcher counts from 0: what this run of it saw. */
	p->events = 0;
	p->last_event[0] = '\0';
}


static int
group_empty(pid_t pgid)
{
	return kill(-pgid, 0) == -1 && errno == ESRCH;
}

static void
drain_err(struct pipeline *p)
{
	if (p->errfd != -1)
		pipeline_read_err(NULL, p);
}

/* Every member is reaped: its descriptors go too. */
static void
close_fds(struct super *s, struct pipeline *p)
{
	drain_err(p);
	if (p->errfd != -1)
		close(p->errfd);
	if (p->readyfd != -1)
		close(p->readyfd);
	if (p->statsfd != -1)
		close(p->statsfd);
	if (p->ignfd != -1)
		close(p->ignfd);
	p->errfd = p->readyfd = p->statsfd = p->ignfd = -1;
	p->pgid = 0;
	p->hup_pending = 0;
	tell_siblings(s, p);
}

/*
 * The actions. Each returns -1 for the table's next state, or the
 * state it decides on (the table says which may), or FREED when the
 * pipeline is gone.
 */
#define FREED	(-2)

static int
a_spawn(struct super *s, struct pipeline *p)
{
	spawn(s, p);
	return p->wpid == 0 ? S_DOWN : -1;
}

static int
a_ready(struct super *s, struct pipeline *p)
{
	(void)s;
	if (p->hup_pending && p->wpid > 0)
		kill(p->wpid, SIGHUP);
	p->hup_pending = 0;
	return -1;
}

static int
a_hup(struct super *s, struct pipeline *p)
{
	(void)s;
	if (p->wpid > 0)
		kill(p->wpid, SIGHUP);
	return -1;
}

/* Not ready yet: its watcher is told once it is. */
static int
a_hup_later(struct super *s, struct pipeline *p)
{
	(void)s;
	p->hup_pending = 1;
	return -1;
}

/* Producer first: the plugin reads WATCH_DEAD, then EOF. */
static int
a_term(struct super *s, struct pipeline *p)
{
	if (p->wpid > 0)
		kill(p->wpid, SIGTERM);
	/* The group is signalled half-way, killed at the end. */
	p->stop_stage = 0;
	p->deadline = now_ms() + s->conf.stop_timeout / 2;
	return -1;
}

static int
a_deadline(struct super *s, struct pipeline *p)
{
	if (p->stop_stage == 0) {
		kill(-p->pgid, SIGTERM);
		kill(-p->pgid, SIGCONT);
		p->stop_stage = 1;
		p->deadline = now_ms() + s->conf.stop_timeout -
		    s->conf.stop_timeout / 2;
	} else if (p->stop_stage == 1) {
		warnx("%s %s: still running %g s after SIGTERM; killed",
		    p->path, p->plugin, s->conf.stop_timeout / 1000.0);
		kill(-p->pgid, SIGKILL);
		p->stop_stage = 2;
	}
	return -1;
}

/* Crashed: back off, or fail past fail_limit. */
static int
a_backoff(struct super *s, struct pipeline *p)
{
	int64_t now = now_ms(), since;
	int i, n;

	close_fds(s, p);
	if (now - p->started >= s->conf.restart_reset)
		p->delay = s->conf.restart_delay;
	memmove(p->fails + 1, p->fails, sizeof(p->fails) - sizeof(p->fails[0]));
	p->fails[0] = now;
	if (p->nfails < FAIL_MAX)
		p->nfails++;
	since = now - s->conf.fail_window;
	for (i = n = 0; i < p->nfails; i++)
		if (p->fails[i] >= since)
			n++;
	if (n >= s->conf.fail_limit) {
		warnx("%s %s: %s; failed %d times in %g s: left down until "
		    "the next reload", p->path, p->plugin, p->last, n,
		    s->conf.fail_window / 1000.0);
		return S_FAILED;
	}
	p->deadline = now + p->delay;
	warnx("%s %s: %s; restart %u in %g s", p->path, p->plugin, p->last,
	    p->restarts + 1, p->delay / 1000.0);
	p->delay *= 2;
	if (p->delay > s->conf.restart_delay_max)
		p->delay = s->conf.restart_delay_max;
	p->restarts++;
	return -1;
}

/* Exit 2, a usage or config error: starting again would not help. */
static int
a_fail(struct super *s, struct pipeline *p)
{
	(void)s;
	close_fds(s, p);
	if (p->lasterr[0] != '\0') {
		strlcat(p->last, ": ", sizeof(p->last));
		strlcat(p->last, p->lasterr, sizeof(p->last));
	}
	warnx("%s %s: %s; left down until the config changes or "
	    "\"restart %s\"", p->path, p->plugin, p->last, p->path);
	return -1;
}

/* Stopped for a new config: at least restart_delay between starts. */
static int
a_again(struct super *s, struct pipeline *p)
{
	int64_t now = now_ms();

	close_fds(s, p);
	p->nfails = 0;
	p->delay = s->conf.restart_delay;
	p->deadline = p->started + s->conf.restart_delay;
	if (p->deadline < now)
		p->deadline = now;
	return -1;
}

/* Down or failed, asked to start again: at once. */
static int
a_reset(struct super *s, struct pipeline *p)
{
	p->nfails = 0;
	p->delay = s->conf.restart_delay;
	p->deadline = now_ms();
	return -1;
}

static int
a_free(struct super *s, struct pipeline *p)
{
	close_fds(s, p);
	unlink_pipeline(s, p);
	return FREED;
}

/*
 * The table: for each state and event, the action and the next state.
 * An event a state does not list is ignored there. "stop" below is
 * the watcher's SIGTERM, then the group's at stop_timeout / 2, then
 * SIGKILL at stop_timeout (the deadline event).
 */
static const struct transition {
	int		(*act)(struct super *, struct pipeline *);
	enum pstate	 next;
} table[S_NSTATES][E_NEVENTS] = {
	[S_DOWN] = {
		[E_START] =	{ a_spawn,	S_STARTING },	/* or DOWN */
		[E_HUP] =	{ NULL,		S_DOWN },
		[E_RESTART] =	{ a_reset,	S_DOWN },
		[E_REMOVE] =	{ a_free,	S_NONE },
	},
	[S_STARTING] = {
		[E_READY] =	{ a_ready,	S_UP },
		[E_EXIT] =	{ a_term,	S_STOPPING },
		[E_FATAL] =	{ a_term,	S_FAILING },
		[E_HUP] =	{ a_hup_later,	S_STARTING },
		[E_RESTART] =	{ a_term,	S_RESTARTING },
		[E_REMOVE] =	{ a_term,	S_REMOVING },
	},
	[S_UP] = {
		[E_EXIT] =	{ a_term,	S_STOPPING },
		[E_FATAL] =	{ a_term,	S_FAILING },
		[E_HUP] =	{ a_hup,	S_UP },
		[E_RESTART] =	{ a_term,	S_RESTARTING },
		[E_REMOVE] =	{ a_term,	S_REMOVING },
	},
	[S_STOPPING] = {
		[E_FATAL] =	{ NULL,		S_FAILING },
		[E_GONE] =	{ a_backoff,	S_DOWN },	/* or FAILED */
		[E_RESTART] =	{ NULL,		S_RESTARTING },
		[E_REMOVE] =	{ NULL,		S_REMOVING },
		[E_DEADLINE] =	{ a_deadline,	S_STOPPING },
	},
	[S_FAILING] = {
		[E_GONE] =	{ a_fail,	S_FAILED },
		[E_RESTART] =	{ NULL,		S_RESTARTING },
		[E_REMOVE] =	{ NULL,		S_REMOVING },
		[E_DEADLINE] =	{ a_deadline,	S_FAILING },
	},
	[S_RESTARTING] = {
		[E_GONE] =	{ a_again,	S_DOWN },
		[E_REMOVE] =	{ NULL,		S_REMOVING },
		[E_DEADLINE] =	{ a_deadline,	S_RESTARTING },
	},
	[S_REMOVING] = {
		[E_GONE] =	{ a_free,	S_NONE },
		[E_RESTART] =	{ NULL,		S_RESTARTING },
		[E_DEADLINE] =	{ a_deadline,	S_REMOVING },
	},
	[S_FAILED] = {
		[E_RESTART] =	{ a_reset,	S_DOWN },
		[E_REMOVE] =	{ a_free,	S_NONE },
	},
};

/* The one transition function. Returns 1 when p is freed. */
int
pipeline_event(struct super *s, struct pipeline *p, enum pevent ev)
{
	const struct transition *t = &table[p->state][ev];
	int next = -1;

	if (t->next == S_NONE && t->act == NULL)
		return 0;
	if (t->act != NULL)
		next = t->act(s, p);
	if (next == FREED)
		return 1;
	p->state = next != -1 ? (enum pstate)next : t->next;
	status_save(s, p);
	return 0;
}

static int
stopping(const struct pipeline *p)
{
	return p->state == S_STOPPING || p->state == S_FAILING ||
	    p->state == S_RESTARTING || p->state == S_REMOVING;
}

/*
 * Both members reaped: gone once the group is empty too. Members of
 * the plugin's own making that outlive it are killed. Returns 1 when
 * p is freed.
 */
static int
check_gone(struct super *s, struct pipeline *p)
{
	if (!stopping(p) || p->wpid != 0 || p->ppid != 0)
		return 0;
	if (!group_empty(p->pgid)) {
		if (p->stop_stage < 2) {
			kill(-p->pgid, SIGKILL);
			p->stop_stage = 2;
		}
		return 0;
	}
	return pipeline_event(s, p, E_GONE);
}

static void
describe(char *buf, size_t len, const char *who, int status)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "%s killed by signal %d (SIG%s)", who,
		    WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(buf, len, "%s exited %d", who, WEXITSTATUS(status));
}

/* How much an exit says about a failure: clean, a stop or error, a kill. */
static int
exit_rank(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status) != 0;
	switch (WTERMSIG(status)) {
	case SIGTERM:
	case SIGPIPE:
	case SIGHUP:
	case SIGINT:
		return 1;
	default:
		return 2;
	}
}

void
pipeline_reaped(struct super *s, pid_t pid, int status)
{
	struct pipeline *p;
	char who[80];
	int fatal;

	for (p = s->pipes; p != NULL; p = p->next)
		if (p->wpid == pid || p->ppid == pid)
			break;
	if (p == NULL)
		return;	/* a plugin's own child, reparented to us */
	if (p->wpid == pid) {
		p->wpid = 0;
		strlcpy(who, "iobs-watch", sizeof(who));
	} else {
		p->ppid = 0;
		snprintf(who, sizeof(who), "iobs-%s", p->plugin);
	}
	fatal = WIFEXITED(status) && WEXITSTATUS(status) == 2;
	if (p->state == S_STARTING || p->state == S_UP ||
	    (p->state == S_STOPPING && p->stop_stage == 0 &&
	    (fatal || exit_rank(status) > p->last_rank))) {
		/*
		 * The first exit names the failure; a killed watcher closes
		 * the pipe before it is a zombie, so its plugin, ending
		 * cleanly at EOF, may be reaped first: a worse exit while
		 * the crash is being stopped names it instead.
		 */
		describe(p->last, sizeof(p->last), who, status);
		p->last_rank = exit_rank(status);
	}
	if (pipeline_event(s, p, fatal ? E_FATAL : E_EXIT) == 0)
		check_gone(s, p);
}

void
pipeline_tick(struct super *s, int64_t now)
{
	struct pipeline *p, *next;

	for (p = s->pipes; p != NULL; p = next) {
		next = p->next;
		if (p->ign_owed)
			tell_one(s, p);
		if (p->state == S_DOWN && !s->stopping && p->deadline <= now)
			pipeline_event(s, p, E_START);
		else if (stopping(p)) {
			if (p->stop_stage < 2 && p->deadline <= now &&
			    pipeline_event(s, p, E_DEADLINE))
				continue;
			check_gone(s, p);
		}
	}
}

int64_t
pipeline_next_deadline(struct super *s)
{
	struct pipeline *p;
	int64_t next = -1, t;

	for (p = s->pipes; p != NULL; p = p->next) {
		if (p->state == S_DOWN && !s->stopping)
			t = p->deadline;
		else if (stopping(p) && p->wpid == 0 && p->ppid == 0)
			t = now_ms() + 20;	/* waiting for strays to go */
		else if (stopping(p) && p->stop_stage < 2)
			t = p->deadline;
		else if (p->ign_owed)
			t = now_ms() + 1000;
		else
			continue;
		if (next == -1 || t < next)
			next = t;
	}
	return next;
}

/*
 * One of the children's lines reaches our log with its watch and
 * plugin; the last one that is not a usage line is kept, to say why a
 * pipeline failed.
 */
static void
err_line(struct pipeline *p, const char *line, int len)
{
	warnx("%s %s: %.*s", p->path, p->plugin, len, line);
	if (len > 0 && strncmp(line, "usage:", 6) != 0 && line[0] != ' ')
		snprintf(p->lasterr, sizeof(p->lasterr), "%.*s", len, line);
}

void
pipeline_read_err(struct super *s, struct pipeline *p)
{
	char *nl;
	ssize_t n;
	size_t off;

	(void)s;
	for (;;) {
		n = read(p->errfd, p->errbuf + p->errlen,
		    sizeof(p->errbuf) - 1 - p->errlen);
		if (n > 0)
			p->errlen += n;
		off = 0;
		while ((nl = memchr(p->errbuf + off, '\n', p->errlen - off))
		    != NULL) {
			err_line(p, p->errbuf + off,
			    (int)(nl - p->errbuf - off));
			off = nl - p->errbuf + 1;
		}
		memmove(p->errbuf, p->errbuf + off, p->errlen - off);
		p->errlen -= off;
		if (p->errlen == sizeof(p->errbuf) - 1 || (n <= 0 &&
		    p->errlen > 0 && !(n == -1 && errno == EAGAIN))) {
			err_line(p, p->errbuf, (int)p->errlen);
			p->errlen = 0;
		}
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
			close(p->errfd);
			p->errfd = -1;
			return;
		}
		if (n == -1 && errno == EAGAIN)
			return;
	}
}

void
pipeline_read_ready(struct super *s, struct pipeline *p)
{
	char c;
	ssize_t n;

	n = read(p->readyfd, &c, 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	close(p->readyfd);
	p->readyfd = -1;
	if (n == 1)
		pipeline_event(s, p, E_READY);
}

/* The watcher's --stats-fd lines: "EVENTS SECONDS.MICROSECONDS". */
void
pipeline_read_stats(struct super *s, struct pipeline *p)
{
	char buf[1024], *line, *nl, *sp;
	ssize_t n;
	int got = 0;

	n = read(p->statsfd, buf, sizeof(buf) - 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(p->statsfd);
		p->statsfd = -1;
		return;
	}
	buf[n] = '\0';
	/* Lines are short and written whole: the last complete one counts. */
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp = '\0';
		p->events = strtoull(line, NULL, 10);
		snprintf(p->last_event, sizeof(p->last_event), "%s", sp + 1);
		got = 1;
	}
	if (got)
		status_save(s, p);
}
