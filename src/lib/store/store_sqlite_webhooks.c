/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_webhooks.c - the SQLite backend's completion webhooks
 * (sr_store.h "completion webhooks"): the row made at submit, the claim
 * of due ones (select and claim in one write, so two callers never claim
 * one row), the attempt recorded with the next state in one write, and
 * the listing for GET /jobs/{id}/deliveries.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"pending", "delivered", "failed"};

static bool
state_from(const char *s, enum sr_webhook_state *out)
{
    for (unsigned i = 0; s && i < 3; i++) {
        if (strcmp(s, state_names[i]) == 0) {
            *out = (enum sr_webhook_state)i;
            return true;
        }
    }
    return false;
}

/* --- add --- */

struct add_arg {
    const char *owner, *job_id;
    int64_t now_ms;
};

static sr_status
w_add(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct add_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WEBHOOK_ADD, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, a->job_id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->owner);
    b = b ? b : sqlite3_bind_int64(stmt, 3, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "add the webhook of job", a->job_id);
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_webhook_add(sr_store *st, const char *owner, const char *job_id, int64_t now_ms,
                         sr_err *err)
{
    struct add_arg a = {owner, job_id, now_ms};
    return sr_store__sq_write((struct sq_store *)st, w_add, &a, err);
}

/* --- claim --- */

struct claim_arg {
    const char *holder;
    int64_t now_ms, until_ms;
    size_t max;
    unsigned per_owner;
    struct sr_webhook_row *rows; /* max entries */
    size_t n;
};

static sr_status
claim_one(struct sq_conn *c, struct claim_arg *a, const struct sr_webhook_row *w, bool *got,
          sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WEBHOOK_CLAIM, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, w->job_id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->holder);
    b = b ? b : sqlite3_bind_int64(stmt, 3, a->until_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 4, a->now_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 5, (sqlite3_int64)a->per_owner);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "claim the webhook of job", w->job_id);
    *got = rc == SR_OK && sqlite3_changes64(c->db) == 1;
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
w_claim(struct sq_conn *c, void *arg, sr_err *err)
{
    struct claim_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    a->n = 0;
    sr_status rc = sr_store__sq_stmt(c, SQ_WEBHOOK_DUE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_int64(stmt, 1, a->now_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)a->max);
    b = b ? b : sqlite3_bind_int64(stmt, 3, (sqlite3_int64)a->per_owner);
    if (b) {
        rc = sr_store__sq_bind_failed(stmt, b, err);
        sr_store__sq_done(stmt);
        return rc;
    }
    int step = SQLITE_DONE;
    while (a->n < a->max && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct sr_webhook_row *w = &a->rows[a->n++];
        memset(w, 0, sizeof(*w));
        (void)snprintf(w->job_id, sizeof(w->job_id), "%s",
                       (const char *)sqlite3_column_text(stmt, 0));
        (void)snprintf(w->owner, sizeof(w->owner), "%s",
                       (const char *)sqlite3_column_text(stmt, 1));
        w->attempts = (uint32_t)sqlite3_column_int64(stmt, 2);
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, step, err, "cannot read the due webhooks");
    sr_store__sq_done(stmt);
    /* the selection is done before the claims (one statement at a time) */
    size_t kept = 0;
    for (size_t i = 0; rc == SR_OK && i < a->n; i++) {
        bool got = false;
        rc = claim_one(c, a, &a->rows[i], &got, err);
        if (got)
            a->rows[kept++] = a->rows[i];
    }
    a->n = kept;
    return rc;
}

sr_status
sr_store__sq_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms, int64_t until_ms,
                            size_t max, unsigned per_owner, struct sr_webhook_row **rows, size_t *n,
                            sr_err *err)
{
    struct claim_arg a = {holder, now_ms, until_ms, max, per_owner, calloc(max, sizeof(*rows[0])),
                          0};
    if (!a.rows)
        return sr_err_set(err, SR_ENOMEM, "out of memory claiming webhooks");
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_claim, &a, err);
    if (rc != SR_OK) {
        free(a.rows);
        return rc;
    }
    *rows = a.rows;
    *n = a.n;
    return SR_OK;
}

/* --- attempt --- */

struct attempt_arg {
    const char *holder;
    const struct sr_webhook_row *w;
    const struct sr_webhook_attempt *a;
    enum sr_webhook_state next;
    int64_t next_at_ms;
};

static sr_status
w_attempt(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct attempt_arg *t = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WEBHOOK_SET, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, t->w->job_id);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, t->holder);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, state_names[t->next]);
    b = b ? b : sqlite3_bind_int64(stmt, 4, (sqlite3_int64)t->a->attempt);
    b = b ? b : sqlite3_bind_int64(stmt, 5, t->next_at_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "record the webhook of job", t->w->job_id);
    bool held = rc == SR_OK && sqlite3_changes64(c->db) == 1;
    sr_store__sq_done(stmt);
    if (rc == SR_OK && !held)
        return sr_err_set(err, SR_ECONFLICT,
                          "the webhook of job '%s' is no longer claimed by this daemon",
                          t->w->job_id);
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, SQ_WEBHOOK_ATTEMPT_ADD, &stmt, err);
    if (rc != SR_OK)
        return rc;
    b = sr_store__sq_bind_text(stmt, 1, t->w->job_id);
    b = b ? b : sqlite3_bind_int64(stmt, 2, (sqlite3_int64)t->a->attempt);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, t->w->owner);
    b = b ? b : sqlite3_bind_int64(stmt, 4, t->a->at_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 5, t->a->duration_ms);
    b = b ? b : sqlite3_bind_int64(stmt, 6, (sqlite3_int64)t->a->status);
    b = b ? b : sr_store__sq_bind_text(stmt, 7, t->a->error);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "record a webhook attempt of job", t->w->job_id);
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_webhook_attempt(sr_store *st, const char *holder, const struct sr_webhook_row *w,
                             const struct sr_webhook_attempt *a, enum sr_webhook_state next,
                             int64_t next_at_ms, sr_err *err)
{
    struct attempt_arg t = {holder, w, a, next, next_at_ms};
    return sr_store__sq_write((struct sq_store *)st, w_attempt, &t, err);
}

/* --- reading --- */

static sr_status
read_attempt(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    (void)err;
    struct sr_webhook_attempt *a = row;
    memset(a, 0, sizeof(*a));
    a->attempt = (uint32_t)sqlite3_column_int64(stmt, 0);
    a->at_ms = sqlite3_column_int64(stmt, 1);
    a->duration_ms = sqlite3_column_int64(stmt, 2);
    a->status = (unsigned)sqlite3_column_int64(stmt, 3);
    const unsigned char *e = sqlite3_column_text(stmt, 4);
    (void)snprintf(a->error, sizeof(a->error), "%s", e ? (const char *)e : "");
    return SR_OK;
}

static void
fini_attempt(void *row)
{
    (void)row;
}

sr_status
sr_store__sq_webhook_get(sr_store *st, const char *owner, const char *job_id,
                         enum sr_webhook_state *state, struct sr_webhook_attempt **rows, size_t *n,
                         sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    enum sr_webhook_state got = SR_WEBHOOK_PENDING;
    sr_status rc = sr_store__sq_stmt(c, SQ_WEBHOOK_GET, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, job_id);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, owner);
        int step = b ? b : sqlite3_step(stmt);
        if (b)
            rc = sr_store__sq_bind_failed(stmt, b, err);
        else if (step == SQLITE_DONE)
            rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' has no callback_url", job_id);
        else if (step != SQLITE_ROW)
            rc = sr_store__sq_fail(c->db, step, err, "cannot read the webhook of job '%s'", job_id);
        else if (!state_from((const char *)sqlite3_column_text(stmt, 0), &got))
            rc = sr_err_set(err, SR_EIO, "the webhook of job '%s' has an unknown state", job_id);
    }
    sr_store__sq_done(stmt);
    stmt = NULL;
    if (rc == SR_OK)
        rc = sr_store__sq_stmt(c, SQ_WEBHOOK_ATTEMPTS, &stmt, err);
    if (rc == SR_OK) {
        int b = sr_store__sq_bind_text(stmt, 1, job_id);
        b = b ? b : sr_store__sq_bind_text(stmt, 2, owner);
        b = b ? b : sqlite3_bind_int64(stmt, 3, SR_WEBHOOK_MAX_ATTEMPTS);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(**rows), read_attempt, NULL, fini_attempt,
                                      "webhook attempts", (void **)rows, n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    if (rc == SR_OK)
        *state = got;
    return rc;
}
