/*
 * storm: a deterministic random storm of changes on a tree, for the
 * convergence tests: creates, writes, appends, truncates, chmods, old
 * mtimes, mkdir -p, renames across the tree, deletes, rm -rf, moves
 * out to another directory and back in, symlinks, hard links made and
 * later written through any of their names, odd names.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t seed;

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-n ops] [-s seed] dir outside\n",
	    getprogname());
	exit(2);
}

static uint32_t
rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return n ? (uint32_t)(seed % n) : 0;
}

static const char *odd[] = {
	"a", "b", "file", "dir", "with space", "tab\there", "new\nline",
	"back\\slash", "\xc3\xa9t\xc3\xa9", "-dash", ".hidden", "*?[glob]",
	"quote\"'", "\x01\x7f", "%s%n", "x.tmp",
};

static void
name(char *buf, size_t size)
{
	snprintf(buf, size, "%s%u", odd[rnd(sizeof(odd) / sizeof(odd[0]))],
	    rnd(50));
}

struct list {
	char	**v;
	size_t	  n, cap;
};

static void
add(struct list *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if ((l->v = reallocarray(l->v, l->cap, sizeof(char *))) == NULL)
			err(1, "reallocarray");
	}
	if ((l->v[l->n++] = strdup(s)) == NULL)
		err(1, "strdup");
}

static void
clear(struct list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static int
cmp(const void *a, const void *b)
{
	/* Past the type that scan() puts first. */
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/* Every path below dir, sorted, so that choices depend on the seed. */
static void
scan(const char *dir, struct list *files, struct list *dirs)
{
	struct list names = { NULL, 0, 0 };
	struct dirent *de;
	struct stat st;
	char path[PATH_MAX];
	size_t i;
	DIR *d;
	int isdir;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    snprintf(path, sizeof(path), "%c%s", 'A' + de->d_type,
		    de->d_name) < (int)sizeof(path))
			add(&names, path);
	closedir(d);
	if (names.n > 0)
		qsort(names.v, names.n, sizeof(char *), cmp);
	for (i = 0; i < names.n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    names.v[i] + 1) >= (int)sizeof(path))
			continue;
		/* The type from the listing; lstat(2) only when it has none. */
		if (names.v[i][0] == 'A' + DT_UNKNOWN) {
			if (lstat(path, &st) == -1)
				continue;
			isdir = S_ISDIR(st.st_mode);
		} else
			isdir = names.v[i][0] == 'A' + DT_DIR;
		if (isdir) {
			add(dirs, path);
			scan(path, files, dirs);
		} else
			add(files, path);
	}
	clear(&names);
	free(names.v);
}

static void
write_file(const char *path, int flags, size_t len)
{
	static char buf[65536];
	size_t i;
	int fd;

	for (i = 0; i < len; i++)
		buf[i] = 'a' + rnd(26);
	if ((fd = open(path, O_WRONLY | O_CREAT | flags, 0644)) == -1)
		return;
	(void)!write(fd, buf, len);
	close(fd);
}

static void
rm_rf(const char *path)
{
	struct dirent *de;
	char sub[PATH_MAX];
	DIR *d;

	if (unlink(path) == 0 || rmdir(path) == 0)
		return;
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			if (snprintf(sub, sizeof(sub), "%s/%s", path,
			    de->d_name) < (int)sizeof(sub))
				rm_rf(sub);
		}
	closedir(d);
	rmdir(path);
}

int
main(int argc, char *argv[])
{
	struct list files = { NULL, 0, 0 }, dirs = { NULL, 0, 0 };
	struct list out = { NULL, 0, 0 }, outdirs = { NULL, 0, 0 };
	char a[PATH_MAX], b[PATH_MAX], nm[64];
	const char *errstr, *root, *outside, *f, *d;
	struct timespec ts[2];
	struct stat st;
	long ops = 1000, i;
	int ch;

	seed = 1;
	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			ops = strtonum(optarg, 1, 10000000, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s", optarg, errstr);
			break;
		case 's':
			seed = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "-s %s: %s", optarg, errstr);
			seed = seed * 2654435761u + 88172645463325252ull;
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	root = argv[optind];
	outside = argv[optind + 1];
	for (i = 0; i < ops; i++) {
		clear(&files);
		clear(&dirs);
		clear(&out);
		clear(&outdirs);
		add(&dirs, root);
		scan(root, &files, &dirs);
		d = dirs.v[rnd(dirs.n)];
		f = files.n ? files.v[rnd(files.n)] : NULL;
		name(nm, sizeof(nm));
		if (snprintf(a, sizeof(a), "%s/%s", d, nm) >= (int)sizeof(a))
			continue;
		switch (rnd(f ? 18 : 4)) {
		case 0:
		case 1:
			if (files.n + dirs.n < 400)
				write_file(a, O_TRUNC, rnd(4) ? rnd(2000) :
				    rnd(65536));
			break;
		case 2:
			if (dirs.n < 60) {
				name(nm, sizeof(nm));
				if (snprintf(b, sizeof(b), "%s/%s", a, nm) >=
				    (int)sizeof(b))
					break;
				mkdir(a, 0755);
				mkdir(b, 0700 | rnd(0100));
			}
			break;
		case 3:
			/* Something moved out earlier comes back in. */
			scan(outside, &out, &outdirs);
			if (outdirs.n + out.n > 0) {
				const char *o = rnd(2) && outdirs.n ?
				    outdirs.v[rnd(outdirs.n)] : out.n ?
				    out.v[rnd(out.n)] : outdirs.v[0];
				if (strchr(o + strlen(outside) + 1, '/') == NULL)
					rename(o, a);
			} else
				symlink(rnd(2) ? "../target" : nm, a);
			break;
		case 4:
			write_file(f, O_TRUNC, rnd(3000));
			break;
		case 5:
			write_file(f, O_APPEND, rnd(500));
			break;
		case 6:
			(void)!truncate(f, rnd(100));
			break;
		case 7:
			chmod(f, 0400 | rnd(01000));
			break;
		case 8:
			ts[0].tv_sec = ts[1].tv_sec = 946684800 + rnd(600000000);
			ts[0].tv_nsec = ts[1].tv_nsec = rnd(1000000000);
			utimensat(AT_FDCWD, rnd(3) ? f : d, ts,
			    AT_SYMLINK_NOFOLLOW);
			break;
		case 9:
			rename(f, a);
			break;
		case 10:
			/* A directory renamed elsewhere, never below itself. */
			if (dirs.n > 1) {
				const char *s = dirs.v[1 + rnd(dirs.n - 1)];
				size_t len = strlen(s);

				if (strncmp(a, s, len) != 0 || a[len] != '/')
					rename(s, a);
			}
			break;
		case 11:
			unlink(f);
			break;
		case 12:
			if (dirs.n > 1 && rnd(3) == 0)
				rm_rf(dirs.v[1 + rnd(dirs.n - 1)]);
			break;
		case 13:
			if (snprintf(b, sizeof(b), "%s/%s", outside, nm) >=
			    (int)sizeof(b))
				break;
			rename(rnd(2) || dirs.n < 2 ? f :
			    dirs.v[1 + rnd(dirs.n - 1)], b);
			break;
		case 14:
			symlink(f + strlen(root), a);
			break;
		case 15:
			/* Replace a file by rename, the way editors save. */
			if (files.n > 1)
				rename(files.v[rnd(files.n)], f);
			break;
		case 16:
			/* Another name, maybe in another directory. */
			if (files.n + dirs.n < 400)
				link(f, a);
			break;
		case 17:
			/* Written through a name that is not the first. */
			if (lstat(f, &st) == 0 && st.st_nlink > 1)
				write_file(f, rnd(2) ? O_APPEND : O_TRUNC,
				    rnd(3000));
			break;
		}
		if (dirs.n > 1 && rnd(8) == 0)
			chmod(dirs.v[1 + rnd(dirs.n - 1)], 0700 | rnd(0100));
	}
	clear(&files);
	clear(&dirs);
	clear(&out);
	clear(&outdirs);
	free(files.v);
	free(dirs.v);
	free(out.v);
	free(outdirs.v);
	return 0;
}
