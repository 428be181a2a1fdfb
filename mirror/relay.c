/*
 * iobs-mirror --relay: the remote shell a remote mirror gives rsync
 * (-e), and its own runs of a script. Instead of a new ssh session,
 * whose login shell may take a second to start, it runs the command
 * in a plain sh the mirror keeps open there (one ssh session, started
 * once), and relays rsync's bytes to it and back:
 *
 *	echo Tg; COMMAND; echo "Te $?" >&2;
 *	while IFS= read -r l; do [ "$l" = Tr ] && break; done; echo Tw
 *
 * T is fresh each time. sh reads its commands ahead from a pipe (dash
 * does), so nothing but that line is written until "Tg" says the line
 * was read whole; then both ways are relayed. "Te" on the session's
 * standard error says COMMAND ended and with what status: from then on
 * nothing more is sent, and the line "Tr" makes sh skip whatever
 * COMMAND left unread (never run as a command); "Tw" on its standard
 * output follows all COMMAND wrote. Then the session is as it was,
 * "ok" is written on the report descriptor, and the relay exits with
 * COMMAND's status, as ssh would.
 *
 * Descriptors: 0, 1, 2 rsync's (or the mirror's); 3 the session's
 * input, 4 its output, 5 its errors, 6 the report. Arguments, after
 * "--relay --": [-l user] host word..., as rsync runs a remote shell.
 */
#define _GNU_SOURCE

#include <sys/random.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote.h"

#define S_IN	3
#define S_OUT	4
#define S_ERR	5
#define REPORT	6
#define TOKLEN	32

static char tok[TOKLEN + 1];

static void
token(void)
{
	unsigned char b[TOKLEN / 2];
	size_t i;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		err(255, "getrandom");
	for (i = 0; i < sizeof(b); i++)
		snprintf(tok + 2 * i, 3, "%02x", b[i]);
}

/* All of n bytes to fd; -1 when it is gone. */
static int
put(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* Where needle is in the n bytes at hay, or NULL. */
static char *
find(char *hay, size_t n, const char *needle)
{
	/* Nothing read yet is no string: memmem(3) takes none. */
	if (hay == NULL)
		return NULL;
	return memmem(hay, n, needle, strlen(needle));
}

struct acc {
	char	*s;
	size_t	 len, cap;
};

static void
acc_add(struct acc *a, const char *p, size_t n)
{
	if (a->len + n + 1 > a->cap) {
		a->cap = (a->len + n + 1) * 2;
		if ((a->s = realloc(a->s, a->cap)) == NULL)
			err(255, "realloc");
	}
	memcpy(a->s + a->len, p, n);
	a->len += n;
	a->s[a->len] = '\0';
}

static void
acc_drop(struct acc *a, size_t n)
{
	memmove(a->s, a->s + n, a->len - n);
	a->len -= n;
	a->s[a->len] = '\0';
}

/* Reads into a; 0 at the end, -1 on an error. */
static ssize_t
acc_read(int fd, struct acc *a)
{
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) == -1 && errno == EINTR)
		continue;
	if (n > 0)
		acc_add(a, chunk, n);
	return n;
}

static __dead2 void
gone(const char *host)
{
	errx(255, "the session to %s ended", host);
}

int
relay_main(int argc, char *argv[])
{
	struct pollfd pfd[3];
	struct acc out = { 0 }, er = { 0 }, cmd = { 0 };
	char go[TOKLEN + 8], end[TOKLEN + 8], rs[TOKLEN + 8], ready[TOKLEN + 8];
	char lost[TOKLEN + 8], buf[65536], *p, *host, *words;
	int i, status = -1, in_open = 1, n, clean = 0;
	ssize_t got;

	/* --relay -- [-l user] host word... */
	argv += 2;
	argc -= 2;
	if (argc > 0 && strcmp(argv[0], "--") == 0) {
		argv++;
		argc--;
	}
	if (argc >= 2 && strcmp(argv[0], "-l") == 0) {
		argv += 2;
		argc -= 2;
	}
	if (argc < 2)
		errx(255, "--relay: no host and command; it is rsync's remote "
		    "shell in a remote mirror, not for use by hand");
	host = argv[0];
	signal(SIGPIPE, SIG_IGN);
	/* rsync may hand over a socket that does not block: this one does. */
	for (i = 0; i <= S_ERR; i++)
		if (i != STDERR_FILENO && (n = fcntl(i, F_GETFL)) != -1)
			(void)fcntl(i, F_SETFL, n & ~O_NONBLOCK);
	token();
	snprintf(go, sizeof(go), "%sg\n", tok);
	snprintf(end, sizeof(end), "%se ", tok);
	snprintf(rs, sizeof(rs), "\n%sr\n", tok);
	snprintf(ready, sizeof(ready), "%sw\n", tok);
	snprintf(lost, sizeof(lost), "%sx\n", tok);
	/* The words as ssh joins them, for the shell there to split. */
	for (i = 1; i < argc; i++) {
		acc_add(&cmd, argv[i], strlen(argv[i]));
		acc_add(&cmd, " ", 1);
	}
	words = cmd.s;
	memset(&cmd, 0, sizeof(cmd));
	n = snprintf(buf, sizeof(buf), "echo %sg; if : </dev/stdin 2>/dev/null;"
	    " then %s</dev/stdin >/dev/stdout; else %s; fi;"
	    " echo \"%se $?\" >&2; while IFS= read -r l; do"
	    " [ \"$l\" = %sr ] && break; done;"
	    " [ \"$l\" = %sr ] || { echo %sx >&2; exit 1; }; echo %sw\n",
	    tok, words, words, tok, tok, tok, tok, tok);
	if (n >= (int)sizeof(buf))
		errx(255, "--relay: the command is too long");
	acc_add(&cmd, buf, n);
	free(words);
	if (put(S_IN, cmd.s, cmd.len) == -1)
		gone(host);

	/* The line read whole: its first word said so. */
	while ((p = find(out.s, out.len, go)) == NULL)
		if (acc_read(S_OUT, &out) <= 0)
			gone(host);
	acc_drop(&out, p + strlen(go) - out.s);

	/* Both ways, until COMMAND's status comes on its errors. */
	while (status == -1) {
		if (out.len > 0) {
			(void)put(STDOUT_FILENO, out.s, out.len);
			out.len = 0;
		}
		pfd[0] = (struct pollfd){ in_open ? STDIN_FILENO : -1, POLLIN,
		    0 };
		pfd[1] = (struct pollfd){ S_OUT, POLLIN, 0 };
		pfd[2] = (struct pollfd){ S_ERR, POLLIN, 0 };
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(255, "poll");
		}
		if (pfd[1].revents) {
			if (acc_read(S_OUT, &out) <= 0)
				gone(host);
		}
		if (pfd[2].revents) {
			if (acc_read(S_ERR, &er) <= 0)
				gone(host);
			if ((p = find(er.s, er.len, end)) != NULL &&
			    memchr(p, '\n', er.len - (p - er.s)) != NULL) {
				(void)put(STDERR_FILENO, er.s, p - er.s);
				status = atoi(p + strlen(end));
				acc_drop(&er, strchr(p, '\n') + 1 - er.s);
			} else if ((p = memrchr(er.s, '\n', er.len)) != NULL &&
			    find(er.s, er.len, tok) == NULL) {
				(void)put(STDERR_FILENO, er.s, p + 1 - er.s);
				acc_drop(&er, p + 1 - er.s);
			}
		}
		if (pfd[0].revents) {
			got = read(STDIN_FILENO, buf, sizeof(buf));
			if (got == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			/* Its end goes no further: sh reads on after it. */
			if (got <= 0)
				in_open = 0;
			else if (put(S_IN, buf, got) == -1)
				gone(host);
		}
	}
	if (er.len > 0 && find(er.s, er.len, tok) == NULL) {
		(void)put(STDERR_FILENO, er.s, er.len);
		er.len = 0;
	}

	/*
	 * What COMMAND left unread is skipped; its output ends at Tw.
	 * Tx: sh could not wait for Tr (its input did not block), and
	 * ends rather than read what may follow as commands.
	 */
	if (put(S_IN, rs, strlen(rs)) == -1)
		gone(host);
	while ((p = find(out.s, out.len, ready)) == NULL) {
		if (find(er.s, er.len, lost) != NULL)
			break;
		/* All but what may be the start of Tw. */
		if (out.len > TOKLEN + 2) {
			(void)put(STDOUT_FILENO, out.s, out.len - TOKLEN - 2);
			acc_drop(&out, out.len - TOKLEN - 2);
		}
		pfd[0] = (struct pollfd){ S_OUT, POLLIN, 0 };
		pfd[1] = (struct pollfd){ S_ERR, POLLIN, 0 };
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(255, "poll");
		}
		if ((pfd[0].revents && acc_read(S_OUT, &out) <= 0) ||
		    (pfd[1].revents && acc_read(S_ERR, &er) <= 0))
			gone(host);
	}
	if (p != NULL) {
		(void)put(STDOUT_FILENO, out.s, p - out.s);
		clean = 1;
	}
	close(STDOUT_FILENO);
	if (clean)
		(void)put(REPORT, "ok\n", 3);
	free(out.s);
	free(er.s);
	free(cmd.s);
	return status > 255 || status < 0 ? 255 : status;
}
