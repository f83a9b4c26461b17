/* SPDX-License-Identifier: MIT
 *
 * wasm_leb.c - LEB128 and the bounded byte reader used by the decoder.
 *
 * Every read checks the bytes left; LEB128 rejects encodings longer than
 * ceil(N/7) bytes ("integer representation too long") and unused bits in the
 * last byte that are not a zero or sign extension ("integer too large"), as
 * the spec's binary format requires.
 */
#include "wasm_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { LEB_OK, LEB_END, LEB_LONG, LEB_LARGE };

/* Decodes an unsigned or signed LEB128 of at most 'bits' bits. */
static int
leb_decode(const uint8_t *in, size_t len, unsigned bits, bool is_signed, uint64_t *v, size_t *used)
{
    const unsigned maxbytes = (bits + 6) / 7;
    uint64_t result = 0;
    unsigned shift = 0;

    for (unsigned i = 0; i < maxbytes; i++) {
        if (i >= len)
            return LEB_END;
        const uint8_t b = in[i];
        if (i == maxbytes - 1) {
            if (b & 0x80)
                return LEB_LONG;
            const unsigned rest = bits - shift; /* payload bits that count, 1..7 */
            const uint8_t unused = (uint8_t)(0x7f & ~((1u << rest) - 1u));
            if (!is_signed && (b & unused))
                return LEB_LARGE;
            if (is_signed) {
                /* the unused bits and the top used bit must all be equal */
                const uint8_t mask = (uint8_t)(0x7f & ~((1u << (rest - 1)) - 1u));
                if ((b & mask) != 0 && (b & mask) != mask)
                    return LEB_LARGE;
            }
        }
        result |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (is_signed && shift < 64 && (b & 0x40))
                result |= ~(uint64_t)0 << shift;
            *v = result;
            *used = i + 1;
            return LEB_OK;
        }
    }
    return LEB_LONG;
}

sr_status
sr_wasm__malformed(struct sr_wasm__rd *r, const char *what)
{
    return sr_err_set(r->err, SR_EINVAL, "malformed: %s at offset 0x%zx", what,
                      (size_t)(r->p - r->base));
}

sr_status
sr_wasm__invalid(sr_err *err, const char *fmt, ...)
{
    char msg[SR_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sr_err_set(err, SR_EINVAL, "invalid: %s", msg);
}

static sr_status
rd_leb(struct sr_wasm__rd *r, unsigned bits, bool is_signed, uint64_t *v)
{
    size_t used = 0;
    const int rc = leb_decode(r->p, (size_t)(r->end - r->p), bits, is_signed, v, &used);

    switch (rc) {
    case LEB_OK:
        r->p += used;
        return SR_OK;
    case LEB_END:
        return sr_wasm__malformed(r, "unexpected end of section or function");
    case LEB_LONG:
        return sr_wasm__malformed(r, "integer representation too long");
    default:
        return sr_wasm__malformed(r, "integer too large");
    }
}

sr_status
sr_wasm__rd_u8(struct sr_wasm__rd *r, uint8_t *v)
{
    if (r->p >= r->end)
        return sr_wasm__malformed(r, "unexpected end of section or function");
    *v = *r->p++;
    return SR_OK;
}

sr_status
sr_wasm__rd_u32(struct sr_wasm__rd *r, uint32_t *v)
{
    uint64_t x = 0;
    const sr_status st = rd_leb(r, 32, false, &x);
    *v = (uint32_t)x;
    return st;
}

sr_status
sr_wasm__rd_s32(struct sr_wasm__rd *r, int32_t *v)
{
    uint64_t x = 0;
    const sr_status st = rd_leb(r, 32, true, &x);
    *v = (int32_t)(uint32_t)x;
    return st;
}

sr_status
sr_wasm__rd_s33(struct sr_wasm__rd *r, int64_t *v)
{
    uint64_t x = 0;
    const sr_status st = rd_leb(r, 33, true, &x);
    *v = (int64_t)x;
    return st;
}

sr_status
sr_wasm__rd_s64(struct sr_wasm__rd *r, int64_t *v)
{
    uint64_t x = 0;
    const sr_status st = rd_leb(r, 64, true, &x);
    *v = (int64_t)x;
    return st;
}

sr_status
sr_wasm__rd_bytes(struct sr_wasm__rd *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n)
        return sr_wasm__malformed(r, "unexpected end of section or function");
    *out = r->p;
    r->p += n;
    return SR_OK;
}

sr_status
sr_wasm__rd_count(struct sr_wasm__rd *r, uint32_t cap, size_t min_elem, const char *what,
                  uint32_t *n)
{
    sr_status st = sr_wasm__rd_u32(r, n);
    if (st != SR_OK)
        return st;
    if (min_elem > 0 && (size_t)*n > (size_t)(r->end - r->p) / min_elem)
        return sr_wasm__malformed(r,
                                  "unexpected end of section or function (length out of bounds)");
    if (*n > cap)
        return sr_err_set(r->err, SR_EINVAL,
                          "invalid: %u %s at offset 0x%zx exceed the cap of %u %s", *n, what,
                          (size_t)(r->p - r->base), cap, what);
    return SR_OK;
}

/* UTF-8 per RFC 3629: no overlongs, no surrogates, at most U+10FFFF. */
bool
sr_wasm__utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}
