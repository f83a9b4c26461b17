/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_money.c - the SQLite backend's budgets, holds, balances and
 * ledger (sr_store.h, "money"). Every admission, settlement, release and
 * credit is one write of the group commit: one transaction on the one
 * writer connection, so a check and the writes it allows cannot interleave
 * with another's, and a settlement's conditional update of its hold makes
 * it happen once however often it is asked for.
 */
#include "store_sqlite_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One parameter: text when t is set (or is_null), else the integer. */
struct arg {
    const char *t;
    int64_t i;
    bool is_text;
};
#define T(s) ((struct arg){.t = (s), .is_text = true})
#define I(v) ((struct arg){.i = (int64_t)(v)})

static int
bind_all(sqlite3_stmt *stmt, const struct arg *a, int n)
{
    int b = 0;
    for (int i = 0; !b && i < n; i++)
        b = a[i].is_text ? sr_store__sq_bind_text(stmt, i + 1, a[i].t)
                         : sqlite3_bind_int64(stmt, i + 1, a[i].i);
    return b;
}

/* Runs a write statement to its end; *changes (may be NULL) = rows changed. */
static sr_status
exec(struct sq_conn *c, enum sq_stmt id, const struct arg *a, int n, const char *what,
     const char *subject, int *changes, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, id, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = bind_all(stmt, a, n);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, what, subject);
    sr_store__sq_done(stmt);
    if (rc == SR_OK && changes)
        *changes = sqlite3_changes(c->db);
    return rc;
}

static sr_status
read_usage(struct sq_conn *c, const char *subject, int64_t day, struct sr_usage *u, sr_err *err)
{
    memset(u, 0, sizeof(*u));
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_USAGE_GET, &stmt, err);
    if (rc != SR_OK)
        return rc;
    struct arg a[] = {T(subject), I(day)};
    int b = bind_all(stmt, a, 2);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        u->jobs = (uint64_t)sqlite3_column_int64(stmt, 0);
        u->gas_js = (uint64_t)sqlite3_column_int64(stmt, 1);
        u->gas_wasm = (uint64_t)sqlite3_column_int64(stmt, 2);
        u->wall_ms = (uint64_t)sqlite3_column_int64(stmt, 3);
        u->http = (uint64_t)sqlite3_column_int64(stmt, 4);
    } else if (src != SQLITE_DONE) {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the usage of '%s'", subject);
    }
    sr_store__sq_done(stmt);
    return rc;
}

/* Adds (sign > 0) or takes back (sign < 0, never below 0) amounts of a day. */
static sr_status
change_usage(struct sq_conn *c, const char *subject, int64_t day, const struct sr_usage *u,
             int sign, sr_err *err)
{
    struct arg a[] = {T(subject),     I(day),        I(u->jobs), I(u->gas_js),
                      I(u->gas_wasm), I(u->wall_ms), I(u->http)};
    return exec(c, sign > 0 ? SQ_USAGE_ADD : SQ_USAGE_SUB, a, 7, "count the usage of", subject,
                NULL, err);
}

static sr_status
read_balance(struct sq_conn *c, const char *owner, uint64_t *out, sr_err *err)
{
    *out = 0;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_BALANCE_GET, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, owner);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(stmt, 0);
    else if (src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the balance of '%s'", owner);
    sr_store__sq_done(stmt);
    return rc;
}

/* Appends a ledger row; the balance after it is read back. */
static sr_status
ledger_add(struct sq_conn *c, const char *owner, const char *kind, uint64_t amount, int64_t delta,
           const char *job_id, const char *actor, const char *note, int64_t now_ms, sr_err *err)
{
    uint64_t bal = 0;
    sr_status rc = read_balance(c, owner, &bal, err);
    struct arg a[] = {T(owner),  T(kind),  I(amount), I(delta), I(bal),
                      T(job_id), T(actor), T(note),   I(now_ms)};
    return rc == SR_OK ? exec(c, SQ_LEDGER_ADD, a, 9, "append to the ledger of", owner, NULL, err)
                       : rc;
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
w_hold_add(struct sq_conn *c, void *arg, sr_err *err)
{
    struct hold_add_arg *a = arg;
    const struct sr_hold_new *h = a->h;
    bool has_token = h->token_id && *h->token_id;
    char us[SR_STORE_SUBJECT_MAX + 1], ts[SR_STORE_SUBJECT_MAX + 1];
    subjects(h->owner, h->token_id, us, ts);
    struct sr_usage uu, tu;
    uint64_t bal = 0;
    sr_status rc = read_usage(c, us, h->day, &uu, err);
    if (rc == SR_OK && has_token)
        rc = read_usage(c, ts, h->day, &tu, err);
    if (rc == SR_OK && h->cost)
        rc = read_balance(c, h->owner, &bal, err);
    if (rc == SR_OK)
        rc = sr_store__hold_check(h, &uu, has_token ? &tu : NULL, bal, a->why, err);
    if (rc != SR_OK)
        return rc;
    struct arg ha[] = {T(h->job_id),       T(h->owner),       T(has_token ? h->token_id : ""),
                       I(h->day),          I(h->max.jobs),    I(h->max.gas_js),
                       I(h->max.gas_wasm), I(h->max.wall_ms), I(h->max.http),
                       I(h->cost),         I(h->now_ms)};
    rc = exec(c, SQ_HOLD_INSERT, ha, 11, "record the hold of job", h->job_id, NULL, err);
    if (rc == SR_OK)
        rc = change_usage(c, us, h->day, &h->max, 1, err);
    if (rc == SR_OK && has_token)
        rc = change_usage(c, ts, h->day, &h->max, 1, err);
    if (rc != SR_OK || !h->cost)
        return rc;
    int changed = 0;
    struct arg ba[] = {T(h->owner), I(h->cost), I(h->now_ms)};
    rc = exec(c, SQ_BALANCE_TAKE, ba, 3, "reserve from the balance of", h->owner, &changed, err);
    if (rc == SR_OK && changed != 1)
        return sr_err_set(err, SR_EINTERNAL, "the balance of '%s' changed under its write lock",
                          h->owner);
    return rc == SR_OK ? ledger_add(c, h->owner, "reservation", h->cost, -(int64_t)h->cost,
                                    h->job_id, NULL, NULL, h->now_ms, err)
                       : rc;
}

sr_status
sr_store__sq_hold_add(sr_store *st, const struct sr_hold_new *h, struct sr_hold_refusal *why,
                      sr_err *err)
{
    struct hold_add_arg a = {.h = h, .why = why};
    return sr_store__sq_write((struct sq_store *)st, w_hold_add, &a, err);
}

/* --- holds --- */

static sr_status
read_hold(struct sq_conn *c, const char *job_id, struct sr_hold_row *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_HOLD_GET, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sr_store__sq_bind_text(stmt, 1, job_id);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        const unsigned char *t;
        (void)snprintf(out->job_id, sizeof(out->job_id), "%s", job_id);
        t = sqlite3_column_text(stmt, 0);
        (void)snprintf(out->owner, sizeof(out->owner), "%s", t ? (const char *)t : "");
        t = sqlite3_column_text(stmt, 1);
        (void)snprintf(out->token_id, sizeof(out->token_id), "%s", t ? (const char *)t : "");
        out->day = sqlite3_column_int64(stmt, 2);
        out->max.jobs = (uint64_t)sqlite3_column_int64(stmt, 3);
        out->max.gas_js = (uint64_t)sqlite3_column_int64(stmt, 4);
        out->max.gas_wasm = (uint64_t)sqlite3_column_int64(stmt, 5);
        out->max.wall_ms = (uint64_t)sqlite3_column_int64(stmt, 6);
        out->max.http = (uint64_t)sqlite3_column_int64(stmt, 7);
        out->cost = (uint64_t)sqlite3_column_int64(stmt, 8);
        out->created_at_ms = sqlite3_column_int64(stmt, 9);
        out->settled_at_ms = sqlite3_column_int64(stmt, 10);
        out->charged = (uint64_t)sqlite3_column_int64(stmt, 11);
    } else if (src == SQLITE_DONE) {
        rc = sr_err_set(err, SR_ENOTFOUND, "no hold for job '%s'", job_id);
    } else {
        rc = sr_store__sq_fail(c->db, src, err, "cannot read the hold of job '%s'", job_id);
    }
    sr_store__sq_done(stmt);
    return rc;
}

sr_status
sr_store__sq_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = read_hold(c, job_id, out, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

static uint64_t
min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Settles the hold of e->job_id if it is open (*settled). */
static sr_status
settle(struct sq_conn *c, const struct sr_hold_end *e, bool *settled, sr_err *err)
{
    struct sr_hold_row h;
    *settled = false;
    sr_status rc = read_hold(c, e->job_id, &h, err);
    if (rc == SR_ENOTFOUND)
        return SR_OK;
    if (rc != SR_OK || h.settled_at_ms)
        return rc;
    uint64_t charge = min_u64(e->charge, h.cost);
    int changed = 0;
    struct arg ca[] = {T(e->job_id), I(e->now_ms > 0 ? e->now_ms : 1), I(charge)};
    rc = exec(c, SQ_HOLD_CLOSE, ca, 3, "settle the hold of job", e->job_id, &changed, err);
    if (rc != SR_OK || changed == 0)
        return rc;
    struct sr_usage back = {
        .jobs = h.max.jobs - min_u64(e->used.jobs, h.max.jobs),
        .gas_js = h.max.gas_js - min_u64(e->used.gas_js, h.max.gas_js),
        .gas_wasm = h.max.gas_wasm - min_u64(e->used.gas_wasm, h.max.gas_wasm),
        .wall_ms = h.max.wall_ms - min_u64(e->used.wall_ms, h.max.wall_ms),
        .http = h.max.http - min_u64(e->used.http, h.max.http),
    };
    char us[SR_STORE_SUBJECT_MAX + 1], ts[SR_STORE_SUBJECT_MAX + 1];
    subjects(h.owner, h.token_id, us, ts);
    rc = change_usage(c, us, h.day, &back, -1, err);
    if (rc == SR_OK && h.token_id[0])
        rc = change_usage(c, ts, h.day, &back, -1, err);
    if (rc == SR_OK && h.cost)
        rc = ledger_add(c, h.owner, "charge", charge, 0, e->job_id, NULL, NULL, e->now_ms, err);
    uint64_t refund = h.cost - charge;
    if (rc == SR_OK && refund) {
        struct arg ba[] = {T(h.owner), I(refund), I(e->now_ms)};
        rc = exec(c, SQ_BALANCE_ADD, ba, 3, "refund to the balance of", h.owner, NULL, err);
        if (rc == SR_OK)
            rc = ledger_add(c, h.owner, "refund", refund, (int64_t)refund, e->job_id, NULL, NULL,
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
w_settle(struct sq_conn *c, void *arg, sr_err *err)
{
    struct settle_arg *a = arg;
    return settle(c, a->e, &a->settled, err);
}

sr_status
sr_store__sq_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled, sr_err *err)
{
    struct settle_arg a = {.e = e};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_settle, &a, err);
    *settled = rc == SR_OK && a.settled;
    return rc;
}

struct release_arg {
    int64_t before_ms, now_ms;
    size_t max, n;
};

static sr_status
read_id(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    (void)err;
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    (void)snprintf(row, 33, "%s", t ? (const char *)t : "");
    return SR_OK;
}

static void
fini_id(void *row)
{
    (void)row;
}

static sr_status
w_release(struct sq_conn *c, void *arg, sr_err *err)
{
    struct release_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    char(*ids)[33] = NULL;
    size_t n = 0;
    sr_status rc = sr_store__sq_stmt(c, SQ_HOLDS_DANGLING, &stmt, err);
    if (rc == SR_OK) {
        struct arg qa[] = {I(a->before_ms), I(a->max)};
        int b = bind_all(stmt, qa, 2);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, 33, read_id, NULL, fini_id, "dangling holds",
                                      (void **)&ids, &n, err);
    }
    sr_store__sq_done(stmt);
    a->n = 0;
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        const struct sr_hold_end e = {.job_id = ids[i], .now_ms = a->now_ms};
        bool done = false;
        rc = settle(c, &e, &done, err);
        a->n += done;
    }
    free(ids);
    return rc;
}

sr_status
sr_store__sq_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max, size_t *n,
                           sr_err *err)
{
    struct release_arg a = {.before_ms = before_ms, .now_ms = now_ms, .max = max};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_release, &a, err);
    *n = rc == SR_OK ? a.n : 0;
    return rc;
}

struct purge_arg {
    int64_t before_ms;
    size_t n;
};

static sr_status
w_purge(struct sq_conn *c, void *arg, sr_err *err)
{
    struct purge_arg *a = arg;
    int ch1 = 0, ch2 = 0;
    struct arg h[] = {I(a->before_ms)};
    struct arg u[] = {I(a->before_ms / SR_DAY_MS)};
    sr_status rc = exec(c, SQ_HOLDS_PURGE, h, 1, "purge", "holds", &ch1, err);
    if (rc == SR_OK)
        rc = exec(c, SQ_USAGE_PURGE, u, 1, "purge", "usage_days", &ch2, err);
    if (rc == SR_OK)
        rc = exec(c, SQ_STORAGE_MARKS_PURGE, u, 1, "purge", "storage charge marks", NULL, err);
    a->n = (size_t)ch1 + (size_t)ch2;
    return rc;
}

sr_status
sr_store__sq_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err)
{
    struct purge_arg a = {.before_ms = before_ms};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_purge, &a, err);
    *n = rc == SR_OK ? a.n : 0;
    return rc;
}

/* --- usage, balance, credit, ledger --- */

sr_status
sr_store__sq_usage_get(sr_store *st, const char *subject, int64_t day, struct sr_usage *out,
                       sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = read_usage(c, subject, day, out, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

sr_status
sr_store__sq_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = read_balance(c, owner, balance, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct credit_arg {
    const char *owner, *actor, *note;
    uint64_t amount;
    int64_t now_ms;
    uint64_t after;
};

static sr_status
w_credit(struct sq_conn *c, void *arg, sr_err *err)
{
    struct credit_arg *a = arg;
    uint64_t bal = 0;
    sr_status rc = read_balance(c, a->owner, &bal, err);
    if (rc == SR_OK && bal + a->amount > SR_MAX_BALANCE)
        return sr_err_set(err, SR_ELIMIT,
                          "the balance of '%s' would pass %llu micro-units (it has %llu)", a->owner,
                          (unsigned long long)SR_MAX_BALANCE, (unsigned long long)bal);
    struct arg ba[] = {T(a->owner), I(a->amount), I(a->now_ms)};
    if (rc == SR_OK)
        rc = exec(c, SQ_BALANCE_ADD, ba, 3, "credit the balance of", a->owner, NULL, err);
    if (rc == SR_OK)
        rc = ledger_add(c, a->owner, "credit", a->amount, (int64_t)a->amount, NULL, a->actor,
                        a->note, a->now_ms, err);
    a->after = bal + a->amount;
    return rc;
}

sr_status
sr_store__sq_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                    const char *note, int64_t now_ms, uint64_t *balance, sr_err *err)
{
    struct credit_arg a = {
        .owner = owner, .actor = actor, .note = note, .amount = amount, .now_ms = now_ms};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_credit, &a, err);
    *balance = a.after;
    return rc;
}

static sr_status
read_ledger(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    struct sr_ledger_row *r = row;
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(stmt, 0);
    const unsigned char *t = sqlite3_column_text(stmt, 1);
    (void)snprintf(r->kind, sizeof(r->kind), "%s", t ? (const char *)t : "");
    r->amount = (uint64_t)sqlite3_column_int64(stmt, 2);
    r->delta = sqlite3_column_int64(stmt, 3);
    r->balance = (uint64_t)sqlite3_column_int64(stmt, 4);
    t = sqlite3_column_text(stmt, 5);
    (void)snprintf(r->job_id, sizeof(r->job_id), "%s", t ? (const char *)t : "");
    r->time_ms = sqlite3_column_int64(stmt, 8);
    sr_status rc = sr_store__sq_col_dup(stmt, 6, &r->actor, err);
    if (rc == SR_OK)
        rc = sr_store__sq_col_dup(stmt, 7, &r->note, err);
    if (rc != SR_OK)
        sr_ledger_row_fini(r);
    return rc;
}

static void
fini_ledger(void *row)
{
    sr_ledger_row_fini(row);
}

sr_status
sr_store__sq_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                         struct sr_ledger_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_LEDGER_LIST, &stmt, err);
    if (rc == SR_OK) {
        struct arg a[] = {T(owner), I(before_id > 0 ? before_id : INT64_MAX), I(limit)};
        int b = bind_all(stmt, a, 3);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(**rows), read_ledger, NULL, fini_ledger,
                                      "the ledger", (void **)rows, n, err);
    }
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

/* --- storage byte-days --- */

struct due {
    char owner[SR_MAX_USER_NAME + 1];
    uint64_t bytes;
};

static sr_status
read_due(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    (void)err;
    struct due *d = row;
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    (void)snprintf(d->owner, sizeof(d->owner), "%s", t ? (const char *)t : "");
    d->bytes = (uint64_t)sqlite3_column_int64(stmt, 1);
    return SR_OK;
}

struct storage_charge_arg {
    int64_t day, now_ms;
    uint64_t price;
    size_t max, n;
};

/* One owner: the day's mark (at most once), then what the balance allows. */
static sr_status
charge_owner(struct sq_conn *c, const struct storage_charge_arg *a, const struct due *d,
             sr_err *err)
{
    int marked = 0;
    struct arg ma[] = {I(a->day), T(d->owner)};
    sr_status rc =
        exec(c, SQ_STORAGE_MARK, ma, 2, "mark the storage charge of", d->owner, &marked, err);
    if (rc != SR_OK || !marked)
        return rc;
    uint64_t bal = 0;
    rc = read_balance(c, d->owner, &bal, err);
    char note[200];
    uint64_t take = sr_store__storage_cost(d->bytes, a->price, bal, a->day, note, sizeof(note));
    if (rc != SR_OK || !take)
        return rc;
    int changed = 0;
    struct arg ba[] = {T(d->owner), I(take), I(a->now_ms)};
    rc = exec(c, SQ_BALANCE_TAKE, ba, 3, "charge storage to the balance of", d->owner, &changed,
              err);
    if (rc == SR_OK && changed != 1)
        return sr_err_set(err, SR_EINTERNAL, "the balance of '%s' changed under its write lock",
                          d->owner);
    return rc == SR_OK ? ledger_add(c, d->owner, "charge", take, -(int64_t)take, NULL, "storage",
                                    note, a->now_ms, err)
                       : rc;
}

static void
fini_due(void *row)
{
    (void)row;
}

static sr_status
w_storage_charge(struct sq_conn *c, void *arg, sr_err *err)
{
    struct storage_charge_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    struct due *v = NULL;
    size_t n = 0;
    sr_status rc = sr_store__sq_stmt(c, SQ_STORAGE_DUE, &stmt, err);
    if (rc == SR_OK) {
        struct arg qa[] = {I(a->day), I(a->max)};
        int b = bind_all(stmt, qa, 2);
        rc = b ? sr_store__sq_bind_failed(stmt, b, err)
               : sr_store__sq_collect(stmt, sizeof(*v), read_due, NULL, fini_due,
                                      "owners due a storage charge", (void **)&v, &n, err);
    }
    sr_store__sq_done(stmt);
    for (size_t i = 0; rc == SR_OK && i < n; i++)
        rc = charge_owner(c, a, &v[i], err);
    a->n = rc == SR_OK ? n : 0;
    free(v);
    return rc;
}

sr_status
sr_store__sq_storage_charge(sr_store *st, int64_t day, uint64_t price, int64_t now_ms, size_t max,
                            size_t *n, sr_err *err)
{
    struct storage_charge_arg a = {.day = day, .now_ms = now_ms, .price = price, .max = max};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_storage_charge, &a, err);
    *n = rc == SR_OK ? a.n : 0;
    return rc;
}
