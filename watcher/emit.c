/*
 * Records out of iobs-watch: events, lifecycle records, the output
 * buffer's bound, and the ends (fatal errors, the reader gone).
 */
#include <sys/inotify.h>

#include <err.h>
#include <errno.h>
#include <inotifytools/inotifytools.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

#define NAME_CACHE	128

/*
 * libinotifytools names the events; a record's mask is one of a few
 * dozen, so each name string is made once.
 */
const char *
event_names(uint32_t mask)
{
	static struct {
		uint32_t	 mask;
		char		*names;
	} cache[NAME_CACHE];
	size_t i, h = (mask * 2654435761u) % NAME_CACHE;

	for (i = 0; i < NAME_CACHE; i++, h = (h + 1) % NAME_CACHE) {
		if (cache[h].names == NULL) {
			cache[h].mask = mask;
			cache[h].names = strdup(
			    inotifytools_event_to_str_sep(mask, ','));
			if (cache[h].names == NULL)
				err(1, "strdup");
			return cache[h].names;
		}
		if (cache[h].mask == mask)
			return cache[h].names;
	}
	return inotifytools_event_to_str_sep(mask, ',');
}

#define PID_FIELD_MAX	16

/* With --pid, a fifth field: who made the change, 0 where unknown. */
static void
append(struct watcher *w, const char *events, uint32_t cookie,
    const char *vis, size_t vislen, pid_t pid)
{
	char *p = outq_reserve(&w->out, IOBS_RECORD_MAX(vislen) +
	    PID_FIELD_MAX);
	size_t len;

	len = iobs_record_format(p, &w->now, events, cookie, vis, vislen);
	if (w->print_pid)
		len += snprintf(p + len - 1, PID_FIELD_MAX + 1, "\t%ld\n",
		    (long)pid) - 1;
	outq_commit(&w->out, len);
}

static int
ignored_pid(const struct watcher *w)
{
	int i;

	for (i = 0; i < w->nignore; i++)
		if (w->ignore_pid[i] == w->pid)
			return 1;
	return 0;
}

/*
 * The reader fell too far behind: stop watching, say OVERFLOW, and
 * rebuild once it has caught up.
 */
static void
buffer_full(struct watcher *w)
{
	w->dropping = 1;
	if (!w->quiet)
		warnx("output buffer full (%zu bytes): the reader is too "
		    "slow; events dropped, rescanning once it catches up "
		    "(raise --buffer)", w->out.limit);
	emit_all(w, IOBS_OVERFLOW);
	w->be->close(w);
}

void
emit(struct watcher *w, const char *events, uint32_t cookie,
    const char *vis, size_t vislen)
{
	if (w->dropping || (w->pid != 0 && ignored_pid(w)))
		return;
	if (w->out.bytes >= w->out.limit) {
		buffer_full(w);
		return;
	}
	if (w->rescan)
		scan_seen(w, vis, vislen);
	append(w, events, cookie, vis, vislen, w->pid);
	w->nevents++;
	w->last_event = w->now;
}

/* Lifecycle records are never dropped: they say what state to trust. */
void
emit_lifecycle(struct watcher *w, enum iobs_lifecycle lc, int root)
{
	append(w, iobs_lifecycle_name(lc), 0, w->roots[root].vis,
	    w->roots[root].vislen, 0);
}

void
emit_all(struct watcher *w, enum iobs_lifecycle lc)
{
	int i;

	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive)
			emit_lifecycle(w, lc, i);
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

void
root_dead(struct watcher *w, int root)
{
	struct root *r = &w->roots[root];

	if (!r->alive)
		return;
	emit_lifecycle(w, IOBS_WATCH_DEAD, root);
	if (r->node != NULL)
		watch_forget(w, r->node);
	r->node = NULL;
	r->alive = 0;
	w->nalive--;
}

/* The reader went away: nothing more to say, and nobody to say it to. */
static void
write_failed(void)
{
	if (errno == EPIPE)
		exit(0);
	err(1, "standard output");
}

void
flush_or_exit(struct watcher *w, int wait)
{
	if ((wait ? outq_drain(&w->out) : outq_flush(&w->out)) == -1)
		write_failed();
}

void
fatal_limit(struct watcher *w, const char *path, enum iobs_limit which)
{
	char msg[256];
	int i;

	iobs_limit_message(which, msg, sizeof(msg));
	if (path != NULL)
		warnx("%s: %s", path, msg);
	else
		warnx("%s", msg);
	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive && w->roots[i].announced)
			emit_lifecycle(w, IOBS_WATCH_DEAD, i);
	flush_or_exit(w, 1);
	exit(1);
}
