/*
 * Usage, --help and --version, the same in every tool. A synopsis is
 * one string, a line per form of the command, without the program's
 * name: "[-n] path ...\n-c config status".
 */
#ifndef IOBS_USAGE_H
#define IOBS_USAGE_H

#include <stdio.h>

/* "usage: PROG FORM" and "       PROG FORM" for the others, into f. */
void	 iobs_usage(FILE *f, const char *synopsis);

/*
 * When argv[1] is --help (usage on standard output) or --version,
 * answers it and exits 0; otherwise returns.
 */
void	 iobs_help_version(int argc, char *argv[], const char *synopsis);

#endif
