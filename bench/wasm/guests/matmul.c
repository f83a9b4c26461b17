/* SPDX-License-Identifier: MIT */
/* matmul.c - 300x300 double matrix multiply, twice: f64 loads, mul, add. */
#include "guest.h"

#define MN 300
static double a[MN][MN], b[MN][MN], c[MN][MN];

uint64_t
run(void)
{
    for (int i = 0; i < MN; i++)
        for (int j = 0; j < MN; j++) {
            a[i][j] = (double)(i * MN + j) / (MN * MN);
            b[i][j] = (double)((i + 7) * (j + 3) % 17) - 8.0;
        }
    double trace = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (int i = 0; i < MN; i++)
            for (int j = 0; j < MN; j++)
                c[i][j] = 0;
        for (int i = 0; i < MN; i++)
            for (int k = 0; k < MN; k++) {
                double aik = a[i][k];
                for (int j = 0; j < MN; j++)
                    c[i][j] += aik * b[k][j];
            }
        for (int i = 0; i < MN; i++)
            trace += c[i][i];
        a[rep][rep] += 1.0;
    }
    return (uint64_t)(int64_t)(trace * 1000.0);
}
