/*
 * iobs-mirror's options: the command line, and the same from the
 * cache's options key at a WATCH_RECONFIG, into struct mirror_options.
 */
#define _GNU_SOURCE

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "usage.h"
#include "stream.h"
#include "mirror.h"
#include "rsync.h"

static const char synopsis[] = "[-AfnovX] [--fsync] [--no-delete] "
    "[--no-owner] [--backup-dir dir [--keep n|age]] [-e rsh] "
    "[-m max-delete] [--progress[=line|lines|none]] [-r root] "
    "[--verify interval] [-x glob] [--exclude-from file] [--gitignore] "
    "-d dest ... | dest ...";
static const char options[] =
    "-A, --acls\tcopy POSIX ACLs\n"
    "-d, --destination=dest\ta destination, as an operand is\n"
    "-e, --rsh=rsh\tthe remote shell for a remote dest\n"
    "-f, --force\treconcile even when the source root is empty\n"
    "-m, --max-delete=n\tdelete nothing when a reconcile would delete more\n"
    "-n, --dry-run\tchange nothing; print what would be done\n"
    "-o, --owner\tgive files the source's owner and group (root)\n"
    "-r, --root=root\tfollow this root of the stream\n"
    "-v, --verbose\tprint each delete\n"
    "-X, --xattrs\tcopy extended attributes\n"
    "-x, --exclude=glob\tneither copy nor delete what matches glob\n"
    "--exclude-from=file\tso for the gitignore(5) patterns of file\n"
    "--gitignore\tso for what the tree's .gitignore files ignore\n"
    "--backup-dir=dir\tkeep what is deleted or replaced, under dir\n"
    "--keep=n|age\thow many backups, or how long, to keep\n"
    "--fsync\teach file and its directory reach the disk\n"
    "--no-delete\tdelete nothing in dest\n"
    "--no-owner\tleave files owned by the user running it\n"
    "--progress[=line|lines|none]\thow long work shows its progress\n"
    "--verify=interval\trepair drift every interval\n"
    "--check\tcheck the options and exit 0, or 2\n"
    "--help, --version\tthis, or the version";

void __dead2
mirror_usage(void)
{
	iobs_usage(stderr, synopsis);
	exit(2);
}

static void
options_free(struct mirror_options *o)
{
	size_t i;

	for (i = 0; i < o->ndest; i++)
		free(o->dests[i]);
	free(o->dests);
	free(o->want_root);
	free(o->rsh);
	free(o->backup_dir);
	iobs_exclude_free(&o->exclude);
	iobs_gi_free(o->gi);
	memset(o, 0, sizeof(*o));
}

/*
 * N seconds, or N with s, m, h, d or w, in *secs; 0 in *unit when the
 * number had none. -1 when not such a number.
 */
static int
parse_time(const char *arg, long long *secs, int *unit)
{
	static const struct { char c; long long secs; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 }
	};
	const char *errstr;
	char num[32];
	size_t len = strlen(arg), i, nunits = sizeof(units) / sizeof(units[0]);
	long long n;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, arg, len + 1);
	for (i = 0; i < nunits; i++)
		if (num[len - 1] == units[i].c)
			break;
	if (i < nunits)
		num[len - 1] = '\0';
	n = strtonum(num, 1, LLONG_MAX / 604800 / 1000, &errstr);
	if (errstr != NULL)
		return -1;
	*unit = i < nunits;
	*secs = n * (i < nunits ? units[i].secs : 1);
	return 0;
}

/* An interval, in seconds; with or without a unit. */
static int
parse_age(const char *arg, int64_t *secs)
{
	long long s;
	int unit;

	if (parse_time(arg, &s, &unit) == -1)
		return -1;
	*secs = s;
	return 0;
}

/* --keep N, a number of sets, or an age: N with s, m, h, d or w. */
static int
parse_keep(const char *arg, struct mirror_options *o, char *why,
    size_t whylen)
{
	long long n;
	int unit;

	o->keep_sets = o->keep_secs = 0;
	if (parse_time(arg, &n, &unit) == -1)
		goto bad;
	if (unit)
		o->keep_secs = n;
	else
		o->keep_sets = n;
	return 0;
bad:
	snprintf(why, whylen, "--keep %s: a number of sets, or an age such "
	    "as 30d (s, m, h, d, w)", arg);
	return -1;
}

/*
 * A --backup-dir given relative to DEST, as rsync takes it, is inside
 * DEST unless it climbs out: never mirrored, never deleted, so it is
 * excluded, anchored, its glob characters escaped. Climbing in and out
 * again (a/../b) is refused: the path would not say where it is.
 */
static int
backup_exclude(struct mirror_options *o, char *why, size_t whylen)
{
	const char *p = o->backup_dir;
	char *glob, *g;
	int up = 0, down = 0;

	if (p[0] == '\0') {
		snprintf(why, whylen, "--backup-dir: an empty path");
		return -1;
	}
	if (p[0] == '/')
		return 0;
	for (; *p != '\0'; p += strcspn(p, "/"), p += strspn(p, "/")) {
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0')) {
			if (down) {
				snprintf(why, whylen, "--backup-dir %s: '..' "
				    "after a name; give a plain path",
				    o->backup_dir);
				return -1;
			}
			up = 1;
		} else if (!(p[0] == '.' && (p[1] == '/' || p[1] == '\0')))
			down = 1;
	}
	if (up)
		return 0;	/* outside DEST: backup_open() checks where */
	if (!down) {
		snprintf(why, whylen, "--backup-dir %s: is DEST itself",
		    o->backup_dir);
		return -1;
	}
	if ((glob = malloc(2 * strlen(o->backup_dir) + 2)) == NULL)
		err(1, "malloc");
	g = glob;
	*g++ = '/';
	for (p = o->backup_dir; *p != '\0'; p++) {
		if (strchr("*?[\\", *p) != NULL)
			*g++ = '\\';
		*g++ = *p;
	}
	*g = '\0';
	iobs_exclude_add(&o->exclude, glob);
	free(glob);
	o->backup_inside = 1;
	return 0;
}

/* One more destination: an operand or -d; the same one twice is refused. */
static int
dest_add(struct mirror_options *o, const char *dest, char *why,
    size_t whylen)
{
	size_t i;

	if (dest[0] == '\0') {
		snprintf(why, whylen, "an empty destination");
		return -1;
	}
	for (i = 0; i < o->ndest; i++)
		if (strcmp(o->dests[i], dest) == 0) {
			snprintf(why, whylen, "%s: a destination given twice",
			    dest);
			return -1;
		}
	if ((o->dests = reallocarray(o->dests, o->ndest + 1,
	    sizeof(*o->dests))) == NULL ||
	    (o->dests[o->ndest] = strdup(dest)) == NULL)
		err(1, "malloc");
	o->ndest++;
	return 0;
}

/*
 * Parses argv into o, from the defaults; the same for the command line
 * and for the options key in the cache. Returns 0, or -1 with what is
 * wrong in why: getopt reports nothing itself, so that a bad option in
 * the cache gives one warning, not two.
 */
static int
parse_options(int argc, char *argv[], struct mirror_options *o, char *why,
    size_t whylen)
{
	static const struct option longopts[] = {
		{ "acls",		no_argument,		NULL, 'A' },
		{ "backup-dir",		required_argument,	NULL, 'B' },
		{ "keep",		required_argument,	NULL, 'K' },
		{ "verify",		required_argument,	NULL, 'V' },
		{ "progress",		optional_argument,	NULL, 'P' },
		{ "no-delete",		no_argument,		NULL, 'D' },
		{ "destination",	required_argument,	NULL, 'd' },
		{ "dry-run",		no_argument,		NULL, 'n' },
		{ "exclude",		required_argument,	NULL, 'x' },
		{ "exclude-from",	required_argument,	NULL, 'E' },
		{ "gitignore",		no_argument,		NULL, 'G' },
		{ "force",		no_argument,		NULL, 'f' },
		{ "fsync",		no_argument,		NULL, 'S' },
		{ "max-delete",		required_argument,	NULL, 'm' },
		{ "no-owner",		no_argument,		NULL, 'O' },
		{ "owner",		no_argument,		NULL, 'o' },
		{ "root",		required_argument,	NULL, 'r' },
		{ "rsh",		required_argument,	NULL, 'e' },
		{ "verbose",		no_argument,		NULL, 'v' },
		{ "xattrs",		no_argument,		NULL, 'X' },
		{ NULL,			0,			NULL, 0 }
	};
	const char *errstr;
	size_t i;
	int ch, r;

	memset(o, 0, sizeof(*o));
	o->max_delete = -1;
	o->owner = -1;
	/* 0, not 1: glibc then forgets the argv it parsed before. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":Ad:e:fm:nor:vXx:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'A':
			o->acls = 1;
			break;
		case 'B':
			free(o->backup_dir);
			if ((o->backup_dir = strdup(optarg)) == NULL)
				err(1, "strdup");
			break;
		case 'D':
			o->no_delete = 1;
			break;
		case 'K':
			if (parse_keep(optarg, o, why, whylen) == -1)
				goto bad;
			break;
		case 'P':
			if (optarg == NULL || strcmp(optarg, "line") == 0)
				o->progress = PROGRESS_LINE;
			else if (strcmp(optarg, "lines") == 0)
				o->progress = PROGRESS_LINES;
			else if (strcmp(optarg, "none") == 0)
				o->progress = PROGRESS_OFF;
			else {
				snprintf(why, whylen, "--progress=%s: line, "
				    "lines or none", optarg);
				goto bad;
			}
			break;
		case 'V':
			if (parse_age(optarg, &o->verify_ms) == -1) {
				snprintf(why, whylen, "--verify %s: an interval "
				    "such as 600, 10m or 1h (s, m, h, d, w)",
				    optarg);
				goto bad;
			}
			o->verify_ms *= 1000;
			break;
		case 'd':
			if (dest_add(o, optarg, why, whylen) == -1)
				goto bad;
			break;
		case 'e':
			free(o->rsh);
			if ((o->rsh = strdup(optarg)) == NULL)
				err(1, "strdup");
			break;
		case 'f':
			o->force = 1;
			break;
		case 'm':
			o->max_delete = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL) {
				snprintf(why, whylen, "--max-delete %s: number "
				    "is %s", optarg, errstr);
				goto bad;
			}
			break;
		case 'n':
			o->dry_run = 1;
			break;
		case 'S':
			o->fsync = 1;
			break;
		case 'o':
			o->owner = 1;
			break;
		case 'O':
			o->owner = 0;
			break;
		case 'r':
			free(o->want_root);
			o->want_root = root_name(optarg);
			break;
		case 'v':
			o->verbose++;
			break;
		case 'x':
			iobs_exclude_add(&o->exclude, optarg);
			break;
		case 'E':
			if (o->gi == NULL)
				o->gi = iobs_gi_new(0);
			if (iobs_gi_add_file(o->gi, optarg) == -1) {
				snprintf(why, whylen, "--exclude-from %s: %s",
				    optarg, strerror(errno));
				goto bad;
			}
			break;
		case 'G':
			if (o->gi == NULL)
				o->gi = iobs_gi_new(0);
			iobs_gi_set_perdir(o->gi);
			break;
		case 'X':
			o->xattrs = 1;
			break;
		default:	/* ':' or '?' */
			iobs_getopt_error(ch, argv, why, whylen);
			goto bad;
		}
	}
	for (; optind < argc; optind++)
		if (dest_add(o, argv[optind], why, whylen) == -1)
			goto bad;
	if (o->ndest == 0) {
		snprintf(why, whylen, "no destination");
		goto bad;
	}
	o->dest = o->dests[0];
	for (i = 0; i < o->ndest; i++) {
		if ((r = remote_dest_parse(o->dests[i], NULL, why, whylen))
		    == -1)
			goto bad;
		if (r == 1 && o->gi != NULL) {
			snprintf(why, whylen, "--exclude-from, --gitignore: "
			    "for a local destination only; give %s its "
			    "excludes with -x", o->dests[i]);
			goto bad;
		}
	}
	/* Each its own: one directory would hold several trees' backups. */
	if (o->ndest > 1 && o->backup_dir != NULL && o->backup_dir[0] == '/') {
		snprintf(why, whylen, "--backup-dir %s: one directory for "
		    "several destinations; give a path relative to DEST, "
		    "such as .iobs-backup", o->backup_dir);
		goto bad;
	}
	if (o->rsh != NULL) {
		char **w;

		if ((w = rsh_split(o->rsh, why, whylen)) == NULL)
			goto bad;
		words_free(w);
	}
	if (o->want_root != NULL && o->want_root[0] != '/' &&
	    o->want_root[0] != '\0') {
		snprintf(why, whylen, "--root %s: not an absolute path",
		    o->want_root);
		goto bad;
	}
	if (o->owner == 1 && geteuid() != 0) {
		snprintf(why, whylen, "--owner: only root can give files "
		    "their owners");
		goto bad;
	}
	/* As rsync -a: root keeps owners unless told not to. */
	if (o->owner == -1)
		o->owner = geteuid() == 0;
	if ((o->keep_sets > 0 || o->keep_secs > 0) && o->backup_dir == NULL) {
		snprintf(why, whylen, "--keep: only with --backup-dir");
		goto bad;
	}
	if (o->backup_dir != NULL && backup_exclude(o, why, whylen) == -1)
		goto bad;
	return 0;
bad:
	options_free(o);
	return -1;
}

int
mirror_options_parse(int argc, char *argv[], struct mirror_options *o,
    char *why, size_t whylen)
{
	return parse_options(argc, argv, o, why, whylen);
}

/*
 * The destination this process mirrors to, of those o names: a front's
 * child (FANOUT_DEST_ENV) takes its own, at start and from new options;
 * a mirror to one takes the one. 0; 1 when o does not name the child's
 * (its front ends it); -1 with why when o names several and this is no
 * front's child.
 */
int
mirror_options_own(struct mirror_options *o, char *why, size_t whylen)
{
	const char *own = getenv(FANOUT_DEST_ENV);
	size_t i;

	if (own == NULL || *own == '\0') {
		if (o->ndest == 1)
			return 0;
		snprintf(why, whylen, "%zu destinations where this mirror "
		    "has one; restart iobs-mirror to mirror to several",
		    o->ndest);
		return -1;
	}
	for (i = 0; i < o->ndest; i++)
		if (strcmp(o->dests[i], own) == 0) {
			o->dest = o->dests[i];
			return 0;
		}
	return 1;
}

void
mirror_options_free(struct mirror_options *o)
{
	options_free(o);
}

/* --help and --version, as the first argument. */
void
mirror_help(int argc, char *argv[])
{
	iobs_help_options(argc, argv, synopsis, options, "iobs-mirror(1)");
}
