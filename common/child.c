/*
 * Child processes: fork and exec with chosen descriptors, and words
 * for a POSIX shell.
 */
#define _GNU_SOURCE

#include <sys/prctl.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

/* fd becomes target in the child; -1 is /dev/null. */
static int
child_fd(int fd, int target, int devnull)
{
	if (fd == -1)
		fd = devnull;
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target);
}

pid_t
iobs_spawn(char *const argv[], int fd0, int fd1, int fd2)
{
	int fds[3] = { fd0, fd1, fd2 };

	return iobs_spawn_fds(argv, fds, 3);
}

pid_t
iobs_spawn_fds(char *const argv[], const int *fdv, int nfd)
{
	sigset_t none;
	pid_t pid, parent = getpid();
	int fds[IOBS_SPAWN_FDS], devnull, save, i;

	if (nfd < 3 || nfd > IOBS_SPAWN_FDS) {
		errno = EINVAL;
		return -1;
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		save = errno;
		close(devnull);
		errno = save;
		return -1;
	}
	if (pid == 0) {
		/* Targets may be among the descriptors: move them up first. */
		for (i = 0; i < nfd; i++)
			if ((fds[i] = fdv[i]) != -1 && (fds[i] =
			    fcntl(fds[i], F_DUPFD_CLOEXEC, nfd)) == -1)
				_exit(127);
		if ((devnull = fcntl(devnull, F_DUPFD_CLOEXEC, nfd)) == -1)
			_exit(127);
		for (i = 0; i < nfd; i++)
			if (child_fd(fds[i], i, devnull) == -1)
				_exit(127);
		closefrom(nfd);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(devnull);
	return pid;
}

char *
iobs_shell_quote(const char *s)
{
	size_t n = 3;
	const char *p;
	char *q, *out;

	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	if ((out = malloc(n)) == NULL)
		err(1, "malloc");
	q = out;
	*q++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(q, "'\\''", 4);
			q += 4;
		} else
			*q++ = *p;
	}
	*q++ = '\'';
	*q = '\0';
	return out;
}
