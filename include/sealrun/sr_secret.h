/* SPDX-License-Identifier: MIT
 *
 * sr_secret.h - per-owner named secrets: names and references, client-side
 * sealing to a per-owner X25519 key, encryption at rest, the access policy
 * language, and resolution of a job's references into the values it may see.
 *
 * docs/secrets.md is the reader's copy of every format here (sealed box,
 * at-rest blob and AAD, policy JSON, audit record); keep them in sync.
 *
 * Values live only in sodium_malloc'd memory (struct sr_secret_value) and
 * are wiped when freed; no function here puts a value, a key or a sealed
 * box in an error message or a log line. Everything is thread-safe except
 * that one caller-owned struct belongs to one thread; a compiled
 * sr_secret_policy may be evaluated by many threads at once.
 * sr_crypto_init() must have run before any function here is called.
 */
#ifndef SR_SECRET_H
#define SR_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_limits.h"

/* --- caps and constants (reasons in the comments) --- */

/* Secret names: [A-Za-z0-9_]{1,128}; they become env names and JS keys. */
#define SR_SECRET_NAME_MAX 128
/* Values: 1 byte to 64 KiB of UTF-8 text without NUL (it must fit both a
 * JS string and a WASI environment variable). Binary: base64 it first. */
#define SR_SECRET_VALUE_MAX (64u * 1024u)
/* Names with this prefix (any case) are refused: the service injects
 * SEALRUN_JOB_ID and SEALRUN_USER itself. */
#define SR_SECRET_RESERVED_PREFIX "SEALRUN_"
/* Longest reference text: "secrets:" + owner + "/" + name. */
#define SR_SECRET_REF_MAX (8 + SR_MAX_USER_NAME + 1 + SR_SECRET_NAME_MAX)
/* Longest base64 sealed box we decode: 48 bytes of overhead + the largest
 * value, padded base64 (4 characters per 3 bytes). */
#define SR_SECRET_SEALED_MAX (((SR_SECRET_VALUE_MAX + 48u + 2u) / 3u) * 4u)
/* At-rest blob: 24-byte nonce || ciphertext || 16-byte tag. */
#define SR_SECRET_NONCE_LEN 24
#define SR_SECRET_BLOB_OVERHEAD 40
/* Policy JSON text, condition nesting and sizes (a policy is evaluated for
 * every job that references the secret, so it stays small). */
#define SR_SECRET_POLICY_MAX_TEXT (32u * 1024u)
#define SR_SECRET_POLICY_MAX_DEPTH 16
#define SR_SECRET_POLICY_MAX_NODES 128
#define SR_SECRET_POLICY_MAX_USERS 128 /* names across all Users nodes */
#define SR_SECRET_POLICY_MAX_HASHES 64
#define SR_SECRET_POLICY_MAX_ENTRY_POINTS 16
/* UserPattern source length: bounds regcomp/regexec work per job. */
#define SR_SECRET_PATTERN_MAX 256

/* Subkey label (of the secrets master) for the per-owner sealing keys. */
#define SR_LABEL_SECRETS_SEAL "sealrun/secrets-seal/v1"
/* Domain string at the start of the at-rest AAD. */
#define SR_SECRET_AAD_DOMAIN "sealrun.secret.v1"

/* --- values --- */

/* A secret value: 'len' bytes at 'data' in sodium_malloc'd memory, followed
 * by a NUL (not counted). The caller owns the struct (zero it, or let a
 * function fill it); sr_secret_value_fini() wipes and frees. */
struct sr_secret_value {
    uint8_t *data;
    size_t len;
};

/* Wipes and frees the value; the struct is zeroed. NULL and a zeroed struct
 * are no-ops. */
void sr_secret_value_fini(struct sr_secret_value *v);

/* Copies p[0..len) into new protected memory after sr_secret_value_check().
 * On SR_OK *out is filled (caller finis it); on error *out is untouched. */
sr_status sr_secret_value_set(const void *p, size_t len, struct sr_secret_value *out, sr_err *err);

/* --- names and references --- */

/* SR_OK when name[0..len) is [A-Za-z0-9_]{1,128} without the reserved
 * prefix; else SR_EINVAL saying which rule failed (quoting at most 64
 * bytes of the name, escaped). */
sr_status sr_secret_name_check(const char *name, size_t len, sr_err *err);

/* SR_OK when owner is a user name: [A-Za-z0-9_.@-]{1,SR_MAX_USER_NAME}. */
sr_status sr_secret_owner_check(const char *owner, size_t len, sr_err *err);

/* SR_OK when p[0..len) is a storable value: 1..SR_SECRET_VALUE_MAX bytes of
 * valid UTF-8 without NUL; SR_EINVAL/SR_ELIMIT otherwise. The message gives
 * the length or the byte offset of bad UTF-8, never content. */
sr_status sr_secret_value_check(const void *p, size_t len, sr_err *err);

/* --- generated keys (docs/secrets.md "Generated keys"; secret_key.c) --- */

/* A generated key's value: SR_SECRET_KEY_PREFIX "<kind>:<64 hex>". */
#define SR_SECRET_KEY_PREFIX "sealrun.key.v1:"
#define SR_SECRET_KEY_TEXT_MAX 96 /* characters of such a value */
enum { SR_KEY_ED25519 = 0, SR_KEY_SECP256K1 = 1, SR_KEY_X25519 = 2, SR_KEY_RANDOM32 = 3 };

/* SR_KEY_* of a kind's name (s[0..len)), or -1. */
int sr_secret_key_kind(const char *s, size_t len);
/* The name of SR_KEY_* kind ("unknown" for another number); static. */
const char *sr_secret_key_kind_name(int kind);
/* True if a value is a generated key (begins with SR_SECRET_KEY_PREFIX). */
bool sr_secret_is_key_value(const uint8_t *p, size_t len);
/* The public key of private key sk of a kind: *pub_len bytes (32 for
 * ed25519 and x25519, 33 compressed for secp256k1, 0 for random32).
 * SR_EINVAL for a secp256k1 scalar out of range. */
sr_status sr_secret_key_public(int kind, const uint8_t sk[32], uint8_t pub[65], size_t *pub_len,
                               sr_err *err);
/* Makes a new private key of the named kind ("ed25519", "secp256k1",
 * "x25519", "random32") and its value text in *out (protected memory;
 * caller finis it); pub/pub_len as sr_secret_key_public. SR_EINVAL naming
 * the kinds for another name. */
sr_status sr_secret_key_generate(const char *kind, struct sr_secret_value *out, uint8_t pub[65],
                                 size_t *pub_len, sr_err *err);

/* One parsed reference. */
struct sr_secret_ref {
    char owner[SR_MAX_USER_NAME + 1]; /* owner of the secret (the caller for bare names) */
    char name[SR_SECRET_NAME_MAX + 1];
    bool is_cross_owner; /* owner differs from the caller */
};

/* The references of one job, in request order, no two naming the same
 * secret or the same injected key (the bare name). Caller-owned. */
struct sr_secret_refs {
    size_t n;
    struct sr_secret_ref ref[SR_MAX_SECRET_REFS];
};

/* Parses one reference: "NAME", "OWNER/NAME" or the legacy "secrets:NAME"
 * ("secrets:OWNER/NAME" too). 'caller' (borrowed) is the user running the
 * job; "caller/NAME" is the same as "NAME". SR_EINVAL names the reference
 * and the problem. */
sr_status sr_secret_ref_parse(const char *text, size_t len, const char *caller,
                              struct sr_secret_ref *out, sr_err *err);

/* Empties refs. */
void sr_secret_refs_init(struct sr_secret_refs *refs);

/* Parses 'text' and appends it. SR_ELIMIT beyond SR_MAX_SECRET_REFS;
 * SR_EINVAL for a bad reference, a second reference to the same secret, or
 * two references that would be injected under the same name (bare name). */
sr_status sr_secret_refs_add(struct sr_secret_refs *refs, const char *text, size_t len,
                             const char *caller, sr_err *err);

/* Parses the request's "secret_refs": NULL or JSON null mean none, else an
 * array of strings, each as sr_secret_refs_add(). Borrows 'arr'. *out is
 * written only on SR_OK. */
sr_status sr_secret_refs_parse(const json_t *arr, const char *caller, struct sr_secret_refs *out,
                               sr_err *err);

/* Writes how a reference is shown in messages: "NAME" for the caller's own
 * secret, "OWNER/NAME" otherwise (NUL-terminated, out has room). */
void sr_secret_ref_str(const struct sr_secret_ref *ref, char out[SR_SECRET_REF_MAX + 1]);

/* --- client-side sealing (crypto_box_seal to a per-owner key) --- */

/* The X25519 public key that clients seal values to for 'owner':
 *   seal_key = sr_keys_derive_secrets(keys, SR_LABEL_SECRETS_SEAL)
 *   sk       = BLAKE2b-256(key = seal_key, message = owner bytes, no NUL)
 *   pk       = X25519(sk, base point)   (crypto_scalarmult_base, clamped)
 * Borrows keys. SR_EINVAL for a bad owner name. */
sr_status sr_secret_owner_pk(const sr_keys *keys, const char *owner, uint8_t pk[SR_BOX_PK_LEN],
                             sr_err *err);

/* Same as base64 text (44 characters, padded): the body of GET
 * /secrets/pubkey. Returns owned text in *out (free()). */
sr_status sr_secret_owner_pk_b64(const sr_keys *keys, const char *owner, char **out, sr_err *err);

/* Client side (CLI): checks the value (sr_secret_value_check) and seals it
 * to pk. Returns owned base64 in *out (free()). */
sr_status sr_secret_seal(const uint8_t pk[SR_BOX_PK_LEN], const void *value, size_t len, char **out,
                         sr_err *err);

/* Server side: opens a base64 sealed box b64[0..b64_len) with owner's key
 * pair and checks the value. SR_EINVAL for bad base64 or a bad value;
 * SR_EDENIED "authentication failed: ..." when the box does not open, which
 * is the case for a box sealed to another owner's key (the message says so,
 * and nothing more). On SR_OK *out holds the value (caller finis it). The
 * derived secret key is wiped before return. */
sr_status sr_secret_unseal(const sr_keys *keys, const char *owner, const char *b64, size_t b64_len,
                           struct sr_secret_value *out, sr_err *err);

/* --- encryption at rest (XChaCha20-Poly1305-IETF) --- */

/* Encrypts value[0..len) for storage under the SR_LABEL_SECRETS_AT_REST
 * subkey with a random 24-byte nonce and
 *   AAD = "sealrun.secret.v1" 0x00 owner 0x00 name 0x00 version-as-decimal
 * Returns owned blob (nonce || ciphertext || tag, len + 40 bytes) in *out
 * (free(); it holds no clear text) and its length in *out_len. Checks the
 * owner, name, value and that version >= 1 (SR_EINVAL). */
sr_status sr_secret_encrypt(const sr_keys *keys, const char *owner, const char *name,
                            uint64_t version, const void *value, size_t len, uint8_t **out,
                            size_t *out_len, sr_err *err);

/* Decrypts a blob made by sr_secret_encrypt() for the same owner, name and
 * version. SR_EDENIED "authentication failed" for a short, altered or
 * misattributed blob. On SR_OK *out holds the value (caller finis it). */
sr_status sr_secret_decrypt(const sr_keys *keys, const char *owner, const char *name,
                            uint64_t version, const uint8_t *blob, size_t blob_len,
                            struct sr_secret_value *out, sr_err *err);

/* --- policy --- */

typedef struct sr_secret_policy sr_secret_policy;

/* Parses and validates policy JSON text[0..len) (docs/secrets.md):
 *   {"runtimes": ["js","wasm"] | null,
 *    "code_hashes": ["<64 hex>", ...] | null,
 *    "entry_points": ["main", ...] | null,
 *    "condition": <tree> | null,
 *    "expires_at": "RFC 3339" | null,
 *    "http_hosts": ["host[:port]", "*.domain[:port]", ...] | null}
 * Every field is optional; null or absent means the default: any runtime,
 * any code, the owner only, no expiry. text NULL or len 0 is the default
 * policy. Trees: {"AllowAll":{}}, {"Users":[names]}, {"UserPattern":"ERE"}
 * (POSIX extended, must match the whole user name), {"And":[trees]},
 * {"Or":[trees]}, {"Not":tree}; at most SR_SECRET_POLICY_MAX_DEPTH deep and
 * SR_SECRET_POLICY_MAX_NODES nodes. SR_EINVAL names the field and problem
 * (an invalid expression gives the regcomp message); SR_ELIMIT for caps.
 * Returns owned: sr_secret_policy_free(). */
sr_status sr_secret_policy_parse(const char *text, size_t len, sr_secret_policy **out, sr_err *err);

/* Same from a parsed JSON value (borrowed). NULL or JSON null: default. */
sr_status sr_secret_policy_from_json(const json_t *v, sr_secret_policy **out, sr_err *err);

/* Frees the policy. NULL is a no-op. */
void sr_secret_policy_free(sr_secret_policy *p);

/* The policy as a JSON object with all five members (null where default),
 * runtimes, code_hashes and entry_points sorted, deduplicated (hashes
 * lower-case), Users lists
 * sorted and deduplicated, expires_at as UTC with milliseconds. Parsing the
 * result gives the same policy. Returns owned (json_decref). */
sr_status sr_secret_policy_to_json(const sr_secret_policy *p, json_t **out, sr_err *err);

/* Appends the RFC 8785 canonical text of sr_secret_policy_to_json() to b:
 * what the store keeps and GET /secrets shows. */
sr_status sr_secret_policy_canonical(const sr_secret_policy *p, sr_buf *b, sr_err *err);

/* What a job asks for. All strings borrowed. */
struct sr_secret_access {
    const char *owner;  /* owner of the secret */
    const char *caller; /* user the job runs as */
    enum sr_runtime runtime;
    const char *code_hash_hex; /* SHA-256 of the script or module bytes, hex */
    const char *entry_point;   /* function the job calls; NULL = the runtime's default */
    int64_t now_ms;            /* Unix ms */
};

enum sr_secret_outcome {
    SR_SECRET_ALLOWED = 0,
    SR_SECRET_MISSING, /* no such secret */
    SR_SECRET_EXPIRED, /* expires_at has passed */
    SR_SECRET_DENIED,  /* user, runtime or code not allowed */
    SR_SECRET_ERROR,   /* stored row unusable (bad policy, failed authentication) */
};

/* "allowed", "missing", "expired", "denied", "error"; never NULL. */
const char *sr_secret_outcome_name(enum sr_secret_outcome o);

/* Evaluates p for acc. Checks, in order: the condition (user), expiry,
 * runtime, code hash, entry point; the first that fails decides. Code
 * identity is the code and its entry point: with 'entry_points' only those
 * may be called; a policy with 'code_hashes' but no 'entry_points' allows
 * only the runtime's default entry point ("main" for JS, "_start" for
 * WASI). SR_SECRET_ALLOWED
 * leaves err untouched; otherwise err gets SR_EDENIED and the reason, e.g.
 * "user 'bob' is not allowed by the condition", "expired at
 * 2026-01-01T00:00:00.000Z", "runtime 'wasm' is not allowed (allowed: js)",
 * "code hash '<hex>' is not in the allowed list". Never mentions a value. */
enum sr_secret_outcome sr_secret_policy_eval(const sr_secret_policy *p,
                                             const struct sr_secret_access *acc, sr_err *err);

/* The policy's http_hosts (docs/http.md): the hosts the value may be sent
 * to in a job's HTTP request, by placeholder or by value. Writes up to cap
 * borrowed patterns (valid while p lives) to out and returns how many
 * there are; 0: no restriction beyond the job's own allow list. */
size_t sr_secret_policy_http_hosts(const sr_secret_policy *p, const char **out, size_t cap);

/* true when the policy pins code (code_hashes or entry_points): a process
 * that received such a secret must not serve a later job. */
bool sr_secret_policy_binds_code(const sr_secret_policy *p);

/* --- resolution of a job's references --- */

/* A stored secret as the lookup callback returns it. */
struct sr_secret_row {
    uint8_t *blob; /* malloc'd at-rest blob; the resolver takes it */
    size_t blob_len;
    uint64_t version;  /* >= 1 */
    char *policy_json; /* malloc'd canonical policy, or NULL (default); taken */
};

/* Looks up (owner, name) and fills *row: SR_OK; SR_ENOTFOUND when there is
 * no such secret (row untouched); any other status is a store failure (err
 * set) that stops the resolution. Called at most once per reference. */
typedef sr_status (*sr_secret_lookup_fn)(void *ctx, const char *owner, const char *name,
                                         struct sr_secret_row *row, sr_err *err);

/* One audit record; all pointers borrowed for the duration of the call. */
struct sr_secret_audit {
    const char *job_id;
    const char *owner; /* owner of the secret */
    const char *name;  /* secret name */
    const char *user;  /* caller of the job */
    uint64_t version;  /* 0 when missing */
    enum sr_secret_outcome outcome;
    const char *reason; /* "" when allowed, else why (full, never a value) */
    int64_t time_ms;
    const char *code_hash_hex; /* the job's code identity: code hash ... */
    const char *entry_point;   /* ... and entry point (NULL = the runtime's default) */
};

/* Records one use or denial; a status other than SR_OK (err set) fails the
 * resolution: a use that cannot be audited does not happen. SR_ELIMIT on a
 * denial is the audit's rate limit: the reference is refused as any denial
 * (SR_EDENIED, the callback's message as the reason) with nothing recorded. */
typedef sr_status (*sr_secret_audit_fn)(void *ctx, const struct sr_secret_audit *rec, sr_err *err);

struct sr_secret_request {
    const char *job_id; /* borrowed */
    const char *caller; /* borrowed */
    enum sr_runtime runtime;
    const char *code_hash_hex; /* hex SHA-256 of the script or module */
    const char *entry_point;   /* function the job calls; NULL = the runtime's default */
    int64_t now_ms;            /* 0 = sr_now_ms() */
    sr_secret_lookup_fn lookup;
    void *lookup_ctx;
    sr_secret_audit_fn audit; /* required */
    void *audit_ctx;
};

/* One secret to inject. */
struct sr_secret_entry {
    char key[SR_SECRET_NAME_MAX + 1]; /* JS secrets key and WASM env name: the bare name */
    char owner[SR_MAX_USER_NAME + 1];
    char name[SR_SECRET_NAME_MAX + 1];
    uint64_t version;
    bool binds_code; /* its policy pins code or entry points */
    struct sr_secret_value value;
    char **http_hosts; /* owned copies of its policy's http_hosts (sr_secret_set_fini) */
    size_t n_http_hosts;
};

/* An entry as it travels to a worker, its value sealed elsewhere:
 * {"key", "owner", "name", "version", "binds_code", "sealed_value": sealed_b64,
 * "hosts"}. Owned (json_decref); NULL when out of memory. */
json_t *sr_secret_entry_to_json(const struct sr_secret_entry *e, const char *sealed_b64);
/* The same read back into *e (its value left empty: the caller opens
 * *sealed_b64, borrowed from s, and sets it), at most max_hosts hosts;
 * 'bad' (e.g. SR_EINVAL, or SR_EIO from a peer that must know better) with
 * a message naming 'what' when a member is missing or too long. */
sr_status sr_secret_entry_from_json(const json_t *s, size_t max_hosts, const char *what,
                                    sr_status bad, struct sr_secret_entry *e,
                                    const char **sealed_b64, sr_err *err);

/* The secrets of one job, in reference order. Caller-owned; fini wipes. */
struct sr_secret_set {
    size_t n;
    struct sr_secret_entry entry[SR_MAX_SECRET_REFS];
};

/* Wipes and frees every value and empties the set. NULL is a no-op. */
void sr_secret_set_fini(struct sr_secret_set *set);

/* Resolves every reference for req: looks it up, evaluates its policy,
 * and, once all are allowed, decrypts each value and audits each use.
 * Returns:
 *  - SR_OK: *out holds one entry per reference (caller finis it);
 *  - SR_EDENIED: the job fails with SR_JOB_SECRET_UNAVAILABLE and err->msg
 *    as its message, "secret 'NAME' is unavailable: <reason>"; the first
 *    failing reference decides and its denial is audited. For another
 *    owner's secret that is missing or does not allow the caller, the
 *    reason is "not found or not shared with 'CALLER'" (no probing of other
 *    owners' names); the audit record keeps the full reason;
 *  - SR_EINVAL for a malformed request (no caller, callbacks, ...);
 *  - any other status: lookup or audit failed (err says which).
 * *out is written only on SR_OK. Borrows keys, refs and req. */
sr_status sr_secret_resolve(const sr_keys *keys, const struct sr_secret_refs *refs,
                            const struct sr_secret_request *req, struct sr_secret_set *out,
                            sr_err *err);

#endif /* SR_SECRET_H */
