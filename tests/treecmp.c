/*
 * treecmp: compares two trees for the tests: types, modes, sizes,
 * bytes, modification times to the nanosecond, symlink targets; with
 * -H, hard links: names of one inode in one tree are names of one inode
 * in the other; with -x rel, that path is left out on both sides (a
 * mirror's backup directory). Prints each difference; exits 0 when
 * equal, 1 when not.
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

static int quiet, diffs, hardlinks;
static char **skips;
static size_t nskips;

/* A file or symlink with more than one name in either tree. */
struct pair {
	dev_t	 da, db;
	ino_t	 ia, ib;
	char	*rel;
};

static struct pair *pairs;
static size_t npairs, paircap;

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-Hq] [-x rel] dir1 dir2\n",
	    getprogname());
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

static int
skipped(const char *rel)
{
	size_t i;

	for (i = 0; i < nskips; i++)
		if (strcmp(skips[i], rel) == 0)
			return 1;
	return 0;
}

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
	if (!S_ISDIR(sa.st_mode) && hardlinks &&
	    (sa.st_nlink > 1 || sb.st_nlink > 1)) {
		if (npairs == paircap) {
			paircap = paircap ? paircap * 2 : 64;
			if ((pairs = reallocarray(pairs, paircap,
			    sizeof(*pairs))) == NULL)
				err(2, "reallocarray");
		}
		pairs[npairs].da = sa.st_dev;
		pairs[npairs].ia = sa.st_ino;
		pairs[npairs].db = sb.st_dev;
		pairs[npairs].ib = sb.st_ino;
		if ((pairs[npairs++].rel = strdup(rel)) == NULL)
			err(2, "strdup");
	}
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
		if (skipped(pr))
			;
		else if (c < 0)
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

static int
by_a(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;

	if (p->da != q->da)
		return p->da < q->da ? -1 : 1;
	if (p->ia != q->ia)
		return p->ia < q->ia ? -1 : 1;
	return 0;
}

static int
by_b(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;

	if (p->db != q->db)
		return p->db < q->db ? -1 : 1;
	if (p->ib != q->ib)
		return p->ib < q->ib ? -1 : 1;
	return 0;
}

/* Names of one inode on one side are names of one on the other. */
static void
cmp_links(void)
{
	size_t i;

	if (npairs == 0)
		return;
	qsort(pairs, npairs, sizeof(*pairs), by_a);
	for (i = 1; i < npairs; i++)
		if (by_a(&pairs[i - 1], &pairs[i]) == 0 &&
		    by_b(&pairs[i - 1], &pairs[i]) != 0)
			differ(pairs[i].rel, "not a hard link in second");
	qsort(pairs, npairs, sizeof(*pairs), by_b);
	for (i = 1; i < npairs; i++)
		if (by_b(&pairs[i - 1], &pairs[i]) == 0 &&
		    by_a(&pairs[i - 1], &pairs[i]) != 0)
			differ(pairs[i].rel, "not a hard link in first");
	for (i = 0; i < npairs; i++)
		free(pairs[i].rel);
	free(pairs);
}

int
main(int argc, char *argv[])
{
	int ch;

	while ((ch = getopt(argc, argv, "Hqx:")) != -1) {
		switch (ch) {
		case 'H':
			hardlinks = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'x':
			if ((skips = reallocarray(skips, nskips + 1,
			    sizeof(*skips))) == NULL)
				err(2, "reallocarray");
			skips[nskips++] = optarg;
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
	if (hardlinks)
		cmp_links();
	return diffs > 0;
}
