/* SPDX-License-Identifier: MIT
 *
 * sealrun_http.h - outbound HTTP for WebAssembly guests of sealrun
 * (docs/wasm.md "Outbound HTTP", docs/http.md). Include it in a wasm32-wasi
 * program; the functions are imports of module "sealrun" that sealrund
 * provides next to WASI. The request is made by the supervisor (the job has
 * no socket), under the job's "http" allow list and limits; secret
 * placeholders {{secrets.NAME}} in the URL, header values and body are
 * substituted there.
 *
 * Pointers are offsets into linear memory 0; lengths are bytes. Headers are
 * "Name: value" lines separated by "\n" ("\r\n" is fine too). Redirects are
 * followed (at most 5 hops, each checked). The answer of the last request is
 * kept until the next one: read its headers and body with the functions
 * below; a result longer than cap is not copied, its length is returned, so
 * call again with a larger buffer (the request is not made again).
 * A program that exits non-zero after a failed request fails with that
 * request's code (HTTP_DENIED, HTTP_LIMIT, HTTP_TIMEOUT, HTTP_ERROR).
 */
#ifndef SEALRUN_HTTP_H
#define SEALRUN_HTTP_H

#include <stdint.h>

#define SEALRUN_HTTP_EINVAL (-1) /* malformed method, URL or header line, unknown placeholder */
#define SEALRUN_HTTP_EDENIED                                                                       \
    (-2)                           /* HTTP_DENIED: the job's or the operator's policy, the         \
                                    * address guard, a secret's http_hosts */
#define SEALRUN_HTTP_ELIMIT (-3)   /* HTTP_LIMIT: requests per job, body or header sizes */
#define SEALRUN_HTTP_ETIMEOUT (-4) /* HTTP_TIMEOUT: 10 s, timeout_ms, or the job's wall clock */
#define SEALRUN_HTTP_EERROR (-5)   /* HTTP_ERROR: DNS, connect, TLS, protocol, redirects */
#define SEALRUN_HTTP_EFAULT (-6)   /* a pointer and length outside linear memory */
#define SEALRUN_HTTP_ENONE (-7)    /* no answer held: no request yet, or the last one failed */

#define SEALRUN_HTTP_MAX_BODY (1024 * 1024)         /* request body */
#define SEALRUN_HTTP_MAX_RESPONSE (8 * 1024 * 1024) /* response body, at most */

#ifndef SEALRUN_IMPORT
#define SEALRUN_IMPORT(n) __attribute__((import_module("sealrun"), import_name(n)))
#endif

/* Makes one request; returns the HTTP status (200, 404, ...) or a
 * SEALRUN_HTTP_E* code (http_error then has the message). timeout_ms 0:
 * the default of 10 s. */
SEALRUN_IMPORT("http_request")
int32_t sealrun_http_request(const char *method, uint32_t method_len, const char *url,
                             uint32_t url_len, const char *headers, uint32_t headers_len,
                             const void *body, uint32_t body_len, uint32_t timeout_ms);

/* The last answer's headers as "name: value\n" lines: copies them into buf
 * if they fit in cap; returns their length, or SEALRUN_HTTP_ENONE. */
SEALRUN_IMPORT("http_response_headers")
int32_t sealrun_http_response_headers(void *buf, uint32_t cap);

/* The last answer's body: copies it into buf if it fits in cap; returns its
 * length, or SEALRUN_HTTP_ENONE. */
SEALRUN_IMPORT("http_response_body")
int32_t sealrun_http_response_body(void *buf, uint32_t cap);

/* The message of the last failed request (UTF-8, no secret in it): copies
 * it into buf if it fits; returns its length, or SEALRUN_HTTP_ENONE. */
SEALRUN_IMPORT("http_error")
int32_t sealrun_http_error(void *buf, uint32_t cap);

#endif /* SEALRUN_HTTP_H */
