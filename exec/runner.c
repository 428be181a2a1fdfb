/*
 * Batch (-b) and restart (-r) mode: the life cycle of the command is a
 * state × event table, one for each mode, and runner_event() applies
 * it. iobs-exec(1) draws the same tables.
 *
 * -b: a run starts once changes have been quiet for the window (or the
 * first of them is ten windows old), never sooner than a window after
 * the last start; changes during a run make one more run after it.
 *
 *	state    | CHANGE   DUE            GONE             GRACE STOP
 *	---------+--------------------------------------------------------
 *	IDLE     | PENDING  -              -                -     DONE
 *	PENDING  | -        start,RUNNING  -                -     DONE
 *	RUNNING  | AGAIN    -              report,IDLE      -     term,STOPPING
 *	AGAIN    | -        -              report,PENDING   -     term,STOPPING
 *	STOPPING | -        -              DONE             kill  -
 *
 * -r: the same, but a batch due while the command runs stops its whole
 * group (SIGTERM, SIGKILL after --grace) and starts it again once
 * every member is gone.
 *
 *	state      | CHANGE  DUE          GONE           GRACE STOP
 *	-----------+------------------------------------------------------
 *	IDLE       | PENDING -            -              -     DONE
 *	PENDING    | -       start,       -              -     DONE
 *	           |         RUNNING
 *	RUNNING    | AGAIN   -            report,IDLE    -     term,STOPPING
 *	AGAIN      | -       term,        report,        -     term,STOPPING
 *	           |         RESTARTING   PENDING
 *	RESTARTING | -       -            start,RUNNING  kill  STOPPING
 *	STOPPING   | -       -            DONE           kill  -
 */
#include <sys/wait.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

enum ract {
	A_NONE,
	A_START,	/* the pending paths become a run */
	A_TERM,		/* SIGTERM to the group; SIGKILL due after --grace */
	A_KILL,		/* SIGKILL to the group */
	A_REPORT,	/* a run that ended on its own failed: say so */
};

struct transition {
	enum ract	 act;
	enum rstate	 next;
};

#define T(a, s)	{ A_##a, R_##s }
#define STAY(s)	T(NONE, s), T(NONE, s)

static const struct transition batch_table[R_NSTATES][E_NEVENTS] = {
	/*		CHANGE		DUE		GONE
	 *		GRACE		STOP */
	[R_IDLE] =	{ T(NONE, PENDING), T(NONE, IDLE), T(NONE, IDLE),
			  T(NONE, IDLE), T(NONE, DONE) },
	[R_PENDING] =	{ T(NONE, PENDING), T(START, RUNNING),
			  T(NONE, PENDING), T(NONE, PENDING), T(NONE, DONE) },
	[R_RUNNING] =	{ T(NONE, AGAIN), T(NONE, RUNNING), T(REPORT, IDLE),
			  T(NONE, RUNNING), T(TERM, STOPPING) },
	[R_AGAIN] =	{ T(NONE, AGAIN), T(NONE, AGAIN), T(REPORT, PENDING),
			  T(NONE, AGAIN), T(TERM, STOPPING) },
	[R_RESTARTING] = { STAY(RESTARTING), T(NONE, RESTARTING),
			  T(NONE, RESTARTING), T(NONE, RESTARTING) },
	[R_STOPPING] =	{ T(NONE, STOPPING), T(NONE, STOPPING),
			  T(NONE, DONE), T(KILL, STOPPING),
			  T(NONE, STOPPING) },
	[R_DONE] =	{ STAY(DONE), STAY(DONE), T(NONE, DONE) },
};

static const struct transition restart_table[R_NSTATES][E_NEVENTS] = {
	[R_IDLE] =	{ T(NONE, PENDING), T(NONE, IDLE), T(NONE, IDLE),
			  T(NONE, IDLE), T(NONE, DONE) },
	[R_PENDING] =	{ T(NONE, PENDING), T(START, RUNNING),
			  T(NONE, PENDING), T(NONE, PENDING), T(NONE, DONE) },
	[R_RUNNING] =	{ T(NONE, AGAIN), T(NONE, RUNNING), T(REPORT, IDLE),
			  T(NONE, RUNNING), T(TERM, STOPPING) },
	[R_AGAIN] =	{ T(NONE, AGAIN), T(TERM, RESTARTING),
			  T(REPORT, PENDING), T(NONE, AGAIN),
			  T(TERM, STOPPING) },
	[R_RESTARTING] = { T(NONE, RESTARTING), T(NONE, RESTARTING),
			  T(START, RUNNING), T(KILL, RESTARTING),
			  T(NONE, STOPPING) },
	[R_STOPPING] =	{ T(NONE, STOPPING), T(NONE, STOPPING),
			  T(NONE, DONE), T(KILL, STOPPING),
			  T(NONE, STOPPING) },
	[R_DONE] =	{ STAY(DONE), STAY(DONE), T(NONE, DONE) },
};

static const char *const state_names[R_NSTATES] = {
	"IDLE", "PENDING", "RUNNING", "AGAIN", "RESTARTING", "STOPPING",
	"DONE",
};

static const struct transition *
table(const struct exec *e)
{
	return &(e->o.mode == MODE_RESTART ? restart_table :
	    batch_table)[e->runner.state][0];
}

/*
 * {paths} holds at most this much; past it, as after OVERFLOW, the
 * roots stand for the paths (standard input still has them all).
 */
static size_t
args_room(void)
{
	long max = sysconf(_SC_ARG_MAX);

	return max > 0 ? (size_t)max / 2 : 64 * 1024;
}

static int
start(struct exec *e, int64_t now)
{
	struct runner *r = &e->runner;
	struct batch roots;
	char **argv, *env[2];
	const struct batch *b = &r->pending;
	size_t i, size = 0;
	int fd;

	memset(&roots, 0, sizeof(roots));
	for (i = 0; i < b->n; i++)
		size += strlen(b->path[i]) + 1 + sizeof(char *);
	if (size > args_room()) {
		for (i = 0; i < e->roots.n; i++)
			batch_add(&roots, e->roots.r[i].len ?
			    e->roots.r[i].path : "/", e->roots.r[i].len ?
			    e->roots.r[i].len : 1);
		b = &roots;
	}
	if ((fd = batch_file(&r->pending, e->o.nul)) == -1) {
		warn("memfd_create; trying again in a second");
		batch_clear(&roots);
		r->retry_at = now + 1000;
		return -1;
	}
	env[0] = r->pending.overflow || b == &roots ? "IOBS_OVERFLOW=1" :
	    "IOBS_OVERFLOW";
	env[1] = NULL;
	argv = template_expand(&e->o.cmd, NULL, b->path, b->n);
	r->pid = run_spawn(argv, env, fd, e->o.insecure, &e->norun);
	argv_free(argv);
	close(fd);
	batch_clear(&roots);
	if (r->pid == -1) {
		warn("fork: %s; trying again in a second", e->o.cmd.text);
		r->pid = 0;
		r->retry_at = now + 1000;
		return -1;
	}
	r->pgid = r->pid;
	r->count = r->pending.n;
	r->started = now;
	r->grace_at = 0;
	batch_clear(&r->pending);
	return 0;
}

static void
report(struct exec *e)
{
	struct runner *r = &e->runner;
	char how[64], what[64];

	if (!run_status(r->status, how, sizeof(how)))
		return;
	snprintf(what, sizeof(what), "a batch of %zu path%s", r->count,
	    r->count == 1 ? "" : "s");
	run_report(e->o.cmd.text, how, what);
	if (e->o.halt && e->halt == -1)
		e->halt = run_exit_code(r->status);
}

void
runner_event(struct exec *e, enum revent ev)
{
	struct runner *r = &e->runner;
	const struct transition *t = &table(e)[ev];
	enum rstate next = t->next;
	int64_t now = now_ms();

	if (ev == E_GONE)
		r->pgid = 0;
	switch (t->act) {
	case A_NONE:
		break;
	case A_START:
		/* A start that fails is tried again after a window. */
		if (start(e, now) == -1)
			next = R_PENDING;
		break;
	case A_TERM:
		if (r->pgid <= 0)
			errx(1, "%s: no group to stop", state_names[r->state]);
		kill(-r->pgid, SIGTERM);
		kill(-r->pgid, SIGCONT);
		r->grace_at = now + e->o.grace;
		break;
	case A_KILL:
		if (r->pgid <= 0)
			errx(1, "%s: no group to kill", state_names[r->state]);
		kill(-r->pgid, SIGKILL);
		r->grace_at = 0;
		break;
	case A_REPORT:
		report(e);
		break;
	}
	r->state = next;
}

void
runner_change(struct exec *e, const char *path, size_t len, int overflow)
{
	struct runner *r = &e->runner;
	int64_t now = now_ms();

	if (r->pending.n == 0)
		r->first = now;
	r->last = now;
	batch_add(&r->pending, path, len);
	if (overflow)
		r->pending.overflow = 1;
	runner_event(e, E_CHANGE);
}

int
runner_reaped(struct exec *e, pid_t pid, int status)
{
	struct runner *r = &e->runner;

	if (r->pid == 0 || pid != r->pid)
		return 0;
	r->pid = 0;
	r->status = status;
	return 1;
}

/* When the pending changes are due; ending: at once. */
static int64_t
due_at(const struct exec *e, int ending)
{
	const struct runner *r = &e->runner;
	int64_t t, ceiling;

	if (ending)
		return r->retry_at > r->first ? r->retry_at : r->first;
	t = r->last + e->o.delay;
	ceiling = r->first + 10 * e->o.delay;
	if (ceiling < t)
		t = ceiling;
	if (r->started != 0 && r->started + e->o.delay > t)
		t = r->started + e->o.delay;
	if (r->retry_at > t)
		t = r->retry_at;
	return t;
}

int64_t
runner_tick(struct exec *e, int64_t now, int ending)
{
	struct runner *r = &e->runner;
	int64_t next = -1, t;

	/* A run is over when its command is reaped; -r waits for all. */
	if (r->pgid != 0 && r->pid == 0) {
		if (e->o.mode != MODE_RESTART || run_group_gone(r->pgid))
			runner_event(e, E_GONE);
		else
			next = now + 20;	/* strays still going */
	}
	if (r->grace_at != 0 && r->grace_at <= now)
		runner_event(e, E_GRACE);
	if (r->pending.n > 0 && (table(e)[E_DUE].act != A_NONE ||
	    table(e)[E_DUE].next != r->state)) {
		if ((t = due_at(e, ending)) <= now) {
			runner_event(e, E_DUE);
			return now;	/* the caller comes back at once */
		}
		if (next == -1 || t < next)
			next = t;
	}
	if (r->grace_at != 0 && (next == -1 || r->grace_at < next))
		next = r->grace_at;
	return next;
}
