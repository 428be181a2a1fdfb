/*
 * Which backend runs: --backend, or auto's rules: fanotify where it is
 * allowed and every root's file system takes its mark and gives file
 * handles; inotify otherwise; and on a network or FUSE file system,
 * where both see only this machine's changes, inotify plus a periodic
 * rescan.
 */
#include <sys/statfs.h>

#include <err.h>
#include <string.h>

#include "watch.h"

/* The name of a file system inotify is blind on, or NULL. */
const char *
remote_fs(const char *path)
{
	static const struct {
		long		 magic;
		const char	*name;
	} remote[] = {
		{ 0x6969, "NFS" }, { 0x517B, "SMB" }, { 0xFF534D42, "CIFS" },
		{ 0xFE534D42, "SMB2" }, { 0x65735546, "FUSE" },
		{ 0x01021997, "9P" }, { 0x00C36400, "Ceph" },
		{ 0x5346414F, "AFS" },
	};
	struct statfs sf;
	size_t i;

	if (statfs(path, &sf) == -1)
		return NULL;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((unsigned long)sf.f_type == (unsigned long)remote[i].magic)
			return remote[i].name;
	return NULL;
}

/* Warns of roots inotify is blind on; returns how many there are. */
static int
remote_roots(struct watcher *w, int rescanning)
{
	const char *fs;
	int i, n = 0;

	for (i = 0; i < w->nroots; i++) {
		const char *path = w->roots[i].pathlen ? w->roots[i].path : "/";

		if ((fs = remote_fs(path)) == NULL)
			continue;
		n++;
		if (w->quiet)
			continue;
		if (rescanning)
			warnx("%s: on %s: inotify sees only the changes made "
			    "on this machine; rescanning every %d.%03d s",
			    path, fs, w->interval_ms / 1000,
			    w->interval_ms % 1000);
		else
			warnx("%s: on %s: inotify sees only the changes made "
			    "on this machine", path, fs);
	}
	return n;
}

const char *
backend_check(const char *name)
{
	if (strcmp(name, "auto") != 0 && strcmp(name, "inotify") != 0 &&
	    strcmp(name, "fanotify") != 0 && strcmp(name, "poll") != 0)
		errx(2, "--backend %s: not auto, inotify, fanotify or poll",
		    name);
	return name;
}

void
backend_start(struct watcher *w, const char *name)
{
	char why[256];

	if (strcmp(name, "inotify") == 0) {
		w->be = &backend_inotify;
		remote_roots(w, 0);
	} else if (strcmp(name, "fanotify") == 0) {
		if (fan_usable(w, why, sizeof(why)) == -1)
			errx(1, "%s", why);
		w->be = &backend_fanotify;
	} else if (strcmp(name, "poll") == 0) {
		w->be = &backend_poll;
		w->rescan = 0;	/* --rescan: its scan is the backend */
	}
	else if (strcmp(name, "auto") == 0) {
		if (remote_roots(w, 1) > 0) {
			w->be = &backend_inotify;
			w->rescan = 1;
		} else if (fan_usable(w, why, sizeof(why)) == 0)
			w->be = &backend_fanotify;
		else
			w->be = &backend_inotify;
	} else
		backend_check(name);
	if (w->rescan) {
		scan_init(w);
		w->seen = scan_seen;
	}
	w->be->open(w);
}
