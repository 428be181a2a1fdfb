/*
 * The config file, in iObserver's format: [global], [watches] with one
 * [[PATH]] subsection per watch, key = value, comma lists, # comments.
 * Parsing reads a FILE and touches nothing else but stat(2)/access(2)
 * for the plugins and the watch paths, so it can be fuzzed.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bool.h"
#include "path.h"
#include "supervise.h"
#include "xalloc.h"

#ifndef IOBS_BINDIR
#define IOBS_BINDIR	"/usr/local/bin"	/* the Makefile's BINDIR */
#endif

struct parser {
	const char	*file;
	int		 line;
	char		*err;
	size_t		 errlen;
	char		**warn;
	struct config	*c;
	const char	*plugin_dir_opt;
	/* The subsection being read, checked when it ends. */
	struct wconf	*w;
	char		**plugins;	/* as written */
	size_t		 nplugins;
	int		 plugins_line;
	struct raw {
		char	*key, *val;
		int	 line;
	}		*raw;
	size_t		 nraw;
	/* Keys seen in the current section, for duplicates. */
	char		 seen[16][32];
	int		 nseen;
};

static int
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static void
warning(struct parser *p, int line, const char *fmt, ...)
{
	char msg[PATH_MAX + 256], *w;
	size_t old = *p->warn ? strlen(*p->warn) : 0;
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%d: ", p->file, line);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	w = xreallocarray(*p->warn, old + strlen(msg) + 2, 1);
	memcpy(w + old, msg, strlen(msg));
	w[old + strlen(msg)] = '\n';
	w[old + strlen(msg) + 1] = '\0';
	*p->warn = w;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* ConfigObj allows a value in quotes; they are not part of it. */
static char *
unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* Splits a comma list in place; empty items are dropped. */
static size_t
split_list(char *val, char ***out)
{
	char *item, **v = NULL;
	size_t n = 0;

	while ((item = strsep(&val, ",")) != NULL) {
		item = unquote(trim(item));
		if (*item == '\0')
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = item;
	}
	*out = v;
	return n;
}

/* Seconds, with up to three decimals, into milliseconds. */
static int
parse_seconds(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char ipart[16];
	const char *dot = strchr(s, '.'), *errstr;
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	int64_t ms, frac = 0, scale = 100;
	const char *d;

	if (ilen == 0 || ilen >= sizeof(ipart))
		return -1;
	memcpy(ipart, s, ilen);
	ipart[ilen] = '\0';
	ms = strtonum(ipart, 0, 86400 * 365, &errstr);
	if (errstr != NULL)
		return -1;
	if (dot != NULL) {
		if (dot[1] == '\0' || strlen(dot + 1) > 3)
			return -1;
		for (d = dot + 1; *d; d++, scale /= 10) {
			if (!isdigit((unsigned char)*d))
				return -1;
			frac += (*d - '0') * scale;
		}
	}
	ms = ms * 1000 + frac;
	if (ms < min || ms > max)
		return -1;
	*out = ms;
	return 0;
}

const char *
self_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0] != '\0')
		return dir;
	if ((n = readlink("/proc/self/exe", dir, sizeof(dir) - 1)) == -1)
		n = 0;
	dir[n] = '\0';
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (dir[0] == '\0')
		strcpy(dir, ".");
	return dir;
}

/*
 * Where our own tools are, in order: beside iobs-supervise (a build
 * tree, or all in one directory); ../bin when that is an sbin, as
 * make install and the package put them, so that an install under
 * DESTDIR or another prefix finds its own; IOBS_BINDIR, the BINDIR it
 * was built for. Returns how many of the three are set in dirs.
 */
size_t
tool_dirs(const char *dirs[3])
{
	static char sibling[PATH_MAX];
	const char *self = self_dir(), *slash;
	size_t n = 0;

	dirs[n++] = self;
	slash = strrchr(self, '/');
	if (sibling[0] == '\0' && slash != NULL && strcmp(slash, "/sbin") == 0)
		snprintf(sibling, sizeof(sibling), "%.*s/bin",
		    (int)(slash - self), self);
	if (sibling[0] != '\0')
		dirs[n++] = sibling;
	if (n == 1 || strcmp(dirs[n - 1], IOBS_BINDIR) != 0)
		dirs[n++] = IOBS_BINDIR;
	return n;
}

/*
 * iobs-NAME of our own, in path: in the first of tool_dirs() that has
 * it. 0 when there, -1 with the first place in path when in none.
 */
int
tool_path(const char *name, char *path, size_t len)
{
	const char *dirs[3];
	size_t i, n = tool_dirs(dirs);

	for (i = 0; i < n; i++) {
		snprintf(path, len, "%s/iobs-%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return 0;
	}
	snprintf(path, len, "%s/iobs-%s", dirs[0], name);
	return -1;
}

/* Finds iobs-NAME in plugin_dir, then among our own tools. */
static int
find_plugin(struct parser *p, const char *name, int line, char **exe)
{
	const char *dirs[4];
	struct stat st;
	size_t i, n = 0;
	char path[PATH_MAX], where[3 * PATH_MAX + 16];

	if (p->c->plugin_dir != NULL)
		dirs[n++] = p->c->plugin_dir;
	n += tool_dirs(dirs + n);
	where[0] = '\0';
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/iobs-%s", dirs[i], name);
		if (stat(path, &st) == -1) {
			strlcat(where, i == 0 ? "" : i + 1 == n ? " or " : ", ",
			    sizeof(where));
			strlcat(where, dirs[i], sizeof(where));
			continue;
		}
		if (!S_ISREG(st.st_mode) || access(path, X_OK) == -1)
			return fail(p, line, "plugin %s: %s is not executable",
			    name, path);
		*exe = xstrdup(path);
		return 0;
	}
	return fail(p, line, "plugin %s: no iobs-%s in %s%s", name, name,
	    where, p->c->plugin_dir != NULL ? "" : " (set plugin_dir)");
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return 1;
}

static const char *
canonical(const char *name)
{
	return strcmp(name, "replica") == 0 ? "mirror" : name;
}

static void
add_warg(struct wconf *w, int line, const char *fmt, const char *val)
{
	char *s = xasprintf(fmt, val);

	w->wargv = xreallocarray(w->wargv, w->nwargv + 1, sizeof(char *));
	w->wline = xreallocarray(w->wline, w->nwargv + 1, sizeof(int));
	w->wline[w->nwargv] = line;
	w->wargv[w->nwargv++] = s;
}

/* Which plugin of the watch a key X_key is for; NULL if none. */
static const char *
key_plugin(struct parser *p, const char *key, const char **rest)
{
	size_t i, n, best = 0;
	const char *found = NULL;

	for (i = 0; i < p->nplugins; i++) {
		const char *names[2] = { p->plugins[i],
		    canonical(p->plugins[i]) };
		int j;

		for (j = 0; j < 2; j++) {
			n = strlen(names[j]);
			if (strncmp(key, names[j], n) == 0 && key[n] == '_' &&
			    key[n + 1] != '\0' && n > best) {
				best = n;
				found = canonical(p->plugins[i]);
				*rest = key + n + 1;
			}
		}
	}
	if (found == NULL && (strncmp(key, "replica_", 8) == 0)) {
		for (i = 0; i < p->nplugins; i++)
			if (strcmp(canonical(p->plugins[i]), "mirror") == 0) {
				*rest = key + 8;
				return "mirror";
			}
	}
	return found;
}

static void
add_popt(struct wconf *w, const char *plugin, char *arg, int line)
{
	w->popt = xreallocarray(w->popt, w->npopt + 1, sizeof(*w->popt));
	w->popt[w->npopt].plugin = xstrdup(plugin);
	w->popt[w->npopt].arg = arg;
	w->popt[w->npopt].line = line;
	w->npopt++;
}

/*
 * Plugins of ours that walk the tree themselves (a mirror's first pass
 * and its reconciles; an exec's runs): a watch's exclude reaches them
 * as --exclude, so that what the watcher leaves out they leave too.
 */
static const char *const walkers[] = { "mirror", "exec" };

/*
 * The gitignore(5) keys reach the watcher and each mirror, whose first
 * pass and reconciles walk the tree: an exec gets only the records the
 * watcher kept. arg is the option, taken.
 */
static void
gitignore_mirrors(struct wconf *w, int line, char *arg)
{
	size_t k;

	for (k = 0; k < w->nplugin; k++)
		if (strcmp(w->plugin[k].name, "mirror") == 0)
			add_popt(w, w->plugin[k].name, xstrdup(arg), line);
	free(arg);
}

/*
 * Plugin keys whose value is a list, written as every list here is
 * (a, b, c): each item passed as an option of its own, or joined with
 * commas alone. Any plugin's exclude is a list of globs; a mirror's
 * destination, one or several.
 */
static const struct {
	const char	*plugin;	/* NULL: any */
	const char	*key;
	int		 repeat;
} list_keys[] = {
	{ NULL,		"exclude",	1 },
	{ "mirror",	"destination",	1 },
	{ "exec",	"events",	0 },
	{ "scribe",	"only",		0 },
};

/*
 * A glob no one can have meant: it would match nothing, or not what
 * was written. 0, or -1 with the line and the fix.
 */
static int
check_glob(struct parser *p, int line, const char *key, const char *g,
    const char *root)
{
	size_t rlen = strlen(root), n;
	const char *c, *q;

	if (*g == '"' || *g == '\'' || (*g != '\0' && (g[strlen(g) - 1] ==
	    '"' || g[strlen(g) - 1] == '\'')))
		return fail(p, line, "%s: %s: a quote in a glob; a list is "
		    "written unquoted, as in %s = *.tmp, .git", key, g, key);
	/* fparseln(3) took the backslashes: \[ is [ here. */
	for (c = g; *c != '\0'; c++) {
		if (*c != '[')
			continue;
		q = c + 1;
		if (*q == '!' || *q == '^')
			q++;
		if (*q == ']')
			q++;
		if ((q = strchr(q, ']')) == NULL)
			return fail(p, line, "%s: %s: [ without its ]; write "
			    "[[] for the character itself", key, g);
		c = q;
	}
	if (rlen > 1 && strncmp(g, root, rlen) == 0 &&
	    (g[rlen] == '/' || g[rlen] == '\0'))
		return fail(p, line, "%s: %s: a path under the watch is "
		    "written from its root, as /%s", key, g,
		    g[rlen] == '/' ? g + rlen + 1 : "");
	for (c = g; *c != '\0'; c += n + (c[n] == '/')) {
		n = strcspn(c, "/");
		if ((n == 0 && c != g && c[n] != '\0') ||
		    (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return fail(p, line, "%s: %s: an empty, . or .. "
			    "component never matches a path", key, g);
	}
	return 0;
}

static int
is_walker(const char *plugin)
{
	size_t i;

	for (i = 0; i < sizeof(walkers) / sizeof(walkers[0]); i++)
		if (strcmp(plugin, walkers[i]) == 0)
			return 1;
	return 0;
}

/*
 * dest less its empty and "." components and trailing slashes, which
 * name nothing else; ".." is kept, as it may climb out of a link.
 */
static char *
dest_clean(const char *dest)
{
	char *s = xstrdup(dest), *out = xcalloc(strlen(dest) + 2, 1), *p,
	    *seg;

	if (*s == '/')
		strcpy(out, "/");
	for (p = s; (seg = strsep(&p, "/")) != NULL;) {
		if (*seg == '\0' || strcmp(seg, ".") == 0)
			continue;
		if (*out != '\0' && strcmp(out, "/") != 0)
			strcat(out, "/");
		strcat(out, seg);
	}
	free(s);
	return out;
}

/*
 * A mirror's destination given before, in this list or another key
 * (replica_destination): two mirrors of one tree into one place would
 * undo each other. 0, or -1 with the line and the fix.
 */
static int
check_destination(struct parser *p, struct wconf *w, int line,
    const char *key, const char *dest)
{
	char *clean, *other;
	size_t i;
	int same = 0;

	clean = dest_clean(dest);
	for (i = 0; !same && i < w->npopt; i++) {
		if (strcmp(w->popt[i].plugin, "mirror") != 0 ||
		    strncmp(w->popt[i].arg, "--destination=", 14) != 0)
			continue;
		other = dest_clean(w->popt[i].arg + 14);
		same = strcmp(clean, other) == 0;
		free(other);
	}
	free(clean);
	if (same)
		return fail(p, line, "%s: %s: listed twice; list each "
		    "destination once", key, dest);
	return 0;
}

/* X_key = value: --key=value for plugin X, a list split as it should be. */
static int
plugin_key(struct parser *p, struct wconf *w, const char *plugin,
    const char *key, struct raw *r)
{
	char *opt, **list, *c, *joined;
	size_t i, li, n, len;
	int rc = 0;

	/* Long options use hyphens: mirror_dry_run → --dry-run */
	opt = xstrdup(key);
	for (c = opt; *c != '\0'; c++)
		if (*c == '_')
			*c = '-';
	for (li = 0; li < sizeof(list_keys) / sizeof(list_keys[0]); li++)
		if ((list_keys[li].plugin == NULL ||
		    strcmp(list_keys[li].plugin, plugin) == 0) &&
		    strcmp(list_keys[li].key, opt) == 0)
			break;
	if (li == sizeof(list_keys) / sizeof(list_keys[0])) {
		add_popt(w, plugin, xasprintf("--%s=%s", opt, r->val),
		    r->line);
		free(opt);
		return 0;
	}
	n = split_list(r->val, &list);
	if (n == 0)
		rc = fail(p, r->line, "%s: an empty list", r->key);
	for (i = 0, len = 0; rc == 0 && i < n; i++) {
		if (strcmp(opt, "exclude") == 0)
			rc = check_glob(p, r->line, r->key, list[i], w->path);
		len += strlen(list[i]) + 1;
	}
	if (rc == 0 && list_keys[li].repeat) {
		for (i = 0; i < n; i++) {
			if (strcmp(opt, "destination") == 0 &&
			    (rc = check_destination(p, w, r->line, r->key,
			    list[i])) == -1)
				break;
			add_popt(w, plugin, xasprintf("--%s=%s", opt,
			    list[i]), r->line);
		}
	} else if (rc == 0) {
		joined = xcalloc(len + 1, 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				strlcat(joined, ",", len + 1);
			strlcat(joined, list[i], len + 1);
		}
		add_popt(w, plugin, xasprintf("--%s=%s", opt, joined),
		    r->line);
		free(joined);
	}
	free(list);
	free(opt);
	return rc;
}

/*
 * A watch with no events key: every change, no pure read (OPEN,
 * ACCESS, CLOSE_NOWRITE). A plugin that reads the tree (a mirror's
 * copies, an exec's commands) would otherwise be told of its own
 * reads and its siblings' on every backend that cannot tell who read:
 * inotify has no pid. events = all asks for them.
 */
#define DEFAULT_EVENTS	"modify,attrib,close_write,moved_from,moved_to," \
	"create,delete,delete_self,move_self"

/* The subsection ended: check it and turn its keys into arguments. */
static int
end_watch(struct parser *p)
{
	struct wconf *w = p->w;
	char **list, *c;
	size_t i, j, k, n;
	int64_t ms;
	int b, events = 0;

	if (w == NULL)
		return 0;
	p->w = NULL;
	/* iObserver's own test config has such watches: not an error. */
	if (p->plugins_line == 0)
		warning(p, w->line, "[[%s]]: no plugins; nothing runs for it "
		    "(add plugins = scribe, for one)", w->path);
	w->plugins_line = p->plugins_line ? p->plugins_line : w->line;
	for (i = 0; i < p->nplugins; i++) {
		const char *name = canonical(p->plugins[i]);

		if (!valid_name(p->plugins[i]))
			return fail(p, p->plugins_line, "plugin \"%s\": not a "
			    "plugin name", p->plugins[i]);
		for (j = 0; j < w->nplugin; j++)
			if (strcmp(w->plugin[j].name, name) == 0)
				return fail(p, p->plugins_line, "plugin %s: "
				    "listed twice%s", name,
				    strcmp(name, "mirror") == 0 ? "; a mirror "
				    "to several destinations is one, with "
				    "mirror_destination = DEST, DEST" : "");
		w->plugin = xreallocarray(w->plugin, w->nplugin + 1,
		    sizeof(*w->plugin));
		w->plugin[w->nplugin].name = xstrdup(name);
		w->plugin[w->nplugin].exe = NULL;
		w->nplugin++;
		if (find_plugin(p, name, p->plugins_line,
		    &w->plugin[w->nplugin - 1].exe) == -1)
			return -1;
	}
	for (i = 0; i < p->nraw; i++) {
		struct raw *r = &p->raw[i];
		const char *plugin, *rest;

		if (strcmp(r->key, "exclude") == 0) {
			n = split_list(r->val, &list);
			for (j = 0; j < n; j++) {
				if (check_glob(p, r->line, r->key, list[j],
				    w->path) == -1) {
					free(list);
					return -1;
				}
				add_warg(w, r->line, "--exclude-glob=%s",
				    list[j]);
				for (k = 0; k < w->nplugin; k++)
					if (is_walker(w->plugin[k].name))
						add_popt(w, w->plugin[k].name,
						    xasprintf("--exclude=%s",
						    list[j]), r->line);
			}
			free(list);
		} else if (strcmp(r->key, "exclude_from") == 0) {
			n = split_list(r->val, &list);
			if (n == 0)
				return fail(p, r->line, "exclude_from: an "
				    "empty list");
			for (j = 0; j < n; j++) {
				if (list[j][0] != '/' ||
				    access(list[j], R_OK) == -1) {
					fail(p, r->line, "exclude_from: %s: %s",
					    list[j], list[j][0] != '/' ?
					    "not an absolute path" :
					    strerror(errno));
					free(list);
					return -1;
				}
				add_warg(w, r->line, "--exclude-from=%s",
				    list[j]);
				gitignore_mirrors(w, r->line,
				    xasprintf("--exclude-from=%s", list[j]));
			}
			free(list);
		} else if (strcmp(r->key, "gitignore") == 0) {
			if ((b = iobs_bool(r->val)) == -1)
				return fail(p, r->line, "gitignore: %s: not "
				    "yes or no", r->val);
			if (b) {
				add_warg(w, r->line, "%s", "--gitignore");
				gitignore_mirrors(w, r->line,
				    xstrdup("--gitignore"));
			}
		} else if (strcmp(r->key, "events") == 0) {
			events = 1;
			n = split_list(r->val, &list);
			for (j = 0; j < n; j++) {
				for (c = list[j]; *c; c++)
					if (!isalpha((unsigned char)*c) &&
					    *c != '_') {
						fail(p, r->line, "events: %s: "
						    "not an event name",
						    list[j]);
						free(list);
						return -1;
					}
				add_warg(w, r->line, "--event=%s", list[j]);
			}
			free(list);
		} else if (strcmp(r->key, "recursive") == 0) {
			if ((b = iobs_bool(r->val)) == -1)
				return fail(p, r->line, "recursive: %s: not "
				    "yes or no", r->val);
			if (!b)
				add_warg(w, r->line, "%s", "--no-recursive");
		} else if (strcmp(r->key, "buffer") == 0) {
			n = strspn(r->val, "0123456789");
			if (n == 0 || (r->val[n] != '\0' &&
			    (strchr("kKmMgG", r->val[n]) == NULL ||
			    r->val[n + 1] != '\0')))
				return fail(p, r->line, "buffer: %s: not a "
				    "size (try 64M)", r->val);
			add_warg(w, r->line, "--buffer=%s", r->val);
		} else if (strcmp(r->key, "backend") == 0) {
			if (strcmp(r->val, "auto") != 0 &&
			    strcmp(r->val, "inotify") != 0 &&
			    strcmp(r->val, "fanotify") != 0 &&
			    strcmp(r->val, "poll") != 0)
				return fail(p, r->line, "backend: %s: not auto, "
				    "inotify, fanotify or poll", r->val);
			add_warg(w, r->line, "--backend=%s", r->val);
		} else if (strcmp(r->key, "interval") == 0) {
			if (parse_seconds(r->val, 10, 86400000, &ms) == -1)
				return fail(p, r->line, "interval: %s: not a "
				    "time in seconds from 0.01", r->val);
			add_warg(w, r->line, "--interval=%s", r->val);
		} else if ((plugin = key_plugin(p, r->key, &rest)) != NULL) {
			if (plugin_key(p, w, plugin, rest, r) == -1)
				return -1;
		} else if (strchr(r->key, '_') != NULL)
			return fail(p, r->line, "%s: no plugin of this watch "
			    "is called %.*s", r->key,
			    (int)(strchr(r->key, '_') - r->key), r->key);
		else
			return fail(p, r->line, "%s: unknown key", r->key);
	}
	if (!events)
		add_warg(w, w->line, "%s", "--event=" DEFAULT_EVENTS);
	return 0;
}

static void
clear_watch_keys(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->nraw; i++) {
		free(p->raw[i].key);
		free(p->raw[i].val);
	}
	free(p->raw);
	p->raw = NULL;
	p->nraw = 0;
	for (i = 0; i < p->nplugins; i++)
		free(p->plugins[i]);
	free(p->plugins);
	p->plugins = NULL;
	p->nplugins = 0;
	p->plugins_line = 0;
}

static int
global_key(struct parser *p, const char *key, const char *val)
{
	static const struct {
		const char	*key;
		size_t		 off;
		int64_t		 min, max;
	} times[] = {
		{ "restart_delay", offsetof(struct config, restart_delay),
		  100, 3600000 },
		{ "restart_delay_max", offsetof(struct config,
		  restart_delay_max), 100, 3600000 },
		{ "restart_reset", offsetof(struct config, restart_reset),
		  0, 3600000 },
		{ "fail_window", offsetof(struct config, fail_window),
		  0, 86400000 },
		{ "stop_timeout", offsetof(struct config, stop_timeout),
		  100, 3600000 },
	};
	struct config *c = p->c;
	const char *errstr;
	size_t i;
	int b;

	if (strcmp(key, "watch_config") == 0 ||
	    strcmp(key, "watch_plugins") == 0) {
		if ((b = iobs_bool(val)) == -1)
			return fail(p, p->line, "%s: %s: not yes or no", key,
			    val);
		*(key[6] == 'c' ? &c->watch_config : &c->watch_plugins) = b;
		return 0;
	}
	if (strcmp(key, "plugin_dir") == 0 || strcmp(key, "state_dir") == 0) {
		char **dst = key[0] == 'p' ? &c->plugin_dir : &c->state_dir;

		if (*val == '\0')
			return fail(p, p->line, "%s: empty", key);
		if (key[0] == 'p' && p->plugin_dir_opt != NULL)
			return 0;
		free(*dst);
		*dst = iobs_path_absolute(c->dir, val);
		return 0;
	}
	if (strcmp(key, "fail_limit") == 0) {
		c->fail_limit = strtonum(val, 1, FAIL_MAX, &errstr);
		if (errstr != NULL)
			return fail(p, p->line, "fail_limit: %s: %s (1 to %d)",
			    val, errstr, FAIL_MAX);
		return 0;
	}
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		if (strcmp(key, times[i].key) == 0) {
			if (parse_seconds(val, times[i].min, times[i].max,
			    (int64_t *)((char *)c + times[i].off)) == -1)
				return fail(p, p->line, "%s: %s: not a time "
				    "in seconds from %g to %g", key, val,
				    times[i].min / 1000.0,
				    times[i].max / 1000.0);
			return 0;
		}
	return fail(p, p->line, "%s: unknown key in [global]", key);
}

static int
watch_key(struct parser *p, const char *key, char *val)
{
	char **list;
	size_t i, n;

	if (strcmp(key, "plugins") == 0) {
		n = split_list(val, &list);
		if (n == 0)
			return fail(p, p->line, "plugins: empty");
		p->plugins = xcalloc(n, sizeof(char *));
		for (i = 0; i < n; i++)
			p->plugins[i] = xstrdup(list[i]);
		p->nplugins = n;
		p->plugins_line = p->line;
		free(list);
		return 0;
	}
	p->raw = xreallocarray(p->raw, p->nraw + 1, sizeof(*p->raw));
	p->raw[p->nraw].key = xstrdup(key);
	p->raw[p->nraw].val = xstrdup(val);
	p->raw[p->nraw].line = p->line;
	p->nraw++;
	return 0;
}

enum section { SEC_NONE, S_GLOBAL, S_WATCHES, S_WATCH };

static int
section_line(struct parser *p, char *s, enum section *sec)
{
	struct wconf *w;
	struct stat st;
	size_t len = strlen(s), i;
	char *name;

	if (end_watch(p) == -1)
		return -1;
	clear_watch_keys(p);
	p->nseen = 0;
	if (len >= 4 && s[1] == '[') {
		if (s[len - 2] != ']' || s[len - 1] != ']')
			return fail(p, p->line, "%s: missing ]]", s);
		s[len - 2] = '\0';
		name = unquote(trim(s + 2));
		if (*sec != S_WATCHES && *sec != S_WATCH)
			return fail(p, p->line, "[[%s]]: outside [watches]",
			    name);
		if (*name == '\0')
			return fail(p, p->line, "[[]]: empty path");
		p->c->watch = xreallocarray(p->c->watch, p->c->nwatch + 1,
		    sizeof(*p->c->watch));
		w = &p->c->watch[p->c->nwatch];
		memset(w, 0, sizeof(*w));
		w->path = iobs_path_absolute(p->c->dir, name);
		w->line = p->line;
		p->c->nwatch++;
		for (i = 0; i + 1 < p->c->nwatch; i++)
			if (strcmp(p->c->watch[i].path, w->path) == 0)
				return fail(p, p->line, "[[%s]]: watched "
				    "already, at line %d; give that one the "
				    "plugins (a mirror to several destinations: "
				    "mirror_destination = DEST, DEST)", name,
				    p->c->watch[i].line);
		if (stat(w->path, &st) == -1)
			warning(p, p->line, "%s: %s; watched once it exists",
			    w->path, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			warning(p, p->line, "%s: not a directory", w->path);
		p->w = w;
		*sec = S_WATCH;
		return 0;
	}
	if (s[len - 1] != ']')
		return fail(p, p->line, "%s: missing ]", s);
	s[len - 1] = '\0';
	name = trim(s + 1);
	if (strcmp(name, "global") == 0)
		*sec = S_GLOBAL;
	else if (strcmp(name, "watches") == 0)
		*sec = S_WATCHES;
	else
		return fail(p, p->line, "[%s]: unknown section (global or "
		    "watches)", name);
	return 0;
}

static int
parse_line(struct parser *p, char *s, enum section *sec)
{
	char *key, *val, *eq;
	int i;

	s = trim(s);
	if (*s == '\0')
		return 0;
	if (*s == '[')
		return section_line(p, s, sec);
	if ((eq = strchr(s, '=')) == NULL)
		return fail(p, p->line, "%s: not key = value", s);
	*eq = '\0';
	key = trim(s);
	val = unquote(trim(eq + 1));
	if (*key == '\0')
		return fail(p, p->line, "= %s: no key", val);
	for (i = 0; i < p->nseen; i++)
		if (strcmp(p->seen[i], key) == 0)
			return fail(p, p->line, "%s: given twice", key);
	if (p->nseen < 16 && strlen(key) < sizeof(p->seen[0]))
		strcpy(p->seen[p->nseen++], key);
	switch (*sec) {
	case S_GLOBAL:
		return global_key(p, key, val);
	case S_WATCH:
		return watch_key(p, key, val);
	case S_WATCHES:
		return fail(p, p->line, "%s: key outside a [[PATH]] "
		    "subsection", key);
	default:
		return fail(p, p->line, "%s: key outside a section", key);
	}
}

/* A line after an error: only [global]'s state_dir is looked for. */
static void
salvage_state_dir(struct config *c, char *s, enum section *sec)
{
	char *eq, *val;

	s = trim(s);
	if (*s == '[') {
		s[strcspn(s, "]")] = '\0';
		*sec = strcmp(trim(s + 1), "global") == 0 ? S_GLOBAL :
		    SEC_NONE;
		return;
	}
	if (*sec != S_GLOBAL || (eq = strchr(s, '=')) == NULL)
		return;
	*eq = '\0';
	val = unquote(trim(eq + 1));
	if (strcmp(trim(s), "state_dir") == 0 && *val != '\0')
		c->state_dir = iobs_path_absolute(c->dir, val);
}

static void
defaults(struct config *c, const char *file)
{
	char cwd[PATH_MAX], *slash, *abs;

	memset(c, 0, sizeof(*c));
	c->file = xstrdup(file);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, "/");
	abs = iobs_path_absolute(cwd, file);
	slash = strrchr(abs, '/');
	c->name = xstrdup(slash + 1);
	*slash = '\0';
	c->dir = xstrdup(abs[0] ? abs : "/");
	free(abs);
	c->restart_delay = 1000;
	c->restart_delay_max = 60000;
	c->restart_reset = 10000;
	c->fail_limit = 10;
	c->fail_window = 300000;
	c->stop_timeout = 10000;
}

int
config_parse(FILE *f, const char *file, const char *plugin_dir,
    struct config *c, char *err, size_t errlen, char **warn)
{
	struct parser p;
	enum section sec = SEC_NONE;
	size_t lineno = 0, len;
	char *line, cwd[PATH_MAX];
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	p.warn = warn;
	p.c = c;
	p.plugin_dir_opt = plugin_dir;
	defaults(c, file);
	if (plugin_dir != NULL) {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			strcpy(cwd, "/");
		c->plugin_dir = iobs_path_absolute(cwd, plugin_dir);
	}
	while (rc == 0 && (line = fparseln(f, &len, &lineno, NULL,
	    FPARSELN_UNESCALL)) != NULL) {
		p.line = lineno;
		rc = parse_line(&p, line, &sec);
		free(line);
	}
	/* Past an error: status finds the running supervisor by this. */
	while (rc == -1 && c->state_dir == NULL && (line = fparseln(f, &len,
	    &lineno, NULL, FPARSELN_UNESCALL)) != NULL) {
		salvage_state_dir(c, line, &sec);
		free(line);
	}
	if (rc == 0 && ferror(f))
		rc = fail(&p, lineno, "%s", strerror(errno));
	if (rc == 0) {
		p.line = lineno;
		rc = end_watch(&p);
	}
	if (rc == 0 && c->restart_delay_max < c->restart_delay)
		rc = fail(&p, lineno, "restart_delay_max is less than "
		    "restart_delay");
	clear_watch_keys(&p);
	if (rc == -1) {
		/* Kept: status finds the running supervisor by it. */
		char *state_dir = c->state_dir;

		c->state_dir = NULL;
		config_free(c);
		c->state_dir = state_dir;
	}
	return rc;
}

int
config_load(const char *file, const char *plugin_dir, struct config *c,
    char *err, size_t errlen, char **warn)
{
	FILE *f;
	int rc;

	if ((f = fopen(file, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		memset(c, 0, sizeof(*c));
		return -1;
	}
	rc = config_parse(f, file, plugin_dir, c, err, errlen, warn);
	fclose(f);
	return rc;
}

void
config_free(struct config *c)
{
	size_t i, j;

	for (i = 0; i < c->nwatch; i++) {
		struct wconf *w = &c->watch[i];

		free(w->path);
		for (j = 0; j < w->nplugin; j++) {
			free(w->plugin[j].name);
			free(w->plugin[j].exe);
		}
		free(w->plugin);
		for (j = 0; j < w->nwargv; j++)
			free(w->wargv[j]);
		free(w->wargv);
		free(w->wline);
		for (j = 0; j < w->npopt; j++) {
			free(w->popt[j].plugin);
			free(w->popt[j].arg);
		}
		free(w->popt);
	}
	free(c->watch);
	free(c->file);
	free(c->dir);
	free(c->name);
	free(c->plugin_dir);
	free(c->state_dir);
	memset(c, 0, sizeof(*c));
}

char *
config_plugin_options(const struct wconf *w, const char *plugin)
{
	size_t i, len = 0;
	char *s;

	for (i = 0; i < w->npopt; i++)
		if (strcmp(w->popt[i].plugin, plugin) == 0)
			len += strlen(w->popt[i].arg) + 1;
	s = xcalloc(len + 1, 1);
	for (i = 0; i < w->npopt; i++)
		if (strcmp(w->popt[i].plugin, plugin) == 0) {
			strcat(s, w->popt[i].arg);
			strcat(s, "\n");
		}
	return s;
}

size_t
config_mirror_dests(const char *plugin, const char *opts)
{
	static const char opt[] = "--destination=";
	const char *p;
	size_t n = 0;

	if (strcmp(plugin, "mirror") != 0)
		return 0;
	for (p = opts; (p = strstr(p, opt)) != NULL; p += sizeof(opt) - 1)
		if (p == opts || p[-1] == '\n')
			n++;
	return n;
}
