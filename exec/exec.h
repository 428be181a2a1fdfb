/*
 * iobs-exec, shared by its files: the command line as a template
 * (template.c), the paths of a batch (batch.c), and the commands it
 * runs (run.c), which iobs-exec.c feeds from the stream.
 */
#ifndef EXEC_H
#define EXEC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "exclude.h"
#include "roots.h"

enum mode {
	MODE_EACH,	/* a run for each record (incron) */
	MODE_BATCH,	/* a run for each quiet window (entr) */
	MODE_RESTART,	/* a batch restarts a long-running command */
};

/* template.c */

/* What an argument is made of; PH_LIT is text, the others placeholders. */
enum ph {
	PH_LIT,
	PH_PATH,	/* {path}: absolute */
	PH_REL,		/* {rel}: relative to the root */
	PH_DIR,		/* {dir} */
	PH_NAME,	/* {name} */
	PH_ROOT,	/* {root} */
	PH_EVENTS,	/* {events}: as in the stream */
	PH_COOKIE,	/* {cookie} */
	PH_PATHS,	/* {paths}: one argument per path of a batch */
	PH_N
};

struct seg {
	enum ph		 ph;
	char		*lit;		/* PH_LIT: the text */
	size_t		 len;
};

struct targ {
	struct seg	*seg;
	size_t		 nseg;
};

struct template {
	struct targ	*arg;
	size_t		 narg;
	char		*text;		/* the command, for messages */
};

/*
 * Parses argv as a command with placeholders: {name} for each name of
 * enum ph, {{ for a literal brace. Per-event placeholders need batch
 * == 0, {paths} (a whole argument) batch == 1. Returns 0, or -1 with
 * what is wrong in why.
 */
int	 template_parse(struct template *, int argc, char *const argv[],
	    int batch, char *why, size_t whylen);
void	 template_free(struct template *);
/*
 * The argv of one run, NULL-terminated and malloc'd with its strings:
 * val[ph] for each per-event placeholder, or the n paths for {paths}.
 * Free with argv_free().
 */
char	**template_expand(const struct template *, const char *const val[],
	    char *const paths[], size_t n);
void	 argv_free(char **);
/*
 * Splits a command line given as one string (--command, exec_command)
 * into words at blanks; '...' and "..." quote, and that is all: no
 * variables, no globs, no shell. Returns 0, or -1 with why.
 */
int	 words_split(const char *, int *argc, char ***argv, char *why,
	    size_t whylen);

/* batch.c */

/* The paths of a batch, each once, in the order they first came. */
struct batch {
	char		**path;
	size_t		 n, cap;
	size_t		*slot;		/* hash table: index + 1, 0 empty */
	size_t		 nslot;
	int		 overflow;	/* events were lost: IOBS_OVERFLOW=1 */
};

void	 batch_add(struct batch *, const char *path, size_t len);
void	 batch_clear(struct batch *);
/* The paths, one a line or NUL-terminated, in a memfd at offset 0. */
int	 batch_file(const struct batch *, int nul);

/* run.c */

/*
 * One command started, or -1: its pid, which is also its group. As
 * root, unless insecure, a program others could change is not run:
 * the child says why and exits 126. A program that could not be run
 * at all sets *norun to 127 (not found) or 126 (not executable,
 * refused), as sh(1) exits; the child names it on standard error.
 */
pid_t	 run_spawn(char **argv, char *const env[], int stdin_fd,
	    int insecure, int *norun);
/*
 * The command's program, when it is known before a run (no
 * placeholder in it): 0 if root may run it, or as another user; -1
 * with why (iobs_trust_command()).
 */
int	 run_trusted(const struct template *, int insecure, char *why,
	    size_t whylen);
/* A group with no member left. */
int	 run_group_gone(pid_t pgid);
/* "exited 2", "killed by signal 9 (SIGKILL)": 0 for a clean exit. */
int	 run_status(int status, char *buf, size_t len);
/* A status as iobs-exec's own exit status, for --halt-on-error. */
int	 run_exit_code(int status);

/* Says a run failed, in one line: the command, the status, what for. */
void	 run_report(const char *cmd, const char *status, const char *what);

/* The options, from the command line or the supervisor's cache. */
struct options {
	enum mode	 mode;
	int		 nul;		/* -0 */
	int		 postpone;	/* -p */
	int		 halt;		/* --halt-on-error */
	int		 insecure;	/* --insecure-files */
	int		 jobs;		/* -j */
	int64_t		 delay;		/* -d, ms */
	int64_t		 grace;		/* --grace, ms */
	uint32_t	 events;	/* -e: IN_* bits; 0 for all */
	struct iobs_exclude exclude;	/* -x */
	struct template	 cmd;
};

/* A watch root from WATCH_INIT; "/" is kept as "". */
/* queue.c: per-event mode, up to -j runs at once, in order per path. */

struct job {
	char		*path;
	size_t		 rootlen;	/* of the root path is under */
	char		*events;
	uint32_t	 cookie;
	pid_t		 pid;		/* running: its pid, 0 once reaped */
};

struct queue {
	struct job	*wait;		/* a ring, in stream order */
	size_t		 head, n, cap;
	struct job	*run;		/* running */
	size_t		 nrun, caprun;
};

/* runner.c: batch and restart mode, a state × event table. */

enum rstate {
	R_IDLE,		/* nothing running, nothing changed */
	R_PENDING,	/* changes wait for a quiet window */
	R_RUNNING,	/* a run is on, nothing changed since it began */
	R_AGAIN,	/* a run is on, and changes wait for one more */
	R_RESTARTING,	/* -r: the group was told to go; a start waits */
	R_STOPPING,	/* the group was told to go, for good */
	R_DONE,
	R_NSTATES
};

enum revent {
	E_CHANGE,	/* a path joined the batch */
	E_DUE,		/* the quiet window, or the ceiling, has passed */
	E_GONE,		/* the run is over: every member of it is gone */
	E_GRACE,	/* --grace has passed since SIGTERM */
	E_STOP,		/* SIGTERM, SIGINT, end of input in -r mode */
	E_NEVENTS
};

struct runner {
	enum rstate	 state;
	struct batch	 pending;
	int64_t		 first, last;	/* ms: first and last change pending */
	int64_t		 started;	/* ms: the last start */
	int64_t		 grace_at;	/* ms: SIGKILL due; 0 for none */
	int64_t		 retry_at;	/* ms: after a failed start */
	pid_t		 pid;		/* the command; 0 once reaped */
	pid_t		 pgid;		/* its group; 0 for no run */
	int		 status;	/* of pid, once reaped */
	size_t		 count;		/* paths of the run */
};

struct exec {
	struct options	 o;
	struct iobs_roots roots;
	struct queue	 queue;
	struct runner	 runner;
	int		 devnull;
	int		 halt;		/* --halt-on-error: status, or -1 */
	int		 norun;		/* 126 or 127: a command did not run */
};

/* queue.c */
void	 queue_add(struct exec *, const char *path, size_t len,
	    size_t rootlen, const char *events, uint32_t cookie);
int	 queue_full(const struct exec *);
int	 queue_idle(const struct exec *);
/* Starts what may start: a free slot, no run on for its path. */
void	 queue_dispatch(struct exec *, int64_t now);
/* 1 when pid was a run of the queue; a failure is reported. */
int	 queue_reaped(struct exec *, pid_t, int status);
/* The records waiting are dropped: nothing new starts. */
void	 queue_drop(struct exec *);
void	 queue_signal(struct exec *, int sig);
void	 queue_free(struct queue *);

/* runner.c */
/* A path joins the batch; overflow: events were lost under it. */
void	 runner_change(struct exec *, const char *path, size_t len,
	    int overflow);
void	 runner_event(struct exec *, enum revent);
/* Feeds the timers and group checks; the next deadline, or -1. */
int64_t	 runner_tick(struct exec *, int64_t now, int ending);
int	 runner_reaped(struct exec *, pid_t, int status);

#endif
