/*
 * treecmp: compares two trees for the tests: types, modes, sizes,
 * bytes, modification times to the nanosecond, symlink targets.
 * Prints each difference; exits 0 when equal, 1 when not.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int quiet, diffs;

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-q] dir1 dir2\n", getprogname());
	exit(2);
}

static void
differ(const char *rel, const char *what)
{
	diffs++;
	if (!quiet)
		printf("%s: %s\n", rel[0] ? rel : ".", what);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **
names(const char *dir, size_t *n)
{
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((v = reallocarray(v, cap, sizeof(*v))) == NULL)
				err(2, "reallocarray");
		}
		if ((v[(*n)++] = strdup(de->d_name)) == NULL)
			err(2, "strdup");
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), cmp_names);
	return v;
}

static int
same_bytes(const char *a, const char *b)
{
	static char ba[65536], bb[65536];
	ssize_t na, nb;
	int fa, fb, same = 1;

	if ((fa = open(a, O_RDONLY)) == -1)
		return 0;
	if ((fb = open(b, O_RDONLY)) == -1) {
		close(fa);
		return 0;
	}
	do {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		if (na != nb || na < 0 || memcmp(ba, bb, na) != 0)
			same = 0;
	} while (same && na > 0);
	close(fa);
	close(fb);
	return same;
}

static void cmp_tree(const char *, const char *, const char *);

static void
cmp_entry(const char *a, const char *b, const char *rel)
{
	struct stat sa, sb;
	char ta[PATH_MAX], tb[PATH_MAX];
	ssize_t la, lb;

	if (lstat(a, &sa) == -1) {
		differ(rel, "missing in first");
		return;
	}
	if (lstat(b, &sb) == -1) {
		differ(rel, "missing in second");
		return;
	}
	if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
		differ(rel, "type");
		return;
	}
	if (!S_ISLNK(sa.st_mode) && sa.st_mode != sb.st_mode)
		differ(rel, "mode");
	if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
		differ(rel, "mtime");
	if (S_ISREG(sa.st_mode)) {
		if (sa.st_size != sb.st_size)
			differ(rel, "size");
		else if (!same_bytes(a, b))
			differ(rel, "bytes");
	} else if (S_ISLNK(sa.st_mode)) {
		la = readlink(a, ta, sizeof(ta));
		lb = readlink(b, tb, sizeof(tb));
		if (la != lb || la < 0 || memcmp(ta, tb, la) != 0)
			differ(rel, "symlink target");
	} else if (S_ISDIR(sa.st_mode))
		cmp_tree(a, b, rel);
}

static void
cmp_tree(const char *a, const char *b, const char *rel)
{
	char **na, **nb, *pa, *pb, *pr;
	size_t ca, cb, i = 0, j = 0;
	int c;

	na = names(a, &ca);
	nb = names(b, &cb);
	while (i < ca || j < cb) {
		c = i == ca ? 1 : j == cb ? -1 : strcmp(na[i], nb[j]);
		if (asprintf(&pr, "%s%s%s", rel, rel[0] ? "/" : "",
		    c <= 0 ? na[i] : nb[j]) == -1)
			err(2, "asprintf");
		if (c < 0)
			differ(pr, "only in first");
		else if (c > 0)
			differ(pr, "only in second");
		else {
			if (asprintf(&pa, "%s/%s", a, na[i]) == -1 ||
			    asprintf(&pb, "%s/%s", b, nb[j]) == -1)
				err(2, "asprintf");
			cmp_entry(pa, pb, pr);
			free(pa);
			free(pb);
		}
		free(pr);
		if (c <= 0)
			free(na[i++]);
		if (c >= 0)
			free(nb[j++]);
	}
	free(na);
	free(nb);
}

int
main(int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, "q")) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	cmp_entry(argv[0], argv[1], "");
	return diffs > 0;
}
