/* SPDX-License-Identifier: MIT
 *
 * sr_json.h - the one JSON edge of sealrun, over jansson: strict, bounded
 * parsing; RFC 8785 (JCS) canonical serialisation, which is what
 * output_hash and receipts hash; and the writer for every other JSON text
 * sealrun emits. Thread-safe.
 *
 * Numbers. RFC 8785 writes a number as ECMAScript's Number::toString of an
 * IEEE 754 double, so a number is only hashable if that form has its exact
 * value. sr_json_parse() refuses every other literal: a literal is accepted
 * iff its decimal value equals the value of the RFC 8785 form of the double
 * nearest to it. 0.1, 1e21, 9007199254740992 and 1152921504606847000 pass;
 * 9007199254740993 (2^53+1), 1000000000000000001, 1152921504606846976 (2^60
 * in full: RFC 8785 writes that double 1152921504606847000),
 * 0.1000000000000000055511151231257827, 1e400 and 1e-400 do not. -0 (and
 * -0.0) is accepted: its value is 0, and sealrun writes and hashes it as 0.
 * sr_json_dumps() writes numbers in that same form, so what sealrun writes
 * parses back under these rules to the value it hashed.
 */
#ifndef SR_JSON_H
#define SR_JSON_H

#include <stddef.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"

/* Why sr_json_parse_fault() refused a text. */
enum sr_json_fault {
    SR_JSON_FAULT_NONE = 0,
    SR_JSON_FAULT_SYNTAX,    /* not one JSON value (or not UTF-8) */
    SR_JSON_FAULT_DEPTH,     /* nests deeper than max_depth */
    SR_JSON_FAULT_DUPLICATE, /* an object has the same key twice */
    SR_JSON_FAULT_NUMBER,    /* a number RFC 8785 cannot write exactly (above) */
};

/* Parses text[0..len) as one JSON value of any type, at most 'max_depth'
 * levels of arrays and objects deep. Strict: duplicate keys and inexact
 * numbers (see above) are refused; \u0000 in strings is allowed. The nesting
 * and the numbers are checked in one linear pass over the text before
 * jansson builds anything. 'what' names the text in messages ("request
 * body"). Errors: SR_EINVAL, with a message naming the problem and where
 * (line and column, or the byte offset of the number or key). Returns owned
 * (json_decref). */
sr_status sr_json_parse(const char *text, size_t len, size_t max_depth, const char *what,
                        json_t **out, sr_err *err);

/* As sr_json_parse(), and *fault (if not NULL) says why it failed
 * (SR_JSON_FAULT_NONE on success, and for SR_ENOMEM), so that a caller can
 * map a refused number to its own error code. */
sr_status sr_json_parse_fault(const char *text, size_t len, size_t max_depth, const char *what,
                              json_t **out, enum sr_json_fault *fault, sr_err *err);

/* As sr_json_parse(), for JSON that sealrun itself wrote to its store:
 * also accepts a real in the 17-significant-digit form jansson's
 * json_dumps() gave reals before sr_json_dumps() wrote every JSON text
 * (0.10000000000000001 for 0.1), and reads it as that double, so jobs and
 * requests stored by an older sealrund stay readable. Integers are held to
 * the exact rule. Never for text from a client or a guest. */
sr_status sr_json_parse_stored(const char *text, size_t len, size_t max_depth, const char *what,
                               json_t **out, sr_err *err);

/* Appends the RFC 8785 canonical form of v to b: object members sorted by
 * UTF-16 code units, no whitespace, numbers as ECMAScript Number::toString,
 * strings with the minimal escapes. SR_EINVAL for a non-finite number and
 * for an integer the canonical form cannot hold exactly (|v| > 2^53 whose
 * double prints another value, e.g. 2^53+1): a tree built by hand is held to
 * the rule sr_json_parse() applies to text. SR_ELIMIT when b's cap is hit. */
sr_status sr_json_canonical(const json_t *v, sr_buf *b, sr_err *err);

/* Appends s[0..len) (UTF-8) as a JSON string literal with RFC 8785's
 * escapes: at most 6 * len + 2 bytes, so a caller holding secret text can
 * reserve that once and never leave a copy behind in a grown buffer. */
sr_status sr_json_append_string(sr_buf *b, const char *s, size_t len, sr_err *err);

/* Writes v (any JSON type) as text, spaced like jansson's json_dumps() with
 * the same JSON_COMPACT and JSON_INDENT(n) flags (other flags are ignored),
 * but with numbers in their RFC 8785 form: a real prints as ECMAScript does
 * (0.1, 1e+21, 5 for 5.0, 0 for -0.0), an integer in full. Members keep
 * their order. Returns owned (free) text, or NULL when out of memory or v
 * holds a non-finite real. */
char *sr_json_dumps(const json_t *v, size_t flags);

#endif /* SR_JSON_H */
