/* SPDX-License-Identifier: MIT
 *
 * route_keystore.c - the keystore's channel at both ends (docs/keystore.md).
 *
 * On a keystore (sealrund --role keystore) its listener serves only the
 * keystore's routes (sr_keystore_handle): GET /keystore/pubkey, POST
 * /keystore/seal, /keystore/generate and /keystore/storage-keys from the
 * coordinator, POST
 * /keystore/release from workers. On a coordinator with --keystore, POST
 * /keystore/context and /keystore/audit answer the keystore: each request
 * must be signed by the pinned keystore key (--keystore-key), each answer
 * is signed by this coordinator's key. A failed signature counts against
 * the client address like a failed token (guard.c).
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_keystore.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define QUERY_TEXT_MAX 512 /* bytes of the signed query text */

void
sr_api_set_keystore(sr_api *api, sr_keystore *ks)
{
    api->keystore = ks;
}

void
sr_api_set_keystore_peer(sr_api *api, const uint8_t keystore_pk[32], const sr_worker_key *key)
{
    memcpy(api->keystore_pk, keystore_pk, sizeof(api->keystore_pk));
    api->coordinator_key = key;
}

bool
sr_api__keystore_channel(const sr_api *api, const char *path)
{
    /* a keystore's listener has no tokens to check: every request goes to
     * its dispatch, which answers what is not its own with 404 */
    return api->keystore || (api->coordinator_key && strncmp(path, "/keystore/", 10) == 0);
}

static void
reply_err(const struct sr_api_request *req, struct sr_api_response *resp, const sr_err *e,
          const char *what)
{
    if (e->status == SR_EDENIED && strstr(e->msg, "signature"))
        sr_api__guard_failed(req->guard, &req->client, sr_mono_us() / 1000);
    if (e->status == SR_EDENIED)
        resp->authenticated = false;
    sr_api__reply_status(resp, e, what);
}

void
sr_api__dispatch_keystore(sr_api *api, const struct sr_api_request *req,
                          struct sr_api_response *resp)
{
    char query[QUERY_TEXT_MAX];
    sr_err e = {0};
    if (!sr_api__signed_query(req, query, sizeof(query))) {
        sr_api__reply(resp, SR_EINVAL, "query string too long for a keystore request", "keystore");
        return;
    }
    const struct sr_keystore_request kr = {.method = req->method,
                                           .path = req->path,
                                           .query = query,
                                           .owner = sr_api__query_value(req, "owner"),
                                           .time_text = req->worker_time,
                                           .signature = req->worker_signature,
                                           .body = req->body,
                                           .body_len = req->body_len};
    json_t *out = NULL;
    if (sr_keystore_handle(api->keystore, &kr, &out, &e) != SR_OK) {
        if (e.status == SR_ENOTFOUND && strstr(e.msg, "no such endpoint"))
            sr_api__reply_error(resp, 404, e.msg);
        else
            reply_err(req, resp, &e, "keystore");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

/* The request is the pinned keystore's: false after filling resp. */
static bool
from_keystore(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp,
              json_t **body)
{
    const struct sr_api_request *req = c->req;
    sr_err e = {0};
    if (!api->coordinator_key) {
        sr_api__reply(resp, SR_ECONFLICT,
                      "this sealrund has no keystore (sealrund --role coordinator --keystore URL "
                      "--keystore-key KEY)",
                      "keystore");
        return false;
    }
    if (sr_keystore_request_verify(api->keystore_pk, req->method, req->path, "", req->worker_time,
                                   req->worker_signature, req->body, req->body_len, &e) != SR_OK) {
        sr_err_wrap(&e, "only the keystore (--keystore-key) may ask this");
        reply_err(req, resp, &e, "authenticating the keystore");
        return false;
    }
    if (sr_json_parse(req->body ? req->body : "", req->body_len, 8, "the request body", body, &e) !=
            SR_OK ||
        !json_is_object(*body)) {
        if (e.status == SR_OK)
            sr_err_set(&e, SR_EINVAL, "the request body must be a JSON object");
        json_decref(*body);
        *body = NULL;
        sr_api__reply_status(resp, &e, "keystore");
        return false;
    }
    return true;
}

static void
signed_reply(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp, json_t *a)
{
    json_t *env =
        a ? sr_keystore_answer_sign(api->coordinator_key, c->req->path, c->req->worker_signature, a)
          : NULL;
    json_decref(a);
    if (!env) {
        sr_api__reply(resp, SR_ENOMEM, "out of memory signing an answer", "keystore");
        return;
    }
    resp->status = 200;
    resp->body = env;
}

void
sr_api__keystore_context(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    json_t *b = NULL;
    if (!from_keystore(api, c, resp, &b))
        return;
    const char *wpk = json_string_value(json_object_get(b, "worker_public_key"));
    const char *id = json_string_value(json_object_get(b, "job_id"));
    json_int_t fence = json_integer_value(json_object_get(b, "fence"));
    uint8_t pk[SR_ED25519_PK_LEN];
    if (!wpk || strlen(wpk) != 64 || !sr_is_lower_hex(wpk, 64) || !id ||
        strlen(id) != SR_ID_HEX_LEN || !sr_is_lower_hex(id, SR_ID_HEX_LEN) || fence < 1) {
        json_decref(b);
        sr_api__reply(resp, SR_EINVAL,
                      "POST /keystore/context needs 'worker_public_key' (64 hex), 'job_id' (32 "
                      "hex) and 'fence' (>= 1)",
                      "keystore");
        return;
    }
    (void)sr_hex_decode(wpk, 64, pk, sizeof(pk), NULL);
    json_t *a = NULL;
    sr_err e = {0};
    sr_status rc = sr_engine_keystore_context(api->eng, pk, id, (uint64_t)fence, &a, &e);
    json_decref(b);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "the release context");
        return;
    }
    signed_reply(api, c, resp, a);
}

void
sr_api__keystore_audit(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    json_t *b = NULL;
    if (!from_keystore(api, c, resp, &b))
        return;
    const json_t *records = json_object_get(b, "records");
    sr_err e = {0};
    sr_status rc = sr_engine_keystore_audit(api->eng, records, &e);
    size_t n = json_array_size(records);
    json_decref(b);
    if (rc != SR_OK) {
        sr_api__reply_status(resp, &e, "storing the keystore's audit");
        return;
    }
    signed_reply(api, c, resp, json_pack("{s:I}", "stored", (json_int_t)n));
}
