/*
 * The poll backend, and auto's periodic rescan: each scan lists the
 * trees and compares every entry's (inode, type, size, mtime, ctime,
 * mode) with the last scan, emitting the records inotify would have
 * given. An entry found under a new name with an inode that left its
 * old one is a rename: one MOVED_FROM/MOVED_TO pair. What the kernel
 * reported since the last scan (scan_seen) is not reported again.
 *
 * An entry costs 44 bytes, its name, two hash links, and its place in
 * its directory's listing; only the end of a directory listing removes
 * entries: a directory that cannot be listed keeps everything below it.
 *
 * A directory's entries change its mtime and ctime. Once they have held
 * still across two listings far enough apart (struct pdir), the last
 * listing stands in for getdents(2): each entry in it is still stat'ed,
 * and any surprise lists the directory again.
 */
#define _GNU_SOURCE	/* timerfd */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "watch.h"

/* mode's bits above the file type and permissions. */
#define F_PARITY	0x10000u	/* seen in the scan of this parity */
#define F_ROOT		0x20000u
#define F_KEEP		0x40000u	/* listing failed: keep what is below */
#define F_LIVE		0x80000u
#define MODE_BITS	0xffffu

struct pent {
	uint64_t	 ino;
	int64_t		 size;		/* a directory's: its pdir + 1, or 0 */
	uint32_t	 mtime, ctime;	/* hashes of the times in ns */
	uint32_t	 mode;		/* st_mode, and the flags above */
	uint32_t	 parent, name;	/* name: offset in the arena */
	uint32_t	 nnext, inext;	/* by (parent, name), by inode */
} __attribute__((packed, aligned(4)));

/*
 * A directory's last complete listing: its entries, and the times it
 * had. The times a change stamps come from a clock with ticks of 2 s at
 * worst (FAT): a second listing at least HOLD_MS after the first with
 * the same times saw every change stamped so; one after it stamps other
 * times. Only on file systems known to stamp every change of a
 * directory's entries (FUSE and most network ones need not).
 */
struct pdir {
	uint32_t	*kids;		/* entries, in the listing's order */
	uint32_t	 nkids;
	uint32_t	 next_free;
	dev_t		 dev;
	ino_t		 ino;
	struct timespec	 mtime, ctime;
	int64_t		 since;		/* ms, monotonic: first listed so */
	uint32_t	 said;		/* the last scan that said a change in it */
	uint8_t		 holds;		/* the listing stands for getdents */
	uint8_t		 listed;	/* a listing was read whole */
};

#define HOLD_MS		2500

struct scan {
	struct pent	*e;
	uint32_t	 cap, used, free_list, count;
	uint32_t	*by_name, *by_ino;
	uint32_t	 nbuckets;
	char		*names;
	size_t		 names_len, names_cap, names_dead;
	uint32_t	*root;		/* each root's entry */
	uint32_t	 parity;	/* F_PARITY or 0: this scan's */
	int		 report;	/* emit records (not a first scan) */
	int		 scanning;	/* our own emits: not "seen" */
	uint32_t	 cookie;
	uint32_t	 next;		/* the entry after the last one visited */
	uint32_t	*keep;		/* entries marked F_KEEP this scan */
	size_t		 nkeep, keepcap;
	uint64_t	*seen;		/* open addressing, 0 is empty */
	size_t		 nseen, seencap;
	/*
	 * The CREATEs this scan said: a file made through the mount, seen
	 * by the scan before the kernel's event for it was read, is said
	 * once. 1 is a name taken out again.
	 */
	uint64_t	*said;
	size_t		 nsaid_set, saidcap;
	struct pdir	*dirs;
	uint32_t	 ndirs, dircap, dirfree;	/* dirfree: a pdir + 1, or 0 */
	uint32_t	*kids;		/* the listing being read */
	size_t		 nkids, kidcap;
	uint32_t	 gen;		/* this scan's number */
	uint64_t	 nsaid;		/* entries it found made, gone or moved */
	uint32_t	*moved;		/* directories whose times moved */
	size_t		 nmoved, movedcap;
	uint32_t	*chain;		/* entry_path()'s */
	size_t		 nchain, chaincap;
	struct pathbuf	 path, vpath, names_stack;
};

#define MIN_BUCKETS	1024

static uint32_t
time_hash(const struct timespec *ts)
{
	uint64_t ns = (uint64_t)ts->tv_sec * 1000000000ULL + ts->tv_nsec;

	return (uint32_t)(ns ^ (ns >> 32));
}

static const char *
name_of(const struct scan *s, const struct pent *e)
{
	return s->names + e->name;
}

static uint32_t
name_bucket(const struct scan *s, uint32_t parent, const char *name,
    size_t len)
{
	return iobs_fnv1a(name, len, IOBS_FNV_BASIS ^ parent) &
	    (s->nbuckets - 1);
}

/*
 * An entry's inode, and its file system: mounts below a root reuse
 * inode numbers (every tmpfs root is 1), and a mount is no rename.
 */
static uint64_t
ino_of(const struct stat *st)
{
	return st->st_ino ^ (uint64_t)st->st_dev * 0x9e3779b97f4a7c15ULL;
}

static uint32_t
ino_bucket(const struct scan *s, uint64_t ino)
{
	return (ino * 0x9e3779b97f4a7c15ULL) >> 32 & (s->nbuckets - 1);
}

static void
link_entry(struct scan *s, uint32_t i)
{
	struct pent *e = &s->e[i];
	const char *n = name_of(s, e);
	uint32_t b;

	b = name_bucket(s, e->parent, n, strlen(n));
	e->nnext = s->by_name[b];
	s->by_name[b] = i;
	b = ino_bucket(s, e->ino);
	e->inext = s->by_ino[b];
	s->by_ino[b] = i;
}

static void
unlink_chain(struct scan *s, uint32_t *head, uint32_t i, int byname)
{
	uint32_t *p;

	for (p = head; *p != 0; p = byname ? &s->e[*p].nnext :
	    &s->e[*p].inext)
		if (*p == i) {
			*p = byname ? s->e[i].nnext : s->e[i].inext;
			return;
		}
}

static void
unlink_entry(struct scan *s, uint32_t i)
{
	struct pent *e = &s->e[i];
	const char *n = name_of(s, e);

	unlink_chain(s, &s->by_name[name_bucket(s, e->parent, n, strlen(n))],
	    i, 1);
	unlink_chain(s, &s->by_ino[ino_bucket(s, e->ino)], i, 0);
}

static void
rehash(struct scan *s, uint32_t nbuckets)
{
	uint32_t i;

	free(s->by_name);
	free(s->by_ino);
	s->nbuckets = nbuckets;
	s->by_name = calloc(nbuckets, sizeof(uint32_t));
	s->by_ino = calloc(nbuckets, sizeof(uint32_t));
	if (s->by_name == NULL || s->by_ino == NULL)
		err(1, "calloc");
	for (i = 1; i < s->used; i++)
		if (s->e[i].mode & F_LIVE)
			link_entry(s, i);
}

/* Names of removed entries pile up: copy the live ones now and then. */
static void
compact_names(struct scan *s)
{
	char *old = s->names;
	size_t len = 0, n;
	uint32_t i;

	if ((s->names = malloc(s->names_cap)) == NULL)
		err(1, "malloc");
	for (i = 1; i < s->used; i++) {
		if (!(s->e[i].mode & F_LIVE))
			continue;
		n = strlen(old + s->e[i].name) + 1;
		memcpy(s->names + len, old + s->e[i].name, n);
		s->e[i].name = len;
		len += n;
	}
	free(old);
	s->names_len = len;
	s->names_dead = 0;
}

static uint32_t
store_name(struct scan *s, const char *name, size_t len)
{
	size_t off;

	if (s->names_dead > s->names_len / 2 && s->names_dead > 65536)
		compact_names(s);
	if (s->names_len + len + 1 > s->names_cap) {
		s->names_cap = s->names_cap ? s->names_cap * 2 : 65536;
		while (s->names_cap < s->names_len + len + 1)
			s->names_cap *= 2;
		if ((s->names = realloc(s->names, s->names_cap)) == NULL)
			err(1, "realloc");
	}
	if (s->names_len + len + 1 > UINT32_MAX)
		errx(1, "poll: more names than 4 GiB; watch a smaller tree");
	off = s->names_len;
	memcpy(s->names + off, name, len);
	s->names[off + len] = '\0';
	s->names_len += len + 1;
	return off;
}

static void
set_attrs(struct pent *e, const struct stat *st)
{
	e->ino = ino_of(st);
	if (!S_ISDIR(st->st_mode))
		e->size = st->st_size;
	e->mtime = time_hash(&st->st_mtim);
	e->ctime = time_hash(&st->st_ctim);
	e->mode = (e->mode & ~MODE_BITS) | (st->st_mode & MODE_BITS);
}

static uint32_t
add_entry(struct scan *s, uint32_t parent, const char *name, size_t len,
    const struct stat *st)
{
	struct pent *e;
	uint32_t i;

	if (s->count >= 2 * s->nbuckets)
		rehash(s, s->nbuckets * 2);
	if (s->free_list != 0) {
		i = s->free_list;
		s->free_list = s->e[i].parent;
	} else {
		if (s->used >= s->cap) {
			s->cap = s->cap ? s->cap * 2 : 4096;
			s->e = reallocarray(s->e, s->cap, sizeof(*s->e));
			if (s->e == NULL)
				err(1, "reallocarray");
		}
		i = s->used++;
	}
	e = &s->e[i];
	memset(e, 0, sizeof(*e));
	e->parent = parent;
	e->name = store_name(s, name, len);
	e->mode = F_LIVE | s->parity;
	set_attrs(e, st);
	link_entry(s, i);
	s->count++;
	return i;
}

static void
free_entry(struct scan *s, uint32_t i)
{
	struct pent *e = &s->e[i];

	if (S_ISDIR(e->mode) && e->size > 0) {
		struct pdir *d = &s->dirs[e->size - 1];

		free(d->kids);
		memset(d, 0, sizeof(*d));
		d->next_free = s->dirfree;
		s->dirfree = e->size;
	}
	unlink_entry(s, i);
	s->names_dead += strlen(name_of(s, &s->e[i])) + 1;
	s->e[i].mode = 0;
	s->e[i].parent = s->free_list;
	s->free_list = i;
	s->count--;
}

static uint32_t
lookup_name(const struct scan *s, uint32_t parent, const char *name,
    size_t len)
{
	uint32_t i;

	for (i = s->by_name[name_bucket(s, parent, name, len)]; i != 0;
	    i = s->e[i].nnext)
		if (s->e[i].parent == parent &&
		    strcmp(name_of(s, &s->e[i]), name) == 0)
			return i;
	return 0;
}

/*
 * A listing comes in the order of the last one, and entries were made
 * in that order: the one after the last visited is tried first, which
 * spares the hash chains and keeps to memory read in sequence.
 */
static uint32_t
lookup_next(const struct scan *s, uint32_t parent, const char *name,
    size_t len)
{
	uint32_t i = s->next;

	if (i != 0 && i < s->used && (s->e[i].mode & F_LIVE) &&
	    s->e[i].parent == parent &&
	    strcmp(name_of(s, &s->e[i]), name) == 0)
		return i;
	return lookup_name(s, parent, name, len);
}

/* The entry that left its name for this one: same inode, unseen. */
static uint32_t
lookup_moved(const struct scan *s, const struct stat *st)
{
	uint32_t i;

	if (!S_ISDIR(st->st_mode) && st->st_nlink != 1)
		return 0;	/* a new hard link, perhaps */
	for (i = s->by_ino[ino_bucket(s, ino_of(st))]; i != 0;
	    i = s->e[i].inext) {
		const struct pent *e = &s->e[i];

		if (e->ino == ino_of(st) && !(e->mode & F_ROOT) &&
		    name_of(s, e)[0] != '\0' &&
		    (e->mode & F_PARITY) != s->parity &&
		    (e->mode & S_IFMT) == (st->st_mode & S_IFMT))
			return i;
	}
	return 0;
}

/* Appends i to the array *a of *n entries, room for *cap. */
static void
push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t i)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((*a = reallocarray(*a, *cap, sizeof(**a))) == NULL)
			err(1, "reallocarray");
	}
	(*a)[(*n)++] = i;
}

/* The path of entry i, raw or encoded, into pb. */
static void
entry_path(struct scan *s, uint32_t i, int vis, struct pathbuf *pb)
{
	const char *name;
	size_t n, len;

	/* The entries up to the root, however deep. */
	s->nchain = 0;
	while (i != 0) {
		push_u32(&s->chain, &s->nchain, &s->chaincap, i);
		if (s->e[i].mode & F_ROOT)
			break;
		i = s->e[i].parent;
	}
	n = s->nchain;
	pb->len = 0;
	pathbuf_reserve(pb, 1);
	while (n-- > 0) {
		name = name_of(s, &s->e[s->chain[n]]);
		len = strlen(name);
		if (!(s->e[s->chain[n]].mode & F_ROOT))
			pathbuf_append(pb, "/", 1);
		if (vis) {
			pathbuf_reserve(pb, IOBS_VIS_MAX(len));
			pb->len += iobs_vis(pb->s + pb->len, name, len);
		} else
			pathbuf_append(pb, name, len);
	}
	if (pb->len == 0)
		pathbuf_append(pb, vis ? "/" : "", vis);
	pb->s[pb->len] = '\0';
}

static uint64_t
path_hash(const char *vis, size_t len)
{
	uint64_t h = iobs_fnv1a(vis, len, IOBS_FNV_BASIS);

	return h != 0 ? h : 1;
}

static int
was_seen(const struct scan *s, const char *vis, size_t len)
{
	uint64_t h = path_hash(vis, len);
	size_t i;

	if (s->nseen == 0)
		return 0;
	for (i = h & (s->seencap - 1); s->seen[i] != 0;
	    i = (i + 1) & (s->seencap - 1))
		if (s->seen[i] == h)
			return 1;
	return 0;
}

static void
seen_insert(struct scan *s, uint64_t h)
{
	size_t i;

	for (i = h & (s->seencap - 1); s->seen[i] != 0;
	    i = (i + 1) & (s->seencap - 1))
		if (s->seen[i] == h)
			return;
	s->seen[i] = h;
	s->nseen++;
}

/* The slot of h in said, or of the 0 that ends its run. */
static size_t
said_slot(const struct scan *s, uint64_t h)
{
	size_t i;

	for (i = h & (s->saidcap - 1); s->said[i] != 0 && s->said[i] != h;
	    i = (i + 1) & (s->saidcap - 1))
		continue;
	return i;
}

static void
said_add(struct scan *s, uint64_t h)
{
	uint64_t *old;
	size_t i, oldcap;

	h = h > 1 ? h : 2;
	if (2 * (s->nsaid_set + 1) > s->saidcap) {
		old = s->said;
		oldcap = s->saidcap;
		s->saidcap = oldcap ? oldcap * 2 : 64;
		if ((s->said = calloc(s->saidcap, sizeof(*s->said))) == NULL)
			err(1, "calloc");
		s->nsaid_set = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i] > 1)
				said_add(s, old[i]);
		free(old);
	}
	if (s->said[i = said_slot(s, h)] == 0) {
		s->said[i] = h;
		s->nsaid_set++;
	}
}

/* 1 when h was said, and no longer is. */
static int
said_take(struct scan *s, uint64_t h)
{
	size_t i;

	h = h > 1 ? h : 2;
	if (s->nsaid_set == 0 || s->said[i = said_slot(s, h)] == 0)
		return 0;
	s->said[i] = 1;
	return 1;
}

int
scan_seen(struct watcher *w, const char *vis, size_t len, uint32_t mask)
{
	struct scan *s = w->scan;
	uint64_t *old;
	size_t i, oldcap;
	int said;

	if (s == NULL || s->scanning)
		return 0;
	/* Made, gone or made again: the kernel says it now. */
	said = said_take(s, path_hash(vis, len));
	if (said && (mask & IN_CREATE))
		return 1;
	if (2 * (s->nseen + 1) > s->seencap) {
		old = s->seen;
		oldcap = s->seencap;
		s->seencap = oldcap ? oldcap * 2 : 256;
		if ((s->seen = calloc(s->seencap, sizeof(*s->seen))) == NULL)
			err(1, "calloc");
		s->nseen = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i] != 0)
				seen_insert(s, old[i]);
		free(old);
	}
	seen_insert(s, path_hash(vis, len));
	return 0;
}

static void
scan_emit(struct watcher *w, uint32_t mask, uint32_t cookie,
    const struct pathbuf *vp)
{
	struct scan *s = w->scan;

	/* Printed or not: they say why their directory's times moved. */
	if (mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO))
		s->nsaid++;
	if (!s->report || !(mask & (w->print_mask & ~IN_ISDIR)))
		return;
	if (was_seen(s, vp->s, vp->len))
		return;
	if (mask & IN_CREATE)
		said_add(s, path_hash(vp->s, vp->len));
	s->scanning = 1;
	emit_path(w, mask, cookie, vp->s, vp->len);
	s->scanning = 0;
}

/* The record path of name in the directory whose path is w->scan->vpath. */
static void
child_vpath(struct watcher *w, const char *name, size_t len,
    struct pathbuf *pb)
{
	pb->len = 0;
	pathbuf_append(pb, w->scan->vpath.s, w->scan->vpath.len);
	pathbuf_reserve(pb, 1 + IOBS_VIS_MAX(len));
	pb->s[pb->len++] = '/';
	pb->len += iobs_vis(pb->s + pb->len, name, len);
	pb->s[pb->len] = '\0';
}

static uint32_t
isdir_bit(uint32_t mode)
{
	return S_ISDIR(mode) ? IN_ISDIR : 0;
}

/* An entry's content changed, and its attributes: IN_MODIFY, IN_ATTRIB. */
static uint32_t
changes(const struct pent *e, const struct stat *st, int renamed)
{
	int modified = 0, attrib;

	/* A directory's size and times change with its entries. */
	if (!S_ISDIR(st->st_mode))
		modified = e->size != st->st_size ||
		    e->mtime != time_hash(&st->st_mtim);
	attrib = (e->mode & MODE_BITS) != (st->st_mode & MODE_BITS) ||
	    (!S_ISDIR(st->st_mode) && !modified && !renamed &&
	    e->ctime != time_hash(&st->st_ctim));
	return (modified ? IN_MODIFY : 0) | (attrib ? IN_ATTRIB : 0);
}

/* What changed in an entry that kept its name and inode. */
static void
compare(struct watcher *w, struct pent *e, const struct stat *st,
    const struct pathbuf *vp, int renamed)
{
	uint32_t what = changes(e, st, renamed);
	int modified = what & IN_MODIFY, attrib = what & IN_ATTRIB;

	if (modified) {
		scan_emit(w, IN_MODIFY, 0, vp);
		scan_emit(w, IN_CLOSE_WRITE, 0, vp);
	}
	if (attrib)
		scan_emit(w, IN_ATTRIB | isdir_bit(st->st_mode), 0, vp);
	set_attrs(e, st);
}

static int
excluded(struct watcher *w, const struct root *r, const char *name,
    int isdir)
{
	struct pathbuf *rel = &w->rel;
	size_t skip;

	if (w->exclude.n == 0 && w->gi == NULL)
		return 0;
	if (!w->exclude.whole_path && w->gi == NULL)
		return iobs_exclude_match(&w->exclude, NULL, name);
	skip = r->pathlen + 1;
	rel->len = 0;
	if (w->path.len > skip) {
		pathbuf_append(rel, w->path.s + skip, w->path.len - skip);
		pathbuf_append(rel, "/", 1);
	}
	pathbuf_append(rel, name, strlen(name));
	if (w->exclude.n > 0 && iobs_exclude_match(&w->exclude, rel->s, name))
		return 1;
	return w->gi != NULL && iobs_gi_excluded(w->gi, r - w->roots, rel->s,
	    rel->len, isdir);
}

static void
keep_below(struct scan *s, uint32_t i)
{
	push_u32(&s->keep, &s->nkeep, &s->keepcap, i);
	s->e[i].mode |= F_KEEP;
}

/*
 * This scan found an entry of directory entry dir made, gone or moved,
 * or dir's own ATTRIB: that is why its times moved.
 */
static void
said_in(struct scan *s, uint32_t dir)
{
	if (dir != 0 && S_ISDIR(s->e[dir].mode) && s->e[dir].size > 0)
		s->dirs[s->e[dir].size - 1].said = s->gen;
}

static int
below(const struct scan *s, uint32_t i, uint32_t top)
{
	for (; i != 0; i = s->e[i].parent) {
		if (i == top)
			return 1;
		if (s->e[i].mode & F_ROOT)
			break;
	}
	return 0;
}

static int depth(const struct scan *, uint32_t);
static int deepest_first(const void *, const void *);

struct gone {
	uint32_t	 i;
	int		 depth;
};

/*
 * Another inode now has entry i's name. A file renamed over another
 * says nothing of the old one, as inotify does; a directory, or a
 * change of type, is reported gone with all below it first.
 */
static void
replaced(struct watcher *w, uint32_t i, const struct stat *st)
{
	struct scan *s = w->scan;
	struct gone *g = NULL;
	size_t n = 0, cap = 0, k;
	uint32_t j;

	if (!S_ISDIR(s->e[i].mode) &&
	    (s->e[i].mode & S_IFMT) == (st->st_mode & S_IFMT)) {
		free_entry(s, i);
		return;
	}
	for (j = 1; j < s->used; j++) {
		if (!(s->e[j].mode & F_LIVE) || !below(s, j, i))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((g = reallocarray(g, cap, sizeof(*g))) == NULL)
				err(1, "reallocarray");
		}
		g[n].i = j;
		g[n++].depth = depth(s, j);
	}
	if (n > 1)
		qsort(g, n, sizeof(*g), deepest_first);
	for (k = 0; k < n; k++) {
		entry_path(s, g[k].i, 1, &s->path);
		scan_emit(w, IN_DELETE | isdir_bit(s->e[g[k].i].mode), 0,
		    &s->path);
	}
	for (k = 0; k < n; k++)
		free_entry(s, g[k].i);
	free(g);
}

/* One entry of a listing: compared, moved, or new. */
static void
visit(struct watcher *w, uint32_t dir, const char *name, const struct stat *st,
    struct pathbuf *vp)
{
	struct scan *s = w->scan;
	uint32_t i, m;
	size_t len = strlen(name);

	i = lookup_next(s, dir, name, len);
	if (i != 0 && s->e[i].ino == ino_of(st) &&
	    (s->e[i].mode & S_IFMT) == (st->st_mode & S_IFMT)) {
		s->e[i].mode = (s->e[i].mode & ~F_PARITY) | s->parity;
		s->next = i + 1;
		/* Most entries have not changed: no path to build. */
		if (changes(&s->e[i], st, 0) == 0) {
			set_attrs(&s->e[i], st);
			return;
		}
		child_vpath(w, name, len, vp);
		compare(w, &s->e[i], st, vp, 0);
		/* Its own ATTRIB said why a directory's times moved. */
		said_in(s, i);
		return;
	}
	child_vpath(w, name, len, vp);
	if (i != 0)
		replaced(w, i, st);
	if ((m = lookup_moved(s, st)) != 0) {
		entry_path(s, m, 1, &s->path);
		s->cookie = s->cookie + 1 ? s->cookie + 1 : 1;
		scan_emit(w, IN_MOVED_FROM | isdir_bit(st->st_mode),
		    s->cookie, &s->path);
		scan_emit(w, IN_MOVED_TO | isdir_bit(st->st_mode), s->cookie,
		    vp);
		unlink_entry(s, m);
		/* Both moved, the old directory's times and its own. */
		said_in(s, s->e[m].parent);
		said_in(s, m);
		s->names_dead += strlen(name_of(s, &s->e[m])) + 1;
		s->e[m].parent = dir;
		s->e[m].name = store_name(s, name, len);
		s->e[m].mode = (s->e[m].mode & ~F_PARITY) | s->parity;
		link_entry(s, m);
		/* A rename changes the inode's ctime: no ATTRIB for it. */
		compare(w, &s->e[m], st, vp, 1);
		s->next = m + 1;
		return;
	}
	s->next = add_entry(s, dir, name, len, st) + 1;
	scan_emit(w, IN_CREATE | isdir_bit(st->st_mode), 0, vp);
	if (S_ISREG(st->st_mode)) {
		if (st->st_size > 0)
			scan_emit(w, IN_MODIFY, 0, vp);
		scan_emit(w, IN_CLOSE_WRITE, 0, vp);
	}
}

/* Does dfd's file system stamp a directory whenever its entries change? */
static int
stamps_entries(int dfd)
{
	static const unsigned long magic[] = {
		0xEF53,		/* ext2, ext3, ext4 */
		0x58465342,	/* XFS */
		0x9123683E,	/* Btrfs */
		0x01021994,	/* tmpfs */
		0xF2F52010,	/* F2FS */
		0x2FC12FC1,	/* ZFS */
		0xCA451A4E,	/* bcachefs */
		0x6969,		/* NFS: its client's caches go by them */
	};
	struct statfs sf;
	size_t i;

	if (fstatfs(dfd, &sf) == -1)
		return 0;
	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if ((unsigned long)sf.f_type == magic[i])
			return 1;
	return 0;
}

/* Directory entry i's pdir, made on first use. */
static struct pdir *
dir_of(struct scan *s, uint32_t i)
{
	uint32_t k;

	if (s->e[i].size > 0)
		return &s->dirs[s->e[i].size - 1];
	if (s->dirfree != 0) {
		k = s->dirfree - 1;
		s->dirfree = s->dirs[k].next_free;
	} else {
		if (s->ndirs == s->dircap) {
			s->dircap = s->dircap ? s->dircap * 2 : 64;
			s->dirs = reallocarray(s->dirs, s->dircap,
			    sizeof(*s->dirs));
			if (s->dirs == NULL)
				err(1, "reallocarray");
		}
		k = s->ndirs++;
	}
	memset(&s->dirs[k], 0, sizeof(s->dirs[k]));
	s->e[i].size = k + 1;
	return &s->dirs[k];
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* d's listing holds no more: the next one starts from its times. */
static void
unhold(struct pdir *d)
{
	d->holds = 0;
	d->ino = 0;
}

/* What listing_state() finds of a directory's last listing. */
enum listing { L_MOVED, L_SAME, L_CONFIRMS, L_HOLDS };

/*
 * Whether d's listing stands for reading the directory open as dfd now
 * (L_HOLDS; struct pdir). If not, the listing about to be read is
 * noted: of times that moved since the last one (L_MOVED), of the same
 * times (L_SAME), or of the same ones HOLD_MS later, which makes it
 * hold (L_CONFIRMS).
 */
static enum listing
listing_state(struct pdir *d, int dfd)
{
	struct stat st;
	int64_t now = now_ms();

	if (fstat(dfd, &st) == -1) {
		unhold(d);
		return L_SAME;
	}
	if (st.st_dev != d->dev || st.st_ino != d->ino ||
	    !same_time(&st.st_mtim, &d->mtime) ||
	    !same_time(&st.st_ctim, &d->ctime)) {
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		d->mtime = st.st_mtim;
		d->ctime = st.st_ctim;
		d->since = now;
		d->holds = 0;
		return d->listed ? L_MOVED : L_SAME;
	}
	if (d->holds)
		return L_HOLDS;
	return now - d->since >= HOLD_MS && stamps_entries(dfd) ?
	    L_CONFIRMS : L_SAME;
}

/* The listing just read is d's now. */
static void
kids_keep(struct scan *s, struct pdir *d, int holds)
{
	if (d->nkids != s->nkids) {
		free(d->kids);
		d->kids = NULL;
		if (s->nkids > 0 && (d->kids = reallocarray(NULL, s->nkids,
		    sizeof(*d->kids))) == NULL)
			err(1, "reallocarray");
		d->nkids = s->nkids;
	}
	if (s->nkids > 0)
		memcpy(d->kids, s->kids, s->nkids * sizeof(*d->kids));
	d->holds = holds;
	d->listed = 1;
}

/*
 * Visits each entry of dir's held listing, stat'ed under dfd; returns 0
 * at the first one that is not as listed (d's listing holds no more).
 */
static int
relist(struct watcher *w, uint32_t dir, struct pdir *d, int dfd,
    struct pathbuf *vp)
{
	struct scan *s = w->scan;
	struct stat st;
	const char *name;
	uint32_t k, i;

	for (k = 0; k < d->nkids; k++) {
		i = d->kids[k];
		if (!(s->e[i].mode & F_LIVE) || s->e[i].parent != dir)
			break;
		name = name_of(s, &s->e[i]);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    ino_of(&st) != s->e[i].ino ||
		    (st.st_mode & S_IFMT) != (s->e[i].mode & S_IFMT))
			break;
		if (S_ISDIR(st.st_mode) && w->recursive)
			pathbuf_append(&s->names_stack, name,
			    strlen(name) + 1);
		s->next = i;
		visit(w, dir, name, &st, vp);
	}
	if (k == d->nkids)
		return 1;
	unhold(d);
	return 0;
}

/*
 * Reads the directory open as dfd (entry dir); its entries are visited,
 * subdirectory names go on the stack. Returns 0 when the listing failed.
 */
static int
readdir_visit(struct watcher *w, const struct root *r, uint32_t dir,
    int dfd, struct pathbuf *vp)
{
	static char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct kdirent64))));
	struct scan *s = w->scan;
	struct kdirent64 *de;
	struct stat st;
	long nread, pos;

	s->nkids = 0;
	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (pos = 0; pos < nread; pos += de->d_reclen) {
			de = (struct kdirent64 *)(buf + pos);
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			if (fstatat(dfd, de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == -1)
				continue;	/* gone since listed */
			if (excluded(w, r, de->d_name, S_ISDIR(st.st_mode)))
				continue;
			visit(w, dir, de->d_name, &st, vp);
			push_u32(&s->kids, &s->nkids, &s->kidcap,
			    s->next - 1);
			if (S_ISDIR(st.st_mode) && w->recursive)
				pathbuf_append(&s->names_stack, de->d_name,
				    strlen(de->d_name) + 1);
		}
	if (nread == -1) {
		/* Only the end of a listing says what is gone. */
		keep_below(s, dir);
		if (errno != ENOENT && !w->quiet)
			warn("%s", w->path.len ? w->path.s : "/");
		return 0;
	}
	return 1;
}

/*
 * Lists the directory open as dfd (entry dir, path in w->path and
 * w->scan->vpath), then descends; subdirectory names wait on a stack.
 */
static void
list(struct watcher *w, const struct root *r, uint32_t dir, int dfd)
{
	struct scan *s = w->scan;
	struct pathbuf *stack = &s->names_stack, vp = { 0 };
	size_t mark = stack->len, off, plen, vlen, len;
	struct pdir *d = dir != 0 ? dir_of(s, dir) : NULL;
	enum listing state = d != NULL ? listing_state(d, dfd) : L_SAME;
	uint64_t said = s->nsaid;
	uint32_t child;
	int cfd;

	if (state != L_HOLDS || !relist(w, dir, d, dfd, &vp)) {
		stack->len = mark;
		if (readdir_visit(w, r, dir, dfd, &vp)) {
			if (d != NULL)
				kids_keep(s, d, state == L_CONFIRMS);
		} else if (d != NULL)
			unhold(d);
	}
	pathbuf_free(&vp);
	if (s->nsaid != said)
		said_in(s, dir);
	if (state == L_MOVED && s->report)
		push_u32(&s->moved, &s->nmoved, &s->movedcap, dir);
	plen = w->path.len;
	vlen = w->scan->vpath.len;
	for (off = mark; off < stack->len; off += len + 1) {
		const char *name = stack->s + off;

		len = strlen(name);
		child = lookup_name(s, dir, name, len);
		pathbuf_append(&w->path, "/", 1);
		pathbuf_append(&w->path, name, len);
		pathbuf_reserve(&w->scan->vpath, 1 + IOBS_VIS_MAX(len));
		w->scan->vpath.s[w->scan->vpath.len++] = '/';
		w->scan->vpath.len += iobs_vis(w->scan->vpath.s +
		    w->scan->vpath.len, name, len);
		cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (cfd != -1) {
			list(w, r, child, cfd);
			close(cfd);
		} else if (child != 0 && errno != ENOENT && errno != ENOTDIR) {
			keep_below(s, child);
			if (!w->quiet)
				warn("%s", w->path.s);
		}
		w->path.len = plen;
		w->path.s[plen] = '\0';
		w->scan->vpath.len = vlen;
		w->scan->vpath.s[vlen] = '\0';
	}
	stack->len = mark;
}

static void
walk(struct watcher *w, const struct root *r, uint32_t top, int dfd)
{
	w->path.len = w->scan->vpath.len = 0;
	pathbuf_append(&w->path, r->path, r->pathlen);
	pathbuf_append(&w->scan->vpath, r->pathlen ? r->vis : "",
	    r->pathlen ? r->vislen : 0);
	list(w, r, top, dfd);
}

void
scan_init(struct watcher *w)
{
	struct scan *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->root = calloc(w->nroots, sizeof(*s->root))) == NULL)
		err(1, "calloc");
	s->used = 1;	/* 0 is "none" */
	w->scan = s;
	rehash(s, MIN_BUCKETS);
}

/* Scans root i; report says whether differences are records. */
void
scan_root(struct watcher *w, int i, int report)
{
	struct scan *s = w->scan;
	struct root *r = &w->roots[i];
	const char *path = r->pathlen ? r->path : "/";
	struct pathbuf vp = { 0 };
	struct stat st;
	uint32_t top;
	int dfd;

	s->report = report;
	if (stat(path, &st) == -1)
		return;		/* check_roots says WATCH_DEAD */
	if ((top = s->root[i]) == 0) {
		top = s->root[i] = add_entry(s, 0, r->path, r->pathlen, &st);
		s->e[top].mode |= F_ROOT;
		r->dev = st.st_dev;
		r->ino = st.st_ino;
	} else if (!report && !S_ISDIR(st.st_mode)) {
		/* A file root followed to its new file: this one now. */
		set_attrs(&s->e[top], &st);
		r->dev = st.st_dev;
		r->ino = st.st_ino;
	}
	s->e[top].mode = (s->e[top].mode & ~F_PARITY) | s->parity;
	if (!S_ISDIR(st.st_mode)) {
		pathbuf_append(&vp, r->vis, r->vislen);
		compare(w, &s->e[top], &st, &vp, 0);
		pathbuf_free(&vp);
		return;
	}
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		keep_below(s, top);
		return;
	}
	walk(w, r, top, dfd);
	close(dfd);
}

static int
below_kept(const struct scan *s, uint32_t i)
{
	for (i = s->e[i].parent; i != 0; i = s->e[i].parent) {
		if (s->e[i].mode & F_KEEP)
			return 1;
		if (s->e[i].mode & F_ROOT)
			break;
	}
	return 0;
}

static int
root_of(const struct scan *s, const struct watcher *w, uint32_t i)
{
	int r;

	while (!(s->e[i].mode & F_ROOT) && i != 0)
		i = s->e[i].parent;
	for (r = 0; r < w->nroots; r++)
		if (s->root[r] == i)
			return r;
	return -1;
}

static int
depth(const struct scan *s, uint32_t i)
{
	int d = 0;

	while (i != 0 && !(s->e[i].mode & F_ROOT)) {
		i = s->e[i].parent;
		d++;
	}
	return d;
}

static int
deepest_first(const void *a, const void *b)
{
	const struct gone *x = a, *y = b;

	if (x->depth != y->depth)
		return y->depth - x->depth;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Everything not seen in this scan, and not kept, is gone. */
static void
sweep(struct watcher *w)
{
	struct scan *s = w->scan;
	struct gone *g = NULL;
	size_t n = 0, cap = 0, k;
	uint32_t i;
	int r;

	for (i = 1; i < s->used; i++) {
		struct pent *e = &s->e[i];

		if (!(e->mode & F_LIVE) || (e->mode & F_PARITY) == s->parity)
			continue;
		if ((r = root_of(s, w, i)) == -1 || !w->roots[r].alive ||
		    (e->mode & F_ROOT) || below_kept(s, i))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((g = reallocarray(g, cap, sizeof(*g))) == NULL)
				err(1, "reallocarray");
		}
		g[n].i = i;
		g[n++].depth = depth(s, i);
	}
	if (n > 1)
		qsort(g, n, sizeof(*g), deepest_first);
	for (k = 0; k < n; k++) {
		entry_path(s, g[k].i, 1, &s->path);
		scan_emit(w, IN_DELETE | isdir_bit(s->e[g[k].i].mode), 0,
		    &s->path);
		said_in(s, s->e[g[k].i].parent);
	}
	for (k = 0; k < n; k++)
		free_entry(s, g[k].i);
	free(g);
	for (k = 0; k < s->nkeep; k++)
		s->e[s->keep[k]].mode &= ~F_KEEP;
	s->nkeep = 0;
}

/*
 * A root whose path is gone, or names another file now: DELETE_SELF,
 * as inotify says, then WATCH_DEAD. Only with the poll backend: with
 * auto's rescan, inotify says it.
 */
static int
root_gone(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	struct stat st;
	struct pathbuf vp = { 0 };

	if (w->be != &backend_poll)
		return 0;
	if (stat(r->pathlen ? r->path : "/", &st) == 0 ?
	    st.st_dev == r->dev && st.st_ino == r->ino :
	    errno != ENOENT && errno != ENOTDIR)
		return 0;
	pathbuf_append(&vp, r->vis, r->vislen);
	w->scan->report = 1;
	scan_emit(w, IN_DELETE_SELF, 0, &vp);
	pathbuf_free(&vp);
	root_dead(w, i);
	return 1;
}

/*
 * A directory whose times moved while none of its entries was found
 * made, gone or moved: one made and gone between two scans, say (a
 * file written says nothing of that). ATTRIB says that it changed, and
 * that a copy of it made meanwhile may hold what is gone.
 */
static void
unsaid(struct watcher *w)
{
	struct scan *s = w->scan;
	struct pent *e;
	size_t k;

	for (k = 0; k < s->nmoved; k++) {
		e = &s->e[s->moved[k]];
		if (!(e->mode & F_LIVE) || !S_ISDIR(e->mode) || e->size == 0 ||
		    s->dirs[e->size - 1].said == s->gen)
			continue;
		entry_path(s, s->moved[k], 1, &s->path);
		scan_emit(w, IN_ATTRIB | IN_ISDIR, 0, &s->path);
	}
	s->nmoved = 0;
}

/* One scan of every live root, reporting what changed. */
void
scan_all(struct watcher *w)
{
	struct scan *s = w->scan;
	int i;

	s->parity ^= F_PARITY;
	s->gen = s->gen + 1 ? s->gen + 1 : 1;
	if (s->nsaid_set > 0)
		memset(s->said, 0, s->saidcap * sizeof(*s->said));
	s->nsaid_set = 0;
	for (i = 0; i < w->nroots; i++) {
		/* A file root waiting for its path: kept as it was. */
		if (w->roots[i].waiting && s->root[i] != 0)
			s->e[s->root[i]].mode = (s->e[s->root[i]].mode &
			    ~F_PARITY) | s->parity;
		else if (w->roots[i].alive && !root_gone(w, i))
			scan_root(w, i, 1);
	}
	sweep(w);
	unsaid(w);
	s->report = 0;
	if (s->nseen > 0)
		memset(s->seen, 0, s->seencap * sizeof(*s->seen));
	s->nseen = 0;
}

void
scan_free(struct watcher *w)
{
	struct scan *s = w->scan;

	if (s == NULL)
		return;
	free(s->e);
	free(s->by_name);
	free(s->by_ino);
	free(s->names);
	free(s->root);
	free(s->keep);
	free(s->seen);
	free(s->said);
	while (s->ndirs > 0)
		free(s->dirs[--s->ndirs].kids);
	free(s->dirs);
	free(s->kids);
	free(s->moved);
	free(s->chain);
	pathbuf_free(&s->path);
	pathbuf_free(&s->vpath);
	pathbuf_free(&s->names_stack);
	free(s);
	w->scan = NULL;
}

/* The backend: a timer says when to scan. */
static void
poll_open(struct watcher *w)
{
	struct itimerspec its;

	/* A rebuild starts from a fresh first scan. */
	scan_free(w);
	scan_init(w);
	if ((w->ifd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) == -1)
		err(1, "timerfd_create");
	its.it_interval.tv_sec = its.it_value.tv_sec = w->interval_ms / 1000;
	its.it_interval.tv_nsec = its.it_value.tv_nsec =
	    w->interval_ms % 1000 * 1000000L;
	if (timerfd_settime(w->ifd, 0, &its, NULL) == -1)
		err(1, "timerfd_settime");
}

static int
poll_root(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	struct stat st;
	int fd;

	if (stat(r->pathlen ? r->path : "/", &st) == -1)
		return -1;
	/* A root that cannot be listed is an error now, as for inotify. */
	if (S_ISDIR(st.st_mode)) {
		if ((fd = open(r->pathlen ? r->path : "/", O_RDONLY |
		    O_DIRECTORY | O_CLOEXEC)) == -1)
			return -1;
		close(fd);
	}
	scan_root(w, i, 0);
	return 0;
}

static void
poll_dispatch(struct watcher *w, const char *buf, size_t len)
{
	(void)buf;
	(void)len;
	/* A mount or unmount first: its UNMOUNT before what the scan finds. */
	mounts_check(w);
	scan_all(w);
}

/* The scan keeps no map of directories: a root's node is its own. */
static void
poll_forget(struct watcher *w, struct dnode *n)
{
	tree_remove(&w->tree, n, NULL, NULL);
}

/* The scanner stays until the rebuild's poll_open makes a new one. */
static void
poll_close(struct watcher *w)
{
	if (w->ifd != -1)
		close(w->ifd);
	w->ifd = -1;
}

static void
poll_free(struct watcher *w)
{
	poll_close(w);
	scan_free(w);
}

const struct backend backend_poll = {
	"poll", poll_open, poll_root, poll_dispatch, poll_close, poll_free,
	NULL, 0, NULL, NULL, NULL, poll_forget
};
