/*
 * Allocation that cannot fail: out of memory, the tool exits 1 with
 * err(3), as it would for any other runtime failure.
 */
#ifndef IOBS_XALLOC_H
#define IOBS_XALLOC_H

char	*xstrdup(const char *);

#endif
