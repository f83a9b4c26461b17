/* SPDX-License-Identifier: MIT
 *
 * runner_record.c - what a recorded job (docs/http.md "Record and replay")
 * does differently in its job process: its randomness is the stream of the
 * seed in its spec (sr_random_replayable), and each clock read is a host
 * call SR_RUNNER_HOSTCALL_TIME that the supervisor answers and records (a
 * replay answers it from the recording). The JS side of the clock is in
 * js_record.c; this file gives WASI its clock and random functions.
 */
#include "runner_int.h"

#include <string.h>
#include "sealrun/sr_crypto.h"

sr_status
sr_runner__clock_read(sr_sandbox_child *child, uint32_t id, uint64_t *ns, sr_err *err)
{
    uint8_t req[2] = {SR_RUNNER_HOSTCALL_TIME, (uint8_t)id};
    sr_buf resp;
    sr_buf_init(&resp, 8);
    sr_status rc = sr_sandbox_hostcall(child, req, sizeof(req), &resp, err);
    if (rc == SR_OK && resp.len != 8)
        rc = sr_err_set(err, SR_EINTERNAL, "the supervisor's clock answer is %zu bytes, not 8",
                        resp.len);
    if (rc == SR_OK) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | (uint8_t)resp.data[i];
        *ns = v;
    }
    sr_buf_fini(&resp);
    return rc;
}

static int
wasi_clock(void *ctx, uint32_t id, uint64_t *ns)
{
    return sr_runner__clock_read(ctx, id, ns, NULL) == SR_OK ? 0 : -1;
}

static int
wasi_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    sr_random_bytes(buf, len); /* the seed's stream (sr_runner__record_begin) */
    return 0;
}

void
sr_runner__record_begin(const struct sr_job_spec *spec)
{
    if (spec->record)
        sr_random_replayable(spec->record_seed);
}

void
sr_runner__record_wasi(const struct sr_job_spec *spec, sr_sandbox_child *child,
                       struct sr_wasi_config *cfg)
{
    if (!spec->record)
        return;
    cfg->clock = wasi_clock;
    cfg->clock_ctx = child;
    cfg->random = wasi_random;
    cfg->random_ctx = NULL;
}
