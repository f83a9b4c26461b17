/* SPDX-License-Identifier: MIT
 *
 * sr_buf.h - a growable byte buffer with a hard maximum (curl's dynbuf).
 *
 * Every buffer that holds guest- or client-controlled bytes has a named cap
 * (sr_limits.h); growing past it returns SR_ELIMIT and leaves the buffer as it
 * was. The data is always NUL-terminated (the NUL is not counted in len), so a
 * buffer of text can be used as a C string. The caller owns the struct
 * (init/fini); one thread at a time.
 */
#ifndef SR_BUF_H
#define SR_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

typedef struct sr_buf {
    char *data;  /* NULL until the first append; NUL-terminated after */
    size_t len;  /* bytes used, excluding the NUL */
    size_t cap;  /* bytes allocated */
    size_t max;  /* bytes, the most len may ever be */
    bool secure; /* growth wipes the storage it leaves (sr_buf_init_secure) */
} sr_buf;

/* Prepares an empty buffer that may grow to 'max' bytes. Allocates nothing. */
void sr_buf_init(sr_buf *b, size_t max);

/* The same for bytes that may hold secrets: when the buffer grows, the old
 * storage is wiped before it is freed (realloc() would leave a copy behind).
 * Pair it with sr_buf_fini_secure(). */
void sr_buf_init_secure(sr_buf *b, size_t max);

/* Frees the storage; the buffer may be reused after sr_buf_init(). */
void sr_buf_fini(sr_buf *b);

/* Frees the storage after wiping it with sodium-grade memzero (for secrets). */
void sr_buf_fini_secure(sr_buf *b);

/* Empties the buffer, keeping its storage. */
void sr_buf_reset(sr_buf *b);

/* Appends bytes. SR_ELIMIT past max (message names the cap), SR_ENOMEM. */
sr_status sr_buf_append(sr_buf *b, const void *p, size_t len, sr_err *err);
sr_status sr_buf_append_str(sr_buf *b, const char *s, sr_err *err);
sr_status sr_buf_printf(sr_buf *b, sr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes room for at least 'extra' more bytes. */
sr_status sr_buf_reserve(sr_buf *b, size_t extra, sr_err *err);

/* Hands the storage to the caller (free() it) and resets the buffer. Returns
 * an empty allocated string if nothing was appended; NULL only on ENOMEM. */
char *sr_buf_steal(sr_buf *b);

#endif /* SR_BUF_H */
