/* SPDX-License-Identifier: MIT
 *
 * worker_int.h - private parts of the worker module: the on-disk module
 * cache (cache.c).
 */
#ifndef SR_WORKER_INT_H
#define SR_WORKER_INT_H

#include <stdint.h>
#include "sealrun/sr_err.h"

/* DATA_DIR/modules, at most max_bytes of modules (least recently used out). */
struct sr_worker__cache {
    char dir[4096];
    uint64_t max_bytes;
};

/* Creates DATA_DIR/modules when missing. */
sr_status sr_worker__cache_open(struct sr_worker__cache *c, const char *data_dir,
                                uint64_t max_bytes, sr_err *err);
/* The cached module 'hash' (64 hex): *out owned (free()), checked against
 * its hash, its use recorded. SR_ENOTFOUND when absent (a file that does
 * not match its hash is dropped and counts as absent). */
sr_status sr_worker__cache_get(struct sr_worker__cache *c, const char *hash, uint8_t **out,
                               size_t *len, sr_err *err);
/* Stores module bytes (already checked against 'hash'), then evicts the
 * least recently used modules until the cache is within its bound. */
sr_status sr_worker__cache_put(struct sr_worker__cache *c, const char *hash, const uint8_t *bytes,
                               size_t len, sr_err *err);

#endif /* SR_WORKER_INT_H */
