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

/* dirty_add(): the entry, all below it, or a directory's entries. */
#define DIRTY_PLAIN	0
#define DIRTY_TREE	1
#define DIRTY_LEVEL	2

#define BATCH_QUIET_MS	5	/* a batch waits for the stream to rest this, */
#define WINDOW_MS	100	/* but no longer than this after the first */
#define BACKOFF_MS	1000	/* a failed run is tried again after this, */
#define BACKOFF_MAX_MS	60000	/* doubling up to this */
#define DELETES_QUIET_MS 200	/* --backup-dir: deletes wait for a pause */
#define DELETES_MAX_MS	2000	/* but no longer than this */
#define PROBE_MS	100	/* away, its port is knocked on this often, */
#define PROBE_WAIT_MS	1000	/* an answer waited for this long */
#define BACKLOG_MAX	100000	/* paths waiting before a whole sync instead */
#define PUBLISH_MS	1000	/* the backlog to the cache, this often */
#define CAPTURE_MAX	65536	/* of a child's output kept */
#define MASTER_WAIT_MS	12000	/* a run waits this for the master's socket */
#define MASTER_POLL_MS	20	/* looking for it this often */
#define SESSIONS	2	/* shells kept open there, one a run */
#define SESSION_WAIT_MS	60000	/* a run waits this for one to be ready */
#define SESSION_RETRY_MS 1000	/* one that failed is not replaced sooner */
#define SETTLING_MAX	3	/* rsyncs done with their batch, exiting */
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
/* A --backup-dir set's name, as a shell pattern. */
#define SET_GLOB	"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T" \
			"[0-9][0-9][0-9][0-9]Z"

/* A rename the source bore out, as a remote mv. */
struct rename {
	char	*from, *to;
};

struct renames {
	struct rename	*v;
	size_t		 n, cap;
};

/* What a run sends: the paths it took from the dirty sets. */
struct batch {
	struct pathset	 plain;		/* the entry itself */
	struct pathset	 tree;		/* all below it too; "" is everything */
	struct pathset	 level;		/* directories: their entries, not below */
	struct renames	 ren;
	/*
	 * Paths, and all below them, whose entries there may hold another
	 * name's data (an exchange): a run carrying any compares files by
	 * their checksums, not their size and time.
	 */
	struct pathset	 unsure;
	int64_t		 oldest;	/* ms, of the first path; 0: none */
};

struct buf {
	char	*s;
	size_t	 len, off, cap;
};

enum stepkind { K_GUARD, K_COUNT, K_SCRIPT, K_RSYNC };

/* One child of a run, with our ends of its pipes. */
struct step {
	enum stepkind	 kind;
	pid_t		 pid;
	int		 in, out, err;
	struct buf	 input, output, errors;
};

/*
 * A plain sh there, in an ssh session of its own that the user's login
 * shell started once: a run's commands go to it through iobs-mirror
 * --relay (relay.c), one at a time. Its state machine, as its table
 * (stable): CONNECTING, the login shell is starting and the line "echo
 * ready" waits for sh; LENT, a relay has it until it reports it as it
 * was (SE_OK). SE_END: its ssh exited, its output or errors ended, it
 * spoke while idle, or the relay's report ended without "ok".
 */
enum sstate { SS_NONE, SS_CONNECTING, SS_IDLE, SS_LENT, SS_NSTATES };
enum sevent { SE_START, SE_READY, SE_LEND, SE_OK, SE_END, SE_NEVENTS };
enum saction { SA_NONE, SA_START, SA_READY, SA_LEND, SA_BACK, SA_FAILED,
	SA_DROP };

static const struct {
	enum saction	 action;
	enum sstate	 next;
} stable[SS_NSTATES][SE_NEVENTS] = {
	[SS_NONE] = {
		[SE_START] =	{ SA_START,	SS_CONNECTING },
		[SE_READY] =	{ SA_NONE,	SS_NONE },
		[SE_LEND] =	{ SA_NONE,	SS_NONE },
		[SE_OK] =	{ SA_NONE,	SS_NONE },
		[SE_END] =	{ SA_NONE,	SS_NONE },
	},
	[SS_CONNECTING] = {
		[SE_START] =	{ SA_NONE,	SS_CONNECTING },
		[SE_READY] =	{ SA_READY,	SS_IDLE },
		[SE_LEND] =	{ SA_NONE,	SS_CONNECTING },
		[SE_OK] =	{ SA_NONE,	SS_CONNECTING },
		[SE_END] =	{ SA_FAILED,	SS_NONE },
	},
	[SS_IDLE] = {
		[SE_START] =	{ SA_NONE,	SS_IDLE },
		[SE_READY] =	{ SA_NONE,	SS_IDLE },
		[SE_LEND] =	{ SA_LEND,	SS_LENT },
		[SE_OK] =	{ SA_NONE,	SS_IDLE },
		[SE_END] =	{ SA_DROP,	SS_NONE },
	},
	[SS_LENT] = {
		[SE_START] =	{ SA_NONE,	SS_LENT },
		[SE_READY] =	{ SA_NONE,	SS_LENT },
		[SE_LEND] =	{ SA_NONE,	SS_LENT },
		[SE_OK] =	{ SA_BACK,	SS_IDLE },
		[SE_END] =	{ SA_DROP,	SS_NONE },
	},
};

struct session {
	enum sstate	 state;
	pid_t		 pid;		/* the local ssh */
	int		 in, out, err;	/* our ends of its pipes */
	int		 report;	/* lent: the relay's report */
	char		 ready[40];	/* connecting: the line sh says */
	struct buf	 seen;		/* connecting: its output so far */
	struct buf	 errors;	/* its errors while not lent */
	int64_t		 since;
};

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
enum rstate {
	S_LIVE, S_SENDING, S_AWAY, S_RETRYING, S_REFUSED, S_RECHECKING,
	S_SETTLING, S_NSTATES
};
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

struct remote {
	struct mirror_options o;
	struct remote_dest d;
	char		*shown;		/* dest, for messages */

	/* The remote shell, with the control master's options for ssh. */
	char		**rsh;		/* words */
	char		*rsh_line;	/* for rsync -e */
	char		*relay_line;	/* for rsync -e: iobs-mirror --relay */
	char		*self;		/* this program, for the relay */
	struct session	 sess[SESSIONS];
	int64_t		 sess_failed;	/* ms: one ended before it was ready */
	int64_t		 wait_since;	/* ms: a step waits for a session */
	char		*ctldir, *ctlpath;	/* NULL: no control master */
	pid_t		 master;
	int64_t		 master_since;	/* ms: started then */

	char		*root;		/* source, "" for "/"; NULL before */
	size_t		 rootlen;
	char		*src;		/* root as rsync takes it, with '/' */
	int		 active;
	int		 eof;
	int		 scanned;	/* "# backend poll": from scans */

	struct moves	 moves;		/* MOVED_FROMs waiting for a pair */
	struct pathset	 writing;	/* modified, not yet closed */
	struct batch	 dirty;		/* waiting for a run */
	struct batch	 sent;		/* carried by the run out */
	struct batch	 settled[SETTLING_MAX];	/* carried by those settling */
	struct batch	 exited;	/* by the one whose exit is read */
	/* The batch out's deletions, and its list and script. */
	struct pathset	 gone;
	struct buf	 list, script;
	/*
	 * Paths the remote refused one by one (rsync named them): set
	 * aside and retried on their own back-off, so that they hold
	 * neither the state nor the rest; named: reported once.
	 */
	struct batch	 stuck;
	struct pathset	 named;
	int64_t		 stuck_at, stuck_backoff;
	int64_t		 drain_by;	/* ms: the stream ended; retry until */
	int64_t		 drain_ms;
	int		 drain_last;	/* the last run before giving up is out */
	int		 full;		/* the run out is a whole sync */
	/*
	 * The source's names by inode, kept from the first batch that
	 * lists a file with other names until the next whole sync.
	 */
	struct links	 links;
	int		 links_kept;
	int		 links_partial;	/* a directory not read whole */
	/* The files the batch out lists that have other names. */
	struct pathset	 linked;
	char		 pruned[SET_LEN + 1];	/* --keep: last set pruned for */
	/*
	 * --verify: the next whole sync is a pass, due then; the one out
	 * is, and says what it repairs.
	 */
	int64_t		 verify_at;
	int		 verify_next, verifying;
	/*
	 * --progress: PROGRESS_*; a backlog that lasts is shown, since
	 * then, last at shown.
	 */
	int		 progress;
	int64_t		 behind_since, behind_shown;
	int64_t		 deletes_first, deletes_last;	/* ms; 0: none waiting */
	/*
	 * Away, the host's ssh port as ssh -G resolves it, connected to
	 * now and then: once it answers after it did not, the back-off
	 * ends. A host that answers all along and still fails waits.
	 */
	struct sockaddr_storage probe_addr;
	socklen_t	 probe_len;	/* 0: none known */
	int		 probe_fd;	/* a connect under way, or -1 */
	int64_t		 probe_at;	/* the next, or the one under way's */
	int		 probe_shut;	/* it did not answer, this outage */
	int64_t		 window, last;	/* ms: first and last path added */

	enum rstate	 state;
	struct step	 step;		/* pid 0: none */
	/* Runs' rsyncs past the remote's goodbye, exiting. */
	struct step	 settling[SETTLING_MAX];
	int		 nsettling;
	int		 nsteps, stepno;
	enum stepkind	 steps[3];
	char		*why;		/* the last failure, for the report */
	int64_t		 retry_at, backoff;
	int64_t		 away_since;
	size_t		 bound;
	int		 collapsed;	/* reported the bound already */
	int		 refused;	/* reported a refusal already */

	struct iobs_cache *cache;
	char		*backlog_key;
	int64_t		 published;
	int		 pub_state;
	size_t		 pub_paths;
	int		 rval;
};

/* For the exit handler: the control master and its directory. */
static struct remote *current;

static void	 event(struct remote *, enum revent);
static void	 session_ev(struct remote *, struct session *, enum sevent);
static int	 excluded(struct remote *, const char *);

/* Buffers */

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			err(1, "realloc");
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* Sets of paths */

static int64_t
oldest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static void
renames_add(struct renames *rs, const char *from, const char *to)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		if ((rs->v = reallocarray(rs->v, rs->cap, sizeof(*rs->v))) ==
		    NULL)
			err(1, "reallocarray");
	}
	if ((rs->v[rs->n].from = strdup(from)) == NULL ||
	    (rs->v[rs->n].to = strdup(to)) == NULL)
		err(1, "strdup");
	rs->n++;
}

static void
renames_clear(struct renames *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].from);
		free(rs->v[i].to);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

static void
batch_clear(struct batch *b)
{
	pathset_clear(&b->plain);
	pathset_clear(&b->tree);
	pathset_clear(&b->level);
	pathset_clear(&b->unsure);
	renames_clear(&b->ren);
	b->oldest = 0;
}

static size_t
batch_size(const struct batch *b)
{
	return b->plain.n + b->tree.n + b->level.n + b->ren.n;
}

static size_t
backlog(const struct remote *r)
{
	size_t n = 0;
	int i;

	for (i = 0; i < r->nsettling; i++)
		n += batch_size(&r->settled[i]);
	return n + batch_size(&r->dirty) + batch_size(&r->sent) +
	    batch_size(&r->stuck) + r->writing.n;
}

/* from's paths into to, renames before to's own: they came first. */
static void
batch_merge(struct batch *to, struct batch *from)
{
	struct renames ren = from->ren;
	size_t i;

	for (i = 0; i < from->plain.n; i++)
		pathset_add(&to->plain, from->plain.e[i].path, 0);
	for (i = 0; i < from->tree.n; i++)
		pathset_add(&to->tree, from->tree.e[i].path, 0);
	for (i = 0; i < from->level.n; i++)
		pathset_add(&to->level, from->level.e[i].path, 0);
	for (i = 0; i < from->unsure.n; i++)
		pathset_add(&to->unsure, from->unsure.e[i].path, 0);
	for (i = 0; i < to->ren.n; i++)
		renames_add(&ren, to->ren.v[i].from, to->ren.v[i].to);
	for (i = 0; i < to->ren.n; i++) {
		free(to->ren.v[i].from);
		free(to->ren.v[i].to);
	}
	free(to->ren.v);
	to->ren = ren;
	memset(&from->ren, 0, sizeof(from->ren));
	to->oldest = oldest(to->oldest, from->oldest);
	batch_clear(from);
}

/* Everything waiting becomes one whole sync; what is unsure stays so. */
static void
collapse(struct remote *r)
{
	int64_t first = r->dirty.oldest;
	struct pathset unsure = r->dirty.unsure;

	memset(&r->dirty.unsure, 0, sizeof(unsure));
	batch_clear(&r->dirty);
	r->dirty.unsure = unsure;
	pathset_add(&r->dirty.tree, "", 0);
	r->dirty.oldest = first ? first : now_ms();
}

/* rel, or a directory above it, is unsure in b. */
static int
unsure(struct batch *b, const char *rel)
{
	char *p, *slash;
	int found;

	if (b->unsure.n == 0)
		return 0;
	if (pathset_get(&b->unsure, "") != NULL)
		return 1;
	if ((p = strdup(rel)) == NULL)
		err(1, "strdup");
	while (!(found = pathset_get(&b->unsure, p) != NULL) &&
	    (slash = strrchr(p, '/')) != NULL)
		*slash = '\0';
	free(p);
	return found;
}

static void
dirty_add(struct remote *r, const char *rel, int tree)
{
	struct pathset *set = tree == DIRTY_LEVEL ? &r->dirty.level :
	    tree ? &r->dirty.tree : &r->dirty.plain;
	int64_t now = now_ms();

	if (pathset_get(&r->dirty.tree, "") != NULL || excluded(r, rel))
		return;		/* a whole sync is coming; not ours */
	if (batch_size(&r->dirty) == 0)
		r->window = now;
	r->last = now;
	r->dirty.oldest = oldest(r->dirty.oldest, now);
	pathset_add(set, rel, now);
	if (backlog(r) > r->bound) {
		if (!r->collapsed)
			warnx("%s: %zu paths waiting, more than %zu: one whole "
			    "sync instead", r->shown, backlog(r), r->bound);
		r->collapsed = 1;
		collapse(r);
	}
}

/* A whole sync from now, all else forgotten: WATCH_INIT, OVERFLOW. */
static void
want_full(struct remote *r)
{
	collapse(r);
	r->window = r->last = now_ms();
	event(r, E_RESET);
}

/* Children */

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/*
 * Starts argv with input on its standard input, output captured or
 * sent to out_fd, errors captured; with ss, the session lent to it as
 * descriptors 3 to 6 (relay.c), for it or the relay it runs.
 */
static int
step_start(struct step *s, enum stepkind kind, char **argv,
    struct buf *input, int out_fd, struct session *ss)
{
	int in[2], out[2] = { -1, -1 }, er[2], rep[2] = { -1, -1 }, fds[7];

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->in = s->out = s->err = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(er, O_CLOEXEC) == -1 ||
	    (out_fd == -1 && pipe2(out, O_CLOEXEC) == -1) ||
	    (ss != NULL && pipe2(rep, O_CLOEXEC) == -1))
		err(1, "pipe");
	fflush(stdout);
	fds[0] = in[0];
	fds[1] = out_fd != -1 ? out_fd : out[1];
	fds[2] = er[1];
	if (ss != NULL) {
		fds[3] = ss->in;
		fds[4] = ss->out;
		fds[5] = ss->err;
		fds[6] = rep[1];
	}
	s->pid = iobs_spawn_fds(argv, fds, ss != NULL ? 7 : 3);
	close(in[0]);
	close(er[1]);
	if (out[1] != -1)
		close(out[1]);
	if (rep[1] != -1)
		close(rep[1]);
	if (s->pid == -1) {
		warn("%s", argv[0]);
		close(in[1]);
		close(er[0]);
		if (out[0] != -1)
			close(out[0]);
		if (rep[0] != -1)
			close(rep[0]);
		s->pid = 0;
		return -1;
	}
	if (ss != NULL)
		ss->report = rep[0];
	s->in = in[1];
	s->out = out[0];
	s->err = er[0];
	nonblock(s->in);
	nonblock(s->err);
	if (s->out != -1)
		nonblock(s->out);
	if (input != NULL) {
		s->input = *input;
		memset(input, 0, sizeof(*input));
	}
	if (s->input.len == 0) {
		close(s->in);
		s->in = -1;
	}
	return 0;
}

static void
step_write(struct step *s)
{
	ssize_t n;

	while (s->input.off < s->input.len) {
		n = write(s->in, s->input.s + s->input.off,
		    s->input.len - s->input.off);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;		/* EPIPE: the child says why */
		}
		s->input.off += n;
	}
	close(s->in);
	s->in = -1;
	buf_free(&s->input);
}

/* Reads what is there; closes fd at its end. */
static void
step_read(int *fd, struct buf *b)
{
	char chunk[8192];
	ssize_t n;

	while ((n = read(*fd, chunk, sizeof(chunk))) > 0)
		if (b->len < CAPTURE_MAX)
			buf_add(b, chunk, n);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
	}
}

/* The child exited (reaped): its pipes drained and closed. */
static void
step_end(struct step *s)
{
	if (s->in != -1)
		close(s->in);
	/* The child is gone: what it wrote is all there, up to EOF. */
	if (s->out != -1)
		fcntl(s->out, F_SETFL, 0);
	if (s->err != -1)
		fcntl(s->err, F_SETFL, 0);
	while (s->out != -1)
		step_read(&s->out, &s->output);
	while (s->err != -1)
		step_read(&s->err, &s->errors);
	s->pid = 0;
	s->in = -1;
	buf_free(&s->input);
}

/* Waits for pid: its wait status. */
static int
reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

static void
step_kill(struct step *s)
{
	if (s->pid == 0)
		return;
	kill(s->pid, SIGTERM);
	reap(s->pid);
	step_end(s);
	buf_free(&s->output);
	buf_free(&s->errors);
}

/* The remote shell and its control master */

static int
is_ssh(char **rsh)
{
	const char *base = strrchr(rsh[0], '/');

	return strcmp(base ? base + 1 : rsh[0], "ssh") == 0;
}

static char **
words_add(char **v, size_t *n, const char *w)
{
	if ((v = reallocarray(v, *n + 2, sizeof(*v))) == NULL)
		err(1, "reallocarray");
	if ((v[*n] = strdup(w)) == NULL)
		err(1, "strdup");
	v[++*n] = NULL;
	return v;
}

static char **
words_copy(char **src, size_t *n)
{
	char **v = NULL;

	*n = 0;
	for (; *src != NULL; src++)
		v = words_add(v, n, *src);
	return v;
}

static void
master_stop(struct remote *r)
{
	if (r->master == 0)
		return;
	kill(r->master, SIGTERM);
	reap(r->master);
	r->master = 0;
}

/*
 * The connection every run shares, started when there is none. Runs
 * wait for its socket (master_pending), and connect by themselves only
 * when it failed or never came.
 */
static void
master_start(struct remote *r)
{
	char **argv, opt[PATH_MAX + 32];
	size_t n;

	if (r->ctlpath == NULL || r->master != 0)
		return;
	argv = words_copy(r->rsh, &n);
	snprintf(opt, sizeof(opt), "ControlPath=%s", r->ctlpath);
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, opt);
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, "ControlMaster=yes");
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, "ControlPersist=no");
	argv = words_add(argv, &n, "-N");
	argv = words_add(argv, &n, "-T");
	argv = words_add(argv, &n, "--");
	argv = words_add(argv, &n, r->d.host);
	/* Its complaints are the runs' too: they say them. */
	if ((r->master = iobs_spawn(argv, -1, -1, -1)) == -1)
		r->master = 0;
	r->master_since = now_ms();
	words_free(argv);
}

/*
 * The master is on its way: its socket is not there yet, and it has
 * neither ended nor taken longer than ssh's ConnectTimeout allows.
 */
static int
master_pending(struct remote *r)
{
	return r->ctlpath != NULL && r->master != 0 &&
	    now_ms() - r->master_since < MASTER_WAIT_MS &&
	    access(r->ctlpath, F_OK) == -1;
}

/* Sessions */

/* Its ssh and pipes gone; what it said, for a step that waits for one. */
static void
session_drop(struct remote *r, struct session *ss, int failed)
{
	if (failed) {
		r->sess_failed = now_ms();
		if (ss->errors.len > 0) {
			free(r->why);
			if ((r->why = strdup(ss->errors.s)) == NULL)
				err(1, "strdup");
			r->why[strcspn(r->why, "\n")] = '\0';
		}
	}
	if (ss->pid != 0) {
		kill(ss->pid, SIGTERM);
		reap(ss->pid);
	}
	if (ss->in != -1)
		close(ss->in);
	close(ss->out);
	close(ss->err);
	if (ss->report != -1)
		close(ss->report);
	buf_free(&ss->seen);
	buf_free(&ss->errors);
	memset(ss, 0, sizeof(*ss));
	ss->report = -1;
}

/*
 * The remote shell, through the master, runs "exec sh": the user's
 * login shell starts once, and the sh it becomes reads our lines.
 * 0, or -1 when it cannot start.
 */
static int
session_spawn(struct remote *r, struct session *ss)
{
	char **argv, opt[PATH_MAX + 32], line[64];
	unsigned char b[16];
	int in[2], out[2], er[2];
	size_t n, i;

	argv = words_copy(r->rsh, &n);
	if (r->ctlpath != NULL) {
		snprintf(opt, sizeof(opt), "ControlPath=%s", r->ctlpath);
		argv = words_add(argv, &n, "-o");
		argv = words_add(argv, &n, opt);
		argv = words_add(argv, &n, "-o");
		argv = words_add(argv, &n, "ControlMaster=no");
	}
	if (is_ssh(r->rsh)) {
		argv = words_add(argv, &n, "-T");
		argv = words_add(argv, &n, "--");
	}
	argv = words_add(argv, &n, r->d.host);
	argv = words_add(argv, &n, "exec sh");
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(er, O_CLOEXEC) == -1)
		err(1, "pipe");
	memset(ss, 0, sizeof(*ss));
	ss->report = -1;
	ss->pid = iobs_spawn(argv, in[0], out[1], er[1]);
	words_free(argv);
	close(in[0]);
	close(out[1]);
	close(er[1]);
	ss->in = in[1];
	ss->out = out[0];
	ss->err = er[0];
	ss->since = now_ms();
	if (ss->pid == -1) {
		ss->pid = 0;
		return -1;
	}
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		err(1, "getrandom");
	for (i = 0; i < sizeof(b); i++)
		snprintf(ss->ready + 2 * i, 3, "%02x", b[i]);
	strcat(ss->ready, "s\n");
	/* A line to wait in the pipe: sh reads it once it runs. */
	snprintf(line, sizeof(line), "echo %s", ss->ready);
	return write(ss->in, line, strlen(line)) == -1 ? -1 : 0;
}

static void
session_ev(struct remote *r, struct session *ss, enum sevent ev)
{
	enum saction a = stable[ss->state][ev].action;

	ss->state = stable[ss->state][ev].next;
	switch (a) {
	case SA_NONE:
		break;
	case SA_START:
		if (session_spawn(r, ss) == -1)
			session_drop(r, ss, 1);
		else
			ss->state = SS_CONNECTING;
		break;
	case SA_READY:
		buf_free(&ss->seen);
		buf_free(&ss->errors);
		break;
	case SA_LEND:
		buf_free(&ss->errors);
		break;
	case SA_BACK:
		close(ss->report);
		ss->report = -1;
		buf_free(&ss->seen);
		break;
	case SA_FAILED:
	case SA_DROP:
		session_drop(r, ss, a == SA_FAILED);
		break;
	}
}

static int
session_idle(struct remote *r)
{
	int i;

	for (i = 0; i < SESSIONS; i++)
		if (r->sess[i].state == SS_IDLE)
			return i;
	return -1;
}

static int
sessions_alive(struct remote *r)
{
	int i, n = 0;

	for (i = 0; i < SESSIONS; i++)
		n += r->sess[i].state != SS_NONE;
	return n;
}

/*
 * Sessions started: one for a step that waits and has none on its
 * way; while the remote is there, all of them, so that the next run
 * finds one ready.
 */
static void
sessions_fill(struct remote *r, int waiting)
{
	int i, live;

	if (r->relay_line == NULL || r->root == NULL || master_pending(r))
		return;
	live = r->state == S_LIVE || r->state == S_SENDING ||
	    r->state == S_SETTLING;
	if (!waiting && (!live || now_ms() - r->sess_failed <
	    SESSION_RETRY_MS || sessions_alive(r) == 0))
		return;
	/*
	 * A step that waits started the master with its run; one that
	 * failed is not started again for it: the session connects alone.
	 */
	if (!waiting)
		master_start(r);
	for (i = 0; i < SESSIONS && !master_pending(r); i++)
		if (r->sess[i].state == SS_NONE) {
			session_ev(r, &r->sess[i], SE_START);
			if (waiting)
				return;
		}
}

/* One read of what fd has: 0 at its end. */
static ssize_t
session_read(int fd, struct buf *b, size_t keep)
{
	char chunk[8192];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) == -1 && errno == EINTR)
		continue;
	if (n > 0) {
		if (b->len + n > keep) {
			b->len = 0;
			b->off = 0;
		}
		buf_add(b, chunk, n);
	}
	return n == -1 ? 0 : n;
}

/* Its output, errors or report ready (revents), as its state reads. */
static void
session_event(struct remote *r, struct session *ss, short out, short er,
    short rep)
{
	if (ss->state == SS_LENT) {
		/* "ok": as it was; its end alone: not. */
		if (!rep)
			return;
		if (session_read(ss->report, &ss->seen, 64) == 0)
			session_ev(r, ss, SE_END);
		else if (strstr(ss->seen.s, "ok\n") != NULL)
			session_ev(r, ss, SE_OK);
		return;
	}
	if (er && session_read(ss->err, &ss->errors, CAPTURE_MAX) == 0) {
		session_ev(r, ss, SE_END);
		return;
	}
	/* Idle, it says nothing: a word of it is its end. */
	if (!out)
		return;
	if (session_read(ss->out, &ss->seen, CAPTURE_MAX) == 0 ||
	    ss->state != SS_CONNECTING)
		session_ev(r, ss, SE_END);
	/* The login's own words before it, if any, are not ours. */
	else if (strstr(ss->seen.s, ss->ready) != NULL)
		session_ev(r, ss, SE_READY);
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

/*
 * The shell words for -e/--rsh or RSYNC_RSH (ssh by default), with the
 * options that share one connection when it is ssh; -1 with why.
 */
static int
rsh_setup(struct remote *r, char *why, size_t whylen)
{
	const char *cmd = r->o.rsh, *tmp;
	char **w, *q;
	size_t n;

	if (cmd == NULL && (cmd = getenv("RSYNC_RSH")) == NULL)
		cmd = "ssh";
	if ((w = rsh_words(cmd, why, whylen)) == NULL)
		return -1;
	words_free(r->rsh);
	free(r->rsh_line);
	free(r->relay_line);
	r->relay_line = NULL;
	r->rsh = w;
	/* rsync's remote shell: ourselves, to a session (relay.c). */
	if (r->d.kind == RK_SSH && r->self != NULL &&
	    asprintf(&r->relay_line, "%s%s%s --relay --",
	    strchr(r->self, '\'') ? "\"" : "'", r->self,
	    strchr(r->self, '\'') ? "\"" : "'") == -1)
		err(1, "asprintf");
	if (r->d.kind != RK_SSH || !is_ssh(w)) {
		if ((r->rsh_line = strdup(cmd)) == NULL)
			err(1, "strdup");
		return 0;
	}
	/* Runs never wait for a password nor for a dead network. */
	r->rsh = words_copy(w, &n);
	words_free(w);
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "BatchMode=yes");
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "ConnectTimeout=10");
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "ServerAliveInterval=10");
	if (r->ctldir == NULL) {
		if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
			tmp = "/tmp";
		if (asprintf(&r->ctldir, "%s/iobs-mirror.XXXXXX", tmp) == -1)
			err(1, "asprintf");
		if (mkdtemp(r->ctldir) == NULL) {
			warn("%s: a private directory for the ssh connection; "
			    "every run connects by itself", r->ctldir);
			free(r->ctldir);
			r->ctldir = NULL;
		} else if (asprintf(&r->ctlpath, "%s/ssh", r->ctldir) == -1)
			err(1, "asprintf");
	}
	if (r->ctlpath != NULL) {
		q = iobs_shell_quote(r->ctlpath);
		if (asprintf(&r->rsh_line, "%s -o BatchMode=yes -o "
		    "ConnectTimeout=10 -o ServerAliveInterval=10 -o "
		    "ControlMaster=no -o ControlPath=%s", cmd, q) == -1)
			err(1, "asprintf");
		free(q);
	} else if (asprintf(&r->rsh_line, "%s -o BatchMode=yes -o "
	    "ConnectTimeout=10", cmd) == -1)
		err(1, "asprintf");
	return 0;
}

/* The rsync command line of a run */

/*
 * A whole run on a terminal, when nothing else is printed: rsync's
 * --info=progress2 line, on our standard error.
 */
static int
progress2(struct remote *r, enum stepkind kind, int full)
{
	return kind == K_RSYNC && full && r->progress == PROGRESS_LINE &&
	    !r->o.dry_run && !r->o.verbose && !r->verifying;
}

/* --out-format for a --verify pass: "repair %i DEST/%n%L", % doubled. */
static char *
out_format(const char *dest)
{
	char *f, *p;

	if ((f = malloc(strlen("--out-format=repair %i /%n%L") +
	    2 * strlen(dest) + 1)) == NULL)
		err(1, "malloc");
	p = stpcpy(f, "--out-format=repair %i ");
	for (; *dest != '\0'; dest++) {
		if (*dest == '%')
			*p++ = '%';
		*p++ = *dest;
	}
	strcpy(p, "/%n%L");
	return f;
}

static char **
rsync_argv(struct remote *r, enum stepkind kind, int full, int checksum)
{
	char **v = NULL, *x;
	size_t n = 0, i;

	v = words_add(v, &n, "rsync");
	if (kind == K_GUARD) {
		v = words_add(v, &n, "--list-only");
		goto shell;
	}
	v = words_add(v, &n, "-aH");
	v = words_add(v, &n, "--force");
	/* Times to the nanosecond: a same-size rewrite in one second too. */
	v = words_add(v, &n, "--modify-window=-1");
	if (geteuid() == 0)
		v = words_add(v, &n, "--numeric-ids");
	if (!r->o.owner) {
		v = words_add(v, &n, "--no-owner");
		v = words_add(v, &n, "--no-group");
	}
	if (r->o.xattrs)
		v = words_add(v, &n, "--xattrs");
	if (r->o.acls)
		v = words_add(v, &n, "--acls");
	if (r->o.fsync)
		v = words_add(v, &n, "--fsync");
	if (checksum)
		v = words_add(v, &n, "--checksum");
	/* On a terminal, a whole run shows its own progress there. */
	if (progress2(r, kind, full))
		v = words_add(v, &n, "--info=progress2");
	/* A pass: each thing it changes there, a line "repair ...". */
	if (kind == K_RSYNC && full && r->verifying) {
		x = out_format(r->shown);
		v = words_add(v, &n, x);
		free(x);
	}
	for (i = 0; i < r->o.exclude.n; i++) {
		x = rsync_exclude(r->o.exclude.pattern[i].glob);
		v = words_add(v, &n, "--exclude");
		v = words_add(v, &n, x);
		free(x);
	}
	/* Deletes in the directories listed as "dir/", or all of them. */
	if (!r->o.no_delete)
		v = words_add(v, &n, "--delete");
	if (r->o.backup_dir != NULL && kind == K_RSYNC) {
		char set[SET_LEN + 1];

		backup_set_name(set, time(NULL));
		if (asprintf(&x, "--backup-dir=%s/%s", r->o.backup_dir, set) ==
		    -1)
			err(1, "asprintf");
		v = words_add(v, &n, "--backup");
		v = words_add(v, &n, x);
		free(x);
	}
	if (kind == K_COUNT || r->o.dry_run)
		v = words_add(v, &n, "--dry-run");
	if (kind == K_COUNT || r->o.dry_run || r->o.verbose)
		v = words_add(v, &n, "--itemize-changes");
	/* Its stdout is ours to read: the line that says it is done. */
	if (kind == K_RSYNC && !full && !r->o.dry_run && !r->o.verbose)
		v = words_add(v, &n, "--debug=exit2");
	if (kind == K_RSYNC && !full) {
		v = words_add(v, &n, "--files-from=-");
		v = words_add(v, &n, "--from0");
		/* Gone since the list was made: its record follows. */
		v = words_add(v, &n, r->d.kind == RK_DAEMON &&
		    !r->o.no_delete ? "--delete-missing-args" :
		    "--ignore-missing-args");
	}
shell:
	if (r->d.kind == RK_SSH) {
		v = words_add(v, &n, "--protect-args");
		v = words_add(v, &n, "-e");
		v = words_add(v, &n, r->relay_line != NULL ? r->relay_line :
		    r->rsh_line);
	}
	v = words_add(v, &n, "--");
	if (kind != K_GUARD)
		v = words_add(v, &n, r->src);
	v = words_add(v, &n, r->d.spec);
	return v;
}

/* Probes */

/*
 * Where ssh would connect for the host: "hostname" and "port" of
 * ssh -G, resolved once. None for another remote shell or a daemon.
 */
static void
probe_setup(struct remote *r)
{
	struct addrinfo hints, *ai;
	char **argv, buf[16384], *line, *save, *host = NULL, *port = NULL;
	size_t n, len = 0;
	ssize_t got;
	int out[2], nul, status;
	pid_t pid;

	if (r->probe_fd != -1)
		close(r->probe_fd);
	r->probe_fd = -1;
	r->probe_len = 0;
	if (r->d.kind != RK_SSH || !is_ssh(r->rsh))
		return;
	if (pipe2(out, O_CLOEXEC) == -1 ||
	    (nul = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "pipe");
	argv = words_copy(r->rsh, &n);
	argv = words_add(argv, &n, "-G");
	argv = words_add(argv, &n, "--");
	argv = words_add(argv, &n, r->d.host);
	pid = iobs_spawn(argv, nul, out[1], nul);
	words_free(argv);
	close(out[1]);
	close(nul);
	/* To its end, so that it never waits on a full pipe. */
	while ((got = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
	    (got == -1 && errno == EINTR))
		if (got > 0 && (len += (size_t)got) == sizeof(buf) - 1)
			len = 0;
	close(out[0]);
	if (pid == -1 || waitpid(pid, &status, 0) == -1 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "hostname ", 9) == 0)
			host = line + 9;
		else if (strncmp(line, "port ", 5) == 0)
			port = line + 5;
	if (host == NULL || port == NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return;
	if (ai->ai_addrlen <= sizeof(r->probe_addr)) {
		memcpy(&r->probe_addr, ai->ai_addr, ai->ai_addrlen);
		r->probe_len = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
}

/* The port answered, or not: back at once if it did not before. */
static void
probe_answer(struct remote *r, int answered, int64_t now)
{
	if (r->probe_fd != -1)
		close(r->probe_fd);
	r->probe_fd = -1;
	/*
	 * Back: tried at once, and a try that fails while it settles (its
	 * sshd just started) waits a second, not the outage's back-off.
	 */
	if (answered && r->probe_shut && r->retry_at > now) {
		r->retry_at = now;
		r->backoff = BACKOFF_MS / 2;
	}
	r->probe_shut = !answered;
	r->probe_at = now + PROBE_MS;
}

static void
probe_start(struct remote *r, int64_t now)
{
	int fd;

	if ((fd = socket(r->probe_addr.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		r->probe_at = now + PROBE_MS;
		return;
	}
	r->probe_fd = fd;
	r->probe_at = now;
	if (connect(fd, (struct sockaddr *)&r->probe_addr, r->probe_len) == 0)
		probe_answer(r, 1, now);
	else if (errno != EINPROGRESS)
		probe_answer(r, 0, now);
}

/* The connect under way ended. */
static void
probe_done(struct remote *r)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(r->probe_fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	probe_answer(r, e == 0, now_ms());
}

/* Away: a probe due, or one waited for too long; else none. */
static void
probe(struct remote *r, int64_t now)
{
	if (r->state != S_AWAY || r->probe_len == 0) {
		if (r->probe_fd != -1)
			close(r->probe_fd);
		r->probe_fd = -1;
		r->probe_shut = 0;
		r->probe_at = 0;
		return;
	}
	if (r->probe_fd != -1 && now - r->probe_at >= PROBE_WAIT_MS)
		probe_answer(r, 0, now);
	else if (r->probe_fd == -1 && now >= r->probe_at && r->retry_at > now)
		probe_start(r, now);
}

/* When probe() has something to do next; INT64_MAX for never. */
static int64_t
probe_due(struct remote *r)
{
	if (r->state != S_AWAY || r->probe_len == 0)
		return INT64_MAX;
	return r->probe_fd != -1 ? r->probe_at + PROBE_WAIT_MS : r->probe_at;
}

/* Runs */

static int
source_empty(struct remote *r)
{
	struct dirent *de;
	DIR *dir;
	int empty = 1;

	if ((dir = opendir(r->root[0] ? r->root : "/")) == NULL)
		return 0;	/* the run says why */
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(dir);
	return empty;
}

static void
list_add(struct buf *b, struct pathset *seen, const char *rel, int dir)
{
	char *p;

	if (asprintf(&p, "%s%s", rel[0] ? rel : ".", dir ? "/" : "") == -1)
		err(1, "asprintf");
	if (pathset_get(seen, p) == NULL) {
		pathset_add(seen, p, 0);
		buf_add(b, p, strlen(p) + 1);
	}
	free(p);
	/*
	 * rsync sets the times of the directories above a name it is
	 * given, but not the root's: its temporary names change them.
	 */
	if (rel[0] != '\0' && strchr(rel, '/') == NULL)
		list_add(b, seen, "", 0);
}

static int
excluded(struct remote *r, const char *rel)
{
	const char *name = strrchr(rel, '/');

	return r->o.exclude.n > 0 && rel[0] != '\0' &&
	    iobs_exclude_match(&r->o.exclude, rel, name ? name + 1 : rel);
}

static void	 links_note(struct remote *, const char *,
		    const struct stat *);

/*
 * Every directory of a source subtree, as "dir/": all it holds goes.
 * Its other entries are noted for their other names.
 */
static void
list_tree(struct remote *r, int dfd, const char *rel, struct buf *b,
    struct pathset *seen)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char *sub;
	int fd;

	list_add(b, seen, rel, 1);
	if ((dir = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s%s%s", rel, rel[0] ? "/" : "",
		    de->d_name) == -1)
			err(1, "asprintf");
		if (excluded(r, sub)) {
			free(sub);
			continue;
		}
		if (de->d_type != DT_DIR && fstatat(dirfd(dir),
		    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode))
			links_note(r, sub, &st);
		else if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
		    (fd = openat(dirfd(dir), de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) != -1)
			list_tree(r, fd, sub, b, seen);
		free(sub);
	}
	closedir(dir);
}

/*
 * The source entry rel: 1 there, 0 proven gone, -1 unknown. A path
 * through a symlink is gone: rsync would read, and the remote write,
 * through it.
 */
static int
source_has(struct remote *r, const char *rel, struct stat *st)
{
	char *p, *slash;
	size_t base = strlen(r->src);
	int rc;

	if (asprintf(&p, "%s%s", r->src, rel) == -1)
		err(1, "asprintf");
	for (slash = strchr(p + base, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		rc = lstat(p, st);
		*slash = '/';
		if (rc == -1 || !S_ISDIR(st->st_mode)) {
			rc = rc == -1 && errno != ENOENT && errno != ENOTDIR;
			free(p);
			return rc ? -1 : 0;
		}
	}
	rc = lstat(p, st);
	free(p);
	if (rc == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

static void
script_path(struct buf *b, const char *rel)
{
	char *p, *q;

	if (asprintf(&p, "./%s", rel) == -1)
		err(1, "asprintf");
	q = iobs_shell_quote(p);
	buf_str(b, " ");
	buf_str(b, q);
	free(p);
	free(q);
}

/*
 * The shell part of a batch, for sh on the remote: renames in their
 * order, then deletions. No name is a word of the command line; each
 * is quoted in the script, and a path whose directory is a symlink
 * there is refused, so that nothing outside the destination is
 * touched. A failed rename says "F i", a refused delete "D i".
 */
static const char script_head[] =
    "safe() { p=$1; while :; do case $p in */*) p=${p%/*};"
    " [ -h \"$p\" ] && return 1;; *) return 0;; esac; done; }\n"
    "there() { [ -e \"$1\" ] || [ -h \"$1\" ]; }\n"
    "isdir() { [ -d \"$1\" ] && [ ! -h \"$1\" ]; }\n"
    /* --backup-dir: $B is the set; k keeps ./path there, by mv. */
    "mi() { if isdir \"$1\" && isdir \"$2\"; then"
    " for f in \"$1\"/* \"$1\"/.[!.]* \"$1\"/..?*; do there \"$f\" ||"
    " continue; mi \"$f\" \"$2/${f##*/}\" || return 1; done;"
    " rmdir -- \"$1\"; else if there \"$2\"; then rm -rf -- \"$2\" ||"
    " return 1; fi; mv -f -- \"$1\" \"$2\"; fi; }\n"
    "k() { there \"$1\" || return 0; t=$B/${1#./};"
    " case $B in /*) ;; *) safe \"$t\" || return 1;; esac;"
    " mkdir -p -- \"${t%/*}\" && mi \"$1\" \"$t\"; }\n"
    "m() { if safe \"$2\" && safe \"$3\" && there \"$2\"; then"
    " if [ -n \"$B\" ]; then k \"$3\" || { echo \"F $1\"; return; };"
    " elif there \"$3\" && { isdir \"$3\" || isdir \"$2\"; }; then"
    " rm -rf -- \"$3\" || { echo \"F $1\"; return; }; fi;"
    " mv -f -- \"$2\" \"$3\" || echo \"F $1\"; else echo \"F $1\"; fi; }\n"
    "d() { if ! safe \"$2\"; then echo \"D $1\"; elif [ -n \"$B\" ]; then"
    " k \"$2\" || echo \"D $1\"; else rm -rf -- \"$2\" || echo \"D $1\";"
    " fi; }\n"
    /*
     * --keep: the sets of $1 but $2, oldest first, while $3 or more
     * are left, or older than the set name $4.
     */
    "p() { n=0; for s in \"$1\"/" SET_GLOB "; do isdir \"$s\" &&"
    " [ \"${s##*/}\" != \"$2\" ] && n=$((n + 1)); done;"
    " for s in \"$1\"/" SET_GLOB "; do isdir \"$s\" &&"
    " [ \"${s##*/}\" != \"$2\" ] || continue;"
    " if { [ \"$3\" -gt 0 ] && [ \"$n\" -ge \"$3\" ]; } ||"
    " { [ -n \"$4\" ] && expr \"x${s##*/}\" \\< \"x$4\" >/dev/null; };"
    " then rm -rf -- \"$s\"; fi; n=$((n - 1)); done; }\n";

/* The source lacks the directory rel, and it is not excluded. */
static int
source_lacks(void *arg, const char *rel)
{
	struct remote *r = arg;
	struct stat st;

	return !excluded(r, rel) && source_has(r, rel, &st) == 0;
}

/* B, the set a run's script keeps what it replaces in; empty without. */
static void
script_backup(struct remote *r, struct buf *b)
{
	char set[SET_LEN + 1], *p, *q;

	if (r->o.backup_dir == NULL) {
		buf_str(b, "B=\n");
		return;
	}
	backup_set_name(set, time(NULL));
	if (asprintf(&p, "%s%s/%s", r->o.backup_dir[0] == '/' ? "" : "./",
	    r->o.backup_dir, set) == -1)
		err(1, "asprintf");
	q = iobs_shell_quote(p);
	buf_str(b, "umask 077\nB=");
	buf_str(b, q);
	buf_str(b, "\n");
	free(p);
	free(q);
}

/* --keep: the sets there not pruned yet for this minute's. */
static int
prune_due(struct remote *r)
{
	char set[SET_LEN + 1];

	if (r->o.backup_dir == NULL || r->o.dry_run ||
	    (r->o.keep_sets <= 0 && r->o.keep_secs <= 0))
		return 0;
	backup_set_name(set, time(NULL));
	return strcmp(set, r->pruned) != 0;
}

/* The line that prunes them: by count, or older than a set's name. */
static void
script_prune(struct remote *r, struct buf *b)
{
	char set[SET_LEN + 1], cut[SET_LEN + 1] = "", *q, *line;
	time_t now = time(NULL);

	if (!prune_due(r))
		return;
	backup_set_name(set, now);
	if (r->o.keep_secs > 0)
		backup_set_name(cut, now - r->o.keep_secs);
	q = iobs_shell_quote(r->o.backup_dir);
	if (asprintf(&line, "p %s %s %lld '%s'\n", q, set, r->o.keep_sets,
	    cut) == -1)
		err(1, "asprintf");
	buf_str(b, line);
	memcpy(r->pruned, set, sizeof(set));
	free(line);
	free(q);
}

static void
dry_log(const char *what, const char *a, const char *b)
{
	char *v;
	size_t n = strlen(a) + (b ? strlen(b) : 0);

	if ((v = malloc(IOBS_VIS_MAX(n) + 2)) == NULL)
		err(1, "malloc");
	iobs_vis(v, a, strlen(a));
	printf("%s %s", what, v);
	if (b != NULL) {
		iobs_vis(v, b, strlen(b));
		printf(" %s", v);
	}
	putchar('\n');
	fflush(stdout);
	free(v);
}

/* Hard links */

static int
skip_excluded(void *r, const char *rel)
{
	return excluded(r, rel);
}

/*
 * The table of names by inode, from a walk of the source: at each whole
 * sync, kept only when the tree has hard links, so that a name that
 * leaves a file tells its other names (a file written through its link
 * g, then g deleted); else the first time a batch lists a file with
 * other names. Every entry a batch lists from then on keeps it up.
 */
static void
links_build(struct remote *r)
{
	int fd;

	r->links_kept = 1;
	if ((fd = open(r->root[0] ? r->root : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    links_walk(&r->links, fd, "", skip_excluded, r) == -1)
		r->links_partial = 1;	/* for this batch; walked again */
}

static void
links_drop(struct remote *r)
{
	links_clear(&r->links);
	r->links_kept = r->links_partial = 0;
}

/* rel, a listed entry, is st now. */
static void
links_note(struct remote *r, const char *rel, const struct stat *st)
{
	if (S_ISDIR(st->st_mode) || (!r->links_kept && st->st_nlink < 2))
		return;
	if (!r->links_kept)
		links_build(r);
	links_add(&r->links, st->st_dev, st->st_ino, rel);
	if (st->st_nlink > 1)
		pathset_add(&r->linked, rel, 0);
}

/*
 * The names the table says another name of their file left (deleted,
 * or another file's now): what was written through that name while it
 * was theirs changed them, and no record names them. Those the source
 * has join the list, their own other names with them.
 */
static void
siblings_list(struct remote *r, struct pathset *seen)
{
	struct stat st;
	char *rel;

	while (r->links.left.n > 0) {
		rel = pathset_take(&r->links.left, r->links.left.n - 1);
		if (!excluded(r, rel) && source_has(r, rel, &st) == 1 &&
		    !S_ISDIR(st.st_mode)) {
			links_note(r, rel, &st);
			list_add(&r->list, seen, rel, 0);
		}
		free(rel);
	}
}

/*
 * rsync -H links only the names that one run is given together: the
 * other names of each file listed, those the source bears out, join
 * the list. Names outside the tree are not known; the known ones go.
 */
static void
links_list(struct remote *r, struct pathset *seen)
{
	struct pathset inodes;
	struct stat st;
	char **v, key[64];
	size_t i, j, n;
	dev_t dev;
	ino_t ino;
	int has;

	memset(&inodes, 0, sizeof(inodes));
	for (i = 0; i < r->linked.n; i++) {
		if (!links_inode(&r->links, r->linked.e[i].path, &dev, &ino))
			continue;
		/* Each file once, however many of its names are listed. */
		snprintf(key, sizeof(key), "%jx:%jx", (uintmax_t)dev,
		    (uintmax_t)ino);
		if (pathset_get(&inodes, key) != NULL)
			continue;
		pathset_add(&inodes, key, 0);
		n = links_names(&r->links, dev, ino, r->linked.e[i].path, &v);
		for (j = 0; j < n; j++) {
			has = excluded(r, v[j]) ? 0 : source_has(r, v[j], &st);
			if (has == 1 && st.st_dev == dev && st.st_ino == ino)
				list_add(&r->list, seen, v[j], 0);
			/* The disk is the truth: gone, or another file now. */
			else if (has == 1 && !S_ISDIR(st.st_mode))
				links_add(&r->links, st.st_dev, st.st_ino,
				    v[j]);
			else if (has == 0 || has == 1)
				links_del(&r->links, v[j]);
		}
		links_free_names(v, n);
	}
	pathset_clear(&inodes);
	pathset_clear(&r->linked);
	if (r->links_partial)
		links_drop(r);
}

/*
 * The steps of the batch out (r->sent), in r->steps: for a whole sync
 * its guards and rsync; else the script of its renames and deletes,
 * and the list of the rest for rsync. None when there is nothing to
 * send.
 */
static void
run_steps(struct remote *r)
{
	struct pathset seen;
	struct stat st;
	size_t i;
	char *q, *par, *top = NULL;
	int fd, has;

	if (r->full) {
		/*
		 * rsync -aH links them all; names gone unseen meanwhile:
		 * the table afresh, for a tree with hard links.
		 */
		links_drop(r);
		links_build(r);
		if (r->links_partial || r->links.linked == 0)
			links_drop(r);
		if (!r->o.force && source_empty(r))
			r->steps[r->nsteps++] = K_GUARD;
		if (!r->o.force && r->o.max_delete >= 0)
			r->steps[r->nsteps++] = K_COUNT;
		r->steps[r->nsteps++] = K_RSYNC;
		return;
	}
	memset(&seen, 0, sizeof(seen));
	buf_free(&r->list);
	buf_free(&r->script);
	pathset_clear(&r->gone);
	for (i = 0; r->links_kept && i < r->sent.ren.n; i++)
		links_rename(&r->links, r->sent.ren.v[i].from,
		    r->sent.ren.v[i].to);
	for (i = 0; i < r->sent.tree.n; i++) {
		const char *rel = r->sent.tree.e[i].path;

		if ((has = source_has(r, rel, &st)) == 0)
			pathset_add(&r->sent.plain, rel, 0);
		else if (has == 1 && S_ISDIR(st.st_mode)) {
			if (asprintf(&par, "%s%s", r->src, rel) == -1)
				err(1, "asprintf");
			fd = open(par, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			free(par);
			if (fd == -1)
				list_add(&r->list, &seen, rel, 0);
			else
				list_tree(r, fd, rel, &r->list, &seen);
		} else {
			if (has == 1)
				links_note(r, rel, &st);
			list_add(&r->list, &seen, rel, 0);
		}
	}
	/* A directory's entries: "dir/" alone, rsync deletes in it. */
	for (i = 0; i < r->sent.level.n; i++) {
		const char *rel = r->sent.level.e[i].path;

		if (source_has(r, rel, &st) == 1 && S_ISDIR(st.st_mode))
			list_add(&r->list, &seen, rel, 1);
		else
			pathset_add(&r->sent.plain, rel, 0);
	}
	for (i = 0; i < r->sent.plain.n; i++) {
		const char *rel = r->sent.plain.e[i].path;

		if ((has = source_has(r, rel, &st)) != 0 || rel[0] == '\0') {
			if (has == 1)
				links_note(r, rel, &st);
			list_add(&r->list, &seen, rel, 0);
			continue;
		}
		/* Gone from the source: gone there; its directory's time. */
		links_prune(&r->links, rel);
		if (r->o.backup_dir != NULL)
			top = backup_top(rel, source_lacks, r);
		if (!r->o.no_delete)
			pathset_add(&r->gone, top != NULL ? top : rel, 0);
		par = rel_parent(top != NULL ? top : rel);
		free(top);
		top = NULL;
		list_add(&r->list, &seen, par, 0);
		free(par);
	}
	siblings_list(r, &seen);
	if (r->linked.n > 0)
		links_list(r, &seen);
	/* Names left by the other names of those: the next run's. */
	while (r->links.left.n > 0) {
		q = pathset_take(&r->links.left, r->links.left.n - 1);
		dirty_add(r, q, 0);
		free(q);
	}
	if (r->d.kind == RK_DAEMON) {
		for (i = 0; i < r->gone.n; i++)
			list_add(&r->list, &seen, r->gone.e[i].path, 0);
		/* No shell: a rename is a delete and a copy. */
		for (i = 0; i < r->sent.ren.n; i++) {
			list_add(&r->list, &seen, r->sent.ren.v[i].from, 0);
			par = rel_parent(r->sent.ren.v[i].from);
			list_add(&r->list, &seen, par, 0);
			free(par);
		}
	} else if (r->sent.ren.n > 0 || r->gone.n > 0 || prune_due(r)) {
		q = iobs_shell_quote(r->d.path);
		buf_str(&r->script, "cd -- ");
		buf_str(&r->script, q);
		buf_str(&r->script, " || exit 97\n");
		free(q);
		script_backup(r, &r->script);
		buf_str(&r->script, script_head);
		script_prune(r, &r->script);
		for (i = 0; i < r->sent.ren.n; i++) {
			if (r->o.dry_run)
				dry_log("rename", r->sent.ren.v[i].from,
				    r->sent.ren.v[i].to);
			buf_str(&r->script, "m ");
			q = NULL;
			if (asprintf(&q, "%zu", i) == -1)
				err(1, "asprintf");
			buf_str(&r->script, q);
			free(q);
			script_path(&r->script, r->sent.ren.v[i].from);
			script_path(&r->script, r->sent.ren.v[i].to);
			buf_str(&r->script, "\n");
		}
		for (i = 0; i < r->gone.n; i++) {
			if (r->o.dry_run)
				dry_log("delete", r->gone.e[i].path, NULL);
			if (asprintf(&q, "d %zu", i) == -1)
				err(1, "asprintf");
			buf_str(&r->script, q);
			free(q);
			script_path(&r->script, r->gone.e[i].path);
			buf_str(&r->script, "\n");
		}
		buf_str(&r->script, "exit 0\n");
		if (!r->o.dry_run)
			r->steps[r->nsteps++] = K_SCRIPT;
	}
	pathset_clear(&seen);
	if (r->list.len > 0)
		r->steps[r->nsteps++] = K_RSYNC;
}

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
		    NULL, ours ? STDOUT_FILENO : progress2(r, r->steps[r->stepno],
		    r->full) ? STDERR_FILENO : -1, ss) == -1)
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

/* The first line that says what went wrong, for the report. */
static void
set_why(struct remote *r, const struct buf *e, int status)
{
	const char *p, *best = NULL, *nl;
	char *line;

	for (p = e->s; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		/* Summaries, and the source in flux: not why a run failed. */
		if (strncmp(p, "rsync error:", 12) == 0 ||
		    strncmp(p, "rsync warning:", 14) == 0 ||
		    strncmp(p, "rsync: connection unexpectedly", 30) == 0 ||
		    strncmp(p, "file has vanished:", 18) == 0 ||
		    strncmp(p, "directory has vanished:", 23) == 0 ||
		    strncmp(p, "Warning:", 8) == 0)
			continue;
		if (best == NULL || strncmp(p, "rsync: ", 7) == 0 ||
		    strncmp(p, "ssh: ", 5) == 0) {
			if (best == NULL || strncmp(best, "rsync: ", 7) != 0)
				best = p;
		}
	}
	free(r->why);
	if (best != NULL) {
		nl = strchr(best, '\n');
		line = strndup(best, nl ? (size_t)(nl - best) : strlen(best));
		if (line == NULL)
			err(1, "strndup");
		r->why = line;
	} else if (WIFEXITED(status)) {
		if (asprintf(&r->why, "exit status %d", WEXITSTATUS(status))
		    == -1)
			err(1, "asprintf");
	} else if (asprintf(&r->why, "killed by signal %d",
	    WTERMSIG(status)) == -1)
		err(1, "asprintf");
}

/*
 * A source entry gone, or replaced by another type, while rsync read
 * it (ENOENT, ENOTDIR, ELOOP from its O_NOFOLLOW): a record follows.
 */
static int
vanish_line(const char *line)
{
	size_t n = strlen(line);

	if (strncmp(line, "file has vanished: ", 19) == 0 ||
	    strncmp(line, "directory has vanished: ", 24) == 0)
		return 1;
	if (strncmp(line, "rsync: [sender] ", 16) != 0)
		return 0;
	return (n > 4 && strcmp(line + n - 4, " (2)") == 0) ||
	    (n > 5 && (strcmp(line + n - 5, " (20)") == 0 ||
	    strcmp(line + n - 5, " (40)") == 0));
}

/* A path rsync named, and its directory that a temporary name touched. */
static void
put_back(struct batch *b, struct batch *from, const char *rel, int64_t now)
{
	char *par;

	if (unsure(from, rel))
		pathset_add(&b->unsure, rel, now);
	if (rel[0] == '\0') {
		pathset_add(&b->plain, rel, now);	/* the root itself */
		return;
	}
	pathset_add(&b->tree, rel, now);
	par = rel_parent(rel);
	pathset_add(&b->plain, par, now);
	free(par);
	b->oldest = oldest(b->oldest, now);
}

/*
 * A path the remote refused: set aside with its own back-off, and
 * said once, by name, with rsync's reason.
 */
static void
set_aside(struct remote *r, struct batch *from, const char *rel,
    const char *line)
{
	int64_t now = now_ms();
	char *v;

	if (batch_size(&r->stuck) == 0) {
		if (r->stuck_backoff == 0)
			r->stuck_backoff = BACKOFF_MS;
		r->stuck_at = now + r->stuck_backoff;
	}
	put_back(&r->stuck, from, rel, now);
	r->stuck.oldest = oldest(r->stuck.oldest, from->oldest);
	if (pathset_get(&r->named, rel) != NULL)
		return;
	pathset_add(&r->named, rel, now);
	if ((v = malloc(IOBS_VIS_MAX(strlen(rel)))) == NULL)
		err(1, "malloc");
	iobs_vis(v, rel, strlen(rel));
	warnx("%s: %s: %s; set aside and retried alone, the rest goes on: "
	    "fix it there", r->shown, rel[0] ? v : ".", line);
	free(v);
}

/* The paths set aside that b carried and did not set aside again. */
static void
unstick(struct remote *r, struct batch *b)
{
	size_t i;
	const char *rel;
	char *v;

	for (i = 0; i < r->named.n; i++) {
		rel = r->named.e[i].path;
		if (pathset_get(&r->stuck.tree, rel) != NULL ||
		    pathset_get(&r->stuck.plain, rel) != NULL ||
		    (pathset_get(&b->tree, rel) == NULL &&
		    pathset_get(&b->plain, rel) == NULL &&
		    pathset_get(&b->tree, "") == NULL))
			continue;
		if ((v = malloc(IOBS_VIS_MAX(strlen(rel)))) == NULL)
			err(1, "malloc");
		iobs_vis(v, rel, strlen(rel));
		warnx("%s: %s: there at last", r->shown, rel[0] ? v : ".");
		free(v);
		free(pathset_take(&r->named, i));
		i--;
	}
	if (r->named.n == 0 && batch_size(&r->stuck) == 0)
		r->stuck_backoff = BACKOFF_MS;
}

/*
 * rsync's 23 (some files failed) and 24 (some vanished): a path its
 * lines name as vanished from the source, in flux, goes back to the
 * dirty set (no reason to back off: a record follows); one the remote
 * refused is set aside. -1 when a line names none of ours, or rsync
 * skipped its deletes: all of them go back.
 */
static int
partial(struct remote *r, struct batch *from, const struct buf *e)
{
	const char *p, *nl;
	char *line, *rel, *dst;
	int all = 0, some = 0;

	/* The receiver names paths below its own directory. */
	if (asprintf(&dst, "%s/", r->d.kind == RK_SSH ? r->d.path : "")
	    == -1)
		err(1, "asprintf");
	for (p = e->s; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if ((line = strndup(p, nl ? (size_t)(nl - p) : strlen(p))) ==
		    NULL)
			err(1, "strndup");
		if (strstr(line, "skipping file deletion") != NULL)
			all = 1;
		if ((strncmp(line, "rsync: ", 7) == 0 &&
		    strncmp(line, "rsync: connection", 17) != 0) ||
		    strncmp(line, "file has vanished", 17) == 0 ||
		    strncmp(line, "directory has vanished", 22) == 0) {
			if ((rel = rsync_error_path(line, r->src, dst)) ==
			    NULL)
				all = 1;
			else {
				if (vanish_line(line))
					put_back(&r->dirty, from, rel,
					    now_ms());
				else
					set_aside(r, from, rel, line);
				some = 1;
				free(rel);
			}
		}
		free(line);
	}
	free(dst);
	return all || !some ? -1 : 0;
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
	if (excluded(r, from) || path_below(to, from) ||
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

/* The path of a record relative to the root; NULL when not below it. */
static const char *
rel_of(struct remote *r, const char *path)
{
	return iobs_path_below(r->root, r->rootlen, path);
}

static void
change(struct remote *r, const struct iobs_record *rec, const char *rel)
{
	uint32_t m = rec->mask;
	char *par;

	if (excluded(r, rel) && !(m & IN_MOVED_FROM))
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
	char *root = root_name(rec->path);
	int ours = r->root != NULL && strcmp(root, r->root) == 0;

	if (!ours && r->o.want_root != NULL &&
	    strcmp(root, r->o.want_root) != 0) {
		free(root);
		return;
	}
	if (!ours && rec->lifecycle == IOBS_WATCH_INIT) {
		if (r->root != NULL)
			errx(2, "the stream has a second root, %s, beside %s; "
			    "choose the one to follow with --root", rec->path,
			    r->root[0] ? r->root : "/");
		r->root = root;
		r->rootlen = strlen(root);
		if (asprintf(&r->src, "%s/", root) == -1)
			err(1, "asprintf");
		root = NULL;
		ours = 1;
	}
	free(root);
	if (!ours)
		return;
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
	if (!r->active)
		return;
	if ((rel = rel_of(r, rec.path)) == NULL) {
		if (r->o.want_root != NULL)
			return;
		warnx("stdin:%lu: path outside %s or with \".\" or \"..\"; "
		    "line skipped", rd->lineno, r->root[0] ? r->root : "/");
		r->rval = 1;
		return;
	}
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
