/* SPDX-License-Identifier: MIT
 *
 * js_vrf.c - crypto.vrf(seed): verifiable randomness from the worker's VRF
 * key (docs/js.md, docs/receipts.md "Verifiable randomness"). The key never
 * enters the job process: the seed goes to the supervisor as a host call
 * ('V', sr_runner.h), which proves ECVRF-EDWARDS25519-SHA512-TAI over the
 * job id, the owner and the seed, records the use for the receipt and
 * answers proof || output || public key.
 */
#include "js_int.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_util.h"

/* keep in sync with sr_runner.h (SR_RUNNER_HOSTCALL_VRF) and sr_vrf.h */
#define VRF_CALL 'V'
#define VRF_MAX_SEED 256
#define VRF_PROOF 80
#define VRF_OUTPUT 64
#define VRF_PUBLIC 32

/* The seed's bytes into req after the call byte: a string's UTF-8, or a
 * Uint8Array's / ArrayBuffer's bytes. False with a TypeError/RangeError. */
static bool
seed_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], sr_buf *req, JSValueRef *exc)
{
    char msg[160];
    const uint8_t *p = NULL;
    size_t len = 0;
    if (argc >= 1 && JSValueIsString(ctx, argv[0])) {
        JSStringRef s = JSValueToStringCopy(ctx, argv[0], exc);
        if (!s)
            return false;
        bool fit = sr_js__string_append(req, s, 1 + VRF_MAX_SEED);
        JSStringRelease(s);
        if (fit)
            return true;
        len = VRF_MAX_SEED + 1;
    } else if (argc >= 1 && JSValueIsObject(ctx, argv[0]) &&
               sr_js__binary_bytes(ctx, argv[0], &p, &len)) {
        if (len <= VRF_MAX_SEED)
            return sr_buf_append(req, p ? p : (const uint8_t *)"", len, NULL) == SR_OK;
    } else {
        (void)snprintf(
            msg, sizeof(msg),
            "crypto.vrf(seed): 'seed' must be a string, Uint8Array or ArrayBuffer, got %s",
            argc ? sr_js__type_name(ctx, argv[0]) : "nothing");
        (void)sr_js__throw(ctx, "TypeError", msg, exc);
        return false;
    }
    (void)snprintf(msg, sizeof(msg), "crypto.vrf(seed): the seed is more than %d bytes",
                   VRF_MAX_SEED);
    (void)sr_js__throw(ctx, "RangeError", msg, exc);
    return false;
}

static bool
put_hex(JSContextRef ctx, JSObjectRef o, const char *name, const uint8_t *p, size_t len,
        JSValueRef *exc)
{
    char hex[2 * VRF_OUTPUT + 1 + 2 * VRF_PROOF];
    sr_hex_encode(p, len, hex);
    return sr_js__set(ctx, o, name, sr_js__cstring(ctx, hex), kJSPropertyAttributeNone, exc);
}

static JSValueRef
crypto_vrf(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
           JSValueRef *exc)
{
    (void)fn, (void)self;
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run || !run->job->service_call)
        return sr_js__throw(ctx, "Error", "crypto.vrf is not available here (no supervisor)", exc);
    sr_buf req;
    sr_buf resp;
    sr_buf_init(&req, 1 + VRF_MAX_SEED);
    sr_buf_init(&resp, VRF_PROOF + VRF_OUTPUT + VRF_PUBLIC);
    JSValueRef v = NULL;
    sr_err err = {0};
    if (sr_buf_append(&req, "V", 1, NULL) == SR_OK && seed_arg(ctx, argc, argv, &req, exc)) {
        if (run->job->service_call(run->job->host_ctx, (const uint8_t *)req.data, req.len, &resp,
                                   &err) != SR_OK)
            v = sr_js__throw(ctx, "Error", err.msg, exc);
        else if (resp.len != VRF_PROOF + VRF_OUTPUT + VRF_PUBLIC)
            v = sr_js__throw(ctx, "Error", "crypto.vrf: the supervisor's answer is malformed", exc);
        else {
            const uint8_t *a = (const uint8_t *)resp.data;
            JSObjectRef o = JSObjectMake(ctx, NULL, NULL);
            if (put_hex(ctx, o, "output", a + VRF_PROOF, VRF_OUTPUT, exc) &&
                put_hex(ctx, o, "proof", a, VRF_PROOF, exc) &&
                put_hex(ctx, o, "publicKey", a + VRF_PROOF + VRF_OUTPUT, VRF_PUBLIC, exc))
                v = o;
        }
    }
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    return v;
}

sr_status
sr_js__install_vrf(JSContextRef ctx, JSObjectRef crypto, sr_err *err)
{
    JSValueRef exc = NULL;
    if (!sr_js__set(ctx, crypto, "vrf", sr_js__function(ctx, "vrf", crypto_vrf),
                    kJSPropertyAttributeDontEnum, &exc))
        return sr_err_set(err, SR_EINTERNAL, "cannot install crypto.vrf");
    return SR_OK;
}
