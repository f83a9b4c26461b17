/* SPDX-License-Identifier: MIT
 *
 * http_fetch.c - the per-job HTTP session (docs/http.md): one host call is
 * one fetch, made hop by hop. For every hop:
 *
 *   1. the URL is parsed (curl's URL API) and its scheme, host and port are
 *      checked against the operator's deny and allow lists and the job's
 *      http.allow;
 *   2. the host is resolved once (getaddrinfo) and every address it
 *      resolves to must be public (http_addr.c) or in an
 *      --http-allow-private network;
 *   3. secret placeholders are substituted for this host (http_subst.c);
 *   4. curl connects to exactly the address checked in 2: CURLOPT_RESOLVE
 *      pins the name, and the open-socket callback refuses any other
 *      address, so there is no second resolution (no DNS rebinding);
 *   5. a redirect is not followed by curl: its Location is resolved here
 *      and the next hop goes through 1-4 again.
 *
 * curl never reads the environment's proxies, netrc, cookies, HSTS or
 * alt-svc files here, and speaks only http(s).
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_util.h"

#define MSG_CAP 512

struct sr_http_session {
    struct sr_http_session_config cfg;
    unsigned nrequests;
    enum sr_http_wire_code failure; /* the first refused or failed request's code */
    char failure_msg[MSG_CAP];
    struct sr_http_exchange *x; /* owned, nx used of capx */
    size_t nx, capx;
};

/* A response header: offsets into hop.hdr (which may move while it grows). */
struct hdr_at {
    size_t name, name_len, value, value_len;
};

/* One hop of a fetch. */
struct hop {
    sr_http_session *s;
    const struct sr_http_message *req;
    CURLU *u;       /* the URL sent (placeholders substituted) */
    char scheme[8]; /* "https" or "http" */
    char host[262]; /* lower case; IPv6 in brackets */
    char bare[262]; /* host without brackets, for getaddrinfo */
    unsigned port, defport;
    struct sockaddr_storage addr; /* the checked address curl must connect to */
    char addr_text[INET6_ADDRSTRLEN];
    bool is_literal;
    /* the response */
    sr_buf hdr;
    struct hdr_at at[SR_FETCH_MAX_RESP_HEADERS];
    size_t nhdr;
    sr_buf body;
    bool over_body, over_headers;
    char msg[MSG_CAP];
};

sr_status
sr_http_global_init(sr_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sr_err_set(err, SR_EINTERNAL, "libcurl could not be initialised");
    return SR_OK;
}

/* ---- session ---- */

sr_status
sr_http_session_new(const struct sr_http_session_config *cfg, sr_http_session **out, sr_err *err)
{
    sr_http_session *s = calloc(1, sizeof(*s));
    if (!s)
        return sr_err_set(err, SR_ENOMEM, "out of memory for an HTTP session");
    s->cfg = *cfg;
    *out = s;
    return SR_OK;
}

static void
exchange_fini(struct sr_http_exchange *x)
{
    free(x->url);
    for (size_t i = 0; x->header_names && i < x->nheader_names; i++)
        free(x->header_names[i]);
    free(x->header_names);
}

void
sr_http_session_free(sr_http_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nx; i++)
        exchange_fini(&s->x[i]);
    free(s->x);
    free(s);
}

const struct sr_http_exchange *
sr_http_session_exchanges(const sr_http_session *s, size_t *n)
{
    *n = s ? s->nx : 0;
    return s ? s->x : NULL;
}

unsigned
sr_http_session_count(const sr_http_session *s)
{
    return s ? s->nrequests : 0;
}

enum sr_http_wire_code
sr_http_session_failure(const sr_http_session *s, const char **msg)
{
    if (msg)
        *msg = s ? s->failure_msg : "";
    return s ? s->failure : SR_HTTP_WIRE_OK;
}

static const char *
code_name(enum sr_http_wire_code c)
{
    switch (c) {
    case SR_HTTP_WIRE_DENIED:
        return "HTTP_DENIED";
    case SR_HTTP_WIRE_LIMIT:
        return "HTTP_LIMIT";
    case SR_HTTP_WIRE_TIMEOUT:
        return "HTTP_TIMEOUT";
    case SR_HTTP_WIRE_ERROR:
    case SR_HTTP_WIRE_INVALID:
        return "HTTP_ERROR";
    case SR_HTTP_WIRE_OK:
        break;
    }
    return NULL;
}

/* Replaces every secret value in s (NUL-terminated, owned) by its
 * placeholder: what the guest and the receipt see of a URL the server made. */
static char *
redact(const sr_http_session *ss, char *s)
{
    for (size_t i = 0; s && i < ss->cfg.nsecrets; i++) {
        const struct sr_http_secret *sec = &ss->cfg.secrets[i];
        char *at;
        while (sec->len && (at = memmem(s, strlen(s), sec->value, sec->len))) {
            size_t pre = (size_t)(at - s), plen = strlen(sec->name) + 13;
            size_t rest = strlen(at + sec->len);
            char *n = malloc(pre + plen + rest + 1);
            if (!n) {
                sodium_memzero(s, strlen(s));
                free(s);
                return NULL;
            }
            memcpy(n, s, pre);
            (void)snprintf(n + pre, plen + 1, "{{secrets.%s}}", sec->name);
            memcpy(n + pre + plen, at + sec->len, rest + 1);
            sodium_memzero(s, strlen(s));
            free(s);
            s = n;
        }
    }
    return s;
}

/* Adds the exchange record of one hop (written: the URL as the guest wrote
 * it or, after a redirect, the redacted one). */
static sr_status
record(sr_http_session *s, const struct sr_http_message *req, const char *written, unsigned status,
       const sr_buf *body, enum sr_http_wire_code code, int64_t started_ms, int64_t t0)
{
    if (s->nx == s->capx) {
        size_t cap = s->capx ? 2 * s->capx : 8;
        struct sr_http_exchange *x = realloc(s->x, cap * sizeof(*x));
        if (!x)
            return SR_ENOMEM;
        s->x = x;
        s->capx = cap;
    }
    struct sr_http_exchange *x = &s->x[s->nx];
    memset(x, 0, sizeof(*x));
    (void)snprintf(x->method, sizeof(x->method), "%.*s", (int)req->method.len,
                   (const char *)req->method.p);
    x->url = strdup(written);
    x->header_names = req->nheaders ? calloc(req->nheaders, sizeof(char *)) : NULL;
    if (!x->url || (req->nheaders && !x->header_names)) {
        exchange_fini(x);
        return SR_ENOMEM;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        x->header_names[i] =
            strndup((const char *)req->headers[i].name.p, req->headers[i].name.len);
        if (!x->header_names[i]) {
            exchange_fini(x);
            return SR_ENOMEM;
        }
        x->nheader_names = i + 1;
    }
    sr_sha256_hex(req->body.p ? (const void *)req->body.p : "", req->body.len, x->request_sha256);
    if (body)
        sr_sha256_hex(body->data ? body->data : "", body->len, x->response_sha256);
    x->status = status;
    x->error = code_name(code);
    x->started_ms = started_ms;
    x->duration_us = sr_mono_us() - t0;
    s->nx++;
    return SR_OK;
}

/* ---- checking a hop ---- */

static enum sr_http_wire_code fail(struct hop *h, enum sr_http_wire_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum sr_http_wire_code
fail(struct hop *h, enum sr_http_wire_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
    va_end(ap);
    return code;
}

/* Scheme, host and port of h->u into h. */
static enum sr_http_wire_code
url_parts(struct hop *h)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
    enum sr_http_wire_code rc = SR_HTTP_WIRE_OK;
    if (curl_url_get(h->u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h->u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(h->u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        rc = fail(h, SR_HTTP_WIRE_INVALID, "the URL has no scheme, host or port");
        goto out;
    }
    if (curl_url_get(h->u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        rc = fail(h, SR_HTTP_WIRE_INVALID,
                  "the URL carries credentials (user:password@); use a header instead");
        goto out;
    }
    if (strlen(host) >= sizeof(h->host) || strlen(scheme) >= sizeof(h->scheme)) {
        rc = fail(h, SR_HTTP_WIRE_INVALID, "the URL's host is longer than 255 bytes");
        goto out;
    }
    for (char *p = host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    (void)snprintf(h->scheme, sizeof(h->scheme), "%s", scheme);
    (void)snprintf(h->host, sizeof(h->host), "%s", host);
    size_t n = strlen(host);
    h->is_literal = host[0] == '[';
    if (h->is_literal)
        (void)snprintf(h->bare, sizeof(h->bare), "%.*s", (int)(n - 2), host + 1);
    else
        (void)snprintf(h->bare, sizeof(h->bare), "%s", host);
    h->port = (unsigned)strtoul(port, NULL, 10);
    h->defport = strcmp(scheme, "https") == 0 ? 443 : 80;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    return rc;
}

static bool
listed(char *const *pats, size_t n, const struct hop *h)
{
    for (size_t i = 0; i < n; i++)
        if (sr_http_pattern_match(pats[i], h->host, h->port, h->defport))
            return true;
    return false;
}

static enum sr_http_wire_code
check_policy(struct hop *h)
{
    const sr_http_policy *pol = h->s->cfg.policy;
    if (strcmp(h->scheme, "https") != 0 && !(pol->allow_http && strcmp(h->scheme, "http") == 0))
        return fail(h, SR_HTTP_WIRE_DENIED, "scheme '%s' is refused: %s", h->scheme,
                    pol->allow_http ? "only https and http are allowed"
                                    : "only https is allowed (the operator has not allowed http)");
    if (strstr(h->host, "{{"))
        return fail(h, SR_HTTP_WIRE_INVALID, "a secret placeholder cannot be part of the host");
    if (listed(pol->deny, pol->ndeny, h))
        return fail(h, SR_HTTP_WIRE_DENIED, "'%s:%u' is denied by the operator (--http-deny)",
                    h->host, h->port);
    if (pol->nallow && !listed(pol->allow, pol->nallow, h))
        return fail(h, SR_HTTP_WIRE_DENIED,
                    "'%s:%u' is not in the operator's allow list (--http-allow)", h->host, h->port);
    const struct sr_http_job *job = h->s->cfg.job;
    if (!job || !listed(job->allow, job->nallow, h))
        return fail(h, SR_HTTP_WIRE_DENIED, "'%s:%u' is not in the job's http.allow", h->host,
                    h->port);
    return SR_HTTP_WIRE_OK;
}

static void
addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)cap))
        (void)snprintf(out, cap, "?");
}

/* A name resolution on its own thread, so the request's deadline bounds
 * it (getaddrinfo has no timeout of its own). Two references: the waiter's
 * and the thread's; whoever drops the last frees it, so a waiter that gave
 * up leaves the thread to finish and clean up alone. */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int refs;
    bool done;
    int rc;
    struct addrinfo *res;
    char host[262];
    char port[8];
};

static void
lookup_unref(struct lookup *l)
{
    pthread_mutex_lock(&l->mu);
    int left = --l->refs;
    pthread_mutex_unlock(&l->mu);
    if (left)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void *
lookup_main(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, l->port, &hints, &res);
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->res = res;
    l->done = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return NULL;
}

/* getaddrinfo(host, port) by the deadline (sr_mono_us); EAI_AGAIN with
 * *late set when it ran out. Numeric hosts are answered at once. */
static int
resolve(const char *host, const char *port, int64_t deadline_us, struct addrinfo **out, bool *late)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
    int rc = getaddrinfo(host, port, &hints, out);
    if (rc != EAI_NONAME)
        return rc;
    struct lookup *l = calloc(1, sizeof(*l));
    pthread_condattr_t ca;
    pthread_attr_t ta;
    pthread_t t;
    if (!l)
        return EAI_MEMORY;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    (void)snprintf(l->host, sizeof(l->host), "%s", host);
    (void)snprintf(l->port, sizeof(l->port), "%s", port);
    l->refs = 2;
    pthread_attr_init(&ta);
    pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
    int started = pthread_create(&t, &ta, lookup_main, l);
    pthread_attr_destroy(&ta);
    if (started != 0) { /* no thread: resolve here, unbounded */
        l->refs = 1;
        lookup_unref(l);
        hints.ai_flags = AI_NUMERICSERV;
        return getaddrinfo(host, port, &hints, out);
    }
    struct timespec until = {.tv_sec = (time_t)(deadline_us / 1000000),
                             .tv_nsec = (long)(deadline_us % 1000000) * 1000};
    pthread_mutex_lock(&l->mu);
    while (!l->done && pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
        ;
    if (l->done) {
        rc = l->rc;
        *out = l->res;
        l->res = NULL;
    } else {
        rc = EAI_AGAIN;
        *late = true;
    }
    pthread_mutex_unlock(&l->mu);
    lookup_unref(l);
    return rc;
}

/* Resolves the host once; every address must pass the guard. */
static enum sr_http_wire_code
check_address(struct hop *h, int64_t deadline_us)
{
    struct addrinfo *res = NULL;
    char port[8];
    bool late = false;
    (void)snprintf(port, sizeof(port), "%u", h->port);
    int rc = resolve(h->bare, port, deadline_us, &res, &late);
    if (late)
        return fail(h, SR_HTTP_WIRE_TIMEOUT, "resolving '%s' took longer than the request may",
                    h->host);
    if (rc != 0 || !res)
        return fail(h, SR_HTTP_WIRE_ERROR, "cannot resolve '%s': %s", h->host,
                    rc ? gai_strerror(rc) : "no address");
    enum sr_http_wire_code out = SR_HTTP_WIRE_OK;
    bool have = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        enum sr_http_addr_class c = sr_http_addr_classify(ai->ai_addr);
        char text[INET6_ADDRSTRLEN];
        addr_text(ai->ai_addr, text, sizeof(text));
        if (c != SR_HTTP_ADDR_PUBLIC && !sr_http_policy_private_ok(h->s->cfg.policy, ai->ai_addr)) {
            out = fail(h, SR_HTTP_WIRE_DENIED,
                       "'%s' resolves to %s, a %s address: the address guard refuses it", h->host,
                       text, sr_http_addr_class_name(c));
            break;
        }
        if (!have) {
            memcpy(&h->addr, ai->ai_addr, ai->ai_addrlen);
            (void)snprintf(h->addr_text, sizeof(h->addr_text), "%s", text);
            have = true;
        }
    }
    freeaddrinfo(res);
    if (out == SR_HTTP_WIRE_OK && !have)
        out = fail(h, SR_HTTP_WIRE_ERROR, "'%s' has no IPv4 or IPv6 address", h->host);
    return out;
}

/* ---- performing a hop ---- */

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* curl is about to connect: only to the address the guard checked. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct hop *h = arg;
    if (purpose != CURLSOCKTYPE_IPCXN || !same_addr(&h->addr, &a->addr))
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct hop *h = arg;
    if (sr_buf_append(&h->body, p, n, NULL) != SR_OK) {
        h->over_body = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    (void)size;
    return n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
    struct hop *h = arg;
    (void)size;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a status line: a new set of headers */
        sr_buf_reset(&h->hdr);
        h->nhdr = 0;
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p)
        return n; /* the blank line, or a malformed one */
    size_t nl = (size_t)(colon - p), vs = nl + 1, ve = n;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    while (ve > vs && (p[ve - 1] == '\r' || p[ve - 1] == '\n' || p[ve - 1] == ' '))
        ve--;
    if (h->nhdr == SR_FETCH_MAX_RESP_HEADERS ||
        sr_buf_reserve(&h->hdr, nl + (ve - vs) + 2, NULL) != SR_OK) {
        h->over_headers = true;
        return 0;
    }
    struct hdr_at *at = &h->at[h->nhdr++];
    at->name = h->hdr.len;
    at->name_len = nl;
    (void)sr_buf_append(&h->hdr, p, nl, NULL);
    at->value = h->hdr.len;
    at->value_len = ve - vs;
    (void)sr_buf_append(&h->hdr, p + vs, ve - vs, NULL);
    return n;
}

static bool
header_is(const struct sr_http_bytes *name, const char *what)
{
    return name->len == strlen(what) && strncasecmp((const char *)name->p, what, name->len) == 0;
}

/* Request headers for curl, placeholders substituted for this hop; an
 * Authorization header is dropped on a cross-origin redirect (fetch). */
static enum sr_http_wire_code
build_headers(struct hop *h, bool drop_auth, struct curl_slist **out, sr_buf *tmp)
{
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    bool has_ua = false;
    for (size_t i = 0; list && i < h->req->nheaders; i++) {
        const struct sr_http_header *hd = &h->req->headers[i];
        if (drop_auth && header_is(&hd->name, "authorization"))
            continue;
        has_ua = has_ua || header_is(&hd->name, "user-agent");
        sr_buf_reset(tmp);
        size_t ns = 0;
        (void)sr_buf_append(tmp, hd->name.p, hd->name.len, NULL);
        (void)sr_buf_append(tmp, ": ", 2, NULL);
        enum sr_http_wire_code rc =
            sr_http__subst(&h->s->cfg, h->host, h->port, h->defport, hd->value.p, hd->value.len,
                           false, tmp, &ns, h->msg, sizeof(h->msg));
        if (rc != SR_HTTP_WIRE_OK) {
            curl_slist_free_all(list);
            return rc;
        }
        struct curl_slist *l = curl_slist_append(list, tmp->data);
        if (!l)
            curl_slist_free_all(list);
        list = l;
    }
    if (list && !has_ua) {
        struct curl_slist *l = curl_slist_append(list, "User-Agent: sealrun/" SR_VERSION);
        if (!l)
            curl_slist_free_all(list);
        list = l;
    }
    if (!list)
        return fail(h, SR_HTTP_WIRE_ERROR, "out of memory building the request headers");
    *out = list;
    return SR_HTTP_WIRE_OK;
}

static enum sr_http_wire_code
curl_failed(struct hop *h, CURLcode cc, const char *ebuf, uint32_t timeout_ms)
{
    if (h->over_body || cc == CURLE_FILESIZE_EXCEEDED)
        return fail(h, SR_HTTP_WIRE_LIMIT,
                    "the response body of '%s' is over %zu bytes (http.max_response_bytes)",
                    h->host, h->body.max);
    if (h->over_headers)
        return fail(h, SR_HTTP_WIRE_LIMIT,
                    "the response of '%s' has more than %d headers or %u "
                    "bytes of them",
                    h->host, SR_FETCH_MAX_RESP_HEADERS, SR_FETCH_MAX_RESP_HEADER_BYTES);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return fail(h, SR_HTTP_WIRE_TIMEOUT, "the request to '%s' took more than %u ms", h->host,
                    timeout_ms);
    return fail(h, SR_HTTP_WIRE_ERROR, "request to '%s' (%s) failed: %s", h->host, h->addr_text,
                ebuf[0] ? ebuf : curl_easy_strerror(cc));
}

/* Sends the hop; on OK the status is *status and h holds the response. */
static enum sr_http_wire_code
perform(struct hop *h, const struct sr_http_message *req, const sr_buf *body, bool drop_auth,
        uint32_t timeout_ms, long *status)
{
    const sr_http_policy *pol = h->s->cfg.policy;
    char pin[600], ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL, *resolve = NULL;
    sr_buf tmp;
    sr_buf_init_secure(&tmp, SR_FETCH_MAX_HEADER_BYTES + 64 * 1024);
    enum sr_http_wire_code rc = build_headers(h, drop_auth, &hdrs, &tmp);
    sr_buf_fini_secure(&tmp);
    if (rc != SR_HTTP_WIRE_OK)
        return rc;
    CURL *c = curl_easy_init();
    if (!c) {
        curl_slist_free_all(hdrs);
        return fail(h, SR_HTTP_WIRE_ERROR, "out of memory starting a request");
    }
    if (!h->is_literal) {
        (void)snprintf(pin, sizeof(pin), strchr(h->addr_text, ':') ? "%s:%u:[%s]" : "%s:%u:%s",
                       h->bare, h->port, h->addr_text);
        resolve = curl_slist_append(NULL, pin);
        curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    }
    curl_easy_setopt(c, CURLOPT_CURLU, h->u);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, pol->allow_http ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (pol->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, pol->ca_file);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->body.max);
    char method[SR_FETCH_MAX_METHOD + 1];
    (void)snprintf(method, sizeof(method), "%.*s", (int)req->method.len,
                   (const char *)req->method.p);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (body->len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data ? body->data : "");
        }
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    else
        rc = curl_failed(h, cc, ebuf, timeout_ms);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(resolve);
    return rc;
}

/* ---- one fetch ---- */

static bool
is_token(const struct sr_http_bytes *b)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (b->len == 0)
        return false;
    for (size_t i = 0; i < b->len; i++)
        if (!isalnum(b->p[i]) && !memchr(extra, b->p[i], sizeof(extra) - 1))
            return false;
    return true;
}

/* Headers curl or the transport owns: a guest may not set them. */
static bool
forbidden_header(const struct sr_http_bytes *name)
{
    static const char *const names[] = {"host",       "content-length", "transfer-encoding",
                                        "connection", "keep-alive",     "upgrade",
                                        "te",         "trailer",        "expect"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (header_is(name, names[i]))
            return true;
    return name->len >= 6 && strncasecmp((const char *)name->p, "proxy-", 6) == 0;
}

static enum sr_http_wire_code
check_request(const struct sr_http_message *m, char *msg, size_t cap)
{
    static const char *const refused[] = {"CONNECT", "TRACE", "TRACK"};
    if (!is_token(&m->method)) {
        (void)snprintf(msg, cap, "the method must be an HTTP token (GET, POST, ...)");
        return SR_HTTP_WIRE_INVALID;
    }
    for (size_t i = 0; i < 3; i++)
        if (header_is(&m->method, refused[i])) {
            (void)snprintf(msg, cap, "method '%s' is not allowed", refused[i]);
            return SR_HTTP_WIRE_INVALID;
        }
    if (m->body.len && (header_is(&m->method, "GET") || header_is(&m->method, "HEAD"))) {
        (void)snprintf(msg, cap, "a GET or HEAD request cannot have a body");
        return SR_HTTP_WIRE_INVALID;
    }
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct sr_http_header *h = &m->headers[i];
        if (!is_token(&h->name)) {
            (void)snprintf(msg, cap, "header %zu has a name that is not an HTTP token", i);
            return SR_HTTP_WIRE_INVALID;
        }
        if (forbidden_header(&h->name)) {
            (void)snprintf(msg, cap, "header '%.*s' is set by sealrun, not by the job",
                           (int)h->name.len, (const char *)h->name.p);
            return SR_HTTP_WIRE_INVALID;
        }
        if (memchr(h->value.p, '\r', h->value.len) || memchr(h->value.p, '\n', h->value.len) ||
            memchr(h->value.p, '\0', h->value.len)) {
            (void)snprintf(msg, cap, "header '%.*s' has CR, LF or NUL in its value",
                           (int)h->name.len, (const char *)h->name.p);
            return SR_HTTP_WIRE_INVALID;
        }
    }
    return SR_HTTP_WIRE_OK;
}

/* What changes from hop to hop of one fetch. */
struct fetch {
    sr_http_session *s;
    struct sr_http_message req; /* method and body change on a 303 */
    int64_t deadline_us;
    bool deadline_is_job;
    uint32_t timeout_ms;
    char method[SR_FETCH_MAX_METHOD + 1];
    char origin[300]; /* scheme://host:port of the first hop */
};

/* Substitutes placeholders in the path and query of hop 0's URL. */
static enum sr_http_wire_code
subst_url(struct hop *h)
{
    static const CURLUPart parts[] = {CURLUPART_PATH, CURLUPART_QUERY};
    enum sr_http_wire_code rc = SR_HTTP_WIRE_OK;
    for (size_t i = 0; rc == SR_HTTP_WIRE_OK && i < 2; i++) {
        char *v = NULL;
        if (curl_url_get(h->u, parts[i], &v, 0) != CURLUE_OK || !v)
            continue;
        sr_buf out;
        sr_buf_init_secure(&out, SR_FETCH_MAX_URL + 64 * 1024);
        size_t n = 0;
        rc = sr_http__subst(&h->s->cfg, h->host, h->port, h->defport, (const uint8_t *)v, strlen(v),
                            true, &out, &n, h->msg, sizeof(h->msg));
        if (rc == SR_HTTP_WIRE_OK && n && curl_url_set(h->u, parts[i], out.data, 0) != CURLUE_OK)
            rc = fail(h, SR_HTTP_WIRE_INVALID, "the URL is not valid once secrets are substituted");
        sr_buf_fini_secure(&out);
        curl_free(v);
    }
    return rc;
}

/* The value scan over what the guest wrote, for this hop's host. */
static enum sr_http_wire_code
scan_request(struct hop *h, const char *url)
{
    const struct sr_http_session_config *cfg = &h->s->cfg;
    enum sr_http_wire_code rc =
        sr_http__scan(cfg, h->host, h->port, h->defport, (const uint8_t *)url, strlen(url), h->msg,
                      sizeof(h->msg));
    for (size_t i = 0; rc == SR_HTTP_WIRE_OK && i < h->req->nheaders; i++)
        rc = sr_http__scan(cfg, h->host, h->port, h->defport, h->req->headers[i].value.p,
                           h->req->headers[i].value.len, h->msg, sizeof(h->msg));
    if (rc == SR_HTTP_WIRE_OK && h->req->body.len)
        rc = sr_http__scan(cfg, h->host, h->port, h->defport, h->req->body.p, h->req->body.len,
                           h->msg, sizeof(h->msg));
    return rc;
}

static void
hop_init(struct hop *h, struct fetch *f)
{
    memset(h, 0, sizeof(*h));
    h->s = f->s;
    h->req = &f->req;
    sr_buf_init(&h->hdr, SR_FETCH_MAX_RESP_HEADER_BYTES);
    uint32_t max = f->s->cfg.job && f->s->cfg.job->max_response ? f->s->cfg.job->max_response
                                                                : SR_FETCH_DEFAULT_RESPONSE;
    sr_buf_init(&h->body, max);
}

static void
hop_fini(struct hop *h)
{
    curl_url_cleanup(h->u);
    sr_buf_fini(&h->hdr);
    sr_buf_fini_secure(&h->body); /* a server may echo a secret */
}

/* The response header named 'name' of h, or NULL (a C string in tmp). */
static const char *
resp_header(const struct hop *h, const char *name, char *tmp, size_t cap)
{
    for (size_t i = 0; i < h->nhdr; i++) {
        const struct hdr_at *a = &h->at[i];
        if (a->name_len == strlen(name) &&
            strncasecmp(h->hdr.data + a->name, name, a->name_len) == 0) {
            if (a->value_len >= cap)
                return NULL;
            memcpy(tmp, h->hdr.data + a->value, a->value_len);
            tmp[a->value_len] = '\0';
            return tmp;
        }
    }
    return NULL;
}

/* Checks and sends one hop (h->u set); *status on OK. */
static enum sr_http_wire_code
run_hop(struct fetch *f, struct hop *h, unsigned n, const char *written, long *status)
{
    enum sr_http_wire_code rc = url_parts(h);
    if (rc == SR_HTTP_WIRE_OK)
        rc = check_policy(h);
    if (rc == SR_HTTP_WIRE_OK)
        rc = check_address(h, f->deadline_us);
    if (rc == SR_HTTP_WIRE_OK && n == 0)
        rc = subst_url(h);
    if (rc == SR_HTTP_WIRE_OK)
        rc = scan_request(h, written);
    if (rc != SR_HTTP_WIRE_OK)
        return rc;
    char origin[300];
    (void)snprintf(origin, sizeof(origin), "%s://%s:%u", h->scheme, h->host, h->port);
    if (n == 0)
        (void)snprintf(f->origin, sizeof(f->origin), "%s", origin);
    int64_t left_us = f->deadline_us - sr_mono_us();
    if (left_us <= 1000)
        return fail(h, SR_HTTP_WIRE_TIMEOUT, "%s",
                    f->deadline_is_job
                        ? "the job's wall clock (timeout) leaves no time for this request"
                        : "the request's time ran out before this hop");
    sr_buf body;
    sr_buf_init_secure(&body, SR_FETCH_MAX_REQUEST_BODY + 64 * 1024);
    size_t ns = 0;
    rc = sr_http__subst(&f->s->cfg, h->host, h->port, h->defport, f->req.body.p, f->req.body.len,
                        false, &body, &ns, h->msg, sizeof(h->msg));
    if (rc == SR_HTTP_WIRE_OK)
        rc = perform(h, &f->req, &body, strcmp(origin, f->origin) != 0, (uint32_t)(left_us / 1000),
                     status);
    sr_buf_fini_secure(&body);
    return rc;
}

/* Appends the OK answer for the last hop h. */
static sr_status
answer_ok(struct hop *h, long status, bool redirected, const char *url, sr_buf *resp, sr_err *err)
{
    struct sr_http_message *a = calloc(1, sizeof(*a));
    if (!a)
        return sr_err_set(err, SR_ENOMEM, "out of memory answering an HTTP request");
    a->status = (uint16_t)status;
    a->redirected = redirected;
    a->url = (struct sr_http_bytes){(const uint8_t *)url, strlen(url)};
    for (size_t i = 0; i < h->nhdr; i++) {
        const struct hdr_at *at = &h->at[i];
        a->headers[i].name =
            (struct sr_http_bytes){(const uint8_t *)h->hdr.data + at->name, at->name_len};
        a->headers[i].value =
            (struct sr_http_bytes){(const uint8_t *)h->hdr.data + at->value, at->value_len};
    }
    a->nheaders = h->nhdr;
    a->body = (struct sr_http_bytes){(const uint8_t *)h->body.data, h->body.len};
    sr_status rc = sr_http_wire_answer(resp, a, err);
    free(a);
    return rc;
}

static bool
is_redirect(long st)
{
    return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

/* After a redirect: 303 (and 301/302 after POST) go on as GET without a body. */
static void
redirect_method(struct fetch *f, long st)
{
    bool post = strcmp(f->method, "POST") == 0;
    if ((st == 303 && strcmp(f->method, "HEAD") != 0) || ((st == 301 || st == 302) && post)) {
        (void)snprintf(f->method, sizeof(f->method), "GET");
        f->req.method = (struct sr_http_bytes){(const uint8_t *)f->method, 3};
        f->req.body = (struct sr_http_bytes){NULL, 0};
    }
}

/* The URL of the next hop: Location resolved against the URL just sent. */
static CURLU *
next_url(const struct hop *h, const char *location, char *msg, size_t cap)
{
    CURLU *u = curl_url_dup(h->u);
    if (u && curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK)
        return u;
    curl_url_cleanup(u);
    (void)snprintf(msg, cap, "'%s' redirected to a URL that is not valid", h->host);
    return NULL;
}

static enum sr_http_wire_code
fetch_hops(struct fetch *f, const char *url, sr_buf *resp, char *msg, size_t cap, sr_status *st,
           sr_err *err)
{
    char *written = strdup(url);
    CURLU *u = curl_url();
    enum sr_http_wire_code rc = SR_HTTP_WIRE_OK;
    if (!written || !u) {
        free(written);
        curl_url_cleanup(u);
        *st = sr_err_set(err, SR_ENOMEM, "out of memory starting a request");
        return SR_HTTP_WIRE_ERROR;
    }
    if (curl_url_set(u, CURLUPART_URL, written, 0) != CURLUE_OK) {
        (void)snprintf(msg, cap, "'%.200s' is not a valid absolute URL", written);
        rc = SR_HTTP_WIRE_INVALID;
    }
    for (unsigned n = 0; rc == SR_HTTP_WIRE_OK; n++) {
        struct hop h;
        hop_init(&h, f);
        h.u = u;
        u = NULL;
        long status = 0;
        int64_t t0 = sr_mono_us(), started = sr_now_ms();
        rc = run_hop(f, &h, n, written, &status);
        if (rc != SR_HTTP_WIRE_OK)
            (void)snprintf(msg, cap, "%s", h.msg);
        bool sent = rc == SR_HTTP_WIRE_OK || h.addr_text[0];
        if (sent && record(f->s, &f->req, written, (unsigned)status,
                           rc == SR_HTTP_WIRE_OK ? &h.body : NULL, rc, started, t0) != SR_OK) {
            *st = sr_err_set(err, SR_ENOMEM, "out of memory recording an HTTP exchange");
            rc = SR_HTTP_WIRE_ERROR;
        }
        char loc[SR_FETCH_MAX_URL + 1];
        const char *location = rc == SR_HTTP_WIRE_OK && is_redirect(status)
                                   ? resp_header(&h, "location", loc, sizeof(loc))
                                   : NULL;
        if (location && f->req.redirect == SR_HTTP_REDIRECT_ERROR) {
            (void)snprintf(msg, cap, "'%s' answered a redirect (%ld) and redirect is \"error\"",
                           h.host, status);
            rc = SR_HTTP_WIRE_ERROR;
        } else if (location && f->req.redirect == SR_HTTP_REDIRECT_FOLLOW) {
            if (n == SR_FETCH_MAX_REDIRECTS) {
                (void)snprintf(msg, cap, "more than %d redirects", SR_FETCH_MAX_REDIRECTS);
                rc = SR_HTTP_WIRE_ERROR;
            } else if (!(u = next_url(&h, location, msg, cap))) {
                rc = SR_HTTP_WIRE_ERROR;
            } else {
                char *next = NULL;
                (void)curl_url_get(u, CURLUPART_URL, &next, 0);
                free(written);
                written = next ? redact(f->s, strdup(next)) : NULL;
                curl_free(next);
                redirect_method(f, status);
                if (!written) {
                    *st = sr_err_set(err, SR_ENOMEM, "out of memory following a redirect");
                    rc = SR_HTTP_WIRE_ERROR;
                }
                hop_fini(&h);
                continue;
            }
        } else if (rc == SR_HTTP_WIRE_OK) {
            *st = answer_ok(&h, status, n > 0, written, resp, err);
            hop_fini(&h);
            break;
        }
        hop_fini(&h);
    }
    curl_url_cleanup(u);
    free(written);
    return rc;
}

static sr_status
answer_code(sr_buf *resp, enum sr_http_wire_code code, const char *msg, sr_err *err)
{
    uint8_t c = (uint8_t)code;
    sr_status rc = sr_buf_append(resp, &c, 1, err);
    return rc == SR_OK ? sr_buf_append(resp, msg, strlen(msg), err) : rc;
}

sr_status
sr_http_session_handle(sr_http_session *s, const uint8_t *req, size_t len, sr_buf *resp,
                       sr_err *err)
{
    struct fetch *f = calloc(1, sizeof(*f));
    char msg[MSG_CAP] = "";
    sr_err e = {0};
    if (!f)
        return sr_err_set(err, SR_ENOMEM, "out of memory for an HTTP request");
    f->s = s;
    enum sr_http_wire_code code = SR_HTTP_WIRE_OK;
    if (sr_http_wire_request_decode(req, len, &f->req, &e) != SR_OK) {
        (void)snprintf(msg, sizeof(msg), "%s", e.msg);
        code = e.status == SR_ELIMIT ? SR_HTTP_WIRE_LIMIT : SR_HTTP_WIRE_INVALID;
    } else {
        code = check_request(&f->req, msg, sizeof(msg));
    }
    uint32_t max = s->cfg.job && s->cfg.job->max_requests ? s->cfg.job->max_requests
                                                          : SR_FETCH_DEFAULT_REQUESTS;
    if (code == SR_HTTP_WIRE_OK && (!s->cfg.job || !s->cfg.job->nallow)) {
        (void)snprintf(msg, sizeof(msg),
                       "this job may make no HTTP request: its request has no http.allow");
        code = SR_HTTP_WIRE_DENIED;
    } else if (code == SR_HTTP_WIRE_OK && s->nrequests >= max) {
        (void)snprintf(msg, sizeof(msg), "the job made its %u requests (http.max_requests)", max);
        code = SR_HTTP_WIRE_LIMIT;
    }
    sr_status st = SR_OK;
    if (code == SR_HTTP_WIRE_OK) {
        s->nrequests++;
        (void)snprintf(f->method, sizeof(f->method), "%.*s", (int)f->req.method.len,
                       (const char *)f->req.method.p);
        f->req.method = (struct sr_http_bytes){(const uint8_t *)f->method, strlen(f->method)};
        f->timeout_ms = f->req.timeout_ms && f->req.timeout_ms < SR_FETCH_TIMEOUT_MS
                            ? f->req.timeout_ms
                            : SR_FETCH_TIMEOUT_MS;
        f->deadline_us = sr_mono_us() + (int64_t)f->timeout_ms * 1000;
        if (s->cfg.deadline_us && s->cfg.deadline_us < f->deadline_us) {
            f->deadline_us = s->cfg.deadline_us;
            f->deadline_is_job = true;
        }
        char url[SR_FETCH_MAX_URL + 1];
        (void)snprintf(url, sizeof(url), "%.*s", (int)f->req.url.len, (const char *)f->req.url.p);
        if (strlen(url) != f->req.url.len) {
            (void)snprintf(msg, sizeof(msg), "the URL contains a NUL byte");
            code = SR_HTTP_WIRE_INVALID;
        } else {
            code = fetch_hops(f, url, resp, msg, sizeof(msg), &st, err);
        }
    }
    free(f);
    if (st != SR_OK)
        return st;
    if (code == SR_HTTP_WIRE_OK)
        return SR_OK;
    if (s->failure == SR_HTTP_WIRE_OK) {
        s->failure = code;
        (void)snprintf(s->failure_msg, sizeof(s->failure_msg), "%s", msg);
    }
    return answer_code(resp, code, msg, err);
}

/* ---- a URL checked ahead (callback URLs) ---- */

/* The address guard for a host that is an address literal or a loopback
 * name (RFC 6761), without resolving anything. */
static enum sr_http_wire_code
check_literal(struct hop *h)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&ss;
    size_t n = strlen(h->bare);
    bool loop_name = strcmp(h->bare, "localhost") == 0 ||
                     (n > 10 && strcmp(h->bare + n - 10, ".localhost") == 0);
    if (loop_name) {
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, h->bare, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, h->bare, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
    } else {
        return SR_HTTP_WIRE_OK; /* a name: resolved and checked at each request */
    }
    const struct sockaddr *sa = (const struct sockaddr *)(const void *)&ss;
    enum sr_http_addr_class c = sr_http_addr_classify(sa);
    if (c != SR_HTTP_ADDR_PUBLIC && !sr_http_policy_private_ok(h->s->cfg.policy, sa))
        return fail(h, SR_HTTP_WIRE_DENIED,
                    "'%s' is a %s address: the address guard refuses it (the operator's "
                    "--http-allow-private allows such networks)",
                    h->host, sr_http_addr_class_name(c));
    return SR_HTTP_WIRE_OK;
}

sr_status
sr_http_url_check(const sr_http_policy *pol, const char *url, char *pattern, size_t cap,
                  sr_err *err)
{
    if (!url || strlen(url) > SR_FETCH_MAX_URL)
        return sr_err_set(err, SR_EINVAL, "URL must be 1..%d bytes", SR_FETCH_MAX_URL);
    char *allow[1] = {pattern};
    struct sr_http_job job = {.allow = allow, .nallow = 1};
    sr_http_session s = {.cfg = {.policy = pol, .job = &job}};
    struct hop h;
    memset(&h, 0, sizeof(h));
    h.s = &s;
    h.u = curl_url();
    if (!h.u)
        return sr_err_set(err, SR_ENOMEM, "out of memory checking a URL");
    enum sr_http_wire_code code = SR_HTTP_WIRE_OK;
    if (curl_url_set(h.u, CURLUPART_URL, url, 0) != CURLUE_OK)
        code = fail(&h, SR_HTTP_WIRE_INVALID, "'%.200s' is not an absolute URL", url);
    if (code == SR_HTTP_WIRE_OK)
        code = url_parts(&h);
    if (code == SR_HTTP_WIRE_OK && (size_t)snprintf(pattern, cap, "%s:%u", h.host, h.port) >= cap)
        code = fail(&h, SR_HTTP_WIRE_INVALID, "the URL's host is too long");
    if (code == SR_HTTP_WIRE_OK)
        code = check_policy(&h); /* the job's allow list is the URL's own host and port */
    if (code == SR_HTTP_WIRE_OK)
        code = check_literal(&h);
    curl_url_cleanup(h.u);
    if (code != SR_HTTP_WIRE_OK)
        return sr_err_set(err, SR_EINVAL, "%s", h.msg);
    return SR_OK;
}

json_t *
sr_http_exchanges_json(const struct sr_http_exchange *x, size_t n)
{
    if (n == 0)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *names = json_array();
        for (size_t j = 0; names && j < x[i].nheader_names; j++)
            (void)json_array_append_new(names, json_string(x[i].header_names[j]));
        char at[32];
        sr_time_rfc3339(x[i].started_ms, at);
        json_t *o =
            json_pack("{s:s, s:s, s:o, s:s, s:I, s:s, s:I}", "method", x[i].method, "url", x[i].url,
                      "header_names", names ? names : json_array(), "request_body_sha256",
                      x[i].request_sha256, "status", (json_int_t)x[i].status, "started_at", at,
                      "duration_us", (json_int_t)x[i].duration_us);
        if (o && x[i].response_sha256[0])
            (void)json_object_set_new(o, "response_body_sha256", json_string(x[i].response_sha256));
        if (o && x[i].error)
            (void)json_object_set_new(o, "error", json_string(x[i].error));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
