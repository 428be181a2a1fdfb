/*
 * Fuzz target for the gitignore(5) patterns of iobs-watch
 * --exclude-from and --gitignore (watcher/gitignore.c): the input is
 * the file's text, then a NUL and a path to match. Every pattern kept
 * has a glob; a match says one of three things, in bounded time; and
 * a glob with no special character matches exactly itself.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gitignore.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char *text = (const char *)data, *nul;
	struct gi_list l = { NULL, 0 };
	enum gi_verdict v;
	char *path;
	size_t i;
	int isdir;

	nul = memchr(text, '\0', len);
	iobs_gi_parse(&l, text, nul != NULL ? (size_t)(nul - text) : len);
	for (i = 0; i < l.n; i++)
		if (l.p[i].glob == NULL || l.p[i].glob[0] == '\0')
			abort();
	if (nul != NULL) {
		if ((path = strndup(nul + 1, len - (nul + 1 - text))) == NULL)
			abort();
		for (isdir = 0; isdir < 2; isdir++) {
			v = iobs_gi_match(&l, path, isdir);
			if (v != GI_NONE && v != GI_EXCLUDED &&
			    v != GI_INCLUDED)
				abort();
		}
		if (*path != '\0' && strpbrk(path, "*?[\\") == NULL &&
		    (!iobs_gi_wildmatch(path, path, 0) ||
		    !iobs_gi_wildmatch(path, path, 1)))
			abort();
		free(path);
	}
	iobs_gi_list_free(&l);
	return 0;
}
