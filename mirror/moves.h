/*
 * The MOVED_FROMs waiting for their MOVED_TO, by cookie, in the order
 * they came: the one table both the local mirror (apply.c) and the
 * remote one (remote.c) pair renames with. What one that waited too
 * long means is theirs to say.
 */
#ifndef MOVES_H
#define MOVES_H

#include <stddef.h>
#include <stdint.h>

#define MOVES_MAX	4096	/* waiting at once; the oldest then goes */
#define MOVE_WAIT_MS	100	/* a MOVED_FROM waits this long for its pair */

/* A MOVED_FROM waiting for its MOVED_TO. */
struct move {
	uint32_t	 cookie;
	char		*rel;
	int64_t		 when;		/* ms, monotonic */
};

struct moves {
	struct move	*v;
	size_t		 n, cap;
};

/*
 * Adds rel with its cookie. With MOVES_MAX waiting already, the oldest
 * leaves first, its rel returned for the caller to expire (malloc'd);
 * else NULL.
 */
char	*moves_add(struct moves *, const char *rel, uint32_t cookie);
/* The rel that waits with cookie, taken out (malloc'd); NULL: none. */
char	*moves_take(struct moves *, uint32_t cookie);
/* When the oldest has waited long enough, ms; INT64_MAX: none waits. */
int64_t	 moves_due(const struct moves *);
/* The oldest's rel, taken out (malloc'd); NULL: none waits. */
char	*moves_oldest(struct moves *);
/* Those at or below from now wait below to. */
void	 moves_rename(struct moves *, const char *from, const char *to);
/* All forgotten, the table's memory too. */
void	 moves_clear(struct moves *);

#endif
