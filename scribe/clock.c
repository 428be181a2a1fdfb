/*
 * Timestamps of log lines: strftime(3) with %f for the microseconds.
 * strftime runs once a second; the microseconds are filled in per line.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scribe.h"

#define MARK	'\001'

/* Fills the cache for the second of tv; -1 when strftime gives nothing. */
static int
refresh(struct scribe_clock *c, time_t sec)
{
	struct tm tm;
	size_t i;

	if (c->valid && c->sec == sec)
		return 0;
	if ((c->utc ? gmtime_r(&sec, &tm) : localtime_r(&sec, &tm)) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* The leading space tells an empty result from a failure. */
	c->len = strftime(c->buf, sizeof(c->buf), c->fmt, &tm);
	c->valid = 1;
	c->sec = sec;
	if (c->len == 0) {
		c->buf[0] = '\0';
		return -1;
	}
	c->len--;
	memmove(c->buf, c->buf + 1, c->len);
	c->nmarks = 0;
	for (i = 0; i < c->len; i++)
		if (c->buf[i] == MARK)
			c->nmarks++;
	return 0;
}

int
scribe_clock_init(struct scribe_clock *c, const char *fmt, int utc)
{
	size_t len = strlen(fmt);
	const char *s;
	char *p;

	memset(c, 0, sizeof(*c));
	c->utc = utc;
	if ((c->fmt = malloc(len + 2)) == NULL)
		return -1;
	p = c->fmt;
	*p++ = ' ';
	for (s = fmt; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == 'f') {
			*p++ = MARK;
			s++;
		} else if (s[0] == '%' && s[1] != '\0') {
			*p++ = *s++;
			*p++ = *s;
		} else
			*p++ = *s;
	}
	*p = '\0';
	tzset();
	return refresh(c, time(NULL));
}

size_t
scribe_clock_len(struct scribe_clock *c, const struct timeval *tv)
{
	(void)refresh(c, tv->tv_sec);
	return c->len + 5 * c->nmarks;
}

size_t
scribe_clock_put(struct scribe_clock *c, const struct timeval *tv, char *dst)
{
	char usec[6], *p = dst;
	long u = tv->tv_usec;
	size_t i;
	int k;

	(void)refresh(c, tv->tv_sec);
	if (c->nmarks == 0) {
		memcpy(dst, c->buf, c->len);
		return c->len;
	}
	if (u < 0 || u > 999999)
		u = 0;
	for (k = 5; k >= 0; k--, u /= 10)
		usec[k] = '0' + u % 10;
	for (i = 0; i < c->len; i++) {
		if (c->buf[i] == MARK) {
			memcpy(p, usec, 6);
			p += 6;
		} else
			*p++ = c->buf[i];
	}
	return p - dst;
}

void
scribe_clock_free(struct scribe_clock *c)
{
	free(c->fmt);
	c->fmt = NULL;
}
