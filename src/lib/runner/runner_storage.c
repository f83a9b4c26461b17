/* SPDX-License-Identifier: MIT
 *
 * runner_storage.c - storage in the job process: the JS host_call and the
 * WASM imports of module "sealrun" (docs/storage.md "WebAssembly ABI",
 * include/sealrun/guest/sealrun_storage.h). Both only encode a request and
 * send it to the supervisor over the job's socketpair with
 * sr_sandbox_hostcall(); nothing here touches the store.
 *
 * WASM return values (i32): >= 0 success (storage_get: the value's length;
 * storage_list: the listing's length in bytes; set, delete: 0), else
 * SEALRUN_STORAGE_* below. A result longer than the guest's buffer is not
 * copied: the length comes back and the guest retries with a larger buffer.
 */
#include "runner_int.h"

#include <string.h>
#include "sealrun/sr_limits.h"
#include "sealrun/sr_storage.h"

/* keep in sync with include/sealrun/guest/sealrun_storage.h and docs/storage.md */
enum {
    E_NOT_FOUND = -1,   /* storage_get: no such key */
    E_INVALID = -2,     /* bad key, prefix, after or limit */
    E_LIMIT = -3,       /* value over 1 MiB, or the job's write buffer is full */
    E_UNAVAILABLE = -4, /* no store here, or the supervisor failed */
    E_FAULT = -5,       /* a pointer and length outside linear memory */
    E_READS = -6,       /* the job read as many different keys as it may */
    E_LISTINGS = -7,    /* the job made as many different listings as it may */
};

sr_status
sr_runner__js_hostcall(void *child, const uint8_t *req, size_t len, sr_buf *resp, sr_err *err)
{
    return sr_sandbox_hostcall(child, req, len, resp, err);
}

static sr_status
ret(uint64_t *slots, int32_t v)
{
    slots[0] = (uint32_t)v;
    return SR_OK;
}

/* Sends b; returns the answer code (>= 0) or a negative E_*; the payload
 * is resp->data[1..len). */
static int32_t
exchange(sr_sandbox_child *child, const sr_buf *b, sr_buf *resp)
{
    if (sr_sandbox_hostcall(child, (const uint8_t *)b->data, b->len, resp, NULL) != SR_OK ||
        resp->len < 1)
        return E_UNAVAILABLE;
    switch ((unsigned char)resp->data[0]) {
    case SR_STORAGE_WIRE_OK:
        return 0;
    case SR_STORAGE_WIRE_NOTFOUND:
        return E_NOT_FOUND;
    case SR_STORAGE_WIRE_LIMIT:
        return E_LIMIT;
    case SR_STORAGE_WIRE_CAP: /* the cap's number follows */
        return resp->len < 2                                    ? E_UNAVAILABLE
               : resp->data[1] == (char)SR_STORAGE_CAP_READS    ? E_READS
               : resp->data[1] == (char)SR_STORAGE_CAP_LISTINGS ? E_LISTINGS
                                                                : E_LIMIT;
    default:
        return E_INVALID;
    }
}

/* Copies the answer's payload to the guest's buffer when it fits; returns
 * its length either way. */
static int32_t
give(sr_wasm_instance *inst, const sr_buf *resp, uint32_t ptr, uint32_t cap)
{
    size_t n = resp->len - 1;
    if (n > (size_t)INT32_MAX)
        return E_LIMIT;
    if (n <= cap) {
        uint8_t *dst = sr_wasm_guest_bytes(inst, ptr, n);
        if (!dst)
            return E_FAULT;
        memcpy(dst, resp->data + 1, n);
    }
    return (int32_t)n;
}

/* One request with a key and optional payload; the answer into *resp. */
static int32_t
keyed(sr_sandbox_child *child, sr_wasm_instance *inst, char op, uint64_t kp, uint64_t kl,
      uint64_t vp, uint64_t vl, sr_buf *resp)
{
    if (kl == 0 || kl > SR_STORAGE_MAX_KEY)
        return E_INVALID;
    if (vl > SR_STORAGE_MAX_VALUE)
        return E_LIMIT;
    const uint8_t *key = sr_wasm_guest_bytes(inst, kp, kl);
    const uint8_t *val = vl ? sr_wasm_guest_bytes(inst, vp, vl) : NULL;
    if (!key || (vl && !val))
        return E_FAULT;
    sr_buf req;
    /* the value may be a secret the guest stores: no copy stays behind */
    sr_buf_init_secure(&req, SR_STORAGE_MAX_VALUE + SR_STORAGE_MAX_KEY + 64);
    int32_t r = sr_storage_wire_request(&req, op, key, (size_t)kl, val, (size_t)vl, NULL) == SR_OK
                    ? exchange(child, &req, resp)
                    : E_UNAVAILABLE;
    sr_buf_fini_secure(&req);
    return r;
}

/* storage_get(key_ptr, key_len, buf_ptr, buf_cap) -> len | E_* */
static sr_status
w_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    sr_buf resp;
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    int32_t r = keyed(ctx, inst, 'G', (uint32_t)s[0], (uint32_t)s[1], 0, 0, &resp);
    if (r == 0)
        r = give(inst, &resp, (uint32_t)s[2], (uint32_t)s[3]);
    sr_buf_fini_secure(&resp);
    return ret(s, r);
}

/* storage_set(key_ptr, key_len, value_ptr, value_len) -> 0 | E_* */
static sr_status
w_set(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    sr_buf resp;
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    int32_t r = keyed(ctx, inst, 'S', (uint32_t)s[0], (uint32_t)s[1], (uint32_t)s[2],
                      (uint32_t)s[3], &resp);
    sr_buf_fini(&resp);
    return ret(s, r);
}

/* storage_delete(key_ptr, key_len) -> 0 | E_* */
static sr_status
w_delete(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    sr_buf resp;
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    int32_t r = keyed(ctx, inst, 'D', (uint32_t)s[0], (uint32_t)s[1], 0, 0, &resp);
    sr_buf_fini(&resp);
    return ret(s, r);
}

/* storage_list(prefix_ptr, prefix_len, after_ptr, after_len, limit, buf_ptr,
 * buf_cap) -> bytes of the listing | E_*. The listing: count (u32 LE),
 * more (u8), then count x (key_len u16 LE, key bytes). */
static sr_status
w_list(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    uint32_t pl = (uint32_t)s[1], al = (uint32_t)s[3], limit = (uint32_t)s[4];
    if (pl > SR_STORAGE_MAX_KEY || al > SR_STORAGE_MAX_KEY || limit > SR_STORAGE_MAX_LIST)
        return ret(s, E_INVALID);
    const uint8_t *prefix = pl ? sr_wasm_guest_bytes(inst, (uint32_t)s[0], pl) : NULL;
    const uint8_t *after = al ? sr_wasm_guest_bytes(inst, (uint32_t)s[2], al) : NULL;
    if ((pl && !prefix) || (al && !after))
        return ret(s, E_FAULT);
    sr_buf req, resp;
    sr_buf_init(&req, 4 * SR_STORAGE_MAX_KEY);
    sr_buf_init(&resp, SR_MAX_IPC_FRAME);
    int32_t r = sr_storage_wire_list_request(&req, prefix, pl, limit, after, al, NULL) == SR_OK
                    ? exchange(ctx, &req, &resp)
                    : E_UNAVAILABLE;
    if (r == 0)
        r = give(inst, &resp, (uint32_t)s[5], (uint32_t)s[6]);
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    return ret(s, r);
}

void
sr_runner__wasm_storage_funcs(sr_sandbox_child *child,
                              struct sr_wasi_host_func funcs[SR_RUNNER__WASM_STORAGE_FUNCS])
{
    funcs[0] = (struct sr_wasi_host_func){"sealrun", "storage_get", "iiii:i", w_get, child};
    funcs[1] = (struct sr_wasi_host_func){"sealrun", "storage_set", "iiii:i", w_set, child};
    funcs[2] = (struct sr_wasi_host_func){"sealrun", "storage_delete", "ii:i", w_delete, child};
    funcs[3] = (struct sr_wasi_host_func){"sealrun", "storage_list", "iiiiiii:i", w_list, child};
}
