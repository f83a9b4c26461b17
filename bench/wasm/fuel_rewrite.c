/* SPDX-License-Identifier: MIT */
/*
 * fuel_rewrite.c - writes a module rewritten by sr_wasm_fuel_instrument(): the
 * input of the "wasm2c + fuel" column of bench/wasm/native.sh.
 *
 * usage: fuel_rewrite IN.wasm OUT.wasm FUEL
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_wasm.h"

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fuel_rewrite IN.wasm OUT.wasm FUEL\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "fuel_rewrite: cannot open '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    uint8_t *in = malloc(SR_MAX_MODULE + 1);
    const size_t n = in ? fread(in, 1, SR_MAX_MODULE + 1, f) : 0;
    fclose(f);
    sr_err err = {0};
    sr_wasm_module *m = NULL;
    uint8_t *out = NULL;
    size_t len = 0;
    sr_status st = n <= SR_MAX_MODULE ? sr_wasm_module_new(in, n, &m, &err) : SR_ELIMIT;
    if (st == SR_OK)
        st = sr_wasm_fuel_instrument(m, strtoull(argv[3], NULL, 10), &out, &len, NULL, &err);
    FILE *o = st == SR_OK ? fopen(argv[2], "wb") : NULL;
    const bool ok = o && fwrite(out, 1, len, o) == len;
    if (o && fclose(o) != 0)
        st = SR_EIO;
    if (st != SR_OK || !ok)
        fprintf(stderr, "fuel_rewrite: %s: %s\n", argv[1], st != SR_OK ? err.msg : "write failed");
    free(out);
    free(in);
    sr_wasm_module_free(m);
    return st == SR_OK && ok ? 0 : 1;
}
