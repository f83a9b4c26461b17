/*
 * sr_api.h - the HTTP API of sealrund (docs/http-api.md): a router that
 * turns a request into a status and a JSON body, and the libmicrohttpd
 * server around it.
 *
 * The router is pure (no sockets): tests and the fuzzer call
 * sr_api_dispatch() directly. The server runs one thread per connection;
 * everything here is thread-safe.
 */
#ifndef SR_API_H
#define SR_API_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_engine.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_store.h"

typedef struct sr_api sr_api;
typedef struct sr_server sr_server;

struct sr_api_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query string */
    const char *authorization; /* the Authorization header, or NULL */
    const char *query_limit;   /* ?limit=, or NULL */
    const char *query_before;  /* ?before=, or NULL */
    const char *content_type;  /* the Content-Type header, or NULL */
    const char *body;          /* borrowed, body_len bytes (<= sr_api_body_limit()) */
    size_t body_len;
    const char *query_prefix; /* ?prefix= (GET /storage/{ns}), or NULL */
    const char *query_after;  /* ?after=, or NULL */
};

struct sr_api_response {
    unsigned status; /* HTTP status */
    json_t *body;    /* owned by the caller after dispatch; or NULL with text */
    char *text;      /* owned: a body already serialised (job objects), text_len bytes plus a NUL */
    size_t text_len;
    unsigned retry_after; /* seconds for a Retry-After header; 0 = none */
};

/* Borrows engine and store (both outlive the api). Returns owned: sr_api_free(). */
sr_status sr_api_new(sr_engine *eng, sr_store *store, sr_api **out, sr_err *err);
void sr_api_free(sr_api *api);

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

struct sr_server_config {
    const char *host;              /* numeric IPv4 or IPv6 address to bind */
    uint16_t port;                 /* 0 = pick a free port */
    unsigned max_connections;      /* 0 = 512 */
    unsigned connection_timeout_s; /* idle connections closed after; 0 = 60 */
};

/* Starts listening (threads start here). Borrows api. Returns owned. */
sr_status sr_server_new(const struct sr_server_config *cfg, sr_api *api, sr_server **out,
                        sr_err *err);
/* The port actually bound. */
uint16_t sr_server_port(const sr_server *srv);
/* Stops accepting and waits for connections to end. NULL is a no-op. */
void sr_server_free(sr_server *srv);

#endif /* SR_API_H */
