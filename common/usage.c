/*
 * Usage, --help and --version for every tool, so they all answer them
 * alike: the version comes from the Makefile, once.
 */
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

void
iobs_help_version(int argc, char *argv[], const char *synopsis)
{
	if (argc < 2)
		return;
	if (strcmp(argv[1], "--help") == 0)
		iobs_usage(stdout, synopsis);
	else if (strcmp(argv[1], "--version") == 0)
		printf("%s %s\n", getprogname(), IOBS_VERSION);
	else
		return;
	if (fflush(stdout) == EOF || ferror(stdout))
		exit(1);
	exit(0);
}
