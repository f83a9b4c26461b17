/* SPDX-License-Identifier: MIT
 *
 * receipt_int.h - private to src/lib/receipt: helpers shared by its files
 * and the test hooks of the configfs-tsm provider.
 */
#ifndef SR_RECEIPT_INT_H
#define SR_RECEIPT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_attest.h"
#include "sealrun/sr_receipt.h"

/* Largest integer a receipt may hold: every verifier's doubles are exact. */
#define SR_RECEIPT__MAX_INT 9007199254740991ull /* 2^53 - 1 */

/* Test hooks for the tdx provider (tests/unit/receipt_attest_test.c): a fake
 * report tree is a plain directory, so the test plays the kernel's part at
 * the moments the kernel would act. Each hook gets the report directory's
 * path. NULL hooks (the default) do nothing. Not thread-safe: set them in a
 * test before any quote is taken. */
struct sr_attest__hooks {
    void (*after_mkdir)(const char *dir, void *arg);  /* kernel: attributes appear */
    void (*after_inblob)(const char *dir, void *arg); /* kernel: generation++, outblob */
    void (*before_rmdir)(const char *dir, void *arg); /* kernel: attributes go away */
    void *arg;
};
void sr_attest__set_hooks(const struct sr_attest__hooks *hooks);

#endif /* SR_RECEIPT_INT_H */
