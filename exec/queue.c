/*
 * Per-event mode: a run for each record, in stream order. With -j n,
 * up to n at once; a record waits while a run for the same path is on,
 * and so does every later record for that path, so the runs for one
 * path start in the order their records came.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vis.h>

#include "exec.h"
#include "stream.h"
#include "xalloc.h"

/* Past this many waiting records, iobs-exec stops reading its input. */
#define QUEUE_MAX	4096

void
queue_add(struct exec *e, const char *path, size_t len, size_t rootlen,
    const char *events, uint32_t cookie)
{
	struct queue *q = &e->queue;
	struct job *j;

	if (q->head > 0 && q->head + q->n == q->cap) {
		memmove(q->wait, q->wait + q->head, q->n * sizeof(*q->wait));
		q->head = 0;
	}
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		if ((q->wait = reallocarray(q->wait, q->cap,
		    sizeof(*q->wait))) == NULL)
			err(1, "reallocarray");
	}
	j = &q->wait[q->head + q->n++];
	if ((j->path = malloc(len + 1)) == NULL)
		err(1, "malloc");
	memcpy(j->path, path, len);
	j->path[len] = '\0';
	j->rootlen = rootlen;
	j->events = xstrdup(events);
	j->cookie = cookie;
	j->pid = 0;
}

int
queue_full(const struct exec *e)
{
	return e->queue.n >= QUEUE_MAX;
}

int
queue_idle(const struct exec *e)
{
	return e->queue.n == 0 && e->queue.nrun == 0;
}

static void
job_free(struct job *j)
{
	free(j->path);
	free(j->events);
}

/* The values of the placeholders, and the environment, of one job. */
static pid_t
job_start(struct exec *e, struct job *j)
{
	const char *val[PH_N];
	char cookie[16], *env[7], *dir, *slash, **argv;
	pid_t pid;
	size_t i;

	snprintf(cookie, sizeof(cookie), "%u", j->cookie);
	if ((dir = strdup(j->path)) == NULL)
		err(1, "strdup");
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	val[PH_LIT] = val[PH_PATHS] = NULL;
	val[PH_PATH] = j->path;
	val[PH_ROOT] = j->rootlen == 0 ? "/" : "";
	val[PH_REL] = j->path[j->rootlen] == '\0' ? "." :
	    j->path + j->rootlen + 1;
	val[PH_DIR] = dir;
	val[PH_NAME] = strrchr(j->path, '/') + 1;
	val[PH_EVENTS] = j->events;
	val[PH_COOKIE] = cookie;
	if (j->rootlen > 0) {
		/* The root is the start of the path: cut a copy there. */
		char *root = strndup(j->path, j->rootlen);

		if (root == NULL)
			err(1, "strndup");
		val[PH_ROOT] = root;
	}
	if (asprintf(&env[0], "IOBS_PATH=%s", val[PH_PATH]) == -1 ||
	    asprintf(&env[1], "IOBS_REL=%s", val[PH_REL]) == -1 ||
	    asprintf(&env[2], "IOBS_ROOT=%s", val[PH_ROOT]) == -1 ||
	    asprintf(&env[3], "IOBS_EVENTS=%s", val[PH_EVENTS]) == -1 ||
	    asprintf(&env[4], "IOBS_COOKIE=%s", cookie) == -1)
		err(1, "asprintf");
	env[5] = strcmp(j->events, "OVERFLOW") == 0 ? "IOBS_OVERFLOW=1" :
	    "IOBS_OVERFLOW";
	env[6] = NULL;
	argv = template_expand(&e->o.cmd, val, NULL, 0);
	pid = run_spawn(argv, env, e->devnull, e->o.insecure, &e->norun);
	argv_free(argv);
	for (i = 0; i < 5; i++)
		free(env[i]);
	if (j->rootlen > 0)
		free((char *)val[PH_ROOT]);
	free(dir);
	return pid;
}

static int
path_running(const struct queue *q, const char *path)
{
	size_t i;

	for (i = 0; i < q->nrun; i++)
		if (strcmp(q->run[i].path, path) == 0)
			return 1;
	return 0;
}

void
queue_dispatch(struct exec *e, int64_t now)
{
	static int64_t retry_at;
	struct queue *q = &e->queue;
	struct job *j;
	size_t i = 0;

	if (now < retry_at)
		return;
	while (i < q->n && q->nrun < (size_t)e->o.jobs) {
		j = &q->wait[q->head + i];
		if (path_running(q, j->path)) {
			i++;
			continue;
		}
		if ((j->pid = job_start(e, j)) == -1) {
			warn("fork: %s; trying again in a second",
			    e->o.cmd.text);
			retry_at = now + 1000;
			return;
		}
		if (q->nrun == q->caprun) {
			q->caprun = q->caprun ? q->caprun * 2 : 4;
			if ((q->run = reallocarray(q->run, q->caprun,
			    sizeof(*q->run))) == NULL)
				err(1, "reallocarray");
		}
		q->run[q->nrun++] = *j;
		if (i == 0)
			q->head++;
		else
			memmove(j, j + 1, (q->n - i - 1) * sizeof(*j));
		q->n--;
	}
}

int
queue_reaped(struct exec *e, pid_t pid, int status)
{
	struct queue *q = &e->queue;
	char how[64], *vis;
	size_t i;

	for (i = 0; i < q->nrun; i++)
		if (q->run[i].pid == pid)
			break;
	if (i == q->nrun)
		return 0;
	if (run_status(status, how, sizeof(how))) {
		if ((vis = malloc(IOBS_VIS_MAX(strlen(q->run[i].path)))) ==
		    NULL)
			err(1, "malloc");
		iobs_vis(vis, q->run[i].path, strlen(q->run[i].path));
		run_report(e->o.cmd.text, how, vis);
		free(vis);
		if (e->o.halt && e->halt == -1)
			e->halt = run_exit_code(status);
	}
	job_free(&q->run[i]);
	q->run[i] = q->run[--q->nrun];
	return 1;
}

void
queue_drop(struct exec *e)
{
	struct queue *q = &e->queue;
	size_t i;

	for (i = 0; i < q->n; i++)
		job_free(&q->wait[q->head + i]);
	q->head = q->n = 0;
}

void
queue_signal(struct exec *e, int sig)
{
	size_t i;

	for (i = 0; i < e->queue.nrun; i++)
		kill(-e->queue.run[i].pid, sig);
}

void
queue_free(struct queue *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		job_free(&q->wait[q->head + i]);
	for (i = 0; i < q->nrun; i++)
		job_free(&q->run[i]);
	free(q->wait);
	free(q->run);
	memset(q, 0, sizeof(*q));
}
