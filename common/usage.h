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

/*
 * The same, with --help saying more: the usage, then options, one line
 * each, "-x, --long=arg<TAB>what it does", in columns, then "see PAGE".
 */
void	 iobs_help_options(int argc, char *argv[], const char *synopsis,
	    const char *options, const char *page);

/*
 * The plugin check, iobs-supervise's question to a tool before it runs
 * it: when argv[1] is --check, takes it out of argv and returns 1. The
 * tool then parses the rest as at run time and exits 0 when it would
 * start, or 2 with one line on standard error; it reads no input.
 */
int	 iobs_check_mode(int *argc, char ***argv);

/*
 * getopt_long() returned ':' or '?' with opterr = 0 (and ':' first in
 * optstring): what is wrong, "-x: unknown option", into why.
 */
void	 iobs_getopt_error(int ch, char *argv[], char *why, size_t whylen);

#endif
