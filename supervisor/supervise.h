/*
 * State of iobs-supervise, shared by its files: the parsed config, the
 * pipelines (one iobs-watch feeding one plugin, in a process group of
 * their own) and the supervisor that runs them.
 */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>

#include "cache.h"
#include "clock.h"

/* A plugin option, X_key = value, as it reaches plugin X. */
struct popt {
	char		*plugin;	/* canonical name: mirror, not replica */
	char		*arg;		/* --key=value */
	int		 line;
};

struct plugin {
	char		*name;		/* canonical name */
	char		*exe;		/* resolved executable */
};

/* One [[PATH]] subsection. */
struct wconf {
	char		*path;		/* absolute */
	int		 line;
	struct plugin	*plugin;
	size_t		 nplugin;
	char		**wargv;	/* watch-level options for iobs-watch */
	int		*wline;		/* the line of each */
	size_t		 nwargv;
	int		 plugins_line;
	struct popt	*popt;
	size_t		 npopt;
};

struct config {
	char		*file;		/* as given */
	char		*dir;		/* its directory, absolute */
	char		*name;		/* its last component */
	int		 watch_config, watch_plugins;
	char		*plugin_dir;	/* NULL: none */
	char		*state_dir;	/* NULL: the default */
	/* Times in milliseconds. */
	int64_t		 restart_delay, restart_delay_max, restart_reset;
	int64_t		 fail_window, stop_timeout;
	int		 fail_limit;
	struct wconf	*watch;
	size_t		 nwatch;
};

/* config.c */
/*
 * Parses the config in f (named file, for messages; plugin_dir
 * overrides the file's plugin_dir when not NULL). Returns 0, or -1
 * with one line "FILE:LINE: what is wrong" in err, and only the
 * state_dir read before it left for config_free(). Missing watch paths
 * are not errors; they are appended to warn, one line each.
 */
int	 config_parse(FILE *f, const char *file, const char *plugin_dir,
	    struct config *, char *err, size_t errlen, char **warn);
int	 config_load(const char *file, const char *plugin_dir,
	    struct config *, char *err, size_t errlen, char **warn);
void	 config_free(struct config *);
/* The argv options of plugin p in watch w, joined by newlines. */
char	*config_plugin_options(const struct wconf *, const char *plugin);
/*
 * How many destinations those options give a mirror; 0 for another
 * plugin. A mirror started with several is a front, which takes any
 * number on WATCH_RECONFIG; one started with one refuses several.
 */
size_t	 config_mirror_dests(const char *plugin, const char *opts);
const char *self_dir(void);
size_t	 tool_dirs(const char *dirs[3]);
int	 tool_path(const char *name, char *path, size_t len);

/*
 * check.c: asks each tool of the config, "iobs-NAME --check OPTIONS",
 * whether it takes its options. Returns 0, or -1 with "FILE:LINE: the
 * tool's line" in err; tools that cannot answer add a line to warn.
 */
int	 config_check(const struct config *, char *err, size_t errlen,
	    char **warn);
struct super;
/*
 * check.c: whether root (or whoever runs it) controls what the config
 * makes it read and run: the config file, and with c its plugin_dir,
 * plugins and state_dir. Returns 0, or -1 with one line in err.
 */
int	 config_trust(const struct super *, const struct config *c,
	    char *err, size_t errlen);
/* check.c: the environment every child runs with, set once at start. */
void	 environ_clean(void);

/* A pipeline's life: see the table in pipeline.c. */
enum pstate {
	S_NONE,		/* in the table: the event is ignored */
	S_DOWN,		/* waiting for its start time (or its path) */
	S_STARTING,	/* started; its watcher is not watching yet */
	S_UP,		/* the watcher has written its WATCH_INIT */
	S_STOPPING,	/* a member exited: stopping, then back-off */
	S_FAILING,	/* a member exited 2: stopping, then failed */
	S_RESTARTING,	/* new config: stopping, then start at once */
	S_REMOVING,	/* gone from the config, or shutting down */
	S_FAILED,	/* left down until a reload or a restart */
	S_NSTATES
};

enum pevent {
	E_START,	/* its start time came */
	E_READY,	/* the watcher's ready line */
	E_EXIT,		/* a member exited on its own */
	E_FATAL,	/* a member exited 2: its usage or config is wrong */
	E_GONE,		/* every member reaped, the group empty */
	E_HUP,		/* reopen logs, read options again */
	E_RESTART,	/* new config, or the restart command */
	E_REMOVE,	/* out of the config, or shutting down */
	E_DEADLINE,	/* the next step of a stop is due */
	E_NEVENTS
};

#define FAIL_MAX	64
/* A line of iobs-watch --ignore-fd: 256 process groups at most. */
#define IGNORE_TELL_MAX	(256 * 12)

struct pipeline {
	struct pipeline	*next;
	char		*path;
	char		*plugin;
	char		*exe;
	char		**wargv;	/* watch-level options */
	size_t		 nwargv;
	char		*opts;		/* plugin options, newline-separated */
	enum pstate	 state;
	pid_t		 wpid, ppid, pgid;	/* watcher, plugin; 0 if reaped */
	int		 errfd, readyfd, statsfd;
	int		 ignfd;		/* the watcher's --ignore-fd */
	int		 ign_owed;	/* its pipe was full: tell again */
	unsigned long long events;	/* the watcher's, from --stats-fd */
	char		 last_event[32];	/* its time, as it wrote it */
	char		 errbuf[1024];
	size_t		 errlen;
	char		 lasterr[256];	/* the last line on stderr */
	int		 hup_pending;	/* a HUP while STARTING */
	int		 waiting;	/* path missing, reported once */
	int		 front;		/* a mirror started with several DESTs */
	int64_t		 deadline;	/* start (DOWN) or next stop step */
	int		 stop_stage;	/* 0 watcher TERMed, 1 group, 2 KILL */
	int64_t		 started;	/* monotonic ms of the last start */
	int64_t		 since;		/* wall-clock seconds, for status */
	int64_t		 delay;		/* next back-off */
	int64_t		 fails[FAIL_MAX];	/* times of the last failures */
	int		 nfails;
	unsigned	 restarts;
	char		 last[448];	/* the last exit, as words */
	int		 last_rank;	/* of that exit: see exit_rank() */
};

struct super {
	struct config	 conf;
	const char	*conf_file;
	const char	*plugin_dir_opt;
	int		 insecure;	/* --insecure-files: no config_trust() */
	char		*state_dir;
	char		*cache_dir;
	struct iobs_cache *cache;
	struct pipeline	*pipes;
	int		 sfd;		/* signalfd */
	int		 ifd;		/* inotify: config and plugin dirs */
	int		 cwd_wd, pwd_wd;
	int64_t		 reload_at;	/* debounced reload; 0: none */
	char		*changed_plugins;	/* names, space-separated */
	int		 stopping;	/* shutting down */
	long long	 since;		/* wall-clock seconds of the start */
	int		 notified_ready;	/* READY=1 sent since start/reload */
	char		 notified_status[1024];
	char		 notified_remotes[768];	/* "; DEST STATE, N waiting" */
	int64_t		 notified_at;	/* ms: remotes' backlogs read */
};

/* pipeline.c */
void	 pipeline_add(struct super *, const struct wconf *,
	    const struct plugin *);
int	 pipeline_event(struct super *, struct pipeline *, enum pevent);
void	 pipeline_reaped(struct super *, pid_t, int status);
void	 pipeline_tick(struct super *, int64_t now);
void	 pipeline_read_err(struct super *, struct pipeline *);
void	 pipeline_read_ready(struct super *, struct pipeline *);
void	 pipeline_read_stats(struct super *, struct pipeline *);
void	 pipeline_free(struct pipeline *);
int64_t	 pipeline_next_deadline(struct super *);

/* status.c */
void	 status_save(struct super *, struct pipeline *);
void	 status_forget(struct super *, struct pipeline *);
void	 status_forget_dests(struct super *, struct pipeline *);
void	 status_watch(struct super *, const struct wconf *);
void	 status_supervisor(struct super *, const char *conf_err);
int	 status_print(struct iobs_cache *, int json, const char *conf_err);
void	 status_remotes(struct iobs_cache *, char *buf, size_t len);
int	 restart_command(struct iobs_cache *, int argc, char **argv);
void	 restart_requests(struct super *);
char	*options_key(const char *plugin, const char *path);

/* reload.c */
void	 reload_watch(struct super *);
void	 reload_event(struct super *);
void	 reload_apply(struct super *, int hup);

/* notify.c */
void	 notify_init(void);
void	 notify_reloading(struct super *);
void	 notify_stopping(struct super *);
void	 notify_update(struct super *);
int64_t	 notify_next(struct super *);

/* cachecmd.c */
int	 cache_command(struct iobs_cache *, int argc, char **argv);

#endif
