/* SPDX-License-Identifier: MIT
 *
 * sr_codes.h - the job vocabulary every layer shares: the runtimes, and the
 * job error codes a user sees in "error":{"code": ...}: one enum and one
 * name table each (src/lib/core/codes.c), used by the JavaScript and
 * WebAssembly runs, the job process's answer, the supervisor, secret
 * policies, receipts and the HTTP API alike.
 *
 * These are part of the HTTP API: never rename one. docs/errors.md lists each
 * with its meaning and what to do; tests/unit/core_codes_test.c fails when
 * a code has no name or no entry there.
 */
#ifndef SR_CODES_H
#define SR_CODES_H

#include <stdbool.h>
#include <stddef.h>

enum sr_runtime {
    SR_RUNTIME_JS = 0,
    SR_RUNTIME_WASM = 1,
};

/* "js", "wasm"; NULL out of range. */
const char *sr_runtime_name(enum sr_runtime rt);

/* X(enum suffix, meaning); the name is the suffix as text. keep the order:
 * the numbers cross the process boundary (sr_runner.h) */
#define SR_JOB_CODES(X)                                                                            \
    X(SCRIPT_ERROR, "syntax error")                                                                \
    X(ENTRY_POINT_NOT_FOUND, "no such function declared by the script")                            \
    X(EXECUTION_ERROR, "uncaught throw, rejection or trap")                                        \
    X(TIMEOUT, "wall clock")                                                                       \
    X(GAS_EXHAUSTED, "gas_limit (CPU or fuel)")                                                    \
    X(MEMORY_LIMIT, "memory_mb")                                                                   \
    X(OUTPUT_TOO_LARGE, "output over SR_MAX_OUTPUT")                                               \
    X(INPUT_TOO_LARGE, "input over SR_MAX_INPUT")                                                  \
    X(OUTPUT_NOT_JSON, "result not serialisable")                                                  \
    X(INTERRUPTED, "sealrund stopped mid-job")                                                     \
    X(EXIT_CODE, "WASI program exited non-zero")                                                   \
    X(MODULE_ERROR, "WASM module invalid or unlinkable")                                           \
    X(SECRET_UNAVAILABLE, "missing, expired or denied")                                            \
    X(STORAGE_CONFLICT, "a key the job read changed")                                              \
    X(STORAGE_QUOTA, "namespace or owner quota")                                                   \
    X(SANDBOX_CRASHED, "job process died")                                                         \
    X(INTERNAL_ERROR, "a bug in sealrun")                                                          \
    X(OUTPUT_NUMBER_INEXACT, "an output number RFC 8785 cannot hash exactly")                      \
    X(STORAGE_READ_LIMIT, "SR_STORAGE_MAX_JOB_READS different keys read")                          \
    X(STORAGE_LIST_LIMIT, "SR_STORAGE_MAX_JOB_LISTINGS different listings")                        \
    X(STORAGE_WRITE_LIMIT, "SR_STORAGE_MAX_JOB_WRITES keys or _BYTES buffered")                    \
    X(HTTP_DENIED, "a request the HTTP policy or the address guard refused")                       \
    X(HTTP_LIMIT, "a request past an HTTP limit (count, body, headers)")                           \
    X(HTTP_TIMEOUT, "a request past its time or the job's wall clock")                             \
    X(HTTP_ERROR, "a request that failed: DNS, connect, TLS, protocol")                            \
    X(RECORDING_LIMIT, "a recorded job's recording past SR_MAX_RECORDING")                         \
    X(CANCELLED, "its owner cancelled it (POST /jobs/{id}/cancel)")                                \
    X(EXPIRED, "queued longer than --queue-max-age")

enum sr_job_code {
    SR_JOB_OK = 0, /* completed: no error */
#define SR_JOB_CODE_ENUM_(name, what) SR_JOB_##name,
    SR_JOB_CODES(SR_JOB_CODE_ENUM_)
#undef SR_JOB_CODE_ENUM_
        SR_JOB_CODE_COUNT_
};

/* "SCRIPT_ERROR", ...; NULL for SR_JOB_OK or a value out of range. */
const char *sr_job_code_name(enum sr_job_code c);

/* The code named s[0..len); false when there is none (SR_JOB_OK has no name). */
bool sr_job_code_from_name(const char *s, size_t len, enum sr_job_code *out);

#endif /* SR_CODES_H */
