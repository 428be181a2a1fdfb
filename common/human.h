/*
 * Numbers as people read them, for progress lines and status:
 * 1,234,567 and 3.1 GB.
 */
#ifndef IOBS_HUMAN_H
#define IOBS_HUMAN_H

#include <stddef.h>

/* n with its thousands grouped by commas, in buf; buf. */
const char	*iobs_grouped(char *buf, size_t size, unsigned long long n);
/* bytes in decimal units: 512 B, 1.2 MB, 3.1 GB, in buf; buf. */
const char	*iobs_bytes(char *buf, size_t size, double bytes);

#endif
