/*
 * Usage, --help and --version for every tool, so they all answer them
 * alike: the version comes from the Makefile, once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usage.h"

#ifndef IOBS_VERSION
#define IOBS_VERSION	"unknown"
#endif

void
iobs_usage(FILE *f, const char *synopsis)
{
	const char *p = synopsis, *nl;
	int first = 1;

	do {
		nl = strchr(p, '\n');
		fprintf(f, "%s %s %.*s\n", first ? "usage:" : "      ",
		    getprogname(), nl ? (int)(nl - p) : (int)strlen(p), p);
		first = 0;
		p = nl + 1;
	} while (nl != NULL);
}

int
iobs_check_mode(int *argc, char ***argv)
{
	if (*argc < 2 || strcmp((*argv)[1], "--check") != 0)
		return 0;
	(*argv)[1] = (*argv)[0];
	(*argv)++;
	(*argc)--;
	return 1;
}

/* Each "left<TAB>right" line of options, the rights in one column. */
static void
print_options(FILE *f, const char *options)
{
	const char *p, *tab, *nl;
	int width = 0, n;

	for (p = options; *p != '\0'; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		tab = memchr(p, '\t', nl - p);
		n = tab ? (int)(tab - p) : 0;
		if (n > width && n <= 28)
			width = n;
	}
	for (p = options; *p != '\0'; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		if ((tab = memchr(p, '\t', nl - p)) == NULL) {
			fprintf(f, "  %.*s\n", (int)(nl - p), p);
			continue;
		}
		n = tab - p;
		if (n > width)
			fprintf(f, "  %.*s\n  %*s  %.*s\n", n, p, width, "",
			    (int)(nl - tab - 1), tab + 1);
		else
			fprintf(f, "  %-*.*s  %.*s\n", width, n, p,
			    (int)(nl - tab - 1), tab + 1);
	}
}

void
iobs_help_version(int argc, char *argv[], const char *synopsis)
{
	iobs_help_options(argc, argv, synopsis, NULL, NULL);
}

void
iobs_help_options(int argc, char *argv[], const char *synopsis,
    const char *options, const char *page)
{
	if (argc < 2)
		return;
	if (strcmp(argv[1], "--help") == 0) {
		iobs_usage(stdout, synopsis);
		if (options != NULL) {
			putchar('\n');
			print_options(stdout, options);
		}
		if (page != NULL)
			printf("\nsee %s\n", page);
	} else if (strcmp(argv[1], "--version") == 0)
		printf("%s %s\n", getprogname(), IOBS_VERSION);
	else
		return;
	if (fflush(stdout) == EOF || ferror(stdout))
		exit(1);
	exit(0);
}

void
iobs_getopt_error(int ch, char *argv[], char *why, size_t whylen)
{
	const char *arg = argv[optind - 1];

	if (ch == ':')
		snprintf(why, whylen, "%s: missing argument", arg);
	else if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		snprintf(why, whylen, "%s: takes no argument", arg);
	else if (optopt != 0)
		snprintf(why, whylen, "-%c: unknown option", optopt);
	else
		snprintf(why, whylen, "%s: unknown option", arg);
}
