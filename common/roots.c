/*
 * The roots a stream names, for its consumers (roots.h).
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "roots.h"
#include "stream.h"

static size_t
root_len(const char *path, size_t len)
{
	return len == 1 && path[0] == '/' ? 0 : len;
}

static struct iobs_root *
root_exact(const struct iobs_roots *rs, const char *path, size_t len)
{
	size_t i;

	len = root_len(path, len);
	for (i = 0; i < rs->n; i++)
		if (rs->r[i].len == len && memcmp(rs->r[i].path, path, len) == 0)
			return &rs->r[i];
	return NULL;
}

int
iobs_roots_init(struct iobs_roots *rs, const char *path, size_t len)
{
	struct iobs_root r, *old;
	int fresh;

	if ((old = root_exact(rs, path, len)) != NULL) {
		r = *old;
		memmove(&rs->r[1], &rs->r[0], (old - rs->r) * sizeof(r));
		fresh = 0;
	} else {
		r.len = root_len(path, len);
		if ((r.path = malloc(r.len + 1)) == NULL ||
		    (r.vis = malloc(IOBS_VIS_MAX(len))) == NULL)
			err(1, "malloc");
		memcpy(r.path, path, r.len);
		r.path[r.len] = '\0';
		r.vislen = iobs_vis(r.vis, path, len);
		if ((rs->r = reallocarray(rs->r, rs->n + 1,
		    sizeof(rs->r[0]))) == NULL)
			err(1, "reallocarray");
		memmove(&rs->r[1], &rs->r[0], rs->n * sizeof(r));
		rs->n++;
		fresh = 1;
	}
	r.dead = 0;
	rs->r[0] = r;
	return fresh;
}

int
iobs_roots_dead(struct iobs_roots *rs, const char *path, size_t len)
{
	struct iobs_root *r;
	size_t i, alive = 0;

	if ((r = root_exact(rs, path, len)) != NULL)
		r->dead = 1;
	for (i = 0; i < rs->n; i++)
		alive += !rs->r[i].dead;
	return alive == 0;
}

void
iobs_roots_remove(struct iobs_roots *rs, const char *path, size_t len)
{
	struct iobs_root *r;

	if ((r = root_exact(rs, path, len)) == NULL)
		return;
	free(r->path);
	free(r->vis);
	memmove(r, r + 1, (rs->n - (r - rs->r) - 1) * sizeof(*r));
	rs->n--;
}

struct iobs_root *
iobs_roots_find(const struct iobs_roots *rs, const char *path, size_t len)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		struct iobs_root *r = &rs->r[i];

		if (r->len <= len && memcmp(r->path, path, r->len) == 0 &&
		    (path[r->len] == '/' || path[r->len] == '\0'))
			return r;
	}
	return NULL;
}

void
iobs_roots_free(struct iobs_roots *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->r[i].path);
		free(rs->r[i].vis);
	}
	free(rs->r);
	rs->r = NULL;
	rs->n = 0;
}
