/*
 * A subtree made equal: one walk of the source and DEST side by side,
 * copying what is new or differs, deleting what is gone, setting each
 * directory's metadata after its contents; for one path a record names
 * (sync_path), or the whole tree (reconcile), where deletes may wait
 * until the walk has counted them, for --max-delete.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/xattr.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "listing.h"
#include "mirror.h"

/*
 * Files copied side by side at a time: a file with other names holds
 * its descriptor until it is linked, and a directory may have many.
 */
#define BATCH_FILES	256

struct delq {
	char	**rel;
	size_t	  n, cap;
	long long count;
};

/*
 * What the walk knows of an entry before it looks: the lstats taken
 * ahead, and a directory's listings asked ahead, or NULL.
 */
struct ahead {
	const struct stat *sst, *dst;
	struct listing	*sl, *dl;
	int		 depth;		/* the entry's, the root's entries 1 */
};

/* Directories listed ahead of the walk, for each level. */
#define AHEAD_DIRS	8
/* Entries of a directory listed here whose stats are taken ahead. */
#define STATS_AHEAD	256

static void	 walk_entry(struct mirror *, int, int, const struct name *,
		    const char *, struct delq *, int, const struct ahead *);
static void	 walk_lists(struct mirror *, struct listing *,
		    struct listing *, const char *, void *, int, int);
static void	 reserve_names(struct mirror *, const struct listing *,
		    const char *);

/*
 * name in DEST's ddir goes: at once, or with dq queued and counted with
 * all it holds (a temporary an interrupted copy left too), for
 * --max-delete.
 */
static void
delete_entry(struct mirror *m, int ddir, const char *name, const char *rel,
    struct delq *dq)
{
	if (dq != NULL) {
		if (dq->n == dq->cap) {
			dq->cap = dq->cap ? dq->cap * 2 : 32;
			dq->rel = reallocarray(dq->rel, dq->cap, sizeof(char *));
			if (dq->rel == NULL)
				err(1, "reallocarray");
		}
		if ((dq->rel[dq->n++] = strdup(rel)) == NULL)
			err(1, "strdup");
		dq->count += dest_count(ddir, name);
		return;
	}
	if (dest_remove(m, ddir, name, rel) == -1)
		dest_error(m, "delete", rel);
}

/*
 * The deletes a walk queued, done only when they are no more than
 * --max-delete; an entry that was replaced by another type in the
 * source is then made again. Returns -1, deleting nothing, when there
 * are more.
 */
static int
delq_apply(struct mirror *m, struct delq *dq)
{
	const char *name;
	size_t i;
	int pfd, over = dq->count > m->o.max_delete && dq->n > 0;

	for (i = 0; i < dq->n; i++) {
		if (!over && (pfd = dest_parent(m, dq->rel[i], &name, 0))
		    != -1) {
			if (dest_remove(m, pfd, name, dq->rel[i]) == -1)
				dest_error(m, "delete", dq->rel[i]);
			dir_release(m, pfd);
			sync_path(m, dq->rel[i], SYNC_RECURSE);
		}
		free(dq->rel[i]);
	}
	free(dq->rel);
	return over ? -1 : 0;
}

/* Deletes are counted for --max-delete, not done as they are met. */
static int
counted(const struct mirror *m)
{
	return m->o.max_delete >= 0 && !m->o.force;
}

/* The DT_* of an entry, from its listing or else its lstat. */
static unsigned char
entry_type(int dirfd, const struct name *e)
{
	struct stat st;

	if (e->type != DT_UNKNOWN)
		return e->type;
	if (fstatat(dirfd, e->s, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return DT_UNKNOWN;
	return IFTODT(st.st_mode);
}

/* Of another type in the source than in DEST, as far as can be told. */
static int
replaced(int sdir, const struct name *s, int ddir, const struct name *d)
{
	unsigned char st = entry_type(sdir, s), dt = entry_type(ddir, d);

	return st != DT_UNKNOWN && dt != DT_UNKNOWN && st != dt;
}

/*
 * A regular file DEST lacks, open as in, of stat sst: linked to
 * another name of it DEST has, or copied.
 */
static void
new_open(struct mirror *m, int in, const struct stat *sst, int ddir,
    const char *name, const char *rel, int how)
{
	name_seen(m, rel, sst);
	if (sst->st_nlink == 1 ||
	    link_sibling(m, ddir, name, rel, sst, how) != 1) {
		if (copy_open(m, in, sst, ddir, rel, how) == -1)
			dest_error(m, "write", rel);
		else if (sst->st_nlink > 1 && !m->walk.reconciling)
			relink_siblings(m, ddir, name, rel, sst);
	}
}

/*
 * A regular file, by its directory entry, that DEST lacks: opened
 * first and stat'ed through its descriptor, one lstat fewer. Returns
 * 0 when done, -1 when it goes the common way, which finds out why.
 */
static int
new_file(struct mirror *m, int sdir, int ddir, const char *name,
    const char *rel, int how)
{
	struct stat sst;
	int in;

	if ((in = src_open(sdir, name)) == -1)
		return -1;
	if (fstat(in, &sst) == -1 || !S_ISREG(sst.st_mode)) {
		close(in);
		return -1;
	}
	new_open(m, in, &sst, ddir, name, rel, how);
	close(in);
	return 0;
}

/*
 * The regular files among the entries from to to, by d_type, that DEST
 * lacks, copied side by side: into a new directory not in place yet
 * (how has SYNC_UNSEEN), or unnamed and linked in whole; the number of
 * jobs, in the order of the listing. A file with other names is copied
 * so too when no other name of it has been seen (the first of a cp -al
 * tree); batch_done links the others to it.
 */
static size_t
batch_files(struct mirror *m, int sd, int dd, const char *rel,
    const struct listing *src, size_t from, size_t to, struct copy_job *jobs,
    int how)
{
	struct copy_job *j;
	size_t i, n = 0, first = 0, k;
	char *child, **v;

	memset(jobs, 0, (to - from) * sizeof(*jobs));
	for (i = from; i < to; i++)
		if (src->v[i].type == DT_REG)
			jobs[n++].name = src->v[i].s;
	copy_batch(m, sd, dd, jobs, n, how);
	for (i = 0; i < n; i++) {
		if ((j = &jobs[i])->r != COPY_LINKED)
			continue;
		child = rel_join(rel, j->name);
		if ((k = links_names(&m->links, j->sst.st_dev, j->sst.st_ino,
		    child, &v)) == 0) {
			links_add(&m->links, j->sst.st_dev, j->sst.st_ino,
			    child);
			j->r = COPY_FIRST;
			first++;
		}
		links_free_names(v, k);
		free(child);
	}
	if (first > 0)
		copy_batch(m, sd, dd, jobs, n, how);
	return n;
}

/*
 * A file of the batch, taken in the order of the listing: logged and
 * put in the table of links; one with other names, or what turned out
 * not to be a plain file, goes the common way.
 */
static void
batch_done(struct mirror *m, int sd, int dd, const struct name *e,
    struct copy_job *j, const char *rel, struct delq *dq, int how)
{
	switch (j->r) {
	case COPY_DONE:
		dest_log(m, 2, "copy", rel, NULL);
		progress_copied(m, j->sst.st_size);
		name_seen(m, rel, &j->sst);
		/* A new directory gets its times once it is whole. */
		if (!(how & SYNC_UNSEEN))
			mark_parent(m, rel);
		break;
	case COPY_LINKED:
		new_open(m, j->in, &j->sst, dd, e->s, rel, how);
		close(j->in);
		break;
	case COPY_FAILED:
		dest_log(m, 2, "copy", rel, NULL);
		errno = j->err;
		dest_error(m, "write", rel);
		break;
	default:
		walk_entry(m, sd, dd, e, rel, dq, how, NULL);
	}
}

/*
 * The entries of a new directory: with unseen, those that are not
 * directories, by d_type, into the directory not in place yet, the
 * regular files among them side by side; else the others.
 */
static void
walk_new_entries(struct mirror *m, int sd, int dd, const char *rel,
    const struct listing *src, struct delq *dq, int unseen)
{
	struct copy_job *jobs = NULL;
	size_t i, j = 0, njobs = 0, end = 0;
	char *child;
	int isdir;

	if (unseen && (jobs = calloc(BATCH_FILES, sizeof(*jobs))) == NULL)
		err(1, "calloc");
	for (i = 0; i < src->n; i++) {
		if (unseen && i == end) {
			end = src->n - i > BATCH_FILES ? i + BATCH_FILES : src->n;
			njobs = batch_files(m, sd, dd, rel, src, i, end, jobs,
			    SYNC_ABSENT | SYNC_UNSEEN);
			j = 0;
		}
		isdir = src->v[i].type == DT_DIR ||
		    src->v[i].type == DT_UNKNOWN;
		if (isdir == unseen)
			continue;
		child = rel_join(rel, src->v[i].s);
		progress_entry(m);
		if (j < njobs && jobs[j].name == src->v[i].s)
			batch_done(m, sd, dd, &src->v[i], &jobs[j++], child,
			    dq, SYNC_ABSENT | SYNC_UNSEEN);
		else
			walk_entry(m, sd, dd, &src->v[i], child, dq,
			    SYNC_ABSENT | (unseen ? SYNC_UNSEEN : 0), NULL);
		free(child);
	}
	free(jobs);
}

/*
 * A directory new to DEST is made under a temporary name, and what it
 * holds besides directories is written there under its own names, no
 * reader seeing them yet: no temporary name and rename, or link, for
 * each file. Renamed into place, it gets its subdirectories, each made
 * the same way. A name in DEST is whole from the moment it is seen.
 */
static void
walk_new_dir(struct mirror *m, int sdir, int ddir, const char *name,
    const char *rel, const struct stat *sst, struct delq *dq)
{
	struct walk saved = m->walk;
	struct listing src;
	struct stat st;
	char tmp[64];
	int sd, dd;

	if ((sd = src_dir_open(sdir, name)) == -1) {
		if (!vanished(errno))
			src_error(m, "read", rel);
		return;
	}
	dest_log(m, 2, "mkdir", rel, NULL);
	tmp_name(m, tmp, sizeof(tmp));
	if (mkdirat(ddir, tmp, 0700) == -1 || (dd = openat(ddir, tmp,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		dest_error(m, "mkdir", rel);
		unlinkat(ddir, tmp, AT_REMOVEDIR);
		close(sd);
		return;
	}
	/*
	 * Unreadable, it is made empty, and the directory tried again
	 * later: nothing in DEST to lose.
	 */
	if (listing_read(&src, sd, rel, mirror_skip(m)) == -1 &&
	    !vanished(errno))
		src_error(m, "list", rel);
	m->walk.staged_fd = dd;
	m->walk.staged_rel = rel;
	/*
	 * What a file made in it gets: its group if it is setgid, else
	 * ours; without a default ACL inherited, the mode asked.
	 */
	m->walk.staged_plain = fstat(dd, &st) == 0 &&
	    fgetxattr(dd, "system.posix_acl_default", NULL, 0) == -1 &&
	    (errno == ENODATA || errno == ENOTSUP);
	m->walk.staged_gid = (st.st_mode & S_ISGID) ? st.st_gid : m->gid;
	if (saved.reconciling)
		reserve_names(m, &src, rel);
	walk_new_entries(m, sd, dd, rel, &src, dq, 1);
	m->walk = saved;
	if (dest_fsync(m, dd) == -1 ||
	    put_in_place(m, ddir, tmp, name, rel) == -1) {
		dest_error(m, "mkdir", rel);
		remove_tree(ddir, tmp);
	} else {
		walk_new_entries(m, sd, dd, rel, &src, dq, 0);
		if (xattr_copy(m, sd, dd) == -1)
			dest_error(m, "set attributes of", rel);
		else if (dest_meta(m, dd, NULL, sst, NULL) == -1)
			dest_error(m, "set times of", rel);
		else
			pathset_del(&m->dirty_dirs, rel);
	}
	listing_free(&src);
	close(sd);
	close(dd);
}

/*
 * The source's directory rel, sst, is DEST itself, shown inside the
 * root by a mount made since the start (the checks then refused any
 * other route): never walked, so DEST is never copied into itself;
 * said once.
 */
static int
is_dest(struct mirror *m, const char *rel, const struct stat *sst)
{
	struct stat dst;

	if (!S_ISDIR(sst->st_mode))
		return 0;
	if (m->walk.dest_fd != m->dfd) {
		if (fstat(m->dfd, &dst) == -1)
			return 0;
		m->walk.dest_fd = m->dfd;
		m->walk.dest_dev = dst.st_dev;
		m->walk.dest_ino = dst.st_ino;
	}
	if (sst->st_dev != m->walk.dest_dev || sst->st_ino != m->walk.dest_ino)
		return 0;
	if (!m->walk.dest_said)
		warnx("%s: shown inside the watched root as %s, by a mount: "
		    "not copied into itself; unmount it there", m->o.dest,
		    rel);
	m->walk.dest_said = 1;
	m->rval = 1;
	return 1;
}

/*
 * A directory's listing as asked ahead, or made now: fd is closed with
 * it. 0, or -1 after the error is reported.
 */
static int
take_dir(struct mirror *m, struct listing *ahead, int pfd, const char *name,
    const char *rel, int src, struct listing **lp)
{
	struct listing *l = ahead;
	int fd;

	*lp = NULL;
	if (l == NULL) {
		fd = src ? src_dir_open(pfd, name) : openat(pfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			goto fail;
		if ((l = calloc(1, sizeof(*l))) == NULL)
			err(1, "calloc");
		if (listing_read(l, fd, rel, mirror_skip(m)) == -1) {
			l->fd = fd;
			l->owned = 1;
			goto fail;
		}
		l->owned = 1;
		*lp = l;
		return 0;
	}
	if (listing_take(l) == 0) {
		*lp = l;
		return 0;
	}
fail:
	/*
	 * Gone already, or deleted while listed (getdents64 says ENOENT
	 * of a directory removed): a record says so.
	 */
	if (src && vanished(errno))
		;
	else if (src)
		src_error(m, l == NULL || l->fd == -1 ? "read" : "list", rel);
	else
		dest_error(m, l == NULL || l->fd == -1 ? "open" : "list", rel);
	if (l != ahead && l != NULL) {
		listing_free(l);
		free(l);
	}
	return -1;
}

/* A listing take_dir made, or one asked ahead and taken. */
static void
drop_dir(struct listing *l, const struct ahead *ah, int src)
{
	if (l == NULL || (ah != NULL && l == (src ? ah->sl : ah->dl)))
		return;
	listing_free(l);
	free(l);
}

/*
 * how is SYNC_ABSENT when DEST lacks the name, with SYNC_UNSEEN in a
 * directory not in place yet; or 0. ah, when not NULL, is what was
 * taken ahead for it: the caller frees its listings.
 */
static void
walk_entry(struct mirror *m, int sdir, int ddir, const struct name *e,
    const char *rel, struct delq *dq, int how, const struct ahead *ah)
{
	const char *name = e->s;
	struct listing *sl, *dl;
	struct stat sst;
	unsigned long metas;

	if (e->type == DT_REG && (how & SYNC_ABSENT) && !m->o.dry_run &&
	    new_file(m, sdir, ddir, name, rel, how) == 0)
		return;
	if (ah != NULL && ah->sst != NULL)
		sst = *ah->sst;
	else if (fstatat(sdir, name, &sst, AT_SYMLINK_NOFOLLOW) == -1)
		return;		/* gone already: a record says so */
	if (is_dest(m, rel, &sst))
		return;
	if (S_ISDIR(sst.st_mode) && (how & SYNC_ABSENT) && !m->o.dry_run) {
		walk_new_dir(m, sdir, ddir, name, rel, &sst, dq);
		return;
	}
	if (sync_one(m, sdir, ddir, name, rel, &sst,
	    ah != NULL ? ah->dst : NULL, how) != 0 ||
	    !S_ISDIR(sst.st_mode) || m->o.dry_run)
		return;
	if (take_dir(m, ah ? ah->sl : NULL, sdir, name, rel, 1, &sl) == -1)
		return;
	if (take_dir(m, ah ? ah->dl : NULL, ddir, name, rel, 0, &dl) == -1) {
		drop_dir(sl, ah, 1);
		return;
	}
	walk_lists(m, sl, dl, rel, dq, how & SYNC_UNSURE,
	    ah != NULL ? ah->depth : 0);
	/* Set after its contents, through its descriptor: done with. */
	metas = m->metas;
	if (dest_meta(m, dl->fd, NULL, &sst, NULL) == -1)
		dest_error(m, "set times of", rel);
	else
		pathset_del(&m->dirty_dirs, rel);
	if (m->drifting && m->metas != metas)
		dest_log(m, 3, "attrs", rel, NULL);
	drop_dir(sl, ah, 1);
	drop_dir(dl, ah, 0);
}

/*
 * The directories both trees have, as their listings say, listed ahead
 * of the walk on the reader threads, with each entry's lstat: up to
 * AHEAD_DIRS of them, the merge of the two listings taken up from
 * *i, *j.
 */
struct asked {
	size_t		 i[AHEAD_DIRS];	/* the source's entry */
	struct listing	*sl[AHEAD_DIRS], *dl[AHEAD_DIRS];
	size_t		 head, n;
	size_t		 si, dj;	/* where the merge is at */
};

static void
ask_ahead(struct mirror *m, struct listing *src, struct listing *dst,
    const char *rel, int depth, struct asked *q)
{
	size_t k;
	char *child;
	int c;

	while (q->n < AHEAD_DIRS && q->si < src->n && q->dj < dst->n) {
		c = strcmp(src->v[q->si].s, dst->v[q->dj].s);
		if (c == 0 && src->v[q->si].type == DT_DIR &&
		    dst->v[q->dj].type == DT_DIR) {
			k = (q->head + q->n++) % AHEAD_DIRS;
			child = rel_join(rel, src->v[q->si].s);
			q->i[k] = q->si;
			q->sl[k] = listing_ahead(src->fd, src->v[q->si].s,
			    child, depth + 1, LISTING_STATS | LISTING_NOATIME,
			    mirror_skip(m));
			q->dl[k] = listing_ahead(dst->fd, dst->v[q->dj].s,
			    child, depth + 1, LISTING_STATS, mirror_skip(m));
			free(child);
		}
		if (c <= 0)
			q->si++;
		if (c >= 0)
			q->dj++;
	}
}

/*
 * The regular files, by d_type, from src's entry i on that DEST lacks,
 * its listing at entry j: as many as a batch copies at most.
 */
static size_t
absent_files(const struct listing *src, size_t i, const struct listing *dst,
    size_t j)
{
	size_t k;

	for (k = i; k < src->n && k - i < BATCH_FILES; k++)
		if (src->v[k].type != DT_REG || (j < dst->n &&
		    strcmp(src->v[k].s, dst->v[j].s) >= 0))
			break;
	return k - i;
}

/* Those files, copied side by side, each linked into DEST whole. */
static void
copy_absent(struct mirror *m, const struct listing *src, size_t from,
    size_t to, int ddir, const char *rel, struct delq *dq)
{
	struct copy_job *jobs;
	size_t i, n;
	char *child;

	if ((jobs = calloc(to - from, sizeof(*jobs))) == NULL)
		err(1, "calloc");
	n = batch_files(m, src->fd, ddir, rel, src, from, to, jobs,
	    SYNC_ABSENT);
	for (i = 0; i < n; i++) {
		child = rel_join(rel, src->v[from + i].s);
		progress_entry(m);
		batch_done(m, src->fd, ddir, &src->v[from + i], &jobs[i], child,
		    dq, SYNC_ABSENT);
		free(child);
	}
	free(jobs);
}

/* A reconcile sets every name of a directory's in the table, in a row. */
static void
reserve_names(struct mirror *m, const struct listing *src, const char *rel)
{
	size_t i, n = 0;

	for (i = 0; i < src->n; i++)
		n += src->v[i].type != DT_DIR;
	inodes_reserve(&m->inodes, rel, n);
}

/*
 * Makes DEST's directory (listed as dst) equal to the source's (src),
 * at any depth; with SYNC_LEVEL in how, its entries only: what DEST
 * lacks is made, what the source lacks deleted, and what both have left
 * to its records. With deferred, deletes are queued there instead of
 * done. SYNC_UNSURE goes down to every entry. In a whole reconcile, the
 * directories below are listed ahead.
 */
static void
walk_lists(struct mirror *m, struct listing *src, struct listing *dst,
    const char *rel, void *deferred, int how, int depth)
{
	struct stat sst, dst_st;
	struct asked q;
	struct ahead ah;
	size_t i = 0, j = 0, k;
	char *child;
	int sdir = src->fd, ddir = dst->fd, c, repl;
	int level = (how & SYNC_LEVEL) != 0;
	int ahead = m->walk.reconciling && !level && !m->o.dry_run;

	memset(&q, 0, sizeof(q));
	/* Read-only in DEST: writable while made equal, its mode back after. */
	if (dir_writable(m, ddir))
		pathset_add(&m->dirty_dirs, rel, 0);
	if (m->walk.reconciling)
		reserve_names(m, src, rel);
	if (ahead)
		ask_ahead(m, src, dst, rel, depth, &q);
	while (i < src->n || j < dst->n) {
		if (!m->o.dry_run && !level && m->unnamed_ok &&
		    (k = absent_files(src, i, dst, j)) > 1) {
			copy_absent(m, src, i, i + k, ddir, rel, deferred);
			i += k;
			continue;
		}
		if (i == src->n)
			c = 1;
		else if (j == dst->n)
			c = -1;
		else
			c = strcmp(src->v[i].s, dst->v[j].s);
		child = rel_join(rel, c <= 0 ? src->v[i].s : dst->v[j].s);
		progress_entry(m);
		memset(&ah, 0, sizeof(ah));
		ah.depth = depth + 1;
		if (q.n > 0 && c == 0 && q.i[q.head] == i) {
			ah.sl = q.sl[q.head];
			ah.dl = q.dl[q.head];
			q.head = (q.head + 1) % AHEAD_DIRS;
			q.n--;
			ask_ahead(m, src, dst, rel, depth, &q);
		}
		repl = c == 0 && deferred != NULL &&
		    replaced(sdir, &src->v[i], ddir, &dst->v[j]);
		if (c == 0 && !level && !repl) {
			/* Both lstats, taken ahead where they were asked. */
			if (listing_stat(src, i, &sst) == -1)
				goto next;	/* gone already: a record says so */
			ah.sst = &sst;
			if (listing_stat(dst, j, &dst_st) == 0)
				ah.dst = &dst_st;
		}
		/*
		 * Replaced by another type, DEST's entry is a delete like
		 * any other: counted, then made again.
		 */
		if (c > 0 && m->o.no_delete)
			;	/* kept: --no-delete */
		else if (c > 0 || repl)
			delete_entry(m, ddir, dst->v[j].s, child, deferred);
		else if (c < 0 || !level)
			walk_entry(m, sdir, ddir, &src->v[i], child, deferred,
			    (how & SYNC_UNSURE) | (c < 0 ? SYNC_ABSENT : 0),
			    &ah);
next:
		if (ah.sl != NULL) {
			listing_free(ah.sl);
			listing_free(ah.dl);
		}
		free(child);
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	for (k = 0; k < q.n; k++) {
		listing_free(q.sl[(q.head + k) % AHEAD_DIRS]);
		listing_free(q.dl[(q.head + k) % AHEAD_DIRS]);
	}
}

/*
 * Makes DEST's directory ddir equal to the source's sdir, at any depth;
 * with SYNC_LEVEL in how, its entries only (walk_lists).
 */
void
walk_tree(struct mirror *m, int sdir, int ddir, const char *rel,
    void *deferred, int how)
{
	struct listing src, dst;

	/* Skipped whole, nothing deleted, and tried again later. */
	if (listing_read(&src, sdir, rel, mirror_skip(m)) == -1) {
		/* Deleted while listed: a record says so. */
		if (!vanished(errno))
			src_error(m, "list", rel);
		return;
	}
	if (listing_read(&dst, ddir, rel, mirror_skip(m)) == -1) {
		dest_error(m, "list", rel);
		listing_free(&src);
		return;
	}
	/*
	 * A big directory the walk did not list ahead (the root): its
	 * stats are, while it compares, when there is DEST to compare.
	 */
	if (m->walk.reconciling && !(how & SYNC_LEVEL) && dst.n > 0) {
		if (src.n > STATS_AHEAD)
			listing_stats_ahead(&src);
		if (dst.n > STATS_AHEAD)
			listing_stats_ahead(&dst);
	}
	walk_lists(m, &src, &dst, rel, deferred, how, 0);
	listing_free(&src);
	listing_free(&dst);
}

/* The source lacks the directory rel, and it is not excluded. */
static int
source_lacks(void *arg, const char *rel)
{
	struct mirror *m = arg;
	struct stat st;

	return fstatat(m->sfd, rel, &st, AT_SYMLINK_NOFOLLOW) == -1 &&
	    vanished(errno) && !rel_excluded(m, rel);
}

static void
delete_path(struct mirror *m, const char *rel)
{
	struct stat st;
	const char *name;
	char *top = NULL;
	int dpfd;

	if (m->o.no_delete) {
		links_del(&m->links, rel);
		inodes_del(&m->inodes, rel);
		return;
	}
	/*
	 * Kept whole: the highest directory above that the source lacks
	 * too goes into the set at once, so that an rm -rf is one rename
	 * whatever order its records come in, and the records of the rest
	 * find nothing left to do.
	 */
	if (m->backup.dirfd != -1)
		rel = top = backup_top(rel, source_lacks, m);
	links_del(&m->links, rel);
	inodes_del(&m->inodes, rel);
	/* Not in DEST by any route: not by the safe one either. */
	if (fstatat(m->dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			goto out;
	} else if (S_ISDIR(st.st_mode)) {
		/* The tables would keep the names below for ever. */
		links_prune(&m->links, rel);
		inodes_prune(&m->inodes, rel);
	}
	if ((dpfd = dest_parent(m, rel, &name, 0)) == -1)
		goto out;
	if (dest_remove(m, dpfd, name, rel) == -1)
		dest_error(m, "delete", rel);
	dir_release(m, dpfd);
out:
	free(top);
}

static void
root_meta(struct mirror *m)
{
	pathset_add(&m->dirty_dirs, "", 0);
}

/*
 * A walk a record asked for (a directory moved in, a subtree verified or
 * tried again; with SYNC_LEVEL in how and not SYNC_RECURSE, a
 * directory's entries only): its deletes count for --max-delete as a
 * reconcile's do. Over it, nothing is deleted, and that is said once
 * and tried again.
 */
static void
walk_counted(struct mirror *m, int sdir, int ddir, const char *rel, int how)
{
	int walk = how & SYNC_UNSURE;
	struct delq dq;

	if ((how & SYNC_LEVEL) && !(how & SYNC_RECURSE))
		walk |= SYNC_LEVEL;

	if (!counted(m)) {
		walk_tree(m, sdir, ddir, rel, NULL, walk);
		return;
	}
	memset(&dq, 0, sizeof(dq));
	walk_tree(m, sdir, ddir, rel, &dq, walk);
	if (delq_apply(m, &dq) == 0)
		return;
	m->rval = 1;
	if (!retry_known(m, rel))
		warnx("%s%s%s: would delete %lld entries, more than "
		    "--max-delete %lld: nothing deleted; check the source, "
		    "then use --force", m->o.dest, rel[0] ? "/" : "", rel,
		    dq.count, m->o.max_delete);
	retry_add(m, rel);
}

/* Makes DEST's rel equal to the source's rel; how is SYNC_*. */
int
sync_path(struct mirror *m, const char *rel, int how)
{
	const char *sname, *dname;
	struct stat sst;
	int spfd, dpfd, sd, dd, r, serr;

	if (rel_excluded(m, rel))
		return 0;
	if (rel[0] == '\0') {
		if (how & (SYNC_RECURSE | SYNC_LEVEL))
			walk_counted(m, m->sfd, m->dfd, "", how);
		root_meta(m);
		return 0;
	}
	/*
	 * Absent through any route is absent through the safe one, which
	 * never follows a symlink: one system call, not three, for the
	 * many records of a storm whose files are gone already.
	 */
	spfd = -1;
	if ((fstatat(m->sfd, rel, &sst, AT_SYMLINK_NOFOLLOW) == -1 &&
	    errno == ENOENT) || (spfd = src_parent(m, rel, &sname)) == -1 ||
	    fstatat(spfd, sname, &sst, AT_SYMLINK_NOFOLLOW) == -1) {
		r = errno;
		dir_release(m, spfd);
		/* Unreadable is not gone: DEST keeps what it has. */
		if (!vanished(r)) {
			errno = r;
			src_error(m, "read", rel);
			return -1;
		}
		if (how & SYNC_DELETE)
			delete_path(m, rel);
		return 1;
	}
	if (is_dest(m, rel, &sst)) {
		dir_release(m, spfd);
		return 0;
	}
	if ((dpfd = dest_parent(m, rel, &dname, 1)) == -1) {
		dir_release(m, spfd);
		if (errno == ENOENT)
			return 1;	/* the source's directory went */
		dest_error(m, "open", rel);
		return -1;
	}
	r = sync_one(m, spfd, dpfd, sname, rel, &sst, NULL, how);
	if (r == 0 && S_ISDIR(sst.st_mode) &&
	    (how & (SYNC_RECURSE | SYNC_LEVEL)) && !m->o.dry_run) {
		sd = src_dir_open(spfd, sname);
		serr = errno;
		dd = openat(dpfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (sd != -1 && dd != -1)
			walk_counted(m, sd, dd, rel, how);
		else if (sd == -1 && !vanished(serr)) {
			errno = serr;
			src_error(m, "read", rel);
		} else if (dd == -1)
			dest_error(m, "open", rel);
		if (sd != -1)
			close(sd);
		if (dd != -1)
			close(dd);
		pathset_add(&m->dirty_dirs, rel, 0);
	}
	dir_release(m, spfd);
	dir_release(m, dpfd);
	return r;
}

static int
has_entries(struct mirror *m, int fd)
{
	struct listing ns;
	int n;

	if (listing_read(&ns, fd, "", mirror_skip(m)) == -1)
		return -1;
	n = ns.n > 0;
	listing_free(&ns);
	return n;
}

/*
 * WATCH_INIT, or new options: DEST made equal to the source, without
 * wiping it first. Stopped for safety, it deletes nothing, says why and
 * returns -1; the caller decides whether that is fatal.
 */
int
reconcile(struct mirror *m, char *why, size_t whylen)
{
	struct delq dq;

	/*
	 * Where an unmounted disk would show: a new root or DEST, not a
	 * tree emptied while watched.
	 */
	if (m->guard_empty && !m->o.force && has_entries(m, m->sfd) == 0 &&
	    has_entries(m, m->dfd) == 1) {
		snprintf(why, whylen, "%s is empty but %s is not: refusing "
		    "to delete everything in %s (is the source disk "
		    "mounted?); use --force if the source really is empty",
		    m->root[0] ? m->root : "/", m->o.dest, m->o.dest);
		return -1;
	}
	memset(&dq, 0, sizeof(dq));
	/*
	 * Every name is seen again: the table starts afresh, with the
	 * files that have other names only.
	 */
	links_clear(&m->links);
	inodes_clear(&m->inodes);
	m->links_all = 0;
	m->walk.reconciling = 1;
	progress_begin(m, m->drifting ? PHASE_VERIFY : m->synced ?
	    PHASE_RESYNC : PHASE_SYNC);
	walk_tree(m, m->sfd, m->dfd, "", counted(m) ? &dq : NULL, 0);
	m->walk.reconciling = 0;
	/* The walk compared every name. */
	pathset_clear(&m->links.left);
	progress_end(m);
	m->synced = 1;
	if (delq_apply(m, &dq) == -1) {
		snprintf(why, whylen, "%s: reconcile would delete %lld "
		    "entries, more than --max-delete %lld: nothing deleted; "
		    "check the source, then use --force", m->o.dest, dq.count,
		    m->o.max_delete);
		flush_dirs(m);
		return -1;
	}
	pathset_add(&m->dirty_dirs, "", 0);
	flush_dirs(m);
	return 0;
}
