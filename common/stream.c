/*
 * The iobs-stream(5) codec: formats and parses records, escapes PATH
 * with vis(3) so that any name Linux allows survives the trip.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vis.h>

#include "events.h"
#include "stream.h"
#include "utf8.h"

/* The escapes written: those of strvis(3) with these flags. */
#define VIS_FLAGS	(VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL)

/* Longest line the reader accepts before it calls the line malformed. */
#define READER_MAX	(256 * 1024)

/* One byte as strvis(3) writes it with VIS_FLAGS; next is the byte after. */
static char *
vis_byte(char *d, unsigned char c, int next)
{
	static const char letter[] = {
		['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\a'] = 'a',
		['\b'] = 'b', ['\v'] = 'v', ['\f'] = 'f', ['\r'] = 'r',
	};

	*d++ = '\\';
	if (c < sizeof(letter) && letter[c] != 0)
		*d++ = letter[c];
	else if (c == '\0' && (next < '0' || next > '7'))
		*d++ = '0';
	else {
		*d++ = '0' + (c >> 6);
		*d++ = '0' + (c >> 3 & 7);
		*d++ = '0' + (c & 7);
	}
	return d;
}

/*
 * Printable ASCII and printable, valid UTF-8 pass as they are, so that
 * grep finds a name as it is typed; every other byte is escaped as
 * strvis(3) does with VIS_FLAGS, which strunvis(3) and iobs_unvis()
 * decode. See iobs-stream(5) for the list.
 */
size_t
iobs_vis(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	char *d = dst;
	uint32_t cp;
	size_t i, n;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			*d++ = c;
			continue;
		}
		if (c >= 0x80 && (n = iobs_utf8_char(s + i, len - i, &cp)) > 0 &&
		    iobs_utf8_shown(cp)) {
			memcpy(d, s + i, n);
			d += n;
			i += n - 1;
			continue;
		}
		d = vis_byte(d, c, i + 1 < len ? s[i + 1] : -1);
	}
	*d = '\0';
	return d - dst;
}

/* The byte a one-letter VIS_CSTYLE escape stands for; -1 if none. */
static int
cstyle(char c)
{
	switch (c) {
	case '\\':	return '\\';
	case 't':	return '\t';
	case 'n':	return '\n';
	case 'a':	return '\a';
	case 'b':	return '\b';
	case 'v':	return '\v';
	case 'f':	return '\f';
	case 'r':	return '\r';
	default:	return -1;
	}
}

/*
 * The inverse of iobs_vis(), and strict: it takes only the escapes
 * strvis(3) writes with VIS_FLAGS. strunvis(3) also takes a trailing
 * backslash, \q or \9, which give a name nobody wrote.
 */
int
iobs_unvis(char *dst, const char *src)
{
	char *d = dst;
	int c;

	while (*src != '\0') {
		if (*src != '\\') {
			*d++ = *src++;
			continue;
		}
		src++;
		if (src[0] >= '0' && src[0] <= '3' &&
		    src[1] >= '0' && src[1] <= '7' &&
		    src[2] >= '0' && src[2] <= '7') {
			*d++ = (src[0] - '0') << 6 | (src[1] - '0') << 3 |
			    (src[2] - '0');
			src += 3;
		} else if (src[0] == '0' && (src[1] < '0' || src[1] > '7')) {
			/* A NUL that no digit follows is written \0. */
			*d++ = '\0';
			src++;
		} else if ((c = cstyle(src[0])) != -1) {
			*d++ = c;
			src++;
		} else
			return -1;
	}
	*d = '\0';
	return d - dst;
}

/* v in decimal, at least width digits, at p; async-signal-safe. */
char *
iobs_put_uint(char *p, unsigned long long v, int width)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	while (n < width)
		tmp[n++] = '0';
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

size_t
iobs_record_format(char *dst, const struct timeval *tv, const char *events,
    uint32_t cookie, const char *vispath, size_t vispathlen)
{
	char *p = dst;
	size_t elen = strlen(events);

	p = iobs_put_uint(p, tv->tv_sec, 1);
	*p++ = '.';
	p = iobs_put_uint(p, tv->tv_usec, 6);
	*p++ = '\t';
	memcpy(p, events, elen);
	p += elen;
	*p++ = '\t';
	p = iobs_put_uint(p, cookie, 1);
	*p++ = '\t';
	memcpy(p, vispath, vispathlen);
	p += vispathlen;
	*p++ = '\n';
	return p - dst;
}

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *v)
{
	unsigned long long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	return 0;
}

static int
parse_time(char *s, struct timeval *tv)
{
	unsigned long long sec, usec;
	char *dot;
	size_t digits;

	if ((dot = strchr(s, '.')) == NULL)
		return -1;
	*dot = '\0';
	digits = strlen(dot + 1);
	if (digits == 0 || digits > 6 ||
	    parse_uint(s, LLONG_MAX, &sec) == -1 ||
	    parse_uint(dot + 1, 999999, &usec) == -1)
		return -1;
	while (digits++ < 6)
		usec *= 10;
	tv->tv_sec = sec;
	tv->tv_usec = usec;
	return 0;
}

int
iobs_record_parse(char *line, struct iobs_record *r, const char **why)
{
	char *field[4], *p, *tab, *rest = NULL;
	unsigned long long cookie, pid;
	const char *bad;
	int i, n;

	if (line[0] == '#' || line[0] == '\0')
		return 0;
	p = line;
	for (i = 0; i < 4; i++) {
		field[i] = p;
		if ((tab = strchr(p, '\t')) == NULL)
			break;
		*tab = '\0';
		p = tab + 1;
		if (i == 3)
			rest = p;
	}
	if (i < 3) {
		*why = "expected 4 TAB-separated fields";
		return -1;
	}
	/* A later format version adds fields after PATH: ignore them. */
	if (parse_time(field[0], &r->time) == -1) {
		*why = "bad TIME field";
		return -1;
	}
	if (iobs_events_parse(field[1], &r->mask, &r->lifecycle, &bad) == -1) {
		*why = "unknown event name";
		return -1;
	}
	if (parse_uint(field[2], UINT32_MAX, &cookie) == -1) {
		*why = "bad COOKIE field";
		return -1;
	}
	r->cookie = cookie;
	r->events = field[1];
	/* Decoding never lengthens a string, so it can be done in place. */
	if ((n = iobs_unvis(field[3], field[3])) == -1) {
		*why = "bad escape in PATH";
		return -1;
	}
	if (field[3][0] != '/') {
		*why = "PATH is not absolute";
		return -1;
	}
	r->path = field[3];
	r->pathlen = n;
	/* PID, when it is the fifth; later fields, or a bad one, ignored. */
	r->pid = 0;
	if (rest != NULL) {
		if ((tab = strchr(rest, '\t')) != NULL)
			*tab = '\0';
		if (parse_uint(rest, INT32_MAX, &pid) == 0)
			r->pid = pid;
	}
	return 1;
}

/*
 * A line with no newline at the end of the input is what a writer
 * killed in the middle of a record leaves: cut anywhere, it may even
 * parse, as another path. Readers skip it, as they skip a line too
 * long to hold.
 */
const char *
iobs_reader_why(const struct iobs_reader *rd)
{
	if (rd->overlong)
		return "line too long";
	if (rd->torn)
		return "no newline at the end of the input: a record cut "
		    "short";
	return NULL;
}

int
iobs_reader_record(struct iobs_reader *rd, char *line, struct iobs_record *r)
{
	const char *why;
	int n;

	if (strncmp(line, "# backend ", 10) == 0)
		rd->scanned = strncmp(line + 10, "poll", 4) == 0 &&
		    strchr(" \t\n", line[14]) != NULL;
	if ((why = iobs_reader_why(rd)) != NULL)
		n = -1;
	else
		n = iobs_record_parse(line, r, &why);
	if (n == -1)
		warnx("stdin:%lu: %s; line skipped", rd->lineno, why);
	return n;
}

void
iobs_reader_init(struct iobs_reader *rd, int fd)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = fd;
	rd->cap = 64 * 1024;
	if ((rd->buf = malloc(rd->cap)) == NULL)
		err(1, "malloc");
}

ssize_t
iobs_reader_fill(struct iobs_reader *rd)
{
	ssize_t n;

	if (rd->off > 0) {
		memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
		rd->len -= rd->off;
		rd->off = 0;
	}
	/* One byte stays free for the NUL of a last, unterminated line. */
	if (rd->len + 1 == rd->cap) {
		if (rd->cap > READER_MAX)
			return 1;	/* next() cuts the overlong line */
		rd->cap = rd->cap * 2 + 1;
		if ((rd->buf = realloc(rd->buf, rd->cap)) == NULL)
			err(1, "realloc");
	}
	do
		n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len - 1);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		rd->eof = 1;
	if (n > 0)
		rd->len += n;
	return n;
}

char *
iobs_reader_next(struct iobs_reader *rd)
{
	char *line, *nl;
	size_t avail;

	for (;;) {
		line = rd->buf + rd->off;
		avail = rd->len - rd->off;
		if (avail == 0)
			return NULL;
		nl = memchr(line, '\n', avail);
		if (rd->discard) {
			/* The tail of an overlong line already handed out. */
			rd->off = nl ? (size_t)(nl - rd->buf) + 1 : rd->len;
			if (nl != NULL)
				rd->discard = 0;
			continue;
		}
		rd->overlong = rd->torn = 0;
		if (nl == NULL) {
			if (!rd->eof && avail < READER_MAX)
				return NULL;
			nl = rd->buf + rd->len;
			if (!rd->eof) {
				rd->overlong = 1;
				rd->discard = 1;
			} else
				rd->torn = 1;
			rd->off = rd->len;
		} else
			rd->off = nl - rd->buf + 1;
		*nl = '\0';
		rd->lineno++;
		return line;
	}
}

void
iobs_reader_free(struct iobs_reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
}
