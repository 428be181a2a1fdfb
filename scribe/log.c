/*
 * The log: a file opened for appending, or standard output. Each line
 * is put together in a buffer and goes out in one write(2): with
 * O_APPEND no other writer's line ever lands inside one of ours.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scribe.h"

/* Grows for longer lines. */
#define LINE_BUF	4096

static int
open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void
scribe_log_open(struct scribe_log *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	l->cap = LINE_BUF;
	if ((l->buf = malloc(l->cap)) == NULL)
		err(1, "malloc");
	if (path == NULL || strcmp(path, "-") == 0) {
		l->fd = STDOUT_FILENO;
		return;
	}
	if ((l->path = strdup(path)) == NULL)
		err(1, "strdup");
	if ((l->fd = open_log(path)) == -1)
		err(1, "%s", path);
}

/*
 * Opens path ("-" or NULL: standard output) for the lines to come. The
 * old file is closed only once the new one is open, so that no line is
 * lost, and stays when the new one cannot be opened (-1 and errno).
 */
int
scribe_log_switch(struct scribe_log *l, const char *path)
{
	char *npath = NULL;
	int fd = STDOUT_FILENO;

	scribe_log_flush(l);
	if (path != NULL && strcmp(path, "-") != 0) {
		if ((fd = open_log(path)) == -1)
			return -1;
		if ((npath = strdup(path)) == NULL)
			err(1, "strdup");
	}
	if (l->path != NULL)
		close(l->fd);
	free(l->path);
	l->path = npath;
	l->fd = fd;
	return 0;
}

/* The same path again, as logrotate needs; -1 after a warning. */
int
scribe_log_reopen(struct scribe_log *l)
{
	if (l->path == NULL) {
		scribe_log_flush(l);
		return 0;
	}
	if (scribe_log_switch(l, l->path) == -1) {
		warn("%s: cannot reopen the log; still writing to the old "
		    "file", l->path);
		return -1;
	}
	return 0;
}

char *
scribe_log_reserve(struct scribe_log *l, size_t max)
{
	scribe_log_flush(l);
	if (max > l->cap) {
		l->cap = max;
		if ((l->buf = realloc(l->buf, l->cap)) == NULL)
			err(1, "realloc");
	}
	return l->buf + l->len;
}

void
scribe_log_commit(struct scribe_log *l, size_t len)
{
	l->len += len;
	scribe_log_flush(l);
}

void
scribe_log_flush(struct scribe_log *l)
{
	size_t off = 0;
	ssize_t n;

	while (off < l->len) {
		n = write(l->fd, l->buf + off, l->len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "%s", l->path ? l->path : "stdout");
		}
		off += n;
	}
	l->len = 0;
}

void
scribe_log_close(struct scribe_log *l)
{
	scribe_log_flush(l);
	if (l->path != NULL)
		close(l->fd);
	free(l->path);
	free(l->buf);
	l->buf = l->path = NULL;
}
