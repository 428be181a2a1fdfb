/*
 * The iobs event stream, iobs-stream(5): one record per line,
 * TIME<TAB>EVENTS<TAB>COOKIE<TAB>PATH, PATH encoded with strvis(3).
 * Formatting, parsing and a poll-friendly line reader for every tool.
 */
#ifndef IOBS_STREAM_H
#define IOBS_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#define IOBS_STREAM_VERSION	1
#define IOBS_STREAM_HEADER	"# iobs-stream 1\n"

/* Lifecycle records, which stand in the EVENTS field alone. */
enum iobs_lifecycle {
	IOBS_NONE = 0,
	IOBS_WATCH_INIT,
	IOBS_WATCH_DEAD,
	IOBS_WATCH_RECONFIG,
	IOBS_OVERFLOW,
};

struct iobs_record {
	struct timeval		 time;
	uint32_t		 mask;		/* IN_* bits; 0 for lifecycle */
	enum iobs_lifecycle	 lifecycle;
	uint32_t		 cookie;
	const char		*events;	/* EVENTS field as written */
	char			*path;		/* decoded, NUL-terminated */
	size_t			 pathlen;
	/* The optional fifth field (iobs-watch --pid); 0: unknown. */
	unsigned long		 pid;
};

/* Worst case of iobs_vis(): every byte as a four-byte octal escape. */
#define IOBS_VIS_MAX(len)	(4 * (len) + 1)

size_t	 iobs_vis(char *dst, const char *src, size_t len);
int	 iobs_unvis(char *dst, const char *src);

/*
 * Formats one record into dst, which holds IOBS_RECORD_MAX(vispathlen)
 * bytes; returns the line's length, newline included. The events
 * string is at most IOBS_EVENTS_MAX bytes.
 */
#define IOBS_EVENTS_MAX		256
#define IOBS_RECORD_MAX(vislen)	((vislen) + IOBS_EVENTS_MAX + 64)
char	*iobs_put_uint(char *, unsigned long long, int);
size_t	 iobs_record_format(char *dst, const struct timeval *,
	    const char *events, uint32_t cookie, const char *vispath,
	    size_t vispathlen);

/*
 * Parses one line (without its newline; it is modified in place).
 * Returns 1 for a record, 0 for a comment or blank line, -1 for a
 * malformed line with *why saying what is wrong.
 */
int	 iobs_record_parse(char *line, struct iobs_record *,
	    const char **why);

/* Name of a record's first event or lifecycle, for messages. */
const char *iobs_lifecycle_name(enum iobs_lifecycle);

/*
 * A line reader on a file descriptor that works with poll(2): fill
 * reads what is there, next hands out whole lines.
 */
struct iobs_reader {
	int	 fd;
	char	*buf;
	size_t	 len, off, cap;
	unsigned long lineno;
	int	 eof;
	int	 overlong;	/* the line just returned was cut */
	int	 torn;		/* it ended the input with no newline */
	int	 discard;	/* skipping the rest of a cut line */
	int	 scanned;	/* "# backend poll": records from scans */
};

void	 iobs_reader_init(struct iobs_reader *, int fd);
ssize_t	 iobs_reader_fill(struct iobs_reader *);
char	*iobs_reader_next(struct iobs_reader *);
/* Why the line just returned is no record whatever it holds, or NULL. */
const char *iobs_reader_why(const struct iobs_reader *);
/*
 * The line just returned as a record in *r: 1; 0 for a comment or a
 * blank line; -1 for no record, said once on stderr as
 * "stdin:N: why; line skipped". A "# backend NAME" header sets
 * scanned for a stream of scans, which cannot tell what came and
 * went between two of them.
 */
int	 iobs_reader_record(struct iobs_reader *, char *line,
	    struct iobs_record *r);
void	 iobs_reader_free(struct iobs_reader *);

#endif
