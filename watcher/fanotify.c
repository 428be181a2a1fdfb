/*
 * The fanotify backend: one filesystem mark per file system the roots
 * live on, so set-up costs nothing per directory and no directory can
 * be made faster than it is watched. The kernel reports every change
 * on the file system as (directory handle, name); this file keeps the
 * part of the directory map it has met, keyed by handle, and drops
 * what lies outside the roots before any formatting.
 *
 * Once the roots' WATCH_INIT is out, a walk takes the handle of every
 * directory below them while their events queue, so that a directory's
 * path is always the one it had when the event was queued: the map is
 * kept true by the events themselves, in order (a create or a move in
 * adds a node, a rename moves one, a delete drops it), and a handle it
 * does not hold is outside. Events queued before the walk ended may
 * predate what it saw: if a directory was renamed in, out or within
 * the trees meanwhile, the map may have named them wrong, and an
 * OVERFLOW has the reader rescan.
 *
 * Should the walk fail somewhere, a handle not met is resolved as it
 * comes (open_by_handle_at, then the path the kernel gives the
 * descriptor, renames read since undone), and handles outside the
 * roots are remembered as such until a directory is renamed in.
 */
#define _GNU_SOURCE
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <linux/magic.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "watch.h"

/*
 * The target's handle too: a directory made or moved is known by its
 * handle from its first event, whatever happens to its name after.
 */
#define FAN_INIT_FLAGS	(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME_TARGET | \
			 FAN_CLOEXEC)
/* Always asked: the map depends on them. */
#define FAN_BOOKKEEPING	(FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ONDIR)
#define FAN_PRINTABLE	(FAN_ACCESS | FAN_MODIFY | FAN_ATTRIB | \
			 FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_OPEN)
/* Forget what lies outside past this many directories. */
#define NEG_MAX		(1 << 16)
/*
 * What the kernel is told to keep to itself about a busy directory
 * outside the roots: all but renames, which may bring it in.
 */
#define FAN_QUIET	(FAN_ACCESS | FAN_MODIFY | FAN_ATTRIB | \
			 FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE | FAN_OPEN | \
			 FAN_CREATE | FAN_DELETE | FAN_EVENT_ON_CHILD | FAN_ONDIR)
#define QUIET_MAX	4096
#define HANDLE_MAX	128

/*
 * A file system marked: a root's, whose descriptor stays open for
 * open_by_handle_at, or one mounted below a root, opened by its mount
 * point at each use: a descriptor held would make umount(8) fail.
 */
struct fan_fs {
	fsid_t		 fsid;
	int		 mfd;	/* for open_by_handle_at, or -1 */
	char		*mnt;	/* with -1: a mount point of it */
};

/* A directory to list: its node, where it is, and its handle. */
struct walkrec {
	uint32_t	 node;
	off_t		 at;		/* where its listing goes on */
	int		 mnt;		/* its mount's id */
	int		 leafok;	/* its file system's link count counts subdirs */
	fsid_t		 fsid;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
};

struct fan {
	struct fan_fs	*fs;
	int		 nfs;
	uint64_t	*neg;		/* keys of directories outside */
	size_t		 negcap, nneg;
	uint64_t	*rootkey, *parentkey;	/* per root */
	int		 nquiet;	/* ignore marks placed */
	int		 noquiet;	/* the kernel takes none */
	uint32_t	 cookie;
	int32_t		 nextwd;
	int		 unlimited;	/* FAN_UNLIMITED_QUEUE granted */
	struct pathbuf	 raw;
	struct dnode	*recdir;	/* the next records' place: record_path */
	const char	*recname;
	size_t		 recnamelen;
	const char	*ahead;		/* the batch after this event */
	size_t		 aheadlen;
	const char	*batch;		/* the batch, and its renames */
	size_t		 batchlen;
	size_t		*roff, nroff, roffcap;
	int		 rlisted;
	struct pathbuf	 more;		/* a batch with what came after it */
	pid_t		 self;		/* our own events are skipped */
	int		 complete;	/* the walk met every directory */
	long		 window;	/* events queued during the walk, unread */
	struct pathbuf	 walkq;		/* directories to list: a stack */
	int		 walking;	/* a walk is on its way */
	int		 walkfd;	/* a directory listed in part, or -1 */
	struct walkrec	 walkat;	/* and what it is */
};

/*
 * How much is read ahead for as_of_event(), at most, and at a time; and
 * by the main loop: buffers are touched only as far as reads fill them.
 */
#define AHEAD_BYTES	(1024 * 1024)
#define AHEAD_READ	(16 * 1024)
#define FAN_READ	(16 * 1024)

/* One event, its records found. */
struct fan_event {
	struct fanotify_event_metadata md;
	const struct fanotify_event_info_fid *dir, *from, *to, *obj;
};

/* Renames read but not handled yet that resolve() looks at, at most. */
#define AHEAD_MAX	64

/* Where a directory handle is, as far as the roots go. */
enum where { OUTSIDE, INSIDE, ROOT_PARENT, GONE };

struct fan_dir {
	enum where	 where;
	struct dnode	*node;		/* INSIDE */
	uint64_t	 key;
	const char	*name;
	size_t		 namelen;
};

/*
 * The handle, hashed to 63 bits: 31 for a node's wd (never -1, which
 * is a free node) and 32 for keylo, never 0 (a node with no key).
 */
static uint64_t
key_of(const fsid_t *fsid, const struct file_handle *fh)
{
	uint32_t type = fh->handle_type, lo;
	uint64_t h;

	h = iobs_fnv1a(fsid, sizeof(*fsid), IOBS_FNV_BASIS);
	h = iobs_fnv1a(&type, sizeof(type), h);
	h = iobs_fnv1a(fh->f_handle, fh->handle_bytes, h);
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ULL;
	h ^= h >> 29;
	lo = (uint32_t)h != 0 ? (uint32_t)h : 1;
	return (h >> 33) << 32 | lo;
}

#define KEY_WD(k)	((int32_t)((k) >> 32))
#define KEY_LO(k)	((uint32_t)(k))

/* Open addressing on 64-bit keys; 0 is an empty slot. */
static size_t
slot_of(uint64_t key, size_t cap)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> 20 & (cap - 1);
}

static int
neg_has(const struct fan *f, uint64_t key)
{
	size_t i;

	if (f->nneg == 0)
		return 0;
	for (i = slot_of(key, f->negcap); f->neg[i] != 0;
	    i = (i + 1) & (f->negcap - 1))
		if (f->neg[i] == key)
			return 1;
	return 0;
}

static void
neg_clear(struct fan *f)
{
	if (f->nneg > 0)
		memset(f->neg, 0, f->negcap * sizeof(*f->neg));
	f->nneg = 0;
}

static void neg_add(struct fan *, uint64_t);

static void
neg_grow(struct fan *f)
{
	uint64_t *old = f->neg;
	size_t i, oldcap = f->negcap;

	f->negcap = oldcap ? oldcap * 2 : 64;
	if ((f->neg = calloc(f->negcap, sizeof(*f->neg))) == NULL)
		err(1, "calloc");
	f->nneg = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i] != 0)
			neg_add(f, old[i]);
	free(old);
}

static void
neg_add(struct fan *f, uint64_t key)
{
	size_t i;

	if (f->nneg >= NEG_MAX)
		neg_clear(f);
	if (2 * (f->nneg + 1) > f->negcap)
		neg_grow(f);
	for (i = slot_of(key, f->negcap); f->neg[i] != 0;
	    i = (i + 1) & (f->negcap - 1))
		if (f->neg[i] == key)
			return;
	f->neg[i] = key;
	f->nneg++;
}

static uint32_t
node_index(const struct watcher *w, const struct dnode *n)
{
	return n - w->tree.node;
}

/*
 * A node with no key still needs a wd: one from a counter spreads
 * them over the chains, and keylo 0 matches no handle.
 */
static int32_t
wd_of(struct fan *f, uint64_t key)
{
	if (key != 0)
		return KEY_WD(key);
	if (f->nextwd == INT32_MAX)
		f->nextwd = 0;
	return ++f->nextwd;
}

/*
 * A node's handle key is split in the keyed tree: its high 31 bits
 * are the node's wd, so the tree's wd chains find it, and the low 32
 * are its keylo (0: no key).
 */
static void
set_key(struct watcher *w, struct dnode *n, uint64_t key)
{
	tree_set_wd(&w->tree, n, wd_of(w->fan, key));
	n->keylo = KEY_LO(key);
}

/* Every node is made here, with its key (0: none yet). */
static struct dnode *
add_node(struct watcher *w, struct dnode *parent, const char *name,
    size_t len, uint64_t key)
{
	struct dnode *n;

	n = tree_add(&w->tree, parent, name, len, wd_of(w->fan, key));
	if (n != NULL)
		n->keylo = KEY_LO(key);
	return n;
}

static void
drop_node(struct watcher *w, struct dnode *n)
{
	tree_remove(&w->tree, n, NULL, NULL);
}

static struct dnode *
map_get(struct watcher *w, uint64_t key)
{
	struct dnode *n;

	for (n = tree_by_wd(&w->tree, KEY_WD(key)); n != NULL;
	    n = tree_next_wd(&w->tree, n))
		if (n->keylo == KEY_LO(key))
			return n;
	return NULL;
}

static int
handle_of(const char *path, struct file_handle *fh)
{
	int mount_id;

	fh->handle_bytes = HANDLE_MAX;
	return name_to_handle_at(AT_FDCWD, path, fh, &mount_id, 0);
}

static int
fsid_of(const char *path, fsid_t *fsid)
{
	struct statfs sf;

	if (statfs(path, &sf) == -1)
		return -1;
	*fsid = sf.f_fsid;
	return 0;
}

static uint64_t
path_key(const char *path)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	fsid_t fsid;

	if (fsid_of(path, &fsid) == -1 || handle_of(path, &h.fh) == -1)
		return 0;
	return key_of(&fsid, &h.fh);
}

/*
 * A descriptor on the root's file system for open_by_handle_at, which
 * takes no O_PATH one: the root, or for a file its directory.
 */
static int
mount_fd(const char *path)
{
	char dir[PATH_MAX], *slash;
	int fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1 ||
	    errno != ENOTDIR)
		return fd;
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir) ||
	    (slash = strrchr(dir, '/')) == NULL)
		return -1;
	slash[slash == dir] = '\0';
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static const char *
sys_path(const struct root *r)
{
	return r->pathlen ? r->path : "/";
}

/* The directory holding a root, "" when the root is "/". */
static void
parent_path(const struct root *r, struct pathbuf *pb)
{
	const char *slash = strrchr(r->path, '/');

	pb->len = 0;
	if (slash == NULL) {
		pathbuf_append(pb, "", 0);
		return;
	}
	pathbuf_append(pb, r->path, slash == r->path ? 1 :
	    (size_t)(slash - r->path));
	pb->s[pb->len] = '\0';
}

static const char *
root_base(const struct root *r)
{
	const char *slash = strrchr(r->path, '/');

	return slash != NULL ? slash + 1 : "";
}

/*
 * /proc/self/fd/N into link (64 bytes): not by snprintf, whose code
 * would stay resident for one number.
 */
static void
proc_fd(char *link, int fd)
{
	static const char dir[] = "/proc/self/fd/";

	memcpy(link, dir, sizeof(dir) - 1);
	*iobs_put_uint(link + sizeof(dir) - 1, (unsigned)fd, 1) = '\0';
}

/* The path of a resolved descriptor, as the kernel names it now. */
static int
fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	proc_fd(link, fd);
	if ((n = readlink(link, buf, size - 1)) == -1)
		return -1;
	if ((size_t)n >= size - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[n] = '\0';
	/* Unlinked meanwhile: nothing to report below it. */
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* The file system marked with fsid, or NULL. */
static struct fan_fs *
fs_find(const struct fan *f, const fsid_t *fsid)
{
	int i;

	for (i = 0; i < f->nfs; i++)
		if (memcmp(&f->fs[i].fsid, fsid, sizeof(*fsid)) == 0)
			return &f->fs[i];
	return NULL;
}

/* open_by_handle_at on fsid's file system; -1 if it is not marked. */
static int
fs_open(const struct fan *f, const fsid_t *fsid, struct file_handle *fh,
    int flags)
{
	struct fan_fs *fs = fs_find(f, fsid);
	int mfd, fd, saved;

	if (fs == NULL) {
		errno = ESTALE;
		return -1;
	}
	if (fs->mfd != -1)
		return open_by_handle_at(fs->mfd, fh, flags);
	if ((mfd = open(fs->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	fd = open_by_handle_at(mfd, fh, flags);
	saved = errno;
	close(mfd);
	errno = saved;
	return fd;
}

/*
 * A path below root r: its nodes from the root down, or OUTSIDE when
 * a component is excluded or too deep for -n.
 */
static enum where
descend(struct watcher *w, struct dnode *n, const char *rest,
    struct dnode **out)
{
	struct dnode *c;
	char comp[NAME_MAX + 1];
	const char *slash;
	size_t len;

	while (*rest == '/')
		rest++;
	while (*rest != '\0') {
		if (!w->recursive)
			return OUTSIDE;
		slash = strchr(rest, '/');
		len = slash ? (size_t)(slash - rest) : strlen(rest);
		if (len > NAME_MAX)
			return GONE;
		memcpy(comp, rest, len);
		comp[len] = '\0';
		if (watch_excluded(w, n, comp, 1))
			return OUTSIDE;
		if ((c = tree_child(&w->tree, n, comp, len)) == NULL &&
		    (c = add_node(w, n, comp, len, 0)) == NULL)
			return GONE;	/* the map is full */
		n = c;
		rest += len;
		while (*rest == '/')
			rest++;
	}
	*out = n;
	return INSIDE;
}

/* The directory at path: its node, if it is inside a root. */
static enum where
under_root(struct watcher *w, const char *path, uint64_t key,
    struct dnode **node)
{
	enum where where = OUTSIDE;
	int i;

	for (i = 0; i < w->nroots; i++) {
		struct root *r = &w->roots[i];

		if (!r->alive || r->node == NULL ||
		    strncmp(path, r->path, r->pathlen) != 0)
			continue;
		if (path[r->pathlen] == '\0') {
			/* Another directory under the root's name. */
			if (w->fan->rootkey[i] != key)
				break;
			*node = r->node;
			return INSIDE;
		}
		if (path[r->pathlen] != '/' && r->pathlen > 0)
			continue;
		where = descend(w, r->node, path + r->pathlen, node);
		break;
	}
	return where;
}

/* The name of the entry with inode ino in the directory open as dfd. */
static int
entry_name(int dfd, ino_t ino, char *name)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct kdirent64))));
	struct kdirent64 *de;
	long nread, off;

	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < nread; off += de->d_reclen) {
			de = (struct kdirent64 *)(buf + off);
			if (de->d_ino == ino && strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				strlcpy(name, de->d_name, NAME_MAX + 1);
				return 0;
			}
		}
	return -1;
}

/*
 * A directory deeper than the kernel will name (PATH_MAX): climb with
 * "..", a name at a time, to a directory met before or short enough
 * to name, then come down again by those names.
 */
static enum where
resolve_long(struct watcher *w, int fd, const fsid_t *fsid,
    struct dnode **node)
{
	static char path[PATH_MAX + 16];
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	char name[NAME_MAX + 1];
	struct pathbuf up = { 0 }, down = { 0 };
	enum where where = GONE;
	struct dnode *top = NULL;
	struct stat st;
	int cur, parent, depth, mount_id;
	size_t end, start;

	if ((cur = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
		return GONE;
	for (depth = 0; depth < 4096; depth++) {
		if (fstat(cur, &st) == -1 || (parent = openat(cur, "..",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			break;
		close(cur);
		cur = parent;
		if (entry_name(cur, st.st_ino, name) == -1)
			break;
		pathbuf_append(&up, name, strlen(name) + 1);
		h.fh.handle_bytes = HANDLE_MAX;
		if (name_to_handle_at(cur, "", &h.fh, &mount_id,
		    AT_EMPTY_PATH) == 0 &&
		    (top = map_get(w, key_of(fsid, &h.fh))) != NULL) {
			where = INSIDE;
			break;
		}
		if (fd_path(cur, path, sizeof(path)) == 0) {
			where = under_root(w, path, 0, &top);
			break;
		}
	}
	close(cur);
	if (where == INSIDE) {
		/* The names climbed, last first: the path down from top. */
		for (end = up.len; end > 0; end = start) {
			for (start = end - 1; start > 0 && up.s[start - 1];
			    start--)
				continue;
			pathbuf_append(&down, "/", 1);
			pathbuf_append(&down, up.s + start, end - 1 - start);
		}
		pathbuf_append(&down, "", 1);
		where = descend(w, top, down.s, node);
	}
	pathbuf_free(&up);
	pathbuf_free(&down);
	return where;
}

/*
 * A directory outside the roots sends events: have the kernel keep
 * them to itself (renames excepted), so that a busy neighbour on the
 * same file system costs us one event, not all of them. Never the
 * directory holding a root, whose entry is the root.
 */
/* fanotify_mark takes no O_PATH descriptor: name it through /proc. */
static int
mark_fd(struct watcher *w, unsigned flags, uint64_t mask, int fd)
{
	char link[64];

	proc_fd(link, fd);
	return fanotify_mark(w->ifd, flags, mask, AT_FDCWD, link);
}

static void
quiet_dir(struct watcher *w, int fd, uint64_t key)
{
	struct fan *f = w->fan;
	int i;

	if (f->noquiet)
		return;
	for (i = 0; i < w->nroots; i++)
		if (f->parentkey[i] == key)
			return;
	if (f->nquiet >= QUIET_MAX) {
		(void)fanotify_mark(w->ifd, FAN_MARK_FLUSH, 0, AT_FDCWD,
		    NULL);
		f->nquiet = 0;
	}
	if (mark_fd(w, FAN_MARK_ADD | FAN_MARK_IGNORE_SURV, FAN_QUIET,
	    fd) == 0)
		f->nquiet++;
	else if (errno != ENOSPC && errno != ENOENT)
		f->noquiet = 1;		/* before Linux 6.0 */
}

/* A directory moved in: the kernel tells us of it again. */
static void
unquiet_dir(struct watcher *w, int fd)
{
	if (w->fan->nquiet > 0)
		(void)mark_fd(w, FAN_MARK_REMOVE | FAN_MARK_IGNORE_SURV,
		    FAN_QUIET, fd);
}

/*
 * Events are aligned to 4 bytes only, their 64-bit mask with them: the
 * metadata is copied out. Returns -1 when no whole event is left.
 */
static int
parse_event(const char *ev, size_t left, struct fan_event *e)
{
	const struct fanotify_event_info_header *h;
	size_t off;

	if (left < sizeof(e->md))
		return -1;
	memcpy(&e->md, ev, sizeof(e->md));
	if (e->md.event_len < sizeof(e->md) || e->md.event_len > left)
		return -1;
	e->dir = e->from = e->to = e->obj = NULL;
	for (off = e->md.metadata_len; off + sizeof(*h) <= e->md.event_len;
	    off += h->len) {
		h = (const void *)(ev + off);
		if (h->len == 0)
			break;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
			e->dir = (const void *)h;
		else if (h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
			e->from = (const void *)h;
		else if (h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
			e->to = (const void *)h;
		else if (h->info_type == FAN_EVENT_INFO_TYPE_FID)
			e->obj = (const void *)h;
	}
	return 0;
}

/* The path a handle's directory has now, into pb; -1 if none. */
static int
handle_path(struct watcher *w, const struct fanotify_event_info_fid *info,
    struct pathbuf *pb)
{
	static char path[PATH_MAX + 16];
	struct file_handle *fh = (struct file_handle *)info->handle;
	int fd, r;

	if ((fd = fs_open(w->fan, (const fsid_t *)&info->fsid, fh,
	    O_PATH | O_CLOEXEC)) == -1)
		return -1;
	r = fd_path(fd, path, sizeof(path));
	close(fd);
	if (r == -1)
		return -1;
	pb->len = 0;
	pathbuf_append(pb, path, strlen(path));
	pathbuf_append(pb, "", 1);
	pb->len--;
	return 0;
}

/* If pb is from or below it, it is to or below that instead. */
static void
unrename(struct pathbuf *pb, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to);
	struct pathbuf t = { 0 };

	if (strncmp(pb->s, from, flen) != 0 ||
	    (pb->s[flen] != '/' && pb->s[flen] != '\0'))
		return;
	pathbuf_append(&t, to, tlen);
	pathbuf_append(&t, pb->s + flen, pb->len - flen + 1);
	pathbuf_free(pb);
	*pb = t;
	pb->len--;
}

/*
 * A directory not met before is named as it is now, but directories
 * may have been renamed since the event, by events read with it and
 * not handled yet: undo those renames, last first, to name it as it
 * was. (Renames still in the kernel's queue are beyond reach.)
 */
static void
as_of_event(struct watcher *w, struct pathbuf *pb)
{
	struct fan *f = w->fan;
	struct fan_event e[AHEAD_MAX];
	char *newp[AHEAD_MAX], *oldp[AHEAD_MAX];
	const char *name;
	size_t pos, here = f->ahead - f->batch, i;
	struct pathbuf t = { 0 };
	int n = 0, k, j;

	/* The batch's renames of directories, listed once. */
	if (!f->rlisted) {
		f->nroff = 0;
		for (pos = 0; parse_event(f->batch + pos, f->batchlen - pos,
		    &e[0]) == 0; pos += e[0].md.event_len) {
			if ((e[0].md.mask & (FAN_RENAME | FAN_ONDIR)) !=
			    (FAN_RENAME | FAN_ONDIR) || e[0].from == NULL ||
			    e[0].to == NULL || e[0].obj == NULL)
				continue;
			if (f->nroff == f->roffcap) {
				f->roffcap = f->roffcap ? f->roffcap * 2 : 64;
				f->roff = reallocarray(f->roff, f->roffcap,
				    sizeof(*f->roff));
				if (f->roff == NULL)
					err(1, "reallocarray");
			}
			f->roff[f->nroff++] = pos;
		}
		f->rlisted = 1;
	}
	for (i = 0; i < f->nroff && n < AHEAD_MAX; i++)
		if (f->roff[i] >= here && parse_event(f->batch + f->roff[i],
		    f->batchlen - f->roff[i], &e[n]) == 0)
			n++;
	for (k = n - 1; k >= 0; k--) {
		newp[k] = oldp[k] = NULL;
		/* Where it went, and where it was, as of just after it. */
		if (handle_path(w, e[k].obj, &t) == -1)
			continue;
		for (j = n - 1; j > k; j--)
			if (newp[j] != NULL && oldp[j] != NULL)
				unrename(&t, newp[j], oldp[j]);
		newp[k] = strdup(t.s);
		if (handle_path(w, e[k].from, &t) == -1)
			continue;
		for (j = n - 1; j > k; j--)
			if (newp[j] != NULL && oldp[j] != NULL)
				unrename(&t, newp[j], oldp[j]);
		name = (const char *)((struct file_handle *)
		    e[k].from->handle)->f_handle +
		    ((struct file_handle *)e[k].from->handle)->handle_bytes;
		pathbuf_append(&t, "/", 1);
		pathbuf_append(&t, name, strlen(name) + 1);
		oldp[k] = strdup(t.s);
		if (newp[k] == NULL || oldp[k] == NULL)
			err(1, "strdup");
	}
	for (k = n - 1; k >= 0; k--)
		if (newp[k] != NULL && oldp[k] != NULL)
			unrename(pb, newp[k], oldp[k]);
	for (k = 0; k < n; k++) {
		free(newp[k]);
		free(oldp[k]);
	}
	pathbuf_free(&t);
}

/* A handle not met yet: where is its directory now? */
static enum where
resolve(struct watcher *w, const fsid_t *fsid, struct file_handle *fh,
    uint64_t key, struct dnode **node)
{
	static char path[PATH_MAX + 16];
	struct pathbuf then = { 0 };
	enum where where;
	int fd, i;

	if (fs_find(w->fan, fsid) == NULL)
		return OUTSIDE;
	if ((fd = fs_open(w->fan, fsid, fh, O_PATH | O_CLOEXEC)) == -1)
		return GONE;
	i = fd_path(fd, path, sizeof(path));
	if (i == -1 && errno == ENAMETOOLONG)
		where = resolve_long(w, fd, fsid, node);
	else if (i == -1)
		where = GONE;
	else {
		pathbuf_append(&then, path, strlen(path) + 1);
		then.len--;
		if (w->fan->aheadlen > 0)
			as_of_event(w, &then);
		where = under_root(w, then.s, key, node);
		pathbuf_free(&then);
	}
	if (where == OUTSIDE)
		quiet_dir(w, fd, key);
	close(fd);
	if (where == INSIDE)
		set_key(w, *node, key);
	else if (where == OUTSIDE)
		neg_add(w->fan, key);
	return where;
}

/*
 * A handle the complete map does not hold: a directory outside, or
 * excluded. The kernel is told to keep its events to itself.
 */
static enum where
outside(struct watcher *w, const fsid_t *fsid, struct file_handle *fh,
    uint64_t key)
{
	int fd;

	if ((fd = fs_open(w->fan, fsid, fh, O_PATH | O_CLOEXEC)) != -1) {
		quiet_dir(w, fd, key);
		close(fd);
	}
	neg_add(w->fan, key);
	return OUTSIDE;
}

static void
locate(struct watcher *w, const struct fanotify_event_info_fid *info,
    struct fan_dir *d)
{
	struct file_handle *fh = (struct file_handle *)info->handle;
	const fsid_t *fsid = (const fsid_t *)&info->fsid;
	uint64_t key = key_of(fsid, fh);
	int i;

	d->name = (const char *)fh->f_handle + fh->handle_bytes;
	d->namelen = strlen(d->name);
	d->node = NULL;
	d->key = key;
	if ((d->node = map_get(w, key)) != NULL) {
		d->where = INSIDE;
		return;
	}
	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive && w->fan->parentkey[i] == key &&
		    strcmp(d->name, root_base(&w->roots[i])) == 0) {
			d->where = ROOT_PARENT;
			return;
		}
	if (neg_has(w->fan, key)) {
		d->where = OUTSIDE;
		return;
	}
	d->where = w->fan->complete ? outside(w, fsid, fh, key) :
	    resolve(w, fsid, fh, key, &d->node);
}

/* The root a ROOT_PARENT entry names. */
static int
named_root(struct watcher *w, const struct fan_dir *d)
{
	int i;

	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive && !w->roots[i].waiting &&
		    w->fan->parentkey[i] == d->key &&
		    strcmp(d->name, root_base(&w->roots[i])) == 0)
			return i;
	return -1;
}

/* Where the next records are: name in n (name NULL: n itself). */
static void
record_path(struct watcher *w, struct dnode *n, const char *name,
    size_t len)
{
	w->fan->recdir = n;
	w->fan->recname = name;
	w->fan->recnamelen = len;
}

static void
raw_path(struct watcher *w, struct dnode *n, const char *name, size_t len)
{
	struct pathbuf *pb = &w->fan->raw;

	tree_path(&w->tree, n, 0, pb);
	pathbuf_append(pb, "/", 1);
	pathbuf_append(pb, name, len);
	pb->s[pb->len] = '\0';
}

static void
emit_one(struct watcher *w, uint32_t mask, uint32_t cookie)
{
	if ((mask & w->print_mask & ~IN_ISDIR) == 0)
		return;
	emit_entry(w, mask, cookie, w->fan->recdir, w->fan->recname,
	    w->fan->recnamelen);
}

/*
 * The kernel merges events on one name into one mask: split it into
 * the records inotify would give, in the order things happen.
 */
static void
emit_split(struct watcher *w, uint32_t mask, int deleted_first)
{
	static const uint32_t order[] = {
		IN_CREATE, IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB,
		IN_CLOSE_WRITE, IN_CLOSE_NOWRITE, IN_DELETE,
	};
	uint32_t isdir = mask & IN_ISDIR;
	size_t i;

	if (deleted_first && (mask & IN_DELETE)) {
		emit_one(w, IN_DELETE | isdir, 0);
		mask &= ~IN_DELETE;
	}
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (mask & order[i])
			emit_one(w, order[i] | isdir, 0);
}

static int below(const struct watcher *, struct dnode *,
    const struct dnode *);

/*
 * The node of directory name in parent, whose handle has key: the one
 * with that key, moved here if the map had it elsewhere (a root stays
 * where it is), or a new one. By name only with no key: the tree has
 * no index by name, and that is a look at every node.
 */
static struct dnode *
place_dir(struct watcher *w, struct dnode *parent, const char *name,
    size_t len, uint64_t key)
{
	struct dnode *n;

	if (key == 0) {
		if ((n = tree_child(&w->tree, parent, name, len)) == NULL)
			n = add_node(w, parent, name, len, 0);
		return n;
	}
	if ((n = map_get(w, key)) == NULL || n->parent == 0 ||
	    below(w, parent, n))
		return add_node(w, parent, name, len, key);
	if (!tree_named(&w->tree, n, parent, name, len))
		tree_move(&w->tree, n, parent, name, len);
	return n;
}

/* A new directory: its node, with the handle it has now. */
static struct dnode *
new_dir(struct watcher *w, struct dnode *parent, const char *name,
    size_t len, uint64_t key)
{
	if (!w->recursive || watch_excluded(w, parent, name, 1))
		return NULL;
	if (key == 0) {
		/* No handle in the event: the one its name has now. */
		raw_path(w, parent, name, len);
		key = path_key(w->fan->raw.s);
	}
	return place_dir(w, parent, name, len, key);
}

static uint64_t
info_key(const struct fanotify_event_info_fid *info)
{
	if (info == NULL)
		return 0;
	return key_of((const fsid_t *)&info->fsid,
	    (const struct file_handle *)info->handle);
}


/* The handle key of an open directory, 0 if it has none. */
static uint64_t
fd_key(struct watcher *w, int fd)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	struct statfs sf;
	int mount_id;

	h.fh.handle_bytes = HANDLE_MAX;
	if (fstatfs(fd, &sf) == -1 || fs_find(w->fan, &sf.f_fsid) == NULL ||
	    name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == -1)
		return 0;
	return key_of(&sf.f_fsid, &h.fh);
}

/* Is the open directory on a file system marked? */
static int
fd_marked(struct watcher *w, int fd)
{
	struct statfs sf;

	return fstatfs(fd, &sf) == 0 && fs_find(w->fan, &sf.f_fsid) != NULL;
}

/*
 * A tree moved in from outside: what was made before it came is
 * reported as CREATE records, as the inotify backend does. The listing
 * is done before the descent, its subdirectories' names on a stack: a
 * level costs a small frame and a descriptor, however deep the tree.
 */
static void
moved_in(struct watcher *w, struct dnode *dir, int dfd)
{
	static char buf[16 * 1024]
	    __attribute__((aligned(__alignof__(struct kdirent64))));
	struct pathbuf *stack = &w->names;
	size_t mark = stack->len, off;
	struct kdirent64 *de;
	struct dnode *child;
	struct stat st;
	long nread;
	uint64_t key;
	size_t len;
	int isdir, cfd;

	if (w->dropping)
		return;		/* the watcher starts over */
	/* Before the listing: what is made after it has its event. */
	unquiet_dir(w, dfd);
	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < (size_t)nread; off += de->d_reclen) {
			de = (struct kdirent64 *)(buf + off);
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			len = strlen(de->d_name);
			isdir = de->d_type == DT_DIR ||
			    (de->d_type == DT_UNKNOWN && fstatat(dfd,
			    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode));
			if (watch_excluded(w, dir, de->d_name, isdir))
				continue;
			record_path(w, dir, de->d_name, len);
			emit_one(w, IN_CREATE | (isdir ? IN_ISDIR : 0), 0);
			if (isdir && w->recursive)
				pathbuf_append(stack, de->d_name, len + 1);
		}
	for (off = mark; off < stack->len && !w->dropping; off += len + 1) {
		const char *name = stack->s + off;

		len = strlen(name);
		cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (cfd == -1) {
			/* Gone: its move or delete is queued. */
			if (errno != ENOENT && errno != ENOTDIR) {
				raw_path(w, dir, name, len);
				if (!w->quiet)
					warn("%s", w->fan->raw.s);
				w->fan->complete = 0;
			}
			continue;
		}
		if ((key = fd_key(w, cfd)) == 0 && !fd_marked(w, cfd)) {
			/* A mount that took no mark: nothing to learn. */
			close(cfd);
			continue;
		}
		if (key == 0)
			w->fan->complete = 0;
		if ((child = place_dir(w, dir, name, len, key)) == NULL)
			w->fan->complete = 0;
		else
			moved_in(w, child, cfd);
		close(cfd);
	}
	stack->len = mark;
}

/* Is n node a, or below it? */
static int
below(const struct watcher *w, struct dnode *n, const struct dnode *a)
{
	for (; n != NULL; n = tree_parent(&w->tree, n))
		if (n == a)
			return 1;
	return 0;
}

static void
rename_event(struct watcher *w, uint32_t mask, const struct fan_dir *o,
    const struct fan_dir *n, uint64_t target)
{
	uint32_t isdir = mask & IN_ISDIR, cookie;
	struct dnode *child = NULL, *stale, *moved, *placed = NULL;
	int oin, nin, i, dfd;

	if (o->where == ROOT_PARENT && (i = named_root(w, o)) != -1) {
		record_path(w, w->roots[i].node, NULL, 0);
		emit_one(w, IN_MOVE_SELF, 0);
		root_dead(w, i);
		return;
	}
	oin = o->where == INSIDE && !watch_excluded(w, o->node, o->name,
	    isdir);
	nin = n->where == INSIDE && !watch_excluded(w, n->node, n->name,
	    isdir);
	/*
	 * A directory moved while the walk was on its way: what the map
	 * says of it, and what was printed, may be of after the move.
	 */
	if (isdir && w->fan->window > 0 && (oin || nin ||
	    (target != 0 && map_get(w, target) != NULL))) {
		w->dropping = w->lost = 1;
		return;
	}
	if (!oin && !nin) {
		/* Its descendants may be remembered as outside. */
		if (isdir && n->where != OUTSIDE)
			neg_clear(w->fan);
		return;
	}
	if ((cookie = ++w->fan->cookie) == 0)
		cookie = ++w->fan->cookie;
	if (oin) {
		record_path(w, o->node, o->name, o->namelen);
		emit_one(w, IN_MOVED_FROM | isdir, cookie);
	}
	/*
	 * By handle: the listing of a tree moved in may have met it
	 * already, under the name it has after this rename. By name
	 * (a look at every node) only for a handle not met.
	 */
	if (isdir && target != 0 && (moved = map_get(w, target)) != NULL &&
	    !below(w, n->node, moved))
		child = moved;
	else if (isdir && oin)
		child = tree_child(&w->tree, o->node, o->name, o->namelen);
	/* An empty directory it replaced; only a directory replaces one. */
	if (isdir && nin && n->node->nchildren > 0 &&
	    (stale = tree_child(&w->tree, n->node, n->name,
	    n->namelen)) != NULL && stale != child)
		drop_node(w, stale);
	if (child != NULL && nin) {
		tree_move(&w->tree, child, n->node, n->name, n->namelen);
		if (target != 0)
			set_key(w, child, target);
		placed = child;
	} else if (child != NULL)
		drop_node(w, child);
	else if (isdir && nin) {
		neg_clear(w->fan);
		placed = new_dir(w, n->node, n->name, n->namelen, target);
	}
	if (!nin)
		return;
	record_path(w, n->node, n->name, n->namelen);
	emit_one(w, IN_MOVED_TO | isdir, cookie);
	/*
	 * A directory moved within is known with its tree, but for one
	 * the map never met: it left a tree moved in before that tree
	 * was listed. Its tree is walked as moved in, and told of again
	 * by the kernel, which may have been told to keep it quiet.
	 */
	if (!isdir || (oin && child != NULL))
		return;
	if (!w->recursive || (moved = placed) == NULL) {
		raw_path(w, n->node, n->name, n->namelen);
		if ((dfd = open(w->fan->raw.s, O_PATH | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) != -1) {
			unquiet_dir(w, dfd);
			close(dfd);
		}
		return;
	}
	raw_path(w, n->node, n->name, n->namelen);
	dfd = open(w->fan->raw.s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd != -1) {
		moved_in(w, moved, dfd);
		close(dfd);
	}
}

/* An event on the root's name in its parent. */
static void
root_event(struct watcher *w, uint32_t mask, const struct fan_dir *d)
{
	int i = named_root(w, d);
	struct stat st;

	if (i == -1)
		return;
	record_path(w, w->roots[i].node, NULL, 0);
	if (mask & IN_DELETE) {
		/* Only a delete of what the root named is its end. */
		if (lstat(sys_path(&w->roots[i]), &st) == 0 &&
		    st.st_ino == w->roots[i].ino &&
		    st.st_dev == w->roots[i].dev)
			return;
		emit_one(w, IN_DELETE_SELF, 0);
		root_dead(w, i);
	} else if (!(mask & IN_ISDIR))
		emit_split(w, mask & ~IN_CREATE, 0);	/* a file root */
}

static void
entry_event(struct watcher *w, uint32_t mask, const struct fan_dir *d,
    uint64_t target)
{
	struct dnode *child;
	struct stat st;
	int exists = 0;

	if (strcmp(d->name, ".") == 0) {
		/* An event on a directory itself. */
		record_path(w, d->node, NULL, 0);
		emit_split(w, mask, 0);
		return;
	}
	if (watch_excluded(w, d->node, d->name, mask & IN_ISDIR))
		return;
	if ((mask & (IN_CREATE | IN_DELETE)) == (IN_CREATE | IN_DELETE)) {
		raw_path(w, d->node, d->name, d->namelen);
		exists = lstat(w->fan->raw.s, &st) == 0;
	}
	record_path(w, d->node, d->name, d->namelen);
	emit_split(w, mask, exists);
	if (!(mask & IN_ISDIR))
		return;
	/* By handle; by name (a look at every node) for one not met. */
	if ((mask & IN_DELETE) && ((target != 0 &&
	    (child = map_get(w, target)) != NULL && child->parent != 0) ||
	    (d->node->nchildren > 0 && (child = tree_child(&w->tree,
	    d->node, d->name, d->namelen)) != NULL)))
		drop_node(w, child);
	if ((mask & IN_CREATE) && (!(mask & IN_DELETE) || exists))
		new_dir(w, d->node, d->name, d->namelen, target);
}

/*
 * Our own events (the walk's and moved_in's listings) are kept as their
 * metadata alone, from len bytes at p: skipped all the same, and still
 * counted against the walk's window, at 24 bytes an event, not 100 and
 * more. Returns the bytes left.
 */
static size_t
shrink_own(const struct fan *f, char *p, size_t len)
{
	struct fanotify_event_metadata md;
	size_t in = 0, out = 0, elen;

	while (len - in >= sizeof(md)) {
		memcpy(&md, p + in, sizeof(md));
		if (md.event_len < sizeof(md) || md.event_len > len - in)
			break;
		elen = md.event_len;
		if (md.pid == f->self && !(md.mask & FAN_Q_OVERFLOW)) {
			md.event_len = md.metadata_len = sizeof(md);
			memcpy(p + out, &md, sizeof(md));
			out += sizeof(md);
		} else {
			memmove(p + out, p + in, elen);
			out += elen;
		}
		in += elen;
	}
	memmove(p + out, p + in, len - in);
	return out + len - in;
}

static void
fan_dispatch(struct watcher *w, const char *buf, size_t len)
{
	struct fan_event e;
	struct fan_dir d, o;
	struct pathbuf *more = &w->fan->more;
	struct pollfd pfd = { .fd = w->ifd, .events = POLLIN };
	size_t pos;
	ssize_t n;

	/*
	 * What else is queued is read now, so that a rename after an
	 * event is seen before a directory is named (as_of_event). Not
	 * by FIONREAD: fanotify counts only the events' fixed part. Only
	 * a walk that missed some directory has them named so (resolve):
	 * after a complete one, the read-ahead would only hold memory.
	 */
	if (!w->fan->complete && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & POLLIN)) {
		more->len = 0;
		pathbuf_append(more, buf, len);
		more->len = shrink_own(w->fan, more->s, more->len);
		do {
			pathbuf_reserve(more, AHEAD_READ);
			if ((n = read(w->ifd, more->s + more->len,
			    AHEAD_READ)) <= 0)
				break;
			more->len += shrink_own(w->fan, more->s + more->len, n);
		} while (more->len < AHEAD_BYTES && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & POLLIN));
		buf = more->s;
		len = more->len;
	}
	w->fan->batch = buf;
	w->fan->batchlen = len;
	w->fan->rlisted = 0;
	for (pos = 0; !w->lost &&
	    parse_event(buf + pos, len - pos, &e) == 0;
	    pos += e.md.event_len) {
		if (e.md.vers != FANOTIFY_METADATA_VERSION)
			errx(1, "fanotify: metadata version %d, built for %d",
			    e.md.vers, FANOTIFY_METADATA_VERSION);
		if (e.md.fd >= 0)
			close(e.md.fd);
		if (e.md.mask & FAN_Q_OVERFLOW) {
			w->dropping = w->lost = 1;
			return;
		}
		if (w->fan->window > 0)
			w->fan->window--;
		/* Our own: the walk's and moved_in's listings. */
		if (e.md.pid == w->fan->self)
			continue;
		w->fan->ahead = buf + pos + e.md.event_len;
		w->fan->aheadlen = len - pos - e.md.event_len;
		w->pid = e.md.pid;
		if ((e.md.mask & FAN_RENAME) && e.from != NULL &&
		    e.to != NULL) {
			locate(w, e.from, &o);
			locate(w, e.to, &d);
			rename_event(w, (uint32_t)e.md.mask, &o, &d,
			    info_key(e.obj));
		} else if (e.dir != NULL) {
			locate(w, e.dir, &d);
			if (d.where == INSIDE)
				entry_event(w, (uint32_t)e.md.mask &
				    ~FAN_RENAME, &d, info_key(e.obj));
			else if (d.where == ROOT_PARENT)
				root_event(w, (uint32_t)e.md.mask, &d);
		}
		w->pid = 0;
	}
	if (w->fan != NULL)
		w->fan->aheadlen = 0;
}

static int
init_fd(int *unlimited)
{
	int fd;

	fd = fanotify_init(FAN_INIT_FLAGS | FAN_UNLIMITED_QUEUE,
	    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	*unlimited = fd != -1;
	if (fd == -1 && errno == EPERM)
		fd = fanotify_init(FAN_INIT_FLAGS,
		    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	return fd;
}

static uint64_t
mark_mask(const struct watcher *w)
{
	return FAN_BOOKKEEPING | (w->print_mask & FAN_PRINTABLE);
}

/*
 * The group fan_usable made, marks placed, for fan_open to take: set-up
 * is the marks, so they are not placed twice.
 */
static struct {
	int		 fd, unlimited, nfs;
	struct fan_fs	*fs;
} ready = { -1, 0, 0, NULL };

static void
ready_drop(void)
{
	int i;

	for (i = 0; i < ready.nfs; i++)
		if (ready.fs[i].mfd != -1)
			close(ready.fs[i].mfd);
	free(ready.fs);
	ready.fs = NULL;
	ready.nfs = 0;
	if (ready.fd != -1)
		close(ready.fd);
	ready.fd = -1;
}

int
fan_usable(struct watcher *w, char *why, size_t whylen)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + HANDLE_MAX];
	} h;
	int hfd, mfd, i, j;
	fsid_t fsid;

	if ((ready.fd = init_fd(&ready.unlimited)) == -1) {
		snprintf(why, whylen, "fanotify: %s%s", strerror(errno),
		    errno == EPERM ? " (needs CAP_SYS_ADMIN; try "
		    "--backend inotify)" : "");
		return -1;
	}
	for (i = 0; i < w->nroots; i++) {
		const char *path = sys_path(&w->roots[i]);

		hfd = -1;
		if ((mfd = mount_fd(path)) == -1 ||
		    fsid_of(path, &fsid) == -1)
			goto fail;
		for (j = 0; j < ready.nfs; j++)
			if (memcmp(&ready.fs[j].fsid, &fsid, sizeof(fsid)) == 0)
				break;
		if (j == ready.nfs && fanotify_mark(ready.fd, FAN_MARK_ADD |
		    FAN_MARK_FILESYSTEM, mark_mask(w), AT_FDCWD, path) == -1)
			goto fail;
		/* Handles must work: open_by_handle_at needs its own right. */
		if (handle_of(path, &h.fh) == -1 || (hfd =
		    open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC)) == -1)
			goto fail;
		close(hfd);
		if (j < ready.nfs) {
			close(mfd);
			continue;
		}
		ready.fs = reallocarray(ready.fs, ready.nfs + 1,
		    sizeof(*ready.fs));
		if (ready.fs == NULL)
			err(1, "reallocarray");
		ready.fs[ready.nfs].fsid = fsid;
		ready.fs[ready.nfs].mnt = NULL;
		ready.fs[ready.nfs++].mfd = mfd;
	}
	return 0;
fail:
	snprintf(why, whylen, "%s: fanotify cannot watch its file system: "
	    "%s (%stry --backend inotify)", w->roots[i].vis, strerror(errno),
	    errno == EPERM ? "needs CAP_SYS_ADMIN; " : "");
	if (mfd != -1)
		close(mfd);
	ready_drop();
	return -1;
}


/*
 * Is the directory name in dfd on the file system fsid? Its own in
 * other, and whether its link counts count subdirectories in leafok.
 */
static int
same_fs(int dfd, const char *name, const fsid_t *fsid, fsid_t *other,
    int *leafok)
{
	struct statfs sf;
	int fd, r;

	memset(other, 0, sizeof(*other));
	*leafok = 0;
	if ((fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	r = fstatfs(fd, &sf);
	close(fd);
	if (r == -1)
		return 0;
	*other = sf.f_fsid;
	*leafok = sf.f_type == TMPFS_MAGIC || sf.f_type == EXT4_SUPER_MAGIC;
	return memcmp(other, fsid, sizeof(*fsid)) == 0;
}

/*
 * The stack holds a record as its handle's bytes, then the rest: a
 * handle is 8 to 40 bytes, not the 128 a walkrec has room for.
 */
static void
walk_push(struct pathbuf *stack, const struct walkrec *r)
{
	pathbuf_append(stack, (const char *)r->h.fh.f_handle,
	    r->h.fh.handle_bytes);
	pathbuf_append(stack, (const char *)r, offsetof(struct walkrec, h) +
	    sizeof(struct file_handle));
}

static int
walk_pop(struct pathbuf *stack, struct walkrec *r)
{
	size_t fixed = offsetof(struct walkrec, h) +
	    sizeof(struct file_handle);

	if (stack->len < fixed)
		return -1;
	stack->len -= fixed;
	memcpy(r, stack->s + stack->len, fixed);
	stack->len -= r->h.fh.handle_bytes;
	memcpy(r->h.fh.f_handle, stack->s + stack->len,
	    r->h.fh.handle_bytes);
	return 0;
}

/*
 * Lists the directory open as dfd and pushes its subdirectories, each
 * with its handle in the map; one with no subdirectory (a link count
 * of 2, where that counts them) is not listed. Should one be missed
 * (only the end of the listing says there is no more, and a directory
 * gone meanwhile has its delete or rename queued), the walk is not
 * complete. A budget (*left > 0) is spent a subdirectory at a time:
 * when it runs out, dfd is left where the listing goes on, and 1 says
 * so; 0 when the listing is done.
 */
static int
walk_dir(struct watcher *w, int dfd, struct walkrec *dir, long *left)
{
	char buf[8 * 1024]
	    __attribute__((aligned(__alignof__(struct kdirent64))));
	struct walkrec sub = *dir;
	struct kdirent64 *de;
	struct dnode *c;
	struct stat st;
	fsid_t other;
	long nread, off;
	uint64_t key;
	size_t len;
	off_t at = dir->at;	/* where the entry looked at starts */
	int known, leafok;

	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < nread;
		    at = de->d_off, off += de->d_reclen) {
			de = (struct kdirent64 *)(buf + off);
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
				continue;
			if (*left > 0 && --*left == 0) {
				/* This one and the rest, next time. */
				dir->at = at;
				if (lseek(dfd, at, SEEK_SET) == at)
					return 1;
				w->fan->complete = 0;
				return 0;
			}
			known = (dir->leafok || de->d_type == DT_UNKNOWN) &&
			    fstatat(dfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0;
			if (de->d_type == DT_UNKNOWN &&
			    (!known || !S_ISDIR(st.st_mode)))
				continue;
			if (watch_excluded(w, &w->tree.node[dir->node],
			    de->d_name, 1))
				continue;
			sub.h.fh.handle_bytes = HANDLE_MAX;
			if (name_to_handle_at(dfd, de->d_name, &sub.h.fh,
			    &sub.mnt, 0) == -1) {
				if (errno != ENOENT)
					w->fan->complete = 0;
				continue;
			}
			/*
			 * A mount point: the same file system (a bind
			 * mount) is walked on, and so is another one that
			 * has its mark (mounts.c); one that could not take
			 * a mark has no events (said at start).
			 */
			sub.fsid = dir->fsid;
			sub.leafok = dir->leafok;
			if (sub.mnt != dir->mnt && !same_fs(dfd, de->d_name,
			    &dir->fsid, &other, &leafok)) {
				if (fs_find(w->fan, &other) == NULL)
					continue;
				sub.fsid = other;
				sub.leafok = leafok && !w->noleaf;
			}
			key = key_of(&sub.fsid, &sub.h.fh);
			len = strlen(de->d_name);
			if ((c = place_dir(w, &w->tree.node[dir->node],
			    de->d_name, len, key)) == NULL) {
				w->fan->complete = 0;
				continue;
			}
			if (dir->leafok && known && st.st_nlink == 2 &&
			    sub.mnt == dir->mnt)
				continue;
			sub.node = node_index(w, c);
			walk_push(&w->fan->walkq, &sub);
		}
	if (nread == -1)
		w->fan->complete = 0;
	return 0;
}

/*
 * Every directory below the roots, by handle, depth first (so that
 * what waits is a few directories' subdirectories, not a level's);
 * with a budget, that many subdirectories at most, then 1: the walk
 * goes on at the next call. Then the events queued meanwhile are
 * counted (FIONREAD counts 24 bytes an event): those may be older
 * than what the walk saw.
 */
static int
fan_learn(struct watcher *w, long budget)
{
	struct fan *f = w->fan;
	struct walkrec r;
	int i, dfd, queued;

	if (!f->walking) {
		f->walking = 1;
		f->complete = 1;
		f->walkq.len = 0;
		f->walkfd = -1;
		for (i = 0; w->recursive && i < w->nroots; i++) {
			if (!w->roots[i].alive || w->roots[i].node == NULL ||
			    f->rootkey[i] == 0)
				continue;
			r.node = node_index(w, w->roots[i].node);
			r.h.fh.handle_bytes = HANDLE_MAX;
			r.leafok = !w->noleaf &&
			    nlink_counts_subdirs(sys_path(&w->roots[i]));
			if (fsid_of(sys_path(&w->roots[i]), &r.fsid) == -1 ||
			    fs_find(f, &r.fsid) == NULL ||
			    name_to_handle_at(AT_FDCWD, sys_path(&w->roots[i]),
			    &r.h.fh, &r.mnt, 0) == -1) {
				f->complete = 0;
				continue;
			}
			walk_push(&f->walkq, &r);
		}
	}
	for (;;) {
		if (f->walkfd != -1) {
			/* Where the last call stopped. */
			dfd = f->walkfd;
			r = f->walkat;
			f->walkfd = -1;
		} else if (walk_pop(&f->walkq, &r) == 0) {
			if ((dfd = fs_open(f, &r.fsid, &r.h.fh, O_RDONLY |
			    O_DIRECTORY | O_CLOEXEC)) == -1) {
				if (errno != ESTALE && errno != ENOENT)
					f->complete = 0;
				continue;
			}
			r.at = 0;
		} else
			break;
		if (walk_dir(w, dfd, &r, &budget) == 1) {
			f->walkfd = dfd;
			f->walkat = r;
			return 1;
		}
		close(dfd);
	}
	pathbuf_free(&f->walkq);
	f->walking = 0;
	if (ioctl(w->ifd, FIONREAD, &queued) == -1)
		queued = INT_MAX;	/* all to come may be older */
	f->window = queued / FAN_EVENT_METADATA_LEN;
	return 0;
}

static void
fan_open(struct watcher *w)
{
	struct fan *f = w->fan;

	tree_keyed(&w->tree);
	if (f == NULL) {
		if ((f = w->fan = calloc(1, sizeof(*f))) == NULL ||
		    (f->rootkey = calloc(w->nroots, sizeof(uint64_t))) ==
		    NULL || (f->parentkey = calloc(w->nroots,
		    sizeof(uint64_t))) == NULL)
			err(1, "calloc");
		/* Our own writes, to a file on a watched file system. */
		ignore_add_pid(&w->ign, f->self = getpid());
	}
	if (ready.fd != -1) {
		w->ifd = ready.fd;
		f->unlimited = ready.unlimited;
		f->fs = ready.fs;
		f->nfs = ready.nfs;
		ready.fd = -1;
		ready.fs = NULL;
		ready.nfs = 0;
		return;
	}
	if ((w->ifd = init_fd(&f->unlimited)) == -1)
		err(1, "fanotify_init");
}

static int
fan_root(struct watcher *w, int i)
{
	struct fan *f = w->fan;
	struct root *r = &w->roots[i];
	const char *path = sys_path(r);
	struct pathbuf parent = { 0 };
	struct stat st;
	fsid_t fsid;
	int mfd;

	if (stat(path, &st) == -1 || fsid_of(path, &fsid) == -1)
		return -1;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	if (fs_find(f, &fsid) == NULL) {
		if (fanotify_mark(w->ifd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
		    mark_mask(w), AT_FDCWD, path) == -1)
			return -1;
		if ((mfd = mount_fd(path)) == -1)
			return -1;
		f->fs = reallocarray(f->fs, f->nfs + 1, sizeof(*f->fs));
		if (f->fs == NULL)
			err(1, "reallocarray");
		f->fs[f->nfs].fsid = fsid;
		f->fs[f->nfs].mnt = NULL;
		f->fs[f->nfs++].mfd = mfd;
	}
	f->rootkey[i] = S_ISDIR(st.st_mode) ? path_key(path) : 0;
	if ((r->node = add_node(w, NULL, r->path, r->pathlen,
	    f->rootkey[i])) == NULL)
		return -1;
	f->parentkey[i] = 0;
	if (r->pathlen > 0) {
		parent_path(r, &parent);
		f->parentkey[i] = path_key(parent.s);
		pathbuf_free(&parent);
	}
	return 0;
}

/* The file system mounted at m takes a mark, unless it has one. */
static int
mark_mount(struct watcher *w, const struct mount *m, char *why,
    size_t whylen)
{
	struct fan *f = w->fan;
	fsid_t fsid;

	if (fsid_of(m->path, &fsid) == -1) {
		snprintf(why, whylen, "%s: %s", m->fstype, strerror(errno));
		return -1;
	}
	if (fs_find(f, &fsid) != NULL)
		return 0;
	if (fanotify_mark(w->ifd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
	    mark_mask(w), AT_FDCWD, m->path) == -1) {
		snprintf(why, whylen, "%s: %s", m->fstype, strerror(errno));
		return -1;
	}
	if ((f->fs = reallocarray(f->fs, f->nfs + 1, sizeof(*f->fs))) == NULL)
		err(1, "reallocarray");
	f->fs[f->nfs].fsid = fsid;
	f->fs[f->nfs].mfd = -1;
	if ((f->fs[f->nfs++].mnt = strdup(m->path)) == NULL)
		err(1, "strdup");
	return 0;
}

/*
 * Unmounted from m's mount point: its file system is known by another
 * mount below a root, or is dropped, its mark removed if it is still
 * mounted somewhere (else it went with it).
 */
static void
unmark_mount(struct watcher *w, const struct mount *m)
{
	struct fan *f = w->fan;
	const struct mount *o;
	fsid_t fsid;
	size_t i;
	int k;

	for (k = 0; k < f->nfs; k++)
		if (f->fs[k].mnt != NULL && strcmp(f->fs[k].mnt, m->path) == 0)
			break;
	if (k == f->nfs)
		return;
	for (i = 0; i < w->mounts.n; i++) {
		o = &w->mounts.m[i];
		if (o->dev != m->dev || fsid_of(o->path, &fsid) == -1 ||
		    memcmp(&fsid, &f->fs[k].fsid, sizeof(fsid)) != 0)
			continue;
		if (mount_root(w, o) != -1) {
			free(f->fs[k].mnt);
			if ((f->fs[k].mnt = strdup(o->path)) == NULL)
				err(1, "strdup");
			return;
		}
		(void)fanotify_mark(w->ifd, FAN_MARK_REMOVE |
		    FAN_MARK_FILESYSTEM, mark_mask(w), AT_FDCWD, o->path);
	}
	free(f->fs[k].mnt);
	f->fs[k] = f->fs[--f->nfs];
}

/*
 * The tree at a mount point is another one now (mounted, unmounted):
 * the old one's nodes go, and the new one is reported as moved in.
 */
static void
replant(struct watcher *w, const char *path)
{
	const char *name = strrchr(path, '/') + 1, *rest;
	struct dnode *parent = NULL, *old, *child;
	struct pathbuf dir = { 0 };
	size_t len = strlen(name);
	uint64_t key;
	int i, dfd;

	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive && w->roots[i].node != NULL &&
		    strncmp(path, w->roots[i].path, w->roots[i].pathlen) == 0 &&
		    path[w->roots[i].pathlen] == '/')
			break;
	if (i == w->nroots)
		return;
	rest = path + w->roots[i].pathlen;
	pathbuf_append(&dir, rest, name - 1 - rest);
	pathbuf_append(&dir, "", 1);
	if (descend(w, w->roots[i].node, dir.s, &parent) != INSIDE) {
		pathbuf_free(&dir);
		return;
	}
	pathbuf_free(&dir);
	if ((old = tree_child(&w->tree, parent, name, len)) != NULL)
		drop_node(w, old);
	record_path(w, parent, name, len);
	emit_one(w, IN_MOVED_TO | IN_ISDIR, 0);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return;
	if (fd_marked(w, dfd) && (key = fd_key(w, dfd)) != 0 &&
	    (child = place_dir(w, parent, name, len, key)) != NULL)
		moved_in(w, child, dfd);
	close(dfd);
}

static int
fan_mount(struct watcher *w, const struct mount *m, enum mount_how how,
    char *why, size_t whylen)
{
	switch (how) {
	case MOUNT_START:
	case MOUNT_MARK:
		return mark_mount(w, m, why, whylen);
	case MOUNT_NEW:
		break;
	case MOUNT_GONE:
		unmark_mount(w, m);
		break;
	}
	replant(w, m->path);
	return 0;
}

static void
fan_close(struct watcher *w)
{
	struct fan *f = w->fan;
	int i;

	if (w->ifd != -1)
		close(w->ifd);
	w->ifd = -1;
	if (f == NULL)
		return;
	for (i = 0; i < f->nfs; i++) {
		if (f->fs[i].mfd != -1)
			close(f->fs[i].mfd);
		free(f->fs[i].mnt);
	}
	free(f->fs);
	f->fs = NULL;
	f->nfs = 0;
	tree_clear(&w->tree);
	tree_init(&w->tree);
	tree_keyed(&w->tree);
	for (i = 0; i < w->nroots; i++)
		w->roots[i].node = NULL;
	f->nquiet = 0;
	neg_clear(f);
	pathbuf_free(&f->walkq);
	if (f->walking && f->walkfd != -1)
		close(f->walkfd);
	f->walkfd = -1;
	f->walking = f->complete = 0;
	f->window = 0;
}

static void
fan_free(struct watcher *w)
{
	struct fan *f = w->fan;

	fan_close(w);
	if (f == NULL)
		return;
	free(f->roff);
	free(f->neg);
	free(f->rootkey);
	free(f->parentkey);
	pathbuf_free(&f->raw);
	pathbuf_free(&f->more);
	free(f);
	w->fan = NULL;
}

const struct backend backend_fanotify = {
	"fanotify", fan_open, fan_root, fan_dispatch, fan_close, fan_free,
	fan_learn, FAN_READ, fan_mount, NULL, NULL, drop_node
};
