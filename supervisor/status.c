/*
 * What the supervisor keeps in the shared cache, so that other shells
 * and the plugins can read it:
 *
 *	supervisor		pid=, config=, since=
 *	pipeline/PLUGIN/PATH	one pipeline's state, key=value lines
 *	watch/PATH		a watch's effective config
 *	options/PLUGIN/PATH	PLUGIN's options for PATH, one per line
 *	backlog/PLUGIN/PATH	a remote mirror's paths waiting (it writes it)
 *	progress/PLUGIN/PATH	a mirror's long pass: phase=, entries=,
 *				copied=, bytes=, since= (it writes it)
 *	dests/PLUGIN/PATH	a mirror to several destinations: dests=N,
 *				then dest.i=, state.i=, queued.i=, exit.i=,
 *				since.i= for i = 1..N (its front writes it)
 *
 * Destination i of such a mirror writes its own progress and backlog
 * as PLUGIN#i: plugin names have no '#'. PATH is absolute, so it
 * brings its own leading slash.
 */
#define _GNU_SOURCE
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "human.h"
#include "path.h"
#include "supervise.h"
#include "xalloc.h"

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
	static const char *names[S_NSTATES] = {
		[S_DOWN] = "down", [S_STARTING] = "starting", [S_UP] = "up",
		[S_STOPPING] = "stopping", [S_FAILING] = "failing",
		[S_RESTARTING] = "restarting", [S_REMOVING] = "removing",
		[S_FAILED] = "failed",
	};

	if (p->state == S_DOWN && p->waiting)
		return "waiting";
	return names[p->state] ? names[p->state] : "?";
}

void
status_save(struct super *s, struct pipeline *p)
{
	char *key, *val;

	key = key_of("pipeline", p->plugin, p->path);
	if (asprintf(&val, "watch=%s\nplugin=%s\nstate=%s\nready=%s\n"
	    "watcher=%d\npid=%d\nsince=%lld\nrestarts=%u\nevents=%llu\n"
	    "last_event=%s\nlast=%s\n",
	    p->path, p->plugin, state_name(p), p->state == S_UP ? "yes" : "no",
	    (int)p->wpid, (int)p->ppid, (long long)p->since, p->restarts,
	    p->events, p->last_event[0] ? p->last_event : "-", p->last) == -1)
		err(1, "asprintf");
	put(s, key, val);
	free(key);
	free(val);
	key = options_key(p->plugin, p->path);
	put(s, key, p->opts);
	free(key);
}

/* Keys of a listing, to act on once it is over. */
struct requests {
	char	**key;
	size_t	  n;
};

static int
collect_key(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct requests *r = arg;

	(void)val;
	(void)len;
	(void)exp;
	if ((r->key = reallocarray(r->key, r->n + 1, sizeof(char *))) ==
	    NULL || (r->key[r->n] = strdup(key)) == NULL)
		err(1, "strdup");
	r->n++;
	return 0;
}

/*
 * What a mirror to several destinations left of a run before: the
 * front's dests/ key and each destination's PLUGIN#i keys. The next
 * run writes its own; one to a single destination, none.
 */
void
status_forget_dests(struct super *s, struct pipeline *p)
{
	static const char *kinds[] = { "backlog", "progress" };
	struct requests r = { NULL, 0 };
	char *key, *slash;
	size_t i, k;

	if (s->cache == NULL)
		return;
	key = key_of("dests", p->plugin, p->path);
	iobs_cache_del(s->cache, key);
	free(key);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		key = xasprintf("%s/%s#", kinds[k], p->plugin);
		if (iobs_cache_list(s->cache, key, collect_key, &r) == -1)
			warnx("cache: %s", iobs_cache_strerror(s->cache));
		free(key);
	}
	for (i = 0; i < r.n; i++) {
		slash = strchr(strchr(r.key[i], '/') + 1, '/');
		if (slash != NULL && strcmp(slash, p->path) == 0)
			iobs_cache_del(s->cache, r.key[i]);
		free(r.key[i]);
	}
	free(r.key);
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
	key = key_of("progress", p->plugin, p->path);
	iobs_cache_del(s->cache, key);
	free(key);
	status_forget_dests(s, p);
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

/*
 * The supervisor's own record: its pid, config and start, and the
 * error that made it keep the running config at the last reload (the
 * config's, or a plugin's refusal of its options), for status to say.
 */
void
status_supervisor(struct super *s, const char *conf_err)
{
	char *val, *c;

	if (asprintf(&val, "pid=%d\nconfig=%s\nsince=%lld\n%s%s%s",
	    (int)getpid(), s->conf_file, s->since,
	    conf_err ? "config_error=" : "", conf_err ? conf_err : "",
	    conf_err ? "\n" : "") == -1)
		err(1, "asprintf");
	/* One line: a value is what lies between '=' and the newline. */
	if (conf_err != NULL)
		for (c = strstr(val, "config_error=") + 13; c[1] != '\0'; c++)
			if (*c == '\n')
				*c = ' ';
	if (s->cache != NULL && iobs_cache_put(s->cache, "supervisor", val,
	    strlen(val), 0) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(s->cache));
	free(val);
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

/* The columns of status, in order; the last may hold spaces. */
enum { C_WATCH, C_PLUGIN, C_STATE, C_READY, C_PIDS, C_SINCE, C_RESTARTS,
	C_EVENTS, C_LASTEV, C_PROGRESS, C_LAST, NCOL };

static const char *heads[NCOL] = { "WATCH", "PLUGIN", "STATE", "READY",
    "PIDS", "SINCE", "RESTARTS", "EVENTS", "LAST-EVENT", "PROGRESS",
    "LAST EXIT" };

struct row {
	char	*col[NCOL];
	char	*raw;		/* the key's value, for --json */
	int	 dest;		/* a destination's row: its i; 0: a pipeline */
};

/* A mirror's long pass, as it keeps it in the cache. */
struct pass {
	char	 dest[512], phase[32], entries[32], copied[32], bytes[32];
	char	 since[32], failing[32];
};

/* The pass of a pipeline's plugin; 0 when none is under way. */
static int
pass_read(const char *val, size_t len, struct pass *ps)
{
	char *v;

	if ((v = strndup(val, len)) == NULL)
		err(1, "strndup");
	field(v, "dest", ps->dest, sizeof(ps->dest));
	field(v, "phase", ps->phase, sizeof(ps->phase));
	field(v, "entries", ps->entries, sizeof(ps->entries));
	field(v, "copied", ps->copied, sizeof(ps->copied));
	field(v, "bytes", ps->bytes, sizeof(ps->bytes));
	field(v, "since", ps->since, sizeof(ps->since));
	field(v, "failing", ps->failing, sizeof(ps->failing));
	free(v);
	return strcmp(ps->phase, "up") != 0 && strcmp(ps->phase, "-") != 0;
}

/* "412,300 entries, 1.3 GB copied": what a pass has done so far. */
static void
pass_done(const struct pass *ps, char *buf, size_t len)
{
	char n[48], b[32];

	snprintf(buf, len, "%s entries, %s copied", iobs_grouped(n, sizeof(n),
	    strtoull(ps->entries, NULL, 10)), iobs_bytes(b, sizeof(b),
	    strtod(ps->bytes, NULL)));
}

/* A cell that says more when it already says something. */
static void
cell_add(char **cell, const char *more)
{
	char *c;

	if (strcmp(*cell, "-") == 0)
		c = xstrdup(more);
	else
		c = xasprintf("%s, %s", *cell, more);
	free(*cell);
	*cell = c;
}

/*
 * The pipeline's row as its plugin's pass says: a mirror syncing is
 * up, but its STATE says what it does, and PROGRESS how far it is;
 * --json gets phase= and the figures.
 */
static void
pass_row(struct iobs_cache *c, struct row *r, const char *plugin,
    const char *watch)
{
	struct pass ps;
	char *key, *val, *raw, done[96];
	unsigned long long failing;
	size_t len;
	int under;

	key = key_of("progress", plugin, watch);
	if (c == NULL || iobs_cache_get(c, key, &val, &len) != 0) {
		free(key);
		r->col[C_PROGRESS] = strdup("-");
		if (asprintf(&raw, "%sphase=%s\n", r->raw, r->col[C_STATE]) ==
		    -1)
			err(1, "asprintf");
		free(r->raw);
		r->raw = raw;
		return;
	}
	free(key);
	under = pass_read(val, len, &ps);
	free(val);
	if (under && strcmp(r->col[C_STATE], "up") == 0) {
		free(r->col[C_STATE]);
		r->col[C_STATE] = strdup(ps.phase);
	}
	pass_done(&ps, done, sizeof(done));
	r->col[C_PROGRESS] = strdup(under ? done : "-");
	/* Up, but entries of DEST fail (read-only, full): it says so. */
	failing = strtoull(ps.failing, NULL, 10);
	if (failing > 0) {
		if (strcmp(r->col[C_STATE], "up") == 0) {
			free(r->col[C_STATE]);
			r->col[C_STATE] = xstrdup("failing");
		}
		snprintf(done, sizeof(done), "%llu failing", failing);
		cell_add(&r->col[C_PROGRESS], done);
	}
	if (asprintf(&raw, "%sphase=%s\npass_entries=%s\npass_copied=%s\n"
	    "pass_bytes=%s\npass_since=%s\nfailing=%llu\n", r->raw, under ?
	    ps.phase : r->col[C_STATE], ps.entries, ps.copied, ps.bytes,
	    ps.since, failing) == -1)
		err(1, "asprintf");
	free(r->raw);
	r->raw = raw;
}

struct table {
	struct row	*row;
	size_t		 n;
	struct iobs_cache *cache;	/* for the plugins' keys */
};

/* Seconds since the epoch, as local time to the second, or "-". */
static char *
when(const char *secs)
{
	char buf[32];
	time_t t = strtoll(secs, NULL, 10);
	struct tm tm;

	if (t > 0 && localtime_r(&t, &tm) != NULL)
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	else
		strlcpy(buf, "-", sizeof(buf));
	return strdup(buf);
}

/* A remote mirror's backlog, as the mirror keeps it in the cache. */
struct backlog {
	char		 dest[512], state[32], paths[32];
	long long	 oldest;	/* the oldest path's time; 0: none */
};

static void
backlog_read(const void *val, size_t len, struct backlog *b)
{
	char old[32], *v;

	if ((v = strndup(val, len)) == NULL)
		err(1, "strndup");
	field(v, "dest", b->dest, sizeof(b->dest));
	field(v, "state", b->state, sizeof(b->state));
	field(v, "paths", b->paths, sizeof(b->paths));
	b->oldest = strtoll(field(v, "oldest", old, sizeof(old)), NULL, 10);
	free(v);
}

/*
 * Destination i of a mirror to several, under its pipeline's row: its
 * front's state and queue (v, the dests/ key), and what PLUGIN#i says
 * of itself, its pass as pass_row() puts it and a remote's backlog.
 */
static void
dest_row(struct table *t, const char *v, int i, const char *plugin,
    const char *watch)
{
	struct backlog b;
	struct row *r;
	char name[32], dest[512], state[32], queued[32], exit[32],
	    since[32], branch[600], *key, *val, *raw, sz[32], more[64];
	size_t len;
	int remote;

	snprintf(name, sizeof(name), "dest.%d", i);
	field(v, name, dest, sizeof(dest));
	snprintf(name, sizeof(name), "state.%d", i);
	field(v, name, state, sizeof(state));
	snprintf(name, sizeof(name), "queued.%d", i);
	field(v, name, queued, sizeof(queued));
	snprintf(name, sizeof(name), "exit.%d", i);
	field(v, name, exit, sizeof(exit));
	snprintf(name, sizeof(name), "since.%d", i);
	field(v, name, since, sizeof(since));
	snprintf(branch, sizeof(branch), "%s#%d", plugin, i);
	t->row = xreallocarray(t->row, t->n + 1, sizeof(*t->row));
	r = &t->row[t->n++];
	r->dest = i;
	r->raw = xasprintf("dest=%s\nbranch=%d\nstate=%s\nqueued=%s\n"
	    "exit=%s\nsince=%s\n", dest, i, state, queued, exit, since);
	r->col[C_WATCH] = xasprintf("  %s", dest);
	r->col[C_PLUGIN] = xstrdup(branch);
	r->col[C_STATE] = xstrdup(state);
	r->col[C_READY] = xstrdup("-");
	r->col[C_PIDS] = xstrdup("-");
	r->col[C_SINCE] = when(since);
	r->col[C_RESTARTS] = xstrdup("-");
	r->col[C_EVENTS] = xstrdup("-");
	r->col[C_LASTEV] = xstrdup("-");
	if (strcmp(exit, "-") == 0)
		r->col[C_LAST] = xstrdup("-");
	else if (exit[strspn(exit, "0123456789")] == '\0')
		r->col[C_LAST] = xasprintf("exited %s", exit);
	else
		r->col[C_LAST] = xstrdup(exit);
	pass_row(t->cache, r, branch, watch);
	if (strtoull(queued, NULL, 10) > 0) {
		snprintf(more, sizeof(more), "%s queued", iobs_bytes(sz,
		    sizeof(sz), strtod(queued, NULL)));
		cell_add(&r->col[C_PROGRESS], more);
	}
	key = key_of("backlog", branch, watch);
	remote = iobs_cache_get(t->cache, key, &val, &len) == 0;
	free(key);
	if (remote) {
		backlog_read(val, len, &b);
		free(val);
		if (strtoull(b.paths, NULL, 10) > 0) {
			snprintf(more, sizeof(more), "%s waiting", b.paths);
			cell_add(&r->col[C_PROGRESS], more);
		}
	}
	raw = xasprintf("%swaiting=%s\nremote=%s\n", r->raw,
	    remote ? b.paths : "-", remote ? b.state : "-");
	free(r->raw);
	r->raw = raw;
}

/* A mirror to several destinations: a row for each, under its own. */
static void
dest_rows(struct table *t, const char *plugin, const char *watch)
{
	const char *errstr;
	char *key, *val, *v, n[32];
	size_t len;
	int i, ndest;

	key = key_of("dests", plugin, watch);
	if (t->cache == NULL || iobs_cache_get(t->cache, key, &val, &len) !=
	    0) {
		free(key);
		return;
	}
	free(key);
	if ((v = strndup(val, len)) == NULL)
		err(1, "strndup");
	free(val);
	ndest = strtonum(field(v, "dests", n, sizeof(n)), 0, 4096, &errstr);
	for (i = 1; errstr == NULL && i <= ndest; i++)
		dest_row(t, v, i, plugin, watch);
	free(v);
}

static int
collect(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	static const char *names[] = { "watch", "plugin", "state", "ready",
	    "watcher", "pid", "since", "restarts", "last", "events",
	    "last_event" };
	struct table *t = arg;
	struct row *r;
	char f[11][512];
	int i;

	(void)key;
	(void)exp;
	if ((t->row = reallocarray(t->row, t->n + 1, sizeof(*t->row))) ==
	    NULL || (r = &t->row[t->n], (r->raw = strndup(val, len)) == NULL))
		err(1, "reallocarray");
	t->n++;
	for (i = 0; i < 11; i++)
		field(r->raw, names[i], f[i], sizeof(f[i]));
	r->col[C_WATCH] = strdup(f[0]);
	r->col[C_PLUGIN] = strdup(f[1]);
	r->col[C_STATE] = strdup(f[2]);
	r->col[C_READY] = strdup(f[3]);
	if (strcmp(f[4], "0") != 0 || strcmp(f[5], "0") != 0) {
		if (asprintf(&r->col[C_PIDS], "%s,%s", f[4], f[5]) == -1)
			r->col[C_PIDS] = NULL;
	} else
		r->col[C_PIDS] = strdup("-");
	r->col[C_SINCE] = when(f[6]);
	r->col[C_RESTARTS] = strdup(f[7]);
	r->col[C_EVENTS] = strdup(f[9]);
	r->col[C_LASTEV] = when(f[10]);
	r->col[C_LAST] = strdup(f[8]);
	r->dest = 0;
	pass_row(t->cache, r, f[1], f[0]);
	for (i = 0; i < NCOL; i++)
		if (r->col[i] == NULL)
			err(1, "strdup");
	dest_rows(t, f[1], f[0]);
	return 0;
}

static void
table_free(struct table *t)
{
	size_t i;
	int j;

	for (i = 0; i < t->n; i++) {
		for (j = 0; j < NCOL; j++)
			free(t->row[i].col[j]);
		free(t->row[i].raw);
	}
	free(t->row);
}

/* Columns as wide as their widest cell: long paths shift nothing. */
static void
print_table(const struct table *t)
{
	size_t w[NCOL], i;
	int j;

	for (j = 0; j < NCOL; j++)
		w[j] = strlen(heads[j]);
	for (i = 0; i < t->n; i++)
		for (j = 0; j < NCOL; j++)
			if (strlen(t->row[i].col[j]) > w[j])
				w[j] = strlen(t->row[i].col[j]);
	for (i = 0; i <= t->n; i++) {
		for (j = 0; j < NCOL; j++) {
			const char *c = i == 0 ? heads[j] :
			    t->row[i - 1].col[j];

			if (j == NCOL - 1)
				printf("%s\n", c);
			else if (j == C_RESTARTS || j == C_EVENTS)	/* right */
				printf("%*s  ", (int)w[j], c);
			else
				printf("%-*s ", (int)w[j], c);
		}
	}
}

/* s as a JSON string. */
static void
json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* Numbers (digits, at most one dot inside) as numbers, else strings. */
static void
json_value(const char *v)
{
	size_t n = strspn(v, "0123456789");

	if (n > 0 && n < 19 && (v[n] == '\0' || (v[n] == '.' &&
	    v[n + 1] != '\0' && v[n + 1 + strspn(v + n + 1, "0123456789")] ==
	    '\0')))
		fputs(v, stdout);
	else
		json_string(v);
}

/* How the backlogs are printed, and how many were. */
struct backlog_out {
	int	 json;
	int	 n;
};

static int	print_backlog(const char *, const void *, size_t, time_t,
		    void *);

/* A row's key=value lines as the members of a JSON object. */
static void
json_members(const char *raw)
{
	const char *p, *eq, *nl;
	char name[64], val[1024];
	size_t k, n;

	for (p = raw, k = 0; *p != '\0'; p = nl + 1, k++) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		if ((eq = memchr(p, '=', nl - p)) == NULL ||
		    (size_t)(eq - p) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(eq - p), p);
		n = nl - eq - 1;
		snprintf(val, sizeof(val), "%.*s", (int)n, eq + 1);
		printf("%s", k ? "," : "");
		json_string(name);
		putchar(':');
		if (strcmp(name, "watch") == 0 ||
		    strcmp(name, "plugin") == 0 ||
		    strcmp(name, "last") == 0 ||
		    strcmp(name, "dest") == 0)
			json_string(val);
		else
			json_value(val);
		if (nl[0] == '\0')
			break;
	}
}

static void
print_json(struct iobs_cache *c, const struct table *t, pid_t pid,
    const char *cfg, const char *conf_err)
{
	struct backlog_out out = { 1, 0 };
	size_t i, np = 0;

	printf("{\"running\":true,\"pid\":%d,\"config\":", (int)pid);
	json_string(cfg);
	printf(",\"config_error\":");
	if (conf_err != NULL)
		json_string(conf_err);
	else
		fputs("null", stdout);
	printf(",\"pipelines\":[");
	for (i = 0; i < t->n; i++) {
		/* A pipeline's destinations follow its row. */
		if (t->row[i].dest != 0)
			continue;
		printf("%s{", np++ ? "," : "");
		json_members(t->row[i].raw);
		if (i + 1 < t->n && t->row[i + 1].dest != 0) {
			printf(",\"destinations\":[");
			for (; i + 1 < t->n && t->row[i + 1].dest != 0; i++) {
				printf("%s{", t->row[i + 1].dest > 1 ? "," :
				    "");
				json_members(t->row[i + 1].raw);
				putchar('}');
			}
			putchar(']');
		}
		printf("}");
	}
	printf("],\"remotes\":[");
	if (iobs_cache_list(c, "backlog/", print_backlog, &out) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	printf("]}\n");
}

/*
 * The running supervisor's pid from the cache; 0 when none runs, minus
 * its pid when it is gone. Its config, and the error it kept the
 * running config for ("" when none), into cfg and cerr.
 */
static pid_t
supervisor_pid(struct iobs_cache *c, char *cfg, size_t cfglen, char *cerr,
    size_t cerrlen)
{
	char *val, pidbuf[32];
	pid_t pid;
	int rc;

	cerr[0] = '\0';
	if (c == NULL)
		return 0;
	rc = iobs_cache_get(c, "supervisor", &val, NULL);
	if (rc == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	if (rc == 1)
		return 0;
	pid = strtol(field(val, "pid", pidbuf, sizeof(pidbuf)), NULL, 10);
	field(val, "config", cfg, cfglen);
	if (strcmp(field(val, "config_error", cerr, cerrlen), "-") == 0)
		cerr[0] = '\0';
	free(val);
	if (pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH))
		return -pid;
	return pid;
}

/* A remote mirror's backlog: dest, state, paths waiting, oldest's age. */
static int
print_backlog(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct backlog_out *out = arg;
	struct backlog b;
	char age[32];

	(void)exp;
	backlog_read(val, len, &b);
	key += strlen("backlog/");
	key = strchr(key, '/') ? strchr(key, '/') : key;
	if (out->json) {
		printf("%s{\"dest\":", out->n++ ? "," : "");
		json_string(b.dest);
		printf(",\"state\":");
		json_string(b.state);
		printf(",\"waiting\":");
		json_value(b.paths);
		printf(",\"oldest_age\":");
		if (b.oldest > 0)
			printf("%lld", (long long)time(NULL) - b.oldest);
		else
			fputs("null", stdout);
		printf(",\"watch\":");
		json_string(key);
		putchar('}');
		return 0;
	}
	if (b.oldest > 0)
		snprintf(age, sizeof(age), "%llds",
		    (long long)time(NULL) - b.oldest);
	else
		strlcpy(age, "-", sizeof(age));
	/* The destination first: no line here reads as a pipeline's. */
	if (out->n++ == 0)
		printf("\n%-32s %-8s %8s %8s  %s\n", "REMOTE", "STATE",
		    "WAITING", "OLDEST", "WATCH");
	printf("%-32s %-8s %8s %8s  %s\n", b.dest, b.state, b.paths, age,
	    key);
	return 0;
}

/* The remotes' backlogs, for sd_notify's STATUS=, as status shows them. */
struct remotes_out {
	char	*buf;
	size_t	 len;
};

static int
remote_line(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct remotes_out *out = arg;
	size_t n = strlen(out->buf);
	struct backlog b;
	char age[32];

	(void)key;
	(void)exp;
	backlog_read(val, len, &b);
	age[0] = '\0';
	if (b.oldest > 0)
		snprintf(age, sizeof(age), ", oldest %llds",
		    (long long)time(NULL) - b.oldest);
	if (n < out->len)
		snprintf(out->buf + n, out->len - n, "; %s %s, %s waiting%s",
		    b.dest, b.state, b.paths, age);
	return 0;
}

/* "; DEST syncing, N entries, B copied" for a pass under way. */
static int
pass_line(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct remotes_out *out = arg;
	size_t n = strlen(out->buf);
	struct pass ps;
	char done[96];

	(void)key;
	(void)exp;
	if (!pass_read(val, len, &ps))
		return 0;
	pass_done(&ps, done, sizeof(done));
	if (n < out->len)
		snprintf(out->buf + n, out->len - n, "; %s %s, %s", ps.dest,
		    ps.phase, done);
	return 0;
}

/* "; DEST down" for each destination of a front that is not up. */
static int
dest_line(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct remotes_out *out = arg;
	const char *errstr;
	char *v, name[32], n[32], dest[512], state[32], queued[32], sz[32];
	size_t used;
	int i, ndest;

	(void)key;
	(void)exp;
	if ((v = strndup(val, len)) == NULL)
		err(1, "strndup");
	ndest = strtonum(field(v, "dests", n, sizeof(n)), 0, 4096, &errstr);
	for (i = 1; errstr == NULL && i <= ndest; i++) {
		snprintf(name, sizeof(name), "state.%d", i);
		if (strcmp(field(v, name, state, sizeof(state)), "up") == 0)
			continue;
		snprintf(name, sizeof(name), "dest.%d", i);
		field(v, name, dest, sizeof(dest));
		snprintf(name, sizeof(name), "queued.%d", i);
		field(v, name, queued, sizeof(queued));
		used = strlen(out->buf);
		if (used >= out->len)
			break;
		if (strtoull(queued, NULL, 10) > 0)
			snprintf(out->buf + used, out->len - used,
			    "; %s %s, %s queued", dest, state, iobs_bytes(sz,
			    sizeof(sz), strtod(queued, NULL)));
		else
			snprintf(out->buf + used, out->len - used, "; %s %s",
			    dest, state);
	}
	free(v);
	return 0;
}

/*
 * "; DEST STATE, N waiting, oldest Ts" for each remote mirror,
 * "; DEST syncing, ..." for each pass under way, and "; DEST down"
 * for each destination of a mirror to several that is not up, in buf.
 */
void
status_remotes(struct iobs_cache *c, char *buf, size_t len)
{
	struct remotes_out out = { buf, len };

	buf[0] = '\0';
	if (c == NULL)
		return;
	(void)iobs_cache_list(c, "dests/", dest_line, &out);
	(void)iobs_cache_list(c, "progress/", pass_line, &out);
	(void)iobs_cache_list(c, "backlog/", remote_line, &out);
}

/*
 * iobs-supervise status: exit 0 when running, 3 when not, 1 when it
 * died leaving its state (c NULL: no state at all). conf_err,
 * when the config file has an error now, is said first: what runs is
 * what was loaded before it.
 */
int
status_print(struct iobs_cache *c, int json, const char *conf_err)
{
	struct backlog_out out = { 0, 0 };
	struct table t;
	char cfg[1024], cerr[1024];
	pid_t pid;

	pid = supervisor_pid(c, cfg, sizeof(cfg), cerr, sizeof(cerr));
	/* As LSB's status: 3 not running, 1 dead with its state left. */
	if (pid <= 0) {
		if (json)
			printf("{\"running\":false}\n");
		else if (pid == 0)
			printf("iobs-supervise: not running\n");
		else
			printf("iobs-supervise: not running (pid %d is gone)\n",
			    (int)-pid);
		return pid == 0 ? 3 : 1;
	}
	/* The file's error now, else the one the supervisor kept. */
	if (conf_err == NULL && cerr[0] != '\0')
		conf_err = cerr;
	memset(&t, 0, sizeof(t));
	t.cache = c;
	if (iobs_cache_list(c, "pipeline/", collect, &t) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	if (json)
		print_json(c, &t, pid, cfg, conf_err);
	else {
		printf("iobs-supervise: pid %d, config %s\n", (int)pid, cfg);
		if (conf_err != NULL)
			printf("iobs-supervise: %s; running the config loaded "
			    "before it\n", conf_err);
		print_table(&t);
		if (iobs_cache_list(c, "backlog/", print_backlog, &out)
		    == -1)
			errx(1, "cache: %s", iobs_cache_strerror(c));
	}
	table_free(&t);
	return 0;
}

struct restart_match {
	const char	*path, *plugin;
	int		 n;
};

static int
match_pipeline(const char *key, const void *val, size_t len, time_t exp,
    void *arg)
{
	struct restart_match *m = arg;
	char *v, w[PATH_MAX], pl[256];

	(void)key;
	(void)exp;
	if ((v = strndup(val, len)) == NULL)
		err(1, "strndup");
	field(v, "watch", w, sizeof(w));
	field(v, "plugin", pl, sizeof(pl));
	free(v);
	if (strcmp(w, m->path) == 0 &&
	    (m->plugin == NULL || strcmp(pl, m->plugin) == 0))
		m->n++;
	return 0;
}

/*
 * iobs-supervise restart WATCH [PLUGIN]: asks the running supervisor,
 * through the cache and SIGUSR1, to start those pipelines again, a
 * failed one too.
 */
int
restart_command(struct iobs_cache *c, int argc, char **argv)
{
	struct restart_match m;
	char cfg[1024], cerr[1024], cwd[PATH_MAX], *path, *key;
	pid_t pid;

	if ((pid = supervisor_pid(c, cfg, sizeof(cfg), cerr, sizeof(cerr)))
	    <= 0)
		errx(1, "not running");
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		err(1, "getcwd");
	path = iobs_path_absolute(cwd, argv[1]);
	m.path = path;
	m.plugin = argc > 2 ? argv[2] : NULL;
	m.n = 0;
	if (iobs_cache_list(c, "pipeline/", match_pipeline, &m) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	if (m.n == 0)
		errx(1, "%s%s%s: no such pipeline", path, m.plugin ? " " : "",
		    m.plugin ? m.plugin : "");
	if (asprintf(&key, "restart/%s%s", m.plugin ? m.plugin : "*", path)
	    == -1)
		err(1, "asprintf");
	if (iobs_cache_put(c, key, "", 0, 0) == -1)
		errx(1, "cache: %s", iobs_cache_strerror(c));
	if (kill(pid, SIGUSR1) == -1)
		err(1, "pid %d", (int)pid);
	free(key);
	free(path);
	return 0;
}

/* SIGUSR1: the restart commands waiting in the cache. */
void
restart_requests(struct super *s)
{
	struct requests r = { NULL, 0 };
	struct pipeline *p, *next;
	const char *plugin, *path;
	char *slash;
	size_t i;
	int n;

	if (iobs_cache_list(s->cache, "restart/", collect_key, &r) == -1)
		warnx("cache: %s", iobs_cache_strerror(s->cache));
	for (i = 0; i < r.n; i++) {
		iobs_cache_del(s->cache, r.key[i]);
		plugin = r.key[i] + strlen("restart/");
		if ((slash = strchr(plugin, '/')) == NULL)
			continue;
		path = slash;
		*slash = '\0';
		for (n = 0, p = s->pipes; p != NULL; p = next) {
			next = p->next;
			/* path lost its slash to plugin's end: compare after */
			if (strcmp(p->path + 1, path + 1) != 0 ||
			    (strcmp(plugin, "*") != 0 &&
			    strcmp(plugin, p->plugin) != 0))
				continue;
			warnx("%s %s: restart asked; restarting", p->path,
			    p->plugin);
			pipeline_event(s, p, E_RESTART);
			n++;
		}
		if (n == 0)
			warnx("restart /%s %s: no such pipeline", path + 1,
			    plugin);
		free(r.key[i]);
	}
	free(r.key);
}
