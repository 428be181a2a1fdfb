/*
 * The options key in the cache, as an argv.
 */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int
iobs_options_fetch(struct iobs_cache *c, int *argcp, char ***argvp)
{
	const char *key = getenv(IOBS_OPTIONS_ENV);
	char *val, *p, *line, **argv;
	size_t len;
	int argc, rc;

	if (c == NULL || key == NULL || key[0] == '\0')
		return 1;
	if ((rc = iobs_cache_get(c, key, &val, &len)) == -1) {
		warnx("cache: %s: %s; options kept", key,
		    iobs_cache_strerror(c));
		return -1;
	}
	if (rc == 1)
		return 1;
	/*
	 * The name, at most one option a byte, NULL; one slot more keeps
	 * the value, which the arguments point into, to be freed.
	 */
	if ((argv = calloc(len + 4, sizeof(*argv))) == NULL)
		err(1, "calloc");
	argv[0] = val;
	argv++;
	argc = 0;
	argv[argc++] = (char *)getprogname();
	for (p = val; (line = strsep(&p, "\n")) != NULL;)
		if (line[0] != '\0')
			argv[argc++] = line;
	*argcp = argc;
	*argvp = argv;
	return 0;
}

void
iobs_options_free(char **argv)
{
	if (argv == NULL)
		return;
	free(argv[-1]);
	free(argv - 1);
}
