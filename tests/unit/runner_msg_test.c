/* SPDX-License-Identifier: MIT
 *
 * runner_msg_test.c - the codec of the messages between the supervisor and
 * a job process: round trips, every cap, and the malformed inputs an
 * untrusted job process could send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "runner_int.h"

static struct sr_bytes
b(const char *s)
{
    return (struct sr_bytes){(const uint8_t *)s, strlen(s)};
}

static bool
eq(const struct sr_bytes *x, const char *s)
{
    return x->len == strlen(s) && memcmp(x->p, s, x->len) == 0;
}

static struct sr_job_spec *
sample_spec(void)
{
    struct sr_job_spec *s = calloc(1, sizeof(*s));
    s->runtime = SR_RUNTIME_WASM;
    memset(s->code_hash, 0xab, 32);
    s->input = b("{\"a\":1}");
    s->output_format = SR_OUTPUT_BASE64;
    s->budget = 123456789;
    s->memory_bytes = 64u * SR_MIB;
    s->storage = true;
    memset(s->job_id, 'f', 32);
    (void)snprintf(s->user, sizeof(s->user), "alice");
    s->args[s->nargs++] = b("--x");
    s->args[s->nargs++] = b("");
    s->env[s->nenv++] = b("A=1");
    s->env[s->nenv++] = b("B=2");
    s->secrets[s->nsecrets++] = (struct sr_job_secret){b("KEY"), b("v\0al")};
    s->secrets[0].value.len = 4; /* binary-safe: a NUL inside */
    return s;
}

static void
test_spec_round_trip(void **state)
{
    (void)state;
    struct sr_job_spec *s = sample_spec(), *t = calloc(1, sizeof(*t));
    sr_buf buf;
    sr_buf_init(&buf, SR_MAX_IPC_FRAME);
    assert_int_equal(sr_job_spec_encode(s, &buf, NULL), SR_OK);
    assert_int_equal(sr_job_spec_decode((const uint8_t *)buf.data, buf.len, t, NULL), SR_OK);
    assert_int_equal(t->runtime, SR_RUNTIME_WASM);
    assert_memory_equal(t->code_hash, s->code_hash, 32);
    assert_true(eq(&t->input, "{\"a\":1}"));
    assert_int_equal(t->output_format, SR_OUTPUT_BASE64);
    assert_int_equal(t->budget, 123456789);
    assert_int_equal(t->memory_bytes, 64u * SR_MIB);
    assert_true(t->storage);
    assert_false(t->budget_is_timeout);
    assert_string_equal(t->user, "alice");
    assert_int_equal(t->nargs, 2);
    assert_true(eq(&t->args[0], "--x"));
    assert_int_equal(t->args[1].len, 0);
    assert_int_equal(t->nsecrets, 1);
    assert_int_equal(t->secrets[0].value.len, 4);
    assert_memory_equal(t->secrets[0].value.p, "v\0al", 4);
    sr_buf_fini_secure(&buf);
    free(s);
    free(t);
}

static void
test_spec_caps_are_checked_before_use(void **state)
{
    (void)state;
    struct sr_job_spec *s = sample_spec(), *t = calloc(1, sizeof(*t));
    sr_err err = {0};
    sr_buf buf;
    sr_buf_init(&buf, SR_MAX_IPC_FRAME);
    /* the encoder refuses what the decoder would */
    s->nargs = SR_MAX_WASI_ARGS + 1;
    assert_int_equal(sr_job_spec_encode(s, &buf, &err), SR_ELIMIT);
    s->nargs = 0;
    static char big[SR_MAX_INPUT + 2];
    memset(big, 'x', sizeof(big) - 1);
    s->input = b(big);
    assert_int_equal(sr_job_spec_encode(s, &buf, &err), SR_ELIMIT);
    assert_non_null(strstr(err.msg, "'input' is"));
    s->input = b("1");
    assert_int_equal(sr_job_spec_encode(s, &buf, NULL), SR_OK);
    /* a section claiming more than is left */
    uint8_t *m = (uint8_t *)buf.data;
    uint8_t saved = m[2];
    m[2] = 0xff;
    assert_int_equal(sr_job_spec_decode(m, buf.len, t, &err), SR_EINVAL);
    m[2] = saved;
    /* truncated anywhere: never accepted beyond a whole section */
    for (size_t n = 0; n < buf.len; n++) {
        sr_status rc = sr_job_spec_decode(m, n, t, NULL);
        if (rc == SR_OK)
            assert_true(t->nsecrets == 0 || t->secrets[0].value.len == 4);
    }
    sr_buf_fini(&buf);
    free(s);
    free(t);
}

/* Hand-made messages: kind byte, then sections. */
static size_t
put_section(uint8_t *p, uint8_t tag, const void *body, uint32_t len)
{
    p[0] = tag;
    memcpy(p + 1, &len, 4); /* little-endian machine (x86_64), as the format */
    memcpy(p + 5, body, len);
    return 5 + len;
}

static void
test_answer_refuses_malformed_input(void **state)
{
    (void)state;
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    sr_err err = {0};
    uint8_t m[4096];
    size_t n = 0;
    uint16_t code = SR_JOB_OK;
    uint64_t gas = 7;
    m[n++] = 'A';
    n += put_section(m + n, 1, &code, 2);
    n += put_section(m + n, 4, &gas, 8);
    assert_int_equal(sr_job_answer_decode(m, n, a, NULL), SR_OK);
    assert_int_equal(a->gas_used, 7);
    /* a repeated singular section */
    size_t n2 = n + put_section(m + n, 4, &gas, 8);
    assert_int_equal(sr_job_answer_decode(m, n2, a, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'gas_used' appears more than 1"));
    /* an unknown tag */
    n2 = n + put_section(m + n, 99, "x", 1);
    assert_int_equal(sr_job_answer_decode(m, n2, a, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "unknown section tag 99"));
    /* a code out of range */
    uint16_t bad = SR_JOB_CODE_COUNT_;
    size_t n3 = 1 + put_section(m + 1, 1, &bad, 2);
    n3 += put_section(m + n3, 4, &gas, 8);
    assert_int_equal(sr_job_answer_decode(m, n3, a, &err), SR_EINVAL);
    /* a missing code */
    size_t n4 = 1 + put_section(m + 1, 4, &gas, 8);
    assert_int_equal(sr_job_answer_decode(m, n4, a, &err), SR_EINVAL);
    /* more log entries than the cap (the base message again: m was reused) */
    n = 1 + put_section(m + 1, 1, &code, 2);
    n += put_section(m + n, 4, &gas, 8);
    n2 = n;
    for (int i = 0; i <= SR_MAX_LOG_ENTRIES; i++)
        n2 += put_section(m + n2, 5, "", 0);
    assert_int_equal(sr_job_answer_decode(m, n2, a, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "'log' appears more than 100"));
    /* not an answer at all */
    assert_int_equal(sr_job_answer_decode((const uint8_t *)"R", 1, a, &err), SR_EINVAL);
    assert_int_equal(sr_job_answer_decode(m, 0, a, &err), SR_EINVAL);
    free(a);
}

static void
test_answer_round_trip_with_externs(void **state)
{
    (void)state;
    struct sr_job_answer *a = calloc(1, sizeof(*a)), *t = calloc(1, sizeof(*t));
    a->code = SR_JOB_MODULE_ERROR;
    a->module_invalid = true;
    a->message = b("invalid module: x");
    a->gas_used = 1ull << 40;
    a->logs[a->nlogs++] = b("one");
    a->import_count = 2000;
    a->imports[a->nimports++] = (struct sr_extern_view){SR_EXTERN_MEMORY, b("env"), b("mem")};
    a->exports[a->nexports++] = (struct sr_extern_view){SR_EXTERN_FUNC, {0}, b("_start")};
    sr_buf buf;
    sr_buf_init(&buf, SR_RUNNER_MAX_ANSWER);
    assert_int_equal(sr_job_answer_encode(a, &buf, NULL), SR_OK);
    assert_int_equal(sr_job_answer_decode((const uint8_t *)buf.data, buf.len, t, NULL), SR_OK);
    assert_int_equal(t->code, SR_JOB_MODULE_ERROR);
    assert_true(t->module_invalid);
    assert_true(eq(&t->message, "invalid module: x"));
    assert_int_equal(t->gas_used, 1ull << 40);
    assert_int_equal(t->import_count, 2000);
    assert_int_equal(t->imports[0].kind, SR_EXTERN_MEMORY);
    assert_true(eq(&t->imports[0].module, "env"));
    assert_true(eq(&t->exports[0].name, "_start"));
    /* the encoder keeps the caps too */
    a->nlogs = SR_MAX_LOG_ENTRIES + 1;
    assert_int_equal(sr_job_answer_encode(a, &buf, NULL), SR_ELIMIT);
    sr_buf_fini(&buf);
    free(a);
    free(t);
}

static void
test_module_check_holds_one_module(void **state)
{
    (void)state;
    sr_buf buf;
    sr_buf_init(&buf, SR_MAX_IPC_FRAME);
    assert_int_equal(sr_module_check_encode((const uint8_t *)"\0asm", 4, &buf, NULL), SR_OK);
    struct sr_bytes mod;
    assert_int_equal(sr_runner__check_decode((const uint8_t *)buf.data, buf.len, &mod, NULL),
                     SR_OK);
    assert_int_equal(mod.len, 4);
    assert_int_equal(sr_runner__check_decode((const uint8_t *)buf.data, buf.len - 1, &mod, NULL),
                     SR_EINVAL);
    assert_int_equal(sr_module_check_encode(NULL, SR_MAX_MODULE + 1u, &buf, NULL), SR_ELIMIT);
    sr_buf_fini(&buf);
}

/* The JS 'secrets' object escapes any value (moved from the secret module's
 * tests with the code that renders it). */
static void
test_secrets_object_escapes_values(void **state)
{
    (void)state;
    struct sr_job_spec *s = sample_spec();
    const char *tricky = "q\"b\\s/n\nr\rt\tc\x01\x1f del\x7f \xc3\xa9 \xe2\x80\xa8 </script>";
    s->nsecrets = 0;
    s->secrets[s->nsecrets++] = (struct sr_job_secret){b("Y"), b("plain")};
    s->secrets[s->nsecrets++] = (struct sr_job_secret){b("X"), b(tricky)};
    sr_buf out;
    sr_buf_init(&out, SR_MAX_IPC_FRAME);
    assert_int_equal(sr_runner__secrets_text(s, &out, NULL), SR_OK);
    json_error_t je;
    json_t *v = json_loadb(out.data, out.len, 0, &je);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 4);
    assert_string_equal(json_string_value(json_object_get(v, "X")), tricky);
    assert_string_equal(json_string_value(json_object_get(v, "Y")), "plain");
    assert_string_equal(json_string_value(json_object_get(v, "SEALRUN_USER")), "alice");
    assert_int_equal(json_string_length(json_object_get(v, "SEALRUN_JOB_ID")), 32);
    assert_non_null(strstr(out.data, "\"Y\":\"plain\",\"X\":\""));
    json_decref(v);
    sr_buf_fini_secure(&out);
    /* sixteen of the largest values, each the worst case for escaping */
    static char big[64 * 1024 + 1];
    memset(big, 0x01, sizeof(big) - 1);
    s->nsecrets = 0;
    char names[SR_MAX_SECRET_REFS][8];
    for (int i = 0; i < SR_MAX_SECRET_REFS; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "BIG%d", i);
        s->secrets[s->nsecrets++] = (struct sr_job_secret){b(names[i]), b(big)};
    }
    sr_buf_init(&out, SR_MAX_IPC_FRAME);
    assert_int_equal(sr_runner__secrets_text(s, &out, NULL), SR_OK);
    assert_true(out.len > (size_t)SR_MAX_SECRET_REFS * (sizeof(big) - 1) * 6);
    sr_buf_fini_secure(&out);
    free(s);
}

static void
test_wasm_environment(void **state)
{
    (void)state;
    struct sr_job_spec *s = sample_spec();
    s->nsecrets = 0;
    s->secrets[s->nsecrets++] = (struct sr_job_secret){b("DB_URL"), b("postgres://u:p@h/db?x=1")};
    s->secrets[s->nsecrets++] = (struct sr_job_secret){b("A"), b("a=b=c")};
    struct sr_runner_env w = {0};
    assert_int_equal(sr_runner__env_build(s, &w, NULL), SR_OK);
    assert_int_equal(w.argc, 3);
    assert_string_equal(w.argv[0], "job");
    assert_string_equal(w.argv[1], "--x");
    assert_string_equal(w.argv[2], "");
    /* the secret A replaces the request's A=1 (getenv takes the first match) */
    assert_int_equal(w.envc, 5);
    assert_string_equal(w.env[0], "B=2");
    assert_string_equal(w.env[1], "SEALRUN_JOB_ID=ffffffffffffffffffffffffffffffff");
    assert_string_equal(w.env[2], "SEALRUN_USER=alice");
    assert_string_equal(w.env[3], "DB_URL=postgres://u:p@h/db?x=1");
    assert_string_equal(w.env[4], "A=a=b=c");
    sr_buf_fini_secure(&w.text);
    free(s);
}

static void
test_runtime_names(void **state)
{
    (void)state;
    assert_string_equal(sr_runtime_name(SR_RUNTIME_JS), "js");
    assert_string_equal(sr_runtime_name(SR_RUNTIME_WASM), "wasm");
    assert_null(sr_runtime_name((enum sr_runtime)2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_round_trip),
        cmocka_unit_test(test_spec_caps_are_checked_before_use),
        cmocka_unit_test(test_answer_refuses_malformed_input),
        cmocka_unit_test(test_answer_round_trip_with_externs),
        cmocka_unit_test(test_module_check_holds_one_module),
        cmocka_unit_test(test_runtime_names),
        cmocka_unit_test(test_secrets_object_escapes_values),
        cmocka_unit_test(test_wasm_environment),
    };
    return cmocka_run_group_tests_name("runner_msg", tests, NULL, NULL);
}
