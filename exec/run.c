/*
 * Starting a command and reading what became of it. A command is
 * exec'd directly, never through a shell, in a process group of its
 * own, so that stopping it reaches whatever it started.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "trust.h"

/* The child could not run it: 126 or 127, on the parent's pipe. */
static void
tell_parent(int fd, char code)
{
	while (write(fd, &code, 1) == -1 && errno == EINTR)
		;
}

/*
 * In the child: its own group; SIGTERM if iobs-exec dies first; the
 * signals as they were before iobs-exec blocked them; the stdin given
 * and no other descriptor of ours; env is NAME=VALUE or NAME alone to
 * unset it.
 */
static void __dead2
child(char **argv, char *const env[], int stdin_fd, pid_t parent,
    int insecure, int tell)
{
	sigset_t none;
	const char *eq;
	char name[64], msg[PATH_MAX + 256], code;
	size_t i;

	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(stdin_fd, STDIN_FILENO) == -1)
		_exit(127);
	/* The parent's pipe, on 3 until the exec closes it. */
	if (tell != 3 && dup3(tell, 3, O_CLOEXEC) == -1)
		_exit(127);
	tell = 3;
	closefrom(4);
	for (i = 0; env[i] != NULL; i++) {
		if ((eq = strchr(env[i], '=')) == NULL) {
			unsetenv(env[i]);
			continue;
		}
		/* No malloc here: the child must leave nothing to free. */
		if ((size_t)(eq - env[i]) >= sizeof(name))
			_exit(127);
		memcpy(name, env[i], eq - env[i]);
		name[eq - env[i]] = '\0';
		if (setenv(name, eq + 1, 1) == -1)
			_exit(127);
	}
	/* Here, as the program is found: a placeholder may name it. */
	if (!insecure && geteuid() == 0 &&
	    iobs_trust_command(argv[0], msg, sizeof(msg)) == -1) {
		warnx("%s", msg);
		argv_free(argv);
		tell_parent(tell, 126);
		_exit(126);
	}
	execvp(argv[0], argv);
	code = errno == ENOENT || errno == ENOTDIR ? 127 : 126;
	warn("%s", argv[0]);
	/* The parent's copy is freed there; this frees the child's. */
	argv_free(argv);
	tell_parent(tell, code);
	_exit(code);
}

pid_t
run_spawn(char **argv, char *const env[], int stdin_fd, int insecure,
    int *norun)
{
	pid_t pid, self = getpid();
	int tell[2];
	ssize_t n;
	char code = 0;

	/* Closed by the exec: a byte on it says the exec failed. */
	if (pipe2(tell, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(tell[0]);
		close(tell[1]);
		return -1;
	}
	if (pid == 0) {
		close(tell[0]);
		child(argv, env, stdin_fd, self, insecure, tell[1]);
	}
	close(tell[1]);
	/* Both sides set it, so it holds before either goes on. */
	(void)setpgid(pid, pid);
	while ((n = read(tell[0], &code, 1)) == -1 && errno == EINTR)
		;
	if (n == 1 && (code == 126 || code == 127))
		*norun = code;
	close(tell[0]);
	return pid;
}

int
run_trusted(const struct template *t, int insecure, char *why,
    size_t whylen)
{
	const struct targ *a = &t->arg[0];

	if (insecure || geteuid() != 0 || a->nseg != 1 ||
	    a->seg[0].ph != PH_LIT)
		return 0;
	return iobs_trust_command(a->seg[0].lit, why, whylen);
}

int
run_group_gone(pid_t pgid)
{
	return kill(-pgid, 0) == -1 && errno == ESRCH;
}

int
run_status(int status, char *buf, size_t len)
{
	const char *name;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
		return WEXITSTATUS(status) != 0;
	}
	name = sigabbrev_np(WTERMSIG(status));
	snprintf(buf, len, "killed by signal %d (SIG%s)", WTERMSIG(status),
	    name ? name : "?");
	return 1;
}

int
run_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

void
run_report(const char *cmd, const char *status, const char *what)
{
	warnx("%s: %s; %s", cmd, status, what);
}
