/* SPDX-License-Identifier: MIT */
/* nbody_5e5.c - the n-body simulation, 500,000 steps (issue 16's benchmark). */
#define NBODY_STEPS 500000
#include "nbody.c"
