/*
 * The inotify limits, named as the fix needs them: the one in force is
 * the lower of the machine's sysctl and, in a user namespace, the
 * namespace's own.
 */
#ifndef IOBS_WATCHLIMIT_H
#define IOBS_WATCHLIMIT_H

#include <stddef.h>

enum iobs_limit {
	IOBS_LIMIT_WATCHES,
	IOBS_LIMIT_INSTANCES,
};

/*
 * Writes "inotify watch limit reached (fs.inotify.max_user_watches =
 * 8192); raise it with sysctl" into buf, naming the limit in force.
 */
void	 iobs_limit_message(enum iobs_limit, char *buf, size_t size);

#endif
