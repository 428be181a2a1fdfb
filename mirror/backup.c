/*
 * --backup-dir: what the source replaces or deletes is moved, never
 * copied, into a set of DIR named for the minute it was taken in,
 * under its own path: DIR/2026-12-07T1925Z/docs/report.odt. A deleted
 * directory is one rename whatever it holds; a replaced file keeps its
 * old inode there by a second name, so that the new one still takes
 * its place in one rename. A set holds a path's last version of its
 * minute. --keep prunes the oldest sets, by count or by age.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

#define SET_FORMAT	"%Y-%m-%dT%H%MZ"

/*
 * rel, or the highest directory above it that gone(arg, dir) says the
 * source lacks too: what a delete keeps whole, in one rename.
 */
char *
backup_top(const char *rel, int (*gone)(void *, const char *), void *arg)
{
	char *top, *par;

	if ((top = strdup(rel)) == NULL)
		err(1, "strdup");
	while (strchr(top, '/') != NULL) {
		par = rel_parent(top);
		if (!gone(arg, par)) {
			free(par);
			break;
		}
		free(top);
		top = par;
	}
	return top;
}

/* The name of the set of the minute t is in: SET_LEN + 1 bytes. */
void
backup_set_name(char *name, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(name, SET_LEN + 1, SET_FORMAT, &tm);
}

/* name is a set's: the format, nothing else. */
static int
is_set(const char *name, time_t *when)
{
	struct tm tm;
	const char *end;

	if (strlen(name) != SET_LEN)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(name, SET_FORMAT, &tm)) == NULL || *end != '\0')
		return 0;
	*when = timegm(&tm);
	return 1;
}

static int
set_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The sets past --keep go, the oldest first; the current one never.
 * Pruning is what the user asked for: nothing else in DIR is touched.
 */
static void
prune(struct mirror *m)
{
	struct backup *b = &m->backup;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, i, drop = 0;
	time_t when, now = time(NULL);
	DIR *d;
	int fd;

	if (m->o.keep_sets <= 0 && m->o.keep_secs <= 0)
		return;
	if ((fd = dup(b->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!is_set(de->d_name, &when) ||
		    strcmp(de->d_name, b->set) == 0)
			continue;
		if ((v = reallocarray(v, n + 1, sizeof(*v))) == NULL ||
		    (v[n++] = strdup(de->d_name)) == NULL)
			err(1, "strdup");
	}
	closedir(d);
	qsort(v, n, sizeof(*v), set_cmp);
	/* The current set counts as one of those kept. */
	if (m->o.keep_sets > 0 && n + 1 > (size_t)m->o.keep_sets)
		drop = n + 1 - (size_t)m->o.keep_sets;
	for (i = 0; i < n; i++) {
		if (i >= drop && (m->o.keep_secs <= 0 ||
		    !is_set(v[i], &when) || now - when <= m->o.keep_secs))
			continue;
		dest_log(m, 1, "prune", v[i], NULL);
		if (!m->o.dry_run && remove_tree(b->dirfd, v[i]) == -1)
			warn("%s/%s: cannot prune", m->o.backup_dir, v[i]);
	}
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The set of this minute, made when first needed: its descriptor. */
static int
set_fd(struct mirror *m)
{
	struct backup *b = &m->backup;
	char name[SET_LEN + 1];

	backup_set_name(name, time(NULL));
	if (b->setfd != -1 && strcmp(name, b->set) == 0)
		return b->setfd;
	if (b->setfd != -1)
		close(b->setfd);
	b->setfd = -1;
	if (mkdirat(b->dirfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((b->setfd = openat(b->dirfd, name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	memcpy(b->set, name, sizeof(name));
	prune(m);
	return b->setfd;
}

/*
 * The directory path below dfd, made as needed (0700), never through a
 * symlink: its descriptor, or -1. With replace (in a set), a component
 * that is not a directory is an older version of the minute of another
 * type: the last, a directory, wins.
 */
static int
mkdirs(int dfd, const char *path, int replace)
{
	char *copy, *p, *save;
	int fd, next;

	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((copy = strdup(path)) == NULL)
		err(1, "strdup");
	for (p = strtok_r(copy, "/", &save); p != NULL && fd != -1;
	    p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (mkdirat(fd, p, 0700) == -1 && errno != EEXIST) {
			close(fd);
			fd = -1;
			break;
		}
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next == -1 && (errno == ENOTDIR || errno == ELOOP) &&
		    replace && unlinkat(fd, p, 0) == 0 &&
		    mkdirat(fd, p, 0700) == 0)
			next = openat(fd, p, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	free(copy);
	return fd;
}

/*
 * The directory rel's entry goes into in the set, made as needed
 * (mode 0700: what it holds was DEST's, for DEST's readers only);
 * *leaf its name there.
 */
static int
set_parent(struct mirror *m, const char *rel, const char **leaf)
{
	char *copy, *slash;
	int fd;

	if ((fd = set_fd(m)) == -1)
		return -1;
	if ((slash = strrchr(rel, '/')) == NULL) {
		*leaf = rel;
		return dup(fd);
	}
	*leaf = slash + 1;
	if ((copy = strndup(rel, (size_t)(slash - rel))) == NULL)
		err(1, "strndup");
	fd = mkdirs(fd, copy, 1);
	free(copy);
	return fd;
}

static int	 move_in(int, const char *, int, const char *);

/*
 * The directory pfd/name joins the set's directory sfd/leaf, which
 * holds what went from it earlier in the minute: entry by entry, the
 * later version of a name winning; then it goes, empty.
 */
static int
merge_in(int pfd, const char *name, int sfd, const char *leaf)
{
	struct dirent *de;
	DIR *d;
	int from, to, r = 0;

	if ((from = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if ((to = openat(sfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || (d = fdopendir(from)) == NULL) {
		close(from);
		if (to != -1)
			close(to);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    move_in(dirfd(d), de->d_name, to, de->d_name) == -1)
			r = -1;
		errno = 0;
	}
	if (errno != 0)
		r = -1;		/* not listed to its end: not empty */
	closedir(d);
	close(to);
	if (r == 0 && unlinkat(pfd, name, AT_REMOVEDIR) == -1)
		r = -1;
	return r;
}

/* pfd/name renamed to sfd/leaf, whatever is there. */
static int
move_in(int pfd, const char *name, int sfd, const char *leaf)
{
	struct stat a, b;

	/* Nothing there, the common case: one call. */
	if (renameat2(pfd, name, sfd, leaf, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST && errno != EISDIR &&
	    errno != ENOTDIR && errno != EINVAL)
		return -1;
	if (fstatat(pfd, name, &a, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (fstatat(sfd, leaf, &b, AT_SYMLINK_NOFOLLOW) == 0) {
		/*
		 * Kept there already, by the second name of a replace
		 * that then failed (backup_link()): rename(2) of two
		 * names of one inode does nothing, and DEST would keep it.
		 */
		if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return unlinkat(pfd, name, S_ISDIR(a.st_mode) ?
			    AT_REMOVEDIR : 0);
		if (S_ISDIR(a.st_mode) && S_ISDIR(b.st_mode))
			return merge_in(pfd, name, sfd, leaf);
	} else if (errno == ENOENT)
		return renameat(pfd, name, sfd, leaf);	/* no NOREPLACE */
	/* An older version of the minute, of another type: the last wins. */
	if (remove_tree(sfd, leaf) == -1)
		return -1;
	return renameat(pfd, name, sfd, leaf);
}

/*
 * pfd/name, DEST's rel, into the set by rename: for a delete. 0 when
 * it is there now or was not in DEST; -1 with errno.
 */
int
backup_move(struct mirror *m, int pfd, const char *name, const char *rel)
{
	const char *leaf;
	int fd, r, e;

	if ((fd = set_parent(m, rel, &leaf)) == -1)
		return -1;
	r = move_in(pfd, name, fd, leaf);
	e = errno;
	close(fd);
	errno = e;
	return r == -1 && errno != ENOENT ? -1 : 0;
}

/*
 * pfd/name, DEST's rel, about to be replaced by a rename over it: its
 * inode kept in the set by a second name. 0 when kept, or when there
 * is nothing to keep (no such name, a directory: those are moved by
 * backup_move() when they go); -1 with errno.
 */
int
backup_link(struct mirror *m, int pfd, const char *name, const char *rel)
{
	struct stat st;
	const char *leaf;
	int fd, r, e;

	if (m->backup.dirfd == -1)
		return 0;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode))
		return 0;
	dest_log(m, 1, "backup", rel, NULL);
	if (m->o.dry_run)
		return 0;
	if ((fd = set_parent(m, rel, &leaf)) == -1)
		return -1;
	if ((r = linkat(pfd, name, fd, leaf, 0)) == -1 && errno == EEXIST &&
	    remove_tree(fd, leaf) == 0)
		r = linkat(pfd, name, fd, leaf, 0);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/*
 * DIR opened, and made (0700) if need be: relative to DEST, as rsync
 * takes it; on DEST's file system, since a backup is a rename; neither
 * in the source nor holding DEST. -1 with the reason in why.
 */
int
backup_open(struct mirror *m, char *why, size_t whylen)
{
	struct backup *b = &m->backup;
	struct stat bst, dst;
	const char *dir = m->o.backup_dir;
	int fd;

	if (b->dirfd != -1)
		close(b->dirfd);
	if (b->setfd != -1)
		close(b->setfd);
	b->dirfd = b->setfd = -1;
	if (dir == NULL || m->o.dry_run)
		return 0;
	/* In DEST, never through a symlink there; outside, as given. */
	if (m->o.backup_inside)
		fd = mkdirs(m->dfd, dir, 0);
	else if ((fd = mkdirat(m->dfd, dir, 0700)) == 0 || errno == EEXIST)
		fd = openat(m->dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(why, whylen, "--backup-dir %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &bst) == -1 || fstat(m->dfd, &dst) == -1)
		err(1, "fstat");
	if (bst.st_dev != dst.st_dev) {
		snprintf(why, whylen, "--backup-dir %s: not on the file "
		    "system of %s (a backup is a rename, never a copy); "
		    "choose a directory there", dir, m->o.dest);
		goto bad;
	}
	if (m->sfd != -1 && (dir_within(fd, m->sfd) ||
	    dir_within(m->dfd, fd))) {
		snprintf(why, whylen, "--backup-dir %s: inside the watched "
		    "root, or holding %s; choose a directory of %s's file "
		    "system outside the root", dir, m->o.dest, m->o.dest);
		goto bad;
	}
	b->dirfd = fd;
	return 0;
bad:
	close(fd);
	return -1;
}

void
backup_close(struct mirror *m)
{
	if (m->backup.setfd != -1)
		close(m->backup.setfd);
	if (m->backup.dirfd != -1)
		close(m->backup.dirfd);
	m->backup.setfd = m->backup.dirfd = -1;
}
