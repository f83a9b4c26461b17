/*
 * sr_limits.h - every named cap in one place, with the reason for its value.
 * Defaults and hard caps follow design.md section 7; docs/limits.md is the
 * copy for readers (keep in sync).
 */
#ifndef SR_LIMITS_H
#define SR_LIMITS_H

#define SR_MIB (1024u * 1024u)

/* HTTP: the largest request we buffer (a 1 MiB script as JSON, escaped, fits). */
#define SR_MAX_BODY (8u * SR_MIB)
/* JavaScript source as submitted. */
#define SR_MAX_SCRIPT (1u * SR_MIB)
/* WebAssembly module bytes. */
#define SR_MAX_MODULE (16u * SR_MIB)
/* Job input as JSON text, and job output as canonical JSON text. */
#define SR_MAX_INPUT (1u * SR_MIB)
#define SR_MAX_OUTPUT (1u * SR_MIB)
/* Logs: entries kept per job and bytes kept per entry (longer ones are cut
 * and marked). */
#define SR_MAX_LOG_ENTRIES 100
#define SR_MAX_LOG_ENTRY 4096
/* Error messages from the guest (exception text plus stack). */
#define SR_MAX_ERROR_MSG 4096
/* Wall clock, seconds. */
#define SR_DEFAULT_TIMEOUT_S 30
#define SR_MAX_TIMEOUT_S 120
/* Memory, MiB. */
#define SR_DEFAULT_MEMORY_MB 128
#define SR_MAX_MEMORY_MB 512
/* WASM fuel. */
#define SR_DEFAULT_FUEL 1000000000ull
#define SR_MAX_FUEL 500000000000ull
/* WASI args and environment given in a request: count and bytes each. */
#define SR_MAX_WASI_ARGS 64
#define SR_MAX_WASI_ENV 64
#define SR_MAX_WASI_STRING 4096
/* Secret references per job. */
#define SR_MAX_SECRET_REFS 16
/* Running jobs per user (sync beyond: 429) and queued async jobs per user. */
#define SR_DEFAULT_MAX_RUNNING_PER_USER 5
#define SR_DEFAULT_MAX_QUEUED_PER_USER 100
/* JSON nesting accepted from clients and guests (jansson recurses). */
#define SR_MAX_JSON_DEPTH 64
/* Entry-point name length. */
#define SR_MAX_ENTRY_POINT 128
/* User names (token owners). */
#define SR_MAX_USER_NAME 64
/* Page size of GET /jobs. */
#define SR_DEFAULT_PAGE 20
#define SR_MAX_PAGE 100
/* crypto.randomBytes(n). */
#define SR_MAX_RANDOM_BYTES 1024
/* IPC frames between supervisor and job process: request (script + input +
 * secrets) and response (output + logs + error) with room for framing. */
#define SR_MAX_IPC_FRAME (24u * SR_MIB)

#endif /* SR_LIMITS_H */
