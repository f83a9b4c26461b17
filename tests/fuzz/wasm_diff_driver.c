/*
 * wasm_diff_driver.c - runs a module the way `wasm-interp --run-all-exports
 * --dummy-import-func` does, printing the same lines, so that
 * scripts/wasm-diff.sh can compare sealrun with wabt line by line.
 *
 * usage: wasm_diff_driver [--fuel N] FILE.wasm
 *
 * Every function import is a host function that prints
 *   called host MODULE.NAME(i32:1, f64:0.500000) => i32:0
 * and returns zeros (as wabt's dummy imports do); other imports fail
 * instantiation. Then each exported function without parameters is called in
 * export order, printing "NAME() => i32:1, f32:nan" (integers unsigned, floats
 * with %f, references as 0 when null and 1 otherwise) or "NAME() => error: MSG"
 * on a trap. Default limits apart from the optional fuel. Exit status: 0 after
 * all calls, 2 if the module is rejected or cannot be instantiated (message on
 * stdout prefixed "error: ").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_err.h"
#include "sealrun/sr_wasm.h"
#include "wasm_int.h"

#define DIFF_MAX_MODULE (64u << 20)

struct host_import {
    const struct sr_wasm__import *im;
    const struct sr_wasm__functype *ft;
};

static void
print_value(uint8_t type, uint64_t v)
{
    union {
        uint32_t u;
        float f;
    } f32;
    union {
        uint64_t u;
        double d;
    } f64;
    switch (type) {
    case SR_WASM_I32:
        printf("i32:%" PRIu32, (uint32_t)v);
        break;
    case SR_WASM_I64:
        printf("i64:%" PRIu64, v);
        break;
    case SR_WASM_F32:
        f32.u = (uint32_t)v;
        printf("f32:%f", (double)f32.f);
        break;
    case SR_WASM_F64:
        f64.u = v;
        printf("f64:%f", f64.d);
        break;
    case SR_WASM_FUNCREF:
        printf("funcref:%d", v != 0);
        break;
    default:
        printf("externref:%d", v != 0);
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

static sr_status
dummy_import(void *ctx, sr_wasm_instance *caller, uint64_t *slots)
{
    (void)caller;
    const struct host_import *h = ctx;
    printf("called host %s.%s(", h->im->module, h->im->name);
    print_values(h->ft->types, slots, h->ft->nparams);
    printf(") =>");
    for (uint32_t i = 0; i < h->ft->nresults; i++) {
        slots[i] = 0;
        printf("%s", i ? ", " : " ");
        print_value(h->ft->types[h->ft->nparams + i], 0);
    }
    printf("\n");
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

static sr_status
define_imports(sr_wasm_linker *lk, const sr_wasm_module *m, struct host_import *hosts, sr_err *err)
{
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        if (im->kind != SR_WASM_EXTERN_FUNC)
            continue;
        const struct sr_wasm__functype *ft = &m->types[im->type];
        char *sig = malloc((size_t)ft->nparams + ft->nresults + 2);
        if (!sig)
            return sr_err_set(err, SR_ENOMEM, "out of memory for an import signature");
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
        sr_status st =
            sr_wasm_linker_define_func(lk, im->module, im->name, sig, dummy_import, &hosts[i], err);
        free(sig);
        if (st != SR_OK)
            return st;
    }
    return SR_OK;
}

static void
call_exports(sr_wasm_instance *inst, const sr_wasm_module *m)
{
    uint64_t res[SR_WASM__MAX_TYPE_ARITY];
    for (uint32_t i = 0; i < m->nexports; i++) {
        const struct sr_wasm__export *e = &m->exports[i];
        if (e->kind != SR_WASM_EXTERN_FUNC)
            continue;
        const struct sr_wasm__functype *ft = &m->types[m->func_types[e->index]];
        if (ft->nparams != 0)
            continue;
        sr_err err;
        memset(&err, 0, sizeof err);
        fflush(stdout);
        sr_status st = sr_wasm_call_n(inst, e->name, e->name_len, NULL, 0, res, ft->nresults, &err);
        printf("%.*s() =>", (int)e->name_len, e->name);
        if (st != SR_OK) {
            printf(" error: %s\n", err.msg);
            continue;
        }
        if (ft->nresults)
            printf(" ");
        print_values(ft->types + ft->nparams, res, ft->nresults);
        printf("\n");
    }
}

static uint8_t *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "wasm_diff_driver: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(DIFF_MAX_MODULE);
    size_t n = buf ? fread(buf, 1, DIFF_MAX_MODULE, f) : 0;
    fclose(f);
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    struct sr_wasm_limits lim = {0};
    int ai = 1;
    if (argc == 4 && strcmp(argv[1], "--fuel") == 0) {
        lim.fuel = strtoull(argv[2], NULL, 10);
        ai = 3;
    }
    if (ai != argc - 1) {
        fprintf(stderr, "usage: wasm_diff_driver [--fuel N] FILE.wasm\n");
        return 1;
    }
    size_t len = 0;
    uint8_t *bytes = read_all(argv[ai], &len);
    if (!bytes)
        return 1;
    sr_err err;
    memset(&err, 0, sizeof err);
    sr_wasm_module *mod = NULL;
    sr_wasm_linker *lk = NULL;
    struct host_import *hosts = NULL;
    sr_wasm_instance *inst = NULL;
    int rc = 2;
    if (sr_wasm_module_new(bytes, len, &mod, &err) != SR_OK)
        goto out;
    hosts = calloc((size_t)mod->nimports + 1, sizeof *hosts);
    if (!hosts || sr_wasm_linker_new(&lk, &err) != SR_OK ||
        define_imports(lk, mod, hosts, &err) != SR_OK ||
        sr_wasm_linker_instantiate(lk, mod, &lim, &inst, &err) != SR_OK)
        goto out;
    call_exports(inst, mod);
    rc = 0;
out:
    if (rc)
        printf("error: %s\n", err.msg[0] ? err.msg : "out of memory");
    sr_wasm_linker_free(lk);
    free(hosts);
    sr_wasm_module_free(mod);
    free(bytes);
    return rc;
}
