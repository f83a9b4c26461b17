/* SPDX-License-Identifier: MIT
 *
 * spec_native.h - the spec runner's native mode (native.c): modules through
 * the native tier's compiler, called through libffi.
 */
#ifndef SPEC_NATIVE_H
#define SPEC_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sealrun/sr_wasm.h"

enum spec_native_result {
    SPEC_NATIVE_OK = 0,
    SPEC_NATIVE_TRAP, /* the guest trapped: *trap is wasm2c's wasm_rt_trap_t */
    SPEC_NATIVE_SKIP, /* outside what this mode runs (native.c says what) */
    SPEC_NATIVE_FAIL, /* the compiler, loader or a lookup failed */
};

struct spec_native;

/* The compiler (sr_native at opt_level, NULL: -O2; objects cached in
 * cache_dir). 0, or -1 with why. */
int spec_native_init(const char *cache_dir, const char *opt_level, char *why, size_t cap);
void spec_native_fini(void);

/* Compiles, loads and instantiates mod (borrowed: it must outlive *out),
 * running its start function. why says what went wrong when not OK. */
enum spec_native_result spec_native_new(const sr_wasm_module *mod, struct spec_native **out,
                                        char *why, size_t cap);
void spec_native_free(struct spec_native *n);

/* Calls exported function field[0..flen) with args (the interpreter's slot
 * encoding); results the same way. */
enum spec_native_result spec_native_call(struct spec_native *n, const char *field, size_t flen,
                                         const uint64_t *args, size_t nargs, uint64_t *results,
                                         size_t nres, int *trap);
/* Reads exported global field[0..flen). */
enum spec_native_result spec_native_global(struct spec_native *n, const char *field, size_t flen,
                                           uint64_t *out);

/* The start of the spec's wording for a wasm2c trap code ("out of bounds",
 * "indirect call", ...; "call stack exhausted" for exhaustion). */
const char *spec_native_trap_text(int trap);

#endif
