/* SPDX-License-Identifier: MIT
 *
 * server.c - the libmicrohttpd glue: an event-driven server whose I/O
 * threads only read and write, and two lanes of threads (server_lane.c)
 * that run the router on complete requests (docs/security-model.md, "The
 * HTTP edge").
 *
 * A request goes through these stages, in the I/O thread unless marked:
 *   1. the request line arrives: uri_log() copies the raw target;
 *   2. the headers are complete: on_headers() checks the request line, the
 *      target, the header block and the framing (edge.c), and answers a
 *      violation with 400/414/431/505 and Connection: close. A request with
 *      a body whose token this server has not seen valid lately is
 *      suspended while the gate lane checks the token (lane thread); without
 *      a valid token it is answered without its body ever being read;
 *   3. the body is buffered up to sr_api_body_limit() (413 beyond);
 *   4. the request is suspended and queued on the main lane (a token known
 *      to be valid) or the gate lane (everything else); a lane thread runs
 *      sr_api_dispatch() and resumes the connection;
 *   5. the answer is queued; the connection waits for the next request.
 * Deadlines for each stage and the connection caps are in server_conn.c.
 */
#include "server_int.h"
#include "sealrun/sr_keystore.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

struct sr_server {
    struct MHD_Daemon *mhd;
    sr_api *api;
    sr_api_guard *guard;
    sr_server__lane *main_lane; /* requests with a token known to be valid */
    sr_server__lane *gate_lane; /* token checks and everything unauthenticated */
    struct sr_server__conns conns;
    uint16_t port;
    atomic_bool stopping; /* sr_server_free began: new connections are refused */
};

enum stage {
    ST_NEW,      /* request line seen, headers not yet complete */
    ST_CHECKING, /* suspended: the gate lane checks the token before the body */
    ST_CHECKED,  /* the check is done; resumed */
    ST_BODY,     /* reading the body */
    ST_RUNNING,  /* suspended: a lane runs the request */
    ST_DONE,     /* resumed with the answer in resp */
    ST_ANSWERED, /* the answer is queued */
};

struct req_ctx {
    struct sr_server__task task; /* what a lane runs: check_token() or run() */
    sr_server *srv;
    struct MHD_Connection *c;
    struct sr_server__conn *conn;
    enum stage stage;
    const char *raw_uri; /* where the target began in libmicrohttpd's buffer */
    size_t raw_len;
    char *target_raw; /* a copy: libmicrohttpd rewrites the query in place */
    struct sr_api_target target;
    struct sr_api_request req;
    struct sr_api_response resp;
    uint8_t token_hash[32];
    bool has_token;   /* token_hash is the SHA-256 of a bearer token sent */
    bool main_lane;   /* the token is valid */
    bool gate_run;    /* a bodiless worker request whose token is not valid: runs on the
                         gate lane, where its route answers it */
    bool close;       /* answer with Connection: close */
    bool has_body;    /* Content-Length > 0 or chunked */
    bool too_large;   /* the body passed its limit */
    bool authed_seen; /* resp.authenticated was already acted on */
    sr_buf body;
};

/* --- answers -------------------------------------------------------------- */

/* RateLimit-Limit, -Remaining and -Reset (docs/accounts.md#rate-limits). */
static void
add_rate_headers(struct MHD_Response *resp, const struct sr_api_response *r)
{
    if (!r->ratelimit_limit)
        return;
    char v[3][16];
    (void)snprintf(v[0], sizeof(v[0]), "%u", r->ratelimit_limit);
    (void)snprintf(v[1], sizeof(v[1]), "%u", r->ratelimit_remaining);
    (void)snprintf(v[2], sizeof(v[2]), "%u", r->ratelimit_reset);
    MHD_add_response_header(resp, "RateLimit-Limit", v[0]);
    MHD_add_response_header(resp, "RateLimit-Remaining", v[1]);
    MHD_add_response_header(resp, "RateLimit-Reset", v[2]);
}

/* Sends a body that is not JSON (the dashboard): r->raw_owned is taken. */
static enum MHD_Result
send_raw(struct MHD_Connection *c, struct sr_api_response *r, bool close)
{
    struct MHD_Response *resp =
        r->raw_owned
            ? MHD_create_response_from_buffer(r->raw_len, r->raw_owned, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(r->raw_len, (void *)(uintptr_t)r->raw,
                                              MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO; /* raw_owned stays with r: resp_clear frees it */
    r->raw_owned = NULL;
    if (r->raw_len || r->status != 304)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    if (r->etag[0])
        MHD_add_response_header(resp, "ETag", r->etag);
    if (r->location)
        MHD_add_response_header(resp, "Location", r->location);
    for (const struct sr_api_header *h = r->headers; h && h->name; h++)
        MHD_add_response_header(resp, h->name, h->value);
    add_rate_headers(resp, r);
    if (close)
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(c, r->status ? r->status : 500, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Sends the body (r->text is taken). */
static enum MHD_Result
send_json(struct MHD_Connection *c, struct sr_api_response *r, bool close)
{
    if (r->content_type)
        return send_raw(c, r, close);
    char *text = r->text;
    size_t len = r->text_len;
    r->text = NULL;
    if (!text && r->body) {
        text = sr_json_dumps(r->body, JSON_COMPACT);
        len = text ? strlen(text) : 0;
    }
    if (!text) {
        text = strdup("{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}");
        len = text ? strlen(text) : 0;
    }
    if (!text)
        return MHD_NO;
    text[len] = '\n'; /* replaces the NUL: the body is length-delimited */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len + 1, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (close)
        MHD_add_response_header(resp, "Connection", "close");
    if (r->retry_after) {
        char ra[16];
        (void)snprintf(ra, sizeof(ra), "%u", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    add_rate_headers(resp, r);
    enum MHD_Result ok = MHD_queue_response(c, r->status ? r->status : 500, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* Frees what an answer holds and empties it. */
static void
resp_clear(struct sr_api_response *r)
{
    json_decref(r->body);
    free(r->text);
    free(r->raw_owned);
    *r = (struct sr_api_response){0};
}

/* Queues rc's answer and notes what it says about the connection. */
static enum MHD_Result
answer(struct req_ctx *rc)
{
    sr_server *srv = rc->srv;
    if (rc->resp.authenticated && !rc->authed_seen) {
        rc->authed_seen = true;
        sr_server__conn_prove(&srv->conns, rc->conn);
    }
    enum MHD_Result ok = send_json(rc->c, &rc->resp, rc->close);
    resp_clear(&rc->resp);
    rc->stage = ST_ANSWERED;
    sr_server__conn_phase(&srv->conns, rc->conn, SR_CONN_SEND);
    return ok;
}

/* Answers a request the edge refuses, and closes the connection after. */
static enum MHD_Result
refuse(struct req_ctx *rc, unsigned status, const char *msg)
{
    resp_clear(&rc->resp);
    rc->resp = (struct sr_api_response){.status = status, .body = sr_api_error_body(status, msg)};
    rc->close = true;
    return answer(rc);
}

/* --- lane work ------------------------------------------------------------ */

static int64_t
now_ms(void)
{
    return sr_mono_us() / 1000;
}

/* Gate lane, before a body is read: is the token valid? If not, the
 * router answers the request as it stands, without its body (401 for an
 * endpoint that needs a token, 404 or 405 for the others); the attempt was
 * counted once, here. */
static void
check_token(struct sr_server__task *t)
{
    struct req_ctx *rc = (struct req_ctx *)t;
    sr_server *srv = rc->srv;
    /* a remote worker's request: its token lets the body in, the route
     * checks the signature over it (route_workers.c) */
    /* the keystore's channel: its signature over the body, checked by
     * the route, lets the body in (route_keystore.c; bounded by the
     * route's body cap) */
    if (sr_api__keystore_channel(srv->api, rc->req.path)) {
        rc->main_lane = true;
        rc->stage = ST_CHECKED;
        MHD_resume_connection(rc->c);
        return;
    }
    if (strncmp(rc->req.path, "/worker/", 8) == 0) {
        rc->main_lane = rc->has_token && sr_api__worker_token_ok(srv->api, rc->token_hash);
        if (!rc->main_lane && !rc->has_body) {
            rc->gate_run = true; /* the route says why (revoked: 403), on this lane */
        } else if (!rc->main_lane) {
            sr_api__guard_failed(srv->guard, &rc->req.client, now_ms());
            sr_api__reply(&rc->resp, SR_EDENIED, "invalid or revoked worker token",
                          "authenticating a worker");
        }
        rc->stage = ST_CHECKED;
        MHD_resume_connection(rc->c);
        return;
    }
    char *owner = sr_api__authenticate(srv->api, &rc->req, &rc->resp);
    if (owner) {
        free(owner);
        rc->main_lane = true;
        sr_api__guard_token_ok(srv->guard, rc->token_hash, now_ms());
    } else if (rc->resp.status == 401) {
        json_decref(rc->resp.body);
        struct sr_api_request bodiless = rc->req;
        bodiless.guard = NULL;
        sr_api_dispatch(srv->api, &bodiless, &rc->resp);
    }
    rc->stage = ST_CHECKED;
    MHD_resume_connection(rc->c);
}

/* Either lane: the request itself. */
static void
run(struct sr_server__task *t)
{
    struct req_ctx *rc = (struct req_ctx *)t;
    sr_server *srv = rc->srv;
    sr_api_dispatch(srv->api, &rc->req, &rc->resp);
    /* Remembered when it was not known: a known token is not refreshed on
     * every request (one lock less each); it is checked again in the gate
     * lane once a minute instead. */
    if (rc->resp.authenticated && rc->has_token && !rc->main_lane)
        sr_api__guard_token_ok(srv->guard, rc->token_hash, now_ms());
    rc->stage = ST_DONE;
    MHD_resume_connection(rc->c);
}

/* Suspends the connection and queues fn on a lane; called from the access
 * handler, which is where libmicrohttpd allows suspending. */
static enum MHD_Result
hand_off(struct req_ctx *rc, sr_server__lane *lane, void (*fn)(struct sr_server__task *),
         enum stage stage)
{
    rc->task.run = fn;
    rc->stage = stage;
    MHD_suspend_connection(rc->c);
    if (sr_server__lane_push(lane, &rc->task))
        return MHD_YES;
    /* Stopping, or no thread could start: answer from here. */
    resp_clear(&rc->resp);
    rc->resp = (struct sr_api_response){
        .status = 503, .body = sr_api_error_body(503, "sealrund is stopping or overloaded; retry")};
    rc->resp.retry_after = 1;
    rc->close = true;
    rc->stage = ST_DONE;
    MHD_resume_connection(rc->c);
    return MHD_YES;
}

/* --- the request, as it arrives -------------------------------------------- */

struct field_list {
    struct sr_api_field f[SR_HTTP_MAX_FIELDS + 1];
    size_t n;
};

static enum MHD_Result
collect_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
              const char *value, size_t value_size)
{
    (void)kind;
    struct field_list *l = cls;
    l->f[l->n++] = (struct sr_api_field){key, key_size, value ? value : "", value_size};
    return l->n < SR_HTTP_MAX_FIELDS + 1 ? MHD_YES : MHD_NO;
}

static void
client_of(struct MHD_Connection *c, struct sr_api_client *out)
{
    memset(out, 0, sizeof(*out));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        out->family = AF_INET;
        memcpy(out->addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        out->family = AF_INET6;
        memcpy(out->addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

/* Request line and target. 0 or the status to refuse with (msg set). */
static unsigned
check_line(struct req_ctx *rc, const char *method, const char *version, sr_err *e)
{
    if (!rc->raw_uri || !rc->target_raw) {
        sr_err_set(e, SR_EINVAL, "the request line must be 'METHOD /path HTTP/1.1'");
        return 400;
    }
    unsigned st = sr_api__request_line_check(method, rc->raw_uri, rc->raw_len, version, e);
    if (st)
        return st;
    sr_status s = sr_api__target_parse(rc->target_raw, rc->raw_len, &rc->target, e);
    if (s == SR_ELIMIT)
        return 414;
    if (s == SR_ENOMEM)
        return 500;
    return s == SR_OK ? 0 : 400;
}

/* The header block. 0 or the status to refuse with. */
static unsigned
check_fields(struct req_ctx *rc, const char *method, const char *version, struct sr_api_framing *fr,
             sr_err *e)
{
    struct field_list list; /* 3.2 KiB on an I/O thread's stack */
    struct field_list *l = &list;
    l->n = 0;
    MHD_get_connection_values_n(rc->c, MHD_HEADER_KIND, collect_field, l);
    const union MHD_ConnectionInfo *hs =
        MHD_get_connection_info(rc->c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    unsigned st = sr_api__fields_check(l->f, l->n, strcmp(version, "HTTP/1.0") == 0, fr, e);
    if (!st && (!hs || !sr_api__block_check(version + strlen(version), method + hs->header_size,
                                            l->f, l->n))) {
        sr_err_set(e, SR_EINVAL,
                   "a header line holds a NUL byte or is folded onto the next line; send each "
                   "field on one line of text");
        st = 400;
    }
    return st;
}

static enum MHD_Result
on_headers(struct req_ctx *rc, const char *method, const char *version)
{
    sr_server *srv = rc->srv;
    sr_server__conn_phase(&srv->conns, rc->conn, SR_CONN_BODY);
    sr_err e = {0};
    struct sr_api_framing fr;
    unsigned st = check_line(rc, method, version, &e);
    if (!st)
        st = check_fields(rc, method, version, &fr, &e);
    if (st)
        return refuse(rc, st, st == 500 ? "out of memory reading the request" : e.msg);
    const struct sr_api_target *t = &rc->target;
    rc->req = (struct sr_api_request){
        .method = method,
        .path = t->path,
        .authorization = fr.authorization,
        .content_type = fr.content_type,
        .query_limit = sr_api__target_query(t, "limit"),
        .query_before = sr_api__target_query(t, "before"),
        .query_prefix = sr_api__target_query(t, "prefix"),
        .query_after = sr_api__target_query(t, "after"),
        .query = t->query,
        .nquery = t->nquery,
        .guard = srv->guard,
        .if_none_match = MHD_lookup_connection_value(rc->c, MHD_HEADER_KIND, "If-None-Match"),
        .worker_time = MHD_lookup_connection_value(rc->c, MHD_HEADER_KIND, SR_WORKER_TIME_HEADER),
        .worker_signature =
            MHD_lookup_connection_value(rc->c, MHD_HEADER_KIND, SR_WORKER_SIGNATURE_HEADER),
    };
    client_of(rc->c, &rc->req.client);
    size_t max = sr_api_body_limit(method, t->path);
    if (sr_api__keystore_channel(srv->api, t->path) && max > SR_KEYSTORE_MAX_BODY)
        max = SR_KEYSTORE_MAX_BODY; /* a keystore's listener reads no more, whatever the path */
    sr_buf_init(&rc->body, max);
    if (fr.has_length && fr.content_length > max) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "request body is larger than the limit of %zu bytes", max);
        return refuse(rc, 413, msg);
    }
    rc->has_body = fr.chunked || (fr.has_length && fr.content_length > 0);
    rc->has_token = sr_api__bearer_hash(fr.authorization, rc->token_hash);
    rc->main_lane =
        rc->has_token && sr_api__guard_token_known(srv->guard, rc->token_hash, now_ms());
    if (rc->main_lane)
        sr_server__conn_prove(&srv->conns, rc->conn);
    /* a remote worker's request (a long poll, a heartbeat) runs on the main
     * lane once its worker token is checked: on the gate lane its polls
     * would hold the few threads every unauthenticated request needs */
    bool worker = rc->has_token && strncmp(t->path, "/worker/", 8) == 0;
    if ((rc->has_body || worker) && !rc->main_lane)
        return hand_off(rc, srv->gate_lane, check_token, ST_CHECKING);
    rc->stage = ST_BODY;
    return MHD_YES;
}

/* Resumed after check_token(). */
static enum MHD_Result
on_checked(struct req_ctx *rc)
{
    if (!rc->main_lane && !rc->gate_run) {
        rc->close = true; /* the body was never read */
        return answer(rc);
    }
    sr_server__conn_prove(&rc->srv->conns, rc->conn);
    rc->stage = ST_BODY;
    return MHD_YES;
}

static enum MHD_Result
on_complete(struct req_ctx *rc)
{
    sr_server *srv = rc->srv;
    if (rc->too_large) {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "request body is larger than the limit of %zu bytes",
                       rc->body.max);
        return refuse(rc, 413, msg);
    }
    rc->req.body = rc->body.data;
    rc->req.body_len = rc->body.len;
    sr_server__conn_phase(&srv->conns, rc->conn, SR_CONN_RUN);
    return hand_off(rc, rc->main_lane ? srv->main_lane : srv->gate_lane, run, ST_RUNNING);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)c;
    (void)url; /* not yet decoded (see no_unescape); the target comes from uri_log */
    struct req_ctx *rc = *con_cls;
    if (!rc)
        return MHD_NO; /* out of memory in uri_log: close */
    switch (rc->stage) {
    case ST_NEW:
        return on_headers(rc, method, version);
    case ST_CHECKED:
        return on_checked(rc);
    case ST_BODY:
        if (*upload_data_size) {
            if (!rc->too_large &&
                sr_buf_append(&rc->body, upload_data, *upload_data_size, NULL) != SR_OK)
                rc->too_large = true;
            *upload_data_size = 0;
            return MHD_YES;
        }
        return on_complete(rc);
    case ST_DONE:
        return answer(rc);
    case ST_CHECKING:
    case ST_RUNNING:
    case ST_ANSWERED:
        break;
    }
    *upload_data_size = 0;
    return MHD_YES;
}

/* --- libmicrohttpd callbacks ---------------------------------------------- */

/* The request line is in: the raw target, before libmicrohttpd splits the
 * query and turns '+' into spaces in place. Its return value becomes the
 * request's context. */
static void *
uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct req_ctx *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->srv = cls;
    rc->c = c;
    const union MHD_ConnectionInfo *sc =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rc->conn = sc ? sc->socket_context : NULL;
    if (uri) {
        rc->raw_uri = uri;
        rc->raw_len = strlen(uri);
        size_t keep = rc->raw_len > SR_HTTP_MAX_TARGET ? SR_HTTP_MAX_TARGET + 1 : rc->raw_len;
        rc->target_raw = malloc(keep + 1);
        if (rc->target_raw) {
            memcpy(rc->target_raw, uri, keep);
            rc->target_raw[keep] = '\0';
        }
    }
    return rc;
}

/* Leaves the target as sent: edge.c decodes it, strictly. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)c;
    (void)t;
    sr_server *srv = cls;
    struct req_ctx *rc = *con_cls;
    if (!rc)
        return;
    sr_server__conn_phase(&srv->conns, rc->conn, SR_CONN_HEAD);
    sr_buf_fini_secure(&rc->body); /* bodies may hold secret values (PUT /secrets) */
    sr_api__target_fini(&rc->target);
    resp_clear(&rc->resp);
    free(rc->target_raw);
    free(rc);
    *con_cls = NULL;
}

static void
notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    sr_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? sr_server__conn_open(&srv->conns, c, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        sr_server__conn_close(&srv->conns, *socket_context);
        *socket_context = NULL;
    }
}

static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    sr_server *srv = cls;
    if (atomic_load(&srv->stopping))
        return MHD_NO;
    return sr_server__conn_admit(&srv->conns) ? MHD_YES : MHD_NO;
}

/* libmicrohttpd's messages, at most 20 per 10 s (it has one per refused
 * connection, which an attacker controls); the rest are counted. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t window_ms;
    static unsigned shown, dropped;
    int64_t now = now_ms();
    pthread_mutex_lock(&lock);
    if (now - window_ms >= 10000) {
        if (dropped)
            sr_log(SR_LOG_WARN, "http", "libmicrohttpd: %u more messages not shown", dropped);
        window_ms = now;
        shown = dropped = 0;
    }
    bool show = shown < 20;
    if (show)
        shown++;
    else
        dropped++;
    pthread_mutex_unlock(&lock);
    if (!show)
        return;
    char msg[512];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    sr_log(SR_LOG_WARN, "http", "%s", msg);
}

/* --- life cycle ----------------------------------------------------------- */

static sr_status
make_addr(const struct sr_server_config *cfg, struct sockaddr_storage *ss, unsigned *flags,
          sr_err *err)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(cfg->port);
        return SR_OK;
    }
    if (inet_pton(AF_INET6, cfg->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(cfg->port);
        *flags |= MHD_USE_IPv6;
        return SR_OK;
    }
    return sr_err_set(err, SR_EINVAL,
                      "listen address '%.64s' is not a numeric IPv4 or IPv6 address", cfg->host);
}

/* The configuration with its defaults filled in and checked. */
static sr_status
settle(const struct sr_server_config *in, struct sr_server_config *c, sr_err *err)
{
    *c = *in;
    c->max_connections = c->max_connections ? c->max_connections : SR_HTTP_DEFAULT_CONNECTIONS;
    c->connection_timeout_s = c->connection_timeout_s ? c->connection_timeout_s : 60;
    c->max_connections_per_addr = c->max_connections_per_addr
                                      ? c->max_connections_per_addr
                                      : SR_HTTP_DEFAULT_CONNECTIONS_PER_ADDR;
    c->header_timeout_s =
        c->header_timeout_s ? c->header_timeout_s : SR_HTTP_DEFAULT_HEADER_TIMEOUT_S;
    c->body_timeout_s = c->body_timeout_s ? c->body_timeout_s : SR_HTTP_DEFAULT_BODY_TIMEOUT_S;
    c->request_threads = c->request_threads ? c->request_threads : SR_HTTP_DEFAULT_THREADS;
    c->auth_failures_per_min =
        c->auth_failures_per_min ? c->auth_failures_per_min : SR_HTTP_DEFAULT_AUTH_FAIL;
    if (c->max_connections > SR_HTTP_MAX_CONNECTIONS)
        return sr_err_set(err, SR_EINVAL, "max connections must be 1..%d, got %u",
                          SR_HTTP_MAX_CONNECTIONS, c->max_connections);
    if (c->header_timeout_s > SR_HTTP_MAX_TIMEOUT_S || c->body_timeout_s > SR_HTTP_MAX_TIMEOUT_S)
        return sr_err_set(err, SR_EINVAL, "header and body timeouts must be 1..%d s, got %u and %u",
                          SR_HTTP_MAX_TIMEOUT_S, c->header_timeout_s, c->body_timeout_s);
    return SR_OK;
}

static void
server_free_parts(sr_server *srv)
{
    sr_server__lane_free(srv->main_lane);
    sr_server__lane_free(srv->gate_lane);
    sr_server__conns_fini(&srv->conns);
    sr_api__guard_free(srv->guard);
    free(srv);
}

static sr_status
start_mhd(sr_server *srv, const struct sr_server_config *cfg, size_t cap, sr_err *err)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    sr_status rc = make_addr(cfg, &ss, &flags, err);
    if (rc != SR_OK)
        return rc;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned io_threads = cpus < 2 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
    srv->mhd = MHD_start_daemon(
        flags, cfg->port, accept_policy, srv, handle, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, io_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cap, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_connections_per_addr, MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SR_HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
        notify_connection, srv, MHD_OPTION_URI_LOG_CALLBACK, uri_log, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
    if (!srv->mhd)
        return sr_err_set(err, SR_EIO, "cannot listen on %.64s:%u (address in use or not local)",
                          cfg->host, cfg->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    return SR_OK;
}

sr_status
sr_server_new(const struct sr_server_config *in, sr_api *api, sr_server **out, sr_err *err)
{
    struct sr_server_config cfg;
    sr_status rc = settle(in, &cfg, err);
    if (rc != SR_OK)
        return rc;
    sr_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting the server");
    srv->api = api;
    /* Room above the soft cap for connections being replaced, which close
     * a moment after they are cut, and for accepts racing on I/O threads. */
    size_t cap = cfg.max_connections + cfg.max_connections / 8 + 16;
    rc = sr_api__guard_new(cfg.auth_failures_per_min, &srv->guard, err);
    if (rc == SR_OK)
        rc = sr_server__lane_new(cfg.request_threads, &srv->main_lane, err);
    if (rc == SR_OK)
        rc = sr_server__lane_new(SR_HTTP_GATE_THREADS, &srv->gate_lane, err);
    if (rc == SR_OK)
        rc = sr_server__conns_init(&srv->conns, cfg.max_connections, cap, cfg.header_timeout_s,
                                   cfg.body_timeout_s, err);
    if (rc == SR_OK)
        rc = sr_server__conns_start(&srv->conns, err);
    if (rc == SR_OK)
        rc = start_mhd(srv, &cfg, cap, err);
    if (rc != SR_OK) {
        server_free_parts(srv);
        return rc;
    }
    *out = srv;
    return SR_OK;
}

uint16_t
sr_server_port(const sr_server *srv)
{
    return srv->port;
}

void
sr_server_free(sr_server *srv)
{
    if (!srv)
        return;
    /* No new connections (the accept policy refuses them from now on);
     * requests already queued or running finish (later ones get 503), so no
     * connection is suspended, as MHD_stop_daemon requires; their answers
     * are given a moment to leave, since stopping closes every connection as
     * it stands. Not MHD_quiesce_daemon: with a thread pool on epoll it races
     * the pool's threads taking the listening socket out of their epoll sets
     * and aborts the process ("Failed to remove listen FD from epoll set",
     * libmicrohttpd 0.9.75, seen at a SIGTERM). */
    atomic_store(&srv->stopping, true);
    sr_server__lane_stop(srv->gate_lane);
    sr_server__lane_stop(srv->main_lane);
    sr_server__conns_drain(&srv->conns, SR_SERVER_DRAIN_MS);
    MHD_stop_daemon(srv->mhd);
    server_free_parts(srv);
}
