/* SPDX-License-Identifier: MIT
 *
 * settle.c - a job's money from admission to its end (docs/accounts.md).
 *
 * Admission (sr_engine__money_admit) holds the most the job may use, in
 * its owner's and its token's budgets of the day, and the most it may cost,
 * from the owner's balance: one store transaction that refuses with
 * BUDGET_EXHAUSTED or INSUFFICIENT_BALANCE before anything runs.
 *
 * Every terminal state of a job goes through one function,
 * sr_engine__job_settle, after the job's row is stored: completed, failed,
 * timed out (run_and_record), ended without running (record_failure:
 * INTERRUPTED at a restart or a lease take-over, a module gone, and the
 * states the service ends jobs with). The charge is computed before the
 * job object is built (sr_engine__money_quote), so the job object and its
 * receipt carry it. The store settles a hold at most once; a hold left
 * open by a sealrund that died between reserve and charge is released in
 * full at the next start and by the purge (sr_engine__money_sweep).
 */
#include "engine_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

/* How long a sync job may run without a job row (a daemon on its own store
 * stores it when it ends): older than this, an open hold whose job is
 * neither queued nor running is dangling. */
#define DANGLING_MS (2ll * SR_MAX_TIMEOUT_S * 1000 + 60000)
#define SWEEP_BATCH SR_MAX_PAGE

static bool
has_money(const sr_engine *eng)
{
    return eng->store && sr_money_active(eng->cfg.money);
}

sr_status
sr_engine__money_max(const sr_engine *eng, const struct sr_job_request *req, struct sr_usage *max,
                     uint64_t *cost, sr_err *err)
{
    memset(max, 0, sizeof(*max));
    max->jobs = 1;
    uint64_t t = (uint64_t)req->timeout_s * 1000000u;
    if (req->runtime == SR_RUNTIME_WASM)
        max->gas_wasm = req->gas_limit;
    else
        max->gas_js = req->gas_limit && req->gas_limit < t ? req->gas_limit : t;
    max->wall_ms = (uint64_t)req->timeout_s * 1000u;
    if (req->http.nallow)
        max->http = req->http.max_requests ? req->http.max_requests : SR_FETCH_DEFAULT_REQUESTS;
    *cost = 0;
    if (!sr_money_priced(eng->cfg.money))
        return SR_OK;
    return sr_money_cost(eng->cfg.money, req->runtime, max, cost, err);
}

sr_status
sr_engine__money_admit(sr_engine *eng, const char *owner, const char *id,
                       const struct sr_job_request *req, sr_err *err)
{
    if (!has_money(eng))
        return SR_OK;
    struct sr_hold_new h = {
        .job_id = id,
        .owner = owner,
        .token_id = req->token_id,
        .now_ms = sr_now_ms(),
    };
    h.day = h.now_ms / SR_DAY_MS;
    sr_money_budgets(eng->cfg.money, owner, &h.user_budget, &h.token_budget);
    sr_status rc = sr_engine__money_max(eng, req, &h.max, &h.cost, err);
    if (rc == SR_OK)
        rc = sr_store_hold_add(eng->store, &h, NULL, err);
    if (rc != SR_OK)
        return rc;
#ifdef SR_TEST_HOOKS
    if (eng->cfg.test_pause_after_hold_ms) {
        sr_log(SR_LOG_WARN, "engine", "TEST BUILD: job '%s' holds its reservation; pausing %u ms",
               id, eng->cfg.test_pause_after_hold_ms);
        struct timespec ts = {eng->cfg.test_pause_after_hold_ms / 1000,
                              (long)(eng->cfg.test_pause_after_hold_ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
#endif
    return SR_OK;
}

/* The hold of job 'id' in *h; false without one (no budgets or prices,
 * or admitted before they were configured; a store error is logged). */
static bool
hold_of(sr_engine *eng, const char *id, struct sr_hold_row *h)
{
    if (!has_money(eng))
        return false;
    sr_err e = {0};
    sr_status rc = sr_store_hold_get(eng->store, id, h, &e);
    if (rc != SR_OK && rc != SR_ENOTFOUND)
        sr_log(SR_LOG_ERROR, "engine", "job '%s': reading its hold: %s", id, e.msg);
    return rc == SR_OK;
}

/* What a job that ran used, and what it is charged at 'money's rates out
 * of 'reserved' (the one rule for a daemon's own jobs and a worker's). */
static void
quote_used(const sr_money *money, enum sr_runtime rt, enum sr_job_code code, uint64_t gas_used,
           size_t http, bool ran, int64_t wall_us, uint64_t reserved, struct job_money *m)
{
    m->reserved = reserved;
    if (ran) {
        m->used.jobs = 1;
        if (rt == SR_RUNTIME_WASM)
            m->used.gas_wasm = gas_used;
        else
            m->used.gas_js = gas_used;
        m->used.wall_ms = wall_us > 0 ? ((uint64_t)wall_us + 999) / 1000 : 0;
        m->used.http = http;
    }
    m->charged = reserved ? sr_money_charge(money, rt, code, ran, &m->used, reserved) : 0;
}

void
sr_engine__money_quote(sr_engine *eng, const char *id, const struct sr_job_request *req, bool ran,
                       struct job_outcome *o, int64_t wall_us)
{
    struct job_money *m = &o->money;
    memset(m, 0, sizeof(*m));
    struct sr_hold_row h;
    if (!hold_of(eng, id, &h))
        return;
    m->has_hold = true;
    quote_used(eng->cfg.money, req->runtime, o->code, o->gas_used,
               o->http ? json_array_size(o->http) : 0, ran, wall_us, h.cost, m);
}

void
sr_engine__money_settle(sr_engine *eng, const char *id, const struct job_money *m)
{
    if (!m->has_hold)
        return;
    const struct sr_hold_end end = {
        .job_id = id, .used = m->used, .charge = m->charged, .now_ms = sr_now_ms()};
    sr_err e = {0};
    bool settled = false;
    if (sr_store_hold_settle(eng->store, &end, &settled, &e) != SR_OK)
        sr_log(SR_LOG_ERROR, "engine",
               "job '%s': settling its hold failed (released in full by the next sweep): %s", id,
               e.msg);
    else if (settled)
        sr_log(SR_LOG_DEBUG, "engine", "job '%s' charged %" PRIu64 " of %" PRIu64, id, m->charged,
               m->reserved);
}

void
sr_engine__job_settle(sr_engine *eng, const char *id, const struct job_outcome *o)
{
    sr_engine__money_settle(eng, id, &o->money);
}

/* ---- a remote worker's job (docs/workers.md "Money") ----
 *
 * The coordinator holds the job's reservation; the worker that runs it
 * signs its cost in the receipt, so the hand-out carries the reservation
 * and the price table, the worker charges by the same rule
 * (quote_used), and the coordinator computes the charge again from the
 * signed job object and stores the result only when the two agree. */

json_t *
sr_engine__remote_money_json(sr_engine *eng, const char *id, struct job_money *m)
{
    memset(m, 0, sizeof(*m));
    struct sr_hold_row h;
    if (!hold_of(eng, id, &h))
        return NULL;
    m->has_hold = true;
    m->reserved = h.cost;
    json_t *prices = sr_money_prices_json(eng->cfg.money);
    if (json_is_object(prices))
        json_object_del(prices, "unit");
    return json_pack("{s:I, s:o}", "reserved", (json_int_t)h.cost, "prices", prices);
}

sr_status
sr_engine__remote_money_parse(const json_t *j, struct remote_money *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!j || json_is_null(j))
        return SR_OK;
    const json_t *r = json_object_get(j, "reserved");
    const json_t *p = json_object_get(j, "prices");
    if (!json_is_object(j) || !json_is_integer(r) || json_integer_value(r) < 0 ||
        (uint64_t)json_integer_value(r) > SR_MAX_BALANCE ||
        (p && !json_is_null(p) && !json_is_object(p)))
        return sr_err_set(err, SR_EINVAL,
                          "the job's 'money' must be {\"reserved\": 0..%llu, \"prices\": "
                          "object or null}",
                          (unsigned long long)SR_MAX_BALANCE);
    out->reserved = (uint64_t)json_integer_value(r);
    sr_status rc = sr_money_new(&out->money, err);
    if (rc == SR_OK && json_is_object(p)) {
        char *text = sr_json_dumps(p, JSON_COMPACT);
        rc = text ? sr_money_parse_prices(out->money, text, strlen(text),
                                          "the coordinator's price table", err)
                  : sr_err_set(err, SR_ENOMEM, "out of memory for the job's prices");
        free(text);
    }
    if (rc != SR_OK) {
        sr_money_free(out->money);
        out->money = NULL;
        return rc;
    }
    out->has_hold = true;
    return SR_OK;
}

void
sr_engine__remote_money_fini(struct remote_money *rm)
{
    sr_money_free(rm->money);
    memset(rm, 0, sizeof(*rm));
}

void
sr_engine__remote_money_quote(const struct remote_money *rm, enum sr_runtime rt,
                              struct job_outcome *o, int64_t wall_us)
{
    struct job_money *m = &o->money;
    memset(m, 0, sizeof(*m));
    if (!rm->has_hold)
        return;
    m->has_hold = true;
    quote_used(rm->money, rt, o->code, o->gas_used, o->http ? json_array_size(o->http) : 0, true,
               wall_us, rm->reserved, m);
}

sr_status
sr_engine__remote_money_check(sr_engine *eng, const char *id, enum sr_runtime rt,
                              enum sr_job_code code, const json_t *job, struct job_money *m,
                              sr_err *err)
{
    if (!m->has_hold)
        return SR_OK;
    const json_t *receipt = json_object_get(job, "receipt");
    json_int_t gas = json_integer_value(json_object_get(receipt, "gas_used"));
    json_int_t dur = json_integer_value(json_object_get(receipt, "duration_us"));
    const json_t *http = json_object_get(receipt, "http");
    quote_used(eng->cfg.money, rt, code, gas > 0 ? (uint64_t)gas : 0,
               json_is_array(http) ? json_array_size(http) : 0, true, dur > 0 ? dur : 0,
               m->reserved, m);
    json_t *want = sr_engine__cost_json(m);
    const json_t *got = json_object_get(receipt, "cost");
    bool same = want ? json_equal(want, got) : got == NULL;
    json_decref(want);
    if (!same)
        return sr_err_set(err, SR_EINVAL,
                          "the receipt of job '%s' does not carry the cost this coordinator "
                          "charges (reserved %llu, charged %llu at its price table)",
                          id, (unsigned long long)m->reserved, (unsigned long long)m->charged);
    return SR_OK;
}

void
sr_engine__money_release(sr_engine *eng, const char *id)
{
    if (!has_money(eng))
        return;
    sr_err e = {0};
    if (sr_store_hold_settle(eng->store, &(struct sr_hold_end){.job_id = id, .now_ms = sr_now_ms()},
                             NULL, &e) != SR_OK)
        sr_log(SR_LOG_ERROR, "engine", "job '%s': releasing its hold: %s", id, e.msg);
}

/* Storage byte-days: once a UTC day each owner with stored bytes pays
 * bytes x stored_byte_day (at the first sweep of the day: at start, and
 * from the purge every minute). */
static void
storage_charge(sr_engine *eng, int64_t now)
{
    uint64_t price =
        sr_money_priced(eng->cfg.money) ? sr_money_prices(eng->cfg.money)->stored_byte_day : 0;
    if (!price)
        return;
    size_t n = 0, total = 0;
    sr_err e = {0};
    do {
        if (sr_store_storage_charge(eng->store, now / SR_DAY_MS, price, now, SWEEP_BATCH, &n, &e) !=
            SR_OK) {
            sr_log(SR_LOG_WARN, "engine", "charging storage: %s", e.msg);
            return;
        }
        total += n;
    } while (n == SWEEP_BATCH);
    if (total)
        sr_log(SR_LOG_INFO, "engine", "charged the storage of %zu user(s) for today", total);
}

void
sr_engine__money_sweep(sr_engine *eng, bool at_start)
{
    if (!eng->store)
        return;
    int64_t now = sr_now_ms();
    /* At the start of a daemon on its own store nothing runs yet: every
     * open hold without a queued or running job is dangling. A sync job
     * there has no row until it ends (DANGLING_MS). In cluster mode every
     * job is stored right after its hold, so two leases is ample. */
    int64_t before = eng->cluster ? now - 2 * sr_engine__lease_ms(eng)
                     : at_start   ? now + 1
                                  : now - DANGLING_MS;
    size_t n = 0, total = 0;
    sr_err e = {0};
    do {
        if (sr_store_holds_release(eng->store, before, now, SWEEP_BATCH, &n, &e) != SR_OK) {
            sr_log(SR_LOG_WARN, "engine", "releasing dangling holds: %s", e.msg);
            return;
        }
        total += n;
    } while (n == SWEEP_BATCH);
    if (total)
        sr_log(SR_LOG_WARN, "engine",
               "released %zu hold(s) of jobs that ended without being charged (sealrund "
               "stopped in between): nothing charged, their usage returned",
               total);
    storage_charge(eng, now);
    if (at_start)
        return;
    /* settled holds and usage days are kept as long as finished jobs */
    int64_t keep = sr_engine__ttl_ms(eng) > 2 * SR_DAY_MS ? sr_engine__ttl_ms(eng) : 2 * SR_DAY_MS;
    if (sr_store_money_purge(eng->store, now - keep, &n, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine", "purging settled holds: %s", e.msg);
}

json_t *
sr_engine__cost_json(const struct job_money *m)
{
    if (!m->has_hold || !m->reserved)
        return NULL;
    return json_pack("{s:I, s:I, s:I, s:s}", "reserved", (json_int_t)m->reserved, "charged",
                     (json_int_t)m->charged, "refunded", (json_int_t)(m->reserved - m->charged),
                     "unit", "micro-units");
}

/* ---- the account API (sr_engine.h) ---- */

sr_status
sr_engine_estimate(sr_engine *eng, const struct sr_job_request *req, json_t **out, sr_err *err)
{
    struct sr_usage max;
    uint64_t cost = 0;
    sr_status rc = sr_engine__money_max(eng, req, &max, &cost, err);
    if (rc != SR_OK)
        return rc;
    bool priced = sr_money_priced(eng->cfg.money);
    json_t *o = json_pack("{s:s, s:{s:I, s:I, s:I}, s:o, s:o, s:s}", "runtime",
                          sr_runtime_name(req->runtime), "max", "gas",
                          (json_int_t)(req->runtime == SR_RUNTIME_WASM ? max.gas_wasm : max.gas_js),
                          "wall_ms", (json_int_t)max.wall_ms, "http_requests", (json_int_t)max.http,
                          "max_cost", priced ? json_integer((json_int_t)cost) : json_null(),
                          "prices", sr_money_prices_json(eng->cfg.money), "unit", "micro-units");
    if (!o)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    *out = o;
    return SR_OK;
}

static json_t *
ledger_json(const struct sr_ledger_row *r)
{
    char ts[32];
    sr_time_rfc3339(r->time_ms, ts);
    return json_pack("{s:I, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:s}", "id", (json_int_t)r->id,
                     "kind", r->kind, "amount", (json_int_t)r->amount, "delta",
                     (json_int_t)r->delta, "balance", (json_int_t)r->balance, "job_id",
                     r->job_id[0] ? json_string(r->job_id) : json_null(), "actor",
                     r->actor ? json_string(r->actor) : json_null(), "note",
                     r->note ? json_string(r->note) : json_null(), "time", ts);
}

static sr_status
ledger_page(sr_engine *eng, const char *owner, size_t limit, int64_t before, json_t *acct,
            sr_err *err)
{
    struct sr_ledger_row *rows = NULL;
    size_t n = 0;
    sr_status rc = sr_store_ledger_list(eng->store, owner, limit + 1, before, &rows, &n, err);
    if (rc != SR_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, ledger_json(&rows[i]));
    json_object_set_new(acct, "ledger", arr);
    json_object_set_new(acct, "next",
                        n > limit ? json_integer((json_int_t)rows[limit - 1].id) : json_null());
    for (size_t i = 0; i < n; i++)
        sr_ledger_row_fini(&rows[i]);
    free(rows);
    return SR_OK;
}

sr_status
sr_engine_account(sr_engine *eng, const char *owner, const char *token_id, size_t limit,
                  int64_t before, json_t **out, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "accounts need a server with a store");
    int64_t now = sr_now_ms();
    int64_t day = now / SR_DAY_MS;
    uint64_t balance = 0;
    struct sr_usage ub = {0}, tb = {0}, uu = {0}, tu = {0};
    if (eng->cfg.money)
        sr_money_budgets(eng->cfg.money, owner, &ub, &tb);
    sr_status rc = sr_store_balance(eng->store, owner, &balance, err);
    if (rc == SR_OK)
        rc = sr_store_usage_get(eng->store, owner, NULL, day, &uu, err);
    if (rc == SR_OK && token_id && *token_id)
        rc = sr_store_usage_get(eng->store, owner, token_id, day, &tu, err);
    if (rc != SR_OK)
        return rc;
    char today[32], reset[32];
    sr_time_rfc3339(day * SR_DAY_MS, today);
    today[10] = '\0';
    sr_time_rfc3339((day + 1) * SR_DAY_MS, reset);
    json_t *budgets = json_pack("{s:o}", "user", sr_money_budget_json(&ub, &uu));
    if (budgets && token_id && *token_id)
        json_object_set_new(
            budgets, "token",
            json_pack("{s:s, s:o}", "id", token_id, "budgets", sr_money_budget_json(&tb, &tu)));
    json_t *acct = json_pack("{s:s, s:I, s:s, s:o, s:s, s:s, s:o}", "user", owner, "balance",
                             (json_int_t)balance, "unit", "micro-units", "prices",
                             sr_money_prices_json(eng->cfg.money), "day", today, "resets_at", reset,
                             "budgets", budgets ? budgets : json_null());
    if (!acct)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    rc = ledger_page(eng, owner, limit, before, acct, err);
    if (rc != SR_OK) {
        json_decref(acct);
        return rc;
    }
    *out = acct;
    return SR_OK;
}

sr_status
sr_engine_credit(sr_engine *eng, const char *owner, uint64_t amount, const char *actor,
                 const char *note, uint64_t *balance, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "accounts need a server with a store");
    return sr_store_credit(eng->store, owner, amount, actor, note, sr_now_ms(), balance, err);
}

sr_status
sr_engine_dry_run(sr_engine *eng, const char *owner, const struct sr_job_request *req, json_t **out,
                  sr_err *err)
{
    if (eng->cfg.coordinator)
        return sr_err_set(err, SR_ECONFLICT,
                          "\"dry_run\" is not available on a coordinator: it runs no guest code "
                          "(docs/workers.md); estimate without \"dry_run\"");
    if (req->runtime != SR_RUNTIME_WASM)
        return sr_err_set(err, SR_EINVAL,
                          "\"dry_run\" is for WebAssembly jobs, whose gas (fuel) is exact; a "
                          "JavaScript job's gas is CPU time and differs from run to run");
    if (req->http.nallow)
        return sr_err_set(err, SR_EINVAL,
                          "\"dry_run\" cannot run a job with \"http\": its requests would really "
                          "be sent");
    struct sr_usage max;
    uint64_t max_cost = 0;
    sr_status rc = sr_engine__money_max(eng, req, &max, &max_cost, err);
    if (rc != SR_OK)
        return rc;
    struct sr_job_request local = *req; /* shallow: only 'code' may be loaded into it */
    struct sr_secret_refs refs;
    rc = sr_engine__refs_check(owner, req, &refs, err);
    if (rc == SR_OK)
        rc = sr_engine__module_load(eng, owner, &local, err);
    if (rc == SR_OK)
        rc = sr_engine__slot_take(eng, owner, err);
    if (rc != SR_OK) {
        if (local.code != req->code)
            free(local.code);
        return rc;
    }
    char id[SR_ID_HEX_LEN + 1];
    sr_random_id(id);
    rc = sr_engine__money_admit(eng, owner, id, req, err);
    struct job_outcome o;
    sr_engine__outcome_init(&o);
    if (rc == SR_OK) {
        sr_engine__outcome_fini(&o);
        int64_t t0 = sr_mono_us();
        /* its storage writes are never committed (they commit only with a
         * stored job's end) and nothing is stored but what it costs */
        sr_engine__run(eng, owner, id, &local, &refs, NULL, &o);
        int64_t wall = sr_mono_us() - t0;
        sr_engine__money_quote(eng, id, &local, true, &o, wall);
        sr_engine__job_settle(eng, id, &o);
        struct sr_usage used = {.jobs = 1,
                                .gas_wasm = o.gas_used,
                                .wall_ms = ((uint64_t)(wall > 0 ? wall : 0) + 999) / 1000};
        uint64_t cost = 0;
        bool priced = sr_money_priced(eng->cfg.money);
        if (priced && sr_money_cost(eng->cfg.money, SR_RUNTIME_WASM, &used, &cost, NULL) != SR_OK)
            cost = max_cost;
        json_t *ans = json_pack(
            "{s:s, s:b, s:s, s:I, s:I, s:{s:I, s:I, s:I}, s:o, s:o, s:o, s:s}", "runtime", "wasm",
            "dry_run", true, "status", o.code == SR_JOB_OK ? "completed" : "failed", "gas_used",
            (json_int_t)o.gas_used, "duration_ms", (json_int_t)(wall / 1000), "max", "gas",
            (json_int_t)max.gas_wasm, "wall_ms", (json_int_t)max.wall_ms, "http_requests",
            (json_int_t)max.http, "cost", priced ? json_integer((json_int_t)cost) : json_null(),
            "max_cost", priced ? json_integer((json_int_t)max_cost) : json_null(), "prices",
            sr_money_prices_json(eng->cfg.money), "unit", "micro-units");
        if (ans && o.code != SR_JOB_OK)
            json_object_set_new(ans, "error",
                                json_pack("{s:s, s:s}", "code", sr_job_code_name(o.code), "message",
                                          o.message ? o.message : ""));
        if (ans && o.money.has_hold && o.money.reserved)
            json_object_set_new(ans, "charged", json_integer((json_int_t)o.money.charged));
        rc = ans ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory");
        if (rc == SR_OK)
            *out = ans;
    }
    sr_engine__outcome_fini(&o);
    sr_engine__slot_release(eng, owner);
    if (local.code != req->code)
        free(local.code);
    return rc;
}
