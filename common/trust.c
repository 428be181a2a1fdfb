/*
 * The walk of iobs_trust_path(): from / down, one component at a time
 * with lstat(2), so that each symbolic link is seen, its owner checked
 * and its target walked in turn. Whoever can write a directory on the
 * way can replace what is below it; whoever owns a file can change it.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trust.h"

/* As the kernel's limit on links followed in one lookup. */
#define LINKS_MAX	40

static void
user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

/* One entry: 0, or -1 with why it is not trusted in msg. */
static int
entry_ok(const char *path, const struct stat *st, int last, char *msg,
    size_t len)
{
	uid_t me = geteuid();
	char owner[64], self[64], what[160];
	int owner_bad, w;

	owner_bad = st->st_uid != 0 && st->st_uid != me;
	w = S_ISLNK(st->st_mode) ? 0 : st->st_mode & 022;
	/* Others may write a sticky directory, not rename what is ours. */
	if (w != 0 && !last && S_ISDIR(st->st_mode) &&
	    (st->st_mode & S_ISVTX) != 0)
		w = 0;
	/* A link's mode means nothing; its owner can replace it. */
	if (!owner_bad && w == 0)
		return 0;
	user_name(st->st_uid, owner, sizeof(owner));
	user_name(me, self, sizeof(self));
	if (S_ISLNK(st->st_mode)) {
		snprintf(msg, len, "%s: a symbolic link owned by %s; chown -h "
		    "%s it", path, owner, me == 0 ? "root" : self);
		return -1;
	}
	if (w == 0)
		snprintf(what, sizeof(what), "not by root%s%s",
		    me == 0 ? "" : " or ", me == 0 ? "" : self);
	else
		snprintf(what, sizeof(what), "writable by %s",
		    w == 022 ? "group and others" : w == 020 ? "group" :
		    "others");
	snprintf(msg, len, "%s: owned by %s, mode %04o, %s; %s%s%s%s", path,
	    owner, (unsigned)(st->st_mode & 07777), what,
	    owner_bad ? "chown " : "", owner_bad ? (me == 0 ? "root" : self) :
	    "", owner_bad && w ? " and " : "", w ? "chmod go-w it" : " it");
	return -1;
}

int
iobs_trust_path(const char *path, int flags, char *msg, size_t len)
{
	char rest[PATH_MAX * 2], done[PATH_MAX], link[PATH_MAX], *c;
	char tmp[PATH_MAX * 2];
	struct stat st;
	size_t n, dlen = 0;
	ssize_t ln;
	int links = 0, last;

	if (path[0] == '/')
		n = snprintf(rest, sizeof(rest), "%s", path);
	else if (getcwd(done, sizeof(done)) == NULL) {
		snprintf(msg, len, "%s: the current directory: %s", path,
		    strerror(errno));
		return -1;
	} else
		n = snprintf(rest, sizeof(rest), "%s/%s", done, path);
	if (n >= sizeof(rest)) {
		errno = ENAMETOOLONG;
		snprintf(msg, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat("/", &st) == -1 || entry_ok("/", &st, 0, msg, len) == -1)
		return -1;
	done[0] = '\0';
	c = rest;
	for (;;) {
		while (*c == '/')
			c++;
		if (*c == '\0')
			return 0;
		n = strcspn(c, "/");
		last = c[n + strspn(c + n, "/")] == '\0';
		if (n == 1 && c[0] == '.') {
			c += n;
			continue;
		}
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			/* done has no link in it: ".." is lexical there. */
			while (dlen > 0 && done[--dlen] != '/')
				;
			done[dlen] = '\0';
			c += n;
			continue;
		}
		if (dlen + 1 + n >= sizeof(done)) {
			errno = ENAMETOOLONG;
			snprintf(msg, len, "%s: %s", path, strerror(errno));
			return -1;
		}
		done[dlen] = '/';
		memcpy(done + dlen + 1, c, n);
		done[dlen + 1 + n] = '\0';
		c += n;
		if (last && (flags & IOBS_TRUST_ABOVE))
			return 0;
		if (lstat(done, &st) == -1) {
			if (errno == ENOENT && (flags & IOBS_TRUST_MISSING))
				return 0;
			snprintf(msg, len, "%s: %s", done, strerror(errno));
			return -1;
		}
		if (entry_ok(done, &st, last, msg, len) == -1)
			return -1;
		if (!S_ISLNK(st.st_mode)) {
			dlen += 1 + n;
			continue;
		}
		if (++links > LINKS_MAX ||
		    (ln = readlink(done, link, sizeof(link) - 1)) == -1) {
			if (links > LINKS_MAX)
				errno = ELOOP;
			snprintf(msg, len, "%s: %s", done, strerror(errno));
			return -1;
		}
		link[ln] = '\0';
		/* The target, then what was left after the link. */
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", link, c) >=
		    sizeof(rest)) {
			errno = ENAMETOOLONG;
			snprintf(msg, len, "%s: %s", path, strerror(errno));
			return -1;
		}
		memcpy(rest, tmp, strlen(tmp) + 1);
		c = rest;
		if (link[0] == '/')
			dlen = 0;
		done[dlen] = '\0';
	}
}

int
iobs_trust_command(const char *prog, char *msg, size_t len)
{
	const char *path = getenv("PATH"), *p, *colon;
	char cand[PATH_MAX];
	struct stat st;
	size_t n;

	if (strchr(prog, '/') != NULL)
		return iobs_trust_path(prog, IOBS_TRUST_MISSING, msg, len);
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path; ; p = colon + 1) {
		colon = strchrnul(p, ':');
		n = colon - p;
		/* An empty entry is the current directory, as for execvp. */
		if ((size_t)snprintf(cand, sizeof(cand), "%.*s%s%s", (int)n, p,
		    n ? "/" : "", prog) < sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0)
			return iobs_trust_path(cand, 0, msg, len);
		if (*colon == '\0')
			return 0;
	}
}
