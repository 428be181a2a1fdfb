/*
 * A directory's entries, sorted, with the lstat of each: listed by the
 * walk itself, or ahead of it by reader threads, on every CPU, while
 * the walk compares what was listed before (as rsync's sender and
 * generator list the two trees in two processes). What a walk holds
 * is its directories in flight: a few listings ahead for each level,
 * and of a directory's stats at most a window, however many entries it
 * has.
 */
#ifndef LISTING_H
#define LISTING_H

#include <sys/stat.h>

#include <stddef.h>

#include "exclude.h"
#include "gitignore.h"

/*
 * What a listing leaves out: -x globs, and the gitignore(5) patterns
 * of --exclude-from and --gitignore (gi's root added; NULL: none),
 * which reader threads may ask too.
 */
struct listing_skip {
	const struct iobs_exclude *ex;
	struct gitignore *gi;
};

/* An entry, with its type as getdents64 gives it (DT_UNKNOWN too). */
struct name {
	char		*s;
	unsigned char	 type;
};

struct lstat_slot;

struct listing {
	struct name	*v;
	size_t		 n;
	char		*arena;		/* the names */
	int		 fd;		/* the directory; -1 when not open */
	int		 owned;		/* fd is the listing's, closed with it */
	int		 err;		/* errno: not opened or not read whole */
	/* Read ahead (listing.c): the job, and its window of stats. */
	_Atomic int	 state;
	int		 heap;		/* listing_ahead's: freed with its names */
	int		 statsonly;	/* listed: a reader takes the stats */
	int		 big;		/* the stats follow the walk in a window */
	int		 stats;		/* a reader takes each entry's lstat */
	int		 noatime;	/* a source's: O_NOATIME where allowed */
	_Atomic int	 cancel;
	int		 depth;
	unsigned long	 seq;
	int		 pfd;		/* the job: pfd/name, for rel */
	char		*name, *rel;
	const struct listing_skip *ex;
	struct lstat_slot *ring;
	size_t		 rsize;
	_Atomic size_t	 statted;	/* entries the reader took */
	_Atomic size_t	 consumed;	/* the entry the walk is at */
	_Atomic int	 waiting;	/* the walk waits on this listing */
	_Atomic int	 rwaiting;	/* the reader waits for the walk */
	_Atomic size_t	 want;		/* the stats the walk waits for */
	struct listing	*qnext;
};

/*
 * The directory fd (rel) listed now, on this thread, without what ex
 * leaves out: 0, or -1 with errno set and no names. Only the end of the
 * listing means there are no more: an error part-way (EIO from a
 * failing disk) is -1, so that nothing is taken for gone.
 */
int	 listing_read(struct listing *, int fd, const char *rel,
	    const struct listing_skip *ex);
/*
 * pfd/name (rel, at depth) opened and listed by a reader thread, with
 * each entry's lstat ahead with LISTING_STATS in how; pfd stays open
 * until the listing is taken or freed.
 */
#define LISTING_STATS	0x01
#define LISTING_NOATIME	0x02	/* the source's: its atime left alone */
struct listing *listing_ahead(int pfd, const char *name, const char *rel,
	    int depth, int how, const struct listing_skip *ex);
/*
 * The lstats of a listing read here, taken by a reader thread as far
 * ahead of listing_stat as the window lets: for a big directory the
 * walk did not list ahead (the root).
 */
void	 listing_stats_ahead(struct listing *);
/*
 * Waits for a listing asked ahead (or lists it now, when no reader has
 * started it): 0, or -1 with errno set, as listing_read.
 */
int	 listing_take(struct listing *);
/*
 * The lstat of entry i, taken ahead or now: 0, or -1 with errno set.
 * Entries are asked in order; one asked frees the window before it.
 */
int	 listing_stat(struct listing *, size_t i, struct stat *);
/* Freed, a job not taken cancelled: its directory closed if it opened it. */
void	 listing_free(struct listing *);
/* At exit: the readers end. */
void	 listing_stop(void);

#endif
