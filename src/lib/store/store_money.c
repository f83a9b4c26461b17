/* SPDX-License-Identifier: MIT
 *
 * store_money.c - the backend-independent half of budgets, holds, balances
 * and the ledger (sr_store.h, "money"): argument checks, the budget and
 * balance decision both backends make inside their transaction
 * (sr_store__hold_check), and the dispatch.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_util.h"

const char *
sr_budget_name(enum sr_budget_kind k)
{
    switch (k) {
    case SR_BUDGET_JOBS:
        return "jobs_per_day";
    case SR_BUDGET_GAS_JS:
        return "gas_js_per_day";
    case SR_BUDGET_GAS_WASM:
        return "gas_wasm_per_day";
    case SR_BUDGET_WALL:
        return "wall_s_per_day";
    case SR_BUDGET_HTTP:
        return "http_requests_per_day";
    case SR_BUDGET_NONE:
        break;
    }
    return NULL;
}

/* Field k of u. */
static uint64_t
field(const struct sr_usage *u, enum sr_budget_kind k)
{
    switch (k) {
    case SR_BUDGET_JOBS:
        return u->jobs;
    case SR_BUDGET_GAS_JS:
        return u->gas_js;
    case SR_BUDGET_GAS_WASM:
        return u->gas_wasm;
    case SR_BUDGET_WALL:
        return u->wall_ms;
    case SR_BUDGET_HTTP:
        return u->http;
    case SR_BUDGET_NONE:
        break;
    }
    return 0;
}

/* One level (the user's or the token's): the first budget used + max
 * would pass. */
static sr_status
check_level(const struct sr_hold_new *h, const struct sr_usage *budget, const struct sr_usage *used,
            bool is_token, struct sr_hold_refusal *why, sr_err *err)
{
    for (int k = SR_BUDGET_JOBS; k <= SR_BUDGET_HTTP; k++) {
        uint64_t limit = field(budget, (enum sr_budget_kind)k);
        uint64_t u = field(used, (enum sr_budget_kind)k);
        uint64_t need = field(&h->max, (enum sr_budget_kind)k);
        uint64_t sum;
        if (!limit || (!__builtin_add_overflow(u, need, &sum) && sum <= limit))
            continue;
        why->kind = (enum sr_budget_kind)k;
        why->is_token = is_token;
        why->used = u;
        why->limit = limit;
        char reset[32];
        sr_time_rfc3339((h->day + 1) * SR_DAY_MS, reset);
        bool wall = k == SR_BUDGET_WALL; /* counted in ms, named in seconds */
        return sr_err_set(err, SR_EBUDGET,
                          "budget '%s' of %s '%s' exhausted: %" PRIu64 "%s used or held today, "
                          "this job may use %" PRIu64 "%s, at most %" PRIu64 "%s a day; it "
                          "resets at %s",
                          sr_budget_name(why->kind), is_token ? "token" : "user",
                          is_token ? h->token_id : h->owner, wall ? u / 1000 : u, wall ? " s" : "",
                          wall ? (need + 999) / 1000 : need, wall ? " s" : "",
                          wall ? limit / 1000 : limit, wall ? " s" : "", reset);
    }
    return SR_OK;
}

sr_status
sr_store__hold_check(const struct sr_hold_new *h, const struct sr_usage *user_used,
                     const struct sr_usage *token_used, uint64_t balance,
                     struct sr_hold_refusal *why, sr_err *err)
{
    struct sr_hold_refusal local;
    if (!why)
        why = &local;
    memset(why, 0, sizeof(*why));
    sr_status rc = check_level(h, &h->user_budget, user_used, false, why, err);
    if (rc == SR_OK && token_used)
        rc = check_level(h, &h->token_budget, token_used, true, why, err);
    if (rc != SR_OK || h->cost <= balance)
        return rc;
    why->balance = balance;
    return sr_err_set(err, SR_EBALANCE,
                      "insufficient balance: user '%s' has %" PRIu64 " micro-units, this job may "
                      "cost up to %" PRIu64 " (its limits at the price table's rates); ask the "
                      "operator for a credit or lower the job's limits",
                      h->owner, balance, h->cost);
}

void
sr_ledger_row_fini(struct sr_ledger_row *r)
{
    if (!r)
        return;
    free(r->actor);
    free(r->note);
    memset(r, 0, sizeof(*r));
}

static sr_status
check_owner(const char *owner, sr_err *err)
{
    if (!owner || !*owner || strnlen(owner, SR_MAX_USER_NAME + 1) > SR_MAX_USER_NAME)
        return sr_err_set(err, SR_EINVAL, "owner must be 1..%d bytes", SR_MAX_USER_NAME);
    return SR_OK;
}

static bool
is_job_id(const char *id)
{
    return id && strlen(id) == 32 && sr_is_lower_hex(id, 32);
}

static bool
is_token_id(const char *id)
{
    return !id || !*id || (strlen(id) == 16 && sr_is_lower_hex(id, 16));
}

/* Every amount fits a signed 64-bit column with room to add. */
static bool
usage_fits(const struct sr_usage *u)
{
    const uint64_t cap = (uint64_t)INT64_MAX / 4;
    return u->jobs <= cap && u->gas_js <= cap && u->gas_wasm <= cap && u->wall_ms <= cap &&
           u->http <= cap;
}

sr_status
sr_store_hold_add(sr_store *st, const struct sr_hold_new *h, struct sr_hold_refusal *why,
                  sr_err *err)
{
    sr_status rc = check_owner(h->owner, err);
    if (rc != SR_OK)
        return rc;
    if (!is_job_id(h->job_id))
        return sr_err_set(err, SR_EINVAL, "hold: job id must be 32 lower-case hex characters");
    if (!is_token_id(h->token_id))
        return sr_err_set(err, SR_EINVAL, "hold: token id must be 16 lower-case hex characters");
    if (!usage_fits(&h->max) || h->cost > SR_MAX_BALANCE || h->day < 0)
        return sr_err_set(err, SR_EINVAL, "hold of job '%s': amounts out of range", h->job_id);
    struct sr_hold_refusal local;
    if (!why)
        why = &local;
    memset(why, 0, sizeof(*why));
    return st->ops->hold_add(st, h, why, err);
}

sr_status
sr_store_hold_get(sr_store *st, const char *job_id, struct sr_hold_row *out, sr_err *err)
{
    if (!is_job_id(job_id))
        return sr_err_set(err, SR_ENOTFOUND, "no hold for job '%.40s'", job_id ? job_id : "");
    return st->ops->hold_get(st, job_id, out, err);
}

sr_status
sr_store_hold_settle(sr_store *st, const struct sr_hold_end *e, bool *settled, sr_err *err)
{
    if (!is_job_id(e->job_id))
        return sr_err_set(err, SR_EINVAL, "settle: job id must be 32 lower-case hex characters");
    if (!usage_fits(&e->used) || e->charge > SR_MAX_BALANCE)
        return sr_err_set(err, SR_EINVAL, "settle of job '%s': amounts out of range", e->job_id);
    bool done = false;
    sr_status rc = st->ops->hold_settle(st, e, &done, err);
    if (rc == SR_OK && settled)
        *settled = done;
    return rc;
}

sr_status
sr_store_holds_release(sr_store *st, int64_t before_ms, int64_t now_ms, size_t max, size_t *n,
                       sr_err *err)
{
    if (max == 0 || max > SR_MAX_PAGE)
        return sr_err_set(err, SR_EINVAL, "hold release batch must be 1..%d", SR_MAX_PAGE);
    size_t k = 0;
    sr_status rc = st->ops->holds_release(st, before_ms, now_ms, max, &k, err);
    if (rc == SR_OK && n)
        *n = k;
    return rc;
}

sr_status
sr_store_money_purge(sr_store *st, int64_t before_ms, size_t *n, sr_err *err)
{
    size_t k = 0;
    sr_status rc = st->ops->money_purge(st, before_ms, &k, err);
    if (rc == SR_OK && n)
        *n = k;
    return rc;
}

sr_status
sr_store_usage_get(sr_store *st, const char *owner, const char *token_id, int64_t day,
                   struct sr_usage *out, sr_err *err)
{
    char subject[4 + SR_MAX_USER_NAME];
    if (token_id) {
        if (!*token_id || !is_token_id(token_id))
            return sr_err_set(err, SR_EINVAL, "token id must be 16 lower-case hex characters");
        (void)snprintf(subject, sizeof(subject), "t:%s", token_id);
    } else {
        sr_status rc = check_owner(owner, err);
        if (rc != SR_OK)
            return rc;
        (void)snprintf(subject, sizeof(subject), "u:%s", owner);
    }
    memset(out, 0, sizeof(*out));
    return st->ops->usage_get(st, subject, day, out, err);
}

sr_status
sr_store_balance(sr_store *st, const char *owner, uint64_t *balance, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    return rc == SR_OK ? st->ops->balance(st, owner, balance, err) : rc;
}

sr_status
sr_store_credit(sr_store *st, const char *owner, uint64_t amount, const char *actor,
                const char *note, int64_t now_ms, uint64_t *balance, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc != SR_OK)
        return rc;
    if (amount == 0 || amount > SR_MAX_CREDIT)
        return sr_err_set(err, SR_EINVAL, "a credit must be 1..%llu micro-units, got %" PRIu64,
                          (unsigned long long)SR_MAX_CREDIT, amount);
    if (!actor || !*actor)
        return sr_err_set(err, SR_EINVAL, "a credit names who made it");
    if (note && strlen(note) > 200)
        return sr_err_set(err, SR_EINVAL, "a credit's note is at most 200 bytes");
    uint64_t after = 0;
    rc = st->ops->credit(st, owner, amount, actor, note, now_ms, &after, err);
    if (rc == SR_OK && balance)
        *balance = after;
    return rc;
}

uint64_t
sr_store__storage_cost(uint64_t bytes, uint64_t price, uint64_t balance, int64_t day, char *note,
                       size_t note_len)
{
    uint64_t cost = 0;
    if (__builtin_mul_overflow(bytes, price, &cost) || cost > SR_MAX_BALANCE)
        cost = SR_MAX_BALANCE;
    uint64_t take = cost < balance ? cost : balance;
    char ts[32];
    sr_time_rfc3339(day * SR_DAY_MS, ts);
    ts[10] = '\0';
    int k = snprintf(note, note_len,
                     "storage on %s: %" PRIu64 " bytes at %" PRIu64 " per byte-day = %" PRIu64, ts,
                     bytes, price, cost);
    if (take < cost && k > 0 && (size_t)k < note_len)
        (void)snprintf(note + k, note_len - (size_t)k, "; %" PRIu64 " taken: the balance ran out",
                       take);
    return take;
}

sr_status
sr_store_storage_charge(sr_store *st, int64_t day, uint64_t price_per_byte_day, int64_t now_ms,
                        size_t max, size_t *n, sr_err *err)
{
    if (max == 0 || max > SR_MAX_PAGE)
        return sr_err_set(err, SR_EINVAL, "storage charge batch must be 1..%d", SR_MAX_PAGE);
    if (day < 0 || price_per_byte_day == 0)
        return sr_err_set(err, SR_EINVAL, "storage charge needs a day and a price");
    size_t k = 0;
    sr_status rc = st->ops->storage_charge(st, day, price_per_byte_day, now_ms, max, &k, err);
    if (rc == SR_OK && n)
        *n = k;
    return rc;
}

sr_status
sr_store_ledger_list(sr_store *st, const char *owner, size_t limit, int64_t before_id,
                     struct sr_ledger_row **rows, size_t *n, sr_err *err)
{
    sr_status rc = check_owner(owner, err);
    if (rc != SR_OK)
        return rc;
    if (limit == 0 || limit > SR_MAX_PAGE + 1)
        return sr_err_set(err, SR_EINVAL, "ledger page must be 1..%d rows", SR_MAX_PAGE);
    return st->ops->ledger_list(st, owner, limit, before_id, rows, n, err);
}
