/* SPDX-License-Identifier: MIT
 *
 * route_storage.c - the /storage endpoints (docs/storage.md, http-api.md):
 *   GET    /storage                                     the caller's namespaces and totals
 *   GET    /storage/{namespace}?prefix=&limit=&after=   keys, sizes, versions
 *   GET    /storage/{namespace}/{key}                   the value in base64
 *   PUT    /storage/{namespace}/{key}                   raw bytes (octet-stream)
 *   DELETE /storage/{namespace}/{key}
 * Always the caller's own namespaces. The key is the rest of the path after
 * the namespace (libmicrohttpd has percent-decoded it, so '/' is %2F or a
 * plain '/'). Each PUT or DELETE is one commit: it bumps the version.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

/* The namespace and key of /storage/{namespace}[/{key}], checked; false
 * with resp filled when either is malformed. */
static bool
names_ok(const struct sr_api__call *c, bool with_key, struct sr_api_response *resp)
{
    sr_err e = {0};
    if (sr_storage_ns_check(c->arg[0], strlen(c->arg[0]), &e) != SR_OK ||
        (with_key &&
         sr_storage_key_check((const uint8_t *)c->arg[1], strlen(c->arg[1]), &e) != SR_OK)) {
        sr_api__reply_status(resp, &e, "storage");
        return false;
    }
    return true;
}

void
sr_api__storage_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner, *ns = c->arg[0];
    if (!names_ok(c, false, resp))
        return;
    int64_t limit = SR_STORAGE_DEFAULT_LIST;
    sr_err e = {0};
    json_t *out = NULL;
    if (req->query_limit && sr_parse_i64(req->query_limit, 1, SR_STORAGE_MAX_LIST,
                                         "query parameter 'limit'", &limit, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing storage");
        return;
    }
    if (sr_engine_storage_list(api->eng, owner, ns, req->query_prefix, req->query_after,
                               (size_t)limit, &out, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing storage");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

void
sr_api__storage_get(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const char *owner = c->owner, *ns = c->arg[0], *key = c->arg[1];
    if (!names_ok(c, true, resp))
        return;
    uint8_t *v = NULL;
    size_t len = 0;
    uint64_t version = 0;
    sr_err e = {0};
    if (sr_engine_storage_get(api->eng, owner, ns, (const uint8_t *)key, strlen(key), &v, &len,
                              &version, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "reading storage");
        return;
    }
    char *b64 = sr_base64_encode(v, len);
    sodium_memzero(v, len);
    free(v);
    if (!b64) {
        sr_api__reply(resp, SR_ENOMEM, "out of memory encoding a value", "reading storage");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:s, s:I, s:I}", "namespace", ns, "key", key, "value", b64,
                           "size", (json_int_t)len, "version", (json_int_t)version);
    free(b64);
}

void
sr_api__storage_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const struct sr_api_request *req = c->req;
    const char *owner = c->owner, *ns = c->arg[0], *key = c->arg[1];
    if (!names_ok(c, true, resp))
        return;
    const char *ct = req->content_type;
    if (!ct || strncasecmp(ct, "application/octet-stream", 24) != 0) {
        sr_api__reply(resp, SR_EINVAL,
                      "PUT /storage/{namespace}/{key} takes the raw value bytes with "
                      "'Content-Type: application/octet-stream'",
                      "writing storage");
        return;
    }
    uint64_t version = 0;
    sr_err e = {0};
    if (sr_engine_storage_put(api->eng, owner, ns, (const uint8_t *)key, strlen(key),
                              (const uint8_t *)(req->body ? req->body : ""), req->body_len,
                              &version, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "writing storage");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:I, s:I}", "namespace", ns, "key", key, "size",
                           (json_int_t)req->body_len, "version", (json_int_t)version);
}

void
sr_api__storage_delete(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    const char *owner = c->owner, *ns = c->arg[0], *key = c->arg[1];
    if (!names_ok(c, true, resp))
        return;
    uint64_t version = 0;
    sr_err e = {0};
    if (sr_engine_storage_put(api->eng, owner, ns, (const uint8_t *)key, strlen(key), NULL, 0,
                              &version, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "deleting from storage");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:b, s:I}", "namespace", ns, "key", key, "deleted", 1,
                           "version", (json_int_t)version);
}

void
sr_api__storage_namespaces(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *out = NULL;
    if (sr_engine_storage_namespaces(api->eng, c->owner, &out, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing storage namespaces");
        return;
    }
    resp->status = 200;
    resp->body = out;
}
