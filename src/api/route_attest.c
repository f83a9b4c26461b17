/* SPDX-License-Identifier: MIT
 *
 * route_attest.c - GET /attestation (docs/receipts.md, http-api.md): the
 * worker's public key, measurement, quote type and quote, plus the
 * executable hash and configuration the measurement was computed from.
 * Public: it holds nothing secret, and a verifier needs it before it has a
 * token.
 */
#include "api_int.h"

void
sr_api__attestation(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp)
{
    (void)c;
    const json_t *doc = sr_engine_attestation(api->eng);
    if (!doc) {
        sr_api__reply(resp, SR_EIO, "this server has no worker identity: receipts are off",
                      "attestation");
        return;
    }
    /* a copy per answer: the document is shared by every request thread */
    json_t *body = json_deep_copy(doc);
    if (!body) {
        sr_api__reply(resp, SR_ENOMEM, "out of memory answering /attestation", "attestation");
        return;
    }
    resp->status = 200;
    resp->body = body;
}
