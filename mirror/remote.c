/*
 * iobs-mirror's remote mode. Records become paths in a dirty set; a
 * batch of them goes out as one rsync run (--files-from=- --from0)
 * once the stream has been quiet a few milliseconds, renames and
 * deletions first as one POSIX shell script over the same ssh
 * connection (a control master in a private directory). A path leaves
 * the set only when a run that carried it succeeded; a failed run puts
 * its paths back and is tried again with back-off. WATCH_INIT, and a
 * set grown past its bound, make the next run a whole rsync -a
 * --delete, which is the entry "" in the tree set. A file with other
 * names goes with all of them that the source's inode table knows, so
 * that rsync -H keeps them one file there.
 */
#define _GNU_SOURCE

#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "child.h"
#include "options.h"
#include "path.h"
#include "signals.h"
#include "stream.h"
#include "mirror.h"
#include "remote.h"
#include "remote-int.h"

#define BACKLOG_ENV	"IOBS_REMOTE_BACKLOG"
#define DRAIN_S		300	/* after the stream ends, retries go on this */
#define DRAIN_ENV	"IOBS_REMOTE_DRAIN"
/*
 * What a push rsync run with --debug=exit2 prints once it has read the
 * remote's final goodbye, before it waits for ssh to exit: the remote's
 * files are all in place by then (its generator says goodbye after the
 * receiver's last rename and its own directory times). Both ends then
 * poll their children every 20 ms to exit, which is most of a small
 * batch's time.
 */
#define DONE_LINE	"client_run waiting on "

/*
 * The state machine, as its table: what a run's end, or the time for
 * one, does in each state. SENDING, RETRYING and RECHECKING have a run
 * out; they differ in what its end reports. REFUSED: a whole sync the
 * guards refused (empty source, --max-delete) waits, asked again with
 * back-off, while the stream is read. SETTLING: a live batch's rsync
 * said its transfer is complete there (E_DONE) and is exiting; the
 * next run may start at once. Its paths are confirmed when its exit
 * status is read (E_SETTLED), or put back (E_UNSETTLED), in whatever
 * state that finds.
 */
enum revent {
	E_DUE, E_OK, E_PARTIAL, E_FAIL, E_RESET, E_REFUSED,
	E_DONE, E_SETTLED, E_UNSETTLED, E_NEVENTS
};
enum raction {
	A_NONE,
	A_RUN,		/* start a run with what is dirty */
	A_CONFIRM,	/* the run's paths are there */
	A_DOWN,		/* report the failure once; paths back; back-off */
	A_REQUEUE,	/* paths back; back-off doubles */
	A_BACK,		/* confirm, and report the remote back */
	A_ABORT,	/* stop the run; a whole sync replaces it */
	A_REFUSE,	/* report the refusal once; paths back; back-off */
	A_ACCEPT,	/* confirm, and report the refusal over */
	A_SETTLE,	/* the run's rsync exits apart; the run is over */
	A_SETTLED,	/* the exited rsync's paths are there */
	A_UNSETTLE,	/* the exited rsync's paths back */
	A_LOST,		/* those back, report the failure once; back-off */
};

static const struct {
	enum raction	 action;
	enum rstate	 next;
} table[S_NSTATES][E_NEVENTS] = {
	[S_LIVE] = {
		[E_DUE] =	{ A_RUN,	S_SENDING },
		[E_OK] =	{ A_NONE,	S_LIVE },
		[E_PARTIAL] =	{ A_NONE,	S_LIVE },
		[E_FAIL] =	{ A_NONE,	S_LIVE },
		[E_RESET] =	{ A_NONE,	S_LIVE },
		[E_REFUSED] =	{ A_NONE,	S_LIVE },
		[E_DONE] =	{ A_NONE,	S_LIVE },
		[E_SETTLED] =	{ A_SETTLED,	S_LIVE },
		[E_UNSETTLED] =	{ A_LOST,	S_AWAY },
	},
	[S_SENDING] = {
		[E_DUE] =	{ A_NONE,	S_SENDING },
		[E_OK] =	{ A_CONFIRM,	S_LIVE },
		[E_PARTIAL] =	{ A_DOWN,	S_AWAY },
		[E_FAIL] =	{ A_DOWN,	S_AWAY },
		[E_RESET] =	{ A_ABORT,	S_LIVE },
		[E_REFUSED] =	{ A_REFUSE,	S_REFUSED },
		[E_DONE] =	{ A_SETTLE,	S_SETTLING },
		[E_SETTLED] =	{ A_SETTLED,	S_SENDING },
		[E_UNSETTLED] =	{ A_LOST,	S_RETRYING },
	},
	[S_AWAY] = {
		[E_DUE] =	{ A_RUN,	S_RETRYING },
		[E_OK] =	{ A_NONE,	S_AWAY },
		[E_PARTIAL] =	{ A_NONE,	S_AWAY },
		[E_FAIL] =	{ A_NONE,	S_AWAY },
		[E_RESET] =	{ A_NONE,	S_AWAY },
		[E_REFUSED] =	{ A_NONE,	S_AWAY },
		[E_DONE] =	{ A_NONE,	S_AWAY },
		[E_SETTLED] =	{ A_SETTLED,	S_AWAY },
		[E_UNSETTLED] =	{ A_UNSETTLE,	S_AWAY },
	},
	[S_RETRYING] = {
		[E_DUE] =	{ A_NONE,	S_RETRYING },
		[E_OK] =	{ A_BACK,	S_LIVE },
		[E_PARTIAL] =	{ A_REQUEUE,	S_AWAY },
		[E_FAIL] =	{ A_REQUEUE,	S_AWAY },
		[E_RESET] =	{ A_ABORT,	S_AWAY },
		[E_REFUSED] =	{ A_REFUSE,	S_REFUSED },
		[E_DONE] =	{ A_NONE,	S_RETRYING },
		[E_SETTLED] =	{ A_SETTLED,	S_RETRYING },
		[E_UNSETTLED] =	{ A_UNSETTLE,	S_RETRYING },
	},
	[S_REFUSED] = {
		[E_DUE] =	{ A_RUN,	S_RECHECKING },
		[E_OK] =	{ A_NONE,	S_REFUSED },
		[E_PARTIAL] =	{ A_NONE,	S_REFUSED },
		[E_FAIL] =	{ A_NONE,	S_REFUSED },
		[E_RESET] =	{ A_NONE,	S_REFUSED },
		[E_REFUSED] =	{ A_NONE,	S_REFUSED },
		[E_DONE] =	{ A_NONE,	S_REFUSED },
		[E_SETTLED] =	{ A_SETTLED,	S_REFUSED },
		[E_UNSETTLED] =	{ A_UNSETTLE,	S_REFUSED },
	},
	[S_RECHECKING] = {
		[E_DUE] =	{ A_NONE,	S_RECHECKING },
		[E_OK] =	{ A_ACCEPT,	S_LIVE },
		[E_PARTIAL] =	{ A_DOWN,	S_AWAY },
		[E_FAIL] =	{ A_DOWN,	S_AWAY },
		[E_RESET] =	{ A_ABORT,	S_REFUSED },
		[E_REFUSED] =	{ A_REQUEUE,	S_REFUSED },
		[E_DONE] =	{ A_NONE,	S_RECHECKING },
		[E_SETTLED] =	{ A_SETTLED,	S_RECHECKING },
		[E_UNSETTLED] =	{ A_UNSETTLE,	S_RECHECKING },
	},
	[S_SETTLING] = {
		[E_DUE] =	{ A_RUN,	S_SENDING },
		[E_OK] =	{ A_NONE,	S_SETTLING },
		[E_PARTIAL] =	{ A_NONE,	S_SETTLING },
		[E_FAIL] =	{ A_NONE,	S_SETTLING },
		[E_RESET] =	{ A_NONE,	S_SETTLING },
		[E_REFUSED] =	{ A_NONE,	S_SETTLING },
		[E_DONE] =	{ A_NONE,	S_SETTLING },
		[E_SETTLED] =	{ A_SETTLED,	S_LIVE },
		[E_UNSETTLED] =	{ A_LOST,	S_AWAY },
	},
};

static const char *state_names[S_NSTATES] = {
	"live", "sending", "away", "retrying", "refused", "rechecking",
	"settling"
};

/* For the exit handler: the control master and its directory. */
static struct remote *current;

static void	 event(struct remote *, enum revent);

/* A whole sync from now, all else forgotten: WATCH_INIT, OVERFLOW. */
static void
want_full(struct remote *r)
{
	collapse(r);
	r->window = r->last = now_ms();
	event(r, E_RESET);
}

static void
cleanup(void)
{
	struct remote *r = current;
	int i;

	if (r == NULL)
		return;
	step_kill(&r->step);
	while (r->nsettling > 0)
		step_kill(&r->settling[--r->nsettling]);
	for (i = 0; i < SESSIONS; i++)
		session_ev(r, &r->sess[i], SE_END);
	master_stop(r);
	if (r->ctlpath != NULL)
		(void)unlink(r->ctlpath);
	if (r->ctldir != NULL)
		(void)rmdir(r->ctldir);
	current = NULL;
}

/* Runs */

/*
 * Takes what is dirty into the batch out and starts its first step;
 * E_OK at once when there is nothing to send.
 */
static void
run_start(struct remote *r)
{
	if (r->nsteps != 0)
		return;
	if (r->eof && now_ms() >= r->drain_by)
		r->drain_last = 1;
	r->sent = r->dirty;
	memset(&r->dirty, 0, sizeof(r->dirty));
	r->deletes_first = r->deletes_last = 0;
	r->full = pathset_get(&r->sent.tree, "") != NULL;
	r->verifying = r->full && r->verify_next;
	if (r->full)
		r->verify_next = 0;
	r->stepno = 0;
	run_steps(r);
	if (r->nsteps == 0) {
		event(r, E_OK);
		return;
	}
	master_start(r);
	r->stepno = -1;
}

static void	 step_go(struct remote *);

/* The step after the one that ended well, or the run's end. */
static void
step_next(struct remote *r)
{
	if (++r->stepno >= r->nsteps) {
		r->nsteps = 0;
		event(r, E_OK);
		return;
	}
	step_go(r);
}

/*
 * Starts step stepno, once the master's socket is there and a session
 * is ready; until then, the loop comes back to it.
 */
static void
step_go(struct remote *r)
{
	struct session *ss = NULL;
	char **argv;
	size_t n;
	int ours, i;
	int64_t now = now_ms();

	if (master_pending(r))
		return;
	if (r->relay_line != NULL) {
		if (r->wait_since == 0)
			r->wait_since = now;
		if ((i = session_idle(r)) == -1) {
			if (sessions_alive(r) == 0 &&
			    r->sess_failed >= r->wait_since) {
				r->wait_since = 0;
				if (r->why == NULL && (r->why = strdup("no "
				    "shell there")) == NULL)
					err(1, "strdup");
				r->nsteps = 0;
				event(r, E_FAIL);
			} else if (now - r->wait_since > SESSION_WAIT_MS) {
				r->wait_since = 0;
				free(r->why);
				if ((r->why = strdup("no shell there after "
				    "60 s")) == NULL)
					err(1, "strdup");
				r->nsteps = 0;
				event(r, E_FAIL);
			} else
				sessions_fill(r, 1);
			return;
		}
		ss = &r->sess[i];
		r->wait_since = 0;
	}
	switch (r->steps[r->stepno]) {
	case K_SCRIPT:
		if (ss != NULL) {
			n = 0;
			argv = words_add(NULL, &n, r->self);
			argv = words_add(argv, &n, "--relay");
			argv = words_add(argv, &n, "--");
			argv = words_add(argv, &n, r->d.host);
			argv = words_add(argv, &n, "sh");
			if (step_start(&r->step, K_SCRIPT, argv, &r->script, -1,
			    ss) == -1)
				goto fail;
			session_ev(r, ss, SE_LEND);
			break;
		}
		argv = words_copy(r->rsh, &n);
		if (r->ctlpath != NULL) {
			char opt[PATH_MAX + 32];

			snprintf(opt, sizeof(opt), "ControlPath=%s",
			    r->ctlpath);
			argv = words_add(argv, &n, "-o");
			argv = words_add(argv, &n, opt);
			argv = words_add(argv, &n, "-o");
			argv = words_add(argv, &n, "ControlMaster=no");
		}
		argv = words_add(argv, &n, "--");
		argv = words_add(argv, &n, r->d.host);
		argv = words_add(argv, &n, "sh");
		if (step_start(&r->step, K_SCRIPT, argv, &r->script, -1,
		    NULL) == -1)
			goto fail;
		break;
	default:
		argv = rsync_argv(r, r->steps[r->stepno], r->full,
		    r->steps[r->stepno] == K_RSYNC && r->sent.unsure.n > 0);
		ours = r->steps[r->stepno] == K_RSYNC &&
		    (r->o.dry_run || r->o.verbose || r->verifying);
		if (step_start(&r->step, r->steps[r->stepno], argv,
		    r->steps[r->stepno] == K_RSYNC && !r->full ? &r->list :
		    NULL, ours ? STDOUT_FILENO : progress2(r,
		    r->steps[r->stepno], r->full) ? STDERR_FILENO : -1, ss) ==
		    -1)
			goto fail;
		if (ss != NULL)
			session_ev(r, ss, SE_LEND);
		break;
	}
	words_free(argv);
	return;
fail:
	words_free(argv);
	free(r->why);
	if ((r->why = strdup("cannot run rsync or ssh")) == NULL)
		err(1, "strdup");
	r->nsteps = 0;
	event(r, E_FAIL);
}

static void
publish(struct remote *r, int force)
{
	char *val;
	int64_t now = now_ms(), old;
	size_t n = backlog(r);
	time_t oldest_wall;
	int i;

	if (r->cache == NULL || r->backlog_key == NULL)
		return;
	if (!force && (int)r->state == r->pub_state && n == r->pub_paths)
		return;
	if (!force && now - r->published < PUBLISH_MS &&
	    (int)r->state == r->pub_state)
		return;
	old = oldest(oldest(r->dirty.oldest, r->sent.oldest),
	    r->stuck.oldest);
	for (i = 0; i < r->nsettling; i++)
		old = oldest(old, r->settled[i].oldest);
	if (n == 0)
		old = 0;
	if (r->writing.n > 0 && old == 0)
		old = now;
	oldest_wall = old ? time(NULL) - (now - old) / 1000 : 0;
	if (asprintf(&val, "dest=%s\nstate=%s\npaths=%zu\noldest=%lld\n",
	    r->shown, state_names[r->state], n, (long long)oldest_wall) == -1)
		err(1, "asprintf");
	if (iobs_cache_put(r->cache, r->backlog_key, val, strlen(val), 0)
	    == -1)
		warnx("cache: %s: %s", r->backlog_key,
		    iobs_cache_strerror(r->cache));
	free(val);
	r->published = now;
	r->pub_state = r->state;
	r->pub_paths = n;
}

/* The child of the step out exited with status. */
static void
step_done(struct remote *r, int status)
{
	struct step *s = &r->step;
	enum stepkind kind = s->kind;
	const char *p, *nl;
	long long deletes = 0;
	size_t i;
	int code, ok = 1;

	step_end(s);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	switch (kind) {
	case K_GUARD:
		/* A remote directory that is not there is empty. */
		if (code == 23 && s->errors.s != NULL &&
		    strstr(s->errors.s, "No such file or directory") != NULL)
			break;
		if (code != 0)
			goto fail;
		for (p = s->output.s; p != NULL && *p != '\0';
		    p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			if (nl != NULL && nl - p >= 2 && nl[-1] == '.' &&
			    nl[-2] == ' ')
				continue;
			if (nl == NULL || nl > p) {
				free(r->why);
				if (asprintf(&r->why, "the source root %s is "
				    "empty while %s is not: a disk not mounted? "
				    "Refusing to delete; -f mirrors it anyway",
				    r->root[0] ? r->root : "/", r->shown) == -1)
					err(1, "asprintf");
				goto refused;
			}
		}
		break;
	case K_COUNT:
		if (code != 0)
			goto fail;
		for (p = s->output.s; p != NULL && *p != '\0';
		    p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			if (strncmp(p, "*deleting", 9) == 0)
				deletes++;
		}
		if (deletes > r->o.max_delete) {
			free(r->why);
			if (asprintf(&r->why, "a whole sync would delete %lld "
			    "entries, more than --max-delete=%lld; deleting "
			    "nothing", deletes, r->o.max_delete) == -1)
				err(1, "asprintf");
			goto refused;
		}
		break;
	case K_SCRIPT:
		if (code == 97) {
			/* No directory there: a whole sync makes it. */
			free(r->why);
			if (asprintf(&r->why, "%s: no such directory there",
			    r->d.path) == -1)
				err(1, "asprintf");
			pathset_add(&r->dirty.tree, "", now_ms());
			goto failed;
		}
		if (code != 0)
			goto fail;
		for (p = s->output.s; p != NULL && *p != '\0';
		    p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			i = strtoul(p + 2, NULL, 10);
			if (p[0] == 'F' && i < r->sent.ren.n) {
				/* No rename there: a delete and a copy. */
				dirty_add(r, r->sent.ren.v[i].from, 0);
				dirty_add(r, r->sent.ren.v[i].to, 1);
			} else if (p[0] == 'D' && i < r->gone.n) {
				char *par = rel_parent(r->gone.e[i].path);

				dirty_add(r, par, 1);
				free(par);
			}
		}
		break;
	case K_RSYNC:
		if (code == 23 || code == 24) {
			set_why(r, &s->errors, status);
			/* Messages cut short may hide a path: all go back. */
			if (partial(r, &r->sent, &s->errors) == -1 ||
			    s->errors.len >= CAPTURE_MAX)
				ok = 0;
			r->nsteps = 0;
			buf_free(&s->output);
			buf_free(&s->errors);
			if (!ok) {
				event(r, E_PARTIAL);
				return;
			}
			/* Sent again at once, without a word: a storm. */
			if (r->dirty.plain.n + r->dirty.tree.n > 0)
				r->window = r->last = now_ms();
			event(r, E_OK);
			return;
		}
		if (code != 0)
			goto fail;
		break;
	}
	buf_free(&s->output);
	buf_free(&s->errors);
	step_next(r);
	return;
fail:
	set_why(r, &s->errors, status);
failed:
	buf_free(&s->output);
	buf_free(&s->errors);
	r->nsteps = 0;
	event(r, E_FAIL);
	return;
refused:
	buf_free(&s->output);
	buf_free(&s->errors);
	r->nsteps = 0;
	event(r, E_REFUSED);
}

/*
 * The last step of a live run, its rsync's done line read: the run is
 * over, the rsync exits apart. Not while another one does: this one
 * then waits for its turn, or its own exit.
 */
static void
transferred(struct remote *r)
{
	struct step *s = &r->step;

	if (s->pid == 0 || s->kind != K_RSYNC || r->full ||
	    r->stepno != r->nsteps - 1 || r->nsettling == SETTLING_MAX ||
	    s->output.s == NULL || strstr(s->output.s, DONE_LINE) == NULL)
		return;
	event(r, E_DONE);
}

/* Settling rsync i exited with status: its paths there, or not. */
static void
settle_done(struct remote *r, int i, int status)
{
	struct step st = r->settling[i], *s = &st;
	int code;
	enum revent ev = E_SETTLED;

	r->exited = r->settled[i];
	memmove(&r->settling[i], &r->settling[i + 1], (r->nsettling - i - 1) *
	    sizeof(r->settling[0]));
	memmove(&r->settled[i], &r->settled[i + 1], (r->nsettling - i - 1) *
	    sizeof(r->settled[0]));
	r->nsettling--;
	memset(&r->settling[r->nsettling], 0, sizeof(r->settling[0]));
	memset(&r->settled[r->nsettling], 0, sizeof(r->settled[0]));

	step_end(s);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code == 23 || code == 24) {
		set_why(r, &s->errors, status);
		/* As a run's end: per path, or all back. */
		if (partial(r, &r->exited, &s->errors) == -1 ||
		    s->errors.len >= CAPTURE_MAX)
			ev = E_UNSETTLED;
		else if (r->dirty.plain.n + r->dirty.tree.n > 0)
			r->window = r->last = now_ms();
	} else if (code != 0) {
		set_why(r, &s->errors, status);
		ev = E_UNSETTLED;
	}
	buf_free(&s->output);
	buf_free(&s->errors);
	event(r, ev);
	transferred(r);
}

/* The table's actions */

/* What waits, for a report: "12 paths", or "a whole sync". */
static const char *
waiting(struct remote *r)
{
	static char s[64];
	size_t n = backlog(r);

	if (pathset_get(&r->dirty.tree, "") != NULL ||
	    pathset_get(&r->sent.tree, "") != NULL)
		return "a whole sync";
	snprintf(s, sizeof(s), "%zu path%s", n, n == 1 ? "" : "s");
	return s;
}

static void
report_down(struct remote *r)
{
	warnx("%s: %s; %s waiting, retrying", r->shown,
	    r->why ? r->why : "failed", waiting(r));
}

/* The run out is there: its paths confirmed, the next ones sooner. */
static void
confirm(struct remote *r)
{
	unstick(r, &r->sent);
	batch_clear(&r->sent);
	r->backoff = BACKOFF_MS;
}

/* The remote is away: b's paths back, said once, tried after back-off. */
static void
down(struct remote *r, struct batch *b, int64_t now)
{
	r->away_since = now;
	r->backoff = BACKOFF_MS;
	batch_merge(&r->dirty, b);
	report_down(r);
	r->retry_at = now + r->backoff;
}

static void
event(struct remote *r, enum revent ev)
{
	enum raction a = table[r->state][ev].action;
	enum rstate from = r->state;
	int64_t now = now_ms();

	r->state = table[r->state][ev].next;
	switch (a) {
	case A_NONE:
		break;
	case A_RUN:
		run_start(r);
		return;		/* its end is another event */
	case A_BACK:
		warnx("%s: back after %.1f s with %s waiting", r->shown,
		    (now - r->away_since) / 1000.0, waiting(r));
		r->collapsed = 0;
		/* FALLTHROUGH */
	case A_CONFIRM:
		confirm(r);
		break;
	case A_DOWN:
		down(r, &r->sent, now);
		break;
	case A_REQUEUE:
		batch_merge(&r->dirty, &r->sent);
		r->backoff = r->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
		    r->backoff * 2;
		r->retry_at = now + r->backoff;
		break;
	case A_ABORT:
		step_kill(&r->step);
		r->nsteps = 0;
		batch_clear(&r->sent);
		r->retry_at = now;
		break;
	case A_REFUSE:
		if (!r->refused)
			warnx("%s: %s; asked again while the stream is read",
			    r->shown, r->why);
		r->refused = 1;
		batch_merge(&r->dirty, &r->sent);
		r->backoff = BACKOFF_MS;
		r->retry_at = now + r->backoff;
		break;
	case A_ACCEPT:
		warnx("%s: the whole sync refused before went through",
		    r->shown);
		r->refused = 0;
		confirm(r);
		break;
	case A_SETTLE:
		buf_free(&r->step.output);
		r->settling[r->nsettling] = r->step;
		memset(&r->step, 0, sizeof(r->step));
		r->settled[r->nsettling++] = r->sent;
		memset(&r->sent, 0, sizeof(r->sent));
		r->nsteps = 0;
		r->backoff = BACKOFF_MS;
		break;
	case A_SETTLED:
		unstick(r, &r->exited);
		batch_clear(&r->exited);
		break;
	case A_UNSETTLE:
		batch_merge(&r->dirty, &r->exited);
		break;
	case A_LOST:
		down(r, &r->exited, now);
		break;
	}
	if (r->state != from)
		publish(r, 1);
}

/* When a run is due: a quiet stream, a full window, or the back-off. */
static int64_t
due(struct remote *r)
{
	int64_t t;

	if (r->nsteps != 0 || batch_size(&r->dirty) == 0 || !r->root ||
	    r->drain_last)
		return INT64_MAX;
	/* The stream ended: one last try when the time to drain is up. */
	if (r->state == S_AWAY || r->state == S_REFUSED)
		return r->eof && r->drain_by < r->retry_at ? r->drain_by :
		    r->retry_at;
	/* A MOVED_FROM waits for its MOVED_TO: the rename is ours to do. */
	if (r->moves.n > 0)
		return moves_due(&r->moves);
	if (r->eof)
		return 0;
	t = r->last + BATCH_QUIET_MS;
	if (r->window + WINDOW_MS < t)
		t = r->window + WINDOW_MS;
	/*
	 * --backup-dir: deletes wait for the deleting to pause, 2 s at
	 * most, so that an rm -rf is kept whole, in one mv.
	 */
	if (r->deletes_first != 0) {
		t = r->deletes_last + DELETES_QUIET_MS;
		if (r->deletes_first + DELETES_MAX_MS < t)
			t = r->deletes_first + DELETES_MAX_MS;
	}
	return t;
}

static int64_t
stuck_due(struct remote *r)
{
	if (batch_size(&r->stuck) == 0 || r->drain_last)
		return INT64_MAX;
	return r->eof && r->drain_by < r->stuck_at ? r->drain_by :
	    r->stuck_at;
}

/* Records */

/* A MOVED_FROM with no partner: the entry left the tree. */
static void
move_expire(struct remote *r, char *rel)
{
	dirty_add(r, rel, 0);
	free(rel);
}

/*
 * A pair is a rename only when the source shows the old name gone and
 * the new one there, of the inode the old name was last seen as where
 * the inode table knows it: a record is a hint, never the truth.
 */
static int
borne_out(struct remote *r, const char *from, const char *to)
{
	struct stat st;
	dev_t dev;
	ino_t ino;

	if (source_has(r, from, &st) != 0 || source_has(r, to, &st) != 1)
		return 0;
	return !r->links_kept || !links_inode(&r->links, from, &dev, &ino) ||
	    (dev == st.st_dev && ino == st.st_ino);
}

static void
moved_from(struct remote *r, const char *rel, uint32_t cookie)
{
	char *old;

	if ((old = moves_add(&r->moves, rel, cookie)) != NULL)
		move_expire(r, old);
}

static void
moved_to(struct remote *r, const char *to, uint32_t cookie)
{
	char *from;

	if ((from = moves_take(&r->moves, cookie)) == NULL) {
		dirty_add(r, to, 1);	/* moved in: all of it is new */
		return;
	}
	/*
	 * Not borne out (an exchange leaves both names there; a name
	 * taken again at once): no mv there, each path as the source
	 * has it, whole, and what waits under each stays with it. What
	 * is there under each may be the other's, of the same size and
	 * time: compared by checksum.
	 */
	if (!borne_out(r, from, to)) {
		pathset_add(&r->dirty.unsure, from, 0);
		pathset_add(&r->dirty.unsure, to, 0);
		dirty_add(r, from, 1);
		dirty_add(r, to, 1);
		free(from);
		return;
	}
	if (remote_excluded(r, from) || path_below(to, from) ||
	    pathset_get(&r->dirty.tree, "") != NULL) {
		dirty_add(r, from, 0);	/* not if excluded: never deleted */
		dirty_add(r, to, 1);
		free(from);
		return;
	}
	/* Paths waiting follow the rename; the remote does it in order. */
	pathset_rename(&r->writing, from, to);
	pathset_rename(&r->dirty.plain, from, to);
	pathset_rename(&r->dirty.tree, from, to);
	pathset_rename(&r->dirty.level, from, to);
	pathset_rename(&r->sent.plain, from, to);
	pathset_rename(&r->sent.tree, from, to);
	pathset_rename(&r->sent.level, from, to);
	pathset_rename(&r->dirty.unsure, from, to);
	pathset_rename(&r->sent.unsure, from, to);
	if (r->d.kind == RK_SSH) {
		renames_add(&r->dirty.ren, from, to);
		if (batch_size(&r->dirty) == 1)
			r->window = now_ms();
		r->last = now_ms();
		r->dirty.oldest = oldest(r->dirty.oldest, r->last);
	} else
		dirty_add(r, from, 0);
	/* Compared with the source once there: no data unless it differs. */
	dirty_add(r, to, 1);
	free(from);
}

static void
change(struct remote *r, const struct iobs_record *rec, const char *rel)
{
	uint32_t m = rec->mask;
	char *par;

	if (remote_excluded(r, rel) && !(m & IN_MOVED_FROM))
		return;
	if (m & IN_MOVED_FROM)
		moved_from(r, rel, rec->cookie);
	else if (m & IN_MOVED_TO)
		moved_to(r, rel, rec->cookie);
	else if (m & IN_CLOSE_WRITE) {
		pathset_del(&r->writing, rel);
		dirty_add(r, rel, 0);
	} else if (m & IN_CREATE)
		dirty_add(r, rel, (m & IN_ISDIR) != 0);
	else if (m & IN_DELETE) {
		if (r->o.backup_dir != NULL) {
			r->deletes_last = now_ms();
			if (r->deletes_first == 0)
				r->deletes_first = r->deletes_last;
		}
		pathset_del(&r->writing, rel);
		pathset_prune(&r->dirty.plain, rel);
		dirty_add(r, rel, 0);
	} else if (m & IN_MODIFY)
		pathset_add(&r->writing, rel, now_ms());
	else if (m & IN_ATTRIB)
		/* A scan says so of a directory whose entries came and went. */
		dirty_add(r, rel, (m & IN_ISDIR) && r->scanned ? DIRTY_LEVEL :
		    DIRTY_PLAIN);
	/*
	 * Its directory's times changed too, on both sides of a rename;
	 * from a scan, what came and went unseen there too, and a copy
	 * of the directory made meanwhile holds it: its entries go.
	 */
	if ((m & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)) &&
	    rel[0] != '\0') {
		par = rel_parent(rel);
		dirty_add(r, par, r->scanned ? DIRTY_LEVEL : DIRTY_PLAIN);
		free(par);
	}
}

static void	 reconfigure(struct remote *);

static void
lifecycle(struct remote *r, const struct iobs_record *rec)
{
	if (!root_follow(&r->root, &r->rootlen, r->o.want_root, rec))
		return;
	/* As rsync takes it: with a slash. */
	if (r->src == NULL && asprintf(&r->src, "%s/", r->root) == -1)
		err(1, "asprintf");
	switch (rec->lifecycle) {
	case IOBS_WATCH_INIT:
		r->active = 1;
		want_full(r);
		break;
	case IOBS_WATCH_DEAD:
		r->active = 0;
		while (r->moves.n > 0)
			move_expire(r, moves_oldest(&r->moves));
		break;
	case IOBS_OVERFLOW:
		r->active = 0;
		pathset_clear(&r->writing);
		while (r->moves.n > 0)
			move_expire(r, moves_oldest(&r->moves));
		want_full(r);
		break;
	case IOBS_WATCH_RECONFIG:
		reconfigure(r);
		break;
	default:
		break;
	}
}

static void
record(struct remote *r, char *line, struct iobs_reader *rd)
{
	struct iobs_record rec;
	const char *rel;
	int n;

	n = iobs_reader_record(rd, line, &rec);
	/* As the local mirror: a stream of scans says so in its header. */
	r->scanned = rd->scanned;
	if (n == 0)
		return;
	if (n == -1) {
		r->rval = 1;
		return;
	}
	if (rec.lifecycle != IOBS_NONE) {
		lifecycle(r, &rec);
		return;
	}
	if (r->active && (rel = root_rel(r->root, r->rootlen,
	    r->o.want_root, rec.path, rd->lineno, &r->rval)) != NULL)
		change(r, &rec, rel);
}

/* Open files quiet for 200 ms, or busy for 2 s, are sent. */
static void
writing_due(struct remote *r, int64_t now, int all)
{
	size_t i;
	char *rel;

	for (i = 0; i < r->writing.n; i++) {
		struct pathset_entry *e = &r->writing.e[i];

		if (all || e->last + QUIET_MS <= now ||
		    e->first + BUSY_MS <= now) {
			rel = pathset_take(&r->writing, i);
			dirty_add(r, rel, 0);
			free(rel);
			i--;
		}
	}
}

static int64_t
writing_next(struct remote *r)
{
	int64_t t, due = INT64_MAX;
	size_t i;

	for (i = 0; i < r->writing.n; i++) {
		t = r->writing.e[i].last + QUIET_MS;
		if (r->writing.e[i].first + BUSY_MS < t)
			t = r->writing.e[i].first + BUSY_MS;
		if (t < due)
			due = t;
	}
	return due;
}

/*
 * New options, from the cache on WATCH_RECONFIG or SIGHUP: a remote
 * destination, new or not, is synced whole with them; anything wrong,
 * or a local destination, keeps the old ones.
 */
static void
reconfigure(struct remote *r)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	struct mirror_options o, old;
	struct remote_dest d, oldd;
	char why[PATH_MAX + 256], **argv;
	int argc, rc, i;

	if (iobs_options_fetch(r->cache, &argc, &argv) != 0) {
		if (r->active)
			want_full(r);
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
	if (remote_dest_parse(o.dest, &d, why, sizeof(why)) != 1) {
		warnx("%s: %s: a local destination for a remote mirror; "
		    "keeping the old options (restart iobs-mirror to change)",
		    key, o.dest);
		mirror_options_free(&o);
		return;
	}
	old = r->o;
	oldd = r->d;
	r->o = o;
	r->d = d;
	if (rsh_setup(r, why, sizeof(why)) == -1) {
		warnx("%s: %s; keeping the old options", key, why);
		remote_dest_free(&r->d);
		mirror_options_free(&r->o);
		r->o = old;
		r->d = oldd;
		rsh_setup(r, why, sizeof(why));
		return;
	}
	mirror_options_free(&old);
	remote_dest_free(&oldd);
	probe_setup(r);
	free(r->shown);
	if ((r->shown = strdup(r->o.dest)) == NULL)
		err(1, "strdup");
	for (i = 0; i < SESSIONS; i++)
		session_ev(r, &r->sess[i], SE_END);
	master_stop(r);
	if (r->active)
		want_full(r);
}

/* The loop */

/*
 * --verify: when the next pass is due; INT64_MAX for none. It waits
 * for the live work to be done: the pass is a whole sync.
 */
static int64_t
verify_due(struct remote *r)
{
	if (r->o.verify_ms == 0 || r->root == NULL || r->eof ||
	    r->verify_next)
		return INT64_MAX;
	if (r->verify_at == 0)
		r->verify_at = now_ms() + r->o.verify_ms;
	if (r->state != S_LIVE || backlog(r) > 0)
		return r->verify_at + r->o.verify_ms;
	return r->verify_at;
}

#define BEHIND_MS	1000	/* a backlog shown once it lasts this */

/* How often the backlog's line is shown: a terminal's, a log's. */
static int64_t
behind_every(struct remote *r)
{
	return r->progress == PROGRESS_LINE ? 200 : 5000;
}

/* When the backlog's line is shown next. */
static int64_t
behind_next(struct remote *r)
{
	return r->behind_shown != 0 ? r->behind_shown + behind_every(r) :
	    r->behind_since + BEHIND_MS;
}

/*
 * --progress: a backlog that lasts, its paths waiting and the state;
 * then the line that says it caught up. Not over a whole run's own.
 */
static void
behind(struct remote *r, int64_t now)
{
	const char *cr = r->progress == PROGRESS_LINE ? "\r" : "",
	    *el = r->progress == PROGRESS_LINE ? "\033[K" : "";
	size_t n = backlog(r);

	if (r->progress == PROGRESS_OFF || (r->full && r->nsteps != 0))
		return;
	if (n == 0) {
		if (r->behind_shown != 0)
			fprintf(stderr, "%ssent %s: caught up in %.1f s%s\n",
			    cr, r->shown, (now - r->behind_since) / 1000.0,
			    el);
		r->behind_since = r->behind_shown = 0;
		return;
	}
	if (r->behind_since == 0)
		r->behind_since = now;
	if (now < behind_next(r))
		return;
	fprintf(stderr, "%ssending %s: %zu paths waiting, %s%s%s", cr,
	    r->shown, n, state_names[r->state], el,
	    r->progress == PROGRESS_LINE ? "" : "\n");
	fflush(stderr);
	r->behind_shown = now;
}

static void
timers(struct remote *r)
{
	int64_t now = now_ms();

	while (moves_due(&r->moves) <= now)
		move_expire(r, moves_oldest(&r->moves));
	if (r->writing.n > 0)
		writing_due(r, now, r->eof);
	/* The paths set aside, back with the rest, alone when it is quiet. */
	if (batch_size(&r->stuck) > 0 && stuck_due(r) <= now) {
		batch_merge(&r->dirty, &r->stuck);
		r->window = r->last = now;
		r->stuck_backoff = r->stuck_backoff * 2 > BACKOFF_MAX_MS ?
		    BACKOFF_MAX_MS : r->stuck_backoff * 2;
	}
	if (verify_due(r) <= now) {
		/* A whole sync, once all else is there. */
		pathset_add(&r->dirty.tree, "", now);
		r->dirty.oldest = oldest(r->dirty.oldest, now);
		r->window = r->last = now;
		r->verify_next = 1;
		r->verify_at = now + r->o.verify_ms;
	}
	probe(r, now);
	if (r->root != NULL && due(r) <= now)
		event(r, E_DUE);
	publish(r, 0);
	behind(r, now);
}

static int
timeout(struct remote *r)
{
	int64_t now = now_ms(), t = due(r), w = writing_next(r);

	if (verify_due(r) < t)
		t = verify_due(r);
	if (probe_due(r) < t)
		t = probe_due(r);
	if (r->behind_since != 0 && behind_next(r) < t)
		t = behind_next(r);
	if (moves_due(&r->moves) < t)
		t = moves_due(&r->moves);
	if (w < t)
		t = w;
	if (stuck_due(r) < t)
		t = stuck_due(r);
	if (r->cache != NULL && r->pub_paths != backlog(r) &&
	    r->published + PUBLISH_MS < t)
		t = r->published + PUBLISH_MS;
	if (t == INT64_MAX)
		return -1;
	return t <= now ? 0 : (int)(t - now > INT_MAX ? INT_MAX : t - now);
}

/*
 * Done: the stream ended, and what it asked for is there, or the time
 * to drain it is up and the last try is over.
 */
static int
finished(struct remote *r)
{
	if (!r->eof || r->nsteps != 0 || r->nsettling != 0 ||
	    r->moves.n > 0 || r->writing.n > 0)
		return 0;
	if (r->root == NULL || (batch_size(&r->dirty) == 0 &&
	    batch_size(&r->stuck) == 0))
		return 1;
	/* Refused: no time of waiting makes it right. */
	if (r->state == S_REFUSED)
		return 1;
	return r->drain_last;
}

static void
run(struct remote *r, int sigfd, int termfd, int chldfd)
{
	static struct iobs_reader rd;
	struct signalfd_siginfo si;
	struct pollfd pfd[8 + 3 * SESSIONS];
	struct step *s = &r->step;
	struct session *ss;
	char *line;
	int n, i, hup, term = 0, status, pending, wait;

	iobs_reader_init(&rd, STDIN_FILENO);
	while (!finished(r)) {
		/* A run just started, or its step waits for a session. */
		if (r->nsteps != 0 && s->pid == 0) {
			if (r->stepno < 0)
				step_next(r);
			else
				step_go(r);
			if (finished(r))
				break;
		}
		sessions_fill(r, 0);
		n = 0;
		pfd[n++] = (struct pollfd){ r->eof ? -1 : STDIN_FILENO, POLLIN,
		    0 };
		pfd[n++] = (struct pollfd){ sigfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ termfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ chldfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ s->pid ? s->in : -1, POLLOUT, 0 };
		pfd[n++] = (struct pollfd){ s->pid ? s->out : -1, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ s->pid ? s->err : -1, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ r->probe_fd, POLLOUT, 0 };
		for (i = 0; i < SESSIONS; i++) {
			ss = &r->sess[i];
			pfd[n++] = (struct pollfd){ ss->state == SS_NONE ||
			    ss->state == SS_LENT ? -1 : ss->out, POLLIN, 0 };
			pfd[n++] = (struct pollfd){ ss->state == SS_NONE ||
			    ss->state == SS_LENT ? -1 : ss->err, POLLIN, 0 };
			pfd[n++] = (struct pollfd){ ss->state == SS_LENT ?
			    ss->report : -1, POLLIN, 0 };
		}
		pending = r->nsteps != 0 && s->pid == 0;
		wait = timeout(r);
		if (pending && (wait == -1 || wait > MASTER_POLL_MS))
			wait = MASTER_POLL_MS;
		if (poll(pfd, n, wait) == -1) {
			if (errno != EINTR)
				err(1, "poll");
			continue;
		}
		for (i = 0; i < SESSIONS; i++)
			session_event(r, &r->sess[i], pfd[8 + 3 * i].revents,
			    pfd[9 + 3 * i].revents, pfd[10 + 3 * i].revents);
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (iobs_reader_fill(&rd) == -1)
				err(1, "standard input");
			while ((line = iobs_reader_next(&rd)) != NULL)
				record(r, line, &rd);
			if (rd.eof && !r->eof) {
				r->eof = 1;
				r->drain_by = now_ms() + r->drain_ms;
				while (r->moves.n > 0)
					move_expire(r,
					    moves_oldest(&r->moves));
				writing_due(r, now_ms(), 1);
			}
		}
		for (hup = 0; read(sigfd, &si, sizeof(si)) == sizeof(si);)
			hup = 1;
		if (hup)
			reconfigure(r);
		while (read(termfd, &si, sizeof(si)) == sizeof(si))
			term = 1;
		if (term)
			break;
		if (s->pid != 0 && s->in != -1 && (pfd[4].revents & (POLLOUT |
		    POLLERR | POLLHUP)))
			step_write(s);
		if (s->pid != 0 && s->out != -1 && pfd[5].revents) {
			step_read(&s->out, &s->output);
			transferred(r);
		}
		if (s->pid != 0 && s->err != -1 && pfd[6].revents)
			step_read(&s->err, &s->errors);
		if (r->probe_fd != -1 && pfd[7].revents)
			probe_done(r);
		/* SIGCHLD: the step's child, or the control master, ended. */
		while (read(chldfd, &si, sizeof(si)) == sizeof(si))
			continue;
		for (i = 0; i < r->nsettling; i++)
			if (waitpid(r->settling[i].pid, &status, WNOHANG) ==
			    r->settling[i].pid)
				settle_done(r, i--, status);
		if (s->pid != 0 && waitpid(s->pid, &status, WNOHANG) == s->pid)
			step_done(r, status);
		for (i = 0; i < SESSIONS; i++) {
			ss = &r->sess[i];
			if (ss->pid != 0 && waitpid(ss->pid, &status,
			    WNOHANG) == ss->pid) {
				ss->pid = 0;
				session_ev(r, ss, SE_END);
			}
		}
		if (r->master != 0 && waitpid(r->master, &status, WNOHANG) ==
		    r->master)
			r->master = 0;
		timers(r);
	}
	for (i = 0; r->eof && i == 0; i++)
		while ((line = iobs_reader_next(&rd)) != NULL)
			record(r, line, &rd);
	if (backlog(r) > 0 && r->root != NULL) {
		warnx("%s: %zu path%s not sent: %s", r->shown, backlog(r),
		    backlog(r) == 1 ? "" : "s", r->why ? r->why :
		    "stopped");
		r->rval = 1;
	}
	publish(r, 1);
	iobs_reader_free(&rd);
}

int
remote_main(struct mirror_options *o, struct remote_dest *d,
    struct iobs_cache *cache, int sigfd)
{
	static struct remote r;
	const char *env, *errstr;
	char why[PATH_MAX + 256];
	int termfd, chldfd, i;

	memset(&r, 0, sizeof(r));
	r.o = *o;
	r.d = *d;
	r.cache = cache;
	r.state = S_LIVE;
	r.pub_state = -1;
	r.backoff = BACKOFF_MS;
	r.bound = BACKLOG_MAX;
	r.stuck_backoff = BACKOFF_MS;
	r.drain_ms = DRAIN_S * 1000;
	if ((env = getenv(DRAIN_ENV)) != NULL && *env != '\0') {
		r.drain_ms = strtonum(env, 0, 86400, &errstr) * 1000;
		if (errstr != NULL)
			errx(2, "%s=%s: number is %s", DRAIN_ENV, env, errstr);
	}
	if ((env = getenv(BACKLOG_ENV)) != NULL && *env != '\0') {
		r.bound = strtonum(env, 1, 1000000000, &errstr);
		if (errstr != NULL)
			errx(2, "%s=%s: number is %s", BACKLOG_ENV, env,
			    errstr);
	}
	if ((r.shown = strdup(o->dest)) == NULL)
		err(1, "strdup");
	for (i = 0; i < SESSIONS; i++)
		r.sess[i].report = -1;
	/* The relay is this program: by its file, whatever PATH says. */
	r.self = realpath("/proc/self/exe", NULL);
	if (rsh_setup(&r, why, sizeof(why)) == -1)
		errx(2, "%s", why);
	r.probe_fd = -1;
	probe_setup(&r);
	r.progress = o->progress != PROGRESS_AUTO ? o->progress :
	    isatty(STDERR_FILENO) ? PROGRESS_LINE : PROGRESS_OFF;
	current = &r;
	if (atexit(cleanup) != 0)
		err(1, "atexit");
	if (cache != NULL)
		r.backlog_key = cache_key("backlog");
	/* A child gone while we write its list: its status says why. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(1, "signal");
	termfd = iobs_signalfd(SIGTERM, SIGINT, 0);
	chldfd = iobs_signalfd(SIGCHLD, 0);
	run(&r, sigfd, termfd, chldfd);
	close(termfd);
	close(chldfd);
	cleanup();
	batch_clear(&r.dirty);
	batch_clear(&r.sent);
	batch_clear(&r.exited);
	for (i = 0; i < SETTLING_MAX; i++)
		batch_clear(&r.settled[i]);
	batch_clear(&r.stuck);
	pathset_clear(&r.named);
	pathset_clear(&r.writing);
	pathset_clear(&r.gone);
	pathset_clear(&r.linked);
	links_clear(&r.links);
	buf_free(&r.list);
	buf_free(&r.script);
	moves_clear(&r.moves);
	words_free(r.rsh);
	free(r.rsh_line);
	free(r.relay_line);
	free(r.self);
	free(r.ctldir);
	free(r.ctlpath);
	free(r.root);
	free(r.src);
	free(r.shown);
	free(r.why);
	free(r.backlog_key);
	*o = r.o;
	*d = r.d;
	return r.rval;
}
