/*
 * What iobs-scribe says: one sentence per event, as iObserver's Scribe
 * plugin did. Pure functions of their arguments, so that they can be
 * tested and fuzzed alone.
 */
#include <sys/inotify.h>

#include <string.h>
#include <strings.h>

#include "scribe.h"

static const struct {
	const char	*name;
	uint32_t	 mask;
	const char	*pre, *post;	/* the sentence: pre SUBJECT post */
} sentences[] = {
	{ "CREATE",		IN_CREATE,	"", " was CREATED" },
	{ "OPEN",		IN_OPEN,	"", " was OPENED" },
	{ "ACCESS",		IN_ACCESS,	"", " was ACCESSED" },
	{ "MODIFY",		IN_MODIFY,	"", " was MODIFIED" },
	{ "ATTRIB",		IN_ATTRIB,	"the METADATA of ", " was changed" },
	{ "CLOSE_WRITE",	IN_CLOSE_WRITE,	"", " was CLOSED after writing" },
	{ "CLOSE_NOWRITE",	IN_CLOSE_NOWRITE, "",
	    " was CLOSED without writing" },
	{ "MOVED_FROM",		IN_MOVED_FROM,	"", " was MOVED away" },
	{ "MOVED_TO",		IN_MOVED_TO,	"", " was MOVED here" },
	{ "DELETE",		IN_DELETE,	"", " was DELETED" },
	{ "DELETE_SELF",	IN_DELETE_SELF,	"", " was itself DELETED" },
	{ "MOVE_SELF",		IN_MOVE_SELF,	"", " was itself MOVED" },
	{ "UNMOUNT",		IN_UNMOUNT,	"the filesystem of ",
	    " was UNMOUNTED" },
};
#define NSENTENCES	(sizeof(sentences) / sizeof(sentences[0]))

const uint32_t scribe_events[] = {
	IN_CREATE, IN_OPEN, IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE,
	IN_CLOSE_NOWRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_DELETE,
	IN_DELETE_SELF, IN_MOVE_SELF, IN_UNMOUNT,
};
const size_t scribe_nevents = sizeof(scribe_events) / sizeof(scribe_events[0]);

static const struct {
	const char		*name;
	enum iobs_lifecycle	 lifecycle;
	const char		*sentence;
} lifecycles[] = {
	{ "WATCH_INIT",		IOBS_WATCH_INIT,	"WATCH STARTED" },
	{ "WATCH_DEAD",		IOBS_WATCH_DEAD,	"WATCH STOPPED" },
	{ "WATCH_RECONFIG",	IOBS_WATCH_RECONFIG,
	    "WATCH RECONFIGURED; log reopened" },
	{ "OVERFLOW",		IOBS_OVERFLOW,
	    "events were LOST (queue overflow); resynchronised" },
};
#define NLIFECYCLES	(sizeof(lifecycles) / sizeof(lifecycles[0]))

static char *
put(char *p, const char *s)
{
	size_t len = strlen(s);

	memcpy(p, s, len);
	return p + len;
}

/* "file 'name'", with the name escaped as in the stream. */
static char *
put_named(char *p, int isdir, const char *name, size_t len)
{
	p = put(p, isdir ? "directory '" : "file '");
	p += iobs_vis(p, name, len);
	*p++ = '\'';
	return p;
}

size_t
scribe_format(char *dst, const struct iobs_record *r, uint32_t event,
    size_t relpos)
{
	char *p = dst;
	size_t i;

	if (r->lifecycle != IOBS_NONE) {
		for (i = 0; i < NLIFECYCLES; i++)
			if (lifecycles[i].lifecycle == r->lifecycle)
				return put(p, lifecycles[i].sentence) - dst;
		return put(p, "an unknown lifecycle event happened") - dst;
	}
	for (i = 0; i < NSENTENCES; i++)
		if (sentences[i].mask == event)
			break;
	if (i == NSENTENCES)
		return put(p, "an unknown event happened") - dst;
	p = put(p, sentences[i].pre);
	if (relpos >= r->pathlen)
		p = put(p, "the watch root");
	else
		p = put_named(p, (r->mask & IN_ISDIR) != 0, r->path + relpos,
		    r->pathlen - relpos);
	p = put(p, sentences[i].post);
	return p - dst;
}

size_t
scribe_format_move(char *dst, enum scribe_move kind, int isdir,
    const char *from, size_t fromlen, const char *to, size_t tolen)
{
	char *p = dst;

	switch (kind) {
	case SCRIBE_MOVED:
		p = put_named(p, isdir, from, fromlen);
		p = put(p, " was MOVED to '");
		p += iobs_vis(p, to, tolen);
		*p++ = '\'';
		break;
	case SCRIBE_MOVED_OUT:
		p = put_named(p, isdir, from, fromlen);
		p = put(p, " was MOVED out of the watched tree");
		break;
	case SCRIBE_MOVED_IN:
		p = put_named(p, isdir, to, tolen);
		p = put(p, " was MOVED in from outside the watched tree");
		break;
	}
	return p - dst;
}

static int
filter_one(struct scribe_filter *f, const char *name)
{
	size_t i;

	for (i = 0; i < NSENTENCES; i++)
		if (strcasecmp(name, sentences[i].name) == 0) {
			f->mask |= sentences[i].mask;
			return 0;
		}
	for (i = 0; i < NLIFECYCLES; i++)
		if (strcasecmp(name, lifecycles[i].name) == 0) {
			f->lifecycles |= 1U << lifecycles[i].lifecycle;
			return 0;
		}
	if (strcasecmp(name, "CLOSE") == 0) {
		f->mask |= IN_CLOSE_WRITE | IN_CLOSE_NOWRITE;
		return 0;
	}
	if (strcasecmp(name, "MOVE") == 0) {
		f->moves = 1;
		return 0;
	}
	return -1;
}

int
scribe_filter_add(struct scribe_filter *f, char *list, const char **bad)
{
	char *name;

	while ((name = strsep(&list, ",")) != NULL)
		if (filter_one(f, name) == -1) {
			*bad = name;
			return -1;
		}
	return 0;
}
