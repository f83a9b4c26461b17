/* SPDX-License-Identifier: MIT
 *
 * reply.c - the one table from library status to HTTP status and error
 * code, and the error bodies. A library error's code comes from its status
 * (sr_api_status_code), never from the HTTP number; the HTTP edge's own
 * protocol answers (408, 414, 431, 505, ...) and routing's 404/405 name
 * theirs by status number (sr_api_error_code). docs/errors.md is the copy
 * for readers: keep them in sync (tests/unit/api_reply_test.c checks every
 * status).
 */
#include "sealrun/sr_api.h"

/* keep in sync with sr_status (sr_err.h) and docs/errors.md */
static const struct {
    unsigned http;
    const char *code;
} table[SR_STATUS_COUNT_] = {
    [SR_OK] = {200, "ok"},
    [SR_EINVAL] = {400, "invalid_request"},
    [SR_ENOTFOUND] = {404, "not_found"},
    [SR_ECONFLICT] = {409, "conflict"},
    [SR_EDENIED] = {401, "unauthorized"},
    [SR_ELIMIT] = {413, "payload_too_large"},
    [SR_ETRAP] = {422, "guest_error"},
    [SR_EIO] = {503, "unavailable"},
    [SR_ENOMEM] = {500, "internal_error"},
    [SR_EINTERNAL] = {500, "internal_error"},
    [SR_EBUSY] = {429, "too_many_requests"},
    [SR_EFORBIDDEN] = {403, "forbidden"},
    /* a job refused at admission (docs/accounts.md): named as job codes are */
    [SR_EBUDGET] = {429, "BUDGET_EXHAUSTED"},
    [SR_EBALANCE] = {402, "INSUFFICIENT_BALANCE"},
};

unsigned
sr_api_http_status(sr_status st)
{
    return (unsigned)st < SR_STATUS_COUNT_ && table[st].code ? table[st].http : 500;
}

const char *
sr_api_status_code(sr_status st)
{
    return (unsigned)st < SR_STATUS_COUNT_ && table[st].code ? table[st].code : "internal_error";
}

json_t *
sr_api_status_body(sr_status st, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", sr_api_status_code(st), "message", message);
}

const char *
sr_api_error_code(unsigned http_status)
{
    for (unsigned s = 0; s < SR_STATUS_COUNT_; s++)
        if (table[s].code && table[s].http == http_status && http_status != 500)
            return table[s].code;
    switch (http_status) {
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 414:
        return "uri_too_long";
    case 431:
        return "header_fields_too_large";
    case 505:
        return "http_version_not_supported";
    default:
        return "internal_error";
    }
}

json_t *
sr_api_error_body(unsigned http_status, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", sr_api_error_code(http_status), "message",
                     message);
}
