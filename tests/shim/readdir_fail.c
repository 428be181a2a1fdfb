/*
 * readdir_fail.so: an LD_PRELOAD shim for the tests that makes a
 * directory listing fail part-way, as a failing disk does. With
 * IOBS_FAIL_DIR=/abs/dir, readdir(3) of that directory returns NULL
 * with errno IOBS_FAIL_ERRNO (a number; EIO by default) once it has
 * returned IOBS_FAIL_AFTER entries (default 0), for as long as the
 * file IOBS_FAIL_WHILE exists (always when unset). getdents64(2),
 * through its glibc wrapper, fails the same way: the listing of a
 * descriptor ends in the error once that many entries are read.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static DIR	*cur;		/* the listing being counted */
static long	 seen;

static long
fail_after(void)
{
	const char *after = getenv("IOBS_FAIL_AFTER");

	return after != NULL ? atol(after) : 0;
}

/* The descriptor fd is the directory to fail, while it is to. */
static int
failing_fd(int fd)
{
	const char *want = getenv("IOBS_FAIL_DIR");
	const char *flag = getenv("IOBS_FAIL_WHILE");
	char link[64], path[PATH_MAX];
	ssize_t n;
	int save = errno, r;

	r = want != NULL && (flag == NULL || access(flag, F_OK) == 0);
	errno = save;		/* readdir's caller reads it */
	if (!r)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	errno = save;
	if (n == -1)
		return 0;
	path[n] = '\0';
	return strcmp(path, want) == 0;
}

static int
failing(DIR *d)
{
	if (!failing_fd(dirfd(d)))
		return 0;
	if (d != cur) {
		cur = d;
		seen = 0;
	}
	return seen++ >= fail_after();
}

static int
fail_errno(void)
{
	const char *e = getenv("IOBS_FAIL_ERRNO");

	return e != NULL ? atoi(e) : EIO;
}

struct dirent *
readdir(DIR *d)
{
	static struct dirent *(*real)(DIR *);

	if (real == NULL)
		real = (struct dirent *(*)(DIR *))dlsym(RTLD_NEXT, "readdir");
	if (failing(d)) {
		errno = fail_errno();
		return NULL;
	}
	return real(d);
}

/* A listing closed: the next one at that address counts afresh. */
int
closedir(DIR *d)
{
	static int (*real)(DIR *);

	if (real == NULL)
		real = (int (*)(DIR *))dlsym(RTLD_NEXT, "closedir");
	if (d == cur)
		cur = NULL;
	return real(d);
}

struct dirent64 *
readdir64(DIR *d)
{
	static struct dirent64 *(*real)(DIR *);

	if (real == NULL)
		real = (struct dirent64 *(*)(DIR *))dlsym(RTLD_NEXT,
		    "readdir64");
	if (failing(d)) {
		errno = fail_errno();
		return NULL;
	}
	return real(d);
}

/*
 * A listing by getdents64: the records up to the count, then the
 * error. A listing is counted from its start (offset 0) on.
 */
ssize_t
getdents64(int fd, void *buf, size_t len)
{
	static ssize_t (*real)(int, void *, size_t);
	static _Thread_local long left;
	struct dirent64 *de;
	ssize_t n, pos;

	if (real == NULL)
		real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT,
		    "getdents64");
	if (!failing_fd(fd))
		return real(fd, buf, len);
	if (lseek(fd, 0, SEEK_CUR) == 0)
		left = fail_after();
	if (left <= 0) {
		errno = fail_errno();
		return -1;
	}
	if ((n = real(fd, buf, len)) <= 0)
		return n;
	for (pos = 0; pos < n && left > 0; pos += de->d_reclen, left--)
		de = (struct dirent64 *)((char *)buf + pos);
	return pos;
}
