/*
 * Listings of directories (listing.h): getdents64(2) into a big buffer
 * (through glibc's wrapper, which the tests' shim can make fail),
 * the names into one arena, sorted; and the reader threads that list
 * ahead of the walk. Jobs are taken deepest first, then in the order
 * asked: the order a depth-first walk needs them in. The walk lists a
 * job itself when no reader has started it, so that it never waits for
 * a reader busy elsewhere. The readers know nothing of the mirror.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exclude.h"
#include "listing.h"
#include "stream.h"
#include "pathset.h"

#define GETDENTS_BUF	(64 * 1024)
#define READERS_MAX	4
/* Stats a reader takes ahead of the walk in one directory, at most. */
#define WINDOW		256
/* Stats a walk waiting for one lets the reader take before it wakes. */
#define WAKE_EVERY	32

struct lstat_slot {
	struct stat	 st;
	int		 err;
};

enum { JOB_NONE, JOB_QUEUED, JOB_RUNNING, JOB_LISTED, JOB_DONE };

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 work;		/* a job queued, or stop */
	pthread_cond_t	 change;	/* a job listed, a stat taken or freed */
	pthread_t	 tid[READERS_MAX];
	int		 n;		/* readers started, -1 before trying */
	int		 idle;		/* readers without a job */
	struct listing	*queue;
	unsigned long	 seq;
	int		 stop;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.change = PTHREAD_COND_INITIALIZER,
	.n = -1,
};

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->s,
	    ((const struct name *)b)->s);
}

/* name in fd (rel) is left out; type as getdents64 gives it. */
static int
excluded(const struct listing_skip *ex, int fd, const char *rel,
    const char *name, unsigned char type)
{
	struct stat st;
	char *child;
	int r = 0, isdir;

	if (ex == NULL || ((ex->ex == NULL || ex->ex->n == 0) &&
	    ex->gi == NULL))
		return 0;
	child = rel_join(rel, name);
	if (ex->ex != NULL && ex->ex->n > 0)
		r = iobs_exclude_match(ex->ex, child, name);
	if (!r && ex->gi != NULL) {
		isdir = type == DT_DIR || (type == DT_UNKNOWN &&
		    fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode));
		r = iobs_gi_excluded(ex->gi, 0, child, strlen(child), isdir);
	}
	free(child);
	return r;
}

static void
emptied(struct listing *l)
{
	free(l->v);
	free(l->arena);
	l->v = NULL;
	l->arena = NULL;
	l->n = 0;
}

/* Lists l->fd into l; names first as offsets, pointers once whole. */
static int
list_fd(struct listing *l, const char *rel, const struct listing_skip *ex)
{
	struct dirent64 *de;
	size_t len, alen = 0, acap = 0, cap = 0, i;
	char *buf;
	long nread, pos;

	if ((buf = malloc(GETDENTS_BUF)) == NULL)
		err(1, "malloc");
	/* A descriptor listed before reads from its start again. */
	if (!l->owned && lseek(l->fd, 0, SEEK_SET) == -1) {
		l->err = errno;
		goto fail;
	}
	for (;;) {
		nread = getdents64(l->fd, buf, GETDENTS_BUF);
		if (nread == -1 && errno == EINTR)
			continue;
		if (nread == -1) {
			l->err = errno;
			goto fail;
		}
		if (nread == 0)
			break;
		for (pos = 0; pos < nread; pos += de->d_reclen) {
			de = (struct dirent64 *)(buf + pos);
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			if (excluded(ex, l->fd, rel, de->d_name, de->d_type))
				continue;
			len = strlen(de->d_name) + 1;
			if (alen + len > acap) {
				acap = acap ? acap * 2 : 1024;
				while (alen + len > acap)
					acap *= 2;
				if ((l->arena = realloc(l->arena, acap)) == NULL)
					err(1, "realloc");
			}
			if (l->n == cap) {
				cap = cap ? cap * 2 : 32;
				if ((l->v = reallocarray(l->v, cap,
				    sizeof(*l->v))) == NULL)
					err(1, "reallocarray");
			}
			memcpy(l->arena + alen, de->d_name, len);
			l->v[l->n].s = (char *)(uintptr_t)alen;
			l->v[l->n++].type = de->d_type;
			alen += len;
		}
	}
	free(buf);
	/* Only what was kept: a big directory's arena is held a while. */
	if (l->n > 0 && (l->v = reallocarray(l->v, l->n, sizeof(*l->v))) ==
	    NULL)
		err(1, "reallocarray");
	if (alen > 0 && (l->arena = realloc(l->arena, alen)) == NULL)
		err(1, "realloc");
	for (i = 0; i < l->n; i++)
		l->v[i].s = l->arena + (uintptr_t)l->v[i].s;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_names);
	return 0;
fail:
	free(buf);
	emptied(l);
	return -1;
}

int
listing_read(struct listing *l, int fd, const char *rel,
    const struct listing_skip *ex)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	if (list_fd(l, rel, ex) == 0)
		return 0;
	errno = l->err;
	return -1;
}

/* The job's directory opened and listed; no lock held. */
static void
job_list(struct listing *l)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

	/* A source directory is read without moving its atime, if allowed. */
	if (l->noatime)
		l->fd = openat(l->pfd, l->name, flags | O_NOATIME);
	if (!l->noatime || (l->fd == -1 && errno == EPERM))
		l->fd = openat(l->pfd, l->name, flags);
	if (l->fd == -1) {
		l->err = errno;
		return;
	}
	l->owned = 1;
	(void)list_fd(l, l->rel, l->ex);
}

/* Wakes the walk, when it waits for this listing. */
static void
wake(struct listing *l)
{
	if (atomic_load(&l->waiting)) {
		pthread_mutex_lock(&pool.mu);
		pthread_cond_broadcast(&pool.change);
		pthread_mutex_unlock(&pool.mu);
	}
}

/*
 * A reader's stats: all of them for a directory within the window;
 * else each as far ahead of the walk as the window lets.
 */
static void
job_stats(struct listing *l)
{
	struct lstat_slot *s;
	size_t k;

	for (k = 0; k < l->n; k++) {
		/*
		 * The walk may be past k (it asks only for the entries it
		 * compares): then the window is free.
		 */
		if (l->big && k >= atomic_load(&l->consumed) + l->rsize) {
			/* Woken once half the window is free, not at each. */
			pthread_mutex_lock(&pool.mu);
			atomic_store(&l->rwaiting, 1);
			while (k > atomic_load(&l->consumed) + l->rsize / 2 &&
			    !atomic_load(&l->cancel))
				pthread_cond_wait(&pool.change, &pool.mu);
			atomic_store(&l->rwaiting, 0);
			pthread_mutex_unlock(&pool.mu);
		}
		if (atomic_load(&l->cancel))
			return;
		s = &l->ring[k % l->rsize];
		s->err = fstatat(l->fd, l->v[k].s, &s->st,
		    AT_SYMLINK_NOFOLLOW) == -1 ? errno : 0;
		if (l->big) {
			atomic_store(&l->statted, k + 1);
			if (k + 1 >= atomic_load(&l->want) || k + 1 == l->n)
				wake(l);
		}
	}
}

/* The deepest job first, then the first asked. */
static struct listing **
dequeue(void)
{
	struct listing **p, **best = NULL;

	for (p = &pool.queue; *p != NULL; p = &(*p)->qnext)
		if (best == NULL || (*p)->depth > (*best)->depth ||
		    ((*p)->depth == (*best)->depth && (*p)->seq < (*best)->seq))
			best = p;
	return best;
}

static void
unqueue(struct listing *l)
{
	struct listing **p;

	for (p = &pool.queue; *p != NULL; p = &(*p)->qnext)
		if (*p == l) {
			*p = l->qnext;
			return;
		}
}

static void *
reader(void *unused)
{
	struct listing **best, *l;
	int waiting;

	(void)unused;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.queue == NULL && !pool.stop)
			pthread_cond_wait(&pool.work, &pool.mu);
		if (pool.stop)
			break;
		pool.idle--;
		best = dequeue();
		l = *best;
		*best = l->qnext;
		atomic_store(&l->state, JOB_RUNNING);
		pthread_mutex_unlock(&pool.mu);
		if (!l->statsonly)
			job_list(l);
		/* The window is there before the walk may look at it. */
		if (!l->statsonly && l->stats && l->err == 0 && l->n > 0) {
			l->big = l->n > WINDOW;
			l->rsize = l->big ? WINDOW : l->n;
			if ((l->ring = calloc(l->rsize, sizeof(*l->ring))) ==
			    NULL)
				err(1, "calloc");
		}
		/* A big directory's stats follow the walk through it. */
		if (l->big) {
			atomic_store(&l->state, JOB_LISTED);
			wake(l);
		}
		if (l->ring != NULL)
			job_stats(l);
		/*
		 * Done, under the lock: the walk may free the listing from
		 * then on, and no more of it is read here.
		 */
		pthread_mutex_lock(&pool.mu);
		waiting = atomic_load(&l->waiting);
		atomic_store(&l->state, JOB_DONE);
		if (waiting)
			pthread_cond_broadcast(&pool.change);
		pool.idle++;
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

/* One reader a CPU, started at the first job; none with one CPU. */
static void
start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	pool.n = 0;
	while (cpus > 1 && pool.n < cpus && pool.n < READERS_MAX &&
	    pthread_create(&pool.tid[pool.n], NULL, reader, NULL) == 0)
		pool.n++;
	pool.idle = pool.n;
}

struct listing *
listing_ahead(int pfd, const char *name, const char *rel, int depth,
    int how, const struct listing_skip *ex)
{
	struct listing *l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->name = strdup(name)) == NULL || (l->rel = strdup(rel)) == NULL)
		err(1, "calloc");
	l->heap = 1;
	l->fd = -1;
	l->pfd = pfd;
	l->depth = depth;
	l->stats = (how & LISTING_STATS) != 0;
	l->noatime = (how & LISTING_NOATIME) != 0;
	l->ex = ex;
	pthread_mutex_lock(&pool.mu);
	if (pool.n == -1)
		start();
	atomic_store(&l->state, JOB_QUEUED);
	l->seq = pool.seq++;
	l->qnext = pool.queue;
	pool.queue = l;
	if (pool.n > 0)
		pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	return l;
}

/* Ready: listed, with its stats unless it is big. */
static int
ready(struct listing *l)
{
	int st = atomic_load(&l->state);

	return st == JOB_DONE || st == JOB_LISTED;
}

void
listing_stats_ahead(struct listing *l)
{
	if (l->n == 0 || l->state != JOB_NONE)
		return;
	pthread_mutex_lock(&pool.mu);
	if (pool.n == -1)
		start();
	if (pool.n > 0) {
		l->statsonly = l->stats = l->big = 1;
		l->rsize = l->n < WINDOW ? l->n : WINDOW;
		if ((l->ring = calloc(l->rsize, sizeof(*l->ring))) == NULL)
			err(1, "calloc");
		/* Needed now: before any directory asked ahead. */
		l->depth = INT_MAX;
		l->seq = pool.seq++;
		atomic_store(&l->state, JOB_QUEUED);
		l->qnext = pool.queue;
		pool.queue = l;
		pthread_cond_signal(&pool.work);
	}
	pthread_mutex_unlock(&pool.mu);
}

/*
 * With the lock held: waits until done() says the listing is as far
 * as wanted, or takes the job back when it is still queued and no
 * reader is free to start it (all may be waiting on the walk in other
 * directories): 1 when taken back. A reader may start another job
 * meanwhile without a word, so the wait is looked at again now and
 * then.
 */
static int
wait_for(struct listing *l, int (*done)(struct listing *, size_t), size_t i)
{
	struct timespec ts;

	atomic_store(&l->waiting, 1);
	while (!done(l, i)) {
		if (atomic_load(&l->state) == JOB_QUEUED && pool.idle == 0) {
			unqueue(l);
			atomic_store(&l->state, JOB_DONE);
			atomic_store(&l->waiting, 0);
			return 1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		if ((ts.tv_nsec += 2000000) >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pool.change, &pool.mu, &ts);
	}
	atomic_store(&l->waiting, 0);
	return 0;
}

static int
listed(struct listing *l, size_t unused)
{
	(void)unused;
	return ready(l);
}

static int
statted(struct listing *l, size_t i)
{
	return atomic_load(&l->statted) > i;
}

int
listing_take(struct listing *l)
{
	int mine;

	if (!ready(l)) {
		pthread_mutex_lock(&pool.mu);
		mine = wait_for(l, listed, 0);
		pthread_mutex_unlock(&pool.mu);
		/* Taken back: listed here, its stats taken as asked. */
		if (mine)
			job_list(l);
	}
	if (l->err == 0)
		return 0;
	errno = l->err;
	return -1;
}

int
listing_stat(struct listing *l, size_t i, struct stat *st)
{
	struct lstat_slot *s;
	int mine;

	if (l->ring == NULL || (l->big && i < atomic_load(&l->consumed))) {
		if (fstatat(l->fd, l->v[i].s, st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		return -1;
	}
	if (l->big) {
		atomic_store(&l->consumed, i);
		if (atomic_load(&l->rwaiting) &&
		    atomic_load(&l->statted) <= i + l->rsize / 2) {
			/* The window moved: the reader waiting on it goes on. */
			pthread_mutex_lock(&pool.mu);
			pthread_cond_broadcast(&pool.change);
			pthread_mutex_unlock(&pool.mu);
		}
		if (atomic_load(&l->statted) <= i) {
			pthread_mutex_lock(&pool.mu);
			/* Woken with a few more, not at each. */
			atomic_store(&l->want, i + WAKE_EVERY < l->n ?
			    i + WAKE_EVERY : l->n);
			mine = wait_for(l, statted, i);
			pthread_mutex_unlock(&pool.mu);
			if (mine) {
				/* Taken back: each stat taken as asked. */
				free(l->ring);
				l->ring = NULL;
				return listing_stat(l, i, st);
			}
		}
	}
	s = &l->ring[i % l->rsize];
	if (s->err == 0) {
		*st = s->st;
		return 0;
	}
	errno = s->err;
	return -1;
}

void
listing_free(struct listing *l)
{
	int job = atomic_load(&l->state) != JOB_NONE;

	if (job && atomic_load(&l->state) != JOB_DONE) {
		pthread_mutex_lock(&pool.mu);
		if (atomic_load(&l->state) == JOB_QUEUED)
			unqueue(l);
		else {
			atomic_store(&l->cancel, 1);
			atomic_store(&l->waiting, 1);
			pthread_cond_broadcast(&pool.change);
			while (atomic_load(&l->state) != JOB_DONE)
				pthread_cond_wait(&pool.change, &pool.mu);
		}
		pthread_mutex_unlock(&pool.mu);
	}
	if (l->owned)
		close(l->fd);
	emptied(l);
	free(l->ring);
	free(l->name);
	free(l->rel);
	if (l->heap)
		free(l);
}

void
listing_stop(void)
{
	int i;

	pthread_mutex_lock(&pool.mu);
	pool.stop = 1;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	for (i = 0; i < pool.n; i++)
		if ((errno = pthread_join(pool.tid[i], NULL)) != 0)
			err(1, "pthread_join");
	pool.n = -1;
}
