/*
 * Who made a change, where the stream says (the PID field, which only
 * the fanotify backend fills): " by alice (vim, pid 4242)", the real
 * user and the command name read from /proc as the record arrives. A
 * process gone by then, or a pid taken since by a process that started
 * after the change, is only "pid N": a name is never guessed.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scribe.h"

/* Processes that change a tree come back: their names, kept a while. */
#define WHO_CACHE	64

static struct who {
	unsigned long	 pid;
	unsigned long long start;	/* clock ticks after boot */
	char		 user[33];
	char		 comm[17];
} cache[WHO_CACHE];

static long long boot_time = -1;	/* seconds since the epoch */

static ssize_t
read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static long long
btime(void)
{
	char buf[8192], *p;

	if (boot_time != -1)
		return boot_time;
	boot_time = 0;
	if (read_file("/proc/stat", buf, sizeof(buf)) > 0 &&
	    (p = strstr(buf, "\nbtime ")) != NULL)
		boot_time = strtoll(p + 7, NULL, 10);
	return boot_time;
}

/*
 * /proc/PID/stat: the command name between the first '(' and the last
 * ')', then fields from the state on; starttime is the 22nd field.
 */
static int
proc_stat(unsigned long pid, char *comm, size_t commlen,
    unsigned long long *start)
{
	char path[64], buf[1024], *open, *close, *p;
	int field;

	snprintf(path, sizeof(path), "/proc/%lu/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    (open = strchr(buf, '(')) == NULL ||
	    (close = strrchr(buf, ')')) == NULL || close < open)
		return -1;
	snprintf(comm, commlen, "%.*s", (int)(close - open - 1), open + 1);
	for (p = close + 2, field = 3; field < 22 && p != NULL; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL)
		return -1;
	*start = strtoull(p, NULL, 10);
	return 0;
}

static int
proc_user(unsigned long pid, char *user, size_t userlen)
{
	char path[64], buf[2048], *p;
	struct passwd *pw;
	unsigned long uid;

	snprintf(path, sizeof(path), "/proc/%lu/status", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0 ||
	    (p = strstr(buf, "\nUid:")) == NULL)
		return -1;
	uid = strtoul(p + 5, NULL, 10);
	if ((pw = getpwuid(uid)) != NULL)
		snprintf(user, userlen, "%s", pw->pw_name);
	else
		snprintf(user, userlen, "uid %lu", uid);
	return 0;
}

/* The name shown for a command: no byte that could fake a line. */
static void
clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\'' ||
		    *s == '(' || *s == ')' || *s == ',')
			*s = '?';
}

size_t
scribe_who(char *dst, unsigned long pid, const struct timeval *when)
{
	struct who *w = &cache[pid % WHO_CACHE], now;
	long ticks = sysconf(_SC_CLK_TCK);

	if (pid == 0)
		return 0;
	if (proc_stat(pid, now.comm, sizeof(now.comm), &now.start) == -1 ||
	    ticks <= 0 ||
	    /* Started after the change: another process with its pid. */
	    btime() + (long long)(now.start / ticks) > when->tv_sec + 1)
		return snprintf(dst, SCRIBE_WHO_MAX, " by pid %lu", pid);
	clean(now.comm);
	if (w->pid == pid && w->start == now.start)
		snprintf(now.user, sizeof(now.user), "%s", w->user);
	else if (proc_user(pid, now.user, sizeof(now.user)) == -1)
		return snprintf(dst, SCRIBE_WHO_MAX, " by pid %lu", pid);
	clean(now.user);
	now.pid = pid;
	*w = now;
	return snprintf(dst, SCRIBE_WHO_MAX, " by %s (%s, pid %lu)", now.user,
	    now.comm, pid);
}
