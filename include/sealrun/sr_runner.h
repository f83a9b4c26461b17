/* SPDX-License-Identifier: MIT
 *
 * sr_runner.h - the job process's side of a job: the typed messages that
 * cross the process boundary (a job spec or a module check out, an answer
 * back), their binary codec, and the sandbox callbacks that serve them
 * inside a job process (the job loop, the JavaScript and WebAssembly runs,
 * the storage host-call bindings, the compiled-module cache).
 *
 * The codec (docs/internals/runner.md): a message is a kind byte and then
 * sections, each a tag byte, a u32 little-endian length and that many
 * bytes. Every length is checked against the section's named cap before
 * the section is used; unknown tags, repeated singular sections and short
 * input are refused. Decoding makes no copy: the decoded struct holds
 * views into the message, valid while the message bytes are. The job
 * process is untrusted (guest code runs there): the supervisor decodes its
 * answer with sr_job_answer_decode and nothing else.
 *
 * Thread-safety: the codec functions are pure. The sandbox callbacks run in
 * a job process, one job at a time.
 */
#ifndef SR_RUNNER_H
#define SR_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_err.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_sandbox.h"
#include "sealrun/sr_wasm.h"

enum sr_output_format {
    SR_OUTPUT_JSON = 0, /* stdout parsed as JSON (WASM); the returned value (JS) */
    SR_OUTPUT_TEXT,     /* WASM: stdout as a JSON string (UTF-8) */
    SR_OUTPUT_BASE64,   /* WASM: stdout as a base64 string */
};

/* A borrowed run of bytes. */
struct sr_bytes {
    const uint8_t *p;
    size_t len;
};

/* Caps of the sections a supervisor sends (beyond sr_limits.h). */
#define SR_RUNNER_MAX_ENV_STRING (128u + 1u + SR_MAX_WASI_STRING) /* "NAME=value" */
#define SR_RUNNER_MAX_SECRET_NAME 128u
#define SR_RUNNER_MAX_SECRET_VALUE (64u * 1024u)
/* The answer: output, logs and a message with their truncation marks. */
#define SR_RUNNER_MAX_LOG_BYTES (SR_MAX_LOG_ENTRY + 128u)
#define SR_RUNNER_MAX_MESSAGE (SR_MAX_ERROR_MSG + 256u)
/* Output JSON as the guest produced it: canonical form is checked against
 * SR_MAX_OUTPUT by the supervisor; the raw text may be padded by escapes. */
#define SR_RUNNER_MAX_OUTPUT_TEXT (2u * SR_MAX_OUTPUT)
#define SR_RUNNER_MAX_ANSWER                                                                       \
    (SR_RUNNER_MAX_OUTPUT_TEXT + SR_MAX_LOG_ENTRIES * (SR_RUNNER_MAX_LOG_BYTES + 5u) +             \
     SR_RUNNER_MAX_MESSAGE + 4096u)
/* A module check answers at most this many imports and exports each (and
 * their counts): the description of a module stays small whatever it holds. */
#define SR_RUNNER_MAX_DESCRIBED 1024u
#define SR_RUNNER_MAX_NAME 1024u /* bytes of an import or export name shown */

/* ---- the job spec (supervisor -> job process) ---- */

/* A WASM request's "tier" (docs/wasm.md, "Two tiers"). */
enum sr_tier {
    SR_TIER_AUTO = 0, /* the interpreter, native code once the module is compiled */
    SR_TIER_INTERP,
    SR_TIER_NATIVE,
};

/* What the job process does about native code, as the supervisor decided. */
enum sr_spec_native {
    SR_SPEC_INTERP = 0,   /* the interpreter */
    SR_SPEC_NATIVE,       /* native code, asked for by host call 'N' 'G' (compiled now if need
                           * be); a failure fails the job with MODULE_ERROR */
    SR_SPEC_NATIVE_READY, /* native code if the supervisor has it compiled ('N' 'L'), else
                           * the interpreter */
    SR_SPEC_OFFER,        /* the interpreter, after offering the module for compilation in
                           * the background ('N' 'Q') */
};

struct sr_job_secret {
    struct sr_bytes name;  /* JS secrets key and WASM environment name */
    struct sr_bytes value; /* the value: the message holding it must be wiped */
};

struct sr_job_spec {
    enum sr_runtime runtime;
    uint8_t code_hash[32]; /* SHA-256 of the script or module, computed once */
    struct sr_bytes code;  /* script (JS); module bytes (WASM) or empty: the runner
                              takes the module from its cache or asks for it */
    struct sr_bytes entry; /* JS function name; empty = "main" */
    struct sr_bytes input; /* JS: canonical JSON text; WASM: the bytes of stdin */
    enum sr_output_format output_format;
    uint64_t budget;                 /* JS: CPU microseconds (0 = none); WASM: fuel */
    bool budget_is_timeout;          /* JS: a spent budget is reported as TIMEOUT */
    uint64_t memory_bytes;           /* JS: RSS cap; WASM: linear memory cap */
    bool storage;                    /* storage host calls are answered */
    char job_id[33];                 /* SEALRUN_JOB_ID */
    char user[SR_MAX_USER_NAME + 1]; /* SEALRUN_USER */
    size_t nargs;                    /* WASM argv[1..] */
    struct sr_bytes args[SR_MAX_WASI_ARGS];
    size_t nenv; /* WASM "NAME=value" from the request */
    struct sr_bytes env[SR_MAX_WASI_ENV];
    size_t nsecrets;
    struct sr_job_secret secrets[SR_MAX_SECRET_REFS];
    /* A recorded job (docs/http.md "Record and replay"): every random draw
     * comes from record_seed (sr_random_replayable) and every clock read is
     * a host call SR_RUNNER_HOSTCALL_TIME, so a replay can answer it; the
     * process is discarded after the job. */
    bool record;
    uint8_t record_seed[32];
    enum sr_spec_native native; /* WASM: which tier, see above */
};

/* Appends the encoded spec to 'out' in one allocation (no copy of the
 * secrets is left behind by growth); the caller wipes 'out' after use
 * (sr_buf_fini_secure). SR_ELIMIT names a section over its cap. */
sr_status sr_job_spec_encode(const struct sr_job_spec *spec, sr_buf *out, sr_err *err);

/* Decodes a spec (p[0] is the kind byte 'R'); *out views p. SR_EINVAL
 * names the malformed section. */
sr_status sr_job_spec_decode(const uint8_t *p, size_t len, struct sr_job_spec *out, sr_err *err);

/* ---- the module check (supervisor -> job process) ---- */

/* Appends a check request for module[0..len) (len <= SR_MAX_MODULE). */
sr_status sr_module_check_encode(const uint8_t *module, size_t len, sr_buf *out, sr_err *err);

/* ---- the answer (job process -> supervisor) ---- */

enum sr_extern_kind {
    SR_EXTERN_FUNC = 0,
    SR_EXTERN_TABLE,
    SR_EXTERN_MEMORY,
    SR_EXTERN_GLOBAL,
};

struct sr_extern_view {
    enum sr_extern_kind kind;
    struct sr_bytes module; /* imports only */
    struct sr_bytes name;   /* at most SR_RUNNER_MAX_NAME bytes */
};

struct sr_job_answer {
    enum sr_job_code code;  /* SR_JOB_OK: completed */
    bool module_invalid;    /* MODULE_ERROR because the bytes are not a valid module */
    bool native;            /* WASM: the native tier ran it (else the interpreter) */
    struct sr_bytes output; /* completed: the output as JSON text (unverified) */
    struct sr_bytes message;
    uint64_t gas_used;
    size_t nlogs;
    struct sr_bytes logs[SR_MAX_LOG_ENTRIES];
    /* module checks: counts, then the first SR_RUNNER_MAX_DESCRIBED of each */
    uint64_t import_count, export_count;
    size_t nimports, nexports;
    struct sr_extern_view imports[SR_RUNNER_MAX_DESCRIBED];
    struct sr_extern_view exports[SR_RUNNER_MAX_DESCRIBED];
};

/* Decodes an answer with every cap checked (the job process is untrusted):
 * SR_EINVAL names what broke the format. *out views p and is large: keep
 * it off small stacks (calloc it). */
sr_status sr_job_answer_decode(const uint8_t *p, size_t len, struct sr_job_answer *out,
                               sr_err *err);

/* Appends an answer (the runner's side; tests). */
sr_status sr_job_answer_encode(const struct sr_job_answer *a, sr_buf *out, sr_err *err);

/* ---- host calls from the runner ---- */

/* The first byte of a host call that is not a storage call: 'M' + 32-byte
 * SHA-256 asks the supervisor for the module bytes of a WASM job whose spec
 * came without them. The answer is the bytes. */
#define SR_RUNNER_HOSTCALL_MODULE 'M'
/* 'V' + seed (at most SR_VRF_MAX_SEED bytes) asks for the VRF of the job's
 * seed (crypto.vrf, sealrun.vrf). The answer is proof (80 bytes) ||
 * output (64) || the worker's VRF public key (32). */
#define SR_RUNNER_HOSTCALL_VRF 'V'
#define SR_VRF_MAX_CALLS 8 /* per job */
/* 'K' | op | name_len (1 byte) | name | data: a use of one of the job's
 * generated keys (docs/secrets.md "Generated keys"), which stay in the
 * supervisor. op 'E' Ed25519 signature of data (answer 64 bytes), 'S'
 * secp256k1 ECDSA of a 32-byte hash (r || s || recovery id, 65), 'B'
 * BIP-340 signature of data (64), 'X' X25519 with a peer's public key (32),
 * 'H' HMAC-SHA-256 of data with a random32 key (32). */
#define SR_RUNNER_HOSTCALL_KEY 'K'
/* 'T' + clock id (1 byte: 0 realtime, 1 monotonic): a recorded job's clock
 * read. The answer is the time in ns since the epoch (realtime) or since
 * an arbitrary start (monotonic), u64 little-endian. */
#define SR_RUNNER_HOSTCALL_TIME 'T'

/* 'N' | op | module: the native tier. The module is the job's, rewritten by
 * the job process with sr_wasm_fuel_instrument_ex(mod, 0,
 * SR_WASM_FUEL_NATIVE), at most SR_MAX_MODULE bytes. op 'G': the compiled
 * object, compiled now if the cache has none; 'L': the object only if the
 * cache has it (SR_ENOTFOUND otherwise, and the module is queued for
 * compiling); 'Q': queue it for compiling in the background (empty answer).
 * The object comes as a sealed memfd with the (empty) answer
 * (sr_sandbox_hostcall_fd). */
#define SR_RUNNER_HOSTCALL_NATIVE 'N'
#define SR_RUNNER_NATIVE_GET 'G'
#define SR_RUNNER_NATIVE_LOOKUP 'L'
#define SR_RUNNER_NATIVE_QUEUE 'Q'

/* The runtime glue compiled next to every module of the native tier: WASI
 * and the host functions a job process gives a WASM job (only their names
 * and signatures). On SR_OK release *out with sr_wasm_native_glue_fini().
 * SR_ENOMEM. */
sr_status sr_runner_native_glue(struct sr_wasm_native_glue *out, sr_err *err);

/* ---- the sandbox callbacks ---- */

struct sr_runner_config {
    bool js_no_jit;            /* --js-jit=off */
    size_t module_cache_bytes; /* compiled modules kept per process; 0 = SR_RUNNER_DEFAULT_CACHE */
};
#define SR_RUNNER_DEFAULT_CACHE (64u * SR_MIB)

/* For struct sr_sandbox_config: proc_init and job_fn with 'arg' a
 * const struct sr_runner_config * that outlives the sandbox. */
sr_status sr_runner_proc_init(void *arg, void **state, sr_err *err);
sr_status sr_runner_job_fn(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req,
                           size_t len, sr_buf *resp, bool *discard, sr_err *err);

#endif /* SR_RUNNER_H */
