/*
 * JSON strings and base64, for iobs-watch --json.
 */
#include <stdint.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

static char *
uescape(char *d, uint32_t cp)
{
	static const char hex[] = "0123456789abcdef";

	*d++ = '\\';
	*d++ = 'u';
	*d++ = hex[cp >> 12 & 0xf];
	*d++ = hex[cp >> 8 & 0xf];
	*d++ = hex[cp >> 4 & 0xf];
	*d++ = hex[cp & 0xf];
	return d;
}

size_t
iobs_json_string(char *dst, const char *src, size_t len, int *valid)
{
	const unsigned char *s = (const unsigned char *)src;
	char *d = dst;
	uint32_t cp;
	size_t i, n;

	*valid = 1;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '"' || c == '\\')
				*d++ = '\\';
			*d++ = c;
		} else if (c == '\t' || c == '\n' || c == '\r' || c == '\b' ||
		    c == '\f') {
			*d++ = '\\';
			*d++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ?
			    'r' : c == '\b' ? 'b' : 'f';
		} else if (c < 0x80)
			d = uescape(d, c);
		else if ((n = iobs_utf8_char(s + i, len - i, &cp)) == 0) {
			d = uescape(d, 0xfffd);
			*valid = 0;
		} else {
			if (iobs_utf8_shown(cp)) {
				memcpy(d, s + i, n);
				d += n;
			} else
				d = uescape(d, cp);
			i += n - 1;
		}
	}
	*d = '\0';
	return d - dst;
}

size_t
iobs_base64(char *dst, const void *src, size_t len)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = src;
	char *d = dst;
	uint32_t v;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)s[i] << 16 | s[i + 1] << 8 | s[i + 2];
		*d++ = b64[v >> 18];
		*d++ = b64[v >> 12 & 63];
		*d++ = b64[v >> 6 & 63];
		*d++ = b64[v & 63];
	}
	if (i < len) {
		v = (uint32_t)s[i] << 16 | (i + 1 < len ? s[i + 1] << 8 : 0);
		*d++ = b64[v >> 18];
		*d++ = b64[v >> 12 & 63];
		*d++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*d++ = '=';
	}
	*d = '\0';
	return d - dst;
}
