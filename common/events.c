/*
 * The EVENTS vocabulary of iobs-stream(5), name to bits.
 */
#include <sys/inotify.h>

#include <string.h>

#include "events.h"

static const struct {
	const char	*name;
	uint32_t	 mask;
} inotify_names[] = {
	{ "ACCESS",		IN_ACCESS },
	{ "MODIFY",		IN_MODIFY },
	{ "ATTRIB",		IN_ATTRIB },
	{ "CLOSE_WRITE",	IN_CLOSE_WRITE },
	{ "CLOSE_NOWRITE",	IN_CLOSE_NOWRITE },
	{ "CLOSE",		0 },	/* alias printed beside CLOSE_* */
	{ "OPEN",		IN_OPEN },
	{ "MOVED_FROM",		IN_MOVED_FROM },
	{ "MOVED_TO",		IN_MOVED_TO },
	{ "CREATE",		IN_CREATE },
	{ "DELETE",		IN_DELETE },
	{ "DELETE_SELF",	IN_DELETE_SELF },
	{ "MOVE_SELF",		IN_MOVE_SELF },
	{ "UNMOUNT",		IN_UNMOUNT },
	{ "ISDIR",		IN_ISDIR },
};

static const struct {
	const char		*name;
	enum iobs_lifecycle	 lifecycle;
} lifecycle_names[] = {
	{ "WATCH_INIT",		IOBS_WATCH_INIT },
	{ "WATCH_DEAD",		IOBS_WATCH_DEAD },
	{ "WATCH_RECONFIG",	IOBS_WATCH_RECONFIG },
	{ "OVERFLOW",		IOBS_OVERFLOW },
};

const char *
iobs_lifecycle_name(enum iobs_lifecycle lc)
{
	size_t i;

	for (i = 0; i < sizeof(lifecycle_names) / sizeof(lifecycle_names[0]);
	    i++)
		if (lifecycle_names[i].lifecycle == lc)
			return lifecycle_names[i].name;
	return "NONE";
}

static int
name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

static int
parse_one(const char *s, size_t len, uint32_t *mask)
{
	size_t i;

	for (i = 0; i < sizeof(inotify_names) / sizeof(inotify_names[0]); i++)
		if (name_is(s, len, inotify_names[i].name)) {
			*mask |= inotify_names[i].mask;
			return 0;
		}
	return -1;
}

int
iobs_events_parse(const char *field, uint32_t *mask,
    enum iobs_lifecycle *lc, const char **bad)
{
	const char *s, *comma;
	size_t i, len;

	*mask = 0;
	*lc = IOBS_NONE;
	for (i = 0; i < sizeof(lifecycle_names) / sizeof(lifecycle_names[0]);
	    i++)
		if (strcmp(field, lifecycle_names[i].name) == 0) {
			*lc = lifecycle_names[i].lifecycle;
			return 0;
		}
	for (s = field;; s = comma + 1) {
		comma = strchr(s, ',');
		len = comma ? (size_t)(comma - s) : strlen(s);
		if (parse_one(s, len, mask) == -1) {
			*bad = s;
			return -1;
		}
		if (comma == NULL)
			break;
	}
	if ((*mask & ~IN_ISDIR) == 0) {
		*bad = field;
		return -1;
	}
	return 0;
}
