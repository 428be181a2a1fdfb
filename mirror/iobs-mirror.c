/*
 * iobs-mirror: keep DEST an exact copy of the tree an iobs-stream(5)
 * on standard input is about, as it changes.
 */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

static void __dead2
usage(void)
{
	fprintf(stderr, "usage: %s [-fnov] [-m max-delete] [-r root] "
	    "[-x glob] dest\n", getprogname());
	exit(2);
}

/* A root as the stream writes it: no trailing slash, "" for "/". */
static char *
root_name(const char *path)
{
	char *p;
	size_t len;

	if ((p = strdup(path)) == NULL)
		err(1, "strdup");
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

/* 1 when the directory st is path or one of its ancestors. */
static int
is_ancestor(const struct stat *st, const char *path)
{
	char real[PATH_MAX], *slash;
	struct stat cur;

	if (realpath(path, real) == NULL)
		return 0;
	for (;;) {
		if (stat(real[0] ? real : "/", &cur) == 0 &&
		    cur.st_dev == st->st_dev && cur.st_ino == st->st_ino)
			return 1;
		if (real[0] == '\0' || (slash = strrchr(real, '/')) == NULL)
			return 0;
		*slash = '\0';
	}
}

/* The first WATCH_INIT: the root to follow, unless DEST is in it. */
static void
set_root(struct mirror *m, const char *path)
{
	struct stat sst, dst;
	const char *shown = path[0] ? path : "/";

	m->root = root_name(path);
	m->rootlen = strlen(m->root);
	if ((m->sfd = open(shown, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(1, "%s", shown);
	if (fstat(m->sfd, &sst) == -1 || fstat(m->dfd, &dst) == -1)
		err(1, "fstat");
	if (is_ancestor(&sst, m->dest))
		errx(2, "%s is inside the watched root %s: it would copy "
		    "itself; choose a destination outside it", m->dest, shown);
	if (is_ancestor(&dst, shown))
		errx(2, "the watched root %s is inside %s: mirroring would "
		    "overwrite the source; choose another destination", shown,
		    m->dest);
}

/* NULL when path is not rel to the root or names "." or "..". */
static const char *
check_path(struct mirror *m, const char *path)
{
	const char *rel, *p;
	size_t len;

	if (strncmp(path, m->root, m->rootlen) != 0 ||
	    (path[m->rootlen] != '/' && path[m->rootlen] != '\0'))
		return NULL;
	rel = path + m->rootlen;
	if (*rel == '/')
		rel++;
	for (p = rel; *p != '\0'; p += len + (p[len] == '/')) {
		len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return NULL;
	}
	return rel;
}

static void
lifecycle(struct mirror *m, const struct iobs_record *r)
{
	char *root = root_name(r->path);
	int ours = m->root != NULL && strcmp(root, m->root) == 0;

	if (!ours && m->want_root != NULL && strcmp(root, m->want_root) != 0) {
		free(root);
		return;		/* another root's, not followed */
	}
	if (!ours && r->lifecycle == IOBS_WATCH_INIT) {
		if (m->root != NULL) {
			free(root);
			errx(2, "the stream has a second root, %s, beside %s; "
			    "choose the one to follow with --root", r->path,
			    m->root[0] ? m->root : "/");
		}
		set_root(m, root);
		ours = 1;
	}
	free(root);
	if (!ours)
		return;
	switch (r->lifecycle) {
	case IOBS_WATCH_INIT:
		apply_reset(m);
		m->active = 1;
		reconcile(m);
		break;
	case IOBS_WATCH_DEAD:
		apply_flush(m);
		m->active = 0;
		break;
	case IOBS_OVERFLOW:
		/* Events were lost: the WATCH_INIT that follows reconciles. */
		apply_reset(m);
		m->active = 0;
		break;
	default:
		/* WATCH_RECONFIG: options are read once, at start. */
		break;
	}
}

static void
record(struct mirror *m, char *line, unsigned long lineno)
{
	struct iobs_record r;
	const char *why;
	int n;

	if ((n = iobs_record_parse(line, &r, &why)) == 0)
		return;
	if (n == -1) {
		warnx("stdin:%lu: %s; line skipped", lineno, why);
		m->rval = 1;
		return;
	}
	if (r.lifecycle != IOBS_NONE) {
		lifecycle(m, &r);
		return;
	}
	if (!m->active || !apply_wants(r.mask))
		return;
	if (check_path(m, r.path) == NULL) {
		if (m->want_root != NULL)
			return;		/* another root's */
		warnx("stdin:%lu: path outside %s or with \".\" or \"..\"; "
		    "line skipped", lineno, m->root[0] ? m->root : "/");
		m->rval = 1;
		return;
	}
	apply_record(m, &r);
}

static void
run(struct mirror *m)
{
	/* Static: still reachable when a reconcile stops with errx. */
	static struct iobs_reader rd;
	struct pollfd pfd;
	char *line;
	int ready, timeout;

	iobs_reader_init(&rd, STDIN_FILENO);
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	while (!rd.eof) {
		while ((line = iobs_reader_next(&rd)) != NULL)
			record(m, line, rd.lineno);
		/* Directory times once the input is drained. */
		if (m->dirty_dirs.n > 0 && poll(&pfd, 1, 0) == 0)
			flush_dirs(m);
		timeout = apply_timeout(m);
		if ((ready = poll(&pfd, 1, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (ready > 0 && iobs_reader_fill(&rd) == -1)
			err(1, "standard input");
		apply_timers(m, ready == 0);
	}
	while ((line = iobs_reader_next(&rd)) != NULL)
		record(m, line, rd.lineno);
	if (m->root != NULL)
		apply_flush(m);
	iobs_reader_free(&rd);
}

static void
open_dest(struct mirror *m)
{
	struct stat st;

	if ((m->dfd = open(m->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		return;
	if (errno == ENOENT && !m->dry_run && mkdir(m->dest, 0700) == 0 &&
	    (m->dfd = open(m->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1)
		return;
	if (errno == ENOTDIR || (stat(m->dest, &st) == 0 &&
	    !S_ISDIR(st.st_mode)))
		errx(2, "%s: not a directory", m->dest);
	err(1, "%s", m->dest);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "destination",	required_argument,	NULL, 'd' },
		{ "dry-run",		no_argument,		NULL, 'n' },
		{ "exclude",		required_argument,	NULL, 'x' },
		{ "force",		no_argument,		NULL, 'f' },
		{ "max-delete",		required_argument,	NULL, 'm' },
		{ "owner",		no_argument,		NULL, 'o' },
		{ "root",		required_argument,	NULL, 'r' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ NULL,			0,			NULL, 0 }
	};
	static struct mirror m;
	const char *errstr;
	int ch;

	memset(&m, 0, sizeof(m));
	m.max_delete = -1;
	m.sfd = -1;
	m.clone_ok = m.cfr_ok = 1;
	while ((ch = getopt_long(argc, argv, "d:fm:nor:vx:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'd':
			m.dest = optarg;
			break;
		case 'f':
			m.force = 1;
			break;
		case 'm':
			m.max_delete = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(2, "--max-delete %s: number is %s", optarg,
				    errstr);
			break;
		case 'n':
			m.dry_run = 1;
			break;
		case 'o':
			m.owner = 1;
			break;
		case 'r':
			free(m.want_root);
			m.want_root = root_name(optarg);
			break;
		case 'v':
			m.verbose++;
			break;
		case 'x':
			iobs_exclude_add(&m.exclude, optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1 || (argc == 0 && m.dest == NULL) ||
	    (argc == 1 && m.dest != NULL && strcmp(m.dest, argv[0]) != 0))
		usage();
	if (argc == 1)
		m.dest = argv[0];
	if (m.want_root != NULL && m.want_root[0] != '/' &&
	    m.want_root[0] != '\0')
		errx(2, "--root %s: not an absolute path", m.want_root);
	if (m.owner && geteuid() != 0)
		errx(2, "--owner: only root can give files their owners");

	/* Every mode is given explicitly, as the source has it. */
	umask(0);
	open_dest(&m);
	run(&m);

	apply_free(&m);
	iobs_exclude_free(&m.exclude);
	free(m.want_root);
	free(m.root);
	if (m.sfd != -1)
		close(m.sfd);
	close(m.dfd);
	return m.rval;
}
