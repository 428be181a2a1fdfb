/*
 * strdup(3) and friends that exit on failure, never abort(3).
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		err(1, "strdup");
	return p;
}
