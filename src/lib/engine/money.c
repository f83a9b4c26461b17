/* SPDX-License-Identifier: MIT
 *
 * money.c - the operator's budgets and price table (sr_money.h): strict
 * parsers for the --budget-user/--budget-token specs, the --budgets and
 * --prices files, and the overflow-checked cost arithmetic. Per-user
 * overrides are a sorted array searched by name (log n per admission).
 */
#include "sealrun/sr_money.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define MAX_BUDGET 1000000000000000ll /* 10^15: any one daily budget */

/* A budget with 'set' bits saying which fields an override names. */
struct partial {
    struct sr_usage v;
    unsigned set; /* bit k: field of enum sr_budget_kind k */
};

struct user_budget {
    char name[SR_MAX_USER_NAME + 1];
    struct partial user, token;
};

struct sr_money {
    struct sr_usage user; /* defaults */
    struct sr_usage token;
    struct user_budget *users; /* sorted by name */
    size_t nusers;
    bool priced;
    struct sr_prices prices;
};

sr_status
sr_money_new(sr_money **out, sr_err *err)
{
    sr_money *m = calloc(1, sizeof(*m));
    if (!m)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    *out = m;
    return SR_OK;
}

void
sr_money_free(sr_money *m)
{
    if (!m)
        return;
    free(m->users);
    free(m);
}

static uint64_t *
field(struct sr_usage *u, enum sr_budget_kind k)
{
    switch (k) {
    case SR_BUDGET_JOBS:
        return &u->jobs;
    case SR_BUDGET_GAS_JS:
        return &u->gas_js;
    case SR_BUDGET_GAS_WASM:
        return &u->gas_wasm;
    case SR_BUDGET_WALL:
        return &u->wall_ms;
    case SR_BUDGET_HTTP:
        return &u->http;
    case SR_BUDGET_NONE:
        break;
    }
    return NULL;
}

static enum sr_budget_kind
kind_named(const char *s, size_t len)
{
    for (int k = SR_BUDGET_JOBS; k <= SR_BUDGET_HTTP; k++) {
        const char *n = sr_budget_name((enum sr_budget_kind)k);
        if (strlen(n) == len && memcmp(n, s, len) == 0)
            return (enum sr_budget_kind)k;
    }
    return SR_BUDGET_NONE;
}

#define BUDGET_NAMES                                                                               \
    "jobs_per_day, gas_js_per_day, gas_wasm_per_day, wall_s_per_day, http_requests_per_day"

/* Stores n (a count, or seconds for the wall clock) into field k. */
static void
put(struct partial *p, enum sr_budget_kind k, int64_t n)
{
    *field(&p->v, k) = (uint64_t)n * (k == SR_BUDGET_WALL ? 1000u : 1u);
    p->set |= 1u << k;
}

sr_status
sr_money_set_budgets(sr_money *m, bool is_token, const char *spec, sr_err *err)
{
    const char *opt = is_token ? "--budget-token" : "--budget-user";
    struct partial p = {0};
    const char *s = spec;
    if (!*s)
        return sr_err_set(err, SR_EINVAL, "%s needs NAME=N[,NAME=N...], got ''", opt);
    while (*s) {
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        if (!eq || eq > end)
            return sr_err_set(err, SR_EINVAL, "%s: '%.*s' is not NAME=N", opt, (int)(end - s), s);
        enum sr_budget_kind k = kind_named(s, (size_t)(eq - s));
        if (k == SR_BUDGET_NONE)
            return sr_err_set(err, SR_EINVAL,
                              "%s: unknown budget '%.*s': expected one of " BUDGET_NAMES, opt,
                              (int)(eq - s), s);
        char num[24];
        size_t nl = (size_t)(end - eq - 1);
        if (nl == 0 || nl >= sizeof(num))
            return sr_err_set(err, SR_EINVAL, "%s: budget '%s' needs a number 0..%lld", opt,
                              sr_budget_name(k), MAX_BUDGET);
        memcpy(num, eq + 1, nl);
        num[nl] = '\0';
        int64_t n = 0;
        char what[64];
        (void)snprintf(what, sizeof(what), "%s %s", opt, sr_budget_name(k));
        if (sr_parse_i64(num, 0, MAX_BUDGET, what, &n, err) != SR_OK)
            return SR_EINVAL;
        put(&p, k, n);
        if (*end && !end[1])
            return sr_err_set(err, SR_EINVAL, "%s needs NAME=N after ',', got '%s'", opt, spec);
        s = *end ? end + 1 : end;
    }
    struct sr_usage *dst = is_token ? &m->token : &m->user;
    for (int k = SR_BUDGET_JOBS; k <= SR_BUDGET_HTTP; k++)
        if (p.set & (1u << k))
            *field(dst, (enum sr_budget_kind)k) = *field(&p.v, (enum sr_budget_kind)k);
    return SR_OK;
}

/* {"jobs_per_day": N, ...} into *p. */
static sr_status
parse_level(const json_t *v, const char *what, const char *user, const char *level,
            struct partial *p, sr_err *err)
{
    if (!json_is_object(v))
        return sr_err_set(err, SR_EINVAL, "%s: users.%s.%s must be an object of budgets", what,
                          user, level);
    const char *key;
    json_t *n;
    json_object_foreach((json_t *)(uintptr_t)v, key, n)
    {
        enum sr_budget_kind k = kind_named(key, strlen(key));
        if (k == SR_BUDGET_NONE)
            return sr_err_set(
                err, SR_EINVAL,
                "%s: users.%s.%s: unknown budget '%.64s': expected one of " BUDGET_NAMES, what,
                user, level, key);
        if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > MAX_BUDGET)
            return sr_err_set(err, SR_EINVAL, "%s: users.%s.%s.%s must be an integer 0..%lld", what,
                              user, level, key, MAX_BUDGET);
        put(p, k, (int64_t)json_integer_value(n));
    }
    return SR_OK;
}

static int
cmp_user(const void *a, const void *b)
{
    return strcmp(((const struct user_budget *)a)->name, ((const struct user_budget *)b)->name);
}

static sr_status
parse_user(const char *what, const char *name, const json_t *v, struct user_budget *u, sr_err *err)
{
    if (!sr_is_user_name(name))
        return sr_err_set(err, SR_EINVAL, "%s: '%.64s' is not a user name", what, name);
    if (!json_is_object(v))
        return sr_err_set(err, SR_EINVAL,
                          "%s: users.%s must be an object with \"user\" and/or "
                          "\"token\"",
                          what, name);
    (void)snprintf(u->name, sizeof(u->name), "%s", name);
    const char *key;
    json_t *lv;
    json_object_foreach((json_t *)(uintptr_t)v, key, lv)
    {
        bool is_user = strcmp(key, "user") == 0;
        if (!is_user && strcmp(key, "token") != 0)
            return sr_err_set(err, SR_EINVAL,
                              "%s: users.%s: unknown field '%.64s': expected \"user\" or \"token\"",
                              what, name, key);
        sr_status rc = parse_level(lv, what, name, key, is_user ? &u->user : &u->token, err);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}

sr_status
sr_money_parse_budgets(sr_money *m, const char *text, size_t len, const char *what, sr_err *err)
{
    json_t *root = NULL;
    sr_status rc = sr_json_parse(text, len, 8, what, &root, err);
    if (rc != SR_OK)
        return rc;
    json_t *users = json_object_get(root, "users");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_object(users)) {
        json_decref(root);
        return sr_err_set(err, SR_EINVAL,
                          "%s must be {\"users\": {\"NAME\": {\"user\": {...}, "
                          "\"token\": {...}}}}",
                          what);
    }
    size_t n = json_object_size(users);
    if (n > SR_MONEY_MAX_USERS) {
        json_decref(root);
        return sr_err_set(err, SR_EINVAL, "%s names %zu users, at most %d", what, n,
                          SR_MONEY_MAX_USERS);
    }
    struct user_budget *v = calloc(n + 1, sizeof(*v));
    if (!v) {
        json_decref(root);
        return sr_err_set(err, SR_ENOMEM, "out of memory reading %s", what);
    }
    size_t i = 0;
    const char *name;
    json_t *uv;
    json_object_foreach(users, name, uv)
    {
        rc = parse_user(what, name, uv, &v[i++], err);
        if (rc != SR_OK)
            break;
    }
    json_decref(root);
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    qsort(v, n, sizeof(*v), cmp_user);
    free(m->users);
    m->users = v;
    m->nusers = n;
    return SR_OK;
}

static sr_status
price_of(const json_t *root, const char *key, const char *what, uint64_t *out, sr_err *err)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return SR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > SR_MONEY_MAX_PRICE)
        return sr_err_set(err, SR_EINVAL, "%s: '%s' must be an integer 0..%llu (micro-units)", what,
                          key, (unsigned long long)SR_MONEY_MAX_PRICE);
    *out = (uint64_t)json_integer_value(v);
    return SR_OK;
}

sr_status
sr_money_parse_prices(sr_money *m, const char *text, size_t len, const char *what, sr_err *err)
{
    static const char *const keys[] = {"base_fee", "gas_per_million", "wall_ms", "http_request",
                                       "stored_byte_day"};
    json_t *root = NULL;
    sr_status rc = sr_json_parse(text, len, 4, what, &root, err);
    if (rc != SR_OK)
        return rc;
    struct sr_prices p = {0};
    if (!json_is_object(root))
        rc = sr_err_set(err, SR_EINVAL, "%s must be a JSON object of prices", what);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known |= strcmp(key, keys[i]) == 0;
        if (rc == SR_OK && !known)
            rc = sr_err_set(err, SR_EINVAL,
                            "%s: unknown field '%.64s': expected base_fee, gas_per_million, "
                            "wall_ms, http_request, stored_byte_day",
                            what, key);
    }
    json_t *gas = json_object_get(root, "gas_per_million");
    if (rc == SR_OK && gas) {
        if (!json_is_object(gas))
            rc = sr_err_set(err, SR_EINVAL,
                            "%s: 'gas_per_million' must be {\"js\": N, \"wasm\": N}", what);
        json_object_foreach(gas, key, v)
        {
            if (rc == SR_OK && strcmp(key, "js") != 0 && strcmp(key, "wasm") != 0)
                rc = sr_err_set(err, SR_EINVAL,
                                "%s: gas_per_million: unknown runtime '%.64s': expected js, wasm",
                                what, key);
        }
        if (rc == SR_OK)
            rc = price_of(gas, "js", what, &p.gas_per_million[SR_RUNTIME_JS], err);
        if (rc == SR_OK)
            rc = price_of(gas, "wasm", what, &p.gas_per_million[SR_RUNTIME_WASM], err);
    }
    if (rc == SR_OK)
        rc = price_of(root, "base_fee", what, &p.base_fee, err);
    if (rc == SR_OK)
        rc = price_of(root, "wall_ms", what, &p.wall_ms, err);
    if (rc == SR_OK)
        rc = price_of(root, "http_request", what, &p.http_request, err);
    if (rc == SR_OK)
        rc = price_of(root, "stored_byte_day", what, &p.stored_byte_day, err);
    json_decref(root);
    if (rc != SR_OK)
        return rc;
    m->prices = p;
    m->priced = true;
    return SR_OK;
}

static sr_status
read_capped(const char *path, const char *kind, char **out, size_t *out_len, sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EINVAL, "cannot open %s file '%s': %s", kind, path,
                          sr_errno_text(errno));
    char *buf = malloc(SR_MONEY_FILE_MAX + 1);
    size_t len = 0;
    ssize_t n = 1;
    while (buf && n > 0 && len <= SR_MONEY_FILE_MAX) {
        n = read(fd, buf + len, SR_MONEY_FILE_MAX + 1 - len);
        len += n > 0 ? (size_t)n : 0;
    }
    int e = errno;
    (void)close(fd);
    if (!buf)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
    if (n < 0 || len > SR_MONEY_FILE_MAX) {
        free(buf);
        return n < 0 ? sr_err_set(err, SR_EINVAL, "cannot read '%s': %s", path, sr_errno_text(e))
                     : sr_err_set(err, SR_EINVAL, "%s file '%s' is over %u bytes", kind, path,
                                  SR_MONEY_FILE_MAX);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return SR_OK;
}

sr_status
sr_money_load_budgets(sr_money *m, const char *path, sr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    char what[300];
    (void)snprintf(what, sizeof(what), "budgets file '%.256s'", path);
    sr_status rc = read_capped(path, "budgets", &text, &len, err);
    if (rc == SR_OK)
        rc = sr_money_parse_budgets(m, text, len, what, err);
    free(text);
    return rc;
}

sr_status
sr_money_load_prices(sr_money *m, const char *path, sr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    char what[300];
    (void)snprintf(what, sizeof(what), "prices file '%.256s'", path);
    sr_status rc = read_capped(path, "prices", &text, &len, err);
    if (rc == SR_OK)
        rc = sr_money_parse_prices(m, text, len, what, err);
    free(text);
    return rc;
}

static bool
any(const struct sr_usage *u)
{
    return u->jobs || u->gas_js || u->gas_wasm || u->wall_ms || u->http;
}

bool
sr_money_active(const sr_money *m)
{
    if (!m)
        return false;
    if (m->priced || any(&m->user) || any(&m->token))
        return true;
    for (size_t i = 0; i < m->nusers; i++)
        if (any(&m->users[i].user.v) || any(&m->users[i].token.v))
            return true;
    return false;
}

bool
sr_money_priced(const sr_money *m)
{
    return m && m->priced;
}

const struct sr_prices *
sr_money_prices(const sr_money *m)
{
    return &m->prices;
}

static void
overlay(struct sr_usage *dst, const struct partial *p)
{
    for (int k = SR_BUDGET_JOBS; k <= SR_BUDGET_HTTP; k++)
        if (p->set & (1u << k))
            *field(dst, (enum sr_budget_kind)k) =
                *field((struct sr_usage *)(uintptr_t)&p->v, (enum sr_budget_kind)k);
}

void
sr_money_budgets(const sr_money *m, const char *owner, struct sr_usage *user,
                 struct sr_usage *token)
{
    *user = m->user;
    *token = m->token;
    struct user_budget key;
    (void)snprintf(key.name, sizeof(key.name), "%s", owner);
    const struct user_budget *u =
        m->nusers ? bsearch(&key, m->users, m->nusers, sizeof(key), cmp_user) : NULL;
    if (u) {
        overlay(user, &u->user);
        overlay(token, &u->token);
    }
}

/* a * b / per, rounded up; false past SR_MAX_BALANCE. b <= SR_MONEY_MAX_PRICE
 * and per <= 10^6, so (a % per) * b cannot overflow. */
static bool
mul_div_up(uint64_t a, uint64_t b, uint64_t per, uint64_t *out)
{
    uint64_t whole = 0, sum = 0;
    uint64_t part = ((a % per) * b + per - 1) / per;
    if (__builtin_mul_overflow(a / per, b, &whole) || __builtin_add_overflow(whole, part, &sum) ||
        sum > SR_MAX_BALANCE)
        return false;
    *out = sum;
    return true;
}

sr_status
sr_money_cost(const sr_money *m, enum sr_runtime rt, const struct sr_usage *used, uint64_t *cost,
              sr_err *err)
{
    const struct sr_prices *p = &m->prices;
    uint64_t gas = rt == SR_RUNTIME_WASM ? used->gas_wasm : used->gas_js;
    uint64_t parts[4] = {p->base_fee, 0, 0, 0};
    bool ok = mul_div_up(gas, p->gas_per_million[rt == SR_RUNTIME_WASM], 1000000, &parts[1]) &&
              mul_div_up(used->wall_ms, p->wall_ms, 1, &parts[2]) &&
              mul_div_up(used->http, p->http_request, 1, &parts[3]);
    uint64_t sum = 0;
    for (int i = 0; ok && i < 4; i++)
        ok = !__builtin_add_overflow(sum, parts[i], &sum) && sum <= SR_MAX_BALANCE;
    if (!ok)
        return sr_err_set(err, SR_ELIMIT,
                          "the cost of this job at the price table's rates passes %llu "
                          "micro-units: lower its limits",
                          (unsigned long long)SR_MAX_BALANCE);
    *cost = sum;
    return SR_OK;
}

uint64_t
sr_money_charge(const sr_money *m, enum sr_runtime rt, enum sr_job_code code, bool ran,
                const struct sr_usage *used, uint64_t reserved)
{
    if (!ran || !reserved)
        return 0;
    if (code == SR_JOB_TIMEOUT)
        return reserved;
    uint64_t cost = reserved;
    if (sr_money_cost(m, rt, used, &cost, NULL) != SR_OK)
        cost = reserved;
    return cost < reserved ? cost : reserved;
}

json_t *
sr_money_prices_json(const sr_money *m)
{
    if (!m || !m->priced)
        return json_null();
    const struct sr_prices *p = &m->prices;
    return json_pack("{s:I, s:{s:I, s:I}, s:I, s:I, s:I, s:s}", "base_fee", (json_int_t)p->base_fee,
                     "gas_per_million", "js", (json_int_t)p->gas_per_million[SR_RUNTIME_JS], "wasm",
                     (json_int_t)p->gas_per_million[SR_RUNTIME_WASM], "wall_ms",
                     (json_int_t)p->wall_ms, "http_request", (json_int_t)p->http_request,
                     "stored_byte_day", (json_int_t)p->stored_byte_day, "unit", "micro-units");
}

json_t *
sr_money_budget_json(const struct sr_usage *budget, const struct sr_usage *used)
{
    json_t *o = json_object();
    for (int k = SR_BUDGET_JOBS; o && k <= SR_BUDGET_HTTP; k++) {
        uint64_t lim = *field((struct sr_usage *)(uintptr_t)budget, (enum sr_budget_kind)k);
        uint64_t u = *field((struct sr_usage *)(uintptr_t)used, (enum sr_budget_kind)k);
        if (k == SR_BUDGET_WALL) {
            lim /= 1000;
            u = (u + 999) / 1000;
        }
        json_object_set_new(o, sr_budget_name((enum sr_budget_kind)k),
                            json_pack("{s:I, s:o}", "used", (json_int_t)u, "limit",
                                      lim ? json_integer((json_int_t)lim) : json_null()));
    }
    return o;
}
