/* SPDX-License-Identifier: MIT
 *
 * cmd_account.c - `sealrun account show|ledger|credit` over HTTP
 * (docs/accounts.md): a user's balance and today's usage against each
 * budget (GET /account), the ledger a page at a time, and an operator's
 * credit (POST /account/credit, admin scope).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

static void
add_query(char *path, size_t cap, const char *key, const char *value)
{
    if (!value)
        return;
    size_t len = strlen(path);
    (void)snprintf(path + len, cap - len, "%s%s=", strchr(path, '?') ? "&" : "?", key);
    cli_escape(path, cap, value);
}

/* GET /account with ?user=, ?limit=, ?before= into *out (owned). */
static int
get_account(const struct cli_remote *r, const char *user, int64_t limit, int64_t before,
            json_t **out)
{
    char path[512] = "/account", num[24];
    add_query(path, sizeof(path), "user", user);
    if (limit) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)limit);
        add_query(path, sizeof(path), "limit", num);
    }
    if (before) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)before);
        add_query(path, sizeof(path), "before", num);
    }
    return cli_call(r, "GET", path, NULL, 0, NULL, out);
}

static int
account_show(int argc, char **argv)
{
    const char *user = NULL;
    bool as_json = false;
    const struct sr_opt t[] = {
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &user,
         .metavar = "NAME",
         .help = "another user's account (needs the admin scope)"},
        {.name = "--json", .kind = SR_OPT_FLAG, .dst = &as_json, .help = "print GET /account"},
    };
    static const struct cli_help h = {
        .cmd = "account show",
        .args = "[options]",
        .about = "Prints your balance (micro-units), the price table, and today's usage (used or\n"
                 "held by running jobs) against each daily budget of your user and this token.\n",
    };
    struct cli_remote r;
    size_t npos = 0;
    int rc = cli_parse(&h, t, 2, argc, argv, NULL, 0, 0, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    json_t *a = NULL;
    rc = get_account(&r, user, 1, 0, &a);
    if (rc != CLI_OK)
        return rc;
    if (as_json) {
        cli_print_json(a);
        json_decref(a);
        return CLI_OK;
    }
    printf("user      %s\n", json_string_value(json_object_get(a, "user")));
    printf("balance   %" JSON_INTEGER_FORMAT " micro-units\n",
           json_integer_value(json_object_get(a, "balance")));
    printf("day       %s (budgets reset at %s)\n", json_string_value(json_object_get(a, "day")),
           json_string_value(json_object_get(a, "resets_at")));
    json_t *b = json_object_get(a, "budgets");
    json_t *levels[2] = {json_object_get(b, "user"),
                         json_object_get(json_object_get(b, "token"), "budgets")};
    for (int l = 0; l < 2; l++) {
        const char *key;
        json_t *v;
        json_object_foreach(levels[l], key, v)
        {
            json_t *lim = json_object_get(v, "limit");
            char limit[32] = "no limit";
            if (json_is_integer(lim))
                (void)snprintf(limit, sizeof(limit), "%" JSON_INTEGER_FORMAT,
                               json_integer_value(lim));
            printf("%-5s     %-22s %" JSON_INTEGER_FORMAT " / %s\n", l ? "token" : "user", key,
                   json_integer_value(json_object_get(v, "used")), limit);
        }
    }
    json_decref(a);
    return CLI_OK;
}

static int
account_ledger(int argc, char **argv)
{
    const char *user = NULL;
    int64_t limit = 0, before = 0;
    const struct sr_opt t[] = {
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &user,
         .metavar = "NAME",
         .help = "another user's ledger (needs the admin scope)"},
        {.name = "--limit",
         .kind = SR_OPT_INT,
         .dst = &limit,
         .metavar = "N",
         .help = "rows per page, 1..100 (default 20)",
         .min = 1,
         .max = SR_MAX_PAGE},
        {.name = "--before",
         .kind = SR_OPT_INT,
         .dst = &before,
         .metavar = "ID",
         .help = "the page after this row: 'next' of the previous page",
         .min = 1,
         .max = INT64_MAX},
    };
    static const struct cli_help h = {
        .cmd = "account ledger",
        .args = "[options]",
        .about = "Prints the ledger, newest first: every reservation, charge, refund and credit\n"
                 "with its job or who made it, and the balance after it.\n",
    };
    struct cli_remote r;
    size_t npos = 0;
    int rc = cli_parse(&h, t, 3, argc, argv, NULL, 0, 0, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    json_t *a = NULL;
    rc = get_account(&r, user, limit, before, &a);
    if (rc != CLI_OK)
        return rc;
    printf("%-8s %-24s %-11s %14s %14s  %s\n", "ID", "TIME", "KIND", "AMOUNT", "BALANCE",
           "JOB / BY");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(a, "ledger"), i, row)
    {
        const char *job = json_string_value(json_object_get(row, "job_id"));
        const char *actor = json_string_value(json_object_get(row, "actor"));
        const char *note = json_string_value(json_object_get(row, "note"));
        printf("%-8" JSON_INTEGER_FORMAT " %-24s %-11s %14" JSON_INTEGER_FORMAT
               " %14" JSON_INTEGER_FORMAT "  %s%s%s\n",
               json_integer_value(json_object_get(row, "id")),
               json_string_value(json_object_get(row, "time")),
               json_string_value(json_object_get(row, "kind")),
               json_integer_value(json_object_get(row, "delta")),
               json_integer_value(json_object_get(row, "balance")),
               job     ? job
               : actor ? actor
                       : "",
               note ? ": " : "", note ? note : "");
    }
    json_t *next = json_object_get(a, "next");
    if (json_is_integer(next))
        printf("more: --before %" JSON_INTEGER_FORMAT "\n", json_integer_value(next));
    json_decref(a);
    return CLI_OK;
}

static int
account_credit(int argc, char **argv)
{
    const char *note = NULL;
    const struct sr_opt t[] = {
        {.name = "--note",
         .kind = SR_OPT_STRING,
         .dst = &note,
         .metavar = "TEXT",
         .help = "why (kept in the ledger row; at most 200 bytes)"},
    };
    static const struct cli_help h = {
        .cmd = "account credit",
        .args = "USER AMOUNT [options]",
        .about = "Adds AMOUNT micro-units to USER's balance (needs a token with the admin\n"
                 "scope); the ledger row names this token's user and the note.\n",
    };
    struct cli_remote r;
    const char *pos[2] = {NULL, NULL};
    size_t npos = 0;
    int rc = cli_parse(&h, t, 1, argc, argv, pos, 2, 2, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    int64_t amount = 0;
    sr_err e = {0};
    if (sr_parse_i64(pos[1], 1, (int64_t)SR_MAX_CREDIT, "AMOUNT", &amount, &e) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "%s", e.msg);
    json_t *body = json_pack("{s:s, s:I}", "user", pos[0], "amount", (json_int_t)amount);
    if (body && note)
        json_object_set_new(body, "note", json_string(note));
    char *text = body ? sr_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return cli_fail(CLI_FAILED, NULL, "out of memory");
    json_t *ans = NULL;
    rc = cli_call(&r, "POST", "/account/credit", text, strlen(text), "application/json", &ans);
    free(text);
    if (rc != CLI_OK)
        return rc;
    printf("credited %" JSON_INTEGER_FORMAT " to '%s': balance %" JSON_INTEGER_FORMAT
           " micro-units\n",
           json_integer_value(json_object_get(ans, "credited")),
           json_string_value(json_object_get(ans, "user")),
           json_integer_value(json_object_get(ans, "balance")));
    json_decref(ans);
    return CLI_OK;
}

static const struct cli_sub account_subs[] = {
    {"show", "your balance, the prices and today's usage against each budget", account_show},
    {"ledger", "every reservation, charge, refund and credit, newest first", account_ledger},
    {"credit", "add to a user's balance (admin)", account_credit},
};

int
cmd_account(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "account",
        .about = "Your balance, budgets and ledger on a sealrund server (docs/accounts.md).\n",
        .subs = account_subs,
        .n = sizeof(account_subs) / sizeof(account_subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
