/*
 * Makes one entry of DEST equal to the source as it is now, whatever
 * the record that asked: never trusting event order, every decision
 * is taken on a fresh lstat of the source.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static int
sync_special(struct mirror *m, int dpfd, const char *name, const char *rel,
    const struct stat *sst, const struct stat *dst)
{
	if (dst != NULL && (dst->st_mode & S_IFMT) == (sst->st_mode & S_IFMT) &&
	    dst->st_rdev == sst->st_rdev)
		return dest_meta(m, dpfd, name, sst, dst);
	if (dst != NULL && dest_remove(m, dpfd, name, rel) == -1)
		return -1;
	dest_log(m, 2, "mknod", rel, NULL);
	if (m->o.dry_run)
		return 0;
	if (mknodat(dpfd, name, sst->st_mode & (S_IFMT | 0777),
	    sst->st_rdev) == -1)
		return -1;
	mark_parent(m, rel);
	return dest_meta(m, dpfd, name, sst, NULL);
}

/*
 * spfd/name in the source is sst; makes dpfd/name in DEST the same,
 * without its contents for a directory. Returns 0, 1 when the source
 * vanished, -1 after reporting an error.
 */
int
sync_one(struct mirror *m, int spfd, int dpfd, const char *name,
    const char *rel, const struct stat *sst, int how)
{
	struct stat dst;
	int have, r;

	have = 0;
	/* Listed as absent: a name taken since is met where it is made. */
	if (!(how & SYNC_ABSENT)) {
		if (fstatat(dpfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0)
			have = 1;
		else if (errno != ENOENT) {
			dest_error(m, "stat", rel);
			return -1;
		}
	}
	if (!have)
		how |= SYNC_ABSENT;
	if (have && (dst.st_mode & S_IFMT) != (sst->st_mode & S_IFMT) &&
	    (S_ISDIR(sst->st_mode) || S_ISDIR(dst.st_mode))) {
		if (dest_remove(m, dpfd, name, rel) == -1) {
			dest_error(m, "delete", rel);
			return -1;
		}
		have = 0;
		how |= SYNC_ABSENT;
	}
	switch (sst->st_mode & S_IFMT) {
	case S_IFDIR:
		if (!have) {
			if (dest_mkdir(m, dpfd, name, rel) == -1) {
				if (m->o.dry_run)
					return 1;
				dest_error(m, "mkdir", rel);
				return -1;
			}
			return 0;
		}
		r = dest_meta(m, dpfd, name, sst, &dst);
		break;
	case S_IFREG:
		if (have && S_ISREG(dst.st_mode) && !(how & SYNC_CONTENT) &&
		    dst.st_size == sst->st_size &&
		    ((how & SYNC_META) || same_time(&dst.st_mtim, &sst->st_mtim))) {
			r = dest_meta(m, dpfd, name, sst, &dst);
			break;
		}
		r = copy_file(m, spfd, name, dpfd, rel, how);
		if (r == 1)
			return 1;
		if (r == -2) {
			src_error(m, "read", rel);
			return -1;
		}
		break;
	case S_IFLNK:
		r = copy_symlink(m, spfd, name, dpfd, rel, sst,
		    have ? &dst : NULL);
		if (r == 1)
			return 1;
		break;
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		r = sync_special(m, dpfd, name, rel, sst, have ? &dst : NULL);
		break;
	default:
		return 0;	/* sockets belong to a running program */
	}
	if (r < 0) {
		dest_error(m, "write", rel);
		return -1;
	}
	return 0;
}

/* Sets the metadata of the directories whose contents changed. */
void
flush_dirs(struct mirror *m)
{
	const char *sname, *dname;
	struct stat sst, dst;
	struct timespec ts[2];
	char *rel;
	int spfd, dpfd;

	while (m->dirty_dirs.n > 0) {
		rel = pathset_take(&m->dirty_dirs, m->dirty_dirs.n - 1);
		if (m->o.dry_run || rel_excluded(m, rel))
			goto next;
		if (rel[0] == '\0') {
			if (fstat(m->sfd, &sst) == -1 ||
			    fstat(m->dfd, &dst) == -1)
				goto next;
			ts[0] = sst.st_atim;
			ts[1] = sst.st_mtim;
			if (((dst.st_mode & 07777) != (sst.st_mode & 07777) &&
			    fchmod(m->dfd, sst.st_mode & 07777) == -1) ||
			    (m->o.owner && fchown(m->dfd, sst.st_uid,
			    sst.st_gid) == -1) ||
			    (!same_time(&dst.st_mtim, &sst.st_mtim) &&
			    futimens(m->dfd, ts) == -1))
				dest_error(m, "set times of", rel);
			goto next;
		}
		if ((spfd = src_parent(m, rel, &sname)) == -1)
			goto next;
		if (fstatat(spfd, sname, &sst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(sst.st_mode) &&
		    (dpfd = dest_parent(m, rel, &dname, 0)) != -1) {
			if (fstatat(dpfd, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(dst.st_mode) &&
			    dest_meta(m, dpfd, dname, &sst, &dst) == -1)
				dest_error(m, "set times of", rel);
			dir_release(m, dpfd);
		}
		dir_release(m, spfd);
next:
		free(rel);
	}
}
