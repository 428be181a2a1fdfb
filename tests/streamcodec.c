/*
 * Test helper for the stream codec: "enc" turns each NUL-terminated
 * name on stdin into a record line; "dec" parses record lines and
 * writes each PATH back as raw bytes, NUL-terminated.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

static int
encode(void)
{
	struct timeval tv = { 1764057600, 123456 };
	char *name = NULL, *vis, *line;
	size_t cap = 0;
	ssize_t len;

	while ((len = getdelim(&name, &cap, '\0', stdin)) > 0) {
		if (name[len - 1] == '\0')
			len--;
		if ((vis = malloc(IOBS_VIS_MAX(len))) == NULL ||
		    (line = malloc(IOBS_RECORD_MAX(4 * len))) == NULL)
			err(1, "malloc");
		len = iobs_vis(vis, name, len);
		fwrite(line, iobs_record_format(line, &tv, "CREATE", 0, vis,
		    len), 1, stdout);
		free(vis);
		free(line);
	}
	free(name);
	return 0;
}

static int
decode(void)
{
	struct iobs_reader rd;
	struct iobs_record r;
	const char *why;
	char *line;
	int rval = 0;

	iobs_reader_init(&rd, 0);
	while (iobs_reader_fill(&rd) > 0 || rd.len > rd.off)
		while ((line = iobs_reader_next(&rd)) != NULL) {
			int k;

			if ((why = iobs_reader_why(&rd)) != NULL)
				k = -1;
			else
				k = iobs_record_parse(line, &r, &why);
			if (k == -1) {
				warnx("line %lu: %s", rd.lineno, why);
				rval = 1;
			} else if (k == 1)
				fwrite(r.path, r.pathlen + 1, 1, stdout);
		}
	iobs_reader_free(&rd);
	return rval;
}

int
main(int argc, char *argv[])
{
	if (argc == 2 && strcmp(argv[1], "enc") == 0)
		return encode();
	if (argc == 2 && strcmp(argv[1], "dec") == 0)
		return decode();
	fprintf(stderr, "usage: streamcodec enc | dec\n");
	return 2;
}
