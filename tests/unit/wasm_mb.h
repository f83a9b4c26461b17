/* SPDX-License-Identifier: MIT
 *
 * tests/unit/wasm_mb.h - a small WebAssembly module builder for the engine's
 * unit tests: they generate the (hostile) modules they feed the decoder
 * instead of checking in binaries. Header-only; each test binary includes it
 * once. Allocation failures abort the test (mb_* never return errors).
 */
#ifndef SR_TEST_WASM_MB_H
#define SR_TEST_WASM_MB_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mb {
    uint8_t *p;
    size_t n, cap;
};

static void
mb_bytes(struct mb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void
mb_u8(struct mb *b, uint8_t v)
{
    mb_bytes(b, &v, 1);
}

/* Unsigned LEB128 (also right for signed immediates in [0, 63]: see mb_sleb). */
static void
mb_leb(struct mb *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v)
            byte |= 0x80;
        mb_u8(b, byte);
    } while (v);
}

/* Signed LEB128 of a non-negative value (block type indices, i32.const). */
static void
mb_sleb(struct mb *b, uint32_t v)
{
    for (;;) {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v == 0 && !(byte & 0x40)) {
            mb_u8(b, byte);
            return;
        }
        mb_u8(b, byte | 0x80);
    }
}

static void
mb_name(struct mb *b, const char *s)
{
    mb_leb(b, (uint32_t)strlen(s));
    mb_bytes(b, s, strlen(s));
}

static void
mb_header(struct mb *b)
{
    static const uint8_t hdr[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    mb_bytes(b, hdr, sizeof(hdr));
}

/* Appends section 'id' with the bytes of 'content', and empties content. */
static void
mb_section(struct mb *b, uint8_t id, struct mb *content)
{
    mb_u8(b, id);
    mb_leb(b, (uint32_t)content->n);
    mb_bytes(b, content->p, content->n);
    content->n = 0;
}

/* Appends one code-section entry (its size, then the body bytes). */
static void
mb_body(struct mb *code, const struct mb *body)
{
    mb_leb(code, (uint32_t)body->n);
    mb_bytes(code, body->p, body->n);
}

static void
mb_free(struct mb *b)
{
    free(b->p);
    *b = (struct mb){0};
}

#endif /* SR_TEST_WASM_MB_H */
