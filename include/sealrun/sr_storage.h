/* SPDX-License-Identifier: MIT
 *
 * sr_storage.h - persistent key-value storage for jobs (docs/storage.md):
 * names and limits, the at-rest codec (values, keys and namespace names),
 * the host-call wire format between a job process and its supervisor, the
 * per-job session the supervisor keeps (read set, listings, write buffer,
 * commit), and access for the HTTP API.
 *
 * The job process never touches the store: it encodes a request
 * (sr_storage_wire_request) and sends it with sr_sandbox_hostcall(); the
 * supervisor answers it with sr_storage_session_handle(). When the job
 * completes, sr_storage_session_commit() validates what the job read
 * (outside the store's write lock) and applies its buffered writes in one
 * transaction, or fails with SR_ECONFLICT (a key or listing the job read
 * changed) or SR_ELIMIT (quota). A session is used by one thread at a time;
 * the codec functions are thread-safe.
 */
#ifndef SR_STORAGE_H
#define SR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_store.h"

/* Names and limits (docs/storage.md "Limits"; keep in sync). */
#define SR_STORAGE_DEFAULT_NS "default"
#define SR_STORAGE_MAX_NS 64                 /* [A-Za-z0-9_.-]{1,64} */
#define SR_STORAGE_MAX_KEY 256               /* bytes of UTF-8, no NUL */
#define SR_STORAGE_MAX_VALUE (1024u * 1024u) /* bytes */
#define SR_STORAGE_COMPRESS_MIN 1024u        /* values longer than this are compressed */
#define SR_STORAGE_DEFAULT_MAX_KEYS 1024u    /* per namespace */
#define SR_STORAGE_DEFAULT_MAX_BYTES (16u * 1024u * 1024u)
#define SR_STORAGE_HARD_MAX_KEYS 10000u /* --storage-max-keys at most: a listing sorts them */
#define SR_STORAGE_DEFAULT_MAX_NAMESPACES 100u /* per owner */
#define SR_STORAGE_HARD_MAX_NAMESPACES 10000u
#define SR_STORAGE_DEFAULT_MAX_OWNER_BYTES (64u * 1024u * 1024u) /* per owner, all namespaces */
#define SR_STORAGE_MAX_JOB_BYTES (20u * 1024u * 1024u)           /* writes one job may buffer */
#define SR_STORAGE_MAX_JOB_WRITES 4096u   /* different keys one job may write (puts, deletes) */
#define SR_STORAGE_MAX_JOB_READS 4096u    /* different keys one job may read from the store */
#define SR_STORAGE_MAX_JOB_LISTINGS 1024u /* different listings one job may make */
#define SR_STORAGE_MAX_LIST 1000          /* keys per list call */
#define SR_STORAGE_DEFAULT_LIST 100
/* Purpose label of the subkey (of the secrets master) for key ids and sealed
 * keys and names; kept with its only user, like sr_crypto.h's. */
#define SR_LABEL_STORAGE_NAMES "sealrun/storage-names/v1"
/* At-rest blob: nonce, then the sealed flag byte and (maybe compressed) value. */
#define SR_STORAGE_BLOB_OVERHEAD (24u + 1u + 16u)
/* A sealed key or name: nonce, the bytes, tag. */
#define SR_STORAGE_NAME_OVERHEAD (24u + 16u)

/* Checks a namespace name: SR_EINVAL naming the offending character. */
sr_status sr_storage_ns_check(const char *ns, size_t len, sr_err *err);
/* Checks a key: 1..256 bytes of valid UTF-8 without NUL. SR_EINVAL says why. */
sr_status sr_storage_key_check(const uint8_t *key, size_t len, sr_err *err);

/* ---- the at-rest codec ---- */

/* The namespace's 32-byte key: BLAKE2b-256 keyed with the SR_LABEL_STORAGE
 * subkey of the secrets master over owner 0x00 ns. Wipe it after use. */
void sr_storage_ns_key(const sr_keys *keys, const char *owner, const char *ns, uint8_t out[32]);

/* Seals value[0..len) (len <= SR_STORAGE_MAX_VALUE) of 'key' written at
 * namespace version 'version': flag byte (0 raw, 1 zstd; zstd only for
 * values over SR_STORAGE_COMPRESS_MIN that shrink), then XChaCha20-Poly1305
 * with AAD "sealrun.storage.v1" 0 owner 0 ns 0 decimal(version) 0 key.
 * Returns owned *out (free()). */
sr_status sr_storage_seal(const uint8_t nskey[32], const char *owner, const char *ns,
                          const uint8_t *key, size_t key_len, uint64_t version,
                          const uint8_t *value, size_t len, uint8_t **out, size_t *out_len,
                          sr_err *err);
/* Opens a blob sealed by sr_storage_seal for the same owner, ns, key and
 * version. SR_EDENIED "authentication failed" on any mismatch or change;
 * SR_EINVAL for a bad flag or a compressed value over the cap. Returns owned
 * *out (free(); NUL-terminated for convenience). */
sr_status sr_storage_open(const uint8_t nskey[32], const char *owner, const char *ns,
                          const uint8_t *key, size_t key_len, uint64_t version, const uint8_t *blob,
                          size_t blob_len, uint8_t **out, size_t *out_len, sr_err *err);

/* One namespace's keys (docs/storage.md "Encryption at rest"), all derived
 * from the SR_LABEL_STORAGE_NAMES subkey N and, for values, from
 * sr_storage_ns_key. Wipe with sr_storage_ns_keys_wipe. */
struct sr_storage_ns_keys {
    uint8_t id[32];        /* the namespace's id: BLAKE2b(N, "ns-id" 0 owner 0 ns) */
    uint8_t value[32];     /* values: sr_storage_ns_key */
    uint8_t key_id[32];    /* key ids: BLAKE2b(N, "key-id" 0 owner 0 ns) */
    uint8_t key_seal[32];  /* sealed keys: BLAKE2b(N, "key-seal" 0 owner 0 ns) */
    uint8_t name_seal[32]; /* sealed names of the owner: BLAKE2b(N, "ns-seal" 0 owner) */
};
void sr_storage_ns_keys_init(const sr_keys *keys, const char *owner, const char *ns,
                             struct sr_storage_ns_keys *out);
void sr_storage_ns_keys_wipe(struct sr_storage_ns_keys *k);

/* A key's id: BLAKE2b-256 keyed with k->key_id over the key's bytes. */
void sr_storage_key_id(const struct sr_storage_ns_keys *k, const uint8_t *key, size_t len,
                       uint8_t out[32]);
/* Seals a key for its row: nonce || XChaCha20-Poly1305(key, AAD
 * "sealrun.storage.key.v1" 0 owner 0 ns 0 id) under k->key_seal. Returns
 * owned *out (free()), len + SR_STORAGE_NAME_OVERHEAD bytes. */
sr_status sr_storage_key_seal(const struct sr_storage_ns_keys *k, const char *owner, const char *ns,
                              const uint8_t *key, size_t len, const uint8_t id[32], uint8_t **out,
                              size_t *out_len, sr_err *err);
/* Opens a sealed key into out[0..SR_STORAGE_MAX_KEY) and checks that its id
 * is 'id' and that it is a valid key: SR_EDENIED "authentication failed"
 * otherwise. */
sr_status sr_storage_key_open(const struct sr_storage_ns_keys *k, const char *owner, const char *ns,
                              const uint8_t id[32], const uint8_t *blob, size_t blob_len,
                              uint8_t out[SR_STORAGE_MAX_KEY], size_t *out_len, sr_err *err);
/* Seals a namespace name: nonce || XChaCha20-Poly1305(ns, AAD
 * "sealrun.storage.ns.v1" 0 owner 0 id) under k->name_seal. Owned *out. */
sr_status sr_storage_name_seal(const struct sr_storage_ns_keys *k, const char *owner,
                               const char *ns, uint8_t **out, size_t *out_len, sr_err *err);
/* Opens a sealed name of owner's namespace 'id' into out (NUL-terminated)
 * with keys made by sr_storage_ns_keys_init for that owner (any ns): the
 * name must be valid and its id 'id', else SR_EDENIED. */
sr_status sr_storage_name_open(const sr_keys *keys, const char *owner, const uint8_t id[32],
                               const uint8_t *blob, size_t blob_len,
                               char out[SR_STORAGE_MAX_NS + 1], sr_err *err);

/* ---- the host-call wire format (docs/storage.md "Host calls") ----
 * Request:  op (1 byte) | key_len (u16 LE) | key | payload
 *   'G' get, 'H' has, 'D' delete: no payload; 'S' set: the value bytes;
 *   'L' list: key is the prefix (0..256 bytes), payload = limit (u32 LE) |
 *       after_len (u16 LE) | after (0 = from the start).
 * Answer:   code (1 byte) | payload
 *   SR_STORAGE_WIRE_OK: get: the value; has: 1 byte 0/1; set, delete: none;
 *       list: count (u32 LE) | more (1 byte) | count x (key_len u16 LE | key)
 *   SR_STORAGE_WIRE_NOTFOUND: get of an absent key
 *   SR_STORAGE_WIRE_INVALID / _LIMIT: a message (UTF-8) for the guest
 *   SR_STORAGE_WIRE_CAP: the cap (1 byte, enum sr_storage_cap) | a message */
enum sr_storage_wire_code {
    SR_STORAGE_WIRE_OK = 0,
    SR_STORAGE_WIRE_NOTFOUND = 1,
    SR_STORAGE_WIRE_INVALID = 2, /* bad key, value or argument: a TypeError */
    SR_STORAGE_WIRE_LIMIT = 3,   /* a value too large: a RangeError */
    SR_STORAGE_WIRE_CAP = 4,     /* a per-job cap reached: a RangeError */
};

/* The per-job caps (docs/storage.md "Limits"); keep in sync with the job
 * codes in sr_codes.h. */
enum sr_storage_cap {
    SR_STORAGE_CAP_NONE = 0,
    SR_STORAGE_CAP_READS = 1,    /* SR_STORAGE_MAX_JOB_READS different keys read */
    SR_STORAGE_CAP_LISTINGS = 2, /* SR_STORAGE_MAX_JOB_LISTINGS different listings */
    SR_STORAGE_CAP_WRITES = 3,   /* SR_STORAGE_MAX_JOB_WRITES keys or _BYTES buffered */
};

/* Appends one request to b. 'payload' is the value for 'S'. For 'L' use
 * sr_storage_wire_list_request. */
sr_status sr_storage_wire_request(sr_buf *b, char op, const uint8_t *key, size_t key_len,
                                  const uint8_t *payload, size_t payload_len, sr_err *err);
sr_status sr_storage_wire_list_request(sr_buf *b, const uint8_t *prefix, size_t prefix_len,
                                       uint32_t limit, const uint8_t *after, size_t after_len,
                                       sr_err *err);

/* A decoded list answer: keys point into the answer bytes (borrowed). */
struct sr_storage_key_view {
    const uint8_t *p;
    size_t len;
};
/* Walks a list answer payload (after the code byte): *count and *more; call
 * sr_storage_wire_list_key for each i in order. SR_EINVAL if malformed. */
sr_status sr_storage_wire_list_head(const uint8_t *p, size_t len, uint32_t *count, bool *more,
                                    sr_err *err);
/* Reads the next key at *pos (start at 5); advances *pos. */
sr_status sr_storage_wire_list_key(const uint8_t *p, size_t len, size_t *pos,
                                   struct sr_storage_key_view *out, sr_err *err);

/* ---- the per-job session (supervisor side) ---- */

typedef struct sr_storage_session sr_storage_session;

struct sr_storage_config {
    sr_store *store;          /* borrowed; must outlive the session */
    const sr_keys *keys;      /* borrowed */
    const char *owner;        /* copied */
    const char *ns;           /* copied; NULL = SR_STORAGE_DEFAULT_NS */
    uint64_t max_keys;        /* per namespace; 0 = SR_STORAGE_DEFAULT_MAX_KEYS */
    uint64_t max_bytes;       /* per namespace; 0 = SR_STORAGE_DEFAULT_MAX_BYTES */
    uint64_t max_namespaces;  /* per owner; 0 = SR_STORAGE_DEFAULT_MAX_NAMESPACES */
    uint64_t max_owner_bytes; /* per owner; 0 = SR_STORAGE_DEFAULT_MAX_OWNER_BYTES */
};

/* SR_EINVAL for a bad namespace name. Returns owned: _free. */
sr_status sr_storage_session_new(const struct sr_storage_config *cfg, sr_storage_session **out,
                                 sr_err *err);
/* Wipes the buffered values and frees. NULL is a no-op. */
void sr_storage_session_free(sr_storage_session *s);

/* Answers one host call (req[0..len) in the wire format) into resp. Guest
 * mistakes are answers (INVALID, LIMIT), not failures; another status means
 * the store or the session failed (the guest then sees an Error). Has the
 * signature of sr_sandbox_host_fn with the session as 'arg'. */
sr_status sr_storage_session_handle(void *session, const uint8_t *req, size_t len, sr_buf *resp,
                                    sr_err *err);

/* Applies the buffered writes atomically. Without writes: nothing is
 * written and *before = *after = the current version. The read set and the
 * listings are validated at a namespace version before the store's write
 * lock is taken; under it the store only checks that the version is still
 * that one. SR_ECONFLICT when a key or listing the job read changed since;
 * SR_ELIMIT when a quota would be exceeded (the message names it; *quota,
 * if not NULL, says which); SR_EIO from the store. Validates again (and
 * re-seals) while other commits only moved the version. */
sr_status sr_storage_session_commit(sr_storage_session *s, uint64_t *before, uint64_t *after,
                                    sr_err *err);
/* Prepares the commit of the buffered writes for a caller that applies it
 * itself, in the same transaction as something else (a job's end:
 * sr_store_job_end). Validates the read set and the listings at the
 * namespace's current version V, as _commit does, and seals the writes for
 * V + 1: *out is the write set to apply only while the namespace is at V
 * (owned by the session, valid until the next _prepare or _free),
 * *before = V, *after = V + 1. Without writes: *out NULL and *before =
 * *after = the current version. SR_ECONFLICT when a key or listing the job
 * read changed; SR_EIO from the store. When the store reports the
 * namespace moved, call again (it validates again and re-seals). */
sr_status sr_storage_session_prepare(sr_storage_session *s, const struct sr_kv_commit **out,
                                     uint64_t *before, uint64_t *after, sr_err *err);
/* After the store refused a prepared write set with SR_ELIMIT (res as it
 * reported): the message naming the quota, usage and limit; returns
 * SR_ELIMIT and remembers which quota (sr_storage_session_quota). */
sr_status sr_storage_session_quota_error(sr_storage_session *s, const struct sr_kv_result *res,
                                         sr_err *err);
/* After a SR_ELIMIT from _commit: which quota. */
enum sr_kv_quota sr_storage_session_quota(const sr_storage_session *s);

/* The first per-job cap a host call was refused for (SR_STORAGE_CAP_NONE if
 * none) and its message (borrowed, valid until _free). */
enum sr_storage_cap sr_storage_session_cap(const sr_storage_session *s, const char **msg);

/* The namespace's current committed version (for a job that commits
 * nothing). */
sr_status sr_storage_session_version(sr_storage_session *s, uint64_t *version, sr_err *err);

/* The session's namespace name (borrowed, valid until _free). */
const char *sr_storage_session_ns(const sr_storage_session *s);

/* ---- outside jobs (HTTP, CLI) ---- */

/* Reads one value of cfg's namespace: owned *value (free()), *version = the
 * namespace version that wrote it. SR_ENOTFOUND when absent. */
sr_status sr_storage_get(const struct sr_storage_config *cfg, const uint8_t *key, size_t key_len,
                         uint8_t **value, size_t *len, uint64_t *version, sr_err *err);
/* Writes (value != NULL) or deletes (value NULL) one key as its own commit;
 * *version = the namespace version after. Deleting an absent key is
 * SR_ENOTFOUND. Quotas as for jobs: SR_ELIMIT, except the owner's
 * namespace count, SR_ECONFLICT (the namespace cannot be created now). */
sr_status sr_storage_put(const struct sr_storage_config *cfg, const uint8_t *key, size_t key_len,
                         const uint8_t *value, size_t len, uint64_t *version, sr_err *err);

/* One key of a listing. */
struct sr_storage_item {
    uint8_t *key; /* owned, key_len bytes */
    size_t key_len;
    uint64_t value_len;
    uint64_t version; /* namespace version that wrote it */
};
struct sr_storage_listing {
    struct sr_kv_ns info; /* the namespace's counters at the listing's version */
    struct sr_storage_item *items;
    size_t n;
    bool more; /* keys past the last one follow */
};
void sr_storage_listing_fini(struct sr_storage_listing *l);
/* Keys of cfg's namespace starting with prefix (0..256 bytes), strictly
 * after 'after' (NULL: from the first), in byte order, at most limit
 * (1..SR_STORAGE_MAX_LIST). SR_EINVAL for bad arguments. Costs one snapshot
 * of the namespace: O(n log n) in its keys (<= SR_STORAGE_HARD_MAX_KEYS). */
sr_status sr_storage_list(const struct sr_storage_config *cfg, const uint8_t *prefix,
                          size_t prefix_len, const uint8_t *after, size_t after_len, size_t limit,
                          struct sr_storage_listing *out, sr_err *err);

/* The owner's namespaces, by name, and totals. */
struct sr_storage_ns_info {
    char name[SR_STORAGE_MAX_NS + 1];
    struct sr_kv_ns counters;
};
struct sr_storage_namespaces {
    struct sr_storage_ns_info *ns; /* owned, sorted by name */
    size_t n;
    struct sr_kv_usage usage;
};
void sr_storage_namespaces_fini(struct sr_storage_namespaces *l);
sr_status sr_storage_namespaces(sr_store *st, const sr_keys *keys, const char *owner,
                                struct sr_storage_namespaces *out, sr_err *err);

/* The data step of store migration 6: seals the keys and namespace names
 * that a store written by an older sealrun holds in clear, in one
 * transaction (sr_store_kv_upgrade). Run once at start, before any job;
 * a no-op afterwards. *moved = entries converted. */
sr_status sr_storage_upgrade(sr_store *st, const sr_keys *keys, uint64_t *moved, sr_err *err);

#endif /* SR_STORAGE_H */
