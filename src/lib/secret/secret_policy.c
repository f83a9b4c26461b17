/* SPDX-License-Identifier: MIT
 *
 * secret_policy.c - the access policy of a secret: parse and validate JSON
 * into a compiled policy, evaluate it for a job, and print it back in
 * canonical form.
 *
 * A compiled policy is immutable; evaluation only reads it (regexec on a
 * compiled regex_t is thread-safe in glibc), so threads may share one.
 * Condition trees are parsed, evaluated, printed and freed recursively;
 * every recursion carries a depth bounded by SR_SECRET_POLICY_MAX_DEPTH,
 * checked while parsing. UserPattern is POSIX ERE (regcomp REG_EXTENDED)
 * and must match the whole user name: a name matches when the leftmost-
 * longest match spans it. Back-references are refused (they make matching
 * exponential).
 */
#include "sealrun/sr_secret.h"

#include <regex.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_json.h"
#include "sealrun/sr_util.h"

#include "sealrun/sr_http.h"
#include "secret_int.h"

#define RT_JS 1u
#define RT_WASM 2u
#define PATH_MAX_LEN 256 /* "condition.And[3].Not.Or[0]..." in messages */
#define QUOTE_CAP (SR_SECRET_PATTERN_MAX * 4 + 8)
#define PATTERN_MAX_EXPANSION 4096 /* product of interval upper bounds */

enum cond_kind { COND_ALL, COND_USERS, COND_PATTERN, COND_AND, COND_OR, COND_NOT };

static const char *const cond_names[] = {"AllowAll", "Users", "UserPattern", "And", "Or", "Not"};

struct cond {
    enum cond_kind kind;
    size_t n;           /* users (COND_USERS) or kids (And, Or, Not) */
    char **users;       /* sorted, unique */
    struct cond **kids; /* owned */
    char *pattern;      /* source text */
    regex_t re;
    bool has_re;
};

struct sr_secret_policy {
    unsigned runtimes; /* RT_* bits; 0 = any runtime */
    char (*hashes)[SR_HASH_HEX_LEN + 1];
    size_t n_hashes; /* sorted, unique, lower-case; 0 = any code */
    char (*entries)[SR_MAX_ENTRY_POINT + 1];
    size_t n_entries;  /* sorted, unique; 0 = the default (see entry_allowed) */
    struct cond *cond; /* NULL = the owner only */
    bool has_expiry;
    int64_t expires_ms;
    char (*hosts)[SR_FETCH_MAX_PATTERN + 1]; /* http_hosts: sorted, unique, lower-case */
    size_t n_hosts;                          /* 0 = any host a job's request may reach */
};

struct parse_ctx {
    size_t nodes;
    size_t users;
    sr_err *err;
};

/* NOLINTBEGIN(misc-no-recursion): depth <= SR_SECRET_POLICY_MAX_DEPTH */
static void
cond_free(struct cond *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->users && i < c->n; i++)
        free(c->users[i]);
    free(c->users);
    for (size_t i = 0; c->kids && i < c->n; i++)
        cond_free(c->kids[i]);
    free(c->kids);
    if (c->has_re)
        regfree(&c->re);
    free(c->pattern);
    free(c);
}
/* NOLINTEND(misc-no-recursion) */

void
sr_secret_policy_free(sr_secret_policy *p)
{
    if (!p)
        return;
    cond_free(p->cond);
    free(p->hashes);
    free(p->entries);
    free(p->hosts);
    free(p);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sr_status
parse_users(struct parse_ctx *pc, const json_t *v, const char *path, struct cond *c)
{
    size_t i;
    json_t *u;
    if (!json_is_array(v))
        return sr_err_set(pc->err, SR_EINVAL, "policy '%s' must be an array of user names", path);
    if (json_array_size(v) > SR_SECRET_POLICY_MAX_USERS - pc->users)
        return sr_err_set(pc->err, SR_ELIMIT, "policy lists more than %d user names",
                          SR_SECRET_POLICY_MAX_USERS);
    pc->users += json_array_size(v);
    c->users = calloc(json_array_size(v) + 1, sizeof(*c->users));
    if (!c->users)
        return sr_err_set(pc->err, SR_ENOMEM, "out of memory parsing policy '%s'", path);
    json_array_foreach(v, i, u)
    {
        if (!json_is_string(u))
            return sr_err_set(pc->err, SR_EINVAL, "policy '%s' item %zu must be a string", path, i);
        if (sr_secret_owner_check(json_string_value(u), json_string_length(u), pc->err) != SR_OK)
            return sr_err_wrap(pc->err, "policy '%s' item %zu", path, i);
        c->users[c->n] = strdup(json_string_value(u));
        if (!c->users[c->n])
            return sr_err_set(pc->err, SR_ENOMEM, "out of memory parsing policy '%s'", path);
        c->n++;
    }
    if (c->n > 1)
        qsort(c->users, c->n, sizeof(*c->users), cmp_str);
    size_t w = 0;
    for (size_t r = 0; r < c->n; r++) {
        if (w > 0 && strcmp(c->users[w - 1], c->users[r]) == 0)
            free(c->users[r]);
        else
            c->users[w++] = c->users[r];
    }
    c->n = w;
    return SR_OK;
}

/* Index just past the bracket expression that starts at s[i] == '['. */
static size_t
skip_bracket(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && s[j] == '^')
        j++;
    if (j < len && s[j] == ']')
        j++;
    while (j < len && s[j] != ']') {
        if (s[j] == '[' && j + 1 < len && (s[j + 1] == ':' || s[j + 1] == '=' || s[j + 1] == '.')) {
            char end = s[j + 1];
            j += 2;
            while (j + 1 < len && !(s[j] == end && s[j + 1] == ']'))
                j++;
            j += 2;
            continue;
        }
        j++;
    }
    return j < len ? j + 1 : len;
}

/* Reads "{m}", "{m,}" or "{m,n}" at s[i]; the largest count it allows
 * (m+1 for "{m,}") in *upper and the index past it; false if it is not a
 * well-formed interval (regcomp then decides). */
static bool
read_interval(const char *s, size_t len, size_t *i, unsigned long *lo, unsigned long *upper)
{
    size_t j = *i + 1;
    unsigned long m = 0, n = 0;
    bool has_n = false, comma = false;
    size_t digits = 0;
    for (; j < len && s[j] >= '0' && s[j] <= '9' && digits < 6; j++, digits++)
        m = m * 10 + (unsigned long)(s[j] - '0');
    if (digits == 0)
        return false;
    if (j < len && s[j] == ',') {
        comma = true;
        for (j++, digits = 0; j < len && s[j] >= '0' && s[j] <= '9' && digits < 6; j++, digits++)
            n = n * 10 + (unsigned long)(s[j] - '0');
        has_n = digits > 0;
    }
    if (j >= len || s[j] != '}')
        return false;
    *lo = m;
    *upper = has_n ? n : comma ? m + 1 : m;
    *i = j;
    return true;
}

/* Why the expression uses something we refuse, or NULL: back-references
 * (exponential matching) and intervals that make regcomp expand the
 * pattern into a huge automaton (bounds above SR_MAX_USER_NAME, or a
 * product of upper bounds above PATTERN_MAX_EXPANSION). */
static const char *
pattern_unsupported(const char *s, size_t len)
{
    unsigned long product = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned long lo, up;
        if (s[i] == '\\') {
            if (i + 1 < len && s[i + 1] >= '1' && s[i + 1] <= '9')
                return "back-references (\\1..\\9) are not supported";
            i++;
        } else if (s[i] == '[') {
            i = skip_bracket(s, len, i) - 1;
        } else if (s[i] == '{' && read_interval(s, len, &i, &lo, &up)) {
            if (lo > SR_MAX_USER_NAME || up > SR_MAX_USER_NAME)
                return "interval bounds above 64 are not supported (user names have at most 64 "
                       "characters)";
            product *= up > 1 ? up : 1;
            if (product > PATTERN_MAX_EXPANSION)
                return "the interval expressions together allow more than 4096 repetitions";
        }
    }
    return NULL;
}

static sr_status
parse_pattern(struct parse_ctx *pc, const json_t *v, const char *path, struct cond *c)
{
    char q[QUOTE_CAP];
    char msg[256];
    if (!json_is_string(v))
        return sr_err_set(pc->err, SR_EINVAL,
                          "policy '%s' must be a string (a POSIX extended regular expression)",
                          path);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return sr_err_set(pc->err, SR_EINVAL, "policy '%s' is empty: expected an expression", path);
    sr_secret__quote(s, len, SR_SECRET_PATTERN_MAX, q, sizeof(q));
    if (len > SR_SECRET_PATTERN_MAX)
        return sr_err_set(pc->err, SR_EINVAL,
                          "policy '%s' expression is too long: %zu characters, at most %d", path,
                          len, SR_SECRET_PATTERN_MAX);
    if (strlen(s) != len)
        return sr_err_set(pc->err, SR_EINVAL, "policy '%s' expression '%s' has a NUL character",
                          path, q);
    const char *why = pattern_unsupported(s, len);
    if (why)
        return sr_err_set(pc->err, SR_EINVAL, "policy '%s' expression '%s' is invalid: %s", path, q,
                          why);
    int rc = regcomp(&c->re, s, REG_EXTENDED);
    if (rc != 0) {
        (void)regerror(rc, &c->re, msg, sizeof(msg));
        return sr_err_set(pc->err, SR_EINVAL, "policy '%s' expression '%s' is invalid: %s", path, q,
                          msg);
    }
    c->has_re = true;
    c->pattern = strdup(s);
    if (!c->pattern)
        return sr_err_set(pc->err, SR_ENOMEM, "out of memory parsing policy '%s'", path);
    return SR_OK;
}

static sr_status parse_cond(struct parse_ctx *pc, const json_t *v, size_t depth, const char *path,
                            struct cond **out);

/* NOLINTBEGIN(misc-no-recursion): depth <= SR_SECRET_POLICY_MAX_DEPTH */
static sr_status
parse_kids(struct parse_ctx *pc, const json_t *v, size_t depth, const char *path, struct cond *c)
{
    char sub[PATH_MAX_LEN];
    size_t n = 1;
    if (c->kind != COND_NOT) {
        if (!json_is_array(v) || json_array_size(v) == 0)
            return sr_err_set(pc->err, SR_EINVAL,
                              "policy '%s' must be a non-empty array of conditions", path);
        n = json_array_size(v);
        if (n > SR_SECRET_POLICY_MAX_NODES)
            return sr_err_set(pc->err, SR_ELIMIT, "policy condition has more than %d nodes",
                              SR_SECRET_POLICY_MAX_NODES);
    }
    c->kids = calloc(n, sizeof(*c->kids));
    if (!c->kids)
        return sr_err_set(pc->err, SR_ENOMEM, "out of memory parsing policy '%s'", path);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = v;
        if (c->kind == COND_NOT) {
            (void)snprintf(sub, sizeof(sub), "%s", path);
        } else {
            item = json_array_get(v, i);
            (void)snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        }
        sr_status rc = parse_cond(pc, item, depth + 1, sub, &c->kids[i]);
        if (rc != SR_OK)
            return rc;
        c->n++;
    }
    return SR_OK;
}
/* NOLINTEND(misc-no-recursion) */

static int
cond_kind_of(const char *key)
{
    for (size_t i = 0; i < sizeof(cond_names) / sizeof(cond_names[0]); i++)
        if (strcmp(key, cond_names[i]) == 0)
            return (int)i;
    return -1;
}

/* NOLINTBEGIN(misc-no-recursion): depth <= SR_SECRET_POLICY_MAX_DEPTH */
static sr_status
parse_cond(struct parse_ctx *pc, const json_t *v, size_t depth, const char *path, struct cond **out)
{
    char sub[PATH_MAX_LEN];
    char q[72];
    sr_status rc;

    if (depth > SR_SECRET_POLICY_MAX_DEPTH)
        return sr_err_set(pc->err, SR_ELIMIT, "policy '%s' nests deeper than %d levels", path,
                          SR_SECRET_POLICY_MAX_DEPTH);
    if (++pc->nodes > SR_SECRET_POLICY_MAX_NODES)
        return sr_err_set(pc->err, SR_ELIMIT, "policy condition has more than %d nodes",
                          SR_SECRET_POLICY_MAX_NODES);
    if (!json_is_object(v) || json_object_size(v) != 1)
        return sr_err_set(pc->err, SR_EINVAL,
                          "policy '%s' must be an object with exactly one member: AllowAll, "
                          "Users, UserPattern, And, Or or Not",
                          path);
    const char *key = json_object_iter_key(json_object_iter((json_t *)(uintptr_t)v));
    const json_t *arg = json_object_get(v, key);
    int kind = cond_kind_of(key);
    if (kind < 0) {
        sr_secret__quote(key, strlen(key), 32, q, sizeof(q));
        return sr_err_set(pc->err, SR_EINVAL,
                          "policy '%s' has unknown condition '%s': expected AllowAll, Users, "
                          "UserPattern, And, Or or Not",
                          path, q);
    }
    struct cond *c = calloc(1, sizeof(*c));
    if (!c)
        return sr_err_set(pc->err, SR_ENOMEM, "out of memory parsing policy '%s'", path);
    c->kind = (enum cond_kind)kind;
    (void)snprintf(sub, sizeof(sub), "%s.%s", path, key);
    switch (c->kind) {
    case COND_ALL:
        rc = json_is_object(arg) && json_object_size(arg) == 0
                 ? SR_OK
                 : sr_err_set(pc->err, SR_EINVAL, "policy '%s' must be {}", sub);
        break;
    case COND_USERS:
        rc = parse_users(pc, arg, sub, c);
        break;
    case COND_PATTERN:
        rc = parse_pattern(pc, arg, sub, c);
        break;
    default:
        rc = parse_kids(pc, arg, depth, sub, c);
        break;
    }
    if (rc != SR_OK) {
        cond_free(c);
        return rc;
    }
    *out = c;
    return SR_OK;
}
/* NOLINTEND(misc-no-recursion) */

static sr_status
parse_runtimes(const json_t *v, sr_secret_policy *p, sr_err *err)
{
    size_t i;
    json_t *r;
    char q[72];
    if (!json_is_array(v) || json_array_size(v) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "policy 'runtimes' must be a non-empty array of 'js' and 'wasm' (or "
                          "null for any runtime)");
    json_array_foreach(v, i, r)
    {
        const char *s = json_string_value(r);
        if (s && strcmp(s, "js") == 0 && json_string_length(r) == 2) {
            p->runtimes |= RT_JS;
        } else if (s && strcmp(s, "wasm") == 0 && json_string_length(r) == 4) {
            p->runtimes |= RT_WASM;
        } else {
            if (!s)
                return sr_err_set(err, SR_EINVAL, "policy 'runtimes' item %zu must be a string", i);
            sr_secret__quote(s, json_string_length(r), 32, q, sizeof(q));
            return sr_err_set(err, SR_EINVAL,
                              "policy 'runtimes' item %zu: unknown runtime '%s': expected 'js' "
                              "or 'wasm'",
                              i, q);
        }
    }
    return SR_OK;
}

static int
cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, SR_HASH_HEX_LEN);
}

static bool
hash_norm(const char *s, size_t len, char out[SR_HASH_HEX_LEN + 1])
{
    if (!s || len != SR_HASH_HEX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[len] = '\0';
    return true;
}

/* Sorts base[0..n) (each 'size' bytes) and drops repeats; returns the new
 * count. Linear after the sort. */
static size_t
sort_unique(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char *a = base;
    size_t w = 0;
    qsort(a, n, size, cmp);
    for (size_t r = 0; r < n; r++)
        if (w == 0 || cmp(a + (w - 1) * size, a + r * size) != 0)
            memmove(a + (w++) * size, a + r * size, size);
    return w;
}

static sr_status
parse_hashes(const json_t *v, sr_secret_policy *p, sr_err *err)
{
    size_t i;
    json_t *h;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "policy 'code_hashes' must be a non-empty array of hex SHA-256 hashes "
                          "(or null for any code)");
    if (json_array_size(v) > SR_SECRET_POLICY_MAX_HASHES)
        return sr_err_set(err, SR_ELIMIT, "policy 'code_hashes' lists %zu hashes, at most %d",
                          json_array_size(v), SR_SECRET_POLICY_MAX_HASHES);
    p->hashes = calloc(json_array_size(v), sizeof(*p->hashes));
    if (!p->hashes)
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing policy 'code_hashes'");
    json_array_foreach(v, i, h)
    {
        if (!hash_norm(json_string_value(h), json_string_length(h), p->hashes[i]))
            return sr_err_set(err, SR_EINVAL,
                              "policy 'code_hashes' item %zu must be %d hex characters (the "
                              "SHA-256 of the script or module)",
                              i, SR_HASH_HEX_LEN);
    }
    p->n_hashes = sort_unique(p->hashes, json_array_size(v), sizeof(*p->hashes), cmp_hash);
    return SR_OK;
}

static int
cmp_entry(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static sr_status
parse_entries(const json_t *v, sr_secret_policy *p, sr_err *err)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "policy 'entry_points' must be a non-empty array of function names "
                          "(or null for the runtime's default entry point)");
    if (json_array_size(v) > SR_SECRET_POLICY_MAX_ENTRY_POINTS)
        return sr_err_set(err, SR_ELIMIT, "policy 'entry_points' lists %zu names, at most %d",
                          json_array_size(v), SR_SECRET_POLICY_MAX_ENTRY_POINTS);
    p->entries = calloc(json_array_size(v), sizeof(*p->entries));
    if (!p->entries)
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing policy 'entry_points'");
    json_array_foreach(v, i, e)
    {
        if (!sr_is_entry_name(json_string_value(e), json_string_length(e)))
            return sr_err_set(err, SR_EINVAL,
                              "policy 'entry_points' item %zu must be a function name of 1..%d "
                              "letters, digits, '_' or '$', not starting with a digit",
                              i, SR_MAX_ENTRY_POINT);
        memcpy(p->entries[i], json_string_value(e), json_string_length(e) + 1);
    }
    p->n_entries = sort_unique(p->entries, json_array_size(v), sizeof(*p->entries), cmp_entry);
    return SR_OK;
}

/* http_hosts (docs/http.md, "Secrets in requests"): where the value may be sent. */
static sr_status
parse_hosts(const json_t *v, sr_secret_policy *p, sr_err *err)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "policy 'http_hosts' must be a non-empty array of \"host[:port]\" "
                          "patterns (or null for any host a job may reach)");
    if (json_array_size(v) > SR_FETCH_MAX_ALLOW)
        return sr_err_set(err, SR_ELIMIT, "policy 'http_hosts' lists %zu patterns, at most %d",
                          json_array_size(v), SR_FETCH_MAX_ALLOW);
    p->hosts = calloc(json_array_size(v), sizeof(*p->hosts));
    if (!p->hosts)
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing policy 'http_hosts'");
    json_array_foreach(v, i, e)
    {
        sr_err sub = {0};
        if (!json_is_string(e) || !sr_http_pattern_valid(json_string_value(e), &sub))
            return sr_err_set(err, SR_EINVAL, "policy 'http_hosts' item %zu: %s", i,
                              json_is_string(e) ? sub.msg : "must be a string");
        const char *t = json_string_value(e);
        for (size_t k = 0; t[k]; k++)
            p->hosts[i][k] = (char)tolower((unsigned char)t[k]);
    }
    p->n_hosts = sort_unique(p->hosts, json_array_size(v), sizeof(*p->hosts), cmp_entry);
    return SR_OK;
}

size_t
sr_secret_policy_http_hosts(const sr_secret_policy *p, const char **out, size_t cap)
{
    for (size_t i = 0; out && i < p->n_hosts && i < cap; i++)
        out[i] = p->hosts[i];
    return p->n_hosts;
}

static sr_status
parse_expiry(const json_t *v, sr_secret_policy *p, sr_err *err)
{
    if (!json_is_string(v) ||
        !sr_time_parse_rfc3339(json_string_value(v), json_string_length(v), &p->expires_ms))
        return sr_err_set(err, SR_EINVAL,
                          "policy 'expires_at' must be an RFC 3339 time such as "
                          "'2026-12-31T23:59:59Z' (years 1970..9999), or null");
    p->has_expiry = true;
    return SR_OK;
}

static sr_status
parse_member(const char *key, const json_t *m, sr_secret_policy *p, sr_err *err)
{
    char q[72];
    struct parse_ctx pc = {0, 0, err};
    bool known = strcmp(key, "runtimes") == 0 || strcmp(key, "code_hashes") == 0 ||
                 strcmp(key, "entry_points") == 0 || strcmp(key, "condition") == 0 ||
                 strcmp(key, "expires_at") == 0 || strcmp(key, "http_hosts") == 0;
    if (!known) {
        sr_secret__quote(key, strlen(key), 32, q, sizeof(q));
        return sr_err_set(err, SR_EINVAL,
                          "policy has unknown field '%s': expected runtimes, code_hashes, "
                          "entry_points, condition, expires_at or http_hosts",
                          q);
    }
    if (json_is_null(m))
        return SR_OK;
    if (strcmp(key, "runtimes") == 0)
        return parse_runtimes(m, p, err);
    if (strcmp(key, "code_hashes") == 0)
        return parse_hashes(m, p, err);
    if (strcmp(key, "entry_points") == 0)
        return parse_entries(m, p, err);
    if (strcmp(key, "expires_at") == 0)
        return parse_expiry(m, p, err);
    if (strcmp(key, "http_hosts") == 0)
        return parse_hosts(m, p, err);
    return parse_cond(&pc, m, 1, "condition", &p->cond);
}

sr_status
sr_secret_policy_from_json(const json_t *v, sr_secret_policy **out, sr_err *err)
{
    const char *key;
    json_t *m;
    sr_secret_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory parsing a policy");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v)) {
            sr_secret_policy_free(p);
            return sr_err_set(err, SR_EINVAL,
                              "policy must be a JSON object with runtimes, code_hashes, "
                              "entry_points, condition and expires_at");
        }
        json_object_foreach((json_t *)(uintptr_t)v, key, m)
        {
            sr_status rc = parse_member(key, m, p, err);
            if (rc != SR_OK) {
                sr_secret_policy_free(p);
                return rc;
            }
        }
    }
    *out = p;
    return SR_OK;
}

sr_status
sr_secret_policy_parse(const char *text, size_t len, sr_secret_policy **out, sr_err *err)
{
    json_t *v = NULL;
    if (!text || len == 0)
        return sr_secret_policy_from_json(NULL, out, err);
    if (len > SR_SECRET_POLICY_MAX_TEXT)
        return sr_err_set(err, SR_ELIMIT, "policy is too large: %zu bytes, at most %u", len,
                          SR_SECRET_POLICY_MAX_TEXT);
    sr_status rc = sr_json_parse(text, len, SR_MAX_JSON_DEPTH, "policy", &v, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_secret_policy_from_json(v, out, err);
    json_decref(v);
    return rc;
}

/* --- evaluation --- */

/* NOLINTBEGIN(misc-no-recursion): depth <= SR_SECRET_POLICY_MAX_DEPTH */
static bool
cond_match(const struct cond *c, const char *user, size_t len)
{
    regmatch_t m;
    switch (c->kind) {
    case COND_ALL:
        return true;
    case COND_USERS:
        return bsearch(&user, c->users, c->n, sizeof(*c->users), cmp_str) != NULL;
    case COND_PATTERN:
        return regexec(&c->re, user, 1, &m, 0) == 0 && m.rm_so == 0 && (size_t)m.rm_eo == len;
    case COND_AND:
        for (size_t i = 0; i < c->n; i++)
            if (!cond_match(c->kids[i], user, len))
                return false;
        return true;
    case COND_OR:
        for (size_t i = 0; i < c->n; i++)
            if (cond_match(c->kids[i], user, len))
                return true;
        return false;
    case COND_NOT:
        return !cond_match(c->kids[0], user, len);
    }
    return false;
}
/* NOLINTEND(misc-no-recursion) */

bool
sr_secret__policy_allows_user(const sr_secret_policy *p, const char *owner, const char *caller)
{
    if (!p->cond)
        return strcmp(caller, owner) == 0;
    return cond_match(p->cond, caller, strnlen(caller, SR_MAX_USER_NAME + 1));
}

const char *
sr_secret_outcome_name(enum sr_secret_outcome o)
{
    switch (o) {
    case SR_SECRET_ALLOWED:
        return "allowed";
    case SR_SECRET_MISSING:
        return "missing";
    case SR_SECRET_EXPIRED:
        return "expired";
    case SR_SECRET_DENIED:
        return "denied";
    case SR_SECRET_ERROR:
        return "error";
    }
    return "error";
}

static const char *
runtimes_str(unsigned rt)
{
    return rt == RT_JS ? "js" : rt == RT_WASM ? "wasm" : "js, wasm";
}

static enum sr_secret_outcome
eval_code(const sr_secret_policy *p, const char *hash, sr_err *err)
{
    char norm[SR_HASH_HEX_LEN + 1];
    char q[72];
    if (p->n_hashes == 0)
        return SR_SECRET_ALLOWED;
    size_t len = hash ? strnlen(hash, SR_HASH_HEX_LEN + 1) : 0;
    if (!hash_norm(hash, len, norm)) {
        sr_secret__quote(hash ? hash : "", len, 16, q, sizeof(q));
        sr_err_set(err, SR_EDENIED,
                   "code hash '%s' is not a SHA-256 hex hash, so it is not in "
                   "the allowed list",
                   q);
        return SR_SECRET_DENIED;
    }
    if (!bsearch(norm, p->hashes, p->n_hashes, sizeof(*p->hashes), cmp_hash)) {
        sr_err_set(err, SR_EDENIED, "code hash '%s' is not in the allowed list", norm);
        return SR_SECRET_DENIED;
    }
    return SR_SECRET_ALLOWED;
}

/* Code identity is the code and its entry point (design.md invariant 8):
 * an explicit list pins the entry points; without one, a policy bound to
 * code hashes allows only the runtime's default entry point (JS "main",
 * WASI "_start"), so a script's other functions cannot be called with the
 * secret in scope; a policy bound to no code allows any entry point. */
static enum sr_secret_outcome
eval_entry(const sr_secret_policy *p, enum sr_runtime runtime, const char *entry, sr_err *err)
{
    bool wasm = runtime == SR_RUNTIME_WASM;
    const char *def = wasm ? "_start" : "main";
    const char *e = entry && *entry ? entry : def;
    char q[72];
    if (p->n_entries) {
        if (bsearch(e, p->entries, p->n_entries, sizeof(*p->entries), cmp_entry))
            return SR_SECRET_ALLOWED;
        char list[SR_SECRET_POLICY_MAX_ENTRY_POINTS * 24];
        size_t at = 0;
        for (size_t i = 0; i < p->n_entries && at + 24 < sizeof(list); i++)
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%.20s", i ? ", " : "",
                                   p->entries[i]);
        sr_secret__quote(e, strnlen(e, SR_MAX_ENTRY_POINT + 1), 32, q, sizeof(q));
        sr_err_set(err, SR_EDENIED, "entry point '%s' is not allowed (allowed: %s)", q, list);
        return SR_SECRET_DENIED;
    }
    if (p->n_hashes && strcmp(e, def) != 0) {
        sr_secret__quote(e, strnlen(e, SR_MAX_ENTRY_POINT + 1), 32, q, sizeof(q));
        sr_err_set(err, SR_EDENIED,
                   "entry point '%s' is not allowed: the policy is bound to code hashes without "
                   "'entry_points', so only '%s' may be called",
                   q, def);
        return SR_SECRET_DENIED;
    }
    return SR_SECRET_ALLOWED;
}

enum sr_secret_outcome
sr_secret_policy_eval(const sr_secret_policy *p, const struct sr_secret_access *acc, sr_err *err)
{
    char q[72], when[32];
    if (!p || !acc || !acc->owner || !acc->caller) {
        sr_err_set(err, SR_EINVAL, "policy evaluation needs a policy, an owner and a caller");
        return SR_SECRET_ERROR;
    }
    size_t ulen = strnlen(acc->caller, SR_MAX_USER_NAME + 1);
    sr_secret__quote(acc->caller, ulen, SR_MAX_USER_NAME, q, sizeof(q));
    if (!sr_secret__policy_allows_user(p, acc->owner, acc->caller)) {
        if (p->cond)
            sr_err_set(err, SR_EDENIED, "user '%s' is not allowed by the condition", q);
        else
            sr_err_set(err, SR_EDENIED,
                       "user '%s' is not allowed: the policy has no condition, so only the "
                       "owner may use the secret",
                       q);
        return SR_SECRET_DENIED;
    }
    if (p->has_expiry && acc->now_ms >= p->expires_ms) {
        sr_time_rfc3339(p->expires_ms, when);
        sr_err_set(err, SR_EDENIED, "expired at %s", when);
        return SR_SECRET_EXPIRED;
    }
    unsigned rt = acc->runtime == SR_RUNTIME_JS     ? RT_JS
                  : acc->runtime == SR_RUNTIME_WASM ? RT_WASM
                                                    : 0;
    if (p->runtimes && !(p->runtimes & rt)) {
        const char *r = sr_runtime_name(acc->runtime);
        sr_err_set(err, SR_EDENIED, "runtime '%s' is not allowed (allowed: %s)", r ? r : "",
                   runtimes_str(p->runtimes));
        return SR_SECRET_DENIED;
    }
    enum sr_secret_outcome o = eval_code(p, acc->code_hash_hex, err);
    return o == SR_SECRET_ALLOWED ? eval_entry(p, acc->runtime, acc->entry_point, err) : o;
}

bool
sr_secret_policy_binds_code(const sr_secret_policy *p)
{
    return p && (p->n_hashes || p->n_entries);
}

/* --- printing --- */

/* NOLINTBEGIN(misc-no-recursion): depth <= SR_SECRET_POLICY_MAX_DEPTH */
static json_t *
cond_to_json(const struct cond *c)
{
    json_t *arg = NULL;
    switch (c->kind) {
    case COND_ALL:
        arg = json_object();
        break;
    case COND_PATTERN:
        arg = json_string(c->pattern);
        break;
    case COND_NOT:
        arg = cond_to_json(c->kids[0]);
        break;
    case COND_USERS:
    case COND_AND:
    case COND_OR:
        arg = json_array();
        for (size_t i = 0; arg && i < c->n; i++) {
            json_t *item =
                c->kind == COND_USERS ? json_string(c->users[i]) : cond_to_json(c->kids[i]);
            if (json_array_append_new(arg, item) != 0) {
                json_decref(arg);
                arg = NULL;
            }
        }
        break;
    }
    if (!arg)
        return NULL;
    json_t *o = json_object();
    if (o && json_object_set_new(o, cond_names[c->kind], arg) == 0)
        return o;
    json_decref(o);
    return NULL;
}
/* NOLINTEND(misc-no-recursion) */

static json_t *
runtimes_to_json(unsigned rt)
{
    if (!rt)
        return json_null();
    json_t *a = json_array();
    if (a && (rt & RT_JS))
        (void)json_array_append_new(a, json_string("js"));
    if (a && (rt & RT_WASM))
        (void)json_array_append_new(a, json_string("wasm"));
    return a;
}

static json_t *
hashes_to_json(const sr_secret_policy *p)
{
    if (!p->n_hashes)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n_hashes; i++)
        if (json_array_append_new(a, json_string(p->hashes[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static json_t *
entries_to_json(const sr_secret_policy *p)
{
    if (!p->n_entries)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n_entries; i++)
        if (json_array_append_new(a, json_string(p->entries[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

sr_status
sr_secret_policy_to_json(const sr_secret_policy *p, json_t **out, sr_err *err)
{
    char when[32];
    json_t *o = json_object();
    if (!o)
        goto oom;
    json_t *cond = p->cond ? cond_to_json(p->cond) : json_null();
    json_t *exp = json_null();
    if (p->has_expiry) {
        sr_time_rfc3339(p->expires_ms, when);
        exp = json_string(when);
    }
    int bad = json_object_set_new(o, "runtimes", runtimes_to_json(p->runtimes));
    bad |= json_object_set_new(o, "code_hashes", hashes_to_json(p));
    bad |= json_object_set_new(o, "entry_points", entries_to_json(p));
    bad |= json_object_set_new(o, "condition", cond);
    bad |= json_object_set_new(o, "expires_at", exp);
    if (p->n_hosts) { /* only when set: older policies keep their canonical text */
        json_t *h = json_array();
        for (size_t i = 0; h && i < p->n_hosts; i++)
            bad |= json_array_append_new(h, json_string(p->hosts[i]));
        bad |= json_object_set_new(o, "http_hosts", h);
    }
    if (bad)
        goto oom;
    *out = o;
    return SR_OK;
oom:
    json_decref(o);
    return sr_err_set(err, SR_ENOMEM, "out of memory printing a policy");
}

sr_status
sr_secret_policy_canonical(const sr_secret_policy *p, sr_buf *b, sr_err *err)
{
    json_t *v = NULL;
    sr_status rc = sr_secret_policy_to_json(p, &v, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_json_canonical(v, b, err);
    json_decref(v);
    return rc;
}
