/*
 * The watcher's map of watched directories: a node per watch, found by
 * watch descriptor or by (parent, name). A node keeps only its own
 * name, so renaming a directory is O(1) whatever lies below it.
 */
#ifndef TREE_H
#define TREE_H

#include <stddef.h>

struct dnode {
	int		 wd;
	int		 root;		/* index of the watch root */
	struct dnode	*parent;	/* NULL for a root */
	struct dnode	*child;		/* first child */
	struct dnode	*next, *prev;	/* siblings */
	struct dnode	*wd_chain, *name_chain;
	char		*name;		/* raw name; a root's absolute path */
	char		*vis;		/* name encoded for the stream */
	size_t		 namelen, vislen;
};

struct tree {
	struct dnode	**by_wd, **by_name;
	size_t		  nbuckets, count;
};

/* A growable byte buffer for building paths. */
struct pathbuf {
	char	*s;
	size_t	 len, cap;
};

void	 tree_init(struct tree *);
void	 tree_clear(struct tree *);
struct dnode *tree_add(struct tree *, struct dnode *parent, const char *name,
	    size_t namelen, int wd, int root);
struct dnode *tree_by_wd(const struct tree *, int wd);
struct dnode *tree_child(const struct tree *, const struct dnode *parent,
	    const char *name, size_t namelen);
void	 tree_move(struct tree *, struct dnode *, struct dnode *newparent,
	    const char *name, size_t namelen);
/* Drops a node and everything below it, calling fn on each first. */
void	 tree_remove(struct tree *, struct dnode *,
	    void (*fn)(struct dnode *, void *), void *arg);
int	 tree_is_below(const struct dnode *, const struct dnode *ancestor);

/* Path of a node, raw or encoded, into pb (replacing its contents). */
void	 tree_path(const struct dnode *, int vis, struct pathbuf *);
/* Path relative to the node's root ("" for the root itself). */
void	 tree_relpath(const struct dnode *, struct pathbuf *);

void	 pathbuf_reserve(struct pathbuf *, size_t more);
void	 pathbuf_append(struct pathbuf *, const char *, size_t);
void	 pathbuf_free(struct pathbuf *);

#endif
