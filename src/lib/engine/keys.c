/* SPDX-License-Identifier: MIT
 *
 * keys.c - keys a job can use but never read (docs/secrets.md "Generated
 * keys"): POST /secrets/{name}/generate makes an ed25519, secp256k1 or
 * x25519 private key, or 32 random bytes, inside the service and stores it
 * as the secret's value, "sealrun.key.v1:<kind>:<hex>". When a job
 * references such a secret, the engine keeps the private bytes here, in the
 * supervisor, and the job receives only "sealrun.keyref.v1:<kind>:<public
 * hex>" (in its secrets, in placeholders, anywhere a value would go); the
 * job signs or derives with the 'K' host call, each use recorded for the
 * receipt.
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_log.h"
#include "sealrun/sr_secp256k1.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

#define KEY_PREFIX SR_SECRET_KEY_PREFIX
#define REF_PREFIX "sealrun.keyref.v1:"

bool
sr_engine__is_key_value(const uint8_t *p, size_t len)
{
    return sr_secret_is_key_value(p, len);
}

/* A coordinator with a keystore: the keystore makes the key and its
 * at-rest blob for (owner, name, v+1); written with compare-and-set on v
 * (a new key for each try: the version is in the blob's AAD). The private
 * key is never here. */
struct keystore_key {
    const struct sr_engine_keystore *ks;
    const char *owner, *name, *kind;
    char *pub_hex;
};

static sr_status
keystore_key_blob(void *arg, uint64_t version, uint8_t **blob, size_t *len, sr_err *err)
{
    const struct keystore_key *a = arg;
    sr_status rc = a->ks->generate(a->ks->arg, a->owner, a->name, version, a->kind, blob, len,
                                   a->pub_hex, err);
    return rc == SR_OK ? rc : sr_err_wrap(err, "generating key '%s' in the keystore", a->name);
}

static sr_status
generate_by_keystore(sr_engine *eng, const char *owner, const char *name, const char *kind,
                     uint64_t *version, char pub_hex[131], sr_err *err)
{
    struct keystore_key a = {eng->cfg.keystore, owner, name, kind, pub_hex};
    return sr_engine__secret_put_cas(eng, owner, name, keystore_key_blob, &a, version, err);
}

sr_status
sr_engine_secret_generate(sr_engine *eng, const char *owner, const char *name, const char *kind,
                          uint64_t *version, char pub_hex[131], sr_err *err)
{
    if (!kind || sr_secret_key_kind(kind, strlen(kind)) < 0)
        return sr_err_set(err, SR_EINVAL,
                          "'kind' must be \"ed25519\", \"secp256k1\", \"x25519\" or \"random32\"");
    if (eng->cfg.keystore && eng->store) {
        sr_status rc = sr_secret_name_check(name, strlen(name), err);
        return rc == SR_OK ? generate_by_keystore(eng, owner, name, kind, version, pub_hex, err)
                           : rc;
    }
    struct sr_secret_value v = {0};
    uint8_t pub[65];
    size_t pub_len = 0;
    sr_status rc = sr_secret_key_generate(kind, &v, pub, &pub_len, err);
    if (rc == SR_OK)
        rc = sr_engine__secret_put_raw(eng, owner, name, v.data, v.len, version, err);
    sr_secret_value_fini(&v);
    if (rc == SR_OK)
        sr_hex_encode(pub, pub_len, pub_hex);
    return rc;
}

/* Parses "sealrun.key.v1:<kind>:<64 hex>". */
static bool
parse_key(const uint8_t *p, size_t len, int *kind, uint8_t sk[32])
{
    const char *s = (const char *)p + sizeof(KEY_PREFIX) - 1;
    size_t rest = len - (sizeof(KEY_PREFIX) - 1);
    const char *colon = memchr(s, ':', rest);
    if (!colon)
        return false;
    *kind = sr_secret_key_kind(s, (size_t)(colon - s));
    size_t hl = rest - (size_t)(colon - s) - 1;
    return *kind >= 0 && hl == 64 && sr_hex_decode(colon + 1, 64, sk, 32, NULL) == SR_OK;
}

sr_status
sr_engine__keys_take(struct sr_secret_set *set, struct sr_engine__keys *keys, sr_err *err)
{
    memset(keys, 0, sizeof(*keys));
    for (size_t i = 0; i < set->n; i++) {
        struct sr_secret_entry *e = &set->entry[i];
        if (!sr_engine__is_key_value(e->value.data, e->value.len))
            continue;
        struct sr_engine__key *k = &keys->key[keys->n];
        k->sk = sodium_malloc(32);
        if (!k->sk)
            return sr_err_set(err, SR_ENOMEM, "out of memory holding a key");
        keys->n++;
        uint8_t pub[65];
        size_t pub_len = 0;
        if (!parse_key(e->value.data, e->value.len, &k->kind, k->sk) ||
            sr_secret_key_public(k->kind, k->sk, pub, &pub_len, err) != SR_OK)
            return sr_err_set(err, SR_EINTERNAL, "the generated key '%s' is malformed", e->name);
        (void)snprintf(k->name, sizeof(k->name), "%s", e->key);
        (void)snprintf(k->owner, sizeof(k->owner), "%s", e->owner);
        (void)snprintf(k->secret, sizeof(k->secret), "%s", e->name);
        k->version = e->version;
        char text[sizeof(REF_PREFIX) + 16 + 131];
        char hex[131];
        sr_hex_encode(pub, pub_len, hex);
        (void)snprintf(text, sizeof(text), REF_PREFIX "%s:%s", sr_secret_key_kind_name(k->kind),
                       hex);
        /* the job, placeholders and everything downstream see only this */
        struct sr_secret_value ref = {0};
        sr_status rc = sr_secret_value_set(text, strlen(text), &ref, err);
        if (rc != SR_OK)
            return rc;
        sr_secret_value_fini(&e->value);
        e->value = ref;
    }
    return SR_OK;
}

void
sr_engine__keys_fini(struct sr_engine__keys *keys)
{
    for (size_t i = 0; i < keys->n; i++)
        sodium_free(keys->key[i].sk); /* wipes */
    memset(keys, 0, sizeof(*keys));
}

/* The signing or deriving of one 'K' call into out (*out_len bytes). */
static sr_status
key_op(const struct sr_engine__key *k, char op, const uint8_t *p, size_t len, uint8_t out[65],
       size_t *out_len, sr_err *err)
{
    static const char want[] = {'E', 'S', 'X', 'H'}; /* per kind; 'B' also for secp256k1 */
    if (op != want[k->kind] && !(op == 'B' && k->kind == SR_KEY_SECP256K1))
        return sr_err_set(err, SR_EINVAL, "key '%s' is a %s key: it cannot do this", k->name,
                          sr_secret_key_kind_name(k->kind));
    uint8_t full[crypto_sign_SECRETKEYBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    int recid = 0;
    sr_status rc = SR_OK;
    *out_len = 64;
    switch (op) {
    case 'E':
        (void)crypto_sign_seed_keypair(pk, full, k->sk);
        (void)crypto_sign_detached(out, NULL, p, len, full);
        sodium_memzero(full, sizeof(full));
        break;
    case 'S':
        if (len != 32)
            return sr_err_set(err, SR_EINVAL, "secp256k1 signs a 32-byte hash, got %zu bytes", len);
        rc = sr_secp256k1_sign(p, k->sk, out, &recid, err);
        out[64] = (uint8_t)recid;
        *out_len = 65;
        break;
    case 'B':
        rc = sr_secp256k1_schnorr_sign(p, len, k->sk, NULL, out, err);
        break;
    case 'X':
        *out_len = 32;
        if (len != 32 || crypto_scalarmult(out, k->sk, p) != 0)
            return sr_err_set(err, SR_EINVAL,
                              "x25519: the peer's public key is not 32 bytes or is of small order");
        break;
    default: /* 'H' */
        *out_len = 32;
        crypto_auth_hmacsha256_state st;
        (void)crypto_auth_hmacsha256_init(&st, k->sk, 32);
        (void)crypto_auth_hmacsha256_update(&st, p, len);
        (void)crypto_auth_hmacsha256_final(&st, out);
        sodium_memzero(&st, sizeof(st));
        break;
    }
    return rc;
}

sr_status
sr_engine__key_call(const struct sr_engine__keys *keys, const uint8_t *req, size_t len,
                    json_t **uses, sr_buf *resp, sr_err *err)
{
    /* 'K' | op | name_len (1) | name | data */
    if (len < 3 || len < 3u + req[2])
        return sr_err_set(err, SR_EINVAL, "a key call needs an operation and a key name");
    char op = (char)req[1];
    size_t nl = req[2];
    const uint8_t *data = req + 3 + nl;
    size_t dl = len - 3 - nl;
    if (dl > SR_KEY_MAX_DATA)
        return sr_err_set(err, SR_ELIMIT, "a key signs at most %d bytes at a time, got %zu",
                          SR_KEY_MAX_DATA, dl);
    if (json_array_size(*uses) >= SR_KEY_MAX_USES)
        return sr_err_set(err, SR_ELIMIT, "a job may use its keys at most %d times",
                          SR_KEY_MAX_USES);
    const struct sr_engine__key *k = NULL;
    for (size_t i = 0; i < keys->n && !k; i++)
        if (strlen(keys->key[i].name) == nl && memcmp(keys->key[i].name, req + 3, nl) == 0)
            k = &keys->key[i];
    if (!k)
        return sr_err_set(err, SR_EDENIED,
                          "the job has no generated key '%.*s' (name it in secret_refs)", (int)nl,
                          (const char *)req + 3);
    uint8_t out[65];
    size_t out_len = 0;
    sr_status rc = key_op(k, op, data, dl, out, &out_len, err);
    if (rc != SR_OK)
        return rc;
    static const char *const op_names[] = {"sign", "ecdsa-sign", "derive", "hmac", "schnorr-sign"};
    const char *opn = op == 'E'   ? op_names[0]
                      : op == 'S' ? op_names[1]
                      : op == 'X' ? op_names[2]
                      : op == 'H' ? op_names[3]
                                  : op_names[4];
    char h[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(data, dl, h);
    if (!*uses)
        *uses = json_array();
    json_t *u = json_pack("{s:s, s:s, s:s, s:s}", "name", k->name, "kind",
                          sr_secret_key_kind_name(k->kind), "operation", opn, "data_sha256", h);
    if (!u || json_array_append_new(*uses, u) != 0)
        return sr_err_set(err, SR_ENOMEM, "out of memory recording a key use");
    rc = sr_buf_append(resp, out, out_len, err);
    sodium_memzero(out, sizeof(out));
    return rc;
}

/* One secret audit row for use u (a key_uses entry) of secret owner/name
 * at 'version' by 'user's job. */
static void
audit_use(sr_engine *eng, const char *owner, const char *secret, uint64_t version, const json_t *u,
          const char *user, const char *job_id, const char *code_hash, const char *entry_point)
{
    const char *kind = json_string_value(json_object_get(u, "kind"));
    const char *op = json_string_value(json_object_get(u, "operation"));
    const char *data = json_string_value(json_object_get(u, "data_sha256"));
    char reason[160];
    (void)snprintf(reason, sizeof(reason), "%.16s %.16s of data sha256 %.64s", kind ? kind : "?",
                   op ? op : "?", data ? data : "?");
    const struct sr_audit_row row = {
        .owner = (char *)(uintptr_t)owner,
        .name = (char *)(uintptr_t)secret,
        .job_id = (char *)(uintptr_t)job_id,
        .user = (char *)(uintptr_t)user,
        .version = version,
        .outcome = (char *)(uintptr_t) "used",
        .reason = reason,
        .time_ms = sr_now_ms(),
        .code_hash = (char *)(uintptr_t)code_hash,
        .entry_point = (char *)(uintptr_t)entry_point,
    };
    sr_err e = {0};
    if (sr_store_audit_add(eng->store, &row, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "engine", "auditing a use of key '%s' of job %s failed: %s", secret,
               job_id, e.msg);
}

void
sr_engine__keys_audit(sr_engine *eng, const struct sr_engine__keys *keys, const json_t *uses,
                      const char *user, const char *job_id, const struct sr_job_request *req)
{
    for (size_t i = 0; eng->store && i < json_array_size(uses); i++) {
        const json_t *u = json_array_get(uses, i);
        const char *name = json_string_value(json_object_get(u, "name"));
        const struct sr_engine__key *k = NULL;
        for (size_t j = 0; j < keys->n && !k && name; j++)
            if (strcmp(keys->key[j].name, name) == 0)
                k = &keys->key[j];
        if (k)
            audit_use(eng, k->owner, k->secret, k->version, u, user, job_id, req->code_hash_hex,
                      req->entry_point);
    }
}

void
sr_engine__keys_audit_remote(sr_engine *eng, const struct sr_secret_refs *refs,
                             const json_t *receipt, const char *user, const char *job_id)
{
    const json_t *uses = json_object_get(receipt, "key_uses");
    const json_t *used = json_object_get(receipt, "secret_refs");
    const char *code_hash = json_string_value(json_object_get(receipt, "code_hash"));
    const char *entry = json_string_value(json_object_get(receipt, "entry_point"));
    size_t nuses = json_array_size(uses);
    for (size_t i = 0; eng->store && i < nuses && i < SR_KEY_MAX_USES; i++) {
        const json_t *u = json_array_get(uses, i);
        const char *name = json_string_value(json_object_get(u, "name"));
        const struct sr_secret_ref *ref = NULL; /* only the job's own references */
        for (size_t j = 0; j < refs->n && !ref && name; j++)
            if (strcmp(refs->ref[j].name, name) == 0)
                ref = &refs->ref[j];
        if (!ref) {
            sr_log(SR_LOG_WARN, "engine",
                   "job '%s': its receipt names a use of key '%.64s', which the job does not "
                   "reference: not audited",
                   job_id, name ? name : "?");
            continue;
        }
        json_int_t version = 0;
        for (size_t j = 0; j < json_array_size(used); j++) {
            const json_t *r = json_array_get(used, j);
            const char *o = json_string_value(json_object_get(r, "owner"));
            const char *n = json_string_value(json_object_get(r, "name"));
            if (o && n && strcmp(o, ref->owner) == 0 && strcmp(n, ref->name) == 0)
                version = json_integer_value(json_object_get(r, "version"));
        }
        audit_use(eng, ref->owner, ref->name, version > 0 ? (uint64_t)version : 0, u, user, job_id,
                  code_hash, entry);
    }
}
