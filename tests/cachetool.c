/*
 * Test helper for the shared cache: "list DIR PREFIX" prints the live
 * keys starting with PREFIX, one a line; "put DIR KEY VALUE TTL" stores
 * one.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

static int
print_key(const char *key, const void *val, size_t len, time_t expires,
    void *arg)
{
	(void)val;
	(void)len;
	(void)expires;
	(void)arg;
	puts(key);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct iobs_cache *c;
	const char *errstr;
	long long ttl;

	if (argc < 3)
		errx(2, "usage: cachetool list dir prefix | put dir key value ttl");
	if ((c = iobs_cache_open(argv[2], 1)) == NULL)
		err(1, "%s", argv[2]);
	if (strcmp(argv[1], "list") == 0 && argc == 4) {
		if (iobs_cache_list(c, argv[3], print_key, NULL) == -1)
			errx(1, "list: %s", iobs_cache_strerror(c));
	} else if (strcmp(argv[1], "put") == 0 && argc == 6) {
		ttl = strtonum(argv[5], 0, 3600, &errstr);
		if (errstr != NULL)
			errx(2, "ttl %s: %s", argv[5], errstr);
		if (iobs_cache_put(c, argv[3], argv[4], strlen(argv[4]),
		    ttl) == -1)
			errx(1, "put: %s", iobs_cache_strerror(c));
	} else
		errx(2, "usage: cachetool list dir prefix | put dir key value ttl");
	iobs_cache_close(c);
	return 0;
}
