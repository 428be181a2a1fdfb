/*
 * State of iobs-watch, shared by its files. All inotify and
 * libinotifytools calls live in watcher/, on one thread.
 */
#ifndef WATCH_H
#define WATCH_H

#include <sys/time.h>
#include <sys/inotify.h>
#include <sys/types.h>

#include <stdint.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "exclude.h"
#include "format.h"
#include "gitignore.h"
#include "ignore.h"
#include "watchlimit.h"
#include "outq.h"
#include "stream.h"
#include "tree.h"

struct root {
	char		*path;		/* absolute; "" for "/" */
	char		*vis;		/* as printed; "/" for "/" */
	size_t		 pathlen, vislen;
	char		*given;		/* as the user spelled it: --format's %w */
	size_t		 givenlen;
	size_t		 givenname;	/* where %f starts: fsnotifywait's file */
	char		*json;		/* its "path" member(s), for --json */
	size_t		 jsonlen;
	struct dnode	*node;
	int		 alive;		/* not yet WATCH_DEAD */
	int		 announced;	/* WATCH_INIT printed */
	dev_t		 dev;		/* what the path named when watched */
	ino_t		 ino;
	int		 leaf_nlink;	/* nlink 2: no subdirectories */
	int		 isfile;	/* not a directory: followed by its path */
	int		 waiting;	/* its file gone: waiting for the name */
	int		 follow_wd;	/* the watch on its directory */
	uint32_t	 arrived;	/* a new file came at its path: how */
	uint32_t	 arrived_cookie;
};

/* A directory seen leaving by MOVED_FROM, waiting for its MOVED_TO. */
struct pending_move {
	uint32_t	 cookie;
	struct dnode	*node;
};

#define PENDING_MAX	256

/* What the records look like. */
enum output {
	OUT_STREAM,		/* iobs-stream(5) */
	OUT_LINES,		/* inotifywait's: -m or --format */
	OUT_JSON,		/* --json */
	OUT_CSV,		/* inotifywait's -c */
};

/* The tool iobs-watch acts as: its own, or inotify-tools' (a link). */
enum compat {
	COMPAT_NONE,
	COMPAT_INOTIFYWAIT,
	COMPAT_FSNOTIFYWAIT,
};

/* --exclude and --include: extended regular expressions on %w%f. */
struct regex_list {
	void		*re;		/* regex_t array */
	size_t		 n;
};

/*
 * What listing a directory makes: OPEN, ACCESS and CLOSE_NOWRITE on it,
 * and on its parent under its name.
 */
#define LISTING_EVENTS	(IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE)

struct fan;
struct scan;

/* A line of /proc/self/mountinfo: see mounts.c. */
struct mount {
	int		 id;
	dev_t		 dev;
	char		*path;		/* its mount point, unescaped */
	char		*fstype;
};

struct mounts {
	int		 fd;		/* mountinfo, or -1: not tracked */
	struct mount	*m;
	size_t		 n;
};

struct watcher {
	const struct backend *be;
	int		 ifd;		/* what the backend reads from */
	uint32_t	 print_mask;	/* what the user asked to see */
	uint32_t	 kernel_mask;	/* that, plus what bookkeeping needs */
	int		 recursive;
	int		 noleaf;	/* list every directory in walks */
	int		 quiet;	/* 1: no warnings; 2: no records either */
	/*
	 * A long set-up on a terminal: the directories watched so far,
	 * a line on standard error rewriting itself (setup.c).
	 */
	struct {
		int		 on;
		unsigned long	 dirs;
		int64_t		 start, shown;	/* ms; shown 0: never */
	} setup;
	enum compat	 compat;
	int		 syslog;	/* compat's -s: its messages to syslog */
	int		 nofollow;	/* compat's -P: a root link not followed */
	int		 fanpaths;	/* fsnotifywait's: %w absolute, a file's
					   directory */
	enum output	 output;
	struct fmt	 fmt;		/* OUT_LINES: --format, or %w %e %f */
	struct regex_list exclude_re, include_re;
	int		 oneshot;	/* -1: stop after one record */
	int		 stop;		/* that record is out */
	int64_t		 timeout_ms;	/* -t: give up after this much quiet */
	int64_t		 deadline;
	int		 timed_out;
	struct iobs_exclude exclude;
	struct root	*roots;
	int		 nroots, nalive;
	struct tree	 tree;
	struct outq	 out;
	struct timeval	 now;
	struct pathbuf	 path, rel, names;
	struct pathbuf	 stash;		/* events read during a walk */
	struct pathbuf	 opath;		/* a record's path, for emit.c */
	size_t		 fname;		/* where %f starts in it */
	int		 selfform;	/* name that as the directory itself */
	unsigned	 walked;		/* directories listed, for stash_read */
	struct pending_move pending[PENDING_MAX];
	int		 npending;
	/* New directories whose parent's path is behind: watch_new_dir. */
	struct pathbuf	 deferred;
	unsigned	 deferred_moves;
	/*
	 * Events were lost (the kernel's queue overflowed, the output
	 * buffer filled): the main loop says OVERFLOW, drops the backend
	 * and, once the reader has caught up, rebuilds. Until then the
	 * records are dropped.
	 */
	int		 lost;
	int		 dropping;
	pid_t		 pid;		/* who made the event emitted; 0 unknown */
	int		 print_pid;	/* --pid: a fifth field */
	struct ignore	 ign;		/* --ignore-pid, -pgid, -fd */
	int		 interval_ms;	/* poll's, and auto's rescan */
	int		 rescan;	/* inotify plus a periodic scan */
	struct fan	*fan;
	struct scan	*scan;
	int		 followfd;	/* follow.c's inotify, or -1 */
	int		 nwaiting;	/* file roots waiting for their name */
	/* --stats-fd: events written, the time of the last, the count sent */
	int		 stats_fd;
	unsigned long long nevents, nsent;
	struct timeval	 last_event;
	struct mounts	 mounts;
	struct gitignore *gi;		/* --exclude-from, --gitignore */
	/*
	 * A record out: the rescan stays quiet on its path; 1 when the
	 * rescan said it first (a CREATE), and it is not said again.
	 */
	int		 (*seen)(struct watcher *, const char *vis, size_t,
			    uint32_t mask);
};

/* setup.c */
void	 setup_tick(struct watcher *);
void	 setup_begin(struct watcher *);
void	 setup_end(struct watcher *);
int	 watch_excluded(struct watcher *, struct dnode *dir,
	    const char *name, int isdir);
/* Is the path rel (len bytes, below a root) excluded, by its last name? */
int	 path_excluded(struct watcher *, int root, const char *rel,
	    size_t len, int isdir);
/* Does a directory's link count count its subdirectories there? */
int	 nlink_counts_subdirs(const char *path);

/* inotify.c: the inotify backend, and what the main loop asks of it */
void	 watch_open(struct watcher *);
int	 watch_root(struct watcher *, int root);
void	 watch_new_dir(struct watcher *, struct dnode *parent,
	    const char *name, size_t namelen);
void	 watch_deferred(struct watcher *);
void	 watch_close(struct watcher *);
int	 watch_mount(struct watcher *, const struct mount *, enum mount_how,
	    char *why, size_t whylen);
void	 dispatch(struct watcher *, const char *buf, size_t len);
void	 stash_read(struct watcher *);
void	 stash_dispatch(struct watcher *);
void	 stash_drop_listing(struct watcher *, size_t from, int wd,
	    const char *name, size_t namelen);
void	 pending_expire(struct watcher *);
/* Each watch below n removed, and n's part of the map. */
void	 watch_forget(struct watcher *, struct dnode *);
size_t	 watch_scan_start(struct watcher *);
void	 watch_scan_done(struct watcher *, size_t);

/* follow.c: 1 when root i, a file gone, now waits for its path. */
void	 follow_start(struct watcher *, int root);
int	 follow_root(struct watcher *, int root);
void	 follow_read(struct watcher *);
/* Root i is gone: WATCH_DEAD, or its path followed. */
void	 root_dead(struct watcher *, int root);

/* mounts.c */
void	 mounts_start(struct watcher *);
void	 mounts_check(struct watcher *);
void	 mounts_changed(struct watcher *);
void	 mounts_free(struct watcher *);
/* The root m lies strictly below and is watched in, or -1. */
int	 mount_root(struct watcher *, const struct mount *);

/* signals.c */
int	 signals_init(struct watcher *, int tick_ms);
int	 signals_take(struct watcher *);
ssize_t	 signals_read(struct watcher *, char *, size_t);
void	 signals_close(void);

/* emit.c */
const char *event_names(uint32_t mask);
void	 emit_entry(struct watcher *, uint32_t mask, uint32_t cookie,
	    struct dnode *dir, const char *name, size_t namelen);
void	 emit_path(struct watcher *, uint32_t mask, uint32_t cookie,
	    const char *vis, size_t vislen);
void	 emit_lifecycle(struct watcher *, enum iobs_lifecycle, int root);
void	 emit_init_roots(struct watcher *);
size_t	 lifecycle_line(const struct watcher *, char *dst, size_t size,
	    const struct timeval *, enum iobs_lifecycle, int root);
void	 emit_all(struct watcher *, enum iobs_lifecycle);
void	 flush_or_exit(struct watcher *, int wait);
void	 fatal_limit(struct watcher *, const char *path, enum iobs_limit);
/* The index of the root whose tree n is in. */
int	 root_index(struct watcher *, struct dnode *);

#endif
