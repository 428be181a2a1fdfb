/*
 * Records out of iobs-watch: events and lifecycle records in the
 * chosen output (the stream, inotifywait's lines, JSON), the filters
 * on what is printed (--exclude, --include, -1, -t), the output
 * buffer's bound, and the ends (fatal errors, the reader gone).
 */
#define _GNU_SOURCE	/* memrchr */

#include <sys/inotify.h>

#include <err.h>
#include <errno.h>
#include <inotifytools/inotifytools.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
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

/*
 * The reader fell too far behind: what comes is dropped, and the main
 * loop says OVERFLOW and rebuilds once it has caught up.
 */
static void
buffer_full(struct watcher *w)
{
	w->dropping = w->lost = 1;
	if (!w->quiet)
		warnx("output buffer full (%zu bytes): the reader is too "
		    "slow; events dropped, rescanning once it catches up "
		    "(raise --buffer)", w->out.limit);
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
 * Where a record's path comes from: a directory of the map and an
 * entry name in it (name NULL: the directory itself), as inotify and
 * fanotify know it; or, from the poll scan, the record path itself.
 */
struct recpath {
	struct dnode	*dir;
	const char	*name;
	size_t		 namelen;
	const char	*vis;		/* not NULL: the scan's record path */
	size_t		 vislen;
};

/* The path as the stream prints it, into pb. */
static void
vis_path(struct watcher *w, const struct recpath *rp, struct pathbuf *pb)
{
	if (rp->vis != NULL) {
		pb->len = 0;
		pathbuf_append(pb, rp->vis, rp->vislen);
		return;
	}
	tree_path(&w->tree, rp->dir, 1, pb);
	if (rp->name != NULL) {
		pathbuf_reserve(pb, 1 + IOBS_VIS_MAX(rp->namelen));
		pb->s[pb->len++] = '/';
		pb->len += iobs_vis(pb->s + pb->len, rp->name, rp->namelen);
		pb->s[pb->len] = '\0';
	} else if (pb->len == 0)
		pathbuf_append(pb, "/", 1);	/* the root "/" itself */
}

/* The path as it is on disk, into pb. */
static void
raw_path(struct watcher *w, const struct recpath *rp, struct pathbuf *pb)
{
	int len;

	if (rp->vis != NULL) {
		pb->len = 0;
		pathbuf_reserve(pb, rp->vislen + 1);
		if ((len = iobs_unvis(pb->s, rp->vis)) == -1)
			errx(1, "%s: not a record path", rp->vis);
		pb->len = len;
		pb->s[pb->len] = '\0';
		return;
	}
	tree_path(&w->tree, rp->dir, 0, pb);
	if (rp->name != NULL) {
		pathbuf_append(pb, "/", 1);
		pathbuf_append(pb, rp->name, rp->namelen);
	} else if (pb->len == 0)
		pathbuf_append(pb, "/", 1);
}

/*
 * The path as inotifywait names it, into w->opath: %w, the root as
 * the user spelled it (a directory with its trailing slash) and the
 * directory below it, then %f, the name, from w->fname on. A scan's
 * path is split at its last slash below the root it lies in.
 */
static void
user_path(struct watcher *w, const struct recpath *rp)
{
	const struct root *r = NULL;
	struct pathbuf *pb = &w->opath;
	const char *name = rp->name, *rel, *slash;
	size_t namelen = rp->namelen, rellen;
	int i;

	if (rp->vis != NULL) {
		raw_path(w, rp, &w->rel);
		for (i = 0; i < w->nroots && r == NULL; i++)
			if (strncmp(w->rel.s, w->roots[i].path,
			    w->roots[i].pathlen) == 0 &&
			    (w->rel.s[w->roots[i].pathlen] == '/' ||
			    w->rel.s[w->roots[i].pathlen] == '\0'))
				r = &w->roots[i];
		if (r == NULL)
			errx(1, "%s: outside every watched tree", rp->vis);
		rel = w->rel.s + r->pathlen;
		if (*rel == '/')
			rel++;
		name = NULL;
		namelen = rellen = 0;
		if (*rel != '\0') {
			slash = strrchr(rel, '/');
			name = slash ? slash + 1 : rel;
			namelen = strlen(name);
			rellen = slash ? (size_t)(slash - rel) : 0;
		}
	} else {
		r = &w->roots[root_index(w, rp->dir)];
		tree_relpath(&w->tree, rp->dir, &w->rel);
		rel = w->rel.s;
		rellen = w->rel.len;
		/*
		 * A directory's own event below the root: named in its
		 * parent, as inotify's watch on the parent and the poll
		 * scan name it, unless the self form is asked for
		 * (fsnotifywait's lines, inotifywait -r's second line).
		 */
		if (name == NULL && rellen > 0 && !w->fanpaths &&
		    !w->selfform) {
			slash = memrchr(rel, '/', rellen);
			name = slash ? slash + 1 : rel;
			namelen = rellen - (name - rel);
			rellen = slash ? (size_t)(slash - rel) : 0;
		}
	}
	pb->len = 0;
	pathbuf_append(pb, r->given, r->givenlen);
	if (rellen > 0) {
		pathbuf_append(pb, rel, rellen);
		pathbuf_append(pb, "/", 1);
	}
	if (w->selfform && name != NULL) {
		pathbuf_append(pb, name, namelen);
		pathbuf_append(pb, "/", 1);
		w->fname = pb->len;
		return;
	}
	w->fname = pb->len;
	if (rellen == 0 && name == NULL)
		w->fname = r->givenname;	/* fsnotifywait's file root */
	if (name != NULL)
		pathbuf_append(pb, name, namelen);
}

/* --exclude and --include, on %w%f in w->opath. */
static int
regex_passes(struct watcher *w)
{
	const regex_t *re;
	size_t i;

	for (re = w->exclude_re.re, i = 0; i < w->exclude_re.n; i++)
		if (regexec(&re[i], w->opath.s, 0, NULL, 0) == 0)
			return 0;
	if (w->include_re.n == 0)
		return 1;
	for (re = w->include_re.re, i = 0; i < w->include_re.n; i++)
		if (regexec(&re[i], w->opath.s, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

static void
append_lines(struct watcher *w, const char *events, uint32_t cookie)
{
	struct fmt_event ev;
	char *p;

	ev.w = w->opath.s;
	ev.wlen = w->fname;
	ev.f = w->opath.s + w->fname;
	ev.flen = w->opath.len - w->fname;
	ev.events = events;
	ev.cookie = cookie;
	ev.sec = w->now.tv_sec;
	ev.pid = w->pid;
	p = outq_reserve(&w->out, fmt_size(&w->fmt, &ev));
	outq_commit(&w->out, fmt_render(&w->fmt, p, &ev));
}

static char *
put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

/*
 * inotifywait's -c field: quoted, its quotes doubled, when it holds a
 * quote, comma or newline or starts or ends with a space.
 */
static char *
put_csv(char *p, const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return p;
	if (memchr(s, '"', len) == NULL && memchr(s, ',', len) == NULL &&
	    memchr(s, '\n', len) == NULL && s[0] != ' ' && s[len - 1] != ' ')
		return put(p, s, len);
	*p++ = '"';
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	return p;
}

/* -c: %w, the events and %f, each a CSV field; %w's comma only if any. */
static void
append_csv(struct watcher *w, const char *events)
{
	size_t flen = w->opath.len - w->fname;
	char *start, *p;

	start = p = outq_reserve(&w->out, 2 * (w->opath.len +
	    strlen(events)) + 16);
	if (w->fname > 0) {
		p = put_csv(p, w->opath.s, w->fname);
		*p++ = ',';
	}
	p = put_csv(p, events, strlen(events));
	*p++ = ',';
	p = put_csv(p, w->opath.s + w->fname, flen);
	*p++ = '\n';
	outq_commit(&w->out, p - start);
}

/* A string literal, its length counted by the compiler. */
#define PUT(p, lit)	put((p), (lit), sizeof(lit) - 1)

#define JSON_FIXED	(96 + IOBS_EVENTS_MAX * 2)

/*
 * {"time":T,"events":["A","B"],"cookie":C, with --pid "pid":P, then
 * the path member(s).
 */
static char *
json_start(char *p, const struct timeval *tv, const char *events,
    uint32_t cookie, int print_pid, pid_t pid)
{
	p = PUT(p, "{\"time\":");
	p = iobs_put_uint(p, tv->tv_sec, 1);
	*p++ = '.';
	p = iobs_put_uint(p, tv->tv_usec, 6);
	p = PUT(p, ",\"events\":[\"");
	for (; *events != '\0'; events++)
		if (*events == ',')
			p = PUT(p, "\",\"");
		else
			*p++ = *events;
	p = PUT(p, "\"],\"cookie\":");
	p = iobs_put_uint(p, cookie, 1);
	if (print_pid) {
		p = PUT(p, ",\"pid\":");
		p = iobs_put_uint(p, pid > 0 ? (unsigned long long)pid : 0, 1);
	}
	*p++ = ',';
	return p;
}

/* The "path" member, and "path_bytes" when the path is not UTF-8. */
static size_t
json_path(char *dst, const char *path, size_t len)
{
	char *p = dst;
	int valid;

	p = PUT(p, "\"path\":\"");
	p += iobs_json_string(p, path, len, &valid);
	*p++ = '"';
	if (!valid) {
		p = PUT(p, ",\"path_bytes\":\"");
		p += iobs_base64(p, path, len);
		*p++ = '"';
	}
	*p = '\0';
	return p - dst;
}

#define JSON_PATH_MAX(len)	(32 + IOBS_JSON_MAX(len) + IOBS_BASE64_MAX(len))

static void
append_json(struct watcher *w, const char *events, uint32_t cookie,
    const char *path, size_t len)
{
	char *start, *p;

	start = p = outq_reserve(&w->out, JSON_FIXED + JSON_PATH_MAX(len));
	p = json_start(p, &w->now, events, cookie, w->print_pid, w->pid);
	p += json_path(p, path, len);
	p = PUT(p, "}\n");
	outq_commit(&w->out, p - start);
}

/* A line in inotifywait's own form: -c, or --format. */
static void
append_user(struct watcher *w, const char *events, uint32_t cookie)
{
	if (w->output == OUT_CSV)
		append_csv(w, events);
	else
		append_lines(w, events, cookie);
}

/* The line a directory's own watch gives, unless excluded: 1 if out. */
static int
self_line(struct watcher *w, const struct recpath *rp, const char *events)
{
	w->selfform = 1;
	user_path(w, rp);
	w->selfform = 0;
	if ((w->exclude_re.n > 0 || w->include_re.n > 0) && !regex_passes(w))
		return 0;
	append_user(w, events, 0);
	return 1;
}

/* What a directory's watch and its parent's both hear of it. */
#define BOTH_SAY	(IN_ATTRIB | IN_OPEN | IN_ACCESS | IN_CLOSE_WRITE | \
			 IN_CLOSE_NOWRITE | IN_MODIFY)

/*
 * A record is out: --stats-fd counts it, -1 stops here, -t counts its
 * quiet from now.
 */
static void
printed(struct watcher *w)
{
	w->nevents++;
	w->last_event = w->now;
	if (w->oneshot)
		w->stop = 1;
	if (w->timeout_ms > 0)
		w->deadline = now_ms() + w->timeout_ms;
}

/*
 * What the rescan would report too: the kernel said it, the scan need
 * not. An OPEN says nothing of what comes after it (a mapping written).
 */
#define SCAN_SEES	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
			 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			 IN_DELETE_SELF | IN_MOVE_SELF)

/*
 * The one way down for every event record: who is left out, the
 * buffer's bound, the rescan's note of what the kernel said, --exclude
 * and --include, then the record in the chosen output.
 */
static void
emit_record(struct watcher *w, uint32_t mask, uint32_t cookie,
    const struct recpath *rp)
{
	struct pathbuf *pb = &w->opath;
	const char *events;
	int self;

	/* A .gitignore changed, a directory renamed: patterns anew. */
	if (w->gi != NULL && (mask & (IN_CREATE | IN_DELETE | IN_MODIFY |
	    IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO))) {
		raw_path(w, rp, pb);
		iobs_gi_changed(w->gi, pb->s, pb->len, (mask & IN_ISDIR) &&
		    (mask & (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)));
	}
	if (w->dropping || w->stop ||
	    (w->pid != 0 && ignore_hit(&w->ign, w->pid)))
		return;
	if (w->out.bytes >= w->out.limit) {
		buffer_full(w);
		return;
	}
	if (w->seen != NULL && (mask & SCAN_SEES)) {
		vis_path(w, rp, pb);
		if (w->seen(w, pb->s, pb->len, mask))
			return;
	}
	if (w->exclude_re.n > 0 || w->include_re.n > 0) {
		user_path(w, rp);
		if (!regex_passes(w))
			return;
	}
	printed(w);
	if (w->quiet >= 2)
		return;
	events = event_names(mask & ~(IN_IGNORED | IN_Q_OVERFLOW));
	switch (w->output) {
	case OUT_LINES:
	case OUT_CSV:
		/*
		 * inotifywait -r has a watch on each directory too, which
		 * says of itself what its parent says of it (after it),
		 * that it is deleted (before) and moved (after).
		 */
		self = w->compat == COMPAT_INOTIFYWAIT && w->recursive &&
		    (mask & IN_ISDIR);
		if (self && (mask & IN_DELETE) &&
		    (w->print_mask & IN_DELETE_SELF) &&
		    self_line(w, rp, event_names(IN_DELETE_SELF)) &&
		    w->oneshot)
			return;
		user_path(w, rp);
		append_user(w, events, cookie);
		if (self && (mask & BOTH_SAY))
			self_line(w, rp, events);
		if (self && (mask & IN_MOVED_TO) &&
		    (w->print_mask & IN_MOVE_SELF))
			self_line(w, rp, event_names(IN_MOVE_SELF));
		return;
	case OUT_JSON:
		raw_path(w, rp, pb);
		append_json(w, events, cookie, pb->s, pb->len);
		return;
	case OUT_STREAM:
		break;
	}
	vis_path(w, rp, pb);
	append(w, events, cookie, pb->s, pb->len, w->pid);
}

/*
 * An event on the entry name of directory dir, or on dir itself when
 * name is NULL.
 */
void
emit_entry(struct watcher *w, uint32_t mask, uint32_t cookie,
    struct dnode *dir, const char *name, size_t namelen)
{
	const struct recpath rp = { dir, name, namelen, NULL, 0 };

	emit_record(w, mask, cookie, &rp);
}

/* An event on a record path (the stream's encoding), from a scan. */
void
emit_path(struct watcher *w, uint32_t mask, uint32_t cookie,
    const char *vis, size_t vislen)
{
	const struct recpath rp = { NULL, NULL, 0, vis, vislen };

	emit_record(w, mask, cookie, &rp);
}

/*
 * The root's lifecycle record as a line, into dst of size bytes; 0
 * when the output has none (inotifywait's lines) or it does not fit.
 * Async-signal-safe: signals.c writes these from its handler.
 */
size_t
lifecycle_line(const struct watcher *w, char *dst, size_t size,
    const struct timeval *tv, enum iobs_lifecycle lc, int root)
{
	const struct root *r = &w->roots[root];
	const char *name = iobs_lifecycle_name(lc);
	size_t len;
	char *p;

	if (w->quiet >= 2)
		return 0;
	switch (w->output) {
	case OUT_LINES:
	case OUT_CSV:
		return 0;
	case OUT_JSON:
		if (JSON_FIXED + r->jsonlen + 2 > size)
			return 0;
		p = json_start(dst, tv, name, 0, w->print_pid, 0);
		p = put(p, r->json, r->jsonlen);
		p = PUT(p, "}\n");
		return p - dst;
	case OUT_STREAM:
		break;
	}
	if (IOBS_RECORD_MAX(r->vislen) + 2 > size)
		return 0;
	len = iobs_record_format(dst, tv, name, 0, r->vis, r->vislen);
	if (w->print_pid) {
		/* --pid: the fifth field, 0 for a lifecycle record. */
		memcpy(dst + len - 1, "\t0\n", 3);
		len += 2;
	}
	return len;
}

/* The JSON path member of each root, made once (for lifecycle_line). */
void
emit_init_roots(struct watcher *w)
{
	struct root *r;
	int i;

	for (i = 0; i < w->nroots; i++) {
		r = &w->roots[i];
		if ((r->json = malloc(JSON_PATH_MAX(r->pathlen + 1))) == NULL)
			err(1, "malloc");
		r->jsonlen = json_path(r->json, r->pathlen ? r->path : "/",
		    r->pathlen ? r->pathlen : 1);
	}
}

/*
 * Lifecycle records are never dropped: they say what state to trust.
 * inotifywait's lines have none; lost events are said on stderr.
 */
void
emit_lifecycle(struct watcher *w, enum iobs_lifecycle lc, int root)
{
	size_t max = IOBS_RECORD_MAX(w->roots[root].vislen) + 2 + JSON_FIXED +
	    w->roots[root].jsonlen;
	char *p;

	if (w->output == OUT_LINES || w->output == OUT_CSV) {
		if (lc == IOBS_OVERFLOW && !w->quiet)
			warnx("%s: events lost; watching again from a new "
			    "walk", w->roots[root].vis);
		return;
	}
	p = outq_reserve(&w->out, max);
	outq_commit(&w->out, lifecycle_line(w, p, max, &w->now, lc, root));
}

void
emit_all(struct watcher *w, enum iobs_lifecycle lc)
{
	int i;

	for (i = 0; i < w->nroots; i++)
		if (w->roots[i].alive)
			emit_lifecycle(w, lc, i);
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
