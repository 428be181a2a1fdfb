/*
 * The MOVED_FROMs waiting for their MOVED_TO (moves.h): an array in
 * the order they came, searched by cookie; few wait at once, and not
 * for long.
 */
#define _GNU_SOURCE

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pathset.h"
#include "moves.h"

/* Entry i out of the table, its rel the caller's. */
static char *
moves_drop(struct moves *t, size_t i)
{
	char *rel = t->v[i].rel;

	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	return rel;
}

char *
moves_add(struct moves *t, const char *rel, uint32_t cookie)
{
	char *out = NULL;

	if (t->n == MOVES_MAX)
		out = moves_drop(t, 0);
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		if ((t->v = reallocarray(t->v, t->cap, sizeof(*t->v))) ==
		    NULL)
			err(1, "reallocarray");
	}
	t->v[t->n].cookie = cookie;
	t->v[t->n].when = now_ms();
	if ((t->v[t->n].rel = strdup(rel)) == NULL)
		err(1, "strdup");
	t->n++;
	return out;
}

char *
moves_take(struct moves *t, uint32_t cookie)
{
	size_t i;

	for (i = 0; cookie != 0 && i < t->n; i++)
		if (t->v[i].cookie == cookie)
			return moves_drop(t, i);
	return NULL;
}

int64_t
moves_due(const struct moves *t)
{
	return t->n > 0 ? t->v[0].when + MOVE_WAIT_MS : INT64_MAX;
}

char *
moves_oldest(struct moves *t)
{
	return t->n > 0 ? moves_drop(t, 0) : NULL;
}

void
moves_rename(struct moves *t, const char *from, const char *to)
{
	size_t i, flen = strlen(from);
	char *p;

	for (i = 0; i < t->n; i++)
		if (path_below(t->v[i].rel, from)) {
			if (asprintf(&p, "%s%s", to, t->v[i].rel + flen) == -1)
				err(1, "asprintf");
			free(t->v[i].rel);
			t->v[i].rel = p;
		}
}

void
moves_clear(struct moves *t)
{
	while (t->n > 0)
		free(t->v[--t->n].rel);
	free(t->v);
	memset(t, 0, sizeof(*t));
}
