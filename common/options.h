/*
 * Plugin options, shared by the tools the supervisor runs: the options
 * key it keeps in the cache (named by IOBS_OPTIONS), read back as an
 * argv, and getopt's complaints as one message.
 */
#ifndef IOBS_OPTIONS_H
#define IOBS_OPTIONS_H

#include <stddef.h>

#include "cache.h"

#define IOBS_OPTIONS_ENV	"IOBS_OPTIONS"

/*
 * Reads the options key: its lines, as on the command line, become
 * argv (argv[0] the program's name). Returns 0, 1 when there is no key
 * (or no IOBS_OPTIONS, or no cache), -1 after a warning. Free with
 * iobs_options_free().
 */
int	 iobs_options_fetch(struct iobs_cache *, int *argc, char ***argv);
void	 iobs_options_free(char **argv);

/* iobs_getopt_error() is usage.h's: a tool without a cache needs it. */
#include "usage.h"

#endif
