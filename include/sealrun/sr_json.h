/*
 * sr_json.h - JSON helpers over jansson: bounded parsing and RFC 8785 (JCS)
 * canonical serialisation, which is what output_hash and receipts hash.
 * Thread-safe.
 */
#ifndef SR_JSON_H
#define SR_JSON_H

#include <stddef.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"

/* Parses text[0..len) as one JSON value, at most 'max_depth' levels deep.
 * 'what' names the text in messages ("request body"). Errors: SR_EINVAL with
 * line and column. Returns owned (json_decref). */
sr_status sr_json_parse(const char *text, size_t len, size_t max_depth, const char *what,
                        json_t **out, sr_err *err);

/* Appends the RFC 8785 canonical form of v to b: object members sorted by
 * UTF-16 code units, no whitespace, numbers as ECMAScript Number::toString,
 * strings with the minimal escapes. SR_EINVAL for a non-finite number,
 * SR_ELIMIT when b's cap is hit. */
sr_status sr_json_canonical(const json_t *v, sr_buf *b, sr_err *err);

/* Appends s[0..len) (UTF-8) as a JSON string literal with RFC 8785's
 * escapes: at most 6 * len + 2 bytes, so a caller holding secret text can
 * reserve that once and never leave a copy behind in a grown buffer. */
sr_status sr_json_append_string(sr_buf *b, const char *s, size_t len, sr_err *err);

#endif /* SR_JSON_H */
