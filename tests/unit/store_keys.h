/* SPDX-License-Identifier: MIT
 *
 * store_keys.h - for the store's unit tests: opens a store with fixed
 * master keys, as sealrund opens it with its own (job data, modules and
 * policies are sealed at rest and need them). 'fill' picks the key bytes,
 * so a test can open the same file with other keys.
 */
#ifndef SR_TEST_STORE_KEYS_H
#define SR_TEST_STORE_KEYS_H

#include <stdint.h>
#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_store.h"

static inline sr_status
test_store_open_with(const char *path, uint8_t fill, sr_store **out, sr_err *err)
{
    uint8_t k[32];
    memset(k, fill, sizeof(k));
    sr_keys *keys = NULL;
    sr_status rc = sr_keys_new(k, sizeof(k), k, sizeof(k), &keys, err);
    if (rc == SR_OK)
        rc = sr_store_open_sqlite_keyed(path, keys, out, err);
    sr_keys_free(keys);
    return rc;
}

static inline sr_status
test_store_open(const char *path, sr_store **out, sr_err *err)
{
    return test_store_open_with(path, 0x42, out, err);
}

#endif /* SR_TEST_STORE_KEYS_H */
