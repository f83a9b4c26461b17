/* SPDX-License-Identifier: MIT
 *
 * sealrund.c - the daemon's main: parses the command line, starts the
 * engine (which forks the sandbox zygote) before anything secret is in
 * memory, then loads keys, opens the store with them (what it keeps for
 * users is sealed at rest), and serves HTTP until SIGINT or SIGTERM.
 *
 * Start order matters (docs/security-model.md): the master keys in the
 * environment are moved into a pipe and wiped from the environment before
 * the zygote is forked, so neither the zygote nor any job process ever
 * holds them; they are read back from the pipe after the fork. The worker
 * key that signs receipts is loaded after the fork too (docs/receipts.md).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sealrun/sr_api.h"
#include "sealrun/sr_attest.h"
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_money.h"
#include "sealrun/sr_opts.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"
#include "sealrun/sr_keystore.h"
#include "sealrun/sr_worker.h"

/* What this process is (docs/workers.md). */
enum role {
    ROLE_ALL = 0,     /* the embedded default: API, store, queue and sandbox in one */
    ROLE_WORKER,      /* runs jobs for a coordinator; no store, no master key */
    ROLE_COORDINATOR, /* API, store and queue; runs no guest code: remote workers do */
    ROLE_KEYSTORE,    /* the secrets master alone; releases secrets to attested workers */
};

struct opts {
    enum role role;
    const char *coordinator;     /* --role worker */
    const char *worker_token;    /* --role worker: --worker-token or SEALRUN_WORKER_TOKEN */
    uint64_t module_cache_bytes; /* --role worker: --module-cache-mb; 0 = the default */
    unsigned worker_jobs;        /* --role worker: --jobs; 0 = 1 */
    bool workers_require_tdx;    /* --worker-attestation tdx */
    const char *keystore;        /* --keystore URL (coordinator, worker), or NULL */
    uint8_t keystore_pk[32];     /* --keystore-key */
    uint8_t coordinator_pk[32];  /* --role keystore: --coordinator-key */
    const char *allow[SR_KEYSTORE_MAX_ALLOW]; /* --role keystore: --allow-measurement */
    size_t nallow_meas;
    char host[64];
    uint16_t port;
    bool has_metrics; /* --metrics-listen */
    char metrics_host[64];
    uint16_t metrics_port;
    const char *data_dir;
    const char *store; /* NULL: SEALRUN_STORE, else sqlite:DATA_DIR/sealrun.db */
    bool dev;
    bool native_off; /* --native off */
    struct sr_engine_config eng;
    enum sr_attest_provider attestation;
    const char *tsm_root; /* NULL: SR_ATTEST_TSM_ROOT */
    struct sr_server_config http;
    const char *dashboard_dir; /* NULL: the embedded dashboard */
    enum sr_api_tamper tamper; /* test builds only */
    int64_t rate_per_token;    /* requests per minute (docs/accounts.md); -1: the default */
    int64_t rate_per_address;
    const char *rate_file; /* per-user overrides, or NULL */
    sr_money *money;       /* budgets and prices (owned), or NULL: none */
    const char *http_allow[SR_FETCH_MAX_ALLOW];
    const char *http_deny[SR_FETCH_MAX_ALLOW];
    const char *http_private[SR_FETCH_MAX_PRIVATE];
};

/* What receipts are signed with; freed after the engine. */
struct identity {
    sr_worker_key *key;
    sr_attest_quote *quote;
    uint8_t measurement[SR_MEASUREMENT_LEN];
};

static int
die_usage(const char *msg)
{
    fprintf(stderr, "sealrund: error: %s\nsealrund: hint: see 'sealrund --help'\n", msg);
    return 2;
}

static sr_status
parse_listen(const char *opt, const char *s, char host[64], uint16_t *port_out, sr_err *err)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= 64)
        return sr_err_set(err, SR_EINVAL, "%s must be HOST:PORT, got '%.64s'", opt, s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    int64_t port;
    char what[64];
    (void)snprintf(what, sizeof(what), "%s port", opt);
    if (sr_parse_i64(colon + 1, 0, 65535, what, &port, err) != SR_OK)
        return SR_EINVAL;
    *port_out = (uint16_t)port;
    return SR_OK;
}

/* --sandbox-user UID or FIRST-LAST (uids that no account uses; never 0). */
static sr_status
parse_sandbox_user(const char *v, struct sr_engine_config *c, sr_err *err)
{
    char first[16];
    const char *dash = strchr(v, '-');
    int64_t a, b;
    size_t n = dash ? (size_t)(dash - v) : strlen(v);
    if (n == 0 || n >= sizeof(first))
        return sr_err_set(err, SR_EINVAL, "--sandbox-user must be UID or FIRST-LAST, got '%.32s'",
                          v);
    memcpy(first, v, n);
    first[n] = '\0';
    if (sr_parse_i64(first, 1, 4294967294, "--sandbox-user uid", &a, err) != SR_OK)
        return SR_EINVAL;
    b = a;
    if (dash &&
        sr_parse_i64(dash + 1, a + 1, 4294967294, "--sandbox-user last uid", &b, err) != SR_OK)
        return SR_EINVAL;
    if (geteuid() != 0)
        return sr_err_set(err, SR_EINVAL,
                          "--sandbox-user needs sealrund to run as root; as uid %u the sandbox "
                          "keeps that uid (in user namespaces of its own where allowed)",
                          (unsigned)geteuid());
    c->sandbox_uid_first = (uint32_t)a;
    c->sandbox_uid_count = (uint32_t)(b - a + 1);
    return SR_OK;
}

/* The options as given, before they are checked and applied to struct
 * opts. A number of 0 was not given (every minimum is 1). */
struct raw {
    const char *listen, *metrics_listen, *data_dir, *store, *sandbox_user, *tsm_root,
        *dashboard_dir, *http_ca_file, *coordinator, *worker_token, *keystore, *keystore_key,
        *coordinator_key;
    const char *allow_meas[SR_KEYSTORE_MAX_ALLOW];
    size_t nallow_meas;
    const char *http_allow[SR_FETCH_MAX_ALLOW], *http_deny[SR_FETCH_MAX_ALLOW];
    const char *http_private[SR_FETCH_MAX_PRIVATE];
    size_t nallow, ndeny, nprivate;
    bool dev, help, version, http_allow_http;
    int isolation, jit, namespaces, attestation, tamper, log_level, role, worker_attestation;
    bool has_log_level, has_tamper;
    int64_t max_running, max_queued, async_workers, storage_keys, storage_bytes, module_bytes,
        module_count, module_expiry, audit_retention, storage_ns, storage_owner_bytes, max_conn,
        max_conn_addr, header_timeout, body_timeout, request_threads, auth_failures, lease,
        module_cache_mb, worker_jobs;
    int64_t rate_token, rate_addr; /* -1 when not given: 0 means no limit */
    int64_t queue_age;             /* -1 when not given: 0 means never */
    const char *rate_file;
    const char *budget_user, *budget_token, *budgets_file, *prices_file;
    int64_t test_pause_hold;
    int native;                         /* --native on|off */
    int64_t native_cache, native_after; /* 0 when not given */
};

static const char *const isolations[] = {"tenant", "job", NULL};
static const char *const on_off[] = {"on", "off", NULL};
static const char *const providers[] = {"none", "tdx", NULL};
static const char *const roles[] = {"all", "worker", "coordinator", "keystore", NULL};
static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
#ifdef SR_TEST_HOOKS
static const char *const tampers[] = {"receipt", "output", NULL};
#endif

static struct sr_opt
opt_str(const char *name, const char **dst, const char *metavar, const char *help)
{
    return (struct sr_opt){
        .name = name, .kind = SR_OPT_STRING, .dst = dst, .metavar = metavar, .help = help};
}

static struct sr_opt
opt_int(const char *name, int64_t *dst, const char *metavar, int64_t max, const char *help)
{
    return (struct sr_opt){.name = name,
                           .kind = SR_OPT_INT,
                           .dst = dst,
                           .metavar = metavar,
                           .help = help,
                           .min = 1,
                           .max = max};
}

/* A rate: 0 (no limit) to SR_HTTP_MAX_RATE requests per minute. */
static struct sr_opt
opt_rate(const char *name, int64_t *dst, const char *help)
{
    return (struct sr_opt){.name = name,
                           .kind = SR_OPT_INT,
                           .dst = dst,
                           .metavar = "N",
                           .help = help,
                           .min = 0,
                           .max = SR_HTTP_MAX_RATE};
}

static struct sr_opt
opt_dur(const char *name, int64_t *dst, const char *help)
{
    return (struct sr_opt){.name = name,
                           .kind = SR_OPT_DURATION,
                           .dst = dst,
                           .metavar = "DURATION",
                           .help = help,
                           .min = 1,
                           .max = INT64_MAX / 4};
}

static struct sr_opt
opt_choice(const char *name, int *dst, const char *metavar, const char *const *choices, bool *seen,
           const char *help)
{
    return (struct sr_opt){.name = name,
                           .kind = SR_OPT_CHOICE,
                           .dst = dst,
                           .metavar = metavar,
                           .help = help,
                           .choices = choices,
                           .seen = seen};
}

static struct sr_opt
opt_list(const char *name, const char **dst, size_t *count, const char *metavar, size_t max,
         const char *help)
{
    return (struct sr_opt){.name = name,
                           .kind = SR_OPT_LIST,
                           .dst = dst,
                           .metavar = metavar,
                           .help = help,
                           .max = (int64_t)max,
                           .count_dst = count};
}

/* sealrund's one option table: parsing and --help both come from it. */
static size_t
table(struct raw *r, struct sr_opt *t)
{
    size_t n = 0;
    t[n++] = opt_choice("--role", &r->role, "all|worker|coordinator|keystore", roles, NULL,
                        "all (default): the whole service in one process; worker: register "
                        "with --coordinator and run its jobs; coordinator: the API, store and "
                        "queue on a PostgreSQL store, jobs run by remote workers "
                        "(docs/workers.md); keystore: holds SECRETS_MASTER_KEY alone and "
                        "releases secrets to allowed workers (docs/keystore.md)");
    t[n++] = opt_str("--coordinator", &r->coordinator, "URL",
                     "--role worker or keystore: the coordinator's URL (http://HOST:PORT)");
    t[n++] = opt_str("--keystore", &r->keystore, "URL",
                     "--role coordinator or worker: the keystore's URL; with --keystore-key");
    t[n++] = opt_str("--keystore-key", &r->keystore_key, "HEX",
                     "the keystore's Ed25519 key (64 hex, as it logs it at start): its answers "
                     "and requests are checked against it");
    t[n++] = opt_str("--coordinator-key", &r->coordinator_key, "HEX",
                     "--role keystore: the coordinator's Ed25519 key (64 hex, its 'worker key' "
                     "at start)");
    t[n++] = opt_list("--allow-measurement", r->allow_meas, &r->nallow_meas, "HEX",
                      SR_KEYSTORE_MAX_ALLOW,
                      "--role keystore: a worker measurement (64 hex) whose workers may receive "
                      "secrets; repeatable; none: nothing is released");
    t[n++] = opt_int("--jobs", &r->worker_jobs, "N", SR_WORKER_JOBS_MAX,
                     "--role worker: jobs it runs at once, each in its own sandbox (default 1, "
                     "at most 16)");
    t[n++] = opt_int("--module-cache-mb", &r->module_cache_mb, "MIB", 1 << 20,
                     "--role worker: bound of its on-disk module cache in DATA_DIR/modules, "
                     "least recently used out (default 256)");
    t[n++] = opt_str("--worker-token", &r->worker_token, "TOKEN",
                     "--role worker: its worker token from 'sealrun worker token create' "
                     "(default: SEALRUN_WORKER_TOKEN, which keeps it out of the process list)");
    t[n++] = opt_choice("--worker-attestation", &r->worker_attestation, "none|tdx", providers, NULL,
                        "what remote workers must register with: none (default) accepts "
                        "software-only workers too; tdx only a TDX quote binding the worker's "
                        "key and measurement");
    t[n++] = opt_str("--listen", &r->listen, "HOST:PORT",
                     "address to listen on (default 127.0.0.1:8080; port 0 picks a free port, "
                     "printed as 'listening on http://HOST:PORT')");
    t[n++] = opt_str("--metrics-listen", &r->metrics_listen, "HOST:PORT",
                     "serve GET /metrics (Prometheus text format, no authentication) on this "
                     "address, and nothing else there; the API never serves it (default: off)");
    t[n++] = opt_str("--data-dir", &r->data_dir, "DIR", "keys and database (default ./var)");
    t[n++] = opt_str("--store", &r->store, "URL",
                     "postgres://... (cluster mode) or sqlite:PATH (default: SEALRUN_STORE, "
                     "else sqlite:DIR/sealrun.db)");
    t[n++] = opt_int("--lease", &r->lease, "S", 3600,
                     "cluster mode: seconds of a running job's lease, renewed every third of "
                     "it; a silent daemon's jobs end INTERRUPTED after it (default 15)");
    t[n++] = (struct sr_opt){.name = "--dev",
                             .kind = SR_OPT_FLAG,
                             .dst = &r->dev,
                             .help = "development only: create missing keys under DIR/keys, "
                                     "and no request rate limits unless --rate-per-token or "
                                     "--rate-per-address is given"};
    t[n++] = opt_choice("--isolation", &r->isolation, "tenant|job", isolations, NULL,
                        "warm processes per owner (default) or one per job");
    t[n++] =
        opt_choice("--js-jit", &r->jit, "on|off", on_off, NULL, "JavaScriptCore JIT (default on)");
    t[n++] = opt_int("--max-running-per-user", &r->max_running, "N", 10000,
                     "running jobs per user before 429 (default 5)");
    t[n++] = opt_int("--max-queued-per-user", &r->max_queued, "N", 100000,
                     "queued async jobs per user before 429 (default 100)");
    t[n++] = (struct sr_opt){.name = "--queue-max-age",
                             .kind = SR_OPT_INT,
                             .dst = &r->queue_age,
                             .metavar = "S",
                             .help = "seconds an async job may wait in the queue; older ones end "
                                     "EXPIRED without running; 0: never (default 3600)",
                             .min = 0,
                             .max = 30ll * 24 * 3600};
    t[n++] = opt_choice("--native", &r->native, "on|off", on_off, NULL,
                        "the native tier for WebAssembly (wasm2c and the C compiler, cached "
                        "under DIR/native; default on where the tools and the sandbox's "
                        "empty root are there)");
    t[n++] = opt_int("--native-cache-max", &r->native_cache, "BYTES", INT64_MAX / 2,
                     "bytes of compiled modules the native tier keeps, least recently used "
                     "out first (default 268435456)");
    t[n++] = opt_int("--native-after", &r->native_after, "N", 1000000,
                     "\"tier\": \"auto\": runs of a module in the interpreter before it is "
                     "compiled in the background (default 3)");
    t[n++] = opt_int("--async-workers", &r->async_workers, "N", 256,
                     "threads running async jobs, owners taken in turn (default 8)");
    t[n++] = opt_int("--storage-max-keys", &r->storage_keys, "N", SR_STORAGE_HARD_MAX_KEYS,
                     "keys per storage namespace (default 1024, at most 10000)");
    t[n++] = opt_int("--storage-max-bytes", &r->storage_bytes, "N", INT64_MAX / 2,
                     "bytes (keys + values) per storage namespace (default 16777216)");
    t[n++] =
        opt_int("--storage-max-namespaces", &r->storage_ns, "N", SR_STORAGE_HARD_MAX_NAMESPACES,
                "storage namespaces per user (default 100, at most 10000)");
    t[n++] = opt_int("--storage-max-owner-bytes", &r->storage_owner_bytes, "N", INT64_MAX / 2,
                     "storage bytes per user, all namespaces (default 67108864)");
    t[n++] = opt_int("--module-quota-bytes", &r->module_bytes, "N", INT64_MAX / 2,
                     "bytes of WebAssembly modules (with their descriptions) a user may keep "
                     "(default 134217728)");
    t[n++] = opt_int("--module-quota-count", &r->module_count, "N", 1000000,
                     "WebAssembly modules a user may keep (default 256)");
    t[n++] = opt_dur("--module-expiry", &r->module_expiry,
                     "drop a user's module no job used for this long (default 90d)");
    t[n++] = opt_dur("--audit-retention", &r->audit_retention,
                     "keep secret audit rows this long (default 30d)");
    t[n++] = opt_str("--sandbox-user", &r->sandbox_user, "UID[-UID]",
                     "as root: uid (and gid) of the sandbox zygote; with a range, each job "
                     "process gets its own uid from the rest of it (default "
                     "2000000000-2000000064)");
    t[n++] = opt_choice("--sandbox-namespaces", &r->namespaces, "on|off", on_off, NULL,
                        "Linux namespaces for the sandbox where the kernel allows them "
                        "(default on)");
    t[n++] = opt_int("--max-connections", &r->max_conn, "N", SR_HTTP_MAX_CONNECTIONS,
                     "open HTTP connections (default 1024; when all are open a new one "
                     "replaces the oldest that never sent a valid token)");
    t[n++] =
        opt_int("--max-connections-per-address", &r->max_conn_addr, "N", SR_HTTP_MAX_CONNECTIONS,
                "open connections from one client address (default 32)");
    t[n++] = opt_int("--header-timeout", &r->header_timeout, "S", SR_HTTP_MAX_TIMEOUT_S,
                     "seconds for a request's line and headers to arrive in full, in total, "
                     "however slowly they trickle (default 10)");
    t[n++] = opt_int("--body-timeout", &r->body_timeout, "S", SR_HTTP_MAX_TIMEOUT_S,
                     "seconds for a request body to arrive in full, and for an answer to be "
                     "taken by the client, in total (default 60)");
    t[n++] = opt_int("--request-threads", &r->request_threads, "N", 4096,
                     "threads running authenticated requests; a synchronous job holds one "
                     "while it runs (default 128)");
    t[n++] = opt_int("--auth-failures-per-minute", &r->auth_failures, "N", 60000,
                     "failed authentications per client address (and in a burst) before 429 "
                     "with Retry-After (default 30)");
    t[n++] = opt_rate("--rate-per-token", &r->rate_token,
                      "requests per minute (and in a burst) per API token before 429 with "
                      "Retry-After; 0: no limit (default 6000; docs/accounts.md)");
    t[n++] = opt_rate("--rate-per-address", &r->rate_addr,
                      "the same per client address, every endpoint (default 12000)");
    t[n++] = opt_str("--rate-limits", &r->rate_file, "FILE",
                     "per-user overrides of --rate-per-token: {\"users\": {\"NAME\": "
                     "{\"per_token\": N}}}");
    t[n++] = opt_str("--budget-user", &r->budget_user, "NAME=N[,...]",
                     "daily budgets of every user: jobs_per_day, gas_js_per_day, "
                     "gas_wasm_per_day, wall_s_per_day, http_requests_per_day (UTC days; "
                     "0 or absent: no limit; docs/accounts.md)");
    t[n++] =
        opt_str("--budget-token", &r->budget_token, "NAME=N[,...]", "the same for every API token");
    t[n++] = opt_str("--budgets", &r->budgets_file, "FILE",
                     "per-user budgets over the defaults: {\"users\": {\"NAME\": {\"user\": "
                     "{...}, \"token\": {...}}}}");
    t[n++] = opt_str("--prices", &r->prices_file, "FILE",
                     "price table in micro-units: {\"base_fee\", \"gas_per_million\": {\"js\", "
                     "\"wasm\"}, \"wall_ms\", \"http_request\"}; jobs then reserve their most "
                     "from the user's balance (default: nothing is charged)");
    t[n++] = opt_choice("--attestation", &r->attestation, "none|tdx", providers, NULL,
                        "quote provider for receipts (default none: software only; tdx: Linux "
                        "configfs-tsm, sealrund stops if it is absent)");
    t[n++] = opt_str("--tsm-root", &r->tsm_root, "PATH",
                     "configfs-tsm report directory (default " SR_ATTEST_TSM_ROOT ")");
    t[n++] = opt_str("--dashboard-dir", &r->dashboard_dir, "DIR",
                     "serve the dashboard (/ui/) from DIR, read at every request, instead of "
                     "the copy built into sealrund (development)");
    t[n++] = opt_list("--http-allow", r->http_allow, &r->nallow, "PATTERN", SR_FETCH_MAX_ALLOW,
                      "outbound HTTP: hosts jobs may reach (host[:port] or *.domain[:port]; "
                      "repeatable; default: every public host a job's http.allow names; "
                      "docs/http.md)");
    t[n++] = opt_list("--http-deny", r->http_deny, &r->ndeny, "PATTERN", SR_FETCH_MAX_ALLOW,
                      "outbound HTTP: hosts jobs may never reach, whatever allows them "
                      "(repeatable)");
    t[n++] = (struct sr_opt){.name = "--http-allow-http",
                             .kind = SR_OPT_FLAG,
                             .dst = &r->http_allow_http,
                             .help = "outbound HTTP: let jobs use plain http:// as well as "
                                     "https://"};
    t[n++] = opt_str("--http-ca-file", &r->http_ca_file, "FILE",
                     "outbound HTTP: PEM certificates jobs' https requests trust instead of "
                     "the system's CAs");
    t[n++] = opt_list("--http-allow-private", r->http_private, &r->nprivate, "ADDR[/BITS]",
                      SR_FETCH_MAX_PRIVATE,
                      "TESTS AND DEVELOPMENT ONLY: let jobs reach this loopback or private "
                      "address (repeatable), which the address guard refuses");
#ifdef SR_TEST_HOOKS
    t[n++] = opt_choice("--test-tamper", &r->tamper, "receipt|output", tampers, &r->has_tamper,
                        "test builds only: GET /jobs/{id} answers the job with its receipt (or "
                        "output) altered after signing");
    t[n++] = opt_int("--test-pause-after-hold", &r->test_pause_hold, "MS", 600000,
                     "test builds only: each job sleeps this long after its reservation is "
                     "taken, before it runs");
#endif
    t[n++] = opt_choice("--log-level", &r->log_level, "LEVEL", levels, &r->has_log_level,
                        "debug, info, warn or error (default info)");
    t[n++] = (struct sr_opt){
        .name = "--version", .kind = SR_OPT_FLAG, .dst = &r->version, .help = "print the version"};
    t[n++] = (struct sr_opt){
        .name = "--help", .kind = SR_OPT_FLAG, .dst = &r->help, .help = "print this help"};
    return n;
}

#define MAX_OPTS 72

static void
print_help(const struct sr_opt *t, size_t n)
{
    sr_buf b;
    sr_buf_init(&b, 1u << 20);
    fputs("usage: sealrund [options]\n"
          "\n"
          "Runs the sealrun service: HTTP API, store, and the job sandbox.\n"
          "Options are spelled --name VALUE or --name=VALUE.\n"
          "\n"
          "Options:\n",
          stdout);
    if (sr_opts_help(t, n, &b, NULL) == SR_OK)
        fwrite(b.data, 1, b.len, stdout);
    sr_buf_fini(&b);
    fputs("\n"
          "Environment: COMPUTE_MASTER_KEY, SECRETS_MASTER_KEY (hex or base64, >= 32 bytes),\n"
          "SEALRUN_RESULT_TTL (how long finished jobs are kept: 24h, 90m, 45s; default 24h),\n"
          "SEALRUN_STORE (as --store), SEALRUN_WORKER_TOKEN (as --worker-token).\n",
          stdout);
}

/* 64 lower-case hex characters into 32 bytes. */
static bool
parse_key_hex(const char *s, uint8_t out[32])
{
    return strlen(s) == 64 && sr_is_lower_hex(s, 64) &&
           sr_hex_decode(s, 64, out, 32, NULL) == SR_OK;
}

/* Checks and applies what table() parsed. */
static int
apply(const struct raw *r, struct opts *o)
{
    sr_err e = {0};
    o->role = r->role == 1   ? ROLE_WORKER
              : r->role == 2 ? ROLE_COORDINATOR
              : r->role == 3 ? ROLE_KEYSTORE
                             : ROLE_ALL;
    if (!r->keystore != !r->keystore_key)
        return die_usage("--keystore URL and --keystore-key HEX go together");
    if (r->keystore && o->role != ROLE_COORDINATOR && o->role != ROLE_WORKER)
        return die_usage("--keystore goes with --role coordinator or --role worker");
    if (r->keystore_key && !parse_key_hex(r->keystore_key, o->keystore_pk))
        return die_usage("--keystore-key must be 64 lower-case hex characters (the keystore's "
                         "key as it logs it at start)");
    o->keystore = r->keystore;
    if (o->role != ROLE_KEYSTORE && (r->coordinator_key || r->nallow_meas))
        return die_usage("--coordinator-key and --allow-measurement go with --role keystore");
    if (o->role == ROLE_KEYSTORE) {
        o->coordinator = r->coordinator;
        if (!o->coordinator || !r->coordinator_key)
            return die_usage("--role keystore needs --coordinator URL and --coordinator-key HEX");
        if (!parse_key_hex(r->coordinator_key, o->coordinator_pk))
            return die_usage("--coordinator-key must be 64 lower-case hex characters (the "
                             "coordinator's 'worker key' as it logs it at start)");
        if (r->store || r->metrics_listen || r->dashboard_dir || r->worker_token ||
            r->module_cache_mb || r->worker_jobs)
            return die_usage("--role keystore holds no store and runs no jobs: --store, "
                             "--metrics-listen, --dashboard-dir, --worker-token, --jobs and "
                             "--module-cache-mb do not apply");
        memcpy(o->allow, r->allow_meas, sizeof(o->allow));
        o->nallow_meas = r->nallow_meas;
    } else
        o->eng.coordinator = o->role == ROLE_COORDINATOR;
    o->workers_require_tdx = r->worker_attestation == 1;
    if (o->role == ROLE_WORKER) {
        const char *env_tok = getenv("SEALRUN_WORKER_TOKEN");
        o->coordinator = r->coordinator;
        o->worker_token = r->worker_token ? r->worker_token : env_tok;
        if (!o->coordinator)
            return die_usage("--role worker needs --coordinator URL");
        if (!o->worker_token || !*o->worker_token)
            return die_usage("--role worker needs --worker-token TOKEN (or SEALRUN_WORKER_TOKEN)");
        if (r->store || r->listen || r->metrics_listen || r->dashboard_dir)
            return die_usage("--role worker holds no store and serves no API: --store, --listen, "
                             "--metrics-listen and --dashboard-dir go to the coordinator");
        o->module_cache_bytes = (uint64_t)r->module_cache_mb * 1024 * 1024;
        o->worker_jobs = (unsigned)r->worker_jobs;
    } else if (o->role != ROLE_KEYSTORE &&
               (r->coordinator || r->worker_token || r->module_cache_mb || r->worker_jobs)) {
        return die_usage("--coordinator, --worker-token, --jobs and --module-cache-mb go with "
                         "--role worker");
    }
    if (r->listen && parse_listen("--listen", r->listen, o->host, &o->port, &e) != SR_OK)
        return die_usage(e.msg);
    if (r->metrics_listen) {
        if (parse_listen("--metrics-listen", r->metrics_listen, o->metrics_host, &o->metrics_port,
                         &e) != SR_OK)
            return die_usage(e.msg);
        o->has_metrics = true;
    }
    if (r->data_dir)
        o->data_dir = r->data_dir;
    o->store = r->store;
    memcpy(o->http_allow, r->http_allow, sizeof(o->http_allow));
    memcpy(o->http_deny, r->http_deny, sizeof(o->http_deny));
    memcpy(o->http_private, r->http_private, sizeof(o->http_private));
    o->eng.http.nallow = r->nallow;
    o->eng.http.ndeny = r->ndeny;
    o->eng.http.nprivate = r->nprivate;
    o->eng.http.allow_http = r->http_allow_http;
    if (r->http_ca_file && !*r->http_ca_file)
        return die_usage("--http-ca-file needs a file, got ''");
    o->eng.http.ca_file = r->http_ca_file;
    o->dev = r->dev;
    o->eng.isolation = r->isolation == 1 ? SR_ISOLATION_JOB : SR_ISOLATION_TENANT;
    o->eng.js_no_jit = r->jit == 1;
    o->eng.sandbox_no_namespaces = r->namespaces == 1;
    o->eng.max_running_per_user = (unsigned)r->max_running;
    o->eng.lease_ms = r->lease * 1000;
    o->eng.max_queued_per_user = (unsigned)r->max_queued;
    o->eng.queue_max_age_ms = r->queue_age < 0 ? 0 : r->queue_age ? r->queue_age * 1000 : -1;
    o->eng.async_workers = (unsigned)r->async_workers;
    o->native_off = r->native == 1;
    o->eng.native_cache_max = (uint64_t)r->native_cache;
    o->eng.native_after = (unsigned)r->native_after;
    o->eng.storage_max_keys = (uint64_t)r->storage_keys;
    o->eng.storage_max_bytes = (uint64_t)r->storage_bytes;
    o->eng.storage_max_namespaces = (uint64_t)r->storage_ns;
    o->eng.storage_max_owner_bytes = (uint64_t)r->storage_owner_bytes;
    o->eng.module_quota_bytes = (uint64_t)r->module_bytes;
    o->eng.module_quota_count = (uint64_t)r->module_count;
    o->eng.module_expiry_ms = r->module_expiry;
    o->eng.audit_retention_ms = r->audit_retention;
    o->http.max_connections = (unsigned)r->max_conn;
    o->http.max_connections_per_addr = (unsigned)r->max_conn_addr;
    o->http.header_timeout_s = (unsigned)r->header_timeout;
    o->http.body_timeout_s = (unsigned)r->body_timeout;
    o->http.request_threads = (unsigned)r->request_threads;
    o->http.auth_failures_per_min = (unsigned)r->auth_failures;
    if (r->sandbox_user && parse_sandbox_user(r->sandbox_user, &o->eng, &e) != SR_OK)
        return die_usage(e.msg);
    if (sr_attest_provider_parse(providers[r->attestation], &o->attestation, &e) != SR_OK)
        return die_usage(e.msg);
    if (r->tsm_root && !*r->tsm_root)
        return die_usage("--tsm-root needs a directory, got ''");
    o->tsm_root = r->tsm_root;
    if (r->dashboard_dir && !*r->dashboard_dir)
        return die_usage("--dashboard-dir needs a directory, got ''");
    o->dashboard_dir = r->dashboard_dir;
    /* --dev (make serve, the benchmarks, the tests) has no request rate
     * limits unless they are asked for: they guard a shared service */
    o->rate_per_token = r->rate_token < 0 && r->dev ? 0 : r->rate_token;
    o->rate_per_address = r->rate_addr < 0 && r->dev ? 0 : r->rate_addr;
    if (r->rate_file && !*r->rate_file)
        return die_usage("--rate-limits needs a file, got ''");
    o->rate_file = r->rate_file;
    if (r->budget_user || r->budget_token || r->budgets_file || r->prices_file) {
        if (sr_money_new(&o->money, &e) != SR_OK ||
            (r->budget_user &&
             sr_money_set_budgets(o->money, false, r->budget_user, &e) != SR_OK) ||
            (r->budget_token &&
             sr_money_set_budgets(o->money, true, r->budget_token, &e) != SR_OK) ||
            (r->budgets_file && sr_money_load_budgets(o->money, r->budgets_file, &e) != SR_OK) ||
            (r->prices_file && sr_money_load_prices(o->money, r->prices_file, &e) != SR_OK)) {
            sr_money_free(o->money);
            o->money = NULL;
            return die_usage(e.msg);
        }
        o->eng.money = o->money;
    }
#ifdef SR_TEST_HOOKS
    o->eng.test_pause_after_hold_ms = (uint32_t)r->test_pause_hold;
    if (r->has_tamper)
        o->tamper = r->tamper == 0 ? SR_API_TAMPER_RECEIPT : SR_API_TAMPER_OUTPUT;
#endif
    if (r->has_log_level)
        sr_log_set_level((enum sr_log_level)r->log_level);
    return 0;
}

/* 0 to go on; otherwise the exit code (after --help, --version or an
 * error). */
static int
parse_args(int argc, char **argv, struct opts *o)
{
    struct raw r = {.rate_token = -1, .rate_addr = -1, .queue_age = -1};
    struct sr_opt t[MAX_OPTS];
    size_t n = table(&r, t);
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(t, n);
            return -1;
        }
    }
    const char *pos[1];
    size_t npos = 0;
    sr_err e = {0};
    if (sr_opts_parse(t, n, argc, argv, 1, pos, 0, &npos, &e) != SR_OK)
        return die_usage(e.msg);
    if (r.version) {
        printf("sealrund %s\n", SR_VERSION);
        return -1;
    }
    return apply(&r, o);
}

/* Moves the key variables into a pipe and wipes them from the environment. */
static int
stash_keys(void)
{
    static const char *const names[] = {"COMPUTE_MASTER_KEY", "SECRETS_MASTER_KEY"};
    int p[2];
    if (pipe(p) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        char *v = getenv(names[i]);
        if (!v)
            continue;
        size_t len = strlen(v);
        char hdr[64];
        int hn = snprintf(hdr, sizeof(hdr), "%s %zu\n", names[i], len);
        if (write(p[1], hdr, (size_t)hn) != hn || write(p[1], v, len) != (ssize_t)len)
            return -1;
        memset(v, 0, len); /* the bytes in the environment block itself */
        unsetenv(names[i]);
    }
    close(p[1]);
    return p[0];
}

static void
unstash_keys(int fd)
{
    FILE *f = fdopen(fd, "r");
    if (!f)
        return;
    char name[32];
    size_t len;
    while (fscanf(f, "%31s %zu", name, &len) == 2 && fgetc(f) == '\n' && len < 65536) {
        char *v = calloc(1, len + 1);
        if (!v || fread(v, 1, len, f) != len) {
            free(v);
            break;
        }
        setenv(name, v, 1);
        memset(v, 0, len);
        free(v);
    }
    fclose(f);
}

static void
wipe_key_env_compute(void)
{
    char *v = getenv("COMPUTE_MASTER_KEY");
    if (v)
        memset(v, 0, strlen(v));
    unsetenv("COMPUTE_MASTER_KEY");
}

static void
wipe_key_env(void)
{
    static const char *const names[] = {"COMPUTE_MASTER_KEY", "SECRETS_MASTER_KEY"};
    for (size_t i = 0; i < 2; i++) {
        char *v = getenv(names[i]);
        if (v)
            memset(v, 0, strlen(v));
        unsetenv(names[i]);
    }
}

static sr_status
load_ttl(struct opts *o, sr_err *err)
{
    const char *ttl = getenv("SEALRUN_RESULT_TTL");
    if (!ttl)
        return SR_OK;
    int64_t ms;
    if (sr_parse_duration_ms(ttl, &ms, err) != SR_OK || ms <= 0)
        return sr_err_set(err, SR_EINVAL,
                          "SEALRUN_RESULT_TTL must be a positive duration like 24h, 90m, 45s; "
                          "got '%.32s'",
                          ttl);
    o->eng.result_ttl_ms = ms;
    return SR_OK;
}

/* Everything that changes how a job runs, hashed into the measurement and
 * shown by GET /attestation (docs/receipts.md, "Measurement"). */
static json_t *
measurement_config(sr_engine *eng)
{
    const struct sr_engine_config *cfg = sr_engine_config(eng);
    const sr_http_policy *http = sr_engine_http_policy(eng);
    /* the native tier's compiler (wasm2c, cc, level, glue), null when the
     * tier is off: what made any native code a job ran (docs/wasm.md) */
    json_t *ni = sr_engine_native_info(eng);
    const char *compiler = json_string_value(json_object_get(ni, "compiler"));
    json_t *native = compiler ? json_string(compiler) : json_null();
    json_decref(ni);
    json_t *limits = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}", "timeout_default_s",
        SR_DEFAULT_TIMEOUT_S, "timeout_max_s", SR_MAX_TIMEOUT_S, "memory_default_mb",
        SR_DEFAULT_MEMORY_MB, "memory_max_mb", SR_MAX_MEMORY_MB, "fuel_default",
        (json_int_t)SR_DEFAULT_FUEL, "fuel_max", (json_int_t)SR_MAX_FUEL, "script_bytes",
        (json_int_t)SR_MAX_SCRIPT, "module_bytes", (json_int_t)SR_MAX_MODULE, "input_bytes",
        (json_int_t)SR_MAX_INPUT, "output_bytes", (json_int_t)SR_MAX_OUTPUT, "log_entries",
        (json_int_t)SR_MAX_LOG_ENTRIES, "log_entry_bytes", SR_MAX_LOG_ENTRY, "random_bytes_max",
        SR_MAX_RANDOM_BYTES);
    /* which hosts jobs may reach, and whether a test switch is on (docs/http.md) */
    json_t *h = sr_http_policy_to_json(http);
    if (!limits || !h || !native) {
        json_decref(limits);
        json_decref(h);
        json_decref(native);
        return NULL;
    }
    return json_pack(
        "{s:s, s:{s:{s:s, s:b}, s:{s:s, s:s, s:o}}, s:s, s:o, s:o}", "sealrun", SR_VERSION,
        "engines", "js", "engine", sr_js_engine_version(), "jit", !cfg->js_no_jit, "wasm", "engine",
        "sealrun-wasm " SR_VERSION, "wasi", "preview1", "native", native, "isolation",
        cfg->isolation == SR_ISOLATION_JOB ? "job" : "tenant", "limits", limits, "http", h);
}

/* Loads (or at first start creates) the worker key, measures this sealrund,
 * takes the quote and hands all of it to the engine (before it starts, so
 * interrupted jobs are recovered with it in place). */
static sr_status
identity_setup(const struct opts *o, sr_engine *eng, struct identity *id, sr_err *err)
{
    bool created = false;
    sr_status rc = sr_worker_key_load(o->data_dir, true, &created, &id->key, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "loading the worker key");
    uint8_t pk[SR_ED25519_PK_LEN], exe[32], meas[SR_MEASUREMENT_LEN];
    sr_worker_key_public(id->key, pk);
    json_t *cfg = measurement_config(eng);
    if (!cfg)
        return sr_err_set(err, SR_ENOMEM, "out of memory building the measurement config");
    rc = sr_measurement_file_sha256("/proc/self/exe", exe, err);
    if (rc == SR_OK)
        rc = sr_measurement_combine(exe, cfg, meas, err);
    if (rc == SR_OK)
        rc = sr_attest_quote_new(
            &(struct sr_attest_config){.provider = o->attestation, .tsm_root = o->tsm_root}, pk,
            meas, &id->quote, err);
    json_t *doc = NULL;
    if (rc == SR_OK)
        rc = sr_attest_document(id->quote, pk, meas, exe, cfg, &doc, err);
    json_decref(cfg);
    if (rc != SR_OK)
        return rc;
    sr_engine_set_attestation(eng, id->key, id->quote, meas, doc);
    memcpy(id->measurement, meas, sizeof(meas));
    json_decref(doc);
    char pkh[2 * SR_ED25519_PK_LEN + 1], mh[2 * SR_MEASUREMENT_LEN + 1];
    sr_hex_encode(pk, sizeof(pk), pkh);
    sr_hex_encode(meas, sizeof(meas), mh);
    sr_log(SR_LOG_INFO, "sealrund", "%s worker key %s; measurement %s; attestation %s",
           created ? "created a new" : "loaded", pkh, mh, sr_attest_provider_name(o->attestation));
    return SR_OK;
}

/* Every HTTP connection is a descriptor: raise the soft limit on open files
 * to what --max-connections needs (its slack of 1/8 + 16 for connections
 * being replaced, plus 512 for the store, job channels and logs) when the
 * hard limit allows, and say so when it does not. */
static void
room_for_connections(const struct sr_server_config *h)
{
    unsigned maxc = h->max_connections ? h->max_connections : SR_HTTP_DEFAULT_CONNECTIONS;
    rlim_t want = (rlim_t)maxc + maxc / 8 + 16 + 512;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        sr_log(SR_LOG_WARN, "sealrund",
               "open files are limited to %llu; --max-connections %u needs about %llu (raise "
               "ulimit -n)",
               (unsigned long long)rl.rlim_cur, maxc, (unsigned long long)want);
}

/* The metrics listener: its own API object that answers GET /metrics and
 * nothing else, on its own small server. */
static sr_status
start_metrics(const struct opts *o, sr_engine *eng, sr_store *store, sr_api **api, sr_server **srv,
              sr_err *err)
{
    struct sr_server_config c = {
        .host = o->metrics_host,
        .port = o->metrics_port,
        .max_connections = 64,
        .max_connections_per_addr = 16,
        .request_threads = 2,
    };
    sr_status rc = sr_api_new(eng, store, api, err);
    if (rc != SR_OK)
        return rc;
    sr_api_set_metrics_only(*api);
    rc = sr_server_new(&c, *api, srv, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "--metrics-listen");
    bool v6 = strchr(o->metrics_host, ':') != NULL;
    fprintf(stderr, "metrics on http://%s%s%s:%u/metrics\n", v6 ? "[" : "", o->metrics_host,
            v6 ? "]" : "", sr_server_port(*srv));
    return SR_OK;
}

static int
serve(struct opts *o, sr_engine *eng, sr_store *store, const struct identity *id,
      const sigset_t *stop)
{
    sr_api *api = NULL, *mapi = NULL;
    sr_server *srv = NULL, *msrv = NULL;
    sr_err e = {0};
    int code = 1;
    o->http.host = o->host;
    o->http.port = o->port;
    room_for_connections(&o->http);
    unsigned per_token =
        o->rate_per_token < 0 ? SR_HTTP_DEFAULT_RATE_PER_TOKEN : (unsigned)o->rate_per_token;
    unsigned per_addr =
        o->rate_per_address < 0 ? SR_HTTP_DEFAULT_RATE_PER_ADDRESS : (unsigned)o->rate_per_address;
    if (sr_api_new(eng, store, &api, &e) == SR_OK) {
        sr_api_set_worker_attestation(api, o->workers_require_tdx);
        if (o->keystore)
            sr_api_set_keystore_peer(api, o->keystore_pk, id->key);
    }
    if (!api ||
        (o->dashboard_dir && sr_api_set_dashboard_dir(api, o->dashboard_dir, &e) != SR_OK) ||
        sr_api_set_rate_limits(api, per_token, per_addr, o->rate_file, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
#ifdef SR_TEST_HOOKS
    if (o->tamper != SR_API_TAMPER_NONE) {
        sr_api_set_test_tamper(api, o->tamper);
        sr_log(SR_LOG_WARN, "sealrund", "TEST BUILD: --test-tamper %s: job answers are altered",
               o->tamper == SR_API_TAMPER_RECEIPT ? "receipt" : "output");
    }
#endif
    if (sr_server_new(&o->http, api, &srv, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    if (o->has_metrics && start_metrics(o, eng, store, &mapi, &msrv, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    bool v6 = strchr(o->host, ':') != NULL;
    fprintf(stderr, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", o->host, v6 ? "]" : "",
            sr_server_port(srv));
    fflush(stderr);
    int sig = 0;
    sigwait(stop, &sig);
    sr_log(SR_LOG_INFO, "sealrund", "stopping on signal %d", sig);
    sr_engine_worker_polls_close(eng); /* workers' long polls end now, not in 30 s */
    code = 0;
out:
    sr_server_free(msrv);
    sr_api_free(mapi);
    sr_server_free(srv);
    sr_api_free(api);
    return code;
}

/* --role worker: the signal thread stops the worker loop. */
struct worker_run {
    sr_worker *w;
    const sigset_t *stop;
    bool done; /* the worker loop ended by itself (set before the thread is signalled) */
};

static void *
worker_signals(void *arg)
{
    struct worker_run *r = arg;
    int sig = 0;
    sigwait(r->stop, &sig);
    if (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
        sr_log(SR_LOG_INFO, "sealrund", "stopping on signal %d", sig);
    sr_worker_stop(r->w);
    return NULL;
}

static void
worker_ready(void *arg, const char *id, const char *state)
{
    const struct opts *o = arg;
    fprintf(stderr, "worker %s registered with %s (%s)\n", id, o->coordinator, state);
    fflush(stderr);
}

/* Registers with the coordinator and keeps in touch until a signal, or
 * until the coordinator refuses it for good (revoked, another key). */
static int
run_worker(struct opts *o, sr_engine *eng, const struct identity *id, const sigset_t *stop)
{
    sr_err e = {0};
    sr_worker *w = NULL;
    const struct sr_worker_config cfg = {.eng = eng,
                                         .data_dir = o->data_dir,
                                         .module_cache_bytes = o->module_cache_bytes,
                                         .coordinator = o->coordinator,
                                         .token = o->worker_token,
                                         .key = id->key,
                                         .quote = id->quote,
                                         .measurement = id->measurement,
                                         .version = SR_VERSION,
                                         .keystore = o->keystore,
                                         .keystore_pk = o->keystore ? o->keystore_pk : NULL,
                                         .jobs = o->worker_jobs};
    if (sr_http_global_init(&e) != SR_OK || sr_worker_new(&cfg, &w, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        return 1;
    }
    struct worker_run r = {w, stop, false};
    pthread_t th;
    if (pthread_create(&th, NULL, worker_signals, &r) != 0) {
        sr_worker_free(w);
        fprintf(stderr, "sealrund: error: cannot start the signal thread\n");
        return 1;
    }
    sr_status rc = sr_worker_run(w, worker_ready, o, &e);
    __atomic_store_n(&r.done, true, __ATOMIC_RELEASE);
    pthread_kill(th, SIGTERM); /* ends the signal thread's sigwait (blocked everywhere) */
    pthread_join(th, NULL);
    sr_worker_free(w);
    if (rc != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* The coordinator's side of its keystore: the peer it calls (its own key
 * set once loaded) bound into the engine's keystore ops. */
struct ks_client {
    struct sr_keystore_peer peer;
    struct sr_engine_keystore ops;
};

static sr_status
ks_pubkey(void *arg, const char *owner, char **out, sr_err *err)
{
    const struct ks_client *c = arg;
    return sr_keystore_pubkey(&c->peer, owner, out, err);
}

static sr_status
ks_seal(void *arg, const char *owner, const char *name, uint64_t version, const char *sealed,
        uint8_t **blob, size_t *blob_len, sr_err *err)
{
    const struct ks_client *c = arg;
    return sr_keystore_seal(&c->peer, owner, name, version, sealed, blob, blob_len, err);
}

static sr_status
ks_generate(void *arg, const char *owner, const char *name, uint64_t version, const char *kind,
            uint8_t **blob, size_t *blob_len, char pub_hex[131], sr_err *err)
{
    const struct ks_client *c = arg;
    return sr_keystore_generate(&c->peer, owner, name, version, kind, blob, blob_len, pub_hex, err);
}

/* A coordinator with --keystore holds no secrets master: refuses one in
 * its environment or data directory, naming both. */
static sr_status
no_secrets_master(const struct opts *o, sr_err *err)
{
    char path[4200];
    struct stat st;
    (void)snprintf(path, sizeof(path), "%s/keys/secrets.key", o->data_dir);
    const char *env = getenv("SECRETS_MASTER_KEY");
    if (env)
        return sr_err_set(err, SR_EINVAL,
                          "SECRETS_MASTER_KEY is set and --keystore is given: a coordinator with "
                          "a keystore must not hold the secrets master key; give it to the "
                          "keystore (sealrund --role keystore) and unset it here");
    if (stat(path, &st) == 0)
        return sr_err_set(err, SR_EINVAL,
                          "'%s' exists and --keystore is given: a coordinator with a keystore "
                          "must not hold the secrets master key; move it to the keystore's "
                          "data directory",
                          path);
    return SR_OK;
}

/* The storage subkeys from the keystore, retried while it cannot be
 * reached (up to 60 s: the keystore may be starting too). */
static sr_status
storage_keys(const struct ks_client *c, sr_keys *keys, sr_err *err)
{
    int64_t until = sr_mono_us() / 1000 + 60000, backoff = 250;
    for (;;) {
        sr_status rc = sr_keystore_storage_keys(&c->peer, keys, err);
        if (rc != SR_EIO || sr_mono_us() / 1000 > until)
            return rc == SR_OK ? rc : sr_err_wrap(err, "asking the keystore for the storage keys");
        sr_log(SR_LOG_WARN, "sealrund", "keystore not reachable yet (retrying): %s", err->msg);
        struct timespec ts = {.tv_sec = backoff / 1000, .tv_nsec = (backoff % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > 4000 ? 4000 : backoff * 2;
    }
}

/* --role keystore: the secrets master, its own key, and a listener that
 * serves the keystore's routes alone until a signal. */
static int
run_keystore(struct opts *o, const sigset_t *stop)
{
    sr_err e = {0};
    sr_keys *keys = NULL;
    sr_worker_key *key = NULL;
    sr_keystore *ks = NULL;
    sr_api *api = NULL;
    sr_server *srv = NULL;
    bool created = false, kcreated = false;
    int code = 1;
    wipe_key_env_compute(); /* not needed here: wiped unread */
    sr_status rc = sr_crypto_init(&e);
    if (rc == SR_OK)
        rc = sr_keys_load_only(o->data_dir, o->dev, SR_KEYS_SECRETS, &created, &keys, &e);
    wipe_key_env();
    if (rc == SR_OK)
        rc = sr_worker_key_load(o->data_dir, true, &kcreated, &key, &e);
    if (rc == SR_OK)
        rc = sr_http_global_init(&e);
    const struct sr_keystore_config kc = {.keys = keys,
                                          .key = key,
                                          .coordinator = o->coordinator,
                                          .coordinator_pk = o->coordinator_pk,
                                          .allow = o->allow,
                                          .nallow = o->nallow_meas};
    if (rc == SR_OK)
        rc = sr_keystore_new(&kc, &ks, &e);
    if (rc == SR_OK)
        rc = sr_api_new(NULL, NULL, &api, &e);
    if (rc != SR_OK)
        goto out;
    sr_api_set_keystore(api, ks);
    uint8_t pk[SR_ED25519_PK_LEN];
    char pkh[2 * SR_ED25519_PK_LEN + 1];
    sr_worker_key_public(key, pk);
    sr_hex_encode(pk, sizeof(pk), pkh);
    if (created)
        sr_log(SR_LOG_WARN, "sealrund",
               "DEV MODE: created a new secrets master key under '%s/keys'; never use it in "
               "production",
               o->data_dir);
    sr_log(SR_LOG_INFO, "sealrund", "role keystore: %s keystore key %s; coordinator %s",
           kcreated ? "created a new" : "loaded", pkh, o->coordinator);
    if (!o->nallow_meas)
        sr_log(SR_LOG_WARN, "sealrund",
               "the allowlist is empty (no --allow-measurement): no secret is released to any "
               "worker");
    for (size_t i = 0; i < o->nallow_meas; i++)
        sr_log(SR_LOG_INFO, "sealrund", "allowed worker measurement %s", o->allow[i]);
    o->http.host = o->host;
    o->http.port = o->port;
    if (!o->http.max_connections)
        o->http.max_connections = 64;
    if (!o->http.request_threads)
        o->http.request_threads = 4;
    rc = sr_server_new(&o->http, api, &srv, &e);
    if (rc != SR_OK)
        goto out;
    bool v6 = strchr(o->host, ':') != NULL;
    fprintf(stderr, "keystore key %s\nlistening on http://%s%s%s:%u\n", pkh, v6 ? "[" : "", o->host,
            v6 ? "]" : "", sr_server_port(srv));
    fflush(stderr);
    int sig = 0;
    sigwait(stop, &sig);
    sr_log(SR_LOG_INFO, "sealrund", "stopping on signal %d", sig);
    code = 0;
out:
    if (rc != SR_OK)
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
    sr_server_free(srv);
    sr_api_free(api);
    sr_keystore_free(ks);
    sr_worker_key_free(key);
    sr_keys_free(keys);
    return code;
}

int
main(int argc, char **argv)
{
    struct opts o = {.host = "127.0.0.1", .port = 8080, .data_dir = "var"};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    o.eng.http.allow = o.http_allow;
    o.eng.http.deny = o.http_deny;
    o.eng.http.private_nets = o.http_private;
    sr_err e = {0};
    if (load_ttl(&o, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT and SIGTERM are blocked in every thread (the engine starts
     * threads from sr_engine_new on: the native tier's compiler) and taken
     * by sigwait alone: delivered to a thread that did not block them, they
     * would end the process at once, without its orderly stop. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    /* One daemon per data directory: a second one would fail the first's
     * running jobs as INTERRUPTED and race it on every write. */
    int lockfd = -1;
    if (mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "sealrund: error: cannot create data directory '%s': %s\n", o.data_dir,
                strerror(errno));
        return 1;
    }
    if (sr_datadir_lock(o.data_dir, &lockfd, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        return 1;
    }
    if (o.role == ROLE_KEYSTORE) {
        int kc = run_keystore(&o, &stop);
        (void)close(lockfd);
        return kc;
    }
    struct ks_client ksc = {0};
    if (o.keystore) {
        if (o.role == ROLE_COORDINATOR && no_secrets_master(&o, &e) != SR_OK) {
            fprintf(stderr, "sealrund: error: %s\n", e.msg);
            (void)close(lockfd);
            return 2;
        }
        ksc.peer = (struct sr_keystore_peer){
            .url = o.keystore, .pinned = o.keystore_pk, .name = "keystore"};
        ksc.ops = (struct sr_engine_keystore){
            .pubkey = ks_pubkey, .seal = ks_seal, .generate = ks_generate, .arg = &ksc};
        if (o.role == ROLE_COORDINATOR)
            o.eng.keystore = &ksc.ops;
    }
    char native_dir[4096];
    if (!o.native_off) {
        (void)snprintf(native_dir, sizeof(native_dir), "%s/native", o.data_dir);
        o.eng.native_cache_dir = native_dir;
    }
    int keyfd = stash_keys();
    sr_engine *eng = NULL;
    sr_keys *keys = NULL;
    sr_store *store = NULL;
    struct identity id = {0};
    int code = 1;
    if (keyfd < 0 || sr_engine_new(&o.eng, &eng, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", keyfd < 0 ? "cannot create a pipe" : e.msg);
        goto out;
    }
    unstash_keys(keyfd);
    struct sr_sandbox_protections prot;
    char line[512];
    sr_engine_sandbox_protections(eng, &prot);
    sr_log(SR_LOG_INFO, "sandbox", "%s",
           sr_sandbox_protections_describe(&prot, line, sizeof(line)));
    bool created = false;
    char db[4096];
    if (o.role == ROLE_WORKER) {
        /* no master key and no store: the coordinator keeps both */
        wipe_key_env();
        if (sr_crypto_init(&e) != SR_OK || identity_setup(&o, eng, &id, &e) != SR_OK) {
            fprintf(stderr, "sealrund: error: %s\n", e.msg);
            goto out;
        }
        /* a store-less engine: it runs what the coordinator hands out */
        if (sr_engine_start(eng, NULL, NULL, &e) != SR_OK) {
            fprintf(stderr, "sealrund: error: %s\n", e.msg);
            goto out;
        }
        sr_log(SR_LOG_INFO, "sealrund", "role worker: coordinator %s; no store, no master key",
               o.coordinator);
        code = run_worker(&o, eng, &id, &stop);
        goto out;
    }
    const char *env_store = getenv("SEALRUN_STORE");
    if (o.store)
        (void)snprintf(db, sizeof(db), "%s", o.store);
    else if (env_store && *env_store)
        (void)snprintf(db, sizeof(db), "%s", env_store);
    else
        (void)snprintf(db, sizeof(db), "sqlite:%s/sealrun.db", o.data_dir);
    if (sr_crypto_init(&e) != SR_OK ||
        sr_keys_load_only(o.data_dir, o.dev,
                          o.eng.keystore ? SR_KEYS_COMPUTE : SR_KEYS_COMPUTE | SR_KEYS_SECRETS,
                          &created, &keys, &e) != SR_OK ||
        sr_store_open(db, keys, &store, &e) != SR_OK) {
        wipe_key_env();
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    wipe_key_env();
    sr_log(SR_LOG_INFO, "sealrund", "store: %s, schema version %d", sr_store_backend(store),
           sr_store_schema_version(store));
    if (created)
        sr_log(SR_LOG_WARN, "sealrund",
               "DEV MODE: created new master keys under '%s/keys'; never use these in production",
               o.data_dir);
    if (identity_setup(&o, eng, &id, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    if (o.eng.keystore) {
        /* the store's job storage is encrypted under subkeys of the secrets
         * master: the keystore gives them, sealed to this key */
        ksc.peer.key = id.key;
        if (sr_http_global_init(&e) != SR_OK || storage_keys(&ksc, keys, &e) != SR_OK) {
            fprintf(stderr, "sealrund: error: %s\n", e.msg);
            goto out;
        }
        sr_log(SR_LOG_INFO, "sealrund",
               "keystore %s: no secrets master key here; secrets are sealed and released by the "
               "keystore",
               o.keystore);
    }
    if (sr_engine_start(eng, store, keys, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    code = serve(&o, eng, store, &id, &stop);
out:
    sr_engine_free(eng);
    sr_attest_quote_free(id.quote);
    sr_worker_key_free(id.key);
    sr_store_close(store);
    sr_keys_free(keys);
    sr_money_free(o.money);
    (void)close(lockfd);
    return code;
}
