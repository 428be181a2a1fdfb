/*
 * Every file system under a root: the mount table, read from
 * /proc/self/mountinfo at start and again whenever poll(2) says it
 * changed (POLLPRI), and each mount found below a root handed to the
 * backend: at start and when mounted, so that it watches it (fanotify
 * marks its file system; inotify watches the new tree), and when
 * unmounted, after its UNMOUNT record, so that it watches what the
 * mount covered. What a backend cannot see is said in one line.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch.h"

#define MOUNTINFO	"/proc/self/mountinfo"
/* Mounts named in the line saying what a backend cannot see. */
#define UNSEEN_NAMED	4

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
	char *d = s;

	for (; *s != '\0'; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0');
			s += 3;
		} else
			*d = *s;
	}
	*d = '\0';
}

/* One line: "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE ...". */
static int
parse_line(char *line, struct mount *m)
{
	char *field[6], *p = line, *type;
	unsigned maj, min;
	int i;

	for (i = 0; i < 6; i++) {
		if ((field[i] = strsep(&p, " ")) == NULL)
			return -1;
	}
	if (p == NULL || (type = strstr(p, "- ")) == NULL ||
	    sscanf(field[2], "%u:%u", &maj, &min) != 2)
		return -1;
	type += 2;
	type[strcspn(type, " ")] = '\0';
	unescape(field[4]);
	m->id = atoi(field[0]);
	m->dev = makedev(maj, min);
	if ((m->path = strdup(field[4])) == NULL ||
	    (m->fstype = strdup(type)) == NULL)
		err(1, "strdup");
	return 0;
}

static void
table_free(struct mount *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].path);
		free(m[i].fstype);
	}
	free(m);
}

/* The whole table, read from the start; -1 if it cannot be read. */
static int
table_read(int fd, struct mount **out, size_t *nout)
{
	static struct pathbuf buf;
	struct mount *m = NULL;
	size_t n = 0, cap = 0;
	char *line, *next;
	ssize_t got;

	buf.len = 0;
	if (lseek(fd, 0, SEEK_SET) == -1)
		return -1;
	for (;;) {
		pathbuf_reserve(&buf, 16384);
		if ((got = read(fd, buf.s + buf.len, 16384)) == -1)
			return -1;
		if (got == 0)
			break;
		buf.len += got;
	}
	pathbuf_append(&buf, "", 1);
	for (line = buf.s; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			next = line + strlen(line);
		else
			*next++ = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((m = reallocarray(m, cap, sizeof(*m))) == NULL)
				err(1, "reallocarray");
		}
		if (parse_line(line, &m[n]) == 0)
			n++;
	}
	*out = m;
	*nout = n;
	return 0;
}

/*
 * The root mount m lies strictly below, if it is watched there: a
 * directory root watched recursively, no excluded name on the way.
 */
int
mount_root(struct watcher *w, const struct mount *m)
{
	const struct root *r;
	const char *rel, *slash;
	int i;

	for (i = 0; i < w->nroots; i++) {
		r = &w->roots[i];
		if (!r->alive || r->isfile ||
		    strncmp(m->path, r->path, r->pathlen) != 0 ||
		    m->path[r->pathlen] != '/' || m->path[r->pathlen + 1] == '\0')
			continue;
		rel = m->path + r->pathlen + 1;
		for (slash = rel; (slash = strchr(slash, '/')) != NULL; slash++)
			if (path_excluded(w, i, rel, slash - rel, 1))
				return -1;
		if (path_excluded(w, i, rel, strlen(rel), 1))
			return -1;
		return i;
	}
	return -1;
}

/*
 * Is m in list? By its id, which the kernel reuses at once, and so by
 * its device and mount point too.
 */
static int
has_mount(const struct mount *list, size_t n, const struct mount *m)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (list[i].id == m->id && list[i].dev == m->dev &&
		    strcmp(list[i].path, m->path) == 0)
			return 1;
	return 0;
}

/*
 * Is m below another mount of list that is not in other (one that
 * came or went with it)? Its tree is that one's.
 */
static int
nested(const struct mount *m, const struct mount *list, size_t n,
    const struct mount *other, size_t nother)
{
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = strlen(list[i].path);
		if (&list[i] != m && strncmp(m->path, list[i].path, len) == 0 &&
		    m->path[len] == '/' && !has_mount(other, nother, &list[i]))
			return 1;
	}
	return 0;
}

/*
 * Tells the backend of a mount; what it cannot see goes in the line
 * unseen, or, after start, a line of its own.
 */
static void
tell(struct watcher *w, const struct mount *m, enum mount_how how,
    struct pathbuf *unseen, int *nunseen)
{
	char why[256], item[PATH_MAX + 320];
	int len;

	if (w->be->mount == NULL)
		return;
	why[0] = '\0';
	if (w->be->mount(w, m, how, why, sizeof(why)) == 0 || w->quiet)
		return;
	if (unseen == NULL) {
		warnx("%s: %s", m->path, why);
		return;
	}
	if ((*nunseen)++ >= UNSEEN_NAMED)
		return;
	len = snprintf(item, sizeof(item), "%s%s (%s)",
	    unseen->len > 0 ? ", " : "", m->path, why);
	if (len > 0 && (size_t)len < sizeof(item))
		pathbuf_append(unseen, item, len);
}

/* At start, and after a rebuild: every mount below a root. */
void
mounts_start(struct watcher *w)
{
	static int said;
	struct pathbuf unseen = { 0 };
	size_t i;
	int nunseen = 0;

	if (w->mounts.fd == -1) {
		if (!w->recursive)
			return;
		w->mounts.fd = open(MOUNTINFO, O_RDONLY | O_CLOEXEC);
		if (w->mounts.fd == -1) {
			if (!w->quiet)
				warn("%s: mounts made below the roots later "
				    "are not seen", MOUNTINFO);
			return;
		}
		if (table_read(w->mounts.fd, &w->mounts.m,
		    &w->mounts.n) == -1) {
			close(w->mounts.fd);
			w->mounts.fd = -1;
			return;
		}
	}
	for (i = 0; i < w->mounts.n; i++)
		if (mount_root(w, &w->mounts.m[i]) != -1)
			tell(w, &w->mounts.m[i], MOUNT_START, &unseen,
			    &nunseen);
	if (nunseen > 0 && !said++)
		warnx("%s cannot see %d mount%s below the roots: %s%s",
		    w->be->name, nunseen, nunseen > 1 ? "s" : "", unseen.s,
		    nunseen > UNSEEN_NAMED ? ", ..." : "");
	pathbuf_free(&unseen);
}

/*
 * The table changed: unmounts first (the outermost of those below a
 * root: UNMOUNT, then the backend watches what was under it), then
 * mounts (each file system to the backend, then the outermost trees).
 */
void
mounts_changed(struct watcher *w)
{
	struct mount *now, *was = w->mounts.m;
	size_t i, n, nwas = w->mounts.n;
	char *vis;
	int r;

	if (w->mounts.fd == -1 || table_read(w->mounts.fd, &now, &n) == -1)
		return;
	w->mounts.m = now;
	w->mounts.n = n;
	gettimeofday(&w->now, NULL);
	for (i = 0; i < nwas; i++) {
		if (has_mount(now, n, &was[i]) ||
		    (r = mount_root(w, &was[i])) == -1)
			continue;
		if (nested(&was[i], was, nwas, now, n))
			continue;
		if ((vis = malloc(IOBS_VIS_MAX(strlen(was[i].path)) + 1)) ==
		    NULL)
			err(1, "malloc");
		emit_path(w, IN_UNMOUNT | IN_ISDIR, 0, vis,
		    iobs_vis(vis, was[i].path, strlen(was[i].path)));
		free(vis);
		tell(w, &was[i], MOUNT_GONE, NULL, NULL);
	}
	for (i = 0; i < n; i++)
		if (!has_mount(was, nwas, &now[i]) && mount_root(w, &now[i]) != -1)
			tell(w, &now[i], MOUNT_MARK, NULL, NULL);
	for (i = 0; i < n; i++)
		if (!has_mount(was, nwas, &now[i]) &&
		    mount_root(w, &now[i]) != -1 && !nested(&now[i], now, n, was, nwas))
			tell(w, &now[i], MOUNT_NEW, NULL, NULL);
	table_free(was, nwas);
}

/* Has the table changed? A look that does not wait. */
void
mounts_check(struct watcher *w)
{
	struct pollfd pfd = { .fd = w->mounts.fd, .events = POLLPRI };

	if (w->mounts.fd != -1 && poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLPRI | POLLERR)))
		mounts_changed(w);
}

void
mounts_free(struct watcher *w)
{
	if (w->mounts.fd != -1)
		close(w->mounts.fd);
	w->mounts.fd = -1;
	table_free(w->mounts.m, w->mounts.n);
	w->mounts.m = NULL;
	w->mounts.n = 0;
}
