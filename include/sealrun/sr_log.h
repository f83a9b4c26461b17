/* SPDX-License-Identifier: MIT
 *
 * sr_log.h - the process log: one line per event on stderr,
 * "2026-11-21T10:00:00.123Z level component: message".
 *
 * Never pass a secret, key, token or guest output to these functions.
 * Thread-safe (each line is written with one write()).
 */
#ifndef SR_LOG_H
#define SR_LOG_H

enum sr_log_level { SR_LOG_DEBUG, SR_LOG_INFO, SR_LOG_WARN, SR_LOG_ERROR };

/* Lines below 'min' are dropped. Default SR_LOG_INFO. Call before threads start. */
void sr_log_set_level(enum sr_log_level min);

/* Where a line goes instead of stderr: the sandbox's processes, whose
 * stderr is /dev/null, send their lines to the daemon this way. 'msg' is
 * the formatted message (no time, level or component). NULL restores
 * stderr. Call before threads start (in that process). */
typedef void (*sr_log_sink_fn)(void *arg, enum sr_log_level lvl, const char *component,
                               const char *msg);
void sr_log_set_sink(sr_log_sink_fn fn, void *arg);

void sr_log(enum sr_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* SR_LOG_H */
