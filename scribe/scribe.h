/*
 * iobs-scribe, shared by its files: sentences (message.c), timestamps
 * (clock.c), the log file (log.c) and move matching (moves.c).
 */
#ifndef SCRIBE_H
#define SCRIBE_H

#include <sys/time.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "json.h"
#include "stream.h"

/* message.c */

/* The lines a move adds to the two records it pairs. */
enum scribe_move {
	SCRIBE_MOVED,		/* MOVED_FROM and MOVED_TO matched */
	SCRIBE_MOVED_OUT,	/* a MOVED_FROM left without partner */
	SCRIBE_MOVED_IN,	/* a MOVED_TO left without partner */
};

/* What -e selects; an empty selection logs everything. */
struct scribe_filter {
	uint32_t	 mask;		/* IN_* bits */
	unsigned	 lifecycles;	/* 1 << enum iobs_lifecycle */
	int		 moves;		/* the lines of enum scribe_move */
};

/*
 * who.c: " by USER (COMMAND, pid N)", or " by pid N" when the process
 * is gone, for a record's PID; nothing for 0. At most SCRIBE_WHO_MAX
 * bytes, NUL included.
 */
#define SCRIBE_WHO_MAX	96
size_t	 scribe_who(char *dst, unsigned long pid, const struct timeval *);

/* jsonline.c: one --json log line; its room is SCRIBE_JSON_MAX. */
struct scribe_jline {
	const struct timeval	*time;
	const char		*events;	/* as in the stream, A,B */
	uint32_t		 cookie;
	unsigned long		 pid;		/* 0: unknown */
	const char		*path, *from;	/* from: NULL but for a move */
	size_t			 pathlen, fromlen;
	const char		*sentence;
	size_t			 sentencelen;
};
#define SCRIBE_JSON_MAX(pathlen, fromlen, sentlen)			\
	(128 + 3 * IOBS_EVENTS_MAX + 2 * (IOBS_JSON_MAX(pathlen) +	\
	IOBS_BASE64_MAX(pathlen) + IOBS_JSON_MAX(fromlen) +		\
	IOBS_BASE64_MAX(fromlen)) + IOBS_JSON_MAX(sentlen))
size_t	 scribe_json(char *dst, const struct scribe_jline *);

/* Room scribe_format() needs for a path of len bytes (two for moves). */
#define SCRIBE_SENTENCE_MAX(len)	(IOBS_VIS_MAX(len) + 96)
#define SCRIBE_MOVE_MAX(len1, len2) \
	(IOBS_VIS_MAX(len1) + IOBS_VIS_MAX(len2) + 96)

/*
 * The sentence for event (one IN_* bit of r->mask; ignored for a
 * lifecycle record), without newline; returns its length. The name
 * shown is r->path from relpos on; relpos == r->pathlen means the path
 * is the watch root itself.
 */
size_t	 scribe_format(char *dst, const struct iobs_record *r,
	    uint32_t event, size_t relpos);
size_t	 scribe_format_move(char *dst, enum scribe_move, int isdir,
	    const char *from, size_t fromlen, const char *to, size_t tolen);
/* The IN_* bits scribe_format() has a sentence for, in output order. */
extern const uint32_t scribe_events[];
extern const size_t scribe_nevents;
/* Adds a comma-separated list of names to f; -1 and *bad if unknown. */
int	 scribe_filter_add(struct scribe_filter *f, char *list,
	    const char **bad);

/* clock.c */

struct scribe_clock {
	char		*fmt;		/* strftime format; %f as \001 */
	int		 utc;
	int		 valid;
	time_t		 sec;		/* the second buf holds */
	char		 buf[512];
	size_t		 len;
	size_t		 nmarks;	/* \001 bytes in buf */
};

/* -1 when fmt gives no usable output. */
int	 scribe_clock_init(struct scribe_clock *, const char *fmt, int utc);
/* Length of the timestamp of tv, which scribe_clock_put then writes. */
size_t	 scribe_clock_len(struct scribe_clock *, const struct timeval *);
size_t	 scribe_clock_put(struct scribe_clock *, const struct timeval *,
	    char *dst);
void	 scribe_clock_free(struct scribe_clock *);

/* log.c */

struct scribe_log {
	char		*path;		/* NULL: standard output */
	int		 fd;
	char		*buf;		/* the line being written */
	size_t		 len, cap;
};

void	 scribe_log_open(struct scribe_log *, const char *path);
int	 scribe_log_check(const char *path, char *why, size_t whylen);
/* Both keep the old file when they return -1; reopen warns. */
int	 scribe_log_reopen(struct scribe_log *);
int	 scribe_log_switch(struct scribe_log *, const char *path);
char	*scribe_log_reserve(struct scribe_log *, size_t max);
void	 scribe_log_commit(struct scribe_log *, size_t len);
void	 scribe_log_flush(struct scribe_log *);
void	 scribe_log_close(struct scribe_log *);

/* moves.c */

/* One side of a move: a MOVED_FROM or a MOVED_TO record. */
struct move_end {
	struct timeval	 time;
	int		 isdir;
	char		*path;
	size_t		 pathlen;
	ssize_t		 rootlen;	/* root is path[0..rootlen); -1: none */
};

typedef void moves_emit_fn(void *arg, enum scribe_move,
    const struct move_end *from, const struct move_end *to);

struct moves;

/*
 * How long a move waits for its partner, in milliseconds: long enough
 * for another pipeline that lags under load.
 */
#define MOVES_WINDOW_MS		1500
#define MOVES_RETRY_MS		50

struct moves *moves_new(struct iobs_cache *, moves_emit_fn *, void *arg);
void	 moves_from(struct moves *, uint32_t cookie, const struct move_end *,
	    int64_t now);
void	 moves_to(struct moves *, uint32_t cookie, const struct move_end *,
	    int64_t now);
void	 moves_publish(struct moves *);
int	 moves_timeout(struct moves *, int64_t now);
void	 moves_expire(struct moves *, int64_t now);
void	 moves_dead(struct moves *, const char *root, size_t rootlen);
void	 moves_finish(struct moves *);
void	 moves_free(struct moves *);

#endif
