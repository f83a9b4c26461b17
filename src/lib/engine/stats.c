/* SPDX-License-Identifier: MIT
 *
 * stats.c - GET /stats (docs/http-api.md, docs/dashboard.md): the caller's
 * finished jobs in a window, counted per bin of 'step': by status, runtime
 * and error code, with the gas they used and percentiles of their run time.
 *
 * One pass over the store's clear figures (sr_store_job_figures), so the
 * time is linear in the jobs of the window and the memory is the bins'.
 * Percentiles come from a histogram per bin with eight buckets per power of
 * two of microseconds (each bucket about 9% wide): a percentile is its
 * bucket's middle, clamped to the bin's exact smallest and largest run time,
 * so it is within about 5% of the exact value.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define SUB 8 /* buckets per power of two */

struct bin {
    uint64_t completed, failed, js, wasm;
    uint64_t gas_js, gas_wasm; /* saturating sums */
    int64_t min_us, max_us;
    uint32_t *hist; /* SR_STATS_BUCKETS counters */
};

struct acc {
    const struct sr_stats_window *w;
    size_t nbins;
    struct bin *bins;
    struct bin total;
    uint64_t errors[SR_JOB_CODE_COUNT_];
};

/* Bucket of a run time: 8 per octave of microseconds, the top one open. */
static unsigned
bucket(int64_t us)
{
    if (us < 1)
        return 0;
    unsigned e = 63u - (unsigned)__builtin_clzll((unsigned long long)us);
    unsigned sub = e >= 3 ? (unsigned)(((unsigned long long)us >> (e - 3)) & (SUB - 1))
                          : (unsigned)(((unsigned long long)us << (3 - e)) & (SUB - 1));
    unsigned b = e * SUB + sub;
    return b < SR_STATS_BUCKETS ? b : SR_STATS_BUCKETS - 1;
}

/* The middle of bucket b in microseconds. */
static int64_t
bucket_mid(unsigned b)
{
    unsigned e = b / SUB, sub = b % SUB;
    double lo = (double)(SUB + sub) * (double)(1ull << e) / SUB;
    double hi = (double)(SUB + sub + 1) * (double)(1ull << e) / SUB;
    return (int64_t)((lo + hi) / 2);
}

static void
add_sat(uint64_t *sum, uint64_t v)
{
    if (__builtin_add_overflow(*sum, v, sum))
        *sum = UINT64_MAX;
}

static void
bin_add(struct bin *b, const struct sr_job_figures *f)
{
    bool js = strcmp(f->runtime, "js") == 0;
    b->completed += f->state == SR_JOB_COMPLETED;
    b->failed += f->state != SR_JOB_COMPLETED;
    b->js += js;
    b->wasm += !js;
    add_sat(js ? &b->gas_js : &b->gas_wasm, f->gas_used);
    int64_t d = f->duration_us > 0 ? f->duration_us : 0;
    if (b->completed + b->failed == 1 || d < b->min_us)
        b->min_us = d;
    if (d > b->max_us)
        b->max_us = d;
    b->hist[bucket(d)]++;
}

static void
on_job(void *ctx, const struct sr_job_figures *f)
{
    struct acc *a = ctx;
    if (f->finished_at_ms < a->w->since_ms || f->finished_at_ms >= a->w->until_ms)
        return;
    size_t i = (size_t)((f->finished_at_ms - a->w->since_ms) / a->w->step_ms);
    bin_add(&a->bins[i], f);
    bin_add(&a->total, f);
    for (int c = 1; c < SR_JOB_CODE_COUNT_ && f->error_code[0]; c++)
        if (strcmp(sr_job_code_name((enum sr_job_code)c), f->error_code) == 0) {
            a->errors[c]++;
            break;
        }
}

/* The p-th percentile (0 < p <= 100) of the bin's run times, or -1 when empty. */
static int64_t
percentile(const struct bin *b, unsigned p)
{
    uint64_t n = b->completed + b->failed;
    if (n == 0)
        return -1;
    uint64_t rank = (n * p + 99) / 100, seen = 0;
    for (unsigned i = 0; i < SR_STATS_BUCKETS; i++) {
        seen += b->hist[i];
        if (seen >= rank) {
            int64_t v = bucket_mid(i);
            return v < b->min_us ? b->min_us : v > b->max_us ? b->max_us : v;
        }
    }
    return b->max_us;
}

static json_t *
us_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *
bin_json(const struct bin *b)
{
    bool any = b->completed + b->failed > 0;
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}", "completed", (json_int_t)b->completed,
        "failed", (json_int_t)b->failed, "js", (json_int_t)b->js, "wasm", (json_int_t)b->wasm,
        "gas_js", (json_int_t)(b->gas_js > INT64_MAX ? INT64_MAX : b->gas_js), "gas_wasm",
        (json_int_t)(b->gas_wasm > INT64_MAX ? INT64_MAX : b->gas_wasm), "p50_us",
        us_or_null(percentile(b, 50)), "p90_us", us_or_null(percentile(b, 90)), "p99_us",
        us_or_null(percentile(b, 99)), "max_us", us_or_null(any ? b->max_us : -1));
}

static json_t *
stats_json(const struct acc *a)
{
    char since[32], until[32];
    sr_time_rfc3339(a->w->since_ms, since);
    sr_time_rfc3339(a->w->until_ms, until);
    json_t *bins = json_array(), *errors = json_object();
    for (size_t i = 0; bins && i < a->nbins; i++) {
        json_t *b = bin_json(&a->bins[i]);
        char start[32];
        sr_time_rfc3339(a->w->since_ms + (int64_t)i * a->w->step_ms, start);
        json_object_set_new(b, "start", json_string(start));
        json_array_append_new(bins, b);
    }
    for (int c = 1; errors && c < SR_JOB_CODE_COUNT_; c++)
        if (a->errors[c])
            json_object_set_new(errors, sr_job_code_name((enum sr_job_code)c),
                                json_integer((json_int_t)a->errors[c]));
    json_t *total = bin_json(&a->total);
    if (total)
        json_object_set_new(total, "errors", errors);
    else
        json_decref(errors);
    return json_pack("{s:s, s:s, s:I, s:o, s:o}", "since", since, "until", until, "step_s",
                     (json_int_t)(a->w->step_ms / 1000), "totals", total, "bins", bins);
}

static sr_status
check_window(const struct sr_stats_window *w, size_t *nbins, sr_err *err)
{
    if (w->step_ms < 1000 || w->step_ms % 1000)
        return sr_err_set(err, SR_EINVAL,
                          "'step' must be a whole number of seconds >= 1, got %lld ms",
                          (long long)w->step_ms);
    if (w->until_ms <= w->since_ms)
        return sr_err_set(err, SR_EINVAL, "'since' must be before 'until'");
    int64_t span = w->until_ms - w->since_ms;
    if (span % w->step_ms)
        return sr_err_set(err, SR_EINVAL,
                          "the window (%lld s) must be a whole number of steps of %lld s",
                          (long long)(span / 1000), (long long)(w->step_ms / 1000));
    if (span / w->step_ms > SR_STATS_MAX_BINS)
        return sr_err_set(err, SR_EINVAL,
                          "the window has %lld steps of %lld s; at most %d: choose a larger step "
                          "or a shorter window",
                          (long long)(span / w->step_ms), (long long)(w->step_ms / 1000),
                          SR_STATS_MAX_BINS);
    *nbins = (size_t)(span / w->step_ms);
    return SR_OK;
}

sr_status
sr_engine_job_stats(sr_engine *eng, const char *owner, const struct sr_stats_window *w,
                    json_t **out, sr_err *err)
{
    if (!eng->store)
        return sr_err_set(err, SR_EINVAL, "statistics need a server with a store");
    struct acc a = {.w = w};
    sr_status rc = check_window(w, &a.nbins, err);
    if (rc != SR_OK)
        return rc;
    uint32_t *hist = calloc((a.nbins + 1) * SR_STATS_BUCKETS, sizeof(*hist));
    a.bins = calloc(a.nbins, sizeof(*a.bins));
    if (!hist || !a.bins) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory for %zu statistics bins", a.nbins);
        goto out;
    }
    for (size_t i = 0; i < a.nbins; i++)
        a.bins[i].hist = hist + i * SR_STATS_BUCKETS;
    a.total.hist = hist + a.nbins * SR_STATS_BUCKETS;
    rc = sr_store_job_figures(eng->store, owner, w->since_ms, w->until_ms, on_job, &a, err);
    if (rc == SR_OK) {
        *out = stats_json(&a);
        if (!*out)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory answering statistics");
    }
out:
    free(hist);
    free(a.bins);
    return rc;
}
