/*
 * Lexical path clean-up.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

char *
iobs_path_absolute(const char *base, const char *path)
{
	size_t len = strlen(base) + strlen(path) + 2, olen = 0, seglen;
	char *buf, *out, *p, *seg, *slash;

	if ((buf = malloc(len)) == NULL || (out = malloc(len + 1)) == NULL)
		err(1, "malloc");
	/* By hand, not snprintf: iobs-watch keeps stdio's pages out. */
	buf[0] = '\0';
	if (path[0] != '/') {
		strcpy(buf, base);
		strcat(buf, "/");
	}
	strcat(buf, path);
	out[0] = '\0';
	for (p = buf; (seg = strsep(&p, "/")) != NULL;) {
		if (seg[0] == '\0' || strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			if ((slash = strrchr(out, '/')) != NULL) {
				*slash = '\0';
				olen = slash - out;
			}
			continue;
		}
		seglen = strlen(seg);
		out[olen++] = '/';
		memcpy(out + olen, seg, seglen + 1);
		olen += seglen;
	}
	if (olen == 0)
		strcpy(out, "/");
	free(buf);
	return out;
}

const char *
iobs_path_below(const char *root, size_t rootlen, const char *path)
{
	const char *rel, *p;
	size_t len;

	if (strncmp(path, root, rootlen) != 0 ||
	    (path[rootlen] != '/' && path[rootlen] != '\0'))
		return NULL;
	rel = path + rootlen;
	if (*rel == '/')
		rel++;
	for (p = rel; *p != '\0'; p += len + (p[len] == '/')) {
		len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return NULL;
	}
	return rel;
}

int
iobs_path_parent_missing(const char *path, char *parent, size_t len)
{
	struct stat st;
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && path[0] == '/') || n >= len)
		return 0;
	memcpy(parent, path, n);
	parent[n] = '\0';
	return stat(parent, &st) == -1 && errno == ENOENT;
}
