/*
 * The inode table: one entry per name, chained in two hash tables, by
 * inode and by name, both grown to keep chains short, so that a tree
 * of 20,000 hard links is as quick to mirror as any other.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "links.h"
#include "pathset.h"

static size_t
hash_ino(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (h ^ h >> 29) & (nbuckets - 1);
}

static void
grow(struct links *l)
{
	struct links_entry **byino, **byrel, *e, *next;
	size_t i, nb = l->nbuckets ? l->nbuckets * 2 : 256, h;

	if ((byino = calloc(nb, sizeof(*byino))) == NULL ||
	    (byrel = calloc(nb, sizeof(*byrel))) == NULL)
		err(1, "calloc");
	for (i = 0; i < l->nbuckets; i++)
		for (e = l->byrel[i]; e != NULL; e = next) {
			next = e->rnext;
			h = path_hash(e->rel, nb);
			e->rnext = byrel[h];
			byrel[h] = e;
			h = hash_ino(e->dev, e->ino, nb);
			e->inext = byino[h];
			byino[h] = e;
		}
	free(l->byino);
	free(l->byrel);
	l->byino = byino;
	l->byrel = byrel;
	l->nbuckets = nb;
}

static void
unchain_ino(struct links *l, struct links_entry *e)
{
	struct links_entry **p;

	p = &l->byino[hash_ino(e->dev, e->ino, l->nbuckets)];
	while (*p != e)
		p = &(*p)->inext;
	*p = e->inext;
}

/* A name of (dev, ino) left it: the names that stay go into left. */
static void
left(struct links *l, dev_t dev, ino_t ino)
{
	struct links_entry *e;

	for (e = l->byino[hash_ino(dev, ino, l->nbuckets)]; e != NULL;
	    e = e->inext)
		if (e->ino == ino && e->dev == dev)
			pathset_add(&l->left, e->rel, 0);
}

void
links_add(struct links *l, dev_t dev, ino_t ino, const char *rel)
{
	struct links_entry *e;
	size_t len, h;

	if (l->nbuckets > 0)
		for (e = l->byrel[path_hash(rel, l->nbuckets)]; e != NULL;
		    e = e->rnext)
			if (strcmp(e->rel, rel) == 0) {
				if (e->dev == dev && e->ino == ino)
					return;
				unchain_ino(l, e);
				left(l, e->dev, e->ino);
				e->dev = dev;
				e->ino = ino;
				h = hash_ino(dev, ino, l->nbuckets);
				e->inext = l->byino[h];
				l->byino[h] = e;
				return;
			}
	if (l->n >= l->nbuckets)
		grow(l);
	len = strlen(rel) + 1;
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		err(1, "malloc");
	e->dev = dev;
	e->ino = ino;
	memcpy(e->rel, rel, len);
	h = path_hash(rel, l->nbuckets);
	e->rnext = l->byrel[h];
	l->byrel[h] = e;
	h = hash_ino(dev, ino, l->nbuckets);
	e->inext = l->byino[h];
	l->byino[h] = e;
	l->n++;
}

void
links_del(struct links *l, const char *rel)
{
	struct links_entry **p, *e;

	if (l->nbuckets == 0)
		return;
	for (p = &l->byrel[path_hash(rel, l->nbuckets)]; (e = *p) != NULL;
	    p = &e->rnext)
		if (strcmp(e->rel, rel) == 0) {
			*p = e->rnext;
			unchain_ino(l, e);
			left(l, e->dev, e->ino);
			free(e);
			l->n--;
			return;
		}
}

/* Entries at or below dir, out of both chains, for the caller. */
static struct links_entry *
take_below(struct links *l, const char *dir)
{
	struct links_entry **p, *e, *out = NULL;
	size_t i, len = strlen(dir);

	for (i = 0; i < l->nbuckets; i++)
		for (p = &l->byrel[i]; (e = *p) != NULL;) {
			if (strncmp(e->rel, dir, len) != 0 ||
			    (e->rel[len] != '/' && e->rel[len] != '\0')) {
				p = &e->rnext;
				continue;
			}
			*p = e->rnext;
			unchain_ino(l, e);
			l->n--;
			e->rnext = out;
			out = e;
		}
	return out;
}

/* A directory deleted: the names below it go. */
void
links_prune(struct links *l, const char *dir)
{
	struct links_entry *e, *next;

	for (e = take_below(l, dir); e != NULL; e = next) {
		next = e->rnext;
		left(l, e->dev, e->ino);
		free(e);
	}
}

/* A directory renamed: the names below it follow. */
void
links_rename(struct links *l, const char *from, const char *to)
{
	struct links_entry *e, *next;
	size_t flen = strlen(from);
	char *rel;

	for (e = take_below(l, from); e != NULL; e = next) {
		next = e->rnext;
		if (asprintf(&rel, "%s%s", to, e->rel + flen) == -1)
			err(1, "asprintf");
		links_add(l, e->dev, e->ino, rel);
		free(rel);
		free(e);
	}
}

size_t
links_names(struct links *l, dev_t dev, ino_t ino, const char *skip,
    char ***v)
{
	struct links_entry *e;
	size_t n = 0, cap = 0;

	*v = NULL;
	if (l->nbuckets == 0)
		return 0;
	for (e = l->byino[hash_ino(dev, ino, l->nbuckets)]; e != NULL;
	    e = e->inext) {
		if (e->ino != ino || e->dev != dev ||
		    (skip != NULL && strcmp(e->rel, skip) == 0))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			if ((*v = reallocarray(*v, cap, sizeof(char *))) == NULL)
				err(1, "reallocarray");
		}
		if (((*v)[n++] = strdup(e->rel)) == NULL)
			err(1, "strdup");
	}
	return n;
}

void
links_free_names(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
links_clear(struct links *l)
{
	struct links_entry *e, *next;
	size_t i;

	for (i = 0; i < l->nbuckets; i++)
		for (e = l->byrel[i]; e != NULL; e = next) {
			next = e->rnext;
			free(e);
		}
	free(l->byino);
	free(l->byrel);
	pathset_clear(&l->left);
	memset(l, 0, sizeof(*l));
}

/* The inode rel was last seen as: 1 and *dev, *ino; 0 when not known. */
int
links_inode(struct links *l, const char *rel, dev_t *dev, ino_t *ino)
{
	struct links_entry *e;

	if (l->nbuckets == 0)
		return 0;
	for (e = l->byrel[path_hash(rel, l->nbuckets)]; e != NULL; e = e->rnext)
		if (strcmp(e->rel, rel) == 0) {
			*dev = e->dev;
			*ino = e->ino;
			return 1;
		}
	return 0;
}

/* The directory name in dirfd, rel, walked: -1 when not read whole. */
static int
walk_below(struct links *l, int dirfd, const char *name, const char *rel,
    int (*skip)(void *, const char *), void *arg)
{
	int fd;

	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		/* Gone, or no longer a directory: its record follows. */
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    0 : -1;
	return links_walk(l, fd, rel, skip, arg);
}

int
links_walk(struct links *l, int dfd, const char *rel,
    int (*skip)(void *, const char *), void *arg)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char *sub;
	int rc = 0;

	if ((dir = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s%s%s", rel, rel[0] ? "/" : "",
		    de->d_name) == -1)
			err(1, "asprintf");
		if (skip != NULL && skip(arg, sub)) {
			free(sub);
			continue;
		}
		if (de->d_type == DT_DIR) {
			if (walk_below(l, dirfd(dir), de->d_name, sub, skip,
			    arg) == -1)
				rc = -1;
		} else if (fstatat(dirfd(dir), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				links_add(l, st.st_dev, st.st_ino, sub);
				if (st.st_nlink > 1)
					l->linked++;
			}
			else if (walk_below(l, dirfd(dir), de->d_name, sub,
			    skip, arg) == -1)
				rc = -1;
		} else if (errno != ENOENT)
			rc = -1;
		free(sub);
	}
	/* Only the end of the listing says there is no more. */
	if (errno != 0)
		rc = -1;
	closedir(dir);
	return rc;
}
