/*
 * Whether a file a privileged tool reads or runs is under the control
 * of that tool's user only: the rule of sshd's StrictModes, for
 * configs, plugins and the programs the tools run.
 */
#ifndef IOBS_TRUST_H
#define IOBS_TRUST_H

#include <stddef.h>

/* A path not there (yet) is fine: the part of it that is, is checked. */
#define IOBS_TRUST_MISSING	0x1
/* Only the directories above path: path itself is the caller's. */
#define IOBS_TRUST_ABOVE	0x2

/*
 * path and every directory above it, each symbolic link on the way
 * followed and its target checked the same way, must be owned by root
 * or by the effective user and writable by neither group nor others;
 * a sticky directory (/tmp) is fine above the entry it holds, which
 * others cannot rename or remove. Returns 0, or -1 with one line in
 * msg, "PATH: owned by USER, mode 0666, writable by others; chown root
 * and chmod go-w it" (or PATH: what lstat(2) said, errno kept).
 */
int	 iobs_trust_path(const char *path, int flags, char *msg, size_t len);

/*
 * prog as execvp(3) would run it: itself when it has a slash, else the
 * first executable of that name in $PATH, checked as above. A program
 * not found is fine here: running it fails by itself.
 */
int	 iobs_trust_command(const char *prog, char *msg, size_t len);

#endif
