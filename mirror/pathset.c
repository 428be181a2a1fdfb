/*
 * The path set: entries in an array, indexed by a chained hash table
 * that is rebuilt when the array grows or a rename rewrites paths.
 */
#define _GNU_SOURCE

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "pathset.h"

/* FNV-1a, 64 bits. */
uint64_t
path_hash64(const char *s)
{
	return iobs_fnv1a(s, strlen(s), IOBS_FNV_BASIS);
}

size_t
path_hash(const char *s, size_t nbuckets)
{
	return path_hash64(s) & (nbuckets - 1);
}

/* 1 when path is dir or below it; "" is above everything. */
int
path_below(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (len == 0)
		return 1;
	return strncmp(path, dir, len) == 0 &&
	    (path[len] == '/' || path[len] == '\0');
}

static void
rehash(struct pathset *ps)
{
	size_t i, h;

	if (ps->nbuckets < ps->cap) {
		free(ps->bucket);
		ps->nbuckets = 64;
		while (ps->nbuckets < ps->cap)
			ps->nbuckets *= 2;
		if ((ps->bucket = calloc(ps->nbuckets, sizeof(size_t))) == NULL)
			err(1, "calloc");
	} else
		memset(ps->bucket, 0, ps->nbuckets * sizeof(size_t));
	for (i = 0; i < ps->n; i++) {
		h = path_hash(ps->e[i].path, ps->nbuckets);
		ps->e[i].next = ps->bucket[h];
		ps->bucket[h] = i + 1;
	}
}

struct pathset_entry *
pathset_get(struct pathset *ps, const char *path)
{
	size_t i;

	if (ps->n == 0)
		return NULL;
	for (i = ps->bucket[path_hash(path, ps->nbuckets)]; i != 0;
	    i = ps->e[i - 1].next)
		if (strcmp(ps->e[i - 1].path, path) == 0)
			return &ps->e[i - 1];
	return NULL;
}

struct pathset_entry *
pathset_add(struct pathset *ps, const char *path, int64_t now)
{
	struct pathset_entry *e;
	size_t h;

	if ((e = pathset_get(ps, path)) != NULL) {
		e->last = now;
		return e;
	}
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->e = reallocarray(ps->e, ps->cap, sizeof(*ps->e));
		if (ps->e == NULL)
			err(1, "reallocarray");
		rehash(ps);
	}
	e = &ps->e[ps->n];
	if ((e->path = strdup(path)) == NULL)
		err(1, "strdup");
	e->first = e->last = now;
	e->how = 0;
	h = path_hash(path, ps->nbuckets);
	e->next = ps->bucket[h];
	ps->bucket[h] = ++ps->n;
	return e;
}

static void
unlink_chain(struct pathset *ps, size_t i)
{
	size_t *p = &ps->bucket[path_hash(ps->e[i].path, ps->nbuckets)];

	while (*p != i + 1)
		p = &ps->e[*p - 1].next;
	*p = ps->e[i].next;
}

char *
pathset_take(struct pathset *ps, size_t i)
{
	char *path = ps->e[i].path;
	size_t last = ps->n - 1, h;

	unlink_chain(ps, i);
	if (i != last) {
		unlink_chain(ps, last);
		ps->e[i] = ps->e[last];
		h = path_hash(ps->e[i].path, ps->nbuckets);
		ps->e[i].next = ps->bucket[h];
		ps->bucket[h] = i + 1;
	}
	ps->n--;
	return path;
}

void
pathset_del(struct pathset *ps, const char *path)
{
	struct pathset_entry *e;

	if ((e = pathset_get(ps, path)) != NULL)
		free(pathset_take(ps, e - ps->e));
}

void
pathset_rename(struct pathset *ps, const char *from, const char *to)
{
	size_t i, flen = strlen(from), changed = 0;
	char *p;

	for (i = 0; i < ps->n; i++) {
		if (!path_below(ps->e[i].path, from))
			continue;
		if (asprintf(&p, "%s%s", to, ps->e[i].path + flen) == -1)
			err(1, "asprintf");
		free(ps->e[i].path);
		ps->e[i].path = p;
		changed = 1;
	}
	if (!changed)
		return;
	/* Two entries may now name one path: keep one. */
	rehash(ps);
	for (i = 0; i < ps->n; i++) {
		struct pathset_entry *e = pathset_get(ps, ps->e[i].path);

		if (e != &ps->e[i]) {
			free(pathset_take(ps, i));
			i--;
		}
	}
}

void
pathset_prune(struct pathset *ps, const char *path)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (path_below(ps->e[i].path, path)) {
			free(pathset_take(ps, i));
			i--;
		}
}

void
pathset_clear(struct pathset *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->e[i].path);
	free(ps->e);
	free(ps->bucket);
	memset(ps, 0, sizeof(*ps));
}

/* dir/name, or name in the root: once for every entry a walk meets. */
char *
rel_join(const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name) + 1, sep = dlen > 0;
	char *p;

	if ((p = malloc(dlen + sep + nlen)) == NULL)
		err(1, "malloc");
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + sep, name, nlen);
	return p;
}

/* The directory rel is in: "" for the root's entries. */
char *
rel_parent(const char *rel)
{
	const char *slash = strrchr(rel, '/');
	char *p;

	if ((p = strndup(rel, slash ? (size_t)(slash - rel) : 0)) == NULL)
		err(1, "strndup");
	return p;
}
