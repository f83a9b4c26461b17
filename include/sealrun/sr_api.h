/* SPDX-License-Identifier: MIT
 *
 * sr_api.h - the HTTP API of sealrund (docs/http-api.md): a router that
 * turns a request into a status and a JSON body, and the libmicrohttpd
 * server around it.
 *
 * The router is pure (no sockets): tests and the fuzzer call
 * sr_api_dispatch() directly. The server is event-driven: a few I/O threads
 * read requests and write answers for every connection, and a bounded pool
 * of request threads runs the router on complete requests only, so a slow
 * client costs a socket and a little memory, never a thread
 * (docs/security-model.md, "The HTTP edge"). Everything here is thread-safe.
 */
#ifndef SR_API_H
#define SR_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_engine.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_store.h"

typedef struct sr_api sr_api;
typedef struct sr_server sr_server;
/* The limiter of failed authentication per client address (guard.c). */
typedef struct sr_api_guard sr_api_guard;

/* A client's network address, as the socket gave it (never from a header). */
struct sr_api_client {
    int family;       /* 0 = unknown (tests, the fuzzer), AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order; IPv4 in the first 4 bytes */
};

/* One query parameter of a request target. */
struct sr_api_query {
    const char *key;   /* decoded, no NUL, valid UTF-8, unique in the query */
    const char *value; /* decoded likewise; "" when the parameter has no '=' */
};

struct sr_api_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query string */
    const char *authorization; /* the Authorization header, or NULL */
    const char *query_limit;   /* ?limit=, or NULL */
    const char *query_before;  /* ?before=, or NULL */
    const char *content_type;  /* the Content-Type header, or NULL */
    const char *body;          /* borrowed, body_len bytes (<= sr_api_body_limit()) */
    size_t body_len;
    const char *query_prefix;         /* ?prefix= (GET /storage/{ns}), or NULL */
    const char *query_after;          /* ?after=, or NULL */
    struct sr_api_client client;      /* the peer of the connection */
    const struct sr_api_query *query; /* every query parameter (the router refuses those
                                         a route does not take); borrowed */
    size_t nquery;
    sr_api_guard *guard;       /* borrowed; limits failed authentication; NULL = none */
    const char *if_none_match; /* the If-None-Match header, or NULL (the dashboard) */
    /* a remote worker's X-Sealrun-Time and X-Sealrun-Signature headers, or
     * NULL (docs/workers.md) */
    const char *worker_time;
    const char *worker_signature;
};

/* The extra headers of a dashboard answer: {name, value} pairs ending with
 * a NULL name (static). */
struct sr_api_header {
    const char *name;
    const char *value;
};

struct sr_api_response {
    unsigned status; /* HTTP status */
    json_t *body;    /* owned by the caller after dispatch; or NULL with text */
    char *text;      /* owned: a body already serialised (job objects), text_len bytes plus a NUL */
    size_t text_len;
    unsigned retry_after; /* seconds for a Retry-After header; 0 = none */
    /* RateLimit-Limit, -Remaining, -Reset headers when ratelimit_limit > 0:
     * the bucket of this request with the least left (docs/accounts.md) */
    unsigned ratelimit_limit; /* requests per minute */
    unsigned ratelimit_remaining;
    unsigned ratelimit_reset; /* s until the bucket is full again */
    bool authenticated;       /* a bearer token was accepted for this request */
    /* A body that is not JSON (the dashboard, docs/dashboard.md): when
     * content_type is set, the body is raw[0..raw_len) and body/text are
     * unused; a 304 has content_type set and raw_len 0. */
    const char *content_type; /* static */
    const void *raw;          /* borrowed (static), or raw_owned */
    size_t raw_len;
    void *raw_owned;                     /* owned (free()) when the bytes were read from disk */
    char etag[48];                       /* "" = none; else the quoted entity tag */
    const char *location;                /* a Location header (redirects), static, or NULL */
    const struct sr_api_header *headers; /* static, or NULL */
};

/* What --test-tamper makes GET /jobs/{id} answer (test builds only). */
enum sr_api_tamper {
    SR_API_TAMPER_NONE = 0,
    SR_API_TAMPER_RECEIPT, /* the receipt's gas_used + 1: its signature fails */
    SR_API_TAMPER_OUTPUT,  /* a member added to the output: its hash fails */
};

/* Borrows engine and store (both outlive the api). Returns owned: sr_api_free(). */
sr_status sr_api_new(sr_engine *eng, sr_store *store, sr_api **out, sr_err *err);
void sr_api_free(sr_api *api);

/* Makes api a metrics listener's (sealrund --metrics-listen): it answers
 * GET /metrics, unauthenticated, and nothing else (404, 405). The main API
 * never serves /metrics. */
void sr_api_set_metrics_only(sr_api *api);

/* Serves the dashboard from 'dir' (read at every request, for development)
 * instead of the files embedded at build time. Copies dir. SR_EINVAL when
 * dir has no index.html. Call before the server starts. */
sr_status sr_api_set_dashboard_dir(sr_api *api, const char *dir, sr_err *err);
#ifdef SR_TEST_HOOKS
/* Test builds: GET /jobs/{id} answers altered jobs (test_hooks.c). */
void sr_api_set_test_tamper(sr_api *api, enum sr_api_tamper t);
/* Request-rate limits (docs/accounts.md#rate-limits): per_token and
 * per_address requests per minute (also the burst; 0 = no limit), and
 * users_file (may be NULL), per-user overrides of per_token as
 * {"users": {"NAME": {"per_token": N}}}. Call before serving. SR_EINVAL
 * for a rate over SR_HTTP_MAX_RATE or a bad file (naming what is wrong).
 * Without it nothing is rate-limited. */
sr_status sr_api_set_rate_limits(sr_api *api, unsigned per_token, unsigned per_address,
                                 const char *users_file, sr_err *err);
#endif

/* Seconds between a remote worker's heartbeats (the coordinator tells the
 * worker in its answers; docs/workers.md). */
#define SR_WORKER_HEARTBEAT_S 10
/* Bytes of a POST /worker/register body (a TDX quote in base64 fits). */
#define SR_API_WORKER_BODY_MAX (128u * 1024u)
/* Bytes of a POST /worker/jobs/{id}/result body: a job object (output,
 * sealed output, logs, HTTP exchanges, receipt) within SR_MAX_BODY and a
 * recorded job's sealed recording (SR_MAX_RECORDING in base64). */
#define SR_API_WORKER_RESULT_MAX (32u * 1024u * 1024u)
/* Bytes of a POST /worker/jobs/{id}/storage body: one storage host call
 * (a value of SR_STORAGE_MAX_VALUE and its key) in base64. */
#define SR_API_WORKER_STORAGE_MAX (2u * 1024u * 1024u)
/* Bytes of a heartbeat's body: the leases it renews. */
#define SR_API_WORKER_BEAT_MAX (8u * 1024u)
/* The longest GET /worker/jobs?wait= in seconds. */
#define SR_WORKER_MAX_WAIT_S 30
/* Jobs one heartbeat renews. */
#define SR_WORKER_MAX_JOBS 16

/* What the coordinator asks of registering workers: with require_tdx, only
 * a TDX quote binding the worker's key and measurement (sealrund
 * --worker-attestation tdx); otherwise "none" is accepted too. */
void sr_api_set_worker_attestation(sr_api *api, bool require_tdx);

/* --role keystore (docs/keystore.md): this API serves the keystore's routes
 * alone, answered by ks (borrowed, outlives the API). */
typedef struct sr_keystore sr_keystore;
void sr_api_set_keystore(sr_api *api, sr_keystore *ks);
/* A coordinator with --keystore: POST /keystore/context and /keystore/audit
 * accept requests signed by keystore_pk (copied) and sign their answers
 * with key (borrowed). */
void sr_api_set_keystore_peer(sr_api *api, const uint8_t keystore_pk[32], const sr_worker_key *key);

/* Routes one request. Always fills *resp (errors are
 * {"error":{"code","message"}} bodies); never fails. */
void sr_api_dispatch(sr_api *api, const struct sr_api_request *req, struct sr_api_response *resp);

/* The largest body accepted for a request (SR_MAX_MODULE for POST /modules,
 * SR_MAX_BODY otherwise). */
size_t sr_api_body_limit(const char *method, const char *path);

/* The HTTP status and error code for a library status in a given context
 * (keep in sync with docs/errors.md). */
unsigned sr_api_http_status(sr_status st);
const char *sr_api_error_code(unsigned http_status);

/* Builds an error body. Returns owned. */
json_t *sr_api_error_body(unsigned http_status, const char *message);

/* The error code of a library status ("invalid_request", "not_found", ...)
 * and the body {"error":{"code","message"}} with it. Returns owned. */
const char *sr_api_status_code(sr_status st);
json_t *sr_api_status_body(sr_status st, const char *message);

/* Zero means the default named in the comment (docs/limits.md lists them). */
struct sr_server_config {
    const char *host;                  /* numeric IPv4 or IPv6 address to bind */
    uint16_t port;                     /* 0 = pick a free port */
    unsigned max_connections;          /* open connections; 0 = SR_HTTP_DEFAULT_CONNECTIONS */
    unsigned connection_timeout_s;     /* no progress at all for this long closes; 0 = 60 */
    unsigned max_connections_per_addr; /* 0 = SR_HTTP_DEFAULT_CONNECTIONS_PER_ADDR */
    unsigned header_timeout_s; /* request line and headers, in total; 0 = SR_HTTP_DEFAULT_... */
    unsigned body_timeout_s;   /* a request body, and an answer, in total; 0 = default */
    unsigned request_threads;  /* threads running the router; 0 = SR_HTTP_DEFAULT_THREADS */
    unsigned auth_failures_per_min; /* per address before 429; 0 = SR_HTTP_DEFAULT_AUTH_FAIL */
};

/* Starts listening (threads start here). Borrows api. Returns owned. SR_EINVAL
 * for a bad address or a limit out of range (the message names it), SR_EIO
 * when the address cannot be bound. */
sr_status sr_server_new(const struct sr_server_config *in, sr_api *api, sr_server **out,
                        sr_err *err);
/* The port actually bound. */
uint16_t sr_server_port(const sr_server *srv);
/* Stops accepting, answers requests that arrive from now on with 503, waits
 * for the requests being run to be answered, and closes every connection.
 * NULL is a no-op. */
void sr_server_free(sr_server *srv);

#endif /* SR_API_H */
