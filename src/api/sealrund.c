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
#include <unistd.h>
#include "sealrun/sr_api.h"
#include "sealrun/sr_attest.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_js.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

static const char usage[] =
    "usage: sealrund [--listen HOST:PORT] [--data-dir DIR] [--dev] [options]\n"
    "\n"
    "Runs the sealrun service: HTTP API, store, and the job sandbox.\n"
    "\n"
    "  --listen HOST:PORT        address to listen on (default 127.0.0.1:8080; port 0 picks\n"
    "                            a free port, printed as 'listening on http://HOST:PORT')\n"
    "  --data-dir DIR            keys, database (default ./var)\n"
    "  --store URL               postgres://... (cluster mode) or sqlite:PATH\n"
    "  --lease S                 cluster mode: seconds of a running job's lease (15)\n"
    "  --dev                     create missing keys under DIR/keys (development only)\n"
    "  --isolation=tenant|job    warm processes per owner (default) or one per job\n"
    "  --js-jit=on|off           JavaScriptCore JIT (default on)\n"
    "  --max-running-per-user N  running jobs per user before 429 (default 5)\n"
    "  --max-queued-per-user N   queued async jobs per user before 429 (default 100)\n"
    "  --async-workers N         threads running async jobs, owners taken in turn (default 8)\n"
    "  --storage-max-keys N      keys per storage namespace (default 1024, at most 10000)\n"
    "  --storage-max-bytes N     bytes (keys + values) per storage namespace (default 16777216)\n"
    "  --module-quota-bytes N    bytes of WebAssembly modules (with their descriptions) a user\n"
    "                            may keep (default 134217728)\n"
    "  --module-quota-count N    WebAssembly modules a user may keep (default 256)\n"
    "  --module-expiry DURATION  drop a user's module no job used for this long (default 90d)\n"
    "  --audit-retention DURATION  keep secret audit rows this long (default 30d)\n"
    "  --sandbox-user UID[-UID]  as root: uid (and gid) of the sandbox zygote; with a range,\n"
    "                            each job process gets its own uid from the rest of it\n"
    "                            (default 2000000000-2000000064)\n"
    "  --sandbox-namespaces on|off  Linux namespaces for the sandbox where the kernel\n"
    "                            allows them (default on)\n"
    "  --storage-max-namespaces N  storage namespaces per user (default 100, at most 10000)\n"
    "  --storage-max-owner-bytes N  storage bytes per user, all namespaces (default 67108864)\n"
    "  --max-connections N       open HTTP connections (default 1024; when all are open a\n"
    "                            new one replaces the oldest that never sent a valid token)\n"
    "  --max-connections-per-address N\n"
    "                            open connections from one client address (default 32)\n"
    "  --header-timeout S        seconds for a request's line and headers to arrive in\n"
    "                            full, in total, however slowly they trickle (default 10)\n"
    "  --body-timeout S          seconds for a request body to arrive in full, and for an\n"
    "                            answer to be taken by the client, in total (default 60)\n"
    "  --request-threads N       threads running authenticated requests; a synchronous job\n"
    "                            holds one while it runs (default 128)\n"
    "  --auth-failures-per-minute N\n"
    "                            failed authentications per client address (and in a burst)\n"
    "                            before 429 with Retry-After (default 30)\n"
    "  --attestation none|tdx    quote provider for receipts (default none: software only;\n"
    "                            tdx: Linux configfs-tsm, sealrund stops if it is absent)\n"
    "  --tsm-root PATH           configfs-tsm report directory (default\n"
    "                            " SR_ATTEST_TSM_ROOT ")\n"
    "  --dashboard-dir DIR       serve the dashboard (/ui/) from DIR, read at every request,\n"
    "                            instead of the copy built into sealrund (development)\n"
#ifdef SR_TEST_HOOKS
    "  --test-tamper receipt|output  test builds only: GET /jobs/{id} answers the job with\n"
    "                            its receipt (or output) altered after signing\n"
#endif
    "  --log-level LEVEL         debug, info, warn, error (default info)\n"
    "  --help                    this text\n";

/* Outbound HTTP for jobs (docs/http.md); a second literal: C17 compilers need only take
 * strings of 4095 bytes. */
static const char usage_http[] =
    "\n"
    "Outbound HTTP for jobs (docs/http.md):\n"
    "  --http-allow PATTERN      hosts jobs may reach (host[:port] or *.domain[:port]; may be\n"
    "                            repeated; default: every public host a job's http.allow names)\n"
    "  --http-deny PATTERN       hosts jobs may never reach, whatever allows them (repeated)\n"
    "  --http-allow-http         let jobs use plain http:// as well as https://\n"
    "  --http-ca-file FILE       PEM certificates jobs' https requests trust instead of the\n"
    "                            system's CAs\n"
    "  --http-allow-private ADDR[/BITS]\n"
    "                            TESTS AND DEVELOPMENT ONLY: let jobs reach this loopback or\n"
    "                            private address (repeated), which the address guard refuses\n"
    "\n"
    "Environment: COMPUTE_MASTER_KEY, SECRETS_MASTER_KEY (hex or base64, >= 32 bytes),\n"
    "SEALRUN_RESULT_TTL (finished jobs kept: default 24h), SEALRUN_STORE (as --store).\n";

struct opts {
    char host[64];
    uint16_t port;
    const char *data_dir;
    const char *store; /* NULL: SEALRUN_STORE, else sqlite:DATA_DIR/sealrun.db */
    bool dev;
    struct sr_engine_config eng;
    enum sr_attest_provider attestation;
    const char *tsm_root; /* NULL: SR_ATTEST_TSM_ROOT */
    struct sr_server_config http;
    const char *dashboard_dir; /* NULL: the embedded dashboard */
    enum sr_api_tamper tamper; /* test builds only */
    const char *http_allow[SR_FETCH_MAX_ALLOW];
    const char *http_deny[SR_FETCH_MAX_ALLOW];
    const char *http_private[SR_FETCH_MAX_PRIVATE];
};

/* --http-allow, --http-deny, --http-allow-private: one more entry of a list. */
static int
add_http(const char **list, size_t *n, size_t max, const char *name, const char *v)
{
    if (*n == max) {
        fprintf(stderr, "sealrund: error: %s may be given at most %zu times\n", name, max);
        return 2;
    }
    list[(*n)++] = v;
    return 0;
}

/* What receipts are signed with; freed after the engine. */
struct identity {
    sr_worker_key *key;
    sr_attest_quote *quote;
};

static int
die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "sealrund: error: %s '%s'\n%s%s", msg, arg, usage, usage_http);
    return 2;
}

static sr_status
parse_listen(const char *s, struct opts *o, sr_err *err)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(o->host))
        return sr_err_set(err, SR_EINVAL, "--listen must be HOST:PORT, got '%.64s'", s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    int64_t port;
    if (sr_parse_i64(colon + 1, 0, 65535, "--listen port", &port, err) != SR_OK)
        return SR_EINVAL;
    o->port = (uint16_t)port;
    return SR_OK;
}

/* A positive duration (24h, 90d, 45s) for option 'what'. */
static sr_status
parse_period(const char *v, const char *what, int64_t *out, sr_err *err)
{
    int64_t ms = 0;
    if (sr_parse_duration_ms(v, &ms, err) != SR_OK || ms <= 0)
        return sr_err_set(err, SR_EINVAL, "%s must be a positive duration like 90d, 24h, 45s, got",
                          what);
    *out = ms;
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

/* The HTTP edge's options (docs/limits.md, "HTTP"). True when argv[*i] is
 * one of them; *rc is then 0 or the usage error's exit code. */
static bool
parse_http_opt(const char *a, int *i, int argc, char **argv, struct sr_server_config *h, int *rc)
{
    const struct {
        const char *name;
        int64_t max;
        unsigned *dst;
    } opts[] = {
        {"--max-connections", SR_HTTP_MAX_CONNECTIONS, &h->max_connections},
        {"--max-connections-per-address", SR_HTTP_MAX_CONNECTIONS, &h->max_connections_per_addr},
        {"--header-timeout", SR_HTTP_MAX_TIMEOUT_S, &h->header_timeout_s},
        {"--body-timeout", SR_HTTP_MAX_TIMEOUT_S, &h->body_timeout_s},
        {"--request-threads", 4096, &h->request_threads},
        {"--auth-failures-per-minute", 60000, &h->auth_failures_per_min},
    };
    *rc = 0;
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        const char *v = sr_opt_value(a, opts[k].name, i, argc, argv);
        if (!v)
            continue;
        sr_err e = {0};
        int64_t n;
        if (sr_parse_i64(v, 1, opts[k].max, opts[k].name, &n, &e) != SR_OK)
            *rc = die_usage(e.msg, v);
        else
            *opts[k].dst = (unsigned)n;
        return true;
    }
    return false;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
    sr_err e = {0};
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            fputs(usage_http, stdout);
            exit(0);
        } else if (strcmp(a, "--dev") == 0) {
            o->dev = true;
        } else if ((v = sr_opt_value(a, "--listen", &i, argc, argv))) {
            if (parse_listen(v, o, &e) != SR_OK)
                return die_usage(e.msg, v);
        } else if ((v = sr_opt_value(a, "--data-dir", &i, argc, argv))) {
            o->data_dir = v;
        } else if ((v = sr_opt_value(a, "--store", &i, argc, argv))) {
            o->store = v;
        } else if ((v = sr_opt_value(a, "--lease", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, 3600, "--lease", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.lease_ms = n * 1000;
        } else if ((v = sr_opt_value(a, "--isolation", &i, argc, argv))) {
            if (strcmp(v, "tenant") && strcmp(v, "job"))
                return die_usage("--isolation must be 'tenant' or 'job', got", v);
            o->eng.isolation = strcmp(v, "job") == 0 ? SR_ISOLATION_JOB : SR_ISOLATION_TENANT;
        } else if ((v = sr_opt_value(a, "--js-jit", &i, argc, argv))) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return die_usage("--js-jit must be 'on' or 'off', got", v);
            o->eng.js_no_jit = strcmp(v, "off") == 0;
        } else if ((v = sr_opt_value(a, "--max-running-per-user", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, 10000, "--max-running-per-user", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.max_running_per_user = (unsigned)n;
        } else if ((v = sr_opt_value(a, "--max-queued-per-user", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, 100000, "--max-queued-per-user", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.max_queued_per_user = (unsigned)n;
        } else if ((v = sr_opt_value(a, "--async-workers", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, 256, "--async-workers", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.async_workers = (unsigned)n;
        } else if ((v = sr_opt_value(a, "--storage-max-keys", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, SR_STORAGE_HARD_MAX_KEYS, "--storage-max-keys", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.storage_max_keys = (uint64_t)n;
        } else if ((v = sr_opt_value(a, "--storage-max-bytes", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, INT64_MAX / 2, "--storage-max-bytes", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.storage_max_bytes = (uint64_t)n;
        } else if ((v = sr_opt_value(a, "--module-quota-bytes", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, INT64_MAX / 2, "--module-quota-bytes", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.module_quota_bytes = (uint64_t)n;
        } else if ((v = sr_opt_value(a, "--module-quota-count", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, 1000000, "--module-quota-count", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.module_quota_count = (uint64_t)n;
        } else if ((v = sr_opt_value(a, "--module-expiry", &i, argc, argv))) {
            if (parse_period(v, "--module-expiry", &o->eng.module_expiry_ms, &e) != SR_OK)
                return die_usage(e.msg, v);
        } else if ((v = sr_opt_value(a, "--audit-retention", &i, argc, argv))) {
            if (parse_period(v, "--audit-retention", &o->eng.audit_retention_ms, &e) != SR_OK)
                return die_usage(e.msg, v);
        } else if ((v = sr_opt_value(a, "--sandbox-user", &i, argc, argv))) {
            if (parse_sandbox_user(v, &o->eng, &e) != SR_OK)
                return die_usage(e.msg, v);
        } else if ((v = sr_opt_value(a, "--sandbox-namespaces", &i, argc, argv))) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return die_usage("--sandbox-namespaces must be 'on' or 'off', got", v);
            o->eng.sandbox_no_namespaces = strcmp(v, "off") == 0;
        } else if ((v = sr_opt_value(a, "--storage-max-namespaces", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, SR_STORAGE_HARD_MAX_NAMESPACES, "--storage-max-namespaces", &n,
                             &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.storage_max_namespaces = (uint64_t)n;
        } else if ((v = sr_opt_value(a, "--storage-max-owner-bytes", &i, argc, argv))) {
            if (sr_parse_i64(v, 1, INT64_MAX / 2, "--storage-max-owner-bytes", &n, &e) != SR_OK)
                return die_usage(e.msg, v);
            o->eng.storage_max_owner_bytes = (uint64_t)n;
        } else if (parse_http_opt(a, &i, argc, argv, &o->http, &rc)) {
            if (rc)
                return rc;
        } else if ((v = sr_opt_value(a, "--attestation", &i, argc, argv))) {
            if (sr_attest_provider_parse(v, &o->attestation, &e) != SR_OK)
                return die_usage("--attestation must be 'none' or 'tdx', got", v);
        } else if ((v = sr_opt_value(a, "--tsm-root", &i, argc, argv))) {
            if (!*v)
                return die_usage("--tsm-root needs a directory, got", v);
            o->tsm_root = v;
        } else if ((v = sr_opt_value(a, "--dashboard-dir", &i, argc, argv))) {
            if (!*v)
                return die_usage("--dashboard-dir needs a directory, got", v);
            o->dashboard_dir = v;
#ifdef SR_TEST_HOOKS
        } else if ((v = sr_opt_value(a, "--test-tamper", &i, argc, argv))) {
            if (strcmp(v, "receipt") && strcmp(v, "output"))
                return die_usage("--test-tamper must be 'receipt' or 'output', got", v);
            o->tamper = strcmp(v, "receipt") == 0 ? SR_API_TAMPER_RECEIPT : SR_API_TAMPER_OUTPUT;
#endif
        } else if ((v = sr_opt_value(a, "--http-allow", &i, argc, argv))) {
            if ((rc = add_http(o->http_allow, &o->eng.http.nallow, SR_FETCH_MAX_ALLOW,
                               "--http-allow", v)))
                return rc;
        } else if ((v = sr_opt_value(a, "--http-deny", &i, argc, argv))) {
            if ((rc = add_http(o->http_deny, &o->eng.http.ndeny, SR_FETCH_MAX_ALLOW, "--http-deny",
                               v)))
                return rc;
        } else if ((v = sr_opt_value(a, "--http-allow-private", &i, argc, argv))) {
            if ((rc = add_http(o->http_private, &o->eng.http.nprivate, SR_FETCH_MAX_PRIVATE,
                               "--http-allow-private", v)))
                return rc;
        } else if (strcmp(a, "--http-allow-http") == 0) {
            o->eng.http.allow_http = true;
        } else if ((v = sr_opt_value(a, "--http-ca-file", &i, argc, argv))) {
            if (!*v)
                return die_usage("--http-ca-file needs a file, got", v);
            o->eng.http.ca_file = v;
        } else if ((v = sr_opt_value(a, "--log-level", &i, argc, argv))) {
            static const char *const lv[] = {"debug", "info", "warn", "error"};
            bool ok = false;
            for (int k = 0; k < 4; k++)
                if (strcmp(v, lv[k]) == 0) {
                    sr_log_set_level((enum sr_log_level)k);
                    ok = true;
                }
            if (!ok)
                return die_usage("--log-level must be debug, info, warn or error, got", v);
        } else {
            return die_usage("unknown argument", a);
        }
    }
    return 0;
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
measurement_config(const struct sr_engine_config *cfg)
{
    json_t *limits = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i}", "timeout_default_s",
        SR_DEFAULT_TIMEOUT_S, "timeout_max_s", SR_MAX_TIMEOUT_S, "memory_default_mb",
        SR_DEFAULT_MEMORY_MB, "memory_max_mb", SR_MAX_MEMORY_MB, "fuel_default",
        (json_int_t)SR_DEFAULT_FUEL, "fuel_max", (json_int_t)SR_MAX_FUEL, "script_bytes",
        (json_int_t)SR_MAX_SCRIPT, "module_bytes", (json_int_t)SR_MAX_MODULE, "input_bytes",
        (json_int_t)SR_MAX_INPUT, "output_bytes", (json_int_t)SR_MAX_OUTPUT, "log_entries",
        (json_int_t)SR_MAX_LOG_ENTRIES, "log_entry_bytes", SR_MAX_LOG_ENTRY, "random_bytes_max",
        SR_MAX_RANDOM_BYTES);
    if (!limits)
        return NULL;
    return json_pack("{s:s, s:{s:{s:s, s:b}, s:{s:s, s:s}}, s:s, s:o}", "sealrun", SR_VERSION,
                     "engines", "js", "engine", sr_js_engine_version(), "jit", !cfg->js_no_jit,
                     "wasm", "engine", "sealrun-wasm " SR_VERSION, "wasi", "preview1", "isolation",
                     cfg->isolation == SR_ISOLATION_JOB ? "job" : "tenant", "limits", limits);
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
    json_t *cfg = measurement_config(sr_engine_config(eng));
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

static int
serve(struct opts *o, sr_engine *eng, sr_store *store, const sigset_t *stop)
{
    sr_api *api = NULL;
    sr_server *srv = NULL;
    sr_err e = {0};
    int code = 1;
    o->http.host = o->host;
    o->http.port = o->port;
    room_for_connections(&o->http);
    if (sr_api_new(eng, store, &api, &e) != SR_OK ||
        (o->dashboard_dir && sr_api_set_dashboard_dir(api, o->dashboard_dir, &e) != SR_OK)) {
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
    bool v6 = strchr(o->host, ':') != NULL;
    fprintf(stderr, "listening on http://%s%s%s:%u\n", v6 ? "[" : "", o->host, v6 ? "]" : "",
            sr_server_port(srv));
    fflush(stderr);
    int sig = 0;
    sigwait(stop, &sig);
    sr_log(SR_LOG_INFO, "sealrund", "stopping on signal %d", sig);
    code = 0;
out:
    sr_server_free(srv);
    sr_api_free(api);
    return code;
}

int
main(int argc, char **argv)
{
    struct opts o = {.host = "127.0.0.1", .port = 8080, .data_dir = "var"};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    o.eng.http.allow = o.http_allow;
    o.eng.http.deny = o.http_deny;
    o.eng.http.private_nets = o.http_private;
    sr_err e = {0};
    if (load_ttl(&o, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
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
    const char *env_store = getenv("SEALRUN_STORE");
    if (o.store)
        (void)snprintf(db, sizeof(db), "%s", o.store);
    else if (env_store && *env_store)
        (void)snprintf(db, sizeof(db), "%s", env_store);
    else
        (void)snprintf(db, sizeof(db), "sqlite:%s/sealrun.db", o.data_dir);
    if (sr_crypto_init(&e) != SR_OK ||
        sr_keys_load(o.data_dir, o.dev, &created, &keys, &e) != SR_OK ||
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
    /* Blocked in every thread started from here on; main waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (sr_engine_start(eng, store, keys, &e) != SR_OK) {
        fprintf(stderr, "sealrund: error: %s\n", e.msg);
        goto out;
    }
    code = serve(&o, eng, store, &stop);
out:
    sr_engine_free(eng);
    sr_attest_quote_free(id.quote);
    sr_worker_key_free(id.key);
    sr_store_close(store);
    sr_keys_free(keys);
    (void)close(lockfd);
    return code;
}
