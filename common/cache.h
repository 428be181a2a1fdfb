/*
 * The shared cache: a small LMDB key-value store in the supervisor's
 * state directory, found by plugins through IOBS_CACHE. Keys are
 * persistent or expire after a time, as iObserver's iCache; many
 * processes may use it at once, and a crash of any of them loses at
 * most its own unfinished transaction.
 *
 * Never open a cache before fork() and use it in the child.
 */
#ifndef IOBS_CACHE_H
#define IOBS_CACHE_H

#include <stddef.h>
#include <time.h>

#define IOBS_CACHE_ENV	"IOBS_CACHE"

struct iobs_cache;

/* Creates dir (mode 0700) when create is set; NULL with errno on error. */
struct iobs_cache *iobs_cache_open(const char *dir, int create);
/* The cache named by $IOBS_CACHE, or NULL when it is unset or fails. */
struct iobs_cache *iobs_cache_open_env(void);
void	 iobs_cache_close(struct iobs_cache *);

/* ttl in seconds; 0 keeps the key until it is deleted. */
int	 iobs_cache_put(struct iobs_cache *, const char *key,
	    const void *val, size_t len, time_t ttl);
/*
 * get copies the value into a malloc'd, NUL-terminated buffer; take
 * does the same and deletes the key in one transaction, so two
 * processes never both take it. Both return 0 when found, 1 when the
 * key is absent or expired, -1 on error.
 */
int	 iobs_cache_get(struct iobs_cache *, const char *key, char **val,
	    size_t *len);
int	 iobs_cache_take(struct iobs_cache *, const char *key, char **val,
	    size_t *len);
int	 iobs_cache_del(struct iobs_cache *, const char *key);

/*
 * Calls fn for each live key starting with prefix, in key order;
 * expires is 0 for a persistent key. A non-zero return from fn stops.
 */
typedef int iobs_cache_fn(const char *key, const void *val, size_t len,
    time_t expires, void *arg);
int	 iobs_cache_list(struct iobs_cache *, const char *prefix,
	    iobs_cache_fn *fn, void *arg);
/* Deletes expired keys; returns how many, or -1. */
int	 iobs_cache_purge(struct iobs_cache *);

/* The last LMDB error, for messages. */
const char *iobs_cache_strerror(struct iobs_cache *);

#endif
