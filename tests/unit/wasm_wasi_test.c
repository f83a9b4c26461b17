/* SPDX-License-Identifier: MIT
 *
 * tests/unit/wasm_wasi_test.c - WASI guests (tests/data/wasm/guest.c, built with
 * clang --target=wasm32-wasi) run through sr_wasm_run_wasi: stdio, args, env,
 * exit codes, memory limit, call depth, fuel, traps, output cap, imports; and
 * generated modules for the fuel of every way a run ends (start function
 * included). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"
#include "wasm_mb.h"

static sr_wasm_module *g_mod;

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
    if (st != SR_OK)
        fprintf(stderr, "guest: %s\n", err.msg);
    return st == SR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    sr_wasm_module_free(g_mod);
    return 0;
}

static int
fake_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i + 1);
    return 0;
}

static sr_status
run(const char *mode, const char *arg, const struct sr_wasm_limits *lim, const char *input,
    struct sr_wasi_result *res)
{
    const char *argv[3] = {"guest", mode, arg};
    const char *env[1] = {"GREETING=hi there"};
    const struct sr_wasi_config cfg = {.argv = argv,
                                       .argc = arg ? 3 : 2,
                                       .env = env,
                                       .envc = 1,
                                       .stdin_data = (const uint8_t *)input,
                                       .stdin_len = input ? strlen(input) : 0,
                                       .random = fake_random,
                                       .fake_clock = false};
    sr_err err = {0};
    return sr_wasm_run_wasi(g_mod, lim, &cfg, res, &err);
}

static void
test_echo_copies_stdin_to_stdout_and_logs_stderr(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("echo", NULL, NULL, "{\"x\": [1, 2]}", &res), SR_OK);
    assert_true(res.exited);
    assert_int_equal(res.exit_code, 0);
    assert_int_equal(res.stdout_len, 13);
    assert_memory_equal(res.stdout_data, "{\"x\": [1, 2]}", 13);
    assert_string_equal((char *)res.stderr_data, "echo done\n");
    assert_true(res.fuel_used > 0);
    sr_wasi_result_fini(&res);
}

static void
test_args_and_environ_reach_the_guest(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("args", "a b", NULL, NULL, &res), SR_OK);
    assert_string_equal((char *)res.stdout_data, "argc=3 [guest] [args] [a b] GREETING=hi there\n");
    sr_wasi_result_fini(&res);
}

static void
test_exit_code_is_reported(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("exit", "7", NULL, NULL, &res), SR_OK);
    assert_true(res.exited);
    assert_int_equal(res.exit_code, 7);
    assert_true(res.fuel_used > 0);
    sr_wasi_result_fini(&res);
}

static void
test_memory_grows_to_the_limit_and_no_further(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    const struct sr_wasm_limits lim = {.max_pages = 160}; /* 10 MiB */
    assert_int_equal(run("grow", NULL, &lim, NULL, &res), SR_OK);
    const int got = (int)strtol((char *)res.stdout_data, NULL, 10);
    assert_true(got >= 5 && got < 10);
    assert_true(res.memory_limit);
    assert_true(res.fuel_used > 0);
    sr_wasi_result_fini(&res);
}

static void
test_deep_recursion_within_limit_works(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("depth", "5000", NULL, NULL, &res), SR_OK);
    assert_string_equal((char *)res.stdout_data, "5000\n");
    sr_wasi_result_fini(&res);
}

static void
test_recursion_past_depth_limit_is_call_depth(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    const struct sr_wasm_limits lim = {.max_depth = 1000};
    assert_int_equal(run("depth", "100000", &lim, NULL, &res), SR_ELIMIT);
    assert_int_equal(res.trap, SR_WASM_TRAP_CALL_DEPTH);
    assert_string_equal(res.message, "call stack exhausted");
    sr_wasi_result_fini(&res);
}

static void
test_infinite_loop_runs_out_of_fuel(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    const struct sr_wasm_limits lim = {.fuel = 2000000};
    assert_int_equal(run("spin", NULL, &lim, NULL, &res), SR_ELIMIT);
    assert_int_equal(res.trap, SR_WASM_TRAP_FUEL);
    assert_true(res.fuel_used <= 2000000 && res.fuel_used > 1900000);
    sr_wasi_result_fini(&res);
}

static void
test_fuel_is_the_same_on_every_run(void **state)
{
    (void)state;
    uint64_t fuel[3];
    for (int i = 0; i < 3; i++) {
        struct sr_wasi_result res;
        assert_int_equal(run("depth", "3000", NULL, NULL, &res), SR_OK);
        fuel[i] = res.fuel_used;
        sr_wasi_result_fini(&res);
    }
    assert_true(fuel[0] > 3000);
    assert_true(fuel[0] == fuel[1] && fuel[1] == fuel[2]);
    /* out of fuel stops at the same point too */
    uint64_t cut[2];
    for (int i = 0; i < 2; i++) {
        struct sr_wasi_result res;
        const struct sr_wasm_limits lim = {.fuel = fuel[0] / 2};
        assert_int_equal(run("depth", "3000", &lim, NULL, &res), SR_ELIMIT);
        cut[i] = res.fuel_used;
        sr_wasi_result_fini(&res);
    }
    assert_true(cut[0] == cut[1]);
}

static void
expect_trap(const char *mode, sr_wasm_trap trap, const char *msg)
{
    struct sr_wasi_result res;
    assert_int_equal(run(mode, NULL, NULL, NULL, &res), SR_ETRAP);
    assert_int_equal(res.trap, trap);
    assert_string_equal(res.message, msg);
    assert_false(res.exited);
    assert_true(res.fuel_used > 0);
    sr_wasi_result_fini(&res);
}

static void
test_traps_use_spec_wording(void **state)
{
    (void)state;
    expect_trap("trap", SR_WASM_TRAP_UNREACHABLE, "unreachable");
    expect_trap("div0", SR_WASM_TRAP_DIV_ZERO, "integer divide by zero");
    expect_trap("oob", SR_WASM_TRAP_MEM_OOB, "out of bounds memory access");
}

#define STACK_MSG "out of bounds memory access: the program's stack in linear memory is exhausted"

static void
test_a_c_stack_overflow_is_named(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("stack", NULL, NULL, NULL, &res), SR_ETRAP);
    assert_int_equal(res.trap, SR_WASM_TRAP_MEM_OOB); /* the spec's trap, with its wording first */
    assert_true(strncmp(res.message, STACK_MSG, strlen(STACK_MSG)) == 0);
    assert_non_null(strstr(res.message, "-Wl,-z,stack-size=N"));
    sr_wasi_result_fini(&res);
    assert_int_equal(run("stack", "100", NULL, NULL, &res), SR_OK);
    assert_string_equal((char *)res.stdout_data, "100\n");
    sr_wasi_result_fini(&res);
}

/* global 0 = stack pointer 'sp0' (mutable i32 unless 'immutable'), 2 pages of
 * memory, no data; _start moves the pointer down by 'drop' bytes and stores
 * there. */
static sr_wasm_module *
stack_module(uint32_t sp0, uint32_t drop, bool immutable)
{
    struct mb b = {0}, s = {0}, body = {0};
    mb_header(&b);
    mb_leb(&s, 1);
    const uint8_t type[] = {0x60, 0x00, 0x00};
    mb_bytes(&s, type, sizeof(type));
    mb_section(&b, 1, &s);
    mb_leb(&s, 1);
    mb_leb(&s, 0);
    mb_section(&b, 3, &s);
    const uint8_t mem[] = {0x01, 0x00, 0x02};
    mb_bytes(&s, mem, sizeof(mem));
    mb_section(&b, 5, &s);
    mb_leb(&s, 1);
    mb_u8(&s, 0x7f);
    mb_u8(&s, immutable ? 0x00 : 0x01);
    mb_u8(&s, 0x41);
    mb_sleb(&s, sp0);
    mb_u8(&s, 0x0b);
    mb_section(&b, 6, &s);
    mb_leb(&s, 1);
    mb_name(&s, "_start");
    mb_u8(&s, 0x00);
    mb_leb(&s, 0);
    mb_section(&b, 7, &s);
    /* global.get 0; i32.const drop; i32.sub; (global.set 0;) global.get 0 ...;
     * i32.const 0; i32.store */
    mb_leb(&body, 0);
    mb_u8(&body, 0x23);
    mb_u8(&body, 0x00);
    mb_u8(&body, 0x41);
    mb_sleb(&body, drop);
    mb_u8(&body, 0x6b);
    if (!immutable) {
        const uint8_t set_get[] = {0x24, 0x00, 0x23, 0x00};
        mb_bytes(&body, set_get, sizeof(set_get));
    }
    const uint8_t store[] = {0x41, 0x00, 0x36, 0x02, 0x00, 0x0b};
    mb_bytes(&body, store, sizeof(store));
    mb_leb(&s, 1);
    mb_body(&s, &body);
    mb_section(&b, 10, &s);
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, &err), SR_OK);
    mb_free(&b);
    mb_free(&s);
    mb_free(&body);
    return m;
}

static void
expect_oob(uint32_t sp0, uint32_t drop, bool immutable, bool named)
{
    sr_wasm_module *m = stack_module(sp0, drop, immutable);
    const struct sr_wasi_config cfg = {0};
    struct sr_wasi_result res;
    sr_err err = {0};
    assert_int_equal(sr_wasm_run_wasi(m, NULL, &cfg, &res, &err), SR_ETRAP);
    assert_int_equal(res.trap, SR_WASM_TRAP_MEM_OOB);
    if (named)
        assert_true(strncmp(res.message, STACK_MSG, strlen(STACK_MSG)) == 0);
    else
        assert_string_equal(res.message, "out of bounds memory access");
    sr_wasi_result_fini(&res);
    sr_wasm_module_free(m);
}

static void
test_the_stack_rule_needs_a_stack_pointer_that_wrapped(void **state)
{
    (void)state;
    expect_oob(65536, 65552, false, true);  /* 16 bytes below 0: wrapped */
    expect_oob(65536, 65552, true, false);  /* an immutable global is no stack pointer */
    expect_oob(65532, 65552, false, false); /* nor one that is not 16-aligned */
    expect_oob(1 << 20, 1, false, false);   /* nor one above the initial memory */
}

static void
test_random_and_clock(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("random", NULL, NULL, NULL, &res), SR_OK);
    assert_string_equal((char *)res.stdout_data, "0102030405060708090a0b0c0d0e0f10\n");
    sr_wasi_result_fini(&res);
    assert_int_equal(run("clock", NULL, NULL, NULL, &res), SR_OK);
    assert_string_equal((char *)res.stdout_data, "1\n");
    sr_wasi_result_fini(&res);
}

static void
test_output_past_cap_is_a_limit(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run("bigout", NULL, NULL, NULL, &res), SR_ELIMIT);
    assert_true(res.stdout_truncated);
    assert_true(res.stdout_len <= 1024 * 1024);
    assert_true(res.fuel_used > 0);
    sr_wasi_result_fini(&res);
}

/* ---- WASI preview 1, all of it (issue 10 item 4) ------------------------------------------ */

/* Every function of wasi_snapshot_preview1 with the signature clang and rustc
 * import it with (i = i32, I = i64). */
static const char *const preview1[][2] = {
    {"args_get", "ii:i"},
    {"args_sizes_get", "ii:i"},
    {"clock_res_get", "ii:i"},
    {"clock_time_get", "iIi:i"},
    {"environ_get", "ii:i"},
    {"environ_sizes_get", "ii:i"},
    {"fd_advise", "iIIi:i"},
    {"fd_allocate", "iII:i"},
    {"fd_close", "i:i"},
    {"fd_datasync", "i:i"},
    {"fd_fdstat_get", "ii:i"},
    {"fd_fdstat_set_flags", "ii:i"},
    {"fd_fdstat_set_rights", "iII:i"},
    {"fd_filestat_get", "ii:i"},
    {"fd_filestat_set_size", "iI:i"},
    {"fd_filestat_set_times", "iIIi:i"},
    {"fd_pread", "iiiIi:i"},
    {"fd_prestat_dir_name", "iii:i"},
    {"fd_prestat_get", "ii:i"},
    {"fd_pwrite", "iiiIi:i"},
    {"fd_read", "iiii:i"},
    {"fd_readdir", "iiiIi:i"},
    {"fd_renumber", "ii:i"},
    {"fd_seek", "iIii:i"},
    {"fd_sync", "i:i"},
    {"fd_tell", "ii:i"},
    {"fd_write", "iiii:i"},
    {"path_create_directory", "iii:i"},
    {"path_filestat_get", "iiiii:i"},
    {"path_filestat_set_times", "iiiiIIi:i"},
    {"path_link", "iiiiiii:i"},
    {"path_open", "iiiiiIIii:i"},
    {"path_readlink", "iiiiii:i"},
    {"path_remove_directory", "iii:i"},
    {"path_rename", "iiiiii:i"},
    {"path_symlink", "iiiii:i"},
    {"path_unlink_file", "iii:i"},
    {"poll_oneoff", "iiii:i"},
    {"proc_exit", "i:"},
    {"proc_raise", "i:i"},
    {"random_get", "ii:i"},
    {"sched_yield", ":i"},
    {"sock_accept", "iii:i"},
    {"sock_recv", "iiiiii:i"},
    {"sock_send", "iiiii:i"},
    {"sock_shutdown", "ii:i"},
};
#define NPREVIEW1 (sizeof(preview1) / sizeof(preview1[0]))

static void
functype_of_sig(struct mb *t, const char *sig)
{
    const char *colon = strchr(sig, ':');
    mb_u8(t, 0x60);
    mb_leb(t, (uint32_t)(colon - sig));
    for (const char *p = sig; p < colon; p++)
        mb_u8(t, *p == 'I' ? 0x7e : 0x7f);
    mb_leb(t, (uint32_t)strlen(colon + 1));
    for (const char *p = colon + 1; *p; p++)
        mb_u8(t, 0x7f);
}

/* A command module importing module.name with signature sig for each pair
 * (one type per import), with an empty _start. */
static sr_wasm_module *
importer(const char *const (*imports)[2], size_t n, const char *module, sr_err *err)
{
    struct mb b = {0}, s = {0};
    mb_header(&b);
    mb_leb(&s, (uint32_t)n + 1);
    for (size_t i = 0; i < n; i++)
        functype_of_sig(&s, imports[i][1]);
    functype_of_sig(&s, ":");
    mb_section(&b, 1, &s);
    mb_leb(&s, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        mb_name(&s, module);
        mb_name(&s, imports[i][0]);
        mb_u8(&s, 0x00);
        mb_leb(&s, (uint32_t)i);
    }
    mb_section(&b, 2, &s);
    mb_leb(&s, 1);
    mb_leb(&s, (uint32_t)n);
    mb_section(&b, 3, &s);
    mb_leb(&s, 1);
    mb_name(&s, "_start");
    mb_u8(&s, 0x00);
    mb_leb(&s, (uint32_t)n);
    mb_section(&b, 7, &s);
    const uint8_t code[] = {0x01, 0x02, 0x00, 0x0b};
    mb_bytes(&s, code, sizeof(code));
    mb_section(&b, 10, &s);
    sr_wasm_module *m = NULL;
    assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, err), SR_OK);
    mb_free(&b);
    mb_free(&s);
    return m;
}

static sr_status
run_module(const sr_wasm_module *m, struct sr_wasi_result *res, sr_err *err)
{
    const struct sr_wasi_config cfg = {0};
    return sr_wasm_run_wasi(m, NULL, &cfg, res, err);
}

static void
test_every_wasi_preview1_function_resolves(void **state)
{
    (void)state;
    sr_err err = {0};
    sr_wasm_module *m = importer(preview1, NPREVIEW1, "wasi_snapshot_preview1", &err);
    struct sr_wasi_result res;
    assert_int_equal(run_module(m, &res, &err), SR_OK);
    assert_true(res.exited);
    sr_wasi_result_fini(&res);
    sr_wasm_module_free(m);
}

static void
test_an_import_sealrun_does_not_offer_is_named(void **state)
{
    (void)state;
    static const char *const older[][2] = {{"fd_write", "iiii:i"}};
    static const char *const wrong[][2] = {{"fd_write", "ii:i"}};
    sr_err err = {0};
    struct sr_wasi_result res;
    sr_wasm_module *m = importer(older, 1, "wasi_unstable", &err);
    assert_int_equal(run_module(m, &res, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "import 'wasi_unstable.fd_write' is not available"));
    assert_string_equal(res.message, err.msg);
    sr_wasi_result_fini(&res);
    sr_wasm_module_free(m);
    m = importer(wrong, 1, "wasi_snapshot_preview1", &err);
    assert_int_equal(run_module(m, &res, &err), SR_EINVAL);
    assert_string_equal(err.msg, "incompatible import type for 'wasi_snapshot_preview1.fd_write'");
    sr_wasi_result_fini(&res);
    sr_wasm_module_free(m);
}

/* Runs guest 'file' of the guests' directory with argv[1] = mode. */
static sr_status
run_guest(const char *file, const char *mode, struct sr_wasi_result *res)
{
    const char *dir = getenv("SR_WASM_GUESTS");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "data/wasm", file);
    size_t len = 0;
    uint8_t *bytes = read_all(path, &len);
    assert_non_null(bytes);
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(bytes, len, &m, &err), SR_OK);
    free(bytes);
    const char *argv[2] = {file, mode};
    const struct sr_wasi_config cfg = {.argv = argv, .argc = mode ? 2 : 1};
    const sr_status st = sr_wasm_run_wasi(m, NULL, &cfg, res, &err);
    sr_wasm_module_free(m);
    return st;
}

static void
test_c_file_calls_fail_with_an_errno_and_the_program_goes_on(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run_guest("files_c.wasm", "libc", &res), SR_OK);
    assert_int_equal(res.exit_code, 0);
    /* wasi-libc finds no preopened directory for a path: ENOTCAPABLE */
    assert_string_equal((char *)res.stdout_data,
                        "{\"fopen_read\":\"Capabilities insufficient\","
                        "\"fopen_write\":\"Capabilities insufficient\","
                        "\"opendir\":\"Capabilities insufficient\","
                        "\"mkdir\":\"Capabilities insufficient\","
                        "\"unlink\":\"Capabilities insufficient\","
                        "\"stat\":\"Capabilities insufficient\",\"fstat_stdout\":\"ok\","
                        "\"lseek_stdout\":\"Invalid seek\","
                        "\"fcntl_setfl\":\"Capabilities insufficient\","
                        "\"fsync_stdout\":\"Invalid argument\","
                        "\"read_fd3\":\"Bad file descriptor\",\"isatty_stdout\":\"yes\"}\n");
    sr_wasi_result_fini(&res);
}

static void
test_every_descriptor_call_answers_its_errno(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run_guest("files_c.wasm", "raw", &res), SR_OK);
    /* [fd 3, fd 1]: 8 EBADF, 52 ENOSYS, 54 ENOTDIR, 57 ENOTSOCK, 58 ENOTSUP,
     * 70 ESPIPE, 76 ENOTCAPABLE (docs/wasm.md, the WASI table) */
    assert_string_equal(
        (char *)res.stdout_data,
        "{\"fd_advise\":[8,76],\"fd_allocate\":[8,76],\"fd_datasync\":[8,76],"
        "\"fd_fdstat_set_flags\":[8,76],\"fd_fdstat_set_rights\":[8,76],"
        "\"fd_filestat_get\":[8,0],\"fd_filestat_set_size\":[8,76],"
        "\"fd_filestat_set_times\":[8,76],\"fd_pread\":[8,70],\"fd_pwrite\":[8,70],"
        "\"fd_readdir\":[8,76],\"fd_renumber\":[8,58],\"fd_seek\":[8,70],\"fd_sync\":[8,76],"
        "\"fd_tell\":[8,70],\"fd_prestat_get\":[8,8],\"path_create_directory\":[8,54],"
        "\"path_filestat_get\":[8,54],\"path_filestat_set_times\":[8,54],\"path_link\":[8,54],"
        "\"path_open\":[8,54],\"path_readlink\":[8,54],\"path_remove_directory\":[8,54],"
        "\"path_rename\":[8,54],\"path_symlink\":[8,54],\"path_unlink_file\":[8,54],"
        "\"sock_accept\":[8,57],\"sock_recv\":[8,57],\"sock_send\":[8,57],"
        "\"sock_shutdown\":[8,57],\"proc_raise\":[52,52]}\n");
    sr_wasi_result_fini(&res);
}

static void
test_rust_std_fs_fails_with_an_error_and_the_program_goes_on(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run_guest("files_rust.wasm", NULL, &res), SR_OK);
    assert_int_equal(res.exit_code, 0);
    const char *out = (const char *)res.stdout_data;
    assert_non_null(strstr(out, "\"open\":\"failed to find a pre-opened file descriptor through "
                                "which \\\"data.txt\\\" could be opened\""));
    assert_non_null(strstr(out, "\"read_dir\":\"failed to find a pre-opened"));
    sr_wasi_result_fini(&res);
}

/* ---- fuel of every ending (issue 9 item 9) ------------------------------------------------ */

enum tail { T_TRAP, T_EXIT, T_HOST, T_RETURN };

/* A module whose function "burn" counts to 1000 and then ends as 'tail' says
 * (unreachable, proc_exit(3), a host call that fails, return). With
 * in_start, burn is the module's start function and _start does nothing;
 * otherwise burn is _start. */
static sr_wasm_module *
burner(enum tail tail, bool in_start)
{
    struct mb b = {0}, s = {0}, body = {0};
    mb_header(&b);
    mb_leb(&s, 2);
    const uint8_t types[] = {0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x00};
    mb_bytes(&s, types, sizeof(types));
    mb_section(&b, 1, &s);
    mb_leb(&s, 2); /* imports: func 0 = proc_exit, func 1 = sealrun.fail */
    mb_name(&s, "wasi_snapshot_preview1");
    mb_name(&s, "proc_exit");
    mb_u8(&s, 0x00);
    mb_leb(&s, 1);
    mb_name(&s, "sealrun");
    mb_name(&s, "fail");
    mb_u8(&s, 0x00);
    mb_leb(&s, 0);
    mb_section(&b, 2, &s);
    mb_leb(&s, 2); /* func 2 = burn, func 3 = nothing */
    mb_leb(&s, 0);
    mb_leb(&s, 0);
    mb_section(&b, 3, &s);
    mb_leb(&s, 1);
    mb_name(&s, "_start");
    mb_u8(&s, 0x00);
    mb_leb(&s, in_start ? 3 : 2);
    mb_section(&b, 7, &s);
    if (in_start) {
        mb_leb(&s, 2);
        mb_section(&b, 8, &s);
    }
    /* (local i32) loop: local.get 0; i32.const 1; i32.add; local.tee 0;
     * i32.const 1000; i32.ne; br_if 0; end */
    const uint8_t count[] = {0x01, 0x01, 0x7f, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6a,
                             0x22, 0x00, 0x41, 0xe8, 0x07, 0x47, 0x0d, 0x00, 0x0b};
    mb_bytes(&body, count, sizeof(count));
    if (tail == T_TRAP)
        mb_u8(&body, 0x00);
    if (tail == T_EXIT) {
        const uint8_t exit3[] = {0x41, 0x03, 0x10, 0x00};
        mb_bytes(&body, exit3, sizeof(exit3));
    }
    if (tail == T_HOST) {
        const uint8_t fail[] = {0x10, 0x01};
        mb_bytes(&body, fail, sizeof(fail));
    }
    mb_u8(&body, 0x0b);
    mb_leb(&s, 2);
    mb_body(&s, &body);
    const uint8_t nothing[] = {0x02, 0x00, 0x0b};
    mb_bytes(&s, nothing, sizeof(nothing));
    mb_section(&b, 10, &s);
    sr_wasm_module *m = NULL;
    sr_err err = {0};
    assert_int_equal(sr_wasm_module_new(b.p, b.n, &m, &err), SR_OK);
    mb_free(&b);
    mb_free(&s);
    mb_free(&body);
    return m;
}

static sr_status
host_fail(void *ctx, sr_wasm_instance *caller, uint64_t *slots)
{
    (void)ctx;
    (void)slots;
    return sr_wasm_host_trap(caller, "storage is unavailable");
}

static sr_status
run_burner(enum tail tail, bool in_start, uint64_t fuel, struct sr_wasi_result *res)
{
    sr_wasm_module *m = burner(tail, in_start);
    const struct sr_wasi_host_func fail = {"sealrun", "fail", ":", host_fail, NULL};
    const struct sr_wasi_config cfg = {.host_funcs = &fail, .nhost_funcs = 1};
    const struct sr_wasm_limits lim = {.fuel = fuel};
    sr_err err = {0};
    const sr_status st = sr_wasm_run_wasi(m, &lim, &cfg, res, &err);
    sr_wasm_module_free(m);
    return st;
}

/* Ends 'tail' in _start and in the start function: same status, same trap,
 * same fuel, and that fuel is the loop's (1000 iterations of 7 operators). */
static void
expect_same_fuel_in_start(enum tail tail, sr_status want, sr_wasm_trap trap)
{
    struct sr_wasi_result a, b;
    assert_int_equal(run_burner(tail, false, 0, &a), want);
    assert_int_equal(run_burner(tail, true, 0, &b), want);
    assert_int_equal(a.trap, trap);
    assert_int_equal(b.trap, trap);
    assert_true(a.fuel_used > 7000);
    assert_true(a.fuel_used == b.fuel_used);
    assert_string_equal(a.message, b.message);
    sr_wasi_result_fini(&a);
    sr_wasi_result_fini(&b);
}

static void
test_a_trap_in_the_start_function_reports_its_fuel(void **state)
{
    (void)state;
    expect_same_fuel_in_start(T_TRAP, SR_ETRAP, SR_WASM_TRAP_UNREACHABLE);
}

static void
test_proc_exit_in_the_start_function_is_an_exit_with_its_fuel(void **state)
{
    (void)state;
    expect_same_fuel_in_start(T_EXIT, SR_OK, SR_WASM_TRAP_NONE);
    struct sr_wasi_result res;
    assert_int_equal(run_burner(T_EXIT, true, 0, &res), SR_OK);
    assert_true(res.exited);
    assert_int_equal(res.exit_code, 3);
    sr_wasi_result_fini(&res);
}

static void
test_a_failed_host_call_reports_its_fuel(void **state)
{
    (void)state;
    expect_same_fuel_in_start(T_HOST, SR_ETRAP, SR_WASM_TRAP_HOST);
    struct sr_wasi_result res;
    assert_int_equal(run_burner(T_HOST, true, 0, &res), SR_ETRAP);
    assert_string_equal(res.message, "storage is unavailable");
    sr_wasi_result_fini(&res);
}

static void
test_running_out_of_fuel_in_the_start_function_reports_it(void **state)
{
    (void)state;
    struct sr_wasi_result res;
    assert_int_equal(run_burner(T_RETURN, true, 3000, &res), SR_ELIMIT);
    assert_int_equal(res.trap, SR_WASM_TRAP_FUEL);
    assert_string_equal(res.message, "out of fuel");
    /* 428 iterations of 7; the block that did not fit is not charged */
    assert_int_equal(res.fuel_used, 428 * 7);
    sr_wasi_result_fini(&res);
    assert_int_equal(run_burner(T_RETURN, true, 0, &res), SR_OK);
    assert_true(res.exited);
    assert_int_equal(res.fuel_used, 7000); /* 1000 iterations of 7 operators of cost 1 */
    sr_wasi_result_fini(&res);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_copies_stdin_to_stdout_and_logs_stderr),
        cmocka_unit_test(test_args_and_environ_reach_the_guest),
        cmocka_unit_test(test_exit_code_is_reported),
        cmocka_unit_test(test_memory_grows_to_the_limit_and_no_further),
        cmocka_unit_test(test_deep_recursion_within_limit_works),
        cmocka_unit_test(test_recursion_past_depth_limit_is_call_depth),
        cmocka_unit_test(test_infinite_loop_runs_out_of_fuel),
        cmocka_unit_test(test_fuel_is_the_same_on_every_run),
        cmocka_unit_test(test_traps_use_spec_wording),
        cmocka_unit_test(test_a_c_stack_overflow_is_named),
        cmocka_unit_test(test_the_stack_rule_needs_a_stack_pointer_that_wrapped),
        cmocka_unit_test(test_random_and_clock),
        cmocka_unit_test(test_output_past_cap_is_a_limit),
        cmocka_unit_test(test_every_wasi_preview1_function_resolves),
        cmocka_unit_test(test_an_import_sealrun_does_not_offer_is_named),
        cmocka_unit_test(test_c_file_calls_fail_with_an_errno_and_the_program_goes_on),
        cmocka_unit_test(test_every_descriptor_call_answers_its_errno),
        cmocka_unit_test(test_rust_std_fs_fails_with_an_error_and_the_program_goes_on),
        cmocka_unit_test(test_a_trap_in_the_start_function_reports_its_fuel),
        cmocka_unit_test(test_proc_exit_in_the_start_function_is_an_exit_with_its_fuel),
        cmocka_unit_test(test_a_failed_host_call_reports_its_fuel),
        cmocka_unit_test(test_running_out_of_fuel_in_the_start_function_reports_it),
    };
    return cmocka_run_group_tests_name("wasm_wasi", tests, setup, teardown);
}
