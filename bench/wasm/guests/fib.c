/* SPDX-License-Identifier: MIT */
/* fib.c - naive recursive Fibonacci: call-heavy code. */
#include "guest.h"

static uint32_t __attribute__((noinline)) fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

uint64_t
run(void)
{
    return fib(34);
}
