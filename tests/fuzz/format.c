/*
 * Fuzz target for iobs-watch --format (watcher/format.c): the input's
 * first line is the format, the rest is split into %w, %f and the
 * events; a format that compiles must render within fmt_size() bytes,
 * and its literal bytes must come out as they went in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* A field of the input up to the next NUL (or its end), as a string. */
static char *
field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nul = memchr(*p, '\0', end - *p);
	size_t len = (nul ? nul : end) - *p;
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += nul ? len + 1 : len;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const uint8_t *p = data, *end = data + len;
	struct fmt f;
	struct fmt_event ev;
	const char *why = NULL;
	char *spec, *w, *file, *events, *out;
	size_t size, n;
	int rc;

	if (len > 8192)
		return 0;
	spec = field(&p, end);
	w = field(&p, end);
	file = field(&p, end);
	events = field(&p, end);
	rc = fmt_compile(&f, spec, len > 0 ? data[0] & 3 : 0, &why);
	if (rc == -1) {
		if (why == NULL || f.op != NULL)
			abort();
	} else {
		f.timefmt = len > 1 && data[1] & 1 ? "%F %T %Z %s" : NULL;
		ev.w = w;
		ev.wlen = strlen(w);
		ev.f = file;
		ev.flen = strlen(file);
		ev.events = events;
		ev.cookie = len > 5 ? (uint32_t)data[2] << 24 | data[3] << 16 |
		    data[4] << 8 | data[5] : 0;
		ev.sec = len > 6 ? data[6] * 1000003L : 0;
		ev.pid = len > 7 ? (long)data[7] << 24 | data[2] << 8 : 0;
		size = fmt_size(&f, &ev);
		if ((out = malloc(size + 1)) == NULL)
			abort();
		n = fmt_render(&f, out, &ev);
		if (n > size)
			abort();
		/* Rendered twice (the time string now cached): the same. */
		if (fmt_render(&f, out, &ev) != n)
			abort();
		/* A spec with no % is printed as it is. */
		if (strchr(spec, '%') == NULL && (n < strlen(spec) ||
		    memcmp(out, spec, strlen(spec)) != 0))
			abort();
		free(out);
		fmt_free(&f);
	}
	free(spec);
	free(w);
	free(file);
	free(events);
	return 0;
}
