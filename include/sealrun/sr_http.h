/* SPDX-License-Identifier: MIT
 *
 * sr_http.h - outbound HTTP for jobs (docs/http.md): the requests a job
 * process asks for over its job channel, checked and performed by the
 * supervisor with libcurl. The job process never holds a socket.
 *
 * Four parts:
 *   - the address guard: which resolved addresses a request may reach
 *     (sr_http_addr_classify), with the operator's test switch
 *     --http-allow-private;
 *   - the operator policy (sr_http_policy: --http-allow, --http-deny,
 *     --http-allow-http, --http-ca-file) and the job's own allow list
 *     (struct sr_http_job, the request's "http" field);
 *   - the host-call wire format between the job process and the supervisor
 *     (sr_http_wire_*), used by the JS and WASM runs;
 *   - the per-job session (sr_http_session) that answers those host calls:
 *     policy on every hop, resolution once, connection to exactly the
 *     checked address, redirects followed hop by hop, limits, the record of
 *     every exchange for the receipt.
 *
 * Thread-safety: a policy is immutable after sr_http_policy_new and may be
 * shared by any number of threads; a session is used by one thread at a
 * time (the supervisor thread of its job). sr_http_global_init must run
 * once before any thread starts.
 */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_err.h"

/* ---- limits (docs/limits.md, "Outbound HTTP") ---- */

#define SR_FETCH_DEFAULT_REQUESTS 16         /* requests per job */
#define SR_FETCH_MAX_REQUESTS 64             /* cap of http.max_requests */
#define SR_FETCH_MAX_REQUEST_BODY (1u << 20) /* bytes of one request body */
#define SR_FETCH_DEFAULT_RESPONSE (2u << 20) /* bytes of one response body */
#define SR_FETCH_MAX_RESPONSE (8u << 20)     /* cap of http.max_response_bytes */
#define SR_FETCH_TIMEOUT_MS 10000u           /* one request, all its redirects included */
#define SR_FETCH_MAX_URL 8192                /* bytes of a URL */
#define SR_FETCH_MAX_METHOD 16               /* bytes of a method name */
#define SR_FETCH_MAX_HEADERS 64              /* request headers */
#define SR_FETCH_MAX_HEADER_BYTES 32768u     /* request header names and values together */
#define SR_FETCH_MAX_RESP_HEADERS 128        /* response headers kept */
#define SR_FETCH_MAX_RESP_HEADER_BYTES 65536u
#define SR_FETCH_MAX_REDIRECTS 5 /* hops after the first request */
#define SR_FETCH_MAX_ALLOW 32    /* entries of http.allow, --http-allow, --http-deny */
#define SR_FETCH_MAX_PATTERN 260 /* bytes of one "host[:port]" pattern */
#define SR_FETCH_MAX_PRIVATE 16  /* --http-allow-private entries */

/* curl_global_init; once per process, before threads. */
sr_status sr_http_global_init(sr_err *err);

/* ---- the address guard ---- */

/* keep in sync with sr_http_addr_class_name() and docs/http.md "Addresses" */
enum sr_http_addr_class {
    SR_HTTP_ADDR_PUBLIC = 0,
    SR_HTTP_ADDR_UNSPECIFIED, /* 0.0.0.0/8, :: */
    SR_HTTP_ADDR_LOOPBACK,    /* 127.0.0.0/8, ::1 */
    SR_HTTP_ADDR_PRIVATE,     /* 10/8, 172.16/12, 192.168/16 */
    SR_HTTP_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    SR_HTTP_ADDR_CGNAT,       /* 100.64/10 */
    SR_HTTP_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
    SR_HTTP_ADDR_RESERVED,    /* 240/4, broadcast, IETF, benchmarking, documentation,
                               * 6to4/Teredo, site-local, anything outside 2000::/3 */
    SR_HTTP_ADDR_MAPPED,      /* ::ffff:0:0/96 (IPv4-mapped) */
    SR_HTTP_ADDR_COMPAT,      /* ::/96 (IPv4-compatible) */
    SR_HTTP_ADDR_ULA,         /* fc00::/7 */
    SR_HTTP_ADDR_NAT64,       /* 64:ff9b::/96, 64:ff9b:1::/48 */
};

/* The class of an AF_INET or AF_INET6 address (any other family:
 * SR_HTTP_ADDR_RESERVED). Never fails, sends nothing. */
enum sr_http_addr_class sr_http_addr_classify(const struct sockaddr *sa);
/* "public", "loopback", ... (static). */
const char *sr_http_addr_class_name(enum sr_http_addr_class c);

/* ---- the operator's policy ---- */

struct sr_http_config {
    const char *const *allow; /* "host[:port]" patterns; none: every public host */
    size_t nallow;            /* <= SR_FETCH_MAX_ALLOW */
    const char *const *deny;  /* patterns refused whatever allows them */
    size_t ndeny;
    const char *const *private_nets; /* "ADDR" or "ADDR/BITS" reachable although not public
                                      * (--http-allow-private; tests and development) */
    size_t nprivate;
    bool allow_http;     /* plain http:// as well as https:// */
    const char *ca_file; /* PEM bundle trusted instead of the system CAs; NULL: system */
};

typedef struct sr_http_policy sr_http_policy;

/* Checks and copies cfg. SR_EINVAL naming a bad pattern or network;
 * SR_ELIMIT past SR_FETCH_MAX_ALLOW / _PRIVATE. Returns owned:
 * sr_http_policy_free(). */
sr_status sr_http_policy_new(const struct sr_http_config *cfg, sr_http_policy **out, sr_err *err);
void sr_http_policy_free(sr_http_policy *pol);
/* The policy as the measurement states it (docs/receipts.md): {"allow_http",
 * "allow", "deny", "private", "custom_ca"} (owned; NULL on ENOMEM). */
json_t *sr_http_policy_to_json(const sr_http_policy *pol);
/* One line for the start-up log ("https only; any public host; ..."). */
void sr_http_policy_describe(const sr_http_policy *pol, char *out, size_t cap);

/* True when 'pattern' is a valid "host[:port]" or "*.domain[:port]"
 * pattern; else false with err naming what is wrong. */
bool sr_http_pattern_valid(const char *pattern, sr_err *err);

/* True when host (lower-case, as in a parsed URL; IPv6 in brackets) and
 * port match 'pattern'. A pattern without a port matches the scheme's
 * default port only (default_port). */
bool sr_http_pattern_match(const char *pattern, const char *host, unsigned port,
                           unsigned default_port);

/* True when the address is in one of the policy's --http-allow-private
 * networks. */
bool sr_http_policy_private_ok(const sr_http_policy *pol, const struct sockaddr *sa);

/* Checks a URL sealrund itself will request later (a job's callback_url,
 * docs/accounts.md#webhooks) against the operator's policy, sending and
 * resolving nothing: a URL curl parses, with a host and no credentials,
 * https (or http with --http-allow-http), not --http-deny'd, in
 * --http-allow when that is given; a host that is an IP address, or
 * "localhost" and names under it, must pass the address guard (names are
 * resolved and checked at each request, as for jobs). Writes the URL's
 * "host:port" pattern (for sr_http_job.allow) to pattern[0..cap).
 * SR_EINVAL naming the rule. */
sr_status sr_http_url_check(const sr_http_policy *pol, const char *url, char *pattern, size_t cap,
                            sr_err *err);

/* ---- the job's part: the request's "http" field ---- */

struct sr_http_job {
    char **allow;          /* owned patterns; nallow 0: the job makes no request */
    size_t nallow;         /* <= SR_FETCH_MAX_ALLOW */
    uint32_t max_requests; /* 1..SR_FETCH_MAX_REQUESTS; 0 = the default */
    uint32_t max_response; /* bytes, 1..SR_FETCH_MAX_RESPONSE; 0 = the default */
};

/* Parses the request's "http" object ({"allow":[...], "max_requests": n,
 * "max_response_bytes": n}) into out (zeroed first). NULL or JSON null:
 * no HTTP. SR_EINVAL naming the field. */
sr_status sr_http_job_parse(const json_t *v, struct sr_http_job *out, sr_err *err);
/* The same object back (owned), or NULL when the job has no http (or ENOMEM). */
json_t *sr_http_job_to_json(const struct sr_http_job *job);
sr_status sr_http_job_copy(const struct sr_http_job *src, struct sr_http_job *dst, sr_err *err);
void sr_http_job_fini(struct sr_http_job *job);

/* ---- the host-call wire format ----
 *
 * Request (job process -> supervisor), after the host-call byte
 * SR_HTTP_WIRE_OP: u8 method_len | method | u32 url_len | url |
 * u16 nheaders | nheaders x (u16 name_len | name | u32 value_len | value) |
 * u32 body_len | body | u32 timeout_ms (0: the default) | u8 redirect
 * (enum sr_http_redirect). Integers little-endian.
 *
 * Answer: u8 enum sr_http_wire_code, then for SR_HTTP_WIRE_OK:
 * u16 status | u8 redirected | u32 url_len | url (the final URL) |
 * u16 nheaders | headers as above | u32 body_len | body; for every other
 * code: a UTF-8 message for the guest (never a secret).
 */
#define SR_HTTP_WIRE_OP 'F'

enum sr_http_redirect {
    SR_HTTP_REDIRECT_FOLLOW = 0, /* fetch's "follow": up to SR_FETCH_MAX_REDIRECTS hops */
    SR_HTTP_REDIRECT_MANUAL = 1, /* the 3xx answer itself */
    SR_HTTP_REDIRECT_ERROR = 2,  /* a redirect is an error */
};

/* keep in sync with the job codes HTTP_* (sr_codes.h) and docs/http.md */
enum sr_http_wire_code {
    SR_HTTP_WIRE_OK = 0,
    SR_HTTP_WIRE_DENIED = 1,  /* policy or address guard: HTTP_DENIED */
    SR_HTTP_WIRE_LIMIT = 2,   /* a per-job or per-request limit: HTTP_LIMIT */
    SR_HTTP_WIRE_TIMEOUT = 3, /* per-request time or the job's wall clock: HTTP_TIMEOUT */
    SR_HTTP_WIRE_ERROR = 4,   /* DNS, connect, TLS, protocol: HTTP_ERROR */
    SR_HTTP_WIRE_INVALID = 5, /* a malformed request (bad URL, method, header): TypeError */
};

struct sr_http_bytes {
    const uint8_t *p; /* borrowed */
    size_t len;
};

struct sr_http_header {
    struct sr_http_bytes name, value;
};

/* A request or an answer as its fields; every pointer borrows the buffer
 * it was decoded from (or the caller's data when encoding). */
struct sr_http_message {
    struct sr_http_bytes method; /* request */
    struct sr_http_bytes url;    /* request: as written; answer: the final URL */
    size_t nheaders;
    struct sr_http_header headers[SR_FETCH_MAX_RESP_HEADERS];
    struct sr_http_bytes body;
    uint32_t timeout_ms;            /* request */
    enum sr_http_redirect redirect; /* request */
    uint16_t status;                /* answer */
    bool redirected;                /* answer */
};

/* Appends the request (with the op byte) to b. A field over its cap (the
 * method, URL, header count or bytes, body) is written as its length alone
 * and ends the frame: the supervisor then refuses the request by that cap
 * (SR_HTTP_WIRE_LIMIT, the job's HTTP_LIMIT) without the bytes crossing.
 * SR_ELIMIT only past what the length field can say or b's cap. */
sr_status sr_http_wire_request(sr_buf *b, const struct sr_http_message *m, sr_err *err);
/* Decodes p[0..len) (op byte included) into m; every cap checked before
 * use. SR_EINVAL naming what is malformed. */
sr_status sr_http_wire_request_decode(const uint8_t *p, size_t len, struct sr_http_message *m,
                                      sr_err *err);
/* Appends an OK answer to b. */
sr_status sr_http_wire_answer(sr_buf *b, const struct sr_http_message *m, sr_err *err);
/* Decodes an answer; *code is its first byte. For SR_HTTP_WIRE_OK fills m;
 * for the others m->body is the message. SR_EINVAL when malformed. */
sr_status sr_http_wire_answer_decode(const uint8_t *p, size_t len, enum sr_http_wire_code *code,
                                     struct sr_http_message *m, sr_err *err);

/* ---- the per-job session (supervisor side) ---- */

/* A secret the job may put into requests as {{secrets.NAME}}. */
struct sr_http_secret {
    const char *name;     /* borrowed: the name the job uses (its secret_refs key) */
    const uint8_t *value; /* borrowed */
    size_t len;
    const char *const *hosts; /* borrowed "host[:port]" patterns the value may be sent to
                               * (the secret's policy http_hosts); nhosts 0: any host the
                               * request may reach */
    size_t nhosts;
};

/* One request as it was made, for the receipt (docs/receipts.md): what the
 * guest wrote, never a substituted value. */
struct sr_http_exchange {
    char method[SR_FETCH_MAX_METHOD + 1];
    char *url;           /* owned: the URL of this hop as written (placeholders kept) */
    char **header_names; /* owned: request header names as written, in order */
    size_t nheader_names;
    char request_sha256[65];  /* hex SHA-256 of the body as the guest wrote it */
    char response_sha256[65]; /* hex SHA-256 of the response body received ("" if none) */
    unsigned status;          /* HTTP status; 0 when no answer came */
    const char *error;        /* static job code name when it failed ("HTTP_TIMEOUT"), else NULL */
    int64_t started_ms;       /* wall clock, Unix ms */
    int64_t duration_us;
};

struct sr_http_session_config {
    const sr_http_policy *policy;         /* borrowed; must outlive the session */
    const struct sr_http_job *job;        /* borrowed: the job's allow list and limits */
    int64_t deadline_us;                  /* sr_mono_us() past which no request runs (the wall
                                           * clock of the job); 0: none */
    const struct sr_http_secret *secrets; /* borrowed, nsecrets entries */
    size_t nsecrets;
};

typedef struct sr_http_session sr_http_session;

/* Copies cfg (the pointers inside are borrowed). Returns owned. */
sr_status sr_http_session_new(const struct sr_http_session_config *cfg, sr_http_session **out,
                              sr_err *err);
void sr_http_session_free(sr_http_session *s);

/* Answers one host call req[0..len) (first byte SR_HTTP_WIRE_OP): checks,
 * performs and appends the wire answer to resp. A refused or failed
 * request is an answer with its code and message (SR_OK); another status
 * only when sealrun itself failed (SR_ENOMEM). Blocks for at most the
 * request's time, within the deadline. */
sr_status sr_http_session_handle(sr_http_session *s, const uint8_t *req, size_t len, sr_buf *resp,
                                 sr_err *err);

/* The exchanges so far (borrowed, valid until the next handle or free). */
const struct sr_http_exchange *sr_http_session_exchanges(const sr_http_session *s, size_t *n);

/* The exchanges as the receipt's "http" array (owned), NULL when none. */
json_t *sr_http_exchanges_json(const struct sr_http_exchange *x, size_t n);

/* Requests made so far. */
unsigned sr_http_session_count(const sr_http_session *s);
/* The code of the first request that was refused or failed
 * (SR_HTTP_WIRE_OK when none) and its message (borrowed), for a job that
 * then fails: the engine reports it as that job's code (docs/http.md). */
enum sr_http_wire_code sr_http_session_failure(const sr_http_session *s, const char **msg);

#endif /* SR_HTTP_H */
