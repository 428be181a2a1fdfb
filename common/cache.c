/*
 * The shared cache over LMDB. Each value is stored behind an 8-byte
 * expiry time (0: persistent); expired keys read as absent and are
 * purged lazily.
 */
#include <sys/stat.h>

#include <errno.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

/* Sparse: only what is written takes disk space. */
#define MAP_SIZE	(256UL * 1024 * 1024)

struct iobs_cache {
	MDB_env	*env;
	MDB_dbi	 dbi;
	int	 rc;	/* last LMDB result */
};

static int
fail(struct iobs_cache *c, int rc)
{
	c->rc = rc;
	errno = rc > 0 ? rc : EIO;
	return -1;
}

struct iobs_cache *
iobs_cache_open(const char *dir, int create)
{
	struct iobs_cache *c;
	MDB_txn *txn;
	int rc, dead;

	if (create && mkdir(dir, 0700) == -1 && errno != EEXIST)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((rc = mdb_env_create(&c->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_mapsize(c->env, MAP_SIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(c->env, 256)) != 0 ||
	    (rc = mdb_env_open(c->env, dir, MDB_NOTLS, 0600)) != 0)
		goto fail_env;
	/* Free the reader slots of processes that died holding them. */
	(void)mdb_reader_check(c->env, &dead);
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		goto fail_env;
	if ((rc = mdb_dbi_open(txn, NULL, 0, &c->dbi)) != 0) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_env;
	return c;
fail_env:
	mdb_env_close(c->env);
fail:
	free(c);
	errno = rc > 0 ? rc : EIO;
	return NULL;
}

struct iobs_cache *
iobs_cache_open_env(void)
{
	const char *dir = getenv(IOBS_CACHE_ENV);

	if (dir == NULL || dir[0] == '\0')
		return NULL;
	return iobs_cache_open(dir, 0);
}

void
iobs_cache_close(struct iobs_cache *c)
{
	if (c == NULL)
		return;
	mdb_env_close(c->env);
	free(c);
}

const char *
iobs_cache_strerror(struct iobs_cache *c)
{
	return mdb_strerror(c->rc);
}

static int
expired(const MDB_val *v, time_t now)
{
	int64_t exp;

	if (v->mv_size < sizeof(exp))
		return 1;
	memcpy(&exp, v->mv_data, sizeof(exp));
	return exp != 0 && exp <= now;
}

int
iobs_cache_put(struct iobs_cache *c, const char *key, const void *val,
    size_t len, time_t ttl)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	/* Whole seconds: one more, so that a key lives at least ttl. */
	int64_t exp = ttl > 0 ? (int64_t)time(NULL) + ttl + 1 : 0;
	MDB_txn *txn;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 511)
		return fail(c, EINVAL);
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return fail(c, rc);
	v.mv_size = sizeof(exp) + len;
	if ((rc = mdb_put(txn, c->dbi, &k, &v, MDB_RESERVE)) != 0) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	memcpy(v.mv_data, &exp, sizeof(exp));
	memcpy((char *)v.mv_data + sizeof(exp), val, len);
	if ((rc = mdb_txn_commit(txn)) != 0)
		return fail(c, rc);
	return 0;
}

static int
copy_out(const MDB_val *v, char **val, size_t *len)
{
	size_t n = v->mv_size - sizeof(int64_t);

	if ((*val = malloc(n + 1)) == NULL)
		return -1;
	memcpy(*val, (char *)v->mv_data + sizeof(int64_t), n);
	(*val)[n] = '\0';
	if (len != NULL)
		*len = n;
	return 0;
}

/* get and take: one read or write transaction around a lookup. */
static int
lookup(struct iobs_cache *c, const char *key, char **val, size_t *len,
    int take)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	MDB_txn *txn;
	int rc, found;

	if (k.mv_size == 0 || k.mv_size > 511)
		return fail(c, EINVAL);
	rc = mdb_txn_begin(c->env, NULL, take ? 0 : MDB_RDONLY, &txn);
	if (rc != 0)
		return fail(c, rc);
	rc = mdb_get(txn, c->dbi, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	found = rc == 0 && !expired(&v, time(NULL));
	if (found && copy_out(&v, val, len) == -1) {
		mdb_txn_abort(txn);
		return -1;
	}
	if (take && rc == 0) {
		/* An expired key goes too: it is dead either way. */
		if ((rc = mdb_del(txn, c->dbi, &k, NULL)) != 0) {
			mdb_txn_abort(txn);
			if (found)
				free(*val);
			return fail(c, rc);
		}
		/* A failed commit has freed the transaction already. */
		if ((rc = mdb_txn_commit(txn)) != 0) {
			if (found)
				free(*val);
			return fail(c, rc);
		}
	} else
		mdb_txn_abort(txn);
	return found ? 0 : 1;
}

int
iobs_cache_get(struct iobs_cache *c, const char *key, char **val,
    size_t *len)
{
	return lookup(c, key, val, len, 0);
}

int
iobs_cache_take(struct iobs_cache *c, const char *key, char **val,
    size_t *len)
{
	return lookup(c, key, val, len, 1);
}

int
iobs_cache_del(struct iobs_cache *c, const char *key)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_txn *txn;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 511)
		return fail(c, EINVAL);
	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return fail(c, rc);
	rc = mdb_del(txn, c->dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return fail(c, rc);
	return 0;
}

int
iobs_cache_list(struct iobs_cache *c, const char *prefix, iobs_cache_fn *fn,
    void *arg)
{
	size_t plen = strlen(prefix);
	MDB_val k = { plen, (void *)prefix }, v;
	time_t now = time(NULL);
	MDB_cursor *cur;
	MDB_txn *txn;
	int64_t exp;
	char *key;
	int rc, op = plen > 0 ? MDB_SET_RANGE : MDB_FIRST, stop = 0;

	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
		return fail(c, rc);
	if ((rc = mdb_cursor_open(txn, c->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	for (; !stop && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		if (expired(&v, now))
			continue;
		if ((key = malloc(k.mv_size + 1)) == NULL) {
			rc = ENOMEM;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		memcpy(&exp, v.mv_data, sizeof(exp));
		stop = fn(key, (char *)v.mv_data + sizeof(exp),
		    v.mv_size - sizeof(exp), (time_t)exp, arg);
		free(key);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return fail(c, rc);
	return 0;
}

int
iobs_cache_purge(struct iobs_cache *c)
{
	time_t now = time(NULL);
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_txn *txn;
	int rc, n = 0;

	if ((rc = mdb_txn_begin(c->env, NULL, 0, &txn)) != 0)
		return fail(c, rc);
	if ((rc = mdb_cursor_open(txn, c->dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		if (expired(&v, now)) {
			if ((rc = mdb_cursor_del(cur, 0)) != 0)
				break;
			n++;
		}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return fail(c, rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return fail(c, rc);
	return n;
}
