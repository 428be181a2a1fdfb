/*
 * Several destinations: iobs-mirror DEST DEST... reads the stream once
 * and runs one iobs-mirror a destination, each on a pipe of its own,
 * as a front. Each keeps its own state, retries and back-off, and the
 * stream waits for none of them: what one has not taken yet waits
 * here, up to QUEUE_MAX bytes; past that it is dropped, and that
 * destination is reconciled instead (an OVERFLOW and its roots'
 * WATCH_INIT, as the watcher says after lost events). A child that
 * exits is started again after a back-off, and reconciles; one that
 * exits with 2 (its DEST or options refused) waits for new options.
 * For iobs-supervise status, the front keeps each destination's state
 * in the cache, under dests/PLUGIN/PATH.
 */
#define _GNU_SOURCE

#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "child.h"
#include "clock.h"
#include "options.h"
#include "signals.h"
#include "stream.h"
#include "mirror.h"
#include "remote.h"

#define QUEUE_MAX	(32 << 20)	/* bytes waiting for one child */
#define QUEUE_KEEP	(1 << 20)	/* a drained queue's memory kept */
#define HEALTHY_MS	60000	/* a child up this long: back-off afresh */
#define PUBLISH_MS	1000	/* the cache, while a queue changes */

/*
 * A destination's states: what its child does, as status shows it.
 * Its events move it along the table; a cell of -1 is no change.
 */
enum bstate { B_UP, B_BEHIND, B_DOWN, B_STOPPED, B_NSTATES };
enum bevent { BE_DRAINED, BE_QUEUED, BE_EXIT1, BE_EXIT2, BE_START,
    BE_NEVENTS };
static const char *const bstate_names[] = {
	[B_UP] = "up", [B_BEHIND] = "behind", [B_DOWN] = "down",
	[B_STOPPED] = "stopped",
};
static const int btable[B_NSTATES][BE_NEVENTS] = {
	/*		DRAINED	QUEUED		EXIT1	EXIT2		START */
	[B_UP] =	{ -1,	B_BEHIND,	B_DOWN,	B_STOPPED,	-1 },
	[B_BEHIND] =	{ B_UP,	-1,		B_DOWN,	B_STOPPED,	-1 },
	[B_DOWN] =	{ -1,	-1,		-1,	B_STOPPED,	B_BEHIND },
	[B_STOPPED] =	{ -1,	-1,		B_DOWN,	-1,		B_BEHIND },
};

struct branch {
	char		*dest;
	int		 n;		/* 1, 2, ...: for the cache's keys */
	enum bstate	 state;
	time_t		 since;		/* in that state */
	pid_t		 pid;		/* 0: none runs */
	int		 fd;		/* its stdin, or -1 */
	char		*q;		/* the stream it has yet to take */
	size_t		 qlen, qoff, qcap;
	int		 midline;	/* a line of it is partly written */
	int		 retired;	/* not in the options any more */
	int		 fresh;		/* started by the new options */
	int		 status;	/* its last exit's; -1: none */
	int		 said;		/* its exit is reported */
	int64_t		 started, restart_at, backoff;	/* ms */
};

struct root {
	char		*path;		/* as the stream writes it */
	struct timeval	 time;		/* of its WATCH_INIT */
};

struct front {
	struct branch	*b;
	size_t		 nb;
	char		**argv;		/* a child's: this program, options */
	char		*head, *backend;	/* the stream's header lines */
	struct root	*roots;		/* the roots live: WATCH_INIT, no DEAD */
	size_t		 nroots;
	struct iobs_cache *cache;
	char		*key;		/* dests/PLUGIN/PATH, or NULL */
	int64_t		 published;
	size_t		 pub_queued;	/* the queues' sum it had */
	int		 changed;	/* 1: a state it has not had; 2: now */
	int		 eof;
	int		 rval;
};

static void
queue_add(struct branch *b, const char *s, size_t n)
{
	if (b->qlen + n > b->qcap) {
		if (b->qoff > 0) {
			memmove(b->q, b->q + b->qoff, b->qlen - b->qoff);
			b->qlen -= b->qoff;
			b->qoff = 0;
		}
		while (b->qlen + n > b->qcap)
			b->qcap = b->qcap ? b->qcap * 2 : 64 * 1024;
		if ((b->q = realloc(b->q, b->qcap)) == NULL)
			err(1, "realloc");
	}
	memcpy(b->q + b->qlen, s, n);
	b->qlen += n;
}

/* A lifecycle record of a root, as the watcher writes them. */
static void
queue_lifecycle(struct branch *b, const struct root *r, const char *what)
{
	char vis[IOBS_VIS_MAX(PATH_MAX)], *line;
	size_t n = strlen(r->path[0] ? r->path : "/"), len;

	if (n > PATH_MAX)
		return;
	len = iobs_vis(vis, r->path[0] ? r->path : "/", n);
	if ((line = malloc(IOBS_RECORD_MAX(len))) == NULL)
		err(1, "malloc");
	n = iobs_record_format(line, &r->time, what, 0, vis, len);
	queue_add(b, line, n);
	free(line);
}

/* Where a child starts, or starts again: a whole sync of every root. */
static void
queue_start(struct front *f, struct branch *b, int lost)
{
	size_t i;

	if (f->head != NULL)
		queue_add(b, f->head, strlen(f->head));
	if (f->backend != NULL)
		queue_add(b, f->backend, strlen(f->backend));
	for (i = 0; i < f->nroots; i++) {
		if (lost)
			queue_lifecycle(b, &f->roots[i], "OVERFLOW");
		queue_lifecycle(b, &f->roots[i], "WATCH_INIT");
	}
}

static void
branch_event(struct front *f, struct branch *b, enum bevent ev)
{
	int to = btable[b->state][ev];

	if (to == -1 || to == (int)b->state)
		return;
	b->state = to;
	b->since = time(NULL);
	/* Up and behind come and go with each write: once a second. */
	if (to == B_DOWN || to == B_STOPPED || ev == BE_START)
		f->changed = 2;
	else if (f->changed == 0)
		f->changed = 1;
}

/*
 * Its child, on a pipe whose end here never blocks: a child that is
 * slow to read holds only its own queue.
 */
static void
branch_start(struct front *f, struct branch *b)
{
	char num[16];
	int p[2];

	b->restart_at = 0;
	if (pipe2(p, O_CLOEXEC) == -1) {
		warn("%s: pipe; trying again", b->dest);
		b->restart_at = now_ms() + RETRY_MS;
		return;
	}
	(void)fcntl(p[1], F_SETPIPE_SZ, BATCH_PIPE);
	snprintf(num, sizeof(num), "%d", b->n);
	if (setenv(FANOUT_DEST_ENV, b->dest, 1) == -1 ||
	    setenv(FANOUT_BRANCH_ENV, num, 1) == -1)
		err(1, "setenv");
	b->pid = iobs_spawn(f->argv, p[0], STDOUT_FILENO, STDERR_FILENO);
	(void)unsetenv(FANOUT_DEST_ENV);
	(void)unsetenv(FANOUT_BRANCH_ENV);
	close(p[0]);
	if (b->pid == -1) {
		warn("%s: cannot start its mirror, %s; trying again", b->dest,
		    f->argv[0]);
		close(p[1]);
		b->pid = 0;
		b->restart_at = now_ms() + RETRY_MS;
		return;
	}
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) == -1)
		err(1, "fcntl");
	b->fd = p[1];
	b->started = now_ms();
	b->qlen = b->qoff = 0;
	b->midline = 0;
	queue_start(f, b, 0);
	branch_event(f, b, BE_START);
}

/*
 * Its queue grew past QUEUE_MAX: dropped but for the rest of a line
 * half written, and what it lost made good by a whole sync.
 */
static void
branch_lost(struct front *f, struct branch *b)
{
	char *nl = memchr(b->q + b->qoff, '\n', b->qlen - b->qoff);
	size_t keep = nl != NULL ? (size_t)(nl - (b->q + b->qoff)) + 1 : 0;

	/* A partly written line is whole in the pipe only once finished. */
	if (!b->midline)
		keep = 0;
	memmove(b->q, b->q + b->qoff, keep);
	b->qoff = 0;
	b->qlen = keep;
	queue_start(f, b, 1);
}

/* What its pipe takes now. -1 when the child is gone. */
static int
branch_write(struct front *f, struct branch *b)
{
	ssize_t n;

	while (b->qoff < b->qlen) {
		n = write(b->fd, b->q + b->qoff, b->qlen - b->qoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1)
			return -1;	/* EPIPE: its exit tells the rest */
		b->qoff += n;
		b->midline = b->q[b->qoff - 1] != '\n';
	}
	if (b->qoff == b->qlen) {
		b->qoff = b->qlen = 0;
		/* What a storm grew goes back once it is through. */
		if (b->qcap > QUEUE_KEEP) {
			free(b->q);
			b->q = NULL;
			b->qcap = 0;
		}
		branch_event(f, b, BE_DRAINED);
		if (f->eof || b->retired) {
			close(b->fd);	/* its end of the stream */
			b->fd = -1;
		}
	} else
		branch_event(f, b, BE_QUEUED);
	return 0;
}

/* Its child exited: started again after a back-off, unless refused. */
static void
branch_exited(struct front *f, struct branch *b, int wstatus)
{
	int64_t now = now_ms();
	int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;

	b->pid = 0;
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
	b->qlen = b->qoff = 0;
	b->status = code;
	if (code != 0 && f->rval < code)
		f->rval = code;
	if (f->eof || b->retired)
		return;
	if (now - b->started >= HEALTHY_MS) {
		b->backoff = RETRY_MS;
		b->said = 0;
	}
	if (code == 2) {
		warnx("%s: its mirror stopped, refused (status 2); the other "
		    "destinations go on, and it starts again with new options "
		    "(SIGHUP)", b->dest);
		branch_event(f, b, BE_EXIT2);
		return;
	}
	if (!b->said) {
		if (WIFSIGNALED(wstatus))
			warnx("%s: its mirror was killed by signal %d; "
			    "starting it again", b->dest, WTERMSIG(wstatus));
		else
			warnx("%s: its mirror exited with status %d; "
			    "starting it again", b->dest, code);
		b->said = 1;
	}
	b->restart_at = now + b->backoff;
	if ((b->backoff *= 2) > RETRY_MAX_MS)
		b->backoff = RETRY_MAX_MS;
	branch_event(f, b, BE_EXIT1);
}

/*
 * The cache's dests/PLUGIN/PATH: every destination's state, at once
 * when one is down or starts, else at most once a second.
 */
static void
publish(struct front *f)
{
	FILE *fp;
	char *val = NULL;
	size_t len = 0, i, queued = 0;
	int64_t now = now_ms();

	if (f->key == NULL)
		return;
	for (i = 0; i < f->nb; i++)
		queued += f->b[i].qlen - f->b[i].qoff;
	if (f->changed < 2 && (now - f->published < PUBLISH_MS ||
	    (f->changed == 0 && queued == f->pub_queued)))
		return;
	if ((fp = open_memstream(&val, &len)) == NULL)
		err(1, "open_memstream");
	fprintf(fp, "dests=%zu\n", f->nb);
	for (i = 0; i < f->nb; i++) {
		struct branch *b = &f->b[i];

		fprintf(fp, "dest.%d=%s\nstate.%d=%s\nqueued.%d=%zu\n",
		    b->n, b->dest, b->n, bstate_names[b->state], b->n,
		    b->qlen - b->qoff);
		if (b->status == -1)
			fprintf(fp, "exit.%d=-\n", b->n);
		else
			fprintf(fp, "exit.%d=%d\n", b->n, b->status);
		fprintf(fp, "since.%d=%lld\n", b->n, (long long)b->since);
	}
	if (fclose(fp) == EOF)
		err(1, "open_memstream");
	if (iobs_cache_put(f->cache, f->key, val, len, 0) == -1)
		warnx("cache: %s: %s", f->key, iobs_cache_strerror(f->cache));
	free(val);
	f->published = now;
	f->pub_queued = queued;
	f->changed = 0;
}

static struct branch *
branch_add(struct front *f, const char *dest)
{
	struct branch *b;
	int n = 1;
	size_t i;

	/* The lowest number free: a key keeps its meaning. */
	for (i = 0; i < f->nb; i++)
		if (f->b[i].n == n) {
			n++;
			i = (size_t)-1;
		}
	if ((f->b = reallocarray(f->b, f->nb + 1, sizeof(*f->b))) == NULL)
		err(1, "reallocarray");
	b = &f->b[f->nb++];
	memset(b, 0, sizeof(*b));
	if ((b->dest = strdup(dest)) == NULL)
		err(1, "strdup");
	b->n = n;
	b->fd = -1;
	b->status = -1;
	b->state = B_DOWN;
	b->since = time(NULL);
	b->backoff = RETRY_MS;
	f->changed = 2;
	return b;
}

/* A retired destination whose child has ended: forgotten. */
static void
branch_reap(struct front *f)
{
	size_t i;

	for (i = 0; i < f->nb; i++) {
		struct branch *b = &f->b[i];

		if (!b->retired || b->pid != 0)
			continue;
		free(b->dest);
		free(b->q);
		memmove(b, b + 1, (f->nb - i - 1) * sizeof(*b));
		f->nb--;
		i--;
		f->changed = 2;
	}
}

/*
 * A child's command line: this program, by its file whatever PATH
 * says, and the options as words; each child takes its own DEST from
 * the environment (mirror_options_own()).
 */
static char **
child_argv(char *const *words, int n)
{
	char **v;
	int i;

	if ((v = calloc(n + 2, sizeof(*v))) == NULL)
		err(1, "calloc");
	if ((v[0] = realpath("/proc/self/exe", NULL)) == NULL)
		err(1, "/proc/self/exe");
	for (i = 0; i < n; i++)
		if ((v[i + 1] = strdup(words[i])) == NULL)
			err(1, "strdup");
	return v;
}

static void
argv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * New options, on WATCH_RECONFIG or SIGHUP, from the cache as a
 * mirror's own reconfigure() reads them: checked once here, so that a
 * bad key gives one line, not one a child. Children whose DEST stays
 * are told (forward); those dropped end at their stream's end; new
 * ones start; refused ones start again. Returns whether to tell them.
 */
static int
reconfigure(struct front *f)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	struct mirror_options o;
	char why[PATH_MAX + 256], **words;
	size_t i, j;
	int n;

	if (iobs_options_fetch(f->cache, &n, &words) != 0)
		return 1;	/* no options kept: each reconciles */
	if (mirror_options_parse(n, words, &o, why, sizeof(why)) == -1) {
		warnx("%s: %s; keeping the old options", key, why);
		iobs_options_free(words);
		return 0;
	}
	/* words[0] is a name, as getopt wants it. */
	argv_free(f->argv);
	f->argv = child_argv(words + 1, n - 1);
	iobs_options_free(words);
	for (i = 0; i < f->nb; i++) {
		for (j = 0; j < o.ndest; j++)
			if (strcmp(o.dests[j], f->b[i].dest) == 0)
				break;
		if (j == o.ndest && !f->b[i].retired) {
			f->b[i].retired = 1;
			if (f->b[i].fd != -1 && f->b[i].qoff == f->b[i].qlen) {
				close(f->b[i].fd);
				f->b[i].fd = -1;
			}
		}
	}
	for (j = 0; j < o.ndest; j++) {
		for (i = 0; i < f->nb; i++)
			if (!f->b[i].retired &&
			    strcmp(o.dests[j], f->b[i].dest) == 0)
				break;
		if (i == f->nb)
			branch_start(f, branch_add(f, o.dests[j]));
		else if (f->b[i].state == B_STOPPED)
			branch_start(f, &f->b[i]);
		else
			continue;
		/* branch_add() may move them: found again by its DEST. */
		for (i = 0; i < f->nb; i++)
			if (!f->b[i].retired &&
			    strcmp(o.dests[j], f->b[i].dest) == 0)
				f->b[i].fresh = 1;
	}
	mirror_options_free(&o);
	branch_reap(f);
	return 1;
}

/* The roots live, for a child that starts later: WATCH_INIT, DEAD. */
static void
root_note(struct front *f, const struct iobs_record *r)
{
	char *path = root_name(r->path);
	size_t i;

	for (i = 0; i < f->nroots; i++)
		if (strcmp(f->roots[i].path, path) == 0)
			break;
	if (r->lifecycle == IOBS_WATCH_DEAD && i < f->nroots) {
		free(f->roots[i].path);
		f->roots[i] = f->roots[--f->nroots];
	} else if (r->lifecycle == IOBS_WATCH_INIT && i == f->nroots) {
		if ((f->roots = reallocarray(f->roots, f->nroots + 1,
		    sizeof(*f->roots))) == NULL)
			err(1, "reallocarray");
		f->roots[f->nroots].path = path;
		f->roots[f->nroots++].time = r->time;
		return;
	} else if (r->lifecycle == IOBS_WATCH_INIT)
		f->roots[i].time = r->time;
	free(path);
}

/* A header line, kept for a child that starts later. */
static void
head_note(char **keep, const char *line, size_t len)
{
	free(*keep);
	if ((*keep = malloc(len + 2)) == NULL)
		err(1, "malloc");
	memcpy(*keep, line, len);
	(*keep)[len] = '\n';
	(*keep)[len + 1] = '\0';
}

/*
 * One line of the stream, for every child. A malformed one is said
 * once, here, and goes to none.
 */
static void
line(struct front *f, struct iobs_reader *rd, const char *text)
{
	struct iobs_record r;
	size_t len = strlen(text), i;
	char *copy;
	int n, tell = 1;

	if ((copy = strdup(text)) == NULL)
		err(1, "strdup");
	n = iobs_reader_record(rd, copy, &r);
	if (n == -1) {
		f->rval = 1;
		free(copy);
		return;
	}
	if (n == 0 && strncmp(text, "# iobs-stream ", 14) == 0)
		head_note(&f->head, text, len);
	else if (n == 0 && strncmp(text, "# backend ", 10) == 0)
		head_note(&f->backend, text, len);
	if (n == 1 && (r.lifecycle == IOBS_WATCH_INIT ||
	    r.lifecycle == IOBS_WATCH_DEAD))
		root_note(f, &r);
	if (n == 1 && r.lifecycle == IOBS_WATCH_RECONFIG)
		tell = reconfigure(f);
	free(copy);
	for (i = 0; tell && i < f->nb; i++) {
		struct branch *b = &f->b[i];

		if (b->fd == -1 || b->retired || (b->fresh && n == 1 &&
		    r.lifecycle == IOBS_WATCH_RECONFIG))
			continue;
		queue_add(b, text, len);
		queue_add(b, "\n", 1);
		if (b->qlen - b->qoff > QUEUE_MAX)
			branch_lost(f, b);
	}
	for (i = 0; i < f->nb; i++)
		f->b[i].fresh = 0;
}

/* Children that exited, by SIGCHLD. */
static void
reap(struct front *f, int chldfd)
{
	struct signalfd_siginfo si;
	size_t i;
	pid_t pid;
	int st;

	while (read(chldfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < f->nb; i++)
			if (f->b[i].pid == pid)
				branch_exited(f, &f->b[i], st);
	branch_reap(f);
}

/* SIGHUP: new options, as WATCH_RECONFIG, and each child told. */
static void
hangup(struct front *f, int sigfd)
{
	struct signalfd_siginfo si;
	size_t i;
	int hup = 0;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		hup = 1;
	if (hup && reconfigure(f))
		for (i = 0; i < f->nb; i++)
			if (f->b[i].pid != 0 && !f->b[i].retired &&
			    !f->b[i].fresh)
				(void)kill(f->b[i].pid, SIGHUP);
	for (i = 0; i < f->nb; i++)
		f->b[i].fresh = 0;
}

static int
running(const struct front *f)
{
	size_t i;

	for (i = 0; i < f->nb; i++)
		if (f->b[i].pid != 0)
			return 1;
	return 0;
}

static void
run(struct front *f, int sigfd, int chldfd)
{
	static struct iobs_reader rd;
	struct pollfd *pfd = NULL;
	size_t i, np, cap = 0;
	int64_t now, due;
	char *text;
	int timeout;

	iobs_reader_init(&rd, STDIN_FILENO);
	while (!f->eof || running(f)) {
		/* Grown with the destinations, not at each wake-up. */
		if (f->nb + 3 > cap && (pfd = reallocarray(pfd,
		    (cap = f->nb + 3), sizeof(*pfd))) == NULL)
			err(1, "reallocarray");
		np = 0;
		pfd[np].fd = f->eof ? -1 : STDIN_FILENO;
		pfd[np++].events = POLLIN;
		pfd[np].fd = sigfd;
		pfd[np++].events = POLLIN;
		pfd[np].fd = chldfd;
		pfd[np++].events = POLLIN;
		timeout = -1;
		now = now_ms();
		for (i = 0; i < f->nb; i++) {
			struct branch *b = &f->b[i];

			pfd[np].fd = b->fd != -1 && b->qoff < b->qlen ? b->fd :
			    -1;
			pfd[np++].events = POLLOUT;
			if (b->pid != 0 || b->restart_at == 0 || f->eof)
				continue;
			due = b->restart_at > now ? b->restart_at - now : 0;
			if (timeout == -1 || due < timeout)
				timeout = (int)due;
		}
		if (f->key != NULL && timeout == -1)
			timeout = PUBLISH_MS;
		if (poll(pfd, np, timeout) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd[2].revents & POLLIN)
			reap(f, chldfd);
		if (pfd[1].revents & POLLIN)
			hangup(f, sigfd);
		if (!f->eof && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (iobs_reader_fill(&rd) == -1)
				err(1, "standard input");
			while ((text = iobs_reader_next(&rd)) != NULL)
				line(f, &rd, text);
			f->eof = rd.eof;
		}
		now = now_ms();
		for (i = 0; i < f->nb; i++) {
			struct branch *b = &f->b[i];

			if (b->pid == 0 && b->restart_at != 0 && !f->eof &&
			    !b->retired && b->restart_at <= now)
				branch_start(f, b);
			if (b->fd != -1 && branch_write(f, b) == -1) {
				close(b->fd);
				b->fd = -1;
			}
		}
		publish(f);
	}
	free(pfd);
	iobs_reader_free(&rd);
}

int
fanout_main(int argc, char *argv[], struct mirror_options *o,
    struct iobs_cache *cache, int sigfd)
{
	struct front f;
	struct stat a, b;
	size_t i, j;
	int chldfd;

	memset(&f, 0, sizeof(f));
	f.cache = cache;
	if (cache != NULL)
		f.key = cache_key("dests");
	/* Two names of one directory would be two mirrors writing it. */
	for (i = 0; i < o->ndest; i++)
		for (j = i + 1; j < o->ndest; j++)
			if (remote_dest_parse(o->dests[i], NULL, NULL, 0) == 0 &&
			    remote_dest_parse(o->dests[j], NULL, NULL, 0) == 0 &&
			    stat(o->dests[i], &a) == 0 &&
			    stat(o->dests[j], &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				errx(2, "%s and %s are one directory; give it "
				    "once", o->dests[i], o->dests[j]);
	/* A child gone while it is written to: its exit says why. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	chldfd = iobs_signalfd(SIGCHLD, 0);
	f.argv = child_argv(argv + 1, argc - 1);
	(void)fcntl(STDIN_FILENO, F_SETPIPE_SZ, BATCH_PIPE);
	for (i = 0; i < o->ndest; i++)
		branch_start(&f, branch_add(&f, o->dests[i]));
	publish(&f);
	run(&f, sigfd, chldfd);
	f.changed = 2;
	publish(&f);
	for (i = 0; i < f.nb; i++) {
		free(f.b[i].dest);
		free(f.b[i].q);
	}
	free(f.b);
	for (i = 0; i < f.nroots; i++)
		free(f.roots[i].path);
	free(f.roots);
	free(f.head);
	free(f.backend);
	free(f.key);
	argv_free(f.argv);
	close(chldfd);
	return f.rval;
}
