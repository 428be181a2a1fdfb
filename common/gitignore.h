/*
 * Excludes people already keep: --exclude-from FILE in gitignore(5)
 * syntax, and --gitignore, the .gitignore files of the tree (and its
 * repository's .git/info/exclude) honoured as git does.
 */
#ifndef IOBS_GITIGNORE_H
#define IOBS_GITIGNORE_H

#include <stddef.h>

#define GI_NEGATE	0x1	/* !pattern: included again */
#define GI_DIRONLY	0x2	/* pattern/: directories only */
#define GI_BASENAME	0x4	/* no slash: a name at any depth */

struct gi_pattern {
	char		*glob;	/* without !, leading or trailing / */
	int		 flags;
};

/* The patterns of one file, applying below one directory. */
struct gi_list {
	struct gi_pattern *p;
	size_t		 n;
};

/* What a list, or a set of them, says of a path. */
enum gi_verdict { GI_NONE, GI_EXCLUDED, GI_INCLUDED };

/* The lines of a file, appended to l. */
void	 iobs_gi_parse(struct gi_list *l, const char *text, size_t len);
/*
 * The last pattern of l matching path (relative to l's directory,
 * no leading slash), a directory if isdir.
 */
enum gi_verdict iobs_gi_match(const struct gi_list *l, const char *path,
	    int isdir);
/*
 * git's wildmatch: 1 if glob matches text. pathname: '*', '?' and
 * brackets never match '/', and "**" between slashes matches any
 * number of directories.
 */
int	 iobs_gi_wildmatch(const char *glob, const char *text, int pathname);
void	 iobs_gi_list_free(struct gi_list *l);

struct gitignore;

/* perdir: read the .gitignore files (--gitignore). */
struct gitignore *iobs_gi_new(int perdir);
/* --gitignore, after iobs_gi_new(0), before the roots. */
void	 iobs_gi_set_perdir(struct gitignore *);
/* --exclude-from: its patterns, below each root; -1 with errno. */
int	 iobs_gi_add_file(struct gitignore *, const char *file);
/* The roots, in order: absolute, "" for "/". */
void	 iobs_gi_add_root(struct gitignore *, const char *path);
/* How many roots were added. */
int	 iobs_gi_roots(const struct gitignore *);
/* Is rel (rellen bytes, below root i) excluded? Any thread may ask. */
int	 iobs_gi_excluded(struct gitignore *, int root, const char *rel,
	    size_t rellen, int isdir);
/*
 * The entry at abs (a path, len bytes) changed: if it is a .gitignore,
 * its directory's patterns are read again; if a directory, all are.
 */
void	 iobs_gi_changed(struct gitignore *, const char *abs, size_t len,
	    int isdir);
void	 iobs_gi_free(struct gitignore *);

#endif
