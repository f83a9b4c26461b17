/* SPDX-License-Identifier: MIT
 *
 * runner_int.h - private contract between the files of the runner module.
 *
 *   runner_msg.c      the codec of sr_runner.h
 *   runner.c          the process state, the job loop's callbacks, the
 *                     compiled-module cache
 *   runner_js.c       a JavaScript job
 *   runner_wasm.c     a WebAssembly job and a module check
 *   runner_storage.c  storage host calls (JS host_call, WASM 'sealrun' imports)
 *   runner_vrf.c      the WASM import sealrun.vrf (verifiable randomness)
 *   runner_record.c   a recorded job's clock and randomness
 *
 * Everything here runs inside a job process, under the sandbox's seccomp
 * policy: no files, no sockets but the job socket. A secret reaches the
 * process only inside a job spec, and every buffer that held one is wiped.
 */
#ifndef SR_RUNNER_INT_H
#define SR_RUNNER_INT_H

#include "sealrun/sr_runner.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_wasm.h"

/* One compiled module kept for the next jobs of this process. */
struct runner_module {
    uint8_t hash[32];
    sr_wasm_module *mod; /* owned */
    size_t cost;         /* bytes charged against the cache's bound */
    uint64_t last_use;   /* cache clock: least recently used goes first */
};

#define RUNNER_CACHE_SLOTS 64

/* The modules a job process keeps, bounded by bytes and slots. */
struct runner_cache {
    struct runner_module slot[RUNNER_CACHE_SLOTS];
    size_t n;
    size_t bytes; /* sum of slot[].cost */
    size_t max_bytes;
    uint64_t clock;
};

struct runner_proc {
    const struct sr_runner_config *cfg; /* borrowed */
    sr_js_vm *js;
    struct runner_cache cache;
    /* the native code last loaded, for the next jobs of the same module */
    sr_wasm_native *native; /* owned; NULL: none */
    uint8_t native_hash[32];
};

/* A compiled module of the cache (borrowed, valid until the next put), or NULL. */
const sr_wasm_module *sr_runner__cache_get(struct runner_cache *c, const uint8_t hash[32]);
/* Takes 'mod' into the cache (or frees it when it cannot fit); returns it
 * borrowed, or NULL when it was freed. */
const sr_wasm_module *sr_runner__cache_put(struct runner_cache *c, const uint8_t hash[32],
                                           sr_wasm_module *mod, size_t cost);
void sr_runner__cache_fini(struct runner_cache *c);

/* Fills the answer of a failed run with a code and a formatted message
 * (kept in 'msg', which must outlive the answer's encoding). */
void sr_runner__fail(struct sr_job_answer *a, enum sr_job_code code, char *msg, size_t cap,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* runner_js.c: the guest's 'secrets' object as JSON text,
 * {"SEALRUN_JOB_ID":..,"SEALRUN_USER":..,NAME:value,...} in spec order,
 * appended to 'out' in one allocation reserved to the worst case (the
 * caller wipes it with sr_buf_fini_secure). */
sr_status sr_runner__secrets_text(const struct sr_job_spec *spec, sr_buf *out, sr_err *err);

/* runner_js.c: runs a JS job and appends its answer to resp. */
sr_status sr_runner__run_js(struct runner_proc *ps, const struct sr_job_spec *spec,
                            sr_sandbox_child *child, sr_buf *resp, bool *discard, sr_err *err);

/* A WASI program's argv and environment: the request's variables, then
 * SEALRUN_JOB_ID, SEALRUN_USER and the secrets (NAME=value), so a secret
 * wins over a variable of the same name. Every string lives in 'text',
 * reserved once; it holds secret values: sr_buf_fini_secure it. */
struct sr_runner_env {
    const char *argv[SR_MAX_WASI_ARGS + 1];
    const char *env[SR_MAX_WASI_ENV + SR_MAX_SECRET_REFS + 2];
    size_t argc, envc;
    sr_buf text;
};
sr_status sr_runner__env_build(const struct sr_job_spec *spec, struct sr_runner_env *w,
                               sr_err *err);

/* runner_wasm.c: runs a WASM job / checks a module; appends the answer. */
sr_status sr_runner__run_wasm(struct runner_proc *ps, const struct sr_job_spec *spec,
                              sr_sandbox_child *child, sr_buf *resp, sr_err *err);
sr_status sr_runner__check_module(struct runner_proc *ps, const struct sr_bytes *module,
                                  sr_buf *resp, sr_err *err);

/* runner_msg.c: the module bytes of a check request. */
sr_status sr_runner__check_decode(const uint8_t *p, size_t len, struct sr_bytes *module,
                                  sr_err *err);

/* runner_storage.c */
#define SR_RUNNER__WASM_STORAGE_FUNCS 4
void sr_runner__wasm_storage_funcs(sr_sandbox_child *child,
                                   struct sr_wasi_host_func funcs[SR_RUNNER__WASM_STORAGE_FUNCS]);
sr_status sr_runner__js_hostcall(void *child, const uint8_t *req, size_t len, sr_buf *resp,
                                 sr_err *err);

/* runner_http.c: the WASM imports of outbound HTTP (docs/wasm.md), with
 * the answer of the job's last request. child NULL: every request is
 * refused (a module check only looks at the imports). */
struct sr_runner__http;
#define SR_RUNNER__WASM_HTTP_FUNCS 4
sr_status sr_runner__http_new(sr_sandbox_child *child, struct sr_runner__http **out, sr_err *err);
void sr_runner__http_free(struct sr_runner__http *h);
void sr_runner__wasm_http_funcs(struct sr_runner__http *h,
                                struct sr_wasi_host_func funcs[SR_RUNNER__WASM_HTTP_FUNCS]);

/* runner_vrf.c: the WASM imports sealrun.vrf and sealrun.key_use (child
 * NULL: for checking a module's imports only) */
#define SR_RUNNER__WASM_KEY_FUNCS 2
void sr_runner__wasm_key_funcs(sr_sandbox_child *child,
                               struct sr_wasi_host_func funcs[SR_RUNNER__WASM_KEY_FUNCS]);

/* runner_record.c: a recorded job (sr_job_spec.record). record_begin
 * switches the process's randomness to the spec's seed (the process is
 * discarded after the job); record_wasi gives WASI the recorded clock and
 * that randomness; clock_read is one clock host call ('T'). */
void sr_runner__record_begin(const struct sr_job_spec *spec);
void sr_runner__record_wasi(const struct sr_job_spec *spec, sr_sandbox_child *child,
                            struct sr_wasi_config *cfg);
sr_status sr_runner__clock_read(sr_sandbox_child *child, uint32_t id, uint64_t *ns, sr_err *err);

#endif /* SR_RUNNER_INT_H */
