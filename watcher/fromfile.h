/*
 * Paths to watch, from --fromfile and the operands: one path a line or
 * an argument, "@path" excluding one, as inotifywait(1) reads them.
 */
#ifndef FROMFILE_H
#define FROMFILE_H

#include <stdio.h>

struct pathlist {
	char	**path;
	size_t	 n, cap;
};

/* Adds path, or with a leading @ the rest of it to excludes. */
void	 pathlist_take(struct pathlist *watch, struct pathlist *excludes,
	    const char *path);
/* Every line of fp, as pathlist_take() takes them; -1 on a read error. */
int	 pathlist_read(FILE *, struct pathlist *watch,
	    struct pathlist *excludes);
void	 pathlist_free(struct pathlist *);

#endif
