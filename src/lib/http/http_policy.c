/* SPDX-License-Identifier: MIT
 *
 * http_policy.c - who may be asked (docs/http.md, "Policy"): host patterns,
 * the operator's policy (--http-allow, --http-deny, --http-allow-private,
 * --http-allow-http, --http-ca-file) and the job's "http" field.
 *
 * A pattern is "host", "host:port", "*.domain" or "*.domain:port"; host is
 * a DNS name, a dotted IPv4 address or a bracketed IPv6 address. Patterns
 * are kept in lower case. "*.example.org" matches every name below
 * example.org, never example.org itself. Without a port a pattern matches
 * the scheme's default port only (443 for https, 80 for http).
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_util.h"

/* ---- patterns ---- */

static bool
name_char(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

bool
sr_http_pattern_valid(const char *pattern, sr_err *err)
{
    size_t len = pattern ? strlen(pattern) : 0;
    if (len == 0 || len > SR_FETCH_MAX_PATTERN) {
        sr_err_set(err, SR_EINVAL, "a host pattern must be 1..%d bytes, got %zu",
                   SR_FETCH_MAX_PATTERN, len);
        return false;
    }
    const char *p = pattern, *end = pattern + len;
    if (*p == '[') {
        const char *close = memchr(p, ']', len);
        if (!close || close == p + 1) {
            sr_err_set(err, SR_EINVAL, "host pattern '%.64s' has an unclosed '['", pattern);
            return false;
        }
        char a6[64];
        struct in6_addr tmp;
        size_t n = (size_t)(close - p - 1);
        if (n >= sizeof(a6) ||
            (memcpy(a6, p + 1, n), a6[n] = '\0', inet_pton(AF_INET6, a6, &tmp)) != 1) {
            sr_err_set(err, SR_EINVAL, "host pattern '%.64s' has no valid IPv6 address in brackets",
                       pattern);
            return false;
        }
        p = close + 1;
    } else {
        if (p[0] == '*' && p[1] == '.')
            p += 2;
        const char *h = p;
        while (p < end && *p != ':') {
            if (!name_char((unsigned char)*p) || (*p == '.' && (p == h || p[-1] == '.'))) {
                sr_err_set(err, SR_EINVAL,
                           "host pattern '%.64s' must be host[:port] or *.domain[:port] "
                           "(letters, digits, '-', '.')",
                           pattern);
                return false;
            }
            p++;
        }
        if (p == h || p[-1] == '.') {
            sr_err_set(err, SR_EINVAL, "host pattern '%.64s' has an empty host or label", pattern);
            return false;
        }
    }
    if (p == end)
        return true;
    int64_t port = 0;
    sr_err e = {0};
    if (*p != ':' || sr_parse_i64(p + 1, 1, 65535, "port", &port, &e) != SR_OK) {
        sr_err_set(err, SR_EINVAL, "host pattern '%.64s' must end with ':PORT' (1..65535)",
                   pattern);
        return false;
    }
    return true;
}

/* Splits a valid pattern into host (written to h) and port (0: none). */
static void
pattern_split(const char *pattern, char *h, size_t cap, unsigned *port)
{
    const char *colon = pattern[0] == '[' ? strchr(pattern, ']') : pattern;
    colon = colon ? strchr(colon, ':') : NULL;
    size_t n = colon ? (size_t)(colon - pattern) : strlen(pattern);
    if (n >= cap)
        n = cap - 1;
    memcpy(h, pattern, n);
    h[n] = '\0';
    *port = colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

bool
sr_http_pattern_match(const char *pattern, const char *host, unsigned port, unsigned default_port)
{
    char ph[SR_FETCH_MAX_PATTERN + 1];
    unsigned pport = 0;
    pattern_split(pattern, ph, sizeof(ph), &pport);
    if ((pport ? pport : default_port) != port)
        return false;
    if (ph[0] == '*' && ph[1] == '.') {
        size_t hl = strlen(host), sl = strlen(ph + 1); /* ".domain" */
        return hl > sl && strcasecmp(host + hl - sl, ph + 1) == 0;
    }
    return strcasecmp(ph, host) == 0;
}

static char *
lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static sr_status
copy_patterns(const char *const *in, size_t n, const char *what, char ***out, size_t *nout,
              sr_err *err)
{
    if (n > SR_FETCH_MAX_ALLOW)
        return sr_err_set(err, SR_ELIMIT, "%s takes at most %d patterns, got %zu", what,
                          SR_FETCH_MAX_ALLOW, n);
    *out = n ? calloc(n, sizeof(char *)) : NULL;
    if (n && !*out)
        return sr_err_set(err, SR_ENOMEM, "out of memory copying %s", what);
    for (size_t i = 0; i < n; i++) {
        if (!sr_http_pattern_valid(in[i], err))
            return sr_err_wrap(err, "%s", what);
        (*out)[i] = lower_dup(in[i]);
        if (!(*out)[i])
            return sr_err_set(err, SR_ENOMEM, "out of memory copying %s", what);
        *nout = i + 1;
    }
    return SR_OK;
}

static void
free_patterns(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- the operator's policy ---- */

static sr_status
parse_net(const char *s, struct sr_http__net *net, sr_err *err)
{
    char a[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(a))
        return sr_err_set(err, SR_EINVAL,
                          "--http-allow-private takes ADDR or ADDR/BITS, got '%.64s'", s);
    memcpy(a, s, n);
    a[n] = '\0';
    memset(net, 0, sizeof(*net));
    if (inet_pton(AF_INET, a, net->addr) == 1) {
        net->family = AF_INET;
        net->bits = 32;
    } else if (inet_pton(AF_INET6, a, net->addr) == 1) {
        net->family = AF_INET6;
        net->bits = 128;
    } else {
        return sr_err_set(err, SR_EINVAL,
                          "--http-allow-private takes an IPv4 or IPv6 address, got '%.64s'", s);
    }
    if (slash) {
        int64_t bits = 0;
        if (sr_parse_i64(slash + 1, 0, net->bits, "--http-allow-private prefix length", &bits,
                         err) != SR_OK)
            return err ? err->status : SR_EINVAL;
        net->bits = (unsigned)bits;
    }
    return SR_OK;
}

sr_status
sr_http_policy_new(const struct sr_http_config *cfg, sr_http_policy **out, sr_err *err)
{
    struct sr_http_config none = {0};
    if (!cfg)
        cfg = &none;
    if (cfg->nprivate > SR_FETCH_MAX_PRIVATE)
        return sr_err_set(err, SR_ELIMIT, "--http-allow-private takes at most %d networks, got %zu",
                          SR_FETCH_MAX_PRIVATE, cfg->nprivate);
    sr_http_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory for the HTTP policy");
    sr_status rc =
        copy_patterns(cfg->allow, cfg->nallow, "--http-allow", &p->allow, &p->nallow, err);
    if (rc == SR_OK)
        rc = copy_patterns(cfg->deny, cfg->ndeny, "--http-deny", &p->deny, &p->ndeny, err);
    for (size_t i = 0; rc == SR_OK && i < cfg->nprivate; i++) {
        rc = parse_net(cfg->private_nets[i], &p->priv[i], err);
        p->npriv = i + 1;
    }
    p->allow_http = cfg->allow_http;
    if (rc == SR_OK && cfg->ca_file && !(p->ca_file = strdup(cfg->ca_file)))
        rc = sr_err_set(err, SR_ENOMEM, "out of memory for the HTTP policy");
    if (rc != SR_OK) {
        sr_http_policy_free(p);
        return rc;
    }
    *out = p;
    return SR_OK;
}

void
sr_http_policy_free(sr_http_policy *pol)
{
    if (!pol)
        return;
    free_patterns(pol->allow, pol->nallow);
    free_patterns(pol->deny, pol->ndeny);
    free(pol->ca_file);
    free(pol);
}

void
sr_http_policy_describe(const sr_http_policy *pol, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s; %s%zu allowed pattern(s); %zu denied; %zu private network(s)%s%s",
                   pol->allow_http ? "https and http" : "https only",
                   pol->nallow ? "" : "any public host, ", pol->nallow, pol->ndeny, pol->npriv,
                   pol->npriv ? " reachable (--http-allow-private: tests and development only)"
                              : "",
                   pol->ca_file ? "; CA file given" : "");
}

json_t *
sr_http_policy_to_json(const sr_http_policy *pol)
{
    json_t *allow = json_array(), *deny = json_array(), *priv = json_array();
    for (size_t i = 0; allow && i < pol->nallow; i++)
        (void)json_array_append_new(allow, json_string(pol->allow[i]));
    for (size_t i = 0; deny && i < pol->ndeny; i++)
        (void)json_array_append_new(deny, json_string(pol->deny[i]));
    for (size_t i = 0; priv && i < pol->npriv; i++) {
        char a[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN + 8];
        if (!inet_ntop(pol->priv[i].family, pol->priv[i].addr, a, sizeof(a)))
            continue;
        (void)snprintf(net, sizeof(net), "%s/%u", a, pol->priv[i].bits);
        (void)json_array_append_new(priv, json_string(net));
    }
    if (!allow || !deny || !priv) {
        json_decref(allow);
        json_decref(deny);
        json_decref(priv);
        return NULL;
    }
    return json_pack("{s:b, s:o, s:o, s:o, s:b}", "allow_http", pol->allow_http, "allow", allow,
                     "deny", deny, "private", priv, "custom_ca", pol->ca_file != NULL);
}

bool
sr_http_policy_private_ok(const sr_http_policy *pol, const struct sockaddr *sa)
{
    const uint8_t *a = NULL;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    if (sa->sa_family == AF_INET) {
        memcpy(&in, sa, sizeof(in));
        a = (const uint8_t *)&in.sin_addr;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(&in6, sa, sizeof(in6));
        a = in6.sin6_addr.s6_addr;
    } else {
        return false;
    }
    for (size_t i = 0; i < pol->npriv; i++)
        if (pol->priv[i].family == sa->sa_family &&
            sr_http__prefix_match(a, pol->priv[i].addr, pol->priv[i].bits))
            return true;
    return false;
}

/* ---- the job's "http" field ---- */

static sr_status
job_uint(const json_t *o, const char *name, uint32_t max, uint32_t *out, sr_err *err)
{
    const json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return SR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return sr_err_set(err, SR_EINVAL, "field 'http.%s' must be an integer 1..%u", name, max);
    *out = (uint32_t)json_integer_value(v);
    return SR_OK;
}

sr_status
sr_http_job_parse(const json_t *v, struct sr_http_job *out, sr_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!v || json_is_null(v))
        return SR_OK;
    if (!json_is_object(v))
        return sr_err_set(err, SR_EINVAL, "field 'http' must be an object {\"allow\": [...]}");
    const char *k;
    json_t *f;
    json_object_foreach((json_t *)(uintptr_t)v, k, f)
    {
        if (strcmp(k, "allow") != 0 && strcmp(k, "max_requests") != 0 &&
            strcmp(k, "max_response_bytes") != 0)
            return sr_err_set(err, SR_EINVAL,
                              "unknown field 'http.%.64s'; expected allow, max_requests, "
                              "max_response_bytes",
                              k);
    }
    const json_t *allow = json_object_get(v, "allow");
    if (!json_is_array(allow) || json_array_size(allow) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "field 'http.allow' must be a non-empty array of \"host[:port]\" "
                          "patterns");
    size_t n = json_array_size(allow);
    if (n > SR_FETCH_MAX_ALLOW)
        return sr_err_set(err, SR_EINVAL, "field 'http.allow' takes at most %d patterns, got %zu",
                          SR_FETCH_MAX_ALLOW, n);
    const char *pats[SR_FETCH_MAX_ALLOW];
    for (size_t i = 0; i < n; i++) {
        pats[i] = json_string_value(json_array_get(allow, i));
        if (!pats[i])
            return sr_err_set(err, SR_EINVAL, "field 'http.allow[%zu]' must be a string", i);
    }
    sr_status rc = copy_patterns(pats, n, "field 'http.allow'", &out->allow, &out->nallow, err);
    if (rc == SR_OK)
        rc = job_uint(v, "max_requests", SR_FETCH_MAX_REQUESTS, &out->max_requests, err);
    if (rc == SR_OK)
        rc = job_uint(v, "max_response_bytes", SR_FETCH_MAX_RESPONSE, &out->max_response, err);
    if (rc != SR_OK)
        sr_http_job_fini(out);
    return rc;
}

json_t *
sr_http_job_to_json(const struct sr_http_job *job)
{
    if (!job->nallow)
        return NULL;
    json_t *o = json_object(), *a = json_array();
    if (!o || !a) {
        json_decref(o);
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; i < job->nallow; i++)
        (void)json_array_append_new(a, json_string(job->allow[i]));
    (void)json_object_set_new(o, "allow", a);
    if (job->max_requests)
        (void)json_object_set_new(o, "max_requests", json_integer(job->max_requests));
    if (job->max_response)
        (void)json_object_set_new(o, "max_response_bytes", json_integer(job->max_response));
    return o;
}

sr_status
sr_http_job_copy(const struct sr_http_job *src, struct sr_http_job *dst, sr_err *err)
{
    memset(dst, 0, sizeof(*dst));
    dst->max_requests = src->max_requests;
    dst->max_response = src->max_response;
    sr_status rc = copy_patterns((const char *const *)src->allow, src->nallow, "http.allow",
                                 &dst->allow, &dst->nallow, err);
    if (rc != SR_OK)
        sr_http_job_fini(dst);
    return rc;
}

void
sr_http_job_fini(struct sr_http_job *job)
{
    free_patterns(job->allow, job->nallow);
    memset(job, 0, sizeof(*job));
}
