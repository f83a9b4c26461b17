/* SPDX-License-Identifier: MIT
 *
 * secret_resolve_test.c - resolving a job's references against a fake
 * store: the allow/deny matrix (own and cross-owner, missing, expired,
 * runtime, code hash), rotation, tampered rows, callback failures, audit
 * records, the canary rule (a value never appears in a message or an
 * audit reason), and rendering for JS and WASM. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_secret.h"

#define CANARY "CANARY-5b1d0e77-c3f2"
#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */
#define MAX_ROWS 40
#define MAX_AUDIT 40

struct row {
    char owner[SR_MAX_USER_NAME + 1];
    char name[SR_SECRET_NAME_MAX + 1];
    uint64_t version;
    uint8_t *blob;
    size_t blob_len;
    char *policy;
};

struct rec {
    char job[40], owner[80], name[140], user[80], reason[SR_ERR_MSG_MAX + 64];
    uint64_t version;
    enum sr_secret_outcome outcome;
    int64_t time_ms;
};

struct fixture {
    sr_keys *keys;
    pthread_mutex_t mu;
    struct row rows[MAX_ROWS];
    size_t n_rows;
    int lookups;
    sr_status lookup_fails; /* SR_OK = works */
    struct rec recs[MAX_AUDIT];
    size_t n_recs;
    int audit_fail_at; /* -1 = never */
    sr_status audit_fail_status;
};

static int
setup(void **state)
{
    uint8_t a[32], b[32];
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || sr_crypto_init(NULL) != SR_OK)
        return -1;
    memset(a, 1, sizeof(a));
    memset(b, 2, sizeof(b));
    if (sr_keys_new(a, 32, b, 32, &f->keys, NULL) != SR_OK)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    f->audit_fail_at = -1;
    f->audit_fail_status = SR_EIO;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->n_rows; i++) {
        free(f->rows[i].blob);
        free(f->rows[i].policy);
    }
    pthread_mutex_destroy(&f->mu);
    sr_keys_free(f->keys);
    free(f);
    return 0;
}

static struct row *
find(struct fixture *f, const char *owner, const char *name)
{
    for (size_t i = 0; i < f->n_rows; i++)
        if (strcmp(f->rows[i].owner, owner) == 0 && strcmp(f->rows[i].name, name) == 0)
            return &f->rows[i];
    return NULL;
}

/* What PUT /secrets/{name} does: bump the version, encrypt under it. */
static void
put(struct fixture *f, const char *owner, const char *name, const char *value, const char *policy)
{
    pthread_mutex_lock(&f->mu);
    struct row *r = find(f, owner, name);
    if (!r) {
        assert_true(f->n_rows < MAX_ROWS);
        r = &f->rows[f->n_rows++];
        (void)snprintf(r->owner, sizeof(r->owner), "%s", owner);
        (void)snprintf(r->name, sizeof(r->name), "%s", name);
    }
    free(r->blob);
    free(r->policy);
    r->version++;
    assert_int_equal(sr_secret_encrypt(f->keys, owner, name, r->version, value, strlen(value),
                                       &r->blob, &r->blob_len, NULL),
                     SR_OK);
    r->policy = NULL;
    if (policy) {
        sr_secret_policy *p = NULL;
        sr_buf b;
        sr_err err = {0};
        if (sr_secret_policy_parse(policy, strlen(policy), &p, &err) != SR_OK)
            fail_msg("%s", err.msg);
        sr_buf_init(&b, SR_SECRET_POLICY_MAX_TEXT);
        assert_int_equal(sr_secret_policy_canonical(p, &b, NULL), SR_OK);
        r->policy = sr_buf_steal(&b);
        sr_secret_policy_free(p);
    }
    pthread_mutex_unlock(&f->mu);
}

static sr_status
lookup(void *ctx, const char *owner, const char *name, struct sr_secret_row *out, sr_err *err)
{
    struct fixture *f = ctx;
    sr_status rc = SR_OK;
    pthread_mutex_lock(&f->mu);
    f->lookups++;
    struct row *r = find(f, owner, name);
    if (f->lookup_fails != SR_OK) {
        rc = sr_err_set(err, f->lookup_fails, "disk on fire");
    } else if (!r) {
        rc = sr_err_set(err, SR_ENOTFOUND, "no row");
    } else {
        out->blob = malloc(r->blob_len);
        memcpy(out->blob, r->blob, r->blob_len);
        out->blob_len = r->blob_len;
        out->version = r->version;
        out->policy_json = r->policy ? strdup(r->policy) : NULL;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static sr_status
audit(void *ctx, const struct sr_secret_audit *a, sr_err *err)
{
    struct fixture *f = ctx;
    sr_status rc = SR_OK;
    pthread_mutex_lock(&f->mu);
    if ((int)f->n_recs == f->audit_fail_at) {
        rc = f->audit_fail_status == SR_ELIMIT
                 ? sr_err_set(err, SR_ELIMIT, "too many denied attempts (the store's cap)")
                 : sr_err_set(err, f->audit_fail_status, "audit table is locked");
    } else if (f->n_recs < MAX_AUDIT) {
        struct rec *r = &f->recs[f->n_recs++];
        (void)snprintf(r->job, sizeof(r->job), "%s", a->job_id);
        (void)snprintf(r->owner, sizeof(r->owner), "%s", a->owner);
        (void)snprintf(r->name, sizeof(r->name), "%s", a->name);
        (void)snprintf(r->user, sizeof(r->user), "%s", a->user);
        (void)snprintf(r->reason, sizeof(r->reason), "%s", a->reason);
        r->version = a->version;
        r->outcome = a->outcome;
        r->time_ms = a->time_ms;
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

static struct sr_secret_request
request(struct fixture *f, const char *caller, const char *runtime, const char *hash)
{
    struct sr_secret_request req = {
        .job_id = "0123456789abcdef0123456789abcdef",
        .caller = caller,
        .runtime = runtime && strcmp(runtime, "wasm") == 0 ? SR_RUNTIME_WASM : SR_RUNTIME_JS,
        .code_hash_hex = hash,
        .now_ms = NOW,
        .lookup = lookup,
        .lookup_ctx = f,
        .audit = audit,
        .audit_ctx = f,
    };
    return req;
}

/* Resolves the comma-separated refs for caller; the set is left in *out. */
static sr_status
resolve(struct fixture *f, const char *refs_csv, const struct sr_secret_request *req,
        struct sr_secret_set *out, sr_err *err)
{
    struct sr_secret_refs refs;
    char buf[512];
    sr_secret_refs_init(&refs);
    (void)snprintf(buf, sizeof(buf), "%s", refs_csv);
    for (char *t = buf; t;) {
        char *comma = strchr(t, ',');
        if (comma)
            *comma = '\0';
        assert_int_equal(sr_secret_refs_add(&refs, t, strlen(t), req->caller, NULL), SR_OK);
        t = comma ? comma + 1 : NULL;
    }
    sr_status rc = sr_secret_resolve(f->keys, &refs, req, out, err);
    /* the canary rule: no message and no audit reason ever holds a value */
    assert_null(strstr(err ? err->msg : "", CANARY));
    for (size_t i = 0; i < f->n_recs; i++)
        assert_null(strstr(f->recs[i].reason, CANARY));
    return rc;
}

static sr_status
resolve_as(struct fixture *f, const char *caller, const char *refs, struct sr_secret_set *out,
           sr_err *err)
{
    struct sr_secret_request req = request(f, caller, "js", HASH_A);
    return resolve(f, refs, &req, out, err);
}

static void
test_resolves_own_secret_and_audits_the_use(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    put(f, "alice", "API_KEY", CANARY, NULL);
    assert_int_equal(resolve_as(f, "alice", "API_KEY", &set, &err), SR_OK);
    assert_int_equal(set.n, 1);
    assert_string_equal(set.entry[0].key, "API_KEY");
    assert_string_equal(set.entry[0].owner, "alice");
    assert_string_equal(set.entry[0].name, "API_KEY");
    assert_int_equal(set.entry[0].version, 1);
    assert_string_equal((char *)set.entry[0].value.data, CANARY);
    assert_int_equal(f->n_recs, 1);
    assert_string_equal(f->recs[0].job, "0123456789abcdef0123456789abcdef");
    assert_string_equal(f->recs[0].owner, "alice");
    assert_string_equal(f->recs[0].name, "API_KEY");
    assert_string_equal(f->recs[0].user, "alice");
    assert_int_equal(f->recs[0].outcome, SR_SECRET_ALLOWED);
    assert_string_equal(f->recs[0].reason, "");
    assert_int_equal(f->recs[0].version, 1);
    assert_int_equal(f->recs[0].time_ms, NOW);
    sr_secret_set_fini(&set);
    assert_int_equal(set.n, 0);
    sr_secret_set_fini(&set);
    sr_secret_set_fini(NULL);
}

static void
test_resolves_several_in_order_with_a_shared_cross_owner_secret(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    put(f, "alice", "A", "one", NULL);
    put(f, "bob", "B", "two",
        "{\"condition\":{\"Users\":[\"alice\"]},\"code_hashes\":[\"" HASH_A "\"]}");
    put(f, "alice", "C", "three", "{\"runtimes\":[\"js\"]}");
    assert_int_equal(resolve_as(f, "alice", "C,bob/B,secrets:A", &set, &err), SR_OK);
    assert_int_equal(set.n, 3);
    assert_string_equal(set.entry[0].key, "C");
    assert_string_equal(set.entry[1].key, "B"); /* bare name for owner/name */
    assert_string_equal(set.entry[1].owner, "bob");
    assert_string_equal((char *)set.entry[1].value.data, "two");
    assert_string_equal(set.entry[2].key, "A");
    assert_int_equal(f->n_recs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->recs[i].outcome, SR_SECRET_ALLOWED);
    assert_string_equal(f->recs[1].owner, "bob");
    assert_string_equal(f->recs[1].user, "alice");
    sr_secret_set_fini(&set);
}

static void
test_zero_references_resolve_to_an_empty_set(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_refs refs;
    struct sr_secret_set set = {0};
    struct sr_secret_request req = request(f, "alice", "wasm", NULL);
    sr_secret_refs_init(&refs);
    set.n = 99;
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, NULL), SR_OK);
    assert_int_equal(set.n, 0);
    assert_int_equal(f->n_recs, 0);
    assert_int_equal(f->lookups, 0);
}

/* Resolves 'refs' as caller expecting SECRET_UNAVAILABLE with message 'want'
 * and one audit record with 'outcome' and a reason containing 'reason'. */
static void
expect_unavailable(struct fixture *f, const struct sr_secret_request *req, const char *refs,
                   const char *want, enum sr_secret_outcome outcome, const char *reason)
{
    struct sr_secret_set set = {0};
    sr_err err = {0};
    size_t before = f->n_recs;
    set.n = 77; /* untouched on failure */
    assert_int_equal(resolve(f, refs, req, &set, &err), SR_EDENIED);
    if (strcmp(err.msg, want) != 0)
        fail_msg("got '%s', want '%s'", err.msg, want);
    assert_int_equal(set.n, 77);
    assert_int_equal(f->n_recs, before + 1);
    const struct rec *r = &f->recs[before];
    assert_int_equal(r->outcome, outcome);
    if (!strstr(r->reason, reason))
        fail_msg("audit reason '%s' lacks '%s'", r->reason, reason);
    assert_string_equal(r->user, req->caller);
}

static void
test_missing_own_secret(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    expect_unavailable(f, &req, "NOPE", "secret 'NOPE' is unavailable: not found",
                       SR_SECRET_MISSING, "not found");
    assert_int_equal(f->recs[0].version, 0);
    assert_string_equal(f->recs[0].owner, "alice");
}

static void
test_cross_owner_missing_and_unshared_look_the_same(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    put(f, "bob", "PRIVATE", CANARY, NULL); /* default policy: bob only */
    put(f, "bob", "FRIENDS", CANARY, "{\"condition\":{\"Users\":[\"carol\"]}}");
    const char *masked = "secret 'bob/%s' is unavailable: not found or not shared with 'alice'";
    char want[128];
    (void)snprintf(want, sizeof(want), masked, "GHOST");
    expect_unavailable(f, &req, "bob/GHOST", want, SR_SECRET_MISSING, "not found");
    (void)snprintf(want, sizeof(want), masked, "PRIVATE");
    expect_unavailable(f, &req, "bob/PRIVATE", want, SR_SECRET_DENIED,
                       "user 'alice' is not allowed: the policy has no condition");
    (void)snprintf(want, sizeof(want), masked, "FRIENDS");
    expect_unavailable(f, &req, "bob/FRIENDS", want, SR_SECRET_DENIED,
                       "user 'alice' is not allowed by the condition");
    assert_string_equal(f->recs[2].owner, "bob"); /* bob sees who tried */
}

static void
test_cross_owner_shared_but_wrong_code_says_why(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_B);
    put(f, "bob", "K", CANARY,
        "{\"condition\":{\"UserPattern\":\"ali.*\"},\"code_hashes\":[\"" HASH_A "\"]}");
    expect_unavailable(f, &req, "bob/K",
                       "secret 'bob/K' is unavailable: code hash '" HASH_B
                       "' is not in the allowed list",
                       SR_SECRET_DENIED, "code hash");
    struct sr_secret_set set = {0};
    req.code_hash_hex = HASH_A;
    assert_int_equal(resolve(f, "bob/K", &req, &set, NULL), SR_OK);
    assert_string_equal((char *)set.entry[0].value.data, CANARY);
    sr_secret_set_fini(&set);
}

static void
test_expired_and_runtime_denials(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "wasm", HASH_A);
    put(f, "alice", "OLD", CANARY, "{\"expires_at\":\"2025-12-31T23:59:59Z\"}");
    put(f, "alice", "JSONLY", CANARY, "{\"runtimes\":[\"js\"]}");
    expect_unavailable(f, &req, "OLD",
                       "secret 'OLD' is unavailable: expired at 2025-12-31T23:59:59.000Z",
                       SR_SECRET_EXPIRED, "expired at");
    expect_unavailable(f, &req, "JSONLY",
                       "secret 'JSONLY' is unavailable: runtime 'wasm' is not allowed (allowed: "
                       "js)",
                       SR_SECRET_DENIED, "runtime 'wasm'");
    assert_int_equal(f->recs[0].version, 1);
    /* now_ms 0 means the real clock, which is past 2025 */
    req.now_ms = 0;
    req.runtime = SR_RUNTIME_JS;
    expect_unavailable(f, &req, "OLD",
                       "secret 'OLD' is unavailable: expired at 2025-12-31T23:59:59.000Z",
                       SR_SECRET_EXPIRED, "expired");
}

static void
test_no_value_is_opened_when_a_later_reference_fails(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    put(f, "alice", "GOOD", CANARY, NULL);
    expect_unavailable(f, &req, "GOOD,MISSING", "secret 'MISSING' is unavailable: not found",
                       SR_SECRET_MISSING, "not found");
    /* GOOD was looked up but never audited as used */
    assert_int_equal(f->n_recs, 1);
    assert_int_equal(f->lookups, 2);
}

static void
test_rotation_is_visible_to_the_next_job(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    put(f, "alice", "TOKEN", "first", NULL);
    assert_int_equal(resolve_as(f, "alice", "TOKEN", &set, NULL), SR_OK);
    assert_string_equal((char *)set.entry[0].value.data, "first");
    assert_int_equal(set.entry[0].version, 1);
    sr_secret_set_fini(&set);
    put(f, "alice", "TOKEN", "second", NULL);
    assert_int_equal(resolve_as(f, "alice", "TOKEN", &set, NULL), SR_OK);
    assert_string_equal((char *)set.entry[0].value.data, "second");
    assert_int_equal(set.entry[0].version, 2);
    assert_int_equal(f->recs[1].version, 2);
    sr_secret_set_fini(&set);
}

static void
test_tampered_or_misversioned_rows_fail_closed(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    put(f, "alice", "T", CANARY, NULL);
    f->rows[0].blob[30] ^= 1;
    expect_unavailable(f, &req, "T",
                       "secret 'T' is unavailable: the stored value cannot be decrypted "
                       "(authentication failed)",
                       SR_SECRET_ERROR, "authentication failed");
    f->rows[0].blob[30] ^= 1;
    f->rows[0].version = 2; /* a blob sealed for version 1 under a row saying 2 */
    expect_unavailable(f, &req, "T",
                       "secret 'T' is unavailable: the stored value cannot be decrypted "
                       "(authentication failed)",
                       SR_SECRET_ERROR, "cannot be decrypted");
    f->rows[0].version = 0;
    expect_unavailable(f, &req, "T", "secret 'T' is unavailable: the stored secret is unusable",
                       SR_SECRET_ERROR, "unusable");
}

static void
test_invalid_stored_policy_fails_closed(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    put(f, "alice", "P", CANARY, NULL);
    f->rows[0].policy = strdup("{\"condition\":{\"Bogus\":1}}");
    expect_unavailable(f, &req, "P",
                       "secret 'P' is unavailable: the stored policy is invalid: policy "
                       "'condition' has unknown condition 'Bogus': expected AllowAll, Users, "
                       "UserPattern, And, Or or Not",
                       SR_SECRET_ERROR, "stored policy is invalid");
    /* for another owner's secret the reason stays hidden */
    put(f, "bob", "P", CANARY, NULL);
    f->rows[1].policy = strdup("not json");
    expect_unavailable(f, &req, "bob/P",
                       "secret 'bob/P' is unavailable: not found or not shared with 'alice'",
                       SR_SECRET_ERROR, "not valid JSON");
}

static void
test_lookup_failure_is_not_a_denial(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    put(f, "alice", "K", CANARY, NULL);
    f->lookup_fails = SR_EIO;
    assert_int_equal(resolve_as(f, "alice", "K", &set, &err), SR_EIO);
    assert_string_equal(err.msg, "cannot look up secret 'K': disk on fire");
    assert_int_equal(f->n_recs, 0);
    assert_int_equal(set.n, 0);
}

static void
test_audit_failure_stops_the_job(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    put(f, "alice", "A", CANARY, NULL);
    put(f, "alice", "B", CANARY, NULL);
    f->audit_fail_at = 1; /* the second use cannot be recorded */
    assert_int_equal(resolve_as(f, "alice", "A,B", &set, &err), SR_EIO);
    assert_string_equal(err.msg,
                        "cannot record the audit entry for secret 'B': audit table is locked");
    assert_int_equal(set.n, 0); /* the opened values were wiped, ASan checks the frees */
    f->audit_fail_at = 0;       /* a denial that cannot be recorded */
    f->n_recs = 0;
    assert_int_equal(resolve_as(f, "alice", "NOPE", &set, &err), SR_EIO);
    assert_non_null(strstr(err.msg, "cannot record the audit entry for secret 'NOPE'"));
}

static void
test_a_denial_past_the_audit_rate_limit_is_refused_unrecorded(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    put(f, "alice", "A", CANARY, NULL);
    f->audit_fail_at = 0;
    f->audit_fail_status = SR_ELIMIT;
    /* another owner's secret, not shared: still a denial, with the cap's reason */
    assert_int_equal(resolve_as(f, "bob", "alice/A", &set, &err), SR_EDENIED);
    assert_string_equal(err.msg,
                        "secret 'alice/A' is unavailable: too many denied attempts (the store's "
                        "cap)");
    assert_int_equal(f->n_recs, 0);
    assert_int_equal(set.n, 0);
}

static void
test_request_is_validated(void **state)
{
    struct fixture *f = *state;
    struct sr_secret_refs refs;
    struct sr_secret_set set = {0};
    sr_err err = {0};
    sr_secret_refs_init(&refs);
    struct sr_secret_request req = request(f, "alice", "js", HASH_A);
    req.audit = NULL;
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "audit callback"));
    req = request(f, "alice", "js", HASH_A);
    req.lookup = NULL;
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, &err), SR_EINVAL);
    req = request(f, "alice", "js", HASH_A);
    req.job_id = "";
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "job id"));
    req = request(f, "al ice", "js", HASH_A);
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, &err), SR_EINVAL);
    assert_non_null(strstr(err.msg, "secret resolution caller: owner 'al ice'"));
    req = request(f, NULL, "js", HASH_A);
    assert_int_equal(sr_secret_resolve(f->keys, &refs, &req, &set, &err), SR_EINVAL);
    assert_int_equal(sr_secret_resolve(f->keys, NULL, &req, &set, &err), SR_EINVAL);
}

struct race {
    struct fixture *f;
    int bad;
    int done;
};

static void *
rotate_loop(void *arg)
{
    struct race *r = arg;
    char v[32];
    for (int i = 2; i <= 60; i++) {
        (void)snprintf(v, sizeof(v), "v%d", i);
        put(r->f, "alice", "ROT", v, NULL);
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *
resolve_loop(void *arg)
{
    struct race *r = arg;
    struct sr_secret_request req = request(r->f, "alice", "js", HASH_A);
    struct sr_secret_refs refs;
    char want[32];
    sr_secret_refs_init(&refs);
    (void)sr_secret_refs_add(&refs, "ROT", 3, "alice", NULL);
    for (int i = 0; i < 200 && !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE); i++) {
        struct sr_secret_set set = {0};
        if (sr_secret_resolve(r->f->keys, &refs, &req, &set, NULL) != SR_OK) {
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
            continue;
        }
        (void)snprintf(want, sizeof(want), "v%llu", (unsigned long long)set.entry[0].version);
        if (strcmp((char *)set.entry[0].value.data, want) != 0)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
        sr_secret_set_fini(&set);
    }
    return NULL;
}

static void
test_concurrent_rotation_gives_consistent_versions(void **state)
{
    struct fixture *f = *state;
    struct race r = {f, 0, 0};
    pthread_t w, rd[3];
    put(f, "alice", "ROT", "v1", NULL);
    f->n_recs = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, resolve_loop, &r), 0);
    assert_int_equal(pthread_create(&w, NULL, rotate_loop, &r), 0);
    assert_int_equal(pthread_join(w, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(rd[i], NULL), 0);
    assert_int_equal(r.bad, 0);
    assert_int_equal(find(f, "alice", "ROT")->version, 60);
}

#define FRESH(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        FRESH(test_resolves_own_secret_and_audits_the_use),
        FRESH(test_resolves_several_in_order_with_a_shared_cross_owner_secret),
        FRESH(test_zero_references_resolve_to_an_empty_set),
        FRESH(test_missing_own_secret),
        FRESH(test_cross_owner_missing_and_unshared_look_the_same),
        FRESH(test_cross_owner_shared_but_wrong_code_says_why),
        FRESH(test_expired_and_runtime_denials),
        FRESH(test_no_value_is_opened_when_a_later_reference_fails),
        FRESH(test_rotation_is_visible_to_the_next_job),
        FRESH(test_tampered_or_misversioned_rows_fail_closed),
        FRESH(test_invalid_stored_policy_fails_closed),
        FRESH(test_lookup_failure_is_not_a_denial),
        FRESH(test_audit_failure_stops_the_job),
        FRESH(test_a_denial_past_the_audit_rate_limit_is_refused_unrecorded),
        FRESH(test_request_is_validated),
        FRESH(test_concurrent_rotation_gives_consistent_versions),
    };
    return cmocka_run_group_tests_name("secret_resolve", tests, NULL, NULL);
}
