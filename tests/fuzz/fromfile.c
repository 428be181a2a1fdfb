/*
 * Fuzz target for iobs-watch --fromfile (watcher/fromfile.c): the
 * input is the file, read through fmemopen(3). Every path taken is a
 * whole line: not empty, no newline in it, an exclusion without its @.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fromfile.h"

static void
check(const struct pathlist *l, const uint8_t *data, size_t len)
{
	size_t i, n;

	for (i = 0; i < l->n; i++) {
		n = strlen(l->path[i]);
		if (n == 0 || n > len || strchr(l->path[i], '\n') != NULL ||
		    memmem(data, len, l->path[i], n) == NULL)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct pathlist watch = { 0 }, excludes = { 0 };
	FILE *fp;
	size_t i, lines = 1;

	if (len == 0 || (fp = fmemopen((void *)data, len, "r")) == NULL)
		return 0;
	if (pathlist_read(fp, &watch, &excludes) == -1)
		abort();
	fclose(fp);
	for (i = 0; i < len; i++)
		lines += data[i] == '\n';
	if (watch.n + excludes.n > lines)
		abort();
	for (i = 0; i < watch.n; i++)
		if (watch.path[i][0] == '@')
			abort();
	check(&watch, data, len);
	check(&excludes, data, len);
	pathlist_free(&watch);
	pathlist_free(&excludes);
	return 0;
}
