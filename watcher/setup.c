/*
 * Setting watches: one linear walk per root or new directory. Each
 * directory's watch is added before it is listed, so nothing made
 * during the walk is missed; entries found in a directory that is new
 * at run time are reported as synthetic CREATE records.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <linux/magic.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "human.h"
#include "watch.h"

#define SETUP_LINE_MS	200	/* the set-up's line, this often */
#define SETUP_SUMMED	10000	/* directories: a set-up this big is summed up */

/* One more directory watched; now and then, the count on a terminal. */
static void
setup_tick(struct watcher *w)
{
	char n[32];
	int64_t now;

	if (!w->setup.on || (++w->setup.dirs & 255) != 0)
		return;
	now = now_ms();
	if (now - (w->setup.shown ? w->setup.shown : w->setup.start) <
	    SETUP_LINE_MS)
		return;
	fprintf(stderr, "\rsetting up watches: %s directories\033[K",
	    iobs_grouped(n, sizeof(n), w->setup.dirs));
	fflush(stderr);
	w->setup.shown = now;
}

/*
 * --progress of a set-up: on when standard error is a terminal and
 * nothing asked for quiet or inotifywait's own words.
 */
void
setup_begin(struct watcher *w)
{
	w->setup.on = isatty(STDERR_FILENO) && !w->quiet &&
	    w->compat == COMPAT_NONE;
	w->setup.dirs = 0;
	w->setup.start = now_ms();
	w->setup.shown = 0;
}

/* The summary, where a line was shown or the set-up was big. */
void
setup_end(struct watcher *w)
{
	char n[32];

	if (!w->setup.on)
		return;
	if (w->setup.shown != 0 || w->setup.dirs >= SETUP_SUMMED)
		fprintf(stderr, "\rwatching %s directories, set up in %.1f "
		    "s\033[K\n", iobs_grouped(n, sizeof(n), w->setup.dirs),
		    (now_ms() - w->setup.start) / 1000.0);
	w->setup.on = 0;
}

void
watch_open(struct watcher *w)
{
	/* Blocking: the main loop waits in read when it has nothing else. */
	w->ifd = inotify_init1(IN_CLOEXEC);
	if (w->ifd == -1) {
		if (errno == EMFILE)
			fatal_limit(w, NULL, IOBS_LIMIT_INSTANCES);
		err(1, "inotify_init1");
	}
}

/* The syscall path of a root: "" stands for "/". */
static const char *
sys_path(const struct pathbuf *pb)
{
	return pb->len > 0 ? pb->s : "/";
}

int
watch_excluded(struct watcher *w, struct dnode *dir, const char *name,
    int isdir)
{
	if (w->exclude.n == 0 && w->gi == NULL)
		return 0;
	if (w->exclude.n > 0 && !w->exclude.whole_path &&
	    iobs_exclude_match(&w->exclude, NULL, name))
		return 1;
	if (!w->exclude.whole_path && w->gi == NULL)
		return 0;
	tree_relpath(&w->tree, dir, &w->rel);
	if (w->rel.len > 0)
		pathbuf_append(&w->rel, "/", 1);
	pathbuf_append(&w->rel, name, strlen(name));
	if (w->exclude.whole_path &&
	    iobs_exclude_match(&w->exclude, w->rel.s, name))
		return 1;
	return w->gi != NULL && gi_excluded(w->gi, root_index(w, dir),
	    w->rel.s, w->rel.len, isdir);
}

/*
 * Listing a directory makes OPEN, ACCESS and CLOSE_NOWRITE events on it
 * and on its parent (LISTING_EVENTS). A walk watches without them, and
 * a directory gets its full mask once everything below it is listed:
 * the walk makes no events of its own, so none need reading, buffering
 * or reporting. Only the directory walk_from() opens makes some: see
 * there.
 */

/*
 * Always IN_MASK_ADD: the kernel replaces a watch's mask by clearing it
 * and then setting it, unlocked for readers, so an event landing in
 * between is lost (seen: a CREATE missing under load). Adding never
 * clears, and never takes events from a directory watched already.
 */
static uint32_t
dir_mask(const struct watcher *w, int is_root, int walking)
{
	uint32_t mask = w->kernel_mask | IN_ONLYDIR | IN_MASK_ADD;

	if (walking)
		mask &= ~LISTING_EVENTS;
	if (!is_root)
		mask |= IN_DONT_FOLLOW;	/* a root may be a link we follow */
	return mask;
}

/*
 * The walk below n is done: give n the events the walk left out. at
 * names n for the syscall: "." or a name when the walk stands in it.
 * Returns -1 when at names another directory now (n was renamed).
 */
static int
complete_watch(struct watcher *w, struct dnode *n, const char *at)
{
	int wd;

	if ((w->kernel_mask & LISTING_EVENTS) == 0)
		return 0;
	wd = inotify_add_watch(w->ifd, at, dir_mask(w, n->parent == 0, 0));
	if (wd == n->wd)
		return 0;
	/* Replaced meanwhile: events about it are on their way. */
	if (wd != -1 && tree_by_wd(&w->tree, wd) == NULL)
		(void)inotify_rm_watch(w->ifd, wd);
	return -1;
}

/*
 * Adds the watch for the directory at w->path, named name in parent;
 * at names it for the syscall (relative to the walk's directory, or
 * absolute). Returns its new node, or NULL when there is nothing to
 * list: gone, not a directory, unreadable, or already watched.
 */
static struct dnode *
add_dir_watch(struct watcher *w, struct dnode *parent, const char *name,
    size_t namelen, const char *at, int walking)
{
	struct dnode *n;
	int wd;

	wd = inotify_add_watch(w->ifd, at, dir_mask(w, parent == NULL,
	    walking));
	if (wd == -1) {
		switch (errno) {
		case ENOENT:
		case ENOTDIR:
			break;	/* gone again, or replaced: events follow */
		case ENOSPC:
			fatal_limit(w, sys_path(&w->path), IOBS_LIMIT_WATCHES);
			break;
		default:
			if (!w->quiet)
				warn("%s: cannot watch", sys_path(&w->path));
		}
		return NULL;
	}
	if ((n = tree_by_wd(&w->tree, wd)) != NULL) {
		/* Reached again, under this name: moved while we looked. */
		if (parent != NULL &&
		    !tree_named(&w->tree, n, parent, name, namelen))
			tree_move(&w->tree, n, parent, name, namelen);
		return NULL;
	}
	if ((n = tree_add(&w->tree, parent, name, namelen, wd)) == NULL)
		errx(1, "%s: more directories than the watch limit allowed "
		    "at start; restart iobs-watch", sys_path(&w->path));
	setup_tick(w);
	return n;
}

static void
push_component(struct watcher *w, const char *name, size_t namelen)
{
	pathbuf_append(&w->path, "/", 1);
	pathbuf_append(&w->path, name, namelen);
}

static void
truncate_path(struct watcher *w, size_t plen)
{
	w->path.len = plen;
	w->path.s[plen] = '\0';
}

/* What getdents64(2) returns; glibc declares no wrapper struct. */
struct linux_dirent64 {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

static int
is_dir_entry(int dfd, const struct linux_dirent64 *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

/*
 * Lists the directory open as dfd (node n), reporting its entries when
 * synthetic and stacking subdirectory names on w->names. Returns -1
 * when a full output buffer made the watcher start over.
 */
static int
list_dir(struct watcher *w, struct dnode *n, int dfd, int synthetic)
{
	static char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct linux_dirent64))));
	unsigned gen = w->generation;
	struct linux_dirent64 *de;
	long nread, off;
	size_t len;
	int isdir;

	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < nread; off += de->d_reclen) {
			de = (struct linux_dirent64 *)(buf + off);
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			isdir = is_dir_entry(dfd, de);
			if (watch_excluded(w, n, de->d_name, isdir))
				continue;
			len = strlen(de->d_name);
			if (synthetic && (w->print_mask & IN_CREATE)) {
				emit_entry(w, IN_CREATE | (isdir ? IN_ISDIR :
				    0), 0, n, de->d_name, len);
				if (gen != w->generation)
					return -1;
			}
			if (isdir && w->recursive)
				pathbuf_append(&w->names, de->d_name, len + 1);
		}
	/* ENOENT: removed while listed; its DELETE is on its way. */
	if (nread == -1 && errno != ENOENT && !w->quiet)
		warn("%s", sys_path(&w->path));
	return 0;
}

/*
 * Where a directory's link count is 2 plus its subdirectories, a count
 * of 2 means there is nothing below it to watch, and the walk need not
 * open it (GNU find's leaf optimisation). Only file systems known to
 * keep that count: btrfs says 1, network file systems say anything.
 */
int
nlink_counts_subdirs(const char *path)
{
	struct statfs sfs;

	if (statfs(path, &sfs) == -1)
		return 0;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == EXT4_SUPER_MAGIC;
}

static int
is_leaf(int dfd, const char *name, dev_t dev, struct stat *st)
{
	return fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st->st_mode) && st->st_nlink == 2 && st->st_dev == dev;
}

/*
 * Watches the directory name in dfd (node n) with its full mask at
 * once when it has no subdirectories, so it is neither opened nor
 * listed: a start-up walk reports no entries, and anything made in it
 * from the watch on has an event. Checked before the watch (to choose
 * the mask) and after it (a subdirectory made in between is listed).
 * Returns the node still to list, or NULL, as add_dir_watch does.
 */
static struct dnode *
watch_leaf(struct watcher *w, struct dnode *n, int dfd, const char *name,
    size_t len, dev_t dev)
{
	struct dnode *child;
	struct stat before, after;

	if (!is_leaf(dfd, name, dev, &before))
		return add_dir_watch(w, n, name, len, name, 1);
	child = add_dir_watch(w, n, name, len, name, 0);
	if (child != NULL && is_leaf(dfd, name, dev, &after) &&
	    after.st_ino == before.st_ino)
		return NULL;
	return child;
}

/*
 * Lists the directory open as dfd (node n, already watched), then
 * descends. The walk stands in each directory with subdirectories
 * (fchdir), so every watch and open names one component and the kernel
 * looks up no long path; subdirectory names wait on the w->names stack.
 * One descriptor stays open per level. at names n for a watch from
 * the current directory until something is pushed on the stacks.
 * Returns whether the walk left the current directory.
 */
static int
walk(struct watcher *w, const struct root *r, struct dnode *n, int dfd,
    const char *at, int synthetic)
{
	unsigned gen = w->generation;
	size_t mark = w->names.len, off, plen, len;
	struct dnode *child;
	int cfd;

	if (++w->walked % 64 == 0)
		stash_read(w);
	if (list_dir(w, n, dfd, synthetic) == -1)
		return 0;
	if (w->names.len == mark) {
		/* Nothing below to watch: no need to stand in it. */
		if (complete_watch(w, n, at) == 0)
			return 0;
		if (fchdir(dfd) == 0)
			complete_watch(w, n, ".");
		return 1;
	}
	if (fchdir(dfd) == -1) {
		warn("%s", sys_path(&w->path));
		w->names.len = mark;
		return 0;
	}

	plen = w->path.len;
	for (off = mark; off < w->names.len && gen == w->generation;
	    off += len + 1) {
		const char *name = w->names.s + off;

		len = strlen(name);
		push_component(w, name, len);
		if (!synthetic && r->leaf_nlink)
			child = watch_leaf(w, n, dfd, name, len, r->dev);
		else
			child = add_dir_watch(w, n, name, len, name, 1);
		/* The stack may have moved: name again from its offset. */
		name = w->names.s + off;
		if (child != NULL) {
			cfd = openat(dfd, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (cfd != -1) {
				if (walk(w, r, child, cfd, name, synthetic) &&
				    fchdir(dfd) == -1)
					err(1, "%s", w->path.s);
				close(cfd);
			} else {
				if (errno != ENOENT && errno != ENOTDIR &&
				    !w->quiet)
					warn("%s", sys_path(&w->path));
				complete_watch(w, child, name);
			}
		}
		truncate_path(w, plen);
	}
	w->names.len = mark;
	if (gen == w->generation)
		complete_watch(w, n, ".");
	return 1;
}

/*
 * Lists a directory just watched at w->path, opened as at: that
 * absolute path, or its name in the current directory (its parent).
 * Its parent, watched already, sees our OPEN, ACCESS and CLOSE_NOWRITE
 * of it, and a root sees our close of it after its full mask is set:
 * the queue is read before the open and after the close, and those
 * events, in between, are dropped as ours.
 */
static void
walk_from(struct watcher *w, const struct root *r, struct dnode *n,
    const char *at, int synthetic)
{
	struct dnode *parent = tree_parent(&w->tree, n);
	unsigned gen = w->generation;
	const char *name;
	size_t mark;
	int dfd;

	if (w->kernel_mask & LISTING_EVENTS)
		stash_read(w);
	mark = w->stash.len;
	dfd = open(at, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (n->parent != 0 ? O_NOFOLLOW : 0));
	if (dfd == -1) {
		if (errno != ENOENT && errno != ENOTDIR && !w->quiet)
			warn("%s", sys_path(&w->path));
		complete_watch(w, n, at);
		return;
	}
	name = strrchr(w->path.s, '/') + 1;
	walk(w, r, n, dfd, at, synthetic);
	close(dfd);
	if (gen == w->generation && (w->kernel_mask & LISTING_EVENTS)) {
		stash_read(w);
		if (parent != NULL)
			stash_drop_listing(w, mark, parent->wd, name,
			    strlen(name));
		else
			stash_drop_listing(w, mark, n->wd, NULL, 0);
	}
	/*
	 * Standing in a watched directory would keep its inode alive
	 * after an rmdir, and its DELETE_SELF would never come.
	 */
	if (chdir("/") == -1)
		err(1, "chdir /");
}

int
watch_root(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	struct stat st;
	int wd;

	w->path.len = 0;
	pathbuf_append(&w->path, r->path, r->pathlen);
	if (stat(sys_path(&w->path), &st) == -1)
		return -1;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	if (!S_ISDIR(st.st_mode)) {
		wd = inotify_add_watch(w->ifd, sys_path(&w->path),
		    w->kernel_mask);
		if (wd == -1) {
			if (errno == ENOSPC)
				fatal_limit(w, sys_path(&w->path), IOBS_LIMIT_WATCHES);
			return -1;
		}
		r->node = tree_add(&w->tree, NULL, r->path, r->pathlen, wd);
		return r->node != NULL ? 0 : -1;
	}
	r->leaf_nlink = !w->noleaf && nlink_counts_subdirs(sys_path(&w->path));
	r->node = add_dir_watch(w, NULL, r->path, r->pathlen,
	    sys_path(&w->path), 1);
	if (r->node == NULL)
		return -1;
	if (w->recursive)
		walk_from(w, r, r->node, sys_path(&w->path), 0);
	else
		complete_watch(w, r->node, sys_path(&w->path));
	return 0;
}

int
path_excluded(struct watcher *w, int root, const char *rel, size_t len,
    int isdir)
{
	struct pathbuf *pb = &w->rel;
	const char *name;

	if (w->exclude.n == 0 && w->gi == NULL)
		return 0;
	pb->len = 0;
	pathbuf_append(pb, rel, len);
	pathbuf_append(pb, "", 1);
	pb->len--;
	name = strrchr(pb->s, '/');
	name = name != NULL ? name + 1 : pb->s;
	if (w->exclude.n > 0 && iobs_exclude_match(&w->exclude,
	    w->exclude.whole_path ? pb->s : NULL, name))
		return 1;
	return w->gi != NULL && gi_excluded(w->gi, root, pb->s, pb->len,
	    isdir);
}

/*
 * The node of the directory at path rel below root i, by the names in
 * the map; NULL if the map has none there.
 */
static struct dnode *
node_at(struct watcher *w, int i, const char *rel, size_t len)
{
	struct dnode *n = w->roots[i].node;
	const char *end = rel + len, *slash;

	while (n != NULL && rel < end) {
		if ((slash = memchr(rel, '/', end - rel)) == NULL)
			slash = end;
		n = tree_child(&w->tree, n, rel, slash - rel);
		rel = slash + 1;
	}
	return n;
}

/*
 * A mount below a root: at start the walk went into it already; once
 * mounted, or unmounted, the tree now at its path is watched anew and
 * reported as a tree moved in, the one it replaced forgotten.
 */
int
watch_mount(struct watcher *w, const struct mount *m, enum mount_how how,
    char *why, size_t whylen)
{
	const char *fs, *rel, *name;
	struct dnode *parent, *old;
	int i;

	if (how == MOUNT_START || how == MOUNT_MARK) {
		if ((fs = remote_fs(m->path)) == NULL)
			return 0;
		snprintf(why, whylen, "%s: only the changes made on this "
		    "machine", fs);
		return -1;
	}
	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive && w->roots[i].node != NULL &&
		    strncmp(m->path, w->roots[i].path,
		    w->roots[i].pathlen) == 0 &&
		    m->path[w->roots[i].pathlen] == '/')
			break;
	if (i == w->nroots)
		return 0;
	rel = m->path + w->roots[i].pathlen + 1;
	name = strrchr(m->path, '/') + 1;
	parent = node_at(w, i, rel, name > rel ? (size_t)(name - 1 - rel) :
	    0);
	if (parent == NULL)
		return 0;
	if ((old = tree_child(&w->tree, parent, name, strlen(name))) != NULL)
		watch_forget(w, old);
	if (w->print_mask & IN_MOVED_TO)
		emit_entry(w, IN_MOVED_TO | IN_ISDIR, 0, parent, name,
		    strlen(name));
	watch_new_dir(w, parent, name, strlen(name));
	return 0;
}

/* The index of the root whose tree n is in. */
int
root_index(struct watcher *w, struct dnode *n)
{
	struct dnode *top = tree_top(&w->tree, n);
	int i;

	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].node == top)
			return i;
	errx(1, "a directory outside every watched tree");
}

/*
 * Makes n's directory, at w->path, the current one; -1 with errno
 * ESTALE when that path leads to another directory than n's watch is
 * on, or with chdir's errno.
 */
static int
enter_node(struct watcher *w, const struct dnode *n)
{
	int wd;

	if (chdir(sys_path(&w->path)) == -1)
		return -1;
	/* The mask n has already: this adds nothing, and names n's watch. */
	wd = inotify_add_watch(w->ifd, ".", dir_mask(w, n->parent == 0, 1));
	if (wd == n->wd)
		return 0;
	if (wd != -1 && tree_by_wd(&w->tree, wd) == NULL)
		(void)inotify_rm_watch(w->ifd, wd);
	if (chdir("/") == -1)
		err(1, "chdir /");
	errno = ESTALE;
	return -1;
}

/*
 * A directory made (or moved in) at run time: watched and listed from
 * within its parent, which no rename can then take from under it. The
 * map may be behind, as the events of a rename made just after the
 * mkdir come after its CREATE (mkdir a/new; mv a b): when the parent's
 * path in the map leads elsewhere, the directory waits, by its parent's
 * watch and its name, for a rename to bring the map up to date.
 */
void
watch_new_dir(struct watcher *w, struct dnode *parent, const char *name,
    size_t namelen)
{
	struct dnode *child;

	tree_path(&w->tree, parent, 0, &w->path);
	if (enter_node(w, parent) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ESTALE) {
			if (w->deferred.len == 0)
				w->deferred_moves = w->tree.moves;
			pathbuf_append(&w->deferred, (const char *)&parent->wd,
			    sizeof(parent->wd));
			pathbuf_append(&w->deferred, name, namelen);
			pathbuf_append(&w->deferred, "", 1);
			return;
		}
		push_component(w, name, namelen);
		if (!w->quiet)
			warn("%s: cannot watch", sys_path(&w->path));
		return;
	}
	push_component(w, name, namelen);
	if ((child = add_dir_watch(w, parent, name, namelen, name,
	    1)) != NULL)
		walk_from(w, &w->roots[root_index(w, parent)], child, name, 1);
	/* Whatever became of it: standing in the parent keeps it alive. */
	if (chdir("/") == -1)
		err(1, "chdir /");
}

/*
 * The map has moved a directory: try the new directories that waited
 * for it again. One whose parent has gone since is dropped.
 */
void
watch_deferred(struct watcher *w)
{
	unsigned gen = w->generation;
	struct pathbuf list = w->deferred;
	struct dnode *parent;
	const char *name;
	size_t off, len;
	int wd;

	if (w->deferred_moves == w->tree.moves)
		return;
	w->deferred_moves = w->tree.moves;
	memset(&w->deferred, 0, sizeof(w->deferred));
	for (off = 0; off < list.len && gen == w->generation;
	    off += sizeof(wd) + len + 1) {
		memcpy(&wd, list.s + off, sizeof(wd));
		name = list.s + off + sizeof(wd);
		len = strlen(name);
		if ((parent = tree_by_wd(&w->tree, wd)) != NULL &&
		    !watch_excluded(w, parent, name, 1))
			watch_new_dir(w, parent, name, len);
	}
	pathbuf_free(&list);
}

/*
 * Drops every watch at once by closing the instance, and with it the
 * map, the pending moves and the events read ahead: they all belong
 * to the instance that is gone.
 */
void
watch_close(struct watcher *w)
{
	int i;

	if (w->ifd != -1)
		close(w->ifd);
	w->ifd = -1;
	w->generation++;
	tree_clear(&w->tree);
	tree_init(&w->tree);
	for (i = 0; i < w->nroots; i++)
		w->roots[i].node = NULL;
	w->npending = 0;
	w->stash.len = 0;
	w->deferred.len = 0;
}

/* Events were lost: start over from the disk. */
void
watch_rebuild(struct watcher *w)
{
	int i, more;

	w->be->close(w);
	w->dropping = 0;
	w->be->open(w);
	for (i = 0; i < w->nroots; i++) {
		/* A file root waiting for its path: follow.c brings it. */
		if (!w->roots[i].alive || w->roots[i].waiting)
			continue;
		if (w->be->root(w, i) == -1) {
			if (!w->quiet)
				warn("%s", w->roots[i].vis);
			root_dead(w, i);
		}
	}
	mounts_start(w);
	more = w->be->learn != NULL && w->be->learn(w, LEARN_BUDGET);
	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive)
			emit_lifecycle(w, IOBS_WATCH_INIT, i);
	if (more) {
		flush_or_exit(w, !w->out.nonblock);
		w->be->learn(w, 0);
	}
}
