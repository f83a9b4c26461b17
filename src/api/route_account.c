/* SPDX-License-Identifier: MIT
 *
 * route_account.c - budgets, prices and balances over HTTP
 * (docs/accounts.md): GET /account (a user's balance, today's usage
 * against each budget, the ledger a page at a time), POST /account/credit
 * (admin: adds to a user's balance, one ledger row naming who did it) and
 * POST /estimate (the most a job request may use and cost, from its
 * limits; nothing runs; with "dry_run": true a WebAssembly request runs,
 * never stored, for the exact gas of its input).
 */
#include "api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_util.h"

void
sr_api__account(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *user = sr_api__query_value(req, "user");
    if (user && !sr_is_user_name(user)) {
        sr_api__reply(resp, SR_EINVAL,
                      "query parameter 'user' must be a user name (1..64 characters of A-Z a-z "
                      "0-9 _ - . @)",
                      "reading an account");
        return;
    }
    bool own = !user || strcmp(user, c->owner) == 0;
    if (!own && !(c->token->scopes & SR_SCOPE_ADMIN)) {
        sr_api__reply(resp, SR_EFORBIDDEN, "reading another user's account needs the 'admin' scope",
                      "checking a scope");
        return;
    }
    int64_t limit = SR_DEFAULT_PAGE, before = 0;
    sr_err e = {0};
    json_t *out = NULL;
    if ((req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                          "query parameter 'limit'", &limit, &e) != SR_OK) ||
        (req->query_before && sr_parse_i64(req->query_before, 1, INT64_MAX,
                                           "query parameter 'before' (a ledger id from 'next')",
                                           &before, &e) != SR_OK) ||
        sr_engine_account(api->eng, own ? c->owner : user, own ? c->token->id : NULL, (size_t)limit,
                          before, &out, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading an account");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

/* {"user": NAME, "amount": N, "note": TEXT?}, nothing else. */
static sr_status
parse_credit(const json_t *b, const char **user, uint64_t *amount, const char **note, sr_err *err)
{
    if (!json_is_object(b))
        return sr_err_set(err, SR_EINVAL,
                          "body must be {\"user\": NAME, \"amount\": N, \"note\": TEXT}");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)b, key, v)
    {
        if (strcmp(key, "user") != 0 && strcmp(key, "amount") != 0 && strcmp(key, "note") != 0)
            return sr_err_set(err, SR_EINVAL, "unknown field '%.64s': expected user, amount, note",
                              key);
    }
    *user = json_string_value(json_object_get(b, "user"));
    if (!*user || !sr_is_user_name(*user))
        return sr_err_set(err, SR_EINVAL,
                          "field 'user' must be a user name (1..64 characters of A-Z a-z 0-9 _ "
                          "- . @)");
    json_t *a = json_object_get(b, "amount");
    if (!json_is_integer(a) || json_integer_value(a) < 1 ||
        (uint64_t)json_integer_value(a) > SR_MAX_CREDIT)
        return sr_err_set(err, SR_EINVAL, "field 'amount' must be an integer 1..%llu (micro-units)",
                          (unsigned long long)SR_MAX_CREDIT);
    *amount = (uint64_t)json_integer_value(a);
    json_t *n = json_object_get(b, "note");
    *note = NULL;
    if (n && !json_is_null(n)) {
        *note = json_string_value(n);
        if (!*note || strlen(*note) > 200)
            return sr_err_set(err, SR_EINVAL, "field 'note' must be a string of at most 200 bytes");
    }
    return SR_OK;
}

void
sr_api__account_credit(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    const char *user = NULL, *note = NULL;
    uint64_t amount = 0, balance = 0;
    char actor[SR_MAX_USER_NAME + 32];
    (void)snprintf(actor, sizeof(actor), "%s (token %s)", c->owner, c->token->id);
    if (sr_json_parse(req->body ? req->body : "", req->body_len, 4, "request body", &body, &e) !=
            SR_OK ||
        parse_credit(body, &user, &amount, &note, &e) != SR_OK ||
        sr_engine_credit(api->eng, user, amount, actor, note, &balance, &e) != SR_OK) {
        json_decref(body);
        sr_api__reply_status(resp, &e, "crediting an account");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:I, s:I, s:s}", "user", user, "credited", (json_int_t)amount,
                           "balance", (json_int_t)balance, "unit", "micro-units");
    json_decref(body);
}

void
sr_api__estimate(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    if (sr_json_parse(req->body ? req->body : "", req->body_len, SR_MAX_JSON_DEPTH, "request body",
                      &body, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "parsing a request");
        return;
    }
    /* "dry_run": true (WebAssembly): run it for the exact gas of this input */
    json_t *dry = json_object_get(body, "dry_run");
    sr_status rc = dry && !json_is_boolean(dry)
                       ? sr_err_set(&e, SR_EINVAL, "field 'dry_run' must be true or false")
                       : SR_OK;
    bool is_dry = json_is_true(dry);
    if (json_is_object(body))
        json_object_del(body, "dry_run");
    struct sr_job_request jr;
    if (rc == SR_OK)
        rc = sr_job_request_parse(body, &jr, &e);
    json_decref(body);
    json_t *out = NULL;
    if (rc == SR_OK) {
        (void)snprintf(jr.token_id, sizeof(jr.token_id), "%s", c->token->id);
        rc = is_dry ? sr_engine_dry_run(api->eng, c->owner, &jr, &out, &e)
                    : sr_engine_estimate(api->eng, &jr, &out, &e);
        sr_job_request_fini(&jr);
    }
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "estimating a job");
        return;
    }
    resp->status = 200;
    resp->body = out;
}
