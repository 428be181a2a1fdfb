/*
 * The paths of a batch: a storm on one file is one path, and the
 * order is the order they first changed in. Handed to the command as
 * a file, so that a command that does not read them blocks nobody.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <err.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "hash.h"

static void
grow(struct batch *b)
{
	size_t i, j;

	free(b->slot);
	b->nslot = b->nslot ? b->nslot * 2 : 64;
	if ((b->slot = calloc(b->nslot, sizeof(*b->slot))) == NULL)
		err(1, "calloc");
	for (i = 0; i < b->n; i++) {
		j = iobs_fnv1a(b->path[i], strlen(b->path[i]),
		    IOBS_FNV_BASIS) & (b->nslot - 1);
		while (b->slot[j] != 0)
			j = (j + 1) & (b->nslot - 1);
		b->slot[j] = i + 1;
	}
}

void
batch_add(struct batch *b, const char *path, size_t len)
{
	size_t j;
	char *p;

	if (2 * (b->n + 1) > b->nslot)
		grow(b);
	for (j = iobs_fnv1a(path, len, IOBS_FNV_BASIS) & (b->nslot - 1); b->slot[j] != 0;
	    j = (j + 1) & (b->nslot - 1)) {
		p = b->path[b->slot[j] - 1];
		if (strncmp(p, path, len) == 0 && p[len] == '\0')
			return;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		if ((b->path = reallocarray(b->path, b->cap,
		    sizeof(*b->path))) == NULL)
			err(1, "reallocarray");
	}
	if ((p = malloc(len + 1)) == NULL)
		err(1, "malloc");
	memcpy(p, path, len);
	p[len] = '\0';
	b->path[b->n++] = p;
	b->slot[j] = b->n;
}

void
batch_clear(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->path[i]);
	free(b->path);
	free(b->slot);
	memset(b, 0, sizeof(*b));
}

static void
put(FILE *f, const char *s, size_t len, char end)
{
	fwrite(s, 1, len, f);
	putc(end, f);
}

/*
 * One a line: a name with a newline in it would be two lines, so its
 * directory (the closest one without) stands for it; -0 has no such
 * limit.
 */
int
batch_file(const struct batch *b, int nul)
{
	const char *p, *slash;
	size_t i, len;
	FILE *f;
	int fd, fd2;

	if ((fd = memfd_create("iobs-exec-batch", MFD_CLOEXEC)) == -1)
		return -1;
	if ((fd2 = dup(fd)) == -1 || (f = fdopen(fd2, "w")) == NULL) {
		close(fd);
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		p = b->path[i];
		len = strlen(p);
		if (nul) {
			put(f, p, len, '\0');
			continue;
		}
		while (memchr(p, '\n', len) != NULL &&
		    (slash = memrchr(p, '/', len)) != NULL && slash > p)
			len = slash - p;
		if (memchr(p, '\n', len) != NULL)
			len = 1;	/* "/" */
		put(f, p, len, '\n');
	}
	if (fclose(f) == EOF || lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}
