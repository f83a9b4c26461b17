/* SPDX-License-Identifier: MIT
 *
 * err.c - sr_err: setting, wrapping and naming statuses.
 */
#include "sealrun/sr_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

sr_status
sr_err_set(sr_err *err, sr_status st, const char *fmt, ...)
{
    if (!err)
        return st;
    /* into a local buffer first: an argument may be err->msg itself, and
     * vsnprintf with its destination among its arguments is undefined
     * behaviour (C17 7.21.6.5) */
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(err->msg, msg, strlen(msg) + 1);
    err->status = st;
    return st;
}

sr_status
sr_err_wrap(sr_err *err, const char *fmt, ...)
{
    if (!err)
        return SR_EINTERNAL;
    char prefix[SR_ERR_MSG_MAX / 2];
    char old[SR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    old[sizeof(old) - 1] = '\0';
    size_t n = strlen(prefix);
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof(err->msg) - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->status;
}

void
sr_err_clear(sr_err *err)
{
    if (!err)
        return;
    err->status = SR_OK;
    err->msg[0] = '\0';
}

const char *
sr_status_name(sr_status st)
{
    /* keep in sync with sr_status in sr_err.h and docs/errors.md */
    static const char *const names[SR_STATUS_COUNT_] = {
        [SR_OK] = "ok",
        [SR_EINVAL] = "invalid_argument",
        [SR_ENOTFOUND] = "not_found",
        [SR_ECONFLICT] = "conflict",
        [SR_EDENIED] = "unauthorized",
        [SR_ELIMIT] = "limit_exceeded",
        [SR_ETRAP] = "guest_error",
        [SR_EIO] = "unavailable",
        [SR_ENOMEM] = "out_of_memory",
        [SR_EINTERNAL] = "internal_error",
        [SR_EBUSY] = "busy",
        [SR_EFORBIDDEN] = "forbidden",
        [SR_EBUDGET] = "budget_exhausted",
        [SR_EBALANCE] = "insufficient_balance",
    };
    if ((unsigned)st >= SR_STATUS_COUNT_ || !names[st])
        return "internal_error";
    return names[st];
}
