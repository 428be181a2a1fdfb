/*
 * Yes or no, as the config file and the options it hands to plugins
 * spell them.
 */
#ifndef IOBS_BOOL_H
#define IOBS_BOOL_H

/* 1 for yes, true, on, 1; 0 for no, false, off, 0, in any case; else -1. */
int	 iobs_bool(const char *);

#endif
