/*
 * The mirror's primitives, below every other file of it: path pieces,
 * what an errno says of a source entry, a tree removed under a
 * directory descriptor, and the line that says a change to DEST.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "stream.h"
#include "mirror.h"

/*
 * A source that vanished or changed type: a later record says so.
 * EXDEV is openat2(2)'s RESOLVE_BENEATH seeing the directory it
 * resolved moved out of the root meanwhile.
 */
int
vanished(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENXIO ||
	    e == EXDEV;
}

/* Deletes name in pfd and all it holds, whatever it is. */
int
remove_tree(int pfd, const char *name)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rv = 0;

	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -1;
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	/* Read-only, it is emptied all the same: it goes. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 0300) != 0300)
		(void)fchmod(fd, (st.st_mode & 07777) | 0300);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    remove_tree(dirfd(d), de->d_name) == -1)
			rv = -1;
	closedir(d);
	if (rv == 0 && unlinkat(pfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		rv = -1;
	return rv;
}

static void
print_path(const char *dest, const char *rel)
{
	size_t len = strlen(rel);
	char *v;

	if ((v = malloc(IOBS_VIS_MAX(len))) == NULL)
		err(1, "malloc");
	iobs_vis(v, rel, len);
	printf("%s%s%s", dest, len ? "/" : "", v);
	free(v);
}

/*
 * -v prints deletes, -vv every change, --dry-run what would be done:
 * "delete /backup/dir", "rename /backup/a /backup/b".
 */
void
dest_log(struct mirror *m, int level, const char *what, const char *rel,
    const char *rel2)
{
	if (!m->o.dry_run && !m->drifting && m->o.verbose < level)
		return;
	if (m->drifting)
		m->repairs++;
	printf("%s%s ", m->drifting ? "repair " : "", what);
	print_path(m->o.dest, rel);
	if (rel2 != NULL) {
		putchar(' ');
		print_path(m->o.dest, rel2);
	}
	putchar('\n');
	fflush(stdout);
}

/* A root as the stream writes it: no trailing slash, "" for "/". */
char *
root_name(const char *path)
{
	char *p;
	size_t len;

	if ((p = strdup(path)) == NULL)
		err(1, "strdup");
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

/*
 * The root a mirror follows, local or remote, from a lifecycle record
 * r: the first WATCH_INIT's, or --root's (want). 1 when r is about it,
 * adopted in *root (malloc'd, "" for "/") at its WATCH_INIT; 0 when
 * about another root. A second root without --root cannot be
 * followed: exit 2.
 */
int
root_follow(char **root, size_t *rootlen, const char *want,
    const struct iobs_record *r)
{
	char *name = root_name(r->path);
	int ours = *root != NULL && strcmp(name, *root) == 0;

	if (!ours && (want == NULL || strcmp(name, want) == 0) &&
	    r->lifecycle == IOBS_WATCH_INIT) {
		if (*root != NULL)
			errx(2, "the stream has a second root, %s, beside %s; "
			    "choose the one to follow with --root", r->path,
			    (*root)[0] ? *root : "/");
		*root = name;
		*rootlen = strlen(name);
		return 1;
	}
	free(name);
	return ours;
}

/*
 * A record's path relative to the root followed; NULL when it is not
 * below it: another root's, with --root, or else said, line and all,
 * and *rval 1.
 */
const char *
root_rel(const char *root, size_t rootlen, const char *want,
    const char *path, unsigned long lineno, int *rval)
{
	const char *rel = iobs_path_below(root, rootlen, path);

	if (rel == NULL && want == NULL) {
		warnx("stdin:%lu: path outside %s or with \".\" or \"..\"; "
		    "line skipped", lineno, root[0] ? root : "/");
		*rval = 1;
	}
	return rel;
}
