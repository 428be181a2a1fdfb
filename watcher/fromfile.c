/*
 * --fromfile FILE: a path a line, "@path" to exclude one; empty lines
 * and a lone "@" are skipped, nothing else is special (no comments, no
 * escapes, no continuations), as inotifywait reads it.
 */
#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fromfile.h"

static void
add(struct pathlist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		if ((l->path = reallocarray(l->path, l->cap,
		    sizeof(*l->path))) == NULL)
			err(1, "reallocarray");
	}
	if ((l->path[l->n++] = strdup(s)) == NULL)
		err(1, "strdup");
}

void
pathlist_take(struct pathlist *watch, struct pathlist *excludes,
    const char *path)
{
	if (path[0] == '\0' || strcmp(path, "@") == 0)
		return;
	if (path[0] == '@')
		add(excludes, path + 1);
	else
		add(watch, path);
}

int
pathlist_read(FILE *fp, struct pathlist *watch, struct pathlist *excludes)
{
	/* fparseln(3) with no escape, continuation or comment character. */
	static const char delim[3] = { '\0', '\0', '\0' };
	char *line;
	size_t len;

	while ((line = fparseln(fp, &len, NULL, delim, 0)) != NULL) {
		/* A NUL cuts a line: a path holds none. */
		pathlist_take(watch, excludes, line);
		free(line);
	}
	return ferror(fp) ? -1 : 0;
}

void
pathlist_free(struct pathlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->path[i]);
	free(l->path);
	memset(l, 0, sizeof(*l));
}
