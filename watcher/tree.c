/*
 * Directory nodes of the watcher, in two hash tables (by watch
 * descriptor, by parent and name) and a child list for subtrees.
 */
#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "tree.h"

#define MIN_BUCKETS	1024

static size_t
hash_wd(int wd, size_t nbuckets)
{
	return ((uint32_t)wd * 2654435761u) & (nbuckets - 1);
}

static size_t
hash_name(const struct dnode *parent, const char *name, size_t len,
    size_t nbuckets)
{
	uint64_t h = 1469598103934665603ull ^ (uintptr_t)parent;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ull;
	}
	return (h ^ (h >> 29)) & (nbuckets - 1);
}

void
tree_init(struct tree *t)
{
	t->nbuckets = MIN_BUCKETS;
	t->count = 0;
	t->by_wd = calloc(t->nbuckets, sizeof(*t->by_wd));
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	if (t->by_wd == NULL || t->by_name == NULL)
		err(1, "calloc");
}

static void
link_name(struct tree *t, struct dnode *n)
{
	size_t h = hash_name(n->parent, n->name, n->namelen, t->nbuckets);

	n->name_chain = t->by_name[h];
	t->by_name[h] = n;
}

static void
unlink_name(struct tree *t, struct dnode *n)
{
	struct dnode **p;

	p = &t->by_name[hash_name(n->parent, n->name, n->namelen,
	    t->nbuckets)];
	for (; *p != NULL; p = &(*p)->name_chain)
		if (*p == n) {
			*p = n->name_chain;
			return;
		}
}

static void
link_wd(struct tree *t, struct dnode *n)
{
	size_t h = hash_wd(n->wd, t->nbuckets);

	n->wd_chain = t->by_wd[h];
	t->by_wd[h] = n;
}

static void
unlink_wd(struct tree *t, struct dnode *n)
{
	struct dnode **p;

	for (p = &t->by_wd[hash_wd(n->wd, t->nbuckets)]; *p != NULL;
	    p = &(*p)->wd_chain)
		if (*p == n) {
			*p = n->wd_chain;
			return;
		}
}

static void
rehash(struct tree *t, size_t nbuckets)
{
	struct dnode **old = t->by_wd, *n, *next;
	size_t i, oldn = t->nbuckets;

	t->nbuckets = nbuckets;
	t->by_wd = calloc(nbuckets, sizeof(*t->by_wd));
	free(t->by_name);
	t->by_name = calloc(nbuckets, sizeof(*t->by_name));
	if (t->by_wd == NULL || t->by_name == NULL)
		err(1, "calloc");
	for (i = 0; i < oldn; i++)
		for (n = old[i]; n != NULL; n = next) {
			next = n->wd_chain;
			link_wd(t, n);
			link_name(t, n);
		}
	free(old);
}

static void
set_name(struct dnode *n, const char *name, size_t len)
{
	free(n->name);
	free(n->vis);
	if ((n->name = malloc(len + 1)) == NULL ||
	    (n->vis = malloc(IOBS_VIS_MAX(len))) == NULL)
		err(1, "malloc");
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->namelen = len;
	n->vislen = iobs_vis(n->vis, name, len);
}

static void
link_child(struct dnode *parent, struct dnode *n)
{
	n->parent = parent;
	n->prev = NULL;
	n->next = NULL;
	if (parent == NULL)
		return;
	n->next = parent->child;
	if (parent->child != NULL)
		parent->child->prev = n;
	parent->child = n;
}

static void
unlink_child(struct dnode *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else if (n->parent != NULL)
		n->parent->child = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	n->next = n->prev = NULL;
}

struct dnode *
tree_add(struct tree *t, struct dnode *parent, const char *name,
    size_t namelen, int wd, int root)
{
	struct dnode *n;

	if (t->count >= t->nbuckets)
		rehash(t, t->nbuckets * 2);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		err(1, "calloc");
	n->wd = wd;
	n->root = root;
	set_name(n, name, namelen);
	link_child(parent, n);
	link_wd(t, n);
	link_name(t, n);
	t->count++;
	return n;
}

struct dnode *
tree_by_wd(const struct tree *t, int wd)
{
	struct dnode *n;

	for (n = t->by_wd[hash_wd(wd, t->nbuckets)]; n != NULL;
	    n = n->wd_chain)
		if (n->wd == wd)
			return n;
	return NULL;
}

struct dnode *
tree_child(const struct tree *t, const struct dnode *parent,
    const char *name, size_t len)
{
	struct dnode *n;

	for (n = t->by_name[hash_name(parent, name, len, t->nbuckets)];
	    n != NULL; n = n->name_chain)
		if (n->parent == parent && n->namelen == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

/* Calls fn on every node of a subtree, parents first, no recursion. */
static void
preorder(struct dnode *top, void (*fn)(struct dnode *, void *), void *arg)
{
	struct dnode *n = top;

	for (;;) {
		fn(n, arg);
		if (n->child != NULL) {
			n = n->child;
			continue;
		}
		while (n != top && n->next == NULL)
			n = n->parent;
		if (n == top)
			return;
		n = n->next;
	}
}

static void
set_root(struct dnode *n, void *arg)
{
	n->root = *(int *)arg;
}

void
tree_move(struct tree *t, struct dnode *n, struct dnode *newparent,
    const char *name, size_t len)
{
	unlink_name(t, n);
	unlink_child(n);
	set_name(n, name, len);
	link_child(newparent, n);
	link_name(t, n);
	if (n->root != newparent->root)
		preorder(n, set_root, &newparent->root);
}

static void
free_node(struct tree *t, struct dnode *n)
{
	unlink_wd(t, n);
	unlink_name(t, n);
	free(n->name);
	free(n->vis);
	free(n);
	t->count--;
}

void
tree_remove(struct tree *t, struct dnode *n,
    void (*fn)(struct dnode *, void *), void *arg)
{
	struct dnode *top = n, *next;

	unlink_child(top);
	/* Post-order, without recursion: a tree can be thousands deep. */
	while (n != NULL) {
		if (n->child != NULL) {
			n = n->child;
			continue;
		}
		next = n == top ? NULL : n->parent;
		if (n != top)
			unlink_child(n);
		if (fn != NULL)
			fn(n, arg);
		free_node(t, n);
		n = next;
	}
}

void
tree_clear(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->nbuckets; i++)
		while (t->by_wd[i] != NULL) {
			struct dnode *n = t->by_wd[i];

			while (n->parent != NULL)
				n = n->parent;
			tree_remove(t, n, NULL, NULL);
		}
	free(t->by_wd);
	free(t->by_name);
	t->by_wd = t->by_name = NULL;
	t->nbuckets = t->count = 0;
}

int
tree_is_below(const struct dnode *n, const struct dnode *ancestor)
{
	for (; n != NULL; n = n->parent)
		if (n == ancestor)
			return 1;
	return 0;
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

/* Builds the path from the end, the walk up the parents done twice. */
static void
build(const struct dnode *n, int vis, int with_root, struct pathbuf *pb)
{
	const struct dnode *p;
	size_t total = 0, len;
	char *end;

	for (p = n; p != NULL; p = p->parent) {
		if (p->parent == NULL && !with_root)
			break;
		total += (vis ? p->vislen : p->namelen) +
		    (p->parent != NULL);
	}
	if (!with_root && total > 0)
		total--;	/* no leading slash on a relative path */
	pb->len = 0;
	pathbuf_reserve(pb, total);
	end = pb->s + total;
	*end = '\0';
	for (p = n; p != NULL; p = p->parent) {
		if (p->parent == NULL && !with_root)
			break;
		len = vis ? p->vislen : p->namelen;
		end -= len;
		memcpy(end, vis ? p->vis : p->name, len);
		if (p->parent != NULL && end > pb->s)
			*--end = '/';
	}
	pb->len = total;
}

void
tree_path(const struct dnode *n, int vis, struct pathbuf *pb)
{
	build(n, vis, 1, pb);
}

void
tree_relpath(const struct dnode *n, struct pathbuf *pb)
{
	build(n, 0, 0, pb);
}
