/* SPDX-License-Identifier: MIT
 *
 * receipt_key_test.c - the worker's Ed25519 identity: made once under
 * DATA_DIR/keys/worker.key (0600), the same after a restart, refused when
 * the file is unsafe or damaged, and signing per RFC 8032. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"
#include "test_tmp.h"

/* RFC 8032 section 7.1, test 1 (empty message). */
#define RFC_SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC_PK "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC_SIG                                                                                    \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"  \
    "9b46bd25bf5f0595bbe24655141438e7a100b"

static int
setup(void **state)
{
    char *dir = strdup("/tmp/sr_receipt_key_XXXXXX");
    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return sodium_init() < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
    test_tmp_rm_tree(*state);
    free(*state);
    return 0;
}

static void
key_path(const char *dir, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/keys/worker.key", dir);
}

static void
write_key_file(const char *dir, const char *text, mode_t mode)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/keys", dir);
    (void)mkdir(path, 0700);
    key_path(dir, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void
test_creates_key_once_and_reloads_it(void **state)
{
    const char *dir = *state;
    sr_worker_key *a = NULL;
    sr_worker_key *b = NULL;
    bool created = false;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(dir, true, &created, &a, &err), SR_OK);
    assert_true(created);

    char path[512];
    struct stat sb;
    key_path(dir, path, sizeof(path));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65); /* 64 hex + newline */
    (void)snprintf(path, sizeof(path), "%s/keys", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);

    assert_int_equal(sr_worker_key_load(dir, true, &created, &b, &err), SR_OK);
    assert_false(created);
    uint8_t pa[32];
    uint8_t pb[32];
    sr_worker_key_public(a, pa);
    sr_worker_key_public(b, pb);
    assert_memory_equal(pa, pb, 32);
    sr_worker_key_free(a);
    sr_worker_key_free(b);
    sr_worker_key_free(NULL);
}

static void
test_missing_key_without_create_names_path(void **state)
{
    sr_worker_key *k = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(*state, false, NULL, &k, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/keys/worker.key"));
    assert_null(k);
}

static void
test_refuses_group_readable_key(void **state)
{
    write_key_file(*state, RFC_SEED "\n", 0644);
    sr_worker_key *k = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(*state, true, NULL, &k, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_null(strstr(err.msg, RFC_SEED)); /* never the key */
}

static void
test_refuses_damaged_key(void **state)
{
    sr_worker_key *k = NULL;
    sr_err err = {0};
    write_key_file(*state, "abcd\n", 0600);
    assert_int_equal(sr_worker_key_load(*state, true, NULL, &k, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "must hold 64 hex characters"));
    /* 64 characters, one of them not hex */
    write_key_file(*state, "gd61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                   0600);
    assert_int_equal(sr_worker_key_load(*state, true, NULL, &k, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "not hex"));
}

static void
test_refuses_symlinked_key(void **state)
{
    char path[512];
    char target[512];
    (void)snprintf(target, sizeof(target), "%s/elsewhere", (const char *)*state);
    write_key_file(*state, RFC_SEED, 0600);
    key_path(*state, path, sizeof(path));
    assert_int_equal(rename(path, target), 0);
    assert_int_equal(symlink(target, path), 0);
    sr_worker_key *k = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(*state, true, NULL, &k, &err), SR_EIO);
    assert_non_null(strstr(err.msg, "cannot open worker key file"));
}

static void
test_loads_known_seed_and_signs_rfc8032_vector(void **state)
{
    write_key_file(*state, "  " RFC_SEED "\r\n", 0600);
    sr_worker_key *k = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(*state, false, NULL, &k, &err), SR_OK);
    uint8_t pk[32];
    uint8_t sig[64];
    char hex[129];
    sr_worker_key_public(k, pk);
    sr_hex_encode(pk, 32, hex);
    assert_string_equal(hex, RFC_PK);
    sr_worker_key_sign(k, "", 0, sig);
    sr_hex_encode(sig, 64, hex);
    assert_string_equal(hex, RFC_SIG);
    sr_worker_key_free(k);
}

static void
test_rejects_missing_data_dir(void **state)
{
    (void)state;
    sr_worker_key *k = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_load(NULL, true, NULL, &k, &err), SR_EINVAL);
    assert_int_equal(sr_worker_key_load("/nonexistent-sealrun-dir/x", true, NULL, &k, &err),
                     SR_EIO);
    assert_non_null(strstr(err.msg, "cannot create key directory"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_creates_key_once_and_reloads_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_key_without_create_names_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_group_readable_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_damaged_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_symlinked_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loads_known_seed_and_signs_rfc8032_vector, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rejects_missing_data_dir, setup, teardown),
    };
    return cmocka_run_group_tests_name("receipt_key", tests, NULL, NULL);
}
