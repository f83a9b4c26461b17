/* SPDX-License-Identifier: MIT
 *
 * store.c - the public store API: argument checks, then dispatch through the
 * backend's const struct sr_store_ops (store_int.h).
 *
 * Checks that do not depend on the backend live here, once: owner names,
 * job ids, token id prefixes, list limits, job states. A job id that cannot
 * exist (wrong length or characters) is reported exactly like a missing
 * one, so callers can pass ids from URLs straight through. Calls on sealed
 * data (jobs, module bytes, policies) need the store key: without it they
 * fail here, before the backend, with a message naming the missing keys.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_limits.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_util.h"

#define JOB_ID_LEN 32       /* 128-bit ids in lower-case hex */
#define TOKEN_LABEL_MAX 200 /* bytes of a token's free-text label */

const char *
sr_job_state_name(enum sr_job_state s)
{
    switch (s) {
    case SR_JOB_QUEUED:
        return "queued";
    case SR_JOB_RUNNING:
        return "running";
    case SR_JOB_COMPLETED:
        return "completed";
    case SR_JOB_FAILED:
        return "failed";
    }
    return NULL;
}

void
sr_job_row_fini(struct sr_job_row *row)
{
    if (!row)
        return;
    free(row->owner);
    free(row->runtime);
    free(row->request_json);
    free(row->result_json);
    row->owner = NULL;
    row->runtime = NULL;
    row->request_json = NULL;
    row->result_json = NULL;
}

void
sr_token_row_fini(struct sr_token_row *row)
{
    if (!row)
        return;
    free(row->owner);
    free(row->label);
    row->owner = NULL;
    row->label = NULL;
}

static bool
is_job_id(const char *id)
{
    return sr_is_lower_hex(id, JOB_ID_LEN);
}

static sr_status
check_owner(const char *owner, sr_err *err)
{
    if (!owner || !*owner)
        return sr_err_set(err, SR_EINVAL, "owner is empty: expected a user name");
    size_t len = strnlen(owner, SR_MAX_USER_NAME + 1);
    if (len > SR_MAX_USER_NAME)
        return sr_err_set(err, SR_EINVAL, "owner '%.32s...' is too long: at most %d bytes", owner,
                          SR_MAX_USER_NAME);
    return SR_OK;
}

/* An id that cannot exist is "not found", like a missing one (never a 400
 * that would tell a caller more than a 404). */
static sr_status
check_lookup_id(const char *id, sr_err *err)
{
    if (!is_job_id(id))
        return sr_err_set(err, SR_ENOTFOUND, "job '%.40s' not found", id ? id : "");
    return SR_OK;
}

static sr_status
check_row(const struct sr_job_row *row, sr_err *err)
{
    if (!row)
        return sr_err_set(err, SR_EINVAL, "job row is missing");
    if (!is_job_id(row->id))
        return sr_err_set(err, SR_EINVAL,
                          "job id '%.40s' is invalid: expected 32 lower-case hex characters",
                          row->id);
    sr_status rc = check_owner(row->owner, err);
    if (rc != SR_OK)
        return rc;
    if (!sr_job_state_name(row->state))
        return sr_err_set(err, SR_EINVAL, "job '%s' has invalid state %d", row->id,
                          (int)row->state);
    return SR_OK;
}

/* Without a key, sealed data cannot be read or written: say so plainly. */
static sr_status
need_key(const sr_store *st, const char *what, sr_err *err)
{
    if (st->seal_key)
        return SR_OK;
    return sr_err_set(err, SR_EINVAL,
                      "cannot %s: the store was opened without the master keys, and jobs, "
                      "modules and secret policies are sealed at rest",
                      what);
}

static sr_status
open_backend(const struct sr_store_ops *ops, const char *target, const sr_keys *keys,
             sr_store **out, sr_err *err)
{
    uint8_t *key = NULL;
    sr_status rc = keys ? sr_store__key_new(keys, &key, err) : SR_OK;
    sr_store *st = NULL;
    if (rc == SR_OK)
        rc = ops->open(target, key, &st, err);
    if (rc != SR_OK) {
        sr_store__key_free(key);
        return rc;
    }
    st->seal_key = key;
    *out = st;
    return SR_OK;
}

sr_status
sr_store_open_sqlite(const char *path, sr_store **out, sr_err *err)
{
    if (!path || !*path)
        return sr_err_set(err, SR_EINVAL, "database path is empty");
    return open_backend(&sr_store__sqlite_ops, path, NULL, out, err);
}

sr_status
sr_store_open_sqlite_keyed(const char *path, const sr_keys *keys, sr_store **out, sr_err *err)
{
    if (!path || !*path)
        return sr_err_set(err, SR_EINVAL, "database path is empty");
    if (!keys)
        return sr_err_set(err, SR_EINVAL, "opening database '%s' with keys needs the keys", path);
    return open_backend(&sr_store__sqlite_ops, path, keys, out, err);
}

sr_status
sr_store_open(const char *target, const sr_keys *keys, sr_store **out, sr_err *err)
{
    if (!target || !*target)
        return sr_err_set(err, SR_EINVAL, "store is empty: expected postgres://... or sqlite:PATH");
    if (strncmp(target, "postgres://", 11) == 0 || strncmp(target, "postgresql://", 13) == 0)
        return open_backend(&sr_store__pg_ops, target, keys, out, err);
    if (strncmp(target, "sqlite:", 7) == 0 && target[7])
        return open_backend(&sr_store__sqlite_ops, target + 7, keys, out, err);
    return sr_err_set(err, SR_EINVAL,
                      "store '%.40s' is not understood: expected postgres://... (or "
                      "postgresql://...) or sqlite:PATH",
                      strncmp(target, "postgres", 8) == 0 ? "postgres..." : target);
}

const char *
sr_store_backend(const sr_store *st)
{
    return st->ops->name;
}

void
sr_store_close(sr_store *st)
{
    if (!st)
        return;
    uint8_t *key = st->seal_key;
    st->ops->close(st);
    sr_store__key_free(key);
}

int
sr_store_schema_version(sr_store *st)
{
    return st->ops->schema_version(st);
}

bool
sr_store_ping(sr_store *st)
{
    return st && st->ops->ping(st);
}

sr_status
sr_store_token_create(sr_store *st, const struct sr_token_new *t, sr_err *err)
{
    sr_status rc = check_owner(t->owner, err);
    if (rc != SR_OK)
        return rc;
    if (t->label && strnlen(t->label, TOKEN_LABEL_MAX + 1) > TOKEN_LABEL_MAX)
        return sr_err_set(err, SR_EINVAL, "token label is too long: at most %d bytes",
                          TOKEN_LABEL_MAX);
    if (!t->scopes || (t->scopes & ~(uint32_t)SR_SCOPES_ALL))
        return sr_err_set(err, SR_EINVAL, "token scopes 0x%x are not a set of known scopes",
                          (unsigned)t->scopes);
    if (t->expires_at_ms && t->expires_at_ms <= t->now_ms)
        return sr_err_set(err, SR_EINVAL, "token expiry must be in the future");
    return st->ops->token_add(st, t, err);
}

sr_status
sr_store_token_add(sr_store *st, const uint8_t hash[32], const char *owner, const char *label,
                   int64_t now_ms, sr_err *err)
{
    const struct sr_token_new t = {
        .hash = hash, .owner = owner, .label = label, .scopes = SR_SCOPES_USER, .now_ms = now_ms};
    return sr_store_token_create(st, &t, err);
}

sr_status
sr_store_token_lookup(sr_store *st, const uint8_t hash[32], int64_t now_ms,
                      struct sr_token_row *out, sr_err *err)
{
    sr_status rc = st->ops->token_get(st, hash, out, err);
    if (rc == SR_OK &&
        (out->revoked_at_ms || (out->expires_at_ms && out->expires_at_ms <= now_ms))) {
        sr_token_row_fini(out);
        rc = SR_ENOTFOUND;
    }
    if (rc == SR_ENOTFOUND)
        return sr_err_set(err, SR_ENOTFOUND, "token not found, revoked or expired");
    return rc;
}

sr_status
sr_store_token_owner(sr_store *st, const uint8_t hash[32], char **owner, sr_err *err)
{
    struct sr_token_row row;
    sr_status rc = sr_store_token_lookup(st, hash, sr_now_ms(), &row, err);
    if (rc != SR_OK)
        return rc;
    *owner = row.owner;
    row.owner = NULL;
    sr_token_row_fini(&row);
    return SR_OK;
}

sr_status
sr_store_token_list(sr_store *st, const char *owner, struct sr_token_row **rows, size_t *n,
                    sr_err *err)
{
    if (owner) {
        sr_status rc = check_owner(owner, err);
        if (rc != SR_OK)
            return rc;
    }
    return st->ops->token_list(st, owner, rows, n, err);
}

sr_status
sr_store_token_revoke_owned(sr_store *st, const char *owner, const char *id_prefix, int64_t now_ms,
                            sr_err *err)
{
    size_t len = id_prefix ? strnlen(id_prefix, 65) : 0;
    if (len < 8 || len > 64 || !sr_is_lower_hex(id_prefix, len))
        return sr_err_set(err, SR_EINVAL,
                          "token id '%.70s' is invalid: expected 8 to 64 lower-case hex "
                          "characters (see 'sealrun token list')",
                          id_prefix ? id_prefix : "");
    if (owner) {
        sr_status rc = check_owner(owner, err);
        if (rc != SR_OK)
            return rc;
    }
    return st->ops->token_revoke(st, owner, id_prefix, now_ms, err);
}

sr_status
sr_store_token_revoke(sr_store *st, const char *id_prefix, int64_t now_ms, sr_err *err)
{
    return sr_store_token_revoke_owned(st, NULL, id_prefix, now_ms, err);
}

sr_status
sr_store_job_insert(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    sr_status rc = check_row(row, err);
    if (rc != SR_OK)
        return rc;
    if (!row->runtime || !*row->runtime)
        return sr_err_set(err, SR_EINVAL, "job '%s' has no runtime", row->id);
    rc = need_key(st, "store a job", err);
    return rc == SR_OK ? st->ops->job_insert(st, row, err) : rc;
}

sr_status
sr_store_job_update(sr_store *st, const struct sr_job_row *row, sr_err *err)
{
    sr_status rc = check_row(row, err);
    if (rc == SR_OK)
        rc = need_key(st, "update a job", err);
    return rc == SR_OK ? st->ops->job_update(st, row, err) : rc;
}

sr_status
sr_store_job_get(sr_store *st, const char *owner, const char *id, struct sr_job_row *out,
                 sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_lookup_id(id, err);
    if (rc == SR_OK)
        rc = need_key(st, "read a job", err);
    return rc == SR_OK ? st->ops->job_get(st, owner, id, out, err) : rc;
}

sr_status
sr_store_job_list(sr_store *st, const char *owner, const struct sr_job_filter *filter, size_t limit,
                  const char *before_id, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc != SR_OK)
        return rc;
    if (limit == 0)
        limit = SR_DEFAULT_PAGE;
    /* one row past the largest page tells a caller whether a next page exists */
    if (limit > SR_MAX_PAGE + 1)
        return sr_err_set(err, SR_EINVAL, "page size %zu is too large: at most %d", limit,
                          SR_MAX_PAGE + 1);
    if (before_id) {
        rc = check_lookup_id(before_id, err);
        if (rc != SR_OK)
            return rc;
    }
    static const struct sr_job_filter all = {0};
    if (filter && filter->has_state && !sr_job_state_name(filter->state))
        return sr_err_set(err, SR_EINVAL, "job filter has invalid state %d", (int)filter->state);
    rc = need_key(st, "list jobs", err);
    return rc == SR_OK ? st->ops->job_list(st, owner, filter ? filter : &all, limit, before_id,
                                           rows, n, err)
                       : rc;
}

sr_status
sr_store_job_figures(sr_store *st, const char *owner, int64_t since_ms, int64_t until_ms,
                     sr_job_figures_fn fn, void *ctx, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc != SR_OK)
        return rc;
    if (since_ms > until_ms)
        return sr_err_set(err, SR_EINVAL, "job figures: 'since' %lld is after 'until' %lld",
                          (long long)since_ms, (long long)until_ms);
    return st->ops->job_figures(st, owner, since_ms, until_ms, fn, ctx, err);
}

sr_status
sr_store_jobs_interrupt(sr_store *st, const char *interrupted_result_json, int64_t now_ms,
                        size_t *n, sr_err *err)
{
    if (!interrupted_result_json)
        return sr_err_set(err, SR_EINVAL, "interrupted job result is missing");
    sr_status rc = need_key(st, "fail interrupted jobs", err);
    return rc == SR_OK ? st->ops->jobs_interrupt(st, interrupted_result_json, now_ms, n, err) : rc;
}

sr_status
sr_store_jobs_queued(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    sr_status rc = need_key(st, "list queued jobs", err);
    return rc == SR_OK ? st->ops->jobs_queued(st, rows, n, err) : rc;
}

sr_status
sr_store_jobs_running(sr_store *st, struct sr_job_row **rows, size_t *n, sr_err *err)
{
    sr_status rc = need_key(st, "list running jobs", err);
    return rc == SR_OK ? st->ops->jobs_running(st, rows, n, err) : rc;
}

sr_status
sr_store_recording_put(sr_store *st, const struct sr_recording_row *row, sr_err *err)
{
    sr_status rc = check_owner(row->owner, err);
    if (rc == SR_OK)
        rc = check_lookup_id(row->job_id, err);
    if (rc == SR_OK && (!row->sealed || strlen(row->sha256) != SR_HASH_HEX_LEN))
        rc = sr_err_set(err, SR_EINVAL, "a recording needs its sealed text and SHA-256");
    return rc == SR_OK ? st->ops->recording_put(st, row, err) : rc;
}

sr_status
sr_store_recording_get(sr_store *st, const char *owner, const char *id, char **sealed,
                       char sha256[SR_HASH_HEX_LEN + 1], sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_lookup_id(id, err);
    return rc == SR_OK ? st->ops->recording_get(st, owner, id, sealed, sha256, err) : rc;
}

sr_status
sr_store_jobs_purge(sr_store *st, int64_t now_ms, size_t *n, sr_err *err)
{
    return st->ops->jobs_purge(st, now_ms, n, err);
}

sr_status
sr_store_jobs_count(sr_store *st, int64_t *total, sr_err *err)
{
    return st->ops->jobs_count(st, total, err);
}

/* ---- the cluster queue ---- */

static sr_status
need_shared(const sr_store *st, bool has, const char *what, sr_err *err)
{
    if (has)
        return SR_OK;
    return sr_err_set(err, SR_EINVAL,
                      "cannot %s: the %s store serves one daemon, whose queue is in process; "
                      "the cluster queue needs a PostgreSQL store (docs/cluster.md)",
                      what, st->ops->name);
}

static sr_status
check_lease(const struct sr_lease *l, sr_err *err)
{
    if (!l || !sr_is_lower_hex(l->holder, 32))
        return sr_err_set(err, SR_EINVAL, "lease holder must be 32 lower-case hex characters");
    return SR_OK;
}

bool
sr_store_is_shared(const sr_store *st)
{
    return st && st->ops->job_claim != NULL;
}

sr_status
sr_store_job_enqueue(sr_store *st, const struct sr_job_row *row, unsigned max_queued, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_enqueue != NULL, "enqueue a job", err);
    if (rc == SR_OK)
        rc = check_row(row, err);
    if (rc == SR_OK && (row->state != SR_JOB_QUEUED || !row->runtime || !*row->runtime))
        rc = sr_err_set(err, SR_EINVAL, "job '%s' to enqueue must be queued, with a runtime",
                        row->id);
    if (rc == SR_OK)
        rc = need_key(st, "store a job", err);
    return rc == SR_OK ? st->ops->job_enqueue(st, row, max_queued, err) : rc;
}

sr_status
sr_store_job_start(sr_store *st, const struct sr_job_row *row, unsigned max_running,
                   struct sr_lease *lease, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_start != NULL, "start a job", err);
    if (rc == SR_OK)
        rc = check_row(row, err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK && (row->state != SR_JOB_RUNNING || !row->runtime || !*row->runtime))
        rc = sr_err_set(err, SR_EINVAL, "job '%s' to start must be running, with a runtime",
                        row->id);
    if (rc == SR_OK)
        rc = need_key(st, "store a job", err);
    return rc == SR_OK ? st->ops->job_start(st, row, max_running, lease, err) : rc;
}

sr_status
sr_store_job_claim(sr_store *st, int64_t now_ms, unsigned max_running, struct sr_lease *lease,
                   struct sr_job_row *out, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_claim != NULL, "claim a job", err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK)
        rc = need_key(st, "claim a job", err);
    return rc == SR_OK ? st->ops->job_claim(st, now_ms, max_running, lease, out, err) : rc;
}

sr_status
sr_store_job_renew(sr_store *st, const char *id, const struct sr_lease *lease, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_renew != NULL, "renew a lease", err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK)
        rc = check_lookup_id(id, err);
    return rc == SR_OK ? st->ops->job_renew(st, id, lease, err) : rc;
}

sr_status
sr_store_job_finish(sr_store *st, const struct sr_job_row *row, const struct sr_lease *lease,
                    sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_finish != NULL, "finish a job", err);
    if (rc == SR_OK)
        rc = check_row(row, err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK)
        rc = need_key(st, "finish a job", err);
    return rc == SR_OK ? st->ops->job_finish(st, row, lease, err) : rc;
}

static sr_status check_kv_commit(const struct sr_kv_commit *c, sr_err *err);

sr_status
sr_store_job_end(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res, sr_err *err)
{
    const struct sr_job_row *row = end->row;
    sr_status rc = check_row(row, err);
    if (rc == SR_OK && end->insert && (!row->runtime || !*row->runtime))
        rc = sr_err_set(err, SR_EINVAL, "job '%s' has no runtime", row->id);
    if (rc == SR_OK && end->lease)
        rc = check_lease(end->lease, err);
    if (rc == SR_OK && end->lease && end->insert)
        rc = sr_err_set(err, SR_EINVAL, "job '%s': a leased job is stored already (no insert)",
                        row->id);
    if (rc == SR_OK && end->kv && !res)
        rc = sr_err_set(err, SR_EINVAL, "job '%s': a storage write set needs a result", row->id);
    if (rc == SR_OK && end->kv)
        rc = check_kv_commit(end->kv, err);
    if (rc == SR_OK && end->kv && strcmp(end->kv->owner, row->owner) != 0)
        rc = sr_err_set(err, SR_EINVAL, "job '%s' of '%s' cannot write the storage of '%s'",
                        row->id, row->owner, end->kv->owner);
    if (rc == SR_OK)
        rc = need_key(st, "store a job's end", err);
    if (rc != SR_OK)
        return rc;
    if (res)
        memset(res, 0, sizeof(*res));
    return st->ops->job_end(st, end, res, err);
}

sr_status
sr_store_jobs_expired(sr_store *st, int64_t now_ms, const struct sr_lease *lease, size_t max,
                      struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->jobs_expired != NULL, "take over jobs", err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK && (max == 0 || max > SR_MAX_PAGE))
        rc = sr_err_set(err, SR_EINVAL, "take-over batch must be 1..%d", SR_MAX_PAGE);
    if (rc == SR_OK)
        rc = need_key(st, "take over jobs", err);
    return rc == SR_OK ? st->ops->jobs_expired(st, now_ms, lease, max, rows, fences, n, err) : rc;
}

sr_status
sr_store_jobs_reclaim(sr_store *st, const struct sr_lease *lease, size_t max,
                      struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->jobs_reclaim != NULL, "reclaim jobs", err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK && (max == 0 || max > SR_MAX_PAGE))
        rc = sr_err_set(err, SR_EINVAL, "reclaim batch must be 1..%d", SR_MAX_PAGE);
    if (rc == SR_OK)
        rc = need_key(st, "reclaim jobs", err);
    return rc == SR_OK ? st->ops->jobs_reclaim(st, lease, max, rows, fences, n, err) : rc;
}

sr_status
sr_store_job_take(sr_store *st, const char *owner, const char *id, struct sr_lease *lease,
                  struct sr_job_row *out, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->job_take != NULL, "take a job", err);
    if (rc == SR_OK)
        rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK)
        rc = check_lookup_id(id, err);
    if (rc == SR_OK)
        rc = need_key(st, "take a job", err);
    return rc == SR_OK ? st->ops->job_take(st, owner, id, lease, out, err) : rc;
}

sr_status
sr_store_jobs_stale(sr_store *st, int64_t created_before_ms, const struct sr_lease *lease,
                    size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->jobs_stale != NULL, "expire queued jobs", err);
    if (rc == SR_OK)
        rc = check_lease(lease, err);
    if (rc == SR_OK && (max == 0 || max > SR_MAX_PAGE))
        rc = sr_err_set(err, SR_EINVAL, "expiry batch must be 1..%d", SR_MAX_PAGE);
    if (rc == SR_OK)
        rc = need_key(st, "expire queued jobs", err);
    return rc == SR_OK
               ? st->ops->jobs_stale(st, created_before_ms, lease, max, rows, fences, n, err)
               : rc;
}

/* ---- completion webhooks ---- */

const char *
sr_webhook_state_name(enum sr_webhook_state s)
{
    switch (s) {
    case SR_WEBHOOK_PENDING:
        return "pending";
    case SR_WEBHOOK_DELIVERED:
        return "delivered";
    case SR_WEBHOOK_FAILED:
        return "failed";
    }
    return NULL;
}

sr_status
sr_store_webhook_add(sr_store *st, const char *owner, const char *job_id, int64_t now_ms,
                     sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK && !is_job_id(job_id))
        rc = sr_err_set(err, SR_EINVAL, "webhook job id '%.40s' is not 32 lower-case hex",
                        job_id ? job_id : "");
    return rc == SR_OK ? st->ops->webhook_add(st, owner, job_id, now_ms, err) : rc;
}

sr_status
sr_store_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms, int64_t until_ms,
                        size_t max, unsigned per_owner, struct sr_webhook_row **rows, size_t *n,
                        sr_err *err)
{
    if (!holder || !sr_is_lower_hex(holder, 32))
        return sr_err_set(err, SR_EINVAL, "webhook claim holder must be 32 lower-case hex");
    if (max == 0 || max > SR_MAX_PAGE || per_owner == 0)
        return sr_err_set(err, SR_EINVAL, "webhook claim batch must be 1..%d", SR_MAX_PAGE);
    return st->ops->webhooks_claim(st, holder, now_ms, until_ms, max, per_owner, rows, n, err);
}

sr_status
sr_store_webhook_attempt(sr_store *st, const char *holder, const struct sr_webhook_row *w,
                         const struct sr_webhook_attempt *a, enum sr_webhook_state next,
                         int64_t next_at_ms, sr_err *err)
{
    if (!holder || !sr_is_lower_hex(holder, 32) || !w || !a || !is_job_id(w->job_id) ||
        !sr_webhook_state_name(next) || a->attempt == 0)
        return sr_err_set(err, SR_EINVAL, "webhook attempt needs a holder, a job and a state");
    return st->ops->webhook_attempt(st, holder, w, a, next, next_at_ms, err);
}

sr_status
sr_store_webhook_get(sr_store *st, const char *owner, const char *job_id,
                     enum sr_webhook_state *state, struct sr_webhook_attempt **rows, size_t *n,
                     sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_lookup_id(job_id, err);
    return rc == SR_OK ? st->ops->webhook_get(st, owner, job_id, state, rows, n, err) : rc;
}

bool
sr_store_wait_jobs(sr_store *st, int timeout_ms)
{
    return st->ops->wait_jobs && st->ops->wait_jobs(st, timeout_ms);
}

sr_status
sr_store_daemon_beat(sr_store *st, const struct sr_daemon_row *d, sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->daemon_beat != NULL, "record a heartbeat", err);
    if (rc == SR_OK && !sr_is_lower_hex(d->id, 32))
        rc = sr_err_set(err, SR_EINVAL, "daemon id must be 32 lower-case hex characters");
    return rc == SR_OK ? st->ops->daemon_beat(st, d, err) : rc;
}

sr_status
sr_store_daemons(sr_store *st, int64_t since_ms, size_t max, struct sr_daemon_row **rows, size_t *n,
                 sr_err *err)
{
    sr_status rc = need_shared(st, st->ops->daemons != NULL, "list daemons", err);
    if (rc == SR_OK && (max == 0 || max > SR_MAX_PAGE))
        rc = sr_err_set(err, SR_EINVAL, "daemon listing must be 1..%d rows", SR_MAX_PAGE);
    return rc == SR_OK ? st->ops->daemons(st, since_ms, max, rows, n, err) : rc;
}

/* --- remote workers --- */

const char *
sr_worker_state_name(enum sr_worker_state s)
{
    switch (s) {
    case SR_WORKER_ACTIVE:
        return "active";
    case SR_WORKER_DRAINING:
        return "draining";
    case SR_WORKER_REVOKED:
        return "revoked";
    }
    return NULL;
}

bool
sr_store__worker_state_parse(const char *s, enum sr_worker_state *out)
{
    for (int i = SR_WORKER_ACTIVE; i <= SR_WORKER_REVOKED; i++) {
        if (s && strcmp(s, sr_worker_state_name((enum sr_worker_state)i)) == 0) {
            *out = (enum sr_worker_state)i;
            return true;
        }
    }
    return false;
}

static bool
copy_col(char *dst, size_t cap, const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n >= cap)
        return false;
    memcpy(dst, v ? v : "", n);
    dst[n] = '\0';
    return true;
}

sr_status
sr_store__worker_fill(const struct sr_store__worker_cols *c, struct sr_worker_row *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    sr_hex_encode(c->hash, 8, out->id);
    if (!copy_col(out->name, sizeof(out->name), c->name) ||
        !sr_store__worker_state_parse(c->state, &out->state) ||
        !copy_col(out->public_key, sizeof(out->public_key), c->public_key) ||
        !copy_col(out->measurement, sizeof(out->measurement), c->measurement) ||
        !copy_col(out->attestation, sizeof(out->attestation), c->attestation) ||
        !copy_col(out->version, sizeof(out->version), c->version))
        return sr_err_set(err, SR_EIO, "stored worker '%s' is malformed", out->id);
    out->created_at_ms = c->created_at;
    out->registered_at_ms = c->registered_at;
    out->seen_at_ms = c->seen_at;
    out->revoked_at_ms = c->revoked_at;
    return SR_OK;
}

static sr_status
no_workers(sr_store *st, sr_err *err)
{
    return sr_err_set(err, SR_EINTERNAL, "the %s store has no worker table", st->ops->name);
}

sr_status
sr_store_worker_add(sr_store *st, const uint8_t hash[32], const char *name, int64_t now_ms,
                    sr_err *err)
{
    if (!name || !sr_is_user_name(name) || strlen(name) > SR_WORKER_NAME_MAX)
        return sr_err_set(err, SR_EINVAL,
                          "worker name '%.80s' must be 1..%d characters of A-Z a-z 0-9 _ - . @",
                          name ? name : "", SR_WORKER_NAME_MAX);
    return st->ops->worker_add ? st->ops->worker_add(st, hash, name, now_ms, err)
                               : no_workers(st, err);
}

sr_status
sr_store_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out, sr_err *err)
{
    return st->ops->worker_get ? st->ops->worker_get(st, hash, out, err) : no_workers(st, err);
}

sr_status
sr_store_worker_register(sr_store *st, const uint8_t hash[32], const struct sr_worker_reg *r,
                         struct sr_worker_row *out, sr_err *err)
{
    if (!r->public_key || !sr_is_lower_hex(r->public_key, 64))
        return sr_err_set(err, SR_EINVAL, "worker key must be 64 lower-case hex characters");
    if (!r->measurement || !sr_is_lower_hex(r->measurement, 64))
        return sr_err_set(err, SR_EINVAL,
                          "worker measurement must be 64 lower-case hex characters");
    if (!r->attestation || (strcmp(r->attestation, "none") != 0 && strcmp(r->attestation, "tdx")))
        return sr_err_set(err, SR_EINVAL, "worker attestation must be 'none' or 'tdx'");
    if (!r->version || !*r->version || strlen(r->version) > 31)
        return sr_err_set(err, SR_EINVAL, "worker version must be 1..31 bytes");
    return st->ops->worker_register ? st->ops->worker_register(st, hash, r, out, err)
                                    : no_workers(st, err);
}

sr_status
sr_store_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms, sr_err *err)
{
    return st->ops->worker_seen ? st->ops->worker_seen(st, hash, now_ms, err) : no_workers(st, err);
}

sr_status
sr_store_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n, sr_err *err)
{
    return st->ops->worker_list ? st->ops->worker_list(st, rows, n, err) : no_workers(st, err);
}

sr_status
sr_store_worker_set_state(sr_store *st, const char *id_prefix, enum sr_worker_state state,
                          int64_t now_ms, struct sr_worker_row *out, sr_err *err)
{
    size_t n = id_prefix ? strlen(id_prefix) : 0;
    if (n < 8 || n > 16 || !sr_is_lower_hex(id_prefix, n))
        return sr_err_set(err, SR_EINVAL,
                          "worker id '%.70s' is invalid: expected 8 to 16 lower-case hex "
                          "characters (see 'sealrun worker list')",
                          id_prefix ? id_prefix : "");
    if (!sr_worker_state_name(state))
        return sr_err_set(err, SR_EINVAL, "unknown worker state %d", (int)state);
    return st->ops->worker_set_state
               ? st->ops->worker_set_state(st, id_prefix, state, now_ms, out, err)
               : no_workers(st, err);
}

static bool
valid_hash(const char *h)
{
    return sr_is_lower_hex(h, 64);
}

void
sr_module_row_fini(struct sr_module_row *row)
{
    free(row->bytes);
    free(row->info_json);
    memset(row, 0, sizeof(*row));
}

sr_status
sr_store_module_put(sr_store *st, const struct sr_module_put *p, bool *created,
                    struct sr_module_usage *usage, sr_err *err)
{
    sr_status rc = check_owner(p->owner, err);
    if (rc != SR_OK)
        return rc;
    if (!valid_hash(p->hash_hex))
        return sr_err_set(err, SR_EINVAL, "module hash must be 64 lower-case hex characters");
    if (!p->bytes || !p->len || !p->info_json)
        return sr_err_set(err, SR_EINVAL, "module '%s' has no bytes or no metadata", p->hash_hex);
    rc = need_key(st, "store a module", err);
    return rc == SR_OK ? st->ops->module_put(st, p, created, usage, err) : rc;
}

/* An owner and a hash that could name a claim; a malformed hash is "not found". */
static sr_status
check_claim(const char *owner, const char *hash_hex, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK && !valid_hash(hash_hex))
        rc = sr_err_set(err, SR_ENOTFOUND, "module '%.70s' not found", hash_hex ? hash_hex : "");
    return rc;
}

sr_status
sr_store_module_get(sr_store *st, const char *owner, const char *hash_hex,
                    struct sr_module_row *out, sr_err *err)
{
    sr_status rc = check_claim(owner, hash_hex, err);
    if (rc == SR_OK)
        rc = need_key(st, "read a module", err);
    return rc == SR_OK ? st->ops->module_get(st, owner, hash_hex, out, err) : rc;
}

sr_status
sr_store_module_touch(sr_store *st, const char *owner, const char *hash_hex, int64_t now_ms,
                      sr_err *err)
{
    sr_status rc = check_claim(owner, hash_hex, err);
    return rc == SR_OK ? st->ops->module_touch(st, owner, hash_hex, now_ms, err) : rc;
}

sr_status
sr_store_module_delete(sr_store *st, const char *owner, const char *hash_hex, bool *freed,
                       sr_err *err)
{
    sr_status rc = check_claim(owner, hash_hex, err);
    return rc == SR_OK ? st->ops->module_delete(st, owner, hash_hex, freed, err) : rc;
}

sr_status
sr_store_module_list(sr_store *st, const char *owner, size_t limit, const char *before_hash,
                     struct sr_module_meta **rows, size_t *n, sr_err *err)
{
    sr_status rc = before_hash ? check_claim(owner, before_hash, err) : check_owner(owner, err);
    if (rc == SR_OK && (limit == 0 || limit > SR_MAX_PAGE + 1))
        rc = sr_err_set(err, SR_EINVAL, "module page size must be 1..%d, got %zu", SR_MAX_PAGE + 1,
                        limit);
    return rc == SR_OK ? st->ops->module_list(st, owner, limit, before_hash, rows, n, err) : rc;
}

sr_status
sr_store_module_usage(sr_store *st, const char *owner, struct sr_module_usage *out, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    return rc == SR_OK ? st->ops->module_usage(st, owner, out, err) : rc;
}

sr_status
sr_store_modules_expire(sr_store *st, int64_t unused_before_ms, size_t max, size_t *claims,
                        size_t *freed, sr_err *err)
{
    if (max == 0)
        return sr_err_set(err, SR_EINVAL, "module expiry batch must be at least 1");
    size_t c = 0, f = 0;
    sr_status rc = st->ops->modules_expire(st, unused_before_ms, max, &c, &f, err);
    if (rc == SR_OK && claims)
        *claims = c;
    if (rc == SR_OK && freed)
        *freed = f;
    return rc;
}

/* ---- secrets and audit ---- */

void
sr_secret_stored_fini(struct sr_secret_stored *s)
{
    free(s->blob);
    free(s->policy_json);
    memset(s, 0, sizeof(*s));
}

void
sr_secret_meta_fini(struct sr_secret_meta *m)
{
    free(m->name);
    free(m->policy_json);
    memset(m, 0, sizeof(*m));
}

void
sr_audit_row_fini(struct sr_audit_row *r)
{
    free(r->owner);
    free(r->name);
    free(r->job_id);
    free(r->user);
    free(r->outcome);
    free(r->reason);
    free(r->code_hash);
    free(r->entry_point);
    memset(r, 0, sizeof(*r));
}

/* Names are validated by the secret module; the store only refuses what
 * could never be one. */
static sr_status
check_secret_name(const char *name, sr_err *err)
{
    size_t n = name ? strnlen(name, 130) : 0;
    if (n == 0 || n > 128)
        return sr_err_set(err, SR_EINVAL, "secret name must be 1..128 characters");
    return SR_OK;
}

sr_status
sr_store_secret_get(sr_store *st, const char *owner, const char *name, struct sr_secret_stored *out,
                    sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(name, err);
    if (rc == SR_OK)
        rc = need_key(st, "read a secret's policy", err);
    return rc == SR_OK ? st->ops->secret_get(st, owner, name, out, err) : rc;
}

sr_status
sr_store_secret_put(sr_store *st, const char *owner, const char *name, uint64_t expected_version,
                    const uint8_t *blob, size_t len, int64_t now_ms, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(name, err);
    if (rc == SR_OK && (!blob || !len))
        rc = sr_err_set(err, SR_EINVAL, "secret '%s' has an empty blob", name);
    return rc == SR_OK
               ? st->ops->secret_put(st, owner, name, expected_version, blob, len, now_ms, err)
               : rc;
}

sr_status
sr_store_secret_policy(sr_store *st, const char *owner, const char *name, const char *policy_json,
                       int64_t now_ms, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(name, err);
    if (rc == SR_OK)
        rc = need_key(st, "store a secret's policy", err);
    return rc == SR_OK ? st->ops->secret_policy(st, owner, name, policy_json, now_ms, err) : rc;
}

sr_status
sr_store_secret_delete(sr_store *st, const char *owner, const char *name, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(name, err);
    return rc == SR_OK ? st->ops->secret_delete(st, owner, name, err) : rc;
}

sr_status
sr_store_secret_list(sr_store *st, const char *owner, struct sr_secret_meta **rows, size_t *n,
                     sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = need_key(st, "list secrets with their policies", err);
    return rc == SR_OK ? st->ops->secret_list(st, owner, rows, n, err) : rc;
}

sr_status
sr_store_audit_add(sr_store *st, const struct sr_audit_row *row, sr_err *err)
{
    sr_status rc = check_owner(row->owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(row->name, err);
    if (rc == SR_OK && (!row->user || !row->outcome))
        rc = sr_err_set(err, SR_EINVAL, "audit record of '%s' lacks a user or an outcome",
                        row->name);
    if (rc == SR_OK && (row->window_ms < 0 || row->window_ms % SR_AUDIT_WINDOW_MS != 0))
        rc = sr_err_set(err, SR_EINVAL,
                        "audit window %lld of '%s' is not a multiple of %lld ms at or after 0",
                        (long long)row->window_ms, row->name, (long long)SR_AUDIT_WINDOW_MS);
    return rc == SR_OK ? st->ops->audit_add(st, row, err) : rc;
}

sr_status
sr_store_audit_list(sr_store *st, const char *owner, const char *name, size_t limit,
                    int64_t before_id, struct sr_audit_row **rows, size_t *n, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK)
        rc = check_secret_name(name, err);
    if (rc == SR_OK && (limit == 0 || limit > SR_MAX_PAGE + 1))
        rc = sr_err_set(err, SR_EINVAL, "audit page size must be 1..%d, got %zu", SR_MAX_PAGE,
                        limit);
    if (rc == SR_OK && before_id < 0)
        rc = sr_err_set(err, SR_EINVAL, "audit cursor must be 0 or a row id, got %lld",
                        (long long)before_id);
    return rc == SR_OK ? st->ops->audit_list(st, owner, name, limit, before_id, rows, n, err) : rc;
}

sr_status
sr_store_audit_purge(sr_store *st, int64_t before_ms, size_t max, size_t *n, sr_err *err)
{
    if (max == 0)
        return sr_err_set(err, SR_EINVAL, "audit purge batch must be at least 1");
    size_t k = 0;
    sr_status rc = st->ops->audit_purge(st, before_ms, max, &k, err);
    if (rc == SR_OK && n)
        *n = k;
    return rc;
}

/* ---- storage ---- */

void
sr_kv_row_fini(struct sr_kv_row *r)
{
    free(r->key_blob);
    free(r->blob);
    memset(r, 0, sizeof(*r));
}

void
sr_kv_ns_row_fini(struct sr_kv_ns_row *r)
{
    free(r->name_blob);
    memset(r, 0, sizeof(*r));
}

/* Ids and blobs are made by the storage module; the store refuses only what
 * could never be one. */
static sr_status
check_kv(const char *owner, const uint8_t *ns_id, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc == SR_OK && !ns_id)
        rc = sr_err_set(err, SR_EINVAL, "storage namespace id is missing");
    return rc;
}

/* A sealed key: nonce + 1..256 bytes + tag. */
#define KEY_BLOB_MAX (24 + 256 + 16)

static sr_status
check_kv_write(const struct sr_kv_write *w, sr_err *err)
{
    if (!w->id)
        return sr_err_set(err, SR_EINVAL, "storage write without a key id");
    if (w->blob && (!w->key_blob || w->key_blob_len == 0 || w->key_blob_len > KEY_BLOB_MAX))
        return sr_err_set(err, SR_EINVAL, "sealed storage key must be 1..%d bytes, got %zu",
                          KEY_BLOB_MAX, w->key_blob_len);
    if (w->blob && w->size == 0)
        return sr_err_set(err, SR_EINVAL, "storage put of size 0 (a key has at least one byte)");
    return SR_OK;
}

sr_status
sr_store_kv_ns(sr_store *st, const char *owner, const uint8_t *ns_id, struct sr_kv_ns *out,
               sr_err *err)
{
    sr_status rc = check_kv(owner, ns_id, err);
    return rc == SR_OK ? st->ops->kv_ns(st, owner, ns_id, out, err) : rc;
}

sr_status
sr_store_kv_get(sr_store *st, const char *owner, const uint8_t *ns_id, const uint8_t *key_id,
                struct sr_kv_row *out, sr_err *err)
{
    sr_status rc = check_kv(owner, ns_id, err);
    if (rc == SR_OK && !key_id)
        rc = sr_err_set(err, SR_EINVAL, "storage key id is missing");
    return rc == SR_OK ? st->ops->kv_get(st, owner, ns_id, key_id, out, err) : rc;
}

sr_status
sr_store_kv_snapshot(sr_store *st, const char *owner, const uint8_t *ns_id,
                     struct sr_kv_probe *probes, size_t nprobes, size_t max_rows,
                     struct sr_kv_ns *info, struct sr_kv_row **rows, size_t *nrows, sr_err *err)
{
    sr_status rc = check_kv(owner, ns_id, err);
    if (rc == SR_OK && nprobes && !probes)
        rc = sr_err_set(err, SR_EINVAL, "storage snapshot: %zu probes without an array", nprobes);
    if (rc == SR_OK && rows && !nrows)
        rc = sr_err_set(err, SR_EINVAL, "storage snapshot: rows without a count");
    return rc == SR_OK ? st->ops->kv_snapshot(st, owner, ns_id, probes, nprobes, max_rows, info,
                                              rows, nrows, err)
                       : rc;
}

static sr_status
check_kv_commit(const struct sr_kv_commit *c, sr_err *err)
{
    sr_status rc = check_kv(c->owner, c->ns_id, err);
    if (rc == SR_OK && (!c->name_blob || c->name_blob_len == 0))
        rc = sr_err_set(err, SR_EINVAL, "storage commit without the sealed namespace name");
    for (size_t i = 0; rc == SR_OK && i < c->nwrites; i++)
        rc = check_kv_write(&c->writes[i], err);
    return rc;
}

sr_status
sr_store_kv_commit(sr_store *st, const struct sr_kv_commit *c, struct sr_kv_result *res,
                   sr_err *err)
{
    sr_status rc = check_kv_commit(c, err);
    if (rc != SR_OK)
        return rc;
    memset(res, 0, sizeof(*res));
    return st->ops->kv_commit(st, c, res, err);
}

sr_status
sr_store_kv_namespaces(sr_store *st, const char *owner, size_t max_rows, struct sr_kv_ns_row **rows,
                       size_t *n, struct sr_kv_usage *usage, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    return rc == SR_OK ? st->ops->kv_namespaces(st, owner, max_rows, rows, n, usage, err) : rc;
}

sr_status
sr_store_kv_upgrade(sr_store *st, const struct sr_kv_upgrade *u, uint64_t *moved, sr_err *err)
{
    if (!u || !u->ns || !u->key)
        return sr_err_set(err, SR_EINVAL, "storage upgrade needs both callbacks");
    *moved = 0;
    return st->ops->kv_upgrade(st, u, moved, err);
}
