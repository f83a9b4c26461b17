/* SPDX-License-Identifier: MIT
 *
 * api_int.h - private pieces shared by the API's files: the api object,
 * replies, and the routes kept in their own files.
 */
#ifndef SR_API_INT_H
#define SR_API_INT_H

#include "sealrun/sr_api.h"
#include "sealrun/sr_store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Polls remembered for the clock window (about 34 polls a second over the
 * two minutes a request's time is accepted); past it a poll is 429. */
#define SR_API_SEEN_POLLS 4096

struct sr_api {
    sr_engine *eng;
    sr_store *store;
    char *dashboard_dir;         /* owned; NULL: the embedded dashboard */
    enum sr_api_tamper tamper;   /* test builds only (test_hooks.c) */
    bool metrics_only;           /* a metrics listener: GET /metrics only (route_metrics.c) */
    struct sr_api__rates *rates; /* owned; NULL: no rate limits */
    bool workers_require_tdx;    /* --worker-attestation tdx (route_workers.c) */
    /* route_keystore.c: a keystore's listener serves it alone (borrowed);
     * a coordinator with --keystore pins the keystore's key and signs its
     * answers to it with its own key (borrowed) */
    sr_keystore *keystore;
    uint8_t keystore_pk[32];
    const sr_worker_key *coordinator_key;
    /* the signatures of the workers' polls accepted within the clock window
     * (route_workers.c): a poll seen before is a replay */
    pthread_mutex_t seen_mu;
    struct sr_api__seen {
        uint8_t h[16];    /* first 16 bytes of SHA-256 of the signature */
        int64_t until_ms; /* kept until its time is outside the window; 0 = free */
    } seen[SR_API_SEEN_POLLS];
};

/* One matched request as a route handler sees it. */
struct sr_api__call {
    const struct sr_api_request *req;
    const char *owner;  /* the authenticated user; NULL on public routes */
    const char *arg[2]; /* the path's {} parts in order, NUL-terminated ({*}: the rest) */
    /* the caller's token (id, scopes, expiry; owner = 'owner'); on public
     * routes an empty row (scopes 0) */
    const struct sr_token_row *token;
};

/* A route handler: fills resp (status and body, or an error). */
typedef void (*sr_api__handler)(sr_api *api, const struct sr_api__call *c,
                                struct sr_api_response *resp);

/* One row of the route table (router.c). 'pattern' is the path with "{}"
 * for one segment and a final "{*}" for the rest of the path (a storage
 * key may hold '/'). 'scope' is the sr_scope bit a token needs (0 with
 * auth: any valid token, the handler decides). 'query' lists the
 * parameters it takes (space-separated); any other is refused. 'body_max'
 * 0 = SR_MAX_BODY. */
struct sr_api__route {
    const char *method;
    const char *pattern;
    bool auth;
    uint32_t scope;
    const char *query;
    size_t body_max;
    sr_api__handler fn;
};
/* The table, *n rows (static storage). */
const struct sr_api__route *sr_api__routes(size_t *n);

/* The /tokens endpoints (route_tokens.c; docs/accounts.md). */
#define SR_API_TOKEN_BODY_MAX 4096 /* bytes of a POST /tokens body */
void sr_api__tokens_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__token_create(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__token_revoke(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);

/* The money endpoints (route_account.c; docs/accounts.md). */
#define SR_API_CREDIT_BODY_MAX 4096 /* bytes of a POST /account/credit body */
void sr_api__account(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__account_credit(sr_api *api, const struct sr_api__call *c,
                            struct sr_api_response *resp);
void sr_api__estimate(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
/* The value of query parameter 'key' of req (borrowed), or NULL. router.c */
const char *sr_api__query_value(const struct sr_api_request *req, const char *key);
/* Remote workers (route_workers.c; docs/workers.md). */
/* The decoded query of req as a signed request states it: "k=v" joined by
 * '&', into out (cap bytes); false when it does not fit. */
bool sr_api__signed_query(const struct sr_api_request *req, char *out, size_t cap);
void sr_api__worker_register(sr_api *api, const struct sr_api__call *c,
                             struct sr_api_response *resp);
void sr_api__worker_heartbeat(sr_api *api, const struct sr_api__call *c,
                              struct sr_api_response *resp);
void sr_api__workers_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__worker_jobs(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__worker_module(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__worker_result(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__worker_storage(sr_api *api, const struct sr_api__call *c,
                            struct sr_api_response *resp);
/* The keystore's channel (route_keystore.c, docs/keystore.md). */
#define SR_API_KEYSTORE_CONTEXT_MAX 4096         /* bytes of a POST /keystore/context body */
#define SR_API_KEYSTORE_AUDIT_MAX (128u * 1024u) /* bytes of a POST /keystore/audit body */
void sr_api__keystore_context(sr_api *api, const struct sr_api__call *c,
                              struct sr_api_response *resp);
void sr_api__keystore_audit(sr_api *api, const struct sr_api__call *c,
                            struct sr_api_response *resp);
/* A keystore listener's whole dispatch. */
void sr_api__dispatch_keystore(sr_api *api, const struct sr_api_request *req,
                               struct sr_api_response *resp);
/* true for a request on the keystore's channel of this API (any request to
 * a keystore's listener, /keystore/... on a coordinator with a keystore):
 * its signature, checked by the route, lets its body in. */
bool sr_api__keystore_channel(const sr_api *api, const char *path);

/* Whether a worker token with this SHA-256 exists and is not revoked (the
 * edge lets its request body in; the route checks the signature). */
bool sr_api__worker_token_ok(sr_api *api, const uint8_t hash[32]);

/* The reply for a library status: HTTP status and error code both come
 * from 'st' (reply.c's table); 'msg' is the message (never a secret). For
 * 500s the message goes to the log with a request id and the client gets
 * the id. router.c */
void sr_api__reply(struct sr_api_response *resp, sr_status st, const char *msg, const char *what);
/* The same from an sr_err that travelled up. router.c */
void sr_api__reply_status(struct sr_api_response *resp, const sr_err *e, const char *what);
/* A routing answer that no library status names (404 no such endpoint, 405
 * method not allowed) and the edge's protocol errors. router.c */
void sr_api__reply_error(struct sr_api_response *resp, unsigned status, const char *msg);

/* The handlers of the routes kept in their own files (router.c holds the
 * table that names every route). */
void sr_api__secrets_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__secrets_pubkey(sr_api *api, const struct sr_api__call *c,
                            struct sr_api_response *resp);
void sr_api__secret_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__secret_delete(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__secret_policy(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__secret_generate(sr_api *api, const struct sr_api__call *c,
                             struct sr_api_response *resp);
void sr_api__secret_audit(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__storage_namespaces(sr_api *api, const struct sr_api__call *c,
                                struct sr_api_response *resp);
void sr_api__storage_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__storage_get(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__storage_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__storage_delete(sr_api *api, const struct sr_api__call *c,
                            struct sr_api_response *resp);
void sr_api__modules_list(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__module_put(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__module_get(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__module_delete(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
void sr_api__attestation(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);

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

/* The key of a client address as the limiters keep it: a family tag, then
 * 4 (IPv4, also IPv4-mapped IPv6) or 8 (an IPv6 /64) bytes. guard.c */
#define SR_API_ADDR_KEY_LEN 9
void sr_api__addr_key(const struct sr_api_client *c, uint8_t key[SR_API_ADDR_KEY_LEN]);

/* Request-rate limits per token and per client address (ratelimit.c;
 * docs/accounts.md#rate-limits). Thread-safe; a NULL limiter limits
 * nothing. Rates are requests per minute, 0 = no limit. */
typedef struct sr_api__rates sr_api__rates;
#define SR_API_RATE_KEY_LEN 17
/* users_file (may be NULL): {"users": {"NAME": {"per_token": N}}}, the
 * per-user overrides of per_token; SR_EINVAL naming what is wrong in it. */
sr_status sr_api__rates_new(unsigned per_token, unsigned per_address, const char *users_file,
                            sr_api__rates **out, sr_err *err);
void sr_api__rates_free(sr_api__rates *r);
/* The per-token rate of 'user' (an override, or the default). */
unsigned sr_api__rate_of(const sr_api__rates *r, const char *user);
/* The defaults: --rate-per-token and --rate-per-address. */
unsigned sr_api__rate_per_token(const sr_api__rates *r);
unsigned sr_api__rate_per_address(const sr_api__rates *r);
/* What one request finds in its bucket: the rate, what is left after it,
 * seconds until the bucket is full again, and on a refusal the seconds
 * until one more request is allowed. */
struct sr_api__rate_answer {
    unsigned limit; /* 0: no limit (then the rest is 0) */
    unsigned remaining;
    unsigned reset_s;
    bool refused;
    unsigned retry_after_s;
};
/* Takes one request from key's bucket at per_min (0: no limit) at now_us
 * (CLOCK_MONOTONIC µs); a refused request takes nothing. */
void sr_api__rate_take(sr_api__rates *r, const uint8_t key[SR_API_RATE_KEY_LEN], unsigned per_min,
                       int64_t now_us, struct sr_api__rate_answer *out);
void sr_api__rate_key_token(const char id[17], uint8_t key[SR_API_RATE_KEY_LEN]);
void sr_api__rate_key_address(const struct sr_api_client *c, uint8_t key[SR_API_RATE_KEY_LEN]);

/* Authenticates req (router.c): the owner (owned) or NULL after filling a
 * 401, 429 (the address is over its failed-authentication limit) or 503
 * response. The server calls it before reading a body. */
char *sr_api__authenticate(sr_api *api, const struct sr_api_request *req,
                           struct sr_api_response *resp);
/* The dashboard (route_ui.c). The files are embedded at build time: the
 * table is generated by dashboard/embed_assets.cmake, sorted by path
 * ("/index.html", "/app.js", ...). */
struct sr_api__ui_asset {
    const char *path;
    const unsigned char *bytes;
    size_t len;
    const char *etag; /* quoted: the first 32 hex characters of the SHA-256 */
};
extern const struct sr_api__ui_asset sr_api__ui_assets[];
extern const size_t sr_api__ui_asset_count;
/* GET and HEAD of "/", "/ui" and "/ui/..." (public). */
void sr_api__ui(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
/* The Content-Type of a dashboard file, from its extension. */
const char *sr_api__ui_mime(const char *path);

/* docs/openapi.json, embedded at build time (src/api/embed_file.cmake):
 * sr_api__openapi_len bytes plus a NUL. GET /openapi.json serves it. */
extern const unsigned char sr_api__openapi[];
extern const size_t sr_api__openapi_len;

/* GET /metrics: the engine's gauges and the process's series
 * (sr_metrics.h) in the Prometheus text format. route_metrics.c */
void sr_api__metrics(sr_api *api, struct sr_api_response *resp);

/* GET /stats and the filters of GET /jobs (route_stats.c). */
void sr_api__stats(sr_api *api, const struct sr_api__call *c, struct sr_api_response *resp);
/* Fills *f from the query of GET /jobs; false after filling a 400 (a bad
 * value, or a parameter GET /jobs does not take). */
bool sr_api__job_filter_parse(const struct sr_api_request *req, struct sr_job_filter *f,
                              struct sr_api_response *resp);

/* Alters a GET /jobs/{id} answer as --test-tamper asks (test_hooks.c); a
 * no-op unless a test build switched it on. */
void sr_api__test_tamper(const sr_api *api, struct sr_api_response *resp);

#endif /* SR_API_INT_H */
