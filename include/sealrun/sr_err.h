/* SPDX-License-Identifier: MIT
 *
 * sr_err.h - the one status enum of libsealrun and the error object that
 * carries a human message up the layers.
 *
 * The lowest layer that knows what went wrong calls sr_err_set(); each layer
 * above adds where with sr_err_wrap(). Any function taking 'sr_err *err'
 * accepts NULL. Thread-safety: an sr_err belongs to one thread.
 */
#ifndef SR_ERR_H
#define SR_ERR_H

#include <stddef.h>

/* keep in sync with sr_status_name(), src/api/reply.c and docs/errors.md */
typedef enum sr_status {
    SR_OK = 0,
    SR_EINVAL,    /* the request or input is malformed */
    SR_ENOTFOUND, /* no such object (or not the caller's) */
    SR_ECONFLICT, /* exists already, or the state does not allow it */
    SR_EDENIED,   /* authentication or authorisation failed */
    SR_ELIMIT,    /* a size, fuel, time or memory quota was hit */
    SR_ETRAP,     /* guest code trapped or threw */
    SR_EIO,       /* storage, OS or network */
    SR_ENOMEM,    /* out of memory */
    SR_EINTERNAL, /* a bug in sealrun: an invariant was broken */
    SR_EBUSY,     /* not now: a running-job cap, a full queue or a rate limit; retry later */
    /* authenticated, but the token lacks the scope (or the right) it needs */
    SR_EFORBIDDEN,
    SR_EBUDGET,  /* a daily budget (jobs, gas, wall clock, HTTP requests) would be passed */
    SR_EBALANCE, /* the balance does not cover the most the job may cost */
    SR_STATUS_COUNT_
} sr_status;

#define SR_ERR_MSG_MAX 512

typedef struct sr_err {
    sr_status status;
    char msg[SR_ERR_MSG_MAX];
} sr_err;

/* Sets err (if not NULL) and returns st, so callers can `return sr_err_set(...)`.
 * An argument may be err->msg itself; to add context to a message, though,
 * use sr_err_wrap(), which says so (scripts/banned.sh refuses the former). */
sr_status sr_err_set(sr_err *err, sr_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes context ("loading job 'a1': " + msg) and returns err->status
 * (SR_EINTERNAL if err is NULL, so callers must only wrap after a failure). */
sr_status sr_err_wrap(sr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to SR_OK with an empty message. NULL is a no-op. */
void sr_err_clear(sr_err *err);

/* Stable snake_case name: "invalid_argument", "not_found", ... Never NULL. */
const char *sr_status_name(sr_status st);

#endif /* SR_ERR_H */
