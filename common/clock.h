/*
 * The monotonic clock every tool times its waits with.
 */
#ifndef IOBS_CLOCK_H
#define IOBS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for intervals, never for dates. */
int64_t	 now_ms(void);

#endif
