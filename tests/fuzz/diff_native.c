/* SPDX-License-Identifier: MIT
 *
 * diff_native.c - wasm_diff_driver --native for modules that are not WASI
 * commands (the wasm_diff and wasm_run corpora): the module rewritten for the
 * native tier (sr_wasm_fuel_instrument_ex, SR_WASM_FUEL_NATIVE), translated
 * by wasm2c and compiled by cc through sr_native_get() with a file of this
 * driver's (its imports: one thunk per imported function, which reports its
 * arguments back and returns zeros, as the interpreter's side does), run by
 * wabt's runtime configured as the service's glue is (bounds checks, a
 * call-depth counter of SR_WASM_DEFAULT_DEPTH), each export called through
 * libffi, printing the transcript the interpreter prints (wasm_diff_driver.c).
 *
 * Not run here (one line says so, and the comparison counts it as skipped):
 * imports other than functions, reference types in an import's or an
 * export's signature. The thunks are generated from the module's import
 * names and types: a test tool's, never the service's (whose glue comes from
 * sealrun's own tables only).
 */
#include "diff_native.h"
#include "../native_test_rt.h"

#include <dlfcn.h>
#include <ffi.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_native.h"

/* The layouts of wasm2c's memories and tables, as in the object. */
#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#include "/usr/include/wasm-rt.h"

#define RT_DIR NATIVE_TEST_RT_DIR
#define DIFF_MAX_IMPORTS 256u

static const char h_header[] = "#ifndef DIFF_WASM_RT_H\n"
                               "#define DIFF_WASM_RT_H\n"
                               "#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0\n"
                               "#define WASM_RT_USE_STACK_DEPTH_COUNT 1\n"
                               "#define WASM_RT_MAX_CALL_STACK_DEPTH 10000\n"
                               "#include \"/usr/include/wasm-rt.h\"\n"
                               "#endif\n";

static const char h_common[] =
    "#include <stdint.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#include \"m.h\"\n"
    "#include \"wasm-rt-impl.h\"\n"
    "int diff_limit_hit;\n"
    "typedef void (*h_cb)(unsigned idx, const uint64_t *args);\n"
    "static h_cb CB;\n"
    "void h_set_cb(h_cb f) { CB = f; }\n"
    "static uint64_t B32(u32 v) { return v; }\n"
    "static uint64_t B64(u64 v) { return v; }\n"
    "static uint64_t BF(f32 v) { u32 b; memcpy(&b, &v, 4); return b; }\n"
    "static uint64_t BD(f64 v) { u64 b; memcpy(&b, &v, 8); return b; }\n"
    "typedef void (*h_fn)(void *);\n"
    "int h_try(h_fn f, void *arg) {\n"
    "  wasm_rt_trap_t t = wasm_rt_impl_try();\n"
    "  if (t) return (int)t;\n"
    "  f(arg);\n"
    "  return 0;\n"
    "}\n"
    "void h_free(void *inst) { if (inst) { Z_m_free(inst); free(inst); } wasm_rt_free(); }\n";

static char *g_impl_c, *g_impl_h;
static size_t g_impl_c_len, g_impl_h_len;

/* wabt 1.0.32's runtime, made to end as the interpreter's side does (NULL
 * when its text is not the expected one: another wabt, look again):
 * - wasm_rt_grow_memory reports success for a grow whose page count wraps
 *   around to 0 (grow(0xffffffff) from 1 page): checked in 64 bits, as the
 *   service's glue (g.c) does;
 * - memories stop at the interpreter side's cap (DIFF_MAX_PAGES, 2048) and
 *   tables at SR_WASM_DEFAULT_TABLE elements (the interpreter's cap is for
 *   all tables of an instance together, this one per table), a grow past
 *   them refused and reported as "note: limit" when the module's own
 *   maximum would have allowed it. Takes impl. */
static char *
fix_runtime(char *impl, size_t *len)
{
    impl = native_test_replace_once(
        impl, len, NATIVE_TEST_GROW_ZERO,
        NATIVE_TEST_GROW_WRAP
        "  { extern int diff_limit_hit;\n"
        "    if (new_pages > 2048u && new_pages <= memory->max_pages) {\n"
        "      diff_limit_hit = 1; return (uint32_t)-1; } }\n" NATIVE_TEST_GROW_ZERO);
    return native_test_replace_once(
        impl, len, "    if (new_elems == 0) {                                               \\\n",
        "    { extern int diff_limit_hit;                                        \\\n"
        "      if (new_elems > 10000000u && new_elems <= table->max_size) {      \\\n"
        "        diff_limit_hit = 1; return (uint32_t)-1; } }                    \\\n"
        "    if (new_elems == 0) {                                               \\\n");
}

static void
mangle(sr_buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        char z[4];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Y') || (c >= '0' && c <= '9') ||
            c == '_') {
            (void)sr_buf_append(b, &c, 1, NULL);
        } else {
            (void)snprintf(z, sizeof(z), "Z%02X", c);
            (void)sr_buf_append(b, z, 3, NULL);
        }
    }
}

static const char *
c_type(uint8_t t)
{
    return t == SR_WASM_I32 ? "u32" : t == SR_WASM_I64 ? "u64" : t == SR_WASM_F32 ? "f32" : "f64";
}

static char
multi_letter(uint8_t t)
{
    return t == SR_WASM_I32 ? 'i' : t == SR_WASM_I64 ? 'j' : t == SR_WASM_F32 ? 'f' : 'd';
}

static const char *
bits_fn(uint8_t t)
{
    return t == SR_WASM_I32 ? "B32" : t == SR_WASM_I64 ? "B64" : t == SR_WASM_F32 ? "BF" : "BD";
}

static bool
plain(uint8_t t)
{
    return t == SR_WASM_I32 || t == SR_WASM_I64 || t == SR_WASM_F32 || t == SR_WASM_F64;
}

static bool
plain_sig(const struct sr_wasm__functype *ft)
{
    for (uint32_t j = 0; j < ft->nparams + ft->nresults; j++)
        if (!plain(ft->types[j]))
            return false;
    return true;
}

static int
by_name(const void *a, const void *b)
{
    const struct sr_wasm__import *const *x = a, *const *y = b;
    return strcmp((*x)->module, (*y)->module);
}

/* The module-specific file: one instance struct per imported module name
 * (wasm2c passes them to Z_m_instantiate sorted by name), one thunk per
 * imported function, h_new. */
static bool
glue_for(const sr_wasm_module *m, sr_buf *g, const char **why)
{
    const struct sr_wasm__import *mods[DIFF_MAX_IMPORTS];
    size_t nmods = 0;
    if (m->nimports > DIFF_MAX_IMPORTS) {
        *why = "too many imports";
        return false;
    }
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        if (im->kind != SR_WASM_EXTERN_FUNC) {
            *why = "an import that is not a function";
            return false;
        }
        if (!plain_sig(&m->types[im->type])) {
            *why = "reference types in an import";
            return false;
        }
        if (strlen(im->module) != im->module_len || strlen(im->name) != im->name_len) {
            *why = "an import name with a NUL byte"; /* the interpreter's side refuses it */
            return false;
        }
        for (uint32_t k = 0; k < i; k++)
            if (strcmp(m->imports[k].module, im->module) == 0 &&
                strcmp(m->imports[k].name, im->name) == 0) {
                *why = "an import name given twice";
                return false;
            }
        bool seen = false;
        for (size_t k = 0; k < nmods && !seen; k++)
            seen = strcmp(mods[k]->module, im->module) == 0;
        if (!seen)
            mods[nmods++] = im;
    }
    qsort(mods, nmods, sizeof(mods[0]), by_name);
    (void)sr_buf_append_str(g, h_common, NULL);
    for (size_t k = 0; k < nmods; k++) {
        (void)sr_buf_append_str(g, "struct Z_", NULL);
        mangle(g, mods[k]->module, mods[k]->module_len);
        (void)sr_buf_printf(g, NULL, "_instance_t { int unused; };\nstatic struct Z_");
        mangle(g, mods[k]->module, mods[k]->module_len);
        (void)sr_buf_printf(g, NULL, "_instance_t I%zu;\n", k);
    }
    for (uint32_t i = 0; i < m->nimports; i++) {
        const struct sr_wasm__import *im = &m->imports[i];
        const struct sr_wasm__functype *ft = &m->types[im->type];
        char multi[80] = "wasm_multi_";
        for (uint32_t j = 0; j < ft->nresults && j < 60; j++)
            multi[11 + j] = multi_letter(ft->types[ft->nparams + j]);
        multi[11 + (ft->nresults < 60 ? ft->nresults : 60)] = '\0';
        if (ft->nresults == 0)
            (void)sr_buf_append_str(g, "void ", NULL);
        else if (ft->nresults == 1)
            (void)sr_buf_printf(g, NULL, "%s ", c_type(ft->types[ft->nparams]));
        else
            (void)sr_buf_printf(g, NULL, "struct %s ", multi);
        (void)sr_buf_append_str(g, "Z_", NULL);
        mangle(g, im->module, im->module_len);
        (void)sr_buf_append_str(g, "Z_", NULL);
        mangle(g, im->name, im->name_len);
        (void)sr_buf_append_str(g, "(struct Z_", NULL);
        mangle(g, im->module, im->module_len);
        (void)sr_buf_append_str(g, "_instance_t *inst", NULL);
        for (uint32_t j = 0; j < ft->nparams; j++)
            (void)sr_buf_printf(g, NULL, ", %s a%u", c_type(ft->types[j]), j);
        (void)sr_buf_printf(g, NULL, ") {\n  uint64_t s[%u] = {0};\n  (void)inst;\n",
                            ft->nparams + 1);
        for (uint32_t j = 0; j < ft->nparams; j++)
            (void)sr_buf_printf(g, NULL, "  s[%u] = %s(a%u);\n", j, bits_fn(ft->types[j]), j);
        (void)sr_buf_printf(g, NULL, "  CB(%u, s);\n", i);
        if (ft->nresults == 1)
            (void)sr_buf_append_str(g, "  return 0;\n", NULL);
        else if (ft->nresults > 1)
            (void)sr_buf_printf(g, NULL, "  struct %s r; memset(&r, 0, sizeof(r)); return r;\n",
                                multi);
        (void)sr_buf_append_str(g, "}\n", NULL);
    }
    (void)sr_buf_append_str(g,
                            "int h_new(void **out) {\n"
                            "  static int ready;\n"
                            "  if (!ready) { wasm_rt_init(); Z_m_init_module(); ready = 1; }\n"
                            "  Z_m_instance_t *inst = calloc(1, sizeof(*inst));\n"
                            "  if (!inst) return -1;\n"
                            "  *out = inst;\n"
                            "  wasm_rt_trap_t t = wasm_rt_impl_try();\n"
                            "  if (t) return (int)t;\n"
                            "  Z_m_instantiate(inst",
                            NULL);
    for (size_t k = 0; k < nmods; k++)
        (void)sr_buf_printf(g, NULL, ", &I%zu", k);
    (void)sr_buf_append_str(g, ");\n  return 0;\n}\n", NULL);
    return true;
}

struct loaded {
    void *dl;
    int fd;
    void *inst;
    int (*try_call)(void (*f)(void *), void *arg);
};

static const sr_wasm_module *g_mod; /* for the host lines */
static void (*g_print_host)(const struct sr_wasm__import *, const struct sr_wasm__functype *,
                            const uint64_t *);

static void
host_cb(unsigned idx, const uint64_t *args)
{
    const struct sr_wasm__import *im = &g_mod->imports[idx];
    g_print_host(im, &g_mod->types[im->type], args);
}

static bool
compile_load(const sr_wasm_module *mod, const char *cache_dir, struct loaded *L, const char **why,
             char *msg, size_t cap)
{
    sr_buf g;
    sr_buf_init(&g, 64u << 20);
    if (!glue_for(mod, &g, why)) {
        sr_buf_fini(&g);
        return false;
    }
    const struct sr_native_file files[] = {
        {"wasm-rt.h", h_header, sizeof(h_header) - 1},
        {"wasm-rt-impl.h", g_impl_h, g_impl_h_len},
        {"wasm-rt-impl.c", g_impl_c, g_impl_c_len},
        {"h.c", g.data, g.len},
    };
    const struct sr_native_config cfg = {.cache_dir = cache_dir, .files = files, .nfiles = 4};
    sr_native *nat = NULL;
    sr_err err = {0};
    uint8_t *w = NULL, *so = NULL;
    size_t wlen = 0, so_len = 0;
    bool hit = false;
    sr_status st = sr_native_new(&cfg, &nat, &err);
    if (st == SR_OK)
        st = sr_wasm_fuel_instrument_ex(mod, 0, SR_WASM_FUEL_NATIVE, &w, &wlen, NULL, &err);
    if (st == SR_OK)
        st = sr_native_get(nat, w, wlen, &so, &so_len, &hit, &err);
    sr_native_free(nat);
    sr_buf_fini(&g);
    free(w);
    if (st != SR_OK) {
        (void)snprintf(msg, cap, "%s", err.msg);
        *why = msg;
        return false;
    }
    L->fd = memfd_create("diff-native", MFD_CLOEXEC);
    bool ok = L->fd >= 0 && write(L->fd, so, so_len) == (ssize_t)so_len;
    free(so);
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", L->fd);
    L->dl = ok ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *s1 = L->dl ? dlsym(L->dl, "h_try") : NULL;
    memcpy(&L->try_call, &s1, sizeof(s1));
    if (!L->try_call) {
        (void)snprintf(msg, cap, "cannot load the object: %s", dlerror());
        *why = msg;
        return false;
    }
    return true;
}

static void *
sym(const struct loaded *L, const char *name, size_t len)
{
    sr_buf b;
    sr_buf_init(&b, 8192);
    (void)sr_buf_append_str(&b, "Z_mZ_", NULL);
    mangle(&b, name, len);
    void *p = b.data ? dlsym(L->dl, b.data) : NULL;
    sr_buf_fini(&b);
    return p;
}

/* Calls fn (nparams args of ft, results into res); the trap code or 0. */
static int
call_fn(const struct loaded *L, void *fn, const struct sr_wasm__functype *ft, const uint64_t *args,
        uint64_t *res)
{
    ffi_type *at[SR_WASM__MAX_TYPE_ARITY + 1], *rt[SR_WASM__MAX_TYPE_ARITY + 1];
    at[0] = &ffi_type_pointer;
    for (uint32_t i = 0; i < ft->nparams; i++)
        at[i + 1] = native_test_ffi_of(ft->types[i]);
    for (uint32_t i = 0; i < ft->nresults; i++)
        rt[i] = native_test_ffi_of(ft->types[ft->nparams + i]);
    rt[ft->nresults] = NULL;
    ffi_type multi = {.size = 0, .alignment = 0, .type = FFI_TYPE_STRUCT, .elements = rt};
    ffi_type *ret = ft->nresults == 0 ? &ffi_type_void : ft->nresults == 1 ? rt[0] : &multi;
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1 + ft->nparams, ret, at) != FFI_OK)
        return -1;
    static uint64_t a64[SR_WASM__MAX_TYPE_ARITY];
    static void *argp[SR_WASM__MAX_TYPE_ARITY + 1];
    void *inst = L->inst;
    argp[0] = &inst;
    for (uint32_t i = 0; i < ft->nparams; i++) {
        a64[i] = args[i]; /* the low bytes hold an i32's or f32's bits (little-endian) */
        argp[i + 1] = &a64[i];
    }
    static uint64_t retbuf[SR_WASM__MAX_TYPE_ARITY + 8];
    memset(retbuf, 0, sizeof(retbuf));
    struct native_test_call c = {fn, &cif, retbuf, argp};
    int trap = L->try_call(native_test_do_call, &c);
    if (trap)
        return trap;
    if (ft->nresults == 1) {
        const uint8_t t = ft->types[ft->nparams];
        res[0] = t == SR_WASM_I32 ? (uint32_t)retbuf[0] : native_test_slot_of(t, retbuf);
    } else {
        size_t off = 0;
        for (uint32_t i = 0; i < ft->nresults; i++) {
            off = (off + rt[i]->alignment - 1) / rt[i]->alignment * rt[i]->alignment;
            res[i] = native_test_slot_of(ft->types[ft->nparams + i], (const uint8_t *)retbuf + off);
            off += rt[i]->size;
        }
    }
    return 0;
}

static sr_wasm_trap
as_trap(int code)
{
    switch (code) {
    case 1:
        return SR_WASM_TRAP_MEM_OOB; /* wasm2c: memories and tables alike */
    case 2:
        return SR_WASM_TRAP_INT_OVERFLOW;
    case 3:
        return SR_WASM_TRAP_DIV_ZERO;
    case 4:
        return SR_WASM_TRAP_INVALID_CONV;
    case 5:
        return SR_WASM_TRAP_UNREACHABLE;
    case 6:
        return SR_WASM_TRAP_INDIRECT_TYPE;
    case 8:
        return SR_WASM_TRAP_CALL_DEPTH;
    default:
        return SR_WASM_TRAP_NONE;
    }
}

int
sr_diff__native_init(void)
{
    g_impl_c = native_test_slurp(RT_DIR "/wasm-rt-impl.c", &g_impl_c_len);
    g_impl_h = native_test_slurp(RT_DIR "/wasm-rt-impl.h", &g_impl_h_len);
    g_impl_c = fix_runtime(g_impl_c, &g_impl_c_len);
    return g_impl_c && g_impl_h ? 0 : -1;
}

void
sr_diff__native_fini(void)
{
    free(g_impl_c);
    free(g_impl_h);
}

void
sr_diff__run_native(const sr_wasm_module *mod, const char *cache_dir, uint64_t initial_fuel,
                    const struct sr_diff__printers *pr)
{
    for (uint32_t i = 0; i < mod->nexports; i++) {
        const struct sr_wasm__export *e = &mod->exports[i];
        if (e->kind == SR_WASM_EXTERN_FUNC && !plain_sig(&mod->types[mod->func_types[e->index]])) {
            printf("native: not supported (reference types in an export)\n");
            return;
        }
        if (e->kind == SR_WASM_EXTERN_GLOBAL && !plain(mod->globals[e->index].type)) {
            printf("native: not supported (reference types in an export)\n");
            return;
        }
    }
    struct loaded L = {.fd = -1};
    const char *why = NULL;
    char msg[600];
    if (!compile_load(mod, cache_dir, &L, &why, msg, sizeof(msg))) {
        if (strncmp(why, "an import", 9) == 0 || strncmp(why, "reference", 9) == 0 ||
            strncmp(why, "too many", 8) == 0)
            printf("native: not supported (%s)\n", why);
        else
            printf("native: error %s\n", why);
        goto out;
    }
    g_mod = mod;
    g_print_host = pr->host;
    void *s = dlsym(L.dl, "h_set_cb");
    void (*set_cb)(void (*)(unsigned, const uint64_t *)) = NULL;
    memcpy(&set_cb, &s, sizeof(s));
    set_cb(host_cb);
    s = dlsym(L.dl, "h_new");
    int (*h_new)(void **) = NULL;
    memcpy(&h_new, &s, sizeof(s));
    int trap = h_new(&L.inst);
    uint64_t *fuel = NULL;
    uint32_t *flag = NULL;
    void *(*acc)(void *) = NULL;
    s = sym(&L, SR_WASM_FUEL_EXPORT, strlen(SR_WASM_FUEL_EXPORT));
    memcpy(&acc, &s, sizeof(s));
    fuel = acc && !trap ? acc(L.inst) : NULL;
    s = sym(&L, SR_WASM_FUEL_FLAG_EXPORT, strlen(SR_WASM_FUEL_FLAG_EXPORT));
    memcpy(&acc, &s, sizeof(s));
    flag = acc && !trap ? acc(L.inst) : NULL;
    if (trap || !fuel || !flag) { /* a segment out of bounds: no guest code ran */
        printf("instantiate: trap %s\ngas 0\n", pr->category(as_trap(trap)));
        goto out;
    }
    *fuel = initial_fuel;
    void *start = sym(&L, SR_WASM_START_EXPORT, strlen(SR_WASM_START_EXPORT));
    const struct sr_wasm__functype none = {0, 0, NULL};
    if (start && (trap = call_fn(&L, start, &none, NULL, NULL)) != 0) {
        sr_wasm_trap t = as_trap(trap);
        if (*flag == 1 && t == SR_WASM_TRAP_UNREACHABLE)
            t = SR_WASM_TRAP_FUEL;
        printf("instantiate: trap %s\n", pr->category(t));
        printf("gas %" PRIu64 "\n", initial_fuel - *fuel);
        goto out;
    }
    printf("instantiate: ok\n");
    printf("gas %" PRIu64 "\n", initial_fuel - *fuel);
    static uint64_t args[SR_WASM__MAX_TYPE_ARITY], res[SR_WASM__MAX_TYPE_ARITY];
    for (unsigned r = 0; r < 2; r++) {
        unsigned ord = 0;
        for (uint32_t i = 0; i < mod->nexports; i++) {
            const struct sr_wasm__export *e = &mod->exports[i];
            if (e->kind != SR_WASM_EXTERN_FUNC)
                continue;
            const struct sr_wasm__functype *ft = &mod->types[mod->func_types[e->index]];
            for (uint32_t j = 0; j < ft->nparams; j++)
                args[j] = pr->arg(ft->types[j], r, ord, j);
            ord++;
            printf("call ");
            pr->name(e->name, e->name_len);
            printf("#%u(", r);
            pr->values(ft->types, args, ft->nparams);
            printf(")\n");
            *flag = 0;
            void *fn = sym(&L, e->name, e->name_len);
            trap = fn ? call_fn(&L, fn, ft, args, res) : -1;
            printf("=> ");
            if (trap) {
                sr_wasm_trap t = as_trap(trap);
                if (*flag == 1 && t == SR_WASM_TRAP_UNREACHABLE)
                    t = SR_WASM_TRAP_FUEL;
                printf(t == SR_WASM_TRAP_NONE ? "error\n" : "trap %s\n", pr->category(t));
            } else {
                pr->values(ft->types + ft->nparams, res, ft->nresults);
                printf("\n");
            }
            printf("gas %" PRIu64 "\n", initial_fuel - *fuel);
        }
    }
    for (uint32_t i = 0; i < mod->nexports; i++) {
        const struct sr_wasm__export *e = &mod->exports[i];
        s = sym(&L, e->name, e->name_len);
        memcpy(&acc, &s, sizeof(s));
        if (!acc)
            continue;
        if (e->kind == SR_WASM_EXTERN_GLOBAL) {
            const uint8_t t = mod->globals[e->index].type;
            printf("global ");
            pr->name(e->name, e->name_len);
            printf(" = ");
            pr->value(t, native_test_slot_of(t, acc(L.inst)));
            printf("\n");
        } else if (e->kind == SR_WASM_EXTERN_MEMORY) {
            const wasm_rt_memory_t *m = acc(L.inst);
            printf("memory ");
            pr->name(e->name, e->name_len);
            printf(" pages=%" PRIu32 " sha256=", m->pages);
            pr->sha(m->data, m->size);
            printf("\n");
        } else if (e->kind == SR_WASM_EXTERN_TABLE) {
            const wasm_rt_funcref_table_t *tb = acc(L.inst); /* externref tables: the same layout */
            printf("table ");
            pr->name(e->name, e->name_len);
            printf(" size=%" PRIu32 "\n", tb->size);
        }
    }
    s = dlsym(L.dl, "diff_limit_hit");
    if (s && *(const int *)s)
        printf("note: limit\n");
out:
    if (L.dl) {
        s = dlsym(L.dl, "h_free");
        void (*h_free)(void *) = NULL;
        memcpy(&h_free, &s, sizeof(s));
        if (h_free)
            h_free(L.inst);
        dlclose(L.dl);
    } else {
        free(L.inst);
    }
    if (L.fd >= 0)
        close(L.fd);
}
