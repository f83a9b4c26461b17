/* SPDX-License-Identifier: MIT
 *
 * fuzz_wasm_run.c - libFuzzer target: parse, validate, instantiate and run
 * arbitrary modules under tight limits.
 *
 * Limits: fuel 10,000, 16 pages, call depth 64, 64 Ki value-stack slots,
 * 1,000 table elements, so that one input runs in milliseconds. Imports:
 * a module whose imports all come from wasi_snapshot_preview1 and that
 * exports _start runs through sr_wasm_run_wasi() (fake clock, fixed random
 * bytes); otherwise every function import is satisfied by a host function of
 * the right signature that traps, and other imports make instantiation fail
 * (a valid outcome). Then every exported function is called with zero
 * arguments of its parameter types (0 is also the null reference).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"
#include "wasm_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sr_wasm_limits fuzz_limits = {
    .max_pages = 16,
    .fuel = 10000,
    .max_depth = 64,
    .max_stack = 1u << 16,
    .max_table = 1000,
};

static sr_status
fuzz_host_trap(void *ctx, sr_wasm_instance *caller, uint64_t *slots)
{
    (void)ctx;
    (void)slots;
    return sr_wasm_host_trap(caller, "fuzz: imported host function called");
}

static int
fuzz_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 37u + 11u);
    return 0;
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

/* "params:results" for a host function; NULL if the type is too wide. */
static char *
sig_of(const struct sr_wasm__functype *ft)
{
    size_t n = (size_t)ft->nparams + ft->nresults;
    char *s = malloc(n + 2);
    if (!s)
        return NULL;
    size_t k = 0;
    for (uint32_t i = 0; i < ft->nparams; i++)
        s[k++] = type_letter(ft->types[i]);
    s[k++] = ':';
    for (uint32_t i = 0; i < ft->nresults; i++)
        s[k++] = type_letter(ft->types[ft->nparams + i]);
    s[k] = '\0';
    return s;
}

static bool
only_wasi_imports(const sr_wasm_module *m)
{
    for (uint32_t i = 0; i < m->nimports; i++)
        if (strcmp(m->imports[i].module, "wasi_snapshot_preview1") != 0)
            return false;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].name_len == 6 && memcmp(m->exports[i].name, "_start", 6) == 0)
            return true;
    return false;
}

static void
run_wasi(const sr_wasm_module *m)
{
    static const char *const argv[] = {"fuzz", "arg1"};
    static const char *const env[] = {"FUZZ=1"};
    static const uint8_t input[] = "{\"input\":\"hello\"}";
    const struct sr_wasi_config cfg = {
        .argv = argv,
        .argc = 2,
        .env = env,
        .envc = 1,
        .stdin_data = input,
        .stdin_len = sizeof input - 1,
        .stdout_max = 4096,
        .stderr_max = 4096,
        .random = fuzz_random,
        .fake_clock = true,
    };
    struct sr_wasi_result res;
    memset(&res, 0, sizeof res);
    (void)sr_wasm_run_wasi(m, &fuzz_limits, &cfg, &res, NULL);
    sr_wasi_result_fini(&res);
}

static void
call_exports(sr_wasm_instance *inst, const sr_wasm_module *m)
{
    for (uint32_t i = 0; i < m->nexports; i++) {
        const struct sr_wasm__export *e = &m->exports[i];
        if (e->kind != SR_WASM_EXTERN_FUNC)
            continue;
        const struct sr_wasm__functype *ft = &m->types[m->func_types[e->index]];
        uint64_t *args = calloc((size_t)ft->nparams + 1, sizeof *args);
        uint64_t *res = calloc((size_t)ft->nresults + 1, sizeof *res);
        if (args && res) {
            sr_err err;
            memset(&err, 0, sizeof err);
            (void)sr_wasm_call_n(inst, e->name, e->name_len, args, ft->nparams, res, ft->nresults,
                                 &err);
        }
        free(args);
        free(res);
    }
}

static void
run_linked(const sr_wasm_module *m)
{
    sr_wasm_linker *lk = NULL;
    if (sr_wasm_linker_new(&lk, NULL) != SR_OK)
        return;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        if (im->kind != SR_WASM_EXTERN_FUNC || strlen(im->name) != im->name_len ||
            strlen(im->module) != im->module_len)
            continue; /* left unresolved: instantiation fails, a valid outcome */
        char *sig = sig_of(&m->types[im->type]);
        if (!sig)
            break;
        sr_status st =
            sr_wasm_linker_define_func(lk, im->module, im->name, sig, fuzz_host_trap, NULL, NULL);
        free(sig);
        if (st != SR_OK)
            break;
    }
    sr_wasm_instance *inst = NULL;
    if (sr_wasm_linker_instantiate(lk, m, &fuzz_limits, &inst, NULL) == SR_OK)
        call_exports(inst, m);
    sr_wasm_linker_free(lk);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_wasm_module *mod = NULL;
    if (sr_wasm_module_new(data, size, &mod, NULL) != SR_OK)
        return 0; /* rejecting the input is a valid outcome */
    if (mod->nimports == 0) {
        sr_wasm_instance *inst = NULL;
        if (sr_wasm_instance_new(mod, &fuzz_limits, &inst, NULL) == SR_OK)
            call_exports(inst, mod);
        sr_wasm_instance_free(inst);
    } else if (only_wasi_imports(mod)) {
        run_wasi(mod);
    } else {
        run_linked(mod);
    }
    sr_wasm_module_free(mod);
    return 0;
}
