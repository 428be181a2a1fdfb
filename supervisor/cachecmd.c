/*
 * iobs-supervise cache: the shared cache from the shell, so a plugin
 * written in sh can keep state there too.
 */
#define _GNU_SOURCE
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"

static void __dead2
cache_usage(void)
{
	fprintf(stderr, "usage: %s cache list [prefix]\n"
	    "       %s cache get | take | del key\n"
	    "       %s cache put [-t seconds] key [value]\n"
	    "       %s cache purge\n", getprogname(), getprogname(),
	    getprogname(), getprogname());
	exit(2);
}

static int
print_key(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	(void)val;
	(void)len;
	(void)exp;
	(void)arg;
	printf("%s\n", key);
	return 0;
}

/* The value from standard input, when it is not an operand. */
static char *
read_stdin(size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				err(1, "realloc");
		}
		r = fread(buf + n, 1, cap - n, stdin);
		n += r;
	} while (r > 0);
	if (ferror(stdin))
		err(1, "standard input");
	*len = n;
	return buf;
}

int
cache_command(struct iobs_cache *c, int argc, char **argv)
{
	const char *cmd, *errstr;
	char *val;
	size_t len;
	long long ttl = 0;
	int rc, ch;

	if (argc < 2)
		cache_usage();
	cmd = argv[1];
	if (strcmp(cmd, "list") == 0) {
		if (argc > 3)
			cache_usage();
		if (iobs_cache_list(c, argc == 3 ? argv[2] : "", print_key,
		    NULL) == -1)
			errx(1, "cache list: %s", iobs_cache_strerror(c));
		return 0;
	}
	if (strcmp(cmd, "purge") == 0) {
		if (argc != 2)
			cache_usage();
		if (iobs_cache_purge(c) == -1)
			errx(1, "cache purge: %s", iobs_cache_strerror(c));
		return 0;
	}
	if (strcmp(cmd, "get") == 0 || strcmp(cmd, "take") == 0) {
		if (argc != 3)
			cache_usage();
		rc = cmd[0] == 'g' ? iobs_cache_get(c, argv[2], &val, &len) :
		    iobs_cache_take(c, argv[2], &val, &len);
		if (rc == -1)
			errx(1, "cache %s %s: %s", cmd, argv[2],
			    iobs_cache_strerror(c));
		if (rc == 1)
			return 1;
		fwrite(val, 1, len, stdout);
		free(val);
		return 0;
	}
	if (strcmp(cmd, "del") == 0) {
		if (argc != 3)
			cache_usage();
		if (iobs_cache_del(c, argv[2]) == -1)
			errx(1, "cache del %s: %s", argv[2],
			    iobs_cache_strerror(c));
		return 0;
	}
	if (strcmp(cmd, "put") != 0)
		cache_usage();
	optind = 1;
	argc--;
	argv++;
	while ((ch = getopt(argc, argv, "t:")) != -1) {
		switch (ch) {
		case 't':
			ttl = strtonum(optarg, 1, 86400LL * 365 * 100,
			    &errstr);
			if (errstr != NULL)
				errx(2, "-t %s: seconds %s", optarg, errstr);
			break;
		default:
			cache_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		cache_usage();
	if (argc == 2) {
		if ((val = strdup(argv[1])) == NULL)
			err(1, "strdup");
		len = strlen(val);
	} else
		val = read_stdin(&len);
	rc = iobs_cache_put(c, argv[0], val, len, ttl);
	free(val);
	if (rc == -1)
		errx(1, "cache put %s: %s", argv[0], iobs_cache_strerror(c));
	return 0;
}
