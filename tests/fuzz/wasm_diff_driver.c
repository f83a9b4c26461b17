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
 *
 * Fuel modes (scripts/wasm-fuel-diff.py; docs/wasm.md "Fuel in the module"):
 *
 *   wasm_diff_driver --fuel L [--instrument] [--arg A]... FILE.wasm...
 *   wasm_diff_driver --fuel-each [--instrument] [--arg A]... L1 FILE1 L2 FILE2...
 *
 * --fuel L runs with a fuel limit of L (0: none) and prints "gas N" (fuel used
 * so far) after instantiation and after every call. --instrument runs instead
 * the module rewritten by sr_wasm_fuel_instrument() with L as its initial fuel
 * and no limit of the interpreter's own: gas is read from the module's fuel
 * global, its out-of-fuel 'unreachable' is reported as "out of fuel", and the
 * two fuel globals are left out of the state. The two transcripts must be
 * equal. A WASI command (imports only from wasi_snapshot_preview1, exports
 * _start) runs through sr_wasm_run_wasi() with argv[1..] from --arg, a fake
 * clock and fixed random bytes, and prints one line "wasi ..." with how it
 * ended, hashes of its output and logs, and its gas.
 *
 * Native mode (the native tier, docs/wasm.md "Two tiers"):
 *
 *   wasm_diff_driver --fuel L --native CACHE_DIR [--arg A]... FILE.wasm...
 *
 * runs a WASI command on the native tier instead: rewritten with
 * sr_wasm_fuel_instrument_ex(SR_WASM_FUEL_NATIVE), compiled by sr_native_get()
 * with the runtime glue (objects cached in CACHE_DIR), loaded and run by
 * sr_wasm_run_wasi_native() with fuel L, printing the same "wasi ..." line as
 * the interpreter. Any other module prints "native: not a WASI command".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_native.h"
#include "sealrun/sr_wasm.h"
#include "wasm_int.h"
#include "diff_native.h"

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

/* Fuel modes (see the header). */
static bool fuel_mode;
static bool instrument;
static const char *native_dir; /* --native: the cache of compiled objects */
static sr_native *g_native;
static struct sr_wasm_native_glue g_glue;
static uint64_t fuel_limit;
static bool fuel_each; /* the files are given as pairs LIMIT FILE */
static const char *wasi_args[64];
static size_t nwasi_args;

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

/* The instrumented module's fuel globals (NULL when running the original). */
static struct sr_wasm__global *
fuel_global(sr_wasm_instance *inst, const char *name)
{
    const struct sr_wasm__export *e = sr_wasm__find_export(inst->mod, name, strlen(name));
    return instrument && e && e->kind == SR_WASM_EXTERN_GLOBAL ? inst->globals[e->index] : NULL;
}

static uint64_t
initial_fuel(void)
{
    return fuel_limit ? fuel_limit : UINT64_MAX;
}

static void
print_gas(sr_wasm_instance *inst)
{
    if (!fuel_mode)
        return;
    const struct sr_wasm__global *g = fuel_global(inst, SR_WASM_FUEL_EXPORT);
    printf("gas %" PRIu64 "\n", g ? initial_fuel() - g->val : sr_wasm_instance_fuel_used(inst));
}

/* The trap of the last run, with the instrumented module's fuel trap as the
 * interpreter's. */
static sr_wasm_trap
run_trap(sr_wasm_instance *inst)
{
    const sr_wasm_trap t = sr_wasm_instance_trap(inst);
    const struct sr_wasm__global *flag = fuel_global(inst, SR_WASM_FUEL_FLAG_EXPORT);
    if (flag && flag->val == 1 && t == SR_WASM_TRAP_UNREACHABLE)
        return SR_WASM_TRAP_FUEL;
    return t;
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
    struct sr_wasm__global *flag = fuel_global(inst, SR_WASM_FUEL_FLAG_EXPORT);
    if (flag)
        flag->val = 0; /* a fuel trap of an earlier call stays in the flag */
    const sr_status st =
        sr_wasm_call_n(inst, e->name, e->name_len, args, ft->nparams, res, ft->nresults, &err);
    printf("=> ");
    if (st != SR_OK) {
        const sr_wasm_trap t = run_trap(inst);
        if (t == SR_WASM_TRAP_NONE)
            printf("error\n");
        else
            printf("trap %s\n", trap_category(t));
    } else {
        print_values(ft->types + ft->nparams, res, ft->nresults);
        printf("\n");
    }
    print_gas(inst);
}

static void
print_state(sr_wasm_instance *inst)
{
    const sr_wasm_module *m = inst->mod;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const struct sr_wasm__export *e = &m->exports[i];
        if (instrument && (strcmp(e->name, SR_WASM_FUEL_EXPORT) == 0 ||
                           strcmp(e->name, SR_WASM_FUEL_FLAG_EXPORT) == 0))
            continue;
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
print_sha_hex(const uint8_t *p, size_t n)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    for (size_t k = 0; k < sizeof(h); k++)
        printf("%02x", h[k]);
}

static void
print_host(const struct sr_wasm__import *im, const struct sr_wasm__functype *ft,
           const uint64_t *args)
{
    printf("host ");
    print_name(im->module, im->module_len);
    putchar('.');
    print_name(im->name, im->name_len);
    putchar('(');
    print_values(ft->types, args, ft->nparams);
    printf(")\n");
}

/* What diff_native.c prints with: the same lines as the interpreter's side. */
static const struct sr_diff__printers g_printers = {
    .name = print_name,
    .value = print_value,
    .values = print_values,
    .category = trap_category,
    .arg = diff_arg,
    .sha = print_sha_hex,
    .host = print_host,
};

/* Replaces *mod by its instrumented form; false (and a line saying so) if that fails. */
static bool
swap_instrumented(sr_wasm_module **mod)
{
    sr_err err = {0};
    uint8_t *out = NULL;
    size_t n = 0;
    sr_wasm_module *m2 = NULL;
    const sr_status st = sr_wasm_fuel_instrument(*mod, initial_fuel(), &out, &n, &m2, &err);
    free(out);
    sr_wasm_module_free(*mod);
    *mod = m2;
    if (st != SR_OK) {
        printf("instrument: error %s\n", err.msg);
        return false;
    }
    return true;
}

static bool
is_wasi_command(const sr_wasm_module *m)
{
    for (uint32_t i = 0; i < m->nimports; i++)
        if (strcmp(m->imports[i].module, "wasi_snapshot_preview1") != 0)
            return false;
    const struct sr_wasm__export *e = sr_wasm__find_export(m, "_start", 6);
    return e && e->kind == SR_WASM_EXTERN_FUNC;
}

static int
fixed_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    return 0;
}

static void
print_sha(const char *what, const uint8_t *p, size_t n)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    printf(" %s=%zu:", what, n);
    for (size_t k = 0; k < 8; k++)
        printf("%02x", h[k]);
}

/* The native tier's object for mod; NULL with a line printed when it cannot be made. */
static sr_wasm_native *
native_code(const sr_wasm_module *mod)
{
    sr_err err = {0};
    uint8_t *w = NULL, *so = NULL;
    size_t wlen = 0, so_len = 0;
    bool hit = false;
    sr_wasm_native *n = NULL;
    sr_status st = SR_OK;
    if (!g_native) {
        st = sr_wasm_native_glue(NULL, 0, &g_glue, &err);
        const struct sr_native_file files[] = {
            {"wasm-rt.h", g_glue.header, g_glue.header_len},
            {"g.c", g_glue.runtime, g_glue.runtime_len},
            {"s.c", g_glue.size, g_glue.size_len},
        };
        const struct sr_native_config cfg = {.cache_dir = native_dir, .files = files, .nfiles = 3};
        if (st == SR_OK)
            st = sr_native_new(&cfg, &g_native, &err);
    }
    if (st == SR_OK)
        st = sr_wasm_fuel_instrument_ex(mod, 0, SR_WASM_FUEL_NATIVE, &w, &wlen, NULL, &err);
    if (st == SR_OK)
        st = sr_native_get(g_native, w, wlen, &so, &so_len, &hit, &err);
    if (st == SR_OK)
        st = sr_wasm_native_load(so, so_len, &n, &err);
    free(w);
    free(so);
    if (st != SR_OK)
        printf("native: error %s: %s\n", sr_status_name(st), err.msg);
    return n;
}

static void
run_wasi(const sr_wasm_module *mod, const struct sr_wasm_limits *lim)
{
    static const char input[] = "fuel diff input\n";
    const char *argv[65] = {"guest"};
    for (size_t i = 0; i < nwasi_args; i++)
        argv[i + 1] = wasi_args[i];
    const struct sr_wasi_config cfg = {.argv = argv,
                                       .argc = nwasi_args + 1,
                                       .stdin_data = (const uint8_t *)input,
                                       .stdin_len = sizeof(input) - 1,
                                       .random = fixed_random,
                                       .fake_clock = true};
    struct sr_wasi_result res = {0};
    sr_err err = {0};
    sr_wasm_native *code = native_dir ? native_code(mod) : NULL;
    if (native_dir && !code)
        return;
    sr_status st = code ? sr_wasm_run_wasi_native(mod, code, lim, &cfg, &res, &err)
                        : sr_wasm_run_wasi(mod, lim, &cfg, &res, &err);
    sr_wasm_native_free(code);
    sr_wasm_trap t = res.trap;
    uint64_t gas = res.fuel_used;
    if (instrument && res.module_fuel) {
        gas = initial_fuel() - res.module_fuel_left;
        if (res.module_fuel_exhausted && t == SR_WASM_TRAP_UNREACHABLE) {
            t = SR_WASM_TRAP_FUEL;
            st = SR_ELIMIT; /* as sr_wasm_run_wasi() reports running out of fuel */
        }
    }
    printf("wasi status=%s exited=%d exit=%" PRIu32 " trap=%s limit=%d", sr_status_name(st),
           res.exited, res.exit_code, trap_category(t), res.memory_limit);
    print_sha("stdout", res.stdout_data, res.stdout_len);
    print_sha("stderr", res.stderr_data, res.stderr_len);
    printf(" gas=%" PRIu64 "\n", gas);
    sr_wasi_result_fini(&res);
}

static void
run_module(const uint8_t *bytes, size_t len)
{
    sr_err err = {0};
    sr_wasm_module *mod = NULL;
    sr_wasm_linker *lk = NULL;
    sr_wasm_instance *inst = NULL;
    struct host_import *hosts = NULL;
    const struct sr_wasm_limits lim = {.max_pages = DIFF_MAX_PAGES,
                                       .fuel = instrument ? 0 : fuel_limit};
    if (sr_wasm_module_new(bytes, len, &mod, &err) != SR_OK) {
        printf("compile: error\n");
        fprintf(stderr, "wasm_diff_driver: %s\n", err.msg);
        return;
    }
    if (instrument && !swap_instrumented(&mod))
        return;
    if (native_dir && !is_wasi_command(mod)) {
        sr_diff__run_native(mod, native_dir, initial_fuel(), &g_printers);
        sr_wasm_module_free(mod);
        return;
    }
    if (fuel_mode && is_wasi_command(mod)) {
        run_wasi(mod, &lim);
        sr_wasm_module_free(mod);
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
    if (fuel_mode && st != SR_OK && inst) { /* the start function trapped */
        printf("instantiate: trap %s\n", trap_category(run_trap(inst)));
        print_gas(inst);
        goto out;
    }
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
    print_gas(inst);
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
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--fuel") == 0 && i + 1 < argc) {
            fuel_mode = true;
            fuel_limit = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--fuel-each") == 0) {
            fuel_mode = fuel_each = true;
        } else if (strcmp(argv[i], "--instrument") == 0) {
            instrument = true;
        } else if (strcmp(argv[i], "--native") == 0 && i + 1 < argc) {
            native_dir = argv[++i];
        } else if (strcmp(argv[i], "--arg") == 0 && i + 1 < argc && nwasi_args < 64) {
            wasi_args[nwasi_args++] = argv[++i];
        } else {
            break;
        }
    }
    if (i >= argc || ((instrument || native_dir) && !fuel_mode) || (instrument && native_dir)) {
        fprintf(stderr, "usage: wasm_diff_driver [--fuel L | --fuel-each] [--instrument | "
                        "--native CACHE_DIR] [--arg A]... [L] FILE.wasm...\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    if (native_dir && sr_diff__native_init() != 0) {
        fprintf(stderr, "wasm_diff_driver: --native needs wabt's runtime sources in "
                        "/usr/share/wabt/wasm2c\n");
        return 2;
    }
    for (; i < argc; i++) {
        if (fuel_each) {
            fuel_limit = strtoull(argv[i], NULL, 10);
            if (++i >= argc)
                return 2;
        }
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
    sr_native_free(g_native);
    sr_wasm_native_glue_fini(&g_glue);
    sr_diff__native_fini();
    return 0;
}
