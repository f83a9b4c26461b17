/* SPDX-License-Identifier: MIT
 *
 * worker.c - the remote worker's requests to its coordinator (sr_worker.h,
 * docs/workers.md): each one signed with the worker key over method, path,
 * query, time and body (sr_worker_request_digest), sent with the worker
 * token, its answer read up to SR_WORKER_MAX_ANSWER bytes within the
 * request timeout. It runs up to --jobs jobs at once, each on a thread of
 * its own (a slot), and its heartbeat renews the leases of all of them.
 */
#include "sealrun/sr_worker.h"
#include "worker_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_storage.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_keystore.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define URL_MAX 1024
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000
#define HEARTBEAT_MIN_S 1
#define HEARTBEAT_MAX_S 300
#define RESULT_ATTEMPTS 6 /* posts of one result while the coordinator cannot be reached */
#define END_ATTEMPTS 16   /* job objects built for one job while its storage keeps moving */

/* One job this worker runs (under the worker's mu). */
struct slot {
    bool busy; /* a thread runs the job */
    bool done; /* its thread ended: join it */
    pthread_t th;
    sr_worker *w;
    json_t *job;                /* the job handed out (owned while busy) */
    char id[SR_ID_HEX_LEN + 1]; /* "" until it runs */
    uint64_t fence;
    sr_sandbox_cancel *cancel; /* fired when the lease is lost */
    bool lost;
};

struct sr_worker {
    char base[URL_MAX];
    char *token;
    const sr_worker_key *key;
    const sr_attest_quote *quote;
    uint8_t measurement[32];
    char version[32];
    unsigned timeout_s;
    sr_engine *eng; /* borrowed: runs the jobs; NULL: registration and heartbeats only */
    struct sr_worker__cache cache; /* with eng: the modules of its jobs; under cache_mu */
    pthread_mutex_t cache_mu;      /* one job thread at a time uses the cache */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;
    /* under mu: what the coordinator said, and the jobs that run now */
    char state[16];
    int64_t interval_s;
    int64_t lease_ms;
    unsigned njobs; /* --jobs: slots */
    unsigned nbusy;
    bool kick; /* a job started: the heartbeat thread's wait ends, to renew at the lease's pace */
    struct slot slot[SR_WORKER_JOBS_MAX];
    sr_status fatal; /* a refusal that ended the worker */
    sr_err fatal_err;
    char keystore[URL_MAX]; /* "" = none */
    uint8_t keystore_pk[SR_ED25519_PK_LEN];
};

sr_status
sr_worker_new(const struct sr_worker_config *cfg, sr_worker **out, sr_err *err)
{
    const char *u = cfg->coordinator;
    size_t ulen = u ? strlen(u) : 0;
    if (!u || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
        ulen >= URL_MAX - 64 || ulen <= 8)
        return sr_err_set(err, SR_EINVAL,
                          "--coordinator must be the coordinator's URL, http://HOST:PORT or "
                          "https://HOST:PORT, got '%.80s'",
                          u ? u : "");
    size_t tlen = cfg->token ? strlen(cfg->token) : 0;
    if (tlen == 0 || tlen > SR_WORKER_TOKEN_MAX)
        return sr_err_set(err, SR_EINVAL,
                          "a worker needs its worker token (--worker-token or "
                          "SEALRUN_WORKER_TOKEN; 'sealrun worker token create' makes one), at "
                          "most %d bytes",
                          SR_WORKER_TOKEN_MAX);
    for (size_t i = 0; i < tlen; i++)
        if (cfg->token[i] <= ' ' || cfg->token[i] == 0x7f)
            return sr_err_set(err, SR_EINVAL, "the worker token holds a space or control byte");
    if (!cfg->key || !cfg->quote || !cfg->measurement)
        return sr_err_set(err, SR_EINVAL, "a worker needs its key, quote and measurement");
    sr_worker *w = calloc(1, sizeof(*w));
    if (!w || !(w->token = strdup(cfg->token))) {
        free(w);
        return sr_err_set(err, SR_ENOMEM, "out of memory for the worker");
    }
    memcpy(w->base, u, ulen);
    while (ulen && w->base[ulen - 1] == '/')
        w->base[--ulen] = '\0';
    w->key = cfg->key;
    w->quote = cfg->quote;
    memcpy(w->measurement, cfg->measurement, 32);
    (void)snprintf(w->version, sizeof(w->version), "%s", cfg->version ? cfg->version : "unknown");
    w->timeout_s = cfg->request_timeout_s ? cfg->request_timeout_s : SR_WORKER_REQUEST_TIMEOUT_S;
    w->eng = cfg->eng;
    sr_status rc = SR_OK;
    if (cfg->jobs > SR_WORKER_JOBS_MAX)
        rc = sr_err_set(err, SR_EINVAL, "--jobs is at most %d, got %u", SR_WORKER_JOBS_MAX,
                        cfg->jobs);
    if (rc == SR_OK && cfg->keystore &&
        (!cfg->keystore_pk || strlen(cfg->keystore) >= URL_MAX - 64 ||
         (strncmp(cfg->keystore, "http://", 7) != 0 && strncmp(cfg->keystore, "https://", 8) != 0)))
        rc = sr_err_set(err, SR_EINVAL,
                        "--keystore must be the keystore's URL, http://HOST:PORT or "
                        "https://HOST:PORT, with --keystore-key, got '%.80s'",
                        cfg->keystore);
    if (rc == SR_OK && cfg->keystore) {
        size_t kl = strlen(cfg->keystore);
        memcpy(w->keystore, cfg->keystore, kl + 1);
        while (kl && w->keystore[kl - 1] == '/')
            w->keystore[--kl] = '\0';
        memcpy(w->keystore_pk, cfg->keystore_pk, SR_ED25519_PK_LEN);
    }
    if (rc != SR_OK)
        ;
    else if (cfg->eng && !cfg->data_dir)
        rc = sr_err_set(err, SR_EINVAL, "a worker that runs jobs needs its data directory");
    else if (cfg->eng)
        rc = sr_worker__cache_open(
            &w->cache, cfg->data_dir,
            cfg->module_cache_bytes ? cfg->module_cache_bytes : SR_WORKER_DEFAULT_CACHE_BYTES, err);
    if (rc != SR_OK) {
        memset(w->token, 0, strlen(w->token));
        free(w->token);
        free(w);
        return rc;
    }
    w->lease_ms = 15000;
    w->njobs = cfg->jobs ? cfg->jobs : 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->cache_mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    *out = w;
    return SR_OK;
}

void
sr_worker_free(sr_worker *w)
{
    if (!w)
        return;
    if (w->token) {
        memset(w->token, 0, strlen(w->token));
        free(w->token);
    }
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->cache_mu);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void
sr_worker_stop(sr_worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

static bool
stopped(sr_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* The heartbeat thread's wait: ms, or until stopped or a job starts (its
 * lease is shorter than the heartbeat interval): 1 when stopped, 2 when a
 * job started, else 0. */
static int
nap_beat(sr_worker *w, int64_t ms)
{
    struct timespec ts;
    sr_deadline_in_ms(ms, &ts);
    pthread_mutex_lock(&w->mu);
    while (!w->stop && !w->kick && pthread_cond_timedwait(&w->wake, &w->mu, &ts) == 0)
        ;
    int r = w->stop ? 1 : w->kick ? 2 : 0;
    w->kick = false;
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* Sleeps ms or until stopped; true when stopped. */
static bool
nap(sr_worker *w, int64_t ms)
{
    struct timespec ts;
    sr_deadline_in_ms(ms, &ts);
    pthread_mutex_lock(&w->mu);
    while (!w->stop && pthread_cond_timedwait(&w->wake, &w->mu, &ts) == 0)
        ;
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* One signed request: method path (no query), body (may be NULL). On a 2xx
 * answer *out is its JSON (owned). Otherwise the coordinator's message
 * with the status of its HTTP code (sr_keystore_http_status). */
/* Aborts a transfer once the worker is stopped (a long poll). */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return stopped(arg) ? 1 : 0;
}

struct call_opts {
    bool abortable;     /* given up when the worker stops (polls; never a result) */
    const char *query;  /* "k=v" or NULL */
    size_t max_answer;  /* 0 = SR_WORKER_MAX_ANSWER */
    unsigned timeout_s; /* 0 = the worker's request timeout */
    unsigned depth;     /* JSON depth of the answer; 0 = 8 */
};

static sr_status
call_with(sr_worker *w, const char *method, const char *path, const char *body,
          const struct call_opts *co, json_t **out, sr_err *err)
{
    size_t blen = body ? strlen(body) : 0;
    char tm[24], sig[SR_ED25519_SIG_HEX_LEN + 1], url[URL_MAX + 128];
    (void)snprintf(tm, sizeof(tm), "%lld", (long long)sr_now_ms());
    uint8_t digest[32];
    const char *query = co->query ? co->query : "";
    sr_worker_request_digest(method, path, query, tm, body, blen, digest);
    sr_worker_request_sign(w->key, digest, sig);
    (void)snprintf(url, sizeof(url), "%s%s%s%s", w->base, path, *query ? "?" : "", query);
    size_t max_answer = co->max_answer ? co->max_answer : SR_WORKER_MAX_ANSWER;

    CURL *c = curl_easy_init();
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "cannot start libcurl");
    char *auth = NULL;
    size_t alen = strlen(w->token) + 32;
    char th[64], sh[200];
    (void)snprintf(th, sizeof(th), SR_WORKER_TIME_HEADER ": %s", tm);
    (void)snprintf(sh, sizeof(sh), SR_WORKER_SIGNATURE_HEADER ": %s", sig);
    struct curl_slist *h = NULL;
    sr_buf resp;
    sr_buf_init_secure(&resp, max_answer); /* a job's answer carries its secrets */
    sr_status rc = SR_OK;
    if (!(auth = malloc(alen))) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory for a request");
        goto out;
    }
    (void)snprintf(auth, alen, "Authorization: Bearer %s", w->token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, th);
    h = curl_slist_append(h, sh);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sr_keystore_curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(co->timeout_s ? co->timeout_s : w->timeout_s));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (co->abortable) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    CURLcode cc = curl_easy_perform(c);
    long http = 0;
    if (cc == CURLE_WRITE_ERROR) {
        rc = sr_err_set(err, SR_EIO, "the coordinator's answer to %s %s is over %zu bytes", method,
                        path, max_answer);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = sr_err_set(err, SR_EIO, "%s %s%s failed: %s", method, w->base, path,
                        curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    json_t *ans = NULL;
    sr_err pe = {0};
    if (sr_json_parse(resp.data ? resp.data : "", resp.len, co->depth ? co->depth : 8,
                      "the coordinator's answer", &ans, &pe) != SR_OK)
        ans = NULL;
    if (http >= 200 && http <= 299 && ans) {
        *out = ans;
        goto out;
    }
    const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    rc = sr_err_set(err, http >= 200 && http <= 299 ? SR_EIO : sr_keystore_http_status(http),
                    "the coordinator answered %s %s with %ld: %s", method, path, http,
                    msg ? msg : (ans ? "(no message)" : pe.msg));
    json_decref(ans);
out:
    curl_slist_free_all(h);
    if (auth) {
        memset(auth, 0, alen);
        free(auth);
    }
    curl_easy_cleanup(c);
    sr_buf_fini_secure(&resp);
    return rc;
}

static sr_status
call(sr_worker *w, const char *method, const char *path, const char *body, json_t **out,
     sr_err *err)
{
    return call_with(w, method, path, body, &(struct call_opts){0}, out, err);
}

static void
copy_field(const json_t *o, const char *key, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, key));
    (void)snprintf(dst, cap, "%s", v ? v : "");
}

sr_status
sr_worker_register(sr_worker *w, char id[17], char state[16], sr_err *err)
{
    uint8_t pk[SR_ED25519_PK_LEN];
    char pkh[65], mh[65];
    sr_worker_key_public(w->key, pk);
    sr_hex_encode(pk, sizeof(pk), pkh);
    sr_hex_encode(w->measurement, 32, mh);
    const char *q = sr_attest_quote_base64(w->quote);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:o, s:s}", "public_key", pkh, "measurement", mh, "attestation",
                  sr_attest_provider_name(sr_attest_quote_provider(w->quote)), "quote",
                  q ? json_string(q) : json_null(), "version", w->version);
    char *text = body ? sr_json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a registration");
    json_t *ans = NULL;
    sr_status rc = call(w, "POST", "/worker/register", text, &ans, err);
    free(text);
    if (rc != SR_OK)
        return rc;
    const json_t *row = json_object_get(ans, "worker");
    copy_field(row, "id", id, 17);
    copy_field(row, "state", state, 16);
    json_decref(ans);
    if (!sr_is_lower_hex(id, 16) || !*state)
        return sr_err_set(err, SR_EIO, "the coordinator's registration answer has no worker");
    return SR_OK;
}

/* ---- jobs (docs/workers.md "Jobs") ---- */

/* The job a slot runs now, for the heartbeat thread (under mu). */
static void
set_current(struct slot *sl, const char *id, uint64_t fence, int64_t lease_ms,
            sr_sandbox_cancel *cancel)
{
    sr_worker *w = sl->w;
    pthread_mutex_lock(&w->mu);
    (void)snprintf(sl->id, sizeof(sl->id), "%s", id ? id : "");
    sl->fence = fence;
    sl->cancel = cancel;
    if (lease_ms > 0)
        w->lease_ms = lease_ms;
    sl->lost = false;
    if (id)
        w->kick = true;
    pthread_cond_broadcast(&w->wake); /* the heartbeat thread renews at the lease's pace now */
    pthread_mutex_unlock(&w->mu);
}

static bool
slot_lost(struct slot *sl)
{
    pthread_mutex_lock(&sl->w->mu);
    bool lost = sl->lost;
    pthread_mutex_unlock(&sl->w->mu);
    return lost;
}

/* Takes the state the coordinator holds for us (a heartbeat's or a
 * poll's answer) and says so when it changed. */
static void
set_state(sr_worker *w, const char *state)
{
    if (!state[0])
        return;
    pthread_mutex_lock(&w->mu);
    bool changed = strcmp(state, w->state) != 0;
    (void)snprintf(w->state, sizeof(w->state), "%s", state);
    pthread_mutex_unlock(&w->mu);
    if (changed)
        sr_log(SR_LOG_INFO, "worker", "the coordinator says this worker is %s", state);
}

/* A heartbeat, renewing the lease of the job that runs: the state the
 * coordinator holds for us and the interval; a lease found lost kills
 * the job's run. */
static sr_status
heartbeat(sr_worker *w, char state[16], int64_t *interval_s, sr_err *err)
{
    json_t *jobs = json_array();
    pthread_mutex_lock(&w->mu);
    for (unsigned i = 0; jobs && i < w->njobs; i++)
        if (w->slot[i].id[0])
            json_array_append_new(jobs, json_pack("{s:s, s:I}", "id", w->slot[i].id, "fence",
                                                  (json_int_t)w->slot[i].fence));
    pthread_mutex_unlock(&w->mu);
    char *body = NULL;
    if (jobs && json_array_size(jobs)) {
        json_t *b = json_pack("{s:O}", "jobs", jobs);
        body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        if (!body) {
            json_decref(jobs);
            return sr_err_set(err, SR_ENOMEM, "out of memory for a heartbeat");
        }
    }
    json_t *ans = NULL;
    sr_status rc = call(w, "POST", "/worker/heartbeat", body, &ans, err);
    free(body);
    if (rc != SR_OK) {
        json_decref(jobs);
        return rc;
    }
    copy_field(ans, "state", state, 16);
    json_int_t s = json_integer_value(json_object_get(ans, "heartbeat_s"));
    *interval_s = s < HEARTBEAT_MIN_S ? HEARTBEAT_MIN_S : s > HEARTBEAT_MAX_S ? HEARTBEAT_MAX_S : s;
    const json_t *lost = json_object_get(ans, "lost");
    for (size_t i = 0; i < json_array_size(lost); i++) {
        const char *l = json_string_value(json_array_get(lost, i));
        for (size_t j = 0; l && j < json_array_size(jobs); j++) {
            const json_t *sent = json_array_get(jobs, j);
            const char *id = json_string_value(json_object_get(sent, "id"));
            uint64_t fence = (uint64_t)json_integer_value(json_object_get(sent, "fence"));
            if (strcmp(l, id) != 0)
                continue;
            pthread_mutex_lock(&w->mu);
            for (unsigned k = 0; k < w->njobs; k++) {
                struct slot *sl = &w->slot[k];
                if (strcmp(sl->id, id) == 0 && sl->fence == fence && !sl->lost) {
                    sl->lost = true;
                    sr_sandbox_cancel_fire(sl->cancel); /* under mu: not freed meanwhile */
                }
            }
            pthread_mutex_unlock(&w->mu);
            sr_log(SR_LOG_WARN, "worker",
                   "job '%s': the coordinator says its lease is lost (cancelled or taken over); "
                   "its run is killed and its result will not be sent",
                   id);
        }
    }
    json_decref(jobs);
    json_decref(ans);
    return SR_OK;
}

/* The heartbeat thread: every heartbeat interval, and every third of the
 * lease while a job runs. A refusal retrying cannot cure stops the worker. */
static void *
beat_main(void *arg)
{
    sr_worker *w = arg;
    int64_t backoff = BACKOFF_MIN_MS;
    sr_status rc = SR_OK;
    int64_t last = sr_mono_us() / 1000; /* the last heartbeat (registration's time at first) */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int64_t every = w->interval_s * 1000;
        if (w->nbusy && w->lease_ms / 3 < every)
            every = w->lease_ms / 3;
        pthread_mutex_unlock(&w->mu);
        /* a job that starts shortens the wait from the last heartbeat, not from now */
        int64_t left = last + (rc == SR_OK ? every : backoff) - sr_mono_us() / 1000;
        int r = left > 0 ? nap_beat(w, left) : 0;
        if (r == 1)
            return NULL;
        if (r == 2)
            continue;
        last = sr_mono_us() / 1000;
        char state[16] = "";
        int64_t interval_s = 0;
        sr_err e = {0};
        rc = heartbeat(w, state, &interval_s, &e);
        if (rc == SR_OK) {
            backoff = BACKOFF_MIN_MS;
            pthread_mutex_lock(&w->mu);
            w->interval_s = interval_s;
            pthread_mutex_unlock(&w->mu);
            set_state(w, state);
            continue;
        }
        if (rc != SR_EIO) {
            pthread_mutex_lock(&w->mu);
            w->fatal = rc;
            w->fatal_err = e;
            pthread_mutex_unlock(&w->mu);
            sr_worker_stop(w);
            return NULL;
        }
        sr_log(SR_LOG_WARN, "worker", "heartbeat failed (retrying in %lld ms): %s",
               (long long)backoff, e.msg);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
}

/* Posts a job's result; retried while the coordinator cannot be reached.
 * SR_EBUSY: the coordinator wants the storage end asked for again. */
static sr_status
post_result(struct slot *sl, const char *id, uint64_t fence, const char *text, size_t len,
            const char *recording)
{
    sr_worker *w = sl->w;
    json_t *b = json_pack("{s:I, s:s%, s:o}", "fence", (json_int_t)fence, "job", text, len,
                          "recording", recording ? json_string(recording) : json_null());
    char *body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body) {
        sr_log(SR_LOG_ERROR, "worker", "job '%s': out of memory for its result", id);
        return SR_ENOMEM;
    }
    char path[96];
    (void)snprintf(path, sizeof(path), "/worker/jobs/%s/result", id);
    int64_t backoff = BACKOFF_MIN_MS;
    sr_status rc;
    for (int attempt = 1;; attempt++) {
        json_t *ans = NULL;
        sr_err e = {0};
        rc = call(w, "POST", path, body, &ans, &e);
        json_decref(ans);
        if (rc == SR_OK) {
            sr_log(SR_LOG_INFO, "worker", "job '%s': result stored by the coordinator", id);
            break;
        }
        if (rc == SR_EBUSY) {
            sr_log(SR_LOG_INFO, "worker", "job '%s': %s", id, e.msg);
            break;
        }
        bool lost = slot_lost(sl);
        if (rc != SR_EIO || lost || attempt >= RESULT_ATTEMPTS) {
            sr_log(SR_LOG_WARN, "worker", "job '%s': the result was not stored: %s", id, e.msg);
            break;
        }
        sr_log(SR_LOG_WARN, "worker",
               "job '%s': posting its result failed (retrying in %lld ms): %s", id,
               (long long)backoff, e.msg);
        if (nap(w, backoff) && attempt >= 2)
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    free(body);
    return rc;
}

/* The job that runs, for its storage calls at the coordinator. */
struct job_io {
    sr_worker *w;
    char path[96]; /* /worker/jobs/{id}/storage */
    uint64_t fence;
};

/* One storage host call of the job, answered by the coordinator. */
static sr_status
io_storage_call(void *arg, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    struct job_io *io = arg;
    char *b64 = sr_base64_encode(req, len);
    json_t *b = b64 ? json_pack("{s:I, s:s}", "fence", (json_int_t)io->fence, "call", b64) : NULL;
    free(b64);
    char *body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a storage call");
    json_t *ans = NULL;
    const struct call_opts co = {.max_answer = SR_STORAGE_MAX_VALUE / 3 * 4 + 128 * 1024};
    sr_status rc = call_with(io->w, "POST", io->path, body, &co, &ans, err);
    free(body);
    if (rc != SR_OK)
        return rc;
    const char *a = json_string_value(json_object_get(ans, "answer"));
    uint8_t *raw = NULL;
    size_t n = 0;
    rc = a ? sr_base64_decode(a, strlen(a), &raw, &n, err)
           : sr_err_set(err, SR_EIO, "the coordinator's storage answer has no 'answer'");
    json_decref(ans);
    if (rc == SR_OK)
        rc = sr_buf_append(resp, raw, n, err);
    free(raw);
    return rc;
}

/* The job's storage end, asked of the coordinator. */
static sr_status
io_storage_end(void *arg, const char *code, const char *message, json_t **out, sr_err *err)
{
    struct job_io *io = arg;
    json_t *b = json_pack("{s:I, s:{s:o, s:o}}", "fence", (json_int_t)io->fence, "end", "code",
                          code ? json_string(code) : json_null(), "message",
                          message ? json_string(message) : json_null());
    char *body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a storage end");
    sr_status rc = call(io->w, "POST", io->path, body, out, err);
    free(body);
    return rc;
}

/* The job's secrets from the keystore (docs/keystore.md): asked for with
 * the job's lease and this worker's own view of the job's code. */
static sr_status
io_secrets(void *arg, const char *job_id, uint64_t fence, const char *owner,
           const struct sr_job_request *req, struct sr_secret_set *set, sr_err *err)
{
    struct job_io *io = arg;
    sr_worker *w = io->w;
    const struct sr_keystore_peer p = {.url = w->keystore,
                                       .key = w->key,
                                       .pinned = w->keystore_pk,
                                       .name = "keystore",
                                       .timeout_s = w->timeout_s};
    const struct sr_keystore_job job = {
        .id = job_id,
        .fence = fence,
        .owner = owner,
        .runtime = sr_runtime_name(req->runtime),
        .code_hash_hex = req->code_hash_hex,
        .entry_point = req->runtime == SR_RUNTIME_JS ? req->entry_point : NULL,
        .quote_b64 = sr_attest_quote_base64(w->quote),
    };
    sr_status rc = sr_keystore_release(&p, &job, set, err);
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, "worker", "job '%s': %zu secret(s) from the keystore", job_id, set->n);
    else
        sr_log(SR_LOG_WARN, "worker", "job '%s': the keystore released nothing: %s", job_id,
               err->msg);
    return rc;
}

/* The module of a WASM job given by hash: from the cache, else fetched
 * from the coordinator (GET /worker/modules/{hash}), checked against its
 * hash and cached. *out owned. */
static sr_status
job_module(sr_worker *w, const char *hash, uint8_t **out, size_t *len, sr_err *err)
{
    pthread_mutex_lock(&w->cache_mu);
    sr_status rc = sr_worker__cache_get(&w->cache, hash, out, len, err);
    pthread_mutex_unlock(&w->cache_mu);
    if (rc != SR_ENOTFOUND)
        return rc;
    char path[128];
    (void)snprintf(path, sizeof(path), "/worker/modules/%.64s", hash);
    const struct call_opts co = {.max_answer = SR_MAX_MODULE / 3 * 4 + 4096};
    json_t *ans = NULL;
    rc = call_with(w, "GET", path, NULL, &co, &ans, err);
    if (rc != SR_OK)
        return rc;
    const char *b64 = json_string_value(json_object_get(ans, "module"));
    uint8_t *bytes = NULL;
    size_t n = 0;
    rc = b64 ? sr_base64_decode(b64, strlen(b64), &bytes, &n, err)
             : sr_err_set(err, SR_EIO, "the coordinator's module answer has no 'module'");
    json_decref(ans);
    if (rc != SR_OK)
        return rc;
    uint8_t d[32];
    char hex[SR_HASH_HEX_LEN + 1];
    sr_sha256(bytes, n, d);
    sr_hex_encode(d, sizeof(d), hex);
    if (strcmp(hex, hash) != 0) {
        free(bytes);
        return sr_err_set(err, SR_EIO, "the coordinator sent module bytes that hash to %s, not %s",
                          hex, hash);
    }
    sr_log(SR_LOG_INFO, "worker", "fetched module %.16s (%zu bytes)", hash, n);
    sr_err ce = {0};
    pthread_mutex_lock(&w->cache_mu);
    if (sr_worker__cache_put(&w->cache, hash, bytes, n, &ce) != SR_OK)
        sr_log(SR_LOG_WARN, "worker", "module %.16s not cached: %s", hash, ce.msg);
    pthread_mutex_unlock(&w->cache_mu);
    *out = bytes;
    *len = n;
    return SR_OK;
}

/* Runs one job the coordinator handed out and posts its result. */
static void
run_job(struct slot *sl, const json_t *job)
{
    sr_worker *w = sl->w;
    const char *id = json_string_value(json_object_get(job, "id"));
    json_int_t fence = json_integer_value(json_object_get(job, "fence"));
    json_int_t lease_ms = json_integer_value(json_object_get(job, "lease_ms"));
    if (!id || strlen(id) != SR_ID_HEX_LEN || fence < 1) {
        sr_log(SR_LOG_ERROR, "worker", "the coordinator handed out a job without id or fence");
        return;
    }
    sr_sandbox_cancel *cancel = NULL;
    sr_err e = {0};
    if (sr_sandbox_cancel_new(&cancel, &e) != SR_OK)
        sr_log(SR_LOG_WARN, "worker", "job '%s' runs without a cancel: %s", id, e.msg);
    set_current(sl, id, (uint64_t)fence, lease_ms, cancel);
    sr_log(SR_LOG_INFO, "worker", "job '%s': running (fence %lld)", id, (long long)fence);
    uint8_t *mod = NULL;
    size_t mod_len = 0;
    sr_status rc = SR_OK;
    const json_t *req = json_object_get(job, "request");
    const char *mh = json_string_value(json_object_get(req, "module_hash"));
    if (mh && strlen(mh) == SR_HASH_HEX_LEN && sr_is_lower_hex(mh, SR_HASH_HEX_LEN))
        rc = job_module(w, mh, &mod, &mod_len, &e);
    struct job_io jio = {.w = w, .fence = (uint64_t)fence};
    (void)snprintf(jio.path, sizeof(jio.path), "/worker/jobs/%s/storage", id);
    const struct sr_engine_remote_io io = {.storage_call = io_storage_call,
                                           .storage_end = io_storage_end,
                                           .arg = &jio,
                                           .secrets = w->keystore[0] ? io_secrets : NULL};
    sr_engine_remote_run *run = NULL;
    if (rc == SR_OK)
        rc = sr_engine_run_remote(w->eng, job, mod, mod_len, &io, cancel, &run, &e);
    free(mod);
    /* the job object, again when the coordinator's storage moved under it */
    for (int attempt = 1; rc == SR_OK && attempt <= END_ATTEMPTS; attempt++) {
        if (slot_lost(sl))
            break;
        char *text = NULL;
        const char *recording = NULL;
        size_t len = 0;
        rc = sr_engine_remote_text(w->eng, run, &text, &len, &recording, &e);
        sr_status posted =
            rc == SR_OK ? post_result(sl, id, (uint64_t)fence, text, len, recording) : rc;
        free(text);
        if (rc != SR_OK || posted != SR_EBUSY)
            break; /* stored, or refused for good (said in the log) */
        if (attempt == END_ATTEMPTS)
            rc = sr_err_set(&e, SR_EBUSY, "its storage kept moving while its end was stored");
    }
    sr_engine_remote_run_free(run);
    if (rc != SR_OK)
        sr_log(SR_LOG_ERROR, "worker",
               "job '%s' could not be run or ended: %s (its lease runs out and the coordinator "
               "ends it)",
               id, e.msg);
    set_current(sl, NULL, 0, 0, NULL);
    sr_sandbox_cancel_free(cancel);
}

/* A slot's thread: runs its job, then frees the slot. */
static void *
slot_main(void *arg)
{
    struct slot *sl = arg;
    run_job(sl, sl->job);
    sr_worker *w = sl->w;
    pthread_mutex_lock(&w->mu);
    json_decref(sl->job);
    sl->job = NULL;
    sl->done = true;
    w->nbusy--;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Joins the slots whose job ended; with all, waits for every job first. */
static void
join_slots(sr_worker *w, bool all)
{
    pthread_mutex_lock(&w->mu);
    for (unsigned i = 0; i < w->njobs; i++) {
        struct slot *sl = &w->slot[i];
        while (all && sl->busy && !sl->done)
            pthread_cond_wait(&w->wake, &w->mu);
        if (sl->busy && sl->done) {
            pthread_t th = sl->th;
            pthread_mutex_unlock(&w->mu);
            pthread_join(th, NULL);
            pthread_mutex_lock(&w->mu);
            sl->busy = sl->done = false;
        }
    }
    pthread_mutex_unlock(&w->mu);
}

/* Starts 'job' (owned, taken) in a free slot; runs it here when no thread
 * can be started. */
static void
start_job(sr_worker *w, json_t *job)
{
    join_slots(w, false);
    pthread_mutex_lock(&w->mu);
    struct slot *sl = NULL;
    for (unsigned i = 0; !sl && i < w->njobs; i++)
        if (!w->slot[i].busy)
            sl = &w->slot[i];
    if (sl) {
        sl->w = w;
        sl->job = job;
        sl->busy = true;
        sl->done = false;
        w->nbusy++;
    }
    pthread_mutex_unlock(&w->mu);
    if (sl && pthread_create(&sl->th, NULL, slot_main, sl) == 0)
        return;
    if (!sl) { /* cannot happen: a poll is sent only with a slot free */
        sr_log(SR_LOG_ERROR, "worker", "no free slot for a job; its lease runs out");
        json_decref(job);
        return;
    }
    sr_log(SR_LOG_WARN, "worker", "cannot start a thread for a job: running it on the poll's");
    (void)slot_main(sl);
    pthread_mutex_lock(&w->mu);
    sl->busy = sl->done = false; /* nothing to join */
    pthread_mutex_unlock(&w->mu);
}

/* Waits until a slot is free or the worker stops; true when stopped. */
static bool
wait_slot(sr_worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->stop && w->nbusy >= w->njobs)
        pthread_cond_wait(&w->wake, &w->mu);
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* One long poll: *job the job handed out (owned) or NULL; *state ours. */
static sr_status
poll_job(sr_worker *w, json_t **job, char state[16], sr_err *err)
{
    json_t *ans = NULL;
    char q[48];
    (void)snprintf(q, sizeof(q), "wait=%d&jobs=%u", SR_WORKER_POLL_WAIT_S, w->njobs);
    const struct call_opts co = {.abortable = true,
                                 .query = q,
                                 .max_answer = SR_WORKER_MAX_JOB,
                                 .timeout_s = SR_WORKER_POLL_WAIT_S + w->timeout_s,
                                 .depth = SR_MAX_JSON_DEPTH + 16};
    sr_status rc = call_with(w, "GET", "/worker/jobs", NULL, &co, &ans, err);
    if (rc != SR_OK)
        return rc;
    copy_field(ans, "state", state, 16);
    json_t *j = json_object_get(ans, "job");
    *job = json_is_object(j) ? json_incref(j) : NULL;
    json_decref(ans);
    return SR_OK;
}

sr_status
sr_worker_run(sr_worker *w, sr_worker_ready_fn ready, void *arg, sr_err *err)
{
    char id[17] = "", state[16] = "";
    int64_t backoff = BACKOFF_MIN_MS;
    sr_status rc;
    for (;;) {
        if (stopped(w))
            return SR_OK;
        rc = sr_worker_register(w, id, state, err);
        if (rc == SR_OK)
            break;
        if (rc != SR_EIO)
            return rc;
        sr_log(SR_LOG_WARN, "worker", "cannot register yet (retrying in %lld ms): %s",
               (long long)backoff, err->msg);
        if (nap(w, backoff))
            return SR_OK;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    sr_log(SR_LOG_INFO, "worker", "registered with %s as worker %s (%s)", w->base, id, state);
    if (ready)
        ready(arg, id, state);
    pthread_mutex_lock(&w->mu);
    (void)snprintf(w->state, sizeof(w->state), "%s", state);
    w->interval_s = SR_WORKER_REQUEST_TIMEOUT_S / 3;
    pthread_mutex_unlock(&w->mu);
    pthread_t beat;
    if (pthread_create(&beat, NULL, beat_main, w) != 0)
        return sr_err_set(err, SR_EIO, "cannot start the heartbeat thread");
    backoff = BACKOFF_MIN_MS;
    bool quiet = false;
    while (!stopped(w)) {
        pthread_mutex_lock(&w->mu);
        bool draining = strcmp(w->state, "active") != 0;
        int64_t interval_ms = w->interval_s * 1000;
        pthread_mutex_unlock(&w->mu);
        if (draining || !w->eng) { /* no new work: the heartbeat says when that changes */
            (void)nap(w, interval_ms);
            continue;
        }
        if (wait_slot(w))
            break;
        json_t *job = NULL;
        sr_err e = {0};
        char st[16] = "";
        rc = poll_job(w, &job, st, &e);
        if (rc == SR_OK) {
            backoff = BACKOFF_MIN_MS;
            quiet = false;
            set_state(w, st);
            if (job)
                start_job(w, job);
            continue;
        }
        if (rc == SR_ECONFLICT) { /* not a coordinator: it runs its jobs itself */
            if (!quiet)
                sr_log(SR_LOG_INFO, "worker", "no jobs from this coordinator: %s", e.msg);
            quiet = true;
            (void)nap(w, interval_ms);
            continue;
        }
        if (rc == SR_EDENIED || rc == SR_EFORBIDDEN) { /* revoked, or no longer our key */
            pthread_mutex_lock(&w->mu);
            w->fatal = rc;
            w->fatal_err = e;
            pthread_mutex_unlock(&w->mu);
            break;
        }
        if (stopped(w))
            break;
        sr_log(SR_LOG_WARN, "worker", "polling for jobs failed (retrying in %lld ms): %s",
               (long long)backoff, e.msg);
        (void)nap(w, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    join_slots(w, true); /* the jobs that run end and post their results first */
    sr_worker_stop(w);
    pthread_join(beat, NULL);
    pthread_mutex_lock(&w->mu);
    rc = w->fatal;
    if (rc != SR_OK && err)
        *err = w->fatal_err;
    pthread_mutex_unlock(&w->mu);
    return rc;
}
