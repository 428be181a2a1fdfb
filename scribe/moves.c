/*
 * Move tracking: pairs a MOVED_FROM with the MOVED_TO of the same
 * cookie. Within one stream the pair is matched in memory. With a
 * shared cache, a MOVED_FROM still unmatched when the input runs dry is
 * published as scribe.move.<cookie>; a MOVED_TO that finds no partner
 * here takes it from there, retrying for a while, since the other
 * pipeline may be slower. Whoever takes the key owns the move: the
 * MOVED_TO side logs it as moved, the writer taking its key back after
 * the window logs it as moved out. The take is atomic, so exactly one
 * of them does.
 */
#include <sys/queue.h>

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scribe.h"

#define NBUCKET		1024
#define KEY_PREFIX	"scribe.move."
/* A safety net only: the writer takes its key back long before. */
#define KEY_TTL		5

struct pend {
	struct pend		*hnext;
	TAILQ_ENTRY(pend)	 q;
	uint32_t		 cookie;
	int			 published;	/* 1 in cache, -1 never */
	int			 found;
	int64_t			 deadline;
	struct move_end		 e;
};

struct pset {
	struct pend		*bucket[NBUCKET];
	TAILQ_HEAD(pendhead, pend) q;
};

struct moves {
	struct iobs_cache	*cache;
	moves_emit_fn		*emit;
	void			*arg;
	struct pset		 from, to;
	int64_t			 next_retry;
	int			 warned;
};

static void
pset_init(struct pset *s)
{
	memset(s->bucket, 0, sizeof(s->bucket));
	TAILQ_INIT(&s->q);
}

static struct pend *
pset_find(struct pset *s, uint32_t cookie)
{
	struct pend *p;

	for (p = s->bucket[cookie % NBUCKET]; p != NULL; p = p->hnext)
		if (p->cookie == cookie)
			return p;
	return NULL;
}

static struct pend *
pset_add(struct pset *s, uint32_t cookie, const struct move_end *e,
    int64_t deadline)
{
	struct pend *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->e.path = malloc(e->pathlen + 1)) == NULL)
		err(1, "malloc");
	memcpy(p->e.path, e->path, e->pathlen);
	p->e.path[e->pathlen] = '\0';
	p->e.pathlen = e->pathlen;
	p->e.time = e->time;
	p->e.isdir = e->isdir;
	p->e.rootlen = e->rootlen;
	p->cookie = cookie;
	p->deadline = deadline;
	p->hnext = s->bucket[cookie % NBUCKET];
	s->bucket[cookie % NBUCKET] = p;
	TAILQ_INSERT_TAIL(&s->q, p, q);
	return p;
}

static void
pset_remove(struct pset *s, struct pend *p)
{
	struct pend **pp;

	for (pp = &s->bucket[p->cookie % NBUCKET]; *pp != p;
	    pp = &(*pp)->hnext)
		;
	*pp = p->hnext;
	TAILQ_REMOVE(&s->q, p, q);
	free(p->e.path);
	free(p);
}

static void
cache_warn(struct moves *m, const char *what)
{
	if (m->warned)
		return;
	m->warned = 1;
	warnx("shared cache: %s: %s; moves between pipelines may be "
	    "missed", what, iobs_cache_strerror(m->cache));
}

static void
make_key(char *key, size_t size, uint32_t cookie)
{
	snprintf(key, size, KEY_PREFIX "%u", cookie);
}

/* The value: 'd' or 'f', the time, a TAB, the path's raw bytes. */
static char *
encode(const struct move_end *e, size_t *len)
{
	char *val;
	int n;

	if ((val = malloc(e->pathlen + 48)) == NULL)
		err(1, "malloc");
	n = snprintf(val, 48, "%c%lld.%06ld\t", e->isdir ? 'd' : 'f',
	    (long long)e->time.tv_sec, (long)e->time.tv_usec);
	memcpy(val + n, e->path, e->pathlen);
	*len = n + e->pathlen;
	return val;
}

static int
decode(char *val, size_t len, struct move_end *e)
{
	char *tab, *end;

	if (len < 2 || (val[0] != 'd' && val[0] != 'f') ||
	    (tab = memchr(val, '\t', len)) == NULL)
		return -1;
	e->isdir = val[0] == 'd';
	e->time.tv_sec = strtoll(val + 1, &end, 10);
	e->time.tv_usec = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
	e->pathlen = len - (tab + 1 - val);
	e->path = tab + 1;
	e->rootlen = -1;
	return 0;
}

/* Takes the MOVED_FROM of cookie from the cache: 0 when found. */
static int
take_from(struct moves *m, uint32_t cookie, struct move_end *e, char **val)
{
	char key[32];
	size_t len;
	int rc;

	make_key(key, sizeof(key), cookie);
	rc = iobs_cache_take(m->cache, key, val, &len);
	if (rc == -1)
		cache_warn(m, "take");
	if (rc != 0)
		return -1;
	if (decode(*val, len, e) == -1) {
		free(*val);
		return -1;
	}
	return 0;
}

struct moves *
moves_new(struct iobs_cache *cache, moves_emit_fn *emit, void *arg)
{
	struct moves *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		err(1, "calloc");
	m->cache = cache;
	m->emit = emit;
	m->arg = arg;
	pset_init(&m->from);
	pset_init(&m->to);
	return m;
}

/* The window of a MOVED_FROM is over: log it unless taken elsewhere. */
static void
take_back(struct moves *m, struct pend *p)
{
	char key[32], *val;
	int rc = 0;

	if (p->published == 1) {
		make_key(key, sizeof(key), p->cookie);
		if ((rc = iobs_cache_take(m->cache, key, &val, NULL)) == 0)
			free(val);
		else if (rc == -1)
			cache_warn(m, "take");
	}
	/* Absent: a MOVED_TO in another stream took it and logged it. */
	if (rc != 1)
		m->emit(m->arg, SCRIBE_MOVED_OUT, &p->e, NULL);
	pset_remove(&m->from, p);
}

void
moves_from(struct moves *m, uint32_t cookie, const struct move_end *e,
    int64_t now)
{
	struct pend *p;

	if (cookie == 0) {
		m->emit(m->arg, SCRIBE_MOVED_OUT, e, NULL);
		return;
	}
	if ((p = pset_find(&m->from, cookie)) != NULL)
		take_back(m, p);
	pset_add(&m->from, cookie, e, now + MOVES_WINDOW_MS);
}

void
moves_to(struct moves *m, uint32_t cookie, const struct move_end *e,
    int64_t now)
{
	struct move_end from;
	struct pend *p;
	char key[32], *val;

	if (cookie != 0 && (p = pset_find(&m->from, cookie)) != NULL) {
		if (p->published == 1) {
			make_key(key, sizeof(key), cookie);
			if (iobs_cache_take(m->cache, key, &val, NULL) == 0)
				free(val);
		}
		m->emit(m->arg, SCRIBE_MOVED, &p->e, e);
		pset_remove(&m->from, p);
		return;
	}
	if (cookie != 0 && m->cache != NULL) {
		if (take_from(m, cookie, &from, &val) == 0) {
			m->emit(m->arg, SCRIBE_MOVED, &from, e);
			free(val);
			return;
		}
		if (TAILQ_EMPTY(&m->to.q))
			m->next_retry = now + MOVES_RETRY_MS;
		if ((p = pset_find(&m->to, cookie)) != NULL) {
			m->emit(m->arg, SCRIBE_MOVED_IN, NULL, &p->e);
			pset_remove(&m->to, p);
		}
		pset_add(&m->to, cookie, e, now + MOVES_WINDOW_MS);
		return;
	}
	m->emit(m->arg, SCRIBE_MOVED_IN, NULL, e);
}

void
moves_publish(struct moves *m)
{
	struct pend *p, *first = NULL;
	char key[32], *val;
	size_t len;

	if (m->cache == NULL)
		return;
	/* New entries go to the tail: the unpublished ones end the queue. */
	TAILQ_FOREACH_REVERSE(p, &m->from.q, pendhead, q) {
		if (p->published != 0)
			break;
		first = p;
	}
	for (p = first; p != NULL; p = TAILQ_NEXT(p, q)) {
		make_key(key, sizeof(key), p->cookie);
		val = encode(&p->e, &len);
		if (iobs_cache_put(m->cache, key, val, len, KEY_TTL) == 0)
			p->published = 1;
		else {
			cache_warn(m, "put");
			p->published = -1;
		}
		free(val);
	}
}

int
moves_timeout(struct moves *m, int64_t now)
{
	struct pend *p;
	int64_t next = -1, t;

	if ((p = TAILQ_FIRST(&m->from.q)) != NULL)
		next = p->deadline;
	if ((p = TAILQ_FIRST(&m->to.q)) != NULL) {
		t = p->deadline < m->next_retry ? p->deadline : m->next_retry;
		if (next == -1 || t < next)
			next = t;
	}
	if (next == -1)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static int
mark_found(const char *key, const void *val, size_t len, time_t expires,
    void *arg)
{
	struct moves *m = arg;
	struct pend *p;
	char *end;
	unsigned long cookie;

	(void)val;
	(void)len;
	(void)expires;
	cookie = strtoul(key + sizeof(KEY_PREFIX) - 1, &end, 10);
	if (*end == '\0' && cookie <= UINT32_MAX &&
	    (p = pset_find(&m->to, cookie)) != NULL)
		p->found = 1;
	return 0;
}

/* One read of the cache for all waiting MOVED_TOs, a take for each hit. */
static void
retry_to(struct moves *m)
{
	struct pend *p, *next;
	struct move_end from;
	char *val;

	if (iobs_cache_list(m->cache, KEY_PREFIX, mark_found, m) == -1) {
		cache_warn(m, "list");
		return;
	}
	for (p = TAILQ_FIRST(&m->to.q); p != NULL; p = next) {
		next = TAILQ_NEXT(p, q);
		if (!p->found)
			continue;
		p->found = 0;
		if (take_from(m, p->cookie, &from, &val) == 0) {
			m->emit(m->arg, SCRIBE_MOVED, &from, &p->e);
			free(val);
			pset_remove(&m->to, p);
		}
	}
}

void
moves_expire(struct moves *m, int64_t now)
{
	struct pend *p;

	while ((p = TAILQ_FIRST(&m->from.q)) != NULL && p->deadline <= now)
		take_back(m, p);
	if (TAILQ_EMPTY(&m->to.q))
		return;
	if (now >= m->next_retry) {
		retry_to(m);
		m->next_retry = now + MOVES_RETRY_MS;
	}
	while ((p = TAILQ_FIRST(&m->to.q)) != NULL && p->deadline <= now) {
		m->emit(m->arg, SCRIBE_MOVED_IN, NULL, &p->e);
		pset_remove(&m->to, p);
	}
}

void
moves_dead(struct moves *m, const char *root, size_t rootlen)
{
	struct pend *p, *next;

	for (p = TAILQ_FIRST(&m->from.q); p != NULL; p = next) {
		next = TAILQ_NEXT(p, q);
		if (p->e.rootlen == (ssize_t)rootlen &&
		    memcmp(p->e.path, root, rootlen) == 0)
			take_back(m, p);
	}
}

void
moves_finish(struct moves *m)
{
	struct pend *p;

	if (m->cache != NULL && !TAILQ_EMPTY(&m->to.q))
		retry_to(m);
	while ((p = TAILQ_FIRST(&m->from.q)) != NULL)
		take_back(m, p);
	while ((p = TAILQ_FIRST(&m->to.q)) != NULL) {
		m->emit(m->arg, SCRIBE_MOVED_IN, NULL, &p->e);
		pset_remove(&m->to, p);
	}
}

void
moves_free(struct moves *m)
{
	struct pend *p;

	while ((p = TAILQ_FIRST(&m->from.q)) != NULL)
		pset_remove(&m->from, p);
	while ((p = TAILQ_FIRST(&m->to.q)) != NULL)
		pset_remove(&m->to, p);
	free(m);
}
