/* SPDX-License-Identifier: MIT
 *
 * runner_wasm.c - a WebAssembly job and a module check in the job process.
 *
 * The module comes from the process's cache (by the spec's code hash), or
 * from the spec, or, when the spec came without it, from the supervisor by
 * a host call; it is decoded once per process and kept compiled for the
 * next jobs. The guest gets argv, the request's environment followed by its
 * secrets (NAME=value, so a secret wins over a variable of the same name,
 * plus SEALRUN_JOB_ID and SEALRUN_USER), stdin, and the 'sealrun' storage
 * imports. The answer carries stdout as it was written: the supervisor
 * turns it into the output per output_format, so the guest's bytes are
 * parsed exactly once, in the supervisor. stderr becomes log entries, one
 * per line, with the JavaScript runtime's caps and truncation marks.
 *
 * Sections: the module; the environment; the answer; the entry points.
 */
#include "runner_int.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sealrun/sr_crypto.h"

#define LOG_CUT_MARK " [truncated: log entry longer than 4096 bytes]"

/* ---- the module ---- */

/* Decodes and compiles a module, and says what it costs the cache: the heap
 * the compiled module holds (measured around the decode: this process runs
 * one job at a time, so what malloc gained is the module's), never less
 * than its bytes. */
static sr_status
compile(const struct sr_bytes *b, sr_wasm_module **mod, size_t *cost, sr_err *err)
{
    struct mallinfo2 before = mallinfo2();
    sr_status rc = sr_wasm_module_new(b->p, b->len, mod, err);
    struct mallinfo2 after = mallinfo2();
    size_t grown = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
    *cost = grown > b->len ? grown : b->len;
    return rc;
}

/* Asks the supervisor for the module with the spec's hash. */
static sr_status
fetch_module(const struct sr_job_spec *spec, sr_sandbox_child *child, sr_buf *bytes, sr_err *err)
{
    uint8_t req[33];
    req[0] = SR_RUNNER_HOSTCALL_MODULE;
    memcpy(req + 1, spec->code_hash, 32);
    sr_status rc = sr_sandbox_hostcall(child, req, sizeof(req), bytes, err);
    return rc == SR_OK ? SR_OK : sr_err_wrap(err, "loading the module");
}

/* The compiled module of the job: borrowed from the cache, or owned in
 * *own when it was too large to keep. NULL with msg set when the bytes are
 * not a valid module; another status is sealrun's own failure. */
static sr_status
job_module(struct runner_proc *ps, const struct sr_job_spec *spec, sr_sandbox_child *child,
           const sr_wasm_module **out, sr_wasm_module **own, char *msg, size_t cap, sr_err *err)
{
    *out = sr_runner__cache_get(&ps->cache, spec->code_hash);
    if (*out)
        return SR_OK;
    sr_buf fetched;
    sr_buf_init(&fetched, SR_MAX_MODULE);
    struct sr_bytes b = spec->code;
    sr_status rc = SR_OK;
    if (!b.len) {
        rc = fetch_module(spec, child, &fetched, err);
        b = (struct sr_bytes){(const uint8_t *)fetched.data, fetched.len};
    }
    sr_wasm_module *mod = NULL;
    size_t cost = 0;
    sr_err e = {0};
    if (rc == SR_OK) {
        rc = compile(&b, &mod, &cost, &e);
        if (rc == SR_EINVAL) {
            (void)snprintf(msg, cap, "invalid module: %s", e.msg); /* e is separate from msg */
            rc = SR_OK;
        } else if (rc != SR_OK) {
            *err = e;
        }
    }
    if (mod) {
        *out = sr_runner__cache_put(&ps->cache, spec->code_hash, mod, cost);
        if (!*out) { /* too large to keep: this job owns it */
            *own = mod;
            *out = mod;
        }
    }
    sr_buf_fini(&fetched);
    return rc;
}

/* ---- the native tier ---- */

/* The host functions a WASM job gets besides WASI (ctx from 'child' and
 * 'http'; both NULL: names and signatures only). */
#define RUNNER_HOST_FUNCS                                                                          \
    (SR_RUNNER__WASM_STORAGE_FUNCS + SR_RUNNER__WASM_HTTP_FUNCS + SR_RUNNER__WASM_KEY_FUNCS)

static void
host_funcs(sr_sandbox_child *child, struct sr_runner__http *http,
           struct sr_wasi_host_func host[RUNNER_HOST_FUNCS])
{
    sr_runner__wasm_storage_funcs(child, host);
    sr_runner__wasm_http_funcs(http, host + SR_RUNNER__WASM_STORAGE_FUNCS);
    sr_runner__wasm_key_funcs(child,
                              host + SR_RUNNER__WASM_STORAGE_FUNCS + SR_RUNNER__WASM_HTTP_FUNCS);
}

sr_status
sr_runner_native_glue(struct sr_wasm_native_glue *out, sr_err *err)
{
    struct sr_wasi_host_func host[RUNNER_HOST_FUNCS];
    host_funcs(NULL, NULL, host);
    return sr_wasm_native_glue(host, RUNNER_HOST_FUNCS, out, err);
}

/* Host call 'N' op with the module rewritten for the native tier. With
 * 'fd' the answer's descriptor (the object) is loaded into *out. */
static sr_status
native_call(const sr_wasm_module *mod, sr_sandbox_child *child, char op, sr_wasm_native **out,
            sr_err *err)
{
    uint8_t *w = NULL;
    size_t wlen = 0;
    sr_status rc = sr_wasm_fuel_instrument_ex(mod, 0, SR_WASM_FUEL_NATIVE, &w, &wlen, NULL, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "rewriting the module for the native tier");
    sr_buf req, ans;
    sr_buf_init(&req, 2 + (size_t)SR_MAX_MODULE);
    sr_buf_init(&ans, 64);
    const uint8_t head[2] = {SR_RUNNER_HOSTCALL_NATIVE, (uint8_t)op};
    rc = sr_buf_append(&req, head, 2, err);
    if (rc == SR_OK)
        rc = sr_buf_append(&req, w, wlen, err);
    free(w);
    int fd = -1;
    if (rc == SR_OK)
        rc = sr_sandbox_hostcall_fd(child, (const uint8_t *)req.data, req.len, &ans, &fd, err);
    sr_buf_fini(&req);
    sr_buf_fini(&ans);
    if (rc == SR_OK && out && fd < 0)
        rc = sr_err_set(err, SR_EIO, "the supervisor sent no native code");
    if (rc == SR_OK && out) {
        sr_sandbox_child_allow_open(child, fd);    /* dlopen opens /proc/self/fd/N */
        rc = sr_wasm_native_load_fd(fd, out, err); /* takes fd */
        sr_sandbox_child_allow_open(child, -1);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The native code for the job's module: this process's last one when it
 * is the same module, else from the supervisor ('G' or 'L' by spec). *out
 * borrowed from ps; NULL with err set when there is none. */
static sr_status
native_code(struct runner_proc *ps, const struct sr_job_spec *spec, const sr_wasm_module *mod,
            sr_sandbox_child *child, const sr_wasm_native **out, sr_err *err)
{
    *out = NULL;
    if (ps->native && memcmp(ps->native_hash, spec->code_hash, 32) == 0) {
        *out = ps->native;
        return SR_OK;
    }
    sr_wasm_native *n = NULL;
    char op = spec->native == SR_SPEC_NATIVE ? SR_RUNNER_NATIVE_GET : SR_RUNNER_NATIVE_LOOKUP;
    sr_status rc = native_call(mod, child, op, &n, err);
    if (rc != SR_OK)
        return rc;
    sr_wasm_native_free(ps->native); /* one at a time: each holds a descriptor */
    ps->native = n;
    memcpy(ps->native_hash, spec->code_hash, 32);
    *out = n;
    return SR_OK;
}

/* ---- the environment ---- */

static sr_status
env_add(struct sr_runner_env *w, const struct sr_bytes *a, const struct sr_bytes *b, bool is_env,
        sr_err *err)
{
    size_t at = w->text.len;
    sr_status rc = sr_buf_append(&w->text, a->p, a->len, err);
    if (rc == SR_OK && b)
        rc = sr_buf_append(&w->text, "=", 1, err);
    if (rc == SR_OK && b)
        rc = sr_buf_append(&w->text, b->p, b->len, err);
    if (rc == SR_OK)
        rc = sr_buf_append(&w->text, "", 1, err); /* the NUL between strings */
    if (rc != SR_OK)
        return rc;
    if (is_env)
        w->env[w->envc++] = (const char *)(uintptr_t)at; /* offsets until the text is final */
    else
        w->argv[w->argc++] = (const char *)(uintptr_t)at;
    return SR_OK;
}

/* A request variable a secret of the same name replaces (getenv takes the
 * first match, so the request's would otherwise win). At most 64 x 16. */
static bool
shadowed(const struct sr_job_spec *spec, const struct sr_bytes *kv)
{
    const uint8_t *eq = memchr(kv->p, '=', kv->len);
    size_t n = eq ? (size_t)(eq - kv->p) : kv->len;
    for (size_t i = 0; i < spec->nsecrets; i++)
        if (spec->secrets[i].name.len == n && memcmp(spec->secrets[i].name.p, kv->p, n) == 0)
            return true;
    return false;
}

sr_status
sr_runner__env_build(const struct sr_job_spec *spec, struct sr_runner_env *w, sr_err *err)
{
    size_t bound = 64 + 2 * SR_MAX_USER_NAME;
    for (size_t i = 0; i < spec->nargs; i++)
        bound += spec->args[i].len + 1;
    for (size_t i = 0; i < spec->nenv; i++)
        bound += spec->env[i].len + 1;
    for (size_t i = 0; i < spec->nsecrets; i++)
        bound += spec->secrets[i].name.len + spec->secrets[i].value.len + 2;
    sr_buf_init(&w->text, bound);
    sr_status rc = sr_buf_reserve(&w->text, bound, err); /* no growth: no stray copies */
    const struct sr_bytes prog = {(const uint8_t *)"job", 3};
    const struct sr_bytes jk = {(const uint8_t *)"SEALRUN_JOB_ID", 14};
    const struct sr_bytes jv = {(const uint8_t *)spec->job_id, strlen(spec->job_id)};
    const struct sr_bytes uk = {(const uint8_t *)"SEALRUN_USER", 12};
    const struct sr_bytes uv = {(const uint8_t *)spec->user, strlen(spec->user)};
    if (rc == SR_OK)
        rc = env_add(w, &prog, NULL, false, err);
    for (size_t i = 0; rc == SR_OK && i < spec->nargs; i++)
        rc = env_add(w, &spec->args[i], NULL, false, err);
    for (size_t i = 0; rc == SR_OK && i < spec->nenv; i++)
        if (!shadowed(spec, &spec->env[i]))
            rc = env_add(w, &spec->env[i], NULL, true, err);
    if (rc == SR_OK)
        rc = env_add(w, &jk, &jv, true, err);
    if (rc == SR_OK)
        rc = env_add(w, &uk, &uv, true, err);
    for (size_t i = 0; rc == SR_OK && i < spec->nsecrets; i++)
        rc = env_add(w, &spec->secrets[i].name, &spec->secrets[i].value, true, err);
    for (size_t i = 0; rc == SR_OK && i < w->argc; i++)
        w->argv[i] = w->text.data + (uintptr_t)w->argv[i];
    for (size_t i = 0; rc == SR_OK && i < w->envc; i++)
        w->env[i] = w->text.data + (uintptr_t)w->env[i];
    return rc;
}

/* ---- the answer ---- */

/* stderr into log entries: views of the stderr bytes, except the entries
 * that carry a mark (a cut line, the last entry when entries were
 * dropped), which are written into 'marked' (grown only when a line needs
 * a mark) and pointed at once it is complete. */
struct log_lines {
    sr_buf marked;
    size_t off[SR_MAX_LOG_ENTRIES];
    bool is_marked[SR_MAX_LOG_ENTRIES];
};

static void
mark(struct log_lines *ll, struct sr_job_answer *a, size_t i, const uint8_t *p, size_t n,
     const char *tail)
{
    size_t at = ll->marked.len;
    if (sr_buf_append(&ll->marked, p, n, NULL) != SR_OK ||
        sr_buf_append_str(&ll->marked, tail, NULL) != SR_OK)
        return; /* out of memory: the entry keeps its plain view */
    ll->off[i] = at;
    ll->is_marked[i] = true;
    a->logs[i].len = n + strlen(tail);
}

static void
stderr_logs(const uint8_t *p, size_t len, struct sr_job_answer *a, struct log_lines *ll)
{
    size_t dropped = 0;
    for (size_t i = 0; i < len;) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (p + i)) : len - i;
        if (a->nlogs >= SR_MAX_LOG_ENTRIES) {
            dropped++;
        } else {
            size_t k = a->nlogs++;
            a->logs[k] = (struct sr_bytes){p + i, n};
            if (n > SR_MAX_LOG_ENTRY)
                mark(ll, a, k, p + i, SR_MAX_LOG_ENTRY, LOG_CUT_MARK);
        }
        i += n + 1;
    }
    if (dropped && a->nlogs) {
        size_t k = a->nlogs - 1;
        char tail[160];
        (void)snprintf(tail, sizeof(tail), "%s [log limit: %zu more entries dropped]",
                       ll->is_marked[k] ? LOG_CUT_MARK : "", dropped);
        /* the view still points at stderr until the pointers are fixed below */
        const uint8_t *line = a->logs[k].p;
        size_t n = ll->is_marked[k] ? SR_MAX_LOG_ENTRY : a->logs[k].len;
        size_t at = ll->marked.len;
        if (sr_buf_append(&ll->marked, line, n, NULL) == SR_OK &&
            sr_buf_append_str(&ll->marked, tail, NULL) == SR_OK) {
            ll->off[k] = at;
            ll->is_marked[k] = true;
            a->logs[k].len = n + strlen(tail);
        }
    }
    for (size_t k = 0; k < a->nlogs; k++)
        if (ll->is_marked[k])
            a->logs[k].p = (const uint8_t *)ll->marked.data + ll->off[k];
}

static void
failure(sr_status rc, const struct sr_wasi_result *r, struct sr_job_answer *a, char *msg,
        size_t cap)
{
    if (r->trap == SR_WASM_TRAP_FUEL)
        sr_runner__fail(a, SR_JOB_GAS_EXHAUSTED, msg, cap,
                        "the program used all of its fuel (gas_limit)");
    else if (r->stdout_truncated)
        sr_runner__fail(a, SR_JOB_OUTPUT_TOO_LARGE, msg, cap,
                        "the program wrote more than %u bytes to stdout", SR_MAX_OUTPUT);
    else if (r->memory_limit)
        sr_runner__fail(a, SR_JOB_MEMORY_LIMIT, msg, cap,
                        "the program needed more linear memory than memory_mb: %s", r->message);
    else if (rc == SR_EINVAL)
        sr_runner__fail(a, SR_JOB_MODULE_ERROR, msg, cap, "%s", r->message);
    else
        sr_runner__fail(a, SR_JOB_EXECUTION_ERROR, msg, cap, "wasm trap: %s", r->message);
}

/* The last bytes of stderr, for an EXIT_CODE message. */
static void
exit_failure(const struct sr_wasi_result *r, struct sr_job_answer *a, char *msg, size_t cap)
{
    size_t tail = r->stderr_len > 300 ? 300 : r->stderr_len;
    const char *p = (const char *)r->stderr_data + r->stderr_len - tail;
    if (tail)
        sr_runner__fail(a, SR_JOB_EXIT_CODE, msg, cap,
                        "the program exited with code %u; stderr ends with: %.*s", r->exit_code,
                        (int)tail, p);
    else
        sr_runner__fail(a, SR_JOB_EXIT_CODE, msg, cap, "the program exited with code %u",
                        r->exit_code);
}

/* ---- the entry points ---- */

/* The tier of this run: *code set for native code (a->native too). False
 * when the job fails here (tier "native" without native code: a holds
 * MODULE_ERROR and why). */
static bool
pick_tier(struct runner_proc *ps, const struct sr_job_spec *spec, const sr_wasm_module *mod,
          sr_sandbox_child *child, struct sr_job_answer *a, const sr_wasm_native **code, char *msg,
          size_t cap)
{
    sr_err e = {0};
    *code = NULL;
    if (spec->native == SR_SPEC_OFFER) {
        (void)native_call(mod, child, SR_RUNNER_NATIVE_QUEUE, NULL, &e); /* best effort */
        return true;
    }
    if (spec->native == SR_SPEC_INTERP)
        return true;
    if (native_code(ps, spec, mod, child, code, &e) == SR_OK) {
        a->native = true;
        return true;
    }
    if (spec->native == SR_SPEC_NATIVE_READY)
        return true; /* not compiled (yet): the interpreter */
    a->native = true;
    sr_runner__fail(a, SR_JOB_MODULE_ERROR, msg, cap, "the native tier cannot run this module: %s",
                    e.msg);
    return false;
}

static sr_status
run_guest(const struct sr_job_spec *spec, const sr_wasm_module *mod, const sr_wasm_native *code,
          sr_sandbox_child *child, struct sr_wasi_result *r, sr_err *err)
{
    struct sr_runner_env w = {0};
    sr_status rc = sr_runner__env_build(spec, &w, err);
    if (rc != SR_OK) {
        sr_buf_fini_secure(&w.text);
        return rc;
    }
    const struct sr_wasm_limits lim = {
        .max_pages = (uint32_t)(spec->memory_bytes / 65536u),
        .fuel = spec->budget,
    };
    struct sr_runner__http *http = NULL;
    rc = sr_runner__http_new(child, &http, err);
    if (rc != SR_OK) {
        sr_buf_fini_secure(&w.text);
        return rc;
    }
    struct sr_wasi_host_func host[RUNNER_HOST_FUNCS];
    host_funcs(child, http, host);
    struct sr_wasi_config cfg = {
        .host_funcs = host,
        .nhost_funcs = RUNNER_HOST_FUNCS,
        .argv = w.argv,
        .argc = w.argc,
        .env = w.env,
        .envc = w.envc,
        .stdin_data = spec->input.p,
        .stdin_len = spec->input.len,
    };
    sr_runner__record_wasi(spec, child, &cfg);
    rc = code ? sr_wasm_run_wasi_native(mod, code, &lim, &cfg, r, err)
              : sr_wasm_run_wasi(mod, &lim, &cfg, r, err);
    sr_runner__http_free(http);
    sr_buf_fini_secure(&w.text);
    return rc;
}

sr_status
sr_runner__run_wasm(struct runner_proc *ps, const struct sr_job_spec *spec, sr_sandbox_child *child,
                    sr_buf *resp, sr_err *err)
{
    char msg[SR_RUNNER_MAX_MESSAGE] = "";
    const sr_wasm_module *mod = NULL;
    const sr_wasm_native *code = NULL;
    sr_wasm_module *own = NULL;
    sr_status rc = job_module(ps, spec, child, &mod, &own, msg, sizeof(msg), err);
    if (rc != SR_OK)
        return rc;
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    struct log_lines *ll = calloc(1, sizeof(*ll));
    if (ll)
        sr_buf_init(&ll->marked, SR_MAX_LOG_ENTRIES * (SR_RUNNER_MAX_LOG_BYTES + 64));
    struct sr_wasi_result r = {0};
    if (!a || !ll) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory answering a job");
        goto out;
    }
    if (!mod) {
        /* msg holds the decoder's text: point at it, never format it into itself */
        a->code = SR_JOB_MODULE_ERROR;
        a->module_invalid = true;
        a->message = (struct sr_bytes){(const uint8_t *)msg, strlen(msg)};
    } else if (!pick_tier(ps, spec, mod, child, a, &code, msg, sizeof(msg))) {
        /* tier "native" and no native code: the message says why */
    } else {
        rc = run_guest(spec, mod, code, child, &r, err);
        if (code && rc == SR_EINVAL && spec->native != SR_SPEC_NATIVE) {
            /* "auto": what the native tier cannot run (a memory it does not
             * export) the interpreter runs; nothing ran yet */
            sr_wasi_result_fini(&r);
            memset(&r, 0, sizeof(r));
            code = NULL;
            a->native = false;
            rc = run_guest(spec, mod, NULL, child, &r, err);
        }
        if (rc == SR_ENOMEM || rc == SR_EINTERNAL)
            goto out;
        a->gas_used = r.fuel_used;
        if (rc != SR_OK)
            failure(rc, &r, a, msg, sizeof(msg));
        else if (r.exit_code != 0)
            exit_failure(&r, a, msg, sizeof(msg));
        else
            a->output = (struct sr_bytes){r.stdout_data, r.stdout_len};
        stderr_logs(r.stderr_data, r.stderr_len, a, ll);
    }
    rc = sr_job_answer_encode(a, resp, err);
out:
    sr_wasi_result_fini(&r);
    sr_wasm_module_free(own);
    if (ll)
        sr_buf_fini(&ll->marked);
    free(ll);
    free(a);
    return rc;
}

/* A name for the description: at most SR_RUNNER_MAX_NAME bytes, cut back
 * to a UTF-8 character boundary. */
static struct sr_bytes
shown_name(const char *p, size_t len)
{
    if (!p)
        return (struct sr_bytes){0};
    if (len > SR_RUNNER_MAX_NAME) {
        len = SR_RUNNER_MAX_NAME;
        while (len && ((unsigned char)p[len] & 0xC0) == 0x80)
            len--;
    }
    return (struct sr_bytes){(const uint8_t *)p, len};
}

static void
describe(const sr_wasm_module *mod, struct sr_job_answer *a)
{
    a->import_count = sr_wasm_module_import_count(mod);
    a->export_count = sr_wasm_module_export_count(mod);
    struct sr_wasm_extern_info x;
    for (size_t i = 0; i < a->import_count && a->nimports < SR_RUNNER_MAX_DESCRIBED; i++) {
        if (!sr_wasm_module_import(mod, i, &x))
            break;
        a->imports[a->nimports++] = (struct sr_extern_view){
            (enum sr_extern_kind)x.kind, shown_name(x.module, x.module ? strlen(x.module) : 0),
            shown_name(x.name, x.name_len)};
    }
    for (size_t i = 0; i < a->export_count && a->nexports < SR_RUNNER_MAX_DESCRIBED; i++) {
        if (!sr_wasm_module_export(mod, i, &x))
            break;
        a->exports[a->nexports++] = (struct sr_extern_view){
            (enum sr_extern_kind)x.kind, {0}, shown_name(x.name, x.name_len)};
    }
}

sr_status
sr_runner__check_module(struct runner_proc *ps, const struct sr_bytes *module, sr_buf *resp,
                        sr_err *err)
{
    char msg[SR_RUNNER_MAX_MESSAGE];
    uint8_t hash[32];
    sr_sha256(module->p, module->len, hash);
    struct sr_job_answer *a = calloc(1, sizeof(*a));
    if (!a)
        return sr_err_set(err, SR_ENOMEM, "out of memory checking a module");
    sr_wasm_module *mod = NULL;
    sr_err e = {0};
    size_t cost = 0;
    sr_status rc = compile(module, &mod, &cost, &e);
    if (rc == SR_EINVAL) {
        sr_runner__fail(a, SR_JOB_MODULE_ERROR, msg, sizeof(msg), "invalid module: %s", e.msg);
        a->module_invalid = true;
        rc = SR_OK;
    } else if (rc != SR_OK) {
        *err = e;
        free(a);
        return rc;
    }
    if (mod) {
        /* an import nothing here provides would fail every run: refuse it now */
        struct sr_wasi_host_func host[RUNNER_HOST_FUNCS];
        host_funcs(NULL, NULL, host);
        const struct sr_wasi_config cfg = {.host_funcs = host, .nhost_funcs = RUNNER_HOST_FUNCS};
        if (sr_wasi_check_imports(mod, &cfg, &e) != SR_OK) {
            sr_runner__fail(a, SR_JOB_MODULE_ERROR, msg, sizeof(msg), "invalid module: %s", e.msg);
            a->module_invalid = true;
        }
        describe(mod, a);
    }
    rc = sr_job_answer_encode(a, resp, err);
    free(a);
    /* kept compiled: the owner's next job in this process starts warm */
    if (mod && !sr_runner__cache_get(&ps->cache, hash))
        (void)sr_runner__cache_put(&ps->cache, hash, mod, cost);
    else
        sr_wasm_module_free(mod);
    return rc;
}
