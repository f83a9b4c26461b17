/* SPDX-License-Identifier: MIT
 *
 * server.c - libmicrohttpd glue: one thread per connection, a capped body
 * buffer per request, and the response with its JSON body.
 *
 * Bounds: connections (MHD_OPTION_CONNECTION_LIMIT), request line and
 * headers (MHD_OPTION_CONNECTION_MEMORY_LIMIT), idle time
 * (MHD_OPTION_CONNECTION_TIMEOUT), and the body (SR_MAX_BODY: refused with
 * 413 from Content-Length before it is read, or as soon as it passes the
 * cap when chunked).
 */
#include "sealrun/sr_api.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"

/* Room for the request line and headers of one request. */
#define HEADER_MEMORY (64u * 1024u)

struct sr_server {
    struct MHD_Daemon *mhd;
    sr_api *api;
    uint16_t port;
};

struct req_ctx {
    sr_buf body;
    bool too_large;
};

/* Sends the body (r->text is taken). */
static enum MHD_Result
send_json(struct MHD_Connection *c, struct sr_api_response *r)
{
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
    if (r->retry_after) {
        char ra[16];
        (void)snprintf(ra, sizeof(ra), "%u", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ok = MHD_queue_response(c, r->status ? r->status : 500, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct sr_api_response r = {.status = status, .body = sr_api_error_body(status, msg)};
    enum MHD_Result ok = send_json(c, &r);
    json_decref(r.body);
    return ok;
}

static bool
declared_too_large(struct MHD_Connection *c, size_t max)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (!cl)
        return false;
    char *end = NULL;
    unsigned long long n = strtoull(cl, &end, 10);
    return end && *end == '\0' && n > max;
}

static enum MHD_Result
send_too_large(struct MHD_Connection *c, size_t max)
{
    char msg[96];
    (void)snprintf(msg, sizeof(msg), "request body is larger than the limit of %zu bytes", max);
    return send_error(c, 413, msg);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    sr_server *srv = cls;
    struct req_ctx *rc = *con_cls;
    if (!rc) {
        rc = calloc(1, sizeof(*rc));
        if (!rc)
            return MHD_NO;
        sr_buf_init(&rc->body, sr_api_body_limit(method, url));
        *con_cls = rc;
        if (declared_too_large(c, rc->body.max))
            return send_too_large(c, rc->body.max);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rc->too_large &&
            sr_buf_append(&rc->body, upload_data, *upload_data_size, NULL) != SR_OK)
            rc->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rc->too_large)
        return send_too_large(c, rc->body.max);
    const struct sr_api_request req = {
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        .query_limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"),
        .query_before = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "before"),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .body = rc->body.data,
        .body_len = rc->body.len,
        .query_prefix = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "prefix"),
        .query_after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after"),
    };
    struct sr_api_response resp;
    sr_api_dispatch(srv->api, &req, &resp);
    enum MHD_Result ok = send_json(c, &resp);
    json_decref(resp.body);
    return ok;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    struct req_ctx *rc = *con_cls;
    if (!rc)
        return;
    sr_buf_fini_secure(&rc->body); /* bodies may hold secret values (PUT /secrets) */
    free(rc);
    *con_cls = NULL;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    sr_log(SR_LOG_WARN, "http", "%s", msg);
}

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

sr_status
sr_server_new(const struct sr_server_config *cfg, sr_api *api, sr_server **out, sr_err *err)
{
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    sr_status rc = make_addr(cfg, &ss, &flags, err);
    if (rc != SR_OK)
        return rc;
    sr_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting the server");
    srv->api = api;
    srv->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, handle, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections ? cfg->max_connections : 512),
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->connection_timeout_s ? cfg->connection_timeout_s : 60),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_END);
    if (!srv->mhd) {
        free(srv);
        return sr_err_set(err, SR_EIO, "cannot listen on %.64s:%u (address in use or not local)",
                          cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
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
    MHD_stop_daemon(srv->mhd);
    free(srv);
}
