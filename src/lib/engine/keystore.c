/* SPDX-License-Identifier: MIT
 *
 * keystore.c - a coordinator's answers to its keystore (docs/keystore.md):
 * the release context of a job (the asking worker's registration, the job
 * as handed out here, its lease, and the rows of its secrets: policies,
 * versions and at-rest blobs, never a value, which this process cannot
 * decrypt), and the keystore's audit records, stored as this engine's own
 * resolution stores them.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_util.h"

static json_t *
text_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

/* The registration of the worker whose key is wpk, or JSON null. */
static sr_status
worker_of(sr_engine *eng, const uint8_t wpk[SR_ED25519_PK_LEN], json_t **out, sr_err *err)
{
    char hex[2 * SR_ED25519_PK_LEN + 1];
    sr_hex_encode(wpk, SR_ED25519_PK_LEN, hex);
    struct sr_worker_row *rows = NULL;
    size_t n = 0;
    sr_status rc = sr_store_worker_list(eng->store, &rows, &n, err);
    if (rc != SR_OK)
        return rc;
    *out = json_null();
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].public_key, hex) != 0)
            continue;
        json_decref(*out);
        *out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", rows[i].id, "state",
                         sr_worker_state_name(rows[i].state), "public_key", rows[i].public_key,
                         "measurement", text_or_null(rows[i].measurement), "attestation",
                         text_or_null(rows[i].attestation));
        break;
    }
    free(rows);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for a worker");
}

/* The rows of the job's referenced secrets, in reference order. */
static json_t *
secret_rows(sr_engine *eng, const struct sr_secret_refs *refs, sr_err *err)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < refs->n; i++) {
        struct sr_secret_stored s = {0};
        sr_status rc =
            sr_store_secret_get(eng->store, refs->ref[i].owner, refs->ref[i].name, &s, err);
        if (rc != SR_OK && rc != SR_ENOTFOUND) {
            json_decref(list);
            return NULL;
        }
        json_t *o;
        if (rc == SR_ENOTFOUND) {
            o = json_pack("{s:s, s:s, s:b}", "owner", refs->ref[i].owner, "name", refs->ref[i].name,
                          "found", 0);
        } else {
            char *b64 = sr_base64_encode(s.blob, s.blob_len);
            o = b64 ? json_pack("{s:s, s:s, s:b, s:I, s:o, s:s}", "owner", refs->ref[i].owner,
                                "name", refs->ref[i].name, "found", 1, "version",
                                (json_int_t)s.version, "policy", text_or_null(s.policy_json),
                                "blob", b64)
                    : NULL;
            free(b64);
        }
        sr_secret_stored_fini(&s);
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            (void)sr_err_set(err, SR_ENOMEM, "out of memory for a secret row");
            return NULL;
        }
    }
    return list;
}

/* The job as this coordinator handed it out, with its secrets' rows. */
static sr_status
job_of(sr_engine *eng, const char *owner, const char *job_id, json_t **job, json_t **rows,
       sr_err *err)
{
    struct sr_job_row r = {0};
    sr_status rc = sr_store_job_get(eng->store, owner, job_id, &r, err);
    if (rc == SR_ENOTFOUND) {
        *job = json_null();
        *rows = json_array();
        return SR_OK;
    }
    if (rc != SR_OK)
        return rc;
    struct sr_job_request req;
    rc = sr_engine__request_from_row(&r, &req, err);
    if (rc != SR_OK) {
        sr_job_row_fini(&r);
        return rc;
    }
    struct sr_secret_refs refs;
    rc = sr_engine__refs_check(owner, &req, &refs, err);
    json_t *texts = json_array();
    for (size_t i = 0; texts && i < req.nrefs; i++)
        json_array_append_new(texts, json_string(req.secret_refs[i]));
    *rows = rc == SR_OK ? secret_rows(eng, &refs, err) : NULL;
    *job =
        *rows && texts
            ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:O}", "id", r.id, "owner", owner, "state",
                        sr_job_state_name(r.state), "runtime", sr_runtime_name(req.runtime),
                        "code_hash", req.code_hash_hex, "entry_point",
                        text_or_null(req.runtime == SR_RUNTIME_JS ? req.entry_point : NULL),
                        "secret_refs", texts)
            : NULL;
    json_decref(texts);
    sr_job_request_fini(&req);
    sr_job_row_fini(&r);
    if (rc == SR_OK && !*job)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory for a job's context");
    if (rc != SR_OK) {
        json_decref(*rows);
        json_decref(*job);
    }
    return rc;
}

sr_status
sr_engine_keystore_context(sr_engine *eng, const uint8_t wpk[SR_ED25519_PK_LEN], const char *job_id,
                           uint64_t fence, json_t **out, sr_err *err)
{
    (void)fence; /* the keystore compares it with the lease given here */
    if (!eng->cfg.keystore || !eng->store)
        return sr_err_set(err, SR_ECONFLICT,
                          "this sealrund has no keystore (sealrund --role coordinator "
                          "--keystore URL)");
    json_t *worker = NULL;
    sr_status rc = worker_of(eng, wpk, &worker, err);
    if (rc != SR_OK)
        return rc;
    /* the hand-out this coordinator knows for the job: its holder, fence
     * and owner (jobs handed out before a restart are not known) */
    char owner[SR_MAX_USER_NAME + 1] = "", holder[SR_ID_HEX_LEN + 1] = "";
    uint64_t f = 0;
    pthread_mutex_lock(&eng->mu);
    for (const struct remote_job *r = eng->remote; r; r = r->next) {
        if (!r->dead && strcmp(r->id, job_id) == 0) {
            (void)snprintf(owner, sizeof(owner), "%s", r->owner);
            memcpy(holder, r->holder, sizeof(holder));
            f = r->fence;
        }
    }
    pthread_mutex_unlock(&eng->mu);
    json_t *job = NULL, *rows = NULL;
    if (owner[0]) {
        rc = job_of(eng, owner, job_id, &job, &rows, err);
    } else {
        job = json_null();
        rows = json_array();
    }
    if (rc != SR_OK) {
        json_decref(worker);
        return rc;
    }
    json_t *lease =
        holder[0] ? json_pack("{s:s, s:I}", "holder", holder, "fence", (json_int_t)f) : json_null();
    *out = json_pack("{s:o, s:o, s:o, s:o}", "worker", worker, "job", job, "lease", lease,
                     "secrets", rows);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory for a release context");
}

static const char *
str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool
outcome_of(const char *s, enum sr_secret_outcome *out)
{
    for (int o = SR_SECRET_ALLOWED; s && o <= SR_SECRET_ERROR; o++) {
        if (strcmp(sr_secret_outcome_name((enum sr_secret_outcome)o), s) == 0) {
            *out = (enum sr_secret_outcome)o;
            return true;
        }
    }
    return false;
}

sr_status
sr_engine_keystore_audit(sr_engine *eng, const json_t *records, sr_err *err)
{
    if (!eng->cfg.keystore || !eng->store)
        return sr_err_set(err, SR_ECONFLICT, "this sealrund has no keystore");
    if (!json_is_array(records) || json_array_size(records) > 2 * SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_EINVAL, "field 'records' must be an array of at most %d",
                          2 * SR_MAX_SECRET_REFS);
    for (size_t i = 0; i < json_array_size(records); i++) {
        const json_t *r = json_array_get(records, i);
        enum sr_secret_outcome oc;
        const char *id = str_of(r, "job_id"), *owner = str_of(r, "owner"),
                   *name = str_of(r, "name");
        const char *user = str_of(r, "user"), *reason = str_of(r, "reason");
        json_int_t v = json_integer_value(json_object_get(r, "version"));
        json_int_t t = json_integer_value(json_object_get(r, "time_ms"));
        const char *ch = str_of(r, "code_hash"), *ep = str_of(r, "entry_point");
        if (!id || !sr_is_lower_hex(id, SR_ID_HEX_LEN) || strlen(id) != SR_ID_HEX_LEN || !owner ||
            sr_secret_owner_check(owner, strlen(owner), NULL) != SR_OK || !user ||
            sr_secret_owner_check(user, strlen(user), NULL) != SR_OK || !name ||
            sr_secret_name_check(name, strlen(name), NULL) != SR_OK || !reason ||
            strlen(reason) >= SR_ERR_MSG_MAX || v < 0 || t <= 0 ||
            !outcome_of(str_of(r, "outcome"), &oc) || (ch && strlen(ch) != SR_HASH_HEX_LEN) ||
            (ep && strlen(ep) > 128))
            return sr_err_set(err, SR_EINVAL,
                              "audit record %zu needs 'job_id' (32 hex), 'owner', 'name', "
                              "'user', 'version', 'outcome', 'reason', 'time_ms'",
                              i);
        const struct sr_secret_audit a = {.job_id = id,
                                          .owner = owner,
                                          .name = name,
                                          .user = user,
                                          .version = (uint64_t)v,
                                          .outcome = oc,
                                          .reason = reason,
                                          .time_ms = t,
                                          .code_hash_hex = ch,
                                          .entry_point = ep};
        sr_status rc = sr_engine__audit_add(eng, &a, err);
        if (rc == SR_ELIMIT && oc != SR_SECRET_ALLOWED)
            continue; /* the denial caps: the refusal stands, unrecorded (docs/secrets.md) */
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}
