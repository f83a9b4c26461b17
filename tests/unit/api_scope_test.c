/* SPDX-License-Identifier: MIT
 *
 * api_scope_test.c - token scopes on every route (docs/accounts.md#scopes),
 * walked from the router's own table, and the /tokens endpoints: a user
 * manages their own tokens within their token's scopes and expiry; admin
 * manages anyone's. Runs sr_api_dispatch on a real SQLite store with no
 * engine: a refused request never reaches a handler that needs one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_int.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

/* Every route and the scope it needs: a new route fails this test until it
 * is added here (and to docs/accounts.md). "-" public, "token" any token. */
static const struct {
    const char *method, *pattern, *scope;
} want[] = {
    {"GET", "/health", "-"},
    {"GET", "/ready", "-"},
    {"GET", "/info", "-"},
    {"GET", "/attestation", "-"},
    {"GET", "/openapi.json", "-"},
    {"POST", "/execute", "execute"},
    {"GET", "/jobs", "jobs:read"},
    {"GET", "/jobs/{}", "jobs:read"},
    {"GET", "/jobs/{}/recording", "jobs:read"},
    {"GET", "/jobs/{}/deliveries", "jobs:read"},
    {"POST", "/jobs/{}/cancel", "execute"},
    {"GET", "/modules", "execute"},
    {"POST", "/modules", "modules:write"},
    {"GET", "/modules/{}", "execute"},
    {"DELETE", "/modules/{}", "modules:write"},
    {"GET", "/secrets", "secrets:read"},
    {"GET", "/secrets/pubkey", "secrets:write"},
    {"PUT", "/secrets/{}", "secrets:write"},
    {"DELETE", "/secrets/{}", "secrets:write"},
    {"PUT", "/secrets/{}/policy", "secrets:write"},
    {"POST", "/secrets/{}/generate", "secrets:write"},
    {"GET", "/secrets/{}/audit", "secrets:read"},
    {"GET", "/storage", "storage:read"},
    {"GET", "/storage/{}", "storage:read"},
    {"GET", "/storage/{}/{*}", "storage:read"},
    {"PUT", "/storage/{}/{*}", "storage:write"},
    {"DELETE", "/storage/{}/{*}", "storage:write"},
    {"GET", "/stats", "jobs:read"},
    {"GET", "/tokens", "token"},
    {"POST", "/tokens", "token"},
    {"DELETE", "/tokens/{}", "token"},
    {"POST", "/estimate", "execute"},
    {"GET", "/account", "token"},
    {"POST", "/account/credit", "admin"},
    {"GET", "/workers", "admin"},
    {"POST", "/worker/register", "-"},
    {"POST", "/worker/heartbeat", "-"},
    {"GET", "/worker/jobs", "-"},
    {"GET", "/worker/modules/{}", "-"},
    {"POST", "/worker/jobs/{}/result", "-"},
    {"POST", "/worker/jobs/{}/storage", "-"},
    {"POST", "/keystore/context", "-"},
    {"POST", "/keystore/audit", "-"},
    {"GET", "/", "-"},
    {"HEAD", "/", "-"},
    {"GET", "/ui", "-"},
    {"HEAD", "/ui", "-"},
    {"GET", "/ui/", "-"},
    {"HEAD", "/ui/", "-"},
    {"GET", "/ui/{*}", "-"},
    {"HEAD", "/ui/{*}", "-"},
};
#define NWANT (sizeof(want) / sizeof(want[0]))

struct fixture {
    char dir[64];
    sr_store *st;
    sr_api *api;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    (void)snprintf(f->dir, sizeof(f->dir), "/tmp/sr_scope_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    (void)snprintf(path, sizeof(path), "%s/sealrun.db", f->dir);
    sr_err e = {0};
    assert_int_equal(sr_crypto_init(&e), SR_OK);
    assert_int_equal(sr_store_open_sqlite(path, &f->st, &e), SR_OK);
    assert_int_equal(sr_api_new(NULL, f->st, &f->api, &e), SR_OK);
    *state = f;
    return 0;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    sr_api_free(f->api);
    sr_store_close(f->st);
    (void)nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Makes a token; writes "Bearer <token>" into auth and its id into id. */
static void
make_token(struct fixture *f, const char *user, uint32_t scopes, int64_t expires_at_ms,
           char auth[SR_TOKEN_LEN + 8], char id[17])
{
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    const struct sr_token_new t = {.hash = hash,
                                   .owner = user,
                                   .scopes = scopes,
                                   .expires_at_ms = expires_at_ms,
                                   .now_ms = sr_now_ms()};
    sr_err e = {0};
    assert_int_equal(sr_store_token_create(f->st, &t, &e), SR_OK);
    (void)snprintf(auth, SR_TOKEN_LEN + 8, "Bearer %s", tok);
    if (id)
        sr_hex_encode(hash, 8, id);
}

/* Dispatches one request; returns the status, the answer in *body (owned). */
static unsigned
request(struct fixture *f, const char *method, const char *path, const char *auth, const char *body,
        const struct sr_api_query *q, size_t nq, json_t **out)
{
    struct sr_api_request req = {.method = method,
                                 .path = path,
                                 .authorization = auth,
                                 .body = body,
                                 .body_len = body ? strlen(body) : 0,
                                 .query = q,
                                 .nquery = nq};
    struct sr_api_response resp;
    sr_api_dispatch(f->api, &req, &resp);
    if (out)
        *out = resp.body;
    else
        json_decref(resp.body);
    free(resp.text);
    return resp.status;
}

static const char *
error_message(const json_t *body)
{
    return json_string_value(json_object_get(json_object_get(body, "error"), "message"));
}

/* A path that matches the pattern ({} -> "x", {*} -> "k/1"). */
static void
path_of(const char *pattern, char *out, size_t cap)
{
    size_t at = 0;
    for (const char *p = pattern; *p && at + 4 < cap;) {
        if (strncmp(p, "{*}", 3) == 0) {
            memcpy(out + at, "k/1", 3);
            at += 3;
            p += 3;
        } else if (strncmp(p, "{}", 2) == 0) {
            out[at++] = 'x';
            p += 2;
        } else {
            out[at++] = *p++;
        }
    }
    out[at] = '\0';
}

static void
test_every_route_names_its_scope(void **state)
{
    (void)state;
    size_t n = 0;
    const struct sr_api__route *r = sr_api__routes(&n);
    assert_int_equal(n, NWANT);
    for (size_t i = 0; i < n; i++) {
        const char *scope = !r[i].auth ? "-" : r[i].scope ? sr_scope_name(r[i].scope) : "token";
        assert_non_null(scope); /* exactly one scope bit */
        bool found = false;
        for (size_t j = 0; j < NWANT && !found; j++)
            found = strcmp(want[j].method, r[i].method) == 0 &&
                    strcmp(want[j].pattern, r[i].pattern) == 0;
        if (!found)
            fail_msg("route %s %s is not in this test's table", r[i].method, r[i].pattern);
        for (size_t j = 0; j < NWANT; j++)
            if (strcmp(want[j].method, r[i].method) == 0 &&
                strcmp(want[j].pattern, r[i].pattern) == 0 && strcmp(want[j].scope, scope) != 0)
                fail_msg("route %s %s needs '%s', expected '%s'", r[i].method, r[i].pattern, scope,
                         want[j].scope);
    }
}

/* For each route that needs a scope: a token with every other scope (admin
 * too) gets 403 naming the one missing; no token at all gets 401. */
static void
test_a_token_without_the_scope_gets_403_naming_it(void **state)
{
    struct fixture *f = *state;
    size_t n = 0;
    const struct sr_api__route *r = sr_api__routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (!r[i].auth)
            continue;
        char path[128], auth[SR_TOKEN_LEN + 8], id[17];
        path_of(r[i].pattern, path, sizeof(path));
        json_t *body = NULL;
        assert_int_equal(request(f, r[i].method, path, NULL, NULL, NULL, 0, &body), 401);
        json_decref(body);
        if (!r[i].scope)
            continue;
        make_token(f, "alice", SR_SCOPES_ALL & ~r[i].scope, 0, auth, id);
        unsigned st = request(f, r[i].method, path, auth, "{}", NULL, 0, &body);
        if (st != 403)
            fail_msg("%s %s: got %u, expected 403", r[i].method, path, st);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(body, "error"), "code")),
            "forbidden");
        char need[64];
        (void)snprintf(need, sizeof(need), "needs the '%s' scope", sr_scope_name(r[i].scope));
        if (!strstr(error_message(body), need) || !strstr(error_message(body), id))
            fail_msg("%s %s: message '%s' does not name '%s' and token %s", r[i].method, path,
                     error_message(body), need, id);
        json_decref(body);
    }
}

static void
test_an_expired_token_gets_401(void **state)
{
    struct fixture *f = *state;
    char auth[SR_TOKEN_LEN + 8];
    make_token(f, "alice", SR_SCOPES_USER, sr_now_ms() + 1, auth, NULL);
    usleep(5000);
    json_t *body = NULL;
    assert_int_equal(request(f, "GET", "/tokens", auth, NULL, NULL, 0, &body), 401);
    assert_non_null(strstr(error_message(body), "expired"));
    json_decref(body);
}

static json_t *
create(struct fixture *f, const char *auth, const char *body, unsigned want_status)
{
    json_t *out = NULL;
    unsigned st = request(f, "POST", "/tokens", auth, body, NULL, 0, &out);
    if (st != want_status)
        fail_msg("POST /tokens %s: got %u (%s), expected %u", body, st,
                 out ? error_message(out) : "", want_status);
    return out;
}

static void
test_a_user_creates_tokens_within_their_own(void **state)
{
    struct fixture *f = *state;
    char auth[SR_TOKEN_LEN + 8], id[17];
    make_token(f, "alice", SR_SCOPE_EXECUTE | SR_SCOPE_JOBS_READ, 0, auth, id);

    json_t *t = create(f, auth, "{\"scopes\": [\"execute\"], \"label\": \"ci\"}", 201);
    assert_string_equal(json_string_value(json_object_get(t, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(t, "label")), "ci");
    assert_int_equal(json_array_size(json_object_get(t, "scopes")), 1);
    assert_true(json_is_null(json_object_get(t, "expires_at")));
    const char *tok = json_string_value(json_object_get(t, "token"));
    assert_int_equal(strlen(tok), SR_TOKEN_LEN);
    /* the new token works, with its one scope */
    char auth2[SR_TOKEN_LEN + 8];
    (void)snprintf(auth2, sizeof(auth2), "Bearer %s", tok);
    json_decref(t);
    json_t *body = NULL;
    assert_int_equal(request(f, "GET", "/jobs", auth2, NULL, NULL, 0, &body), 403);
    json_decref(body);

    /* by default: the caller's scopes */
    t = create(f, auth, "{}", 201);
    assert_int_equal(json_array_size(json_object_get(t, "scopes")), 2);
    json_decref(t);

    /* never more than its own, never another user's, never admin */
    t = create(f, auth, "{\"scopes\": [\"execute\", \"storage:write\"]}", 403);
    assert_non_null(strstr(error_message(t), "lacks 'storage:write'"));
    json_decref(t);
    t = create(f, auth, "{\"user\": \"bob\"}", 403);
    assert_non_null(strstr(error_message(t), "'admin' scope"));
    json_decref(t);
    t = create(f, auth, "{\"scopes\": [\"admin\"]}", 403);
    json_decref(t);

    /* bad bodies name what was wrong */
    t = create(f, auth, "{\"scopes\": [\"execute\", \"root\"]}", 400);
    assert_non_null(strstr(error_message(t), "unknown scope 'root'"));
    json_decref(t);
    t = create(f, auth, "{\"scope\": [\"execute\"]}", 400);
    assert_non_null(strstr(error_message(t), "unknown field 'scope'"));
    json_decref(t);
    t = create(f, auth, "{\"expires_in\": 0}", 400);
    assert_non_null(strstr(error_message(t), "expires_in"));
    json_decref(t);
    t = create(f, auth, "{\"user\": \"a b\"}", 400);
    json_decref(t);
}

static void
test_a_token_cannot_outlive_its_maker(void **state)
{
    struct fixture *f = *state;
    char auth[SR_TOKEN_LEN + 8];
    int64_t until = sr_now_ms() + 3600 * 1000;
    make_token(f, "alice", SR_SCOPES_USER, until, auth, NULL);
    json_t *t = create(f, auth, "{\"expires_in\": \"2h\"}", 403);
    assert_non_null(strstr(error_message(t), "cannot outlive"));
    json_decref(t);
    t = create(f, auth, "{\"expires_in\": 60}", 201);
    assert_true(json_is_string(json_object_get(t, "expires_at")));
    json_decref(t);
    /* no expiry asked: the maker's */
    t = create(f, auth, "{}", 201);
    char want_t[32];
    sr_time_rfc3339(until, want_t);
    assert_string_equal(json_string_value(json_object_get(t, "expires_at")), want_t);
    json_decref(t);
}

static void
test_admin_manages_every_users_tokens(void **state)
{
    struct fixture *f = *state;
    char admin[SR_TOKEN_LEN + 8], bob[SR_TOKEN_LEN + 8], bob_id[17];
    make_token(f, "root", SR_SCOPE_ADMIN, 0, admin, NULL);
    make_token(f, "bob", SR_SCOPES_USER, 0, bob, bob_id);

    json_t *t =
        create(f, admin, "{\"user\": \"carol\", \"scopes\": [\"admin\", \"execute\"]}", 201);
    assert_string_equal(json_string_value(json_object_get(t, "user")), "carol");
    json_decref(t);
    t = create(f, admin, "{\"user\": \"carol\"}", 201); /* default: every scope but admin */
    assert_int_equal(json_array_size(json_object_get(t, "scopes")), 7);
    json_decref(t);

    const struct sr_api_query q = {"user", "bob"};
    json_t *list = NULL;
    assert_int_equal(request(f, "GET", "/tokens", admin, NULL, &q, 1, &list), 200);
    json_t *toks = json_object_get(list, "tokens");
    assert_int_equal(json_array_size(toks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(toks, 0), "id")), bob_id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(toks, 0), "state")),
                        "valid");
    json_decref(list);
    /* bob may not look at carol's */
    const struct sr_api_query qc = {"user", "carol"};
    assert_int_equal(request(f, "GET", "/tokens", bob, NULL, &qc, 1, &list), 403);
    json_decref(list);

    char path[64];
    (void)snprintf(path, sizeof(path), "/tokens/%s", bob_id);
    assert_int_equal(request(f, "DELETE", path, admin, NULL, NULL, 0, NULL), 200);
    assert_int_equal(request(f, "GET", "/tokens", bob, NULL, NULL, 0, NULL), 401);
}

static void
test_a_user_revokes_own_tokens_within_their_scopes(void **state)
{
    struct fixture *f = *state;
    char full[SR_TOKEN_LEN + 8], full_id[17], small[SR_TOKEN_LEN + 8], small_id[17];
    char other[SR_TOKEN_LEN + 8], other_id[17];
    make_token(f, "alice", SR_SCOPES_USER, 0, full, full_id);
    make_token(f, "alice", SR_SCOPE_EXECUTE, 0, small, small_id);
    make_token(f, "bob", SR_SCOPES_USER, 0, other, other_id);
    char path[64];
    json_t *body = NULL;

    /* another user's token is not found */
    (void)snprintf(path, sizeof(path), "/tokens/%s", other_id);
    assert_int_equal(request(f, "DELETE", path, full, NULL, NULL, 0, NULL), 404);
    /* a narrower token may not revoke a wider one of the same user */
    (void)snprintf(path, sizeof(path), "/tokens/%s", full_id);
    assert_int_equal(request(f, "DELETE", path, small, NULL, NULL, 0, &body), 403);
    assert_non_null(strstr(error_message(body), "needs every scope it has"));
    json_decref(body);
    /* malformed ids */
    assert_int_equal(request(f, "DELETE", "/tokens/XYZ", full, NULL, NULL, 0, NULL), 400);
    /* the wider one revokes the narrower; a token revokes itself */
    (void)snprintf(path, sizeof(path), "/tokens/%.8s", small_id);
    assert_int_equal(request(f, "DELETE", path, full, NULL, NULL, 0, NULL), 200);
    assert_int_equal(request(f, "GET", "/tokens", small, NULL, NULL, 0, NULL), 401);
    (void)snprintf(path, sizeof(path), "/tokens/%s", full_id);
    assert_int_equal(request(f, "DELETE", path, full, NULL, NULL, 0, NULL), 200);
    assert_int_equal(request(f, "GET", "/tokens", full, NULL, NULL, 0, NULL), 401);
    assert_int_equal(request(f, "GET", "/tokens", other, NULL, NULL, 0, NULL), 200);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_names_its_scope),
        T(test_a_token_without_the_scope_gets_403_naming_it),
        T(test_an_expired_token_gets_401),
        T(test_a_user_creates_tokens_within_their_own),
        T(test_a_token_cannot_outlive_its_maker),
        T(test_admin_manages_every_users_tokens),
        T(test_a_user_revokes_own_tokens_within_their_scopes),
    };
#undef T
    return cmocka_run_group_tests_name("api_scope", tests, NULL, NULL);
}
