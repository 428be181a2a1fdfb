/*
 * JSON output: a string's contents escaped, and base64 for the exact
 * bytes of a name that is not UTF-8.
 */
#ifndef IOBS_JSON_H
#define IOBS_JSON_H

#include <stddef.h>

/* Worst cases: each byte as \u00XX or \uFFFD; 4 characters for 3 bytes. */
#define IOBS_JSON_MAX(len)	(6 * (len) + 1)
#define IOBS_BASE64_MAX(len)	(4 * (((len) + 2) / 3) + 1)

/*
 * Writes src as the inside of a JSON string, NUL-terminated; returns
 * its length. Quote, backslash and the characters a name shows escaped
 * (controls, DEL, C1, bidi) are written \uXXXX or as JSON's short
 * escapes; a byte that is not valid UTF-8 is written \ufffd and *valid
 * set to 0 (else 1).
 */
size_t	 iobs_json_string(char *dst, const char *src, size_t len, int *valid);

/* RFC 4648 base64 with padding, NUL-terminated; returns its length. */
size_t	 iobs_base64(char *dst, const void *src, size_t len);

#endif
