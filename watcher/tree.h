/*
 * The watcher's map of watched directories: a node per watch, found by
 * watch descriptor or by (parent, name). A node keeps only its own
 * name, so renaming a directory is O(1) whatever lies below it, and
 * is 24 bytes plus its name, so a large tree costs little memory.
 */
#ifndef TREE_H
#define TREE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Links are indices into one reserved array; 0 is "none". A keyed
 * tree (fanotify's, whose directories are known by a 64-bit handle
 * key, not by a watch) has no index by name: wd is the key's high
 * half, keylo its low one.
 */
struct dnode {
	uint32_t	 parent;
	uint32_t	 wd_next;		/* hash chain */
	union {
		uint32_t name_next;		/* hash chain */
		uint32_t keylo;			/* in a keyed tree */
	};
	uint32_t	 name;			/* entry in the name arena */
	uint32_t	 nchildren;
	int32_t		 wd;
};

struct tree {
	struct dnode	*node;		/* reserved, never moves */
	uint32_t	 cap, used, free_list, count;
	uint32_t	*by_wd, *by_name;
	uint32_t	 nbuckets;
	char		*names;		/* every node's name, length first */
	size_t		 names_len, names_cap, names_dead;
	unsigned	 moves;		/* tree_move calls, ever */
	int		 keyed;		/* no by_name: see struct dnode */
};

/* A growable byte buffer for building paths. */
struct pathbuf {
	char	*s;
	size_t	 len, cap;
};

void	 tree_init(struct tree *);
/* An empty tree becomes keyed, until tree_clear. */
void	 tree_keyed(struct tree *);
void	 tree_clear(struct tree *);
/* NULL when the map is full (more nodes than the watch limit allows). */
struct dnode *tree_add(struct tree *, struct dnode *parent, const char *name,
	    size_t namelen, int wd);
struct dnode *tree_by_wd(const struct tree *, int wd);
/* The next node after n with n's wd: fanotify's wd is part of a key. */
struct dnode *tree_next_wd(const struct tree *, const struct dnode *n);
void	 tree_set_wd(struct tree *, struct dnode *, int wd);
/* In a keyed tree, a look at every node: for what is rare. */
struct dnode *tree_child(const struct tree *, const struct dnode *parent,
	    const char *name, size_t namelen);
struct dnode *tree_parent(const struct tree *, const struct dnode *);
/* The top of n's tree: the node of its watch root. */
struct dnode *tree_top(const struct tree *, struct dnode *n);
/* Is n the entry name of parent? */
int	 tree_named(const struct tree *, const struct dnode *n,
	    const struct dnode *parent, const char *name, size_t namelen);
void	 tree_move(struct tree *, struct dnode *, struct dnode *newparent,
	    const char *name, size_t namelen);
/* Drops a node and everything below it, calling fn on each first. */
void	 tree_remove(struct tree *, struct dnode *,
	    void (*fn)(struct dnode *, void *), void *arg);

/* Path of a node, raw or encoded, into pb (replacing its contents). */
void	 tree_path(const struct tree *, const struct dnode *, int vis,
	    struct pathbuf *);
/* Path relative to the node's root ("" for the root itself). */
void	 tree_relpath(const struct tree *, const struct dnode *,
	    struct pathbuf *);

void	 pathbuf_reserve(struct pathbuf *, size_t more);
void	 pathbuf_append(struct pathbuf *, const char *, size_t);
void	 pathbuf_free(struct pathbuf *);

#endif
