/*
 * Progress of long work: a whole sync, a reconcile after an OVERFLOW,
 * a --verify pass. On a terminal, one line on standard error that
 * rewrites itself five times a second; with --progress=lines, a plain
 * line every 5 s, for logs; then a summary line. Under iobs-supervise
 * the same figures go to the cache, for status and systemd's STATUS=.
 * The walk calls progress_entry() for every entry: a counter, and a
 * look at the clock every 256th.
 */
#define _GNU_SOURCE

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "human.h"
#include "stream.h"
#include "mirror.h"

#define LINE_MS		200	/* a terminal's line, this often */

/* What each kind of pass says while it runs, and once done. */
static const struct {
	const char *ing, *ed, *cache;
} phases[] = {
	[PHASE_SYNC] = { "syncing", "synced", "syncing" },
	[PHASE_RESYNC] = { "resyncing", "resynced", "resyncing" },
	[PHASE_VERIFY] = { "verifying", "verified", "verifying" },
};
#define LINES_MS	5000	/* a log's lines */
#define PUBLISH_MS	1000	/* the cache */

/* The cache's record of it: phase, figures, and when it began. */
static void
publish(struct mirror *m, const char *phase)
{
	struct progress *p = &m->progress;
	char *val;

	if (m->cache == NULL || p->key == NULL)
		return;
	if (asprintf(&val, "dest=%s\nphase=%s\nentries=%llu\ncopied=%llu\n"
	    "bytes=%llu\nsince=%lld\nfailing=%zu\n", m->o.dest, phase,
	    p->entries, p->copied, p->bytes, (long long)p->since,
	    p->failing) == -1)
		err(1, "asprintf");
	if (iobs_cache_put(m->cache, p->key, val, strlen(val), 0) == -1 &&
	    !p->cache_said) {
		warnx("cache: %s: %s", p->key, iobs_cache_strerror(m->cache));
		p->cache_said = 1;
	}
	free(val);
	p->published = now_ms();
}

static void
show(struct mirror *m, int done)
{
	struct progress *p = &m->progress;
	char e[32], c[32], b[32], r1[32], r2[32];
	double secs = (now_ms() - p->start) / 1000.0;

	iobs_grouped(e, sizeof(e), p->entries);
	iobs_grouped(c, sizeof(c), p->copied);
	iobs_bytes(b, sizeof(b), (double)p->bytes);
	if (done)
		fprintf(stderr, "%s%s %s: %s entries, %s copied (%s) in "
		    "%.1f s%s\n", p->mode == PROGRESS_LINE ? "\r" : "",
		    phases[p->phase].ed, m->o.dest, e, c, b, secs,
		    p->mode == PROGRESS_LINE ? "\033[K" : "");
	else {
		iobs_grouped(r1, sizeof(r1), (unsigned long long)(secs > 0 ?
		    p->entries / secs : 0));
		iobs_bytes(r2, sizeof(r2), secs > 0 ? p->bytes / secs : 0);
		fprintf(stderr, "%s%s %s: %s entries, %s copied (%s), "
		    "%s entries/s, %s/s%s", p->mode == PROGRESS_LINE ? "\r" :
		    "", phases[p->phase].ing, m->o.dest, e, c, b, r1, r2,
		    p->mode == PROGRESS_LINE ? "\033[K" : "\n");
	}
	fflush(stderr);
	p->shown = now_ms();
}

/*
 * The cache's key of kind for this mirror, as iobs-supervise names it:
 * KIND/PLUGIN/PATH, or KIND/PLUGIN#N/PATH for a front's child N; NULL
 * when not run by iobs-supervise.
 */
char *
cache_key(const char *kind)
{
	const char *watch = getenv("IOBS_WATCH"),
	    *plugin = getenv("IOBS_PLUGIN"),
	    *branch = getenv(FANOUT_BRANCH_ENV);
	char *key;

	if (watch == NULL || *watch == '\0' || plugin == NULL ||
	    *plugin == '\0')
		return NULL;
	if (asprintf(&key, "%s/%s%s%s%s", kind, plugin, branch != NULL &&
	    *branch != '\0' ? "#" : "", branch != NULL ? branch : "", watch)
	    == -1)
		err(1, "asprintf");
	return key;
}

/* --progress, or a terminal: the mode; and the cache's key. */
void
progress_init(struct mirror *m)
{
	if (m->o.progress == PROGRESS_AUTO)
		m->progress.mode = isatty(STDERR_FILENO) ? PROGRESS_LINE :
		    PROGRESS_OFF;
	else
		m->progress.mode = m->o.progress;
	m->progress.key = cache_key("progress");
}

void
progress_begin(struct mirror *m, enum phase phase)
{
	struct progress *p = &m->progress;

	p->phase = phase;
	p->running = 1;
	p->entries = p->copied = p->bytes = 0;
	p->tick = 0;
	p->start = p->shown = now_ms();
	p->since = time(NULL);
	publish(m, phases[phase].cache);
}

/* One more entry compared; now and then, the figures shown. */
void
progress_entry(struct mirror *m)
{
	struct progress *p = &m->progress;
	int64_t now;

	p->entries++;
	if (!p->running || (++p->tick & 255) != 0)
		return;
	now = now_ms();
	if (p->mode != PROGRESS_OFF && now - p->shown >=
	    (p->mode == PROGRESS_LINE ? LINE_MS : LINES_MS))
		show(m, 0);
	if (now - p->published >= PUBLISH_MS)
		publish(m, phases[p->phase].cache);
}

void
progress_copied(struct mirror *m, off_t size)
{
	m->progress.copied++;
	m->progress.bytes += (unsigned long long)size;
}

/* The summary; the cache says the pipeline is up. */
void
progress_end(struct mirror *m)
{
	struct progress *p = &m->progress;

	if (!p->running)
		return;
	if (p->mode != PROGRESS_OFF)
		show(m, 1);
	publish(m, "up");
	p->running = 0;
}

/*
 * Entries failing in DEST, tried again by themselves (a read-only or
 * full DEST): in the cache for status, at once to and from none, else
 * at most once a second.
 */
void
progress_failing(struct mirror *m, size_t n)
{
	struct progress *p = &m->progress;

	if (n == p->failing || (n != 0 && p->failing != 0 &&
	    now_ms() - p->published < PUBLISH_MS))
		return;
	p->failing = n;
	publish(m, p->running ? phases[p->phase].cache : "up");
}

void
progress_free(struct mirror *m)
{
	free(m->progress.key);
	m->progress.key = NULL;
}
