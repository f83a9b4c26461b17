/* SPDX-License-Identifier: MIT
 *
 * route_attest.c - GET /attestation (docs/receipts.md, http-api.md): the
 * worker's public key, measurement, quote type and quote, plus the
 * executable hash and configuration the measurement was computed from.
 * Public: it holds nothing secret, and a verifier needs it before it has a
 * token.
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

bool
sr_api__is_attestation_path(const char *path)
{
    return strcmp(path, "/attestation") == 0;
}

void
sr_api__route_attestation(sr_api *api, const struct sr_api_request *req,
                          struct sr_api_response *resp)
{
    if (strcmp(req->method, "GET") != 0) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "method %.10s not allowed on '/attestation'; use GET",
                       req->method);
        sr_api__reply_error(resp, 405, msg);
        return;
    }
    const json_t *doc = sr_engine_attestation(api->eng);
    if (!doc) {
        sr_api__reply_error(resp, 503, "this server has no worker identity: receipts are off");
        return;
    }
    /* a copy per answer: the document is shared by every request thread */
    json_t *body = json_deep_copy(doc);
    if (!body) {
        sr_api__reply_error(resp, 500, "out of memory answering /attestation");
        return;
    }
    resp->status = 200;
    resp->body = body;
}
