/*
 * Signals as events: the tools block the signals they take and read
 * them from a signalfd in their poll loop.
 */
#ifndef IOBS_SIGNALS_H
#define IOBS_SIGNALS_H

/* Blocks the signals listed (0-terminated); returns a signalfd for them. */
int	 iobs_signalfd(int sig, ...);

#endif
