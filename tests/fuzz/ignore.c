/*
 * Fuzz target for a line of iobs-watch --ignore-fd (watcher/ignore.c):
 * either a reason and -1, or at most IGNORE_MAX process groups, each
 * above 0 and written in the line as it was read.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ignore.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	pid_t set[IGNORE_MAX];
	const char *why = NULL;
	char word[16];
	int i, n, k;

	n = ignore_parse((const char *)data, len, set, &why);
	if (n == -1) {
		if (why == NULL || *why == '\0')
			abort();
		return 0;
	}
	if (n < 0 || n > IGNORE_MAX || why != NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (set[i] <= 0)
			abort();
		k = snprintf(word, sizeof(word), "%d", (int)set[i]);
		if (memmem(data, len, word, k) == NULL)
			abort();
	}
	return 0;
}
