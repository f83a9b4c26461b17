/* SPDX-License-Identifier: MIT
 *
 * sealrun_storage.h - persistent storage for WebAssembly guests of sealrun
 * (docs/storage.md "WebAssembly ABI"). Include it in a wasm32-wasi program;
 * the functions are imports of module "sealrun" that sealrund provides next
 * to WASI. A job's writes become visible to other jobs only if the job
 * completes (exit code 0 and valid output); it always reads its own writes.
 *
 * Pointers are offsets into the guest's linear memory 0; lengths are bytes.
 * Keys are 1..256 bytes of UTF-8 without NUL; values up to 1 MiB of any bytes.
 * Every function returns a non-negative result on success or one of the
 * SEALRUN_STORAGE_E* codes. A result longer than the buffer given is not
 * copied: the length is returned, so call again with a larger buffer.
 * Per job, at most 4096 different keys may be read, 1024 different listings
 * made and 4096 different keys (20 MiB) written; a program that exits
 * non-zero after such a refusal fails with STORAGE_READ_LIMIT,
 * STORAGE_LIST_LIMIT or STORAGE_WRITE_LIMIT.
 */
#ifndef SEALRUN_STORAGE_H
#define SEALRUN_STORAGE_H

#include <stdint.h>

#define SEALRUN_STORAGE_ENOTFOUND (-1)    /* storage_get: no such key */
#define SEALRUN_STORAGE_EINVAL (-2)       /* bad key, prefix, after or limit */
#define SEALRUN_STORAGE_ELIMIT (-3)       /* value over 1 MiB, or the job's write buffer is full */
#define SEALRUN_STORAGE_EUNAVAILABLE (-4) /* no storage here (local run) or a host failure */
#define SEALRUN_STORAGE_EFAULT (-5)       /* a pointer and length outside linear memory */
#define SEALRUN_STORAGE_EREADS (-6)       /* the job read 4096 different keys: no more */
#define SEALRUN_STORAGE_ELISTINGS (-7)    /* the job made 1024 different listings: no more */

#define SEALRUN_STORAGE_MAX_KEY 256
#define SEALRUN_STORAGE_MAX_VALUE (1024 * 1024)
#define SEALRUN_STORAGE_MAX_LIST 1000

#define SEALRUN_IMPORT(n) __attribute__((import_module("sealrun"), import_name(n)))

/* Copies the value of key into buf (if it fits in cap) and returns its
 * length; SEALRUN_STORAGE_ENOTFOUND when absent. cap 0 asks only for the
 * length (a "has"). */
SEALRUN_IMPORT("storage_get")
int32_t sealrun_storage_get(const void *key, uint32_t key_len, void *buf, uint32_t cap);

/* Buffers a write of value[0..len) to key; returns 0. */
SEALRUN_IMPORT("storage_set")
int32_t sealrun_storage_set(const void *key, uint32_t key_len, const void *value, uint32_t len);

/* Buffers a delete of key (absent keys are fine); returns 0. */
SEALRUN_IMPORT("storage_delete")
int32_t sealrun_storage_delete(const void *key, uint32_t key_len);

/* Lists keys starting with prefix (prefix_len 0: all), strictly after
 * 'after' (after_len 0: from the first), in byte order, at most limit
 * (0 = 100, at most 1000). Writes into buf, if it fits in cap:
 *   count (u32 little-endian) | more (u8: 1 if more keys follow) |
 *   count x (key_len u16 little-endian | key bytes)
 * and returns the listing's length in bytes. */
SEALRUN_IMPORT("storage_list")
int32_t sealrun_storage_list(const void *prefix, uint32_t prefix_len, const void *after,
                             uint32_t after_len, uint32_t limit, void *buf, uint32_t cap);

#endif /* SEALRUN_STORAGE_H */
