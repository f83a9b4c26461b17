/* SPDX-License-Identifier: MIT
 *
 * keys_guest.c - a WASI guest of the 'sealrun' key_use import
 * (include/sealrun/guest/sealrun_keys.h), for tests/integration/
 * test_keys.py. Arguments come in triples OP NAME DATA (OP one letter, DATA
 * text); it prints {"env":"<value of $ENV_NAME>","results":[{"rc":N,
 * "answer":"hex"},...]} where ENV_NAME is the first triple's NAME.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/guest/sealrun_keys.h"

int
main(int argc, char **argv)
{
    uint8_t out[128];
    const char *env = argc > 2 ? getenv(argv[2]) : NULL;
    printf("{\"env\":\"%s\",\"results\":[", env ? env : "");
    for (int i = 1; i + 2 < argc; i += 3) {
        int32_t rc = sealrun_key_use(argv[i][0], argv[i + 1], (uint32_t)strlen(argv[i + 1]),
                                     argv[i + 2], (uint32_t)strlen(argv[i + 2]), out, sizeof(out));
        printf("%s{\"rc\":%d,\"answer\":\"", i > 1 ? "," : "", (int)rc);
        for (int32_t j = 0; j < rc && j < (int32_t)sizeof(out); j++)
            printf("%02x", out[j]);
        printf("\"}");
    }
    printf("]}\n");
    return 0;
}
