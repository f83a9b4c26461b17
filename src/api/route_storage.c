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

#define PREFIX "/storage/"

bool
sr_api__is_storage_path(const char *path)
{
    return strncmp(path, PREFIX, sizeof(PREFIX) - 1) == 0 || strcmp(path, "/storage") == 0;
}

static void
list(sr_api *api, const char *owner, const char *ns, const struct sr_api_request *req,
     struct sr_api_response *resp)
{
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

static void
get_value(sr_api *api, const char *owner, const char *ns, const char *key,
          struct sr_api_response *resp)
{
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
        sr_api__reply_error(resp, 500, "out of memory encoding a value");
        return;
    }
    resp->status = 200;
    resp->body = json_pack("{s:s, s:s, s:s, s:I, s:I}", "namespace", ns, "key", key, "value", b64,
                           "size", (json_int_t)len, "version", (json_int_t)version);
    free(b64);
}

static void
put_value(sr_api *api, const char *owner, const char *ns, const char *key,
          const struct sr_api_request *req, struct sr_api_response *resp)
{
    const char *ct = req->content_type;
    if (!ct || strncasecmp(ct, "application/octet-stream", 24) != 0) {
        sr_api__reply_error(resp, 400,
                            "PUT /storage/{namespace}/{key} takes the raw value bytes with "
                            "'Content-Type: application/octet-stream'");
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

static void
delete_value(sr_api *api, const char *owner, const char *ns, const char *key,
             struct sr_api_response *resp)
{
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

static void
not_allowed(const char *method, const char *allowed, struct sr_api_response *resp)
{
    char msg[160];
    (void)snprintf(msg, sizeof(msg), "method %.10s not allowed here; use %s", method, allowed);
    sr_api__reply_error(resp, 405, msg);
}

static void
namespaces(sr_api *api, const char *owner, const char *m, struct sr_api_response *resp)
{
    sr_err e = {0};
    json_t *out = NULL;
    if (strcmp(m, "GET") != 0) {
        not_allowed(m, "GET (PUT and DELETE take /storage/{namespace}/{key})", resp);
        return;
    }
    if (sr_engine_storage_namespaces(api->eng, owner, &out, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "listing storage namespaces");
        return;
    }
    resp->status = 200;
    resp->body = out;
}

void
sr_api__route_storage(sr_api *api, const char *owner, const struct sr_api_request *req,
                      struct sr_api_response *resp)
{
    const char *m = req->method;
    if (strcmp(req->path, "/storage") == 0) {
        namespaces(api, owner, m, resp);
        return;
    }
    const char *rest = req->path + (strcmp(req->path, "/storage") == 0 ? 8 : sizeof(PREFIX) - 1);
    const char *slash = strchr(rest, '/');
    size_t ns_len = slash ? (size_t)(slash - rest) : strlen(rest);
    char ns[SR_STORAGE_MAX_NS + 1];
    sr_err e = {0};
    if (sr_storage_ns_check(rest, ns_len, &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "storage");
        return;
    }
    (void)snprintf(ns, sizeof(ns), "%.*s", (int)ns_len, rest);
    if (!slash) {
        if (strcmp(m, "GET") != 0)
            not_allowed(m, "GET (PUT and DELETE take /storage/{namespace}/{key})", resp);
        else
            list(api, owner, ns, req, resp);
        return;
    }
    const char *key = slash + 1;
    if (sr_storage_key_check((const uint8_t *)key, strlen(key), &e) != SR_OK) {
        sr_api__reply_status(resp, &e, "storage");
        return;
    }
    if (strcmp(m, "GET") == 0)
        get_value(api, owner, ns, key, resp);
    else if (strcmp(m, "PUT") == 0)
        put_value(api, owner, ns, key, req, resp);
    else if (strcmp(m, "DELETE") == 0)
        delete_value(api, owner, ns, key, resp);
    else
        not_allowed(m, "GET, PUT or DELETE", resp);
}
