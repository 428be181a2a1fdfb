/*
 * FNV-1a, 64 bits: the one hash of names, paths and handles in every
 * tool's tables. Chain it (h from a previous call) to hash several
 * pieces as one.
 */
#ifndef IOBS_HASH_H
#define IOBS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define IOBS_FNV_BASIS	0xcbf29ce484222325ULL

static inline uint64_t
iobs_fnv1a(const void *p, size_t len, uint64_t h)
{
	const unsigned char *s = p;

	while (len-- > 0)
		h = (h ^ *s++) * 0x100000001b3ULL;
	return h;
}

#endif
