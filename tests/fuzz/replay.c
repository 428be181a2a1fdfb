/*
 * Runs a fuzz target without libFuzzer: each file named on the command
 * line is given once to LLVMFuzzerTestOneInput, so that CI replays the
 * corpus and the kept crash inputs on a sanitizer build.
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay(const char *file)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(file, "rb")) == NULL) {
		warn("%s", file);
		return 1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				err(1, "realloc");
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		warn("%s", file);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int
main(int argc, char *argv[])
{
	int i, rval = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		rval |= replay(argv[i]);
	return rval;
}
