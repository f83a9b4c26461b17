/* SPDX-License-Identifier: MIT
 *
 * native_test_rt.h - for the test tools that run modules on the native tier
 * outside the service (tests/spec/native.c, tests/fuzz/diff_native.c):
 * reading wabt's installed runtime text and patching it, and calling a
 * compiled export through libffi with values as the interpreter's slots
 * hold them.
 */
#ifndef SR_NATIVE_TEST_RT_H
#define SR_NATIVE_TEST_RT_H

#include <ffi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where Debian's wabt installs wasm2c's runtime (wasm-rt-impl.c and .h). */
#define NATIVE_TEST_RT_DIR "/usr/share/wabt/wasm2c"

/* The whole file at path, NUL-terminated (malloc'd; *len its length), or NULL. */
static inline char *
native_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Replaces the first 'from' in text (taken) by 'to'; the new text (malloc'd)
 * or NULL when 'from' is not there (another wabt: look at it again). */
static inline char *
native_test_replace_once(char *text, size_t *len, const char *from, const char *to)
{
    const size_t nf = strlen(from), nt = strlen(to);
    char *p = text ? strstr(text, from) : NULL;
    char *out = p ? malloc(*len - nf + nt + 1) : NULL;
    if (out) {
        const size_t head = (size_t)(p - text), tail = *len - head - nf;
        memcpy(out, text, head);
        memcpy(out + head, to, nt);
        memcpy(out + head + nt, p + nf, tail);
        out[head + nt + tail] = '\0';
        *len = head + nt + tail;
    }
    free(text);
    return out;
}

/* wabt 1.0.32's wasm_rt_grow_memory reports success for a grow whose page
 * count wraps around to 0 (grow(0xffffffff) from 1 page); the service's glue
 * checks in 64 bits. The text a patch of it looks for, and what it puts
 * before it. */
#define NATIVE_TEST_GROW_ZERO "  if (new_pages == 0) {\n    return 0;\n  }\n"
#define NATIVE_TEST_GROW_WRAP                                                                      \
    "  if (delta && new_pages <= old_pages) {\n    return (uint32_t)-1;\n  }\n"

/* The libffi type of a Wasm value type (0x7F i32, 0x7E i64, 0x7D f32, 0x7C
 * f64); NULL for the reference types, which these tools do not pass. */
static inline ffi_type *
native_test_ffi_of(uint8_t t)
{
    switch (t) {
    case 0x7F:
        return &ffi_type_uint32;
    case 0x7E:
        return &ffi_type_uint64;
    case 0x7D:
        return &ffi_type_float;
    case 0x7C:
        return &ffi_type_double;
    default:
        return NULL;
    }
}

/* The bits of a value of type t at p, as the interpreter's slots hold them. */
static inline uint64_t
native_test_slot_of(uint8_t t, const void *p)
{
    uint32_t u32;
    uint64_t u64;
    if (t == 0x7F || t == 0x7D) {
        memcpy(&u32, p, 4);
        return u32;
    }
    memcpy(&u64, p, 8);
    return u64;
}

/* One ffi_call, as the argument of a runtime's try-call (which catches a
 * trap's longjmp around it). */
struct native_test_call {
    void *fn;
    ffi_cif *cif;
    void *ret;
    void **args;
};

static inline void
native_test_do_call(void *arg)
{
    struct native_test_call *c = arg;
    ffi_call(c->cif, FFI_FN(c->fn), c->ret, c->args);
}

#endif
