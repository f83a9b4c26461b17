/* SPDX-License-Identifier: MIT
 *
 * scope.c - token scope names (sr_scope.h). One table, in bit order.
 */
#include "sealrun/sr_scope.h"

#include <stdio.h>
#include <string.h>

/* keep in sync with enum sr_scope and docs/accounts.md */
static const char *const names[] = {
    "execute",      "jobs:read",     "secrets:write", "secrets:read",
    "storage:read", "storage:write", "modules:write", "admin",
};
#define NSCOPES (sizeof(names) / sizeof(names[0]))

const char *
sr_scope_name(uint32_t bit)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (bit == (1u << i))
            return names[i];
    return NULL;
}

static uint32_t
lookup(const char *p, size_t n)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0)
            return 1u << i;
    return 0;
}

sr_status
sr_scopes_parse(const char *text, const char *what, uint32_t *out, sr_err *err)
{
    uint32_t set = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t skip = strspn(p, ", ");
        p += skip;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        uint32_t bit = lookup(p, n);
        if (!bit) {
            char known[SR_SCOPES_TEXT_MAX];
            return sr_err_set(err, SR_EINVAL, "%s: unknown scope '%.*s'; expected some of: %s",
                              what, (int)(n > 64 ? 64 : n), p,
                              sr_scopes_format(SR_SCOPES_ALL, known, sizeof(known)));
        }
        set |= bit;
        p += n;
    }
    if (!set) {
        char known[SR_SCOPES_TEXT_MAX];
        return sr_err_set(err, SR_EINVAL, "%s: no scope given; expected one or more of: %s", what,
                          sr_scopes_format(SR_SCOPES_ALL, known, sizeof(known)));
    }
    *out = set;
    return SR_OK;
}

char *
sr_scopes_format(uint32_t set, char *buf, size_t cap)
{
    size_t at = 0;
    if (!cap)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(set & (1u << i)))
            continue;
        int w = snprintf(buf + at, cap - at, "%s%s", at ? " " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - at) {
            buf[at] = '\0'; /* whole names only */
            break;
        }
        at += (size_t)w;
    }
    return buf;
}
