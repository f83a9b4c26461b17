/* SPDX-License-Identifier: MIT
 *
 * native.c - the spec runner's native mode (wasm_spec_runner --native DIR):
 * each module of a file rewritten for the native tier
 * (sr_wasm_fuel_instrument_ex with SR_WASM_FUEL_NATIVE, no fuel limit),
 * translated by wasm2c and compiled by the C compiler through sr_native_get()
 * (objects cached in DIR), loaded with dlopen and called through libffi.
 *
 * What runs the code is wabt's own runtime (wasm-rt-impl.c, configured as
 * the service's glue is: bounds checks on every access, a call-depth
 * counter) and a fixed file of this runner's, h.c: the spectest module's
 * imports, instantiation and a setjmp around every call. The service's
 * runtime glue (g.c) only runs WASI commands, so this mode checks the
 * generated code of every module and the fuel rewrite under wasm2c and cc;
 * tests/unit/runner_native_test.c and the native differential
 * (fuzz-replay/native_*) check the service's glue.
 *
 * Not covered (counted as skipped by runner.c): modules that import from
 * another module than spectest (register), functions with reference-typed
 * parameters or results, instantiation that traps, and the tables and
 * memories of spectest shared between modules (each module has its own).
 */
#include "spec_native.h"
#include "../native_test_rt.h"

#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sealrun/sr_native.h"
#include "wasm_int.h"

#define RT_DIR NATIVE_TEST_RT_DIR

/* wasm-rt.h as the generated code and wabt's runtime see it. */
static const char h_header[] = "#ifndef SPEC_WASM_RT_H\n"
                               "#define SPEC_WASM_RT_H\n"
                               "#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0\n"
                               "#define WASM_RT_USE_STACK_DEPTH_COUNT 1\n"
                               "#include \"/usr/include/wasm-rt.h\"\n"
                               /* as the service's glue compiles the generated code */
                               "#define inline inline __attribute__((always_inline))\n"
                               "#ifdef isnan\n"
                               "#undef isnan\n"
                               "#define isnan(x) __builtin_isunordered((x), (x))\n"
                               "#endif\n"
                               "#endif\n";

/* spectest's imports (test/core/spectest.wast), instantiation, calls. */
static const char h_glue[] =
    "#include <stdlib.h>\n"
    "#include \"m.h\"\n"
    "#include \"wasm-rt-impl.h\"\n"
    "struct Z_spectest_instance_t { int unused; };\n"
    "static struct Z_spectest_instance_t S;\n"
    "static u32 GI32 = 666; static u64 GI64 = 666; static f32 GF32 = 666.6f;\n"
    "static f64 GF64 = 666.6;\n"
    "static wasm_rt_memory_t MEM; static wasm_rt_funcref_table_t TAB;\n"
    "u32 *Z_spectestZ_global_i32(struct Z_spectest_instance_t *i) { (void)i; return &GI32; }\n"
    "u64 *Z_spectestZ_global_i64(struct Z_spectest_instance_t *i) { (void)i; return &GI64; }\n"
    "f32 *Z_spectestZ_global_f32(struct Z_spectest_instance_t *i) { (void)i; return &GF32; }\n"
    "f64 *Z_spectestZ_global_f64(struct Z_spectest_instance_t *i) { (void)i; return &GF64; }\n"
    "wasm_rt_memory_t *Z_spectestZ_memory(struct Z_spectest_instance_t *i) {\n"
    "  (void)i; return &MEM; }\n"
    "wasm_rt_funcref_table_t *Z_spectestZ_table(struct Z_spectest_instance_t *i) {\n"
    "  (void)i; return &TAB; }\n"
    "void Z_spectestZ_print(struct Z_spectest_instance_t *i) { (void)i; }\n"
    "void Z_spectestZ_print_i32(struct Z_spectest_instance_t *i, u32 a) { (void)i; (void)a; }\n"
    "void Z_spectestZ_print_i64(struct Z_spectest_instance_t *i, u64 a) { (void)i; (void)a; }\n"
    "void Z_spectestZ_print_f32(struct Z_spectest_instance_t *i, f32 a) { (void)i; (void)a; }\n"
    "void Z_spectestZ_print_f64(struct Z_spectest_instance_t *i, f64 a) { (void)i; (void)a; }\n"
    "void Z_spectestZ_print_i32_f32(struct Z_spectest_instance_t *i, u32 a, f32 b) {\n"
    "  (void)i; (void)a; (void)b; }\n"
    "void Z_spectestZ_print_f64_f64(struct Z_spectest_instance_t *i, f64 a, f64 b) {\n"
    "  (void)i; (void)a; (void)b; }\n"
    "typedef void (*h_fn)(void *);\n"
    "typedef void (*h_inst1)(Z_m_instance_t *);\n"
    "typedef void (*h_inst2)(Z_m_instance_t *, struct Z_spectest_instance_t *);\n"
    "/* Z_m_instantiate takes the spectest instance only when the module imports\n"
    " * from it: with_imports says which of the two it is */\n"
    "int h_new(int with_imports, void **out) {\n"
    "  static int ready;\n"
    "  if (!ready) {\n"
    "    wasm_rt_init(); wasm_rt_allocate_memory(&MEM, 1, 2);\n"
    "    wasm_rt_allocate_funcref_table(&TAB, 10, 20); Z_m_init_module(); ready = 1;\n"
    "  }\n"
    "  Z_m_instance_t *inst = calloc(1, sizeof(*inst));\n"
    "  if (!inst) return -1;\n"
    "  *out = inst;\n"
    "  wasm_rt_trap_t t = wasm_rt_impl_try();\n"
    "  if (t) return (int)t;\n"
    "  if (with_imports) ((h_inst2)(void (*)(void))Z_m_instantiate)(inst, &S);\n"
    "  else ((h_inst1)(void (*)(void))Z_m_instantiate)(inst);\n"
    "  return 0;\n"
    "}\n"
    "/* one instance per object: its memories and tables, then spectest's */\n"
    "void h_free(void *inst) {\n"
    "  if (inst) { Z_m_free(inst); free(inst); }\n"
    "  wasm_rt_free_memory(&MEM); wasm_rt_free_funcref_table(&TAB); wasm_rt_free();\n"
    "}\n"
    "int h_try(h_fn f, void *arg) {\n"
    "  wasm_rt_trap_t t = wasm_rt_impl_try();\n"
    "  if (t) return (int)t;\n"
    "  f(arg);\n"
    "  return 0;\n"
    "}\n";

typedef int (*h_new_fn)(int with_imports, void **out);
typedef int (*h_try_fn)(void (*f)(void *), void *arg);

struct spec_native {
    void *dl;
    int fd;
    void *inst;
    h_try_fn try_call;
    const sr_wasm_module *mod; /* borrowed: the original, for types */
};

static sr_native *g_nat;
static struct sr_native_file g_files[5];
static char *g_impl_c, *g_impl_h;

int
spec_native_init(const char *cache_dir, const char *opt_level, char *why, size_t cap)
{
    size_t lc = 0, lh = 0;
    g_impl_c = native_test_slurp(RT_DIR "/wasm-rt-impl.c", &lc);
    g_impl_h = native_test_slurp(RT_DIR "/wasm-rt-impl.h", &lh);
    g_impl_c = native_test_replace_once(g_impl_c, &lc, NATIVE_TEST_GROW_ZERO,
                                        NATIVE_TEST_GROW_WRAP NATIVE_TEST_GROW_ZERO);
    if (!g_impl_c || !g_impl_h) {
        (void)snprintf(why, cap, "wabt's runtime sources are not in %s (or not 1.0.32's)", RT_DIR);
        return -1;
    }
    g_files[0] = (struct sr_native_file){"wasm-rt.h", h_header, sizeof(h_header) - 1};
    g_files[1] = (struct sr_native_file){"wasm-rt-impl.h", g_impl_h, lh};
    g_files[2] = (struct sr_native_file){"wasm-rt-impl.c", g_impl_c, lc};
    g_files[3] = (struct sr_native_file){"h.c", h_glue, sizeof(h_glue) - 1};
    const struct sr_native_config cfg = {
        .cache_dir = cache_dir, .opt_level = opt_level, .files = g_files, .nfiles = 4};
    sr_err err = {0};
    if (sr_native_new(&cfg, &g_nat, &err) != SR_OK) {
        (void)snprintf(why, cap, "%s", err.msg);
        return -1;
    }
    return 0;
}

void
spec_native_fini(void)
{
    sr_native_free(g_nat);
    free(g_impl_c);
    free(g_impl_h);
}

/* wasm2c's name of export 'name': Z_mZ_ then [a-zA-Y0-9_] as they are,
 * every other byte as Z and two upper-case hex digits. */
static void
mangled(const char *name, size_t len, char *out, size_t cap)
{
    size_t at = (size_t)snprintf(out, cap, "Z_mZ_");
    for (size_t i = 0; i < len && at + 4 < cap; i++) {
        const unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Y') || (c >= '0' && c <= '9') || c == '_')
            out[at++] = (char)c;
        else
            at += (size_t)snprintf(out + at, cap - at, "Z%02X", c);
    }
    out[at] = '\0';
}

static bool
imports_only_spectest(const sr_wasm_module *m)
{
    for (uint32_t i = 0; i < m->nimports; i++)
        if (strcmp(m->imports[i].module, "spectest") != 0)
            return false;
    return true;
}

static int
load_object(const uint8_t *so, size_t len, struct spec_native *n)
{
    n->fd = memfd_create("spec-native", MFD_CLOEXEC);
    if (n->fd < 0 || write(n->fd, so, len) != (ssize_t)len)
        return -1;
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", n->fd);
    n->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    return n->dl ? 0 : -1;
}

/* Calls export 'field' (a function) of n: SPEC_NATIVE_OK, _TRAP (*trap
 * set), _SKIP (a type this mode does not pass). */
static enum spec_native_result
call_start(struct spec_native *n, int *trap)
{
    void *fn = dlsym(n->dl, "Z_mZ_sealrunZ3Astart");
    if (!fn)
        return SPEC_NATIVE_OK;
    ffi_cif cif;
    ffi_type *at[1] = {&ffi_type_pointer};
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, at) != FFI_OK)
        return SPEC_NATIVE_SKIP;
    void *inst = n->inst;
    void *args[1] = {&inst};
    struct native_test_call c = {fn, &cif, NULL, args};
    *trap = n->try_call(native_test_do_call, &c);
    return *trap ? SPEC_NATIVE_TRAP : SPEC_NATIVE_OK;
}

enum spec_native_result
spec_native_new(const sr_wasm_module *mod, struct spec_native **out, char *why, size_t cap)
{
    *out = NULL;
    if (!imports_only_spectest(mod)) {
        (void)snprintf(why, cap, "imports from another module than spectest");
        return SPEC_NATIVE_SKIP;
    }
    uint8_t *w = NULL, *so = NULL;
    size_t wlen = 0, so_len = 0;
    bool hit = false;
    sr_err err = {0};
    if (sr_wasm_fuel_instrument_ex(mod, UINT64_MAX, SR_WASM_FUEL_NATIVE, &w, &wlen, NULL, &err) !=
        SR_OK) {
        (void)snprintf(why, cap, "the fuel rewrite refused it: %s", err.msg);
        return SPEC_NATIVE_SKIP;
    }
    sr_status st = sr_native_get(g_nat, w, wlen, &so, &so_len, &hit, &err);
    free(w);
    if (st != SR_OK) {
        (void)snprintf(why, cap, "the native compiler failed: %s", err.msg);
        return SPEC_NATIVE_FAIL;
    }
    struct spec_native *n = calloc(1, sizeof(*n));
    if (!n) {
        free(so);
        return SPEC_NATIVE_FAIL;
    }
    n->fd = -1;
    n->mod = mod;
    int rc = load_object(so, so_len, n);
    free(so);
    h_new_fn hn = NULL;
    void *sym = rc == 0 ? dlsym(n->dl, "h_new") : NULL;
    memcpy(&hn, &sym, sizeof(sym));
    sym = rc == 0 ? dlsym(n->dl, "h_try") : NULL;
    memcpy(&n->try_call, &sym, sizeof(sym));
    if (!hn || !n->try_call) {
        (void)snprintf(why, cap, "cannot load the object: %s", dlerror());
        spec_native_free(n);
        return SPEC_NATIVE_FAIL;
    }
    int trap = hn(mod->nimports > 0, &n->inst);
    if (trap == 0 && call_start(n, &trap) == SPEC_NATIVE_OK && trap == 0) {
        *out = n;
        return SPEC_NATIVE_OK;
    }
    (void)snprintf(why, cap, "instantiation trapped (%d)", trap);
    spec_native_free(n);
    return SPEC_NATIVE_TRAP;
}

void
spec_native_free(struct spec_native *n)
{
    if (!n)
        return;
    void *sym = n->dl ? dlsym(n->dl, "h_free") : NULL;
    void (*h_free)(void *) = NULL;
    memcpy(&h_free, &sym, sizeof(sym));
    if (h_free && n->inst)
        h_free(n->inst); /* Z_m_free, then the object's spectest memory and table */
    else
        free(n->inst);
    if (n->dl)
        dlclose(n->dl);
    if (n->fd >= 0)
        close(n->fd);
    free(n);
}

static const struct sr_wasm__export *
find_export(const sr_wasm_module *m, const char *name, size_t len, uint8_t kind)
{
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == kind && m->exports[i].name_len == len &&
            memcmp(m->exports[i].name, name, len) == 0)
            return &m->exports[i];
    return NULL;
}

enum spec_native_result
spec_native_call(struct spec_native *n, const char *field, size_t flen, const uint64_t *args,
                 size_t nargs, uint64_t *results, size_t nres, int *trap)
{
    const sr_wasm_module *m = n->mod;
    const struct sr_wasm__export *x = find_export(m, field, flen, SR_WASM_EXTERN_FUNC);
    if (!x)
        return SPEC_NATIVE_FAIL;
    const struct sr_wasm__functype *ft = &m->types[m->func_types[x->index]];
    if (ft->nparams != nargs || ft->nresults != nres || nargs > 62 || nres > 62)
        return SPEC_NATIVE_FAIL;
    ffi_type *at[64], *rt[64];
    at[0] = &ffi_type_pointer;
    for (uint32_t i = 0; i < ft->nparams; i++)
        if (!(at[i + 1] = native_test_ffi_of(ft->types[i])))
            return SPEC_NATIVE_SKIP;
    for (uint32_t i = 0; i < ft->nresults; i++)
        if (!(rt[i] = native_test_ffi_of(ft->types[ft->nparams + i])))
            return SPEC_NATIVE_SKIP;
    rt[ft->nresults] = NULL;
    ffi_type multi = {.size = 0, .alignment = 0, .type = FFI_TYPE_STRUCT, .elements = rt};
    ffi_type *ret = ft->nresults == 0 ? &ffi_type_void : ft->nresults == 1 ? rt[0] : &multi;
    ffi_cif cif;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1 + ft->nparams, ret, at) != FFI_OK)
        return SPEC_NATIVE_FAIL;
    char name[3 * 1024 + 16];
    mangled(field, flen, name, sizeof(name));
    void *fn = dlsym(n->dl, name);
    if (!fn)
        return SPEC_NATIVE_FAIL;
    uint32_t a32[64];
    uint64_t a64[64];
    float af[64];
    double ad[64];
    void *argp[64];
    void *inst = n->inst;
    argp[0] = &inst;
    for (uint32_t i = 0; i < ft->nparams; i++) {
        switch (ft->types[i]) {
        case 0x7F:
            a32[i] = (uint32_t)args[i];
            argp[i + 1] = &a32[i];
            break;
        case 0x7E:
            a64[i] = args[i];
            argp[i + 1] = &a64[i];
            break;
        case 0x7D:
            a32[i] = (uint32_t)args[i];
            memcpy(&af[i], &a32[i], 4);
            argp[i + 1] = &af[i];
            break;
        default:
            memcpy(&ad[i], &args[i], 8);
            argp[i + 1] = &ad[i];
            break;
        }
    }
    uint64_t retbuf[72] __attribute__((aligned(16))) = {0};
    struct native_test_call c = {fn, &cif, retbuf, argp};
    *trap = n->try_call(native_test_do_call, &c);
    if (*trap)
        return SPEC_NATIVE_TRAP;
    if (ft->nresults == 1) {
        const uint8_t t = ft->types[ft->nparams];
        /* libffi widens integer results below a word to ffi_arg */
        results[0] = t == 0x7F ? (uint32_t)retbuf[0] : native_test_slot_of(t, retbuf);
    } else if (ft->nresults > 1) {
        size_t off = 0;
        for (uint32_t i = 0; i < ft->nresults; i++) {
            const size_t sz = rt[i]->size;
            off = (off + rt[i]->alignment - 1) / rt[i]->alignment * rt[i]->alignment;
            results[i] =
                native_test_slot_of(ft->types[ft->nparams + i], (const uint8_t *)retbuf + off);
            off += sz;
        }
    }
    return SPEC_NATIVE_OK;
}

enum spec_native_result
spec_native_global(struct spec_native *n, const char *field, size_t flen, uint64_t *out)
{
    const sr_wasm_module *m = n->mod;
    const struct sr_wasm__export *x = find_export(m, field, flen, SR_WASM_EXTERN_GLOBAL);
    if (!x)
        return SPEC_NATIVE_FAIL;
    uint8_t t = 0;
    if (x->index < m->nglobal_imports) {
        for (uint32_t i = 0, k = 0; i < m->nimports; i++)
            if (m->imports[i].kind == SR_WASM_EXTERN_GLOBAL && k++ == x->index)
                t = m->imports[i].vtype;
    } else {
        t = m->globals[x->index].type;
    }
    if (!native_test_ffi_of(t))
        return SPEC_NATIVE_SKIP;
    char name[3 * 1024 + 16];
    mangled(field, flen, name, sizeof(name));
    void *sym = dlsym(n->dl, name);
    void *(*get)(void *) = NULL;
    memcpy(&get, &sym, sizeof(sym));
    if (!get)
        return SPEC_NATIVE_FAIL;
    *out = native_test_slot_of(t, get(n->inst));
    return SPEC_NATIVE_OK;
}

const char *
spec_native_trap_text(int trap)
{
    switch (trap) {
    case 1: /* WASM_RT_TRAP_OOB: memories and tables alike */
        return "out of bounds";
    case 2:
        return "integer overflow";
    case 3:
        return "integer divide by zero";
    case 4:
        return "invalid conversion to integer";
    case 5:
        return "unreachable";
    case 6: /* one trap for every way call_indirect fails */
        return "indirect call";
    case 8:
        return "call stack exhausted";
    default:
        return "trap";
    }
}
