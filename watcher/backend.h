/*
 * The seam between iobs-watch's shared half (directory map, record
 * writer, output buffer, lifecycle records, OVERFLOW) and what turns
 * kernel or scan facts into records. A backend owns w->ifd: the main
 * loop waits on it, reads it, and hands what it read to dispatch.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct watcher;
struct mount;
struct dnode;

/* What mounts.c tells a backend of a mount below a root. */
enum mount_how {
	MOUNT_START,	/* there at start, or at a rebuild: watch it */
	MOUNT_MARK,	/* just mounted: watch its file system */
	MOUNT_NEW,	/* just mounted, and outermost: report its tree */
	MOUNT_GONE,	/* unmounted: watch what it covered */
};

struct backend {
	const char	*name;
	/* Makes w->ifd; exits through err(3) when it cannot. */
	void		 (*open)(struct watcher *);
	/* Watches root i (sets its node, dev, ino); -1 with errno. */
	int		 (*root)(struct watcher *, int);
	/* Turns what was read from w->ifd into records. */
	void		 (*dispatch)(struct watcher *, const char *, size_t);
	/* Drops every watch, mark and cached path at once. */
	void		 (*close)(struct watcher *);
	/* At exit: close, and free what open kept. */
	void		 (*free)(struct watcher *);
	/*
	 * After root: learns the trees while their events queue, that
	 * many directories at most (0: no limit); 1 when it has more to
	 * learn, for a call after WATCH_INIT. NULL: nothing to learn.
	 */
	int		 (*learn)(struct watcher *, long budget);
	/* The most the main loop reads at once; 0: READ_SIZE. */
	size_t		 readmax;
	/*
	 * A mount below a root (mounts.c); -1 with why filled when the
	 * backend cannot see its changes. NULL: nothing to do.
	 */
	int		 (*mount)(struct watcher *, const struct mount *,
			    enum mount_how, char *why, size_t whylen);
	/*
	 * Around a rescan: what the kernel reports of its own listings
	 * is dropped (a mark from the first for the second). NULL: the
	 * backend knows its own events.
	 */
	size_t		 (*scan_start)(struct watcher *);
	void		 (*scan_done)(struct watcher *, size_t);
	/* Drops a directory of the map and all below it. */
	void		 (*forget)(struct watcher *, struct dnode *);
};

/*
 * How many directories learn may meet before WATCH_INIT: a small tree
 * is learnt whole first, and a large one does not hold set-up back.
 */
#define LEARN_BUDGET	64

extern const struct backend backend_inotify, backend_fanotify, backend_poll;

/* The name, if it is one of a backend or auto; exits 2 if not. */
const char *backend_check(const char *name);

/*
 * Picks the backend for "auto", "inotify", "fanotify" or "poll" (exit
 * 2 on another name) and opens it; auto may also start the periodic
 * rescan of a root on a network or FUSE file system.
 */
void	 backend_start(struct watcher *, const char *name);

/* The name of a network or FUSE file system path is on, or NULL. */
const char *remote_fs(const char *path);

/* fanotify.c: can it watch every root? Leaves nothing open. */
int	 fan_usable(struct watcher *, char *why, size_t whylen);

/* poll.c: the scanner, for the poll backend and auto's rescan. */
void	 scan_init(struct watcher *);
void	 scan_root(struct watcher *, int root, int report);
void	 scan_all(struct watcher *);
void	 scan_free(struct watcher *);
/* A path the kernel reported since the last scan: the scan stays quiet. */
int	 scan_seen(struct watcher *, const char *vis, size_t vislen,
	    uint32_t mask);

/* What getdents64(2) returns; glibc declares no struct for it. */
struct kdirent64 {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

#endif
