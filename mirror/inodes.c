/*
 * The inode of each name by directory (inodes.h): a directory's names
 * in an array sorted by their hash, searched by halves; the directories
 * by path in a path set whose "how" is the array's index.
 */
#define _GNU_SOURCE

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inodes.h"

struct inodes_name {
	uint64_t	 name;		/* path_hash64 of the name */
	uint32_t	 print;		/* of the inode */
} __attribute__((packed));

static uint32_t
print_of(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ (uint64_t)dev << 40) *
	    0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32);
}

/* rel's directory and name; the directory is written into buf. */
static const char *
split(const char *rel, char **dir)
{
	const char *slash = strrchr(rel, '/');

	if (slash == NULL) {
		if ((*dir = strdup("")) == NULL)
			err(1, "strdup");
		return rel;
	}
	if ((*dir = strndup(rel, slash - rel)) == NULL)
		err(1, "strndup");
	return slash + 1;
}

static struct inodes_dir *
dir_get(struct inodes *t, const char *dir, int make)
{
	struct pathset_entry *e;
	size_t i;

	if ((e = pathset_get(&t->dirs, dir)) != NULL)
		return &t->d[e->how];
	if (!make)
		return NULL;
	if (t->nspare > 0)
		i = t->spare[--t->nspare];
	else {
		if (t->nd == t->dcap) {
			t->dcap = t->dcap ? t->dcap * 2 : 64;
			if ((t->d = reallocarray(t->d, t->dcap,
			    sizeof(*t->d))) == NULL)
				err(1, "reallocarray");
		}
		i = t->nd++;
	}
	memset(&t->d[i], 0, sizeof(t->d[i]));
	pathset_add(&t->dirs, dir, 0)->how = (int)i;
	return &t->d[i];
}

static void
forget_last(struct inodes *t)
{
	free(t->last);
	t->last = NULL;
}

/* rel's directory, by the one set last when it is the same; its name. */
static struct inodes_dir *
dir_of(struct inodes *t, const char *rel, const char **name, int make)
{
	const char *slash = strrchr(rel, '/');
	size_t len = slash != NULL ? (size_t)(slash - rel) : 0;
	struct inodes_dir *d;
	char *dir;

	*name = slash != NULL ? slash + 1 : rel;
	if (t->last != NULL && t->lastlen == len &&
	    memcmp(t->last, rel, len) == 0)
		return &t->d[t->lasti];
	if ((dir = strndup(rel, len)) == NULL)
		err(1, "strndup");
	if ((d = dir_get(t, dir, make)) == NULL) {
		free(dir);
		return NULL;
	}
	forget_last(t);
	t->last = dir;
	t->lastlen = len;
	t->lasti = d - t->d;
	return d;
}

#define INSERT_MAX	256	/* a directory this small takes a name in place */

/* Stable: of two names set with one hash, the later stays later. */
static void
sort_names(struct inodes_name *v, struct inodes_name *tmp, uint32_t n)
{
	uint32_t h = n / 2, i = 0, j = h, k = 0;

	if (n < 2)
		return;
	sort_names(v, tmp, h);
	sort_names(v + h, tmp, n - h);
	while (i < h && j < n)
		tmp[k++] = v[j].name < v[i].name ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

/* The names set since sorted in: one each, the last set winning. */
static void
normalize(struct inodes_dir *d)
{
	struct inodes_name *out, *tmp;
	uint32_t i = 0, j = d->sorted, k = 0, tail = d->n - d->sorted;

	if (tail == 0)
		return;
	if ((tmp = reallocarray(NULL, tail, sizeof(*tmp))) == NULL ||
	    (out = reallocarray(NULL, d->cap, sizeof(*out))) == NULL)
		err(1, "reallocarray");
	sort_names(d->v + d->sorted, tmp, tail);
	free(tmp);
	while (i < d->sorted || j < d->n) {
		/* Of a run of one name, the tail's last. */
		if (j < d->n && (i == d->sorted || d->v[j].name <= d->v[i].name)) {
			if (i < d->sorted && d->v[i].name == d->v[j].name)
				i++;
			while (j + 1 < d->n && d->v[j + 1].name == d->v[j].name)
				j++;
			out[k++] = d->v[j++];
		} else
			out[k++] = d->v[i++];
	}
	free(d->v);
	d->v = out;
	d->n = d->sorted = k;
}

/* The first name of hash h in d, or where it would go. */
static uint32_t
find(struct inodes_dir *d, uint64_t h)
{
	uint32_t lo = 0, hi, mid;

	normalize(d);
	hi = d->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->v[mid].name < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
put(struct inodes_dir *d, uint64_t h, uint32_t print)
{
	uint32_t i;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap + d->cap / 2 + 4 : 4;
		if ((d->v = reallocarray(d->v, d->cap, sizeof(*d->v))) ==
		    NULL)
			err(1, "reallocarray");
	}
	/* A big directory, or one being filled: sorted in later. */
	if (d->n >= INSERT_MAX || d->sorted < d->n) {
		d->v[d->n].name = h;
		d->v[d->n++].print = print;
		return;
	}
	if ((i = find(d, h)) < d->n && d->v[i].name == h) {
		d->v[i].print = print;
		return;
	}
	memmove(&d->v[i + 1], &d->v[i], (d->n - i) * sizeof(*d->v));
	d->v[i].name = h;
	d->v[i].print = print;
	d->n++;
	d->sorted++;
}

/* Takes the name of hash h out of d: its print, or -1. */
static int64_t
take(struct inodes_dir *d, uint64_t h)
{
	uint32_t i = find(d, h), print;

	if (i == d->n || d->v[i].name != h)
		return -1;
	print = d->v[i].print;
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(*d->v));
	d->n--;
	d->sorted--;
	return print;
}

void
inodes_set(struct inodes *t, const char *rel, dev_t dev, ino_t ino)
{
	const char *name;
	struct inodes_dir *d = dir_of(t, rel, &name, 1);

	put(d, path_hash64(name), print_of(dev, ino));
}

void
inodes_reserve(struct inodes *t, const char *dir, size_t n)
{
	struct inodes_dir *d;
	size_t want;

	if (n == 0)
		return;
	d = dir_get(t, dir, 1);
	if ((want = (size_t)d->n + n) <= d->cap || want > UINT32_MAX)
		return;
	if ((d->v = reallocarray(d->v, want, sizeof(*d->v))) == NULL)
		err(1, "reallocarray");
	d->cap = want;
}

void
inodes_del(struct inodes *t, const char *rel)
{
	struct inodes_dir *d;
	const char *name;

	if ((d = dir_of(t, rel, &name, 0)) != NULL)
		(void)take(d, path_hash64(name));
}

int
inodes_was(struct inodes *t, const char *rel, dev_t dev, ino_t ino)
{
	struct inodes_dir *d;
	const char *name;
	uint64_t h;
	uint32_t i;
	int r = -1;

	if ((d = dir_of(t, rel, &name, 0)) != NULL) {
		h = path_hash64(name);
		if ((i = find(d, h)) < d->n && d->v[i].name == h)
			r = d->v[i].print == print_of(dev, ino);
	}
	return r;
}

static void
dir_free(struct inodes *t, size_t i)
{
	forget_last(t);
	free(t->d[i].v);
	memset(&t->d[i], 0, sizeof(t->d[i]));
	if (t->nspare == t->sparecap) {
		t->sparecap = t->sparecap ? t->sparecap * 2 : 16;
		if ((t->spare = reallocarray(t->spare, t->sparecap,
		    sizeof(*t->spare))) == NULL)
			err(1, "reallocarray");
	}
	t->spare[t->nspare++] = i;
}

void
inodes_prune(struct inodes *t, const char *dir)
{
	size_t i;

	inodes_del(t, dir);
	for (i = 0; i < t->dirs.n; i++)
		if (path_below(t->dirs.e[i].path, dir)) {
			dir_free(t, t->dirs.e[i].how);
			free(pathset_take(&t->dirs, i--));
		}
}

void
inodes_rename(struct inodes *t, const char *from, const char *to)
{
	struct pathset_entry *e;
	size_t i, n = 0, flen = strlen(from), *idx = NULL;
	char **paths = NULL, *dir;
	const char *name;
	int64_t print = -1;

	if (strcmp(from, to) == 0)
		return;
	forget_last(t);
	name = split(from, &dir);
	if ((e = pathset_get(&t->dirs, dir)) != NULL)
		print = take(&t->d[e->how], path_hash64(name));
	free(dir);
	/* What the new name held is gone: renamed over. */
	inodes_prune(t, to);
	/* The directories at and below the old name, by their new paths. */
	for (i = 0; i < t->dirs.n; i++) {
		if (!path_below(t->dirs.e[i].path, from))
			continue;
		if ((paths = reallocarray(paths, n + 1, sizeof(*paths))) ==
		    NULL || (idx = reallocarray(idx, n + 1, sizeof(*idx))) ==
		    NULL)
			err(1, "reallocarray");
		idx[n] = t->dirs.e[i].how;
		if (asprintf(&paths[n], "%s%s", to, t->dirs.e[i].path +
		    flen) == -1)
			err(1, "asprintf");
		n++;
		free(pathset_take(&t->dirs, i--));
	}
	for (i = 0; i < n; i++) {
		pathset_add(&t->dirs, paths[i], 0)->how = (int)idx[i];
		free(paths[i]);
	}
	free(paths);
	free(idx);
	if (print != -1) {
		name = split(to, &dir);
		put(dir_get(t, dir, 1), path_hash64(name), (uint32_t)print);
		free(dir);
	}
}

void
inodes_clear(struct inodes *t)
{
	size_t i;

	forget_last(t);
	for (i = 0; i < t->nd; i++)
		free(t->d[i].v);
	pathset_clear(&t->dirs);
	free(t->d);
	free(t->spare);
	memset(t, 0, sizeof(*t));
}
