/*
 * What iobs-mirror's remote mode reads and writes as rsync does: a
 * remote destination's name, a remote-shell command line (-e), the
 * paths in rsync's error lines, and excludes as rsync filters.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rsync.h"
#include "trust.h"

static char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if ((p = strndup(s, n)) == NULL)
		err(1, "strndup");
	return p;
}

/* s, with a '/' at the end unless it has one. */
static char *
with_slash(const char *s)
{
	char *p;
	size_t n = strlen(s);

	if (asprintf(&p, "%s%s", s, n > 0 && s[n - 1] == '/' ? "" : "/")
	    == -1)
		err(1, "asprintf");
	return p;
}

int
remote_dest_parse(const char *dest, struct remote_dest *d, char *why,
    size_t whylen)
{
	const char *p, *host, *rest;
	char *b, *hp;
	size_t hlen;

	if (strncmp(dest, "rsync://", 8) == 0) {
		host = dest + 8;
		p = strchr(host, '/');
		if (p == NULL || p == host || p[1] == '\0' || p[1] == '/') {
			snprintf(why, whylen, "%s: not rsync://[user@]host"
			    "[:port]/module[/path]", dest);
			return -1;
		}
		goto daemon;
	}
	/* The first ':' before any '/', a bracketed IPv6 address skipped. */
	for (p = dest; *p != '\0' && *p != '/' && *p != ':'; p++)
		if (*p == '[' && (p = strchr(p, ']')) == NULL)
			return 0;
	if (*p != ':')
		return 0;
	if (p == dest) {
		snprintf(why, whylen, "%s: no host before ':' (write ./%s "
		    "for a local directory)", dest, dest);
		return -1;
	}
	if (p[1] == ':') {
		if (p[2] == '\0' || p[2] == '/') {
			snprintf(why, whylen, "%s: no module after '::'",
			    dest);
			return -1;
		}
		goto daemon;
	}
	/* [user@][host]: the brackets are rsync's, not ssh's. */
	hlen = p - dest;
	host = hp = xstrndup(dest, hlen);
	if ((b = strchr(hp, '[')) != NULL) {
		memmove(b, b + 1, strlen(b));
		if ((b = strchr(hp, ']')) != NULL)
			memmove(b, b + 1, strlen(b));
	}
	/* Never an option to ssh, however it is written; rsync splits user@. */
	b = strrchr(hp, '@');
	if (hp[0] == '-' || hp[0] == '\0' || (b != NULL && (b[1] == '-' ||
	    b[1] == '\0'))) {
		snprintf(why, whylen, "%s: a host cannot %s", dest,
		    strchr(hp, '-') == hp || (b != NULL && b[1] == '-') ?
		    "begin with '-'" : "be empty");
		free(hp);
		return -1;
	}
	if (d == NULL) {
		free(hp);
		return 1;
	}
	memset(d, 0, sizeof(*d));
	d->kind = RK_SSH;
	d->host = hp;
	rest = p[1] != '\0' ? p + 1 : ".";
	d->path = xstrndup(rest, strlen(rest));
	d->spec = with_slash(dest);
	return 1;
daemon:
	if (d == NULL)
		return 1;
	memset(d, 0, sizeof(*d));
	d->kind = RK_DAEMON;
	d->spec = with_slash(dest);
	d->path = xstrndup(dest, strlen(dest));
	return 1;
}

void
remote_dest_free(struct remote_dest *d)
{
	free(d->spec);
	free(d->host);
	free(d->path);
	memset(d, 0, sizeof(*d));
}

char **
rsh_split(const char *cmd, char *why, size_t whylen)
{
	char **v, *w;
	size_t n = 0, len;
	const char *p = cmd;
	char q;

	/* At most one word per two bytes, and the NULL. */
	len = strlen(cmd);
	if ((v = calloc(len / 2 + 2, sizeof(*v))) == NULL ||
	    (w = malloc(len + 1)) == NULL)
		err(1, "malloc");
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		len = 0;
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p != '\'' && *p != '"') {
				w[len++] = *p++;
				continue;
			}
			q = *p++;
			while (*p != q) {
				if (*p == '\0') {
					snprintf(why, whylen, "%s: a %c quote "
					    "is not closed", cmd, q);
					free(w);
					v[n] = NULL;
					words_free(v);
					return NULL;
				}
				if (q == '"' && *p == '\\' &&
				    (p[1] == '"' || p[1] == '\\'))
					p++;
				w[len++] = *p++;
			}
			p++;
		}
		v[n++] = xstrndup(w, len);
	}
	free(w);
	if (n == 0) {
		snprintf(why, whylen, "the remote shell command is empty");
		free(v);
		return NULL;
	}
	return v;
}

char **
rsh_words(const char *cmd, char *why, size_t whylen)
{
	char **w;

	if ((w = rsh_split(cmd, why, whylen)) == NULL)
		return NULL;
	if (geteuid() == 0 &&
	    (iobs_trust_command(w[0], why, whylen) == -1 ||
	    iobs_trust_command("rsync", why, whylen) == -1)) {
		words_free(w);
		return NULL;
	}
	return w;
}

void
words_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* rsync writes an odd byte in a name as \#ooo. */
static void
unescape(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (r[0] == '\\' && r[1] == '#' && isdigit((unsigned char)r[2])
		    && isdigit((unsigned char)r[3]) &&
		    isdigit((unsigned char)r[4])) {
			*w++ = (char)((r[2] - '0') * 64 + (r[3] - '0') * 8 +
			    (r[4] - '0'));
			r += 5;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

/* A name rsync writes to first: .NAME.XXXXXX in the same directory. */
static void
untemp(char *rel)
{
	char *base = strrchr(rel, '/'), *dot;
	size_t n;

	base = base ? base + 1 : rel;
	n = strlen(base);
	if (base[0] != '.' || n < 9 || base[n - 7] != '.')
		return;
	dot = base + n - 7;
	*dot = '\0';
	memmove(base, base + 1, strlen(base));
}

char *
rsync_error_path(const char *line, const char *src, const char *dst)
{
	const char *open, *close, *p;
	char *path, *rel;
	size_t n;

	if (strncmp(line, "rsync: ", 7) != 0 &&
	    strncmp(line, "file has vanished: ", 19) != 0 &&
	    strncmp(line, "directory has vanished: ", 24) != 0)
		return NULL;
	if ((open = strchr(line, '"')) == NULL ||
	    (close = strchr(open + 1, '"')) == NULL || close == open + 1)
		return NULL;
	path = xstrndup(open + 1, close - open - 1);
	unescape(path);
	p = path;
	if (src != NULL && (n = strlen(src)) > 0 && strncmp(p, src, n) == 0)
		p += n;
	else if (dst != NULL && (n = strlen(dst)) > 0 &&
	    strncmp(p, dst, n) == 0)
		p += n;
	else if (*p == '/') {
		free(path);
		return NULL;
	}
	while (*p == '/' || (p[0] == '.' && p[1] == '/'))
		p += 1 + (*p == '.');
	rel = xstrndup(p, strlen(p));
	free(path);
	n = strlen(rel);
	while (n > 0 && rel[n - 1] == '/')
		rel[--n] = '\0';
	if (strcmp(rel, ".") == 0)
		rel[0] = '\0';
	untemp(rel);
	/* Only a plain path below the root: never "..", never "x//y". */
	for (p = rel; *p != '\0'; p += n + (p[n] == '/')) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			free(rel);
			return NULL;
		}
	}
	return rel;
}

char *
rsync_exclude(const char *glob)
{
	char *p;

	/* Ours with a '/' match from the root; rsync's only when anchored. */
	if (asprintf(&p, "%s%s", strchr(glob, '/') != NULL &&
	    glob[0] != '/' ? "/" : "", glob) == -1)
		err(1, "asprintf");
	return p;
}
