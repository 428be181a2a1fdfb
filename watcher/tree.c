/*
 * Directory nodes of the watcher: one array reserved up front (pages
 * are used only as nodes are made, and nodes never move), two hash
 * tables of indices, and the names packed in one arena.
 */
#include <sys/mman.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "stream.h"
#include "tree.h"

/* The kernel allows no more watches than this per user by default. */
#define WATCHES_FILE	"/proc/sys/fs/inotify/max_user_watches"
#define MIN_NODES	(1u << 20)
#define MAX_NODES	(1u << 28)
#define MIN_BUCKETS	1024u

#define IDX(t, n)	((uint32_t)((n) - (t)->node))

/*
 * Room for four times the watch limit: a tree cannot hold more watches
 * than that, so the array never has to move.
 */
static uint32_t
reserve_size(void)
{
	unsigned long limit = 0;
	char buf[32];
	ssize_t n;
	int fd;

	/* Not stdio: its code would stay resident for one number. */
	if ((fd = open(WATCHES_FILE, O_RDONLY | O_CLOEXEC)) != -1) {
		if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			limit = strtoul(buf, NULL, 10);
		}
		close(fd);
	}
	if (limit > MAX_NODES / 4)
		return MAX_NODES;
	return limit * 4 > MIN_NODES ? limit * 4 : MIN_NODES;
}

void
tree_init(struct tree *t)
{
	size_t bytes;

	memset(t, 0, sizeof(*t));
	for (t->cap = reserve_size(); ; t->cap /= 2) {
		bytes = (size_t)t->cap * sizeof(struct dnode);
		t->node = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (t->node != MAP_FAILED)
			break;
		if (t->cap <= 1024)
			err(1, "mmap");
	}
	t->used = 1;		/* index 0 means "none" */
	t->nbuckets = MIN_BUCKETS;
	t->by_wd = calloc(t->nbuckets, sizeof(uint32_t));
	t->by_name = calloc(t->nbuckets / 4, sizeof(uint32_t));
	if (t->by_wd == NULL || t->by_name == NULL)
		err(1, "calloc");
}

void
tree_keyed(struct tree *t)
{
	free(t->by_name);
	t->by_name = NULL;
	t->keyed = 1;
}

void
tree_clear(struct tree *t)
{
	if (t->node != NULL)
		munmap(t->node, (size_t)t->cap * sizeof(struct dnode));
	free(t->by_wd);
	free(t->by_name);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

static inline struct dnode *
node_at(const struct tree *t, uint32_t i)
{
	return i == 0 ? NULL : &t->node[i];
}

/*
 * An arena entry is the name's length, one byte, or 0xff and two more
 * for a root's path, then the name: nodes stay 24 bytes.
 */
#define LONG_NAME	0xffu

static inline size_t
name_len(const struct tree *t, const struct dnode *n)
{
	const unsigned char *e = (const unsigned char *)t->names + n->name;

	return e[0] != LONG_NAME ? e[0] : (size_t)e[1] | (size_t)e[2] << 8;
}

static inline const char *
name_of(const struct tree *t, const struct dnode *n)
{
	const char *e = t->names + n->name;

	return e + ((unsigned char)e[0] != LONG_NAME ? 1 : 3);
}

static inline size_t
entry_size(size_t len)
{
	return (len < LONG_NAME ? 1 : 3) + len;
}

static uint32_t
hash_wd(const struct tree *t, int wd)
{
	return ((uint32_t)wd * 2654435761u) & (t->nbuckets - 1);
}

/*
 * Four nodes a bucket in the wd table, sixteen in the name table: its
 * lookups are rare (a directory moved or deleted), and memory counts.
 */
static uint32_t
hash_name(const struct tree *t, uint32_t parent, const char *name,
    size_t len)
{
	uint64_t h = iobs_fnv1a(name, len, IOBS_FNV_BASIS ^ parent);

	return (h ^ (h >> 29)) & (t->nbuckets / 4 - 1);
}

static void
link_wd(struct tree *t, uint32_t i)
{
	uint32_t h = hash_wd(t, t->node[i].wd);

	t->node[i].wd_next = t->by_wd[h];
	t->by_wd[h] = i;
}

static void
link_name(struct tree *t, uint32_t i)
{
	struct dnode *n = &t->node[i];
	uint32_t h;

	if (t->keyed)
		return;
	h = hash_name(t, n->parent, name_of(t, n), name_len(t, n));
	n->name_next = t->by_name[h];
	t->by_name[h] = i;
}

static void
unlink_wd(struct tree *t, uint32_t i)
{
	uint32_t *p = &t->by_wd[hash_wd(t, t->node[i].wd)];

	for (; *p != 0; p = &t->node[*p].wd_next)
		if (*p == i) {
			*p = t->node[i].wd_next;
			return;
		}
}

static void
unlink_name(struct tree *t, uint32_t i)
{
	struct dnode *n = &t->node[i];
	uint32_t *p;

	if (t->keyed)
		return;
	p = &t->by_name[hash_name(t, n->parent, name_of(t, n),
	    name_len(t, n))];
	for (; *p != 0; p = &t->node[*p].name_next)
		if (*p == i) {
			*p = n->name_next;
			return;
		}
}

static int
live(const struct tree *t, uint32_t i)
{
	return t->node[i].wd != -1;
}

static void
rehash(struct tree *t, uint32_t nbuckets)
{
	uint32_t i;

	free(t->by_wd);
	free(t->by_name);
	t->nbuckets = nbuckets;
	t->by_wd = calloc(nbuckets, sizeof(uint32_t));
	t->by_name = t->keyed ? NULL : calloc(nbuckets / 4, sizeof(uint32_t));
	if (t->by_wd == NULL || (t->by_name == NULL && !t->keyed))
		err(1, "calloc");
	for (i = 1; i < t->used; i++)
		if (live(t, i)) {
			link_wd(t, i);
			link_name(t, i);
		}
}

/* Renames and deletions leave dead names: pack the arena now and then. */
static void
compact_names(struct tree *t)
{
	char *packed;
	size_t len = 0;
	uint32_t i;

	if ((packed = malloc(t->names_len - t->names_dead + 1)) == NULL)
		err(1, "malloc");
	for (i = 1; i < t->used; i++) {
		struct dnode *n = &t->node[i];
		size_t size;

		if (!live(t, i))
			continue;
		size = entry_size(name_len(t, n));
		memcpy(packed + len, t->names + n->name, size);
		n->name = len;
		len += size;
	}
	free(t->names);
	t->names = packed;
	t->names_cap = t->names_len - t->names_dead + 1;
	t->names_len = len;
	t->names_dead = 0;
}

static void
set_name(struct tree *t, struct dnode *n, const char *name, size_t len)
{
	size_t size = entry_size(len);
	unsigned char *e;

	if (len > UINT16_MAX)
		errx(1, "a name of %zu bytes: longer than any file system "
		    "allows", len);
	if (t->names_len + size > t->names_cap) {
		while (t->names_len + size > t->names_cap)
			t->names_cap = t->names_cap ? t->names_cap * 2 : 65536;
		if ((t->names = realloc(t->names, t->names_cap)) == NULL)
			err(1, "realloc");
	}
	e = (unsigned char *)t->names + t->names_len;
	if (len < LONG_NAME)
		*e++ = len;
	else {
		*e++ = LONG_NAME;
		*e++ = len & 0xff;
		*e++ = len >> 8;
	}
	memcpy(e, name, len);
	n->name = t->names_len;
	t->names_len += size;
}

static void
drop_name(struct tree *t, struct dnode *n)
{
	t->names_dead += entry_size(name_len(t, n));
}

struct dnode *
tree_add(struct tree *t, struct dnode *parent, const char *name,
    size_t namelen, int wd)
{
	struct dnode *n;
	uint32_t i;

	if (t->count >= 4 * t->nbuckets)
		rehash(t, t->nbuckets * 2);
	if (t->free_list != 0) {
		i = t->free_list;
		t->free_list = t->node[i].wd_next;
	} else if (t->used < t->cap)
		i = t->used++;
	else
		return NULL;
	n = &t->node[i];
	memset(n, 0, sizeof(*n));
	n->wd = wd;
	n->parent = parent != NULL ? IDX(t, parent) : 0;
	if (parent != NULL)
		parent->nchildren++;
	set_name(t, n, name, namelen);
	link_wd(t, i);
	link_name(t, i);
	t->count++;
	return n;
}

struct dnode *
tree_by_wd(const struct tree *t, int wd)
{
	uint32_t i;

	for (i = t->by_wd[hash_wd(t, wd)]; i != 0; i = t->node[i].wd_next)
		if (t->node[i].wd == wd)
			return &t->node[i];
	return NULL;
}

struct dnode *
tree_next_wd(const struct tree *t, const struct dnode *n)
{
	uint32_t i;

	for (i = n->wd_next; i != 0; i = t->node[i].wd_next)
		if (t->node[i].wd == n->wd)
			return &t->node[i];
	return NULL;
}

void
tree_set_wd(struct tree *t, struct dnode *n, int wd)
{
	if (n->wd == wd)
		return;
	unlink_wd(t, IDX(t, n));
	n->wd = wd;
	link_wd(t, IDX(t, n));
}

struct dnode *
tree_child(const struct tree *t, const struct dnode *parent,
    const char *name, size_t len)
{
	uint32_t i, p = IDX(t, parent);

	if (t->keyed) {
		for (i = 1; i < t->used; i++)
			if (live(t, i) && tree_named(t, &t->node[i], parent,
			    name, len))
				return &t->node[i];
		return NULL;
	}
	for (i = t->by_name[hash_name(t, p, name, len)]; i != 0;
	    i = t->node[i].name_next) {
		const struct dnode *n = &t->node[i];

		if (n->parent == p && name_len(t, n) == len &&
		    memcmp(name_of(t, n), name, len) == 0)
			return &t->node[i];
	}
	return NULL;
}

struct dnode *
tree_parent(const struct tree *t, const struct dnode *n)
{
	return node_at(t, n->parent);
}

struct dnode *
tree_top(const struct tree *t, struct dnode *n)
{
	while (n->parent != 0)
		n = &t->node[n->parent];
	return n;
}

int
tree_named(const struct tree *t, const struct dnode *n,
    const struct dnode *parent, const char *name, size_t len)
{
	return n->parent == IDX(t, parent) && name_len(t, n) == len &&
	    memcmp(name_of(t, n), name, len) == 0;
}

/* Is node i at or below top? */
static int
below(const struct tree *t, uint32_t i, uint32_t top)
{
	for (; i != 0; i = t->node[i].parent)
		if (i == top)
			return 1;
	return 0;
}

void
tree_move(struct tree *t, struct dnode *n, struct dnode *newparent,
    const char *name, size_t len)
{
	uint32_t i = IDX(t, n);

	unlink_name(t, i);
	node_at(t, n->parent)->nchildren--;
	drop_name(t, n);
	set_name(t, n, name, len);
	n->parent = IDX(t, newparent);
	newparent->nchildren++;
	link_name(t, i);
	t->moves++;
}

static void
free_node(struct tree *t, uint32_t i)
{
	struct dnode *n = &t->node[i];

	unlink_wd(t, i);
	unlink_name(t, i);
	if (n->parent != 0)
		t->node[n->parent].nchildren--;
	drop_name(t, n);
	n->wd = -1;
	n->wd_next = t->free_list;
	t->free_list = i;
	t->count--;
}

void
tree_remove(struct tree *t, struct dnode *n,
    void (*fn)(struct dnode *, void *), void *arg)
{
	uint32_t top = IDX(t, n), i;

	/*
	 * Nodes keep no child lists, to stay small. A leaf, the common
	 * case (rmdir), goes at once; a subtree takes one scan, which
	 * only a directory moved out of the tree needs.
	 */
	if (n->nchildren > 0) {
		/* Children first, deepest first: repeat until none is left. */
		while (n->nchildren > 0)
			for (i = t->used - 1; i > 0; i--)
				if (live(t, i) && i != top &&
				    t->node[i].nchildren == 0 &&
				    below(t, i, top)) {
					if (fn != NULL)
						fn(&t->node[i], arg);
					free_node(t, i);
				}
	}
	if (fn != NULL)
		fn(n, arg);
	free_node(t, top);
	if (t->names_dead > 65536 && t->names_dead > t->names_len / 2)
		compact_names(t);
}

void
pathbuf_reserve(struct pathbuf *pb, size_t more)
{
	if (pb->len + more + 1 <= pb->cap)
		return;
	while (pb->len + more + 1 > pb->cap)
		pb->cap = pb->cap ? pb->cap * 2 : 4096;
	if ((pb->s = realloc(pb->s, pb->cap)) == NULL)
		err(1, "realloc");
}

void
pathbuf_append(struct pathbuf *pb, const char *s, size_t len)
{
	pathbuf_reserve(pb, len);
	memcpy(pb->s + pb->len, s, len);
	pb->len += len;
	pb->s[pb->len] = '\0';
}

void
pathbuf_free(struct pathbuf *pb)
{
	free(pb->s);
	pb->s = NULL;
	pb->len = pb->cap = 0;
}

/*
 * Builds the path from the end, walking up the parents twice: once to
 * size it (encoded names can be four times as long), once to fill it.
 */
static void
build(const struct tree *t, const struct dnode *n, int vis, int with_root,
    struct pathbuf *pb)
{
	char tmp[IOBS_VIS_MAX(UINT16_MAX)];
	const struct dnode *p;
	size_t total = 0, len;
	char *end;

	for (p = n; p != NULL; p = node_at(t, p->parent)) {
		if (p->parent == 0 && !with_root)
			break;
		total += (vis ? IOBS_VIS_MAX(name_len(t, p)) :
		    name_len(t, p)) +
		    (p->parent != 0);
	}
	pb->len = 0;
	pathbuf_reserve(pb, total);
	end = pb->s + total;
	for (p = n; p != NULL; p = node_at(t, p->parent)) {
		const char *s = name_of(t, p);

		if (p->parent == 0 && !with_root)
			break;
		len = name_len(t, p);
		if (vis) {
			len = iobs_vis(tmp, s, len);
			s = tmp;
		}
		end -= len;
		memcpy(end, s, len);
		if (p->parent != 0)
			*--end = '/';
	}
	/* Encoding may have come out shorter than sized: slide it down. */
	if (!with_root && end < pb->s + total && *end == '/')
		end++;
	pb->len = pb->s + total - end;
	memmove(pb->s, end, pb->len);
	pb->s[pb->len] = '\0';
}

void
tree_path(const struct tree *t, const struct dnode *n, int vis,
    struct pathbuf *pb)
{
	build(t, n, vis, 1, pb);
}

void
tree_relpath(const struct tree *t, const struct dnode *n, struct pathbuf *pb)
{
	build(t, n, 0, 0, pb);
}
