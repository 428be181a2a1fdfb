/*
 * Copies a file or a symlink into DEST: written under a temporary name
 * in the same directory and renamed into place, or unnamed and linked
 * into place when the name is new, so that a reader of DEST sees the
 * old file or the new one, never half of it.
 */
#define _GNU_SOURCE

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/fs.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

void
tmp_name(struct mirror *m, char *buf, size_t size)
{
	static long pid;

	if (pid == 0)
		pid = getpid();
	snprintf(buf, size, TMP_PREFIX "%ld.%lu", pid, ++m->tmpseq);
}

/* Where copy_file_range(2) cannot: one buffer for each copier thread. */
static _Thread_local char buf[256 * 1024];

static int
copy_rw(int in, int out)
{
	ssize_t n, w, off;

	for (;;) {
		if ((n = read(in, buf, sizeof(buf))) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += w)
			if ((w = write(out, buf + off, n - off)) == -1) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -1;
			}
	}
}

/* len bytes at off, the same offset in both. */
static int
copy_range(struct mirror *m, int in, int out, off_t off, off_t len)
{
	off_t oin = off, oout = off;
	ssize_t n, w;

	while (len > 0 && m->cfr_ok) {
		n = copy_file_range(in, &oin, out, &oout, len, 0);
		if (n > 0) {
			len -= n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
		    errno != EOPNOTSUPP)
			return -1;
		m->cfr_ok = 0;
	}
	while (len > 0) {
		n = pread(in, buf, len < (off_t)sizeof(buf) ? (size_t)len :
		    sizeof(buf), oin);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		for (w = 0; w < n;) {
			ssize_t k = pwrite(out, buf + w, n - w, oout);

			if (k == -1 && errno == EINTR)
				continue;
			if (k == -1)
				return -1;
			w += k;
			oout += k;
		}
		oin += n;
		len -= n;
	}
	return 0;
}

/*
 * A file with holes: only its data is copied, extent by extent
 * (SEEK_DATA, SEEK_HOLE), and the size set last, so that the holes are
 * holes in DEST too. Returns 1 where the file system cannot tell.
 */
static int
copy_sparse(struct mirror *m, int in, int out, off_t size)
{
	off_t data, hole, next;

	for (data = 0; data < size; data = hole) {
		if ((next = lseek(in, data, SEEK_DATA)) == -1) {
			if (errno == ENXIO)
				break;		/* a hole to the end */
			return errno == EINVAL && data == 0 ? 1 : -1;
		}
		if ((data = next) >= size)
			break;
		if ((hole = lseek(in, data, SEEK_HOLE)) == -1)
			return -1;
		if (hole > size)
			hole = size;
		if (copy_range(m, in, out, data, hole - data) == -1)
			return -1;
	}
	return ftruncate(out, size);
}

/*
 * The data: a reflink, else the extents of a sparse file, else
 * copy_file_range(2), else read and write.
 */
static int
copy_data(struct mirror *m, int in, int out, const struct stat *sst)
{
	off_t size = sst->st_size;
	ssize_t n;
	off_t done = 0;
	int first = 1, r;

	if (m->clone_ok) {
		if (ioctl(out, FICLONE, in) == 0)
			return 0;
		m->clone_ok = 0;
	}
	/* Fewer blocks than the size needs: holes. */
	if ((off_t)sst->st_blocks * 512 < size) {
		if ((r = copy_sparse(m, in, out, size)) != 1)
			return r;
		if (lseek(in, 0, SEEK_SET) == -1)
			return -1;
	}
	/*
	 * Up to the size seen: what is written after that comes with
	 * a record of its own.
	 */
	while (m->cfr_ok) {
		if (done >= size)
			return 0;
		n = copy_file_range(in, NULL, out, NULL, SSIZE_MAX >> 1, 0);
		if (n == 0)
			return 0;
		if (n > 0) {
			first = 0;
			done += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (!first || (errno != EXDEV && errno != ENOSYS &&
		    errno != EINVAL && errno != EOPNOTSUPP))
			return -1;
		m->cfr_ok = 0;
	}
	return copy_rw(in, out);
}

/*
 * Renames the finished temporary tmp over dname, and marks the parent
 * for its times. A directory in the way, from an older state of the
 * source, is removed first; with --backup-dir, what it replaces is kept.
 */
int
put_in_place(struct mirror *m, int dpfd, const char *tmp, const char *dname,
    const char *rel)
{
	if (backup_link(m, dpfd, dname, rel) == -1)
		return -1;
	if (renameat(dpfd, tmp, dpfd, dname) == -1 &&
	    ((errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST) ||
	    dest_remove(m, dpfd, dname, rel) == -1 ||
	    renameat(dpfd, tmp, dpfd, dname) == -1))
		return -1;
	mark_parent(m, rel);
	return dest_fsync(m, dpfd);
}

/*
 * spfd/name in the source, opened to be read without moving its atime
 * where the owner allows O_NOATIME.
 */
static int
open_source(int spfd, const char *name, int flags)
{
	int fd;

	flags |= O_RDONLY | O_NOFOLLOW | O_CLOEXEC;
	fd = openat(spfd, name, flags | O_NOATIME);
	if (fd == -1 && errno == EPERM)
		fd = openat(spfd, name, flags);
	return fd;
}

int
src_open(int spfd, const char *name)
{
	return open_source(spfd, name, O_NONBLOCK);
}

int
src_dir_open(int spfd, const char *name)
{
	return open_source(spfd, name, O_DIRECTORY);
}

/*
 * Owner, mode bits the umask kept out, attributes and times of a new
 * copy out of in. Made in the staged directory (walk_new_dir), a file
 * has a known group and, without a default ACL there, the mode asked:
 * only an owner or a setuid, setgid or sticky bit that differ then
 * cost a system call, two in three on a fresh tree.
 */
static int
file_meta(struct mirror *m, int in, int out, const struct stat *sst,
    int staged)
{
	struct timespec ts[2];
	int known = staged && m->walk.staged_plain;

	if (m->o.owner && (!known || sst->st_uid != m->uid ||
	    sst->st_gid != m->walk.staged_gid) &&
	    fchown(out, sst->st_uid, sst->st_gid) == -1)
		return -1;
	/* After the chown, which clears setuid and setgid. */
	if (((m->o.owner && !known) || (dest_mode(m, sst) & 07000)) &&
	    fchmod(out, dest_mode(m, sst)) == -1)
		return -1;
	/* After the chown, which clears a capability. */
	if (xattr_copy(m, in, out) == -1)
		return -1;
	ts[0] = sst->st_atim;
	ts[1] = sst->st_mtim;
	return futimens(out, ts);
}

/*
 * For a name DEST lacks: the copy is made unnamed (O_TMPFILE) and
 * linked into place whole, which costs less than a temporary name and
 * a rename, and leaves nothing behind if iobs-mirror dies. Returns 0,
 * -1 on a DEST error, or -2 when the named way must be taken: no
 * O_TMPFILE here, no linkat(2) of a descriptor (Linux 6.10, or
 * CAP_DAC_READ_SEARCH), the name taken since, or another error that
 * the named way will meet and report.
 */
static int
copy_unnamed(struct mirror *m, int in, const struct stat *sst, int dpfd,
    const char *dname)
{
	int out, save;

	/* The umask is 0: the file is made with its final mode bits. */
	if ((out = openat(dpfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC,
	    sst->st_mode & 0777)) == -1) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			m->unnamed_ok = 0;
		return -2;
	}
	if (copy_data(m, in, out, sst) == -1 ||
	    file_meta(m, in, out, sst, 0) == -1 ||
	    dest_fsync(m, out) == -1)
		goto fail;
	if (linkat(out, "", dpfd, dname, AT_EMPTY_PATH) == -1) {
		/* Not allowed: before Linux 6.10, or not as this user. */
		if (errno == ENOENT)
			m->unnamed_ok = 0;
		close(out);
		/* The named way reads the source again, from the start. */
		return lseek(in, 0, SEEK_SET) == -1 ? -1 : -2;
	}
	/*
	 * Only a file system with a flush method fails here, none of
	 * those with O_TMPFILE in practice: the name was free, so the
	 * file goes again.
	 */
	if (close(out) == -1) {
		save = errno;
		unlinkat(dpfd, dname, 0);
		errno = save;
		return -1;
	}
	return dest_fsync(m, dpfd);
fail:
	save = errno;
	close(out);
	errno = save;
	return -1;
}

/*
 * Below a directory not in place yet, where no reader sees a name: the
 * copy is written under its own name at once. Returns as
 * copy_unnamed().
 */
static int
copy_unseen(struct mirror *m, int in, const struct stat *sst, int dpfd,
    const char *dname)
{
	int out, save;

	/* The umask is 0: the file is made with its final mode bits. */
	if ((out = openat(dpfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    sst->st_mode & 0777)) == -1)
		return -2;
	if (copy_data(m, in, out, sst) == -1 ||
	    file_meta(m, in, out, sst, 1) == -1 ||
	    dest_fsync(m, out) == -1) {
		save = errno;
		close(out);
		goto fail;
	}
	if (close(out) == -1) {
		save = errno;
		goto fail;
	}
	return 0;
fail:
	unlinkat(dpfd, dname, 0);
	errno = save;
	return -1;
}

/* Written under a temporary name, then renamed over dname. */
static int
copy_named(struct mirror *m, int in, const struct stat *sst, int dpfd,
    const char *dname, const char *rel)
{
	char tmp[64];
	int out, save;

	tmp_name(m, tmp, sizeof(tmp));
	/* The umask is 0: the file is made with its final mode bits. */
	if ((out = openat(dpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    sst->st_mode & 0777)) == -1)
		return -1;
	if (copy_data(m, in, out, sst) == -1 ||
	    file_meta(m, in, out, sst, 0) == -1 ||
	    dest_fsync(m, out) == -1)
		goto fail;
	if (close(out) == -1) {
		out = -1;
		goto fail;
	}
	out = -1;
	if (put_in_place(m, dpfd, tmp, dname, rel) == -1)
		goto fail;
	return 0;
fail:
	save = errno;
	if (out != -1)
		close(out);
	unlinkat(dpfd, tmp, 0);
	errno = save;
	return -1;
}

/*
 * Copies the open source file in, of stat sst, to DEST's dpfd at rel;
 * how may have SYNC_ABSENT and SYNC_UNSEEN. Returns 0, or -1 on a DEST
 * error with errno set.
 */
int
copy_open(struct mirror *m, int in, const struct stat *sst, int dpfd,
    const char *rel, int how)
{
	const char *dname = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	int r = -2;

	dest_log(m, 2, "copy", rel, NULL);
	if (how & SYNC_UNSEEN)
		r = copy_unseen(m, in, sst, dpfd, dname);
	else if ((how & SYNC_ABSENT) && m->unnamed_ok)
		r = copy_unnamed(m, in, sst, dpfd, dname);
	if (r == -2)
		r = copy_named(m, in, sst, dpfd, dname, rel);
	else if (r == 0)
		mark_parent(m, rel);
	if (r == 0)
		progress_copied(m, sst->st_size);
	return r;
}

struct batch {
	struct mirror	*m;
	int		 sdir, ddir;
	struct copy_job	*jobs;
	int		 how;		/* SYNC_UNSEEN: the directory is new */
};

/*
 * One file of a batch, on any copier thread: it touches its job, the
 * two directories and the options, nothing else of the mirror's.
 */
static void
batch_turn(void *arg, size_t i)
{
	struct batch *b = arg;
	struct copy_job *j = &b->jobs[i];
	int r;

	if (j->r == COPY_TODO) {
		j->r = COPY_OTHER;
		if ((j->in = src_open(b->sdir, j->name)) == -1)
			return;
		if (fstat(j->in, &j->sst) == -1 || !S_ISREG(j->sst.st_mode))
			goto out;
		if (j->sst.st_nlink > 1) {
			j->r = COPY_LINKED;
			return;
		}
	} else if (j->r != COPY_FIRST)
		return;
	r = b->how & SYNC_UNSEEN ?
	    copy_unseen(b->m, j->in, &j->sst, b->ddir, j->name) :
	    b->m->unnamed_ok ?
	    copy_unnamed(b->m, j->in, &j->sst, b->ddir, j->name) : -2;
	if (r == 0)
		j->r = COPY_DONE;
	else if (r == -1) {
		j->r = COPY_FAILED;
		j->err = errno;
	} else
		j->r = COPY_OTHER;
out:
	close(j->in);
	j->in = -1;
}

/*
 * The regular files of jobs, from the source's sdir into ddir, copied
 * on every copier thread at once: into the staged directory
 * (walk_new_dir) with SYNC_UNSEEN in how, else unnamed and linked into
 * place whole, DEST lacking the names. Those to do, unless they have
 * other names, and those the caller found to be the first name of
 * theirs. The rest is left to the caller, which also logs, reports and
 * keeps the table of links.
 */
void
copy_batch(struct mirror *m, int sdir, int ddir, struct copy_job *jobs,
    size_t n, int how)
{
	struct batch b = { m, sdir, ddir, jobs, how };

	copiers_run(batch_turn, &b, n);
}

/*
 * Copies spfd/name to DEST's dpfd at rel. Returns 0, 1 when the source
 * vanished, -2 when it cannot be read, -1 on a DEST error with errno
 * set.
 */
int
copy_file(struct mirror *m, int spfd, const char *name, int dpfd,
    const char *rel, int how)
{
	struct stat sst;
	int in, r, save;

	if (m->o.dry_run) {
		dest_log(m, 2, "copy", rel, NULL);
		return 0;
	}
	if ((in = src_open(spfd, name)) == -1)
		return vanished(errno) ? 1 : -2;
	if (fstat(in, &sst) == -1 || !S_ISREG(sst.st_mode)) {
		close(in);
		return 1;
	}
	r = copy_open(m, in, &sst, dpfd, rel, how);
	save = errno;
	close(in);
	errno = save;
	return r;
}

int
copy_symlink(struct mirror *m, int spfd, const char *name, int dpfd,
    const char *rel, const struct stat *sst, const struct stat *dst)
{
	char target[PATH_MAX], cur[PATH_MAX], tmp[64];
	const char *dname = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	ssize_t n, c;
	int save;

	if ((n = readlinkat(spfd, name, target, sizeof(target) - 1)) == -1)
		return vanished(errno) || errno == EINVAL ? 1 : -2;
	target[n] = '\0';
	if (dst != NULL && S_ISLNK(dst->st_mode) &&
	    (c = readlinkat(dpfd, dname, cur, sizeof(cur) - 1)) == n &&
	    memcmp(cur, target, n) == 0)
		return dest_meta(m, dpfd, dname, sst, dst);
	dest_log(m, 2, "symlink", rel, NULL);
	if (m->o.dry_run)
		return 0;
	tmp_name(m, tmp, sizeof(tmp));
	if (symlinkat(target, dpfd, tmp) == -1)
		return -1;
	if (dest_meta(m, dpfd, tmp, sst, NULL) == -1)
		goto fail;
	if (put_in_place(m, dpfd, tmp, dname, rel) == -1)
		goto fail;
	return 0;
fail:
	save = errno;
	unlinkat(dpfd, tmp, 0);
	errno = save;
	return -1;
}
