/* SPDX-License-Identifier: MIT
 *
 * store_pg_money.c - the PostgreSQL backend's budgets, holds, balances and
 * ledger (sr_store.h, "money"), as store_sqlite_money.c. Several daemons
 * admit and settle jobs at once: every write of one owner's money (an
 * admission, a settlement, a release, a credit) runs in one transaction
 * under the owner's advisory lock ("money:<owner>"), so a budget check or
 * a balance check and the writes it allows cannot interleave with another
 * daemon's. The balance is still only taken by a conditional update
 * (balance >= cost) and the column has CHECK (balance >= 0); a settlement
 * closes its hold with a conditional update (settled_at = 0), so it
 * happens once. Only the owner's lock is ever taken: no cycle.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sr_status
lock_owner(struct pg_store *s, struct pg_conn *c, const char *owner, sr_err *err)
{
    char name[SR_MAX_USER_NAME + 8];
    (void)snprintf(name, sizeof(name), "money:%s", owner);
    return sr_store__pg_lock(s, c, name, err);
}

static void
usage_from(const PGresult *res, int r, int col, struct sr_usage *u)
{
    u->jobs = (uint64_t)sr_store__pg_col_int(res, r, col);
    u->gas_js = (uint64_t)sr_store__pg_col_int(res, r, col + 1);
    u->gas_wasm = (uint64_t)sr_store__pg_col_int(res, r, col + 2);
    u->wall_ms = (uint64_t)sr_store__pg_col_int(res, r, col + 3);
    u->http = (uint64_t)sr_store__pg_col_int(res, r, col + 4);
}

static sr_status
read_usage(struct pg_store *s, struct pg_conn *c, const char *subject, int64_t day,
           struct sr_usage *u, sr_err *err)
{
    memset(u, 0, sizeof(*u));
    struct pg_args a = {0};
    sr_store__pg_text(&a, subject);
    sr_store__pg_int(&a, day);
    PGresult *res = NULL;
    sr_status rc = c ? sr_store__pg_run(s, c, PG_USAGE_GET, &a, &res, "cannot read a usage", err)
                     : sr_store__pg_run1(s, PG_USAGE_GET, &a, &res, "cannot read a usage", err);
    if (rc == SR_OK && PQntuples(res) > 0)
        usage_from(res, 0, 0, u);
    PQclear(res);
    return rc;
}

static sr_status
change_usage(struct pg_store *s, struct pg_conn *c, const char *subject, int64_t day,
             const struct sr_usage *u, int sign, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, subject);
    sr_store__pg_int(&a, day);
    sr_store__pg_int(&a, (int64_t)u->jobs);
    sr_store__pg_int(&a, (int64_t)u->gas_js);
    sr_store__pg_int(&a, (int64_t)u->gas_wasm);
    sr_store__pg_int(&a, (int64_t)u->wall_ms);
    sr_store__pg_int(&a, (int64_t)u->http);
    return sr_store__pg_run(s, c, sign > 0 ? PG_USAGE_ADD : PG_USAGE_SUB, &a, NULL,
                            "cannot count a usage", err);
}

static sr_status
read_balance(struct pg_store *s, struct pg_conn *c, const char *owner, uint64_t *out, sr_err *err)
{
    *out = 0;
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    PGresult *res = NULL;
    sr_status rc =
        c ? sr_store__pg_run(s, c, PG_BALANCE_GET, &a, &res, "cannot read a balance", err)
          : sr_store__pg_run1(s, PG_BALANCE_GET, &a, &res, "cannot read a balance", err);
    if (rc == SR_OK && PQntuples(res) > 0)
        *out = (uint64_t)sr_store__pg_col_int(res, 0, 0);
    PQclear(res);
    return rc;
}

static sr_status
ledger_add(struct pg_store *s, struct pg_conn *c, const char *owner, const char *kind,
           uint64_t amount, int64_t delta, const char *job_id, const char *actor, const char *note,
           int64_t now_ms, sr_err *err)
{
    uint64_t bal = 0;
    sr_status rc = read_balance(s, c, owner, &bal, err);
    if (rc != SR_OK)
        return rc;
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, kind);
    sr_store__pg_int(&a, (int64_t)amount);
    sr_store__pg_int(&a, delta);
    sr_store__pg_int(&a, (int64_t)bal);
    sr_store__pg_text(&a, job_id);
    sr_store__pg_text(&a, actor);
    sr_store__pg_text(&a, note);
    sr_store__pg_int(&a, now_ms);
    return sr_store__pg_run(s, c, PG_LEDGER_ADD, &a, NULL, "cannot append to the ledger", err);
}

static void
subjects(const char *owner, const char *token_id, char us[SR_STORE_SUBJECT_MAX + 1],
         char ts[SR_STORE_SUBJECT_MAX + 1])
{
    (void)snprintf(us, SR_STORE_SUBJECT_MAX + 1, "u:%s", owner);
    (void)snprintf(ts, SR_STORE_SUBJECT_MAX + 1, "t:%s", token_id ? token_id : "");
}

/* --- admission --- */

struct hold_add_arg {
    const struct sr_hold_new *h;
    struct sr_hold_refusal *why;
};

static sr_status
tx_hold_add(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct hold_add_arg *a = arg;
    const struct sr_hold_new *h = a->h;
    bool has_token = h->token_id && *h->token_id;
    char us[SR_STORE_SUBJECT_MAX + 1], ts[SR_STORE_SUBJECT_MAX + 1];
    subjects(h->owner, h->token_id, us, ts);
    struct sr_usage uu, tu;
    uint64_t bal = 0;
    sr_status rc = lock_owner(s, c, h->owner, err);
    if (rc == SR_OK)
        rc = read_usage(s, c, us, h->day, &uu, err);
    if (rc == SR_OK && has_token)
        rc = read_usage(s, c, ts, h->day, &tu, err);
    if (rc == SR_OK && h->cost)
        rc = read_balance(s, c, h->owner, &bal, err);
    if (rc == SR_OK)
        rc = sr_store__hold_check(h, &uu, has_token ? &tu : NULL, bal, a->why, err);
    if (rc != SR_OK)
        return rc;
    struct pg_args ha = {0};
    sr_store__pg_text(&ha, h->job_id);
    sr_store__pg_text(&ha, h->owner);
    sr_store__pg_text(&ha, has_token ? h->token_id : "");
    sr_store__pg_int(&ha, h->day);
    sr_store__pg_int(&ha, (int64_t)h->max.jobs);
    sr_store__pg_int(&ha, (int64_t)h->max.gas_js);
    sr_store__pg_int(&ha, (int64_t)h->max.gas_wasm);
    sr_store__pg_int(&ha, (int64_t)h->max.wall_ms);
    sr_store__pg_int(&ha, (int64_t)h->max.http);
    sr_store__pg_int(&ha, (int64_t)h->cost);
    sr_store__pg_int(&ha, h->now_ms);
    rc = sr_store__pg_run(s, c, PG_HOLD_INSERT, &ha, NULL, "cannot record a hold", err);
    if (rc == SR_OK)
        rc = change_usage(s, c, us, h->day, &h->max, 1, err);
    if (rc == SR_OK && has_token)
        rc = change_usage(s, c, ts, h->day, &h->max, 1, err);
    if (rc != SR_OK || !h->cost)
        return rc;
    struct pg_args ba = {0};
    sr_store__pg_text(&ba, h->owner);
    sr_store__pg_int(&ba, (int64_t)h->cost);
    sr_store__pg_int(&ba, h->now_ms);
    PGresult *res = NULL;
    rc = sr_store__pg_run(s, c, PG_BALANCE_TAKE, &ba, &res, "cannot reserve from a balance", err);
    bool taken = rc == SR_OK && sr_store__pg_changes(res) == 1;
    PQclear(res);
    if (rc == SR_OK && !taken)
        return sr_err_set(err, SR_EINTERNAL, "the balance of '%s' changed under its lock",
                          h->owner);
    return rc == SR_OK ? ledger_add(s, c, h->owner, "reservation", h->cost, -(int64_t)h->cost,
                                    h->job_id, NULL, NULL, h->now_ms, err)
                       : rc;
}

sr_status
sr_store__pg_hold_add(sr_store *st, const struct sr_hold_new *h, struct sr_hold_refusal *why,
                      sr_err *err)
{
    struct hold_add_arg a = {.h = h, .why = why};
    return sr_store__pg_tx((struct pg_store *)st, tx_hold_add, &a, err);
}

/* --- holds --- */

sr_status
sr_store__pg_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    struct pg_args a = {0};
    sr_store__pg_text(&a, job_id);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, PG_HOLD_GET, &a, &res, "cannot read a hold", err);
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "no hold for job '%s'", job_id);
    if (rc == SR_OK) {
        (void)snprintf(out->job_id, sizeof(out->job_id), "%s", job_id);
        (void)snprintf(out->owner, sizeof(out->owner), "%s", PQgetvalue(res, 0, 0));
        (void)snprintf(out->token_id, sizeof(out->token_id), "%s", PQgetvalue(res, 0, 1));
        out->day = sr_store__pg_col_int(res, 0, 2);
        usage_from(res, 0, 3, &out->max);
        out->cost = (uint64_t)sr_store__pg_col_int(res, 0, 8);
        out->created_at_ms = sr_store__pg_col_int(res, 0, 9);
        out->settled_at_ms = sr_store__pg_col_int(res, 0, 10);
        out->charged = (uint64_t)sr_store__pg_col_int(res, 0, 11);
    }
    PQclear(res);
    return rc;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Settles the open hold of e->job_id (*settled), inside a transaction. */
static sr_status
settle(struct pg_store *s, struct pg_conn *c, const struct sr_hold_end *e, bool *settled,
       sr_err *err)
{
    *settled = false;
    struct pg_args q = {0};
    sr_store__pg_text(&q, e->job_id);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_HOLD_OWNER, &q, &res, "cannot read a hold", err);
    char owner[SR_MAX_USER_NAME + 1] = "";
    if (rc == SR_OK && PQntuples(res) > 0)
        (void)snprintf(owner, sizeof(owner), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (rc != SR_OK || !owner[0])
        return rc;
    rc = lock_owner(s, c, owner, err);
    if (rc != SR_OK)
        return rc;
    /* closed here, once: a concurrent settlement finds nothing open */
    struct pg_args ca = {0};
    sr_store__pg_text(&ca, e->job_id);
    sr_store__pg_int(&ca, e->now_ms > 0 ? e->now_ms : 1);
    sr_store__pg_int(&ca, (int64_t)e->charge);
    res = NULL;
    rc = sr_store__pg_run(s, c, PG_HOLD_CLOSE, &ca, &res, "cannot settle a hold", err);
    if (rc != SR_OK || PQntuples(res) == 0) {
        PQclear(res);
        return rc;
    }
    char token[17];
    (void)snprintf(token, sizeof(token), "%s", PQgetvalue(res, 0, 0));
    int64_t day = sr_store__pg_col_int(res, 0, 1);
    struct sr_usage max;
    usage_from(res, 0, 2, &max);
    uint64_t cost = (uint64_t)sr_store__pg_col_int(res, 0, 7);
    uint64_t charge = (uint64_t)sr_store__pg_col_int(res, 0, 8);
    PQclear(res);
    struct sr_usage back = {
        .jobs = max.jobs - min_u64(e->used.jobs, max.jobs),
        .gas_js = max.gas_js - min_u64(e->used.gas_js, max.gas_js),
        .gas_wasm = max.gas_wasm - min_u64(e->used.gas_wasm, max.gas_wasm),
        .wall_ms = max.wall_ms - min_u64(e->used.wall_ms, max.wall_ms),
        .http = max.http - min_u64(e->used.http, max.http),
    };
    char us[SR_STORE_SUBJECT_MAX + 1], ts[SR_STORE_SUBJECT_MAX + 1];
    subjects(owner, token, us, ts);
    rc = change_usage(s, c, us, day, &back, -1, err);
    if (rc == SR_OK && token[0])
        rc = change_usage(s, c, ts, day, &back, -1, err);
    if (rc == SR_OK && cost)
        rc = ledger_add(s, c, owner, "charge", charge, 0, e->job_id, NULL, NULL, e->now_ms, err);
    uint64_t refund = cost - charge;
    if (rc == SR_OK && refund) {
        struct pg_args ba = {0};
        sr_store__pg_text(&ba, owner);
        sr_store__pg_int(&ba, (int64_t)refund);
        sr_store__pg_int(&ba, e->now_ms);
        rc = sr_store__pg_run(s, c, PG_BALANCE_ADD, &ba, NULL, "cannot refund to a balance", err);
        if (rc == SR_OK)
            rc = ledger_add(s, c, owner, "refund", refund, (int64_t)refund, e->job_id, NULL, NULL,
                            e->now_ms, err);
    }
    *settled = rc == SR_OK;
    return rc;
}

struct settle_arg {
    const struct sr_hold_end *e;
    bool settled;
};

static sr_status
tx_settle(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct settle_arg *a = arg;
    return settle(s, c, a->e, &a->settled, err);
}

sr_status
sr_store__pg_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled, sr_err *err)
{
    struct settle_arg a = {.e = e};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_settle, &a, err);
    *settled = rc == SR_OK && a.settled;
    return rc;
}

sr_status
sr_store__pg_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max, size_t *n,
                           sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_args a = {0};
    sr_store__pg_int(&a, before_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1(s, PG_HOLDS_DANGLING, &a, &res, "cannot list holds", err);
    *n = 0;
    int k = rc == SR_OK ? PQntuples(res) : 0;
    for (int i = 0; rc == SR_OK && i < k; i++) {
        char id[33];
        (void)snprintf(id, sizeof(id), "%s", PQgetvalue(res, i, 0));
        const struct sr_hold_end e = {.job_id = id, .now_ms = now_ms};
        struct settle_arg sa = {.e = &e};
        rc = sr_store__pg_tx(s, tx_settle, &sa, err);
        *n += sa.settled;
    }
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_args h = {0}, u = {0};
    sr_store__pg_int(&h, before_ms);
    sr_store__pg_int(&u, before_ms / SR_DAY_MS);
    PGresult *r1 = NULL, *r2 = NULL;
    sr_status rc = sr_store__pg_run1(s, PG_HOLDS_PURGE, &h, &r1, "cannot purge holds", err);
    if (rc == SR_OK)
        rc = sr_store__pg_run1(s, PG_USAGE_PURGE, &u, &r2, "cannot purge usage days", err);
    if (rc == SR_OK)
        rc = sr_store__pg_run1(s, PG_STORAGE_MARKS_PURGE, &u, NULL,
                               "cannot purge storage charge marks", err);
    *n = rc == SR_OK ? (size_t)(sr_store__pg_changes(r1) + sr_store__pg_changes(r2)) : 0;
    PQclear(r1);
    PQclear(r2);
    return rc;
}

/* --- usage, balance, credit, ledger --- */

sr_status
sr_store__pg_usage_get(sr_store *st, const char *subject, int64_t day, struct sr_usage *out,
                       sr_err *err)
{
    return read_usage((struct pg_store *)st, NULL, subject, day, out, err);
}

sr_status
sr_store__pg_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err)
{
    return read_balance((struct pg_store *)st, NULL, owner, balance, err);
}

struct credit_arg {
    const char *owner, *actor, *note;
    uint64_t amount;
    int64_t now_ms;
    uint64_t after;
};

static sr_status
tx_credit(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct credit_arg *a = arg;
    uint64_t bal = 0;
    sr_status rc = lock_owner(s, c, a->owner, err);
    if (rc == SR_OK)
        rc = read_balance(s, c, a->owner, &bal, err);
    if (rc == SR_OK && bal + a->amount > SR_MAX_BALANCE)
        return sr_err_set(err, SR_ELIMIT,
                          "the balance of '%s' would pass %llu micro-units (it has %llu)", a->owner,
                          (unsigned long long)SR_MAX_BALANCE, (unsigned long long)bal);
    struct pg_args ba = {0};
    sr_store__pg_text(&ba, a->owner);
    sr_store__pg_int(&ba, (int64_t)a->amount);
    sr_store__pg_int(&ba, a->now_ms);
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, PG_BALANCE_ADD, &ba, NULL, "cannot credit a balance", err);
    if (rc == SR_OK)
        rc = ledger_add(s, c, a->owner, "credit", a->amount, (int64_t)a->amount, NULL, a->actor,
                        a->note, a->now_ms, err);
    a->after = bal + a->amount;
    return rc;
}

sr_status
sr_store__pg_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                    const char *note, int64_t now_ms, uint64_t *balance, sr_err *err)
{
    struct credit_arg a = {
        .owner = owner, .actor = actor, .note = note, .amount = amount, .now_ms = now_ms};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_credit, &a, err);
    *balance = a.after;
    return rc;
}

sr_status
sr_store__pg_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                         struct sr_ledger_row **rows, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_int(&a, before_id > 0 ? before_id : INT64_MAX);
    sr_store__pg_int(&a, (int64_t)limit);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_LEDGER_LIST, &a, &res,
                                     "cannot read the ledger", err);
    int k = rc == SR_OK ? PQntuples(res) : 0, i = 0;
    struct sr_ledger_row *v = rc == SR_OK ? calloc((size_t)k + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory reading %d ledger rows", k);
    for (; rc == SR_OK && i < k; i++) {
        struct sr_ledger_row *r = &v[i];
        r->id = sr_store__pg_col_int(res, i, 0);
        (void)snprintf(r->kind, sizeof(r->kind), "%s", PQgetvalue(res, i, 1));
        r->amount = (uint64_t)sr_store__pg_col_int(res, i, 2);
        r->delta = sr_store__pg_col_int(res, i, 3);
        r->balance = (uint64_t)sr_store__pg_col_int(res, i, 4);
        (void)snprintf(r->job_id, sizeof(r->job_id), "%s", PQgetvalue(res, i, 5));
        r->time_ms = sr_store__pg_col_int(res, i, 8);
        rc = sr_store__pg_col_dup(res, i, 6, &r->actor, err);
        if (rc == SR_OK)
            rc = sr_store__pg_col_dup(res, i, 7, &r->note, err);
    }
    PQclear(res);
    if (rc != SR_OK) {
        for (int j = 0; v && j < k; j++)
            sr_ledger_row_fini(&v[j]);
        free(v);
        return rc;
    }
    *rows = v;
    *n = (size_t)k;
    return SR_OK;
}

/* --- storage byte-days --- */

struct storage_owner_arg {
    const char *owner;
    uint64_t bytes, price;
    int64_t day, now_ms;
};

static sr_status
tx_storage_owner(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct storage_owner_arg *a = arg;
    sr_status rc = lock_owner(s, c, a->owner, err);
    struct pg_args ma = {0};
    sr_store__pg_int(&ma, a->day);
    sr_store__pg_text(&ma, a->owner);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc =
            sr_store__pg_run(s, c, PG_STORAGE_MARK, &ma, &res, "cannot mark a storage charge", err);
    bool marked = rc == SR_OK && sr_store__pg_changes(res) == 1;
    PQclear(res);
    if (!marked)
        return rc; /* charged for this day already (by this daemon or another) */
    uint64_t bal = 0;
    rc = read_balance(s, c, a->owner, &bal, err);
    char note[200];
    uint64_t take = sr_store__storage_cost(a->bytes, a->price, bal, a->day, note, sizeof(note));
    if (rc != SR_OK || !take)
        return rc;
    struct pg_args ba = {0};
    sr_store__pg_text(&ba, a->owner);
    sr_store__pg_int(&ba, (int64_t)take);
    sr_store__pg_int(&ba, a->now_ms);
    res = NULL;
    rc = sr_store__pg_run(s, c, PG_BALANCE_TAKE, &ba, &res, "cannot charge storage", err);
    bool taken = rc == SR_OK && sr_store__pg_changes(res) == 1;
    PQclear(res);
    if (rc == SR_OK && !taken)
        return sr_err_set(err, SR_EINTERNAL, "the balance of '%s' changed under its lock",
                          a->owner);
    return rc == SR_OK ? ledger_add(s, c, a->owner, "charge", take, -(int64_t)take, NULL, "storage",
                                    note, a->now_ms, err)
                       : rc;
}

sr_status
sr_store__pg_storage_charge(sr_store *st, int64_t day, uint64_t price, int64_t now_ms, size_t max,
                            size_t *n, sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct pg_args a = {0};
    sr_store__pg_int(&a, day);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1(s, PG_STORAGE_DUE, &a, &res, "cannot list owners due a charge", err);
    int k = rc == SR_OK ? PQntuples(res) : 0;
    for (int i = 0; rc == SR_OK && i < k; i++) {
        char owner[SR_MAX_USER_NAME + 1];
        (void)snprintf(owner, sizeof(owner), "%s", PQgetvalue(res, i, 0));
        const struct storage_owner_arg oa = {
            .owner = owner,
            .bytes = (uint64_t)sr_store__pg_col_int(res, i, 1),
            .price = price,
            .day = day,
            .now_ms = now_ms,
        };
        rc = sr_store__pg_tx(s, tx_storage_owner, (void *)(uintptr_t)&oa, err);
    }
    PQclear(res);
    *n = rc == SR_OK ? (size_t)k : 0;
    return rc;
}
