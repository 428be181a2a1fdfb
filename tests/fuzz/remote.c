/*
 * Fuzz target for what the remote mirror parses (mirror/rsync.c): a
 * destination, a remote-shell command and an rsync error line, taken
 * from the input's NUL-separated parts. Checked: a remote destination
 * is one rsync can take and ssh cannot read as an option; the words of
 * a command are never empty lists; a path read from an error line is
 * plain and below the root.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

static void
check_dest(const char *s)
{
	struct remote_dest d;
	char why[256];
	int rc;
	size_t n;

	rc = remote_dest_parse(s, &d, why, sizeof(why));
	if (rc != remote_dest_parse(s, NULL, why, sizeof(why)))
		abort();
	if (rc == -1 && why[0] == '\0')
		abort();
	if (rc != 1)
		return;
	n = strlen(d.spec);
	if (n == 0 || d.spec[n - 1] != '/' || d.path == NULL ||
	    d.path[0] == '\0')
		abort();
	if (d.kind == RK_SSH && (d.host == NULL || d.host[0] == '-' ||
	    (strrchr(d.host, '@') != NULL && strrchr(d.host, '@')[1] == '-') ||
	    strchr(s, ':') == NULL))
		abort();
	remote_dest_free(&d);
}

static void
check_rsh(const char *s)
{
	char why[256], **w;
	size_t i;

	if ((w = rsh_split(s, why, sizeof(why))) == NULL) {
		if (why[0] == '\0')
			abort();
		return;
	}
	if (w[0] == NULL)
		abort();
	for (i = 0; w[i] != NULL; i++)
		if (strlen(w[i]) > strlen(s))
			abort();
	words_free(w);
}

static void
check_line(const char *s)
{
	char *rel, *p, *x;
	size_t n;

	if ((rel = rsync_error_path(s, "/src/", "/dst/")) != NULL) {
		if (rel[0] == '/')
			abort();
		for (p = rel; *p != '\0'; p += n + (p[n] == '/')) {
			n = strcspn(p, "/");
			if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') ||
			    (n == 1 && p[0] == '.'))
				abort();
		}
		free(rel);
	}
	x = rsync_exclude(s);
	if (strstr(x, s) == NULL)
		abort();
	free(x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *buf, *part[3];
	size_t i, k = 0;

	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	buf[len] = '\0';
	part[0] = part[1] = part[2] = buf + len;
	part[k++] = buf;
	for (i = 0; i < len && k < 3; i++)
		if (buf[i] == '\0')
			part[k++] = buf + i + 1;
	check_dest(part[0]);
	check_rsh(part[1]);
	check_line(part[2]);
	free(buf);
	return 0;
}
