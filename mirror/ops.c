/*
 * Safe operations on DEST and lookups in the source: every path is
 * resolved below a directory descriptor, never through a symlink or
 * "..", so neither a hostile stream nor a symlink planted in DEST can
 * make iobs-mirror touch anything outside.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vis.h>

#include "stream.h"
#include "mirror.h"

/* Walks a path one name at a time, never following a symlink. */
static int
open_walk(int dirfd, const char *path, int flags)
{
	char *copy, *p, *name;
	int fd, next;

	if ((copy = strdup(path)) == NULL)
		err(1, "strdup");
	if ((fd = dup(dirfd)) == -1)
		err(1, "dup");
	for (p = copy; (name = strsep(&p, "/")) != NULL;) {
		if (strcmp(name, "..") == 0) {
			close(fd);
			free(copy);
			errno = EXDEV;
			return -1;
		}
		if (name[0] == '\0' || strcmp(name, ".") == 0)
			continue;
		next = openat(fd, name, (p == NULL ? flags : O_RDONLY |
		    O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next == -1) {
			free(copy);
			return -1;
		}
		fd = next;
	}
	free(copy);
	return fd;
}

/* openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or its equivalent. */
int
open_beneath(int dirfd, const char *path, int flags)
{
	static int have_openat2 = 1;
	struct open_how how;
	int fd;

	if (have_openat2) {
		memset(&how, 0, sizeof(how));
		how.flags = flags | O_NOFOLLOW | O_CLOEXEC;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		    RESOLVE_NO_MAGICLINKS;
		do
			fd = syscall(SYS_openat2, dirfd, path, &how,
			    sizeof(how));
		while (fd == -1 && errno == EAGAIN);
		if (fd != -1 || errno != ENOSYS)
			return fd;
		have_openat2 = 0;
	}
	return open_walk(dirfd, path, flags);
}

static int
parent_of(int rootfd, const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	char *dir;
	int fd;

	if (slash == NULL) {
		*name = rel;
		return rootfd;
	}
	*name = slash + 1;
	if ((dir = strndup(rel, slash - rel)) == NULL)
		err(1, "strndup");
	fd = open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	return fd;
}

int
src_parent(struct mirror *m, const char *rel, const char **name)
{
	return parent_of(m->sfd, rel, name);
}

void
dir_release(struct mirror *m, int fd)
{
	if (fd != -1 && fd != m->sfd && fd != m->dfd)
		close(fd);
}

/*
 * Not root, a DEST directory the source made read-only (0555) is made
 * writable by its owner for the changes in it, as rsync does; the
 * caller marks it, and flush_dirs gives it the source's mode back once
 * they are done. 1 when it was made writable.
 */
int
dir_writable(struct mirror *m, int fd)
{
	static uid_t euid = (uid_t)-1;
	struct stat st;

	if (euid == (uid_t)-1)
		euid = geteuid();
	if (euid == 0 || m->o.dry_run || fstat(fd, &st) == -1 ||
	    st.st_uid != euid || (st.st_mode & 0300) == 0300)
		return 0;
	return fchmod(fd, (st.st_mode & 07777) | 0300) == 0;
}

static int
dest_parent_open(struct mirror *m, const char *rel, const char **name,
    int create);

/*
 * DEST's directory for rel; with create, the missing or wrong
 * directories on the way are made again from the source's. It is
 * writable, for a while, if it can be made so.
 */
int
dest_parent(struct mirror *m, const char *rel, const char **name, int create)
{
	int fd = dest_parent_open(m, rel, name, create);

	if (fd != -1 && dir_writable(m, fd))
		mark_parent(m, rel);
	return fd;
}

static int
dest_parent_open(struct mirror *m, const char *rel, const char **name,
    int create)
{
	char *copy, *p, *c, *prefix;
	struct stat st;
	int fd, next, save;

	fd = parent_of(m->dfd, rel, name);
	if (fd != -1 || !create ||
	    (errno != ENOENT && errno != ENOTDIR && errno != ELOOP))
		return fd;
	if ((copy = strdup(rel)) == NULL)
		err(1, "strdup");
	*strrchr(copy, '/') = '\0';
	fd = m->dfd;
	for (p = copy; (c = strsep(&p, "/")) != NULL; fd = next) {
		if (p != NULL)
			p[-1] = '\0';
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next == -1 && (errno == ENOENT || errno == ENOTDIR ||
		    errno == ELOOP)) {
			/* Make it only if the source has a directory there. */
			int sp;
			const char *sn;

			sp = src_parent(m, copy, &sn);
			if (sp == -1 || fstatat(sp, sn, &st,
			    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode)) {
				dir_release(m, sp);
				dir_release(m, fd);
				free(copy);
				errno = ENOENT;
				return -1;
			}
			dir_release(m, sp);
			prefix = copy;
			if (dest_remove(m, fd, c, prefix) == -1 ||
			    dest_mkdir(m, fd, c, prefix) == -1) {
				save = errno;
				dir_release(m, fd);
				free(copy);
				errno = save;
				return -1;
			}
			next = openat(fd, c, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		if (next == -1) {
			save = errno;
			dir_release(m, fd);
			free(copy);
			errno = save;
			return -1;
		}
		dir_release(m, fd);
		if (p != NULL)
			p[-1] = '/';
	}
	free(copy);
	return fd;
}

/* The entries removing name would delete, itself included. */
long long
dest_count(int pfd, const char *name)
{
	struct dirent *de;
	struct stat st;
	long long n = 1;
	DIR *d;
	int fd;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return 1;
	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n += dest_count(dirfd(d), de->d_name);
	closedir(d);
	return n;
}

/* Deletes name in pfd, a whole tree if it is a directory. */
int
dest_remove(struct mirror *m, int pfd, const char *name, const char *rel)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	dest_log(m, 1, m->backup.dirfd != -1 ? "delete, kept" : "delete",
	    rel, NULL);
	if (m->o.dry_run)
		return 0;
	/* Into the set, whatever its size: one rename. */
	if (m->backup.dirfd != -1 ? backup_move(m, pfd, name, rel) == -1 :
	    remove_tree(pfd, name) == -1)
		return -1;
	mark_parent(m, rel);
	return 0;
}

int
dest_mkdir(struct mirror *m, int pfd, const char *name, const char *rel)
{
	dest_log(m, 2, "mkdir", rel, NULL);
	if (m->o.dry_run) {
		errno = ENOENT;
		return -1;
	}
	/* Writable until its contents are in; flush_dirs sets the mode. */
	if (mkdirat(pfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	mark_parent(m, rel);
	pathset_add(&m->dirty_dirs, rel, 0);
	return 0;
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * The mode bits DEST gives an entry of stat sst: the source's, less
 * setuid and setgid on anything but a directory whose owner is not
 * kept (as cp(1)): a copy owned by the mirror's user must not run as
 * that user.
 */
mode_t
dest_mode(const struct mirror *m, const struct stat *sst)
{
	mode_t mode = sst->st_mode & 07777;

	if (!m->o.owner && !S_ISDIR(sst->st_mode))
		mode &= ~(mode_t)06000;
	return mode;
}

/*
 * Mode, owner and times of name as the source's, or of pfd itself when
 * name is NULL; dst is DEST's stat when known, to skip what is equal
 * already.
 */
int
dest_meta(struct mirror *m, int pfd, const char *name,
    const struct stat *sst, const struct stat *dst)
{
	struct timespec ts[2];
	struct stat cur;
	int islink = S_ISLNK(sst->st_mode);

	if (dst == NULL) {
		if ((name != NULL ? fstatat(pfd, name, &cur,
		    AT_SYMLINK_NOFOLLOW) : fstat(pfd, &cur)) == -1)
			return -1;
		dst = &cur;
	}
	if (m->o.dry_run)
		return 0;
	if ((m->o.owner && (dst->st_uid != sst->st_uid ||
	    dst->st_gid != sst->st_gid)) || (!islink &&
	    (dst->st_mode & 07777) != dest_mode(m, sst)) ||
	    !same_time(&dst->st_mtim, &sst->st_mtim))
		m->metas++;
	if (m->o.owner && (dst->st_uid != sst->st_uid ||
	    dst->st_gid != sst->st_gid) &&
	    (name != NULL ? fchownat(pfd, name, sst->st_uid, sst->st_gid,
	    AT_SYMLINK_NOFOLLOW) : fchown(pfd, sst->st_uid,
	    sst->st_gid)) == -1)
		return -1;
	/* A chown cleared setuid and setgid: set them again. */
	if (!islink && ((dst->st_mode & 07777) != dest_mode(m, sst) ||
	    (m->o.owner && (dst->st_mode & 06000))) &&
	    (name != NULL ? fchmodat(pfd, name, dest_mode(m, sst),
	    AT_SYMLINK_NOFOLLOW) : fchmod(pfd, dest_mode(m, sst))) == -1)
		return -1;
	/* Reading DEST moves its atimes: only a new mtime sets both. */
	if (!same_time(&dst->st_mtim, &sst->st_mtim)) {
		ts[0] = sst->st_atim;
		ts[1] = sst->st_mtim;
		if ((name != NULL ? utimensat(pfd, name, ts,
		    AT_SYMLINK_NOFOLLOW) : futimens(pfd, ts)) == -1)
			return -1;
	}
	return 0;
}

/*
 * --fsync: a file's data, or a directory's entries, on the disk before
 * the next step, for a DEST that may lose power.
 */
int
dest_fsync(struct mirror *m, int fd)
{
	int r;

	if (!m->o.fsync)
		return 0;
	while ((r = fsync(fd)) == -1 && errno == EINTR)
		;
	return r;
}

/* After a change in DEST, its directory's times are set again. */
void
mark_parent(struct mirror *m, const char *rel)
{
	char *dir = rel_parent(rel);

	pathset_add(&m->dirty_dirs, dir, 0);
	free(dir);
}

/*
 * The set of failed paths, which apply.c tries again on its timer: a
 * path failed, remembered, or the whole tree when there are many.
 */
void
retry_add(struct mirror *m, const char *rel)
{
	if (m->retry.n >= RETRY_PATHS && pathset_get(&m->retry, rel) == NULL) {
		pathset_clear(&m->retry);
		rel = "";
	}
	pathset_add(&m->retry, rel, now_ms());
}

/* rel, or a directory above it, failed already and was reported. */
int
retry_known(struct mirror *m, const char *rel)
{
	char *copy, *slash;
	int known = 0;

	if (m->retrying != NULL && path_below(rel, m->retrying))
		return 1;
	if (m->retry.n == 0)
		return 0;
	if ((copy = strdup(rel)) == NULL)
		err(1, "strdup");
	for (;;) {
		if (pathset_get(&m->retry, copy) != NULL) {
			known = 1;
			break;
		}
		if (copy[0] == '\0')
			break;
		slash = strrchr(copy, '/');
		*(slash != NULL ? slash : copy) = '\0';
	}
	free(copy);
	return known;
}

/*
 * An error on base/rel, in one line, once: the path joins the failed
 * set, and a failure of the same path, or of one below a path
 * that failed, is not reported again. A hint, when there is one,
 * ends the line.
 */
static void
report(struct mirror *m, const char *what, const char *base, const char *rel,
    const char *hint)
{
	size_t len = strlen(rel);
	int save = errno;
	char *v;

	m->rval = 1;
	if (!retry_known(m, rel)) {
		if ((v = malloc(IOBS_VIS_MAX(len))) == NULL)
			err(1, "malloc");
		iobs_vis(v, rel, len);
		/* A root of "" is "/". */
		warnx("%s %s%s%s: %s%s%s", what, base[0] || len ? base : "/",
		    len ? "/" : "", v, strerror(save), hint ? "; " : "",
		    hint ? hint : "");
		free(v);
	}
	retry_add(m, rel);
	errno = save;
}

/*
 * Refused in DEST, not root: when rel's directory there is another
 * user's, no chmod can help (rsync fails the same way), and the line
 * says what can.
 */
static char *
dest_hint(struct mirror *m, const char *rel, char *buf, size_t size)
{
	const char *name;
	struct stat st;
	int fd, r;

	if ((errno != EACCES && errno != EPERM) || geteuid() == 0 ||
	    rel[0] == '\0')
		return NULL;
	if ((fd = parent_of(m->dfd, rel, &name)) == -1)
		return NULL;
	r = fstat(fd, &st);
	dir_release(m, fd);
	if (r == -1 || st.st_uid == geteuid())
		return NULL;
	snprintf(buf, size, "its directory in DEST is uid %lu's: run "
	    "iobs-mirror as that user or as root",
	    (unsigned long)st.st_uid);
	return buf;
}

void
dest_error(struct mirror *m, const char *what, const char *rel)
{
	char buf[160];
	int save = errno;
	const char *hint = dest_hint(m, rel, buf, sizeof(buf));

	errno = save;
	report(m, what, m->o.dest, rel, hint);
}

/* The source could not be read: not vanished, so worth a line. */
void
src_error(struct mirror *m, const char *what, const char *rel)
{
	report(m, what, m->root, rel, NULL);
}

/*
 * An excluded entry, or one below an excluded directory: by -x, or by
 * the gitignore(5) patterns of --exclude-from and --gitignore, which
 * need to know a directory (isdir -1: the source is asked).
 */
int
rel_excluded_type(struct mirror *m, const char *rel, int isdir)
{
	struct stat st;
	char *copy, *slash, *name;
	int hit = 0, pfd;
	const char *base;

	if ((m->o.exclude.n == 0 && m->o.gi == NULL) || rel[0] == '\0')
		return 0;
	/* The patterns apply below the source root, known by now. */
	if (m->o.gi != NULL && iobs_gi_roots(m->o.gi) == 0)
		iobs_gi_add_root(m->o.gi, m->root);
	if (m->o.gi != NULL && isdir == -1) {
		pfd = src_parent(m, rel, &base);
		isdir = pfd != -1 && fstatat(pfd, base, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		dir_release(m, pfd);
	}
	if ((copy = strdup(rel)) == NULL)
		err(1, "strdup");
	for (slash = copy;; slash++) {
		slash = strchr(slash, '/');
		if (slash != NULL)
			*slash = '\0';
		name = strrchr(copy, '/');
		name = name ? name + 1 : copy;
		if (iobs_exclude_match(&m->o.exclude, copy, name) ||
		    (m->o.gi != NULL && iobs_gi_excluded(m->o.gi, 0, copy,
		    strlen(copy), slash != NULL || isdir))) {
			hit = 1;
			break;
		}
		if (slash == NULL)
			break;
		*slash = '/';
	}
	free(copy);
	return hit;
}

/*
 * What the walks' listings leave out, as the options say now: set when
 * they change, never while reader threads list (between walks).
 */
const struct listing_skip *
mirror_skip(struct mirror *m)
{
	if (m->o.gi != NULL && iobs_gi_roots(m->o.gi) == 0)
		iobs_gi_add_root(m->o.gi, m->root);
	if (m->skip.ex != &m->o.exclude || m->skip.gi != m->o.gi) {
		m->skip.ex = &m->o.exclude;
		m->skip.gi = m->o.gi;
	}
	return &m->skip;
}

int
rel_excluded(struct mirror *m, const char *rel)
{
	return rel_excluded_type(m, rel, -1);
}
