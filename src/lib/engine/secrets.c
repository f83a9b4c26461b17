/* SPDX-License-Identifier: MIT
 *
 * secrets.c - the engine's side of secrets (docs/secrets.md): storing a
 * value sealed by the client (or sent plain) encrypted at rest, policies,
 * listing, the audit, and resolving a job's secret_refs into the values
 * injected into its process.
 *
 * Invariant 3 (design.md): a value is in the clear only in sodium memory
 * here, in the job frame sent to the allowed job process (wiped after), and
 * in that process. It never goes through a jansson object on this side,
 * never into a message, log line or the store in clear.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_util.h"

#define PUT_RETRIES 8

static sr_status
need_store(const sr_engine *eng, sr_err *err)
{
    if (!eng->store || !eng->keys)
        return sr_err_set(err, SR_EINVAL, "secrets need a server with a store and keys");
    return SR_OK;
}

/* The owner's cached sealing key into *out (owned); false when not cached. */
static bool
pk_cached(sr_engine *eng, const char *owner, char **out)
{
    bool hit = false;
    pthread_mutex_lock(&eng->mu);
    for (size_t i = 0; i < eng->npk; i++) {
        struct sr_engine__pk_entry *e = &eng->pk_cache[i];
        if (strcmp(e->owner, owner) == 0) {
            e->used = ++eng->pk_tick;
            *out = strdup(e->b64);
            hit = *out != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&eng->mu);
    return hit;
}

/* Keeps the owner's sealing key; past SR_ENGINE_PK_CACHE_MAX owners the
 * least recently used one goes. */
static void
pk_keep(sr_engine *eng, const char *owner, const char *b64)
{
    if (strlen(owner) > SR_MAX_USER_NAME || strlen(b64) >= sizeof(eng->pk_cache[0].b64))
        return;
    pthread_mutex_lock(&eng->mu);
    if (!eng->pk_cache)
        eng->pk_cache = calloc(SR_ENGINE_PK_CACHE_MAX, sizeof(*eng->pk_cache));
    struct sr_engine__pk_entry *slot = NULL;
    for (size_t i = 0; eng->pk_cache && i < eng->npk && !slot; i++)
        if (strcmp(eng->pk_cache[i].owner, owner) == 0)
            slot = &eng->pk_cache[i];
    if (!slot && eng->pk_cache && eng->npk < SR_ENGINE_PK_CACHE_MAX)
        slot = &eng->pk_cache[eng->npk++];
    if (!slot && eng->pk_cache) { /* full: the least recently used goes */
        slot = &eng->pk_cache[0];
        for (size_t i = 1; i < eng->npk; i++)
            if (eng->pk_cache[i].used < slot->used)
                slot = &eng->pk_cache[i];
    }
    if (slot) {
        (void)snprintf(slot->owner, sizeof(slot->owner), "%s", owner);
        (void)snprintf(slot->b64, sizeof(slot->b64), "%s", b64);
        slot->used = ++eng->pk_tick;
    }
    pthread_mutex_unlock(&eng->mu);
}

sr_status
sr_engine_secret_pubkey(sr_engine *eng, const char *owner, char **out_b64, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK && eng->cfg.keystore) {
        rc = sr_secret_owner_check(owner, strlen(owner), err);
        if (rc == SR_OK && pk_cached(eng, owner, out_b64))
            return SR_OK;
        if (rc == SR_OK)
            rc = eng->cfg.keystore->pubkey(eng->cfg.keystore->arg, owner, out_b64, err);
        if (rc == SR_OK)
            pk_keep(eng, owner, *out_b64);
        return rc == SR_OK ? rc : sr_err_wrap(err, "asking the keystore for the sealing key");
    }
    return rc == SR_OK ? sr_secret_owner_pk_b64(eng->keys, owner, out_b64, err) : rc;
}

sr_status
sr_engine__secret_put_cas(sr_engine *eng, const char *owner, const char *name,
                          sr_engine__blob_fn make, void *arg, uint64_t *version, sr_err *err)
{
    for (int attempt = 0; attempt < PUT_RETRIES; attempt++) {
        struct sr_secret_stored cur = {0};
        sr_status rc = sr_store_secret_get(eng->store, owner, name, &cur, err);
        if (rc != SR_OK && rc != SR_ENOTFOUND)
            return rc;
        uint64_t expected = rc == SR_OK ? cur.version : 0;
        sr_secret_stored_fini(&cur);
        uint8_t *blob = NULL;
        size_t blob_len = 0;
        rc = make(arg, expected + 1, &blob, &blob_len, err);
        if (rc != SR_OK)
            return rc;
        rc = sr_store_secret_put(eng->store, owner, name, expected, blob, blob_len, sr_now_ms(),
                                 err);
        free(blob);
        if (rc == SR_OK)
            *version = expected + 1;
        if (rc != SR_ECONFLICT)
            return rc;
    }
    return sr_err_set(err, SR_ECONFLICT, "secret '%s' is being changed by others; try again", name);
}

/* The blob of a value for version v, encrypted here. */
struct value_blob {
    sr_engine *eng;
    const char *owner, *name;
    const struct sr_secret_value *v;
};

static sr_status
value_blob(void *arg, uint64_t version, uint8_t **blob, size_t *len, sr_err *err)
{
    const struct value_blob *a = arg;
    return sr_secret_encrypt(a->eng->keys, a->owner, a->name, version, a->v->data, a->v->len, blob,
                             len, err);
}

/* The blob of a sealed box for version v, made by the keystore (a
 * coordinator with a keystore: the value is never here). */
struct sealed_blob {
    const struct sr_engine_keystore *ks;
    const char *owner, *name, *sealed;
};

static sr_status
sealed_blob(void *arg, uint64_t version, uint8_t **blob, size_t *len, sr_err *err)
{
    const struct sealed_blob *a = arg;
    return a->ks->seal(a->ks->arg, a->owner, a->name, version, a->sealed, blob, len, err);
}

static sr_status
put_sealed_by_keystore(sr_engine *eng, const char *owner, const char *name, const char *sealed,
                       uint64_t *version, sr_err *err)
{
    struct sealed_blob a = {eng->cfg.keystore, owner, name, sealed};
    return sr_engine__secret_put_cas(eng, owner, name, sealed_blob, &a, version, err);
}

/* Encrypts for version v+1 and writes with compare-and-set on v; retries
 * when another writer came first (the version is in the AAD). */
static sr_status
put_value(sr_engine *eng, const char *owner, const char *name, const struct sr_secret_value *v,
          uint64_t *version, sr_err *err)
{
    struct value_blob a = {eng, owner, name, v};
    return sr_engine__secret_put_cas(eng, owner, name, value_blob, &a, version, err);
}

sr_status
sr_engine_secret_set(sr_engine *eng, const char *owner, const char *name, const char *sealed_b64,
                     const char *plain, size_t plain_len, uint64_t *version, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_secret_name_check(name, strlen(name), err);
    if (rc != SR_OK)
        return rc;
    if (eng->cfg.keystore && !sealed_b64)
        return sr_err_set(err, SR_EINVAL,
                          "this server keeps secrets in a keystore and never sees a value: seal "
                          "it to the key from GET /secrets/pubkey and send {\"sealed\": "
                          "\"<base64>\"} (sealrun secret set does)");
    if (eng->cfg.keystore) {
        if (strlen(sealed_b64) > SR_SECRET_SEALED_MAX)
            return sr_err_set(err, SR_ELIMIT, "field 'sealed' is %zu characters, at most %u",
                              strlen(sealed_b64), (unsigned)SR_SECRET_SEALED_MAX);
        rc = put_sealed_by_keystore(eng, owner, name, sealed_b64, version, err);
        return rc == SR_OK ? rc
                           : sr_err_wrap(err, "storing secret '%s' through the keystore", name);
    }
    struct sr_secret_value v = {0};
    rc = sealed_b64 ? sr_secret_unseal(eng->keys, owner, sealed_b64, strlen(sealed_b64), &v, err)
                    : sr_secret_value_set(plain, plain_len, &v, err);
    if (rc == SR_OK)
        rc = sr_secret_value_check(v.data, v.len, err);
    if (rc == SR_OK && sr_engine__is_key_value(v.data, v.len))
        rc = sr_err_set(err, SR_EINVAL,
                        "values that begin with 'sealrun.key.v1:' are the service's generated "
                        "keys: make one with POST /secrets/%s/generate",
                        name);
    if (rc == SR_OK)
        rc = put_value(eng, owner, name, &v, version, err);
    sr_secret_value_fini(&v);
    return rc;
}

sr_status
sr_engine__secret_put_raw(sr_engine *eng, const char *owner, const char *name, const uint8_t *value,
                          size_t len, uint64_t *version, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_secret_name_check(name, strlen(name), err);
    if (rc != SR_OK)
        return rc;
    if (eng->cfg.keystore) /* sr_engine_secret_generate asks the keystore */
        return sr_err_set(err, SR_EINTERNAL,
                          "this server holds no secrets master key: only the keystore makes "
                          "the at-rest blob of secret '%s'",
                          name);
    struct sr_secret_value v = {0};
    rc = sr_secret_value_set(value, len, &v, err);
    if (rc == SR_OK)
        rc = put_value(eng, owner, name, &v, version, err);
    sr_secret_value_fini(&v);
    return rc;
}

sr_status
sr_engine_secret_policy(sr_engine *eng, const char *owner, const char *name,
                        const char *policy_text, size_t len, json_t **out, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    if (rc == SR_OK)
        rc = sr_secret_name_check(name, strlen(name), err);
    if (rc != SR_OK)
        return rc;
    sr_secret_policy *p = NULL;
    rc = sr_secret_policy_parse(policy_text, len, &p, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "policy of secret '%s'", name);
    sr_buf canon;
    sr_buf_init(&canon, SR_SECRET_POLICY_MAX_TEXT * 2);
    rc = sr_secret_policy_canonical(p, &canon, err);
    if (rc == SR_OK)
        rc = sr_store_secret_policy(eng->store, owner, name, canon.data, sr_now_ms(), err);
    if (rc == SR_OK)
        rc = sr_secret_policy_to_json(p, out, err);
    sr_buf_fini(&canon);
    sr_secret_policy_free(p);
    return rc;
}

sr_status
sr_engine_secret_delete(sr_engine *eng, const char *owner, const char *name, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    return rc == SR_OK ? sr_store_secret_delete(eng->store, owner, name, err) : rc;
}

static json_t *
policy_json_of(const char *stored)
{
    sr_secret_policy *p = NULL;
    json_t *j = NULL;
    if (sr_secret_policy_parse(stored, stored ? strlen(stored) : 0, &p, NULL) == SR_OK)
        (void)sr_secret_policy_to_json(p, &j, NULL);
    sr_secret_policy_free(p);
    return j ? j : json_null();
}

sr_status
sr_engine_secret_list(sr_engine *eng, const char *owner, json_t **out, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    struct sr_secret_meta *rows = NULL;
    size_t n = 0;
    if (rc == SR_OK)
        rc = sr_store_secret_list(eng->store, owner, &rows, &n, err);
    if (rc != SR_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char c[32], u[32];
        sr_time_rfc3339(rows[i].created_at_ms, c);
        sr_time_rfc3339(rows[i].updated_at_ms, u);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s, s:o}", "name", rows[i].name,
                                             "version", (json_int_t)rows[i].version, "created_at",
                                             c, "updated_at", u, "policy",
                                             policy_json_of(rows[i].policy_json)));
        sr_secret_meta_fini(&rows[i]);
    }
    free(rows);
    *out = json_pack("{s:o}", "secrets", arr);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory listing secrets");
}

static json_t *
audit_json(const struct sr_audit_row *r)
{
    char t[32], last[32];
    sr_time_rfc3339(r->time_ms, t);
    sr_time_rfc3339(r->last_ms, last);
    return json_pack("{s:I, s:s?, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:s?, s:s?}", "id",
                     (json_int_t)r->id, "job_id", r->job_id, "user", r->user, "version",
                     (json_int_t)r->version, "outcome", r->outcome, "reason", r->reason, "time", t,
                     "last_time", last, "count", (json_int_t)r->count, "code_hash", r->code_hash,
                     "entry_point", r->entry_point);
}

sr_status
sr_engine_secret_audit(sr_engine *eng, const char *owner, const char *name, size_t limit,
                       int64_t before, json_t **out, sr_err *err)
{
    sr_status rc = need_store(eng, err);
    struct sr_audit_row *rows = NULL;
    size_t n = 0;
    if (rc == SR_OK)
        rc = sr_store_audit_list(eng->store, owner, name, limit + 1, before, &rows, &n, err);
    if (rc != SR_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, audit_json(&rows[i]));
    json_t *next = n > limit ? json_integer(rows[limit - 1].id) : json_null();
    for (size_t i = 0; i < n; i++)
        sr_audit_row_fini(&rows[i]);
    free(rows);
    *out = json_pack("{s:s, s:o, s:o}", "name", name, "audit", arr, "next", next);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory listing the audit");
}

/* At most this many batches per purge run; the rest waits for the next. */
#define AUDIT_PURGE_MAX_BATCHES 20

void
sr_engine__audit_purge(sr_engine *eng, int64_t now_ms)
{
    int64_t keep =
        eng->cfg.audit_retention_ms ? eng->cfg.audit_retention_ms : SR_DEFAULT_AUDIT_RETENTION_MS;
    size_t n = 0, total = 0;
    sr_err e = {0};
    for (int i = 0; i < AUDIT_PURGE_MAX_BATCHES; i++) {
        if (sr_store_audit_purge(eng->store, now_ms - keep, SR_PURGE_BATCH, &n, &e) != SR_OK) {
            sr_log(SR_LOG_WARN, "engine", "purging old audit rows failed: %s", e.msg);
            break;
        }
        total += n;
        if (n < SR_PURGE_BATCH)
            break;
    }
    if (total)
        sr_log(SR_LOG_INFO, "engine", "purged %zu audit row(s) older than %lld s", total,
               (long long)(keep / 1000));
}

/* ---- resolution for a job ---- */

static sr_status
lookup(void *ctx, const char *owner, const char *name, struct sr_secret_row *row, sr_err *err)
{
    sr_engine *eng = ctx;
    struct sr_secret_stored s = {0};
    sr_status rc = sr_store_secret_get(eng->store, owner, name, &s, err);
    if (rc != SR_OK)
        return rc;
    row->blob = s.blob;
    row->blob_len = s.blob_len;
    row->version = s.version;
    row->policy_json = s.policy_json;
    return SR_OK;
}

sr_status
sr_engine__audit_add(void *ctx, const struct sr_secret_audit *rec, sr_err *err)
{
    sr_engine *eng = ctx;
    /* The owner's own attempts and every use are kept one by one; denied
     * attempts by others are summarised per window (and capped there), so
     * they cannot bury the owner's rows or grow the owner's audit. */
    bool summarise = rec->outcome != SR_SECRET_ALLOWED && strcmp(rec->user, rec->owner) != 0;
    int64_t t = rec->time_ms > 0 ? rec->time_ms : 0;
    const struct sr_audit_row row = {
        .owner = (char *)(uintptr_t)rec->owner,
        .name = (char *)(uintptr_t)rec->name,
        .job_id = (char *)(uintptr_t)rec->job_id,
        .user = (char *)(uintptr_t)rec->user,
        .version = rec->version,
        .outcome = (char *)(uintptr_t)sr_secret_outcome_name(rec->outcome),
        .reason = (char *)(uintptr_t)rec->reason,
        .time_ms = rec->time_ms,
        .window_ms = summarise ? t - t % SR_AUDIT_WINDOW_MS : 0,
        .code_hash = (char *)(uintptr_t)rec->code_hash_hex,
        .entry_point = (char *)(uintptr_t)rec->entry_point,
    };
    return sr_store_audit_add(eng->store, &row, err);
}

sr_status
sr_engine__secrets_for_job(sr_engine *eng, const char *owner, const char *job_id,
                           const struct sr_job_request *req, const struct sr_secret_refs *refs,
                           struct sr_secret_set *set, struct job_outcome *o, char *fail,
                           size_t fail_len, sr_err *err)
{
    memset(set, 0, sizeof(*set));
    fail[0] = '\0';
    if (!refs->n)
        return SR_OK;
    sr_status rc = SR_OK;
    const struct sr_secret_request sreq = {
        .job_id = job_id,
        .caller = owner,
        .runtime = req->runtime,
        .code_hash_hex = req->code_hash_hex,
        .entry_point = req->runtime == SR_RUNTIME_JS ? req->entry_point : NULL,
        .lookup = lookup,
        .lookup_ctx = eng,
        .audit = sr_engine__audit_add,
        .audit_ctx = eng,
    };
    if (rc == SR_OK && eng->cfg.keystore)
        rc = sr_err_set(err, SR_EDENIED,
                        "secrets are not available here: the keystore releases them to workers");
    else if (rc == SR_OK && (!eng->store || !eng->keys))
        rc = sr_err_set(err, SR_EDENIED,
                        "secrets are not available here: local runs have no secret store");
    else if (rc == SR_OK)
        rc = sr_secret_resolve(eng->keys, refs, &sreq, set, err);
    if (rc == SR_EDENIED) {
        (void)snprintf(fail, fail_len, "%s", err->msg);
        return SR_OK;
    }
    if (rc != SR_OK)
        return rc;
    sr_engine__secrets_used(owner, set, o);
    return SR_OK;
}

void
sr_engine__secrets_used(const char *owner, const struct sr_secret_set *set, struct job_outcome *o)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct sr_secret_entry *e = &set->entry[i];
        struct job_secret_used *u = &o->used[o->nused++];
        (void)snprintf(u->owner, sizeof(u->owner), "%s", e->owner);
        (void)snprintf(u->name, sizeof(u->name), "%s", e->name);
        u->version = e->version;
        /* invariant 1 and issue 9 item 11: a process that held another
         * owner's value, or a value bound to code, serves no later job */
        if (strcmp(e->owner, owner) != 0 || e->binds_code)
            o->discard_process = true;
    }
}

sr_status
sr_engine__refs_check(const char *owner, const struct sr_job_request *req,
                      struct sr_secret_refs *out, sr_err *err)
{
    sr_secret_refs_init(out);
    for (size_t i = 0; i < req->nrefs; i++) {
        if (sr_secret_refs_add(out, req->secret_refs[i], strlen(req->secret_refs[i]), owner, err) !=
            SR_OK) {
            char msg[SR_ERR_MSG_MAX];
            (void)snprintf(msg, sizeof(msg), "%s", err ? err->msg : "");
            return sr_err_set(err, SR_EINVAL, "field 'secret_refs': %s", msg);
        }
    }
    return SR_OK;
}
