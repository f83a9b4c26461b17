/* SPDX-License-Identifier: MIT
 *
 * opts.c - command-line options from a table (sr_opts.h): one parser for
 * sealrund and every sealrun command, and --help lines generated from the
 * same table.
 */
#include "sealrun/sr_opts.h"

#include <stdio.h>
#include <string.h>
#include "sealrun/sr_util.h"

#define HELP_COLUMN 28
#define HELP_WIDTH 100
/* A duration option whose maximum is at least this has no maximum worth naming. */
#define NO_MAX_MS (INT64_MAX / 8)

static const struct sr_opt *
find(const struct sr_opt *opts, size_t n, const char *arg, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, arg, len) == 0)
            return &opts[i];
    return NULL;
}

static sr_status
choice(const struct sr_opt *o, const char *v, sr_err *err)
{
    char list[256] = "";
    size_t at = 0, n = 0;
    while (o->choices && o->choices[n])
        n++;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(o->choices[i], v) == 0) {
            *(int *)o->dst = (int)i;
            return SR_OK;
        }
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(list + at, sizeof(list) - at, "%s'%s'", sep, o->choices[i]);
        if (w > 0 && (size_t)w < sizeof(list) - at)
            at += (size_t)w;
    }
    return sr_err_set(err, SR_EINVAL, "%s must be %s, got '%.64s'", o->name, list, v);
}

static sr_status
take_value(const struct sr_opt *o, const char *v, sr_err *err)
{
    int64_t x = 0;
    sr_status rc = SR_OK;
    switch (o->kind) {
    case SR_OPT_STRING:
        *(const char **)o->dst = v;
        return SR_OK;
    case SR_OPT_INT:
        rc = sr_parse_i64(v, o->min, o->max, o->name, &x, err);
        break;
    case SR_OPT_DURATION:
        rc = sr_parse_duration_ms(v, &x, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "%s", o->name);
        if (x < o->min && o->min <= 1 && o->max >= NO_MAX_MS)
            return sr_err_set(err, SR_EINVAL,
                              "%s must be a positive duration (90d, 24h, 45s, 1500ms), got '%.64s'",
                              o->name, v);
        if (x < o->min || x > o->max)
            return sr_err_set(err, SR_EINVAL, "%s must be %lld..%lld ms, got '%.64s'", o->name,
                              (long long)o->min, (long long)o->max, v);
        break;
    case SR_OPT_CHOICE:
        return choice(o, v, err);
    case SR_OPT_LIST:
        if (*o->count_dst >= (size_t)o->max)
            return sr_err_set(err, SR_EINVAL, "%s may be given at most %lld times", o->name,
                              (long long)o->max);
        ((const char **)o->dst)[(*o->count_dst)++] = v;
        return SR_OK;
    case SR_OPT_FLAG:
        return sr_err_set(err, SR_EINVAL, "%s takes no value, got '%.64s'", o->name, v);
    }
    if (rc == SR_OK)
        *(int64_t *)o->dst = x;
    return rc;
}

sr_status
sr_opts_parse(const struct sr_opt *opts, size_t n, int argc, char **argv, int first,
              const char **pos, size_t maxpos, size_t *npos, sr_err *err)
{
    bool only_pos = false;
    *npos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || strncmp(a, "--", 2) != 0 || strcmp(a, "-") == 0) {
            if (*npos >= maxpos)
                return sr_err_set(err, SR_EINVAL, "unexpected argument '%.64s'", a);
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        const struct sr_opt *o = find(opts, n, a, eq ? (size_t)(eq - a) : strlen(a));
        if (!o)
            return sr_err_set(err, SR_EINVAL, "unknown option '%.64s'", a);
        if (o->seen)
            *o->seen = true;
        if (o->kind == SR_OPT_FLAG && !eq) {
            *(bool *)o->dst = true;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && i + 1 < argc)
            v = argv[++i];
        if (!v)
            return sr_err_set(err, SR_EINVAL, "%s needs a value (%s)", o->name,
                              o->metavar ? o->metavar : "VALUE");
        sr_status rc = take_value(o, v, err);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}

/* Appends text wrapped to HELP_WIDTH, continuation lines at HELP_COLUMN. */
static sr_status
wrap(sr_buf *b, const char *text, size_t col, sr_err *err)
{
    sr_status rc = SR_OK;
    const char *p = text;
    while (rc == SR_OK && *p) {
        size_t room = HELP_WIDTH - col, len = strlen(p);
        size_t take = len;
        if (len > room) {
            take = room;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = room;
        }
        rc = sr_buf_printf(b, err, "%.*s\n", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
        if (rc == SR_OK && *p)
            rc = sr_buf_printf(b, err, "%*s", HELP_COLUMN, "");
        col = HELP_COLUMN;
    }
    return rc;
}

sr_status
sr_opts_help(const struct sr_opt *opts, size_t n, sr_buf *b, sr_err *err)
{
    sr_status rc = SR_OK;
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        char head[96];
        int w = snprintf(head, sizeof(head), "  %s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                         opts[i].metavar ? opts[i].metavar : "");
        size_t hl = w > 0 ? (size_t)w : 0;
        if (hl + 2 > HELP_COLUMN)
            rc = sr_buf_printf(b, err, "%s\n%*s", head, HELP_COLUMN, "");
        else
            rc = sr_buf_printf(b, err, "%-*s", HELP_COLUMN, head);
        if (rc == SR_OK)
            rc = wrap(b, opts[i].help ? opts[i].help : "", HELP_COLUMN, err);
    }
    return rc;
}
