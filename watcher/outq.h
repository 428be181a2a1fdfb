/*
 * The output queue: records wait here while the reader is slow, so
 * the watcher can keep draining inotify. Bounded; past the bound the
 * caller drops and announces OVERFLOW.
 */
#ifndef OUTQ_H
#define OUTQ_H

#include <stddef.h>

struct chunk;

struct outq {
	int		 fd;
	int		 nonblock;	/* fd is a pipe or socket we own */
	int		 saved_flags;
	struct chunk	*head, *tail;
	size_t		 bytes, limit;
};

void	 outq_init(struct outq *, int fd, size_t limit);
char	*outq_reserve(struct outq *, size_t);
void	 outq_commit(struct outq *, size_t);
/* Writes what the fd takes now; -1 with errno (EPIPE) on failure. */
int	 outq_flush(struct outq *);
/* Writes everything, waiting for the reader. */
int	 outq_drain(struct outq *);
void	 outq_free(struct outq *);

#endif
