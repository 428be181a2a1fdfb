/*
 * State of iobs-mirror, shared by its files: the source root the
 * stream is about, DEST, and the work waiting on timers.
 */
#ifndef MIRROR_H
#define MIRROR_H

#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "exclude.h"
#include "pathset.h"

/* A MOVED_FROM waiting for its MOVED_TO. */
struct move {
	uint32_t	 cookie;
	char		*rel;
	int64_t		 when;		/* ms, monotonic */
};

/* What the command line, or the options key in the cache, says. */
struct mirror_options {
	char		*dest;		/* as given */
	char		*want_root;	/* --root, or NULL */
	char		*rsh;		/* -e, for a remote dest; or NULL */
	struct iobs_exclude exclude;
	long long	 max_delete;	/* -1: no limit */
	int		 force, dry_run, verbose, owner;
};

struct mirror {
	struct mirror_options o;
	int		 dfd;		/* DEST */
	char		*root;		/* source root, "" for "/"; NULL before WATCH_INIT */
	size_t		 rootlen;
	int		 sfd;		/* source root, or -1 */
	int		 active;	/* between WATCH_INIT and WATCH_DEAD */

	struct iobs_cache *cache;	/* for IOBS_OPTIONS, or NULL */
	int		 rval;

	struct move	*moves;
	size_t		 nmoves, movecap;
	struct pathset	 dirty_dirs;	/* metadata to set after contents */
	struct pathset	 dirty_files;	/* modified, not yet closed */
	struct pathset	 verify;	/* subtrees to compare when quiet */
	struct pathset	 retry;		/* failed: reported once, tried again */
	const char	*retrying;	/* the path being tried again */

	int		 clone_ok, cfr_ok;	/* FICLONE, copy_file_range */
	int		 unnamed_ok;	/* O_TMPFILE, linkat(AT_EMPTY_PATH) */
	unsigned long	 tmpseq;
};

/* How sync_path() treats an entry. */
#define SYNC_CONTENT	0x01	/* copy a file's data even if it looks equal */
#define SYNC_RECURSE	0x02	/* compare a directory's whole subtree */
#define SYNC_DELETE	0x04	/* delete in DEST what the source lacks */
#define SYNC_META	0x08	/* same size: only metadata changed */
#define SYNC_ABSENT	0x10	/* DEST had no such name, as last seen */
#define SYNC_UNSEEN	0x20	/* in a directory not in place yet */

/* Temporary names in DEST: files being written, directories filled. */
#define TMP_PREFIX	".iobs-mirror."

/* Timers, in ms. */
#define MOVE_WAIT_MS	100	/* a MOVED_FROM waits this long for its pair */
#define QUIET_MS	200	/* an open file quiet this long is copied */
#define BUSY_MS		2000	/* a busy open file is copied this often */
#define VERIFY_MS	30	/* input quiet this long: compare renamed trees */
#define RETRY_MS	1000	/* a failed path is tried again after this, */
#define RETRY_MAX_MS	60000	/* doubling up to this, or at a record */
#define RETRY_PATHS	4096	/* past this many, the whole tree is */

int64_t	 now_ms(void);

/* ops.c: every change to DEST, below its directory descriptor. */
int	 open_beneath(int dirfd, const char *path, int flags);
int	 src_parent(struct mirror *, const char *rel, const char **name);
int	 dest_parent(struct mirror *, const char *rel, const char **name,
	    int create);
void	 dir_release(struct mirror *, int fd);
int	 dest_remove(struct mirror *, int pfd, const char *name,
	    const char *rel);
int	 remove_tree(int pfd, const char *name);
long long dest_count(int pfd, const char *name);
int	 dest_mkdir(struct mirror *, int pfd, const char *name,
	    const char *rel);
int	 dest_meta(struct mirror *, int pfd, const char *name,
	    const struct stat *sst, const struct stat *dst);
void	 dest_log(struct mirror *, int level, const char *what,
	    const char *rel, const char *rel2);
void	 dest_error(struct mirror *, const char *what, const char *rel);
void	 src_error(struct mirror *, const char *what, const char *rel);
int	 vanished(int);
void	 mark_parent(struct mirror *, const char *rel);
char	*rel_join(const char *dir, const char *name);
int	 rel_excluded(struct mirror *, const char *rel);

/* copy.c */
void	 tmp_name(struct mirror *, char *buf, size_t size);
int	 put_in_place(struct mirror *, int dpfd, const char *tmp,
	    const char *dname, const char *rel);
int	 src_open(int spfd, const char *name);
int	 src_dir_open(int spfd, const char *name);
int	 copy_open(struct mirror *, int in, const struct stat *sst, int dpfd,
	    const char *rel, int how);
int	 copy_file(struct mirror *, int spfd, const char *name,
	    int dpfd, const char *rel, int how);
int	 copy_symlink(struct mirror *, int spfd, const char *name,
	    int dpfd, const char *rel, const struct stat *sst,
	    const struct stat *dst);

/* sync.c: make one DEST entry, or subtree, equal to the source. */
int	 sync_one(struct mirror *, int spfd, int dpfd, const char *name,
	    const char *rel, const struct stat *sst, int how);
int	 sync_path(struct mirror *, const char *rel, int how);
void	 flush_dirs(struct mirror *);

/* reconcile.c: -1 when stopped for safety, with the reason in why. */
int	 reconcile(struct mirror *, char *why, size_t whylen);
void	 walk_tree(struct mirror *, int sdir, int ddir, const char *rel,
	    void *deferred);

/* apply.c: records to actions, and the timers. */
void	 apply_record(struct mirror *, const struct iobs_record *);
int	 apply_timeout(struct mirror *);
void	 apply_timers(struct mirror *, int idle);
void	 apply_flush(struct mirror *);
void	 apply_free(struct mirror *);
void	 apply_reset(struct mirror *);
void	 retry_add(struct mirror *, const char *rel);
int	 retry_known(struct mirror *, const char *rel);
int	 apply_wants(uint32_t);

#endif
