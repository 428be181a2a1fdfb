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

/*
 * DEST's directory of rel, another name of a file, even when that is
 * the directory a walk fills under a temporary name.
 */
static int
link_parent(struct mirror *m, const char *rel, const char **name)
{
	const char *slash = strrchr(rel, '/');
	const char *srel = m->walk.staged_rel;
	int fd;

	if (srel != NULL && slash != NULL &&
	    strlen(srel) == (size_t)(slash - rel) &&
	    strncmp(rel, srel, slash - rel) == 0) {
		if ((fd = dup(m->walk.staged_fd)) == -1)
			err(1, "dup");
		*name = slash + 1;
		return fd;
	}
	return dest_parent(m, rel, name, 0);
}

/* A name from the table is a hint: the source says whether it holds. */
static int
src_is(struct mirror *m, const char *rel, const struct stat *sst)
{
	const char *name;
	struct stat st;
	int pfd, r;

	if ((pfd = src_parent(m, rel, &name)) == -1)
		return 0;
	r = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_ino == sst->st_ino && st.st_dev == sst->st_dev;
	dir_release(m, pfd);
	return r;
}

/*
 * Links fpfd/fname as ddir/name: straight to the name when DEST lacks
 * it, a link being whole at once, else under a temporary name renamed
 * over, so that the name holds the old file or the new one.
 */
static int
link_into(struct mirror *m, int fpfd, const char *fname, int ddir,
    const char *name, const char *rel, int absent)
{
	char tmp[64];
	int save;

	if (absent && linkat(fpfd, fname, ddir, name, 0) == 0)
		return dest_fsync(m, ddir);
	if (backup_link(m, ddir, name, rel) == -1)
		return -1;
	tmp_name(m, tmp, sizeof(tmp));
	if (linkat(fpfd, fname, ddir, tmp, 0) == -1)
		return -1;
	if (renameat(ddir, tmp, ddir, name) == -1) {
		save = errno;
		unlinkat(ddir, tmp, 0);
		errno = save;
		return -1;
	}
	return dest_fsync(m, ddir);
}

/*
 * rel is sst now, for the table of names by inode: kept for a file with
 * other names, or for every file once the table holds them all.
 */
void
name_seen(struct mirror *m, const char *rel, const struct stat *sst)
{
	inodes_set(&m->inodes, rel, sst->st_dev, sst->st_ino);
	if (m->links_all || sst->st_nlink > 1)
		links_add(&m->links, sst->st_dev, sst->st_ino, rel);
	else
		links_del(&m->links, rel);
}

static int
skip_excluded(void *m, const char *rel)
{
	return rel_excluded(m, rel);
}

/*
 * sst, just seen as rel, has names the table lacks: linked since its
 * other names were seen alone (ln f h), or from outside the tree. The
 * table is made whole by a walk of the source, and holds every name
 * from then on, until the next reconcile: a tree without hard links
 * keeps none.
 */
static void
names_complete(struct mirror *m, const char *rel, const struct stat *sst)
{
	char **v;
	size_t n;
	int fd;

	name_seen(m, rel, sst);
	if (m->links_all || m->walk.reconciling || sst->st_nlink < 2)
		return;
	n = links_names(&m->links, sst->st_dev, sst->st_ino, NULL, &v);
	links_free_names(v, n);
	if (n >= sst->st_nlink)
		return;
	m->links_all = 1;
	/* Names it cannot read stay unknown: copies, not links, there. */
	if ((fd = openat(m->sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1)
		(void)links_walk(&m->links, fd, "", skip_excluded, m);
}

/*
 * A file, symlink, FIFO or device node with other names: when DEST has
 * one of them up to date, rel becomes a link to it, no data copied. Returns 1 when rel is, or now
 * is, a name of that inode.
 */
int
link_sibling(struct mirror *m, int dpfd, const char *name, const char *rel,
    const struct stat *sst, int how)
{
	struct stat first, cur;
	const char *fname;
	char **v;
	size_t n, i;
	int fpfd, r = 0;

	if (m->o.dry_run)
		return 0;
	n = links_names(&m->links, sst->st_dev, sst->st_ino, rel, &v);
	for (i = 0; i < n && r == 0; i++) {
		/* In a whole reconcile, every name was seen just now. */
		if (!m->walk.reconciling && !src_is(m, v[i], sst)) {
			links_del(&m->links, v[i]);
			continue;
		}
		if ((fpfd = link_parent(m, v[i], &fname)) == -1)
			continue;
		if (fstatat(fpfd, fname, &first, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (first.st_mode & S_IFMT) == (sst->st_mode & S_IFMT) &&
		    first.st_size == sst->st_size &&
		    first.st_rdev == sst->st_rdev &&
		    same_time(&first.st_mtim, &sst->st_mtim)) {
			if (!(how & SYNC_ABSENT) &&
			    fstatat(dpfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
			    cur.st_ino == first.st_ino &&
			    cur.st_dev == first.st_dev)
				r = 1;
			else {
				/* Tried or done, the directory changed. */
				mark_parent(m, rel);
				if (link_into(m, fpfd, fname, dpfd, name, rel,
				    how & SYNC_ABSENT) == 0) {
					dest_log(m, 2, "link", rel, v[i]);
					r = 1;
				}
			}
		}
		dir_release(m, fpfd);
	}
	links_free_names(v, n);
	return r;
}

/*
 * dpfd/name, rel, was just copied: its other names in the source, which
 * inotify did not name, become links to the new copy, one at a time,
 * each replaced whole.
 */
void
relink_siblings(struct mirror *m, int dpfd, const char *name,
    const char *rel, const struct stat *sst)
{
	struct stat nst, cur;
	const char *sname;
	char **v;
	size_t n, i;
	int spfd, absent;

	if (m->o.dry_run)
		return;
	n = links_names(&m->links, sst->st_dev, sst->st_ino, rel, &v);
	if (n == 0 || fstatat(dpfd, name, &nst, AT_SYMLINK_NOFOLLOW) == -1 ||
	    S_ISDIR(nst.st_mode))
		goto out;
	for (i = 0; i < n; i++) {
		if (!src_is(m, v[i], sst)) {
			links_del(&m->links, v[i]);
			continue;
		}
		/* Not in DEST yet: its own record, or walk, links it. */
		if ((spfd = dest_parent(m, v[i], &sname, 0)) == -1)
			continue;
		absent = fstatat(spfd, sname, &cur, AT_SYMLINK_NOFOLLOW) == -1;
		if (absent || (!S_ISDIR(cur.st_mode) &&
		    (cur.st_ino != nst.st_ino || cur.st_dev != nst.st_dev))) {
			mark_parent(m, v[i]);
			if (link_into(m, dpfd, name, spfd, sname, v[i],
			    absent) == 0)
				dest_log(m, 2, "link", v[i], rel);
			else
				dest_error(m, "link", v[i]);
		}
		dir_release(m, spfd);
	}
out:
	links_free_names(v, n);
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
 * without its contents for a directory. known, when not NULL, is
 * DEST's lstat, taken by the walk. Returns 0, 1 when the source
 * vanished, -1 after reporting an error.
 */
int
sync_one(struct mirror *m, int spfd, int dpfd, const char *name,
    const char *rel, const struct stat *sst, const struct stat *known,
    int how)
{
	struct stat dst;
	unsigned long metas = m->metas;
	int have, r, attrs = 1;

	have = 0;
	/* Listed as absent: a name taken since is met where it is made. */
	if (!(how & SYNC_ABSENT) && known != NULL) {
		dst = *known;
		have = 1;
	} else if (!(how & SYNC_ABSENT)) {
		if (fstatat(dpfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0)
			have = 1;
		else if (errno != ENOENT) {
			dest_error(m, "stat", rel);
			return -1;
		}
	}
	if (!have)
		how |= SYNC_ABSENT;
	if (how & SYNC_UNSURE)
		how |= SYNC_CONTENT;
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
			r = 0;
			break;
		}
		r = dest_meta(m, dpfd, name, sst, &dst);
		break;
	case S_IFREG:
		names_complete(m, rel, sst);
		if (sst->st_nlink > 1 && !(how & SYNC_CONTENT) &&
		    link_sibling(m, dpfd, name, rel, sst, how) == 1) {
			r = dest_meta(m, dpfd, name, sst, NULL);
			break;
		}
		if (have && S_ISREG(dst.st_mode) && !(how & SYNC_CONTENT) &&
		    dst.st_size == sst->st_size &&
		    ((how & SYNC_META) || same_time(&dst.st_mtim, &sst->st_mtim))) {
			r = dest_meta(m, dpfd, name, sst, &dst);
			break;
		}
		/* A copy gets its attributes before it is in place. */
		attrs = 0;
		r = copy_file(m, spfd, name, dpfd, rel, how);
		if (r == 1)
			return 1;
		if (r == -2) {
			src_error(m, "read", rel);
			return -1;
		}
		/* A whole reconcile comes to the other names itself. */
		if (r == 0 && sst->st_nlink > 1 && !m->walk.reconciling)
			relink_siblings(m, dpfd, name, rel, sst);
		break;
	case S_IFLNK:
		/* A symlink holds no attribute a user can set. */
		attrs = 0;
		/* cp -al links symlinks too: their names are one as well. */
		names_complete(m, rel, sst);
		if (sst->st_nlink > 1 &&
		    link_sibling(m, dpfd, name, rel, sst, how) == 1) {
			r = dest_meta(m, dpfd, name, sst, NULL);
			break;
		}
		r = copy_symlink(m, spfd, name, dpfd, rel, sst,
		    have ? &dst : NULL);
		if (r == 1)
			return 1;
		if (r == 0 && sst->st_nlink > 1 && !m->walk.reconciling)
			relink_siblings(m, dpfd, name, rel, sst);
		break;
	case S_IFCHR:
	case S_IFBLK:
		/* Only root makes device nodes; nobody else gets them. */
		if (geteuid() != 0)
			goto not_copied;
		/* FALLTHROUGH */
	case S_IFIFO:
		/* cp -al links FIFOs and device nodes as well. */
		names_complete(m, rel, sst);
		if (sst->st_nlink > 1 &&
		    link_sibling(m, dpfd, name, rel, sst, how) == 1) {
			r = dest_meta(m, dpfd, name, sst, NULL);
			break;
		}
		r = sync_special(m, dpfd, name, rel, sst, have ? &dst : NULL);
		if (r == 0 && sst->st_nlink > 1 && !m->walk.reconciling)
			relink_siblings(m, dpfd, name, rel, sst);
		break;
	default:
		/*
		 * A socket belongs to a running program: not copied, and
		 * what DEST had under its name is gone from the source.
		 */
		goto not_copied;
	}
	if (r < 0) {
		dest_error(m, "write", rel);
		return -1;
	}
	if (attrs && xattr_copy_at(m, spfd, name, dpfd, name) == -1) {
		dest_error(m, "set attributes of", rel);
		return -1;
	}
	/*
	 * A copy is logged as one; owner, mode or time alone, so; a
	 * directory's once its entries are, by the walk.
	 */
	if (m->drifting && attrs && !S_ISDIR(sst->st_mode) &&
	    m->metas != metas)
		dest_log(m, 3, "attrs", rel, NULL);
	return 0;
not_copied:
	if (have && dest_remove(m, dpfd, name, rel) == -1) {
		dest_error(m, "delete", rel);
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
