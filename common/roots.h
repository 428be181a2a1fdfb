/*
 * The roots a stream names, as a consumer keeps them: a WATCH_INIT
 * adds one (or makes it alive and the most recent again), a
 * WATCH_DEAD marks it dead or removes it, and a record's path is
 * found under the most recent root that holds it. "/" is kept as ""
 * so that every path has its root as a prefix.
 */
#ifndef IOBS_ROOTS_H
#define IOBS_ROOTS_H

#include <stddef.h>

struct iobs_root {
	char		*path;		/* "" for "/" */
	size_t		 len;
	char		*vis;		/* as the stream writes it */
	size_t		 vislen;
	int		 dead;		/* its WATCH_DEAD came */
};

struct iobs_roots {
	struct iobs_root *r;		/* the most recent WATCH_INIT first */
	size_t		 n;
};

/* WATCH_INIT of path: returns 1 for a root not seen before. */
int	 iobs_roots_init(struct iobs_roots *, const char *path, size_t len);
/* WATCH_DEAD of path: returns 1 when every root is dead. */
int	 iobs_roots_dead(struct iobs_roots *, const char *path, size_t len);
void	 iobs_roots_remove(struct iobs_roots *, const char *path, size_t len);
/* The root path is at or below, or NULL. */
struct iobs_root *iobs_roots_find(const struct iobs_roots *,
	    const char *path, size_t len);
void	 iobs_roots_free(struct iobs_roots *);

#endif
