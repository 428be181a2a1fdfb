/*
 * Config truth: before a config is used (at -n, at start and at each
 * reload), every tool it would run is asked whether it takes the
 * options it would get, as "iobs-NAME --check OPTIONS". The contract
 * (iobs-supervise(8)): the tool parses them as at run time, reads no
 * input, and exits 0, or 2 with one line on standard error. Its first
 * line is reported as FILE:LINE of the key it names.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"
#include "trust.h"

/* Where children look for programs: iobs-supervise's own directory first. */
#define SAFE_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
	"/sbin:/bin"

/* A tool that has not answered by then does not do --check. */
#define CHECK_MS	5000

enum verdict { V_OK, V_REFUSED, V_UNKNOWN };

static void
child(const char *exe, int search, char **argv, const char *path,
    const char *plugin, int devnull, int errfd)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(devnull, 0) == -1 || dup2(devnull, 1) == -1 ||
	    dup2(errfd, 2) == -1)
		_exit(127);
	closefrom(3);
	unsetenv("IOBS_CACHE");
	unsetenv("IOBS_OPTIONS");
	if (setenv("IOBS_WATCH", path, 1) == -1 ||
	    setenv("IOBS_PLUGIN", plugin, 1) == -1)
		_exit(127);
	if (search)
		execvp(exe, argv);
	else
		execv(exe, argv);
	dprintf(2, "%s: cannot run: %s\n", exe, strerror(errno));
	_exit(127);
}

/* Runs argv; its first line on standard error goes to msg. */
static enum verdict
ask(const char *exe, int search, char **argv, const char *path,
    const char *plugin, char *msg, size_t msglen)
{
	char buf[2048], *nl;
	size_t len = 0;
	ssize_t n;
	struct pollfd pfd;
	int errp[2], devnull, status, done = 0;
	int64_t end = now_ms() + CHECK_MS;
	pid_t pid;

	msg[0] = '\0';
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    pipe2(errp, O_CLOEXEC | O_NONBLOCK) == -1)
		err(1, "pipe");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0)
		child(exe, search, argv, path, plugin, devnull, errp[1]);
	close(devnull);
	close(errp[1]);
	pfd.fd = errp[0];
	pfd.events = POLLIN;
	/* Until it exits: a stray child of its own may keep the pipe. */
	while (!done) {
		if (now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(errp[0]);
			snprintf(msg, msglen, "%s --check: no answer in %d s",
			    argv[0], CHECK_MS / 1000);
			return V_UNKNOWN;
		}
		(void)poll(&pfd, 1, 20);
		done = waitpid(pid, &status, WNOHANG) == pid;
		while (len < sizeof(buf) - 1 &&
		    (n = read(errp[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += n;
	}
	close(errp[0]);
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return V_OK;
	/* A tool that does not know the question says so by its name. */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2 &&
	    strstr(buf, "--check") == NULL) {
		strlcpy(msg, buf[0] ? buf : "refused its options (exit 2)",
		    msglen);
		return V_REFUSED;
	}
	buf[256] = '\0';	/* enough of it to say what it is */
	if (WIFEXITED(status))
		snprintf(msg, msglen, "%s --check: exited %d%s%.256s", argv[0],
		    WEXITSTATUS(status), buf[0] ? ": " : "", buf);
	else
		snprintf(msg, msglen, "%s --check: killed by signal %d",
		    argv[0], WTERMSIG(status));
	return V_UNKNOWN;
}

/* The line of the option msg names, by its key or its value. */
static int
line_of(const char *msg, char **args, const int *lines, size_t n,
    int fallback)
{
	const char *eq;
	char key[256];
	size_t i, k;

	for (i = 0; i < n; i++) {
		if ((eq = strchr(args[i], '=')) == NULL)
			eq = args[i] + strlen(args[i]);
		k = eq - args[i];
		if (k >= sizeof(key))
			k = sizeof(key) - 1;
		memcpy(key, args[i], k);
		key[k] = '\0';
		if (strstr(msg, key) != NULL ||
		    (eq[0] == '=' && eq[1] != '\0' && strstr(msg, eq + 1)))
			return lines[i];
	}
	return fallback;
}

static int
report(const struct config *c, enum verdict v, int line, const char *msg,
    char *errbuf, size_t errlen, char **warns)
{
	char *w;

	if (v == V_REFUSED) {
		snprintf(errbuf, errlen, "%s:%d: %s", c->file, line, msg);
		return -1;
	}
	if (v == V_UNKNOWN) {
		if (asprintf(&w, "%s%s:%d: %s; its options are not checked\n",
		    *warns ? *warns : "", c->file, line, msg) == -1)
			err(1, "asprintf");
		free(*warns);
		*warns = w;
	}
	return 0;
}

static int
check_watcher(const struct config *c, const struct wconf *w, char *errbuf,
    size_t errlen, char **warns)
{
	char exe[PATH_MAX], msg[1024], **argv;
	size_t i, n = 0;
	enum verdict v;
	int search;

	search = tool_path("watch", exe, sizeof(exe)) == -1;
	if ((argv = calloc(w->nwargv + 5, sizeof(char *))) == NULL)
		err(1, "calloc");
	argv[n++] = "iobs-watch";
	argv[n++] = "--check";
	for (i = 0; i < w->nwargv; i++)
		argv[n++] = w->wargv[i];
	argv[n++] = "--";
	argv[n++] = w->path;
	v = ask(search ? "iobs-watch" : exe, search, argv, w->path, "watch",
	    msg, sizeof(msg));
	free(argv);
	if (v == V_OK)
		return 0;
	return report(c, v, line_of(msg, w->wargv, w->wline, w->nwargv,
	    w->line), msg, errbuf, errlen, warns);
}

static int
check_plugin(const struct config *c, const struct wconf *w,
    const struct plugin *pl, char *errbuf, size_t errlen, char **warns)
{
	char msg[1024], **argv, **args, *name;
	int *lines;
	size_t i, n = 0, na = 0;
	enum verdict v;
	int rc;

	if ((argv = calloc(w->npopt + 3, sizeof(char *))) == NULL ||
	    (args = calloc(w->npopt + 1, sizeof(char *))) == NULL ||
	    (lines = calloc(w->npopt + 1, sizeof(int))) == NULL ||
	    asprintf(&name, "iobs-%s", pl->name) == -1)
		err(1, "calloc");
	argv[n++] = name;
	argv[n++] = "--check";
	for (i = 0; i < w->npopt; i++)
		if (strcmp(w->popt[i].plugin, pl->name) == 0) {
			argv[n++] = args[na] = w->popt[i].arg;
			lines[na++] = w->popt[i].line;
		}
	v = ask(pl->exe, 0, argv, w->path, pl->name, msg, sizeof(msg));
	rc = v == V_OK ? 0 : report(c, v, line_of(msg, args, lines, na,
	    w->plugins_line), msg, errbuf, errlen, warns);
	free(name);
	free(lines);
	free(args);
	free(argv);
	return rc;
}

int
config_check(const struct config *c, char *errbuf, size_t errlen,
    char **warns)
{
	const struct wconf *w;
	size_t i, j;

	for (i = 0; i < c->nwatch; i++) {
		w = &c->watch[i];
		if (w->nplugin == 0)
			continue;
		if (check_watcher(c, w, errbuf, errlen, warns) == -1)
			return -1;
		for (j = 0; j < w->nplugin; j++)
			if (check_plugin(c, w, &w->plugin[j], errbuf, errlen,
			    warns) == -1)
				return -1;
	}
	return 0;
}

/*
 * Root runs only what root controls (iobs-supervise(8), SECURITY):
 * whoever could write the config, a plugin, or a directory above one
 * could run anything as root. Checked before any of them is read or
 * run: at -n, at start and at each reload. The state directory itself
 * is iobs-supervise.c's to check, as it makes it; here, what is above.
 */
int
config_trust(const struct super *s, const struct config *c, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	size_t i, j;

	if (s->insecure)
		return 0;
	/* One not there is config_load()'s to say. */
	if (iobs_trust_path(s->conf_file, IOBS_TRUST_MISSING, err, errlen)
	    == -1)
		return -1;
	if (c == NULL)
		return 0;
	/* iobs-watch, and the first directory of every child's PATH. */
	(void)tool_path("watch", path, sizeof(path));
	if (iobs_trust_path(self_dir(), 0, err, errlen) == -1 ||
	    iobs_trust_path(path, IOBS_TRUST_MISSING, err, errlen) == -1)
		return -1;
	if (c->plugin_dir != NULL && iobs_trust_path(c->plugin_dir,
	    IOBS_TRUST_MISSING, err, errlen) == -1)
		return -1;
	for (i = 0; i < c->nwatch; i++)
		for (j = 0; j < c->watch[i].nplugin; j++)
			if (iobs_trust_path(c->watch[i].plugin[j].exe, 0, err,
			    errlen) == -1)
				return -1;
	if (c->state_dir != NULL && iobs_trust_path(c->state_dir,
	    IOBS_TRUST_MISSING | IOBS_TRUST_ABOVE, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * Plugins, their --check and their commands run with the environment
 * chosen here, not the one iobs-supervise was started with: PATH is
 * its own directory and the system's, and what the dynamic loader and
 * the C library would take from the environment (glibc leaves the same
 * names out for a set-user-ID program) is gone. iobs.conf(5) lists them.
 */
void
environ_clean(void)
{
	static const char *drop[] = { "GCONV_PATH", "GETCONF_DIR",
	    "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
	    "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
	    "TZDIR" };
	extern char **environ;
	char name[256], path[PATH_MAX + sizeof(SAFE_PATH) + 1];
	size_t i, n;

	for (i = 0; environ != NULL && environ[i] != NULL;) {
		n = strcspn(environ[i], "=");
		if (strncmp(environ[i], "LD_", 3) != 0 || n >= sizeof(name)) {
			i++;
			continue;
		}
		memcpy(name, environ[i], n);
		name[n] = '\0';
		if (unsetenv(name) == -1)
			err(1, "unsetenv");
		/* environ moved under us: from the start again. */
		i = 0;
	}
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (unsetenv(drop[i]) == -1)
			err(1, "unsetenv");
	snprintf(path, sizeof(path), "%s:%s", self_dir(), SAFE_PATH);
	if (setenv("PATH", path, 1) == -1)
		err(1, "setenv");
}
