/*
 * The log: a file opened for appending, or standard output. Each line
 * is put together in a buffer and goes out in one write(2): with
 * O_APPEND no other writer's line ever lands inside one of ours.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "path.h"
#include "scribe.h"

/* Grows for longer lines. */
#define LINE_BUF	4096

/*
 * A writer killed (SIGKILL) inside a write(2) that crosses a page of
 * the file leaves the first part of its line: the kernel stops between
 * pages. Cut that torn tail off, so the next line starts whole.
 */
static void
cut_torn_tail(int fd, const char *path)
{
	char buf[4096];
	struct stat st;
	off_t off, cut = 0;
	ssize_t n, i;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    pread(fd, buf, 1, st.st_size - 1) != 1 || buf[0] == '\n')
		return;
	for (off = st.st_size; off > 0 && cut == 0;) {
		n = off > (off_t)sizeof(buf) ? (off_t)sizeof(buf) : off;
		off -= n;
		if (pread(fd, buf, n, off) != n)
			return;
		for (i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				cut = off + i + 1;
				break;
			}
	}
	if (ftruncate(fd, cut) == 0)
		warnx("%s: cut a torn last line (%lld bytes) left by a writer "
		    "that was killed", path, (long long)(st.st_size - cut));
}

/*
 * Every scribe holds a shared lock on its log while it has it open;
 * one that gets the lock exclusive is the only writer, and may repair
 * the tail. A log we may not read is opened for writing only.
 */
static int
open_log(const char *path, int make_dir)
{
	char dir[PATH_MAX], *slash;
	int fd;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	/*
	 * A new log's own directory (/var/log/iobserver) is made, as
	 * systemd's LogsDirectory= would, readable by the group only:
	 * one level, so that a mistyped path makes no tree. Not when the
	 * same log is reopened: a directory moved away keeps its log.
	 */
	if (fd == -1 && errno == ENOENT && make_dir &&
	    (size_t)snprintf(dir, sizeof(dir), "%s", path) < sizeof(dir) &&
	    (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) == 0 || errno == EEXIST)
			fd = open(path, O_RDWR | O_APPEND | O_CREAT |
			    O_CLOEXEC, 0644);
		else
			errno = ENOENT;
	}
	if (fd == -1 && errno == EACCES)
		return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		cut_torn_tail(fd, path);
	(void)flock(fd, LOCK_SH);
	return fd;
}

/*
 * For --check: whether the log could be opened, or its directory made.
 * 0, or -1 with the reason and the fix in why.
 */
int
scribe_log_check(const char *path, char *why, size_t whylen)
{
	char dir[PATH_MAX], above[PATH_MAX];
	struct stat st;

	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s: is a directory; name a file in it",
		    path);
		return -1;
	}
	/* Its directory is made at start, not the ones above. */
	if (iobs_path_parent_missing(path, dir, sizeof(dir)) &&
	    iobs_path_parent_missing(dir, above, sizeof(above))) {
		snprintf(why, whylen, "%s: %s: no such directory; make it "
		    "(mkdir -p %s) or log elsewhere", path, above, dir);
		return -1;
	}
	return 0;
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
	if ((l->fd = open_log(path, 1)) == -1)
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
		if ((fd = open_log(path, l->path == NULL ||
		    strcmp(l->path, path) != 0)) == -1)
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
