/*
 * Child processes for tools that drive other programs (rsync, ssh): a
 * fork and exec with chosen standard descriptors and nothing else
 * inherited, and words quoted for a POSIX shell. The caller learns of
 * an exit through SIGCHLD (a signalfd in its poll loop).
 */
#ifndef IOBS_CHILD_H
#define IOBS_CHILD_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Runs argv[0] (looked up in PATH) with fd0, fd1, fd2 as its standard
 * descriptors (-1: /dev/null), every other descriptor closed, signals
 * unblocked and SIGTERM when the caller dies. Returns the pid, or -1
 * with errno.
 */
pid_t	 iobs_spawn(char *const argv[], int fd0, int fd1, int fd2);

#define IOBS_SPAWN_FDS	8
/*
 * As iobs_spawn(), with fdv[i] as descriptor i for i below nfd (3 to
 * IOBS_SPAWN_FDS): descriptors a child hands on to its own child.
 */
pid_t	 iobs_spawn_fds(char *const argv[], const int *fdv, int nfd);

/*
 * s in single quotes for a POSIX shell, each ' as '\'': any bytes but
 * NUL come out of the shell as they went in. Malloc'd.
 */
char	*iobs_shell_quote(const char *s);

#endif
