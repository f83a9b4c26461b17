/* SPDX-License-Identifier: MIT
 *
 * route_secrets.c - the /secrets endpoints (docs/secrets.md, http-api.md):
 * the caller's sealing key, setting a value (sealed on the client, or
 * plain), policies, listing, deletion and the audit. A value never appears
 * in an answer; request bodies are wiped by server.c after each request.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_util.h"

void
sr_api__secret_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner, *name = c->arg[0];
    json_t *body = NULL;
    sr_err e = {0};
    if (sr_json_parse(req->body ? req->body : "", req->body_len, 4, "request body", &body, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "parsing a secret");
        return;
    }
    const json_t *sealed = json_object_get(body, "sealed");
    const json_t *value = json_object_get(body, "value");
    if (!json_is_object(body) || json_object_size(body) != 1 || (!!sealed == !!value) ||
        !json_is_string(sealed ? sealed : value)) {
        sr_api__reply(resp, SR_EINVAL,
                      "body must be {\"sealed\": \"<base64 sealed box>\"} or {\"value\": \"...\"}",
                      "setting a secret");
    } else {
        uint64_t version = 0;
        sr_status rc =
            sr_engine_secret_set(api->eng, owner, name, json_string_value(sealed),
                                 json_string_value(value), json_string_length(value), &version, &e);
        if (rc == SR_EDENIED)
            e.status = SR_EINVAL; /* a box that does not open is a bad request, not a bad token */
        if (rc != SR_OK) {
            sr_api__reply_status(resp, &e, "setting a secret");
        } else {
            resp->status = version == 1 ? 201 : 200;
            resp->body = json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version);
        }
    }
    /* jansson's copy of the value: wipe it before the object is freed */
    const json_t *v = sealed ? sealed : value;
    if (json_is_string(v))
        sodium_memzero((void *)(uintptr_t)json_string_value(v), json_string_length(v));
    json_decref(body);
}

void
sr_api__secret_generate(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    json_t *body = NULL;
    sr_err e = {0};
    if (sr_json_parse(req->body ? req->body : "", req->body_len, 4, "request body", &body, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "generating a key");
        return;
    }
    const json_t *kind = json_object_get(body, "kind");
    if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_string(kind)) {
        sr_api__reply(resp, SR_EINVAL,
                      "body must be {\"kind\": \"ed25519\" | \"secp256k1\" | \"x25519\" | "
                      "\"random32\"}",
                      "generating a key");
        json_decref(body);
        return;
    }
    uint64_t version = 0;
    char pub[131] = "";
    sr_status rc = sr_engine_secret_generate(api->eng, c->owner, c->arg[0], json_string_value(kind),
                                             &version, pub, &e);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "generating a key");
    } else {
        resp->status = version == 1 ? 201 : 200;
        resp->body = json_pack("{s:s, s:s, s:I, s:o}", "name", c->arg[0], "kind",
                               json_string_value(kind), "version", (json_int_t)version,
                               "public_key", pub[0] ? json_string(pub) : json_null());
    }
    json_decref(body);
}

void
sr_api__secret_policy(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner, *name = c->arg[0];
    json_t *policy = NULL;
    sr_err e = {0};
    if (sr_engine_secret_policy(api->eng, owner, name, req->body ? req->body : "", req->body_len,
                                &policy, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "setting a secret policy");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:o}", "name", name, "policy", policy);
}

void
sr_api__secret_audit(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner, *name = c->arg[0];
    int64_t limit = SR_DEFAULT_PAGE;
    int64_t before = 0;
    sr_err e = {0};
    json_t *out = NULL;
    if ((req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                          "query parameter 'limit'", &limit, &e) != SR_OK) ||
        (req->query_before && sr_parse_i64(req->query_before, 1, INT64_MAX,
                                           "query parameter 'before' (an audit id from 'next')",
                                           &before, &e) != SR_OK) ||
        sr_engine_secret_audit(api->eng, owner, name, (size_t)limit, before, &out, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading a secret's audit");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

static void
simple(sr_status rc, json_t *out, const sr_err *e, struct sr_api_response *resp)
{
    if (rc != SR_OK) {
        sr_api__reply_status(resp, e, "secrets");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

void
sr_api__secrets_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *out = NULL;
    sr_status rc = sr_engine_secret_list(api->eng, c->owner, &out, &e);
    simple(rc, out, &e, resp);
}

void
sr_api__secrets_pubkey(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *out = NULL;
    char *pk = NULL;
    sr_status rc = sr_engine_secret_pubkey(api->eng, c->owner, &pk, &e);
    if (rc == SR_OK)
        out = json_pack("{s:s, s:s, s:s}", "public_key", pk, "algorithm",
                        "X25519 (libsodium crypto_box_seal)", "owner", c->owner);
    free(pk);
    simple(rc, out, &e, resp);
}

void
sr_api__secret_delete(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *out = NULL;
    sr_status rc = sr_engine_secret_delete(api->eng, c->owner, c->arg[0], &e);
    if (rc == SR_OK)
        out = json_pack("{s:s, s:b}", "name", c->arg[0], "deleted", 1);
    simple(rc, out, &e, resp);
}
