/* SPDX-License-Identifier: MIT
 *
 * runner.c - a job process's state and the sandbox callbacks: proc_init
 * makes the JavaScript VM (before seccomp; JavaScriptCore starts threads,
 * so the process never forks after this), job_fn decodes each message
 * (a job spec or a module check) and hands it to the runtime, and the
 * compiled-module cache keeps WebAssembly modules for the next jobs of
 * this process (tenant isolation: the same owner's).
 *
 * Every job frame may hold secret values: it is wiped by the sandbox after
 * job_fn returns; what this module copies out of it is wiped here.
 */
#include "runner_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the module cache ---- */

const sr_wasm_module *
sr_runner__cache_get(struct runner_cache *c, const uint8_t hash[32])
{
    for (size_t i = 0; i < c->n; i++) {
        if (memcmp(c->slot[i].hash, hash, 32) == 0) {
            c->slot[i].last_use = ++c->clock;
            return c->slot[i].mod;
        }
    }
    return NULL;
}

static void
cache_evict_one(struct runner_cache *c)
{
    size_t old = 0;
    for (size_t i = 1; i < c->n; i++)
        if (c->slot[i].last_use < c->slot[old].last_use)
            old = i;
    sr_wasm_module_free(c->slot[old].mod);
    c->bytes -= c->slot[old].cost;
    c->slot[old] = c->slot[--c->n];
}

const sr_wasm_module *
sr_runner__cache_put(struct runner_cache *c, const uint8_t hash[32], sr_wasm_module *mod,
                     size_t cost)
{
    if (cost > c->max_bytes) {
        sr_wasm_module_free(mod);
        return NULL;
    }
    while (c->n && (c->n == RUNNER_CACHE_SLOTS || c->bytes + cost > c->max_bytes))
        cache_evict_one(c);
    struct runner_module *m = &c->slot[c->n++];
    memcpy(m->hash, hash, 32);
    m->mod = mod;
    m->cost = cost;
    m->last_use = ++c->clock;
    c->bytes += cost;
    return mod;
}

void
sr_runner__cache_fini(struct runner_cache *c)
{
    while (c->n)
        cache_evict_one(c);
}

/* ---- answers ---- */

void
sr_runner__fail(struct sr_job_answer *a, enum sr_job_code code, char *msg, size_t cap,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    a->code = code;
    a->output = (struct sr_bytes){0};
    a->message = (struct sr_bytes){(const uint8_t *)msg, n < 0             ? 0
                                                         : (size_t)n < cap ? (size_t)n
                                                                           : cap - 1};
}

/* ---- the sandbox callbacks ---- */

sr_status
sr_runner_proc_init(void *arg, void **state, sr_err *err)
{
    const struct sr_runner_config *cfg = arg;
    struct runner_proc *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting a job process");
    ps->cfg = cfg;
    ps->cache.max_bytes =
        cfg && cfg->module_cache_bytes ? cfg->module_cache_bytes : SR_RUNNER_DEFAULT_CACHE;
    const struct sr_js_options opt = {.no_jit = cfg && cfg->js_no_jit, .cpu_backstop = true};
    sr_status rc = sr_js_vm_new(&opt, &ps->js, err);
    if (rc != SR_OK) {
        free(ps);
        return sr_err_wrap(err, "starting the JavaScript runtime");
    }
    *state = ps;
    return SR_OK;
}

sr_status
sr_runner_job_fn(void *arg, void *state, sr_sandbox_child *child, const uint8_t *req, size_t len,
                 sr_buf *resp, bool *discard, sr_err *err)
{
    (void)arg;
    struct runner_proc *ps = state;
    if (len >= 1 && req[0] == 'C') {
        struct sr_bytes module;
        sr_status rc = sr_runner__check_decode(req, len, &module, err);
        return rc == SR_OK ? sr_runner__check_module(ps, &module, resp, err) : rc;
    }
    struct sr_job_spec *spec = calloc(1, sizeof(*spec));
    if (!spec)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a job");
    sr_status rc = sr_job_spec_decode(req, len, spec, err);
    if (rc == SR_OK)
        sr_runner__record_begin(spec);
    if (rc == SR_OK && spec->runtime == SR_RUNTIME_WASM)
        rc = sr_runner__run_wasm(ps, spec, child, resp, err);
    else if (rc == SR_OK)
        rc = sr_runner__run_js(ps, spec, child, resp, discard, err);
    if (spec->record) /* its randomness is the seed's from now on: no job may follow */
        *discard = true;
    free(spec); /* views only: the values stay in the frame, which the sandbox wipes */
    return rc;
}
