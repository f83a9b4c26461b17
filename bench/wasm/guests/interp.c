/* SPDX-License-Identifier: MIT
 *
 * interp.c - a small stack-machine interpreter (switch dispatch, as in
 * embedded scripting engines) running a bytecode program that sums the
 * Collatz chain lengths of 1..15,000: branches, indirect jumps, loads and
 * stores into the VM's own stack and locals.
 */
#include "guest.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, DIV, MOD, LT, EQ, JMP, JZ, HALT };

/* locals: 0 = n, 1 = x, 2 = steps, 3 = total */
static const int32_t prog[] = {
    PUSH,
    1,
    STORE,
    0, /*  0: n = 1                */
    PUSH,
    0,
    STORE,
    3, /*  4: total = 0            */
    LOAD,
    0,
    PUSH,
    15001,
    LT,
    JZ,
    83, /*  8: while n < 15001      */
    LOAD,
    0,
    STORE,
    1, /* 15:   x = n              */
    PUSH,
    0,
    STORE,
    2, /* 19:   steps = 0          */
    LOAD,
    1,
    PUSH,
    1,
    EQ,
    JZ,
    32, /* 23:   while x != 1 ...   */
    JMP,
    67, /* 30:     (exit)           */
    LOAD,
    1,
    PUSH,
    2,
    MOD,
    JZ,
    51, /* 32:     if x % 2         */
    LOAD,
    1,
    PUSH,
    3,
    MUL,
    PUSH,
    1, /* 39:       x = 3x + 1     */
    ADD,
    STORE,
    1,
    JMP,
    58, /* 46                       */
    LOAD,
    1,
    PUSH,
    2,
    DIV,
    STORE,
    1, /* 51:     else x = x / 2   */
    /* 58: */ LOAD,
    2,
    PUSH,
    1,
    ADD,
    STORE,
    2,
    JMP,
    23,
    /* 67: */ LOAD,
    3,
    LOAD,
    2,
    ADD,
    STORE,
    3,
    /* 74: */ LOAD,
    0,
    PUSH,
    1,
    ADD,
    STORE,
    0,
    JMP,
    8,
    /* 83: */ LOAD,
    3,
    HALT,
};

static int64_t
exec(const int32_t *code)
{
    int64_t stack[64], locals[8] = {0};
    int sp = 0, pc = 0;
    for (;;) {
        int32_t op = code[pc++];
        switch (op) {
        case PUSH:
            stack[sp++] = code[pc++];
            break;
        case LOAD:
            stack[sp++] = locals[code[pc++]];
            break;
        case STORE:
            locals[code[pc++]] = stack[--sp];
            break;
        case ADD:
            sp--;
            stack[sp - 1] += stack[sp];
            break;
        case SUB:
            sp--;
            stack[sp - 1] -= stack[sp];
            break;
        case MUL:
            sp--;
            stack[sp - 1] *= stack[sp];
            break;
        case DIV:
            sp--;
            stack[sp - 1] /= stack[sp];
            break;
        case MOD:
            sp--;
            stack[sp - 1] %= stack[sp];
            break;
        case LT:
            sp--;
            stack[sp - 1] = stack[sp - 1] < stack[sp];
            break;
        case EQ:
            sp--;
            stack[sp - 1] = stack[sp - 1] == stack[sp];
            break;
        case JMP:
            pc = code[pc];
            break;
        case JZ:
            if (stack[--sp] == 0)
                pc = code[pc];
            else
                pc++;
            break;
        default:
            return sp ? stack[sp - 1] : -1;
        }
    }
}

uint64_t
run(void)
{
    return (uint64_t)exec(prog);
}
