/* SPDX-License-Identifier: MIT
 *
 * http_subst.c - secrets in requests (docs/http.md, "Secrets in requests"):
 * {{secrets.NAME}} placeholders in a URL's path and query, header values
 * and the body are replaced by the supervisor after the policy check of
 * the hop, and only for a host the secret's http_hosts allows. The same
 * rule applies to a value the guest wrote itself: a request that carries a
 * bound secret's value, verbatim, to a host outside its http_hosts is
 * refused (a tripwire; a guest that must never send a value elsewhere
 * should not receive it: "mode": "http-only").
 *
 * Linear: one pass over the text per placeholder scan, one memmem per
 * secret (at most SR_MAX_SECRET_REFS) for the value scan.
 */
#include "http_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define OPEN "{{secrets."
#define OPEN_LEN (sizeof(OPEN) - 1)
#define NAME_MAX_LEN 128

static enum sr_http_wire_code subst_text(const struct sr_http_session_config *cfg, const char *host,
                                         unsigned port, unsigned defport, const uint8_t *text,
                                         size_t len, bool url, sr_buf *out, size_t *nsubst,
                                         char *msg, size_t cap);

static const struct sr_http_secret *
find(const struct sr_http_session_config *cfg, const uint8_t *name, size_t len)
{
    for (size_t i = 0; i < cfg->nsecrets; i++)
        if (strlen(cfg->secrets[i].name) == len && memcmp(cfg->secrets[i].name, name, len) == 0)
            return &cfg->secrets[i];
    return NULL;
}

bool
sr_http__secret_host_ok(const struct sr_http_secret *sec, const char *host, unsigned port,
                        unsigned defport)
{
    if (sec->nhosts == 0)
        return true;
    for (size_t i = 0; i < sec->nhosts; i++)
        if (sr_http_pattern_match(sec->hosts[i], host, port, defport))
            return true;
    return false;
}

static bool
name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/';
}

/* Length of the placeholder's name at p (after OPEN), or 0 when p does not
 * continue a placeholder (NAME then "}}"). */
static size_t
placeholder_name(const uint8_t *p, size_t left)
{
    size_t n = 0;
    while (n < left && n <= NAME_MAX_LEN && name_char(p[n]))
        n++;
    if (n == 0 || n > NAME_MAX_LEN || left - n < 2 || p[n] != '}' || p[n + 1] != '}')
        return 0;
    return n;
}

/* A value going into a URL: every byte outside RFC 3986's unreserved set
 * percent-encoded, so no value can change the URL's structure. */
static sr_status
append_value(sr_buf *out, const struct sr_http_secret *sec, bool url)
{
    if (!url)
        return sr_buf_append(out, sec->value, sec->len, NULL);
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < sec->len; i++) {
        uint8_t c = sec->value[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (sr_buf_append(out, plain ? (const char *)&sec->value[i] : enc, plain ? 1 : 3, NULL) !=
            SR_OK)
            return SR_ELIMIT;
    }
    return SR_OK;
}

/* URL mode: a placeholder a URL parser percent-encoded (the WHATWG URL
 * parser writes '{' and '}' in a path as %7B and %7D) counts as written.
 * Appends text to out with every complete %7B%7Bsecrets.NAME%7D%7D
 * decoded to {{secrets.NAME}}. */
static sr_status
url_decode_placeholders(const uint8_t *text, size_t len, sr_buf *out)
{
    static const char enc_open[] = "%7B%7Bsecrets.";
    const size_t eo = sizeof(enc_open) - 1;
    size_t i = 0;
    while (i < len) {
        if (len - i >= eo && strncasecmp((const char *)text + i, enc_open, eo) == 0) {
            size_t n = 0;
            while (i + eo + n < len && n <= NAME_MAX_LEN && name_char(text[i + eo + n]))
                n++;
            const uint8_t *close = text + i + eo + n;
            if (n && n <= NAME_MAX_LEN && len - (i + eo + n) >= 6 &&
                strncasecmp((const char *)close, "%7D%7D", 6) == 0) {
                if (sr_buf_append(out, OPEN, OPEN_LEN, NULL) != SR_OK ||
                    sr_buf_append(out, text + i + eo, n, NULL) != SR_OK ||
                    sr_buf_append(out, "}}", 2, NULL) != SR_OK)
                    return SR_ELIMIT;
                i += eo + n + 6;
                continue;
            }
        }
        if (sr_buf_append(out, text + i, 1, NULL) != SR_OK)
            return SR_ELIMIT;
        i++;
    }
    return SR_OK;
}

enum sr_http_wire_code
sr_http__subst(const struct sr_http_session_config *cfg, const char *host, unsigned port,
               unsigned defport, const uint8_t *text, size_t len, bool url, sr_buf *out,
               size_t *nsubst, char *msg, size_t cap)
{
    sr_buf norm;
    sr_buf_init(&norm, len + 1);
    if (url) {
        if (url_decode_placeholders(text, len, &norm) != SR_OK) {
            sr_buf_fini(&norm);
            goto too_big;
        }
        text = (const uint8_t *)norm.data;
        len = norm.len;
    }
    enum sr_http_wire_code rc =
        subst_text(cfg, host, port, defport, text, len, url, out, nsubst, msg, cap);
    sr_buf_fini(&norm);
    return rc;
too_big:
    (void)snprintf(msg, cap, "the request is over its size limit once secrets are substituted");
    return SR_HTTP_WIRE_LIMIT;
}

static enum sr_http_wire_code
subst_text(const struct sr_http_session_config *cfg, const char *host, unsigned port,
           unsigned defport, const uint8_t *text, size_t len, bool url, sr_buf *out, size_t *nsubst,
           char *msg, size_t cap)
{
    size_t i = 0;
    while (i < len) {
        const uint8_t *at = memmem(text + i, len - i, OPEN, OPEN_LEN);
        size_t stop = at ? (size_t)(at - text) : len;
        if (sr_buf_append(out, text + i, stop - i, NULL) != SR_OK)
            goto too_big;
        if (!at)
            break;
        size_t n = placeholder_name(at + OPEN_LEN, len - stop - OPEN_LEN);
        if (n == 0) { /* not a placeholder: the text stays as written */
            if (sr_buf_append(out, at, OPEN_LEN, NULL) != SR_OK)
                goto too_big;
            i = stop + OPEN_LEN;
            continue;
        }
        const struct sr_http_secret *sec = find(cfg, at + OPEN_LEN, n);
        if (!sec) {
            (void)snprintf(msg, cap,
                           "placeholder {{secrets.%.*s}} names no secret of this job "
                           "(secret_refs)",
                           (int)n, (const char *)(at + OPEN_LEN));
            return SR_HTTP_WIRE_INVALID;
        }
        if (!sr_http__secret_host_ok(sec, host, port, defport)) {
            (void)snprintf(msg, cap,
                           "secret '%s' may not be sent to '%s:%u': its policy's http_hosts "
                           "does not list it",
                           sec->name, host, port);
            return SR_HTTP_WIRE_DENIED;
        }
        if (append_value(out, sec, url) != SR_OK)
            goto too_big;
        (*nsubst)++;
        i = stop + OPEN_LEN + n + 2;
    }
    return SR_HTTP_WIRE_OK;
too_big:
    (void)snprintf(msg, cap, "the request is over its size limit once secrets are substituted");
    return SR_HTTP_WIRE_LIMIT;
}

enum sr_http_wire_code
sr_http__scan(const struct sr_http_session_config *cfg, const char *host, unsigned port,
              unsigned defport, const uint8_t *text, size_t len, char *msg, size_t cap)
{
    for (size_t i = 0; i < cfg->nsecrets; i++) {
        const struct sr_http_secret *sec = &cfg->secrets[i];
        if (sec->len == 0 || sr_http__secret_host_ok(sec, host, port, defport))
            continue;
        if (memmem(text, len, sec->value, sec->len)) {
            (void)snprintf(msg, cap,
                           "the request carries the value of secret '%s', which may not be sent "
                           "to '%s:%u' (its policy's http_hosts)",
                           sec->name, host, port);
            return SR_HTTP_WIRE_DENIED;
        }
    }
    return SR_HTTP_WIRE_OK;
}
