/*
 * The command as a template: each argument is text and placeholders,
 * replaced inside that one argument, so a value never splits or joins
 * arguments; and the one-string form of a command, split into words
 * without a shell.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

static const char *const names[PH_N] = {
	[PH_PATH] = "path",
	[PH_REL] = "rel",
	[PH_DIR] = "dir",
	[PH_NAME] = "name",
	[PH_ROOT] = "root",
	[PH_EVENTS] = "events",
	[PH_COOKIE] = "cookie",
	[PH_PATHS] = "paths",
};

static void
seg_add(struct targ *a, enum ph ph, const char *lit, size_t len)
{
	struct seg *s;

	/* Text next to text is one piece. */
	if (ph == PH_LIT && a->nseg > 0 && a->seg[a->nseg - 1].ph == PH_LIT) {
		s = &a->seg[a->nseg - 1];
		if ((s->lit = realloc(s->lit, s->len + len + 1)) == NULL)
			err(1, "realloc");
		memcpy(s->lit + s->len, lit, len);
		s->len += len;
		s->lit[s->len] = '\0';
		return;
	}
	if ((a->seg = reallocarray(a->seg, a->nseg + 1, sizeof(*a->seg)))
	    == NULL)
		err(1, "reallocarray");
	s = &a->seg[a->nseg++];
	s->ph = ph;
	s->lit = NULL;
	s->len = len;
	if (ph == PH_LIT) {
		if ((s->lit = malloc(len + 1)) == NULL)
			err(1, "malloc");
		memcpy(s->lit, lit, len);
		s->lit[len] = '\0';
	}
}

/* {name} at s: its enum ph, PH_LIT if s is no placeholder, -1 unknown. */
static int
placeholder(const char *s, size_t *len)
{
	size_t n = 1;
	int i;

	while (s[n] >= 'a' && s[n] <= 'z')
		n++;
	if (n == 1 || s[n] != '}')
		return PH_LIT;
	*len = n + 1;
	for (i = PH_LIT + 1; i < PH_N; i++)
		if (strlen(names[i]) == n - 1 &&
		    memcmp(names[i], s + 1, n - 1) == 0)
			return i;
	return -1;
}

static int
arg_parse(struct targ *a, const char *s, int batch, char *why, size_t whylen)
{
	const char *lit = s;
	size_t len;
	int ph;

	while (*s != '\0') {
		if (s[0] != '{') {
			s++;
			continue;
		}
		if (s[1] == '{') {
			seg_add(a, PH_LIT, lit, s - lit + 1);
			s += 2;
			lit = s;
			continue;
		}
		if ((ph = placeholder(s, &len)) == PH_LIT) {
			s++;
			continue;
		}
		if (ph == -1) {
			snprintf(why, whylen, "%.*s: unknown placeholder "
			    "(see iobs-exec(1); {{ is a brace)", (int)len, s);
			return -1;
		}
		if (ph == PH_PATHS && !batch) {
			snprintf(why, whylen, "{paths}: only with -b or -r; "
			    "one run per event has {path}");
			return -1;
		}
		if (ph != PH_PATHS && batch) {
			snprintf(why, whylen, "{%s}: only without -b or -r; "
			    "a batch has {paths} and standard input",
			    names[ph]);
			return -1;
		}
		if (ph == PH_PATHS && (lit != s || s[len] != '\0' ||
		    a->nseg > 0)) {
			snprintf(why, whylen, "{paths}: must be a whole "
			    "argument");
			return -1;
		}
		if (s > lit)
			seg_add(a, PH_LIT, lit, s - lit);
		seg_add(a, ph, NULL, 0);
		s += len;
		lit = s;
	}
	if (s > lit || a->nseg == 0)
		seg_add(a, PH_LIT, lit, s - lit);
	return 0;
}

int
template_parse(struct template *t, int argc, char *const argv[], int batch,
    char *why, size_t whylen)
{
	size_t len = 0;
	int i;

	memset(t, 0, sizeof(*t));
	if (argc == 0) {
		snprintf(why, whylen, "no command");
		return -1;
	}
	if ((t->arg = calloc(argc, sizeof(*t->arg))) == NULL)
		err(1, "calloc");
	t->narg = argc;
	for (i = 0; i < argc; i++) {
		if (arg_parse(&t->arg[i], argv[i], batch, why, whylen) == -1) {
			template_free(t);
			return -1;
		}
		len += strlen(argv[i]) + 1;
	}
	if ((t->text = malloc(len + 1)) == NULL)
		err(1, "malloc");
	t->text[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(t->text, " ");
		strcat(t->text, argv[i]);
	}
	return 0;
}

void
template_free(struct template *t)
{
	size_t i, j;

	for (i = 0; i < t->narg; i++) {
		for (j = 0; j < t->arg[i].nseg; j++)
			free(t->arg[i].seg[j].lit);
		free(t->arg[i].seg);
	}
	free(t->arg);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		err(1, "strdup");
	return p;
}

char **
template_expand(const struct template *t, const char *const val[],
    char *const paths[], size_t n)
{
	const struct targ *a;
	char **argv, *s;
	size_t i, j, k, len, out = 0, nargv = t->narg + 1;

	for (i = 0; i < t->narg; i++)
		if (t->arg[i].seg[0].ph == PH_PATHS)
			nargv += n;
	if ((argv = calloc(nargv, sizeof(*argv))) == NULL)
		err(1, "calloc");
	for (i = 0; i < t->narg; i++) {
		a = &t->arg[i];
		if (a->seg[0].ph == PH_PATHS) {
			for (k = 0; k < n; k++)
				argv[out++] = xstrdup(paths[k]);
			continue;
		}
		for (len = 1, j = 0; j < a->nseg; j++)
			len += a->seg[j].ph == PH_LIT ? a->seg[j].len :
			    strlen(val[a->seg[j].ph]);
		if ((s = argv[out++] = malloc(len)) == NULL)
			err(1, "malloc");
		for (j = 0; j < a->nseg; j++) {
			const char *v = a->seg[j].ph == PH_LIT ?
			    a->seg[j].lit : val[a->seg[j].ph];

			len = a->seg[j].ph == PH_LIT ? a->seg[j].len :
			    strlen(v);
			memcpy(s, v, len);
			s += len;
		}
		*s = '\0';
	}
	argv[out] = NULL;
	return argv;
}

void
argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

int
words_split(const char *s, int *argcp, char ***argvp, char *why,
    size_t whylen)
{
	char **argv = NULL, *w, quote;
	int argc = 0;
	size_t len;

	if ((w = malloc(strlen(s) + 1)) == NULL)
		err(1, "malloc");
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == '\0')
			break;
		len = 0;
		quote = '\0';
		for (; *s != '\0'; s++) {
			if (quote != '\0') {
				if (*s == quote)
					quote = '\0';
				else
					w[len++] = *s;
			} else if (*s == '\'' || *s == '"')
				quote = *s;
			else if (*s == ' ' || *s == '\t' || *s == '\n')
				break;
			else
				w[len++] = *s;
		}
		if (quote != '\0') {
			snprintf(why, whylen, "%c: quote not closed", quote);
			free(w);
			argv_free(argv);
			return -1;
		}
		if ((argv = reallocarray(argv, argc + 2, sizeof(*argv))) ==
		    NULL || (argv[argc] = malloc(len + 1)) == NULL)
			err(1, "malloc");
		memcpy(argv[argc], w, len);
		argv[argc][len] = '\0';
		argv[++argc] = NULL;
	}
	free(w);
	if (argc == 0) {
		snprintf(why, whylen, "no command");
		return -1;
	}
	*argcp = argc;
	*argvp = argv;
	return 0;
}
