/*
 * Signals of iobs-watch. A handler only notes the signal; the main
 * loop says what it means (WATCH_DEAD, WATCH_RECONFIG). While the loop
 * waits in a blocking read of the kernel's queue, the signal ends that
 * read (no SA_RESTART); at any other time a pipe wakes its poll(2).
 * Not a signalfd, as the other tools have: that needs a poll per batch
 * beside the read, and bench/watch.sh measured 60 to 100% more CPU per
 * event for it. A signal landing between the loop's look at the notes
 * and its read waits for the next event or the next tick, a second at
 * most.
 */
#define _GNU_SOURCE	/* pipe2 */

#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

static volatile sig_atomic_t got_term, got_hup;
static int wake[2] = { -1, -1 };

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	/* Full: the loop has a wake-up to read already. */
	if (write(wake[1], "", 1) == -1) {
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
		sa.sa_flags = 0;	/* ends a blocking read */
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

	if (got_term || got_hup)
		return -2;
	n = read(w->ifd, buf, size);
	if (n == -1 && errno == EINTR && (got_term || got_hup))
		return -2;
	return n;
}

void
signals_close(void)
{
	close(wake[0]);
	close(wake[1]);
}
