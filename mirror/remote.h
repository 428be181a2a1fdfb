/*
 * iobs-mirror's remote mode: DEST on another machine, [user@]host:/path
 * over ssh or rsync://host/module/path to an rsync daemon, with rsync
 * and ssh as the engines (see REMOTE in iobs-mirror(1)).
 */
#ifndef REMOTE_H
#define REMOTE_H

#include <stddef.h>

#include "cache.h"
#include "rsync.h"

struct mirror_options;

/*
 * relay.c: iobs-mirror --relay -- [-l user] host word..., rsync's
 * remote shell, through a session the mirror lent it (descriptors 3-6).
 */
int	 relay_main(int argc, char *argv[]);

/* remote.c */
int	 remote_main(struct mirror_options *, struct remote_dest *,
	    struct iobs_cache *, int sigfd);

#endif
