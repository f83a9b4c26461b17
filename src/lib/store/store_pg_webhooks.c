/* SPDX-License-Identifier: MIT
 *
 * store_pg_webhooks.c - completion webhooks on PostgreSQL (sr_store.h
 * "completion webhooks"): the claim of due webhooks is one UPDATE over
 * rows locked FOR UPDATE SKIP LOCKED, so daemons claiming at once take
 * different ones; an attempt and the next state are written in one
 * transaction, only while the claim is still the caller's.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"pending", "delivered", "failed"};

sr_status
sr_store__pg_webhook_add(sr_store *st, const char *owner, const char *job_id, int64_t now_ms,
                         sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, job_id);
    sr_store__pg_text(&a, owner);
    sr_store__pg_int(&a, now_ms);
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_WEBHOOK_ADD, &a, NULL,
                                     "cannot add a webhook", err);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "job '%s' has a webhook already", job_id);
    return rc;
}

/* One claim per statement, so the per-owner count sees the claims before
 * it (a statement does not see its own updates). */
sr_status
sr_store__pg_webhooks_claim(sr_store *st, const char *holder, int64_t now_ms, int64_t until_ms,
                            size_t max, unsigned per_owner, struct sr_webhook_row **rows, size_t *n,
                            sr_err *err)
{
    struct sr_webhook_row *v = calloc(max, sizeof(*v));
    if (!v)
        return sr_err_set(err, SR_ENOMEM, "out of memory claiming webhooks");
    size_t k = 0;
    sr_status rc = SR_OK;
    while (rc == SR_OK && k < max) {
        struct pg_args a = {0};
        sr_store__pg_text(&a, holder);
        sr_store__pg_int(&a, now_ms);
        sr_store__pg_int(&a, until_ms);
        sr_store__pg_int(&a, 1);
        sr_store__pg_int(&a, (int64_t)per_owner);
        PGresult *res = NULL;
        rc = sr_store__pg_run1((struct pg_store *)st, PG_WEBHOOKS_CLAIM, &a, &res,
                               "cannot claim webhooks", err);
        bool got = rc == SR_OK && PQntuples(res) == 1;
        if (got) {
            (void)snprintf(v[k].job_id, sizeof(v[k].job_id), "%s", PQgetvalue(res, 0, 0));
            (void)snprintf(v[k].owner, sizeof(v[k].owner), "%s", PQgetvalue(res, 0, 1));
            v[k].attempts = (uint32_t)sr_store__pg_col_int(res, 0, 2);
            k++;
        }
        PQclear(res);
        if (!got)
            break;
    }
    if (rc != SR_OK && k == 0) {
        free(v);
        return rc;
    }
    *rows = v; /* what was claimed stays claimed: the caller handles it */
    *n = k;
    return SR_OK;
}

struct attempt_arg {
    const char *holder;
    const struct sr_webhook_row *w;
    const struct sr_webhook_attempt *a;
    enum sr_webhook_state next;
    int64_t next_at_ms;
};

static sr_status
tx_attempt(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct attempt_arg *t = arg;
    struct pg_args u = {0};
    sr_store__pg_text(&u, t->w->job_id);
    sr_store__pg_text(&u, t->holder);
    sr_store__pg_text(&u, state_names[t->next]);
    sr_store__pg_int(&u, (int64_t)t->a->attempt);
    sr_store__pg_int(&u, t->next_at_ms);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_WEBHOOK_SET, &u, &res, "cannot record a webhook", err);
    bool held = rc == SR_OK && sr_store__pg_changes(res) == 1;
    PQclear(res);
    if (rc == SR_OK && !held)
        return sr_err_set(err, SR_ECONFLICT,
                          "the webhook of job '%s' is no longer claimed by this daemon",
                          t->w->job_id);
    if (rc != SR_OK)
        return rc;
    struct pg_args a = {0};
    sr_store__pg_text(&a, t->w->job_id);
    sr_store__pg_int(&a, (int64_t)t->a->attempt);
    sr_store__pg_text(&a, t->w->owner);
    sr_store__pg_int(&a, t->a->at_ms);
    sr_store__pg_int(&a, t->a->duration_ms);
    sr_store__pg_int(&a, (int64_t)t->a->status);
    sr_store__pg_text(&a, t->a->error);
    return sr_store__pg_run(s, c, PG_WEBHOOK_ATTEMPT_ADD, &a, NULL,
                            "cannot record a webhook attempt", err);
}

sr_status
sr_store__pg_webhook_attempt(sr_store *st, const char *holder, const struct sr_webhook_row *w,
                             const struct sr_webhook_attempt *a, enum sr_webhook_state next,
                             int64_t next_at_ms, sr_err *err)
{
    struct attempt_arg t = {holder, w, a, next, next_at_ms};
    return sr_store__pg_tx((struct pg_store *)st, tx_attempt, &t, err);
}

sr_status
sr_store__pg_webhook_get(sr_store *st, const char *owner, const char *job_id,
                         enum sr_webhook_state *state, struct sr_webhook_attempt **rows, size_t *n,
                         sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_args a = {0};
    sr_store__pg_text(&a, job_id);
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1(s, PG_WEBHOOK_GET, &a, &res, "cannot read a webhook", err);
    enum sr_webhook_state got = SR_WEBHOOK_PENDING;
    if (rc == SR_OK && PQntuples(res) != 1)
        rc = sr_err_set(err, SR_ENOTFOUND, "job '%s' has no callback_url", job_id);
    bool known = false;
    for (unsigned i = 0; rc == SR_OK && i < 3; i++) {
        if (strcmp(PQgetvalue(res, 0, 0), state_names[i]) == 0) {
            got = (enum sr_webhook_state)i;
            known = true;
        }
    }
    if (rc == SR_OK && !known)
        rc = sr_err_set(err, SR_EIO, "the webhook of job '%s' has an unknown state", job_id);
    PQclear(res);
    res = NULL;
    sr_store__pg_int(&a, SR_WEBHOOK_MAX_ATTEMPTS);
    if (rc == SR_OK)
        rc = sr_store__pg_run1(s, PG_WEBHOOK_ATTEMPTS, &a, &res, "cannot read webhook attempts",
                               err);
    size_t k = rc == SR_OK ? (size_t)PQntuples(res) : 0;
    struct sr_webhook_attempt *v = rc == SR_OK ? calloc(k + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory reading webhook attempts");
    for (size_t i = 0; rc == SR_OK && i < k; i++) {
        v[i].attempt = (uint32_t)sr_store__pg_col_int(res, (int)i, 0);
        v[i].at_ms = sr_store__pg_col_int(res, (int)i, 1);
        v[i].duration_ms = sr_store__pg_col_int(res, (int)i, 2);
        v[i].status = (unsigned)sr_store__pg_col_int(res, (int)i, 3);
        (void)snprintf(v[i].error, sizeof(v[i].error), "%s", PQgetvalue(res, (int)i, 4));
    }
    PQclear(res);
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    *state = got;
    *rows = v;
    *n = k;
    return SR_OK;
}
