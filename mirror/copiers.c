/*
 * A few threads that run the turns of a loop side by side: the files of
 * a directory new to DEST are copied on every CPU, as rsync's sender
 * and receiver run as two processes. The caller takes turns too, and
 * returns once all are done; with one CPU it runs them alone. The
 * threads know nothing of the mirror: what a turn may touch is the
 * caller's business (copy_batch in copy.c).
 */
#include <err.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

#define COPIERS_MAX	4	/* threads, the caller's included */

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 work;		/* a loop started, or stop */
	pthread_cond_t	 done;		/* busy fell to 0 */
	pthread_t	 tid[COPIERS_MAX - 1];
	int		 n;		/* threads started, -1 before trying */
	void		(*fn)(void *, size_t);
	void		*arg;
	size_t		 next, count;	/* turns handed out, and in all */
	int		 busy;		/* threads taking turns */
	unsigned	 loop;		/* loops started */
	int		 stop;
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
	.n = -1,
};

/* Takes turns until none is left; called and returns with mu held. */
static void
take_turns(void)
{
	size_t i;

	while (pool.next < pool.count) {
		i = pool.next++;
		pthread_mutex_unlock(&pool.mu);
		pool.fn(pool.arg, i);
		pthread_mutex_lock(&pool.mu);
	}
}

static void *
copier(void *unused)
{
	unsigned seen = 0;

	(void)unused;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.loop == seen && !pool.stop)
			pthread_cond_wait(&pool.work, &pool.mu);
		if (pool.stop)
			break;
		seen = pool.loop;
		pool.busy++;
		take_turns();
		if (--pool.busy == 0)
			pthread_cond_signal(&pool.done);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

/* One thread a CPU besides the caller's, started at the first loop. */
static void
start(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	pool.n = 0;
	while (pool.n < cpus - 1 && pool.n < COPIERS_MAX - 1 &&
	    pthread_create(&pool.tid[pool.n], NULL, copier, NULL) == 0)
		pool.n++;
}

/* fn(arg, i) for each i below count, on as many threads as there are. */
void
copiers_run(void (*fn)(void *, size_t), void *arg, size_t count)
{
	size_t i;

	if (pool.n == -1 && count > 1)
		start();
	if (pool.n <= 0 || count < 2) {
		for (i = 0; i < count; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn;
	pool.arg = arg;
	pool.next = 0;
	pool.count = count;
	pool.loop++;
	pthread_cond_broadcast(&pool.work);
	take_turns();
	while (pool.busy > 0)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}

/* At exit: the threads end, so that nothing they hold looks leaked. */
void
copiers_stop(void)
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
