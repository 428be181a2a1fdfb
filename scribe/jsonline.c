/*
 * --json: a log line as one JSON object, for log shippers: the fields
 * of iobs-watch --json (time, events, cookie, pid when known, path and
 * path_bytes), "from" for a matched move, and the sentence the text
 * log has after its time stamp.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "scribe.h"

static char *
put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* "name":"..." and, for a name that is not UTF-8, "name_bytes". */
static char *
put_path(char *p, const char *name, const char *path, size_t len)
{
	int valid;

	p += sprintf(p, ",\"%s\":\"", name);
	p += iobs_json_string(p, path, len, &valid);
	*p++ = '"';
	if (!valid) {
		p += sprintf(p, ",\"%s_bytes\":\"", name);
		p += iobs_base64(p, path, len);
		*p++ = '"';
	}
	return p;
}

size_t
scribe_json(char *dst, const struct scribe_jline *j)
{
	const char *e;
	char *p = dst;
	int valid;

	p += sprintf(p, "{\"time\":%lld.%06ld,\"events\":[\"",
	    (long long)j->time->tv_sec, (long)j->time->tv_usec);
	for (e = j->events; *e != '\0'; e++)
		if (*e == ',')
			p = put(p, "\",\"");
		else
			*p++ = *e;
	p += sprintf(p, "\"],\"cookie\":%lu", (unsigned long)j->cookie);
	if (j->pid > 0)
		p += sprintf(p, ",\"pid\":%lu", j->pid);
	p = put_path(p, "path", j->path, j->pathlen);
	if (j->from != NULL)
		p = put_path(p, "from", j->from, j->fromlen);
	p = put(p, ",\"sentence\":\"");
	p += iobs_json_string(p, j->sentence, j->sentencelen, &valid);
	p = put(p, "\"}\n");
	return p - dst;
}
