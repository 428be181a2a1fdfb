/*
 * iobs-mirror's remote mode inside (remote.c): struct remote, and what
 * its lower files give it. remote-batch.c keeps the buffers and the
 * sets of paths a run takes; remote-shell.c the processes of the
 * remote shell (a run's steps, the control master, the sessions, the
 * probes); remote-run.c a run's rsync command lines, list and script.
 * Calls go down: remote.c -> remote-run.c -> remote-shell.c ->
 * remote-batch.c, never back.
 */
#ifndef REMOTE_INT_H
#define REMOTE_INT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "mirror.h"
#include "rsync.h"

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

/* The remote's states; their table is in remote.c. */
enum rstate {
	S_LIVE, S_SENDING, S_AWAY, S_RETRYING, S_REFUSED, S_RECHECKING,
	S_SETTLING, S_NSTATES
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

/* remote-batch.c: buffers, and the sets of paths of the runs. */
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_str(struct buf *, const char *);
void	 buf_free(struct buf *);
/* The older of two times, ms; 0 is none. */
int64_t	 oldest(int64_t, int64_t);
void	 renames_add(struct renames *, const char *from, const char *to);
void	 batch_clear(struct batch *);
size_t	 batch_size(const struct batch *);
size_t	 backlog(const struct remote *);
void	 batch_merge(struct batch *to, struct batch *from);
void	 collapse(struct remote *);
int	 remote_excluded(struct remote *, const char *rel);
void	 dirty_add(struct remote *, const char *rel, int tree);
void	 put_back(struct batch *, struct batch *from, const char *rel,
	    int64_t now);
void	 set_aside(struct remote *, struct batch *from, const char *rel,
	    const char *line);
void	 unstick(struct remote *, struct batch *);

/* remote-shell.c: the remote shell's processes. */
int	 step_start(struct step *, enum stepkind, char **argv,
	    struct buf *input, int out_fd, struct session *);
void	 step_write(struct step *);
void	 step_read(int *fd, struct buf *);
void	 step_end(struct step *);
void	 step_kill(struct step *);
char	**words_add(char **, size_t *n, const char *);
char	**words_copy(char **, size_t *n);
void	 master_stop(struct remote *);
void	 master_start(struct remote *);
int	 master_pending(struct remote *);
void	 session_ev(struct remote *, struct session *, enum sevent);
int	 session_idle(struct remote *);
int	 sessions_alive(struct remote *);
void	 sessions_fill(struct remote *, int waiting);
void	 session_event(struct remote *, struct session *, short out,
	    short er, short rep);
int	 rsh_setup(struct remote *, char *why, size_t whylen);
void	 probe_setup(struct remote *);
void	 probe_done(struct remote *);
void	 probe(struct remote *, int64_t now);
int64_t	 probe_due(struct remote *);

/* remote-run.c: what a run sends, and what rsync says of it. */
int	 progress2(struct remote *, enum stepkind, int full);
char	**rsync_argv(struct remote *, enum stepkind, int full,
	    int checksum);
int	 source_has(struct remote *, const char *rel, struct stat *);
void	 run_steps(struct remote *);
void	 set_why(struct remote *, const struct buf *, int status);
int	 partial(struct remote *, struct batch *from, const struct buf *);

#endif
