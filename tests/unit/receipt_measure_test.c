/* SPDX-License-Identifier: MIT
 *
 * receipt_measure_test.c - the measurement against known answers computed
 * independently with Python's hashlib:
 *
 *   e = sha256(b"sealrun example executable\n").digest()
 *   cfg = JCS(config)   (members sorted, no whitespace)
 *   sha256(b"sealrun.measurement.v1\0" + e + cfg).hexdigest()
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

#define EXE_TEXT "sealrun example executable\n"
#define EXE_SHA "062c577637960fe73abf696783bf6f9c8476facc63385d4cd66b9093e7e59886"
#define MEASUREMENT "37a8fa6ad9dbae1515de7242fe07325d40169ed043297372da91ec278aeb7cef"
/* Written out of order and with spaces on purpose: JCS sorts and strips. */
#define CONFIG                                                                                     \
    "{\"limits\": {\"max_timeout_s\": 120, \"max_memory_mb\": 512}, \"isolation\": \"tenant\", "   \
    "\"engines\": {\"js\": {\"version\": \"2.44.3\", \"name\": \"javascriptcore\", \"jit\": "      \
    "true}}}"

static char exe_path[64];

static int
setup(void **state)
{
    (void)state;
    (void)snprintf(exe_path, sizeof(exe_path), "/tmp/sr_receipt_exe_XXXXXX");
    int fd = mkstemp(exe_path);
    if (fd < 0 || write(fd, EXE_TEXT, strlen(EXE_TEXT)) != (ssize_t)strlen(EXE_TEXT))
        return -1;
    close(fd);
    return sodium_init() < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(exe_path);
    return 0;
}

static void
test_file_sha256_matches_known_answer(void **state)
{
    (void)state;
    uint8_t h[32];
    char hex[65];
    sr_err err = {0};
    assert_int_equal(sr_measurement_file_sha256(exe_path, h, &err), SR_OK);
    sr_hex_encode(h, 32, hex);
    assert_string_equal(hex, EXE_SHA);
}

static void
test_measurement_matches_known_answer(void **state)
{
    (void)state;
    json_t *cfg = json_loads(CONFIG, 0, NULL);
    assert_non_null(cfg);
    uint8_t m[32];
    char hex[65];
    sr_err err = {0};
    assert_int_equal(sr_measurement_compute(exe_path, cfg, m, &err), SR_OK);
    sr_hex_encode(m, 32, hex);
    assert_string_equal(hex, MEASUREMENT);

    /* any change of configuration changes the measurement */
    json_object_set_new(json_object_get(json_object_get(cfg, "engines"), "js"), "jit",
                        json_false());
    assert_int_equal(sr_measurement_compute(exe_path, cfg, m, &err), SR_OK);
    sr_hex_encode(m, 32, hex);
    assert_string_not_equal(hex, MEASUREMENT);
    json_decref(cfg);
}

static void
test_measures_running_executable(void **state)
{
    (void)state;
    json_t *cfg = json_object();
    uint8_t a[32];
    uint8_t b[32];
    sr_err err = {0};
    assert_int_equal(sr_measurement_compute("/proc/self/exe", cfg, a, &err), SR_OK);
    assert_int_equal(sr_measurement_compute("/proc/self/exe", cfg, b, &err), SR_OK);
    assert_memory_equal(a, b, 32);
    json_decref(cfg);
}

static void
test_rejects_bad_inputs_with_clear_errors(void **state)
{
    (void)state;
    uint8_t m[32];
    sr_err err = {0};
    json_t *arr = json_array();
    json_t *obj = json_object();
    assert_int_equal(sr_measurement_compute(exe_path, arr, m, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "must be a JSON object"));
    assert_int_equal(sr_measurement_compute("/nonexistent/sealrund", obj, m, &err), SR_EIO);
    assert_non_null(strstr(err.msg, "'/nonexistent/sealrund'"));
    assert_int_equal(sr_measurement_compute("/tmp", obj, m, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));
    json_object_set_new(obj, "x", json_real(0.5));
    assert_int_equal(sr_measurement_compute(exe_path, obj, m, &err), SR_OK);
    json_decref(arr);
    json_decref(obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_sha256_matches_known_answer),
        cmocka_unit_test(test_measurement_matches_known_answer),
        cmocka_unit_test(test_measures_running_executable),
        cmocka_unit_test(test_rejects_bad_inputs_with_clear_errors),
    };
    return cmocka_run_group_tests_name("receipt_measure", tests, setup, teardown);
}
