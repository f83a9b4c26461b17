/* SPDX-License-Identifier: MIT */
/* sieve.c - sieve of Eratosthenes over 2 M numbers, 3 times: byte loads and stores. */
#include "guest.h"

#define SIEVE_N (2u << 20)
static uint8_t composite[SIEVE_N];

uint64_t
run(void)
{
    uint64_t total = 0;
    for (int rep = 0; rep < 3; rep++) {
        for (uint32_t i = 0; i < SIEVE_N; i++)
            composite[i] = 0;
        uint32_t count = 0;
        for (uint32_t i = 2; i < SIEVE_N; i++) {
            if (composite[i])
                continue;
            count++;
            for (uint32_t j = i + i; j < SIEVE_N; j += i)
                composite[j] = 1;
        }
        total += count;
    }
    return total;
}
