/* SPDX-License-Identifier: MIT
 *
 * sr_keystore.h - the keystore role (docs/keystore.md): the one process
 * that holds SECRETS_MASTER_KEY. A coordinator started with --keystore asks
 * it for the per-owner sealing keys and for the at-rest blob of a value a
 * client sealed, and stores only that blob; a remote worker asks it for the
 * secrets of the job it holds, and the keystore releases them, sealed to a
 * per-job X25519 key of the worker, only when the coordinator's record
 * says the worker is registered and active, its measurement is on the
 * operator's allowlist, the job is running and leased to it with that
 * fence, and every secret's policy allows the job. Every release and
 * refusal is posted to the coordinator's audit before the keystore answers.
 *
 * The channel: every request between the three roles is signed as a
 * worker's request is (sr_receipt.h: SHA-256 over method, path, query,
 * time and body, signed with the sender's Ed25519 key) and every answer is
 * signed by the answering party over the request's signature and the
 * answer's text (sr_keystore_answer_digest), so an answer cannot be
 * replayed for another request. The coordinator and the keystore pin each
 * other's key (--keystore-key, --coordinator-key); a worker pins the
 * keystore's (--keystore-key) and is known to the keystore through the
 * coordinator's registration of its key.
 *
 * Thread-safety: a sr_keystore serves any number of requests at once (at
 * most SR_KEYSTORE_MAX_INFLIGHT releases). The call functions are
 * thread-safe (one libcurl handle per call).
 */
#ifndef SR_KEYSTORE_H
#define SR_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_secret.h"

typedef struct sr_keystore sr_keystore;

#define SR_KEYSTORE_MAX_BODY (256u * 1024u)  /* bytes of a request the keystore reads */
#define SR_KEYSTORE_MAX_ANSWER (64u * 1024u) /* bytes of a small signed answer */
/* bytes of a release answer (16 values of 64 KiB sealed, in base64) or of
 * the coordinator's release context (16 at-rest blobs and policies) */
#define SR_KEYSTORE_MAX_SECRETS_ANSWER (4u * 1024u * 1024u)
#define SR_KEYSTORE_TIMEOUT_S 10    /* total time of one request between the roles */
#define SR_KEYSTORE_MAX_INFLIGHT 16 /* releases the keystore works on at once (429 beyond) */
#define SR_KEYSTORE_MAX_ALLOW 64    /* --allow-measurement entries */
#define SR_KEYSTORE_MAX_RECORDS 32  /* audit records in one POST /keystore/audit */
#define SR_KEYSTORE_ANSWER_DOMAIN "sealrun.keystore.answer.v1"

/* ---- the signed channel (all three roles) ---- */

/* SHA-256("sealrun.keystore.answer.v1" 0x00 PATH 0x00 REQUEST_SIGNATURE_HEX
 * 0x00 SHA-256(answer text)): what the answering party signs. */
void sr_keystore_answer_digest(const char *path, const char *request_sig_hex, const char *text,
                               size_t len, uint8_t out[32]);

/* The signed envelope of an answer: {"answer": "<text of a>", "signature":
 * hex} with key over sr_keystore_answer_digest. Borrows a. Returns owned
 * (json_decref), NULL when out of memory. */
json_t *sr_keystore_answer_sign(const sr_worker_key *key, const char *path,
                                const char *request_sig_hex, const json_t *a);

/* Checks a signed request: its time within SR_WORKER_CLOCK_SKEW_MS of ours
 * and its signature by pk over (method, path, query, time, body).
 * SR_EDENIED naming what is wrong. */
sr_status sr_keystore_request_verify(const uint8_t pk[SR_ED25519_PK_LEN], const char *method,
                                     const char *path, const char *query, const char *time_text,
                                     const char *sig_hex, const void *body, size_t len,
                                     sr_err *err);

/* One peer to call: its base URL, the key that signs our requests, the
 * pinned key its answers must be signed with. All borrowed. */
struct sr_keystore_peer {
    const char *url; /* http://HOST:PORT or https://..., no trailing path */
    const sr_worker_key *key;
    const uint8_t *pinned; /* 32 bytes */
    const char *name;      /* "keystore" or "coordinator", for messages */
    unsigned timeout_s;    /* 0 = SR_KEYSTORE_TIMEOUT_S */
};

/* The library status an HTTP error status stands for, for the answers
 * of a coordinator or a keystore (400/413 SR_EINVAL, 401 SR_EDENIED, 403
 * SR_EFORBIDDEN, 404 SR_ENOTFOUND, 409 SR_ECONFLICT, 429 SR_EBUSY, else
 * SR_EIO). */
sr_status sr_keystore_http_status(long http);
/* A libcurl write callback appending to the sr_buf 'arg' (borrowed), up to
 * its cap: past it the transfer is aborted. */
size_t sr_keystore_curl_sink(char *p, size_t size, size_t n, void *arg);

/* One signed request (body may be NULL; query "k=v" or NULL); reads the
 * answer up to max_answer bytes (0 = SR_KEYSTORE_MAX_ANSWER) into secure
 * memory, checks its envelope's signature with the pinned key and on SR_OK
 * sets *out to the answer (owned). A refusal keeps the peer's message and
 * the status of its HTTP code (401 SR_EDENIED, 403 SR_EFORBIDDEN, 404
 * SR_ENOTFOUND, 409 SR_ECONFLICT, 429 SR_EBUSY, 400 SR_EINVAL); SR_EIO when
 * it cannot be reached, or its answer is not signed by the pinned key. */
sr_status sr_keystore_call(const struct sr_keystore_peer *p, const char *method, const char *path,
                           const char *query, const char *body, size_t max_answer, json_t **out,
                           sr_err *err);

/* ---- the coordinator's and the worker's side ---- */

/* GET /keystore/pubkey?owner=O: *out_b64 (owned, free()) is the owner's
 * sealing key, base64. */
sr_status sr_keystore_pubkey(const struct sr_keystore_peer *p, const char *owner, char **out_b64,
                             sr_err *err);

/* POST /keystore/seal: the keystore opens sealed_b64 with owner's key,
 * checks the value as PUT /secrets does, and returns the at-rest blob for
 * (owner, name, version) (docs/secrets.md): *blob owned (free()). */
sr_status sr_keystore_seal(const struct sr_keystore_peer *p, const char *owner, const char *name,
                           uint64_t version, const char *sealed_b64, uint8_t **blob,
                           size_t *blob_len, sr_err *err);

/* POST /keystore/generate: the keystore makes a key of 'kind' (docs/secrets.md
 * "Generated keys"; the value as sr_secret_key_generate makes it) and
 * returns its at-rest blob for (owner, name, version) (*blob owned,
 * free()) and its public key in hex (empty for random32). The private key
 * stays in the keystore and in that blob. */
sr_status sr_keystore_generate(const struct sr_keystore_peer *p, const char *owner,
                               const char *name, uint64_t version, const char *kind, uint8_t **blob,
                               size_t *blob_len, char pub_hex[131], sr_err *err);

/* POST /keystore/storage-keys: the subkeys of the secrets master that the
 * store's job storage is encrypted with (SR_LABEL_STORAGE and
 * SR_LABEL_STORAGE_NAMES), sealed to the caller's key; added to keys with
 * sr_keys_add_secrets_subkey(). */
sr_status sr_keystore_storage_keys(const struct sr_keystore_peer *p, sr_keys *keys, sr_err *err);

/* What a worker knows of the job it asks the secrets of (borrowed). */
struct sr_keystore_job {
    const char *id;
    uint64_t fence;
    const char *owner;
    const char *runtime;       /* "js" or "wasm" */
    const char *code_hash_hex; /* as the worker computed it from the code it runs */
    const char *entry_point;   /* NULL = the runtime's default */
    const char *quote_b64;     /* the worker's TDX quote, or NULL */
};

/* POST /keystore/release, signed with the worker key: makes a per-job
 * X25519 key pair, asks for the job's secrets and opens each value with
 * it. On SR_OK *set holds them (caller finis it). A refusal is SR_EDENIED
 * (or SR_EFORBIDDEN) with the keystore's reason; the job then ends
 * SECRET_UNAVAILABLE with it. */
sr_status sr_keystore_release(const struct sr_keystore_peer *p, const struct sr_keystore_job *job,
                              struct sr_secret_set *set, sr_err *err);

/* ---- the keystore's side ---- */

struct sr_keystore_config {
    const sr_keys *keys;           /* with the secrets master; borrowed */
    const sr_worker_key *key;      /* the keystore's identity; borrowed */
    const char *coordinator;       /* the coordinator's URL */
    const uint8_t *coordinator_pk; /* 32 bytes, pinned */
    const char *const *allow;      /* hex measurements (64 lower-case hex each) */
    size_t nallow;                 /* 0: nothing is released */
    unsigned timeout_s;            /* 0 = SR_KEYSTORE_TIMEOUT_S */
};

/* Copies the strings and keys' pointers (borrowed: they outlive it).
 * SR_EINVAL for a bad URL or measurement, naming it. Returns owned. */
sr_status sr_keystore_new(const struct sr_keystore_config *cfg, sr_keystore **out, sr_err *err);
void sr_keystore_free(sr_keystore *ks);

/* A request to the keystore as its listener got it (all borrowed). */
struct sr_keystore_request {
    const char *method, *path, *query; /* query: the decoded "k=v&..." text as signed */
    const char *owner;                 /* ?owner= of GET /keystore/pubkey, or NULL */
    const char *time_text, *signature; /* X-Sealrun-Time, X-Sealrun-Signature */
    const char *body;
    size_t body_len;
};

/* Serves one request: authenticates it (the coordinator's pinned key, or
 * for a release the worker key it names) and answers. On SR_OK *out is the
 * signed envelope (owned). Otherwise err says why, with the status the
 * answer's HTTP code comes from (SR_ENOTFOUND: no such route). */
sr_status sr_keystore_handle(sr_keystore *ks, const struct sr_keystore_request *req, json_t **out,
                             sr_err *err);

#endif /* SR_KEYSTORE_H */
