/*
 * Numbers as people read them: grouped digits and decimal byte units,
 * the same in every tool's progress line and in iobs-supervise status.
 */
#include <stdio.h>

#include "human.h"

const char *
iobs_grouped(char *buf, size_t size, unsigned long long n)
{
	char digits[32];
	size_t len, i, o = 0;

	len = (size_t)snprintf(digits, sizeof(digits), "%llu", n);
	for (i = 0; i < len && o + 2 < size; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

const char *
iobs_bytes(char *buf, size_t size, double bytes)
{
	static const char *units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	size_t u = 0;

	while (bytes >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1000;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
	return buf;
}
