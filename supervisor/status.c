/*
 * What the supervisor keeps in the shared cache, so that other shells
 * and the plugins can read it:
 *
 *	supervisor		pid=, config=, since=
 *	pipeline/PLUGIN/PATH	one pipeline's state, key=value lines
 *	watch/PATH		a watch's effective config
 *	options/PLUGIN/PATH	PLUGIN's options for PATH, one per line
 *	backlog/PLUGIN/PATH	a remote mirror's paths waiting (it writes it)
 *
 * PATH is absolute, so it brings its own leading slash.
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervise.h"

static char *
key_of(const char *kind, const char *plugin, const char *path)
{
	char *key;

	if (asprintf(&key, "%s/%s%s", kind, plugin, path) == -1)
		err(1, "asprintf");
	return key;
}

char *
options_key(const char *plugin, const char *path)
{
	return key_of("options", plugin, path);
}

static void
put(struct super *s, const char *key, const char *val)
{
	if (s->cache == NULL)
		return;
	if (iobs_cache_put(s->cache, key, val, strlen(val), 0) == -1)
		warnx("cache: %s: %s", key, iobs_cache_strerror(s->cache));
}

static const char *
state_name(const struct pipeline *p)
{
	switch (p->state) {
	case P_DOWN:
		return p->waiting ? "waiting" : "down";
	case P_UP:
		return "up";
	case P_STOPPING:
		return "stopping";
	case P_FAILED:
		return "failed";
	}
	return "?";
}

void
status_save(struct super *s, struct pipeline *p)
{
	char *key, *val;

	key = key_of("pipeline", p->plugin, p->path);
	if (asprintf(&val, "watch=%s\nplugin=%s\nstate=%s\nready=%s\n"
	    "watcher=%d\npid=%d\nsince=%lld\nrestarts=%u\nlast=%s\n",
	    p->path, p->plugin, state_name(p), p->ready ? "yes" : "no",
	    (int)p->wpid, (int)p->ppid, (long long)p->since, p->restarts,
	    p->last) == -1)
		err(1, "asprintf");
	put(s, key, val);
	free(key);
	free(val);
	key = options_key(p->plugin, p->path);
	put(s, key, p->opts);
	free(key);
}

void
status_forget(struct super *s, struct pipeline *p)
{
	char *key;

	if (s->cache == NULL)
		return;
	key = key_of("pipeline", p->plugin, p->path);
	iobs_cache_del(s->cache, key);
	free(key);
	key = options_key(p->plugin, p->path);
	iobs_cache_del(s->cache, key);
	free(key);
	key = key_of("backlog", p->plugin, p->path);
	iobs_cache_del(s->cache, key);
	free(key);
}

void
status_watch(struct super *s, const struct wconf *w)
{
	char *key, *val = NULL, *tmp;
	size_t i;

	if (asprintf(&key, "watch%s", w->path) == -1 ||
	    asprintf(&val, "plugins=") == -1)
		err(1, "asprintf");
	for (i = 0; i < w->nplugin; i++) {
		if (asprintf(&tmp, "%s%s%s", val, i ? "," : "",
		    w->plugin[i].name) == -1)
			err(1, "asprintf");
		free(val);
		val = tmp;
	}
	for (i = 0; i < w->nwargv; i++) {
		if (asprintf(&tmp, "%s\nwatch=%s", val, w->wargv[i]) == -1)
			err(1, "asprintf");
		free(val);
		val = tmp;
	}
	for (i = 0; i < w->npopt; i++) {
		if (asprintf(&tmp, "%s\n%s=%s", val, w->popt[i].plugin,
		    w->popt[i].arg) == -1)
			err(1, "asprintf");
		free(val);
		val = tmp;
	}
	if (asprintf(&tmp, "%s\n", val) == -1)
		err(1, "asprintf");
	free(val);
	put(s, key, tmp);
	free(tmp);
	free(key);
}

/* The value of name= in a key=value block, into buf. */
static const char *
field(const char *val, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	const char *p = val, *e;

	while (p != NULL && *p != '\0') {
		e = strchr(p, '\n');
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			p += n + 1;
			n = e ? (size_t)(e - p) : strlen(p);
			if (n >= len)
				n = len - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
		p = e ? e + 1 : NULL;
	}
	strlcpy(buf, "-", len);
	return buf;
}

static int
print_one(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	char f[9][512], since[32], pids[1100];
	time_t t;
	struct tm tm;
	const char *v = val;
	static const char *names[] = { "watch", "plugin", "state", "ready",
	    "watcher", "pid", "since", "restarts", "last" };
	int i;

	(void)key;
	(void)len;
	(void)exp;
	(void)arg;
	for (i = 0; i < 9; i++)
		field(v, names[i], f[i], sizeof(f[i]));
	t = strtoll(f[6], NULL, 10);
	if (t > 0 && localtime_r(&t, &tm) != NULL)
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%S", &tm);
	else
		strlcpy(since, "-", sizeof(since));
	if (strcmp(f[2], "up") == 0 || strcmp(f[2], "stopping") == 0)
		snprintf(pids, sizeof(pids), "%s,%s", f[4], f[5]);
	else
		strlcpy(pids, "-", sizeof(pids));
	printf("%-24s %-8s %-8s %-5s %-13s %-19s %8s  %s\n", f[0], f[1], f[2],
	    f[3], pids, since, f[7], f[8]);
	return 0;
}

/* A remote mirror's backlog: dest, state, paths waiting, oldest's age. */
static int
print_backlog(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	char dest[512], state[32], paths[32], old[32], age[32];
	int *header = arg;
	long long t;

	(void)len;
	(void)exp;
	field(val, "dest", dest, sizeof(dest));
	field(val, "state", state, sizeof(state));
	field(val, "paths", paths, sizeof(paths));
	t = strtoll(field(val, "oldest", old, sizeof(old)), NULL, 10);
	if (t > 0)
		snprintf(age, sizeof(age), "%llds", (long long)time(NULL) - t);
	else
		strlcpy(age, "-", sizeof(age));
	/* The destination first: no line here reads as a pipeline's. */
	if (!*header) {
		printf("\n%-32s %-8s %8s %8s  %s\n", "REMOTE", "STATE",
		    "WAITING", "OLDEST", "WATCH");
		*header = 1;
	}
	key += strlen("backlog/");
	printf("%-32s %-8s %8s %8s  %s\n", dest, state, paths, age,
	    strchr(key, '/') ? strchr(key, '/') : key);
	return 0;
}

/* iobs-supervise status: exit 0 when running, 1 when not. */
int
status_print(struct iobs_cache *c)
{
	char *val, pidbuf[32], cfg[1024];
	pid_t pid;
	int rc, header = 0;

	rc = iobs_cache_get(c, "supervisor", &val, NULL);
	if (rc == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	if (rc == 1) {
		printf("iobs-supervise: not running\n");
		return 1;
	}
	pid = strtol(field(val, "pid", pidbuf, sizeof(pidbuf)), NULL, 10);
	field(val, "config", cfg, sizeof(cfg));
	free(val);
	if (pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH)) {
		printf("iobs-supervise: not running (pid %d is gone)\n",
		    (int)pid);
		return 1;
	}
	printf("iobs-supervise: pid %d, config %s\n", (int)pid, cfg);
	printf("%-24s %-8s %-8s %-5s %-13s %-19s %8s  %s\n", "WATCH",
	    "PLUGIN", "STATE", "READY", "PIDS", "SINCE", "RESTARTS",
	    "LAST EXIT");
	if (iobs_cache_list(c, "pipeline/", print_one, NULL) == -1 ||
	    iobs_cache_list(c, "backlog/", print_backlog, &header) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	return 0;
}
