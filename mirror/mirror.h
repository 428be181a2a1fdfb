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
#include "clock.h"
#include "exclude.h"
#include "gitignore.h"
#include "links.h"
#include "listing.h"
#include "inodes.h"
#include "moves.h"
#include "pathset.h"

/* What a walk of the trees (reconcile.c) carries from entry to entry. */
struct walk {
	int		 reconciling;	/* a whole reconcile: names are fresh */
	int		 staged_fd;	/* the directory filled under a */
	const char	*staged_rel;	/* temporary name, and its place */
	gid_t		 staged_gid;	/* the group a file made there gets */
	int		 staged_plain;	/* no default ACL: it gets the mode asked */
	/* DEST's directory, as of the descriptor dest_fd, not to walk. */
	int		 dest_fd;
	dev_t		 dest_dev;
	ino_t		 dest_ino;
	int		 dest_said;	/* found in the source: said once */
};

/* What the command line, or the options key in the cache, says. */
struct mirror_options {
	char		**dests;	/* as given: operands and -d */
	size_t		 ndest;
	char		*dest;		/* the one mirrored to: a dests[] */
	char		*want_root;	/* --root, or NULL */
	char		*rsh;		/* -e, for a remote dest; or NULL */
	struct iobs_exclude exclude;
	struct gitignore *gi;	/* --exclude-from, --gitignore; or NULL */
	long long	 max_delete;	/* -1: no limit */
	int		 force, dry_run, verbose, fsync;
	int		 owner;		/* default: 1 for root, else 0 */
	int		 xattrs, acls;	/* --xattrs, --acls */
	char		*backup_dir;	/* --backup-dir, or NULL */
	int		 backup_inside;	/* it is relative, inside DEST */
	long long	 keep_sets;	/* --keep N: sets kept; 0: all */
	long long	 keep_secs;	/* --keep AGE: seconds; 0: for ever */
	int		 no_delete;	/* --no-delete */
	int64_t		 verify_ms;	/* --verify: a pass this often; 0: none */
	int		 progress;	/* --progress: PROGRESS_* */
};

/* progress.c: what a long pass has done so far. */
#define PROGRESS_AUTO	0	/* a line on a terminal, else none */
#define PROGRESS_OFF	1
#define PROGRESS_LINE	2	/* one line rewriting itself */
#define PROGRESS_LINES	3	/* a line every few seconds, for logs */
enum phase { PHASE_SYNC, PHASE_RESYNC, PHASE_VERIFY };
struct progress {
	int		 mode;		/* PROGRESS_OFF, _LINE or _LINES */
	int		 running;
	enum phase	 phase;
	unsigned long long entries, copied, bytes;
	unsigned	 tick;
	int64_t		 start, shown, published;	/* ms */
	time_t		 since;		/* wall clock, for the cache */
	char		*key;		/* progress/PLUGIN/PATH, or NULL */
	size_t		 failing;	/* entries in DEST failing, as said */
	int		 cache_said;
};

/* --backup-dir's directory and the set of this minute (backup.c). */
#define SET_LEN		16	/* a set's name: 2026-12-07T1925Z */
struct backup {
	int		 dirfd, setfd;	/* -1: none */
	char		 set[SET_LEN + 1];	/* the set's name */
};

struct mirror {
	struct mirror_options o;
	struct listing_skip skip;	/* mirror_skip()'s */
	int		 dfd;		/* DEST */
	char		*root;		/* source root, "" for "/"; NULL before WATCH_INIT */
	size_t		 rootlen;
	int		 sfd;		/* source root, or -1 */
	int		 rooted;	/* a root was opened once */
	int		 active;	/* between WATCH_INIT and WATCH_DEAD */
	int		 scanned;	/* the stream's "# backend poll": scans */
	int		 guard_empty;	/* new root or DEST: source empty? */
	int		 refused;	/* a reconcile stopped for safety */
	int64_t		 refused_first, refused_last;	/* ms, to try again */

	struct iobs_cache *cache;	/* for IOBS_OPTIONS, or NULL */
	int		 rval;

	struct moves	 moves;		/* MOVED_FROMs waiting for a pair */
	struct pathset	 pending;	/* records read, to apply at once */
	int64_t		 last_record;	/* ms, wall clock: the newest's time */
	struct pathset	 dirty_dirs;
	int64_t		 dirs_flushed;	/* ms, monotonic: their last flush */	/* metadata to set after contents */
	struct pathset	 dirty_files;	/* modified, not yet closed */
	struct pathset	 verify;	/* subtrees to compare when quiet */
	struct pathset	 retry;		/* failed: reported once, tried again */
	/*
	 * With --backup-dir, deletes wait for the deleting to pause, so
	 * that an rm -rf goes into the set whole, in one rename.
	 */
	struct pathset	 deletes;
	int64_t		 deletes_last;	/* ms: the last one's record */
	/*
	 * --verify: the next pass, ms; while one runs, whatever it
	 * changes is DEST drifting from the source, and logged.
	 */
	int64_t		 drift_at;
	int		 drifting;
	struct progress	 progress;
	int		 synced;	/* a whole pass done: the next resyncs */
	unsigned long	 repairs;	/* logged by the pass */
	unsigned long	 metas;		/* metadata set, ever */
	const char	*retrying;	/* the path being tried again */

	struct walk	 walk;
	struct backup	 backup;
	/*
	 * Source inode -> names: of files with other names only, or of
	 * every file once one was met with names the table lacked.
	 */
	struct links	 links;
	int		 links_all;
	struct inodes	 inodes;	/* every name's inode, for renames */

	/* Atomic: the copier threads may find them out. */
	_Atomic int	 clone_ok, cfr_ok;	/* FICLONE, copy_file_range */
	_Atomic int	 unnamed_ok;	/* O_TMPFILE, linkat(AT_EMPTY_PATH) */
	unsigned long	 tmpseq;
	uid_t		 uid;		/* a new file's owner, */
	gid_t		 gid;		/* and group outside a setgid directory */
};

/* How sync_path() treats an entry. */
#define SYNC_CONTENT	0x01	/* copy a file's data even if it looks equal */
#define SYNC_RECURSE	0x02	/* compare a directory's whole subtree */
#define SYNC_DELETE	0x04	/* delete in DEST what the source lacks */
#define SYNC_META	0x08	/* same size: only metadata changed */
#define SYNC_ABSENT	0x10	/* DEST had no such name, as last seen */
#define SYNC_UNSEEN	0x20	/* in a directory not in place yet */
#define SYNC_LEVEL	0x40	/* compare a directory's entries, not below */
/*
 * DEST's entry, and all below it, may hold another name's data (an
 * exchange): no file there is equal for its size and time alone.
 */
#define SYNC_UNSURE	0x80

/* Temporary names in DEST: files being written, directories filled. */
#define TMP_PREFIX	".iobs-mirror."

/* Timers, in ms. */
#define QUIET_MS	200	/* an open file quiet this long is copied */
#define BUSY_MS		2000	/* a busy open file is copied this often */
#define VERIFY_MS	30	/* input quiet this long: compare renamed trees */
#define RETRY_MS	1000	/* a failed path is tried again after this, */
#define RETRY_MAX_MS	60000	/* doubling up to this, or at a record */
#define RETRY_PATHS	4096	/* past this many, the whole tree is */
#define BATCH_MS	1000	/* records read ahead at most this long, */
#define BATCH_PATHS	65536	/* or for this many paths, then applied */
#define BATCH_PIPE	(1 << 20)	/* bytes: stdin's pipe, where allowed */

/*
 * Several destinations (fanout.c): a front runs one child a DEST, and
 * tells it which, and its number for the cache's keys, so.
 */
#define FANOUT_DEST_ENV		"IOBS_MIRROR_DEST"
#define FANOUT_BRANCH_ENV	"IOBS_MIRROR_BRANCH"
#define LAG_MS		100	/* records this old: the mirror is behind, */
#define LAG_WAIT_MS	10	/* and waits this long for more to coalesce */

/*
 * One way down: iobs-mirror.c reads records, apply.c turns them into
 * paths to make equal, reconcile.c makes a subtree equal, sync.c one
 * entry, and ops.c and copy.c are the primitives under a directory
 * descriptor. No file calls one above it.
 */

/* ops.c: every change to DEST, below its directory descriptor. */
int	 open_beneath(int dirfd, const char *path, int flags);
int	 src_parent(struct mirror *, const char *rel, const char **name);
int	 dest_parent(struct mirror *, const char *rel, const char **name,
	    int create);
void	 dir_release(struct mirror *, int fd);
int	 dir_writable(struct mirror *, int fd);
int	 dest_remove(struct mirror *, int pfd, const char *name,
	    const char *rel);
int	 remove_tree(int pfd, const char *name);
long long dest_count(int pfd, const char *name);
int	 dest_mkdir(struct mirror *, int pfd, const char *name,
	    const char *rel);
int	 dest_meta(struct mirror *, int pfd, const char *name,
	    const struct stat *sst, const struct stat *dst);
mode_t	 dest_mode(const struct mirror *, const struct stat *sst);
void	 dest_log(struct mirror *, int level, const char *what,
	    const char *rel, const char *rel2);
void	 dest_error(struct mirror *, const char *what, const char *rel);
void	 src_error(struct mirror *, const char *what, const char *rel);
int	 vanished(int);
int	 dest_fsync(struct mirror *, int fd);
void	 mark_parent(struct mirror *, const char *rel);
/* args.c: the options, from the command line or the cache's key. */
int	 mirror_options_parse(int argc, char *argv[], struct mirror_options *,
	    char *why, size_t whylen);
int	 mirror_options_own(struct mirror_options *, char *why,
	    size_t whylen);
void	 mirror_options_free(struct mirror_options *);
void	 mirror_help(int argc, char *argv[]);
void	 mirror_usage(void) __dead2;

/* prim.c: a root as the stream writes it, "" for "/". */
char	*root_name(const char *path);
int	 root_follow(char **root, size_t *rootlen, const char *want,
	    const struct iobs_record *);
const char *root_rel(const char *root, size_t rootlen, const char *want,
	    const char *path, unsigned long lineno, int *rval);

int	 rel_excluded(struct mirror *, const char *rel);
int	 rel_excluded_type(struct mirror *, const char *rel, int isdir);
const struct listing_skip *mirror_skip(struct mirror *);
void	 retry_add(struct mirror *, const char *rel);
int	 retry_known(struct mirror *, const char *rel);

char	*cache_key(const char *kind);
int	 fanout_main(int argc, char *argv[], struct mirror_options *,
	    struct iobs_cache *, int sigfd);
void	 progress_init(struct mirror *);
void	 progress_begin(struct mirror *, enum phase);
void	 progress_entry(struct mirror *);
void	 progress_copied(struct mirror *, off_t);
void	 progress_end(struct mirror *);
void	 progress_failing(struct mirror *, size_t);
void	 progress_free(struct mirror *);

/* backup.c */
void	 backup_set_name(char *, time_t);
char	*backup_top(const char *rel, int (*gone)(void *, const char *),
	    void *);
int	 backup_open(struct mirror *, char *why, size_t whylen);
void	 backup_close(struct mirror *);
int	 backup_move(struct mirror *, int pfd, const char *name,
	    const char *rel);
int	 backup_link(struct mirror *, int pfd, const char *name,
	    const char *rel);

/* contain.c */
int	 dir_within(int inner, int outer);
int	 open_existing(const char *path);

/* xattr.c */
int	 xattr_wanted(const struct mirror *);
int	 xattr_copy(struct mirror *, int sfd, int dfd);
int	 xattr_copy_at(struct mirror *, int spfd, const char *sname, int dpfd,
	    const char *dname);

/* copiers.c */
void	 copiers_run(void (*)(void *, size_t), void *, size_t);
void	 copiers_stop(void);

/* copy.c */
/* A file of a new directory, for copy_batch(). */
struct copy_job {
	const char	*name;		/* in the source's and DEST's directory */
	int		 r;		/* COPY_*, below */
	int		 in;		/* the source, when open */
	int		 err;		/* errno, when COPY_FAILED */
	struct stat	 sst;		/* the source's, when COPY_DONE or _LINKED */
};
#define COPY_TODO	0	/* to open, and copy if it has one name */
#define COPY_FIRST	1	/* open, the first of its names seen: to copy */
#define COPY_DONE	2	/* copied, in place */
#define COPY_LINKED	3	/* open, a file with other names: the caller's */
#define COPY_OTHER	4	/* gone, not a file, not readable: the caller's */
#define COPY_FAILED	5	/* DEST failed: to report */

void	 tmp_name(struct mirror *, char *buf, size_t size);
int	 put_in_place(struct mirror *, int dpfd, const char *tmp,
	    const char *dname, const char *rel);
int	 src_open(int spfd, const char *name);
int	 src_dir_open(int spfd, const char *name);
int	 copy_open(struct mirror *, int in, const struct stat *sst, int dpfd,
	    const char *rel, int how);
void	 copy_batch(struct mirror *, int sdir, int ddir, struct copy_job *,
	    size_t n, int how);
int	 copy_file(struct mirror *, int spfd, const char *name,
	    int dpfd, const char *rel, int how);
int	 copy_symlink(struct mirror *, int spfd, const char *name,
	    int dpfd, const char *rel, const struct stat *sst,
	    const struct stat *dst);

/* sync.c: make one DEST entry equal to the source. */
int	 sync_one(struct mirror *, int spfd, int dpfd, const char *name,
	    const char *rel, const struct stat *sst, const struct stat *dst,
	    int how);
void	 flush_dirs(struct mirror *);
int	 link_sibling(struct mirror *, int dpfd, const char *name,
	    const char *rel, const struct stat *sst, int how);
void	 relink_siblings(struct mirror *, int dpfd, const char *name,
	    const char *rel, const struct stat *sst);
void	 name_seen(struct mirror *, const char *rel, const struct stat *);

/*
 * reconcile.c: a path, or a subtree, made equal; reconcile() is -1
 * when stopped for safety, with the reason in why.
 */
int	 sync_path(struct mirror *, const char *rel, int how);
int	 reconcile(struct mirror *, char *why, size_t whylen);
void	 walk_tree(struct mirror *, int sdir, int ddir, const char *rel,
	    void *deferred, int how);

/* apply.c: records to actions, and the timers. */
void	 apply_record(struct mirror *, const struct iobs_record *);
void	 apply_pending(struct mirror *);
int	 apply_batch_full(struct mirror *);
int	 apply_lagging(struct mirror *);
int	 apply_timeout(struct mirror *);
void	 apply_timers(struct mirror *, int idle);
void	 apply_flush(struct mirror *);
void	 apply_free(struct mirror *);
void	 apply_reset(struct mirror *);
int	 apply_wants(uint32_t);

#endif
