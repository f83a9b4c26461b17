/* SPDX-License-Identifier: MIT
 *
 * route_modules.c - the module endpoints (docs/http-api.md): POST /modules
 * (the upload, checked in a job process of the uploader), GET
 * /modules/{hash}, GET /modules (the caller's modules page by page with
 * their usage and quota) and DELETE /modules/{hash}, which drops the
 * caller's claim. Another user's module is the same 404
 * as a missing one, and a delete never says whether others still have it.
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

static bool
is_hash(const char *s)
{
    return sr_is_lower_hex(s, SR_HASH_HEX_LEN);
}

void
sr_api__modules_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner;
    int64_t limit = SR_DEFAULT_PAGE;
    sr_err e = {0};
    if (req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                         "query parameter 'limit'", &limit, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing modules");
        return;
    }
    if (req->query_before && !is_hash(req->query_before)) {
        sr_api__reply(resp, SR_EINVAL,
                      "query parameter 'before' must be a module hash from 'next' (64 lower-case "
                      "hex characters)",
                      "listing modules");
        return;
    }
    json_t *out = NULL;
    if (sr_engine_module_list(api->eng, owner, (size_t)limit, req->query_before, &out, &e) !=
        SR_OK) {
        sr_api__reply_status(resp, &e, "listing modules");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

void
sr_api__module_delete(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const char *owner = c->owner, *hash = c->arg[0];
    sr_err e = {0};
    if (!is_hash(hash)) {
        sr_api__reply(resp, SR_ENOTFOUND, "module not found", "deleting a module");
        return;
    }
    if (sr_engine_module_delete(api->eng, owner, hash, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "deleting a module");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:b}", "hash", hash, "deleted", 1);
}

void
sr_api__module_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *ct = req->content_type;
    if (!ct || strncasecmp(ct, "application/wasm", 16) != 0) {
        sr_api__reply(resp, SR_EINVAL,
                      "POST /modules takes the raw module bytes with 'Content-Type: "
                      "application/wasm'",
                      "storing a module");
        return;
    }
    if (req->body_len == 0) {
        sr_api__reply(resp, SR_EINVAL, "the request body is empty; send the module's bytes",
                      "storing a module");
        return;
    }
    bool created = false;
    json_t *info = NULL;
    sr_err e = {0};
    if (sr_engine_module_put(api->eng, c->owner, (const uint8_t *)req->body, req->body_len,
                             &created, &info, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "storing a module");
        return;
    }
    json_object_set_new(info, "created", json_boolean(created));
    resp->status = created ? 201 : 200;
    resp->body = info;
}

void
sr_api__module_get(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    json_t *info = NULL;
    sr_err e = {0};
    if (sr_engine_module_info(api->eng, c->owner, c->arg[0], &info, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "loading a module");
        return;
    }
    resp->status = 200;
    resp->body = info;
}
