/*
 * iobs-mirror's remote mode: the processes of the remote shell. A
 * run's steps as children with their pipes, the ssh control master
 * every run shares, the shells kept open there (sessions) and, while
 * the remote is away, the knocks on its ssh port (probes).
 */
#define _GNU_SOURCE

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "stream.h"
#include "mirror.h"
#include "rsync.h"
#include "remote-int.h"

/* Children */

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/*
 * Starts argv with input on its standard input, output captured or
 * sent to out_fd, errors captured; with ss, the session lent to it as
 * descriptors 3 to 6 (relay.c), for it or the relay it runs.
 */
int
step_start(struct step *s, enum stepkind kind, char **argv,
    struct buf *input, int out_fd, struct session *ss)
{
	int in[2], out[2] = { -1, -1 }, er[2], rep[2] = { -1, -1 }, fds[7];

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->in = s->out = s->err = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(er, O_CLOEXEC) == -1 ||
	    (out_fd == -1 && pipe2(out, O_CLOEXEC) == -1) ||
	    (ss != NULL && pipe2(rep, O_CLOEXEC) == -1))
		err(1, "pipe");
	fflush(stdout);
	fds[0] = in[0];
	fds[1] = out_fd != -1 ? out_fd : out[1];
	fds[2] = er[1];
	if (ss != NULL) {
		fds[3] = ss->in;
		fds[4] = ss->out;
		fds[5] = ss->err;
		fds[6] = rep[1];
	}
	s->pid = iobs_spawn_fds(argv, fds, ss != NULL ? 7 : 3);
	close(in[0]);
	close(er[1]);
	if (out[1] != -1)
		close(out[1]);
	if (rep[1] != -1)
		close(rep[1]);
	if (s->pid == -1) {
		warn("%s", argv[0]);
		close(in[1]);
		close(er[0]);
		if (out[0] != -1)
			close(out[0]);
		if (rep[0] != -1)
			close(rep[0]);
		s->pid = 0;
		return -1;
	}
	if (ss != NULL)
		ss->report = rep[0];
	s->in = in[1];
	s->out = out[0];
	s->err = er[0];
	nonblock(s->in);
	nonblock(s->err);
	if (s->out != -1)
		nonblock(s->out);
	if (input != NULL) {
		s->input = *input;
		memset(input, 0, sizeof(*input));
	}
	if (s->input.len == 0) {
		close(s->in);
		s->in = -1;
	}
	return 0;
}

void
step_write(struct step *s)
{
	ssize_t n;

	while (s->input.off < s->input.len) {
		n = write(s->in, s->input.s + s->input.off,
		    s->input.len - s->input.off);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;		/* EPIPE: the child says why */
		}
		s->input.off += n;
	}
	close(s->in);
	s->in = -1;
	buf_free(&s->input);
}

/* Reads what is there; closes fd at its end. */
void
step_read(int *fd, struct buf *b)
{
	char chunk[8192];
	ssize_t n;

	while ((n = read(*fd, chunk, sizeof(chunk))) > 0)
		if (b->len < CAPTURE_MAX)
			buf_add(b, chunk, n);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		close(*fd);
		*fd = -1;
	}
}

/* The child exited (reaped): its pipes drained and closed. */
void
step_end(struct step *s)
{
	if (s->in != -1)
		close(s->in);
	/* The child is gone: what it wrote is all there, up to EOF. */
	if (s->out != -1)
		fcntl(s->out, F_SETFL, 0);
	if (s->err != -1)
		fcntl(s->err, F_SETFL, 0);
	while (s->out != -1)
		step_read(&s->out, &s->output);
	while (s->err != -1)
		step_read(&s->err, &s->errors);
	s->pid = 0;
	s->in = -1;
	buf_free(&s->input);
}

/* Waits for pid: its wait status. */
static int
reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

void
step_kill(struct step *s)
{
	if (s->pid == 0)
		return;
	kill(s->pid, SIGTERM);
	reap(s->pid);
	step_end(s);
	buf_free(&s->output);
	buf_free(&s->errors);
}

/* The remote shell and its control master */

static int
is_ssh(char **rsh)
{
	const char *base = strrchr(rsh[0], '/');

	return strcmp(base ? base + 1 : rsh[0], "ssh") == 0;
}

char **
words_add(char **v, size_t *n, const char *w)
{
	if ((v = reallocarray(v, *n + 2, sizeof(*v))) == NULL)
		err(1, "reallocarray");
	if ((v[*n] = strdup(w)) == NULL)
		err(1, "strdup");
	v[++*n] = NULL;
	return v;
}

char **
words_copy(char **src, size_t *n)
{
	char **v = NULL;

	*n = 0;
	for (; *src != NULL; src++)
		v = words_add(v, n, *src);
	return v;
}

void
master_stop(struct remote *r)
{
	if (r->master == 0)
		return;
	kill(r->master, SIGTERM);
	reap(r->master);
	r->master = 0;
}

/*
 * The connection every run shares, started when there is none. Runs
 * wait for its socket (master_pending), and connect by themselves only
 * when it failed or never came.
 */
void
master_start(struct remote *r)
{
	char **argv, opt[PATH_MAX + 32];
	size_t n;

	if (r->ctlpath == NULL || r->master != 0)
		return;
	argv = words_copy(r->rsh, &n);
	snprintf(opt, sizeof(opt), "ControlPath=%s", r->ctlpath);
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, opt);
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, "ControlMaster=yes");
	argv = words_add(argv, &n, "-o");
	argv = words_add(argv, &n, "ControlPersist=no");
	argv = words_add(argv, &n, "-N");
	argv = words_add(argv, &n, "-T");
	argv = words_add(argv, &n, "--");
	argv = words_add(argv, &n, r->d.host);
	/* Its complaints are the runs' too: they say them. */
	if ((r->master = iobs_spawn(argv, -1, -1, -1)) == -1)
		r->master = 0;
	r->master_since = now_ms();
	words_free(argv);
}

/*
 * The master is on its way: its socket is not there yet, and it has
 * neither ended nor taken longer than ssh's ConnectTimeout allows.
 */
int
master_pending(struct remote *r)
{
	return r->ctlpath != NULL && r->master != 0 &&
	    now_ms() - r->master_since < MASTER_WAIT_MS &&
	    access(r->ctlpath, F_OK) == -1;
}

/* Sessions */

/* A session's table: see enum sstate in remote-int.h. */
enum saction { SA_NONE, SA_START, SA_READY, SA_LEND, SA_BACK, SA_FAILED,
	SA_DROP };

static const struct {
	enum saction	 action;
	enum sstate	 next;
} stable[SS_NSTATES][SE_NEVENTS] = {
	[SS_NONE] = {
		[SE_START] =	{ SA_START,	SS_CONNECTING },
		[SE_READY] =	{ SA_NONE,	SS_NONE },
		[SE_LEND] =	{ SA_NONE,	SS_NONE },
		[SE_OK] =	{ SA_NONE,	SS_NONE },
		[SE_END] =	{ SA_NONE,	SS_NONE },
	},
	[SS_CONNECTING] = {
		[SE_START] =	{ SA_NONE,	SS_CONNECTING },
		[SE_READY] =	{ SA_READY,	SS_IDLE },
		[SE_LEND] =	{ SA_NONE,	SS_CONNECTING },
		[SE_OK] =	{ SA_NONE,	SS_CONNECTING },
		[SE_END] =	{ SA_FAILED,	SS_NONE },
	},
	[SS_IDLE] = {
		[SE_START] =	{ SA_NONE,	SS_IDLE },
		[SE_READY] =	{ SA_NONE,	SS_IDLE },
		[SE_LEND] =	{ SA_LEND,	SS_LENT },
		[SE_OK] =	{ SA_NONE,	SS_IDLE },
		[SE_END] =	{ SA_DROP,	SS_NONE },
	},
	[SS_LENT] = {
		[SE_START] =	{ SA_NONE,	SS_LENT },
		[SE_READY] =	{ SA_NONE,	SS_LENT },
		[SE_LEND] =	{ SA_NONE,	SS_LENT },
		[SE_OK] =	{ SA_BACK,	SS_IDLE },
		[SE_END] =	{ SA_DROP,	SS_NONE },
	},
};

/* Its ssh and pipes gone; what it said, for a step that waits for one. */
static void
session_drop(struct remote *r, struct session *ss, int failed)
{
	if (failed) {
		r->sess_failed = now_ms();
		if (ss->errors.len > 0) {
			free(r->why);
			if ((r->why = strdup(ss->errors.s)) == NULL)
				err(1, "strdup");
			r->why[strcspn(r->why, "\n")] = '\0';
		}
	}
	if (ss->pid != 0) {
		kill(ss->pid, SIGTERM);
		reap(ss->pid);
	}
	if (ss->in != -1)
		close(ss->in);
	close(ss->out);
	close(ss->err);
	if (ss->report != -1)
		close(ss->report);
	buf_free(&ss->seen);
	buf_free(&ss->errors);
	memset(ss, 0, sizeof(*ss));
	ss->report = -1;
}

/*
 * The remote shell, through the master, runs "exec sh": the user's
 * login shell starts once, and the sh it becomes reads our lines.
 * 0, or -1 when it cannot start.
 */
static int
session_spawn(struct remote *r, struct session *ss)
{
	char **argv, opt[PATH_MAX + 32], line[64];
	unsigned char b[16];
	int in[2], out[2], er[2];
	size_t n, i;

	argv = words_copy(r->rsh, &n);
	if (r->ctlpath != NULL) {
		snprintf(opt, sizeof(opt), "ControlPath=%s", r->ctlpath);
		argv = words_add(argv, &n, "-o");
		argv = words_add(argv, &n, opt);
		argv = words_add(argv, &n, "-o");
		argv = words_add(argv, &n, "ControlMaster=no");
	}
	if (is_ssh(r->rsh)) {
		argv = words_add(argv, &n, "-T");
		argv = words_add(argv, &n, "--");
	}
	argv = words_add(argv, &n, r->d.host);
	argv = words_add(argv, &n, "exec sh");
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(er, O_CLOEXEC) == -1)
		err(1, "pipe");
	memset(ss, 0, sizeof(*ss));
	ss->report = -1;
	ss->pid = iobs_spawn(argv, in[0], out[1], er[1]);
	words_free(argv);
	close(in[0]);
	close(out[1]);
	close(er[1]);
	ss->in = in[1];
	ss->out = out[0];
	ss->err = er[0];
	ss->since = now_ms();
	if (ss->pid == -1) {
		ss->pid = 0;
		return -1;
	}
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		err(1, "getrandom");
	for (i = 0; i < sizeof(b); i++)
		snprintf(ss->ready + 2 * i, 3, "%02x", b[i]);
	strcat(ss->ready, "s\n");
	/* A line to wait in the pipe: sh reads it once it runs. */
	snprintf(line, sizeof(line), "echo %s", ss->ready);
	return write(ss->in, line, strlen(line)) == -1 ? -1 : 0;
}

void
session_ev(struct remote *r, struct session *ss, enum sevent ev)
{
	enum saction a = stable[ss->state][ev].action;

	ss->state = stable[ss->state][ev].next;
	switch (a) {
	case SA_NONE:
		break;
	case SA_START:
		if (session_spawn(r, ss) == -1)
			session_drop(r, ss, 1);
		else
			ss->state = SS_CONNECTING;
		break;
	case SA_READY:
		buf_free(&ss->seen);
		buf_free(&ss->errors);
		break;
	case SA_LEND:
		buf_free(&ss->errors);
		break;
	case SA_BACK:
		close(ss->report);
		ss->report = -1;
		buf_free(&ss->seen);
		break;
	case SA_FAILED:
	case SA_DROP:
		session_drop(r, ss, a == SA_FAILED);
		break;
	}
}

int
session_idle(struct remote *r)
{
	int i;

	for (i = 0; i < SESSIONS; i++)
		if (r->sess[i].state == SS_IDLE)
			return i;
	return -1;
}

int
sessions_alive(struct remote *r)
{
	int i, n = 0;

	for (i = 0; i < SESSIONS; i++)
		n += r->sess[i].state != SS_NONE;
	return n;
}

/*
 * Sessions started: one for a step that waits and has none on its
 * way; while the remote is there, all of them, so that the next run
 * finds one ready.
 */
void
sessions_fill(struct remote *r, int waiting)
{
	int i, live;

	if (r->relay_line == NULL || r->root == NULL || master_pending(r))
		return;
	live = r->state == S_LIVE || r->state == S_SENDING ||
	    r->state == S_SETTLING;
	if (!waiting && (!live || now_ms() - r->sess_failed <
	    SESSION_RETRY_MS || sessions_alive(r) == 0))
		return;
	/*
	 * A step that waits started the master with its run; one that
	 * failed is not started again for it: the session connects alone.
	 */
	if (!waiting)
		master_start(r);
	for (i = 0; i < SESSIONS && !master_pending(r); i++)
		if (r->sess[i].state == SS_NONE) {
			session_ev(r, &r->sess[i], SE_START);
			if (waiting)
				return;
		}
}

/* One read of what fd has: 0 at its end. */
static ssize_t
session_read(int fd, struct buf *b, size_t keep)
{
	char chunk[8192];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) == -1 && errno == EINTR)
		continue;
	if (n > 0) {
		if (b->len + n > keep) {
			b->len = 0;
			b->off = 0;
		}
		buf_add(b, chunk, n);
	}
	return n == -1 ? 0 : n;
}

/* Its output, errors or report ready (revents), as its state reads. */
void
session_event(struct remote *r, struct session *ss, short out, short er,
    short rep)
{
	if (ss->state == SS_LENT) {
		/* "ok": as it was; its end alone: not. */
		if (!rep)
			return;
		if (session_read(ss->report, &ss->seen, 64) == 0)
			session_ev(r, ss, SE_END);
		else if (strstr(ss->seen.s, "ok\n") != NULL)
			session_ev(r, ss, SE_OK);
		return;
	}
	if (er && session_read(ss->err, &ss->errors, CAPTURE_MAX) == 0) {
		session_ev(r, ss, SE_END);
		return;
	}
	/* Idle, it says nothing: a word of it is its end. */
	if (!out)
		return;
	if (session_read(ss->out, &ss->seen, CAPTURE_MAX) == 0 ||
	    ss->state != SS_CONNECTING)
		session_ev(r, ss, SE_END);
	/* The login's own words before it, if any, are not ours. */
	else if (strstr(ss->seen.s, ss->ready) != NULL)
		session_ev(r, ss, SE_READY);
}

/*
 * The shell words for -e/--rsh or RSYNC_RSH (ssh by default), with the
 * options that share one connection when it is ssh; -1 with why.
 */
int
rsh_setup(struct remote *r, char *why, size_t whylen)
{
	const char *cmd = r->o.rsh, *tmp;
	char **w, *q;
	size_t n;

	if (cmd == NULL && (cmd = getenv("RSYNC_RSH")) == NULL)
		cmd = "ssh";
	if ((w = rsh_words(cmd, why, whylen)) == NULL)
		return -1;
	words_free(r->rsh);
	free(r->rsh_line);
	free(r->relay_line);
	r->relay_line = NULL;
	r->rsh = w;
	/* rsync's remote shell: ourselves, to a session (relay.c). */
	if (r->d.kind == RK_SSH && r->self != NULL &&
	    asprintf(&r->relay_line, "%s%s%s --relay --",
	    strchr(r->self, '\'') ? "\"" : "'", r->self,
	    strchr(r->self, '\'') ? "\"" : "'") == -1)
		err(1, "asprintf");
	if (r->d.kind != RK_SSH || !is_ssh(w)) {
		if ((r->rsh_line = strdup(cmd)) == NULL)
			err(1, "strdup");
		return 0;
	}
	/* Runs never wait for a password nor for a dead network. */
	r->rsh = words_copy(w, &n);
	words_free(w);
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "BatchMode=yes");
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "ConnectTimeout=10");
	r->rsh = words_add(r->rsh, &n, "-o");
	r->rsh = words_add(r->rsh, &n, "ServerAliveInterval=10");
	if (r->ctldir == NULL) {
		if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
			tmp = "/tmp";
		if (asprintf(&r->ctldir, "%s/iobs-mirror.XXXXXX", tmp) == -1)
			err(1, "asprintf");
		if (mkdtemp(r->ctldir) == NULL) {
			warn("%s: a private directory for the ssh connection; "
			    "every run connects by itself", r->ctldir);
			free(r->ctldir);
			r->ctldir = NULL;
		} else if (asprintf(&r->ctlpath, "%s/ssh", r->ctldir) == -1)
			err(1, "asprintf");
	}
	if (r->ctlpath != NULL) {
		q = iobs_shell_quote(r->ctlpath);
		if (asprintf(&r->rsh_line, "%s -o BatchMode=yes -o "
		    "ConnectTimeout=10 -o ServerAliveInterval=10 -o "
		    "ControlMaster=no -o ControlPath=%s", cmd, q) == -1)
			err(1, "asprintf");
		free(q);
	} else if (asprintf(&r->rsh_line, "%s -o BatchMode=yes -o "
	    "ConnectTimeout=10", cmd) == -1)
		err(1, "asprintf");
	return 0;
}

/* Probes */

/*
 * Where ssh would connect for the host: "hostname" and "port" of
 * ssh -G, resolved once. None for another remote shell or a daemon.
 */
void
probe_setup(struct remote *r)
{
	struct addrinfo hints, *ai;
	char **argv, buf[16384], *line, *save, *host = NULL, *port = NULL;
	size_t n, len = 0;
	ssize_t got;
	int out[2], nul, status;
	pid_t pid;

	if (r->probe_fd != -1)
		close(r->probe_fd);
	r->probe_fd = -1;
	r->probe_len = 0;
	if (r->d.kind != RK_SSH || !is_ssh(r->rsh))
		return;
	if (pipe2(out, O_CLOEXEC) == -1 ||
	    (nul = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		err(1, "pipe");
	argv = words_copy(r->rsh, &n);
	argv = words_add(argv, &n, "-G");
	argv = words_add(argv, &n, "--");
	argv = words_add(argv, &n, r->d.host);
	pid = iobs_spawn(argv, nul, out[1], nul);
	words_free(argv);
	close(out[1]);
	close(nul);
	/* To its end, so that it never waits on a full pipe. */
	while ((got = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
	    (got == -1 && errno == EINTR))
		if (got > 0 && (len += (size_t)got) == sizeof(buf) - 1)
			len = 0;
	close(out[0]);
	if (pid == -1 || waitpid(pid, &status, 0) == -1 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "hostname ", 9) == 0)
			host = line + 9;
		else if (strncmp(line, "port ", 5) == 0)
			port = line + 5;
	if (host == NULL || port == NULL)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return;
	if (ai->ai_addrlen <= sizeof(r->probe_addr)) {
		memcpy(&r->probe_addr, ai->ai_addr, ai->ai_addrlen);
		r->probe_len = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
}

/* The port answered, or not: back at once if it did not before. */
static void
probe_answer(struct remote *r, int answered, int64_t now)
{
	if (r->probe_fd != -1)
		close(r->probe_fd);
	r->probe_fd = -1;
	/*
	 * Back: tried at once, and a try that fails while it settles (its
	 * sshd just started) waits a second, not the outage's back-off.
	 */
	if (answered && r->probe_shut && r->retry_at > now) {
		r->retry_at = now;
		r->backoff = BACKOFF_MS / 2;
	}
	r->probe_shut = !answered;
	r->probe_at = now + PROBE_MS;
}

static void
probe_start(struct remote *r, int64_t now)
{
	int fd;

	if ((fd = socket(r->probe_addr.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		r->probe_at = now + PROBE_MS;
		return;
	}
	r->probe_fd = fd;
	r->probe_at = now;
	if (connect(fd, (struct sockaddr *)&r->probe_addr, r->probe_len) == 0)
		probe_answer(r, 1, now);
	else if (errno != EINPROGRESS)
		probe_answer(r, 0, now);
}

/* The connect under way ended. */
void
probe_done(struct remote *r)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(r->probe_fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	probe_answer(r, e == 0, now_ms());
}

/* Away: a probe due, or one waited for too long; else none. */
void
probe(struct remote *r, int64_t now)
{
	if (r->state != S_AWAY || r->probe_len == 0) {
		if (r->probe_fd != -1)
			close(r->probe_fd);
		r->probe_fd = -1;
		r->probe_shut = 0;
		r->probe_at = 0;
		return;
	}
	if (r->probe_fd != -1 && now - r->probe_at >= PROBE_WAIT_MS)
		probe_answer(r, 0, now);
	else if (r->probe_fd == -1 && now >= r->probe_at && r->retry_at > now)
		probe_start(r, now);
}

/* When probe() has something to do next; INT64_MAX for never. */
int64_t
probe_due(struct remote *r)
{
	if (r->state != S_AWAY || r->probe_len == 0)
		return INT64_MAX;
	return r->probe_fd != -1 ? r->probe_at + PROBE_WAIT_MS : r->probe_at;
}
