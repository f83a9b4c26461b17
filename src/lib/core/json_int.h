/* SPDX-License-Identifier: MIT
 *
 * json_int.h - private to core's JSON files (json.c, json_num.c): numbers in
 * their RFC 8785 form and the exactness check of number literals.
 */
#ifndef SR_JSON_INT_H
#define SR_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include "sealrun/sr_json.h"

/* 17 significant digits always identify a double. */
#define SR_JSON__MAX_DIGITS 17
/* bytes, with the NUL: "-0.0000012345678901234567" and "-1.2345678901234567e-308" fit */
#define SR_JSON__NUMBER_TEXT_MAX 32

/* A number literal as written: sign, significant digits and exponent. */
struct sr_json__literal {
    size_t start, end; /* bytes: the literal is text[start..end) */
    bool neg;
    int k;  /* significant digits, 0 for zero; SR_JSON__MAX_DIGITS + 1 means more */
    long e; /* the value is d[0].d[1..k) x 10^e (saturated far outside the doubles) */
    char d[SR_JSON__MAX_DIGITS + 1]; /* the first min(k, 17) digits, NUL-terminated */
};

/* Writes ECMAScript's Number::toString of a finite x (RFC 8785 3.2.2.3) to
 * out, NUL-terminated; returns its length. */
size_t sr_json__number_text(double x, char out[SR_JSON__NUMBER_TEXT_MAX]);

/* Reads the number literal at t[i] ('-' or a digit) into *lit, in time
 * linear in its length. false: t[i..] breaks the JSON number grammar. */
bool sr_json__literal_read(const char *t, size_t len, size_t i, struct sr_json__literal *lit);

/* Whether the literal's value is exactly that of the RFC 8785 form of the
 * double nearest to it (sr_json.h). Constant time. */
bool sr_json__literal_exact(const struct sr_json__literal *lit);

/* Whether the literal is the 17-significant-digit form of its double that
 * jansson's own writer wrote ("%.17g", trailing zeros dropped), as in
 * records stored before sr_json_dumps() (sr_json_parse_stored()). */
bool sr_json__literal_legacy(const struct sr_json__literal *lit);

#endif /* SR_JSON_INT_H */
