/*
 * The EVENTS vocabulary of iobs-stream(5), name to bits.
 */
#include <sys/inotify.h>

#include <strings.h>
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

/*
 * What -e takes: the event names a user can ask for, and the groups
 * inotifywait names. Flags that change how a watch works (oneshot,
 * mask_add, dont_follow, onlydir) or that only mark events (isdir,
 * ignored, unmount, q_overflow) are not events to select.
 */
static const struct {
	const char	*name;
	uint32_t	 mask;
} selectable[] = {
	{ "access",		IN_ACCESS },
	{ "modify",		IN_MODIFY },
	{ "attrib",		IN_ATTRIB },
	{ "close_write",	IN_CLOSE_WRITE },
	{ "close_nowrite",	IN_CLOSE_NOWRITE },
	{ "close",		IN_CLOSE },
	{ "open",		IN_OPEN },
	{ "moved_from",		IN_MOVED_FROM },
	{ "moved_to",		IN_MOVED_TO },
	{ "move",		IN_MOVE },
	{ "create",		IN_CREATE },
	{ "delete",		IN_DELETE },
	{ "delete_self",	IN_DELETE_SELF },
	{ "move_self",		IN_MOVE_SELF },
	{ "all",		IN_ALL_EVENTS },
	{ "all_events",		IN_ALL_EVENTS },
};

int
iobs_events_select(const char *list, uint32_t *mask, const char **bad)
{
	const char *s, *comma;
	size_t i, len;

	for (s = list;; s = comma + 1) {
		comma = strchr(s, ',');
		len = comma ? (size_t)(comma - s) : strlen(s);
		for (i = 0; i < sizeof(selectable) / sizeof(selectable[0]); i++)
			if (strlen(selectable[i].name) == len &&
			    strncasecmp(s, selectable[i].name, len) == 0)
				break;
		if (i == sizeof(selectable) / sizeof(selectable[0])) {
			*bad = s;
			return -1;
		}
		*mask |= selectable[i].mask;
		if (comma == NULL)
			return 0;
	}
}
