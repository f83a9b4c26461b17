/* SPDX-License-Identifier: MIT
 *
 * secret_policy_test.c - the policy language: parsing and its errors,
 * every condition type, nesting, expiry, runtimes, code hashes, canonical
 * printing, and the evaluation matrix with its reasons. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_util.h"

#include "secret_int.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */

static sr_secret_policy *
parse_ok(const char *text)
{
    sr_secret_policy *p = NULL;
    sr_err err = {0};
    if (sr_secret_policy_parse(text, strlen(text), &p, &err) != SR_OK)
        fail_msg("policy %s: %s", text, err.msg);
    return p;
}

static void
parse_fails(const char *text, sr_status want, const char *msg)
{
    sr_secret_policy *p = NULL;
    sr_err err = {0};
    sr_status rc = sr_secret_policy_parse(text, strlen(text), &p, &err);
    if (rc != want || !strstr(err.msg, msg))
        fail_msg("policy %s: got %s '%s', want %s '%s'", text, sr_status_name(rc), err.msg,
                 sr_status_name(want), msg);
    assert_null(p);
}

/* The runtime named (an unknown name is an out-of-range value: what a
 * corrupted caller could pass). */
static enum sr_runtime
runtime_of(const char *name)
{
    if (name && strcmp(name, "js") == 0)
        return SR_RUNTIME_JS;
    if (name && strcmp(name, "wasm") == 0)
        return SR_RUNTIME_WASM;
    return (enum sr_runtime)99;
}

static enum sr_secret_outcome
eval_entry(const sr_secret_policy *p, const char *caller, const char *runtime, const char *hash,
           const char *entry, int64_t now, sr_err *err)
{
    struct sr_secret_access acc = {
        .owner = "alice",
        .caller = caller,
        .runtime = runtime_of(runtime),
        .code_hash_hex = hash,
        .entry_point = entry,
        .now_ms = now,
    };
    return sr_secret_policy_eval(p, &acc, err);
}

static enum sr_secret_outcome
eval(const sr_secret_policy *p, const char *caller, const char *runtime, const char *hash,
     int64_t now, sr_err *err)
{
    return eval_entry(p, caller, runtime, hash, NULL, now, err);
}

static bool
user_ok(const char *policy, const char *user)
{
    sr_secret_policy *p = parse_ok(policy);
    bool ok = eval(p, user, "js", HASH_A, NOW, NULL) == SR_SECRET_ALLOWED;
    sr_secret_policy_free(p);
    return ok;
}

static char *
canonical(const char *text)
{
    sr_secret_policy *p = parse_ok(text);
    sr_buf b;
    sr_buf_init(&b, 65536);
    assert_int_equal(sr_secret_policy_canonical(p, &b, NULL), SR_OK);
    sr_secret_policy_free(p);
    return sr_buf_steal(&b);
}

static void
test_default_policy_is_owner_only_any_code_any_runtime(void **state)
{
    (void)state;
    const char *defaults[] = {"{}", "null",
                              "{\"runtimes\":null,\"code_hashes\":null,\"condition\":null,"
                              "\"expires_at\":null}"};
    for (size_t i = 0; i < 3; i++) {
        sr_secret_policy *p = parse_ok(defaults[i]);
        sr_err err = {0};
        assert_int_equal(eval(p, "alice", "js", HASH_A, NOW, NULL), SR_SECRET_ALLOWED);
        assert_int_equal(eval(p, "alice", "wasm", HASH_B, NOW, NULL), SR_SECRET_ALLOWED);
        assert_int_equal(eval(p, "alice", "wasm", NULL, NOW, NULL), SR_SECRET_ALLOWED);
        assert_int_equal(eval(p, "bob", "js", HASH_A, NOW, &err), SR_SECRET_DENIED);
        assert_int_equal(err.status, SR_EDENIED);
        assert_string_equal(err.msg, "user 'bob' is not allowed: the policy has no condition, "
                                     "so only the owner may use the secret");
        sr_secret_policy_free(p);
    }
    sr_secret_policy *p = NULL;
    assert_int_equal(sr_secret_policy_parse(NULL, 0, &p, NULL), SR_OK);
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    sr_secret_policy_free(p);
    char *c = canonical("{}");
    assert_string_equal(c, "{\"code_hashes\":null,\"condition\":null,\"entry_points\":null,"
                           "\"expires_at\":null,\"runtimes\":null}");
    free(c);
}

static void
test_allow_all(void **state)
{
    (void)state;
    const char *p = "{\"condition\":{\"AllowAll\":{}}}";
    assert_true(user_ok(p, "alice"));
    assert_true(user_ok(p, "bob"));
    assert_true(user_ok(p, "x@y.z"));
}

static void
test_users(void **state)
{
    (void)state;
    const char *p = "{\"condition\":{\"Users\":[\"bob\",\"carol\",\"bob\"]}}";
    assert_true(user_ok(p, "bob"));
    assert_true(user_ok(p, "carol"));
    assert_false(user_ok(p, "alice")); /* the owner is not implied by a condition */
    assert_false(user_ok(p, "bo"));
    assert_false(user_ok(p, "bobby"));
    assert_false(user_ok("{\"condition\":{\"Users\":[]}}", "bob"));
}

static void
test_user_pattern_is_an_anchored_full_match(void **state)
{
    (void)state;
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"team-.*\"}}", "team-a"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"team-.*\"}}", "xteam-a"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"al\"}}", "alice"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"ice\"}}", "alice"));
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"al.*\"}}", "alice"));
    /* alternation binds loosely: both branches must still match the whole name */
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"ali|bob\"}}", "bob"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"ali|bob\"}}", "alice"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"ali|bob\"}}", "bobby"));
    /* POSIX leftmost-longest: "a|ab" matches all of "ab" */
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"a|ab\"}}", "ab"));
    /* explicit anchors are harmless */
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"^bob$\"}}", "bob"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"^bob\"}}", "bobby"));
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"[a-z]{3,8}@example\\\\.org\"}}",
                        "bob@example.org"));
    assert_false(user_ok("{\"condition\":{\"UserPattern\":\"[a-z]{3,8}@example\\\\.org\"}}",
                         "bob@exampleXorg"));
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"[[:alpha:]]+[0-9]?\"}}", "carol7"));
}

static void
test_invalid_pattern_names_the_error(void **state)
{
    (void)state;
    parse_fails("{\"condition\":{\"UserPattern\":\"(ab\"}}", SR_EINVAL,
                "policy 'condition.UserPattern' expression '(ab' is invalid: ");
    parse_fails("{\"condition\":{\"UserPattern\":\"[a-\"}}", SR_EINVAL, "is invalid: ");
    parse_fails("{\"condition\":{\"UserPattern\":\"a{2,1}\"}}", SR_EINVAL, "is invalid: ");
    parse_fails("{\"condition\":{\"UserPattern\":\"\"}}", SR_EINVAL, "is empty");
    parse_fails("{\"condition\":{\"UserPattern\":5}}", SR_EINVAL, "must be a string");
    parse_fails("{\"condition\":{\"UserPattern\":\"(a)\\\\1\"}}", SR_EINVAL,
                "back-references (\\1..\\9) are not supported");
    parse_fails("{\"condition\":{\"UserPattern\":\"a{65}\"}}", SR_EINVAL,
                "interval bounds above 64");
    parse_fails("{\"condition\":{\"UserPattern\":\"((a{2,20}){20}){20}\"}}", SR_EINVAL,
                "more than 4096 repetitions");
    parse_fails("{\"condition\":{\"UserPattern\":\"a\\u0000b\"}}", SR_EINVAL, "NUL character");
    /* the message text of regcomp is included */
    sr_secret_policy *p = NULL;
    sr_err err = {0};
    const char *t = "{\"condition\":{\"UserPattern\":\"(ab\"}}";
    assert_int_equal(sr_secret_policy_parse(t, strlen(t), &p, &err), SR_EINVAL);
    assert_true(strlen(err.msg) > strlen("policy 'condition.UserPattern' expression '(ab' is "
                                         "invalid: "));
    /* braces inside a bracket are not intervals */
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"[{}]x{2}\"}}", "{xx"));
    assert_true(user_ok("{\"condition\":{\"UserPattern\":\"(a{64}){64}|b\"}}", "b"));
}

static void
test_pattern_length_is_capped(void **state)
{
    (void)state;
    char text[SR_SECRET_PATTERN_MAX + 64];
    int n = snprintf(text, sizeof(text), "{\"condition\":{\"UserPattern\":\"");
    memset(text + n, 'a', SR_SECRET_PATTERN_MAX + 1);
    n += SR_SECRET_PATTERN_MAX + 1;
    (void)snprintf(text + n, sizeof(text) - (size_t)n, "\"}}");
    parse_fails(text, SR_EINVAL, "expression is too long: 257 characters, at most 256");
}

static void
test_and_or_not_and_nesting(void **state)
{
    (void)state;
    const char *p = "{\"condition\":{\"And\":[{\"UserPattern\":\"[a-z]+\"},"
                    "{\"Not\":{\"Users\":[\"mallory\"]}}]}}";
    assert_true(user_ok(p, "bob"));
    assert_false(user_ok(p, "mallory"));
    assert_false(user_ok(p, "Bob"));
    p = "{\"condition\":{\"Or\":[{\"Users\":[\"alice\"]},{\"UserPattern\":\"ops-[0-9]+\"}]}}";
    assert_true(user_ok(p, "alice"));
    assert_true(user_ok(p, "ops-12"));
    assert_false(user_ok(p, "ops-"));
    p = "{\"condition\":{\"Not\":{\"AllowAll\":{}}}}";
    assert_false(user_ok(p, "alice"));
    p = "{\"condition\":{\"Not\":{\"Not\":{\"Users\":[\"bob\"]}}}}";
    assert_true(user_ok(p, "bob"));
    assert_false(user_ok(p, "carol"));
    p = "{\"condition\":{\"Or\":[{\"And\":[{\"Users\":[\"a\",\"b\"]},{\"Not\":{\"Users\":"
        "[\"b\"]}}]},{\"And\":[{\"UserPattern\":\"c.*\"},{\"UserPattern\":\".*z\"}]}]}}";
    assert_true(user_ok(p, "a"));
    assert_false(user_ok(p, "b"));
    assert_true(user_ok(p, "cz"));
    assert_true(user_ok(p, "cabz"));
    assert_false(user_ok(p, "cab"));
}

/* Nests n conditions: Not(Not(...(AllowAll))). */
static char *
nested(int n)
{
    sr_buf b;
    sr_buf_init(&b, 65536);
    assert_int_equal(sr_buf_append_str(&b, "{\"condition\":", NULL), SR_OK);
    for (int i = 1; i < n; i++)
        assert_int_equal(sr_buf_append_str(&b, "{\"Not\":", NULL), SR_OK);
    assert_int_equal(sr_buf_append_str(&b, "{\"AllowAll\":{}}", NULL), SR_OK);
    for (int i = 1; i < n; i++)
        assert_int_equal(sr_buf_append_str(&b, "}", NULL), SR_OK);
    assert_int_equal(sr_buf_append_str(&b, "}", NULL), SR_OK);
    return sr_buf_steal(&b);
}

static void
test_depth_is_capped(void **state)
{
    (void)state;
    char *ok = nested(SR_SECRET_POLICY_MAX_DEPTH); /* 15 Nots around AllowAll: denies */
    sr_secret_policy *p = parse_ok(ok);
    assert_int_equal(eval(p, "zed", "js", NULL, NOW, NULL), SR_SECRET_DENIED);
    sr_secret_policy_free(p);
    free(ok);
    char *deep = nested(SR_SECRET_POLICY_MAX_DEPTH + 1);
    parse_fails(deep, SR_ELIMIT, "nests deeper than 16 levels");
    free(deep);
}

static void
test_node_and_user_counts_are_capped(void **state)
{
    (void)state;
    sr_buf b;
    sr_buf_init(&b, 1 << 20);
    assert_int_equal(sr_buf_append_str(&b, "{\"condition\":{\"Or\":[", NULL), SR_OK);
    for (int i = 0; i < SR_SECRET_POLICY_MAX_NODES; i++)
        assert_int_equal(sr_buf_printf(&b, NULL, "%s{\"AllowAll\":{}}", i ? "," : ""), SR_OK);
    assert_int_equal(sr_buf_append_str(&b, "]}}", NULL), SR_OK);
    parse_fails(b.data, SR_ELIMIT, "more than 128 nodes");
    sr_buf_reset(&b);
    assert_int_equal(sr_buf_append_str(&b, "{\"condition\":{\"Users\":[", NULL), SR_OK);
    for (int i = 0; i <= SR_SECRET_POLICY_MAX_USERS; i++)
        assert_int_equal(sr_buf_printf(&b, NULL, "%s\"u%d\"", i ? "," : "", i), SR_OK);
    assert_int_equal(sr_buf_append_str(&b, "]}}", NULL), SR_OK);
    parse_fails(b.data, SR_ELIMIT, "more than 128 user names");
    sr_buf_fini(&b);
    char big[SR_SECRET_POLICY_MAX_TEXT + 2];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    parse_fails(big, SR_ELIMIT, "policy is too large");
}

static void
test_malformed_policies_are_refused(void **state)
{
    (void)state;
    parse_fails("[1]", SR_EINVAL, "policy must be a JSON object");
    parse_fails("{", SR_EINVAL, "policy is not valid JSON");
    parse_fails("{\"runtime\":[\"js\"]}", SR_EINVAL,
                "policy has unknown field 'runtime': expected runtimes, code_hashes, "
                "entry_points, condition, expires_at or http_hosts");
    parse_fails("{\"condition\":{}}", SR_EINVAL,
                "policy 'condition' must be an object with exactly one member");
    parse_fails("{\"condition\":{\"Users\":[\"a\"],\"AllowAll\":{}}}", SR_EINVAL,
                "exactly one member");
    parse_fails("{\"condition\":{\"Anyone\":{}}}", SR_EINVAL,
                "policy 'condition' has unknown condition 'Anyone'");
    parse_fails("{\"condition\":{\"AllowAll\":true}}", SR_EINVAL,
                "policy 'condition.AllowAll' must be {}");
    parse_fails("{\"condition\":{\"And\":[]}}", SR_EINVAL,
                "policy 'condition.And' must be a non-empty array of conditions");
    parse_fails("{\"condition\":{\"Or\":{\"AllowAll\":{}}}}", SR_EINVAL, "non-empty array");
    parse_fails("{\"condition\":{\"And\":[{\"AllowAll\":{}},{\"Not\":[]}]}}", SR_EINVAL,
                "policy 'condition.And[1].Not' must be an object");
    parse_fails("{\"condition\":{\"Users\":\"bob\"}}", SR_EINVAL, "must be an array of user");
    parse_fails("{\"condition\":{\"Users\":[\"bob\",7]}}", SR_EINVAL,
                "policy 'condition.Users' item 1 must be a string");
    parse_fails("{\"condition\":{\"Users\":[\"b o b\"]}}", SR_EINVAL,
                "policy 'condition.Users' item 0: owner 'b o b' has an invalid character");
    parse_fails("{\"condition\":\"AllowAll\"}", SR_EINVAL, "must be an object");
    parse_fails("{\"runtimes\":[]}", SR_EINVAL, "'runtimes' must be a non-empty array");
    parse_fails("{\"runtimes\":\"js\"}", SR_EINVAL, "'runtimes' must be a non-empty array");
    parse_fails("{\"runtimes\":[\"js\",\"python\"]}", SR_EINVAL,
                "policy 'runtimes' item 1: unknown runtime 'python': expected 'js' or 'wasm'");
    parse_fails("{\"runtimes\":[1]}", SR_EINVAL, "item 0 must be a string");
    parse_fails("{\"code_hashes\":[]}", SR_EINVAL, "'code_hashes' must be a non-empty array");
    parse_fails("{\"code_hashes\":[\"abc\"]}", SR_EINVAL,
                "policy 'code_hashes' item 0 must be 64 hex characters");
    parse_fails("{\"code_hashes\":[\"" HASH_A "\",\"" HASH_A "g\"]}", SR_EINVAL, "item 1");
    parse_fails("{\"expires_at\":12345}", SR_EINVAL, "'expires_at' must be an RFC 3339 time");
    parse_fails("{\"expires_at\":\"tomorrow\"}", SR_EINVAL, "RFC 3339");
}

static void
test_hash_count_is_capped(void **state)
{
    (void)state;
    sr_buf b;
    sr_buf_init(&b, 1 << 20);
    assert_int_equal(sr_buf_append_str(&b, "{\"code_hashes\":[", NULL), SR_OK);
    for (int i = 0; i <= SR_SECRET_POLICY_MAX_HASHES; i++)
        assert_int_equal(sr_buf_printf(&b, NULL, "%s\"%064x\"", i ? "," : "", i), SR_OK);
    assert_int_equal(sr_buf_append_str(&b, "]}", NULL), SR_OK);
    parse_fails(b.data, SR_ELIMIT, "lists 65 hashes, at most 64");
    sr_buf_fini(&b);
}

static void
test_http_hosts(void **state)
{
    (void)state;
    sr_secret_policy *p = NULL;
    const char *t = "{\"http_hosts\":[\"API.example.com\",\"*.x.org:8443\",\"api.example.com\"]}";
    assert_int_equal(sr_secret_policy_parse(t, strlen(t), &p, NULL), SR_OK);
    const char *h[4];
    assert_int_equal(sr_secret_policy_http_hosts(p, h, 4), 2);
    assert_string_equal(h[0], "*.x.org:8443");
    assert_string_equal(h[1], "api.example.com");
    sr_buf b;
    sr_buf_init(&b, 4096);
    assert_int_equal(sr_secret_policy_canonical(p, &b, NULL), SR_OK);
    assert_non_null(strstr(b.data, "\"http_hosts\":[\"*.x.org:8443\",\"api.example.com\"]"));
    sr_buf_fini(&b);
    sr_secret_policy_free(p);
    /* a policy without it keeps its canonical text */
    assert_int_equal(sr_secret_policy_parse("{}", 2, &p, NULL), SR_OK);
    assert_int_equal(sr_secret_policy_http_hosts(p, NULL, 0), 0);
    sr_buf_init(&b, 4096);
    assert_int_equal(sr_secret_policy_canonical(p, &b, NULL), SR_OK);
    assert_null(strstr(b.data, "http_hosts"));
    sr_buf_fini(&b);
    sr_secret_policy_free(p);
    parse_fails("{\"http_hosts\":[]}", SR_EINVAL, "non-empty array");
    parse_fails("{\"http_hosts\":[\"https://a.com\"]}", SR_EINVAL,
                "policy 'http_hosts' item 0: host pattern");
    parse_fails("{\"http_hosts\":[7]}", SR_EINVAL, "item 0: must be a string");
}

static void
test_runtimes(void **state)
{
    (void)state;
    sr_err err = {0};
    sr_secret_policy *p = parse_ok("{\"runtimes\":[\"js\"]}");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "wasm", NULL, NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "runtime 'wasm' is not allowed (allowed: js)");
    assert_int_equal(eval(p, "alice", NULL, NULL, NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "runtime '' is not allowed (allowed: js)");
    sr_secret_policy_free(p);
    p = parse_ok("{\"runtimes\":[\"wasm\"]}");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "runtime 'js' is not allowed (allowed: wasm)");
    assert_int_equal(eval(p, "alice", "python", NULL, NOW, &err), SR_SECRET_DENIED);
    sr_secret_policy_free(p);
    p = parse_ok("{\"runtimes\":[\"wasm\",\"js\",\"js\"]}");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "wasm", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "lua", NULL, NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "runtime '' is not allowed (allowed: js, wasm)");
    sr_secret_policy_free(p);
}

static void
test_code_hashes_bind_exact_code(void **state)
{
    (void)state;
    sr_err err = {0};
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)(HASH_B[i] >= 'a' ? HASH_B[i] - 32 : HASH_B[i]);
    upper[64] = '\0';
    char text[256];
    (void)snprintf(text, sizeof(text), "{\"code_hashes\":[\"%s\",\"" HASH_A "\"]}", upper);
    sr_secret_policy *p = parse_ok(text);
    assert_int_equal(eval(p, "alice", "js", HASH_A, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "js", HASH_B, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "js", upper, NOW, NULL), SR_SECRET_ALLOWED);
    char other[65];
    memcpy(other, HASH_B, 65);
    other[63] = 'e';
    assert_int_equal(eval(p, "alice", "js", other, NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "code hash '0123456789abcdef0123456789abcdef0123456789abcdef0123"
                                 "456789abcdee' is not in the allowed list");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, &err), SR_SECRET_DENIED);
    assert_non_null(strstr(err.msg, "is not a SHA-256 hex hash"));
    assert_int_equal(eval(p, "alice", "js", "abc", NOW, &err), SR_SECRET_DENIED);
    assert_int_equal(eval(p, "alice", "js", HASH_A "00", NOW, &err), SR_SECRET_DENIED);
    sr_secret_policy_free(p);
}

/* issue 9 item 1: code identity is the code and its entry point */
static void
test_entry_points_pin_code_identity(void **state)
{
    (void)state;
    sr_err err = {0};
    /* bound to code without entry_points: only the runtime's default */
    sr_secret_policy *p = parse_ok("{\"code_hashes\":[\"" HASH_A "\"]}");
    assert_true(sr_secret_policy_binds_code(p));
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, NULL, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "main", NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "wasm", HASH_A, NULL, NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "getSecret", NOW, &err),
                     SR_SECRET_DENIED);
    assert_string_equal(err.msg, "entry point 'getSecret' is not allowed: the policy is bound to "
                                 "code hashes without 'entry_points', so only 'main' may be "
                                 "called");
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "eval", NOW, &err), SR_SECRET_DENIED);
    assert_int_equal(eval_entry(p, "alice", "wasm", HASH_A, "main", NOW, &err), SR_SECRET_DENIED);
    sr_secret_policy_free(p);
    /* explicit entry points, sorted and deduplicated */
    p = parse_ok("{\"code_hashes\":[\"" HASH_A "\"],\"entry_points\":[\"run\",\"main\",\"run\"]}");
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "run", NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "main", NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "js", HASH_A, "helper", NOW, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "entry point 'helper' is not allowed (allowed: main, run)");
    /* the code hash is still checked first */
    assert_int_equal(eval_entry(p, "alice", "js", HASH_B, "run", NOW, &err), SR_SECRET_DENIED);
    assert_non_null(strstr(err.msg, "is not in the allowed list"));
    sr_secret_policy_free(p);
    /* entry points alone pin the entry point for any code */
    p = parse_ok("{\"entry_points\":[\"main\"]}");
    assert_true(sr_secret_policy_binds_code(p));
    assert_int_equal(eval_entry(p, "alice", "js", HASH_B, "main", NOW, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval_entry(p, "alice", "js", HASH_B, "other", NOW, NULL), SR_SECRET_DENIED);
    sr_secret_policy_free(p);
    /* no code binding: any entry point */
    p = parse_ok("{}");
    assert_false(sr_secret_policy_binds_code(p));
    assert_int_equal(eval_entry(p, "alice", "js", HASH_B, "other", NOW, NULL), SR_SECRET_ALLOWED);
    sr_secret_policy_free(p);
    char *c = canonical("{\"entry_points\":[\"b\",\"a\"]}");
    assert_non_null(strstr(c, "\"entry_points\":[\"a\",\"b\"]"));
    free(c);
    parse_fails("{\"entry_points\":[]}", SR_EINVAL, "'entry_points' must be a non-empty array");
    parse_fails("{\"entry_points\":[\"1x\"]}", SR_EINVAL, "item 0 must be a function name");
    parse_fails("{\"entry_points\":[\"a b\"]}", SR_EINVAL, "item 0 must be a function name");
    parse_fails("{\"entry_points\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
                "\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
                SR_ELIMIT, "lists 17 names, at most 16");
}

static void
test_expiry(void **state)
{
    (void)state;
    sr_err err = {0};
    sr_secret_policy *p = parse_ok("{\"expires_at\":\"2026-01-01T00:00:00Z\"}");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW - 1, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, &err), SR_SECRET_EXPIRED);
    assert_int_equal(err.status, SR_EDENIED);
    assert_string_equal(err.msg, "expired at 2026-01-01T00:00:00.000Z");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW + 86400000, NULL), SR_SECRET_EXPIRED);
    sr_secret_policy_free(p);
    /* an offset is converted to UTC */
    p = parse_ok("{\"expires_at\":\"2026-01-01T02:00:00.5+02:00\"}");
    assert_int_equal(eval(p, "alice", "js", NULL, NOW + 499, NULL), SR_SECRET_ALLOWED);
    assert_int_equal(eval(p, "alice", "js", NULL, NOW + 500, &err), SR_SECRET_EXPIRED);
    assert_string_equal(err.msg, "expired at 2026-01-01T00:00:00.500Z");
    sr_secret_policy_free(p);
}

static void
test_rfc3339_parser(void **state)
{
    (void)state;
    int64_t ms = 0;
    struct {
        const char *t;
        int64_t ms;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-01-01T00:00:00Z", NOW},
        {"2026-01-01t00:00:00z", NOW},
        {"2024-02-29T12:00:00Z", 1709208000000LL},
        {"2026-01-01T00:00:00.123456789Z", NOW + 123},
        {"2026-01-01T00:00:00.1Z", NOW + 100},
        {"2025-12-31T19:00:00-05:00", NOW},
        {"2026-06-30T23:59:60Z", 1782864000000LL}, /* leap second: the next second */
        {"9999-12-31T23:59:59Z", 253402300799000LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!sr_time_parse_rfc3339(good[i].t, strlen(good[i].t), &ms))
            fail_msg("'%s' refused", good[i].t);
        if (ms != good[i].ms)
            fail_msg("'%s': got %lld, want %lld", good[i].t, (long long)ms, (long long)good[i].ms);
    }
    const char *bad[] = {
        "",
        "2026-01-01",
        "2026-01-01T00:00:00",
        "2026-01-01 00:00:00Z",
        "2026-1-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00.1234567891Z",
        "2026-01-01T00:00:00+0200",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00Zjunk",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "+2026-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sr_time_parse_rfc3339(bad[i], strlen(bad[i]), &ms))
            fail_msg("'%s' accepted", bad[i]);
    assert_false(sr_time_parse_rfc3339(NULL, 0, &ms));
}

static void
test_evaluation_order_and_reasons(void **state)
{
    (void)state;
    sr_err err = {0};
    sr_secret_policy *p = parse_ok("{\"runtimes\":[\"js\"],\"code_hashes\":[\"" HASH_A
                                   "\"],\"condition\":{\"Users\":[\"bob\"]},"
                                   "\"expires_at\":\"2026-01-01T00:00:00Z\"}");
    /* a user not allowed learns nothing else */
    assert_int_equal(eval(p, "eve", "wasm", HASH_B, NOW + 1, &err), SR_SECRET_DENIED);
    assert_string_equal(err.msg, "user 'eve' is not allowed by the condition");
    assert_int_equal(eval(p, "bob", "wasm", HASH_B, NOW + 1, &err), SR_SECRET_EXPIRED);
    assert_int_equal(eval(p, "bob", "wasm", HASH_B, NOW - 1, &err), SR_SECRET_DENIED);
    assert_non_null(strstr(err.msg, "runtime 'wasm'"));
    assert_int_equal(eval(p, "bob", "js", HASH_B, NOW - 1, &err), SR_SECRET_DENIED);
    assert_non_null(strstr(err.msg, "code hash"));
    sr_err untouched = {0};
    assert_int_equal(eval(p, "bob", "js", HASH_A, NOW - 1, &untouched), SR_SECRET_ALLOWED);
    assert_int_equal(untouched.status, SR_OK);
    assert_string_equal(untouched.msg, "");
    assert_int_equal(eval(p, NULL, "js", HASH_A, NOW, &err), SR_SECRET_ERROR);
    assert_int_equal(err.status, SR_EINVAL);
    sr_secret_policy_free(p);
    assert_int_equal(sr_secret_policy_eval(NULL, NULL, &err), SR_SECRET_ERROR);
    assert_string_equal(sr_secret_outcome_name(SR_SECRET_ALLOWED), "allowed");
    assert_string_equal(sr_secret_outcome_name(SR_SECRET_MISSING), "missing");
    assert_string_equal(sr_secret_outcome_name(SR_SECRET_EXPIRED), "expired");
    assert_string_equal(sr_secret_outcome_name(SR_SECRET_DENIED), "denied");
    assert_string_equal(sr_secret_outcome_name(SR_SECRET_ERROR), "error");
    assert_string_equal(sr_secret_outcome_name((enum sr_secret_outcome)99), "error");
}

static void
test_canonical_form(void **state)
{
    (void)state;
    char *c = canonical("{\"expires_at\":\"2026-06-01T12:00:00+02:00\",\"runtimes\":[\"wasm\","
                        "\"js\",\"wasm\"],\"code_hashes\":[\"" HASH_B "\",\"" HASH_A "\",\"" HASH_B
                        "\"],\"condition\":{\"Or\":[{\"Users\":[\"carol\","
                        "\"bob\",\"carol\"]},{\"Not\":{\"UserPattern\":\"x\\\\.y\"}},"
                        "{\"AllowAll\":{}}]}}");
    assert_string_equal(c, "{\"code_hashes\":[\"" HASH_B "\",\"" HASH_A "\"],"
                           "\"condition\":{\"Or\":[{\"Users\":[\"bob\",\"carol\"]},{\"Not\":"
                           "{\"UserPattern\":\"x\\\\.y\"}},{\"AllowAll\":{}}]},"
                           "\"entry_points\":null,\"expires_at\":\"2026-06-01T10:00:00.000Z\","
                           "\"runtimes\":[\"js\",\"wasm\"]}");
    /* canonical text parses back to the same canonical text */
    char *again = canonical(c);
    assert_string_equal(again, c);
    free(again);
    free(c);
    json_t *v = NULL;
    sr_secret_policy *p = parse_ok("{\"runtimes\":[\"js\"]}");
    assert_int_equal(sr_secret_policy_to_json(p, &v, NULL), SR_OK);
    assert_true(json_is_null(json_object_get(v, "condition")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "runtimes"), 0)), "js");
    json_decref(v);
    sr_secret_policy_free(p);
    sr_secret_policy_free(NULL);
}

static void
test_from_json_borrows(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:{s:[s]}}", "condition", "Users", "bob");
    sr_secret_policy *p = NULL;
    assert_int_equal(sr_secret_policy_from_json(v, &p, NULL), SR_OK);
    json_decref(v);
    assert_int_equal(eval(p, "bob", "js", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    sr_secret_policy_free(p);
    assert_int_equal(sr_secret_policy_from_json(NULL, &p, NULL), SR_OK);
    assert_int_equal(eval(p, "alice", "js", NULL, NOW, NULL), SR_SECRET_ALLOWED);
    sr_secret_policy_free(p);
}

struct shared {
    const sr_secret_policy *p;
    int fails;
};

static void *
eval_loop(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < 2000; i++) {
        bool bob = eval(s->p, "bob-7", "js", NULL, NOW, NULL) == SR_SECRET_ALLOWED;
        bool eve = eval(s->p, "eve", "js", NULL, NOW, NULL) == SR_SECRET_ALLOWED;
        if (!bob || eve)
            __atomic_add_fetch(&s->fails, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void
test_compiled_policy_is_shared_by_threads(void **state)
{
    (void)state;
    sr_secret_policy *p = parse_ok("{\"condition\":{\"Or\":[{\"UserPattern\":\"bob-[0-9]+\"},"
                                   "{\"Users\":[\"carol\"]}]}}");
    struct shared s = {p, 0};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, eval_loop, &s), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(s.fails, 0);
    sr_secret_policy_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_is_owner_only_any_code_any_runtime),
        cmocka_unit_test(test_allow_all),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_user_pattern_is_an_anchored_full_match),
        cmocka_unit_test(test_invalid_pattern_names_the_error),
        cmocka_unit_test(test_pattern_length_is_capped),
        cmocka_unit_test(test_and_or_not_and_nesting),
        cmocka_unit_test(test_depth_is_capped),
        cmocka_unit_test(test_node_and_user_counts_are_capped),
        cmocka_unit_test(test_malformed_policies_are_refused),
        cmocka_unit_test(test_hash_count_is_capped),
        cmocka_unit_test(test_runtimes),
        cmocka_unit_test(test_http_hosts),
        cmocka_unit_test(test_code_hashes_bind_exact_code),
        cmocka_unit_test(test_entry_points_pin_code_identity),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_rfc3339_parser),
        cmocka_unit_test(test_evaluation_order_and_reasons),
        cmocka_unit_test(test_canonical_form),
        cmocka_unit_test(test_from_json_borrows),
        cmocka_unit_test(test_compiled_policy_is_shared_by_threads),
    };
    return cmocka_run_group_tests_name("secret_policy", tests, NULL, NULL);
}
