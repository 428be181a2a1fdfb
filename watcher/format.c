/*
 * --format: inotifywait's conversions, same output. %w is the watched
 * directory with its trailing slash (or the watched file), %f the name
 * in it, %e the events comma-separated, %Xe separated by X, %T the
 * time through --timefmt, %c the cookie in hex, %0 a NUL, %n a newline
 * and %% a percent sign; any other %X is printed as it is.
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define TIME_MAX	256

static void
add(struct fmt *f, char kind, char sep, size_t off, size_t len)
{
	struct fmt_op *o;

	/* Runs of literal bytes make one operation. */
	if (kind == 'l' && f->nop > 0 && f->op[f->nop - 1].kind == 'l' &&
	    f->op[f->nop - 1].off + f->op[f->nop - 1].len == off) {
		f->op[f->nop - 1].len += len;
		f->fixed += len;
		return;
	}
	o = &f->op[f->nop++];
	o->kind = kind;
	o->sep = sep;
	o->off = off;
	o->len = len;
	if (kind == 'l')
		f->fixed += len;
	if (kind == 'T')
		f->has_time = 1;
}

int
fmt_compile(struct fmt *f, const char *spec, int flags, const char **why)
{
	size_t i, n = strlen(spec), t = 0;
	char c;

	memset(f, 0, sizeof(*f));
	f->tsec = (time_t)-1;
	if (n == 0) {
		*why = "empty format";
		return -1;
	}
	/* Never more operations, nor literal bytes, than spec has bytes. */
	if ((f->op = calloc(n + 1, sizeof(*f->op))) == NULL ||
	    (f->text = malloc(n + 1)) == NULL)
		err(1, "malloc");
	for (i = 0; i < n; i++) {
		if (spec[i] != '%') {
			f->text[t] = spec[i];
			add(f, 'l', 0, t++, 1);
			continue;
		}
		if (i + 1 == n) {
			*why = "a lone % at the end";
			fmt_free(f);
			return -1;
		}
		c = spec[++i];
		switch (c) {
		case 'w': case 'f': case 'c': case 'e': case 'T':
			add(f, c, ',', 0, 0);
			break;
		case '%': case '0': case 'n':
			f->text[t] = c == '%' ? '%' : c == '0' ? '\0' : '\n';
			add(f, 'l', 0, t++, 1);
			break;
		default:
			/* %Xe first: %pe is events separated by p. */
			if (i + 1 < n && spec[i + 1] == 'e') {
				add(f, 'e', c, 0, 0);
				i++;
				break;
			}
			if (c == 'p' && !(flags & FMT_NO_PID)) {
				add(f, 'p', 0, 0, 0);
				break;
			}
			/* Not a conversion: both bytes as they are. */
			f->text[t] = '%';
			add(f, 'l', 0, t++, 1);
			f->text[t] = c;
			add(f, 'l', 0, t++, 1);
		}
	}
	if (!(flags & FMT_NO_NEWLINE)) {
		f->text[t] = '\n';
		add(f, 'l', 0, t++, 1);
	}
	return 0;
}

size_t
fmt_size(const struct fmt *f, const struct fmt_event *ev)
{
	size_t i, n = f->fixed;

	for (i = 0; i < f->nop; i++)
		switch (f->op[i].kind) {
		case 'w': n += ev->wlen; break;
		case 'f': n += ev->flen; break;
		case 'e': n += strlen(ev->events); break;
		case 'T': n += TIME_MAX; break;
		case 'c': n += 8; break;
		case 'p': n += 20; break;
		}
	return n;
}

/* The time through --timefmt, made once a second. */
static void
time_string(struct fmt *f, time_t sec)
{
	struct tm tm;

	if (sec == f->tsec)
		return;
	f->tsec = sec;
	f->tlen = 0;
	if (f->timefmt != NULL && localtime_r(&sec, &tm) != NULL)
		f->tlen = strftime(f->tbuf, sizeof(f->tbuf), f->timefmt, &tm);
}

static char *
put_hex(char *p, uint32_t v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[8];
	int n = 0;

	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_dec(char *p, unsigned long v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

size_t
fmt_render(struct fmt *f, char *dst, const struct fmt_event *ev)
{
	const struct fmt_op *o;
	char *p = dst;
	const char *s;
	size_t i;

	for (i = 0; i < f->nop; i++) {
		o = &f->op[i];
		switch (o->kind) {
		case 'l':
			memcpy(p, f->text + o->off, o->len);
			p += o->len;
			break;
		case 'w':
			memcpy(p, ev->w, ev->wlen);
			p += ev->wlen;
			break;
		case 'f':
			memcpy(p, ev->f, ev->flen);
			p += ev->flen;
			break;
		case 'e':
			for (s = ev->events; *s != '\0'; s++)
				*p++ = *s == ',' ? o->sep : *s;
			break;
		case 'c':
			p = put_hex(p, ev->cookie);
			break;
		case 'p':
			p = put_dec(p, ev->pid > 0 ? (unsigned long)ev->pid : 0);
			break;
		case 'T':
			time_string(f, ev->sec);
			memcpy(p, f->tbuf, f->tlen);
			p += f->tlen;
			break;
		}
	}
	return p - dst;
}

void
fmt_free(struct fmt *f)
{
	free(f->op);
	free(f->text);
	f->op = NULL;
	f->text = NULL;
	f->nop = 0;
}
