/*
 * iobs-mirror's remote mode: the buffers, and the sets of paths that
 * wait for a run, that a run carries, and that it set aside.
 */
#define _GNU_SOURCE


#include <err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "mirror.h"
#include "remote-int.h"

/* Buffers */

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = b->cap ? b->cap : 256;
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			err(1, "realloc");
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_free(struct buf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* Sets of paths */

int64_t
oldest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

void
renames_add(struct renames *rs, const char *from, const char *to)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		if ((rs->v = reallocarray(rs->v, rs->cap, sizeof(*rs->v))) ==
		    NULL)
			err(1, "reallocarray");
	}
	if ((rs->v[rs->n].from = strdup(from)) == NULL ||
	    (rs->v[rs->n].to = strdup(to)) == NULL)
		err(1, "strdup");
	rs->n++;
}

static void
renames_clear(struct renames *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		free(rs->v[i].from);
		free(rs->v[i].to);
	}
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

void
batch_clear(struct batch *b)
{
	pathset_clear(&b->plain);
	pathset_clear(&b->tree);
	pathset_clear(&b->level);
	pathset_clear(&b->unsure);
	renames_clear(&b->ren);
	b->oldest = 0;
}

size_t
batch_size(const struct batch *b)
{
	return b->plain.n + b->tree.n + b->level.n + b->ren.n;
}

size_t
backlog(const struct remote *r)
{
	size_t n = 0;
	int i;

	for (i = 0; i < r->nsettling; i++)
		n += batch_size(&r->settled[i]);
	return n + batch_size(&r->dirty) + batch_size(&r->sent) +
	    batch_size(&r->stuck) + r->writing.n;
}

/* from's paths into to, renames before to's own: they came first. */
void
batch_merge(struct batch *to, struct batch *from)
{
	struct renames ren = from->ren;
	size_t i;

	for (i = 0; i < from->plain.n; i++)
		pathset_add(&to->plain, from->plain.e[i].path, 0);
	for (i = 0; i < from->tree.n; i++)
		pathset_add(&to->tree, from->tree.e[i].path, 0);
	for (i = 0; i < from->level.n; i++)
		pathset_add(&to->level, from->level.e[i].path, 0);
	for (i = 0; i < from->unsure.n; i++)
		pathset_add(&to->unsure, from->unsure.e[i].path, 0);
	for (i = 0; i < to->ren.n; i++)
		renames_add(&ren, to->ren.v[i].from, to->ren.v[i].to);
	for (i = 0; i < to->ren.n; i++) {
		free(to->ren.v[i].from);
		free(to->ren.v[i].to);
	}
	free(to->ren.v);
	to->ren = ren;
	memset(&from->ren, 0, sizeof(from->ren));
	to->oldest = oldest(to->oldest, from->oldest);
	batch_clear(from);
}

/* Everything waiting becomes one whole sync; what is unsure stays so. */
void
collapse(struct remote *r)
{
	int64_t first = r->dirty.oldest;
	struct pathset unsure = r->dirty.unsure;

	memset(&r->dirty.unsure, 0, sizeof(unsure));
	batch_clear(&r->dirty);
	r->dirty.unsure = unsure;
	pathset_add(&r->dirty.tree, "", 0);
	r->dirty.oldest = first ? first : now_ms();
}

/* rel, or a directory above it, is unsure in b. */
static int
unsure(struct batch *b, const char *rel)
{
	char *p, *slash;
	int found;

	if (b->unsure.n == 0)
		return 0;
	if (pathset_get(&b->unsure, "") != NULL)
		return 1;
	if ((p = strdup(rel)) == NULL)
		err(1, "strdup");
	while (!(found = pathset_get(&b->unsure, p) != NULL) &&
	    (slash = strrchr(p, '/')) != NULL)
		*slash = '\0';
	free(p);
	return found;
}

int
remote_excluded(struct remote *r, const char *rel)
{
	const char *name = strrchr(rel, '/');

	return r->o.exclude.n > 0 && rel[0] != '\0' &&
	    iobs_exclude_match(&r->o.exclude, rel, name ? name + 1 : rel);
}

void
dirty_add(struct remote *r, const char *rel, int tree)
{
	struct pathset *set = tree == DIRTY_LEVEL ? &r->dirty.level :
	    tree ? &r->dirty.tree : &r->dirty.plain;
	int64_t now = now_ms();

	if (pathset_get(&r->dirty.tree, "") != NULL || remote_excluded(r, rel))
		return;		/* a whole sync is coming; not ours */
	if (batch_size(&r->dirty) == 0)
		r->window = now;
	r->last = now;
	r->dirty.oldest = oldest(r->dirty.oldest, now);
	pathset_add(set, rel, now);
	if (backlog(r) > r->bound) {
		if (!r->collapsed)
			warnx("%s: %zu paths waiting, more than %zu: one whole "
			    "sync instead", r->shown, backlog(r), r->bound);
		r->collapsed = 1;
		collapse(r);
	}
}

/* A path rsync named, and its directory that a temporary name touched. */
void
put_back(struct batch *b, struct batch *from, const char *rel, int64_t now)
{
	char *par;

	if (unsure(from, rel))
		pathset_add(&b->unsure, rel, now);
	if (rel[0] == '\0') {
		pathset_add(&b->plain, rel, now);	/* the root itself */
		return;
	}
	pathset_add(&b->tree, rel, now);
	par = rel_parent(rel);
	pathset_add(&b->plain, par, now);
	free(par);
	b->oldest = oldest(b->oldest, now);
}

/*
 * A path the remote refused: set aside with its own back-off, and
 * said once, by name, with rsync's reason.
 */
void
set_aside(struct remote *r, struct batch *from, const char *rel,
    const char *line)
{
	int64_t now = now_ms();
	char *v;

	if (batch_size(&r->stuck) == 0) {
		if (r->stuck_backoff == 0)
			r->stuck_backoff = BACKOFF_MS;
		r->stuck_at = now + r->stuck_backoff;
	}
	put_back(&r->stuck, from, rel, now);
	r->stuck.oldest = oldest(r->stuck.oldest, from->oldest);
	if (pathset_get(&r->named, rel) != NULL)
		return;
	pathset_add(&r->named, rel, now);
	if ((v = malloc(IOBS_VIS_MAX(strlen(rel)))) == NULL)
		err(1, "malloc");
	iobs_vis(v, rel, strlen(rel));
	warnx("%s: %s: %s; set aside and retried alone, the rest goes on: "
	    "fix it there", r->shown, rel[0] ? v : ".", line);
	free(v);
}

/* The paths set aside that b carried and did not set aside again. */
void
unstick(struct remote *r, struct batch *b)
{
	size_t i;
	const char *rel;
	char *v;

	for (i = 0; i < r->named.n; i++) {
		rel = r->named.e[i].path;
		if (pathset_get(&r->stuck.tree, rel) != NULL ||
		    pathset_get(&r->stuck.plain, rel) != NULL ||
		    (pathset_get(&b->tree, rel) == NULL &&
		    pathset_get(&b->plain, rel) == NULL &&
		    pathset_get(&b->tree, "") == NULL))
			continue;
		if ((v = malloc(IOBS_VIS_MAX(strlen(rel)))) == NULL)
			err(1, "malloc");
		iobs_vis(v, rel, strlen(rel));
		warnx("%s: %s: there at last", r->shown, rel[0] ? v : ".");
		free(v);
		free(pathset_take(&r->named, i));
		i--;
	}
	if (r->named.n == 0 && batch_size(&r->stuck) == 0)
		r->stuck_backoff = BACKOFF_MS;
}
