/* SPDX-License-Identifier: MIT
 *
 * secret_name.c - secret names, owner names, values and job references.
 *
 * Names are [A-Za-z0-9_]{1,128} and never start with "SEALRUN_" (in any
 * case). Values are 1..64 KiB of UTF-8 without NUL, kept in sodium_malloc'd
 * memory. References are "NAME", "OWNER/NAME" or the legacy "secrets:NAME";
 * a job has at most SR_MAX_SECRET_REFS, no two for the same secret and no
 * two injected under the same bare name. Messages quote names (escaped and
 * cut) but never a value.
 */
#include "sealrun/sr_secret.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

#include "secret_int.h"

#define LEGACY_PREFIX "secrets:"
#define QUOTE_SHOWN 64 /* bytes of an untrusted name quoted in a message */
#define QUOTE_CAP (QUOTE_SHOWN * 4 + 4)

void
sr_secret_value_fini(struct sr_secret_value *v)
{
    if (!v)
        return;
    if (v->data)
        sodium_free(v->data); /* wipes the whole allocation */
    v->data = NULL;
    v->len = 0;
}

sr_status
sr_secret__value_alloc(size_t len, struct sr_secret_value *v, sr_err *err)
{
    size_t n = 0;
    if (!sr_add_size(len, 1, &n))
        return sr_err_set(err, SR_ELIMIT, "secret of %zu bytes is too large", len);
    uint8_t *p = sodium_malloc(n);
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory holding a secret of %zu bytes", len);
    p[len] = 0;
    v->data = p;
    v->len = len;
    return SR_OK;
}

sr_status
sr_secret_value_set(const void *p, size_t len, struct sr_secret_value *out, sr_err *err)
{
    struct sr_secret_value v = {0};
    sr_status rc = sr_secret_value_check(p, len, err);
    if (rc != SR_OK)
        return rc;
    rc = sr_secret__value_alloc(len, &v, err);
    if (rc != SR_OK)
        return rc;
    memcpy(v.data, p, len);
    *out = v;
    return SR_OK;
}

/* Length of the UTF-8 sequence led by b and the smallest valid second byte
 * range; 0 for a byte that cannot lead. */
static size_t
utf8_seq(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        return 2;
    if (b >= 0xe0 && b <= 0xef) {
        if (b == 0xe0)
            *lo = 0xa0; /* no overlong forms */
        if (b == 0xed)
            *hi = 0x9f; /* no surrogates */
        return 3;
    }
    if (b >= 0xf0 && b <= 0xf4) {
        if (b == 0xf0)
            *lo = 0x90;
        if (b == 0xf4)
            *hi = 0x8f; /* nothing past U+10FFFF */
        return 4;
    }
    return 0;
}

size_t
sr_secret__utf8_bad(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t lo, hi;
        size_t n = utf8_seq(p[i], &lo, &hi);
        if (n == 0 || n > len - i)
            return i;
        if (n > 1 && (p[i + 1] < lo || p[i + 1] > hi))
            return i;
        for (size_t k = 2; k < n; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                return i;
        i += n;
    }
    return len;
}

void
sr_secret__quote(const char *p, size_t len, size_t shown, char *out, size_t cap)
{
    size_t o = 0;
    size_t n = len < shown ? len : shown;
    if (cap == 0)
        return;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out[o++] = (char)c;
        } else {
            (void)snprintf(out + o, cap - o, "\\x%02x", c);
            o += 4;
        }
    }
    if (len > n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static bool
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

sr_status
sr_secret_name_check(const char *name, size_t len, sr_err *err)
{
    char q[QUOTE_CAP];
    if (!name || len == 0)
        return sr_err_set(err, SR_EINVAL,
                          "secret name is empty: expected 1..%d characters of A-Z a-z 0-9 _",
                          SR_SECRET_NAME_MAX);
    sr_secret__quote(name, len, QUOTE_SHOWN, q, sizeof(q));
    if (len > SR_SECRET_NAME_MAX)
        return sr_err_set(err, SR_EINVAL,
                          "secret name '%s' is too long: %zu characters, at most %d", q, len,
                          SR_SECRET_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!is_name_char(name[i]))
            return sr_err_set(err, SR_EINVAL,
                              "secret name '%s' has an invalid character at offset %zu: only "
                              "A-Z a-z 0-9 _ are allowed",
                              q, i);
    size_t plen = strlen(SR_SECRET_RESERVED_PREFIX);
    if (len >= plen && strncasecmp(name, SR_SECRET_RESERVED_PREFIX, plen) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "secret name '%s' is reserved: names starting with 'SEALRUN_' are "
                          "set by sealrun itself",
                          q);
    return SR_OK;
}

sr_status
sr_secret_owner_check(const char *owner, size_t len, sr_err *err)
{
    char q[QUOTE_CAP];
    if (!owner || len == 0)
        return sr_err_set(err, SR_EINVAL, "owner is empty: expected a user name");
    sr_secret__quote(owner, len, QUOTE_SHOWN, q, sizeof(q));
    if (len > SR_MAX_USER_NAME)
        return sr_err_set(err, SR_EINVAL, "owner '%s' is too long: %zu characters, at most %d", q,
                          len, SR_MAX_USER_NAME);
    for (size_t i = 0; i < len; i++) {
        char c = owner[i];
        if (!is_name_char(c) && c != '-' && c != '.' && c != '@')
            return sr_err_set(err, SR_EINVAL,
                              "owner '%s' has an invalid character at offset %zu: user names "
                              "are A-Z a-z 0-9 _ - . @",
                              q, i);
    }
    return SR_OK;
}

sr_status
sr_secret_value_check(const void *p, size_t len, sr_err *err)
{
    if (!p || len == 0)
        return sr_err_set(err, SR_EINVAL, "secret value is empty: expected 1..%u bytes",
                          SR_SECRET_VALUE_MAX);
    if (len > SR_SECRET_VALUE_MAX)
        return sr_err_set(err, SR_ELIMIT, "secret value is too large: %zu bytes, at most %u", len,
                          SR_SECRET_VALUE_MAX);
    const uint8_t *b = p;
    const uint8_t *nul = memchr(b, 0, len);
    if (nul)
        return sr_err_set(err, SR_EINVAL,
                          "secret value has a NUL byte at offset %zu: values are text (base64 "
                          "binary data first)",
                          (size_t)(nul - b));
    size_t bad = sr_secret__utf8_bad(b, len);
    if (bad != len)
        return sr_err_set(err, SR_EINVAL,
                          "secret value is not valid UTF-8 at byte offset %zu: values are text "
                          "(base64 binary data first)",
                          bad);
    return SR_OK;
}

/* Splits "OWNER/NAME" or "NAME" (legacy prefix already removed). */
static sr_status
ref_split(const char *t, size_t len, const char *caller, struct sr_secret_ref *ref, sr_err *err)
{
    const char *slash = memchr(t, '/', len);
    const char *name = t;
    size_t name_len = len;
    sr_status rc;

    if (slash) {
        size_t owner_len = (size_t)(slash - t);
        rc = sr_secret_owner_check(t, owner_len, err);
        if (rc != SR_OK)
            return rc;
        memcpy(ref->owner, t, owner_len);
        ref->owner[owner_len] = '\0';
        name = slash + 1;
        name_len = len - owner_len - 1;
    } else {
        size_t caller_len = strlen(caller);
        memcpy(ref->owner, caller, caller_len + 1);
    }
    rc = sr_secret_name_check(name, name_len, err);
    if (rc != SR_OK)
        return rc;
    memcpy(ref->name, name, name_len);
    ref->name[name_len] = '\0';
    ref->is_cross_owner = strcmp(ref->owner, caller) != 0;
    return SR_OK;
}

sr_status
sr_secret_ref_parse(const char *text, size_t len, const char *caller, struct sr_secret_ref *out,
                    sr_err *err)
{
    struct sr_secret_ref ref = {0};
    char q[QUOTE_CAP];
    sr_status rc;

    if (!caller || sr_secret_owner_check(caller, strlen(caller), NULL) != SR_OK)
        return sr_err_set(err, SR_EINVAL, "secret reference needs a valid caller user name");
    if (!text || len == 0)
        return sr_err_set(err, SR_EINVAL,
                          "secret reference is empty: expected 'NAME' or 'OWNER/NAME'");
    sr_secret__quote(text, len, QUOTE_SHOWN * 2, q, sizeof(q));
    if (len > SR_SECRET_REF_MAX)
        return sr_err_set(err, SR_EINVAL,
                          "secret reference '%s' is too long: %zu characters, at most %d", q, len,
                          SR_SECRET_REF_MAX);
    const char *t = text;
    size_t n = len;
    size_t plen = strlen(LEGACY_PREFIX);
    if (n > plen && memcmp(t, LEGACY_PREFIX, plen) == 0) {
        t += plen;
        n -= plen;
    }
    rc = ref_split(t, n, caller, &ref, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "secret reference '%s'", q);
    *out = ref;
    return SR_OK;
}

void
sr_secret_refs_init(struct sr_secret_refs *refs)
{
    refs->n = 0;
}

void
sr_secret_ref_str(const struct sr_secret_ref *ref, char out[SR_SECRET_REF_MAX + 1])
{
    if (ref->is_cross_owner)
        (void)snprintf(out, SR_SECRET_REF_MAX + 1, "%s/%s", ref->owner, ref->name);
    else
        (void)snprintf(out, SR_SECRET_REF_MAX + 1, "%s", ref->name);
}

sr_status
sr_secret_refs_add(struct sr_secret_refs *refs, const char *text, size_t len, const char *caller,
                   sr_err *err)
{
    struct sr_secret_ref ref;
    char a[SR_SECRET_REF_MAX + 1], b[SR_SECRET_REF_MAX + 1];

    if (refs->n >= SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_ELIMIT, "too many secret references: at most %d per job",
                          SR_MAX_SECRET_REFS);
    sr_status rc = sr_secret_ref_parse(text, len, caller, &ref, err);
    if (rc != SR_OK)
        return rc;
    for (size_t i = 0; i < refs->n; i++) {
        const struct sr_secret_ref *o = &refs->ref[i];
        if (strcmp(o->name, ref.name) != 0)
            continue;
        sr_secret_ref_str(&ref, a);
        if (strcmp(o->owner, ref.owner) == 0)
            return sr_err_set(err, SR_EINVAL, "secret '%s' is referenced more than once", a);
        sr_secret_ref_str(o, b);
        return sr_err_set(err, SR_EINVAL,
                          "secret references '%s' and '%s' would both be injected as '%s': a "
                          "job sees each secret under its bare name",
                          b, a, ref.name);
    }
    refs->ref[refs->n++] = ref;
    return SR_OK;
}

sr_status
sr_secret_refs_parse(const json_t *arr, const char *caller, struct sr_secret_refs *out, sr_err *err)
{
    struct sr_secret_refs refs;
    size_t i;
    json_t *v;

    sr_secret_refs_init(&refs);
    if (!arr || json_is_null(arr)) {
        *out = refs;
        return SR_OK;
    }
    if (!json_is_array(arr))
        return sr_err_set(err, SR_EINVAL,
                          "field 'secret_refs' must be an array of secret names, got %s",
                          json_is_object(arr)   ? "an object"
                          : json_is_string(arr) ? "a string"
                                                : "a scalar");
    if (json_array_size(arr) > SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_ELIMIT,
                          "field 'secret_refs' lists %zu references: at most %d per job",
                          json_array_size(arr), SR_MAX_SECRET_REFS);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return sr_err_set(err, SR_EINVAL,
                              "field 'secret_refs' item %zu must be a string ('NAME' or "
                              "'OWNER/NAME')",
                              i);
        sr_status rc =
            sr_secret_refs_add(&refs, json_string_value(v), json_string_length(v), caller, err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "field 'secret_refs' item %zu", i);
    }
    *out = refs;
    return SR_OK;
}
