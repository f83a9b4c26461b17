/* SPDX-License-Identifier: MIT
 *
 * log.c - the process log on stderr, one write() per line so lines from
 * different threads never interleave.
 */
#include "sealrun/sr_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "sealrun/sr_util.h"

static enum sr_log_level min_level = SR_LOG_INFO;
static sr_log_sink_fn sink;
static void *sink_arg;

void
sr_log_set_level(enum sr_log_level min)
{
    min_level = min;
}

void
sr_log_set_sink(sr_log_sink_fn fn, void *arg)
{
    sink = fn;
    sink_arg = arg;
}

void
sr_log(enum sr_log_level lvl, const char *component, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < min_level)
        return;
    char line[2048];
    if (sink) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (m >= 0)
            sink(sink_arg, lvl, component, line);
        return;
    }
    char ts[32];
    sr_time_rfc3339(sr_now_ms(), ts);
    int n = snprintf(line, sizeof(line), "%s %s %s: ", ts, names[lvl], component);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
