/* SPDX-License-Identifier: MIT
 *
 * runner.c - runs the official WebAssembly core test suite, as converted by
 * wabt's wast2json, against sr_wasm.
 *
 * usage: wasm_spec_runner [--verbose] [--fuel-instrument] --spectest spectest.wasm FILE.json...
 *        wasm_spec_runner --missing DIR     (prints why the suite is skipped, exits 77)
 *
 * --fuel-instrument runs every module of the files as rewritten by
 * sr_wasm_fuel_instrument() (no fuel limit): the rewrite must keep every
 * result, trap and message (ctest spec-fuel/<name>).
 *
 * [--native-opt -O0|-O1|-O2|-O3|-Os] --native CACHE_DIR runs every action on the
 * native tier instead
 * (native.c: the module rewritten for it, wasm2c and cc through
 * sr_native_get(), called through libffi; ctest spec-native/<name>). Only
 * modules, actions and assertions that ran natively count as passed; what
 * this mode does not run (native.c lists it) and every assert_invalid,
 * assert_malformed, assert_unlinkable and assert_uninstantiable (the
 * decoder's and the linker's, the same in both tiers) count as skipped.
 * Trap messages are compared as far as wasm2c tells them apart: one trap for
 * out-of-bounds memory and table accesses, one for every way call_indirect
 * fails.
 *
 * Every command kind is executed: module, register, action, assert_return
 * (including nan:canonical / nan:arithmetic), assert_trap (message checked),
 * assert_exhaustion, assert_invalid, assert_malformed, assert_unlinkable and
 * assert_uninstantiable. Modules given in the text format ("module quote",
 * only in assert_malformed) cannot be checked by a binary-only engine: they
 * are counted as skipped and reported separately. Modules, actions and
 * assertions count as tests (as in wabt's spectest-interp), register does
 * not. Prints per-file counts and a closing "N passed, N failed" line; exits
 * 1 if anything failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sealrun/sr_wasm.h"
#include "spec_native.h"

#define MAX_VALUES 64
#define MAX_REPORTED 30

struct named {
    char *name;
    sr_wasm_instance *inst;
};

/* --native: the native twin of an instance (NULL: skipped, see native.c). */
struct twin {
    sr_wasm_instance *inst;
    struct spec_native *native;
};

struct file_state {
    const char *dir;
    const char *file;
    sr_wasm_linker *lk;
    sr_wasm_module **mods;
    size_t nmods, capmods;
    struct named *names;
    size_t nnames;
    sr_wasm_instance *current;
    struct twin *twins;
    size_t ntwins;
    long passed, failed, skipped, reported;
    bool verbose;
};

static const char *g_spectest;
static bool g_instrument; /* --fuel-instrument */
static bool g_native;     /* --native */

static int
load_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        const size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        cap *= 2;
        uint8_t *p = realloc(buf, cap);
        if (!p) {
            free(buf);
            buf = NULL;
        }
        buf = p;
    }
    fclose(f);
    if (!buf)
        return -1;
    *out = buf;
    *len = n;
    return 0;
}

static void fail(struct file_state *fs, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct file_state *fs, long line, const char *fmt, ...)
{
    fs->failed++;
    if (fs->reported++ >= MAX_REPORTED)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%ld: FAIL: ", fs->file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Loads FILE (relative to the JSON's directory) as a module. */
static sr_status
load_module(struct file_state *fs, const char *filename, sr_wasm_module **out, sr_err *err)
{
    char path[4096];
    uint8_t *bytes = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/%s", fs->dir, filename);
    if (load_file(path, &bytes, &len) != 0)
        return sr_err_set(err, SR_EIO, "cannot read '%s': %s", path, strerror(errno));
    sr_status st = sr_wasm_module_new(bytes, len, out, err);
    free(bytes);
    if (st == SR_OK && g_instrument) {
        /* the module with fuel in it (no limit) must behave as the module itself */
        sr_wasm_module *m2 = NULL;
        uint8_t *fueled = NULL;
        size_t flen = 0;
        st = sr_wasm_fuel_instrument(*out, UINT64_MAX, &fueled, &flen, &m2, err);
        free(fueled);
        sr_wasm_module_free(*out);
        *out = m2;
    }
    if (st != SR_OK)
        return st;
    if (fs->nmods == fs->capmods) {
        fs->capmods = fs->capmods ? fs->capmods * 2 : 16;
        sr_wasm_module **m = realloc(fs->mods, fs->capmods * sizeof(*m));
        if (!m) {
            sr_wasm_module_free(*out);
            return sr_err_set(err, SR_ENOMEM, "out of memory");
        }
        fs->mods = m;
    }
    fs->mods[fs->nmods++] = *out;
    return SR_OK;
}

static sr_status
instantiate(struct file_state *fs, const char *filename, sr_wasm_instance **out, sr_err *err)
{
    sr_wasm_module *mod = NULL;
    sr_status st = load_module(fs, filename, &mod, err);
    if (st != SR_OK)
        return st;
    /* Generous limits: the suite's exhaustion tests recurse without bound. */
    const struct sr_wasm_limits lim = {.max_depth = 20000, .max_stack = 1u << 22};
    return sr_wasm_linker_instantiate(fs->lk, mod, &lim, out, err);
}

static sr_wasm_instance *
find_instance(struct file_state *fs, const char *name)
{
    if (!name)
        return fs->current;
    for (size_t i = fs->nnames; i-- > 0;)
        if (strcmp(fs->names[i].name, name) == 0)
            return fs->names[i].inst;
    return NULL;
}

static void
add_name(struct file_state *fs, const char *name, sr_wasm_instance *inst)
{
    struct named *n = realloc(fs->names, (fs->nnames + 1) * sizeof(*n));
    if (!n)
        return;
    fs->names = n;
    fs->names[fs->nnames].name = strdup(name);
    fs->names[fs->nnames].inst = inst;
    fs->nnames++;
}

/* A JSON value {"type": T, "value": V}: its 64-bit pattern. */
static int
parse_value(json_t *v, uint64_t *bits, const char **type, const char **nan)
{
    *type = json_string_value(json_object_get(v, "type"));
    json_t *jv = json_object_get(v, "value");
    const char *s = json_string_value(jv);
    *nan = NULL;
    *bits = 0;
    if (!*type)
        return -1;
    const bool is_ref = strcmp(*type, "externref") == 0 || strcmp(*type, "funcref") == 0;
    if (!s) {
        if (is_ref) {
            *nan = "any"; /* a non-null reference of this type */
            return 0;
        }
        return -1;
    }
    if (strncmp(s, "nan:", 4) == 0) {
        *nan = s;
        return 0;
    }
    if (is_ref && strcmp(s, "null") == 0)
        return 0;
    errno = 0;
    char *end = NULL;
    const unsigned long long x = strtoull(s, &end, 10);
    if (errno || !end || *end)
        return -1;
    *bits = is_ref ? x + 1 : x; /* externref N is passed as N+1; 0 is null */
    return 0;
}

static struct twin *
twin_of(struct file_state *fs, const sr_wasm_instance *inst)
{
    for (size_t i = fs->ntwins; i-- > 0;)
        if (fs->twins[i].inst == inst)
            return &fs->twins[i];
    return NULL;
}

/* No twin runs again: a module that may have changed their state (an
 * import of theirs) did not run natively. */
static void
taint_all(struct file_state *fs)
{
    for (size_t i = 0; i < fs->ntwins; i++) {
        spec_native_free(fs->twins[i].native);
        fs->twins[i].native = NULL;
    }
}

/* do_action on the native twin: SR_ECONFLICT when this mode skips it. */
static sr_status
native_action(struct file_state *fs, sr_wasm_instance *inst, json_t *action, const char *type,
              const uint64_t *argv, size_t nargs, uint64_t *results, size_t nres, sr_err *err)
{
    struct twin *tw = twin_of(fs, inst);
    struct spec_native *n = tw ? tw->native : NULL;
    json_t *jfield = json_object_get(action, "field");
    const char *field = json_string_value(jfield);
    const size_t flen = json_string_length(jfield);
    int trap = 0;
    if (!n)
        return sr_err_set(err, SR_ECONFLICT, "not run natively");
    enum spec_native_result r =
        strcmp(type, "get") == 0
            ? (nres == 1 ? spec_native_global(n, field, flen, &results[0]) : SPEC_NATIVE_FAIL)
            : spec_native_call(n, field, flen, argv, nargs, results, nres, &trap);
    if (r == SPEC_NATIVE_SKIP) {
        /* what it would have changed the twin lacks from now on */
        spec_native_free(n);
        tw->native = NULL;
        return sr_err_set(err, SR_ECONFLICT, "not run natively");
    }
    if (r == SPEC_NATIVE_FAIL)
        return sr_err_set(err, SR_EINTERNAL, "native: cannot call '%s'", field);
    if (r == SPEC_NATIVE_TRAP)
        return sr_err_set(err, trap == 8 ? SR_ELIMIT : SR_ETRAP, "%s", spec_native_trap_text(trap));
    return SR_OK;
}

/* Runs an action; returns SR_OK and fills results, or the error. */
static sr_status
do_action(struct file_state *fs, json_t *action, uint64_t *results, size_t nres, sr_err *err)
{
    const char *type = json_string_value(json_object_get(action, "type"));
    const char *field = json_string_value(json_object_get(action, "field"));
    const char *modname = json_string_value(json_object_get(action, "module"));
    sr_wasm_instance *inst = find_instance(fs, modname);
    if (!inst || !type || !field)
        return sr_err_set(err, SR_ENOTFOUND, "no instance for action on '%s'",
                          modname ? modname : "(current)");
    if (g_native && strcmp(type, "get") == 0)
        return native_action(fs, inst, action, type, NULL, 0, results, nres, err);
    if (strcmp(type, "get") == 0 && !g_native) {
        int t = 0;
        if (nres != 1)
            return sr_err_set(err, SR_EINVAL, "get expects one result");
        return sr_wasm_global_read(inst, field, &t, &results[0], err);
    }
    json_t *args = json_object_get(action, "args");
    uint64_t argv[MAX_VALUES];
    size_t nargs = json_array_size(args);
    if (nargs > MAX_VALUES)
        return sr_err_set(err, SR_EINVAL, "too many arguments");
    for (size_t i = 0; i < nargs; i++) {
        const char *t = NULL, *nan = NULL;
        if (parse_value(json_array_get(args, i), &argv[i], &t, &nan) != 0 || nan)
            return sr_err_set(err, SR_EINVAL, "bad argument %zu", i);
    }
    json_t *jfield = json_object_get(action, "field");
    if (g_native) {
        /* the interpreter's instance does it too: modules linked to it later
         * (register) see the state the suite expects */
        uint64_t ignored[MAX_VALUES];
        sr_err e2 = {0};
        (void)sr_wasm_call_n(inst, field, json_string_length(jfield), argv, nargs, ignored,
                             nres < MAX_VALUES ? nres : MAX_VALUES, &e2);
        return native_action(fs, inst, action, type, argv, nargs, results, nres, err);
    }
    return sr_wasm_call_n(inst, field, json_string_length(jfield), argv, nargs, results, nres, err);
}

static bool
value_matches(json_t *expected, uint64_t got)
{
    uint64_t bits = 0;
    const char *type = NULL, *nan = NULL;
    if (parse_value(expected, &bits, &type, &nan) != 0)
        return false;
    const bool f32 = strcmp(type, "f32") == 0;
    const bool f64 = strcmp(type, "f64") == 0;
    if (nan && strcmp(nan, "any") == 0)
        return got != 0;
    if (nan) {
        const bool canonical = strcmp(nan, "nan:canonical") == 0;
        if (f32) {
            const uint32_t g = (uint32_t)got;
            return canonical ? (g & 0x7fffffffu) == 0x7fc00000u : (g & 0x7fc00000u) == 0x7fc00000u;
        }
        if (f64)
            return canonical ? (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull
                             : (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
        return false;
    }
    if (strcmp(type, "i32") == 0 || f32)
        return (uint32_t)got == (uint32_t)bits;
    return got == bits;
}

static void
cmd_assert_return(struct file_state *fs, json_t *cmd, long line)
{
    json_t *expected = json_object_get(cmd, "expected");
    const size_t n = json_array_size(expected);
    uint64_t results[MAX_VALUES] = {0};
    sr_err err = {0};
    if (n > MAX_VALUES) {
        fail(fs, line, "too many expected values");
        return;
    }
    sr_status st = do_action(fs, json_object_get(cmd, "action"), results, n, &err);
    if (g_native && st == SR_ECONFLICT) {
        fs->skipped++;
        return;
    }
    if (st != SR_OK) {
        fail(fs, line, "assert_return: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!value_matches(json_array_get(expected, i), results[i])) {
            char *want = json_dumps(json_array_get(expected, i), JSON_COMPACT);
            fail(fs, line, "assert_return: result %zu is 0x%" PRIx64 ", expected %s", i, results[i],
                 want ? want : "?");
            free(want);
            return;
        }
    }
    fs->passed++;
}

static size_t
expected_count(json_t *cmd)
{
    return json_array_size(json_object_get(cmd, "expected"));
}

static bool
text_matches(const char *got, const char *want)
{
    const size_t g = strlen(got), w = strlen(want);
    return strncmp(got, want, g < w ? g : w) == 0;
}

static void
cmd_assert_trap(struct file_state *fs, json_t *cmd, long line, bool exhaustion)
{
    const char *text = json_string_value(json_object_get(cmd, "text"));
    uint64_t results[MAX_VALUES];
    sr_err err = {0};
    sr_status st =
        do_action(fs, json_object_get(cmd, "action"), results, expected_count(cmd), &err);
    if (g_native && st == SR_ECONFLICT) {
        fs->skipped++;
        return;
    }
    if (g_native && exhaustion) {
        if (st != SR_ELIMIT)
            fail(fs, line, "assert_exhaustion: got %s '%s'", sr_status_name(st), err.msg);
        else
            fs->passed++;
        return;
    }
    /* wasm2c has one trap for every way call_indirect fails */
    if (g_native && st == SR_ETRAP && text && strcmp(err.msg, "indirect call") == 0 &&
        (text_matches("undefined element", text) || text_matches("uninitialized element", text) ||
         text_matches("indirect call type mismatch", text))) {
        fs->passed++;
        return;
    }
    if (st == SR_OK) {
        fail(fs, line, "%s: returned, expected a trap '%s'",
             exhaustion ? "assert_exhaustion" : "assert_trap", text ? text : "");
        return;
    }
    if (exhaustion) {
        sr_wasm_instance *inst = find_instance(
            fs, json_string_value(json_object_get(json_object_get(cmd, "action"), "module")));
        const sr_wasm_trap t = inst ? sr_wasm_instance_trap(inst) : SR_WASM_TRAP_NONE;
        if (t != SR_WASM_TRAP_CALL_DEPTH && t != SR_WASM_TRAP_VALUE_STACK) {
            fail(fs, line, "assert_exhaustion: got '%s'", err.msg);
            return;
        }
    } else if (st != SR_ETRAP || !text || !text_matches(err.msg, text)) {
        fail(fs, line, "assert_trap: got '%s', expected '%s'", err.msg, text ? text : "");
        return;
    }
    fs->passed++;
}

static void
cmd_module(struct file_state *fs, json_t *cmd, long line)
{
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    const char *name = json_string_value(json_object_get(cmd, "name"));
    sr_wasm_instance *inst = NULL;
    sr_err err = {0};
    fs->current = NULL;
    if (!filename || instantiate(fs, filename, &inst, &err) != SR_OK) {
        fail(fs, line, "module %s: %s", filename ? filename : "?", err.msg);
        return;
    }
    fs->current = inst;
    if (name)
        add_name(fs, name, inst);
    if (g_native) {
        struct spec_native *n = NULL;
        char why[600] = "";
        enum spec_native_result r = spec_native_new(fs->mods[fs->nmods - 1], &n, why, sizeof(why));
        struct twin *t = realloc(fs->twins, (fs->ntwins + 1) * sizeof(*t));
        if (!t) {
            spec_native_free(n);
            fail(fs, line, "out of memory");
            return;
        }
        fs->twins = t;
        fs->twins[fs->ntwins++] = (struct twin){inst, n};
        if (r == SPEC_NATIVE_SKIP && sr_wasm_module_import_count(fs->mods[fs->nmods - 1]) > 0)
            taint_all(fs); /* it may have changed another module's memory, table or globals */
        if (r == SPEC_NATIVE_SKIP) {
            if (fs->verbose)
                printf("%s:%ld: module skipped natively: %s\n", fs->file, line, why);
            fs->skipped++;
        } else if (r != SPEC_NATIVE_OK) {
            fail(fs, line, "module %s natively: %s", filename, why);
        } else {
            fs->passed++;
        }
        return;
    }
    fs->passed++;
}

static void
cmd_bad_module(struct file_state *fs, json_t *cmd, long line, const char *kind)
{
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    const char *mtype = json_string_value(json_object_get(cmd, "module_type"));
    const char *text = json_string_value(json_object_get(cmd, "text"));
    sr_wasm_module *mod = NULL;
    sr_wasm_instance *inst = NULL;
    sr_err err = {0};
    if (mtype && strcmp(mtype, "text") == 0) {
        fs->skipped++; /* text format: a binary-only engine cannot decode it */
        return;
    }
    const bool decode_fails =
        strcmp(kind, "assert_invalid") == 0 || strcmp(kind, "assert_malformed") == 0;
    sr_status st = load_module(fs, filename, &mod, &err);
    if (decode_fails) {
        if (st == SR_EINVAL) {
            if (fs->verbose)
                printf("%s:%ld: %s ok: '%s' (expected '%s')\n", fs->file, line, kind, err.msg,
                       text ? text : "");
            if (g_native)
                fs->skipped++; /* native: the decoder's, not the tier's */
            else
                fs->passed++;
        } else {
            fail(fs, line, "%s: module %s was accepted, expected '%s'", kind, filename,
                 text ? text : "");
        }
        return;
    }
    if (st != SR_OK) {
        fail(fs, line, "%s: module %s did not load: %s", kind, filename, err.msg);
        return;
    }
    const struct sr_wasm_limits lim = {.max_depth = 20000, .max_stack = 1u << 22};
    st = sr_wasm_linker_instantiate(fs->lk, mod, &lim, &inst, &err);
    const bool unlinkable = strcmp(kind, "assert_unlinkable") == 0;
    if (g_native && sr_wasm_module_import_count(mod) > 0)
        taint_all(fs); /* its segments may have written into an imported table or memory */
    if ((unlinkable && st == SR_EINVAL) ||
        (!unlinkable && st == SR_ETRAP && (!text || text_matches(err.msg, text)))) {
        if (g_native)
            fs->skipped++; /* native: the linker's, not the tier's */
        else
            fs->passed++;
        return;
    }
    fail(fs, line, "%s: got %s '%s', expected '%s'", kind, sr_status_name(st), err.msg,
         text ? text : "");
}

static void
cmd_register(struct file_state *fs, json_t *cmd, long line)
{
    const char *as = json_string_value(json_object_get(cmd, "as"));
    sr_wasm_instance *inst = find_instance(fs, json_string_value(json_object_get(cmd, "name")));
    sr_err err = {0};
    if (!as || !inst || sr_wasm_linker_register(fs->lk, as, inst, &err) != SR_OK)
        fail(fs, line, "register: %s", inst ? err.msg : "no such instance");
}

static void
run_command(struct file_state *fs, json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    const long line = (long)json_integer_value(json_object_get(cmd, "line"));
    if (getenv("SR_SPEC_TRACE"))
        fprintf(stderr, "%s:%ld: %s\n", fs->file, line, type ? type : "?");
    if (!type) {
        fail(fs, line, "command without a type");
    } else if (strcmp(type, "module") == 0) {
        cmd_module(fs, cmd, line);
    } else if (strcmp(type, "register") == 0) {
        cmd_register(fs, cmd, line);
    } else if (strcmp(type, "action") == 0) {
        uint64_t results[MAX_VALUES];
        sr_err err = {0};
        sr_status st =
            do_action(fs, json_object_get(cmd, "action"), results, expected_count(cmd), &err);
        if (g_native && st == SR_ECONFLICT)
            fs->skipped++;
        else if (st != SR_OK)
            fail(fs, line, "action: %s", err.msg);
        else
            fs->passed++;
    } else if (strcmp(type, "assert_return") == 0) {
        cmd_assert_return(fs, cmd, line);
    } else if (strcmp(type, "assert_trap") == 0) {
        cmd_assert_trap(fs, cmd, line, false);
    } else if (strcmp(type, "assert_exhaustion") == 0) {
        cmd_assert_trap(fs, cmd, line, true);
    } else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0 ||
               strcmp(type, "assert_unlinkable") == 0 ||
               strcmp(type, "assert_uninstantiable") == 0) {
        cmd_bad_module(fs, cmd, line, type);
    } else {
        fail(fs, line, "unknown command type '%s'", type);
    }
}

static int
setup_spectest(struct file_state *fs)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    sr_wasm_module *mod = NULL;
    sr_wasm_instance *inst = NULL;
    sr_err err = {0};
    if (load_file(g_spectest, &bytes, &len) != 0) {
        fprintf(stderr, "cannot read spectest module '%s'\n", g_spectest);
        return -1;
    }
    sr_status st = sr_wasm_module_new(bytes, len, &mod, &err);
    free(bytes);
    if (st == SR_OK) {
        fs->mods[fs->nmods++] = mod;
        st = sr_wasm_linker_instantiate(fs->lk, mod, NULL, &inst, &err);
    }
    if (st == SR_OK)
        st = sr_wasm_linker_register(fs->lk, "spectest", inst, &err);
    if (st != SR_OK) {
        fprintf(stderr, "spectest module: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int
run_file(const char *path, bool verbose, long *passed, long *failed, long *skipped)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!root) {
        fprintf(stderr, "%s: cannot parse: %s\n", path, jerr.text);
        (*failed)++;
        return -1;
    }
    struct file_state fs = {.dir = dir, .file = base, .verbose = verbose};
    sr_err err = {0};
    fs.capmods = 16;
    fs.mods = calloc(fs.capmods, sizeof(*fs.mods));
    if (!fs.mods || sr_wasm_linker_new(&fs.lk, &err) != SR_OK || setup_spectest(&fs) != 0) {
        fs.failed++;
    } else {
        json_t *cmds = json_object_get(root, "commands");
        for (size_t i = 0; i < json_array_size(cmds); i++)
            run_command(&fs, json_array_get(cmds, i));
    }
    printf("%-28s %6ld passed, %4ld failed, %4ld skipped (%s)\n", base, fs.passed, fs.failed,
           fs.skipped, g_native ? "not run natively" : "text format");
    *passed += fs.passed;
    *failed += fs.failed;
    *skipped += fs.skipped;
    sr_wasm_linker_free(fs.lk);
    for (size_t i = 0; i < fs.ntwins; i++)
        spec_native_free(fs.twins[i].native);
    free(fs.twins);
    for (size_t i = 0; i < fs.nmods; i++)
        sr_wasm_module_free(fs.mods[i]);
    free(fs.mods);
    for (size_t i = 0; i < fs.nnames; i++)
        free(fs.names[i].name);
    free(fs.names);
    json_decref(root);
    return 0;
}

int
main(int argc, char **argv)
{
    long passed = 0, failed = 0, skipped = 0;
    bool verbose = false;
    const char *native_opt = NULL; /* --native-opt, before --native */
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--missing") == 0) {
            printf("wasm spec tests skipped: the suite '%s' (or wast2json/wat2wasm) is absent\n",
                   i + 1 < argc ? argv[i + 1] : "../shared/wasm-testsuite");
            return 77;
        }
        if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--fuel-instrument") == 0) {
            g_instrument = true;
        } else if (strcmp(argv[i], "--native-opt") == 0 && i + 1 < argc) {
            native_opt = argv[++i];
        } else if (strcmp(argv[i], "--native") == 0 && i + 1 < argc) {
            char why[600];
            if (spec_native_init(argv[++i], native_opt, why, sizeof(why)) != 0) {
                printf("wasm spec tests on the native tier skipped: %s\n", why);
                return 77;
            }
            g_native = true;
        } else if (strcmp(argv[i], "--spectest") == 0 && i + 1 < argc) {
            g_spectest = argv[++i];
        } else {
            if (!g_spectest) {
                fprintf(stderr, "usage: %s [--verbose] --spectest spectest.wasm FILE.json...\n",
                        argv[0]);
                return 2;
            }
            run_file(argv[i], verbose, &passed, &failed, &skipped);
            nfiles++;
        }
    }
    if (nfiles == 0) {
        printf("wasm spec tests skipped: no JSON files given\n");
        return 77;
    }
    if (g_native)
        printf("%ld passed, %ld failed (%ld skipped: not run natively)\n", passed, failed, skipped);
    else
        printf("%ld passed, %ld failed (%ld text-format assert_malformed skipped: binary-only "
               "engine)\n",
               passed, failed, skipped);
    if (g_native)
        spec_native_fini();
    return failed ? 1 : 0;
}
