/* SPDX-License-Identifier: MIT
 *
 * secret_int.h - private helpers shared by the files of the secret module.
 * Never include it outside src/lib/secret (tests may).
 */
#ifndef SR_SECRET_INT_H
#define SR_SECRET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealrun/sr_secret.h"

/* Index of the first byte that is not part of valid UTF-8 (no overlong
 * forms, no surrogates, nothing past U+10FFFF), or len when all is valid. */
size_t sr_secret__utf8_bad(const uint8_t *p, size_t len);

/* Writes a printable rendering of p[0..len) into out (cap bytes, NUL-
 * terminated): at most 'shown' bytes, non-printable bytes as \xNN, and
 * "..." when cut. For quoting untrusted names in messages. */
void sr_secret__quote(const char *p, size_t len, size_t shown, char *out, size_t cap);

/* Allocates len+1 bytes with sodium_malloc into v (NUL at the end). */
sr_status sr_secret__value_alloc(size_t len, struct sr_secret_value *v, sr_err *err);

/* Whether p's condition (or, with no condition, ownership) lets caller use
 * owner's secret; the first check sr_secret_policy_eval() makes. */
bool sr_secret__policy_allows_user(const sr_secret_policy *p, const char *owner,
                                   const char *caller);

#endif /* SR_SECRET_INT_H */
