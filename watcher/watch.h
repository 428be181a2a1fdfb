/*
 * State of iobs-watch, shared by its files. All inotify and
 * libinotifytools calls live in watcher/, on one thread.
 */
#ifndef WATCH_H
#define WATCH_H

#include <sys/time.h>
#include <sys/types.h>

#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "backend.h"
#include "exclude.h"
#include "watchlimit.h"
#include "outq.h"
#include "stream.h"
#include "tree.h"

struct root {
	char		*path;		/* absolute; "" for "/" */
	char		*vis;		/* as printed; "/" for "/" */
	size_t		 pathlen, vislen;
	struct dnode	*node;
	int		 alive;		/* not yet WATCH_DEAD */
	int		 announced;	/* WATCH_INIT printed */
	dev_t		 dev;		/* what the path named when watched */
	ino_t		 ino;
	int		 leaf_nlink;	/* nlink 2: no subdirectories */
};

/* A directory seen leaving by MOVED_FROM, waiting for its MOVED_TO. */
struct pending_move {
	uint32_t	 cookie;
	struct dnode	*node;
};

#define PENDING_MAX	256
#define LOST_MAX	64	/* new directories to look for again */

/*
 * A directory created, whose path was gone when its watch was added:
 * an ancestor renamed in the same read moves it, so it is looked for
 * again, by its parent's watch, once the read is dispatched.
 */
struct lost_dir {
	int		 wd;		/* the parent's */
	size_t		 namelen;
	char		 name[NAME_MAX + 1];
};

struct fan;
struct scan;

struct watcher {
	const struct backend *be;
	int		 ifd;		/* what the backend reads from */
	uint32_t	 print_mask;	/* what the user asked to see */
	uint32_t	 kernel_mask;	/* that, plus what bookkeeping needs */
	int		 recursive;
	int		 noleaf;	/* list every directory in walks */
	int		 quiet;
	struct iobs_exclude exclude;
	struct root	*roots;
	int		 nroots, nalive;
	struct tree	 tree;
	struct outq	 out;
	struct timeval	 now;
	struct pathbuf	 path, vpath, rel, names;
	struct pathbuf	 stash;		/* events read during a walk */
	unsigned	 walked;		/* directories listed, for stash_read */
	struct pending_move pending[PENDING_MAX];
	int		 npending;
	struct lost_dir	 lost[LOST_MAX];
	int		 nlost;
	int		 dropping;	/* buffer full: OVERFLOW sent */
	unsigned	 generation;	/* bumped when inotify is rebuilt */
	pid_t		 pid;		/* who made the event emitted; 0 unknown */
	int		 print_pid;	/* --pid: a fifth field */
	pid_t		*ignore_pid;	/* --ignore-pid */
	int		 nignore;
	int		 interval_ms;	/* poll's, and auto's rescan */
	int		 rescan;	/* inotify plus a periodic scan */
	struct fan	*fan;
	struct scan	*scan;
	/* --stats-fd: events written, the time of the last, the count sent */
	int		 stats_fd;
	unsigned long long nevents, nsent;
	struct timeval	 last_event;
};

/* setup.c */
void	 watch_open(struct watcher *);
int	 watch_root(struct watcher *, int root);
int	 watch_new_dir(struct watcher *, struct dnode *parent,
	    const char *name, size_t namelen);
void	 watch_forget(struct watcher *, struct dnode *);
void	 watch_close(struct watcher *);
void	 watch_rebuild(struct watcher *);
int	 watch_excluded(struct watcher *, struct dnode *dir,
	    const char *name);
int	 root_index(struct watcher *, struct dnode *);

/* dispatch.c */
void	 dispatch(struct watcher *, const char *buf, size_t len);
void	 stash_read(struct watcher *);
void	 stash_dispatch(struct watcher *);
void	 pending_expire(struct watcher *);

/* signals.c */
int	 signals_init(struct watcher *, int tick_ms);
int	 signals_take(struct watcher *);
ssize_t	 signals_read(struct watcher *, char *, size_t);
void	 signals_close(void);

/* emit.c */
const char *event_names(uint32_t mask);
void	 emit(struct watcher *, const char *events, uint32_t cookie,
	    const char *vis, size_t vislen);
void	 emit_lifecycle(struct watcher *, enum iobs_lifecycle, int root);
void	 emit_all(struct watcher *, enum iobs_lifecycle);
void	 root_dead(struct watcher *, int root);
void	 flush_or_exit(struct watcher *, int wait);
void	 fatal_limit(struct watcher *, const char *path, enum iobs_limit);

#endif
