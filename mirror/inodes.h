/*
 * The inode each source name was last seen as, held by directory: per
 * name a 64-bit hash of its name and a 32-bit print of its inode, 12
 * bytes, in a sorted array for each directory, found by the directory's
 * path. It proves a rename (the new name is the inode the old one was)
 * without the names' strings: a tree of a million files holds about
 * 12 MB here, where the table of names by inode (links.h) holds only
 * the files with other names. A hint, as every table here: a print
 * that does not match says "not proven", never "proven" wrongly but
 * once in four billion.
 */
#ifndef INODES_H
#define INODES_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "pathset.h"

struct inodes_name;

/*
 * A directory's names: v[0, sorted) by hash, one each; the rest come as
 * they were set, a walk's whole listing at once, sorted in when looked
 * at, the last set of a name winning.
 */
struct inodes_dir {
	struct inodes_name *v;
	uint32_t	 n, cap, sorted;
};

struct inodes {
	struct pathset	 dirs;		/* a directory's path; how: index */
	struct inodes_dir *d;
	size_t		 nd, dcap;
	size_t		*spare;		/* indexes of d free again */
	size_t		 nspare, sparecap;
	/* The directory set last: a walk sets a directory's names in a row. */
	char		*last;		/* NULL: none */
	size_t		 lastlen, lasti;
};

/* rel, not a directory, is (dev, ino) now. */
void	 inodes_set(struct inodes *, const char *rel, dev_t, ino_t);
void	 inodes_del(struct inodes *, const char *rel);
/*
 * A walk is about to set n names in the directory dir, in a row: room
 * for them at once, not grown by halves, which would leave a third of
 * it unused in a tree of small directories.
 */
void	 inodes_reserve(struct inodes *, const char *dir, size_t n);
/* 1: rel was last seen as (dev, ino); 0: as another; -1: not known. */
int	 inodes_was(struct inodes *, const char *rel, dev_t, ino_t);
/* A file or a directory renamed: its name, and the names below it. */
void	 inodes_rename(struct inodes *, const char *from, const char *to);
/* A directory gone: the names in it and below. */
void	 inodes_prune(struct inodes *, const char *dir);
void	 inodes_clear(struct inodes *);

#endif
