/*
 * Allocation that cannot fail: out of memory, the tool exits 1 with
 * err(3), as it would for any other runtime failure.
 */
#ifndef IOBS_XALLOC_H
#define IOBS_XALLOC_H

#include <stddef.h>

void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xasprintf(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
