/*
 * execlat COUNT GAP-MS TIMEOUT-MS FILE LOG: writes "version I" into
 * FILE again and again, GAP-MS apart, and times how long until the
 * command the tool under test runs (bench/stamp) logs that version in
 * LOG: change to command start. Prints p50 and p99 in milliseconds
 * and the versions never logged within TIMEOUT-MS. For bench/exec.sh.
 */
#define _GNU_SOURCE
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The start time LOG gives for version i, or -1; off: read so far. */
static long long
find(const char *log, int i, off_t *off)
{
	char buf[65536], want[32], *p, *nl;
	long long t = -1;
	ssize_t n;
	int fd;

	if ((fd = open(log, O_RDONLY)) == -1)
		return -1;
	snprintf(want, sizeof(want), " version %d", i);
	if ((n = pread(fd, buf, sizeof(buf) - 1, *off)) > 0) {
		buf[n] = '\0';
		for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
			*nl = '\0';
			if (strstr(p, want) != NULL && strlen(strstr(p, want))
			    == strlen(want))
				t = atoll(p);
		}
		*off += p - buf;
	}
	close(fd);
	return t;
}

int
main(int argc, char *argv[])
{
	double *lat, limit;
	char text[64];
	long long t0, t;
	off_t off = 0;
	int i, n, fd, len, gap, got = 0, missed = 0;

	if (argc != 6)
		errx(2, "usage: execlat count gap-ms timeout-ms file log");
	n = atoi(argv[1]);
	gap = atoi(argv[2]);
	limit = atof(argv[3]);
	argv += 1;
	if ((lat = calloc(n, sizeof(double))) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++) {
		len = snprintf(text, sizeof(text), "version %d\n", i);
		t0 = now_ns();
		if ((fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644))
		    == -1)
			err(1, "%s", argv[3]);
		if (write(fd, text, len) != len)
			err(1, "write");
		close(fd);
		while ((t = find(argv[4], i, &off)) == -1 &&
		    (now_ns() - t0) / 1e6 < limit)
			usleep(50);
		if (t == -1)
			missed++;
		else
			lat[got++] = (t - t0) / 1e6;
		/* Apart enough that no tool merges two versions. */
		usleep(gap * 1000);
	}
	if (got == 0)
		errx(1, "no version was logged");
	qsort(lat, got, sizeof(double), cmp);
	printf("%.3f %.3f %d\n", lat[got / 2], lat[(got * 99) / 100], missed);
	return 0;
}
