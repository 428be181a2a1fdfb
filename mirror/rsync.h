/*
 * rsync.c: a remote destination, and names and words as rsync reads
 * them; what remote.h declares for the remote mode's files and for the
 * command line's checks, without the remote mode itself.
 */
#ifndef RSYNC_H
#define RSYNC_H

#include <stddef.h>

enum rkind {
	RK_SSH,		/* [user@]host:path, through a remote shell */
	RK_DAEMON,	/* rsync://... or host::module, no shell */
};

struct remote_dest {
	enum rkind	 kind;
	char		*spec;		/* as rsync takes it, ending in '/' */
	char		*host;		/* [user@]host, for ssh */
	char		*path;		/* the directory there; "." for home */
};

/*
 * 1 and *d filled (d may be NULL) when dest names a remote directory
 * as rsync reads it: a ':' before any '/'; 0 for a local path; -1 with
 * the reason in why for a remote name that cannot work.
 */
int	 remote_dest_parse(const char *dest, struct remote_dest *d,
	    char *why, size_t whylen);
void	 remote_dest_free(struct remote_dest *);
/*
 * A remote-shell command split into words as rsync splits -e: on
 * blanks, with '...' and "..." quoting. NULL-terminated, malloc'd;
 * NULL with the reason in why when empty or a quote is not closed.
 */
char	**rsh_split(const char *cmd, char *why, size_t whylen);
/*
 * rsh_split(), and as root the rule of iobs_trust_command() for what
 * a remote mirror runs on its own: the remote shell's program and
 * rsync, as PATH finds them. NULL with the reason in why.
 */
char	**rsh_words(const char *cmd, char *why, size_t whylen);
void	 words_free(char **);
/*
 * The path an rsync error line is about, relative to the transfer
 * (src and dst are the two roots as given to rsync, each ending in
 * '/'), malloc'd; NULL when the line names no path of ours.
 */
char	*rsync_error_path(const char *line, const char *src,
	    const char *dst);
/* An --exclude glob of ours as an rsync filter pattern. */
char	*rsync_exclude(const char *glob);

#endif
