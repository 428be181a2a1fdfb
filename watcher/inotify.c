/*
 * The inotify backend: a watch per directory, set by one linear walk
 * per root or new directory. Each directory's watch is added before it
 * is listed, so nothing made during the walk is missed; entries found
 * in a directory that is new at run time are reported as synthetic
 * CREATE records. Its events become records here, keeping the
 * directory map true: new directories are watched and listed, renamed
 * ones renamed, directories moved out of the tree forgotten.
 */
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

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

static int
is_dir_entry(int dfd, const struct kdirent64 *de)
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
 * when records are being dropped: the watcher starts over.
 */
static int
list_dir(struct watcher *w, struct dnode *n, int dfd, int synthetic)
{
	static char buf[64 * 1024]
	    __attribute__((aligned(__alignof__(struct kdirent64))));
	struct kdirent64 *de;
	long nread, off;
	size_t len;
	int isdir;

	while ((nread = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < nread; off += de->d_reclen) {
			de = (struct kdirent64 *)(buf + off);
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
				if (w->dropping)
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
	for (off = mark; off < w->names.len && !w->dropping;
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
	if (!w->dropping)
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
	if (!w->dropping && (w->kernel_mask & LISTING_EVENTS)) {
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
	struct pathbuf list = w->deferred;
	struct dnode *parent;
	const char *name;
	size_t off, len;
	int wd;

	if (w->deferred_moves == w->tree.moves)
		return;
	w->deferred_moves = w->tree.moves;
	memset(&w->deferred, 0, sizeof(w->deferred));
	for (off = 0; off < list.len && !w->dropping;
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
	tree_clear(&w->tree);
	tree_init(&w->tree);
	for (i = 0; i < w->nroots; i++)
		w->roots[i].node = NULL;
	w->npending = 0;
	w->stash.len = 0;
	w->deferred.len = 0;
}

static void
rm_watch(struct dnode *n, void *arg)
{
	struct watcher *w = arg;
	int i;

	(void)inotify_rm_watch(w->ifd, n->wd);
	for (i = 0; i < w->npending; i++)
		if (w->pending[i].node == n)
			w->pending[i] = w->pending[--w->npending];
}

void
watch_forget(struct watcher *w, struct dnode *n)
{
	tree_remove(&w->tree, n, rm_watch, w);
}

/* What bookkeeping alone asked the kernel for is not printed. */
static int
wanted(struct watcher *w, uint32_t mask)
{
	return (mask & (w->print_mask | IN_UNMOUNT)) != 0;
}

static struct dnode *
pending_take(struct watcher *w, uint32_t cookie)
{
	struct dnode *n;
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].cookie == cookie) {
			n = w->pending[i].node;
			w->pending[i] = w->pending[--w->npending];
			return n;
		}
	return NULL;
}

static int
pending_index(struct watcher *w, struct dnode *n)
{
	int i;

	for (i = 0; i < w->npending; i++)
		if (w->pending[i].node == n)
			return i;
	return -1;
}

static void
pending_add(struct watcher *w, uint32_t cookie, struct dnode *n)
{
	if (w->npending == PENDING_MAX) {
		/* Oldest first: its partner is the least likely to come. */
		watch_forget(w, w->pending[0].node);
	}
	w->pending[w->npending].cookie = cookie;
	w->pending[w->npending].node = n;
	w->npending++;
}

/*
 * A MOVED_FROM whose MOVED_TO never came: the directory left the tree.
 * Normally the directory's own MOVE_SELF says so first.
 */
void
pending_expire(struct watcher *w)
{
	while (w->npending > 0)
		watch_forget(w, w->pending[0].node);
}

/* An event on a watched object itself (no name). */
static void
self_event(struct watcher *w, struct dnode *n, const struct inotify_event *ev)
{
	if (n->parent != 0) {
		/*
		 * A subdirectory's own events repeat what its parent
		 * reports, but for one: MOVE_SELF with its MOVED_FROM
		 * still unpaired means it left the tree, as the kernel
		 * queues MOVED_TO before MOVE_SELF.
		 */
		if ((ev->mask & IN_MOVE_SELF) && pending_index(w, n) != -1)
			watch_forget(w, n);
		/* An UNMOUNT below a root: mounts.c says it, once. */
		return;
	}
	if (wanted(w, ev->mask))
		emit_entry(w, ev->mask, ev->cookie, n, NULL, 0);
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT))
		root_dead(w, root_index(w, n));
}

static void
child_event(struct watcher *w, struct dnode *dir,
    const struct inotify_event *ev)
{
	const char *name = ev->name;
	size_t namelen = strnlen(name, ev->len);
	struct dnode *child;
	int excluded;

	excluded = watch_excluded(w, dir, name, ev->mask & IN_ISDIR);
	if (!excluded && wanted(w, ev->mask))
		emit_entry(w, ev->mask, ev->cookie, dir, name, namelen);
	if (!(ev->mask & IN_ISDIR) || w->dropping)
		return;
	if (ev->mask & IN_CREATE) {
		if (!excluded && w->recursive)
			watch_new_dir(w, dir, name, namelen);
	} else if (ev->mask & IN_MOVED_FROM) {
		if ((child = tree_child(&w->tree, dir, name, namelen)) != NULL)
			pending_add(w, ev->cookie, child);
	} else if (ev->mask & IN_MOVED_TO) {
		child = pending_take(w, ev->cookie);
		if (child != NULL && !excluded)
			tree_move(&w->tree, child, dir, name, namelen);
		else if (child != NULL)
			watch_forget(w, child);
		else if (!excluded && w->recursive)
			watch_new_dir(w, dir, name, namelen);
	} else if (ev->mask & IN_DELETE) {
		if ((child = tree_child(&w->tree, dir, name, namelen)) != NULL)
			watch_forget(w, child);
	}
}

void
dispatch(struct watcher *w, const char *buf, size_t len)
{
	const struct inotify_event *ev;
	struct dnode *n;
	size_t off;

	for (off = 0; off < len && !w->lost; off += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)(buf + off);
		if (ev->mask & IN_Q_OVERFLOW) {
			w->dropping = w->lost = 1;
			return;
		}
		if ((n = tree_by_wd(&w->tree, ev->wd)) == NULL)
			continue;	/* a watch we already dropped */
		if (ev->mask & IN_IGNORED) {
			if (n->parent == 0)
				root_dead(w, root_index(w, n));
			else
				watch_forget(w, n);
		} else if (ev->len == 0)
			self_event(w, n, ev);
		else
			child_event(w, n, ev);
		if (w->deferred.len > 0)
			watch_deferred(w);
	}
}

/*
 * Would dispatch do nothing with ev? A subdirectory's own events but
 * MOVE_SELF and UNMOUNT repeat what its parent reports (self_event).
 */
static int
ignored_self_event(struct watcher *w, const struct inotify_event *ev)
{
	const struct dnode *n;

	if (ev->len != 0 ||
	    (ev->mask & (IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) != 0)
		return 0;
	return (n = tree_by_wd(&w->tree, ev->wd)) != NULL && n->parent != 0;
}

/*
 * Keeps, of the events in buf from off to len, those drop does not
 * want gone, in order; returns the length left.
 */
static size_t
events_keep(char *buf, size_t off, size_t len,
    int (*drop)(struct watcher *, const struct inotify_event *, const void *),
    struct watcher *w, const void *arg)
{
	const struct inotify_event *ev;
	size_t kept = off, size;

	for (; off < len; off += size) {
		ev = (const struct inotify_event *)(buf + off);
		size = sizeof(*ev) + ev->len;
		if (drop(w, ev, arg))
			continue;
		if (kept != off)
			memmove(buf + kept, buf + off, size);
		kept += size;
	}
	return kept;
}

static int
drop_self(struct watcher *w, const struct inotify_event *ev, const void *arg)
{
	(void)arg;
	return ignored_self_event(w, ev);
}

/* A listing of a directory, by anyone. */
static int
drop_listing(struct watcher *w, const struct inotify_event *ev,
    const void *arg)
{
	(void)w;
	(void)arg;
	return (ev->mask & LISTING_EVENTS) && (ev->mask & IN_ISDIR);
}

/* Which listing stash_drop_listing() drops. */
struct listing {
	int		 wd;
	const char	*name;		/* NULL: wd's own */
	size_t		 namelen;
};

static int
drop_listing_of(struct watcher *w, const struct inotify_event *ev,
    const void *arg)
{
	const struct listing *l = arg;

	return ev->wd == l->wd && drop_listing(w, ev, NULL) &&
	    (l->name == NULL ? ev->len == 0 :
	    strnlen(ev->name, ev->len) == l->namelen &&
	    memcmp(ev->name, l->name, l->namelen) == 0);
}

/*
 * Listing a directory makes events of its own (OPEN, ACCESS,
 * CLOSE_NOWRITE), several per directory: a walk of a large tree would
 * overflow the kernel's queue on them alone. So the walk drains the
 * queue into memory as it goes, keeping what dispatch will use, and
 * the events are dispatched, in order, once it is done.
 */
void
stash_read(struct watcher *w)
{
	unsigned int avail;
	ssize_t n;

	/* The queue is read blocking elsewhere: take only what is there. */
	while (ioctl(w->ifd, FIONREAD, &avail) == 0 && avail > 0) {
		/* Past the output bound, let the kernel's queue say OVERFLOW. */
		if (w->stash.len >= w->out.limit)
			return;
		pathbuf_reserve(&w->stash, avail);
		n = read(w->ifd, w->stash.s + w->stash.len, avail);
		if (n <= 0) {
			if (n == -1 && errno != EINTR)
				err(1, "inotify read");
			return;
		}
		w->stash.len = events_keep(w->stash.s, w->stash.len,
		    w->stash.len + n, drop_self, w, NULL);
	}
}

/*
 * Drops, from the events stashed since from, the listing events on the
 * directory name in wd's, or on wd itself when name is NULL: those our
 * own listing made (see walk_from).
 */
void
stash_drop_listing(struct watcher *w, size_t from, int wd, const char *name,
    size_t namelen)
{
	struct listing l = { wd, name, namelen };

	if (from <= w->stash.len)
		w->stash.len = events_keep(w->stash.s, from, w->stash.len,
		    drop_listing_of, w, &l);
}

/*
 * A rescan lists every directory, and inotify reports each listing
 * (OPEN, ACCESS, CLOSE_NOWRITE of a directory) as anyone's: those
 * queued while it ran are dropped as its own. Returns where they
 * start in the stash.
 */
size_t
watch_scan_start(struct watcher *w)
{
	if (w->kernel_mask & LISTING_EVENTS)
		stash_read(w);
	return w->stash.len;
}

void
watch_scan_done(struct watcher *w, size_t from)
{
	if (!(w->kernel_mask & LISTING_EVENTS) || from > w->stash.len)
		return;
	stash_read(w);
	w->stash.len = events_keep(w->stash.s, from, w->stash.len,
	    drop_listing, w, NULL);
}

void
stash_dispatch(struct watcher *w)
{
	struct pathbuf batch;

	/* Walks during this dispatch stash newer events: take these out. */
	while (w->stash.len > 0 && !w->lost) {
		batch = w->stash;
		memset(&w->stash, 0, sizeof(w->stash));
		dispatch(w, batch.s, batch.len);
		pathbuf_free(&batch);
	}
}

const struct backend backend_inotify = {
	"inotify", watch_open, watch_root, dispatch, watch_close, watch_close,
	NULL, 0, watch_mount, watch_scan_start, watch_scan_done, watch_forget
};
