/* SPDX-License-Identifier: MIT
 *
 * receipt_node_test.c - the JavaScript verifier (examples/verify-receipt.mjs)
 * agrees with the C library: it accepts the example jobs, rejects tampered
 * ones (tests/data/receipts/tamper.mjs flips every bit as
 * receipt_data_test.c does), and accepts a receipt the C code signs over
 * awkward values (floats, escapes, non-BMP keys), which proves both sides
 * canonicalise identically. Skipped when node is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "sealrun/sr_json.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

static char node[512];
static char src[512];

static bool
find_node(void)
{
    const char *p = getenv("PATH");
    if (!p)
        p = "/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        (void)snprintf(node, sizeof(node), "%.*s/node", (int)n, p);
        if (n > 0 && access(node, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

/* Runs node with args (NULL-terminated), output to /dev/null; returns its exit code. */
static int
run_node(const char *const *args)
{
    const char *argv[16] = {node};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!getenv("SR_TEST_VERBOSE"))
            (void)freopen("/dev/null", "w", stdout);
        execv(node, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int
setup(void **state)
{
    (void)state;
    const char *s = getenv("SR_SOURCE_DIR");
    (void)snprintf(src, sizeof(src), "%s", s ? s : ".");
    return sodium_init() < 0 ? -1 : 0;
}

static char *
path_of(const char *rel)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", src, rel) > 0);
    return p;
}

static char *
first_line(const char *rel)
{
    char *p = path_of(rel);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char *line = calloc(1, 80);
    assert_non_null(fgets(line, 80, f));
    line[strcspn(line, "\n")] = 0;
    fclose(f);
    free(p);
    return line;
}

static void
test_node_verifier_accepts_examples_and_rejects_tampering(void **state)
{
    (void)state;
    if (!find_node())
        skip();
    char *verifier = path_of("examples/verify-receipt.mjs");
    char *job = path_of("tests/data/receipts/job-completed.json");
    char *failed = path_of("tests/data/receipts/job-failed.json");
    char *script = path_of("tests/data/receipts/script.js");
    char *input = path_of("tests/data/receipts/input.json");
    char *tamper = path_of("tests/data/receipts/tamper.mjs");
    char *pk = first_line("tests/data/receipts/worker.pub");
    char *m = first_line("tests/data/receipts/measurement.hex");

    const char *full[] = {verifier, job,        "--worker-key", pk,        "--expect-measurement",
                          m,        "--script", script,         "--input", input,
                          NULL};
    assert_int_equal(run_node(full), 0);
    const char *fail_job[] = {verifier, failed, "--worker-key", pk, "--script", script, NULL};
    assert_int_equal(run_node(fail_job), 0);
    const char *wrong_key[] = {verifier, job, "--worker-key", m, NULL};
    assert_int_equal(run_node(wrong_key), 1);
    const char *wrong_input[] = {verifier, job, "--input", script, NULL};
    assert_int_equal(run_node(wrong_input), 2);
    const char *usage[] = {verifier, NULL};
    assert_int_equal(run_node(usage), 2);
    const char *flips[] = {tamper, NULL};
    assert_int_equal(run_node(flips), 0);
    free(verifier);
    free(job);
    free(failed);
    free(script);
    free(input);
    free(tamper);
    free(pk);
    free(m);
}

/* Output and logs with values whose canonical form is easy to get wrong. */
#define AWKWARD                                                                                    \
    "{\"z\": 1e21, \"a\": [0.1, -0.0, 1e-7, 123456789012, 5e-324, 1.7976931348623157e308],"        \
    " \"\\u00e9\": \"\\u0001\\t\\\"\\\\/\\u2028\", \"\\ud83d\\ude00\": true, \"\\uff61\": null,"   \
    " \"\": {\"b\": [], \"a\": {}}}"

static void
test_node_agrees_with_c_canonical_form(void **state)
{
    (void)state;
    if (!find_node())
        skip();
    uint8_t seed[32] = {3};
    uint8_t meas[32] = {4};
    uint8_t pk[32];
    sr_worker_key *key = NULL;
    assert_int_equal(sr_worker_key_new(seed, &key, NULL), SR_OK);
    sr_worker_key_public(key, pk);
    json_t *output = json_loads(AWKWARD, 0, NULL);
    assert_non_null(output);
    json_t *logs = json_pack("[s, s]", "line \xe2\x82\xac",
                             "\x7f"
                             " control \x1f");
    const struct sr_receipt_fields f = {.job_id = "00112233445566778899aabbccddeeff",
                                        .owner = "b\xc3\xb6"
                                                 "b",
                                        .runtime = "js",
                                        .engine_version = "javascriptcore 2.44.3",
                                        .code = "x",
                                        .code_len = 1,
                                        .input = output,
                                        .completed = true,
                                        .output = output,
                                        .logs = logs,
                                        .gas_used = 9007199254740991ull,
                                        .worker_pk = pk,
                                        .measurement = meas};
    json_t *r = NULL;
    char *canon = NULL;
    char sig[129];
    assert_int_equal(sr_receipt_build(&f, &r, &canon, NULL), SR_OK);
    assert_int_equal(sr_receipt_sign(key, canon, strlen(canon), sig, NULL), SR_OK);
    json_t *job = json_pack("{s:s, s:s, s:s, s:O, s:O, s:o, s:s}", "job_id", f.job_id, "runtime",
                            "js", "status", "completed", "output", output, "logs", logs, "receipt",
                            r, "receipt_signature", sig);
    char tmp[] = "/tmp/sr_receipt_node_XXXXXX";
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    /* as sealrun writes it: jansson's own writer gives 0.1 as
     * 0.10000000000000001, which both verifiers refuse (not exact) */
    char *text = sr_json_dumps(job, JSON_INDENT(1));
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(sr_receipt_check_job(job, NULL, NULL, NULL, NULL), SR_OK);

    char *verifier = path_of("examples/verify-receipt.mjs");
    char pk_hex[65];
    sr_hex_encode(pk, 32, pk_hex);
    const char *args[] = {verifier, tmp, "--worker-key", pk_hex, NULL};
    assert_int_equal(run_node(args), 0);
    unlink(tmp);
    free(verifier);
    free(text);
    free(canon);
    json_decref(job);
    json_decref(output);
    json_decref(logs);
    sr_worker_key_free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_verifier_accepts_examples_and_rejects_tampering),
        cmocka_unit_test(test_node_agrees_with_c_canonical_form),
    };
    return cmocka_run_group_tests_name("receipt_node", tests, setup, NULL);
}
