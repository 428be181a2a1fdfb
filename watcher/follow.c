/*
 * A single-file root that is replaced (an editor's save, a rename
 * over it, a delete and a re-create) is followed by its path: once its
 * file is gone, an inotify watch on its directory waits for the name
 * to come back, and the new file is watched and reported as what made
 * it (MOVED_TO or CREATE). Any backend: this only waits for the name.
 * Any other root gone has its WATCH_DEAD here (root_dead).
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

#define FOLLOW_MASK	(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

/* The root's directory, into buf. */
static const char *
dir_of(const struct root *r, char *buf, size_t size)
{
	const char *slash = strrchr(r->path, '/');
	size_t len = slash ? (size_t)(slash - r->path) : 0;

	if (len == 0 || len >= size)
		return "/";
	memcpy(buf, r->path, len);
	buf[len] = '\0';
	return buf;
}

/* The file is back: watch it, and say how it came. */
static void
revive(struct watcher *w, int i, uint32_t how, uint32_t cookie)
{
	struct root *r = &w->roots[i];

	r->arrived = 0;
	if (w->be->root(w, i) == -1)
		return;		/* gone again already: wait on */
	r->waiting = 0;
	w->nwaiting--;
	/* By its path: the poll backend keeps no node for it. */
	emit_path(w, how, cookie, r->vis, r->vislen);
}

/*
 * The path names a file again, made before the watch on its directory
 * was set: a CREATE, as far as anyone can tell.
 */
static void
look(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	struct stat st;

	if (stat(r->path, &st) == 0 && !S_ISDIR(st.st_mode))
		revive(w, i, IN_CREATE, 0);
}

/*
 * From the start, the root's directory is watched for its name: a
 * file renamed over it is seen as such (MOVED_TO) before the old
 * file's end is.
 */
void
follow_start(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	char dir[PATH_MAX];

	if (!r->isfile || r->follow_wd != -1 ||
	    (w->compat != COMPAT_NONE && w->oneshot))
		return;
	if (w->followfd == -1 &&
	    (w->followfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return;
	r->follow_wd = inotify_add_watch(w->followfd, dir_of(r, dir,
	    sizeof(dir)), FOLLOW_MASK);
}

int
follow_root(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];

	follow_start(w, i);
	if (r->follow_wd == -1)
		return 0;	/* its directory is gone too: it is dead */
	if (r->node != NULL)
		w->be->forget(w, r->node);
	r->node = NULL;
	r->waiting = 1;
	w->nwaiting++;
	/* What came before the old file's end, then what is there. */
	follow_read(w);
	if (r->waiting && r->arrived)
		revive(w, i, r->arrived, r->arrived_cookie);
	if (r->waiting)
		look(w, i);
	return 1;
}

void
follow_read(struct watcher *w)
{
	char buf[4096] __attribute__((aligned(8)));
	const struct inotify_event *ev;
	const char *name;
	ssize_t n, off;
	int i;

	while ((n = read(w->followfd, buf, sizeof(buf))) > 0)
		for (off = 0; off < n; off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			for (i = 0; i < w->nroots; i++) {
				struct root *r = &w->roots[i];

				if (!r->alive || r->follow_wd != ev->wd)
					continue;
				if ((ev->mask & IN_IGNORED) && r->waiting) {
					/* Its directory went: so has it. */
					r->waiting = 0;
					w->nwaiting--;
					root_dead(w, i);
					continue;
				}
				name = strrchr(r->path, '/') + 1;
				if (ev->len == 0 || strcmp(ev->name, name) != 0)
					continue;
				if (r->waiting)
					revive(w, i, ev->mask & (IN_CREATE |
					    IN_MOVED_TO), ev->cookie);
				else {
					/* Replaced: the old file's end is next. */
					r->arrived = ev->mask & (IN_CREATE |
					    IN_MOVED_TO);
					r->arrived_cookie = ev->cookie;
				}
			}
		}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		err(1, "inotify read");
}

/*
 * A root is gone: its WATCH_DEAD, unless it is a file followed by its
 * path (follow_root), and its part of the map dropped.
 */
void
root_dead(struct watcher *w, int root)
{
	struct root *r = &w->roots[root];

	if (!r->alive || r->waiting || follow_root(w, root))
		return;
	emit_lifecycle(w, IOBS_WATCH_DEAD, root);
	if (r->node != NULL)
		w->be->forget(w, r->node);
	r->node = NULL;
	r->alive = 0;
	w->nalive--;
}
