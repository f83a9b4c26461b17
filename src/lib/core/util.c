/* SPDX-License-Identifier: MIT
 *
 * util.c - checked arithmetic, parsing, hex/base64 and time formatting.
 * Base64 goes through libsodium (sodium_bin2base64), the one crypto-grade
 * codec the project already links.
 */
#include "sealrun/sr_util.h"
#include "sealrun/sr_limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

bool
sr_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

bool
sr_add_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_add_overflow(a, b, &r))
        return false;
    *out = r;
    return true;
}

sr_status
sr_parse_i64(const char *s, int64_t min, int64_t max, const char *what, int64_t *out, sr_err *err)
{
    if (!s || !*s)
        return sr_err_set(err, SR_EINVAL, "%s must be a whole number, got an empty value", what);
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || end == s)
        return sr_err_set(err, SR_EINVAL, "%s must be a whole number, got '%.64s'", what, s);
    if (v < min || v > max)
        return sr_err_set(err, SR_EINVAL, "%s must be %lld..%lld, got %lld", what, (long long)min,
                          (long long)max, v);
    *out = v;
    return SR_OK;
}

sr_status
sr_parse_duration_ms(const char *s, int64_t *out_ms, sr_err *err)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    if (!s || !*s)
        return sr_err_set(err, SR_EINVAL, "duration is empty; expected e.g. '24h', '90m', '45s'");
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || end == s || v < 0)
        return sr_err_set(err, SR_EINVAL,
                          "invalid duration '%.64s'; expected e.g. '24h', '90m', '45s'", s);
    int64_t mul = 0;
    if (*end == '\0')
        mul = 1000;
    for (size_t i = 0; !mul && i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0)
            mul = units[i].ms;
    int64_t ms;
    if (!mul || __builtin_mul_overflow((int64_t)v, mul, &ms))
        return sr_err_set(err, SR_EINVAL,
                          "invalid duration '%.64s'; expected a number with ms, s, m, h or d", s);
    *out_ms = ms;
    return SR_OK;
}

bool
sr_is_user_name(const char *s)
{
    size_t n = s ? strnlen(s, SR_MAX_USER_NAME + 1) : 0;
    if (n == 0 || n > SR_MAX_USER_NAME)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '@'))
            return false;
    return true;
}

bool
sr_is_lower_hex(const char *s, size_t n)
{
    if (!s || strnlen(s, n + 1) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool
sr_is_entry_name(const char *s, size_t len)
{
    if (!s || len == 0 || len > SR_MAX_ENTRY_POINT || strnlen(s, len) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

void
sr_hex_encode(const uint8_t *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sr_status
sr_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t len, sr_err *err)
{
    if (hex_len != 2 * len)
        return sr_err_set(err, SR_EINVAL, "expected %zu hex characters, got %zu", 2 * len, hex_len);
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(hex[2 * i]);
        int lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return sr_err_set(err, SR_EINVAL, "invalid hex character at offset %zu",
                              hi < 0 ? 2 * i : 2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return SR_OK;
}

char *
sr_base64_encode(const uint8_t *p, size_t len)
{
    const int variant = sodium_base64_VARIANT_ORIGINAL;
    size_t n = sodium_base64_ENCODED_LEN(len, variant);
    char *out = malloc(n);
    if (!out)
        return NULL;
    sodium_bin2base64(out, n, p, len, variant);
    return out;
}

sr_status
sr_base64_decode(const char *s, size_t s_len, uint8_t **out, size_t *out_len, sr_err *err)
{
    size_t cap = s_len / 4 * 3 + 3;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return sr_err_set(err, SR_ENOMEM, "out of memory decoding %zu bytes of base64", s_len);
    size_t n = 0;
    const char *end = NULL;
    /* Padding is optional: accept both the padded and the unpadded variant. */
    int variant = (s_len % 4 == 0) ? sodium_base64_VARIANT_ORIGINAL
                                   : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    if (sodium_base642bin(buf, cap, s, s_len, NULL, &n, &end, variant) != 0 || end != s + s_len) {
        size_t at = end ? (size_t)(end - s) : 0;
        free(buf);
        return sr_err_set(err, SR_EINVAL, "invalid base64 at offset %zu of %zu", at, s_len);
    }
    *out = buf;
    *out_len = n;
    return SR_OK;
}

int64_t
sr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sr_deadline_in_ms(int64_t ms, struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
    int64_t ns = (int64_t)ts->tv_nsec + (ms % 1000) * 1000000;
    ts->tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

int64_t
sr_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
sr_time_rfc3339(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    (void)strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    (void)snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

void
sr_duration_str(int64_t us, char out[32])
{
    if (us < 1000)
        (void)snprintf(out, 32, "%lldus", (long long)us);
    else if (us < 1000000)
        (void)snprintf(out, 32, "%.1fms", (double)us / 1000.0);
    else
        (void)snprintf(out, 32, "%.3fs", (double)us / 1000000.0);
}

const char *
sr_errno_text(int e)
{
    const char *s = strerrordesc_np(e);
    return s ? s : "unknown error";
}

sr_status
sr_write_all(int fd, const void *p, size_t len, bool sync, const char *what, sr_err *err)
{
    const char *at = p;
    while (len > 0) {
        ssize_t n = write(fd, at, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return sr_err_set(err, SR_EIO, "cannot write %s: %s", what,
                              n < 0 ? sr_errno_text(errno) : "short write");
        at += n;
        len -= (size_t)n;
    }
    if (sync && fsync(fd) != 0)
        return sr_err_set(err, SR_EIO, "cannot sync %s: %s", what, sr_errno_text(errno));
    return SR_OK;
}
