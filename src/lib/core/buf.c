/* SPDX-License-Identifier: MIT
 *
 * buf.c - sr_buf, the capped growable buffer. Growth doubles up to 'max';
 * a failed append leaves the buffer unchanged.
 */
#include "sealrun/sr_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

void
sr_buf_init(sr_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->secure = false;
}

void
sr_buf_init_secure(sr_buf *b, size_t max)
{
    sr_buf_init(b, max);
    b->secure = true;
}

void
sr_buf_fini(sr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
sr_buf_fini_secure(sr_buf *b)
{
    if (b->data)
        sodium_memzero(b->data, b->cap);
    sr_buf_fini(b);
}

void
sr_buf_reset(sr_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

sr_status
sr_buf_reserve(sr_buf *b, size_t extra, sr_err *err)
{
    if (extra > b->max || b->len > b->max - extra)
        return sr_err_set(err, SR_ELIMIT, "buffer limit of %zu bytes exceeded (needed %zu more)",
                          b->max, extra);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return SR_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = b->secure ? malloc(cap) : realloc(b->data, cap);
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    if (b->secure && b->data) {
        memcpy(p, b->data, b->len + 1);
        sodium_memzero(b->data, b->cap);
        free(b->data);
    }
    b->data = p;
    b->cap = cap;
    return SR_OK;
}

sr_status
sr_buf_append(sr_buf *b, const void *p, size_t len, sr_err *err)
{
    sr_status rc = sr_buf_reserve(b, len, err);
    if (rc != SR_OK)
        return rc;
    if (len)
        memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return SR_OK;
}

sr_status
sr_buf_append_str(sr_buf *b, const char *s, sr_err *err)
{
    return sr_buf_append(b, s, strlen(s), err);
}

sr_status
sr_buf_printf(sr_buf *b, sr_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return sr_err_set(err, SR_EINTERNAL, "bad format string '%s'", fmt);
    sr_status rc = sr_buf_reserve(b, (size_t)n, err);
    if (rc != SR_OK)
        return rc;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SR_OK;
}

char *
sr_buf_steal(sr_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
