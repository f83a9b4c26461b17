/*
 * sr_codes.h - the job error codes a user sees in "error":{"code": ...}.
 *
 * These are part of the HTTP API: never rename one. docs/errors.md lists each
 * with its meaning and what to do (keep in sync).
 */
#ifndef SR_CODES_H
#define SR_CODES_H

#define SR_CODE_SCRIPT_ERROR "SCRIPT_ERROR"                   /* syntax error */
#define SR_CODE_ENTRY_POINT_NOT_FOUND "ENTRY_POINT_NOT_FOUND" /* no such function */
#define SR_CODE_EXECUTION_ERROR "EXECUTION_ERROR"             /* uncaught throw / rejection */
#define SR_CODE_TIMEOUT "TIMEOUT"                             /* wall clock */
#define SR_CODE_GAS_EXHAUSTED "GAS_EXHAUSTED"                 /* gas_limit (CPU or fuel) */
#define SR_CODE_MEMORY_LIMIT "MEMORY_LIMIT"                   /* memory_mb */
#define SR_CODE_OUTPUT_TOO_LARGE "OUTPUT_TOO_LARGE"           /* > SR_MAX_OUTPUT */
#define SR_CODE_INPUT_TOO_LARGE "INPUT_TOO_LARGE"             /* > SR_MAX_INPUT */
#define SR_CODE_OUTPUT_NOT_JSON "OUTPUT_NOT_JSON"             /* result not serialisable */
#define SR_CODE_INTERRUPTED "INTERRUPTED"                     /* sealrund stopped mid-job */
#define SR_CODE_EXIT_CODE "EXIT_CODE"                         /* WASI program exited non-zero */
#define SR_CODE_MODULE_ERROR "MODULE_ERROR"             /* WASM module invalid or unlinkable */
#define SR_CODE_SECRET_UNAVAILABLE "SECRET_UNAVAILABLE" /* missing, expired or denied */
#define SR_CODE_STORAGE_CONFLICT "STORAGE_CONFLICT"     /* a key the job read changed */
#define SR_CODE_STORAGE_QUOTA "STORAGE_QUOTA"           /* namespace keys or bytes */
#define SR_CODE_SANDBOX_CRASHED "SANDBOX_CRASHED"       /* job process died */
#define SR_CODE_INTERNAL_ERROR "INTERNAL_ERROR"         /* a bug in sealrun */

#endif /* SR_CODES_H */
