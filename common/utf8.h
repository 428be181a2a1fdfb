/*
 * UTF-8 as names in the stream and in JSON need it: one character
 * decoded strictly, and whether a terminal may show it as it is.
 */
#ifndef IOBS_UTF8_H
#define IOBS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length of the valid UTF-8 character at s (len bytes available),
 * its code point in *cp; 0 for a byte that starts none: ASCII, a stray
 * or truncated byte, an overlong form, a surrogate, past U+10FFFF.
 */
size_t	 iobs_utf8_char(const unsigned char *s, size_t len, uint32_t *cp);

/*
 * May a name show cp as it is? Not a C1 control (U+0080-U+009F), nor a
 * bidi embedding or override (U+202A-U+202E) or isolate (U+2066-U+2069),
 * which change how a terminal shows the rest of the line.
 */
int	 iobs_utf8_shown(uint32_t cp);

#endif
