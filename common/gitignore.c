/*
 * gitignore(5) patterns: the parser, git's wildmatch, and the
 * precedence git gives them: the .gitignore of the deepest directory
 * first, then those above it up to the repository's top, then
 * .git/info/exclude, then --exclude-from; in each, the last pattern
 * that matches decides. Patterns under --gitignore are read when
 * first needed and read again when their file changes.
 */
#define _GNU_SOURCE	/* memrchr */
#include <sys/stat.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gitignore.h"
#include "hash.h"

/* What a match of the rest of a glob says: see dowild(). */
#define WM_MATCH		0
#define WM_NOMATCH		1
#define WM_ABORT_ALL		(-1)	/* no later start can match */
#define WM_ABORT_TO_STARSTAR	(-2)	/* none before the next "**" */

/* A file of patterns larger than this is read this far. */
#define GI_FILE_MAX	(4 * 1024 * 1024)

static const struct {
	const char	*name;
	int		 (*is)(int);
} classes[] = {
	{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank },
	{ "cntrl", iscntrl }, { "digit", isdigit }, { "graph", isgraph },
	{ "lower", islower }, { "print", isprint }, { "punct", ispunct },
	{ "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
};
#define NCLASSES	(sizeof(classes) / sizeof(classes[0]))

/*
 * A bracket expression at *pp (just past its '['), against c: 1 if it
 * matches, 0 if not, -1 if it is malformed. *pp is left on its ']'.
 */
static int
bracket(const char **pp, unsigned char c)
{
	const char *p = *pp, *end;
	int negate = 0, match = 0, first = 1;
	unsigned char lo, hi;
	size_t i, len;

	if (*p == '!' || *p == '^') {
		negate = 1;
		p++;
	}
	for (;; p++, first = 0) {
		if (*p == '\0')
			return -1;
		if (*p == ']' && !first)
			break;
		if (p[0] == '[' && p[1] == ':') {
			if ((end = strstr(p + 2, ":]")) == NULL)
				return -1;
			len = end - (p + 2);
			for (i = 0; i < NCLASSES; i++)
				if (strlen(classes[i].name) == len &&
				    strncmp(p + 2, classes[i].name, len) == 0)
					break;
			if (i == NCLASSES)
				return -1;
			if (classes[i].is(c))
				match = 1;
			p = end + 1;
			continue;
		}
		if (*p == '\\' && *++p == '\0')
			return -1;
		lo = hi = (unsigned char)*p;
		if (p[1] == '-' && p[2] != ']' && p[2] != '\0') {
			p += 2;
			if (*p == '\\' && *++p == '\0')
				return -1;
			hi = (unsigned char)*p;
		}
		if (c >= lo && c <= hi)
			match = 1;
	}
	*pp = p;
	return match != negate;
}

/*
 * A match in progress. Most globs match in a few steps; one with many
 * "**" can try every way to split a path, so past WM_STEPS the match
 * starts again remembering each (glob, text) position's result.
 */
struct wm {
	const char	*start;	/* the glob: a "**" there starts a directory */
	const char	*text;
	size_t		 tlen;
	int		 pathname;
	long		 steps;
	signed char	*memo;		/* result + 3, 0: not known */
};

#define WM_STEPS	(1L << 14)
#define WM_MEMO_MAX	((size_t)1 << 24)

static int dowild(struct wm *, const char *, const char *);

static int
dowild_memo(struct wm *m, const char *p, const char *t)
{
	size_t i;
	int r;

	if (m->memo == NULL) {
		m->steps++;
		return dowild(m, p, t);
	}
	i = (size_t)(p - m->start) * (m->tlen + 1) + (size_t)(t - m->text);
	if (m->memo[i] != 0)
		return m->memo[i] - 3;
	r = dowild(m, p, t);
	m->memo[i] = r + 3;
	return r;
}

/* The glob from p against the text from t. */
static int
dowild(struct wm *m, const char *p, const char *t)
{
	const char *stars;
	int slash, r;

	if (m->memo == NULL && m->steps > WM_STEPS)
		return WM_ABORT_ALL;	/* gi_wildmatch starts again */
	for (; *p != '\0'; p++, t++) {
		if (*t == '\0' && *p != '*')
			return WM_ABORT_ALL;
		switch (*p) {
		case '\\':
			/* A lone trailing backslash matches nothing. */
			if (*++p == '\0' || *t != *p)
				return WM_NOMATCH;
			break;
		case '?':
			if (m->pathname && *t == '/')
				return WM_NOMATCH;
			break;
		case '[':
			if (m->pathname && *t == '/')
				return WM_NOMATCH;
			p++;
			if ((r = bracket(&p, (unsigned char)*t)) == -1)
				return WM_ABORT_ALL;
			if (r == 0)
				return WM_NOMATCH;
			break;
		case '*':
			stars = p;
			while (*++p == '*')
				continue;
			slash = !m->pathname;
			if (m->pathname && p - stars > 1 &&
			    (stars == m->start || stars[-1] == '/') &&
			    (*p == '\0' || *p == '/')) {
				/* "**" and "** /": any directories, or none. */
				if (*p == '/' &&
				    dowild_memo(m, p + 1, t) == WM_MATCH)
					return WM_MATCH;
				slash = 1;
			}
			if (*p == '\0')
				return slash || strchr(t, '/') == NULL ?
				    WM_MATCH : WM_NOMATCH;
			for (; *t != '\0'; t++) {
				r = dowild_memo(m, p, t);
				if (r != WM_NOMATCH) {
					if (!slash || r != WM_ABORT_TO_STARSTAR)
						return r;
				} else if (!slash && *t == '/')
					return WM_ABORT_TO_STARSTAR;
			}
			return WM_ABORT_ALL;
		default:
			if (*t != *p)
				return WM_NOMATCH;
		}
	}
	return *t == '\0' ? WM_MATCH : WM_NOMATCH;
}

int
iobs_gi_wildmatch(const char *glob, const char *text, int pathname)
{
	struct wm m = { glob, text, 0, pathname, 0, NULL };
	size_t cells;
	int r;

	r = dowild(&m, glob, text);
	if (m.steps <= WM_STEPS)
		return r == WM_MATCH;
	m.tlen = strlen(text);
	cells = (strlen(glob) + 1) * (m.tlen + 1);
	if (cells > WM_MEMO_MAX)
		return 0;	/* too costly to tell: no match */
	if ((m.memo = calloc(cells, 1)) == NULL)
		err(1, "calloc");
	r = dowild(&m, glob, text);
	free(m.memo);
	return r == WM_MATCH;
}

static void
add_pattern(struct gi_list *l, const char *s, size_t len)
{
	struct gi_pattern *p;
	int flags = 0;
	size_t i;

	/* Trailing spaces go, unless escaped. */
	while (len > 0 && s[len - 1] == ' ' &&
	    (len < 2 || s[len - 2] != '\\'))
		len--;
	if (len == 0 || s[0] == '#')
		return;
	if (s[0] == '!') {
		flags |= GI_NEGATE;
		s++;
		len--;
	}
	if (len > 0 && s[len - 1] == '/') {
		flags |= GI_DIRONLY;
		len--;
	}
	if (len == 0)
		return;
	flags |= GI_BASENAME;
	for (i = 0; i < len; i++)
		if (s[i] == '/')
			flags &= ~GI_BASENAME;
	if (s[0] == '/') {
		s++;
		len--;
	}
	if (len == 0)
		return;		/* "/" or "//": names no entry */
	if ((p = reallocarray(l->p, l->n + 1, sizeof(*l->p))) == NULL)
		err(1, "reallocarray");
	l->p = p;
	if ((p[l->n].glob = strndup(s, len)) == NULL)
		err(1, "strndup");
	p[l->n++].flags = flags;
}

void
iobs_gi_parse(struct gi_list *l, const char *text, size_t len)
{
	const char *end = text + len, *nl;

	while (text < end) {
		if ((nl = memchr(text, '\n', end - text)) == NULL)
			nl = end;
		/* A NUL ends what a line says, as it does for git. */
		add_pattern(l, text, strnlen(text, nl - text));
		text = nl + 1;
	}
}

enum gi_verdict
iobs_gi_match(const struct gi_list *l, const char *path, int isdir)
{
	const char *base = strrchr(path, '/');
	size_t i;

	base = base != NULL ? base + 1 : path;
	for (i = l->n; i-- > 0;) {
		const struct gi_pattern *p = &l->p[i];

		if ((p->flags & GI_DIRONLY) && !isdir)
			continue;
		if (!iobs_gi_wildmatch(p->glob, (p->flags & GI_BASENAME) ? base :
		    path, !(p->flags & GI_BASENAME)))
			continue;
		return (p->flags & GI_NEGATE) ? GI_INCLUDED : GI_EXCLUDED;
	}
	return GI_NONE;
}

void
iobs_gi_list_free(struct gi_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->p[i].glob);
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

/* A directory's .gitignore, read: n 0 when it has none. */
struct gi_dir {
	char		*path;	/* absolute, "" for "/"; NULL: free */
	uint64_t	 hash;
	struct gi_list	 list;
};

struct gi_root {
	char		*path;		/* absolute, "" for "/" */
	size_t		 len;
	size_t		 toplen;	/* its repository's top */
	struct gi_list	 info;	/* .git/info/exclude there */
};

struct gitignore {
	int		 perdir;
	struct gi_list	 from;		/* --exclude-from */
	struct gi_root	*root;
	int		 nroots;
	struct gi_dir	*dir;		/* open addressing */
	size_t		 ndirs, cap;
	char		*buf;		/* a path being looked at */
	size_t		 bufcap;
	/* The cache of .gitignore files: a mirror's reader threads ask. */
	pthread_mutex_t	 lock;
};

/* The whole file, or as far as GI_FILE_MAX; -1 with errno. */
static int
read_file(const char *path, struct gi_list *l)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t len = 0, size;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	size = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < GI_FILE_MAX ? (size_t)st.st_size + 1 : GI_FILE_MAX;
	if ((text = malloc(size)) == NULL)
		err(1, "malloc");
	while (len < size && (n = read(fd, text + len, size - len)) > 0)
		len += n;
	close(fd);
	iobs_gi_parse(l, text, len);
	free(text);
	return 0;
}

struct gitignore *
iobs_gi_new(int perdir)
{
	struct gitignore *g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		err(1, "calloc");
	g->perdir = perdir;
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

void
iobs_gi_set_perdir(struct gitignore *g)
{
	g->perdir = 1;
}

int
iobs_gi_add_file(struct gitignore *g, const char *file)
{
	return read_file(file, &g->from);
}

/* buf holds path + "/" + name: grown to fit. */
static char *
path_join(struct gitignore *g, const char *path, size_t len,
    const char *name)
{
	size_t need = len + strlen(name) + 2;

	if (need > g->bufcap) {
		g->bufcap = need * 2;
		if ((g->buf = realloc(g->buf, g->bufcap)) == NULL)
			err(1, "realloc");
	}
	memcpy(g->buf, path, len);
	g->buf[len] = '/';
	strlcpy(g->buf + len + 1, name, need - len - 1);
	return g->buf;
}

void
iobs_gi_add_root(struct gitignore *g, const char *path)
{
	struct gi_root *r;
	struct stat st;
	size_t top;

	if ((r = reallocarray(g->root, g->nroots + 1, sizeof(*r))) == NULL)
		err(1, "reallocarray");
	g->root = r;
	r = &g->root[g->nroots++];
	memset(r, 0, sizeof(*r));
	if ((r->path = strdup(path)) == NULL)
		err(1, "strdup");
	r->len = r->toplen = strlen(path);
	if (!g->perdir)
		return;
	/* The repository's top: the nearest directory with a .git. */
	for (top = r->len;;) {
		if (lstat(path_join(g, path, top, ".git"), &st) == 0) {
			r->toplen = top;
			(void)read_file(path_join(g, path, top,
			    ".git/info/exclude"), &r->info);
			return;
		}
		if (top == 0)
			return;
		while (top > 0 && path[--top] != '/')
			continue;
	}
}

int
iobs_gi_roots(const struct gitignore *g)
{
	return g->nroots;
}

static void
dir_insert(struct gitignore *, struct gi_dir *);

static void
dir_grow(struct gitignore *g)
{
	struct gi_dir *old = g->dir;
	size_t i, oldcap = g->cap;

	g->cap = oldcap ? oldcap * 2 : 64;
	if ((g->dir = calloc(g->cap, sizeof(*g->dir))) == NULL)
		err(1, "calloc");
	g->ndirs = 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].path != NULL)
			dir_insert(g, &old[i]);
	free(old);
}

static void
dir_insert(struct gitignore *g, struct gi_dir *d)
{
	size_t i;

	for (i = d->hash & (g->cap - 1); g->dir[i].path != NULL;
	    i = (i + 1) & (g->cap - 1))
		continue;
	g->dir[i] = *d;
	g->ndirs++;
}

static struct gi_dir *
dir_find(struct gitignore *g, const char *path, size_t len, uint64_t h)
{
	size_t i;

	if (g->cap == 0)
		return NULL;
	for (i = h & (g->cap - 1); g->dir[i].path != NULL;
	    i = (i + 1) & (g->cap - 1))
		if (g->dir[i].hash == h && strncmp(g->dir[i].path, path,
		    len) == 0 && g->dir[i].path[len] == '\0')
			return &g->dir[i];
	return NULL;
}

/* The patterns of the directory path (len bytes), read if not yet. */
static const struct gi_list *
dir_list(struct gitignore *g, const char *path, size_t len)
{
	uint64_t h = iobs_fnv1a(path, len, IOBS_FNV_BASIS);
	struct gi_dir *d, nd;

	if ((d = dir_find(g, path, len, h)) != NULL)
		return &d->list;
	memset(&nd, 0, sizeof(nd));
	nd.hash = h;
	if ((nd.path = strndup(path, len)) == NULL)
		err(1, "strndup");
	(void)read_file(path_join(g, path, len, ".gitignore"), &nd.list);
	if (2 * (g->ndirs + 1) > g->cap)
		dir_grow(g);
	dir_insert(g, &nd);
	return &dir_find(g, path, len, h)->list;
}

static void
dirs_clear(struct gitignore *g)
{
	size_t i;

	for (i = 0; i < g->cap; i++)
		if (g->dir[i].path != NULL) {
			free(g->dir[i].path);
			iobs_gi_list_free(&g->dir[i].list);
		}
	free(g->dir);
	g->dir = NULL;
	g->ndirs = g->cap = 0;
}

static int
excluded(struct gitignore *g, int i, const char *rel, size_t rellen,
    int isdir)
{
	const struct gi_root *r = &g->root[i];
	const char *name;
	enum gi_verdict v = GI_NONE;
	char *abs;
	size_t len, dir;

	/* The entry's absolute path, NUL-terminated, in its own copy. */
	len = r->len + 1 + rellen;
	if ((abs = malloc(len + 1)) == NULL)
		err(1, "malloc");
	memcpy(abs, r->path, r->len);
	abs[r->len] = '/';
	memcpy(abs + r->len + 1, rel, rellen);
	abs[len] = '\0';
	if (g->perdir) {
		name = strrchr(abs, '/') + 1;
		/* As git: its own directory is no part of the tree. */
		if (strcmp(name, ".git") == 0) {
			free(abs);
			return 1;
		}
		/* From the entry's directory up to the top, deepest first. */
		for (dir = name - 1 - abs; v == GI_NONE && dir >= r->toplen;) {
			v = iobs_gi_match(dir_list(g, abs, dir), abs + dir + 1,
			    isdir);
			if (dir == r->toplen)
				break;
			while (dir > 0 && abs[--dir] != '/')
				continue;
		}
		if (v == GI_NONE)
			v = iobs_gi_match(&r->info, abs + r->toplen + 1, isdir);
	}
	if (v == GI_NONE)
		v = iobs_gi_match(&g->from, abs + r->len + 1, isdir);
	free(abs);
	return v == GI_EXCLUDED;
}

int
iobs_gi_excluded(struct gitignore *g, int i, const char *rel, size_t rellen,
    int isdir)
{
	int r;

	pthread_mutex_lock(&g->lock);
	r = excluded(g, i, rel, rellen, isdir);
	pthread_mutex_unlock(&g->lock);
	return r;
}

static void
changed(struct gitignore *g, const char *abs, size_t len, int isdir)
{
	struct gi_dir *d;
	const char *slash;
	size_t dlen;

	if (!g->perdir)
		return;
	if (isdir) {
		dirs_clear(g);
		return;
	}
	if ((slash = memrchr(abs, '/', len)) == NULL ||
	    (size_t)(abs + len - slash - 1) != strlen(".gitignore") ||
	    memcmp(slash + 1, ".gitignore", strlen(".gitignore")) != 0)
		return;
	dlen = slash - abs;
	if ((d = dir_find(g, abs, dlen, iobs_fnv1a(abs, dlen,
	    IOBS_FNV_BASIS))) == NULL)
		return;
	iobs_gi_list_free(&d->list);
	(void)read_file(path_join(g, abs, dlen, ".gitignore"), &d->list);
}

void
iobs_gi_changed(struct gitignore *g, const char *abs, size_t len, int isdir)
{
	pthread_mutex_lock(&g->lock);
	changed(g, abs, len, isdir);
	pthread_mutex_unlock(&g->lock);
}

void
iobs_gi_free(struct gitignore *g)
{
	int i;

	if (g == NULL)
		return;
	dirs_clear(g);
	iobs_gi_list_free(&g->from);
	for (i = 0; i < g->nroots; i++) {
		free(g->root[i].path);
		iobs_gi_list_free(&g->root[i].info);
	}
	free(g->root);
	free(g->buf);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
