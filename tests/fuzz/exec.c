/*
 * Fuzz target for iobs-exec's command parsers: the input's first byte
 * picks the mode, the rest is a command line, its arguments split at
 * NUL bytes, for the placeholder parser; the same bytes as one string
 * go to the --command word splitter. Checked: an expanded per-event
 * command has as many arguments as the template, whatever the values
 * hold, and {paths} adds one argument per path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* Values that look like what they must never become. */
static const char *const val[PH_N] = {
	[PH_PATH] = "/r/a {path} b", [PH_REL] = "a {rel}\n", [PH_DIR] = "/r",
	[PH_NAME] = "$(x) {{", [PH_ROOT] = "/r", [PH_EVENTS] = "CREATE",
	[PH_COOKIE] = "0",
};

static char *const paths[] = { "/r/a", "/r/b c", "/r/{paths}" };

static void
check_template(int argc, char **argv, int batch)
{
	struct template t;
	char why[512], **out;
	size_t n;

	if (template_parse(&t, argc, argv, batch, why, sizeof(why)) == -1) {
		if (why[0] == '\0')
			abort();
		return;
	}
	out = template_expand(&t, val, paths, 3);
	for (n = 0; out[n] != NULL; n++)
		;
	if (!batch && n != (size_t)argc)
		abort();
	if (batch && (n < (size_t)argc || (n - argc) % 2 != 0))
		abort();
	argv_free(out);
	template_free(&t);
}

static void
check_words(const char *s)
{
	char why[512], **argv;
	int argc, i;

	if (words_split(s, &argc, &argv, why, sizeof(why)) == -1)
		return;
	if (argc < 1 || argv[argc] != NULL)
		abort();
	for (i = 0; i < argc; i++)
		if (strlen(argv[i]) > strlen(s))
			abort();
	argv_free(argv);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, **argv, *p;
	int argc = 0, batch;
	size_t i;

	if (size == 0)
		return 0;
	batch = data[0] & 1;
	data++;
	size--;
	if ((buf = malloc(size + 1)) == NULL ||
	    (argv = calloc(size + 2, sizeof(*argv))) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf, i = 0; i <= size; i++)
		if (buf[i] == '\0') {
			argv[argc++] = p;
			p = buf + i + 1;
		}
	check_template(argc, argv, batch);
	check_words(buf);
	free(argv);
	free(buf);
	return 0;
}
