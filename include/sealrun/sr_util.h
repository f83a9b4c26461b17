/* SPDX-License-Identifier: MIT
 *
 * sr_util.h - small helpers shared by every module: checked arithmetic,
 * number and duration parsing, hex, base64, clocks and RFC 3339 time.
 * All functions are thread-safe and allocate nothing unless they say so.
 */
#ifndef SR_UTIL_H
#define SR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "sealrun/sr_err.h"

/* *out = a * b; false (and *out untouched) on overflow. */
bool sr_mul_size(size_t a, size_t b, size_t *out);
bool sr_add_size(size_t a, size_t b, size_t *out);

/* Parses a whole decimal integer in [min, max]; 'what' names it in the message. */
sr_status sr_parse_i64(const char *s, int64_t min, int64_t max, const char *what, int64_t *out,
                       sr_err *err);

/* Parses "24h", "90m", "45s", "1500ms" or a bare number of seconds into ms. */
sr_status sr_parse_duration_ms(const char *s, int64_t *out_ms, sr_err *err);

/* true when s is a NUL-terminated string of exactly n lower-case hex
 * characters (ids, hashes, keys as the API shows them). */
bool sr_is_lower_hex(const char *s, size_t n);
/* true when s is a user name sealrun accepts (a token's owner):
 * 1..SR_MAX_USER_NAME characters of A-Z a-z 0-9 _ - . @ */
bool sr_is_user_name(const char *s);
/* true when s[0..len) is a function name sealrun accepts as an entry point:
 * 1..SR_MAX_ENTRY_POINT (128) ASCII letters, digits, '_' or '$', not
 * starting with a digit, and no NUL before len. */
bool sr_is_entry_name(const char *s, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void sr_hex_encode(const uint8_t *p, size_t len, char *out);
/* Decodes exactly 'len' bytes of hex (2*len characters, either case). */
sr_status sr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t len, sr_err *err);

/* Standard base64 with padding (RFC 4648 section 4). Returns owned, free(). */
char *sr_base64_encode(const uint8_t *p, size_t len);
/* Decodes standard base64 (padding optional, no whitespace). Returns owned
 * bytes in *out (free()), length in *out_len. SR_EINVAL names the problem. */
sr_status sr_base64_decode(const char *s, size_t s_len, uint8_t **out, size_t *out_len,
                           sr_err *err);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sr_now_ms(void);
/* The CLOCK_REALTIME instant ms milliseconds from now, for
 * pthread_cond_timedwait. */
void sr_deadline_in_ms(int64_t ms, struct timespec *ts);
/* Microseconds of CLOCK_MONOTONIC. */
int64_t sr_mono_us(void);
/* RFC 3339 UTC with milliseconds ("2026-11-21T10:00:00.123Z") into out[32]. */
void sr_time_rfc3339(int64_t ms, char out[32]);
/* Parses RFC 3339 date-time text[0..len) (years 1970..9999, 'T' or 't',
 * optional fraction, 'Z' or +HH:MM/-HH:MM) into Unix ms (fraction past ms
 * is cut). false when malformed (also for NULL). Thread-safe. */
bool sr_time_parse_rfc3339(const char *text, size_t len, int64_t *out_ms);
/* Formats a duration like "12.3ms", "1.204s", "850us" into out[32]. */
void sr_duration_str(int64_t us, char out[32]);

/* The description of errno value e ("No such file or directory"): static
 * text, thread-safe (strerror() is not). */
const char *sr_errno_text(int e);

/* Writes p[0..len) to fd whole, retrying short writes and EINTR; with
 * 'sync' fsyncs after. SR_EIO "cannot write <what>: <reason>" ('what'
 * names the file for the message, e.g. "key file '/x/y'"). */
sr_status sr_write_all(int fd, const void *p, size_t len, bool sync, const char *what, sr_err *err);

/* Takes the data directory's exclusive lock (DIR/sealrund.pid, holding the
 * caller's pid) for as long as the returned descriptor stays open; the
 * process's end releases it. SR_ECONFLICT names the pid of the sealrund
 * that holds it; SR_EIO for a directory that cannot hold the file. */
sr_status sr_datadir_lock(const char *dir, int *out_fd, sr_err *err);

#endif /* SR_UTIL_H */
