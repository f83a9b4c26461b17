/* SPDX-License-Identifier: MIT */
/*
 * wasm_diff_driver.c - sealrun's side of the differential test against V8
 * (scripts/wasm-diff.py; docs/wasm.md "Differential testing").
 *
 * usage: wasm_diff_driver FILE.wasm...
 *
 * For each module prints a transcript that tests/fuzz/wasm_diff_v8.js prints
 * the same way for V8, line for line:
 *
 *   module NAME
 *   compile: error | instantiate: error | instantiate: trap | instantiate: ok
 *   host MOD.FIELD(VALUES)                  each call of an imported function
 *   call EXPORT#ROUND(VALUES) => VALUES     or "=> trap CATEGORY"
 *   global EXPORT = VALUE                   exported globals, after all calls
 *   memory EXPORT pages=N sha256=HEX        exported memories, after all calls
 *   table EXPORT size=N
 *   note: limit                             a grow was refused by our own cap
 *   end
 *
 * Every exported function is called twice (rounds 0 and 1), in export order,
 * with arguments taken from fixed tables of edge values (diff_arg: the same
 * formula in both drivers). Imported functions log their arguments and return
 * zeros. Values: i32:-1, i64:-1, f32:HEX8 / f64:HEX16 (IEEE bits) or f32:nan /
 * f64:nan for any NaN (payload and sign are left open by the spec),
 * funcref:null|func, externref:null|extern. Trap categories are coarser than
 * either engine's wording where V8 merges cases (see trap_category).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"
#include "wasm_int.h"

#define DIFF_MAX_MODULE (16u << 20)
#define DIFF_ROUNDS 2
#define DIFF_MAX_PAGES 2048u /* 128 MiB: more is reported as "note: limit" */
#define DIFF_NARGS 12

/* Keep in sync with ARGS_* in tests/fuzz/wasm_diff_v8.js. No NaN: JavaScript cannot
 * pass a NaN payload through to an argument. */
static const uint32_t args_i32[DIFF_NARGS] = {0,  1,  0xffffffffu, 0x7fffffffu, 0x80000000u, 31,
                                              32, 63, 64,          0xffffu,     0xffff0000u, 7};
static const uint64_t args_i64[DIFF_NARGS] = {
    0,  1,  UINT64_MAX, 0x7fffffffffffffffull, 0x8000000000000000ull, 31,
    32, 63, 64,         0xffffffffull,         0x100000000ull,        7};
static const uint32_t args_f32[DIFF_NARGS] = {0x00000000u, 0x80000000u, 0x3f800000u, 0xbf800000u,
                                              0x3f000000u, 0x7f800000u, 0xff800000u, 0x4f000000u,
                                              0xcf000000u, 0x3fc00000u, 0x7f7fffffu, 0x00000001u};
static const uint64_t args_f64[DIFF_NARGS] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
    0x3fe0000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull, 0x41e0000000000000ull,
    0xc1e0000000000000ull, 0x3ff8000000000000ull, 0x7fefffffffffffffull, 0x0000000000000001ull};

struct host_import {
    const struct sr_wasm__import *im;
    const struct sr_wasm__functype *ft;
};

static uint64_t
diff_arg(uint8_t type, unsigned round, unsigned exp, unsigned param)
{
    const unsigned i = (round * 7 + exp * 3 + param * 5) % DIFF_NARGS;
    switch (type) {
    case SR_WASM_I32:
        return args_i32[i];
    case SR_WASM_I64:
        return args_i64[i];
    case SR_WASM_F32:
        return args_f32[i];
    case SR_WASM_F64:
        return args_f64[i];
    default:
        return 0; /* null reference */
    }
}

static void
print_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char ch = (unsigned char)s[i];
        if (ch > 0x20 && ch < 0x7f && ch != '\\')
            putchar(ch);
        else
            printf("\\x%02x", ch);
    }
}

static void
print_value(uint8_t type, uint64_t v)
{
    switch (type) {
    case SR_WASM_I32:
        printf("i32:%" PRId32, (int32_t)(uint32_t)v);
        break;
    case SR_WASM_I64:
        printf("i64:%" PRId64, (int64_t)v);
        break;
    case SR_WASM_F32:
        if (((uint32_t)v & 0x7f800000u) == 0x7f800000u && ((uint32_t)v & 0x7fffffu))
            printf("f32:nan");
        else
            printf("f32:%08" PRIx32, (uint32_t)v);
        break;
    case SR_WASM_F64:
        if ((v & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (v & 0xfffffffffffffull))
            printf("f64:nan");
        else
            printf("f64:%016" PRIx64, v);
        break;
    case SR_WASM_FUNCREF:
        printf("funcref:%s", v ? "func" : "null");
        break;
    default:
        printf("externref:%s", v ? "extern" : "null");
        break;
    }
}

static void
print_values(const uint8_t *types, const uint64_t *vals, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            printf(", ");
        print_value(types[i], vals[i]);
    }
}

/* Keep in sync with trapCategory() in wasm_diff_v8.js. V8 says "float unrepresentable
 * in integer range" for both a NaN and an out-of-range conversion, and "null function
 * or function signature mismatch" for both bad indirect calls. */
static const char *
trap_category(sr_wasm_trap t)
{
    switch (t) {
    case SR_WASM_TRAP_UNREACHABLE:
        return "unreachable";
    case SR_WASM_TRAP_MEM_OOB:
        return "memory";
    case SR_WASM_TRAP_TABLE_OOB:
    case SR_WASM_TRAP_UNDEF_ELEM:
        return "table";
    case SR_WASM_TRAP_DIV_ZERO:
        return "divide_by_zero";
    case SR_WASM_TRAP_INT_OVERFLOW:
    case SR_WASM_TRAP_INVALID_CONV:
        return "overflow_or_conversion";
    case SR_WASM_TRAP_UNINIT_ELEM:
    case SR_WASM_TRAP_INDIRECT_TYPE:
        return "indirect_call";
    case SR_WASM_TRAP_CALL_DEPTH:
    case SR_WASM_TRAP_VALUE_STACK:
        return "stack";
    default:
        return sr_wasm_trap_message(t);
    }
}

static sr_status
dummy_import(void *ctx, sr_wasm_instance *caller, uint64_t *slots)
{
    (void)caller;
    const struct host_import *h = ctx;
    printf("host ");
    print_name(h->im->module, h->im->module_len);
    putchar('.');
    print_name(h->im->name, h->im->name_len);
    putchar('(');
    print_values(h->ft->types, slots, h->ft->nparams);
    printf(")\n");
    for (uint32_t i = 0; i < h->ft->nresults; i++)
        slots[i] = 0;
    return SR_OK;
}

static char
type_letter(uint8_t t)
{
    switch (t) {
    case SR_WASM_I32:
        return 'i';
    case SR_WASM_I64:
        return 'I';
    case SR_WASM_F32:
        return 'f';
    case SR_WASM_F64:
        return 'F';
    case SR_WASM_EXTERNREF:
        return 'r';
    default:
        return 'R';
    }
}

/* Defines every function import; returns false (and prints why) for other imports,
 * which the V8 driver refuses the same way. */
static bool
define_imports(sr_wasm_linker *lk, const sr_wasm_module *m, struct host_import *hosts)
{
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        if (im->kind != SR_WASM_EXTERN_FUNC) {
            printf("instantiate: error\n");
            fprintf(stderr, "wasm_diff_driver: only function imports are supported\n");
            return false;
        }
        const struct sr_wasm__functype *ft = &m->types[im->type];
        char sig[2 * SR_WASM__MAX_TYPE_ARITY + 4];
        size_t k = 0;
        for (uint32_t j = 0; j < ft->nparams + ft->nresults; j++) {
            if (j == ft->nparams)
                sig[k++] = ':';
            sig[k++] = type_letter(ft->types[j]);
        }
        if (ft->nresults == 0)
            sig[k++] = ':';
        sig[k] = '\0';
        hosts[i].im = im;
        hosts[i].ft = ft;
        sr_err err = {0};
        if (sr_wasm_linker_define_func(lk, im->module, im->name, sig, dummy_import, &hosts[i],
                                       &err) != SR_OK) {
            printf("instantiate: error\n");
            fprintf(stderr, "wasm_diff_driver: %s\n", err.msg);
            return false;
        }
    }
    return true;
}

static void
call_export(sr_wasm_instance *inst, const struct sr_wasm__export *e, unsigned round, unsigned ord)
{
    const sr_wasm_module *m = inst->mod;
    const struct sr_wasm__functype *ft = &m->types[m->func_types[e->index]];
    static uint64_t args[SR_WASM__MAX_TYPE_ARITY], res[SR_WASM__MAX_TYPE_ARITY];
    for (uint32_t j = 0; j < ft->nparams; j++)
        args[j] = diff_arg(ft->types[j], round, ord, j);
    printf("call ");
    print_name(e->name, e->name_len);
    printf("#%u(", round);
    print_values(ft->types, args, ft->nparams);
    printf(")\n"); /* the host lines of this call follow, then its result */
    sr_err err = {0};
    const sr_status st =
        sr_wasm_call_n(inst, e->name, e->name_len, args, ft->nparams, res, ft->nresults, &err);
    printf("=> ");
    if (st != SR_OK) {
        const sr_wasm_trap t = sr_wasm_instance_trap(inst);
        if (t == SR_WASM_TRAP_NONE)
            printf("error\n");
        else
            printf("trap %s\n", trap_category(t));
        return;
    }
    print_values(ft->types + ft->nparams, res, ft->nresults);
    printf("\n");
}

static void
print_state(sr_wasm_instance *inst)
{
    const sr_wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const struct sr_wasm__export *e = &m->exports[i];
        if (e->kind == SR_WASM_EXTERN_GLOBAL) {
            printf("global ");
            print_name(e->name, e->name_len);
            printf(" = ");
            print_value(inst->globals[e->index]->type, inst->globals[e->index]->val);
            printf("\n");
        } else if (e->kind == SR_WASM_EXTERN_MEMORY) {
            uint8_t h[crypto_hash_sha256_BYTES];
            crypto_hash_sha256(h, inst->mem->data, inst->mem->size);
            printf("memory ");
            print_name(e->name, e->name_len);
            printf(" pages=%" PRIu32 " sha256=", inst->mem->pages);
            for (size_t k = 0; k < sizeof(h); k++)
                printf("%02x", h[k]);
            printf("\n");
        } else if (e->kind == SR_WASM_EXTERN_TABLE) {
            printf("table ");
            print_name(e->name, e->name_len);
            printf(" size=%" PRIu32 "\n", inst->tables[e->index]->size);
        }
    }
    if (sr_wasm_instance_limit_hit(inst))
        printf("note: limit\n");
}

static void
run_module(const uint8_t *bytes, size_t len)
{
    sr_err err = {0};
    sr_wasm_module *mod = NULL;
    sr_wasm_linker *lk = NULL;
    sr_wasm_instance *inst = NULL;
    struct host_import *hosts = NULL;
    const struct sr_wasm_limits lim = {.max_pages = DIFF_MAX_PAGES};
    if (sr_wasm_module_new(bytes, len, &mod, &err) != SR_OK) {
        printf("compile: error\n");
        fprintf(stderr, "wasm_diff_driver: %s\n", err.msg);
        return;
    }
    hosts = calloc((size_t)mod->nimports + 1, sizeof(*hosts));
    if (!hosts || sr_wasm_linker_new(&lk, &err) != SR_OK) {
        fprintf(stderr, "wasm_diff_driver: out of memory\n");
        exit(1);
    }
    if (!define_imports(lk, mod, hosts))
        goto out;
    sr_status st = sr_wasm_linker_instantiate(lk, mod, &lim, &inst, &err);
    if (st == SR_ETRAP) {
        printf("instantiate: trap\n");
        goto out;
    }
    if (st != SR_OK) {
        printf("instantiate: error\n");
        if (st == SR_ELIMIT)
            printf("note: limit\n");
        fprintf(stderr, "wasm_diff_driver: %s\n", err.msg);
        goto out;
    }
    printf("instantiate: ok\n");
    for (unsigned r = 0; r < DIFF_ROUNDS; r++) {
        unsigned ord = 0;
        for (uint32_t i = 0; i < mod->nexports; i++)
            if (mod->exports[i].kind == SR_WASM_EXTERN_FUNC)
                call_export(inst, &mod->exports[i], r, ord++);
    }
    print_state(inst);
out:
    sr_wasm_linker_free(lk);
    free(hosts);
    sr_wasm_module_free(mod);
}

static uint8_t *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wasm_diff_driver: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(DIFF_MAX_MODULE + 1);
    const size_t n = buf ? fread(buf, 1, DIFF_MAX_MODULE + 1, f) : 0;
    fclose(f);
    if (buf && n > DIFF_MAX_MODULE) {
        fprintf(stderr, "wasm_diff_driver: '%s' is larger than %u bytes\n", path, DIFF_MAX_MODULE);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wasm_diff_driver FILE.wasm...\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        uint8_t *bytes = read_all(argv[i], &len);
        if (!bytes)
            return 1;
        const char *base = strrchr(argv[i], '/');
        printf("module %s\n", base ? base + 1 : argv[i]);
        run_module(bytes, len);
        printf("end\n");
        fflush(stdout);
        free(bytes);
    }
    return 0;
}
