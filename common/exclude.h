/*
 * --exclude GLOB, shared by every tool that walks a tree: a pattern
 * without '/' matches a name at any depth; one with '/' matches the
 * whole path relative to the root. An excluded directory excludes
 * everything below it.
 */
#ifndef IOBS_EXCLUDE_H
#define IOBS_EXCLUDE_H

#include <stddef.h>

struct iobs_exclude_pattern {
	char	*glob;
	int	 whole_path;	/* match the relative path, not a name */
};

struct iobs_exclude {
	struct iobs_exclude_pattern *pattern;
	size_t	 n;
	int	 whole_path;	/* some pattern needs the relative path */
};

void	 iobs_exclude_add(struct iobs_exclude *, const char *glob);
int	 iobs_exclude_match(const struct iobs_exclude *, const char *relpath,
	    const char *name);
void	 iobs_exclude_free(struct iobs_exclude *);

#endif
