/*
 * Plugins that check their own options: iobs-PLUGIN --check with the
 * options the config gives it exits 0, or 2 with one line saying what
 * is wrong, which becomes the config's error at its FILE:LINE. So a
 * bad exec_mode is refused by -n and at start, not by a plugin that
 * is then restarted in a loop.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"

/* The plugins known to take --check. */
static const char *const checking[] = { "exec" };

/* Runs exe --check opts...; 0, or -1 with its first line in msg. */
static int
run_check(const char *exe, const char *name, const char *opts, char *msg,
    size_t msglen)
{
	char **argv, *copy, *p, *line, *nl, *argv0, buf[1024];
	int fd[2], status, devnull;
	size_t n = 0, len = 0;
	ssize_t k;
	pid_t pid;

	if ((argv = calloc(strlen(opts) + 3, sizeof(*argv))) == NULL ||
	    (p = copy = strdup(opts)) == NULL ||
	    asprintf(&argv0, "iobs-%s", name) == -1)
		err(1, "calloc");
	argv[n++] = argv0;
	argv[n++] = "--check";
	while ((line = strsep(&p, "\n")) != NULL)
		if (*line != '\0')
			argv[n++] = line;
	if (pipe2(fd, O_CLOEXEC) == -1 ||
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "pipe");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		if (dup2(devnull, 0) == -1 || dup2(devnull, 1) == -1 ||
		    dup2(fd[1], 2) == -1)
			_exit(127);
		closefrom(3);
		execv(exe, argv);
		dprintf(2, "%s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	close(devnull);
	while (len < sizeof(buf) - 1 &&
	    (k = read(fd[0], buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			break;
		len += k;
	}
	close(fd[0]);
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	free(argv0);
	free(copy);
	free(argv);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	/* Its own name is in front of its message already. */
	snprintf(msg, msglen, "%s", buf[0] ? buf : "--check failed");
	return -1;
}

/* The line of the key the message names, else the watch's. */
static int
option_line(const struct wconf *w, const char *plugin, const char *msg)
{
	const char *eq;
	size_t i;

	for (i = 0; i < w->npopt; i++) {
		if (strcmp(w->popt[i].plugin, plugin) != 0 ||
		    (eq = strchr(w->popt[i].arg, '=')) == NULL)
			continue;
		if (memmem(msg, strlen(msg), w->popt[i].arg,
		    eq - w->popt[i].arg) != NULL)
			return w->popt[i].line;
	}
	return w->line;
}

int
config_check_plugins(const struct config *c, char *errbuf, size_t errlen)
{
	const struct wconf *w;
	char msg[1024], *opts;
	size_t i, j, k;
	int rc;

	for (i = 0; i < c->nwatch; i++) {
		w = &c->watch[i];
		for (j = 0; j < w->nplugin; j++) {
			for (k = 0; k < sizeof(checking) / sizeof(checking[0]);
			    k++)
				if (strcmp(w->plugin[j].name, checking[k]) == 0)
					break;
			if (k == sizeof(checking) / sizeof(checking[0]))
				continue;
			opts = config_plugin_options(w, w->plugin[j].name);
			rc = run_check(w->plugin[j].exe, w->plugin[j].name,
			    opts, msg, sizeof(msg));
			free(opts);
			if (rc == -1) {
				snprintf(errbuf, errlen, "%s:%d: %s", c->file,
				    option_line(w, w->plugin[j].name, msg),
				    msg);
				return -1;
			}
		}
	}
	return 0;
}
