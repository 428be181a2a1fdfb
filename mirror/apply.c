/*
 * From records to DEST operations: the records read together coalesced
 * per path, renames paired by cookie, lone MOVED_FROMs that turn into
 * deletes, files written without being closed, renamed subtrees
 * compared again once the stream is quiet.
 */
#define _GNU_SOURCE

#include <sys/inotify.h>
#include <sys/stat.h>

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

/* A MOVED_FROM with no partner: the entry left the tree. */
static void
move_expire(struct mirror *m, char *rel)
{
	sync_path(m, rel, SYNC_DELETE | SYNC_RECURSE);
	free(rel);
}

static void
moved_from(struct mirror *m, const char *rel, uint32_t cookie)
{
	char *old;

	if ((old = moves_add(&m->moves, rel, cookie)) != NULL)
		move_expire(m, old);
}

/*
 * A path to make equal once every record already there has been read:
 * many CLOSE_WRITEs of one file are one copy, a file created and
 * deleted is nothing, as sync_path() looks at the source only then.
 */
static void
queue(struct mirror *m, const char *rel, int how)
{
	struct pathset_entry *e;

	if ((e = pathset_get(&m->pending, rel)) == NULL) {
		e = pathset_add(&m->pending, rel, now_ms());
		e->how = how;
		return;
	}
	/* "Only metadata changed" holds only if every record says so. */
	if (!(how & SYNC_META) || !(e->how & SYNC_META)) {
		how &= ~SYNC_META;
		e->how &= ~SYNC_META;
	}
	e->how |= how;
}

/* queue() for the directory rel is in. */
static void
queue_parent(struct mirror *m, const char *rel, int how)
{
	char *dir = rel_parent(rel);

	queue(m, dir, how);
	free(dir);
}

/*
 * The records waiting for from, and for what is below it when it is a
 * directory, are for to now, as DEST's entry is: a rename does not cut
 * the batch short, and a file written, renamed and written again is
 * copied once.
 */
static void
pending_rename(struct mirror *m, const char *from, const char *to, int isdir)
{
	struct pathset_entry *e;
	size_t i, flen = strlen(from);
	char *p, *np;
	int how;

	/* Not a rename the kernel makes; rename_entry() copies it. */
	if (path_below(to, from))
		return;
	if (!isdir) {
		if ((e = pathset_get(&m->pending, from)) != NULL) {
			how = e->how;
			free(pathset_take(&m->pending, e - m->pending.e));
			queue(m, to, how);
		}
		return;
	}
	/* Each turn moves one entry out from below from, or passes one. */
	for (i = 0; i < m->pending.n;) {
		if (!path_below(m->pending.e[i].path, from)) {
			i++;
			continue;
		}
		how = m->pending.e[i].how;
		p = pathset_take(&m->pending, i);
		if (asprintf(&np, "%s%s", to, p + flen) == -1)
			err(1, "asprintf");
		queue(m, np, how);
		free(np);
		free(p);
	}
}

/* Paths waiting on timers follow a rename. */
static void
renamed(struct mirror *m, const char *from, const char *to)
{
	pathset_rename(&m->dirty_files, from, to);
	pathset_rename(&m->dirty_dirs, from, to);
	pathset_rename(&m->verify, from, to);
	pathset_rename(&m->retry, from, to);
	pathset_rename(&m->deletes, from, to);
	links_rename(&m->links, from, to);
	inodes_rename(&m->inodes, from, to);
	moves_rename(&m->moves, from, to);
}

/*
 * A pair is a rename only when the source shows the old name gone and
 * the new one there, in *tst, the same inode as the old name was last
 * seen as where that is known (files and symlinks); a record is a
 * hint, never the truth.
 */
static int
borne_out(struct mirror *m, const char *from, const char *to,
    struct stat *tst)
{
	const char *name;
	struct stat st;
	int pfd, r, e;

	pfd = src_parent(m, from, &name);
	r = pfd != -1 ? fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) : -1;
	e = errno;
	dir_release(m, pfd);
	if (r == 0 || !vanished(e))
		return 0;	/* still there, or cannot tell */
	if ((pfd = src_parent(m, to, &name)) == -1)
		return 0;
	r = fstatat(pfd, name, tst, AT_SYMLINK_NOFOLLOW);
	dir_release(m, pfd);
	if (r == -1)
		return 0;
	/* The same inode as the old name had, where that is known. */
	return inodes_was(&m->inodes, from, tst->st_dev, tst->st_ino) != 0;
}

/*
 * dir_writable() for pfd/name: 1 when made writable for a while, its
 * mode to be given back by flush_dirs.
 */
static int
writable_dir(struct mirror *m, int pfd, const char *name)
{
	int fd, r;

	if ((fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return 0;
	r = dir_writable(m, fd);
	close(fd);
	return r;
}

/* MOVED_FROM + MOVED_TO: a rename in DEST, no data copied. */
static void
rename_entry(struct mirror *m, const char *from, const char *to, int isdir)
{
	const char *oname, *nname;
	struct stat st, tst, cur;
	int opfd, npfd = -1, ok = 0;

	memset(&st, 0, sizeof(st));
	if (strcmp(from, to) == 0)
		return;
	if (rel_excluded(m, to)) {
		queue(m, from, SYNC_DELETE | SYNC_RECURSE);
		return;
	}
	if (rel_excluded(m, from) || path_below(to, from)) {
		queue(m, to, SYNC_RECURSE);
		return;
	}
	/*
	 * Not borne out: each path made as the source has it. Both may be
	 * there still (an exchange, a name taken again): what DEST has
	 * under each may be the other's, of the same size and time.
	 */
	if (!borne_out(m, from, to, &tst)) {
		queue(m, from, SYNC_DELETE | SYNC_RECURSE | SYNC_UNSURE);
		queue(m, to, SYNC_DELETE | SYNC_RECURSE | SYNC_UNSURE);
		return;
	}
	pending_rename(m, from, to, isdir || S_ISDIR(tst.st_mode));
	if ((opfd = dest_parent(m, from, &oname, 0)) == -1 ||
	    fstatat(opfd, oname, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		/* Not in DEST: copied instead; unreachable: deleted later. */
		if (errno != ENOENT && errno != ENOTDIR)
			dest_error(m, "rename", from);
		goto copy;
	}
	/* Another type than the source's new entry: not the same one. */
	if ((st.st_mode & S_IFMT) != (tst.st_mode & S_IFMT))
		goto gone;
	if ((npfd = dest_parent(m, to, &nname, 1)) == -1) {
		/*
		 * The new directory is gone from the source already: a
		 * later record moves or deletes it. The old entry must
		 * not stay behind in DEST.
		 */
		if (errno != ENOENT)
			dest_error(m, "open", to);
		goto gone;
	}
	dest_log(m, 2, "rename", from, to);
	if (m->o.dry_run)
		goto out;
	/* A directory to another parent has its ".." written. */
	if (S_ISDIR(st.st_mode) && writable_dir(m, opfd, oname))
		pathset_add(&m->dirty_dirs, to, 0);
	/* What the new name held is replaced: kept first. */
	if (backup_link(m, npfd, nname, to) == -1) {
		dest_error(m, "keep", to);
		goto gone;
	}
	if (renameat(opfd, oname, npfd, nname) == -1) {
		/* An entry of another type, or a directory not empty. */
		if ((errno != ENOTEMPTY && errno != EEXIST && errno != EISDIR &&
		    errno != ENOTDIR) ||
		    dest_remove(m, npfd, nname, to) == -1 ||
		    renameat(opfd, oname, npfd, nname) == -1) {
			dest_error(m, "rename", from);
			goto gone;
		}
	}
	/*
	 * Two names of one file in DEST: rename(2) does nothing and
	 * leaves both, where the source has only the new one.
	 */
	if (fstatat(opfd, oname, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    cur.st_ino == st.st_ino && cur.st_dev == st.st_dev &&
	    unlinkat(opfd, oname, 0) == -1 && errno != ENOENT) {
		dest_error(m, "rename", from);
		goto gone;
	}
	ok = 1;
	mark_parent(m, from);
	mark_parent(m, to);
	renamed(m, from, to);
copy:
	dir_release(m, opfd);
	dir_release(m, npfd);
	/*
	 * A rename moves what DEST had, which the records waiting may
	 * not have reached yet: the entry is compared with them, and a
	 * directory's subtree once the stream is quiet.
	 */
	if (ok) {
		queue(m, to, 0);
		if (isdir || S_ISDIR(st.st_mode))
			pathset_add(&m->verify, to, now_ms());
	} else
		queue(m, to, SYNC_RECURSE);
	return;
gone:
	dir_release(m, opfd);
	dir_release(m, npfd);
	queue(m, from, SYNC_DELETE | SYNC_RECURSE);
	queue(m, to, SYNC_RECURSE);
	return;
out:
	dir_release(m, opfd);
	dir_release(m, npfd);
}

/*
 * The names the table says another name of their inode left: what was
 * written through that name while it was theirs changed them, and no
 * record names them (a file written through its link g, then g
 * deleted or renamed over). Each is checked against the source; one
 * being written waits for its own copy.
 */
static void
siblings(struct mirror *m)
{
	char *rel;

	while (m->links.left.n > 0) {
		rel = pathset_take(&m->links.left, m->links.left.n - 1);
		if (pathset_get(&m->dirty_files, rel) == NULL)
			sync_path(m, rel, 0);
		free(rel);
	}
}

/* The paths waiting, in the order their first records came. */
void
apply_pending(struct mirror *m)
{
	struct pathset ps = m->pending;
	size_t i;

	if (ps.n == 0)
		return;
	memset(&m->pending, 0, sizeof(m->pending));
	for (i = 0; i < ps.n; i++)
		sync_path(m, ps.e[i].path, ps.e[i].how);
	pathset_clear(&ps);
	siblings(m);
}

/*
 * The records waiting are older than LAG_MS by the watcher's clock: the
 * mirror is behind, and more of the backlog is worth a short wait, to
 * be coalesced with them. On a quiet stream, a record is applied at
 * once.
 */
int
apply_lagging(struct mirror *m)
{
	struct timespec ts;

	if (m->pending.n == 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 -
	    m->last_record > LAG_MS;
}

/* Enough read ahead: apply what is there before reading on. */
int
apply_batch_full(struct mirror *m)
{
	return m->pending.n >= BATCH_PATHS || (m->pending.n > 0 &&
	    m->pending.e[0].first + BATCH_MS <= now_ms());
}

static void
moved_to(struct mirror *m, const char *rel, uint32_t cookie, int isdir)
{
	char *from;

	if ((from = moves_take(&m->moves, cookie)) != NULL) {
		rename_entry(m, from, rel, isdir);
		free(from);
		return;
	}
	/* Moved in from outside: all of it is new. */
	queue(m, rel, SYNC_RECURSE);
}

static void
gitignore_changed(struct mirror *m, const char *path, const char *rel,
    int isdir, uint32_t mask)
{
	const char *slash = strrchr(rel, '/');
	const char *name = slash != NULL ? slash + 1 : rel;

	if (isdir && (mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM |
	    IN_MOVED_TO)))
		iobs_gi_changed(m->o.gi, path, strlen(path), 1);
	else if (!isdir && strcmp(name, ".gitignore") == 0) {
		iobs_gi_changed(m->o.gi, path, strlen(path), 0);
		queue_parent(m, rel, SYNC_RECURSE);
	}
}

#define WANTED	(IN_CREATE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | \
		 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

void
apply_record(struct mirror *m, const struct iobs_record *r)
{
	const char *rel = r->path + m->rootlen;
	int isdir = (r->mask & IN_ISDIR) != 0;

	if (*rel == '/')
		rel++;
	m->last_record = (int64_t)r->time.tv_sec * 1000 +
	    r->time.tv_usec / 1000;
	/* The source directory's times changed, even if DEST needs nothing. */
	if (r->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO) &&
	    *rel != '\0') {
		mark_parent(m, rel);
		/*
		 * From a scan, what changed there may have come and gone
		 * unseen too, and a copy of the directory made meanwhile
		 * holds it: its entries are compared again.
		 */
		if (m->scanned)
			queue_parent(m, rel, SYNC_LEVEL);
	}
	/*
	 * --gitignore: a .gitignore written is read again, and what it
	 * no longer ignores is copied; a directory made, moved or gone
	 * has all read again.
	 */
	if (m->o.gi != NULL && *rel != '\0')
		gitignore_changed(m, r->path, rel, isdir, r->mask);
	if (r->mask & IN_MOVED_FROM)
		moved_from(m, rel, r->cookie);
	else if (r->mask & IN_MOVED_TO)
		moved_to(m, rel, r->cookie, isdir);
	else if (r->mask & IN_CLOSE_WRITE) {
		pathset_del(&m->dirty_files, rel);
		queue(m, rel, SYNC_CONTENT);
	} else if (r->mask & IN_CREATE)
		queue(m, rel, isdir ? SYNC_RECURSE : 0);
	else if ((r->mask & IN_DELETE) && m->backup.dirfd != -1) {
		m->deletes_last = now_ms();
		pathset_add(&m->deletes, rel, m->deletes_last);
	} else if (r->mask & IN_DELETE)
		queue(m, rel, SYNC_DELETE | SYNC_RECURSE);
	else if (r->mask & IN_MODIFY)
		pathset_add(&m->dirty_files, rel, now_ms());
	else if (r->mask & IN_ATTRIB)
		/* A scan says so of a directory whose entries came and went. */
		queue(m, rel, isdir && m->scanned ? SYNC_META | SYNC_LEVEL :
		    SYNC_META);
}

int
apply_wants(uint32_t mask)
{
	return (mask & WANTED) != 0;
}

/*
 * A failed path is tried again RETRY_MS after its last failure, then
 * after twice as long as it has been failing, up to RETRY_MAX_MS; or
 * at a record, once RETRY_MS have passed: the disk may have been
 * fixed without a word in the stream.
 */
static int64_t
retry_due(const struct pathset_entry *e, int record)
{
	int64_t wait = e->last - e->first;

	if (record || wait < RETRY_MS)
		wait = RETRY_MS;
	if (wait > RETRY_MAX_MS)
		wait = RETRY_MAX_MS;
	return e->last + wait;
}

/*
 * Tries the due paths again. Each leaves the set first; a new failure
 * puts it back, keeping the time of the first one for the back-off.
 */
static void
retry(struct mirror *m, int record)
{
	struct pathset_entry *e;
	int64_t now = now_ms(), first;
	size_t i;
	char *rel;

	for (i = 0; i < m->retry.n; i++) {
		if (retry_due(&m->retry.e[i], record) > now)
			continue;
		first = m->retry.e[i].first;
		rel = pathset_take(&m->retry, i);
		m->retrying = rel;
		sync_path(m, rel, SYNC_CONTENT | SYNC_RECURSE | SYNC_DELETE);
		m->retrying = NULL;
		if ((e = pathset_get(&m->retry, rel)) != NULL)
			e->first = first;
		free(rel);
		/* The set changed under us: start over, what is done is gone. */
		i = (size_t)-1;
		now = now_ms();
	}
}

/* The deletes waiting go once no other came for a while, or a longer one. */
static int64_t
deletes_due(struct mirror *m)
{
	int64_t quiet = m->deletes_last + QUIET_MS,
	    busy = m->deletes.e[0].first + BUSY_MS;

	return quiet < busy ? quiet : busy;
}

/* Each checked against the source: a name made again stays. */
static void
deletes_apply(struct mirror *m)
{
	char *rel;

	while (m->deletes.n > 0) {
		rel = pathset_take(&m->deletes, 0);
		sync_path(m, rel, SYNC_DELETE | SYNC_RECURSE);
		free(rel);
	}
}

/* How long poll may sleep before a timer is due; -1 for ever. */
int
apply_timeout(struct mirror *m)
{
	int64_t now = now_ms(), due = INT64_MAX, t;
	size_t i;

	due = moves_due(&m->moves);
	for (i = 0; i < m->dirty_files.n; i++) {
		struct pathset_entry *e = &m->dirty_files.e[i];

		t = e->last + QUIET_MS;
		if (e->first + BUSY_MS < t)
			t = e->first + BUSY_MS;
		if (t < due)
			due = t;
	}
	if (m->verify.n > 0 && now + VERIFY_MS < due)
		due = now + VERIFY_MS;
	if (m->deletes.n > 0 && deletes_due(m) < due)
		due = deletes_due(m);
	for (i = 0; i < m->retry.n; i++)
		if ((t = retry_due(&m->retry.e[i], 0)) < due)
			due = t;
	if (due == INT64_MAX)
		return -1;
	return due <= now ? 0 : (int)(due - now);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Compares the renamed subtrees with the source, outermost first. */
static void
verify(struct mirror *m)
{
	char **v, *last = NULL;
	size_t i, n = m->verify.n;

	if (n == 0)
		return;
	if ((v = calloc(n, sizeof(char *))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++)
		v[i] = pathset_take(&m->verify, m->verify.n - 1);
	qsort(v, n, sizeof(char *), cmp_str);
	for (i = 0; i < n; i++) {
		if (last == NULL || !path_below(v[i], last)) {
			sync_path(m, v[i], SYNC_DELETE | SYNC_RECURSE);
			last = v[i];
		}
	}
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Runs what is due; idle says the input has been quiet a while. */
void
apply_timers(struct mirror *m, int idle)
{
	int64_t now = now_ms();
	size_t i;
	char *rel;

	if (m->deletes.n > 0 && deletes_due(m) <= now)
		deletes_apply(m);
	while (moves_due(&m->moves) <= now)
		move_expire(m, moves_oldest(&m->moves));
	for (i = 0; i < m->dirty_files.n; i++) {
		struct pathset_entry *e = &m->dirty_files.e[i];

		if (e->last + QUIET_MS <= now || e->first + BUSY_MS <= now) {
			rel = pathset_take(&m->dirty_files, i);
			sync_path(m, rel, SYNC_CONTENT);
			free(rel);
			i--;
		}
	}
	if (m->moves.n == 0 && m->verify.n > 0 &&
	    (idle || m->verify.e[0].first + BUSY_MS <= now))
		verify(m);
	if (m->retry.n > 0 && m->active && !m->o.dry_run)
		retry(m, !idle);
	siblings(m);
}

/* At WATCH_DEAD or the end of the stream: everything waiting, now. */
void
apply_flush(struct mirror *m)
{
	char *rel;

	apply_pending(m);
	deletes_apply(m);
	while (m->moves.n > 0)
		move_expire(m, moves_oldest(&m->moves));
	while (m->dirty_files.n > 0) {
		rel = pathset_take(&m->dirty_files, 0);
		sync_path(m, rel, SYNC_CONTENT);
		free(rel);
	}
	verify(m);
	siblings(m);
	flush_dirs(m);
}

/*
 * OVERFLOW or a new WATCH_INIT: a reconcile replaces all that, records
 * read before it and not applied yet included.
 */
void
apply_reset(struct mirror *m)
{
	pathset_clear(&m->pending);
	moves_clear(&m->moves);
	pathset_clear(&m->dirty_files);
	pathset_clear(&m->verify);
	pathset_clear(&m->retry);
	pathset_clear(&m->deletes);
}

void
apply_free(struct mirror *m)
{
	apply_reset(m);
	pathset_clear(&m->dirty_dirs);
}
