/*
 * Whether one directory can be reached inside another, by device and
 * inode, whatever the route: its own ancestors, a symlinked parent, or
 * a mount (a bind mount, or the same file system mounted twice) that
 * shows it, or a directory above it, below the other. A path compared
 * with a path sees none of those.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

#define DEPTH_MAX	4096

struct chain {
	struct stat	*v;
	size_t		 n;
};

/* fd and the directories above it, by "..", up to the root. */
static void
chain_of(int fd, struct chain *c)
{
	struct stat st;
	int cur, up;

	c->v = NULL;
	c->n = 0;
	if ((cur = dup(fd)) == -1)
		err(1, "dup");
	while (c->n < DEPTH_MAX && fstat(cur, &st) == 0) {
		if (c->n > 0 && st.st_dev == c->v[c->n - 1].st_dev &&
		    st.st_ino == c->v[c->n - 1].st_ino)
			break;		/* ".." of the root is itself */
		if ((c->v = reallocarray(c->v, c->n + 1, sizeof(st))) == NULL)
			err(1, "reallocarray");
		c->v[c->n++] = st;
		up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(cur);
		if ((cur = up) == -1)
			return;
	}
	close(cur);
}

static int
chain_has(const struct chain *c, const struct stat *st)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].st_dev == st->st_dev &&
		    c->v[i].st_ino == st->st_ino)
			return 1;
	return 0;
}

/* A mount point of /proc/self/mountinfo, its octal escapes undone. */
static void
unescape(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/*
 * A line of /proc/self/mountinfo: which file system, which of its
 * directories, and where it is shown.
 */
struct mount {
	char	*dev, *root, *point;
};

struct mounts {
	struct mount	*v;
	size_t		 n;
	char		*text;
};

/* ID PARENT MAJ:MIN ROOT POINT ...: the fields of each line. */
static void
mounts_read(struct mounts *ms)
{
	char *line = NULL, *p, *f[5];
	size_t cap = 0;
	FILE *fp;
	int i;

	memset(ms, 0, sizeof(*ms));
	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return;
	while (getline(&line, &cap, fp) != -1) {
		for (p = line, i = 0; i < 5 && p != NULL; i++) {
			f[i] = p;
			if ((p = strchr(p, ' ')) != NULL)
				*p++ = '\0';
		}
		if (p == NULL)
			continue;
		if ((ms->v = reallocarray(ms->v, ms->n + 1, sizeof(*ms->v))) ==
		    NULL)
			err(1, "reallocarray");
		if ((ms->v[ms->n].dev = strdup(f[2])) == NULL ||
		    (ms->v[ms->n].root = strdup(f[3])) == NULL ||
		    (ms->v[ms->n].point = strdup(f[4])) == NULL)
			err(1, "strdup");
		unescape(ms->v[ms->n].root);
		unescape(ms->v[ms->n].point);
		ms->n++;
	}
	free(line);
	fclose(fp);
}

static void
mounts_free(struct mounts *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		free(ms->v[i].dev);
		free(ms->v[i].root);
		free(ms->v[i].point);
	}
	free(ms->v);
}

/* path's chain has outer's directory. */
static int
path_under(const char *path, const struct stat *ost)
{
	struct chain c;
	int fd, found;

	if ((fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	chain_of(fd, &c);
	found = chain_has(&c, ost);
	free(c.v);
	close(fd);
	return found;
}

/*
 * Mount a shows a directory of its file system that mount b shows
 * too, below b's root: where, in *path.
 */
static int
shown_by(const struct mount *a, const struct mount *b, char **path)
{
	size_t n = strlen(b->root);

	if (strcmp(a->dev, b->dev) != 0 || a == b)
		return 0;
	if (strcmp(b->root, "/") != 0 && (strncmp(a->root, b->root, n) != 0 ||
	    (a->root[n] != '/' && a->root[n] != '\0')))
		return 0;
	if (strcmp(b->root, "/") == 0)
		n = 0;
	if (asprintf(path, "%s%s", strcmp(b->point, "/") == 0 ? "" :
	    b->point, a->root + n) == -1)
		err(1, "asprintf");
	return 1;
}

/*
 * 1 when the directory inner is outer, or can be reached below it;
 * 0 when not; both are open directories (O_PATH will do).
 */
int
dir_within(int inner, int outer)
{
	struct chain in;
	struct mounts ms;
	struct stat ost, st;
	size_t i, j;
	char *path;
	int fd, found = 0;

	if (fstat(outer, &ost) == -1)
		err(1, "fstat");
	chain_of(inner, &in);
	found = chain_has(&in, &ost);
	mounts_read(&ms);
	for (i = 0; !found && i < ms.n; i++) {
		if ((fd = open(ms.v[i].point, O_PATH | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			continue;
		if (fstat(fd, &st) == 0 && chain_has(&in, &st)) {
			/*
			 * inner is at or below this mount: a mount below
			 * outer whose root is inner or above it shows inner
			 * there too; so does another mount of the same file
			 * system that shows this one's root below outer (a
			 * directory of the source bound as DEST).
			 */
			found = path_under(ms.v[i].point, &ost);
			for (j = 0; !found && j < ms.n; j++) {
				if (!shown_by(&ms.v[i], &ms.v[j], &path))
					continue;
				found = path_under(path, &ost);
				free(path);
			}
		}
		close(fd);
	}
	mounts_free(&ms);
	free(in.v);
	return found;
}

/*
 * The deepest part of path that exists, opened: a directory not made
 * yet is where its parent is.
 */
int
open_existing(const char *path)
{
	char *copy, *slash;
	int fd;

	if ((copy = strdup(path)) == NULL)
		err(1, "strdup");
	while ((fd = open(copy[0] ? copy : "/", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1 && (errno == ENOENT || errno == ENOTDIR)) {
		if ((slash = strrchr(copy, '/')) == NULL) {
			if (strcmp(copy, ".") == 0)
				break;
			strcpy(copy, ".");
			continue;
		}
		if (slash == copy)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(copy);
	return fd;
}
