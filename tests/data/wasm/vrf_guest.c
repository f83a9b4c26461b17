/* SPDX-License-Identifier: MIT
 *
 * vrf_guest.c - a WASI guest of the 'sealrun' vrf import
 * (include/sealrun/guest/sealrun_vrf.h), for tests/integration/test_vrf.py.
 * Each argument is a seed (its bytes); it prints one JSON object:
 *   {"results":[{"rc":0,"output":"..","proof":"..","public_key":".."},...]}
 * with hex fields only when rc is 0. The argument "-big" stands for a seed
 * of 257 bytes, "-fault" for a seed pointer outside linear memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sealrun/guest/sealrun_vrf.h"

static void
hex(const char *name, const uint8_t *p, size_t n)
{
    printf(",\"%s\":\"", name);
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\"");
}

int
main(int argc, char **argv)
{
    static uint8_t big[SEALRUN_VRF_MAX_SEED + 1];
    uint8_t out[SEALRUN_VRF_OUTPUT + SEALRUN_VRF_PROOF + SEALRUN_VRF_PUBLIC_KEY];
    printf("{\"results\":[");
    for (int i = 1; i < argc; i++) {
        int32_t rc;
        if (strcmp(argv[i], "-big") == 0)
            rc = sealrun_vrf(big, sizeof(big), out);
        else if (strcmp(argv[i], "-fault") == 0)
            rc = sealrun_vrf((const void *)(uintptr_t)0xfffffff0u, 64, out);
        else
            rc = sealrun_vrf(argv[i], (uint32_t)strlen(argv[i]), out);
        printf("%s{\"rc\":%d", i > 1 ? "," : "", (int)rc);
        if (rc == 0) {
            hex("output", out, SEALRUN_VRF_OUTPUT);
            hex("proof", out + SEALRUN_VRF_OUTPUT, SEALRUN_VRF_PROOF);
            hex("public_key", out + SEALRUN_VRF_OUTPUT + SEALRUN_VRF_PROOF, SEALRUN_VRF_PUBLIC_KEY);
        }
        printf("}");
    }
    printf("]}\n");
    return 0;
}
