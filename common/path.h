/*
 * Paths as the user named them, made absolute.
 */
#ifndef IOBS_PATH_H
#define IOBS_PATH_H

#include <stddef.h>

/*
 * path (relative to base unless absolute) without ".", "..", repeated
 * or trailing slashes, lexically: symbolic links are not resolved, so
 * the path printed is the one the user gave. Malloc'd; "/" for the root.
 */
char	*iobs_path_absolute(const char *base, const char *path);

/*
 * path relative to root (rootlen bytes, no trailing slash): a pointer
 * into path, "" for the root itself; NULL when path is not below root
 * or has an empty, "." or ".." component, as no record may.
 */
const char *iobs_path_below(const char *root, size_t rootlen,
	    const char *path);

/*
 * 1 with the directory above path in parent when it does not exist
 * (ENOENT), as a tool that makes path itself but nothing above would
 * report; 0 when it exists, path has none, or it cannot be told.
 */
int	 iobs_path_parent_missing(const char *path, char *parent,
	    size_t len);

#endif
