/*
 * Setting watches: one linear walk per root or new directory. Each
 * directory's watch is added before it is listed, so nothing made
 * during the walk is missed; entries found in a directory that is new
 * at run time are reported as synthetic CREATE records.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inotifytools/inotifytools.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

void
watch_open(struct watcher *w)
{
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd == -1) {
		if (errno == EMFILE)
			fatal_limit(w, NULL, "instance",
			    "fs.inotify.max_user_instances",
			    inotifytools_get_max_user_instances());
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
watch_excluded(struct watcher *w, struct dnode *dir, const char *name)
{
	if (w->exclude.n == 0)
		return 0;
	if (!w->exclude.whole_path)
		return iobs_exclude_match(&w->exclude, NULL, name);
	tree_relpath(dir, &w->rel);
	if (w->rel.len > 0)
		pathbuf_append(&w->rel, "/", 1);
	pathbuf_append(&w->rel, name, strlen(name));
	return iobs_exclude_match(&w->exclude, w->rel.s, name);
}

/*
 * Adds the watch for the directory at w->path, named name in parent.
 * Returns its new node, or NULL when there is nothing to list: gone,
 * not a directory, unreadable, or already watched.
 */
static struct dnode *
add_dir_watch(struct watcher *w, struct dnode *parent, const char *name,
    size_t namelen, int root)
{
	struct dnode *n;
	uint32_t mask = w->kernel_mask | IN_ONLYDIR;
	int wd;

	if (parent != NULL)
		mask |= IN_DONT_FOLLOW;
	if ((wd = inotify_add_watch(w->ifd, sys_path(&w->path), mask)) == -1) {
		switch (errno) {
		case ENOENT:
		case ENOTDIR:
			break;	/* gone again, or replaced: events follow */
		case ENOSPC:
			fatal_limit(w, sys_path(&w->path), "watch",
			    "fs.inotify.max_user_watches",
			    inotifytools_get_max_user_watches());
			break;
		default:
			if (!w->quiet)
				warn("%s: cannot watch", sys_path(&w->path));
		}
		return NULL;
	}
	if ((n = tree_by_wd(&w->tree, wd)) != NULL) {
		/* Reached again, under this name: moved while we looked. */
		if (parent != NULL && (n->parent != parent ||
		    n->namelen != namelen || memcmp(n->name, name, namelen)))
			tree_move(&w->tree, n, parent, name, namelen);
		return NULL;
	}
	return tree_add(&w->tree, parent, name, namelen, wd, root);
}

static int
is_dir_entry(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode);
}

static void
emit_synthetic(struct watcher *w, const char *name, size_t namelen,
    int isdir)
{
	size_t mark = w->vpath.len;

	pathbuf_reserve(&w->vpath, 1 + IOBS_VIS_MAX(namelen));
	w->vpath.s[w->vpath.len++] = '/';
	w->vpath.len += iobs_vis(w->vpath.s + w->vpath.len, name, namelen);
	emit(w, event_names(IN_CREATE | (isdir ? IN_ISDIR : 0)), 0,
	    w->vpath.s, w->vpath.len);
	w->vpath.len = mark;
	w->vpath.s[mark] = '\0';
}

static void
push_component(struct watcher *w, const char *name, size_t namelen)
{
	pathbuf_append(&w->path, "/", 1);
	pathbuf_append(&w->path, name, namelen);
	pathbuf_reserve(&w->vpath, 1 + IOBS_VIS_MAX(namelen));
	w->vpath.s[w->vpath.len++] = '/';
	w->vpath.len += iobs_vis(w->vpath.s + w->vpath.len, name, namelen);
}

static void
truncate_paths(struct watcher *w, size_t plen, size_t vlen)
{
	w->path.len = plen;
	w->path.s[plen] = '\0';
	w->vpath.len = vlen;
	w->vpath.s[vlen] = '\0';
}

/*
 * Lists the directory at w->path (node n, already watched), then
 * descends. Subdirectory names wait on the w->names stack, so no
 * directory stays open while its children are walked.
 */
static void
walk(struct watcher *w, struct dnode *n, int synthetic)
{
	unsigned gen = w->generation;
	size_t mark = w->names.len, off, plen, vlen, len;
	struct dirent *de;
	struct dnode *child;
	DIR *d;
	int dfd;

	dfd = open(sys_path(&w->path), O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (n->parent != NULL ? O_NOFOLLOW : 0));
	if (dfd == -1 || (d = fdopendir(dfd)) == NULL) {
		if (errno != ENOENT && errno != ENOTDIR && !w->quiet)
			warn("%s", sys_path(&w->path));
		if (dfd != -1)
			close(dfd);
		return;
	}
	if (++w->walked % 64 == 0)
		stash_read(w);
	while ((de = readdir(d)) != NULL) {
		int isdir;

		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (watch_excluded(w, n, de->d_name))
			continue;
		isdir = is_dir_entry(dfd, de);
		len = strlen(de->d_name);
		if (synthetic && (w->print_mask & IN_CREATE)) {
			emit_synthetic(w, de->d_name, len, isdir);
			if (gen != w->generation)
				break;	/* buffer full: all is rebuilt */
		}
		if (isdir && w->recursive)
			pathbuf_append(&w->names, de->d_name, len + 1);
	}
	closedir(d);

	plen = w->path.len;
	vlen = w->vpath.len;
	for (off = mark; off < w->names.len && gen == w->generation;
	    off += len + 1) {
		const char *name = w->names.s + off;

		len = strlen(name);
		push_component(w, name, len);
		/* name may move when the stack grows: use it before. */
		child = add_dir_watch(w, n, w->names.s + off, len, n->root);
		if (child != NULL)
			walk(w, child, synthetic);
		truncate_paths(w, plen, vlen);
	}
	w->names.len = mark;
}

int
watch_root(struct watcher *w, int i)
{
	struct root *r = &w->roots[i];
	struct stat st;
	int wd;

	w->path.len = w->vpath.len = 0;
	pathbuf_append(&w->path, r->path, r->pathlen);
	pathbuf_append(&w->vpath, r->path[0] ? r->vis : "", r->path[0] ?
	    r->vislen : 0);
	if (stat(sys_path(&w->path), &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		wd = inotify_add_watch(w->ifd, sys_path(&w->path),
		    w->kernel_mask);
		if (wd == -1) {
			if (errno == ENOSPC)
				fatal_limit(w, sys_path(&w->path), "watch",
				    "fs.inotify.max_user_watches",
				    inotifytools_get_max_user_watches());
			return -1;
		}
		r->node = tree_add(&w->tree, NULL, r->path, r->pathlen, wd, i);
		return 0;
	}
	r->node = add_dir_watch(w, NULL, r->path, r->pathlen, i);
	if (r->node == NULL)
		return -1;
	if (w->recursive)
		walk(w, r->node, 0);
	return 0;
}

void
watch_new_dir(struct watcher *w, struct dnode *parent, const char *name,
    size_t namelen)
{
	struct dnode *child;

	tree_path(parent, 0, &w->path);
	tree_path(parent, 1, &w->vpath);
	push_component(w, name, namelen);
	if ((child = add_dir_watch(w, parent, name, namelen, parent->root))
	    != NULL)
		walk(w, child, 1);
}

/*
 * Events were lost: drop every watch at once by closing the instance,
 * then set everything up again from the disk.
 */
void
watch_rebuild(struct watcher *w)
{
	int i;

	if (w->ifd != -1)
		close(w->ifd);
	w->generation++;
	tree_clear(&w->tree);
	tree_init(&w->tree);
	w->npending = 0;
	w->dropping = 0;
	w->stash.len = 0;
	watch_open(w);
	for (i = 0; i < w->nroots; i++) {
		if (!w->roots[i].alive)
			continue;
		w->roots[i].node = NULL;
		if (watch_root(w, i) == -1) {
			if (!w->quiet)
				warn("%s", w->roots[i].vis);
			root_dead(w, i);
			continue;
		}
		emit_lifecycle(w, IOBS_WATCH_INIT, i);
	}
}
