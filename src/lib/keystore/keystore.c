/* SPDX-License-Identifier: MIT
 *
 * keystore.c - the keystore role and its clients (sr_keystore.h,
 * docs/keystore.md). The keystore holds the secrets master and no store:
 * what it knows of workers, jobs and secrets it asks the coordinator for,
 * over the signed channel, at every release; every release and refusal is
 * posted to the coordinator's audit before the answer, and nothing is
 * released when that post fails.
 *
 * Invariant 3 (design.md) holds here as on an embedded daemon: a value is
 * in clear only in sodium memory (struct sr_secret_value) between its
 * decryption and its sealing to the worker's per-job key.
 */
#include "sealrun/sr_keystore.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_attest.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

#define QUOTE_B64_MAX (96u * 1024u) /* a TDX quote in base64 */

struct sr_keystore {
    const sr_keys *keys;
    const sr_worker_key *key;
    char *coordinator;
    uint8_t coordinator_pk[SR_ED25519_PK_LEN];
    char (*allow)[65];
    size_t nallow;
    unsigned timeout_s;
    pthread_mutex_t mu;
    unsigned inflight; /* under mu */
};

static const char *
str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && sr_is_lower_hex(s, n);
}

/* ---- the coordinator's and the worker's side ---- */

/* POSTs the JSON b (taken: decref'd here; NULL is out of memory) to p's
 * 'path' and gives the checked answer in *a (owned), up to max_answer
 * bytes (0: SR_KEYSTORE_MAX_ANSWER); 'what' names the request. */
static sr_status
post(const struct sr_keystore_peer *p, const char *path, json_t *b, size_t max_answer,
     const char *what, json_t **a, sr_err *err)
{
    char *body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body)
        return sr_err_set(err, SR_ENOMEM, "out of memory for %s", what);
    sr_status rc = sr_keystore_call(p, "POST", path, NULL, body, max_answer, a, err);
    free(body);
    return rc;
}

sr_status
sr_keystore_pubkey(const struct sr_keystore_peer *p, const char *owner, char **out_b64, sr_err *err)
{
    sr_status rc = sr_secret_owner_check(owner, strlen(owner), err);
    if (rc != SR_OK)
        return rc;
    char q[16 + SR_MAX_USER_NAME];
    (void)snprintf(q, sizeof(q), "owner=%s", owner);
    json_t *a = NULL;
    rc = sr_keystore_call(p, "GET", "/keystore/pubkey", q, NULL, 0, &a, err);
    if (rc != SR_OK)
        return rc;
    const char *pk = str_of(a, "public_key"), *o = str_of(a, "owner");
    uint8_t raw[SR_BOX_PK_LEN];
    if (!pk || !o || strcmp(o, owner) != 0 || sr_box_pk_parse(pk, raw, NULL) != SR_OK)
        rc = sr_err_set(err, SR_EIO, "the keystore's sealing key answer for '%s' is malformed",
                        owner);
    else if (!(*out_b64 = strdup(pk)))
        rc = sr_err_set(err, SR_ENOMEM, "out of memory for a sealing key");
    json_decref(a);
    return rc;
}

sr_status
sr_keystore_seal(const struct sr_keystore_peer *p, const char *owner, const char *name,
                 uint64_t version, const char *sealed_b64, uint8_t **blob, size_t *blob_len,
                 sr_err *err)
{
    json_t *b = json_pack("{s:s, s:s, s:I, s:s}", "owner", owner, "name", name, "version",
                          (json_int_t)version, "sealed", sealed_b64);
    json_t *a = NULL;
    sr_status rc = post(p, "/keystore/seal", b, 0, "a seal request", &a, err);
    if (rc != SR_OK)
        return rc;
    const char *bb = str_of(a, "blob");
    json_int_t v = json_integer_value(json_object_get(a, "version"));
    rc = bb && (uint64_t)v == version
             ? sr_base64_decode(bb, strlen(bb), blob, blob_len, err)
             : sr_err_set(err, SR_EIO, "the keystore's at-rest answer is malformed");
    json_decref(a);
    return rc;
}

sr_status
sr_keystore_generate(const struct sr_keystore_peer *p, const char *owner, const char *name,
                     uint64_t version, const char *kind, uint8_t **blob, size_t *blob_len,
                     char pub_hex[131], sr_err *err)
{
    json_t *b = json_pack("{s:s, s:s, s:I, s:s}", "owner", owner, "name", name, "version",
                          (json_int_t)version, "kind", kind);
    json_t *a = NULL;
    sr_status rc = post(p, "/keystore/generate", b, 0, "a generate request", &a, err);
    if (rc != SR_OK)
        return rc;
    const char *bb = str_of(a, "blob"), *pk = str_of(a, "public_key");
    json_int_t v = json_integer_value(json_object_get(a, "version"));
    rc = bb && pk && strlen(pk) <= 130 && sr_is_lower_hex(pk, strlen(pk)) && (uint64_t)v == version
             ? sr_base64_decode(bb, strlen(bb), blob, blob_len, err)
             : sr_err_set(err, SR_EIO, "the keystore's generated-key answer is malformed");
    if (rc == SR_OK)
        (void)snprintf(pub_hex, 131, "%s", pk);
    json_decref(a);
    return rc;
}

static const char *const storage_labels[] = {SR_LABEL_STORAGE, SR_LABEL_STORAGE_NAMES};

sr_status
sr_keystore_storage_keys(const struct sr_keystore_peer *p, sr_keys *keys, sr_err *err)
{
    json_t *a = NULL;
    sr_status rc = sr_keystore_call(p, "POST", "/keystore/storage-keys", NULL, "{}", 0, &a, err);
    if (rc != SR_OK)
        return rc;
    const json_t *list = json_object_get(a, "keys");
    for (size_t i = 0; rc == SR_OK && i < 2; i++) {
        const char *sealed = str_of(json_object_get(list, storage_labels[i]), "sealed");
        uint8_t *raw = NULL;
        size_t n = 0;
        rc = sealed ? sr_worker_key_box_open(p->key, sealed, &raw, &n, err)
                    : sr_err_set(err, SR_EIO, "the keystore's storage keys lack '%s'",
                                 storage_labels[i]);
        if (rc == SR_OK && n != 32)
            rc = sr_err_set(err, SR_EIO, "a storage key from the keystore is %zu bytes, not 32", n);
        if (rc == SR_OK)
            rc = sr_keys_add_secrets_subkey(keys, storage_labels[i], raw, err);
        if (raw) {
            sodium_memzero(raw, n);
            free(raw);
        }
    }
    json_decref(a);
    return rc;
}

/* One released secret into e, its value opened with the per-job key. */
static sr_status
released_entry(const json_t *s, const uint8_t pk[32], const uint8_t *sk, struct sr_secret_entry *e,
               sr_err *err)
{
    const char *sealed = NULL;
    sr_status rc = sr_secret_entry_from_json(s, 256, "a secret the keystore released", SR_EIO, e,
                                             &sealed, err);
    if (rc != SR_OK)
        return rc;
    uint8_t *box = NULL;
    size_t blen = 0;
    rc = sr_base64_decode(sealed, strlen(sealed), &box, &blen, err);
    if (rc != SR_OK)
        return rc;
    if (blen <= crypto_box_SEALBYTES) {
        free(box);
        return sr_err_set(err, SR_EIO, "a secret the keystore released is empty");
    }
    size_t vlen = blen - crypto_box_SEALBYTES;
    uint8_t *v = sodium_malloc(vlen);
    if (!v) {
        free(box);
        return sr_err_set(err, SR_ENOMEM, "out of memory for a secret");
    }
    if (crypto_box_seal_open(v, box, blen, pk, sk) != 0)
        rc = sr_err_set(err, SR_EDENIED,
                        "authentication failed: a released secret does not open "
                        "with the job's key");
    else
        rc = sr_secret_value_set(v, vlen, &e->value, err);
    sodium_free(v);
    free(box);
    return rc;
}

sr_status
sr_keystore_release(const struct sr_keystore_peer *p, const struct sr_keystore_job *job,
                    struct sr_secret_set *set, sr_err *err)
{
    uint8_t pk[crypto_box_PUBLICKEYBYTES], wpk[SR_ED25519_PK_LEN];
    uint8_t *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    if (!sk)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a job key");
    crypto_box_keypair(pk, sk);
    char pkh[2 * sizeof(pk) + 1], wpkh[2 * SR_ED25519_PK_LEN + 1];
    sr_hex_encode(pk, sizeof(pk), pkh);
    sr_worker_key_public(p->key, wpk);
    sr_hex_encode(wpk, sizeof(wpk), wpkh);
    json_t *b =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:o}", "worker_public_key", wpkh,
                  "job_id", job->id, "fence", (json_int_t)job->fence, "job_public_key", pkh,
                  "owner", job->owner, "runtime", job->runtime, "code_hash", job->code_hash_hex,
                  "entry_point", job->entry_point ? json_string(job->entry_point) : json_null(),
                  "quote", job->quote_b64 ? json_string(job->quote_b64) : json_null());
    json_t *a = NULL;
    sr_status rc = post(p, "/keystore/release", b, SR_KEYSTORE_MAX_SECRETS_ANSWER,
                        "a release request", &a, err);
    struct sr_secret_set got;
    memset(&got, 0, sizeof(got));
    const json_t *list = json_object_get(a, "secrets");
    if (rc == SR_OK && (!str_of(a, "job_id") || strcmp(str_of(a, "job_id"), job->id) != 0 ||
                        (uint64_t)json_integer_value(json_object_get(a, "fence")) != job->fence ||
                        !json_is_array(list) || json_array_size(list) > SR_MAX_SECRET_REFS))
        rc = sr_err_set(err, SR_EIO, "the keystore's release is not for job '%s' fence %llu",
                        job->id, (unsigned long long)job->fence);
    for (size_t i = 0; rc == SR_OK && i < json_array_size(list); i++) {
        rc = released_entry(json_array_get(list, i), pk, sk, &got.entry[i], err);
        got.n = i + 1;
    }
    json_decref(a);
    sodium_free(sk);
    if (rc != SR_OK) {
        sr_secret_set_fini(&got);
        return rc;
    }
    *set = got;
    return SR_OK;
}

/* ---- the keystore's side ---- */

sr_status
sr_keystore_new(const struct sr_keystore_config *cfg, sr_keystore **out, sr_err *err)
{
    const char *u = cfg->coordinator;
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) || strlen(u) > 900)
        return sr_err_set(err, SR_EINVAL,
                          "--coordinator must be the coordinator's URL, http://HOST:PORT or "
                          "https://HOST:PORT, got '%.80s'",
                          u ? u : "");
    if (!cfg->keys || !sr_keys_has_secrets(cfg->keys) || !cfg->key || !cfg->coordinator_pk)
        return sr_err_set(err, SR_EINVAL,
                          "a keystore needs the secrets master key, its own key and the "
                          "coordinator's key");
    if (cfg->nallow > SR_KEYSTORE_MAX_ALLOW)
        return sr_err_set(err, SR_ELIMIT, "at most %d --allow-measurement, got %zu",
                          SR_KEYSTORE_MAX_ALLOW, cfg->nallow);
    for (size_t i = 0; i < cfg->nallow; i++)
        if (!is_hex(cfg->allow[i], 64))
            return sr_err_set(err, SR_EINVAL,
                              "--allow-measurement must be 64 lower-case hex characters (a "
                              "worker's measurement as it logs it), got '%.80s'",
                              cfg->allow[i]);
    sr_keystore *ks = calloc(1, sizeof(*ks));
    if (!ks || !(ks->coordinator = strdup(u)) ||
        (cfg->nallow && !(ks->allow = calloc(cfg->nallow, sizeof(*ks->allow))))) {
        if (ks)
            free(ks->coordinator);
        free(ks);
        return sr_err_set(err, SR_ENOMEM, "out of memory for the keystore");
    }
    size_t ul = strlen(ks->coordinator);
    while (ul && ks->coordinator[ul - 1] == '/')
        ks->coordinator[--ul] = '\0';
    for (size_t i = 0; i < cfg->nallow; i++)
        memcpy(ks->allow[i], cfg->allow[i], 65);
    ks->nallow = cfg->nallow;
    ks->keys = cfg->keys;
    ks->key = cfg->key;
    memcpy(ks->coordinator_pk, cfg->coordinator_pk, SR_ED25519_PK_LEN);
    ks->timeout_s = cfg->timeout_s ? cfg->timeout_s : SR_KEYSTORE_TIMEOUT_S;
    pthread_mutex_init(&ks->mu, NULL);
    *out = ks;
    return SR_OK;
}

void
sr_keystore_free(sr_keystore *ks)
{
    if (!ks)
        return;
    pthread_mutex_destroy(&ks->mu);
    free(ks->coordinator);
    free(ks->allow);
    free(ks);
}

static sr_status
parse_body(const struct sr_keystore_request *req, json_t **out, sr_err *err)
{
    if (req->body_len > SR_KEYSTORE_MAX_BODY)
        return sr_err_set(err, SR_ELIMIT, "a keystore request is at most %u bytes, got %zu",
                          SR_KEYSTORE_MAX_BODY, req->body_len);
    sr_status rc =
        sr_json_parse(req->body ? req->body : "", req->body_len, 8, "the request body", out, err);
    if (rc == SR_OK && !json_is_object(*out)) {
        json_decref(*out);
        rc = sr_err_set(err, SR_EINVAL, "the request body must be a JSON object");
    }
    return rc;
}

static sr_status
from_coordinator(sr_keystore *ks, const struct sr_keystore_request *req, sr_err *err)
{
    sr_status rc =
        sr_keystore_request_verify(ks->coordinator_pk, req->method, req->path, req->query,
                                   req->time_text, req->signature, req->body, req->body_len, err);
    return rc == SR_OK ? SR_OK
                       : sr_err_wrap(err, "only the coordinator (--coordinator-key) may ask this");
}

static sr_status
serve_pubkey(sr_keystore *ks, const struct sr_keystore_request *req, json_t **out, sr_err *err)
{
    char *b64 = NULL;
    if (!req->owner)
        return sr_err_set(err, SR_EINVAL, "GET /keystore/pubkey needs ?owner=NAME");
    sr_status rc = sr_secret_owner_pk_b64(ks->keys, req->owner, &b64, err);
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, "keystore", "sent the sealing key of '%s'", req->owner);
    if (rc == SR_OK) {
        *out = json_pack("{s:s, s:s}", "owner", req->owner, "public_key", b64);
        free(b64);
    }
    return rc;
}

/* The owner, name and version (>= 1) a seal or generate request writes,
 * and its own member 'what' ('route' names the request in the error). */
static sr_status
target_of(const json_t *b, const char *route, const char *what, const char **owner,
          const char **name, const char **member, json_int_t *version, sr_err *err)
{
    *owner = str_of(b, "owner");
    *name = str_of(b, "name");
    *member = str_of(b, what);
    *version = json_integer_value(json_object_get(b, "version"));
    if (!*owner || !*name || !*member || *version < 1)
        return sr_err_set(err, SR_EINVAL,
                          "POST %s needs 'owner', 'name', 'version' (>= 1) and '%s'", route, what);
    sr_status rc = sr_secret_owner_check(*owner, strlen(*owner), err);
    return rc == SR_OK ? sr_secret_name_check(*name, strlen(*name), err) : rc;
}

/* v encrypted at rest for (owner, name, version), as base64 (owned). */
static sr_status
at_rest_b64(const sr_keystore *ks, const char *owner, const char *name, json_int_t version,
            const struct sr_secret_value *v, char **out, sr_err *err)
{
    uint8_t *blob = NULL;
    size_t blen = 0;
    sr_status rc = sr_secret_encrypt(ks->keys, owner, name, (uint64_t)version, v->data, v->len,
                                     &blob, &blen, err);
    if (rc != SR_OK)
        return rc;
    *out = sr_base64_encode(blob, blen);
    free(blob);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for an at-rest blob");
}

static sr_status
serve_seal(sr_keystore *ks, const json_t *b, json_t **out, sr_err *err)
{
    const char *owner, *name, *sealed;
    json_int_t version;
    sr_status rc = target_of(b, "/keystore/seal", "sealed", &owner, &name, &sealed, &version, err);
    if (rc != SR_OK)
        return rc;
    struct sr_secret_value v = {0};
    rc = sr_secret_unseal(ks->keys, owner, sealed, strlen(sealed), &v, err);
    if (rc == SR_OK && sr_secret_is_key_value(v.data, v.len))
        rc = sr_err_set(err, SR_EINVAL,
                        "values that begin with 'sealrun.key.v1:' are the service's generated "
                        "keys: make one with POST /secrets/%s/generate",
                        name);
    char *bb = NULL;
    if (rc == SR_OK)
        rc = at_rest_b64(ks, owner, name, version, &v, &bb, err);
    sr_secret_value_fini(&v);
    if (rc != SR_OK)
        return rc;
    *out = json_pack("{s:s, s:s, s:I, s:s}", "owner", owner, "name", name, "version",
                     (json_int_t)version, "blob", bb);
    free(bb);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for an at-rest blob");
}

/* A key made here: its value is encrypted for (owner, name, version) as
 * serve_seal does, and only the blob and the public key leave. */
static sr_status
serve_generate(sr_keystore *ks, const json_t *b, json_t **out, sr_err *err)
{
    const char *owner, *name, *kind;
    json_int_t version;
    sr_status rc = target_of(b, "/keystore/generate", "kind", &owner, &name, &kind, &version, err);
    struct sr_secret_value v = {0};
    uint8_t pub[65];
    size_t pub_len = 0;
    if (rc == SR_OK)
        rc = sr_secret_key_generate(kind, &v, pub, &pub_len, err);
    char *bb = NULL;
    if (rc == SR_OK)
        rc = at_rest_b64(ks, owner, name, version, &v, &bb, err);
    sr_secret_value_fini(&v);
    if (rc != SR_OK)
        return rc;
    char pub_hex[131];
    sr_hex_encode(pub, pub_len, pub_hex);
    *out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "owner", owner, "name", name, "version",
                     (json_int_t)version, "kind", kind, "public_key", pub_hex, "blob", bb);
    free(bb);
    if (*out)
        sr_log(SR_LOG_INFO, "keystore", "generated a %s key for %s's secret '%s' version %lld",
               kind, owner, name, (long long)version);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for a generated key");
}

static sr_status
serve_storage_keys(sr_keystore *ks, json_t **out, sr_err *err)
{
    json_t *keys = json_object();
    for (size_t i = 0; keys && i < 2; i++) {
        uint8_t sub[32];
        char *sealed = NULL;
        sr_keys_derive_secrets(ks->keys, storage_labels[i], sub);
        sr_status rc = sr_worker_box_seal(ks->coordinator_pk, sub, sizeof(sub), &sealed, err);
        sodium_memzero(sub, sizeof(sub));
        if (rc != SR_OK) {
            json_decref(keys);
            return rc;
        }
        json_object_set_new(keys, storage_labels[i], json_pack("{s:s}", "sealed", sealed));
        free(sealed);
    }
    *out = keys ? json_pack("{s:o}", "keys", keys) : NULL;
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for the storage keys");
}

/* ---- a release ---- */

/* What one release works with; the context is the coordinator's answer. */
struct release {
    sr_keystore *ks;
    const json_t *ctx;
    json_t *records; /* audit records to post */
};

static sr_status
lookup(void *arg, const char *owner, const char *name, struct sr_secret_row *row, sr_err *err)
{
    struct release *r = arg;
    const json_t *list = json_object_get(r->ctx, "secrets");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *s = json_array_get(list, i);
        const char *o = str_of(s, "owner"), *n = str_of(s, "name");
        if (!o || !n || strcmp(o, owner) != 0 || strcmp(n, name) != 0)
            continue;
        if (!json_is_true(json_object_get(s, "found")))
            return SR_ENOTFOUND;
        const char *blob = str_of(s, "blob"), *pol = str_of(s, "policy");
        json_int_t v = json_integer_value(json_object_get(s, "version"));
        if (!blob || v < 1)
            return sr_err_set(err, SR_EIO, "the coordinator's row of secret '%s' is malformed",
                              name);
        sr_status rc = sr_base64_decode(blob, strlen(blob), &row->blob, &row->blob_len, err);
        if (rc != SR_OK)
            return rc;
        row->version = (uint64_t)v;
        row->policy_json = pol ? strdup(pol) : NULL;
        if (pol && !row->policy_json) {
            free(row->blob);
            return sr_err_set(err, SR_ENOMEM, "out of memory for a policy");
        }
        return SR_OK;
    }
    return SR_ENOTFOUND;
}

static sr_status
record(void *arg, const struct sr_secret_audit *a, sr_err *err)
{
    struct release *r = arg;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s?, s:s?}", "job_id",
                          a->job_id, "owner", a->owner, "name", a->name, "user", a->user, "version",
                          (json_int_t)a->version, "outcome", sr_secret_outcome_name(a->outcome),
                          "reason", a->reason ? a->reason : "", "time_ms", (json_int_t)a->time_ms,
                          "code_hash", a->code_hash_hex, "entry_point", a->entry_point);
    if (!o || json_array_append_new(r->records, o) != 0)
        return sr_err_set(err, SR_ENOMEM, "out of memory for an audit record");
    return SR_OK;
}

/* The keystore's view of its coordinator: its URL and pinned key. */
static struct sr_keystore_peer
coordinator_peer(const sr_keystore *ks)
{
    return (struct sr_keystore_peer){.url = ks->coordinator,
                                     .key = ks->key,
                                     .pinned = ks->coordinator_pk,
                                     .name = "coordinator",
                                     .timeout_s = ks->timeout_s};
}

/* Posts the records to the coordinator's audit. */
static sr_status
post_audit(struct release *r, sr_err *err)
{
    if (!json_array_size(r->records))
        return SR_OK;
    const struct sr_keystore_peer p = coordinator_peer(r->ks);
    json_t *a = NULL;
    sr_status rc = post(&p, "/keystore/audit", json_pack("{s:O}", "records", r->records), 0,
                        "the audit", &a, err);
    json_decref(a);
    return rc;
}

/* The refusal before any policy: one denial record per reference of the
 * known job, then SR_EDENIED "secret 'X' is unavailable: <why>". */
static sr_status
refuse(struct release *r, const struct sr_secret_refs *refs, const json_t *job, const char *why,
       sr_err *err)
{
    const char *owner = str_of(job, "owner");
    char first[SR_SECRET_REF_MAX + 1] = "";
    for (size_t i = 0; owner && i < refs->n; i++) {
        const json_t *s = json_array_get(json_object_get(r->ctx, "secrets"), i);
        char reason[SR_ERR_MSG_MAX];
        if (i == 0)
            sr_secret_ref_str(&refs->ref[0], first);
        (void)snprintf(reason, sizeof(reason), "%s", why);
        const struct sr_secret_audit a = {
            .job_id = str_of(job, "id"),
            .owner = refs->ref[i].owner,
            .name = refs->ref[i].name,
            .user = owner,
            .version = (uint64_t)json_integer_value(json_object_get(s, "version")),
            .outcome = SR_SECRET_DENIED,
            .reason = reason,
            .time_ms = sr_now_ms(),
            .code_hash_hex = str_of(job, "code_hash"),
            .entry_point = str_of(job, "entry_point"),
        };
        sr_status rc = record(r, &a, err);
        if (rc != SR_OK)
            return rc;
    }
    sr_err ae = {0};
    if (post_audit(r, &ae) != SR_OK)
        sr_log(SR_LOG_WARN, "keystore", "a refusal could not be audited: %s", ae.msg);
    if (first[0])
        return sr_err_set(err, SR_EDENIED, "secret '%s' is unavailable: %s", first, why);
    return sr_err_set(err, SR_EDENIED, "no secrets are released: %s", why);
}

static bool
allowed(const sr_keystore *ks, const char *meas)
{
    for (size_t i = 0; meas && i < ks->nallow; i++)
        if (strcmp(ks->allow[i], meas) == 0)
            return true;
    return false;
}

/* Why the worker asking (as the coordinator knows it) does not qualify:
 * registered, active, its measurement allowed, a TDX quote that binds it;
 * false after writing why. */
static bool
worker_ok(const sr_keystore *ks, const json_t *b, const json_t *w, const uint8_t wpk[32], char *why,
          size_t cap)
{
    const char *meas = str_of(w, "measurement"), *state = str_of(w, "state");
    const char *att = str_of(w, "attestation"), *quote = str_of(b, "quote");
    if (!json_is_object(w)) {
        (void)snprintf(why, cap,
                       "the worker asking (key %.16s...) is not registered with the coordinator",
                       str_of(b, "worker_public_key"));
        return false;
    }
    if (!state || strcmp(state, "active") != 0) {
        (void)snprintf(why, cap, "worker %s is %s, not active", str_of(w, "id"),
                       state ? state : "unknown");
        return false;
    }
    if (!allowed(ks, meas)) {
        (void)snprintf(why, cap,
                       "worker measurement not allowed: worker %s's measurement %s is not on "
                       "the keystore's allowlist (--allow-measurement)",
                       str_of(w, "id"), meas ? meas : "(none)");
        return false;
    }
    if (!att || strcmp(att, "tdx") != 0)
        return true;
    uint8_t *q = NULL, m[32];
    size_t qn = 0;
    sr_err qe = {0};
    sr_status rc = quote && strlen(quote) <= QUOTE_B64_MAX
                       ? sr_base64_decode(quote, strlen(quote), &q, &qn, &qe)
                       : sr_err_set(&qe, SR_EINVAL, "no quote sent");
    if (rc == SR_OK)
        rc = sr_hex_decode(meas, 64, m, sizeof(m), &qe);
    if (rc == SR_OK)
        rc = sr_attest_tdx_check_binding(q, qn, wpk, m, &qe);
    free(q);
    if (rc != SR_OK)
        (void)snprintf(why, cap, "worker %s's TDX quote does not bind its key and measurement: %s",
                       str_of(w, "id"), qe.msg);
    return rc == SR_OK;
}

/* Why the job asked for does not qualify: running, leased to this worker
 * with this fence, and the one the worker runs; false after writing why. */
static bool
job_ok(const json_t *b, const json_t *ctx, const uint8_t wpk[32], char *why, size_t cap)
{
    const json_t *job = json_object_get(ctx, "job"), *lease = json_object_get(ctx, "lease");
    const char *id = str_of(b, "job_id"), *wid = str_of(json_object_get(ctx, "worker"), "id");
    json_int_t fence = json_integer_value(json_object_get(b, "fence"));
    if (!json_is_object(job)) {
        (void)snprintf(why, cap, "job '%.32s' is not known to the coordinator", id ? id : "");
        return false;
    }
    const char *js = str_of(job, "state");
    if (!js || strcmp(js, "running") != 0) {
        (void)snprintf(why, cap, "job '%.32s' is %s, not running", id, js ? js : "unknown");
        return false;
    }
    char holder[SR_ID_HEX_LEN + 1];
    uint8_t h[32];
    sr_sha256(wpk, SR_ED25519_PK_LEN, h);
    sr_hex_encode(h, SR_ID_HEX_LEN / 2, holder);
    const char *lh = str_of(lease, "holder");
    if (!lh || strcmp(lh, holder) != 0 ||
        json_integer_value(json_object_get(lease, "fence")) != fence) {
        (void)snprintf(why, cap,
                       "job '%.32s' is not leased to worker %s with fence %lld (a job it does "
                       "not hold, or a stale fence)",
                       id, wid, (long long)fence);
        return false;
    }
    static const char *const same[] = {"owner", "runtime", "code_hash", "entry_point"};
    for (size_t i = 0; i < 4; i++) {
        const char *a = str_of(b, same[i]), *c = str_of(job, same[i]);
        if ((a || c) && (!a || !c || strcmp(a, c) != 0)) {
            (void)snprintf(why, cap,
                           "the worker's job '%.32s' is not the coordinator's: its %s differs", id,
                           same[i]);
            return false;
        }
    }
    return true;
}

/* Why the worker and the job it asks for do not qualify, or "" when they
 * do: the worker first, then the job. */
static void
check_party(const sr_keystore *ks, const json_t *b, const json_t *ctx, const uint8_t wpk[32],
            char *why, size_t cap)
{
    why[0] = '\0';
    if (worker_ok(ks, b, json_object_get(ctx, "worker"), wpk, why, cap))
        (void)job_ok(b, ctx, wpk, why, cap);
}

/* The released secrets, each value sealed to the job's X25519 key. */
static json_t *
released(const struct sr_secret_set *set, const uint8_t pk[32])
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < set->n; i++) {
        const struct sr_secret_entry *s = &set->entry[i];
        size_t blen = s->value.len + crypto_box_SEALBYTES;
        uint8_t *box = malloc(blen);
        char *b64 = NULL;
        if (box && crypto_box_seal(box, s->value.data, s->value.len, pk) == 0)
            b64 = sr_base64_encode(box, blen);
        free(box);
        json_t *o = sr_secret_entry_to_json(s, b64);
        free(b64);
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static sr_status
context_of(sr_keystore *ks, const json_t *b, json_t **ctx, sr_err *err)
{
    json_t *q =
        json_pack("{s:O, s:O, s:O}", "worker_public_key", json_object_get(b, "worker_public_key"),
                  "job_id", json_object_get(b, "job_id"), "fence", json_object_get(b, "fence"));
    const struct sr_keystore_peer p = coordinator_peer(ks);
    return post(&p, "/keystore/context", q, SR_KEYSTORE_MAX_SECRETS_ANSWER, "a context request",
                ctx, err);
}

static sr_status
release_locked_out(sr_keystore *ks, const struct sr_keystore_request *req, const json_t *b,
                   json_t **out, sr_err *err)
{
    const char *wpkh = str_of(b, "worker_public_key"), *jpkh = str_of(b, "job_public_key");
    const char *id = str_of(b, "job_id"), *rt = str_of(b, "runtime");
    json_int_t fence = json_integer_value(json_object_get(b, "fence"));
    uint8_t wpk[SR_ED25519_PK_LEN], jpk[32];
    if (!is_hex(wpkh, 64) || !is_hex(jpkh, 64) || !is_hex(id, SR_ID_HEX_LEN) || fence < 1 ||
        !str_of(b, "owner") || !rt || !is_hex(str_of(b, "code_hash"), 64))
        return sr_err_set(err, SR_EINVAL,
                          "POST /keystore/release needs 'worker_public_key' and "
                          "'job_public_key' (64 hex), 'job_id' (32 hex), 'fence' (>= 1), "
                          "'owner', 'runtime', 'code_hash' (64 hex)");
    (void)sr_hex_decode(wpkh, 64, wpk, sizeof(wpk), NULL);
    (void)sr_hex_decode(jpkh, 64, jpk, sizeof(jpk), NULL);
    sr_status rc =
        sr_keystore_request_verify(wpk, req->method, req->path, req->query, req->time_text,
                                   req->signature, req->body, req->body_len, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "a release is signed by the worker key it names");
    json_t *ctx = NULL;
    rc = context_of(ks, b, &ctx, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "asking the coordinator about job '%s'", id);
    struct release r = {.ks = ks, .ctx = ctx, .records = json_array()};
    const json_t *job = json_object_get(ctx, "job");
    struct sr_secret_refs refs;
    sr_secret_refs_init(&refs);
    const json_t *texts = json_object_get(job, "secret_refs");
    const char *owner = str_of(job, "owner");
    for (size_t i = 0; rc == SR_OK && owner && i < json_array_size(texts); i++) {
        const char *t = json_string_value(json_array_get(texts, i));
        rc = t ? sr_secret_refs_add(&refs, t, strlen(t), owner, err)
               : sr_err_set(err, SR_EIO, "the coordinator's secret_refs are malformed");
    }
    char why[SR_ERR_MSG_MAX];
    if (rc == SR_OK)
        check_party(ks, b, ctx, wpk, why, sizeof(why));
    if (rc == SR_OK && why[0]) {
        rc = refuse(&r, &refs, job, why, err);
        sr_log(SR_LOG_INFO, "keystore", "job '%s': refused: %s", id, err->msg);
        goto out;
    }
    if (rc != SR_OK)
        goto out;
    enum sr_runtime runtime = strcmp(rt, "wasm") == 0 ? SR_RUNTIME_WASM : SR_RUNTIME_JS;
    const struct sr_secret_request sreq = {
        .job_id = id,
        .caller = owner,
        .runtime = runtime,
        .code_hash_hex = str_of(job, "code_hash"),
        .entry_point = str_of(job, "entry_point"),
        .lookup = lookup,
        .lookup_ctx = &r,
        .audit = record,
        .audit_ctx = &r,
    };
    struct sr_secret_set set;
    memset(&set, 0, sizeof(set));
    rc = sr_secret_resolve(ks->keys, &refs, &sreq, &set, err);
    sr_err ae = {0};
    sr_status arc = post_audit(&r, &ae);
    if (rc == SR_OK && arc != SR_OK) { /* a use that cannot be audited does not happen */
        rc = sr_err_set(err, SR_EIO, "nothing released: the audit could not be recorded: %s",
                        ae.msg);
    } else if (rc == SR_OK) {
        json_t *list = released(&set, jpk);
        *out = list ? json_pack("{s:s, s:I, s:o}", "job_id", id, "fence", (json_int_t)fence,
                                "secrets", list)
                    : NULL;
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory for a release");
        else
            sr_log(SR_LOG_INFO, "keystore", "job '%s': released %zu secret(s) to worker %s", id,
                   set.n, str_of(json_object_get(ctx, "worker"), "id"));
    } else {
        sr_log(SR_LOG_INFO, "keystore", "job '%s': refused: %s", id, err->msg);
    }
    sr_secret_set_fini(&set);
out:
    json_decref(r.records);
    json_decref(ctx);
    return rc;
}

static sr_status
serve_release(sr_keystore *ks, const struct sr_keystore_request *req, const json_t *b, json_t **out,
              sr_err *err)
{
    pthread_mutex_lock(&ks->mu);
    bool full = ks->inflight >= SR_KEYSTORE_MAX_INFLIGHT;
    if (!full)
        ks->inflight++;
    pthread_mutex_unlock(&ks->mu);
    if (full)
        return sr_err_set(err, SR_EBUSY, "%d releases are in progress already; retry later",
                          SR_KEYSTORE_MAX_INFLIGHT);
    sr_status rc = release_locked_out(ks, req, b, out, err);
    pthread_mutex_lock(&ks->mu);
    ks->inflight--;
    pthread_mutex_unlock(&ks->mu);
    return rc;
}

sr_status
sr_keystore_handle(sr_keystore *ks, const struct sr_keystore_request *req, json_t **out,
                   sr_err *err)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    const char *p = req->path;
    json_t *a = NULL, *b = NULL;
    sr_status rc;
    if (get && strcmp(p, "/keystore/pubkey") == 0) {
        rc = from_coordinator(ks, req, err);
        if (rc == SR_OK)
            rc = serve_pubkey(ks, req, &a, err);
    } else if (post &&
               (strcmp(p, "/keystore/seal") == 0 || strcmp(p, "/keystore/storage-keys") == 0 ||
                strcmp(p, "/keystore/generate") == 0 || strcmp(p, "/keystore/release") == 0)) {
        rc = parse_body(req, &b, err);
        if (rc == SR_OK && strcmp(p, "/keystore/release") == 0)
            rc = serve_release(ks, req, b, &a, err);
        else if (rc == SR_OK)
            rc = from_coordinator(ks, req, err);
        if (rc == SR_OK && !a && strcmp(p, "/keystore/seal") == 0)
            rc = serve_seal(ks, b, &a, err);
        else if (rc == SR_OK && !a && strcmp(p, "/keystore/generate") == 0)
            rc = serve_generate(ks, b, &a, err);
        else if (rc == SR_OK && !a)
            rc = serve_storage_keys(ks, &a, err);
    } else {
        rc = sr_err_set(err, SR_ENOTFOUND,
                        "no such endpoint '%s %.100s' on a keystore: it serves GET "
                        "/keystore/pubkey, POST /keystore/seal, /keystore/generate, "
                        "/keystore/storage-keys and /keystore/release",
                        req->method, p);
    }
    json_decref(b);
    if (rc == SR_OK) {
        *out = sr_keystore_answer_sign(ks->key, req->path, req->signature, a);
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory signing an answer");
    }
    json_decref(a);
    return rc;
}
