/*
 * Fuzz target for the iobs.conf(5) parser of iobs-supervise: the input
 * is the config file, read through fmemopen(3), once with plugins
 * found in a scratch directory given as if by -p and once without.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"

static char plugdir[] = "/tmp/iobs-fuzz-config.XXXXXX";

static void
cleanup(void)
{
	static const char *names[] = { "scribe", "mirror", "cat" };
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/iobs-%s", plugdir, names[i]);
		unlink(path);
	}
	rmdir(plugdir);
}

/* Plugins the seed configs name, so that parsing goes past them. */
static void
make_plugins(void)
{
	static const char *names[] = { "scribe", "mirror", "cat" };
	char path[64];
	size_t i;
	int fd;

	if (mkdtemp(plugdir) == NULL)
		err(1, "mkdtemp");
	atexit(cleanup);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/iobs-%s", plugdir, names[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT, 0755)) == -1)
			err(1, "%s", path);
		close(fd);
	}
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static int
normal(const char *p)
{
	if (p[0] != '/')
		return 0;
	if (strcmp(p, "/") == 0)
		return 1;
	return strstr(p, "//") == NULL && strstr(p, "/./") == NULL &&
	    strstr(p, "/../") == NULL && p[strlen(p) - 1] != '/' &&
	    (strlen(p) < 2 || strcmp(p + strlen(p) - 2, "/.") != 0) &&
	    (strlen(p) < 3 || strcmp(p + strlen(p) - 3, "/..") != 0);
}

static void
check(const struct config *c)
{
	size_t i, j;
	char *opts;

	if (c->restart_delay_max < c->restart_delay ||
	    c->fail_limit < 1 || c->fail_limit > FAIL_MAX ||
	    !normal(c->dir) || (c->plugin_dir && !normal(c->plugin_dir)) ||
	    (c->state_dir && !normal(c->state_dir)))
		abort();
	for (i = 0; i < c->nwatch; i++) {
		const struct wconf *w = &c->watch[i];

		/* No plugins is a warning; every option knows its line. */
		if (!normal(w->path) || w->plugins_line <= 0 ||
		    (w->nwargv > 0 && w->wline == NULL))
			abort();
		for (j = 0; j < w->nwargv; j++)
			if (w->wline[j] <= 0)
				abort();
		for (j = 0; j < w->npopt; j++)
			if (w->popt[j].line <= 0)
				abort();
		for (j = 0; j < i; j++)
			if (strcmp(c->watch[j].path, w->path) == 0)
				abort();
		for (j = 0; j < w->nplugin; j++) {
			if (w->plugin[j].exe == NULL)
				abort();
			opts = config_plugin_options(w, w->plugin[j].name);
			free(opts);
		}
	}
}

static void
parse(char *buf, size_t len, const char *plugin_dir)
{
	struct config c;
	char errbuf[512], *warn = NULL;
	FILE *f;

	if ((f = fmemopen(buf, len, "r")) == NULL)
		return;
	errbuf[0] = '\0';
	if (config_parse(f, "/fuzz/etc/iobs.conf", plugin_dir, &c, errbuf,
	    sizeof(errbuf), &warn) == 0) {
		check(&c);
		config_free(&c);
	} else if (errbuf[0] == '\0' || strchr(errbuf, '\n') != NULL)
		abort();	/* an error is one line */
	else
		config_free(&c);	/* its state_dir */
	fclose(f);
	free(warn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int ready;
	char *buf;

	if (!ready) {
		make_plugins();
		ready = 1;
	}
	if (len == 0)
		return 0;
	if ((buf = malloc(len)) == NULL)
		abort();
	memcpy(buf, data, len);
	parse(buf, len, plugdir);
	memcpy(buf, data, len);
	parse(buf, len, NULL);
	free(buf);
	return 0;
}
