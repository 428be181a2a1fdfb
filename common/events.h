/*
 * Event names of the stream, for the tools that read it: the kernel's
 * IN_* names without the prefix, as inotifywait prints them, and the
 * lifecycle names.
 */
#ifndef IOBS_EVENTS_H
#define IOBS_EVENTS_H

#include <stdint.h>

#include "stream.h"

/*
 * Parses an EVENTS field ("CREATE,ISDIR", "WATCH_INIT") into IN_* bits
 * or a lifecycle; returns -1 and leaves *bad at the first unknown name.
 */
int	 iobs_events_parse(const char *, uint32_t *mask,
	    enum iobs_lifecycle *, const char **bad);

/*
 * Adds the events of a comma-separated -e list ("create,close", "all")
 * to *mask; returns -1 and leaves *bad at the first name that is not
 * an event.
 */
int	 iobs_events_select(const char *list, uint32_t *mask,
	    const char **bad);

#endif
