/*
 * Signals of iobs-watch without a poll per batch. While the watcher
 * waits in a blocking read of the inotify queue, its output queue is
 * empty, so a handler can write the lifecycle records itself (and, for
 * SIGTERM, exit); at any other time it only notes the signal and wakes
 * the poll loop through a pipe. The watcher thus spends one read and
 * one write per batch of events, where a poll loop spends three calls.
 */
#define _GNU_SOURCE	/* pipe2 */

#include <sys/inotify.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watch.h"

static volatile sig_atomic_t got_term, got_hup, in_read;
static struct watcher *the_watcher;
static int wake[2] = { -1, -1 };

/* Async-signal-safe: formatting is plain arithmetic and copying. */
static void
write_all_now(enum iobs_lifecycle lc)
{
	struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };
	char line[IOBS_RECORD_MAX(4 * 4096) + 8 * 4096];
	struct timespec ts;
	struct timeval tv;
	size_t len, off;
	ssize_t n;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	tv.tv_sec = ts.tv_sec;
	tv.tv_usec = ts.tv_nsec / 1000;
	for (i = 0; i < the_watcher->nroots; i++) {
		if (!the_watcher->roots[i].alive)
			continue;
		/* 0: no lifecycle records in this output, or too long. */
		len = lifecycle_line(the_watcher, line, sizeof(line), &tv, lc,
		    i);
		for (off = 0; off < len; off += n) {
			n = write(STDOUT_FILENO, line + off, len - off);
			if (n == -1 && errno == EAGAIN) {
				(void)poll(&pfd, 1, -1);
				n = 0;
			} else if (n == -1 && errno != EINTR)
				_exit(0);	/* the reader is gone */
			else if (n == -1)
				n = 0;
		}
	}
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (in_read) {
		write_all_now(sig == SIGHUP ? IOBS_WATCH_RECONFIG :
		    IOBS_WATCH_DEAD);
		if (sig != SIGHUP)
			_exit(0);
	} else {
		if (sig == SIGHUP)
			got_hup = 1;
		else
			got_term = 1;
		/* Full: the loop has a wake-up to read already. */
		if (write(wake[1], "", 1) == -1) {
		}
	}
	errno = saved;
}

static void
on_tick(int sig)
{
	(void)sig;
}

int
signals_init(struct watcher *w, int tick_ms)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct itimerval tick;
	struct sigaction sa;
	size_t i;

	the_watcher = w;
	if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) == -1)
		err(1, "pipe2");
	memset(&sa, 0, sizeof(sa));
	/*
	 * As inotifywait, a signal or a reader gone ends it as the
	 * default action does: no lifecycle record to write.
	 */
	for (i = 0; w->compat == COMPAT_NONE && i < 1 + sizeof(sigs) /
	    sizeof(sigs[0]); i++) {
		sa.sa_handler = i == 0 ? SIG_IGN : on_signal;
		sa.sa_flags = i == 0 ? 0 : SA_RESTART;
		sigfillset(&sa.sa_mask);
		if (sigaction(i == 0 ? SIGPIPE : sigs[i - 1], &sa, NULL) == -1)
			err(1, "sigaction");
	}
	/*
	 * A tick, not restarted: it ends a blocking read now and then, so
	 * the main loop can look at the roots (see check_roots()).
	 */
	sa.sa_handler = on_tick;
	sa.sa_flags = 0;
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		err(1, "sigaction");
	tick.it_interval.tv_sec = tick.it_value.tv_sec = tick_ms / 1000;
	tick.it_interval.tv_usec = tick.it_value.tv_usec =
	    tick_ms % 1000 * 1000;
	if (setitimer(ITIMER_REAL, &tick, NULL) == -1)
		err(1, "setitimer");
	return wake[0];
}

/* Handles what the handler noted; returns 1 when the watcher must stop. */
int
signals_take(struct watcher *w)
{
	char buf[64];

	while (read(wake[0], buf, sizeof(buf)) > 0)
		continue;
	if (got_hup) {
		got_hup = 0;
		gettimeofday(&w->now, NULL);
		emit_all(w, IOBS_WATCH_RECONFIG);
	}
	return got_term;
}

/*
 * A blocking read of the inotify queue, for when nothing else is
 * waiting (output queue empty). Returns -2 when a signal came first.
 */
ssize_t
signals_read(struct watcher *w, char *buf, size_t size)
{
	ssize_t n;

	/* From here on a signal is handled in the handler itself... */
	in_read = 1;
	/* ...and one that came before is seen here. */
	if (got_term || got_hup) {
		in_read = 0;
		return -2;
	}
	n = read(w->ifd, buf, size);
	in_read = 0;
	return n;
}

void
signals_close(void)
{
	close(wake[0]);
	close(wake[1]);
}
