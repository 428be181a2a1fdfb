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
 * 1 when the directory inner is outer, or can be reached below it;
 * 0 when not; both are open directories (O_PATH will do).
 */
int
dir_within(int inner, int outer)
{
	struct chain in, mp;
	struct stat ost, st;
	char *line = NULL, *p, *point;
	size_t cap = 0;
	FILE *f;
	int fd, found = 0, i;

	if (fstat(outer, &ost) == -1)
		err(1, "fstat");
	chain_of(inner, &in);
	found = chain_has(&in, &ost);
	/*
	 * A mount below outer whose root is inner or above it shows
	 * inner there too.
	 */
	if (!found && (f = fopen("/proc/self/mountinfo", "re")) != NULL) {
		while (!found && getline(&line, &cap, f) != -1) {
			/* ID PARENT MAJ:MIN ROOT POINT ... */
			for (p = line, i = 0; i < 4 && p != NULL; i++)
				if ((p = strchr(p, ' ')) != NULL)
					p++;
			if (p == NULL)
				continue;
			point = p;
			if ((p = strchr(point, ' ')) != NULL)
				*p = '\0';
			unescape(point);
			if ((fd = open(point, O_PATH | O_DIRECTORY |
			    O_CLOEXEC)) == -1)
				continue;
			if (fstat(fd, &st) == 0 && chain_has(&in, &st)) {
				chain_of(fd, &mp);
				found = chain_has(&mp, &ost);
				free(mp.v);
			}
			close(fd);
		}
		free(line);
		fclose(f);
	}
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
