/* SPDX-License-Identifier: MIT
 *
 * diff_native.h - wasm_diff_driver's native mode for modules that are not
 * WASI commands (diff_native.c).
 */
#ifndef DIFF_NATIVE_H
#define DIFF_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "sealrun/sr_wasm.h"
#include "wasm_int.h"

/* The driver's printers and argument table, so both sides print alike. */
struct sr_diff__printers {
    void (*name)(const char *s, size_t n);
    void (*value)(uint8_t type, uint64_t v);
    void (*values)(const uint8_t *types, const uint64_t *vals, uint32_t n);
    const char *(*category)(sr_wasm_trap t);
    uint64_t (*arg)(uint8_t type, unsigned round, unsigned exp, unsigned param);
    void (*sha)(const uint8_t *p, size_t n); /* 64 hex digits of SHA-256 */
    void (*host)(const struct sr_wasm__import *im, const struct sr_wasm__functype *ft,
                 const uint64_t *args);
};

/* wabt's runtime sources (0), or -1 when they are missing. */
int sr_diff__native_init(void);
void sr_diff__native_fini(void);

/* Prints mod's transcript on the native tier (objects cached in cache_dir),
 * with the fuel global set to initial_fuel, or one "native: ..." line. */
void sr_diff__run_native(const sr_wasm_module *mod, const char *cache_dir, uint64_t initial_fuel,
                         const struct sr_diff__printers *pr);

#endif
