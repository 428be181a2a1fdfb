/*
 * Fuzz target for iobs-scribe's sentences: each line of the input that
 * parses as a record is formatted for every event it carries, at
 * several offsets into its path, into a buffer of exactly the size
 * scribe.h promises is enough; moves are formatted between pairs.
 */
#include <sys/inotify.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scribe.h"

static void
check_sentence(const struct iobs_record *r, uint32_t event, size_t relpos)
{
	size_t max = SCRIBE_SENTENCE_MAX(r->pathlen), n;
	char *dst;

	if ((dst = malloc(max)) == NULL)
		abort();
	n = scribe_format(dst, r, event, relpos);
	if (n == 0 || n > max || memchr(dst, '\n', n) != NULL ||
	    memchr(dst, '\t', n) != NULL)
		abort();
	free(dst);
}

static void
check_move(const struct iobs_record *a, const struct iobs_record *b)
{
	size_t max = SCRIBE_MOVE_MAX(a->pathlen, b->pathlen), n;
	enum scribe_move kind;
	char *dst;

	if ((dst = malloc(max)) == NULL)
		abort();
	for (kind = SCRIBE_MOVED; kind <= SCRIBE_MOVED_IN; kind++) {
		n = scribe_format_move(dst, kind, (a->mask & IN_ISDIR) != 0,
		    a->path, a->pathlen, b->path, b->pathlen);
		if (n == 0 || n > max || memchr(dst, '\n', n) != NULL)
			abort();
	}
	free(dst);
}

static void
check_record(const struct iobs_record *r, const uint8_t *data, size_t len)
{
	size_t i, relpos[4];
	uint32_t bit;

	relpos[0] = 0;
	relpos[1] = r->pathlen;
	relpos[2] = len > 0 ? data[0] % (r->pathlen + 1) : 1;
	/* Past the end, as a root longer than the path would give. */
	relpos[3] = r->pathlen + 1;
	for (i = 0; i < 4; i++) {
		for (bit = 1; bit != 0; bit <<= 1)
			if (r->mask & bit)
				check_sentence(r, bit, relpos[i]);
		check_sentence(r, 0, relpos[i]);
		check_sentence(r, r->mask, relpos[i]);
	}
}

static void
check_filter(const uint8_t *data, size_t len)
{
	struct scribe_filter f;
	const char *bad;
	char *list;

	if ((list = malloc(len + 1)) == NULL)
		abort();
	memcpy(list, data, len);
	list[len] = '\0';
	memset(&f, 0, sizeof(f));
	if (scribe_filter_add(&f, list, &bad) == -1 && bad == NULL)
		abort();
	free(list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct iobs_record r, prev;
	const char *why;
	char *buf, *line, *next;
	int have_prev = 0;

	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data, len);
	buf[len] = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (iobs_record_parse(line, &r, &why) != 1)
			continue;
		check_record(&r, data, len);
		if (have_prev)
			check_move(&prev, &r);
		prev = r;
		have_prev = 1;
	}
	free(buf);
	if (len < 4096)
		check_filter(data, len);
	return 0;
}
