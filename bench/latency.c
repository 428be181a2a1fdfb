/*
 * latency: writes a small file in SRC again and again and times how
 * long each version takes to appear, whole, in DEST. Prints p50 and
 * p99 in milliseconds. For bench/mirror.sh.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	char src[4096], dst[4096], want[64], got[64];
	double *lat, t0, limit;
	int i, n, fd, len, r, timeouts = 0;

	if (argc != 5)
		errx(2, "usage: latency count timeout-ms srcdir destdir");
	n = atoi(argv[1]);
	limit = atof(argv[2]);
	snprintf(src, sizeof(src), "%s/latency.txt", argv[3]);
	snprintf(dst, sizeof(dst), "%s/latency.txt", argv[4]);
	if ((lat = calloc(n, sizeof(double))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++) {
		len = snprintf(want, sizeof(want), "version %d\n", i);
		t0 = now();
		if ((fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
			err(1, "%s", src);
		if (write(fd, want, len) != len)
			err(1, "write");
		close(fd);
		for (;;) {
			if ((fd = open(dst, O_RDONLY)) != -1) {
				r = read(fd, got, sizeof(got));
				close(fd);
				if (r == len && memcmp(got, want, len) == 0)
					break;
			}
			if (now() - t0 > limit) {
				timeouts++;
				break;
			}
			/* Leave the CPU to the watcher and the mirror. */
			usleep(20);
		}
		lat[i] = now() - t0;
		usleep(2000);
	}
	qsort(lat, n, sizeof(double), cmp);
	printf("%.3f %.3f %d\n", lat[n / 2], lat[(n * 99) / 100], timeouts);
	return 0;
}
