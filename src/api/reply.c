/* SPDX-License-Identifier: MIT
 *
 * reply.c - the one mapping from library status to HTTP status and error
 * code, and the error body. docs/errors.md is the copy for readers: keep
 * them in sync (tests/unit/api_reply_test.c checks every status).
 */
#include "sealrun/sr_api.h"

unsigned
sr_api_http_status(sr_status st)
{
    switch (st) {
    case SR_OK:
        return 200;
    case SR_EINVAL:
        return 400;
    case SR_EDENIED:
        return 401;
    case SR_ENOTFOUND:
        return 404;
    case SR_ECONFLICT:
        return 409;
    case SR_ELIMIT:
        return 413;
    case SR_ETRAP:
        return 422;
    case SR_EIO:
        return 503;
    case SR_EBUSY:
        return 429;
    case SR_ENOMEM:
    case SR_EINTERNAL:
    case SR_STATUS_COUNT_:
        return 500;
    }
    return 500;
}

const char *
sr_api_error_code(unsigned http_status)
{
    switch (http_status) {
    case 400:
        return "invalid_request";
    case 401:
        return "unauthorized";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 409:
        return "conflict";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 422:
        return "guest_error";
    case 429:
        return "too_many_requests";
    case 431:
        return "header_fields_too_large";
    case 503:
        return "unavailable";
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
