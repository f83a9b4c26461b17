/* SPDX-License-Identifier: MIT
 *
 * cmd_job.c - `sealrun exec` (a job on a server, over HTTP with libcurl)
 * and `sealrun run` (the same job locally, through the same request
 * validation, sandbox and runtime as the server; with secrets and a
 * storage directory, through the same engine and an SQLite store of its
 * own). Both print the job JSON and exit 0 when the job completed, 1 when
 * it failed or could not run.
 */
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_http.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_secret.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

#define MAX_REPEAT 64
/* The owner of jobs, secrets and storage in a local run's store. */
#define LOCAL_OWNER "local"

static const char *const formats[] = {"json", "text", "base64", NULL};
static const char *const on_off[] = {"on", "off", NULL};

struct job_opts {
    const char *file, *input, *input_file, *entry, *pubkey, *module_hash, *ns, *callback;
    const char *secrets_file, *storage_dir;
    int64_t timeout, memory, gas, fuel;
    int format, jit;
    bool has_format, has_jit;
    const char *args[MAX_REPEAT], *env[MAX_REPEAT], *secrets[SR_MAX_SECRET_REFS];
    const char *http_allow[SR_FETCH_MAX_ALLOW];
    /* run only: the local supervisor's outbound HTTP policy (docs/http.md) */
    const char *http_private[SR_FETCH_MAX_PRIVATE], *ca_file;
    bool allow_http;
    size_t nargs, nenv, nsecrets, nhttp, nprivate;
    int64_t http_max_requests;
    bool async, wait;
};

/* The options exec and run share (the first entries of both tables). */
static size_t
common_table(struct job_opts *o, struct sr_opt *t)
{
    size_t n = 0;
    t[n++] = (struct sr_opt){.name = "--input",
                             .kind = SR_OPT_STRING,
                             .dst = &o->input,
                             .metavar = "JSON",
                             .help = "the job input, JSON text (default null)"};
    t[n++] = (struct sr_opt){.name = "--input-file",
                             .kind = SR_OPT_STRING,
                             .dst = &o->input_file,
                             .metavar = "FILE",
                             .help = "read the input JSON from FILE ('-' for stdin)"};
    t[n++] = (struct sr_opt){.name = "--entry-point",
                             .kind = SR_OPT_STRING,
                             .dst = &o->entry,
                             .metavar = "NAME",
                             .help = "JavaScript: the function to call (default main)"};
    t[n++] = (struct sr_opt){.name = "--timeout",
                             .kind = SR_OPT_INT,
                             .dst = &o->timeout,
                             .metavar = "SECONDS",
                             .help = "wall-clock limit, 1..120 (default 30)",
                             .min = 1,
                             .max = SR_MAX_TIMEOUT_S};
    t[n++] = (struct sr_opt){.name = "--memory-mb",
                             .kind = SR_OPT_INT,
                             .dst = &o->memory,
                             .metavar = "N",
                             .help = "memory limit in MiB, 16..512 (default 128)",
                             .min = 16,
                             .max = SR_MAX_MEMORY_MB};
    t[n++] = (struct sr_opt){.name = "--gas-limit",
                             .kind = SR_OPT_INT,
                             .dst = &o->gas,
                             .metavar = "N",
                             .help = "JavaScript: CPU budget in microseconds (default: the "
                                     "timeout); WebAssembly: fuel, as --fuel",
                             .min = 1,
                             .max = (int64_t)SR_MAX_FUEL};
    t[n++] = (struct sr_opt){.name = "--output-pubkey",
                             .kind = SR_OPT_STRING,
                             .dst = &o->pubkey,
                             .metavar = "B64",
                             .help = "seal the output to this X25519 public key (sealrun "
                                     "keygen); it comes back as encrypted_output"};
    t[n++] = (struct sr_opt){.name = "--storage-namespace",
                             .kind = SR_OPT_STRING,
                             .dst = &o->ns,
                             .metavar = "NS",
                             .help = "the storage namespace the job's storage.* calls use "
                                     "(default \"default\")"};
    t[n++] = (struct sr_opt){.name = "--http-allow",
                             .kind = SR_OPT_LIST,
                             .dst = o->http_allow,
                             .metavar = "PATTERN",
                             .help = "let the job make HTTP requests to this host (host[:port] or "
                                     "*.domain[:port]; repeatable; docs/http.md)",
                             .max = SR_FETCH_MAX_ALLOW,
                             .count_dst = &o->nhttp};
    t[n++] = (struct sr_opt){.name = "--http-max-requests",
                             .kind = SR_OPT_INT,
                             .dst = &o->http_max_requests,
                             .metavar = "N",
                             .help = "with --http-allow: at most N requests",
                             .min = 1,
                             .max = SR_FETCH_MAX_REQUESTS};
    t[n++] = (struct sr_opt){.name = "--fuel",
                             .kind = SR_OPT_INT,
                             .dst = &o->fuel,
                             .metavar = "N",
                             .help = "WebAssembly: fuel limit (gas_limit; default 1000000000)",
                             .min = 1,
                             .max = (int64_t)SR_MAX_FUEL};
    t[n++] = (struct sr_opt){.name = "--arg",
                             .kind = SR_OPT_LIST,
                             .dst = o->args,
                             .metavar = "ARG",
                             .help = "WebAssembly: append ARG to the program's argv (repeatable)",
                             .max = MAX_REPEAT,
                             .count_dst = &o->nargs};
    t[n++] = (struct sr_opt){.name = "--env",
                             .kind = SR_OPT_LIST,
                             .dst = o->env,
                             .metavar = "NAME=VALUE",
                             .help = "WebAssembly: set an environment variable (repeatable)",
                             .max = MAX_REPEAT,
                             .count_dst = &o->nenv};
    t[n++] = (struct sr_opt){.name = "--output-format",
                             .kind = SR_OPT_CHOICE,
                             .dst = &o->format,
                             .metavar = "json|text|base64",
                             .help = "WebAssembly: how stdout becomes the output (default json)",
                             .choices = formats,
                             .seen = &o->has_format};
    return n;
}

static size_t
exec_table(struct job_opts *o, struct sr_opt *t)
{
    size_t n = common_table(o, t);
    t[n++] = (struct sr_opt){.name = "--secret",
                             .kind = SR_OPT_LIST,
                             .dst = o->secrets,
                             .metavar = "NAME",
                             .help = "give the job your secret NAME, or OWNER/NAME for one "
                                     "another user shares (repeatable, at most 16)",
                             .max = SR_MAX_SECRET_REFS,
                             .count_dst = &o->nsecrets};
    t[n++] = (struct sr_opt){.name = "--module-hash",
                             .kind = SR_OPT_STRING,
                             .dst = &o->module_hash,
                             .metavar = "HASH",
                             .help = "run the uploaded module with this SHA-256 (sealrun modules "
                                     "upload) instead of FILE"};
    t[n++] = (struct sr_opt){.name = "--async",
                             .kind = SR_OPT_FLAG,
                             .dst = &o->async,
                             .help = "queue the job and print its id (202)"};
    t[n++] = (struct sr_opt){.name = "--wait",
                             .kind = SR_OPT_FLAG,
                             .dst = &o->wait,
                             .help = "with --async: poll until the job ends and print it"};
    t[n++] = (struct sr_opt){.name = "--callback-url",
                             .kind = SR_OPT_STRING,
                             .dst = &o->callback,
                             .metavar = "URL",
                             .help = "with --async: POST the job here when it has ended, signed "
                                     "(docs/accounts.md#webhooks)"};
    return n;
}

static size_t
run_table(struct job_opts *o, struct sr_opt *t)
{
    size_t n = common_table(o, t);
    t[n++] = (struct sr_opt){.name = "--secret",
                             .kind = SR_OPT_LIST,
                             .dst = o->secrets,
                             .metavar = "NAME=VALUE",
                             .help = "give the job a secret NAME with this value (repeatable; "
                                     "other users of this machine can see a command line: "
                                     "prefer --secrets-file)",
                             .max = SR_MAX_SECRET_REFS,
                             .count_dst = &o->nsecrets};
    t[n++] = (struct sr_opt){.name = "--secrets-file",
                             .kind = SR_OPT_STRING,
                             .dst = &o->secrets_file,
                             .metavar = "FILE",
                             .help = "secrets from a JSON object {\"NAME\": \"value\", ...}"};
    t[n++] = (struct sr_opt){.name = "--storage-dir",
                             .kind = SR_OPT_STRING,
                             .dst = &o->storage_dir,
                             .metavar = "DIR",
                             .help = "keep the job's storage (and the keys sealing it) in DIR, "
                                     "created when missing, so the next run sees it"};
    t[n++] = (struct sr_opt){.name = "--js-jit",
                             .kind = SR_OPT_CHOICE,
                             .dst = &o->jit,
                             .metavar = "on|off",
                             .help = "JavaScriptCore JIT (default on)",
                             .choices = on_off,
                             .seen = &o->has_jit};
    t[n++] = (struct sr_opt){.name = "--http-allow-http",
                             .kind = SR_OPT_FLAG,
                             .dst = &o->allow_http,
                             .help = "let the job use plain http:// too (the local supervisor's "
                                     "policy; https only by default)"};
    t[n++] = (struct sr_opt){.name = "--http-ca-file",
                             .kind = SR_OPT_STRING,
                             .dst = &o->ca_file,
                             .metavar = "FILE",
                             .help = "trust the CA certificates in FILE instead of the system's"};
    t[n++] = (struct sr_opt){.name = "--http-allow-private",
                             .kind = SR_OPT_LIST,
                             .dst = o->http_private,
                             .metavar = "ADDR[/BITS]",
                             .help = "let the job reach this loopback or private address "
                                     "(tests and development; repeatable)",
                             .max = SR_FETCH_MAX_PRIVATE,
                             .count_dst = &o->nprivate};
    return n;
}

static const struct cli_help exec_help = {
    .cmd = "exec",
    .args = "FILE.js|FILE.wasm [options]",
    .about = "Runs FILE.js (JavaScript) or FILE.wasm (a WASI program) on a sealrund server, or\n"
             "with --module-hash a module uploaded before, and prints the job JSON.\n",
    .footer = "Exit status: 0 completed (or queued), 1 failed, 2 bad usage.\n",
};

static const struct cli_help run_help = {
    .cmd = "run",
    .args = "FILE.js|FILE.wasm [options]",
    .about = "Runs FILE.js or FILE.wasm locally, in the same sandbox and runtime as sealrund,\n"
             "and prints the job JSON: same output, same gas. With --secret, --secrets-file or\n"
             "--storage-dir the job runs through the same engine as on the service, with\n"
             "its secrets and storage in a local store (a temporary one without\n"
             "--storage-dir), so getSecret() and storage.* behave as they will there.\n",
    .footer = "The output is signed (signature) when COMPUTE_MASTER_KEY is set, or with the\n"
              "keys of --storage-dir.\n"
              "Exit status: 0 completed, 1 failed, 2 bad usage.\n",
};

static bool
is_wasm(const char *path, const char *bytes, size_t len)
{
    size_t n = strlen(path);
    return (len >= 4 && memcmp(bytes, "\0asm", 4) == 0) ||
           (n > 5 && strcmp(path + n - 5, ".wasm") == 0);
}

/* Usage errors the table cannot see: NAME=VALUE options, FILE or a
 * module hash. CLI_CONTINUE when none. */
static int
check_job_opts(const struct job_opts *o, bool remote)
{
    const char *hint = remote ? "see 'sealrun exec --help'" : "see 'sealrun run --help'";
    for (size_t i = 0; i < o->nenv; i++)
        if (strchr(o->env[i], '=') == NULL || o->env[i][0] == '=')
            return cli_fail(CLI_USAGE, hint, "--env takes NAME=VALUE, got '%.64s'", o->env[i]);
    for (size_t i = 0; !remote && i < o->nsecrets; i++)
        if (strchr(o->secrets[i], '=') == NULL || o->secrets[i][0] == '=')
            return cli_fail(CLI_USAGE, hint, "--secret takes NAME=VALUE, got '%.*s'",
                            (int)strcspn(o->secrets[i], "="), o->secrets[i]);
    if (remote && !o->file == !o->module_hash)
        return cli_fail(CLI_USAGE, hint,
                        o->file ? "give FILE or --module-hash, not both"
                                : "a script or module FILE (or --module-hash) is required");
    if (o->http_max_requests && !o->nhttp)
        return cli_fail(CLI_USAGE, hint, "--http-max-requests goes with --http-allow");
    if (remote && o->wait && !o->async)
        return cli_fail(CLI_USAGE, hint, "--wait goes with --async");
    if (remote && o->callback && !o->async)
        return cli_fail(CLI_USAGE, hint, "--callback-url goes with --async");
    return CLI_CONTINUE;
}

/* The WebAssembly part of the body: args, env, output_format. */
static sr_status
add_wasm_opts(const struct job_opts *o, json_t *body, sr_err *err)
{
    json_t *args = json_array(), *env = json_object();
    json_object_set_new(body, "args", args);
    json_object_set_new(body, "env", env);
    for (size_t i = 0; i < o->nargs; i++)
        json_array_append_new(args, json_string(o->args[i]));
    (void)err;
    for (size_t i = 0; i < o->nenv; i++) {
        const char *eq = strchr(o->env[i], '=');
        char name[256];
        (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - o->env[i]), o->env[i]);
        json_object_set_new(env, name, json_string(eq + 1));
    }
    if (o->has_format)
        json_object_set_new(body, "output_format", json_string(formats[o->format]));
    return SR_OK;
}

/* The code part of the body: "script" for JavaScript, or "runtime":"wasm"
 * with the module (base64) or its hash, and the WebAssembly options. */
static sr_status
add_code(const struct job_opts *o, json_t *body, sr_err *err)
{
    if (o->module_hash) {
        json_object_set_new(body, "runtime", json_string("wasm"));
        json_object_set_new(body, "module_hash", json_string(o->module_hash));
        return add_wasm_opts(o, body, err);
    }
    char *code = NULL;
    size_t len = 0;
    sr_status rc = cli_read_file(o->file, SR_MAX_MODULE, &code, &len, err);
    if (rc != SR_OK)
        return rc;
    if (is_wasm(o->file, code, len)) {
        char *b64 = sr_base64_encode((const uint8_t *)code, len);
        json_object_set_new(body, "runtime", json_string("wasm"));
        json_object_set_new(body, "module", b64 ? json_string(b64) : json_null());
        free(b64);
        rc = add_wasm_opts(o, body, err);
    } else if (len > SR_MAX_SCRIPT) {
        rc = sr_err_set(err, SR_ELIMIT, "'%s' is %zu bytes; a script may have at most %u", o->file,
                        len, SR_MAX_SCRIPT);
    } else {
        json_t *s = json_stringn(code, len);
        if (!s)
            rc = sr_err_set(err, SR_EINVAL, "'%s' is neither a WebAssembly module nor UTF-8 text",
                            o->file);
        json_object_set_new(body, "script", s ? s : json_null());
    }
    free(code);
    return rc;
}

static sr_status
add_input(const struct job_opts *o, json_t *body, sr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    sr_status rc = SR_OK;
    if (o->input_file && o->input)
        return sr_err_set(err, SR_EINVAL, "give --input or --input-file, not both");
    if (o->input_file) {
        rc = cli_read_file(o->input_file, SR_MAX_BODY, &text, &len, err);
    } else if (o->input) {
        text = strdup(o->input);
        len = strlen(o->input);
        if (!text)
            return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    json_t *input = NULL;
    if (rc == SR_OK && text)
        rc = sr_json_parse(text, len, SR_MAX_JSON_DEPTH, o->input_file ? "--input-file" : "--input",
                           &input, err);
    free(text);
    if (input)
        json_object_set_new(body, "input", input);
    return rc;
}

/* Builds the POST /execute body from the options; refs[0..nrefs) become
 * secret_refs. Returns owned. */
static sr_status
build_body(const struct job_opts *o, const char *const *refs, size_t nrefs, json_t **out,
           sr_err *err)
{
    json_t *body = json_object();
    sr_status rc = add_code(o, body, err);
    if (rc == SR_OK)
        rc = add_input(o, body, err);
    if (rc == SR_OK && o->entry)
        json_object_set_new(body, "entry_point", json_string(o->entry));
    if (o->timeout)
        json_object_set_new(body, "timeout", json_integer(o->timeout));
    if (o->memory)
        json_object_set_new(body, "memory_mb", json_integer(o->memory));
    if (o->gas || o->fuel)
        json_object_set_new(body, "gas_limit", json_integer(o->fuel ? o->fuel : o->gas));
    if (o->pubkey)
        json_object_set_new(body, "output_pubkey", json_string(o->pubkey));
    if (o->ns)
        json_object_set_new(body, "storage_namespace", json_string(o->ns));
    if (o->nhttp) {
        json_t *allow = json_array();
        for (size_t i = 0; i < o->nhttp; i++)
            json_array_append_new(allow, json_string(o->http_allow[i]));
        json_t *http = json_object();
        json_object_set_new(http, "allow", allow);
        if (o->http_max_requests)
            json_object_set_new(http, "max_requests", json_integer(o->http_max_requests));
        json_object_set_new(body, "http", http);
    }
    if (nrefs) {
        json_t *a = json_array();
        for (size_t i = 0; i < nrefs; i++)
            json_array_append_new(a, json_string(refs[i]));
        json_object_set_new(body, "secret_refs", a);
    }
    if (o->async)
        json_object_set_new(body, "async", json_true());
    if (o->callback)
        json_object_set_new(body, "callback_url", json_string(o->callback));
    if (rc != SR_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return SR_OK;
}

/* ---- exec ---- */

int
cmd_exec(int argc, char **argv)
{
    struct job_opts o = {0};
    struct sr_opt t[CLI_MAX_OPTS];
    size_t n = exec_table(&o, t), npos = 0;
    struct cli_remote r;
    int rc = cli_parse(&exec_help, t, n, argc, argv, &o.file, 0, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = check_job_opts(&o, true)) != CLI_CONTINUE)
        return rc;
    json_t *body = NULL;
    sr_err e = {0};
    if (build_body(&o, o.secrets, o.nsecrets, &body, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char *text = sr_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return cli_fail(CLI_FAILED, NULL, "out of memory");
    json_t *ans = NULL;
    rc = cli_call(&r, "POST", "/execute", text, strlen(text), "application/json", &ans);
    free(text);
    if (rc != CLI_OK)
        return rc;
    if (o.wait)
        rc = cli_wait_job(&r, json_string_value(json_object_get(ans, "job_id")), 0);
    else {
        cli_print_json(ans);
        rc = cli_job_exit(ans);
    }
    json_decref(ans);
    return rc;
}

/* ---- run ---- */

/* The secrets of a local run: NAME=VALUE options, then a JSON file. */
struct local_secrets {
    char *name[SR_MAX_SECRET_REFS];
    char *value[SR_MAX_SECRET_REFS];
    size_t len[SR_MAX_SECRET_REFS];
    size_t n;
};

static void
local_secrets_fini(struct local_secrets *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->name[i]);
        if (s->value[i]) {
            sodium_memzero(s->value[i], s->len[i]);
            free(s->value[i]);
        }
    }
    s->n = 0;
}

static sr_status
local_secret_add(struct local_secrets *s, const char *name, size_t name_len, const char *value,
                 size_t len, sr_err *err)
{
    if (s->n >= SR_MAX_SECRET_REFS)
        return sr_err_set(err, SR_ELIMIT, "a job may have at most %d secrets", SR_MAX_SECRET_REFS);
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->name[i]) == name_len && memcmp(s->name[i], name, name_len) == 0)
            return sr_err_set(err, SR_EINVAL, "secret '%.*s' is given twice", (int)name_len, name);
    s->name[s->n] = strndup(name, name_len);
    s->value[s->n] = malloc(len + 1);
    if (!s->name[s->n] || !s->value[s->n]) {
        free(s->name[s->n]);
        free(s->value[s->n]);
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    memcpy(s->value[s->n], value, len);
    s->value[s->n][len] = '\0';
    s->len[s->n++] = len;
    return SR_OK;
}

static sr_status
load_secrets(const struct job_opts *o, struct local_secrets *s, sr_err *err)
{
    sr_status rc = SR_OK;
    for (size_t i = 0; rc == SR_OK && i < o->nsecrets; i++) {
        const char *eq = strchr(o->secrets[i], '=');
        rc = local_secret_add(s, o->secrets[i], (size_t)(eq - o->secrets[i]), eq + 1,
                              strlen(eq + 1), err);
    }
    if (rc != SR_OK || !o->secrets_file)
        return rc;
    char *text = NULL;
    size_t len = 0;
    json_t *obj = NULL;
    rc = cli_read_file(o->secrets_file, (size_t)SR_MAX_SECRET_REFS * 2 * SR_SECRET_SEALED_MAX,
                       &text, &len, err);
    if (rc == SR_OK)
        rc = sr_json_parse(text, len, 4, "--secrets-file", &obj, err);
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    if (rc == SR_OK && !json_is_object(obj))
        rc = sr_err_set(err, SR_EINVAL,
                        "--secrets-file '%s' must hold a JSON object {\"NAME\": \"value\", ...}",
                        o->secrets_file);
    const char *k;
    json_t *v;
    json_object_foreach(rc == SR_OK ? obj : NULL, k, v)
    {
        if (rc != SR_OK)
            break;
        if (!json_is_string(v))
            rc = sr_err_set(err, SR_EINVAL, "--secrets-file: the value of '%.64s' must be a string",
                            k);
        else
            rc =
                local_secret_add(s, k, strlen(k), json_string_value(v), json_string_length(v), err);
    }
    json_decref(obj);
    return rc;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The local store of a run with secrets or storage: DIR (or a new
 * temporary directory) holding the keys and sealrun.db. */
struct local_store {
    char dir[4096];
    bool temporary;
    sr_keys *keys;
    sr_store *store;
};

static sr_status
local_store_open(const char *dir, struct local_store *ls, sr_err *err)
{
    if (dir) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return sr_err_set(err, SR_EIO, "cannot create --storage-dir '%s': %s", dir,
                              strerror(errno));
        (void)snprintf(ls->dir, sizeof(ls->dir), "%s", dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        (void)snprintf(ls->dir, sizeof(ls->dir), "%s/sealrun-run-XXXXXX",
                       tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(ls->dir))
            return sr_err_set(err, SR_EIO, "cannot create a temporary directory: %s",
                              strerror(errno));
        ls->temporary = true;
    }
    char db[4200];
    (void)snprintf(db, sizeof(db), "%s/sealrun.db", ls->dir);
    sr_status rc = sr_keys_load(ls->dir, true, NULL, &ls->keys, err);
    if (rc == SR_OK)
        rc = sr_store_open_sqlite_keyed(db, ls->keys, &ls->store, err);
    return rc;
}

static void
local_store_close(struct local_store *ls)
{
    sr_store_close(ls->store);
    sr_keys_free(ls->keys);
    if (ls->temporary)
        (void)nftw(ls->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
run_job(const struct job_opts *o, const struct local_secrets *s, bool with_store)
{
    sr_err e = {0};
    sr_engine *eng = NULL;
    struct local_store ls = {0};
    sr_keys *env_keys = NULL;
    const sr_keys *keys = NULL;
    json_t *body = NULL, *job = NULL;
    char *text = NULL;
    size_t len = 0;
    struct sr_job_request req;
    bool has_req = false;
    int rc = CLI_FAILED;
    struct sr_engine_config cfg = {
        .isolation = SR_ISOLATION_JOB,
        .js_no_jit = o->has_jit && o->jit == 1,
        .http = {.private_nets = o->http_private,
                 .nprivate = o->nprivate,
                 .ca_file = o->ca_file,
                 .allow_http = o->allow_http},
    };
    /* the engine forks the zygote before any key is in memory */
    if (sr_engine_new(&cfg, &eng, &e) != SR_OK)
        goto fail;
    if (with_store) {
        if (local_store_open(o->storage_dir, &ls, &e) != SR_OK)
            goto fail;
        keys = ls.keys;
    } else if (getenv("COMPUTE_MASTER_KEY")) {
        /* sign only when the operator's key is at hand */
        if (sr_keys_load(NULL, false, NULL, &env_keys, &e) != SR_OK)
            goto fail;
        keys = env_keys;
    }
    if (sr_engine_start(eng, ls.store, keys, &e) != SR_OK)
        goto fail;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t version = 0;
        if (sr_engine_secret_set(eng, LOCAL_OWNER, s->name[i], NULL, s->value[i], s->len[i],
                                 &version, &e) != SR_OK) {
            sr_err_wrap(&e, "setting secret '%.64s'", s->name[i]);
            goto fail;
        }
    }
    if (build_body(o, (const char *const *)s->name, s->n, &body, &e) != SR_OK ||
        sr_job_request_parse(body, &req, &e) != SR_OK)
        goto fail;
    has_req = true;
    if (sr_engine_execute(eng, LOCAL_OWNER, &req, &text, &len, &e) != SR_OK ||
        sr_json_parse(text, len, 2048 + 8, "job", &job, &e) != SR_OK)
        goto fail;
    cli_print_json(job);
    rc = cli_job_exit(job);
    goto out;
fail:
    rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
out:
    json_decref(job);
    json_decref(body);
    free(text);
    if (has_req)
        sr_job_request_fini(&req);
    sr_engine_free(eng);
    local_store_close(&ls);
    sr_keys_free(env_keys);
    return rc;
}

int
cmd_run(int argc, char **argv)
{
    struct job_opts o = {0};
    struct sr_opt t[CLI_MAX_OPTS];
    size_t n = run_table(&o, t), npos = 0;
    int rc = cli_parse(&run_help, t, n, argc, argv, &o.file, 1, 1, &npos, NULL);
    if (rc != CLI_CONTINUE || (rc = check_job_opts(&o, false)) != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    struct local_secrets s = {0};
    if (sr_crypto_init(&e) != SR_OK || load_secrets(&o, &s, &e) != SR_OK) {
        local_secrets_fini(&s);
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run_job(&o, &s, s.n > 0 || o.storage_dir);
    local_secrets_fini(&s);
    return rc;
}
