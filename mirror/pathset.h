/*
 * A set of relative paths with two times each, for work that waits:
 * directories whose metadata is set after their contents, files being
 * written, subtrees to compare. Renames rewrite the paths below them.
 */
#ifndef PATHSET_H
#define PATHSET_H

#include <stddef.h>
#include <stdint.h>

struct pathset_entry {
	char		*path;
	int64_t		 first, last;	/* ms: added, last touched */
	int		 how;		/* SYNC_*, for records waiting */
	size_t		 next;		/* hash chain, index + 1 */
};

struct pathset {
	struct pathset_entry *e;
	size_t		 n, cap;
	size_t		*bucket;	/* index + 1; 0 ends a chain */
	size_t		 nbuckets;
};

struct pathset_entry *pathset_add(struct pathset *, const char *, int64_t);
struct pathset_entry *pathset_get(struct pathset *, const char *);
void	 pathset_del(struct pathset *, const char *);
/* Entries at or below from move below to; at or below path go. */
void	 pathset_rename(struct pathset *, const char *from, const char *to);
void	 pathset_prune(struct pathset *, const char *path);
/* Removes entry i, leaving its path to the caller. */
char	*pathset_take(struct pathset *, size_t i);
void	 pathset_clear(struct pathset *);

int	 path_below(const char *path, const char *dir);
/*
 * dir/name, or name in the root; the directory rel is in, "" for the
 * root's entries: malloc'd.
 */
char	*rel_join(const char *dir, const char *name);
char	*rel_parent(const char *rel);
/* A bucket for a path: nbuckets is a power of two. */
size_t	 path_hash(const char *path, size_t nbuckets);
uint64_t path_hash64(const char *path);

#endif
