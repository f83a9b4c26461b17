/* SPDX-License-Identifier: MIT
 *
 * guest.h - shared by the benchmark guests. Each guest is freestanding C (no
 * libc, no imports) so the same file builds natively (gcc -O2, linked with
 * native_main.c) and to a wasm module whose only export is
 *   uint64_t run(void)
 * returning a checksum that every runtime must reproduce.
 */
#ifndef BENCH_GUEST_H
#define BENCH_GUEST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__wasm__)
#define GUEST_EXPORT __attribute__((export_name("run")))
#else
#define GUEST_EXPORT
#endif

uint64_t run(void) GUEST_EXPORT;

#endif
