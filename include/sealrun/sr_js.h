/* SPDX-License-Identifier: MIT
 *
 * sr_js.h - the JavaScript runtime (JavaScriptCore) that runs one job's
 * script inside a job process.
 *
 * A sr_js_vm is one JSC context group (one VM). It is created in the job
 * process after fork (JSC starts threads: never fork after sr_js_vm_new) and
 * reused for the jobs of one owner, each job in a fresh global context.
 * sr_js_run() never lets guest code crash the caller: exceptions, limits and
 * bad results become a failed sr_js_result. One thread at a time per VM.
 *
 * What the guest sees (docs/architecture.md, design.md section 3):
 *   main(input, secrets) (or job->entry_point), globals 'input' and
 *   'secrets' (frozen), console.log/info/warn/error, crypto.sha256(x),
 *   crypto.randomBytes(n), getSecret(name), storage.get/getBytes/set/delete/
 *   has/list (host calls through job->host_call, docs/storage.md); fetch,
 *   URL, URLSearchParams, Headers, Request, Response, AbortSignal and
 *   AbortController (requests through job->http_call, docs/http.md); the web
 *   platform APIs (TextEncoder, TextDecoder, atob, btoa, structuredClone,
 *   DOMException, crypto.getRandomValues, crypto.randomUUID: js_web.c,
 *   web.js), crypto.subtle (Web Crypto: js_crypto.c, subtle.js); a returned
 *   Promise is awaited. No WebAssembly, SharedArrayBuffer, Atomics,
 *   ShadowRealm or timers (docs/js.md).
 *
 * The entry point is only a function the script declares (docs/js.md,
 * "Entry points"; js_entry.c): never a name the global object had before
 * the script ran, never a built-in, host, bound or proxy function. Neither
 * the entry point nor the input is ever evaluated as code.
 */
#ifndef SR_JS_H
#define SR_JS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_codes.h"
#include "sealrun/sr_err.h"

typedef struct sr_js_vm sr_js_vm;

/* A host call from the guest (storage.*): sends req[0..len) in the format of
 * sr_storage.h to the supervisor and appends the answer to resp. A status
 * other than SR_OK makes the guest's call throw an Error with err's text. */
typedef sr_status (*sr_js_host_fn)(void *ctx, const uint8_t *req, size_t len, sr_buf *resp,
                                   sr_err *err);

/* CPU past a job's budget after which the backstop ends the process. */
#define SR_JS_BACKSTOP_GRACE_US 250000u
/* How the backstop ends the process: SIGXCPU, or where the kernel drops a
 * process's own signals (the init of a PID namespace) _exit() with this. */
#define SR_JS_BACKSTOP_EXIT_STATUS 152 /* 128 + SIGXCPU, as a shell reports it */

struct sr_js_options {
    bool no_jit; /* run JSC's interpreter only (--js-jit=off); process-wide */
    /* For job processes only: while a job with a CPU budget runs, a thread
     * ends the whole process (SIGXCPU or SR_JS_BACKSTOP_EXIT_STATUS) once the
     * job's thread has used
     * cpu_limit_us + SR_JS_BACKSTOP_GRACE_US of CPU. It is the one stop for
     * what JavaScriptCore's watchdog cannot interrupt (a chain of
     * microtasks, a single RegExp match, long C++ loops); the supervisor
     * reports such a death as GAS_EXHAUSTED. */
    bool cpu_backstop;
};

/* Sets process-wide JSC options (JIT on/off; no WebAssembly,
 * SharedArrayBuffer or ShadowRealm) and creates a VM. The options of the
 * first call in a process win, except cpu_backstop, which is per VM.
 * Returns owned: sr_js_vm_free(). */
sr_status sr_js_vm_new(const struct sr_js_options *opt, sr_js_vm **out, sr_err *err);

/* Releases the VM. NULL is a no-op. */
void sr_js_vm_free(sr_js_vm *vm);

struct sr_js_job {
    const char *script; /* borrowed, script_len bytes, UTF-8; <= SR_MAX_SCRIPT */
    size_t script_len;
    const char *entry_point; /* borrowed; NULL means "main" */
    const char *input_json;  /* borrowed JSON text, parsed as JSON only; NULL means null */
    /* borrowed JSON object text built by sealrun (never client text; a
     * duplicate name keeps the last value); NULL means {}. The runtime keeps
     * no C copy of it and wipes its own conversion buffers; the caller wipes
     * this text. */
    const char *secrets_json;
    uint64_t cpu_limit_us;   /* CPU budget (gas_limit); 0 = none */
    uint64_t memory_bytes;   /* RSS cap checked while the guest runs; 0 = none */
    int statm_fd;            /* open fd of /proc/self/statm (opened before seccomp), or -1 */
    sr_js_host_fn host_call; /* storage.*; NULL: every storage call throws */
    void *host_ctx;          /* borrowed, given to host_call and http_call */
    /* fetch: sends a request in the format of sr_http.h to the supervisor;
     * NULL: every fetch is refused (HTTP_DENIED) */
    sr_js_host_fn http_call;
    /* The supervisor's other host calls (crypto.vrf): NULL, they throw */
    sr_js_host_fn service_call;
    /* A recorded job (docs/http.md "Record and replay"): Date reads the
     * clock through service_call (SR_RUNNER_HOSTCALL_TIME, which the
     * supervisor records) and Math.random draws from libsodium's generator
     * (which the job process has seeded for replay) */
    bool record;
};

struct sr_js_result {
    bool ok;               /* completed: output_json is set */
    enum sr_job_code code; /* SR_JOB_OK when ok, else why it failed */
    char *error_message;   /* owned, when !ok: what happened, with line:column */
    char *output_json;     /* owned JSON text of the output object when ok */
    json_t *logs;          /* owned array of strings (never NULL after sr_js_run) */
    uint64_t gas_used;     /* CPU microseconds the guest used */
    bool discard;          /* VM state is suspect (limit hit): end the process */
};

/* Runs one job in a fresh global context of 'vm'. Fills *res (which the
 * caller then releases with sr_js_result_fini) and returns SR_OK whenever a
 * job result exists, failed or not; another status only if sealrun itself
 * failed (SR_ENOMEM, SR_EINTERNAL), if the job breaks this contract
 * (SR_EINVAL: no script or > SR_MAX_SCRIPT, input/secrets text that is not
 * JSON, secrets not an object), or if /proc/self/statm cannot be opened when
 * statm_fd is -1 and memory_bytes is set (SR_EIO); err says which, res->logs
 * is set and res is safe to fini.
 *
 * Output: the result's JSON.stringify text if it is an object; any other
 * JSON text (number, string, boolean, array, Date, ...) t becomes
 * {"result":t}; undefined or null become {}. Limits: GAS_EXHAUSTED when the
 * CPU budget runs out (checked every 10 ms of guest CPU, and once more for a
 * job that completed), MEMORY_LIMIT when RSS passes memory_bytes (sampled at
 * the same checks), TIMEOUT for a returned promise that can never settle.
 * discard is set after GAS_EXHAUSTED, MEMORY_LIMIT, TIMEOUT and sealrun
 * failures; never after a plain guest error (throw, syntax, bad output). */
sr_status sr_js_run(sr_js_vm *vm, const struct sr_js_job *job, struct sr_js_result *res,
                    sr_err *err);

/* Frees what *res owns. Safe on a zeroed or already-finished result. */
void sr_js_result_fini(struct sr_js_result *res);

/* JavaScriptCore version string for /info and receipts (static). */
const char *sr_js_engine_version(void);

#endif /* SR_JS_H */
