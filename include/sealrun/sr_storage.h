/*
 * sr_storage.h - persistent key-value storage for jobs (docs/storage.md):
 * names and limits, the at-rest value codec, the host-call wire format
 * between a job process and its supervisor, and the per-job session the
 * supervisor keeps (read set, write buffer, commit).
 *
 * The job process never touches the store: it encodes a request
 * (sr_storage_wire_request) and sends it with sr_sandbox_hostcall(); the
 * supervisor answers it with sr_storage_session_handle(). When the job
 * completes, sr_storage_session_commit() applies its buffered writes in one
 * transaction, or fails with SR_ECONFLICT (a key the job read changed) or
 * SR_ELIMIT (quota). A session is used by one thread at a time; the codec
 * functions are thread-safe.
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
#define SR_STORAGE_MAX_JOB_BYTES (20u * 1024u * 1024u) /* writes one job may buffer */
#define SR_STORAGE_MAX_LIST 1000                       /* keys per list call */
#define SR_STORAGE_DEFAULT_LIST 100
/* At-rest blob: nonce, then the sealed flag byte and (maybe compressed) value. */
#define SR_STORAGE_BLOB_OVERHEAD (24u + 1u + 16u)

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

/* ---- the host-call wire format (docs/storage.md "Host calls") ----
 * Request:  op (1 byte) | key_len (u16 LE) | key | payload
 *   'G' get, 'H' has, 'D' delete: no payload; 'S' set: the value bytes;
 *   'L' list: key is the prefix (0..256 bytes), payload = limit (u32 LE) |
 *       after_len (u16 LE) | after (0 = from the start).
 * Answer:   code (1 byte) | payload
 *   SR_STORAGE_WIRE_OK: get: the value; has: 1 byte 0/1; set, delete: none;
 *       list: count (u32 LE) | more (1 byte) | count x (key_len u16 LE | key)
 *   SR_STORAGE_WIRE_NOTFOUND: get of an absent key
 *   SR_STORAGE_WIRE_INVALID / _LIMIT: a message (UTF-8) for the guest */
enum sr_storage_wire_code {
    SR_STORAGE_WIRE_OK = 0,
    SR_STORAGE_WIRE_NOTFOUND = 1,
    SR_STORAGE_WIRE_INVALID = 2, /* bad key, value or argument: a TypeError */
    SR_STORAGE_WIRE_LIMIT = 3,   /* too large, buffer full: a RangeError */
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
    sr_store *store;     /* borrowed; must outlive the session */
    const sr_keys *keys; /* borrowed */
    const char *owner;   /* copied */
    const char *ns;      /* copied; NULL = SR_STORAGE_DEFAULT_NS */
    uint64_t max_keys;   /* quota; 0 = SR_STORAGE_DEFAULT_MAX_KEYS */
    uint64_t max_bytes;  /* quota; 0 = SR_STORAGE_DEFAULT_MAX_BYTES */
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
 * written and *before = *after = the current version. SR_ECONFLICT when a
 * key or listing the job read changed since; SR_ELIMIT when the quota would
 * be exceeded; SR_EIO from the store. Retries (re-sealing) while other
 * commits only moved the version. */
sr_status sr_storage_session_commit(sr_storage_session *s, uint64_t *before, uint64_t *after,
                                    sr_err *err);

/* The namespace's current committed version (for a job that commits
 * nothing). */
sr_status sr_storage_session_version(sr_storage_session *s, uint64_t *version, sr_err *err);

/* The session's namespace name (borrowed, valid until _free). */
const char *sr_storage_session_ns(const sr_storage_session *s);

/* ---- outside jobs (HTTP, CLI) ---- */

/* Reads one value: owned *value (free()), *version = the namespace version
 * that wrote it. SR_ENOTFOUND when absent. */
sr_status sr_storage_get(sr_store *st, const sr_keys *keys, const char *owner, const char *ns,
                         const uint8_t *key, size_t key_len, uint8_t **value, size_t *len,
                         uint64_t *version, sr_err *err);
/* Writes (value != NULL) or deletes (value NULL) one key as its own commit;
 * *version = the namespace version after. Deleting an absent key is
 * SR_ENOTFOUND. Quotas as for jobs (SR_ELIMIT). */
sr_status sr_storage_put(sr_store *st, const sr_keys *keys, const char *owner, const char *ns,
                         const uint8_t *key, size_t key_len, const uint8_t *value, size_t len,
                         uint64_t max_keys, uint64_t max_bytes, uint64_t *version, sr_err *err);

#endif /* SR_STORAGE_H */
