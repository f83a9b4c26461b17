/* SPDX-License-Identifier: MIT
 *
 * receipt_attest_test.c - quote providers. The tdx provider runs against a
 * fake configfs-tsm tree in a temporary directory; the test plays the
 * kernel's part through the provider's hooks: attributes appear on mkdir,
 * writing inblob bumps 'generation' and produces an 'outblob' (a quote laid
 * out like a TDX v4 quote, report_data at offset 568), and attributes go away
 * before rmdir. Known answer for report_data from Python:
 *   hashlib.sha512(pk + measurement).hexdigest()
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "receipt_int.h"
#include "sealrun/sr_attest.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

#define PK_HEX "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define M_HEX "37a8fa6ad9dbae1515de7242fe07325d40169ed043297372da91ec278aeb7cef"
#define RD_HEX                                                                                     \
    "3a36e2c4903d818dcbacbc34f7ffe54189cf113cb98653f95f10a58d77ef6a2a51ea1ee41341832a54ee6054ae6"  \
    "64d3af8e2d3fccc1476d3410156a1cb896bdd"
#define QUOTE_LEN 700

struct fake_kernel {
    char root[64];
    const char *provider; /* what 'provider' reads */
    int extra_writes;     /* another writer's inblob writes during ours */
    bool empty_outblob;
    long generation;
    uint8_t inblob[64]; /* what the provider wrote */
    size_t inblob_len;
    int mkdirs;
};

static struct fake_kernel fk;
static uint8_t pk[32];
static uint8_t meas[32];

static void
put_file(const char *dir, const char *name, const void *p, size_t len)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static void
put_generation(const char *dir)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", fk.generation);
    put_file(dir, "generation", text, (size_t)n);
}

static void
kernel_mkdir(const char *dir, void *arg)
{
    (void)arg;
    fk.mkdirs++;
    fk.generation = 0;
    put_file(dir, "provider", fk.provider, strlen(fk.provider));
    put_generation(dir);
    put_file(dir, "inblob", "", 0);
    put_file(dir, "outblob", "", 0);
}

static void
kernel_inblob(const char *dir, void *arg)
{
    (void)arg;
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/inblob", dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, fk.inblob, sizeof(fk.inblob));
    close(fd);
    fk.inblob_len = n > 0 ? (size_t)n : 0;
    fk.generation += 1 + fk.extra_writes;
    put_generation(dir);
    uint8_t q[QUOTE_LEN] = {4, 0, 2, 0, 0x81, 0, 0, 0}; /* v4, ECDSA-256, TDX */
    memcpy(q + 568, fk.inblob, 64);
    memcpy(q + 632, "FAKE-SIGNATURE", 14);
    put_file(dir, "outblob", q, fk.empty_outblob ? 0 : sizeof(q));
}

static void
kernel_rmdir(const char *dir, void *arg)
{
    (void)arg;
    static const char *const names[] = {"provider", "generation", "inblob", "outblob"};
    char path[512];
    for (size_t i = 0; i < 4; i++) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
}

static int
entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int
setup(void **state)
{
    (void)state;
    memset(&fk, 0, sizeof(fk));
    (void)snprintf(fk.root, sizeof(fk.root), "/tmp/sr_tsm_XXXXXX");
    if (!mkdtemp(fk.root))
        return -1;
    fk.provider = "tdx_guest\n";
    const struct sr_attest__hooks h = {kernel_mkdir, kernel_inblob, kernel_rmdir, NULL};
    sr_attest__set_hooks(&h);
    (void)sr_hex_decode(PK_HEX, 64, pk, 32, NULL);
    (void)sr_hex_decode(M_HEX, 64, meas, 32, NULL);
    return sodium_init() < 0 ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    sr_attest__set_hooks(NULL);
    return rmdir(fk.root) == 0 ? 0 : -1; /* fails if a report directory was left behind */
}

static sr_status
take(sr_attest_quote **q, sr_err *err)
{
    const struct sr_attest_config cfg = {.provider = SR_ATTEST_TDX, .tsm_root = fk.root};
    return sr_attest_quote_new(&cfg, pk, meas, q, err);
}

static void
test_report_data_is_sha512_of_key_and_measurement(void **state)
{
    (void)state;
    uint8_t rd[64];
    char hex[129];
    sr_attest_report_data(pk, meas, rd);
    sr_hex_encode(rd, 64, hex);
    assert_string_equal(hex, RD_HEX);
}

static void
test_tdx_quote_from_fake_configfs_tsm(void **state)
{
    (void)state;
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(take(&q, &err), SR_OK);
    assert_int_equal(fk.mkdirs, 1);
    assert_int_equal(fk.inblob_len, 64);
    char hex[129];
    sr_hex_encode(fk.inblob, 64, hex);
    assert_string_equal(hex, RD_HEX);
    assert_int_equal(entries(fk.root), 0); /* report directory removed */

    assert_int_equal(sr_attest_quote_provider(q), SR_ATTEST_TDX);
    assert_string_equal(sr_attest_quote_tsm_provider(q), "tdx_guest");
    size_t len = 0;
    const uint8_t *bytes = sr_attest_quote_bytes(q, &len);
    assert_int_equal(len, QUOTE_LEN);
    assert_int_equal(sr_attest_tdx_check_binding(bytes, len, pk, meas, &err), SR_OK);
    assert_non_null(sr_attest_quote_base64(q));

    json_t *doc = NULL;
    assert_int_equal(sr_attest_document(q, pk, meas, NULL, NULL, &doc, &err), SR_OK);
    assert_string_equal(json_string_value(json_object_get(doc, "quote_type")), "tdx");
    assert_string_equal(json_string_value(json_object_get(doc, "report_data")), RD_HEX);
    assert_string_equal(json_string_value(json_object_get(doc, "quote")),
                        sr_attest_quote_base64(q));
    assert_string_equal(json_string_value(json_object_get(doc, "worker_public_key")), PK_HEX);
    json_decref(doc);
    sr_attest_quote_free(q);
}

static void
test_none_provider_says_software_only(void **state)
{
    (void)state;
    const struct sr_attest_config cfg = {0};
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(sr_attest_quote_new(&cfg, pk, meas, &q, &err), SR_OK);
    assert_int_equal(fk.mkdirs, 0);
    size_t len = 1;
    assert_null(sr_attest_quote_bytes(q, &len));
    assert_int_equal(len, 0);
    assert_null(sr_attest_quote_base64(q));
    json_t *doc = NULL;
    json_t *cfg_json = json_pack("{s:s}", "isolation", "tenant");
    uint8_t exe[32] = {1};
    assert_int_equal(sr_attest_document(q, pk, meas, exe, cfg_json, &doc, &err), SR_OK);
    assert_string_equal(json_string_value(json_object_get(doc, "quote_type")), "none");
    assert_true(json_is_null(json_object_get(doc, "quote")));
    assert_non_null(strstr(json_string_value(json_object_get(doc, "note")), "software only"));
    assert_true(json_equal(json_object_get(doc, "config"), cfg_json));
    assert_int_equal(json_string_length(json_object_get(doc, "exe_sha256")), 64);
    json_decref(cfg_json);
    json_decref(doc);
    sr_attest_quote_free(q);
    sr_attest_quote_free(NULL);
}

static void
test_tdx_without_interface_names_path(void **state)
{
    (void)state;
    const struct sr_attest_config cfg = {.provider = SR_ATTEST_TDX,
                                         .tsm_root = "/nonexistent/tsm/report"};
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(sr_attest_quote_new(&cfg, pk, meas, &q, &err), SR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'/nonexistent/tsm/report'"));
    assert_non_null(strstr(err.msg, "--attestation none"));
    assert_null(q);
}

static void
test_tdx_refuses_other_provider(void **state)
{
    (void)state;
    fk.provider = "sev_guest\n";
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(take(&q, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'sev_guest'"));
    assert_int_equal(fk.inblob_len, 0); /* nothing written */
    assert_int_equal(entries(fk.root), 0);
}

static void
test_tdx_detects_concurrent_writer(void **state)
{
    (void)state;
    fk.extra_writes = 1;
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(take(&q, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'generation'"));
    assert_non_null(strstr(err.msg, "from 0 to 2"));
}

static void
test_tdx_refuses_empty_outblob(void **state)
{
    (void)state;
    fk.empty_outblob = true;
    sr_attest_quote *q = NULL;
    sr_err err = {0};
    assert_int_equal(take(&q, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "is empty"));
}

static void
test_binding_check_rejects_other_key_and_bad_layout(void **state)
{
    (void)state;
    uint8_t q[QUOTE_LEN] = {4, 0};
    uint8_t other[32] = {0};
    sr_err err = {0};
    sr_attest_report_data(pk, meas, q + 568);
    assert_int_equal(sr_attest_tdx_check_binding(q, sizeof(q), pk, meas, &err), SR_OK);
    assert_int_equal(sr_attest_tdx_check_binding(q, sizeof(q), other, meas, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "another key or measurement"));
    assert_int_equal(sr_attest_tdx_check_binding(q, 600, pk, meas, &err), SR_EINVAL);
    q[0] = 5; /* v5 moves report_data by the 6-byte body descriptor */
    assert_int_equal(sr_attest_tdx_check_binding(q, sizeof(q), pk, meas, &err), SR_EINVAL);
    sr_attest_report_data(pk, meas, q + 574);
    assert_int_equal(sr_attest_tdx_check_binding(q, sizeof(q), pk, meas, &err), SR_OK);
    q[0] = 3;
    assert_int_equal(sr_attest_tdx_check_binding(q, sizeof(q), pk, meas, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "version 3"));
}

static void
test_parses_provider_names(void **state)
{
    (void)state;
    enum sr_attest_provider p = SR_ATTEST_NONE;
    sr_err err = {0};
    assert_int_equal(sr_attest_provider_parse("tdx", &p, &err), SR_OK);
    assert_int_equal(p, SR_ATTEST_TDX);
    assert_int_equal(sr_attest_provider_parse("none", &p, &err), SR_OK);
    assert_int_equal(p, SR_ATTEST_NONE);
    assert_int_equal(sr_attest_provider_parse("sgx", &p, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'sgx'; expected none or tdx"));
    assert_string_equal(sr_attest_provider_name(SR_ATTEST_TDX), "tdx");
}

/* A receipt carrying a TDX quote: the job check verifies the binding, and a
 * quote taken for another key is caught. */
static void
test_receipt_with_tdx_quote_checks_binding(void **state)
{
    (void)state;
    uint8_t seed[32] = {9};
    sr_worker_key *key = NULL;
    sr_err err = {0};
    assert_int_equal(sr_worker_key_new(seed, &key, &err), SR_OK);
    sr_worker_key_public(key, pk); /* the quote is taken for this worker key */
    sr_attest_quote *q = NULL;
    assert_int_equal(take(&q, &err), SR_OK);
    for (int round = 0; round < 2; round++) {
        uint8_t signer_pk[32];
        sr_worker_key_public(key, signer_pk);
        json_t *out = json_null();
        const struct sr_receipt_fields f = {.job_id = "0123456789abcdef0123456789abcdef",
                                            .owner = "o",
                                            .runtime = "js",
                                            .engine_version = "e",
                                            .code = "c",
                                            .code_len = 1,
                                            .completed = true,
                                            .output = out,
                                            .worker_pk = signer_pk,
                                            .measurement = meas,
                                            .quote = q};
        json_t *r = NULL;
        char *canon = NULL;
        char sig[129];
        assert_int_equal(sr_receipt_build(&f, &r, &canon, &err), SR_OK);
        assert_string_equal(json_string_value(json_object_get(r, "quote")),
                            sr_attest_quote_base64(q));
        assert_int_equal(sr_receipt_sign(key, canon, strlen(canon), sig, &err), SR_OK);
        json_t *job = json_pack("{s:s, s:s, s:s, s:n, s:[], s:o, s:s}", "job_id", f.job_id,
                                "runtime", "js", "status", "completed", "output", "logs", "receipt",
                                r, "receipt_signature", sig);
        sr_status rc = sr_receipt_check_job(job, NULL, NULL, NULL, &err);
        if (round == 0) {
            assert_int_equal(rc, SR_OK);
        } else {
            assert_int_equal(rc, SR_EDENIED);
            assert_non_null(strstr(err.msg, "another key or measurement"));
        }
        free(canon);
        json_decref(job);
        /* round 1: a different worker signs but reuses the first worker's quote */
        sr_worker_key_free(key);
        seed[0]++;
        assert_int_equal(sr_worker_key_new(seed, &key, &err), SR_OK);
    }
    sr_worker_key_free(key);
    sr_attest_quote_free(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_data_is_sha512_of_key_and_measurement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tdx_quote_from_fake_configfs_tsm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_none_provider_says_software_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tdx_without_interface_names_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tdx_refuses_other_provider, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tdx_detects_concurrent_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tdx_refuses_empty_outblob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binding_check_rejects_other_key_and_bad_layout, setup,
                                        teardown),
        cmocka_unit_test(test_parses_provider_names),
        cmocka_unit_test_setup_teardown(test_receipt_with_tdx_quote_checks_binding, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("receipt_attest", tests, NULL, NULL);
}
