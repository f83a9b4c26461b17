/* SPDX-License-Identifier: MIT */
/* sha256_32m.c - SHA-256 over 32 MiB, one pass (issue 16's benchmark). */
#define BUF_LEN (32u << 20)
#define SHA_REPS 1
#include "sha256.c"
