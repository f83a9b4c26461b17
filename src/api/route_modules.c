/* SPDX-License-Identifier: MIT
 *
 * route_modules.c - the module endpoints beside upload and lookup (which
 * are in router.c): GET /modules, the caller's modules page by page with
 * their usage and quota, and DELETE /modules/{hash}, which drops the
 * caller's claim (docs/http-api.md). Another user's module is the same 404
 * as a missing one, and a delete never says whether others still have it.
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

bool
sr_api__is_module_admin(const char *method, const char *path)
{
    return (strcmp(method, "GET") == 0 && strcmp(path, "/modules") == 0) ||
           (strcmp(method, "DELETE") == 0 && strncmp(path, "/modules/", 9) == 0 && path[9]);
}

static bool
is_hash(const char *s)
{
    return sr_is_lower_hex(s, SR_HASH_HEX_LEN);
}

static void
list_modules(sr_api *api, const char *owner, const struct sr_api_request *req,
             struct sr_api_response *resp)
{
    int64_t limit = SR_DEFAULT_PAGE;
    sr_err e = {0};
    if (req->query_limit && sr_parse_i64(req->query_limit, 1, SR_MAX_PAGE,
                                         "query parameter 'limit'", &limit, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing modules");
        return;
    }
    if (req->query_before && !is_hash(req->query_before)) {
        sr_api__reply_error(resp, 400,
                            "query parameter 'before' must be a module hash from 'next' (64 "
                            "lower-case hex characters)");
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

static void
delete_module(sr_api *api, const char *owner, const char *hash, struct sr_api_response *resp)
{
    sr_err e = {0};
    if (!is_hash(hash)) {
        sr_api__reply_error(resp, 404, "module not found");
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
sr_api__route_modules(sr_api *api, const char *owner, const struct sr_api_request *req,
                      struct sr_api_response *resp)
{
    if (strcmp(req->method, "GET") == 0)
        list_modules(api, owner, req, resp);
    else
        delete_module(api, owner, req->path + 9, resp);
}
