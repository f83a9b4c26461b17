/* SPDX-License-Identifier: MIT
 *
 * seal_tool.c - test helper: seals stdin to the base64 X25519 key in argv[1]
 * with sr_secret_seal (what `sealrun secret set` does) and prints the box,
 * so tests can make boxes for any owner's key. */
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_secret.h"

int
main(int argc, char **argv)
{
    uint8_t pk[SR_BOX_PK_LEN];
    char buf[65536];
    sr_err e = {0};
    if (argc != 2 || sr_crypto_init(&e) != SR_OK || sr_box_pk_parse(argv[1], pk, &e) != SR_OK) {
        fprintf(stderr, "usage: seal_tool PUBKEY_B64 < value (%s)\n", e.msg);
        return 2;
    }
    size_t n = fread(buf, 1, sizeof(buf), stdin);
    char *box = NULL;
    if (sr_secret_seal(pk, buf, n, &box, &e) != SR_OK) {
        fprintf(stderr, "seal_tool: %s\n", e.msg);
        return 1;
    }
    puts(box);
    free(box);
    return 0;
}
