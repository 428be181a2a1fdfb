/*
 * Exclude patterns: fnmatch(3) on a name, or on a relative path when
 * the pattern names one.
 */
#include <err.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "exclude.h"

void
iobs_exclude_add(struct iobs_exclude *ex, const char *glob)
{
	struct iobs_exclude_pattern *pat;
	int whole_path = 0;
	size_t len;
	char *p;

	/* "/build" is anchored at the root, as in rsync and gitignore. */
	while (glob[0] == '/') {
		glob++;
		whole_path = 1;
	}
	if ((p = strdup(glob)) == NULL)
		err(1, "strdup");
	len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	if (strchr(p, '/') != NULL)
		whole_path = 1;
	pat = reallocarray(ex->pattern, ex->n + 1, sizeof(*pat));
	if (pat == NULL)
		err(1, "reallocarray");
	ex->pattern = pat;
	ex->pattern[ex->n].glob = p;
	ex->pattern[ex->n].whole_path = whole_path;
	ex->n++;
	ex->whole_path |= whole_path;
}

int
iobs_exclude_match(const struct iobs_exclude *ex, const char *relpath,
    const char *name)
{
	size_t i;

	for (i = 0; i < ex->n; i++) {
		const struct iobs_exclude_pattern *pat = &ex->pattern[i];

		if (!pat->whole_path) {
			if (fnmatch(pat->glob, name, 0) == 0)
				return 1;
		} else if (relpath != NULL &&
		    fnmatch(pat->glob, relpath, FNM_PATHNAME) == 0)
			return 1;
	}
	return 0;
}

void
iobs_exclude_free(struct iobs_exclude *ex)
{
	size_t i;

	for (i = 0; i < ex->n; i++)
		free(ex->pattern[i].glob);
	free(ex->pattern);
	ex->pattern = NULL;
	ex->n = 0;
}
