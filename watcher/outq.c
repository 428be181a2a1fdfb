/*
 * A chunked FIFO of output bytes over a non-blocking pipe.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "outq.h"

#define CHUNK_SIZE	(64 * 1024)
#define IOV_MAX_USED	64

struct chunk {
	struct chunk	*next;
	size_t		 start, end, size;
	char		 data[];
};

void
outq_init(struct outq *q, int fd, size_t limit)
{
	struct stat st;

	q->fd = fd;
	q->head = q->tail = NULL;
	q->bytes = 0;
	q->limit = limit;
	q->nonblock = 0;
	/*
	 * Only a pipe or socket can stall us; its open file description
	 * is ours, so O_NONBLOCK on it disturbs nobody (a terminal's
	 * would be the shell's too).
	 */
	if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) ||
	    S_ISSOCK(st.st_mode))) {
		q->saved_flags = fcntl(fd, F_GETFL);
		if (q->saved_flags != -1 &&
		    fcntl(fd, F_SETFL, q->saved_flags | O_NONBLOCK) == 0)
			q->nonblock = 1;
	}
}

char *
outq_reserve(struct outq *q, size_t len)
{
	struct chunk *c = q->tail;
	size_t size;

	if (c == NULL || c->size - c->end < len) {
		size = len > CHUNK_SIZE ? len : CHUNK_SIZE;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			err(1, "malloc");
		c->next = NULL;
		c->start = c->end = 0;
		c->size = size;
		if (q->tail != NULL)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
	}
	return c->data + c->end;
}

void
outq_commit(struct outq *q, size_t len)
{
	q->tail->end += len;
	q->bytes += len;
}

static void
consume(struct outq *q, size_t n)
{
	struct chunk *c;

	q->bytes -= n;
	while (n > 0) {
		c = q->head;
		if (n < c->end - c->start) {
			c->start += n;
			return;
		}
		n -= c->end - c->start;
		q->head = c->next;
		if (q->head == NULL)
			q->tail = NULL;
		free(c);
	}
	/* Reuse the last chunk from its start once it is empty. */
	if (q->head != NULL && q->head->start == q->head->end)
		q->head->start = q->head->end = 0;
}

int
outq_flush(struct outq *q)
{
	struct iovec iov[IOV_MAX_USED];
	struct chunk *c;
	ssize_t n;
	int i;

	while (q->bytes > 0) {
		for (i = 0, c = q->head; c != NULL && i < IOV_MAX_USED;
		    c = c->next) {
			if (c->end == c->start)
				continue;
			iov[i].iov_base = c->data + c->start;
			iov[i].iov_len = c->end - c->start;
			i++;
		}
		n = writev(q->fd, iov, i);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		consume(q, n);
	}
	return 0;
}

int
outq_drain(struct outq *q)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };

	while (q->bytes > 0) {
		if (outq_flush(q) == -1)
			return -1;
		if (q->bytes > 0 && poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

void
outq_free(struct outq *q)
{
	struct chunk *c, *next;

	for (c = q->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
	if (q->nonblock)
		(void)fcntl(q->fd, F_SETFL, q->saved_flags);
}
