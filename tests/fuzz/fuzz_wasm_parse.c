/* SPDX-License-Identifier: MIT
 *
 * fuzz_wasm_parse.c - libFuzzer target: arbitrary bytes -> sr_wasm_module.
 *
 * Decoding, module validation and the per-function validate+translate pass
 * must either accept the bytes or reject them with an error message; they
 * must never crash, leak, read out of bounds or run into undefined
 * behaviour. For an accepted module, the import/export accessors are walked
 * too, since the service reports them for uploaded modules.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_wasm_module *mod = NULL;
    sr_err err;
    memset(&err, 0, sizeof err);

    if (sr_wasm_module_new(data, size, &mod, &err) != SR_OK)
        return 0; /* rejecting the input is a valid outcome */

    struct sr_wasm_extern_info info;
    size_t sum = 0;
    for (size_t i = 0; sr_wasm_module_import(mod, i, &info); i++)
        sum += strlen(info.module) + info.name_len + info.index;
    for (size_t i = 0; sr_wasm_module_export(mod, i, &info); i++)
        sum += info.name_len + info.index;
    if (sum == (size_t)-1) /* keep the walk from being optimised away */
        return 1;
    sr_wasm_module_free(mod);
    return 0;
}
