/* SPDX-License-Identifier: MIT
 *
 * native.c - the daemon's side of the native tier (docs/wasm.md, "Two
 * tiers"): the compiler and its cache (sr_native, sandboxed wasm2c and cc),
 * how often each module ran under "auto", the background queue that
 * compiles one module at a time, and the answers to a job process's 'N'
 * host calls: the compiled object as a sealed memfd.
 *
 * What is compiled is what a job process sent: the job's module rewritten
 * with fuel (the daemon decodes no module). The cache is keyed by the
 * SHA-256 of those bytes, so an object only ever serves the bytes it was
 * compiled from: a job process that sent other bytes than the rewrite of
 * its module gets code for what it sent, never another owner's. The table
 * of runs is keyed by the job's module hash, which the daemon computed.
 *
 * Locks: 'lock' guards the table and the queue; 'compile' is held around
 * every compile (one at a time: a job that asks for its object compiled
 * now waits for a background compile to finish, and that wait counts
 * toward its timeout); lookups go through a second sr_native on the same
 * cache under 'lookup', so a job of a compiled module never waits for a
 * compiler.
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "sealrun/sr_log.h"
#include "sealrun/sr_native.h"
#include "sealrun/sr_util.h"

#define NATIVE_TABLE 1024u /* modules whose runs are counted; the least recently seen goes */
#define NATIVE_QUEUE 8u    /* modules waiting for the background compiler */
#define NATIVE_DEFAULT_AFTER 3u

enum mod_state { MOD_NEW = 0, MOD_QUEUED, MOD_READY, MOD_FAILED };

struct native_mod {
    uint8_t hash[32];
    uint32_t runs;
    enum mod_state state;
    uint64_t seen; /* table clock */
};

struct native_job {
    uint8_t hash[32];
    uint8_t *wasm; /* owned */
    size_t len;
};

struct sr_engine__native {
    sr_native *nat;  /* NULL: the tier is off, 'why' says why; under 'compile' */
    sr_native *look; /* the same cache, for lookups only: never behind a compile; under 'lookup' */
    char why[SR_ERR_MSG_MAX + 64];
    unsigned after;
    uint64_t cache_max;
    struct sr_wasm_native_glue glue;
    pthread_mutex_t lock;
    pthread_mutex_t compile;
    pthread_mutex_t lookup;
    pthread_cond_t wake;
    bool stop;
    pthread_t thread;
    bool has_thread;
    struct native_mod tab[NATIVE_TABLE];
    size_t ntab;
    uint64_t clock;
    struct native_job q[NATIVE_QUEUE];
    size_t qn;
};

/* ---- the table (under lock) ---- */

static struct native_mod *
find(struct sr_engine__native *n, const uint8_t hash[32], bool add)
{
    struct native_mod *old = NULL;
    for (size_t i = 0; i < n->ntab; i++) {
        if (memcmp(n->tab[i].hash, hash, 32) == 0) {
            n->tab[i].seen = ++n->clock;
            return &n->tab[i];
        }
        if (!old || n->tab[i].seen < old->seen)
            old = &n->tab[i];
    }
    if (!add)
        return NULL;
    struct native_mod *m = n->ntab < NATIVE_TABLE ? &n->tab[n->ntab++] : old;
    *m = (struct native_mod){.seen = ++n->clock};
    memcpy(m->hash, hash, 32);
    return m;
}

static void
set_state(struct sr_engine__native *n, const uint8_t hash[32], enum mod_state st)
{
    pthread_mutex_lock(&n->lock);
    struct native_mod *m = find(n, hash, true);
    m->state = st;
    pthread_mutex_unlock(&n->lock);
}

/* Queues wasm (copied) for the background compiler unless the module is
 * queued, compiled or failed already, or the queue is full (a later run
 * offers it again). */
static void
enqueue(struct sr_engine__native *n, const uint8_t hash[32], const uint8_t *wasm, size_t len)
{
    pthread_mutex_lock(&n->lock);
    struct native_mod *m = find(n, hash, true);
    if (m->state == MOD_NEW && n->qn < NATIVE_QUEUE) {
        uint8_t *copy = malloc(len ? len : 1);
        if (copy) {
            memcpy(copy, wasm, len);
            struct native_job *j = &n->q[n->qn++];
            memcpy(j->hash, hash, 32);
            j->wasm = copy;
            j->len = len;
            m->state = MOD_QUEUED;
            pthread_cond_signal(&n->wake);
        }
    }
    pthread_mutex_unlock(&n->lock);
}

/* ---- compiling ---- */

static sr_status
compile_locked(struct sr_engine__native *n, const uint8_t *wasm, size_t len, bool lookup,
               uint8_t **so, size_t *so_len, sr_err *err)
{
    bool hit = false;
    pthread_mutex_t *mu = lookup ? &n->lookup : &n->compile;
    pthread_mutex_lock(mu);
    sr_status rc = lookup ? sr_native_lookup(n->look, wasm, len, so, so_len, err)
                          : sr_native_get(n->nat, wasm, len, so, so_len, &hit, err);
    pthread_mutex_unlock(mu);
    return rc;
}

static void *
compiler_main(void *arg)
{
    struct sr_engine__native *n = arg;
    pthread_mutex_lock(&n->lock);
    for (;;) {
        while (!n->stop && n->qn == 0)
            pthread_cond_wait(&n->wake, &n->lock);
        if (n->stop)
            break;
        struct native_job j = n->q[0];
        memmove(&n->q[0], &n->q[1], (n->qn - 1) * sizeof(n->q[0]));
        n->qn--;
        pthread_mutex_unlock(&n->lock);
        uint8_t *so = NULL;
        size_t so_len = 0;
        sr_err e = {0};
        int64_t t0 = sr_mono_us();
        sr_status rc = compile_locked(n, j.wasm, j.len, false, &so, &so_len, &e);
        char hex[SR_HASH_HEX_LEN + 1];
        sr_hex_encode(j.hash, 32, hex);
        if (rc == SR_OK)
            sr_log(SR_LOG_INFO, "native",
                   "compiled module %.16s (%zu bytes of Wasm, %zu of code) in %lld ms", hex, j.len,
                   so_len, (long long)((sr_mono_us() - t0) / 1000));
        else
            sr_log(SR_LOG_WARN, "native",
                   "module %.16s stays in the interpreter: the native tier cannot compile it: %s",
                   hex, e.msg);
        free(so);
        free(j.wasm);
        set_state(n, j.hash, rc == SR_OK ? MOD_READY : MOD_FAILED);
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

/* A sealed memfd holding so[0..len): what the job process dlopens. */
static sr_status
object_fd(const uint8_t *so, size_t len, int *out, sr_err *err)
{
    int fd = memfd_create("sealrun-native", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot pass native code: memfd_create: %s",
                          strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, so + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            return sr_err_set(err, SR_EIO, "cannot pass native code: writing the memfd: %s",
                              strerror(e));
        }
        off += (size_t)k;
    }
    /* the job process gets this open file itself, offset and all: dlopen reads from 0 */
    if (lseek(fd, 0, SEEK_SET) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        return sr_err_set(err, SR_EIO, "cannot pass native code: sealing the memfd: %s",
                          strerror(e));
    }
    *out = fd;
    return SR_OK;
}

/* ---- the entry points ---- */

sr_status
sr_engine__native_new(const struct sr_engine_config *cfg, bool empty_root,
                      struct sr_engine__native **out, sr_err *err)
{
    struct sr_engine__native *n = calloc(1, sizeof(*n));
    if (!n)
        return sr_err_set(err, SR_ENOMEM, "out of memory starting the native tier");
    n->after = cfg->native_after ? cfg->native_after : NATIVE_DEFAULT_AFTER;
    n->cache_max = cfg->native_cache_max ? cfg->native_cache_max : SR_NATIVE_DEFAULT_CACHE;
    pthread_mutex_init(&n->lock, NULL);
    pthread_mutex_init(&n->compile, NULL);
    pthread_mutex_init(&n->lookup, NULL);
    pthread_cond_init(&n->wake, NULL);
    *out = n;
    if (!cfg->native_cache_dir) {
        (void)snprintf(n->why, sizeof(n->why), "the native tier is off on this service");
        return SR_OK;
    }
    if (!empty_root) {
        (void)snprintf(n->why, sizeof(n->why),
                       "the native tier needs job processes with an empty root (Linux "
                       "namespaces), which this machine does not give");
        return SR_OK;
    }
    sr_err e = {0};
    sr_status rc = sr_runner_native_glue(&n->glue, &e);
    const struct sr_native_file files[] = {
        {"wasm-rt.h", n->glue.header, n->glue.header_len},
        {"g.c", n->glue.runtime, n->glue.runtime_len},
        {"s.c", n->glue.size, n->glue.size_len},
    };
    const struct sr_native_config nc = {.cache_dir = cfg->native_cache_dir,
                                        .cache_max_bytes = cfg->native_cache_max,
                                        .files = files,
                                        .nfiles = 3};
    if (rc == SR_OK)
        rc = sr_native_new(&nc, &n->nat, &e);
    if (rc == SR_OK)
        rc = sr_native_new(&nc, &n->look, &e);
    if (rc == SR_ENOMEM) {
        sr_engine__native_free(n);
        *out = NULL;
        return sr_err_set(err, SR_ENOMEM, "%s", e.msg);
    }
    if (rc != SR_OK) {
        sr_native_free(n->nat);
        n->nat = NULL;
        (void)snprintf(n->why, sizeof(n->why), "the native tier is not available here: %s", e.msg);
        sr_log(SR_LOG_WARN, "native", "%s; WebAssembly jobs run in the interpreter", n->why);
        return SR_OK;
    }
    if (pthread_create(&n->thread, NULL, compiler_main, n) != 0) {
        (void)snprintf(n->why, sizeof(n->why), "the native tier's compiler thread did not start");
        sr_native_free(n->nat);
        sr_native_free(n->look);
        n->nat = n->look = NULL;
        return SR_OK;
    }
    n->has_thread = true;
    sr_log(SR_LOG_INFO, "native", "native tier: %s; cache '%s'", sr_native_identity(n->nat),
           cfg->native_cache_dir);
    return SR_OK;
}

void
sr_engine__native_free(struct sr_engine__native *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->lock);
    n->stop = true;
    pthread_cond_broadcast(&n->wake);
    pthread_mutex_unlock(&n->lock);
    if (n->has_thread)
        pthread_join(n->thread, NULL);
    for (size_t i = 0; i < n->qn; i++)
        free(n->q[i].wasm);
    sr_native_free(n->nat);
    sr_native_free(n->look);
    sr_wasm_native_glue_fini(&n->glue);
    pthread_cond_destroy(&n->wake);
    pthread_mutex_destroy(&n->lookup);
    pthread_mutex_destroy(&n->compile);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

enum sr_spec_native
sr_engine__native_plan(struct sr_engine__native *n, const struct sr_job_request *req)
{
    if (req->runtime != SR_RUNTIME_WASM || req->tier == SR_TIER_INTERP)
        return SR_SPEC_INTERP;
    if (req->tier == SR_TIER_NATIVE)
        return SR_SPEC_NATIVE;
    if (!n || !n->nat)
        return SR_SPEC_INTERP;
    pthread_mutex_lock(&n->lock);
    struct native_mod *m = find(n, req->code_hash, true);
    enum sr_spec_native plan = SR_SPEC_INTERP;
    if (m->state == MOD_READY)
        plan = SR_SPEC_NATIVE_READY;
    else if (m->state == MOD_NEW && ++m->runs >= n->after)
        plan = SR_SPEC_OFFER;
    pthread_mutex_unlock(&n->lock);
    return plan;
}

sr_status
sr_engine__native_call(struct sr_engine__native *n, const uint8_t code_hash[32], const uint8_t *req,
                       size_t len, int *fd, sr_err *err)
{
    if (len < 2)
        return sr_err_set(err, SR_EINVAL, "native tier host call of %zu bytes", len);
    const char op = (char)req[1];
    const uint8_t *wasm = req + 2;
    const size_t wlen = len - 2;
    if (op != SR_RUNNER_NATIVE_GET && op != SR_RUNNER_NATIVE_LOOKUP && op != SR_RUNNER_NATIVE_QUEUE)
        return sr_err_set(err, SR_EINVAL, "unknown native tier operation '%c'", op);
    if (wlen > SR_MAX_MODULE)
        return sr_err_set(err, SR_ELIMIT, "the module for the native tier is %zu bytes, at most %u",
                          wlen, SR_MAX_MODULE);
    if (!n || !n->nat)
        return sr_err_set(err, SR_ENOTFOUND, "%s", n ? n->why : "the native tier is off");
    if (op == SR_RUNNER_NATIVE_QUEUE) {
        enqueue(n, code_hash, wasm, wlen);
        return SR_OK;
    }
    uint8_t *so = NULL;
    size_t so_len = 0;
    sr_status rc = compile_locked(n, wasm, wlen, op == SR_RUNNER_NATIVE_LOOKUP, &so, &so_len, err);
    if (rc == SR_ENOTFOUND && op == SR_RUNNER_NATIVE_LOOKUP) {
        set_state(n, code_hash, MOD_NEW); /* evicted, or other bytes: compile them */
        enqueue(n, code_hash, wasm, wlen);
    }
    if (rc == SR_OK && op == SR_RUNNER_NATIVE_GET)
        set_state(n, code_hash, MOD_READY);
    if (rc == SR_OK)
        rc = object_fd(so, so_len, fd, err);
    free(so);
    return rc;
}

const char *
sr_engine__native_why(const struct sr_engine__native *n)
{
    return !n ? "the native tier is off" : n->nat ? NULL : n->why;
}

json_t *
sr_engine_native_info(const sr_engine *eng)
{
    const struct sr_engine__native *n = eng->native;
    if (!n || !n->nat)
        return json_pack("{s:b, s:s}", "enabled", 0, "reason",
                         n ? n->why : "the native tier is off");
    return json_pack("{s:b, s:s, s:I, s:i}", "enabled", 1, "compiler", sr_native_identity(n->nat),
                     "cache_max_bytes", (json_int_t)n->cache_max, "after", (int)n->after);
}
