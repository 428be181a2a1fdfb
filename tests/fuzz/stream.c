/*
 * Fuzz target for the stream codec, iobs-stream(5): the input is fed
 * in pieces through a pipe to the line reader, each line is parsed,
 * and two properties are checked: any bytes survive iobs_vis() then
 * iobs_unvis(), and a parsed record, formatted again, parses the same.
 */
#include <sys/time.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vis.h>

#include "stream.h"

/*
 * The code point of the UTF-8 sequence at s, of *n bytes, or -1 if it
 * is not valid: written apart from iobs_vis(), to check it.
 */
static long
decode(const unsigned char *s, size_t len, size_t *n)
{
	long cp, min;
	size_t i;

	if (s[0] >= 0xf0 && s[0] <= 0xf7)
		*n = 4, cp = s[0] & 0x07, min = 0x10000;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		*n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xc0 && s[0] <= 0xdf)
		*n = 2, cp = s[0] & 0x1f, min = 0x80;
	else
		return -1;
	if (*n > len)
		return -1;
	for (i = 1; i < *n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return -1;
		cp = cp * 64 + (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return cp;
}

/* Unescaped, only printable ASCII and printable, valid UTF-8 remain. */
static void
check_shown(const unsigned char *vis, size_t vlen)
{
	size_t i, n;
	long cp;

	for (i = 0; i < vlen; i += n) {
		n = 1;
		if (vis[i] >= 0x20 && vis[i] <= 0x7e)
			continue;
		if ((cp = decode(vis + i, vlen - i, &n)) == -1 || cp <= 0x9f ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			abort();
	}
}

static void
check_vis(const uint8_t *data, size_t len)
{
	char *vis, *back;
	size_t vlen, i;
	int n, ascii = 1;

	if ((vis = malloc(IOBS_VIS_MAX(len))) == NULL ||
	    (back = malloc(IOBS_VIS_MAX(len))) == NULL)
		abort();
	vlen = iobs_vis(vis, (const char *)data, len);
	if (vlen >= IOBS_VIS_MAX(len) || vis[vlen] != '\0' ||
	    strlen(vis) != vlen)
		abort();
	check_shown((const unsigned char *)vis, vlen);
	/* Where only ASCII is given, exactly what strvis(3) writes. */
	for (i = 0; i < len; i++)
		if (data[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		strvisx(back, (const char *)data, len,
		    VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL);
		if (strcmp(back, vis) != 0)
			abort();
	}
	n = iobs_unvis(back, vis);
	if (n < 0 || (size_t)n != len || memcmp(back, data, len) != 0)
		abort();
	free(vis);
	free(back);
}

/* A record formatted from what was parsed parses to the same. */
static void
check_record(const struct iobs_record *r)
{
	struct iobs_record r2;
	const char *why;
	char *vis, *line;
	size_t vlen, llen;

	if ((vis = malloc(IOBS_VIS_MAX(r->pathlen))) == NULL ||
	    (line = malloc(IOBS_RECORD_MAX(4 * r->pathlen))) == NULL)
		abort();
	vlen = iobs_vis(vis, r->path, r->pathlen);
	llen = iobs_record_format(line, &r->time, r->events, r->cookie, vis,
	    vlen);
	if (llen == 0 || line[llen - 1] != '\n' ||
	    memchr(line, '\n', llen - 1) != NULL)
		abort();
	line[llen - 1] = '\0';
	if (iobs_record_parse(line, &r2, &why) != 1 ||
	    r2.time.tv_sec != r->time.tv_sec ||
	    r2.time.tv_usec != r->time.tv_usec || r2.mask != r->mask ||
	    r2.lifecycle != r->lifecycle || r2.cookie != r->cookie ||
	    r2.pathlen != r->pathlen ||
	    memcmp(r2.path, r->path, r->pathlen) != 0)
		abort();
	free(vis);
	free(line);
}

static void
check_line(char *line)
{
	struct iobs_record r;
	const char *why = NULL;
	char *copy;
	int k;

	if ((copy = strdup(line)) == NULL)
		abort();
	k = iobs_record_parse(copy, &r, &why);
	if (k == -1 && why == NULL)
		abort();
	if (k == 1) {
		if (r.path[0] != '/' || r.path[r.pathlen] != '\0' ||
		    strlen(r.events) > strlen(line))
			abort();
		/* Lines with more than four fields are not formatted back. */
		if (r.events != NULL && strlen(r.events) <= IOBS_EVENTS_MAX)
			check_record(&r);
	}
	free(copy);
}

/* The reader, given the input in pieces whose sizes the input picks. */
static void
check_reader(const uint8_t *data, size_t len)
{
	struct iobs_reader rd;
	size_t off = 0, piece, total = 0;
	char *line;
	int fds[2];

	if (pipe(fds) == -1)
		err(1, "pipe");
	iobs_reader_init(&rd, fds[0]);
	while (off < len) {
		piece = 1 + data[off] % 64;
		if (piece > len - off)
			piece = len - off;
		if (write(fds[1], data + off, piece) != (ssize_t)piece)
			err(1, "write");
		off += piece;
		if (iobs_reader_fill(&rd) <= 0)
			abort();
		while ((line = iobs_reader_next(&rd)) != NULL) {
			total += strlen(line);
			check_line(line);
		}
	}
	close(fds[1]);
	while (iobs_reader_fill(&rd) > 0 || rd.len > rd.off)
		while ((line = iobs_reader_next(&rd)) != NULL) {
			total += strlen(line);
			check_line(line);
		}
	if (!rd.eof || total > len)
		abort();
	iobs_reader_free(&rd);
	close(fds[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	/* A pipe holds 64 KiB: a longer input would block the writer. */
	if (len > 60000)
		return 0;
	check_vis(data, len);
	check_reader(data, len);
	return 0;
}
