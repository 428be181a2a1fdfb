/*
 * cachecrash DIR KEY: opens the cache in DIR as common/cache.c does,
 * begins a write transaction, puts KEY, says "in transaction" and
 * waits to be killed. The test then checks the cache is still whole
 * and writable, and KEY absent.
 */
#include <err.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	char buf[8 + 64];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: cachecrash dir key\n");
		return 2;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf + 8, "uncommitted", 11);
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, 256UL * 1024 * 1024)) != 0 ||
	    (rc = mdb_env_set_maxreaders(env, 256)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
		errx(1, "%s: %s", argv[1], mdb_strerror(rc));
	k.mv_data = argv[2];
	k.mv_size = strlen(argv[2]);
	v.mv_data = buf;
	v.mv_size = 8 + 11;
	if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0)
		errx(1, "put: %s", mdb_strerror(rc));
	printf("in transaction\n");
	fflush(stdout);
	for (;;)
		pause();
}
