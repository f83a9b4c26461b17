/* SPDX-License-Identifier: MIT
 *
 * runner_vrf.c - the WASM imports sealrun.vrf (include/sealrun/guest/
 * sealrun_vrf.h) and sealrun.key_use (sealrun_keys.h), docs/wasm.md. vrf:
 * the seed goes to the supervisor as the 'V' host call (sr_runner.h), which
 * proves it under the worker's VRF key and records it for the receipt; the
 * answer is copied to the guest's memory as output (64) || proof (80) ||
 * public key (32). key_use: the 'K' host call, a use of a generated key
 * that stays in the supervisor.
 *
 * Return values (i32): 0, or one of (keep in sync with sealrun_vrf.h)
 */
#include "runner_int.h"

#include <string.h>
#include "sealrun/sr_receipt.h"

enum {
    E_INVALID = -2,     /* the seed is longer than 256 bytes */
    E_LIMIT = -3,       /* the job called it SR_VRF_MAX_CALLS times */
    E_UNAVAILABLE = -4, /* no VRF key here (a local run) or the supervisor failed */
    E_FAULT = -5,       /* a pointer and length outside linear memory */
    E_DENIED = -6,      /* key_use: the job has no such generated key */
};

#define KEY_MAX_DATA (64 * 1024) /* keep in sync with SR_KEY_MAX_DATA (engine) */

#define ANSWER 176 /* proof 80 || output 64 || public key 32, as the supervisor sends it */

/* vrf(seed_ptr, seed_len, out_ptr) -> 0 | E_*; out gets 176 bytes */
static sr_status
w_vrf(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    uint32_t seed_len = (uint32_t)s[1];
    int32_t r = 0;
    const uint8_t *seed = sr_wasm_guest_bytes(inst, (uint32_t)s[0], seed_len);
    uint8_t *out = sr_wasm_guest_bytes(inst, (uint32_t)s[2], ANSWER);
    sr_buf req;
    sr_buf resp;
    sr_buf_init(&req, 1 + SR_VRF_MAX_SEED);
    sr_buf_init(&resp, ANSWER);
    sr_err err = {0};
    sr_status rc = SR_OK;
    if (!seed || !out)
        r = E_FAULT;
    else if (seed_len > SR_VRF_MAX_SEED)
        r = E_INVALID;
    else if (!ctx || sr_buf_append(&req, "V", 1, NULL) != SR_OK ||
             sr_buf_append(&req, seed, seed_len, NULL) != SR_OK)
        r = E_UNAVAILABLE;
    else if ((rc = sr_sandbox_hostcall(ctx, (const uint8_t *)req.data, req.len, &resp, &err)) !=
             SR_OK)
        r = rc == SR_ELIMIT ? E_LIMIT : E_UNAVAILABLE; /* the supervisor's status comes back */
    else if (resp.len != ANSWER)
        r = E_UNAVAILABLE;
    if (r == 0) {
        const uint8_t *a = (const uint8_t *)resp.data;
        memcpy(out, a + 80, 64);        /* output */
        memcpy(out + 64, a, 80);        /* proof */
        memcpy(out + 144, a + 144, 32); /* public key */
    }
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    s[0] = (uint32_t)r;
    return SR_OK;
}

/* key_use(op, name_ptr, name_len, data_ptr, data_len, out_ptr, out_cap)
 * -> answer length | E_*: one use of a generated key (the 'K' host call,
 * sr_runner.h; include/sealrun/guest/sealrun_keys.h). An answer longer than
 * out_cap is not copied; its length comes back. */
static sr_status
w_key_use(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    uint32_t op = (uint32_t)s[0];
    uint32_t nl = (uint32_t)s[2];
    uint32_t dl = (uint32_t)s[4];
    uint32_t cap = (uint32_t)s[6];
    const uint8_t *name = sr_wasm_guest_bytes(inst, (uint32_t)s[1], nl);
    const uint8_t *data = sr_wasm_guest_bytes(inst, (uint32_t)s[3], dl);
    uint8_t *out = sr_wasm_guest_bytes(inst, (uint32_t)s[5], cap);
    int32_t r = 0;
    sr_buf req;
    sr_buf resp;
    sr_buf_init(&req, 3 + 255 + KEY_MAX_DATA);
    sr_buf_init(&resp, 128);
    sr_err err = {0};
    sr_status rc = SR_OK;
    const uint8_t head[3] = {'K', (uint8_t)op, (uint8_t)nl};
    if (!name || !data || !out)
        r = E_FAULT;
    else if (op > 0x7f || nl == 0 || nl > 255 || dl > KEY_MAX_DATA)
        r = E_INVALID;
    else if (!ctx || sr_buf_append(&req, head, 3, NULL) != SR_OK ||
             sr_buf_append(&req, name, nl, NULL) != SR_OK ||
             sr_buf_append(&req, data, dl, NULL) != SR_OK)
        r = E_UNAVAILABLE;
    else if ((rc = sr_sandbox_hostcall(ctx, (const uint8_t *)req.data, req.len, &resp, &err)) !=
             SR_OK)
        r = rc == SR_ELIMIT    ? E_LIMIT
            : rc == SR_EDENIED ? E_DENIED
            : rc == SR_EINVAL  ? E_INVALID
                               : E_UNAVAILABLE;
    if (r == 0) {
        r = (int32_t)resp.len;
        if (resp.len <= cap)
            memcpy(out, resp.data, resp.len);
    }
    sr_buf_fini(&req);
    sr_buf_fini_secure(&resp);
    s[0] = (uint32_t)r;
    return SR_OK;
}

void
sr_runner__wasm_key_funcs(sr_sandbox_child *child,
                          struct sr_wasi_host_func funcs[SR_RUNNER__WASM_KEY_FUNCS])
{
    funcs[0] = (struct sr_wasi_host_func){"sealrun", "vrf", "iii:i", w_vrf, child};
    funcs[1] = (struct sr_wasi_host_func){"sealrun", "key_use", "iiiiiii:i", w_key_use, child};
}
