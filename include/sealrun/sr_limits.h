/* SPDX-License-Identifier: MIT
 *
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
/* A recorded job ("record": true, docs/http.md "Record and replay"): the
 * bytes of host calls (requests and answers: HTTP, clock reads, VRF, key
 * and storage calls) its recording may hold. Every HTTP answer is already
 * capped; this bounds their sum, and what the store keeps per job. Past it
 * the job fails with RECORDING_LIMIT. */
#define SR_MAX_RECORDING (16u * SR_MIB)
/* WASI args and environment given in a request: count and bytes each. */
#define SR_MAX_WASI_ARGS 64
#define SR_MAX_WASI_ENV 64
#define SR_MAX_WASI_STRING 4096
/* Secret references per job. */
#define SR_MAX_SECRET_REFS 16
/* Running jobs per user (sync beyond: 429) and queued async jobs per user. */
#define SR_DEFAULT_MAX_RUNNING_PER_USER 5
#define SR_DEFAULT_MAX_QUEUED_PER_USER 100
/* --queue-max-age: a job that waited an hour in the queue is usually no
 * longer wanted, and a queue that long means the server is overloaded */
#define SR_DEFAULT_QUEUE_MAX_AGE_S 3600
/* Completion webhooks (docs/accounts.md#webhooks): a callback_url's bytes;
 * attempts are SR_WEBHOOK_MAX_ATTEMPTS (sr_store.h), the first retry after
 * 1 s, each pause twice the last up to 10 min (about 27 min in all); one
 * attempt at most 10 s; a receiver's answer read up to 16 KiB (more fails
 * the attempt); 4 deliveries at once per daemon, 2 per user. */
#define SR_WEBHOOK_MAX_URL 2048
#define SR_WEBHOOK_FIRST_RETRY_MS 1000
#define SR_WEBHOOK_MAX_RETRY_MS (600 * 1000)
#define SR_WEBHOOK_TIMEOUT_MS 10000
#define SR_WEBHOOK_MAX_RESPONSE 16384
#define SR_WEBHOOK_WORKERS 4
#define SR_WEBHOOK_PER_USER 2
/* JSON nesting accepted from clients and guests (jansson recurses). */
#define SR_MAX_JSON_DEPTH 64
/* Entry-point name length. */
#define SR_MAX_ENTRY_POINT 128
/* User names (token owners). */
#define SR_MAX_USER_NAME 64
/* Page size of GET /jobs. */
#define SR_DEFAULT_PAGE 20
#define SR_MAX_PAGE 100
/* GET /stats: bins of one answer (a day by the minute); each bin holds a
 * run-time histogram (SR_STATS_BUCKETS counters), so one answer costs at
 * most about 1.3 MB of the daemon's memory while it is built. Default
 * window and step: the last hour by the minute. */
#define SR_STATS_MAX_BINS 1440
#define SR_STATS_BUCKETS 224
#define SR_STATS_DEFAULT_WINDOW_MS (3600ll * 1000)
#define SR_STATS_DEFAULT_STEP_MS (60ll * 1000)
/* crypto.randomBytes(n). */
#define SR_MAX_RANDOM_BYTES 1024
/* Bytes of a bearer token that are looked up at all (real ones are 47). */
#define SR_MAX_TOKEN_TEXT 256
/* The HTTP edge (docs/limits.md, "HTTP"; sealrund options in brackets).
 * Open connections [--max-connections]: each costs a socket and at most
 * SR_HTTP_CONN_MEMORY, never a thread. When they are all open, a new one
 * takes the place of the oldest that has not yet presented a valid token. */
#define SR_HTTP_DEFAULT_CONNECTIONS 1024
#define SR_HTTP_MAX_CONNECTIONS 16384
/* Open connections from one address [--max-connections-per-address]: one
 * client cannot take the whole table; a NAT of a few dozen users fits. */
#define SR_HTTP_DEFAULT_CONNECTIONS_PER_ADDR 32
/* Seconds for a request's line and headers to arrive in full, counted from
 * the connection's accept or from the previous answer [--header-timeout],
 * and for its body to arrive in full, or an answer to be taken by the client
 * [--body-timeout]: totals, not per byte, so trickling does not extend them.
 * 60 s carries a 16 MiB module at 2.3 Mbit/s. */
#define SR_HTTP_DEFAULT_HEADER_TIMEOUT_S 10
#define SR_HTTP_DEFAULT_BODY_TIMEOUT_S 60
#define SR_HTTP_MAX_TIMEOUT_S 3600
/* Threads running requests whose token was checked [--request-threads]; a
 * synchronous job holds one for its run. Requests beyond them wait in order. */
#define SR_HTTP_DEFAULT_THREADS 128
/* Threads for everything unauthenticated: checking a token the server has
 * not seen lately, the public endpoints, and the answers to requests without
 * a valid token. They are apart so that such requests never wait for, or
 * hold, the threads of authenticated users. */
#define SR_HTTP_GATE_THREADS 4
/* Failed authentications per client address and minute, also the burst,
 * before 429 [--auth-failures-per-minute]; successes cost nothing. */
#define SR_HTTP_DEFAULT_AUTH_FAIL 30
/* Addresses the limiter remembers, and tokens the server knows were valid
 * lately (to pick the thread lane without a store lookup), each for this
 * long. */
#define SR_HTTP_GUARD_SLOTS 4096
#define SR_HTTP_KNOWN_TOKENS 1024
#define SR_HTTP_KNOWN_TOKEN_MS 60000
/* Requests per minute, also the burst, per token [--rate-per-token, or
 * per user in --rate-limits FILE] and per client address
 * [--rate-per-address], before 429 (docs/accounts.md#rate-limits); the
 * buckets the limiter keeps; the largest rate it takes. */
#define SR_HTTP_DEFAULT_RATE_PER_TOKEN 6000
#define SR_HTTP_DEFAULT_RATE_PER_ADDRESS 12000
#define SR_HTTP_RATE_SLOTS 8192
#define SR_HTTP_MAX_RATE 600000
/* Request parsing (RFC 9112): the request target (414 beyond), one header
 * line and all of them (431 beyond), query parameters (400 beyond). The
 * parser's own buffer of SR_HTTP_CONN_MEMORY is the backstop. */
#define SR_HTTP_MAX_TARGET 8192
#define SR_HTTP_MAX_FIELD_LINE 8192
#define SR_HTTP_MAX_FIELDS 100
#define SR_HTTP_MAX_HEADER_BYTES 32768u
#define SR_HTTP_MAX_QUERY_PARAMS 32
#define SR_HTTP_CONN_MEMORY (64u * 1024u)
/* IPC frames between supervisor and job process: request (script + input +
 * secrets) and response (output + logs + error) with room for framing. */
#define SR_MAX_IPC_FRAME (24u * SR_MIB)
/* Lines a job process may add to the daemon's log per job, and bytes per
 * line: the runtime's own diagnostics, never guest output; a process that
 * logs more is not allowed to fill the operator's disk or drown the log. */
#define SR_MAX_SANDBOX_LOG_LINES 32
#define SR_MAX_SANDBOX_LOG_LINE 512

/* WebAssembly modules kept for an owner (POST /modules, and async jobs'
 * inline modules): claims and their bytes (module plus its stored
 * description). One 16 MiB module fits eight times over; most are far
 * smaller. The count also bounds the per-row overhead of tiny modules. */
#define SR_DEFAULT_MODULE_QUOTA_BYTES (128ull * SR_MIB)
#define SR_DEFAULT_MODULE_QUOTA_COUNT 256
/* A claim no job has used for this long is dropped by the purge (ms). */
#define SR_DEFAULT_MODULE_EXPIRY_MS (90ll * 86400 * 1000)
/* A job's use of a module is written only when the recorded last use is
 * older than this (ms): a write per job would cost a commit per job. */
#define SR_MODULE_TOUCH_MS (3600ll * 1000)
/* Secrets one owner may have: each holds up to 64 KiB and a 32 KiB policy,
 * so this bounds an owner's secrets to about 96 MiB on disk. */
#define SR_MAX_SECRETS_PER_OWNER 1000
/* Secret audit: rows older than this are purged with the jobs (ms). */
#define SR_DEFAULT_AUDIT_RETENTION_MS (30ll * 86400 * 1000)
/* Denied attempts by another user are summarised: one row per (secret,
 * user, outcome) per window, with a count. Per (owner, user) and window at
 * most this many rows and attempts; past them the attempt is refused
 * (SECRET_UNAVAILABLE) without a write, so nobody can grow another owner's
 * audit or spend the store's writes on it without bound. */
#define SR_AUDIT_WINDOW_MS (3600ll * 1000)
#define SR_AUDIT_MAX_DENIED_ROWS 64
#define SR_AUDIT_MAX_DENIED_ATTEMPTS 1000
/* Rows one purge transaction deletes (audit rows, module claims): bounds
 * the time the purge holds the write lock; it repeats until done. */
#define SR_PURGE_BATCH 5000

/* Tokens (docs/accounts.md): valid tokens one user may hold (POST /tokens
 * beyond: 409), and the longest expiry a token may be given. */
#define SR_MAX_TOKENS_PER_USER 1000
#define SR_MAX_TOKEN_LIFETIME_MS (3650ll * 24 * 3600 * 1000)

#endif /* SR_LIMITS_H */
