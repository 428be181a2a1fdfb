/*
 * A non-blocking signalfd for a list of signals, which are blocked.
 */
#include <sys/signalfd.h>

#include <err.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include "signals.h"

int
iobs_signalfd(int sig, ...)
{
	sigset_t set;
	va_list ap;
	int fd;

	sigemptyset(&set);
	va_start(ap, sig);
	for (; sig != 0; sig = va_arg(ap, int))
		sigaddset(&set, sig);
	va_end(ap);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		err(1, "sigprocmask");
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		err(1, "signalfd");
	return fd;
}
