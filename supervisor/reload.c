/*
 * Live reload: raw inotify on the config file's directory (so a file
 * renamed over the config is seen as well as one written in place)
 * and on plugin_dir; then the new config is compared with the running
 * pipelines, and only what differs is touched.
 */
#define _GNU_SOURCE
#include <sys/inotify.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"

/* Settle time: an editor's save is several events. */
#define SETTLE_MS	50

#define CONF_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO)
#define PLUGIN_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB)

/*
 * New watches are added before old ones go, and a directory watched
 * already keeps its watch (the kernel hands back the same wd), so no
 * save is missed while a reload moves them.
 */
void
reload_watch(struct super *s)
{
	const struct config *c = &s->conf;
	int oc = s->cwd_wd, op = s->pwd_wd, same;

	same = c->watch_config && c->watch_plugins && c->plugin_dir != NULL &&
	    strcmp(c->dir, c->plugin_dir) == 0;
	s->cwd_wd = s->pwd_wd = -1;
	if (c->watch_config &&
	    (s->cwd_wd = inotify_add_watch(s->ifd, c->dir, CONF_MASK |
	    (same ? PLUGIN_MASK : 0))) == -1)
		warn("%s: cannot watch for config changes (SIGHUP still "
		    "reloads)", c->dir);
	if (same)
		s->pwd_wd = s->cwd_wd;
	else if (c->watch_plugins && c->plugin_dir != NULL &&
	    (s->pwd_wd = inotify_add_watch(s->ifd, c->plugin_dir,
	    PLUGIN_MASK)) == -1)
		warn("%s: cannot watch for plugin changes", c->plugin_dir);
	if (oc != -1 && oc != s->cwd_wd && oc != s->pwd_wd)
		inotify_rm_watch(s->ifd, oc);
	if (op != -1 && op != oc && op != s->cwd_wd && op != s->pwd_wd)
		inotify_rm_watch(s->ifd, op);
}

static void
plugin_changed(struct super *s, const char *name)
{
	size_t len = s->changed_plugins ? strlen(s->changed_plugins) : 0;
	char *p;

	if ((p = realloc(s->changed_plugins, len + strlen(name) + 3)) == NULL)
		err(1, "realloc");
	if (len == 0)
		p[0] = '\0';
	strcat(p, " ");
	strcat(p, name);
	strcat(p, " ");
	s->changed_plugins = p;
}

void
reload_event(struct super *s)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	while ((n = read(s->ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_IGNORED) {
				if (ev->wd == s->cwd_wd)
					s->cwd_wd = -1;
				if (ev->wd == s->pwd_wd)
					s->pwd_wd = -1;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->wd == s->cwd_wd && (ev->mask & CONF_MASK) &&
			    strcmp(ev->name, s->conf.name) == 0)
				s->reload_at = now_ms() + SETTLE_MS;
			if (ev->wd == s->pwd_wd &&
			    strncmp(ev->name, "iobs-", 5) == 0) {
				plugin_changed(s, ev->name + 5);
				s->reload_at = now_ms() + SETTLE_MS;
			}
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		err(1, "inotify read");
}

static int
argv_equal(char **a, size_t na, char **b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static const struct wconf *
find_watch(const struct config *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->nwatch; i++)
		if (strcmp(c->watch[i].path, path) == 0)
			return &c->watch[i];
	return NULL;
}

static const struct plugin *
find_plugin(const struct wconf *w, const char *name)
{
	size_t i;

	for (i = 0; w != NULL && i < w->nplugin; i++)
		if (strcmp(w->plugin[i].name, name) == 0)
			return &w->plugin[i];
	return NULL;
}

static int
plugin_was_changed(struct super *s, const char *name)
{
	char pat[NAME_MAX + 3];

	if (s->changed_plugins == NULL)
		return 0;
	snprintf(pat, sizeof(pat), " %s ", name);
	return strstr(s->changed_plugins, pat) != NULL;
}

/* Gives p the new config, for its next start. */
static void
take_config(struct pipeline *p, const struct wconf *w,
    const struct plugin *pl)
{
	size_t i;

	free(p->exe);
	if ((p->exe = strdup(pl->exe)) == NULL)
		err(1, "strdup");
	for (i = 0; i < p->nwargv; i++)
		free(p->wargv[i]);
	free(p->wargv);
	if ((p->wargv = calloc(w->nwargv + 1, sizeof(char *))) == NULL)
		err(1, "calloc");
	for (i = 0; i < w->nwargv; i++)
		if ((p->wargv[i] = strdup(w->wargv[i])) == NULL)
			err(1, "strdup");
	p->nwargv = w->nwargv;
	free(p->opts);
	p->opts = config_plugin_options(w, pl->name);
}

static void
apply(struct super *s, struct config *nc, int hup)
{
	struct pipeline *p, *next;
	const struct wconf *w;
	const struct plugin *pl;
	char *opts, *key;
	size_t i, j;

	for (p = s->pipes; p != NULL; p = next) {
		next = p->next;
		w = find_watch(nc, p->path);
		if ((pl = find_plugin(w, p->plugin)) == NULL) {
			if (p->state != S_DOWN && p->state != S_FAILED)
				warnx("%s %s: no longer in the config; "
				    "stopping", p->path, p->plugin);
			pipeline_event(s, p, E_REMOVE);
			continue;
		}
		opts = config_plugin_options(w, pl->name);
		/* One mirror to one is no front: several are a restart. */
		if (!p->front && config_mirror_dests(p->plugin, opts) > 1) {
			take_config(p, w, pl);
			warnx("%s %s: one destination to several; restarting",
			    p->path, p->plugin);
			pipeline_event(s, p, E_RESTART);
		} else if (strcmp(p->exe, pl->exe) != 0 ||
		    !argv_equal(p->wargv, p->nwargv, w->wargv, w->nwargv) ||
		    plugin_was_changed(s, p->plugin) ||
		    p->state == S_FAILED || p->state == S_FAILING ||
		    p->state == S_REMOVING) {
			take_config(p, w, pl);
			warnx("%s %s: config or plugin changed; restarting",
			    p->path, p->plugin);
			pipeline_event(s, p, E_RESTART);
		} else if (strcmp(opts, p->opts) != 0) {
			/* Cache first, then WATCH_RECONFIG: no restart. */
			free(p->opts);
			p->opts = opts;
			opts = NULL;
			status_save(s, p);
			warnx("%s %s: options changed; sending WATCH_RECONFIG",
			    p->path, p->plugin);
			pipeline_event(s, p, E_HUP);
		} else if (hup)
			pipeline_event(s, p, E_HUP);
		free(opts);
	}
	for (i = 0; i < nc->nwatch; i++) {
		w = &nc->watch[i];
		for (j = 0; j < w->nplugin; j++) {
			for (p = s->pipes; p != NULL; p = p->next)
				if (strcmp(p->path, w->path) == 0 &&
				    strcmp(p->plugin, w->plugin[j].name) == 0)
					break;
			if (p == NULL)
				pipeline_add(s, w, &w->plugin[j]);
		}
	}
	for (i = 0; i < s->conf.nwatch; i++)
		if (find_watch(nc, s->conf.watch[i].path) == NULL &&
		    s->cache != NULL) {
			if (asprintf(&key, "watch%s", s->conf.watch[i].path)
			    == -1)
				err(1, "asprintf");
			iobs_cache_del(s->cache, key);
			free(key);
		}
	for (i = 0; i < nc->nwatch; i++)
		status_watch(s, &nc->watch[i]);
}

/*
 * Reads the config again and applies what changed. With hup (SIGHUP),
 * every pipeline also reopens its logs, a changed config or not, as
 * logrotate needs; a config with an error still does that.
 */
void
reload_apply(struct super *s, int hup)
{
	struct pipeline *p;
	struct config nc;
	char errbuf[PATH_MAX + 256], *warns = NULL;

	s->reload_at = 0;
	if (s->stopping)
		return;
	notify_reloading(s);
	/* A config not read (not trusted) is nothing to free. */
	memset(&nc, 0, sizeof(nc));
	if (config_trust(s, NULL, errbuf, sizeof(errbuf)) == -1 ||
	    config_load(s->conf_file, s->plugin_dir_opt, &nc, errbuf,
	    sizeof(errbuf), &warns) == -1 ||
	    config_trust(s, &nc, errbuf, sizeof(errbuf)) == -1 ||
	    config_check(&nc, errbuf, sizeof(errbuf), &warns) == -1) {
		config_free(&nc);
		warnx("%s; keeping the running config", errbuf);
		status_supervisor(s, errbuf);
		for (p = s->pipes; hup && p != NULL; p = p->next)
			pipeline_event(s, p, E_HUP);
		free(warns);
		free(s->changed_plugins);
		s->changed_plugins = NULL;
		return;
	}
	free(warns);
	status_supervisor(s, NULL);
	if ((nc.state_dir == NULL) != (s->conf.state_dir == NULL) ||
	    (nc.state_dir != NULL &&
	    strcmp(nc.state_dir, s->conf.state_dir) != 0))
		warnx("%s: state_dir changes when iobs-supervise restarts",
		    s->conf_file);
	apply(s, &nc, hup);
	free(s->changed_plugins);
	s->changed_plugins = NULL;
	config_free(&s->conf);
	s->conf = nc;
	reload_watch(s);
}
