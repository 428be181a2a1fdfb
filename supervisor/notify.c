/*
 * systemd's readiness protocol, sd_notify(3), without libsystemd: one
 * datagram of KEY=VALUE lines to the AF_UNIX socket $NOTIFY_SOCKET
 * names (a leading @ for the abstract namespace). READY=1 once every
 * pipeline has had its first start (up, that is its WATCH_INIT
 * written, or failed, or waiting for its path); RELOADING=1 and READY=1
 * again around a reload; STOPPING=1; STATUS= whenever the counts move,
 * or a remote mirror's backlog does (read from the cache once a second).
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "supervise.h"

#define REMOTES_MS	1000	/* the remotes' backlogs, read this often */

static int nfd = -1;
static struct sockaddr_un addr;
static socklen_t addrlen;

void
notify_init(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t len;

	if (e == NULL || *e == '\0')
		return;
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len >= sizeof(addr.sun_path)) {
		warnx("NOTIFY_SOCKET=%s: not a socket's path; systemd is "
		    "not told when the service is ready", e);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, e, len);
	if (e[0] == '@')
		addr.sun_path[0] = '\0';
	addrlen = offsetof(struct sockaddr_un, sun_path) + len;
	if ((nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		warn("NOTIFY_SOCKET: socket");
	/* The plugins are not the service: they must not speak for it. */
	unsetenv("NOTIFY_SOCKET");
}

static void
notify(const char *fmt, ...)
{
	static int warned;
	char buf[1100];
	va_list ap;
	int n;

	if (nfd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	if (sendto(nfd, buf, n, MSG_NOSIGNAL, (struct sockaddr *)&addr,
	    addrlen) == -1 && !warned) {
		warn("NOTIFY_SOCKET: sendto");
		warned = 1;
	}
}

void
notify_reloading(struct super *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	s->notified_ready = 0;
}

void
notify_stopping(struct super *s)
{
	(void)s;
	notify("STOPPING=1\nSTATUS=stopping");
}

/* Once per turn of the main loop: READY=1 when due, STATUS= on change. */
void
notify_update(struct super *s)
{
	const struct pipeline *p;
	int total = 0, up = 0, failed = 0, waiting = 0, pending = 0;
	char status[sizeof(s->notified_status)];
	int64_t now = now_ms();

	if (nfd == -1 || s->stopping)
		return;
	for (p = s->pipes; p != NULL; p = p->next) {
		total++;
		if (p->state == S_UP)
			up++;
		else if (p->state == S_FAILED || p->state == S_FAILING)
			failed++;
		else if (p->state == S_DOWN && p->waiting)
			waiting++;
		/* A first start not over yet; a crash loop does not count. */
		if (p->nfails == 0 && (p->state == S_STARTING ||
		    p->state == S_RESTARTING ||
		    (p->state == S_DOWN && !p->waiting)))
			pending++;
	}
	/* As status shows them: the paths waiting for each remote. */
	if (now >= s->notified_at + REMOTES_MS) {
		status_remotes(s->cache, s->notified_remotes,
		    sizeof(s->notified_remotes));
		s->notified_at = now;
	}
	snprintf(status, sizeof(status), "%d of %d pipelines up, %d failed, "
	    "%d waiting for their path%s", up, total, failed, waiting,
	    s->notified_remotes);
	if (!s->notified_ready && pending == 0) {
		notify("READY=1\nSTATUS=%s", status);
		s->notified_ready = 1;
	} else if (strcmp(status, s->notified_status) != 0)
		notify("STATUS=%s", status);
	else
		return;
	strlcpy(s->notified_status, status, sizeof(s->notified_status));
}

/*
 * When the remotes' backlogs are read again: while a mirror runs (only
 * a mirror has one); -1 when systemd is not told.
 */
int64_t
notify_next(struct super *s)
{
	const struct pipeline *p;

	if (nfd == -1 || s->stopping || s->cache == NULL)
		return -1;
	for (p = s->pipes; p != NULL; p = p->next)
		if (strcmp(p->plugin, "mirror") == 0)
			return s->notified_at + REMOTES_MS;
	return -1;
}
