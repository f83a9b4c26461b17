/* SPDX-License-Identifier: MIT
 *
 * sr_money.h - what the operator charges and allows (docs/accounts.md):
 * daily budgets per user and per token (defaults, per-user overrides), and
 * the price table (--prices FILE). From a job's limits it gives the most
 * the job may use and cost; from what the job did, what it costs. Amounts
 * are integer micro-units; every sum and product is overflow-checked.
 *
 * An sr_money is built once at start (the setters and loaders below) and
 * read-only afterwards: any number of threads may then share it.
 */
#ifndef SR_MONEY_H
#define SR_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_codes.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_store.h"

typedef struct sr_money sr_money;

#define SR_MONEY_MAX_PRICE 1000000000000ull /* micro-units in any one rate */
#define SR_MONEY_MAX_USERS 10000            /* users a --budgets file may name */
#define SR_MONEY_FILE_MAX (1u << 20)        /* bytes of a --budgets or --prices file */

/* The price table; every rate 0..SR_MONEY_MAX_PRICE micro-units. */
struct sr_prices {
    uint64_t base_fee;           /* per job */
    uint64_t gas_per_million[2]; /* per million gas units, by enum sr_runtime (rounded up) */
    uint64_t wall_ms;            /* per millisecond of wall clock */
    uint64_t http_request;       /* per outbound HTTP request */
    uint64_t stored_byte_day;    /* per byte of storage held, charged once a UTC day */
};

/* An empty configuration: no budget, no price table. Returns owned. */
sr_status sr_money_new(sr_money **out, sr_err *err);
void sr_money_free(sr_money *m);

/* Sets the default daily budget of every user (is_token false) or every
 * token from "NAME=N[,NAME=N...]", NAME one of sr_budget_name()'s
 * (wall_s_per_day in seconds), N 0..10^15 (0: no limit). SR_EINVAL naming
 * the bad part and the names accepted. */
sr_status sr_money_set_budgets(sr_money *m, bool is_token, const char *spec, sr_err *err);

/* Per-user overrides, JSON: {"users": {"NAME": {"user": {BUDGETS},
 * "token": {BUDGETS}}}} with BUDGETS {"jobs_per_day": N, ...}; a budget a
 * user's entry names replaces the default, the others stay. Strict: an
 * unknown field, a bad name or number is SR_EINVAL naming it and 'what'
 * (the file name). */
sr_status sr_money_parse_budgets(sr_money *m, const char *text, size_t len, const char *what,
                                 sr_err *err);
/* The price table, JSON: {"base_fee": N, "gas_per_million": {"js": N,
 * "wasm": N}, "wall_ms": N, "http_request": N, "stored_byte_day": N}; every member optional
 * (0), nothing else allowed. SR_EINVAL as above. */
sr_status sr_money_parse_prices(sr_money *m, const char *text, size_t len, const char *what,
                                sr_err *err);
/* The same from a file (at most SR_MONEY_FILE_MAX bytes). */
sr_status sr_money_load_budgets(sr_money *m, const char *path, sr_err *err);
sr_status sr_money_load_prices(sr_money *m, const char *path, sr_err *err);

/* Whether any budget or a price table is set (else jobs hold nothing). */
bool sr_money_active(const sr_money *m);
/* Whether a price table is set (else nothing is charged). */
bool sr_money_priced(const sr_money *m);
/* The price table (zeros without one). */
const struct sr_prices *sr_money_prices(const sr_money *m);

/* The daily budgets of 'owner' and of each of its tokens. */
void sr_money_budgets(const sr_money *m, const char *owner, struct sr_usage *user,
                      struct sr_usage *token);

/* What one job used, and what that costs at the table's rates: the base
 * fee plus gas (rounded up to a micro-unit), wall milliseconds and
 * requests. SR_ELIMIT when the sum passes SR_MAX_BALANCE. */
sr_status sr_money_cost(const sr_money *m, enum sr_runtime rt, const struct sr_usage *used,
                        uint64_t *cost, sr_err *err);

/* What a job that ended with 'code' is charged, having used 'used' and
 * reserved 'reserved' (<= the result): a job that never ran (ran false:
 * INTERRUPTED, or ended by the service before it started) nothing; a
 * TIMEOUT the whole reservation; any other end, completed or failed, its
 * cost (which includes the base fee). */
uint64_t sr_money_charge(const sr_money *m, enum sr_runtime rt, enum sr_job_code code, bool ran,
                         const struct sr_usage *used, uint64_t reserved);

/* {"base_fee", "gas_per_million": {"js","wasm"}, "wall_ms", "http_request"}
 * or JSON null without a table (owned). */
json_t *sr_money_prices_json(const sr_money *m);
/* {"jobs_per_day": N|null, ...} of a budget, null for no limit (owned). */
json_t *sr_money_budget_json(const struct sr_usage *budget, const struct sr_usage *used);

#endif /* SR_MONEY_H */
