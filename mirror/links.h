/*
 * The source's files and symlinks by inode: every name a walk or a
 * record has seen, so that the names of one inode can be found without a scan
 * when inotify names only the one that was written. A hint: each name
 * is checked against the source before it is used.
 */
#ifndef LINKS_H
#define LINKS_H

#include <sys/types.h>

#include <stddef.h>

#include "pathset.h"

struct links_entry {
	dev_t		 dev;
	ino_t		 ino;
	struct links_entry *inext;	/* same bucket by inode */
	struct links_entry *rnext;	/* same bucket by name */
	char		 rel[];
};

struct links {
	struct links_entry **byino, **byrel;
	size_t		 n, nbuckets;
	/*
	 * Names of an inode that another of its names left (deleted, or
	 * another inode's now): what was written or changed through that
	 * name while it was theirs changed them too, and no record names
	 * them. The mirror takes them and checks them against the source.
	 */
	struct pathset	 left;
	size_t		 linked;	/* names links_walk saw with others */
};

/*
 * rel is (dev, ino) now; an older entry for rel is replaced. Here and
 * below, a name that leaves an inode puts its other names in left.
 */
void	 links_add(struct links *, dev_t, ino_t, const char *rel);
void	 links_del(struct links *, const char *rel);
int	 links_inode(struct links *, const char *rel, dev_t *, ino_t *);
/* Names at or below a directory: gone, or renamed. */
void	 links_prune(struct links *, const char *dir);
void	 links_rename(struct links *, const char *from, const char *to);
/* The names of (dev, ino) but skip, copied into *v; the count. */
size_t	 links_names(struct links *, dev_t, ino_t, const char *skip,
	    char ***v);
void	 links_free_names(char **, size_t);
void	 links_clear(struct links *);
/*
 * Every non-directory at or below the directory dfd, named rel ("" for
 * the root), added; never through a symlink, and without what skip
 * (when not NULL) says is not ours. dfd is closed. -1 when a directory
 * could not be read to its end: names are missing.
 */
int	 links_walk(struct links *, int dfd, const char *rel,
	    int (*skip)(void *, const char *), void *arg);

#endif
