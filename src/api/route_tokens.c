/* SPDX-License-Identifier: MIT
 *
 * route_tokens.c - the /tokens endpoints (docs/accounts.md#tokens-and-scopes):
 * list, create and revoke API tokens over HTTP.
 *
 * Any valid token may manage its own user's tokens, never beyond itself: a
 * new token gets at most the scopes of the token that made it and expires
 * no later than it; a token may revoke itself and those of its user's
 * tokens whose scopes it holds all of. A token with the admin scope may do
 * all of this for any user and may give any scope, admin included. Only a
 * token's SHA-256 is stored; the token itself is in the 201 answer alone.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

#define TOKEN_ID_MAX 64 /* hex characters of a token id prefix */

static bool
is_admin(const struct sr_api__call *c)
{
    return (c->token->scopes & SR_SCOPE_ADMIN) != 0;
}

static json_t *
time_or_null(int64_t ms)
{
    if (!ms)
        return json_null();
    char t[32];
    sr_time_rfc3339(ms, t);
    return json_string(t);
}

static json_t *
scopes_json(uint32_t set)
{
    json_t *a = json_array();
    for (uint32_t bit = 1; bit <= SR_SCOPE_ADMIN; bit <<= 1)
        if ((set & bit) && sr_scope_name(bit))
            json_array_append_new(a, json_string(sr_scope_name(bit)));
    return a;
}

/* A token as the API shows it: never the token or its whole hash. */
static json_t *
token_json(const struct sr_token_row *r, int64_t now_ms)
{
    const char *state = r->revoked_at_ms                                 ? "revoked"
                        : r->expires_at_ms && r->expires_at_ms <= now_ms ? "expired"
                                                                         : "valid";
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "id", r->id, "user", r->owner,
                     "label", r->label ? json_string(r->label) : json_null(), "scopes",
                     scopes_json(r->scopes), "state", state, "created_at",
                     time_or_null(r->created_at_ms), "expires_at", time_or_null(r->expires_at_ms),
                     "revoked_at", time_or_null(r->revoked_at_ms));
}

static void
free_rows(struct sr_token_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sr_token_row_fini(&rows[i]);
    free(rows);
}

/* 403 unless the caller is 'user' or holds admin. */
static bool
own_or_admin(const struct sr_api__call *c, const char *user, const char *doing,
             struct sr_api_response *resp)
{
    if (strcmp(user, c->owner) == 0 || is_admin(c))
        return true;
    char msg[200];
    (void)snprintf(msg, sizeof(msg), "%s another user's tokens needs the 'admin' scope", doing);
    sr_api__reply(resp, SR_EFORBIDDEN, msg, "checking a scope");
    return false;
}

void
sr_api__tokens_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const char *user = sr_api__query_value(c->req, "user");
    if (user && !sr_is_user_name(user)) {
        sr_api__reply(resp, SR_EINVAL,
                      "query parameter 'user' must be a user name (1..64 characters of A-Z a-z "
                      "0-9 _ - . @)",
                      "listing tokens");
        return;
    }
    if (!user)
        user = c->owner;
    if (!own_or_admin(c, user, "listing", resp))
        return;
    struct sr_token_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_token_list(api->store, user, &rows, &n, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing tokens");
        return;
    }
    int64_t now = sr_now_ms();
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, token_json(&rows[i], now));
    free_rows(rows, n);
    resp->status = 200;
    resp->body = json_pack("{s:s, s:o}", "user", user, "tokens", list);
}

/* What a POST /tokens body asks for. */
struct token_ask {
    const char *user;
    const char *label;
    uint32_t scopes;       /* 0: not given */
    int64_t expires_in_ms; /* 0: not given */
};

static sr_status
parse_scopes(const json_t *v, uint32_t *out, sr_err *err)
{
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16)
        return sr_err_set(err, SR_EINVAL,
                          "field 'scopes' must be an array of 1 to 16 scope names "
                          "(\"execute\", \"jobs:read\", ...)");
    uint32_t set = 0;
    size_t i;
    const json_t *s;
    json_array_foreach(v, i, s)
    {
        uint32_t one = 0;
        const char *name = json_string_value(s);
        if (!name || strpbrk(name, ", "))
            return sr_err_set(err, SR_EINVAL,
                              "field 'scopes': item %zu must be a string holding one scope name",
                              i);
        sr_status rc = sr_scopes_parse(name, "field 'scopes'", &one, err);
        if (rc != SR_OK)
            return rc;
        set |= one;
    }
    *out = set;
    return SR_OK;
}

static sr_status
parse_expiry(const json_t *v, int64_t *out, sr_err *err)
{
    int64_t ms = 0;
    if (json_is_integer(v) && json_integer_value(v) > 0 &&
        json_integer_value(v) <= SR_MAX_TOKEN_LIFETIME_MS / 1000)
        ms = json_integer_value(v) * 1000;
    else if (json_is_string(v) && sr_parse_duration_ms(json_string_value(v), &ms, err) != SR_OK)
        return sr_err_wrap(err, "field 'expires_in'");
    if (ms <= 0 || ms > SR_MAX_TOKEN_LIFETIME_MS)
        return sr_err_set(err, SR_EINVAL,
                          "field 'expires_in' must be a duration (\"24h\", \"90m\") or a number "
                          "of seconds, from 1 s to 3650 days");
    *out = ms;
    return SR_OK;
}

static sr_status
parse_ask(const json_t *body, struct token_ask *a, sr_err *err)
{
    if (!json_is_object(body))
        return sr_err_set(err, SR_EINVAL, "request body must be a JSON object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)body, k, v)
    {
        sr_status rc = SR_OK;
        if (strcmp(k, "user") == 0 && json_is_string(v) && sr_is_user_name(json_string_value(v)))
            a->user = json_string_value(v);
        else if (strcmp(k, "user") == 0)
            rc = sr_err_set(err, SR_EINVAL,
                            "field 'user' must be a user name (1..64 characters of A-Z a-z 0-9 _ "
                            "- . @)");
        else if (strcmp(k, "label") == 0 && (json_is_string(v) || json_is_null(v)))
            a->label = json_string_value(v);
        else if (strcmp(k, "label") == 0)
            rc = sr_err_set(err, SR_EINVAL, "field 'label' must be a string");
        else if (strcmp(k, "scopes") == 0)
            rc = parse_scopes(v, &a->scopes, err);
        else if (strcmp(k, "expires_in") == 0)
            rc = parse_expiry(v, &a->expires_in_ms, err);
        else
            rc = sr_err_set(err, SR_EINVAL,
                            "unknown field '%.64s'; expected user, scopes, label, expires_in", k);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}

/* SR_ELIMIT when 'user' already holds SR_MAX_TOKENS_PER_USER valid tokens. */
static sr_status
check_count(sr_store *st, const char *user, int64_t now_ms, sr_err *err)
{
    struct sr_token_row *rows = NULL;
    size_t n = 0, valid = 0;
    sr_status rc = sr_store_token_list(st, user, &rows, &n, err);
    if (rc != SR_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        valid +=
            !rows[i].revoked_at_ms && (!rows[i].expires_at_ms || rows[i].expires_at_ms > now_ms);
    free_rows(rows, n);
    if (valid >= SR_MAX_TOKENS_PER_USER)
        return sr_err_set(err, SR_ELIMIT,
                          "user '%s' holds %zu valid tokens, the limit (%d); revoke some first",
                          user, valid, SR_MAX_TOKENS_PER_USER);
    return SR_OK;
}

/* What the caller may give: fills in the defaults, or fills a 403. */
static bool
bounded_by_caller(const struct sr_api__call *c, struct token_ask *a, int64_t now_ms,
                  struct sr_api_response *resp)
{
    const struct sr_token_row *t = c->token;
    if (!a->scopes)
        a->scopes = SR_SCOPES_USER & (is_admin(c) ? SR_SCOPES_ALL : t->scopes);
    if (is_admin(c))
        return true;
    char msg[300], names[SR_SCOPES_TEXT_MAX];
    if (a->scopes & ~t->scopes) {
        (void)snprintf(msg, sizeof(msg),
                       "a token can only give the scopes it has: token %s lacks '%s'", t->id,
                       sr_scopes_format(a->scopes & ~t->scopes, names, sizeof(names)));
        sr_api__reply(resp, SR_EFORBIDDEN, msg, "creating a token");
        return false;
    }
    if (t->expires_at_ms && !a->expires_in_ms)
        a->expires_in_ms = t->expires_at_ms - now_ms;
    if (t->expires_at_ms && now_ms + a->expires_in_ms > t->expires_at_ms) {
        char until[32];
        sr_time_rfc3339(t->expires_at_ms, until);
        (void)snprintf(msg, sizeof(msg),
                       "a token cannot outlive the token that makes it: token %s expires at %s",
                       t->id, until);
        sr_api__reply(resp, SR_EFORBIDDEN, msg, "creating a token");
        return false;
    }
    return true;
}

static void
create_one(sr_api *api, const struct token_ask *a, int64_t now_ms, struct sr_api_response *resp)
{
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    const struct sr_token_new t = {
        .hash = hash,
        .owner = a->user,
        .label = a->label,
        .scopes = a->scopes,
        .expires_at_ms = a->expires_in_ms ? now_ms + a->expires_in_ms : 0,
        .now_ms = now_ms,
    };
    sr_err e = {0};
    sr_status rc = check_count(api->store, a->user, now_ms, &e);
    if (rc == SR_OK)
        rc = sr_store_token_create(api->store, &t, &e);
    if (rc != SR_OK) {
        sodium_memzero(tok, sizeof(tok));
        sr_api__reply_status(resp, &e, "creating a token");
        return;
    }
    struct sr_token_row row = {
        .owner = (char *)(uintptr_t)a->user,
        .label = (char *)(uintptr_t)a->label,
        .created_at_ms = now_ms,
        .scopes = t.scopes,
        .expires_at_ms = t.expires_at_ms,
    };
    sr_hex_encode(hash, 8, row.id);
    resp->status = 201;
    resp->body = token_json(&row, now_ms);
    json_object_set_new(resp->body, "token", json_string(tok));
    sodium_memzero(tok, sizeof(tok));
}

void
sr_api__token_create(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    if (sr_json_parse(req->body ? req->body : "", req->body_len, 4, "request body", &body, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "parsing a token request");
        return;
    }
    struct token_ask a = {.user = c->owner};
    int64_t now = sr_now_ms();
    if (parse_ask(body, &a, &e) != SR_OK)
        sr_api__reply_status(resp, &e, "creating a token");
    else if (own_or_admin(c, a.user, "creating", resp) && bounded_by_caller(c, &a, now, resp))
        create_one(api, &a, now, resp);
    json_decref(body);
}

/* The one token of c->owner that 'prefix' names, or a 404/409 filled. */
static bool
find_own(sr_api *api, const struct sr_api__call *c, const char *prefix, struct sr_token_row *out,
         struct sr_api_response *resp)
{
    struct sr_token_row *rows = NULL;
    size_t n = 0, hits = 0, cmp = strlen(prefix) < 16 ? strlen(prefix) : 16;
    sr_err e = {0};
    if (sr_store_token_list(api->store, c->owner, &rows, &n, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "revoking a token");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(rows[i].id, prefix, cmp) != 0)
            continue;
        if (hits++ == 0) {
            *out = rows[i];
            memset(&rows[i], 0, sizeof(rows[i]));
        }
    }
    free_rows(rows, n);
    if (hits == 1)
        return true;
    if (hits)
        sr_token_row_fini(out);
    sr_api__reply(resp, hits ? SR_ECONFLICT : SR_ENOTFOUND,
                  hits ? "token id is ambiguous: it matches more than one token; give more "
                         "characters"
                       : "token not found",
                  "revoking a token");
    return false;
}

void
sr_api__token_revoke(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const char *prefix = c->arg[0];
    size_t len = strnlen(prefix, TOKEN_ID_MAX + 1);
    if (len < 8 || len > TOKEN_ID_MAX || !sr_is_lower_hex(prefix, len)) {
        sr_api__reply(resp, SR_EINVAL,
                      "token id must be 8 to 64 lower-case hex characters (the 'id' of GET "
                      "/tokens)",
                      "revoking a token");
        return;
    }
    struct sr_token_row target = {.id = ""};
    if (!is_admin(c)) {
        if (!find_own(api, c, prefix, &target, resp))
            return;
        bool self = strcmp(target.id, c->token->id) == 0;
        if (!self && (target.scopes & ~c->token->scopes)) {
            char names[SR_SCOPES_TEXT_MAX], msg[300];
            (void)snprintf(
                msg, sizeof(msg), "revoking token %s needs every scope it has: token %s lacks '%s'",
                target.id, c->token->id,
                sr_scopes_format(target.scopes & ~c->token->scopes, names, sizeof(names)));
            sr_token_row_fini(&target);
            sr_api__reply(resp, SR_EFORBIDDEN, msg, "revoking a token");
            return;
        }
        sr_token_row_fini(&target);
    }
    sr_err e = {0};
    if (sr_store_token_revoke_owned(api->store, is_admin(c) ? NULL : c->owner, prefix, sr_now_ms(),
                                    &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "revoking a token");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:b}", "id", prefix, "revoked", 1);
}
