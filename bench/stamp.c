/*
 * stamp LOG [FILE]: the command the tools under test run. Appends to
 * LOG, in one write, the time it started (CLOCK_REALTIME, ns) and the
 * first line of FILE (or FILE's name when it cannot be read). For
 * bench/exec.sh; small, so that it costs little beside fork and exec.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	struct timespec ts;
	char line[4200], what[4096];
	ssize_t n = 0;
	int fd, len;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc < 2)
		return 2;
	what[0] = '\0';
	if (argc > 2) {
		if ((fd = open(argv[2], O_RDONLY)) != -1) {
			n = read(fd, what, 64);
			close(fd);
		}
		if (n > 0) {
			what[n] = '\0';
			what[strcspn(what, "\n")] = '\0';
		} else
			snprintf(what, sizeof(what), "%s", argv[2]);
	}
	len = snprintf(line, sizeof(line), "%lld %s\n",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, what);
	if ((fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644)) == -1)
		return 1;
	if (write(fd, line, len) != len)
		return 1;
	return 0;
}
