/*
 * Extended attributes (--xattrs) and POSIX ACLs (--acls), copied from a
 * source object to its DEST copy with the raw xattr calls: an ACL is
 * its system.posix_acl_* attribute. Both objects are descriptors, O_PATH
 * ones too, reached through /proc/self/fd, so that no path is resolved
 * again. DEST ends with exactly the source's attributes in the
 * namespaces copied; the others are left alone.
 */
#define _GNU_SOURCE

#include <sys/stat.h>
#include <sys/xattr.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "mirror.h"

#define CAPABILITY	"security.capability"

/*
 * Whether name is copied. A file capability is a privilege: it goes
 * only with the owner, as setuid does (dest_mode).
 */
static int
wanted(const struct mirror *m, const char *name)
{
	if (strncmp(name, "system.posix_acl_", 17) == 0)
		return m->o.acls && (strcmp(name + 17, "access") == 0 ||
		    strcmp(name + 17, "default") == 0);
	if (!m->o.xattrs)
		return 0;
	if (strcmp(name, CAPABILITY) == 0)
		return m->o.owner;
	return strncmp(name, "user.", 5) == 0 ||
	    strncmp(name, "trusted.", 8) == 0 ||
	    strncmp(name, "security.", 9) == 0;
}

/* A DEST attribute the source has not: removed if it is ours to manage. */
static int
managed(const struct mirror *m, const char *name)
{
	if (strcmp(name, CAPABILITY) == 0)
		return m->o.xattrs;
	return wanted(m, name);
}

/* The names of the attributes of path, NUL-separated; NULL on error. */
static char *
list(const char *path, ssize_t *len)
{
	char *buf = NULL;
	ssize_t n;

	for (;;) {
		if ((n = listxattr(path, NULL, 0)) == -1)
			return NULL;
		if ((buf = realloc(buf, n + 1)) == NULL)
			err(1, "realloc");
		if ((*len = listxattr(path, buf, n)) != -1)
			return buf;
		if (errno != ERANGE) {
			free(buf);
			return NULL;
		}
	}
}

/* The value of name on path, malloc'ed; NULL on error. */
static char *
value(const char *path, const char *name, ssize_t *len)
{
	char *buf = NULL;
	ssize_t n;

	for (;;) {
		if ((n = getxattr(path, name, NULL, 0)) == -1)
			return NULL;
		if ((buf = realloc(buf, n + 1)) == NULL)
			err(1, "realloc");
		if ((*len = getxattr(path, name, buf, n)) != -1)
			return buf;
		if (errno != ERANGE) {
			free(buf);
			return NULL;
		}
	}
}

static int
has_name(const char *names, ssize_t len, const char *name)
{
	const char *p;

	for (p = names; p < names + len; p += strlen(p) + 1)
		if (strcmp(p, name) == 0)
			return 1;
	return 0;
}

/*
 * Whether attributes are copied at all. Without, a copy has none: its
 * data written and its owner set clear a capability, and it is a new
 * inode.
 */
int
xattr_wanted(const struct mirror *m)
{
	return m->o.xattrs || m->o.acls;
}

/*
 * DEST's dfd gets the source sfd's attributes, in the namespaces the
 * options copy, and loses its own others there. Returns 0, or -1 with
 * errno set; a file system without xattrs on either side is no error.
 */
int
xattr_copy(struct mirror *m, int sfd, int dfd)
{
	char spath[64], dpath[64], *snames = NULL, *dnames = NULL;
	char *sv, *dv;
	const char *p;
	ssize_t slen = 0, dlen = 0, svl, dvl;
	int rv = 0;

	if (!xattr_wanted(m) || m->o.dry_run)
		return 0;
	snprintf(spath, sizeof(spath), "/proc/self/fd/%d", sfd);
	snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d", dfd);
	if ((snames = list(spath, &slen)) == NULL) {
		if (errno == ENOTSUP)
			goto out;
		return -1;
	}
	if ((dnames = list(dpath, &dlen)) == NULL) {
		rv = errno == ENOTSUP ? 0 : -1;
		goto out;
	}
	for (p = dnames; p < dnames + dlen; p += strlen(p) + 1)
		if (managed(m, p) && (!wanted(m, p) ||
		    !has_name(snames, slen, p)) &&
		    removexattr(dpath, p) == -1 && errno != ENODATA)
			rv = -1;
	for (p = snames; p != NULL && p < snames + slen; p += strlen(p) + 1) {
		if (!wanted(m, p) || (sv = value(spath, p, &svl)) == NULL)
			continue;
		dv = value(dpath, p, &dvl);
		if ((dv == NULL || dvl != svl || memcmp(dv, sv, svl) != 0) &&
		    setxattr(dpath, p, sv, svl, 0) == -1 && errno != ENOTSUP)
			rv = -1;
		free(sv);
		free(dv);
	}
out:
	free(snames);
	free(dnames);
	return rv;
}

/*
 * The same for spfd/sname and dpfd/dname, neither a symlink (which
 * holds no user attribute): both opened O_PATH, never followed.
 */
int
xattr_copy_at(struct mirror *m, int spfd, const char *sname, int dpfd,
    const char *dname)
{
	int sfd, dfd, rv, save;

	if (!xattr_wanted(m) || m->o.dry_run)
		return 0;
	if ((sfd = openat(spfd, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return vanished(errno) ? 0 : -1;
	if ((dfd = openat(dpfd, dname, O_PATH | O_NOFOLLOW | O_CLOEXEC))
	    == -1) {
		save = errno;
		close(sfd);
		errno = save;
		return -1;
	}
	rv = xattr_copy(m, sfd, dfd);
	save = errno;
	close(sfd);
	close(dfd);
	errno = save;
	return rv;
}
