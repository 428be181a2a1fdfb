/*
 * Paths as the user named them, made absolute.
 */
#ifndef IOBS_PATH_H
#define IOBS_PATH_H

/*
 * path (relative to base unless absolute) without ".", "..", repeated
 * or trailing slashes, lexically: symbolic links are not resolved, so
 * the path printed is the one the user gave. Malloc'd; "/" for the root.
 */
char	*iobs_path_absolute(const char *base, const char *path);

#endif
