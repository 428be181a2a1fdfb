/*
 * Reading the inotify limits from /proc, for error messages.
 */
#include <stdio.h>

#include "watchlimit.h"

static const struct {
	const char	*what;
	const char	*sysctl[2];
	const char	*file[2];
} limits[] = {
	[IOBS_LIMIT_WATCHES] = { "watch",
	    { "fs.inotify.max_user_watches", "user.max_inotify_watches" },
	    { "/proc/sys/fs/inotify/max_user_watches",
	      "/proc/sys/user/max_inotify_watches" } },
	[IOBS_LIMIT_INSTANCES] = { "instance",
	    { "fs.inotify.max_user_instances", "user.max_inotify_instances" },
	    { "/proc/sys/fs/inotify/max_user_instances",
	      "/proc/sys/user/max_inotify_instances" } },
};

void
iobs_limit_message(enum iobs_limit which, char *buf, size_t size)
{
	const char *name = NULL;
	int i, v, value = 0;
	FILE *f;

	for (i = 0; i < 2; i++) {
		if ((f = fopen(limits[which].file[i], "r")) == NULL)
			continue;
		if (fscanf(f, "%d", &v) == 1 && (name == NULL || v < value)) {
			name = limits[which].sysctl[i];
			value = v;
		}
		fclose(f);
	}
	if (name == NULL)
		snprintf(buf, size, "inotify %s limit reached; raise %s with "
		    "sysctl", limits[which].what, limits[which].sysctl[0]);
	else
		snprintf(buf, size, "inotify %s limit reached (%s = %d); raise "
		    "it with sysctl", limits[which].what, name, value);
}
