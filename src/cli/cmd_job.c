/* SPDX-License-Identifier: MIT
 *
 * cmd_job.c - `sealrun exec` (a job on a server, over HTTP with libcurl)
 * and `sealrun run` (the same job locally, through the same request
 * validation, sandbox and runtime as the server). Both print the job JSON
 * and exit 0 when the job completed, 1 when it failed or could not run.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

static const char exec_usage[] =
    "usage: sealrun exec --server URL --token TOKEN FILE.js|FILE.wasm [options]\n"
    "\n"
    "Runs FILE.js (JavaScript) or FILE.wasm (a WASI program) on a sealrund server\n"
    "and prints the job JSON.\n"
    "\n"
    "  --input JSON           the job input (default null)\n"
    "  --input-file F         read the input JSON from F\n"
    "  --entry-point NAME     function to call (default main)\n"
    "  --timeout S            wall-clock limit in seconds (default 30)\n"
    "  --memory-mb N          memory limit (default 128)\n"
    "  --gas-limit US         CPU budget in microseconds\n"
    "  --output-pubkey B64    seal the output to this X25519 key (see keygen)\n"
    "  --async                queue the job and print its id\n"
    "  --wait                 with --async: poll until the job ends, print it\n"
    "  --http-allow PATTERN   a host the job may ask (its http.allow; repeatable)\n"
    "WebAssembly only:\n"
    "  --fuel N               fuel limit (gas_limit; default 1000000000)\n"
    "  --arg A                append A to the program's argv (repeatable)\n"
    "  --env K=V              set an environment variable (repeatable)\n"
    "  --output-format F      json (default), text or base64\n"

    "Environment: SEALRUN_SERVER, SEALRUN_TOKEN stand in for --server, --token.\n"
    "Exit status: 0 completed (or queued), 1 failed, 2 bad usage.\n";

static const char run_usage[] =
    "usage: sealrun run FILE.js|FILE.wasm [options]\n"
    "\n"
    "Runs FILE.js or FILE.wasm locally, in the same sandbox and runtime as sealrund,\n"
    "and prints the job JSON (no server, no store): same output, same gas.\n"
    "\n"
    "  --input JSON           the job input (default null)\n"
    "  --input-file F         read the input JSON from F\n"
    "  --entry-point NAME     function to call (default main)\n"
    "  --timeout S            wall-clock limit in seconds (default 30)\n"
    "  --memory-mb N          memory limit (default 128)\n"
    "  --gas-limit US         CPU budget in microseconds\n"
    "  --output-pubkey B64    seal the output to this X25519 key\n"
    "  --js-jit on|off        JavaScriptCore JIT (default on)\n"
    "  --http-allow PATTERN   a host the job may ask (its http.allow; repeatable)\n"
    "  --http-allow-http      let the job use plain http:// too\n"
    "  --http-ca-file F       trust the CA certificates in F instead of the system's\n"
    "  --http-allow-private A let the job reach loopback or private address A (tests)\n"
    "WebAssembly only:\n"
    "  --fuel N               fuel limit (gas_limit; default 1000000000)\n"
    "  --arg A                append A to the program's argv (repeatable)\n"
    "  --env K=V              set an environment variable (repeatable)\n"
    "  --output-format F      json (default), text or base64\n"

    "Exit status: 0 completed, 1 failed, 2 bad usage.\n";

#define MAX_REPEAT 64

struct job_opts {
    const char *file, *input, *input_file, *entry, *timeout, *memory, *gas, *pubkey;
    const char *server, *token, *jit, *format;
    const char *args[MAX_REPEAT], *env[MAX_REPEAT];
    size_t nargs, nenv;
    bool async, wait;
    /* outbound HTTP (docs/http.md): the job's http.allow; for run, the
     * local supervisor's policy too */
    const char *http_allow[SR_FETCH_MAX_ALLOW], *http_private[SR_FETCH_MAX_PRIVATE];
    size_t nhttp, nprivate;
    const char *ca_file;
    bool allow_http;
};

/* Handles the outbound HTTP options; true if 'a' was one. */
static bool
http_opt(const char *a, int *i, int argc, char **argv, struct job_opts *o, bool remote, int *rc)
{
    const char *v;
    if ((v = sr_opt_value(a, "--http-allow", i, argc, argv))) {
        if (o->nhttp == SR_FETCH_MAX_ALLOW)
            *rc = cli_fail(CLI_USAGE, NULL, "at most %d --http-allow options", SR_FETCH_MAX_ALLOW);
        else
            o->http_allow[o->nhttp++] = v;
    } else if (!remote && (v = sr_opt_value(a, "--http-allow-private", i, argc, argv))) {
        if (o->nprivate == SR_FETCH_MAX_PRIVATE)
            *rc = cli_fail(CLI_USAGE, NULL, "at most %d --http-allow-private options",
                           SR_FETCH_MAX_PRIVATE);
        else
            o->http_private[o->nprivate++] = v;
    } else if (!remote && (v = sr_opt_value(a, "--http-ca-file", i, argc, argv))) {
        o->ca_file = v;
    } else if (!remote && strcmp(a, "--http-allow-http") == 0) {
        o->allow_http = true;
    } else {
        return false;
    }
    return true;
}

/* Handles the WebAssembly options; true if 'a' was one. */
static bool
wasm_opt(const char *a, int *i, int argc, char **argv, struct job_opts *o, int *rc)
{
    const char *v;
    if ((v = sr_opt_value(a, "--fuel", i, argc, argv)))
        o->gas = v;
    else if ((v = sr_opt_value(a, "--output-format", i, argc, argv)))
        o->format = v;
    else if ((v = sr_opt_value(a, "--arg", i, argc, argv))) {
        if (o->nargs == MAX_REPEAT)
            *rc = cli_fail(CLI_USAGE, NULL, "at most %d --arg options", MAX_REPEAT);
        else
            o->args[o->nargs++] = v;
    } else if ((v = sr_opt_value(a, "--env", i, argc, argv))) {
        if (!strchr(v, '=') || v[0] == '=')
            *rc = cli_fail(CLI_USAGE, NULL, "--env takes NAME=value, got '%s'", v);
        else if (o->nenv == MAX_REPEAT)
            *rc = cli_fail(CLI_USAGE, NULL, "at most %d --env options", MAX_REPEAT);
        else
            o->env[o->nenv++] = v;
    } else
        return false;
    return true;
}

static int
parse_job_opts(int argc, char **argv, struct job_opts *o, bool remote)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        int rc = CLI_OK;
        if (wasm_opt(a, &i, argc, argv, o, &rc) || http_opt(a, &i, argc, argv, o, remote, &rc)) {
            if (rc != CLI_OK)
                return rc;
        } else if ((v = sr_opt_value(a, "--input", &i, argc, argv)))
            o->input = v;
        else if ((v = sr_opt_value(a, "--input-file", &i, argc, argv)))
            o->input_file = v;
        else if ((v = sr_opt_value(a, "--entry-point", &i, argc, argv)))
            o->entry = v;
        else if ((v = sr_opt_value(a, "--timeout", &i, argc, argv)))
            o->timeout = v;
        else if ((v = sr_opt_value(a, "--memory-mb", &i, argc, argv)))
            o->memory = v;
        else if ((v = sr_opt_value(a, "--gas-limit", &i, argc, argv)))
            o->gas = v;
        else if ((v = sr_opt_value(a, "--output-pubkey", &i, argc, argv)))
            o->pubkey = v;
        else if (remote && (v = sr_opt_value(a, "--server", &i, argc, argv)))
            o->server = v;
        else if (remote && (v = sr_opt_value(a, "--token", &i, argc, argv)))
            o->token = v;
        else if (remote && strcmp(a, "--async") == 0)
            o->async = true;
        else if (remote && strcmp(a, "--wait") == 0)
            o->wait = true;
        else if (!remote && (v = sr_opt_value(a, "--js-jit", &i, argc, argv)))
            o->jit = v;
        else if (a[0] != '-' && !o->file)
            o->file = a;
        else
            return cli_fail(CLI_USAGE,
                            remote ? "see 'sealrun exec --help'" : "see 'sealrun run --help'",
                            "unknown or incomplete argument '%s'", a);
    }
    if (!o->file)
        return cli_fail(CLI_USAGE, NULL, "a script file is required");
    return CLI_OK;
}

static sr_status
set_number(json_t *body, const char *field, const char *text, sr_err *err)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end)
        return sr_err_set(err, SR_EINVAL, "--%s must be a whole number, got '%.32s'", field, text);
    json_object_set_new(body, field, json_integer(n));
    return SR_OK;
}

static bool
is_wasm(const char *path, const char *bytes, size_t len)
{
    size_t n = strlen(path);
    return (len >= 4 && memcmp(bytes, "\0asm", 4) == 0) ||
           (n > 5 && strcmp(path + n - 5, ".wasm") == 0);
}

/* The code part of the body: "script" for JavaScript, or "runtime":"wasm"
 * with the module (base64) and the WebAssembly options. */
static sr_status
add_code(const struct job_opts *o, json_t *body, sr_err *err)
{
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
        json_t *args = json_array(), *env = json_object();
        for (size_t i = 0; i < o->nargs; i++)
            json_array_append_new(args, json_string(o->args[i]));
        for (size_t i = 0; i < o->nenv; i++) {
            const char *eq = strchr(o->env[i], '=');
            char name[256];
            (void)snprintf(name, sizeof(name), "%.*s", (int)(eq - o->env[i]), o->env[i]);
            json_object_set_new(env, name, json_string(eq + 1));
        }
        json_object_set_new(body, "args", args);
        json_object_set_new(body, "env", env);
        if (o->format)
            json_object_set_new(body, "output_format", json_string(o->format));
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

/* Builds the POST /execute body from the options. Returns owned. */
static sr_status
build_body(const struct job_opts *o, json_t **out, sr_err *err)
{
    json_t *body = json_object();
    sr_status rc = add_code(o, body, err);
    char *in_text = NULL;
    size_t in_len = 0;
    if (rc == SR_OK && o->input_file) {
        rc = cli_read_file(o->input_file, SR_MAX_BODY, &in_text, &in_len, err);
    } else if (rc == SR_OK && o->input) {
        in_text = strdup(o->input);
        in_len = strlen(o->input);
    }
    json_t *input = NULL;
    if (rc == SR_OK && in_text)
        rc = sr_json_parse(in_text, in_len, SR_MAX_JSON_DEPTH, "--input", &input, err);
    free(in_text);
    if (input)
        json_object_set_new(body, "input", input);
    if (rc == SR_OK && o->entry)
        json_object_set_new(body, "entry_point", json_string(o->entry));
    if (rc == SR_OK && o->timeout)
        rc = set_number(body, "timeout", o->timeout, err);
    if (rc == SR_OK && o->memory)
        rc = set_number(body, "memory_mb", o->memory, err);
    if (rc == SR_OK && o->gas)
        rc = set_number(body, "gas_limit", o->gas, err);
    if (rc == SR_OK && o->pubkey)
        json_object_set_new(body, "output_pubkey", json_string(o->pubkey));
    if (rc == SR_OK && o->async)
        json_object_set_new(body, "async", json_true());
    if (rc == SR_OK && o->nhttp) {
        json_t *allow = json_array();
        for (size_t i = 0; allow && i < o->nhttp; i++)
            json_array_append_new(allow, json_string(o->http_allow[i]));
        json_object_set_new(body, "http", json_pack("{s:o}", "allow", allow));
    }
    if (rc != SR_OK) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return SR_OK;
}

static int
job_exit(const json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    return st && strcmp(st, "failed") == 0 ? CLI_FAILED : CLI_OK;
}

/* ---- exec ---- */

int
cli_report_http(long status, json_t *ans)
{
    const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    int rc = cli_fail(CLI_FAILED, status == 401 ? "check --token (sealrun token list)" : NULL,
                      "server answered %ld: %s", status, msg ? msg : "(no message)");
    json_decref(ans);
    return rc;
}

static int
poll_job(const char *server, const char *token, const char *id)
{
    char url[2048];
    (void)snprintf(url, sizeof(url), "%s/jobs/%s", server, id);
    for (;;) {
        long status = 0;
        json_t *job = NULL;
        sr_err e = {0};
        if (cli_http("GET", url, token, NULL, 0, NULL, &status, &job, &e) != SR_OK)
            return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
        if (status != 200)
            return cli_report_http(status, job);
        const char *st = json_string_value(json_object_get(job, "status"));
        if (st && (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0)) {
            cli_print_json(job);
            int rc = job_exit(job);
            json_decref(job);
            return rc;
        }
        json_decref(job);
        usleep(200000);
    }
}

int
cmd_exec(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(exec_usage, stdout);
        return CLI_OK;
    }
    struct job_opts o = {.server = getenv("SEALRUN_SERVER"), .token = getenv("SEALRUN_TOKEN")};
    int rc = parse_job_opts(argc, argv, &o, true);
    if (rc != CLI_OK)
        return rc;
    if (!o.server || !o.token)
        return cli_fail(CLI_USAGE, "see 'sealrun exec --help'",
                        "--server and --token are required");
    json_t *body = NULL;
    sr_err e = {0};
    if (build_body(&o, &body, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char *text = sr_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char url[2048];
    (void)snprintf(url, sizeof(url), "%s/execute", o.server);
    long status = 0;
    json_t *ans = NULL;
    sr_status st =
        cli_http("POST", url, o.token, text, strlen(text), "application/json", &status, &ans, &e);
    free(text);
    if (st != SR_OK)
        rc = cli_fail(CLI_FAILED, "is sealrund running at that address?", "%s", e.msg);
    else if (status != 200 && status != 202)
        rc = cli_report_http(status, ans);
    else if (o.async && o.wait)
        rc = poll_job(o.server, o.token, json_string_value(json_object_get(ans, "job_id")));
    else {
        cli_print_json(ans);
        rc = job_exit(ans);
    }
    if (st == SR_OK && (status == 200 || status == 202))
        json_decref(ans);
    return rc;
}

/* ---- run ---- */

static int
run_local(const struct job_opts *o, const struct sr_job_request *req)
{
    sr_err e = {0};
    sr_engine *eng = NULL;
    struct sr_engine_config cfg = {
        .isolation = SR_ISOLATION_JOB,
        .js_no_jit = o->jit && strcmp(o->jit, "off") == 0,
        .http = {.private_nets = o->http_private,
                 .nprivate = o->nprivate,
                 .ca_file = o->ca_file,
                 .allow_http = o->allow_http},
    };
    if (sr_engine_new(&cfg, &eng, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    /* Sign only when the operator's key is at hand (COMPUTE_MASTER_KEY). */
    sr_keys *keys = NULL;
    if (getenv("COMPUTE_MASTER_KEY") &&
        sr_keys_load("/nonexistent", false, &(bool){false}, &keys, &e) != SR_OK)
        keys = NULL;
    int rc = CLI_FAILED;
    char *text = NULL;
    size_t len = 0;
    json_t *job = NULL;
    if (sr_engine_start(eng, NULL, keys, &e) != SR_OK ||
        sr_engine_execute(eng, "local", req, &text, &len, &e) != SR_OK ||
        sr_json_parse(text, len, 2048 + 8, "job", &job, &e) != SR_OK) {
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    } else {
        cli_print_json(job);
        rc = job_exit(job);
    }
    json_decref(job);
    free(text);
    sr_engine_free(eng);
    sr_keys_free(keys);
    return rc;
}

int
cmd_run(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(run_usage, stdout);
        return CLI_OK;
    }
    struct job_opts o = {0};
    int rc = parse_job_opts(argc, argv, &o, false);
    if (rc != CLI_OK)
        return rc;
    if (o.jit && strcmp(o.jit, "on") != 0 && strcmp(o.jit, "off") != 0)
        return cli_fail(CLI_USAGE, NULL, "--js-jit must be 'on' or 'off', got '%s'", o.jit);
    sr_err e = {0};
    json_t *body = NULL;
    if (sr_crypto_init(&e) != SR_OK || build_body(&o, &body, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    struct sr_job_request req;
    sr_status st = sr_job_request_parse(body, &req, &e);
    json_decref(body);
    if (st != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    signal(SIGPIPE, SIG_IGN);
    rc = run_local(&o, &req);
    sr_job_request_fini(&req);
    return rc;
}
