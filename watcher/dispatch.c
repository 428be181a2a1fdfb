/*
 * From inotify events to records, keeping the directory map true:
 * new directories are watched and scanned, renamed ones renamed,
 * directories moved out of the tree forgotten.
 */
#include <sys/inotify.h>
#include <sys/ioctl.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

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

static void
rebuild_after_overflow(struct watcher *w)
{
	emit_all(w, IOBS_OVERFLOW);
	watch_rebuild(w);
}

void
dispatch(struct watcher *w, const char *buf, size_t len)
{
	const struct inotify_event *ev;
	unsigned gen = w->generation;
	struct dnode *n;
	size_t off;

	for (off = 0; off < len && gen == w->generation;
	    off += sizeof(*ev) + ev->len) {
		ev = (const struct inotify_event *)(buf + off);
		if (ev->mask & IN_Q_OVERFLOW) {
			rebuild_after_overflow(w);
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

/* Drops from buf what dispatch would ignore; returns the length left. */
static size_t
stash_filter(struct watcher *w, char *buf, size_t len)
{
	const struct inotify_event *ev;
	size_t off, kept = 0, size;

	for (off = 0; off < len; off += size) {
		ev = (const struct inotify_event *)(buf + off);
		size = sizeof(*ev) + ev->len;
		if (ignored_self_event(w, ev))
			continue;
		if (kept != off)
			memmove(buf + kept, buf + off, size);
		kept += size;
	}
	return kept;
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
		w->stash.len += stash_filter(w, w->stash.s + w->stash.len, n);
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
	const struct inotify_event *ev;
	size_t off, kept = from, size;

	if (from > w->stash.len)
		return;
	for (off = from; off < w->stash.len; off += size) {
		ev = (const struct inotify_event *)(w->stash.s + off);
		size = sizeof(*ev) + ev->len;
		if (ev->wd == wd && (ev->mask & LISTING_EVENTS) &&
		    (ev->mask & IN_ISDIR) && (name == NULL ? ev->len == 0 :
		    strnlen(ev->name, ev->len) == namelen &&
		    memcmp(ev->name, name, namelen) == 0))
			continue;
		if (kept != off)
			memmove(w->stash.s + kept, w->stash.s + off, size);
		kept += size;
	}
	w->stash.len = kept;
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
	const struct inotify_event *ev;
	size_t off, kept = from, size;

	if (!(w->kernel_mask & LISTING_EVENTS) || from > w->stash.len)
		return;
	stash_read(w);
	for (off = from; off < w->stash.len; off += size) {
		ev = (const struct inotify_event *)(w->stash.s + off);
		size = sizeof(*ev) + ev->len;
		if ((ev->mask & LISTING_EVENTS) && (ev->mask & IN_ISDIR))
			continue;
		if (kept != off)
			memmove(w->stash.s + kept, w->stash.s + off, size);
		kept += size;
	}
	w->stash.len = kept;
}

void
stash_dispatch(struct watcher *w)
{
	struct pathbuf batch;

	/* Walks during this dispatch stash newer events: take these out. */
	while (w->stash.len > 0) {
		batch = w->stash;
		memset(&w->stash, 0, sizeof(w->stash));
		dispatch(w, batch.s, batch.len);
		pathbuf_free(&batch);
	}
}
