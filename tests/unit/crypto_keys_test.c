/* SPDX-License-Identifier: MIT
 *
 * crypto_keys_test.c - loading master keys from the environment and key
 * files, dev creation, permissions, and the messages of every refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_util.h"
#include "test_tmp.h"

#define HEX32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define B64_32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
/* blake2b(b"sealrun/output-mac/v1", key=bytes(range(32)), digest_size=32) */
#define MAC_SUBKEY "fb5916053d5084bc62dbc5888dc775c7ef7ad683dcd8890c74ca874794580e2a"

static int
setup(void **state)
{
    unsetenv("COMPUTE_MASTER_KEY");
    unsetenv("SECRETS_MASTER_KEY");
    return test_tmp_setup(state, "keys_test");
}

static int
teardown(void **state)
{
    unsetenv("COMPUTE_MASTER_KEY");
    unsetenv("SECRETS_MASTER_KEY");
    return test_tmp_teardown(state);
}

static void
assert_compute_subkey(const sr_keys *keys, const char *want_hex)
{
    uint8_t sub[32];
    char hex[65];
    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, sub);
    sr_hex_encode(sub, sizeof(sub), hex);
    assert_string_equal(hex, want_hex);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void
test_loads_hex_and_base64_from_env(void **state)
{
    (void)state;
    setenv("COMPUTE_MASTER_KEY", HEX32, 1);
    setenv("SECRETS_MASTER_KEY", B64_32, 1);
    sr_keys *keys = NULL;
    bool created = true;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(NULL, false, &created, &keys, &err), SR_OK);
    assert_false(created);
    assert_compute_subkey(keys, MAC_SUBKEY);
    sr_keys_free(keys);

    /* the same bytes in base64 give the same subkey; whitespace is ignored */
    setenv("COMPUTE_MASTER_KEY", " " B64_32 "\n", 1);
    assert_int_equal(sr_keys_load(NULL, false, NULL, &keys, &err), SR_OK);
    assert_compute_subkey(keys, MAC_SUBKEY);
    sr_keys_free(keys);
}

static void
test_rejects_short_env_key_without_echoing_it(void **state)
{
    (void)state;
    setenv("COMPUTE_MASTER_KEY", "00112233445566778899aabbccddeeff", 1); /* 16 bytes */
    setenv("SECRETS_MASTER_KEY", HEX32, 1);
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(NULL, false, NULL, &keys, &err), SR_EINVAL);
    assert_null(keys);
    assert_non_null(strstr(err.msg, "COMPUTE_MASTER_KEY must decode to 32..1024 bytes, got 16"));
    assert_null(strstr(err.msg, "00112233"));
}

static void
test_rejects_garbage_env_key(void **state)
{
    (void)state;
    setenv("COMPUTE_MASTER_KEY", HEX32, 1);
    setenv("SECRETS_MASTER_KEY", "this is not a key at all!", 1);
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(NULL, false, NULL, &keys, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "SECRETS_MASTER_KEY is neither hex nor base64"));
    assert_null(strstr(err.msg, "not a key"));

    setenv("SECRETS_MASTER_KEY", "", 1);
    assert_int_equal(sr_keys_load(NULL, false, NULL, &keys, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "SECRETS_MASTER_KEY is empty"));
}

static void
test_missing_keys_are_named_with_the_fix(void **state)
{
    struct test_tmp *f = *state;
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(f->dir, false, NULL, &keys, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "set COMPUTE_MASTER_KEY (hex or base64, >= 32 bytes)"));
    assert_non_null(strstr(err.msg, "set SECRETS_MASTER_KEY (hex or base64, >= 32 bytes)"));
    assert_non_null(strstr(err.msg, "--dev"));
    assert_non_null(strstr(err.msg, "/keys/compute.key"));

    /* only the one that is missing is named */
    setenv("COMPUTE_MASTER_KEY", HEX32, 1);
    assert_int_equal(sr_keys_load(NULL, false, NULL, &keys, &err), SR_EINVAL);
    assert_null(strstr(err.msg, "COMPUTE_MASTER_KEY"));
    assert_non_null(strstr(err.msg, "set SECRETS_MASTER_KEY"));
}

static void
test_dev_creates_private_key_files_once(void **state)
{
    struct test_tmp *f = *state;
    char dir[128], path[160];
    (void)snprintf(dir, sizeof(dir), "%s/data", f->dir); /* does not exist yet */
    sr_keys *keys = NULL;
    bool created = false;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(dir, true, &created, &keys, &err), SR_OK);
    assert_true(created);

    struct stat sb;
    (void)snprintf(path, sizeof(path), "%s/keys", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    (void)snprintf(path, sizeof(path), "%s/keys/compute.key", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65); /* 64 hex + newline */
    (void)snprintf(path, sizeof(path), "%s/keys/secrets.key", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    uint8_t a[32], b[32];
    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, a);
    sr_keys_free(keys);

    /* second start (even without dev) reads the same keys, creates nothing */
    created = true;
    assert_int_equal(sr_keys_load(dir, false, &created, &keys, &err), SR_OK);
    assert_false(created);
    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, b);
    assert_memory_equal(a, b, sizeof(a));
    sr_keys_free(keys);
}

static void
test_reads_key_file_and_env_wins(void **state)
{
    struct test_tmp *f = *state;
    char path[160];
    (void)snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/keys/compute.key", f->dir);
    write_file(path, HEX32 "\n", 0600);
    (void)snprintf(path, sizeof(path), "%s/keys/secrets.key", f->dir);
    write_file(path, B64_32 "\n", 0600);
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(f->dir, false, NULL, &keys, &err), SR_OK);
    assert_compute_subkey(keys, MAC_SUBKEY);
    sr_keys_free(keys);

    setenv("COMPUTE_MASTER_KEY", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
           1);
    assert_int_equal(sr_keys_load(f->dir, false, NULL, &keys, &err), SR_OK);
    uint8_t sub[32];
    char hex[65];
    sr_keys_derive_compute(keys, SR_LABEL_OUTPUT_MAC, sub);
    sr_hex_encode(sub, sizeof(sub), hex);
    assert_string_not_equal(hex, MAC_SUBKEY);
    sr_keys_free(keys);
}

static void
test_refuses_group_readable_key_file(void **state)
{
    struct test_tmp *f = *state;
    char path[160];
    (void)snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/keys/compute.key", f->dir);
    write_file(path, HEX32 "\n", 0640);
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(f->dir, true, NULL, &keys, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "has mode 0640"));
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, path));
}

static void
test_rejects_bad_key_file_content(void **state)
{
    struct test_tmp *f = *state;
    char path[160];
    (void)snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    (void)snprintf(path, sizeof(path), "%s/keys/compute.key", f->dir);
    write_file(path, "0011\n", 0600);
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_load(f->dir, true, NULL, &keys, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "must decode to 32..1024 bytes, got 2"));
    assert_non_null(strstr(err.msg, "compute.key"));
}

static void
test_keys_new_rejects_short_master(void **state)
{
    (void)state;
    uint8_t k[31] = {0};
    uint8_t ok[32] = {0};
    sr_keys *keys = NULL;
    sr_err err = {0};
    assert_int_equal(sr_keys_new(k, sizeof(k), ok, sizeof(ok), &keys, &err), SR_EINVAL);
    assert_null(keys);
    assert_non_null(strstr(err.msg, "compute master key must decode to 32..1024 bytes, got 31"));
    sr_keys_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loads_hex_and_base64_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_short_env_key_without_echoing_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rejects_garbage_env_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_keys_are_named_with_the_fix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dev_creates_private_key_files_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_key_file_and_env_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_group_readable_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_key_file_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_new_rejects_short_master, setup, teardown),
    };
    if (sr_crypto_init(NULL) != SR_OK)
        return 1;
    return cmocka_run_group_tests_name("crypto_keys", tests, NULL, NULL);
}
