/* SPDX-License-Identifier: MIT
 *
 * secret_resolve.c - turns a job's references into the values it may see,
 * auditing every use and denial, and renders them for injection (the JS
 * 'secrets' object as JSON, WASI "NAME=value" environment strings).
 *
 * Resolution runs in three passes so that no value is decrypted unless
 * every reference is allowed: (1) look up each reference and evaluate its
 * policy, stopping at the first failure (audited); (2) decrypt each value
 * into protected memory; (3) audit each use. A failure after pass 1 wipes
 * what was decrypted. Rows from the lookup callback hold only ciphertext
 * and policy text; they are freed here.
 */
#include "sealrun/sr_secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sealrun/sr_util.h"

#include "secret_int.h"

struct resolve {
    const sr_keys *keys;
    const struct sr_secret_request *req;
    int64_t now_ms;
    const struct sr_secret_ref *refs0; /* refs->ref: indexes rows and binds_code */
    struct sr_secret_row rows[SR_MAX_SECRET_REFS];
    bool binds_code[SR_MAX_SECRET_REFS];
    char **hosts[SR_MAX_SECRET_REFS]; /* http_hosts copies until they move to the entry */
    size_t n_hosts[SR_MAX_SECRET_REFS];
};

static void
hosts_free(char **h, size_t n)
{
    for (size_t i = 0; h && i < n; i++)
        free(h[i]);
    free(h);
}

/* Copies the policy's http_hosts for reference i. false: out of memory. */
static bool
keep_hosts(struct resolve *r, size_t i, const sr_secret_policy *pol)
{
    size_t n = sr_secret_policy_http_hosts(pol, NULL, 0);
    if (n == 0)
        return true;
    const char **src = calloc(n, sizeof(*src));
    r->hosts[i] = calloc(n, sizeof(char *));
    bool ok = src && r->hosts[i];
    if (ok)
        (void)sr_secret_policy_http_hosts(pol, src, n);
    for (size_t k = 0; ok && k < n; k++) {
        r->hosts[i][k] = strdup(src[k]);
        ok = r->hosts[i][k] != NULL;
        r->n_hosts[i] = k + 1;
    }
    free(src);
    return ok;
}

void
sr_secret_set_fini(struct sr_secret_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n && i < SR_MAX_SECRET_REFS; i++) {
        sr_secret_value_fini(&set->entry[i].value);
        hosts_free(set->entry[i].http_hosts, set->entry[i].n_http_hosts);
        set->entry[i].http_hosts = NULL;
        set->entry[i].n_http_hosts = 0;
    }
    set->n = 0;
}

static void
rows_free(struct resolve *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r->rows[i].blob);
        free(r->rows[i].policy_json);
    }
}

static sr_status
audit(struct resolve *r, const struct sr_secret_ref *ref, uint64_t version,
      enum sr_secret_outcome outcome, const char *reason, sr_err *err)
{
    char shown[SR_SECRET_REF_MAX + 1];
    sr_err sub = {0};
    struct sr_secret_audit rec = {
        .job_id = r->req->job_id,
        .owner = ref->owner,
        .name = ref->name,
        .user = r->req->caller,
        .version = version,
        .outcome = outcome,
        .reason = reason,
        .code_hash_hex = r->req->code_hash_hex,
        .entry_point = r->req->entry_point,
        .time_ms = r->now_ms,
    };
    sr_status rc = r->req->audit(r->req->audit_ctx, &rec, &sub);
    if (rc == SR_OK)
        return SR_OK;
    if (rc == SR_ELIMIT) /* the audit's rate limit on denials: its message says which */
        return sr_err_set(err, SR_ELIMIT, "%s", sub.msg);
    sr_secret_ref_str(ref, shown);
    return sr_err_set(err, rc == SR_EDENIED ? SR_EIO : rc,
                      "cannot record the audit entry for secret '%s': %s", shown, sub.msg);
}

/* Audits a failure of ref and sets the job's SECRET_UNAVAILABLE message.
 * 'masked' hides the reason from the caller (another owner's secret that
 * is missing or not shared with them). */
static sr_status
deny(struct resolve *r, const struct sr_secret_ref *ref, uint64_t version,
     enum sr_secret_outcome outcome, const char *reason, bool masked, sr_err *err)
{
    char shown[SR_SECRET_REF_MAX + 1];
    sr_status rc = audit(r, ref, version, outcome, reason, err);
    sr_secret_ref_str(ref, shown);
    if (rc == SR_ELIMIT) { /* refused unrecorded: the denial stands, without a row */
        char why[SR_ERR_MSG_MAX];
        (void)snprintf(why, sizeof(why), "%s", err ? err->msg : "too many denied attempts");
        return sr_err_set(err, SR_EDENIED, "secret '%s' is unavailable: %s", shown, why);
    }
    if (rc != SR_OK)
        return rc;
    if (masked)
        return sr_err_set(err, SR_EDENIED,
                          "secret '%s' is unavailable: not found or not shared with '%s'", shown,
                          r->req->caller);
    return sr_err_set(err, SR_EDENIED, "secret '%s' is unavailable: %s", shown, reason);
}

/* Pass 1 for one reference: look it up and evaluate its policy. */
static sr_status
check_one(struct resolve *r, const struct sr_secret_ref *ref, struct sr_secret_row *row,
          sr_err *err)
{
    char shown[SR_SECRET_REF_MAX + 1];
    sr_err sub = {0};
    sr_secret_policy *pol = NULL;

    sr_status rc = r->req->lookup(r->req->lookup_ctx, ref->owner, ref->name, row, &sub);
    if (rc == SR_ENOTFOUND)
        return deny(r, ref, 0, SR_SECRET_MISSING, "not found", ref->is_cross_owner, err);
    if (rc != SR_OK) {
        sr_secret_ref_str(ref, shown);
        return sr_err_set(err, rc, "cannot look up secret '%s': %s", shown, sub.msg);
    }
    if (!row->blob || row->version == 0)
        return deny(r, ref, row->version, SR_SECRET_ERROR, "the stored secret is unusable", false,
                    err);
    const char *pj = row->policy_json;
    rc = sr_secret_policy_parse(pj, pj ? strlen(pj) : 0, &pol, &sub);
    if (rc != SR_OK) {
        char reason[SR_ERR_MSG_MAX + 32];
        (void)snprintf(reason, sizeof(reason), "the stored policy is invalid: %s", sub.msg);
        return deny(r, ref, row->version, SR_SECRET_ERROR, reason, ref->is_cross_owner, err);
    }
    struct sr_secret_access acc = {
        .owner = ref->owner,
        .caller = r->req->caller,
        .runtime = r->req->runtime,
        .code_hash_hex = r->req->code_hash_hex,
        .entry_point = r->req->entry_point,
        .now_ms = r->now_ms,
    };
    enum sr_secret_outcome o = sr_secret_policy_eval(pol, &acc, &sub);
    r->binds_code[ref - r->refs0] = sr_secret_policy_binds_code(pol);
    if (!keep_hosts(r, (size_t)(ref - r->refs0), pol)) {
        sr_secret_policy_free(pol);
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a secret's http_hosts");
    }
    bool masked =
        ref->is_cross_owner && !sr_secret__policy_allows_user(pol, ref->owner, r->req->caller);
    sr_secret_policy_free(pol);
    if (o == SR_SECRET_ALLOWED)
        return SR_OK;
    return deny(r, ref, row->version, o, sub.msg, masked, err);
}

static sr_status
check_request(const struct sr_secret_refs *refs, const struct sr_secret_request *req, sr_err *err)
{
    if (!refs || !req || refs->n > SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_EINVAL, "secret resolution needs references and a request");
    if (!req->lookup || !req->audit)
        return sr_err_set(err, SR_EINVAL, "secret resolution needs a lookup and an audit callback");
    if (!req->job_id || !*req->job_id)
        return sr_err_set(err, SR_EINVAL, "secret resolution needs a job id");
    const char *c = req->caller;
    if (sr_secret_owner_check(c, c ? strnlen(c, SR_MAX_USER_NAME + 1) : 0, err) != SR_OK)
        return sr_err_wrap(err, "secret resolution caller");
    return SR_OK;
}

/* Pass 2 for one reference: decrypt into e. */
static sr_status
open_one(struct resolve *r, const struct sr_secret_ref *ref, const struct sr_secret_row *row,
         struct sr_secret_entry *e, sr_err *err)
{
    sr_err sub = {0};
    sr_status rc = sr_secret_decrypt(r->keys, ref->owner, ref->name, row->version, row->blob,
                                     row->blob_len, &e->value, &sub);
    if (rc == SR_ENOMEM)
        return sr_err_set(err, rc, "%s", sub.msg);
    if (rc != SR_OK) {
        char reason[SR_ERR_MSG_MAX + 48];
        (void)snprintf(reason, sizeof(reason), "the stored value cannot be decrypted (%s)",
                       sub.msg);
        return deny(r, ref, row->version, SR_SECRET_ERROR, reason, false, err);
    }
    e->binds_code = r->binds_code[ref - r->refs0];
    e->http_hosts = r->hosts[ref - r->refs0];
    e->n_http_hosts = r->n_hosts[ref - r->refs0];
    r->hosts[ref - r->refs0] = NULL;
    r->n_hosts[ref - r->refs0] = 0;
    memcpy(e->key, ref->name, sizeof(e->key));
    memcpy(e->owner, ref->owner, sizeof(e->owner));
    memcpy(e->name, ref->name, sizeof(e->name));
    e->version = row->version;
    return SR_OK;
}

sr_status
sr_secret_resolve(const sr_keys *keys, const struct sr_secret_refs *refs,
                  const struct sr_secret_request *req, struct sr_secret_set *out, sr_err *err)
{
    struct resolve *r = NULL;
    struct sr_secret_set *set = NULL;
    size_t looked = 0;

    sr_status rc = check_request(refs, req, err);
    if (rc != SR_OK)
        return rc;
    r = calloc(1, sizeof(*r));
    set = calloc(1, sizeof(*set));
    if (!r || !set) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory resolving secrets");
        goto out;
    }
    r->keys = keys;
    r->req = req;
    r->refs0 = refs->ref;
    r->now_ms = req->now_ms ? req->now_ms : sr_now_ms();
    for (; looked < refs->n; looked++) {
        rc = check_one(r, &refs->ref[looked], &r->rows[looked], err);
        if (rc != SR_OK) {
            looked++; /* its row may hold memory */
            goto out;
        }
    }
    for (size_t i = 0; i < refs->n; i++, set->n++) {
        rc = open_one(r, &refs->ref[i], &r->rows[i], &set->entry[i], err);
        if (rc != SR_OK)
            goto out;
    }
    for (size_t i = 0; i < refs->n; i++) {
        rc = audit(r, &refs->ref[i], set->entry[i].version, SR_SECRET_ALLOWED, "", err);
        if (rc != SR_OK)
            goto out;
    }
    *out = *set;
    set->n = 0; /* the values moved to *out */
out:
    if (r)
        rows_free(r, looked);
    for (size_t i = 0; r && i < SR_MAX_SECRET_REFS; i++)
        hosts_free(r->hosts[i], r->n_hosts[i]);
    sr_secret_set_fini(set);
    free(r);
    free(set);
    return rc;
}

json_t *
sr_secret_entry_to_json(const struct sr_secret_entry *e, const char *sealed_b64)
{
    json_t *hosts = json_array();
    for (size_t j = 0; hosts && j < e->n_http_hosts; j++)
        if (json_array_append_new(hosts, json_string(e->http_hosts[j])) != 0) {
            json_decref(hosts);
            hosts = NULL;
        }
    json_t *o =
        hosts && sealed_b64
            ? json_pack("{s:s, s:s, s:s, s:I, s:b, s:s, s:O}", "key", e->key, "owner", e->owner,
                        "name", e->name, "version", (json_int_t)e->version, "binds_code",
                        e->binds_code, "sealed_value", sealed_b64, "hosts", hosts)
            : NULL;
    json_decref(hosts);
    return o;
}

static const char *
member(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

sr_status
sr_secret_entry_from_json(const json_t *s, size_t max_hosts, const char *what, sr_status bad,
                          struct sr_secret_entry *e, const char **sealed_b64, sr_err *err)
{
    const char *key = member(s, "key"), *owner = member(s, "owner"), *name = member(s, "name");
    const char *sealed = member(s, "sealed_value");
    const json_t *hosts = json_object_get(s, "hosts");
    json_int_t version = json_integer_value(json_object_get(s, "version"));
    if (!key || !owner || !name || !sealed || !json_is_array(hosts) ||
        !json_is_boolean(json_object_get(s, "binds_code")) || version < 1 ||
        strlen(key) > SR_SECRET_NAME_MAX || strlen(name) > SR_SECRET_NAME_MAX ||
        strlen(owner) > SR_MAX_USER_NAME || json_array_size(hosts) > max_hosts ||
        strlen(sealed) > SR_SECRET_SEALED_MAX)
        return sr_err_set(err, bad,
                          "%s needs 'key', 'owner', 'name', 'version', 'binds_code', "
                          "'sealed_value' (at most %u characters) and at most %zu 'hosts'",
                          what, (unsigned)SR_SECRET_SEALED_MAX, max_hosts);
    (void)snprintf(e->key, sizeof(e->key), "%s", key);
    (void)snprintf(e->owner, sizeof(e->owner), "%s", owner);
    (void)snprintf(e->name, sizeof(e->name), "%s", name);
    e->version = (uint64_t)version;
    e->binds_code = json_is_true(json_object_get(s, "binds_code"));
    *sealed_b64 = sealed;
    size_t nh = json_array_size(hosts);
    if (!nh)
        return SR_OK;
    if (!(e->http_hosts = calloc(nh, sizeof(*e->http_hosts))))
        return sr_err_set(err, SR_ENOMEM, "out of memory for a secret's hosts");
    for (size_t i = 0; i < nh; i++) {
        const char *h = json_string_value(json_array_get(hosts, i));
        if (!h || !(e->http_hosts[i] = strdup(h)))
            return sr_err_set(err, h ? SR_ENOMEM : bad, "%s: 'hosts' must be strings", what);
        e->n_http_hosts = i + 1;
    }
    return SR_OK;
}
