/*
 * Who not to report: see ignore.h. A process group is looked up once
 * a batch for each process that made an event, and only while some
 * group is to be left out, so the watcher pays nothing otherwise.
 */
#define _GNU_SOURCE

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ignore.h"

int
ignore_parse(const char *line, size_t len, pid_t *set, const char **why)
{
	size_t i = 0, start;
	long long v;
	int n = 0;

	for (;;) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len)
			return n;
		if (n == IGNORE_MAX) {
			*why = "more process groups than a line holds";
			return -1;
		}
		for (start = i, v = 0; i < len && line[i] >= '0' &&
		    line[i] <= '9'; i++)
			if ((v = v * 10 + (line[i] - '0')) > INT_MAX) {
				*why = "a process group too large";
				return -1;
			}
		if (i == start || (i < len && line[i] != ' ' &&
		    line[i] != '\t')) {
			*why = "not a process group number";
			return -1;
		}
		if (v == 0) {
			*why = "process group 0";
			return -1;
		}
		set[n++] = (pid_t)v;
	}
}

void
ignore_init(struct ignore *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
}

void
ignore_free(struct ignore *g)
{
	free(g->pid);
	free(g->pgid);
	if (g->fd != -1)
		close(g->fd);
	ignore_init(g);
}

static pid_t *
add(pid_t *v, int *n, pid_t id)
{
	if ((v = reallocarray(v, *n + 1, sizeof(*v))) == NULL)
		err(1, "reallocarray");
	v[(*n)++] = id;
	return v;
}

void
ignore_add_pid(struct ignore *g, pid_t pid)
{
	g->pid = add(g->pid, &g->npid, pid);
}

void
ignore_add_pgid(struct ignore *g, pid_t pgid)
{
	g->pgid = add(g->pgid, &g->npgid, pgid);
}

/* A whole line: the new set, or a word and the old set kept. */
static void
told(struct ignore *g, const char *line, size_t len)
{
	pid_t set[IGNORE_MAX];
	const char *why;
	int n;

	if ((n = ignore_parse(line, len, set, &why)) == -1) {
		warnx("--ignore-fd %d: %s in \"%.*s\"; the groups left out "
		    "stay as they were (write decimal numbers separated by "
		    "spaces, one line for the whole set)", g->fd,
		    why, len > 40 ? 40 : (int)len, line);
		return;
	}
	memcpy(g->told, set, n * sizeof(*set));
	g->ntold = n;
}

void
ignore_read(struct ignore *g)
{
	char buf[4096], *nl;
	size_t off, take;
	ssize_t n;

	memset(g->cache, 0, sizeof(g->cache));
	if (g->fd == -1)
		return;
	while ((n = read(g->fd, buf, sizeof(buf))) > 0)
		for (off = 0; off < (size_t)n; off += take) {
			nl = memchr(buf + off, '\n', n - off);
			take = nl != NULL ? (size_t)(nl - buf) - off + 1 :
			    n - off;
			if (!g->skipping && g->len + take <= sizeof(g->line))
				memcpy(g->line + g->len, buf + off, take);
			else if (!g->skipping) {
				warnx("--ignore-fd %d: a line longer than %d "
				    "bytes; the groups left out stay as they "
				    "were", g->fd, IGNORE_LINE);
				g->skipping = 1;
			}
			g->len += take;
			if (nl == NULL)
				continue;
			if (!g->skipping)
				told(g, g->line, g->len - 1);
			g->len = 0;
			g->skipping = 0;
		}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* Nobody will tell more: the last set holds. */
		close(g->fd);
		g->fd = -1;
	}
}

static pid_t
group_of(struct ignore *g, pid_t pid)
{
	size_t h = (size_t)pid % IGNORE_CACHE;
	pid_t pgid;

	if (g->cache[h].pid == pid)
		return g->cache[h].pgid;
	/* Gone already: nobody can say whose it was. */
	if ((pgid = getpgid(pid)) == -1)
		pgid = 0;
	g->cache[h].pid = pid;
	g->cache[h].pgid = pgid;
	return pgid;
}

int
ignore_hit(struct ignore *g, pid_t pid)
{
	pid_t pgid;
	int i;

	for (i = 0; i < g->npid; i++)
		if (g->pid[i] == pid)
			return 1;
	if (g->npgid == 0 && g->ntold == 0)
		return 0;
	if ((pgid = group_of(g, pid)) == 0)
		return 0;
	for (i = 0; i < g->npgid; i++)
		if (g->pgid[i] == pgid)
			return 1;
	for (i = 0; i < g->ntold; i++)
		if (g->told[i] == pgid)
			return 1;
	return 0;
}
