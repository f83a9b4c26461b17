/* SPDX-License-Identifier: MIT
 *
 * engine_replay_test.c - record.c and replay.c without a sandbox: host
 * calls kept in order with their answers (and failures), the clock call,
 * the recording's cap, and a replay that answers the recorded calls and
 * names the first one that differs (docs/http.md "Record and replay").
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"

/* The supervisor's side for the test: answers "A:" + the request, fails
 * a call whose second byte is '!', and answers 1 MiB to one whose second
 * byte is 'B'. */
static sr_status
fake_host(void *arg, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    int *calls = arg;
    (*calls)++;
    if (len >= 2 && req[1] == '!')
        return sr_err_set(err, SR_EDENIED, "refused by the test");
    if (len >= 2 && req[1] == 'B') {
        static uint8_t big[SR_MIB];
        return sr_buf_append(resp, big, sizeof(big), err);
    }
    sr_status rc = sr_buf_append(resp, "A:", 2, err);
    return rc == SR_OK ? sr_buf_append(resp, req, len, err) : rc;
}

/* An HTTP host call for url (the sr_http.h wire format). */
static void
http_call(sr_buf *b, const char *method, const char *url, const char *hname, const char *hval)
{
    struct sr_http_message *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->method = (struct sr_http_bytes){(const uint8_t *)method, strlen(method)};
    m->url = (struct sr_http_bytes){(const uint8_t *)url, strlen(url)};
    if (hname) {
        m->nheaders = 1;
        m->headers[0].name = (struct sr_http_bytes){(const uint8_t *)hname, strlen(hname)};
        m->headers[0].value = (struct sr_http_bytes){(const uint8_t *)hval, strlen(hval)};
    }
    sr_buf_reset(b);
    assert_int_equal(sr_http_wire_request(b, m, NULL), SR_OK);
    free(m);
}

static sr_status
call(struct sr_engine__record *r, int *n, const void *req, size_t len, sr_buf *resp, sr_err *e)
{
    sr_buf_reset(resp);
    return sr_engine__record_call(r, fake_host, n, req, len, resp, e);
}

/* Records: an HTTP GET, a clock read, a refused call. */
static void
record_three(struct sr_engine__record *r, int *n)
{
    sr_buf req, resp;
    sr_buf_init(&req, 1u << 20);
    sr_buf_init(&resp, 4u << 20);
    sr_err e = {0};
    http_call(&req, "GET", "https://api.example.com/a?x=1", "X-A", "1");
    assert_int_equal(call(r, n, req.data, req.len, &resp, &e), SR_OK);
    assert_memory_equal(resp.data, "A:F", 3);
    const uint8_t t[2] = {SR_RUNNER_HOSTCALL_TIME, 0};
    assert_int_equal(call(r, n, t, sizeof(t), &resp, &e), SR_OK);
    assert_int_equal(resp.len, 8); /* the supervisor's clock, not the host fn */
    assert_int_equal(*n, 1);
    assert_int_equal(call(r, n, "V!", 2, &resp, &e), SR_EDENIED);
    assert_string_equal(e.msg, "refused by the test");
    assert_int_equal(json_array_size(r->calls), 3);
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
}

static void
test_keeps_calls_answers_and_failures_in_order(void **state)
{
    (void)state;
    struct sr_engine__record r;
    sr_engine__record_init(&r);
    int n = 0;
    record_three(&r, &n);
    const json_t *c = json_array_get(r.calls, 2);
    assert_string_equal(json_string_value(json_object_get(c, "op")), "V");
    assert_int_equal(json_integer_value(json_object_get(c, "status")), SR_EDENIED);
    assert_null(json_object_get(c, "answer"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.calls, 1), "op")), "T");
    sr_engine__record_fini(&r);
}

static void
test_refuses_calls_past_the_cap(void **state)
{
    (void)state;
    struct sr_engine__record r;
    sr_engine__record_init(&r);
    int n = 0;
    sr_buf resp;
    sr_buf_init(&resp, 2u << 20);
    sr_err e = {0};
    size_t ok = 0;
    while (call(&r, &n, "SB", 2, &resp, &e) == SR_OK)
        ok++;
    assert_int_equal(ok, SR_MAX_RECORDING / SR_MIB - 1); /* each call costs a bit over 1 MiB */
    assert_true(r.over);
    assert_non_null(strstr(e.msg, "past its cap"));
    /* and every call after it, without performing it */
    int before = n;
    assert_int_equal(call(&r, &n, "Sx", 2, &resp, &e), SR_ELIMIT);
    assert_int_equal(n, before);
    sr_buf_fini(&resp);
    sr_engine__record_fini(&r);
}

/* A replay of record_three's calls. */
static void
replay_of(struct sr_engine__record *rec, struct sr_engine__record *rp)
{
    memset(rp, 0, sizeof(*rp));
    rp->replay = true;
    rp->calls = rec->calls;
}

static void
test_replay_answers_the_recorded_calls(void **state)
{
    (void)state;
    struct sr_engine__record rec, rp;
    sr_engine__record_init(&rec);
    int n = 0;
    record_three(&rec, &n);
    replay_of(&rec, &rp);
    sr_buf req, resp;
    sr_buf_init(&req, 1u << 20);
    sr_buf_init(&resp, 1u << 20);
    sr_err e = {0};
    http_call(&req, "GET", "https://api.example.com/a?x=1", "X-A", "1");
    assert_int_equal(call(&rp, &n, req.data, req.len, &resp, &e), SR_OK);
    assert_int_equal(resp.len, 2 + req.len);
    assert_memory_equal(resp.data + 2, req.data, req.len);
    const uint8_t t[2] = {SR_RUNNER_HOSTCALL_TIME, 0};
    const json_t *tc = json_array_get(rec.calls, 1);
    assert_non_null(json_object_get(tc, "answer"));
    assert_int_equal(call(&rp, &n, t, sizeof(t), &resp, &e), SR_OK);
    assert_int_equal(resp.len, 8);
    assert_int_equal(call(&rp, &n, "V!", 2, &resp, &e), SR_EDENIED);
    assert_string_equal(e.msg, "refused by the test");
    assert_int_equal(n, 2); /* nothing was performed during the replay */
    assert_string_equal(rp.diverged, "");
    /* one more call than the recording has */
    assert_int_equal(call(&rp, &n, "V1", 2, &resp, &e), SR_EINVAL);
    assert_non_null(strstr(rp.diverged, "call 4 ('V') is past the end: the recording has 3"));
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    sr_engine__record_fini(&rec);
}

/* The message a replay gives for a first call 'req' that differs. */
static void
expect_difference(const void *req, size_t len, const char *want)
{
    struct sr_engine__record rec, rp;
    sr_engine__record_init(&rec);
    int n = 0;
    record_three(&rec, &n);
    replay_of(&rec, &rp);
    sr_buf resp;
    sr_buf_init(&resp, 1u << 20);
    sr_err e = {0};
    assert_int_equal(call(&rp, &n, req, len, &resp, &e), SR_EINVAL);
    if (!strstr(rp.diverged, want))
        fail_msg("'%s' does not say '%s'", rp.diverged, want);
    assert_non_null(strstr(e.msg, want));
    assert_int_equal(resp.len, 0);
    assert_int_equal(n, 2); /* record_three's two performed calls, none since */
    sr_buf_fini(&resp);
    sr_engine__record_fini(&rec);
}

static void
test_replay_names_the_first_difference(void **state)
{
    (void)state;
    sr_buf req;
    sr_buf_init(&req, 1u << 20);
    http_call(&req, "GET", "https://api.example.com/a?x=2", "X-A", "1");
    expect_difference(req.data, req.len,
                      "request 1 differs from the recorded one: the URL is "
                      "'https://api.example.com/a?x=2', the recorded one "
                      "'https://api.example.com/a?x=1'");
    http_call(&req, "POST", "https://api.example.com/a?x=1", "X-A", "1");
    expect_difference(req.data, req.len, "the method is 'POST', the recorded one 'GET'");
    http_call(&req, "GET", "https://api.example.com/a?x=1", "X-A", "2");
    expect_difference(req.data, req.len, "header 1's value is '2', the recorded one '1'");
    http_call(&req, "GET", "https://api.example.com/a?x=1", NULL, NULL);
    expect_difference(req.data, req.len, "it has 0 headers, the recorded one 1");
    expect_difference("V1", 2, "call 1 is a 'V' host call, the recorded one a 'F' call");
    sr_buf_fini(&req);
}

int
main(void)
{
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_calls_answers_and_failures_in_order),
        cmocka_unit_test(test_refuses_calls_past_the_cap),
        cmocka_unit_test(test_replay_answers_the_recorded_calls),
        cmocka_unit_test(test_replay_names_the_first_difference),
    };
    return cmocka_run_group_tests_name("engine_replay", tests, NULL, NULL);
}
