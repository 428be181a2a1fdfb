/*
 * Who not to report (--ignore-pid, --ignore-pgid, --ignore-fd): the
 * watcher's own pid, processes, and process groups, the last of which
 * can change while the watcher runs, told one line at a time on a
 * descriptor by iobs-supervise as the plugins beside it come and go.
 */
#ifndef IGNORE_H
#define IGNORE_H

#include <stddef.h>
#include <sys/types.h>

/* Process groups on one line of --ignore-fd, at most. */
#define IGNORE_MAX	256
#define IGNORE_LINE	(IGNORE_MAX * 12 + 1)
#define IGNORE_CACHE	64

struct ignore {
	pid_t		*pid;		/* --ignore-pid, and the watcher */
	int		 npid;
	pid_t		*pgid;		/* --ignore-pgid */
	int		 npgid;
	pid_t		 told[IGNORE_MAX];	/* the last line of fd */
	int		 ntold;
	int		 fd;		/* --ignore-fd; -1 none */
	char		 line[IGNORE_LINE];
	size_t		 len;
	int		 skipping;	/* a line too long, to its end */
	/* pid -> its group, for one batch of events: pid 0 is empty. */
	struct {
		pid_t	 pid, pgid;
	}		 cache[IGNORE_CACHE];
};

/*
 * One line of --ignore-fd, without its newline: process groups in
 * decimal, separated by blanks; none at all ignores none. The count,
 * or -1 with *why saying what is wrong.
 */
int	 ignore_parse(const char *line, size_t len, pid_t *set,
	    const char **why);

void	 ignore_init(struct ignore *);
void	 ignore_free(struct ignore *);
void	 ignore_add_pid(struct ignore *, pid_t);
void	 ignore_add_pgid(struct ignore *, pid_t);
/* What the descriptor says now; once before each batch of events. */
void	 ignore_read(struct ignore *);
/* Is an event of process pid to be left out? */
int	 ignore_hit(struct ignore *, pid_t pid);

#endif
