/*
 * readdir_fail.so: an LD_PRELOAD shim for the tests that makes a
 * directory listing fail part-way, as a failing disk does. With
 * IOBS_FAIL_DIR=/abs/dir, readdir(3) of that directory returns NULL
 * with errno IOBS_FAIL_ERRNO (a number; EIO by default) once it has
 * returned IOBS_FAIL_AFTER entries (default 0), for as long as the
 * file IOBS_FAIL_WHILE exists (always when unset).
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

static int
failing(DIR *d)
{
	const char *want = getenv("IOBS_FAIL_DIR");
	const char *flag = getenv("IOBS_FAIL_WHILE");
	const char *after = getenv("IOBS_FAIL_AFTER");
	char link[64], path[PATH_MAX];
	ssize_t n;
	int save = errno, r;

	r = want != NULL && (flag == NULL || access(flag, F_OK) == 0);
	errno = save;		/* readdir's caller reads it */
	if (!r)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd(d));
	n = readlink(link, path, sizeof(path) - 1);
	errno = save;
	if (n == -1)
		return 0;
	path[n] = '\0';
	if (strcmp(path, want) != 0)
		return 0;
	if (d != cur) {
		cur = d;
		seen = 0;
	}
	return seen++ >= (after != NULL ? atol(after) : 0);
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
