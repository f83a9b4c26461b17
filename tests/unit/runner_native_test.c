/* SPDX-License-Identifier: MIT
 *
 * tests/unit/runner_native_test.c - the native tier end to end in one process: a WASI
 * guest made native (sr_wasm_fuel_instrument_ex), compiled with sealrun's glue
 * (sr_wasm_native_glue + sr_native_get), loaded (sr_wasm_native_load) and run
 * (sr_wasm_run_wasi_native) must end exactly as the interpreter ends on the original:
 * status, trap, message, exit code, fuel_used, memory limit, stdout and stderr, at
 * every fuel limit tried (none, what the run needs, one less, half, 1) and in every
 * mode of tests/data/wasm/guest.c (out-of-bounds stores, deep recursion to the call
 * depth limit, memory growth past the cap, traps, exit codes, large output).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_native.h"
#include "sealrun/sr_wasm.h"

static sr_wasm_module *g_mod;
static sr_native *g_nat;
static sr_wasm_native *g_code;
static struct sr_wasm_native_glue g_glue;
static char g_dir[64];
static uint32_t g_depth; /* max_depth of the runs; 0 = the default */

static uint8_t *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(1 << 22);
    *len = buf ? fread(buf, 1, 1 << 22, f) : 0;
    fclose(f);
    return buf;
}

static sr_wasm_native *
compile(const sr_wasm_module *mod, sr_err *err)
{
    uint8_t *w = NULL, *so = NULL;
    size_t wlen = 0, so_len = 0;
    bool hit = false;
    sr_wasm_native *n = NULL;
    sr_status st = sr_wasm_fuel_instrument_ex(mod, 0, SR_WASM_FUEL_NATIVE, &w, &wlen, NULL, err);
    if (st == SR_OK)
        st = sr_native_get(g_nat, w, wlen, &so, &so_len, &hit, err);
    if (st == SR_OK)
        st = sr_wasm_native_load(so, so_len, &n, err);
    free(w);
    free(so);
    return st == SR_OK ? n : NULL;
}

static int
setup(void **state)
{
    (void)state;
    const char *dir = getenv("SR_WASM_GUESTS");
    char path[1024];
    snprintf(path, sizeof(path), "%s/guest_c.wasm", dir ? dir : "data/wasm");
    size_t len = 0;
    uint8_t *bytes = read_all(path, &len);
    if (!bytes) {
        fprintf(stderr, "guest '%s' not built (clang/wasi-libc missing?)\n", path);
        return -1;
    }
    sr_err err = {0};
    sr_status st = sr_wasm_module_new(bytes, len, &g_mod, &err);
    free(bytes);
    if (st == SR_OK)
        st = sr_wasm_native_glue(NULL, 0, &g_glue, &err);
    snprintf(g_dir, sizeof(g_dir), "/tmp/sr-native-run-XXXXXX");
    if (st == SR_OK && !mkdtemp(g_dir))
        st = SR_EIO;
    const struct sr_native_file files[] = {
        {"wasm-rt.h", g_glue.header, g_glue.header_len},
        {"g.c", g_glue.runtime, g_glue.runtime_len},
        {"s.c", g_glue.size, g_glue.size_len},
    };
    const struct sr_native_config cfg = {
        .cache_dir = g_dir, .opt_level = "-O1", .files = files, .nfiles = 3};
    if (st == SR_OK)
        st = sr_native_new(&cfg, &g_nat, &err);
    if (st == SR_OK)
        g_code = compile(g_mod, &err);
    if (st != SR_OK || !g_code) {
        fprintf(stderr, "native setup: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sr_wasm_native_free(g_code);
    sr_native_free(g_nat);
    sr_wasm_native_glue_fini(&g_glue);
    sr_wasm_module_free(g_mod);
    DIR *d = opendir(g_dir);
    const struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            (void)unlinkat(dirfd(d), e->d_name, 0);
    if (d)
        closedir(d);
    rmdir(g_dir);
    return 0;
}

static int
fixed_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    return 0;
}

/* Runs the guest with argv both ways; returns the interpreter's fuel_used. */
static uint64_t
same(const sr_wasm_module *mod, const sr_wasm_native *code, const char *const *argv, size_t argc,
     uint64_t fuel, uint32_t max_pages)
{
    static const char stdin_text[] = "hello from stdin\n";
    const char *const env[] = {"A=1", "SECRET=s3cr3t"};
    const struct sr_wasi_config cfg = {
        .argv = argv,
        .argc = argc,
        .env = env,
        .envc = 2,
        .stdin_data = (const uint8_t *)stdin_text,
        .stdin_len = sizeof(stdin_text) - 1,
        .random = fixed_random,
        .fake_clock = true,
    };
    const struct sr_wasm_limits lim = {.fuel = fuel, .max_pages = max_pages, .max_depth = g_depth};
    struct sr_wasi_result a = {0}, b = {0};
    sr_err ea = {0}, eb = {0};
    const sr_status sa = sr_wasm_run_wasi(mod, &lim, &cfg, &a, &ea);
    const sr_status sb = sr_wasm_run_wasi_native(mod, code, &lim, &cfg, &b, &eb);
    char what[256];
    snprintf(what, sizeof(what), "%s %s fuel %llu", argc > 1 ? argv[1] : "",
             argc > 2 ? argv[2] : "", (unsigned long long)fuel);
    if (sa != sb || a.trap != b.trap || a.fuel_used != b.fuel_used ||
        strcmp(a.message, b.message) != 0 || strcmp(ea.msg, eb.msg) != 0)
        fail_msg("%s: interpreter %s trap %d fuel %llu '%s' / native %s trap %d fuel %llu '%s'",
                 what, sr_status_name(sa), a.trap, (unsigned long long)a.fuel_used, ea.msg,
                 sr_status_name(sb), b.trap, (unsigned long long)b.fuel_used, eb.msg);
    assert_int_equal(a.exited, b.exited);
    assert_int_equal(a.exit_code, b.exit_code);
    assert_int_equal(a.memory_limit, b.memory_limit);
    assert_int_equal(a.stdout_truncated, b.stdout_truncated);
    assert_int_equal(a.stdout_len, b.stdout_len);
    assert_int_equal(a.stderr_len, b.stderr_len);
    if (a.stdout_len)
        assert_memory_equal(a.stdout_data, b.stdout_data, a.stdout_len);
    if (a.stderr_len)
        assert_memory_equal(a.stderr_data, b.stderr_data, a.stderr_len);
    const uint64_t used = a.fuel_used;
    sr_wasi_result_fini(&a);
    sr_wasi_result_fini(&b);
    return used;
}

static void
test_every_mode_at_every_fuel_limit(void **state)
{
    (void)state;
    static const char *const modes[][3] = {
        {"echo"},
        {"args", "one", "two"},
        {"exit", "3"},
        {"grow"},
        {"depth", "100"},
        {"depth", "200000"},
        {"spin"},
        {"stack", "1000"},
        {"stack", "100000"},
        {"random"},
        {"clock"},
        {"bigout"},
        {"logs", "20", "100"},
        {"trap"},
        {"div0"},
        {"oob"},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const char *argv[4] = {"job"};
        size_t argc = 1;
        for (size_t k = 0; k < 3 && modes[i][k]; k++)
            argv[argc++] = modes[i][k];
        const bool spin = strcmp(modes[i][0], "spin") == 0;
        /* spin never ends on its own: a limit ends it */
        const uint64_t g = same(g_mod, g_code, argv, argc, spin ? 2000000 : 0, 64);
        assert_true(g > 0);
        const uint64_t limits[] = {g, g - 1, g / 2, g / 3, 1000, 1};
        for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++)
            if (limits[k])
                (void)same(g_mod, g_code, argv, argc, limits[k], 64);
    }
}

static void
test_memory_cap_and_depth(void **state)
{
    (void)state;
    const char *argv[] = {"job", "grow"};
    /* the initial memory over the cap fails before anything runs, as in the interpreter */
    (void)same(g_mod, g_code, argv, 2, 0, 1);
    /* growth refused by the cap: the memory limit */
    (void)same(g_mod, g_code, argv, 2, 0, 4);
    const char *deep[] = {"job", "depth", "200000"};
    (void)same(g_mod, g_code, deep, 3, 0, 64);
    /* the same frame traps at any depth limit */
    static const uint32_t depths[] = {1, 2, 3, 37, 1000};
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        g_depth = depths[i];
        (void)same(g_mod, g_code, deep, 3, 0, 64);
        (void)same(g_mod, g_code, argv, 2, 0, 64);
    }
    g_depth = 0;
}

/* (module (func (export "_start") (result i32)... ): an import with a type other
 * than WASI's is refused before anything runs, with the interpreter's words. */
static void
test_refuses_what_the_interpreter_refuses(void **state)
{
    (void)state;
    /* (module (import "wasi_snapshot_preview1" "fd_close" (func (param i64)))
     *         (memory (export "memory") 1) (func (export "_start"))) */
    static const uint8_t bad_import[] = {
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x60, 0x01,
        0x7e, 0x00, 0x60, 0x00, 0x00, 0x02, 0x23, 0x01, 0x16, 'w',  'a',  's',  'i',
        '_',  's',  'n',  'a',  'p',  's',  'h',  'o',  't',  '_',  'p',  'r',  'e',
        'v',  'i',  'e',  'w',  '1',  0x08, 'f',  'd',  '_',  'c',  'l',  'o',  's',
        'e',  0x00, 0x00, 0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07,
        0x13, 0x02, 0x06, 'm',  'e',  'm',  'o',  'r',  'y',  0x02, 0x00, 0x06, '_',
        's',  't',  'a',  'r',  't',  0x00, 0x01, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b};
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(bad_import, sizeof(bad_import), &m, &err), SR_OK);
    const struct sr_wasi_config cfg = {0};
    struct sr_wasi_result a = {0}, b = {0};
    sr_err ea = {0}, eb = {0};
    const sr_status sa = sr_wasm_run_wasi(m, NULL, &cfg, &a, &ea);
    const sr_status sb = sr_wasm_run_wasi_native(m, g_code, NULL, &cfg, &b, &eb);
    assert_int_equal(sa, SR_EINVAL);
    assert_int_equal(sb, SR_EINVAL);
    assert_string_equal(ea.msg, eb.msg);
    sr_wasi_result_fini(&a);
    sr_wasi_result_fini(&b);
    sr_wasm_module_free(m);
}

static void
test_load_refuses_other_objects(void **state)
{
    (void)state;
    sr_wasm_native *n = NULL;
    sr_err err = {0};
    static const uint8_t junk[] = "not an ELF object";
    assert_int_equal(sr_wasm_native_load(junk, sizeof(junk), &n, &err), SR_EIO);
    assert_null(n);
    assert_non_null(strstr(err.msg, "cannot load native code"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_mode_at_every_fuel_limit),
        cmocka_unit_test(test_memory_cap_and_depth),
        cmocka_unit_test(test_refuses_what_the_interpreter_refuses),
        cmocka_unit_test(test_load_refuses_other_objects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
