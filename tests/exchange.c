/*
 * exchange A B: swaps two paths atomically, renameat2(2) with
 * RENAME_EXCHANGE, as `mv --exchange` of newer coreutils does; the
 * tests make the records of an exchange with it.
 */
#define _GNU_SOURCE

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int
main(int argc, char *argv[])
{
	if (argc != 3) {
		fprintf(stderr, "usage: exchange path1 path2\n");
		return 2;
	}
	if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2],
	    RENAME_EXCHANGE) == -1)
		err(1, "%s, %s", argv[1], argv[2]);
	return 0;
}
