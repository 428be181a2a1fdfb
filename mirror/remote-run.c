/*
 * iobs-mirror's remote mode: what a run sends. rsync's command line,
 * the list of the paths of a batch (--files-from), the shell script of
 * its renames and deletions, the other names of the files it lists;
 * and what rsync's errors say of those paths.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "stream.h"
#include "mirror.h"
#include "rsync.h"
#include "remote-int.h"

/* A --backup-dir set's name, as a shell pattern. */
#define SET_GLOB	"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T" \
			"[0-9][0-9][0-9][0-9]Z"

/* The rsync command line of a run */

/*
 * A whole run on a terminal, when nothing else is printed: rsync's
 * --info=progress2 line, on our standard error.
 */
int
progress2(struct remote *r, enum stepkind kind, int full)
{
	return kind == K_RSYNC && full && r->progress == PROGRESS_LINE &&
	    !r->o.dry_run && !r->o.verbose && !r->verifying;
}

/* --out-format for a --verify pass: "repair %i DEST/%n%L", % doubled. */
static char *
out_format(const char *dest)
{
	char *f, *p;

	if ((f = malloc(strlen("--out-format=repair %i /%n%L") +
	    2 * strlen(dest) + 1)) == NULL)
		err(1, "malloc");
	p = stpcpy(f, "--out-format=repair %i ");
	for (; *dest != '\0'; dest++) {
		if (*dest == '%')
			*p++ = '%';
		*p++ = *dest;
	}
	strcpy(p, "/%n%L");
	return f;
}

char **
rsync_argv(struct remote *r, enum stepkind kind, int full, int checksum)
{
	char **v = NULL, *x;
	size_t n = 0, i;

	v = words_add(v, &n, "rsync");
	if (kind == K_GUARD) {
		v = words_add(v, &n, "--list-only");
		goto shell;
	}
	v = words_add(v, &n, "-aH");
	v = words_add(v, &n, "--force");
	/* Times to the nanosecond: a same-size rewrite in one second too. */
	v = words_add(v, &n, "--modify-window=-1");
	if (geteuid() == 0)
		v = words_add(v, &n, "--numeric-ids");
	if (!r->o.owner) {
		v = words_add(v, &n, "--no-owner");
		v = words_add(v, &n, "--no-group");
	}
	if (r->o.xattrs)
		v = words_add(v, &n, "--xattrs");
	if (r->o.acls)
		v = words_add(v, &n, "--acls");
	if (r->o.fsync)
		v = words_add(v, &n, "--fsync");
	if (checksum)
		v = words_add(v, &n, "--checksum");
	/* On a terminal, a whole run shows its own progress there. */
	if (progress2(r, kind, full))
		v = words_add(v, &n, "--info=progress2");
	/* A pass: each thing it changes there, a line "repair ...". */
	if (kind == K_RSYNC && full && r->verifying) {
		x = out_format(r->shown);
		v = words_add(v, &n, x);
		free(x);
	}
	for (i = 0; i < r->o.exclude.n; i++) {
		x = rsync_exclude(r->o.exclude.pattern[i].glob);
		v = words_add(v, &n, "--exclude");
		v = words_add(v, &n, x);
		free(x);
	}
	/* Deletes in the directories listed as "dir/", or all of them. */
	if (!r->o.no_delete)
		v = words_add(v, &n, "--delete");
	if (r->o.backup_dir != NULL && kind == K_RSYNC) {
		char set[SET_LEN + 1];

		backup_set_name(set, time(NULL));
		if (asprintf(&x, "--backup-dir=%s/%s", r->o.backup_dir, set) ==
		    -1)
			err(1, "asprintf");
		v = words_add(v, &n, "--backup");
		v = words_add(v, &n, x);
		free(x);
	}
	if (kind == K_COUNT || r->o.dry_run)
		v = words_add(v, &n, "--dry-run");
	if (kind == K_COUNT || r->o.dry_run || r->o.verbose)
		v = words_add(v, &n, "--itemize-changes");
	/* Its stdout is ours to read: the line that says it is done. */
	if (kind == K_RSYNC && !full && !r->o.dry_run && !r->o.verbose)
		v = words_add(v, &n, "--debug=exit2");
	if (kind == K_RSYNC && !full) {
		v = words_add(v, &n, "--files-from=-");
		v = words_add(v, &n, "--from0");
		/* Gone since the list was made: its record follows. */
		v = words_add(v, &n, r->d.kind == RK_DAEMON &&
		    !r->o.no_delete ? "--delete-missing-args" :
		    "--ignore-missing-args");
	}
shell:
	if (r->d.kind == RK_SSH) {
		v = words_add(v, &n, "--protect-args");
		v = words_add(v, &n, "-e");
		v = words_add(v, &n, r->relay_line != NULL ? r->relay_line :
		    r->rsh_line);
	}
	v = words_add(v, &n, "--");
	if (kind != K_GUARD)
		v = words_add(v, &n, r->src);
	v = words_add(v, &n, r->d.spec);
	return v;
}

static int
source_empty(struct remote *r)
{
	struct dirent *de;
	DIR *dir;
	int empty = 1;

	if ((dir = opendir(r->root[0] ? r->root : "/")) == NULL)
		return 0;	/* the run says why */
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(dir);
	return empty;
}

static void
list_add(struct buf *b, struct pathset *seen, const char *rel, int dir)
{
	char *p;

	if (asprintf(&p, "%s%s", rel[0] ? rel : ".", dir ? "/" : "") == -1)
		err(1, "asprintf");
	if (pathset_get(seen, p) == NULL) {
		pathset_add(seen, p, 0);
		buf_add(b, p, strlen(p) + 1);
	}
	free(p);
	/*
	 * rsync sets the times of the directories above a name it is
	 * given, but not the root's: its temporary names change them.
	 */
	if (rel[0] != '\0' && strchr(rel, '/') == NULL)
		list_add(b, seen, "", 0);
}

static void	 links_note(struct remote *, const char *,
		    const struct stat *);

/*
 * Every directory of a source subtree, as "dir/": all it holds goes.
 * Its other entries are noted for their other names.
 */
static void
list_tree(struct remote *r, int dfd, const char *rel, struct buf *b,
    struct pathset *seen)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char *sub;
	int fd;

	list_add(b, seen, rel, 1);
	if ((dir = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s%s%s", rel, rel[0] ? "/" : "",
		    de->d_name) == -1)
			err(1, "asprintf");
		if (remote_excluded(r, sub)) {
			free(sub);
			continue;
		}
		if (de->d_type != DT_DIR && fstatat(dirfd(dir),
		    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(st.st_mode))
			links_note(r, sub, &st);
		else if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
		    (fd = openat(dirfd(dir), de->d_name, O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) != -1)
			list_tree(r, fd, sub, b, seen);
		free(sub);
	}
	closedir(dir);
}

/*
 * The source entry rel: 1 there, 0 proven gone, -1 unknown. A path
 * through a symlink is gone: rsync would read, and the remote write,
 * through it.
 */
int
source_has(struct remote *r, const char *rel, struct stat *st)
{
	char *p, *slash;
	size_t base = strlen(r->src);
	int rc;

	if (asprintf(&p, "%s%s", r->src, rel) == -1)
		err(1, "asprintf");
	for (slash = strchr(p + base, '/'); slash != NULL;
	    slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		rc = lstat(p, st);
		*slash = '/';
		if (rc == -1 || !S_ISDIR(st->st_mode)) {
			rc = rc == -1 && errno != ENOENT && errno != ENOTDIR;
			free(p);
			return rc ? -1 : 0;
		}
	}
	rc = lstat(p, st);
	free(p);
	if (rc == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

static void
script_path(struct buf *b, const char *rel)
{
	char *p, *q;

	if (asprintf(&p, "./%s", rel) == -1)
		err(1, "asprintf");
	q = iobs_shell_quote(p);
	buf_str(b, " ");
	buf_str(b, q);
	free(p);
	free(q);
}

/*
 * The shell part of a batch, for sh on the remote: renames in their
 * order, then deletions. No name is a word of the command line; each
 * is quoted in the script, and a path whose directory is a symlink
 * there is refused, so that nothing outside the destination is
 * touched. A failed rename says "F i", a refused delete "D i".
 */
static const char script_head[] =
    "safe() { p=$1; while :; do case $p in */*) p=${p%/*};"
    " [ -h \"$p\" ] && return 1;; *) return 0;; esac; done; }\n"
    "there() { [ -e \"$1\" ] || [ -h \"$1\" ]; }\n"
    "isdir() { [ -d \"$1\" ] && [ ! -h \"$1\" ]; }\n"
    /* --backup-dir: $B is the set; k keeps ./path there, by mv. */
    "mi() { if isdir \"$1\" && isdir \"$2\"; then"
    " for f in \"$1\"/* \"$1\"/.[!.]* \"$1\"/..?*; do there \"$f\" ||"
    " continue; mi \"$f\" \"$2/${f##*/}\" || return 1; done;"
    " rmdir -- \"$1\"; else if there \"$2\"; then rm -rf -- \"$2\" ||"
    " return 1; fi; mv -f -- \"$1\" \"$2\"; fi; }\n"
    "k() { there \"$1\" || return 0; t=$B/${1#./};"
    " case $B in /*) ;; *) safe \"$t\" || return 1;; esac;"
    " mkdir -p -- \"${t%/*}\" && mi \"$1\" \"$t\"; }\n"
    "m() { if safe \"$2\" && safe \"$3\" && there \"$2\"; then"
    " if [ -n \"$B\" ]; then k \"$3\" || { echo \"F $1\"; return; };"
    " elif there \"$3\" && { isdir \"$3\" || isdir \"$2\"; }; then"
    " rm -rf -- \"$3\" || { echo \"F $1\"; return; }; fi;"
    " mv -f -- \"$2\" \"$3\" || echo \"F $1\"; else echo \"F $1\"; fi; }\n"
    "d() { if ! safe \"$2\"; then echo \"D $1\"; elif [ -n \"$B\" ]; then"
    " k \"$2\" || echo \"D $1\"; else rm -rf -- \"$2\" || echo \"D $1\";"
    " fi; }\n"
    /*
     * --keep: the sets of $1 but $2, oldest first, while $3 or more
     * are left, or older than the set name $4.
     */
    "p() { n=0; for s in \"$1\"/" SET_GLOB "; do isdir \"$s\" &&"
    " [ \"${s##*/}\" != \"$2\" ] && n=$((n + 1)); done;"
    " for s in \"$1\"/" SET_GLOB "; do isdir \"$s\" &&"
    " [ \"${s##*/}\" != \"$2\" ] || continue;"
    " if { [ \"$3\" -gt 0 ] && [ \"$n\" -ge \"$3\" ]; } ||"
    " { [ -n \"$4\" ] && expr \"x${s##*/}\" \\< \"x$4\" >/dev/null; };"
    " then rm -rf -- \"$s\"; fi; n=$((n - 1)); done; }\n";

/* The source lacks the directory rel, and it is not excluded. */
static int
source_lacks(void *arg, const char *rel)
{
	struct remote *r = arg;
	struct stat st;

	return !remote_excluded(r, rel) && source_has(r, rel, &st) == 0;
}

/* B, the set a run's script keeps what it replaces in; empty without. */
static void
script_backup(struct remote *r, struct buf *b)
{
	char set[SET_LEN + 1], *p, *q;

	if (r->o.backup_dir == NULL) {
		buf_str(b, "B=\n");
		return;
	}
	backup_set_name(set, time(NULL));
	if (asprintf(&p, "%s%s/%s", r->o.backup_dir[0] == '/' ? "" : "./",
	    r->o.backup_dir, set) == -1)
		err(1, "asprintf");
	q = iobs_shell_quote(p);
	buf_str(b, "umask 077\nB=");
	buf_str(b, q);
	buf_str(b, "\n");
	free(p);
	free(q);
}

/* --keep: the sets there not pruned yet for this minute's. */
static int
prune_due(struct remote *r)
{
	char set[SET_LEN + 1];

	if (r->o.backup_dir == NULL || r->o.dry_run ||
	    (r->o.keep_sets <= 0 && r->o.keep_secs <= 0))
		return 0;
	backup_set_name(set, time(NULL));
	return strcmp(set, r->pruned) != 0;
}

/* The line that prunes them: by count, or older than a set's name. */
static void
script_prune(struct remote *r, struct buf *b)
{
	char set[SET_LEN + 1], cut[SET_LEN + 1] = "", *q, *line;
	time_t now = time(NULL);

	if (!prune_due(r))
		return;
	backup_set_name(set, now);
	if (r->o.keep_secs > 0)
		backup_set_name(cut, now - r->o.keep_secs);
	q = iobs_shell_quote(r->o.backup_dir);
	if (asprintf(&line, "p %s %s %lld '%s'\n", q, set, r->o.keep_sets,
	    cut) == -1)
		err(1, "asprintf");
	buf_str(b, line);
	memcpy(r->pruned, set, sizeof(set));
	free(line);
	free(q);
}

static void
dry_log(const char *what, const char *a, const char *b)
{
	char *v;
	size_t n = strlen(a) + (b ? strlen(b) : 0);

	if ((v = malloc(IOBS_VIS_MAX(n) + 2)) == NULL)
		err(1, "malloc");
	iobs_vis(v, a, strlen(a));
	printf("%s %s", what, v);
	if (b != NULL) {
		iobs_vis(v, b, strlen(b));
		printf(" %s", v);
	}
	putchar('\n');
	fflush(stdout);
	free(v);
}

/* Hard links */

static int
skip_excluded(void *r, const char *rel)
{
	return remote_excluded(r, rel);
}

/*
 * The table of names by inode, from a walk of the source: at each whole
 * sync, kept only when the tree has hard links, so that a name that
 * leaves a file tells its other names (a file written through its link
 * g, then g deleted); else the first time a batch lists a file with
 * other names. Every entry a batch lists from then on keeps it up.
 */
static void
links_build(struct remote *r)
{
	int fd;

	r->links_kept = 1;
	if ((fd = open(r->root[0] ? r->root : "/", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 ||
	    links_walk(&r->links, fd, "", skip_excluded, r) == -1)
		r->links_partial = 1;	/* for this batch; walked again */
}

static void
links_drop(struct remote *r)
{
	links_clear(&r->links);
	r->links_kept = r->links_partial = 0;
}

/* rel, a listed entry, is st now. */
static void
links_note(struct remote *r, const char *rel, const struct stat *st)
{
	if (S_ISDIR(st->st_mode) || (!r->links_kept && st->st_nlink < 2))
		return;
	if (!r->links_kept)
		links_build(r);
	links_add(&r->links, st->st_dev, st->st_ino, rel);
	if (st->st_nlink > 1)
		pathset_add(&r->linked, rel, 0);
}

/*
 * The names the table says another name of their file left (deleted,
 * or another file's now): what was written through that name while it
 * was theirs changed them, and no record names them. Those the source
 * has join the list, their own other names with them.
 */
static void
siblings_list(struct remote *r, struct pathset *seen)
{
	struct stat st;
	char *rel;

	while (r->links.left.n > 0) {
		rel = pathset_take(&r->links.left, r->links.left.n - 1);
		if (!remote_excluded(r, rel) && source_has(r, rel, &st) == 1 &&
		    !S_ISDIR(st.st_mode)) {
			links_note(r, rel, &st);
			list_add(&r->list, seen, rel, 0);
		}
		free(rel);
	}
}

/*
 * rsync -H links only the names that one run is given together: the
 * other names of each file listed, those the source bears out, join
 * the list. Names outside the tree are not known; the known ones go.
 */
static void
links_list(struct remote *r, struct pathset *seen)
{
	struct pathset inodes;
	struct stat st;
	char **v, key[64];
	size_t i, j, n;
	dev_t dev;
	ino_t ino;
	int has;

	memset(&inodes, 0, sizeof(inodes));
	for (i = 0; i < r->linked.n; i++) {
		if (!links_inode(&r->links, r->linked.e[i].path, &dev, &ino))
			continue;
		/* Each file once, however many of its names are listed. */
		snprintf(key, sizeof(key), "%jx:%jx", (uintmax_t)dev,
		    (uintmax_t)ino);
		if (pathset_get(&inodes, key) != NULL)
			continue;
		pathset_add(&inodes, key, 0);
		n = links_names(&r->links, dev, ino, r->linked.e[i].path, &v);
		for (j = 0; j < n; j++) {
			has = remote_excluded(r, v[j]) ? 0 :
			    source_has(r, v[j], &st);
			if (has == 1 && st.st_dev == dev && st.st_ino == ino)
				list_add(&r->list, seen, v[j], 0);
			/* The disk is the truth: gone, or another file now. */
			else if (has == 1 && !S_ISDIR(st.st_mode))
				links_add(&r->links, st.st_dev, st.st_ino,
				    v[j]);
			else if (has == 0 || has == 1)
				links_del(&r->links, v[j]);
		}
		links_free_names(v, n);
	}
	pathset_clear(&inodes);
	pathset_clear(&r->linked);
	if (r->links_partial)
		links_drop(r);
}

/*
 * The steps of the batch out (r->sent), in r->steps: for a whole sync
 * its guards and rsync; else the script of its renames and deletes,
 * and the list of the rest for rsync. None when there is nothing to
 * send.
 */
void
run_steps(struct remote *r)
{
	struct pathset seen;
	struct stat st;
	size_t i;
	char *q, *par, *top = NULL;
	int fd, has;

	if (r->full) {
		/*
		 * rsync -aH links them all; names gone unseen meanwhile:
		 * the table afresh, for a tree with hard links.
		 */
		links_drop(r);
		links_build(r);
		if (r->links_partial || r->links.linked == 0)
			links_drop(r);
		if (!r->o.force && source_empty(r))
			r->steps[r->nsteps++] = K_GUARD;
		if (!r->o.force && r->o.max_delete >= 0)
			r->steps[r->nsteps++] = K_COUNT;
		r->steps[r->nsteps++] = K_RSYNC;
		return;
	}
	memset(&seen, 0, sizeof(seen));
	buf_free(&r->list);
	buf_free(&r->script);
	pathset_clear(&r->gone);
	for (i = 0; r->links_kept && i < r->sent.ren.n; i++)
		links_rename(&r->links, r->sent.ren.v[i].from,
		    r->sent.ren.v[i].to);
	for (i = 0; i < r->sent.tree.n; i++) {
		const char *rel = r->sent.tree.e[i].path;

		if ((has = source_has(r, rel, &st)) == 0)
			pathset_add(&r->sent.plain, rel, 0);
		else if (has == 1 && S_ISDIR(st.st_mode)) {
			if (asprintf(&par, "%s%s", r->src, rel) == -1)
				err(1, "asprintf");
			fd = open(par, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			free(par);
			if (fd == -1)
				list_add(&r->list, &seen, rel, 0);
			else
				list_tree(r, fd, rel, &r->list, &seen);
		} else {
			if (has == 1)
				links_note(r, rel, &st);
			list_add(&r->list, &seen, rel, 0);
		}
	}
	/* A directory's entries: "dir/" alone, rsync deletes in it. */
	for (i = 0; i < r->sent.level.n; i++) {
		const char *rel = r->sent.level.e[i].path;

		if (source_has(r, rel, &st) == 1 && S_ISDIR(st.st_mode))
			list_add(&r->list, &seen, rel, 1);
		else
			pathset_add(&r->sent.plain, rel, 0);
	}
	for (i = 0; i < r->sent.plain.n; i++) {
		const char *rel = r->sent.plain.e[i].path;

		if ((has = source_has(r, rel, &st)) != 0 || rel[0] == '\0') {
			if (has == 1)
				links_note(r, rel, &st);
			list_add(&r->list, &seen, rel, 0);
			continue;
		}
		/* Gone from the source: gone there; its directory's time. */
		links_prune(&r->links, rel);
		if (r->o.backup_dir != NULL)
			top = backup_top(rel, source_lacks, r);
		if (!r->o.no_delete)
			pathset_add(&r->gone, top != NULL ? top : rel, 0);
		par = rel_parent(top != NULL ? top : rel);
		free(top);
		top = NULL;
		list_add(&r->list, &seen, par, 0);
		free(par);
	}
	siblings_list(r, &seen);
	if (r->linked.n > 0)
		links_list(r, &seen);
	/* Names left by the other names of those: the next run's. */
	while (r->links.left.n > 0) {
		q = pathset_take(&r->links.left, r->links.left.n - 1);
		dirty_add(r, q, 0);
		free(q);
	}
	if (r->d.kind == RK_DAEMON) {
		for (i = 0; i < r->gone.n; i++)
			list_add(&r->list, &seen, r->gone.e[i].path, 0);
		/* No shell: a rename is a delete and a copy. */
		for (i = 0; i < r->sent.ren.n; i++) {
			list_add(&r->list, &seen, r->sent.ren.v[i].from, 0);
			par = rel_parent(r->sent.ren.v[i].from);
			list_add(&r->list, &seen, par, 0);
			free(par);
		}
	} else if (r->sent.ren.n > 0 || r->gone.n > 0 || prune_due(r)) {
		q = iobs_shell_quote(r->d.path);
		buf_str(&r->script, "cd -- ");
		buf_str(&r->script, q);
		buf_str(&r->script, " || exit 97\n");
		free(q);
		script_backup(r, &r->script);
		buf_str(&r->script, script_head);
		script_prune(r, &r->script);
		for (i = 0; i < r->sent.ren.n; i++) {
			if (r->o.dry_run)
				dry_log("rename", r->sent.ren.v[i].from,
				    r->sent.ren.v[i].to);
			buf_str(&r->script, "m ");
			q = NULL;
			if (asprintf(&q, "%zu", i) == -1)
				err(1, "asprintf");
			buf_str(&r->script, q);
			free(q);
			script_path(&r->script, r->sent.ren.v[i].from);
			script_path(&r->script, r->sent.ren.v[i].to);
			buf_str(&r->script, "\n");
		}
		for (i = 0; i < r->gone.n; i++) {
			if (r->o.dry_run)
				dry_log("delete", r->gone.e[i].path, NULL);
			if (asprintf(&q, "d %zu", i) == -1)
				err(1, "asprintf");
			buf_str(&r->script, q);
			free(q);
			script_path(&r->script, r->gone.e[i].path);
			buf_str(&r->script, "\n");
		}
		buf_str(&r->script, "exit 0\n");
		if (!r->o.dry_run)
			r->steps[r->nsteps++] = K_SCRIPT;
	}
	pathset_clear(&seen);
	if (r->list.len > 0)
		r->steps[r->nsteps++] = K_RSYNC;
}

/* The first line that says what went wrong, for the report. */
void
set_why(struct remote *r, const struct buf *e, int status)
{
	const char *p, *best = NULL, *nl;
	char *line;

	for (p = e->s; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		/* Summaries, and the source in flux: not why a run failed. */
		if (strncmp(p, "rsync error:", 12) == 0 ||
		    strncmp(p, "rsync warning:", 14) == 0 ||
		    strncmp(p, "rsync: connection unexpectedly", 30) == 0 ||
		    strncmp(p, "file has vanished:", 18) == 0 ||
		    strncmp(p, "directory has vanished:", 23) == 0 ||
		    strncmp(p, "Warning:", 8) == 0)
			continue;
		if (best == NULL || strncmp(p, "rsync: ", 7) == 0 ||
		    strncmp(p, "ssh: ", 5) == 0) {
			if (best == NULL || strncmp(best, "rsync: ", 7) != 0)
				best = p;
		}
	}
	free(r->why);
	if (best != NULL) {
		nl = strchr(best, '\n');
		line = strndup(best, nl ? (size_t)(nl - best) : strlen(best));
		if (line == NULL)
			err(1, "strndup");
		r->why = line;
	} else if (WIFEXITED(status)) {
		if (asprintf(&r->why, "exit status %d", WEXITSTATUS(status))
		    == -1)
			err(1, "asprintf");
	} else if (asprintf(&r->why, "killed by signal %d",
	    WTERMSIG(status)) == -1)
		err(1, "asprintf");
}

/*
 * A source entry gone, or replaced by another type, while rsync read
 * it (ENOENT, ENOTDIR, ELOOP from its O_NOFOLLOW): a record follows.
 */
static int
vanish_line(const char *line)
{
	size_t n = strlen(line);

	if (strncmp(line, "file has vanished: ", 19) == 0 ||
	    strncmp(line, "directory has vanished: ", 24) == 0)
		return 1;
	if (strncmp(line, "rsync: [sender] ", 16) != 0)
		return 0;
	return (n > 4 && strcmp(line + n - 4, " (2)") == 0) ||
	    (n > 5 && (strcmp(line + n - 5, " (20)") == 0 ||
	    strcmp(line + n - 5, " (40)") == 0));
}

/*
 * rsync's 23 (some files failed) and 24 (some vanished): a path its
 * lines name as vanished from the source, in flux, goes back to the
 * dirty set (no reason to back off: a record follows); one the remote
 * refused is set aside. -1 when a line names none of ours, or rsync
 * skipped its deletes: all of them go back.
 */
int
partial(struct remote *r, struct batch *from, const struct buf *e)
{
	const char *p, *nl;
	char *line, *rel, *dst;
	int all = 0, some = 0;

	/* The receiver names paths below its own directory. */
	if (asprintf(&dst, "%s/", r->d.kind == RK_SSH ? r->d.path : "")
	    == -1)
		err(1, "asprintf");
	for (p = e->s; p != NULL && *p != '\0'; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if ((line = strndup(p, nl ? (size_t)(nl - p) : strlen(p))) ==
		    NULL)
			err(1, "strndup");
		if (strstr(line, "skipping file deletion") != NULL)
			all = 1;
		if ((strncmp(line, "rsync: ", 7) == 0 &&
		    strncmp(line, "rsync: connection", 17) != 0) ||
		    strncmp(line, "file has vanished", 17) == 0 ||
		    strncmp(line, "directory has vanished", 22) == 0) {
			if ((rel = rsync_error_path(line, r->src, dst)) ==
			    NULL)
				all = 1;
			else {
				if (vanish_line(line))
					put_back(&r->dirty, from, rel,
					    now_ms());
				else
					set_aside(r, from, rel, line);
				some = 1;
				free(rel);
			}
		}
		free(line);
	}
	free(dst);
	return all || !some ? -1 : 0;
}
