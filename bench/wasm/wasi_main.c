/* SPDX-License-Identifier: MIT
 *
 * wasi_main.c - a benchmark guest as a WASI command, for the service's two
 * tiers (bench/wasm/service.py): _start calls run() once and prints its
 * checksum on stdout.
 */
#include <inttypes.h>
#include <stdio.h>

#include "guest.h"

int
main(void)
{
    printf("%" PRIu64 "\n", run());
    return 0;
}
