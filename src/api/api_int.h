/*
 * api_int.h - private pieces shared by the API's files: the api object,
 * replies, and the routes kept in their own files.
 */
#ifndef SR_API_INT_H
#define SR_API_INT_H

#include "sealrun/sr_api.h"

#include <stdbool.h>
#include <stdint.h>

struct sr_api {
    sr_engine *eng;
    sr_store *store;
};

/* An error body with 'status'. router.c */
void sr_api__reply_error(struct sr_api_response *resp, unsigned status, const char *msg);
/* The reply for a library failure (500s logged with a request id). router.c */
void sr_api__reply_status(struct sr_api_response *resp, const sr_err *e, const char *what);

/* /secrets... route_secrets.c */
bool sr_api__is_secrets_path(const char *path);
void sr_api__route_secrets(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* /storage... route_storage.c */
bool sr_api__is_storage_path(const char *path);
void sr_api__route_storage(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* GET /modules and DELETE /modules/{hash} (upload and lookup are in
 * router.c). route_modules.c */
bool sr_api__is_module_admin(const char *method, const char *path);
void sr_api__route_modules(sr_api *api, const char *owner, const struct sr_api_request *req,
                           struct sr_api_response *resp);

/* GET /attestation (public). route_attest.c */
bool sr_api__is_attestation_path(const char *path);
void sr_api__route_attestation(sr_api *api, const struct sr_api_request *req,
                               struct sr_api_response *resp);

/* The HTTP edge's memory of clients (guard.c): failed authentication per
 * address (a token bucket; docs/security-model.md) and the tokens seen valid
 * lately. Times are CLOCK_MONOTONIC milliseconds. Thread-safe; a NULL guard
 * limits nothing and knows no token. */
sr_status sr_api__guard_new(unsigned failures_per_min, sr_api_guard **out, sr_err *err);
void sr_api__guard_free(sr_api_guard *g);
/* Seconds 'c' must wait before its token is looked at again; 0 = now. */
unsigned sr_api__guard_wait(sr_api_guard *g, const struct sr_api_client *c, int64_t now_ms);
/* Records a failed authentication by 'c'. */
void sr_api__guard_failed(sr_api_guard *g, const struct sr_api_client *c, int64_t now_ms);
/* Remembers that the token with this SHA-256 was valid at now_ms. */
void sr_api__guard_token_ok(sr_api_guard *g, const uint8_t hash[32], int64_t now_ms);
/* Whether it was valid within the last SR_HTTP_KNOWN_TOKEN_MS. */
bool sr_api__guard_token_known(sr_api_guard *g, const uint8_t hash[32], int64_t now_ms);
/* The SHA-256 of the token in an 'Authorization: Bearer <token>' value, as
 * the store keeps it; false when the value is not of that form. */
bool sr_api__bearer_hash(const char *authorization, uint8_t hash[32]);

/* Authenticates req (router.c): the owner (owned) or NULL after filling a
 * 401, 429 (the address is over its failed-authentication limit) or 503
 * response. The server calls it before reading a body. */
char *sr_api__authenticate(sr_api *api, const struct sr_api_request *req,
                           struct sr_api_response *resp);

#endif /* SR_API_INT_H */
