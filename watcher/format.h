/*
 * --format, as inotifywait(1) reads it: %w %f %e %Xe %T %c %0 %n %%,
 * and our %p; compiled once, then rendered per event.
 */
#ifndef FORMAT_H
#define FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fmt_op {
	char		 kind;	/* 'l' literal, or w f e T c p */
	char		 sep;	/* for 'e': what stands between names */
	size_t		 off, len;	/* a literal's bytes in text */
};

struct fmt {
	struct fmt_op	*op;
	size_t		 nop;
	char		*text;		/* literal bytes, NULs included */
	size_t		 fixed;		/* literal bytes in all */
	int		 has_time;
	const char	*timefmt;	/* strftime(3), for %T */
	time_t		 tsec;		/* %T of this second, made once */
	char		 tbuf[256];
	size_t		 tlen;
};

/* One event as --format sees it. */
struct fmt_event {
	const char	*w, *f;		/* %w: directory or watched file */
	size_t		 wlen, flen;
	const char	*events;	/* "CLOSE_WRITE,CLOSE" */
	uint32_t	 cookie;
	time_t		 sec;
	long		 pid;		/* %p: who made it, 0 unknown */
};

/* fmt_compile's flags. */
#define FMT_NO_NEWLINE	0x1	/* no newline appended */
#define FMT_NO_PID	0x2	/* %p is not a conversion (inotifywait's) */

/*
 * Compiles spec, a newline appended unless FMT_NO_NEWLINE; -1 with
 * *why on a format inotifywait also refuses.
 */
int	 fmt_compile(struct fmt *, const char *spec, int flags,
	    const char **why);
/* The most fmt_render() writes for this event. */
size_t	 fmt_size(const struct fmt *, const struct fmt_event *);
size_t	 fmt_render(struct fmt *, char *dst, const struct fmt_event *);
void	 fmt_free(struct fmt *);

#endif
