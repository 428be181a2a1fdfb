/*
 * Set-up and rebuild, whatever the backend: the set-up's progress line
 * on a terminal, what the excludes leave out, the root a directory is
 * in, and watching again from the disk once events were lost.
 */
#include <sys/statfs.h>

#include <linux/magic.h>

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "human.h"
#include "watch.h"

#define SETUP_LINE_MS	200	/* the set-up's line, this often */
#define SETUP_SUMMED	10000	/* directories: a set-up this big is summed up */

/* One more directory watched; now and then, the count on a terminal. */
void
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
	return w->gi != NULL && iobs_gi_excluded(w->gi, root_index(w, dir),
	    w->rel.s, w->rel.len, isdir);
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
	return w->gi != NULL && iobs_gi_excluded(w->gi, root, pb->s, pb->len,
	    isdir);
}
