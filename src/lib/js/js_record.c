/* SPDX-License-Identifier: MIT
 *
 * js_record.c - the clock and Math.random of a recorded job (docs/http.md
 * "Record and replay"). JavaScriptCore reads the system clock and seeds
 * Math.random itself, out of the host's reach, so a recorded job's context
 * gets its own: Date (called, constructed without arguments, Date.now())
 * reads the time through the supervisor (host call 'T', which it records
 * and a replay answers from the recording), and Math.random takes 53 bits
 * of libsodium's generator, which the job process has switched to the
 * job's seed. Everything else about Date is JavaScriptCore's own: the
 * prototype, parsing, Date.UTC, subclasses.
 */
#include "js_int.h"

#include <math.h>
#include <string.h>
#include <sodium.h>

/* keep in sync with sr_runner.h (SR_RUNNER_HOSTCALL_TIME) */
#define TIME_CALL 'T'

/* The prelude: (now, random) => replaces Date and Math.random. */
static const char record_js[] =
    "(function (now_, rand_) {\n"
    "'use strict';\n"
    "const D = Date;\n"
    "const Date_ = function Date(...a) {\n"
    "  if (new.target === undefined) return D.prototype.toString.call(new D(now_()));\n"
    "  const d = a.length === 0 ? new D(now_()) : new D(...a);\n"
    "  if (new.target !== Date_) Object.setPrototypeOf(d, new.target.prototype);\n"
    "  return d;\n"
    "};\n"
    "Object.defineProperty(Date_, 'prototype', {value: D.prototype, writable: false});\n"
    "Object.defineProperty(Date_, 'length', {value: 7});\n"
    "Object.defineProperty(D.prototype, 'constructor', {value: Date_, writable: true, "
    "configurable: true});\n"
    "const fns = {now() { return now_(); }, parse: D.parse, UTC: D.UTC};\n"
    "for (const k of ['now', 'parse', 'UTC'])\n"
    "  Object.defineProperty(Date_, k, {value: fns[k], writable: true, configurable: true});\n"
    "Object.defineProperty(globalThis, 'Date', {value: Date_, writable: true, configurable: "
    "true});\n"
    "Object.defineProperty(Math, 'random', {value: function random() { return rand_(); }, "
    "writable: true, configurable: true});\n"
    "})";

static JSValueRef
record_now(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc, const JSValueRef argv[],
           JSValueRef *exc)
{
    (void)fn, (void)self, (void)argc, (void)argv;
    struct sr_js__run *run = sr_js__run_of(ctx);
    if (!run || !run->job->service_call)
        return sr_js__throw(ctx, "Error", "Date: the clock is not available here", exc);
    const uint8_t req[2] = {TIME_CALL, 0};
    sr_buf resp;
    sr_buf_init(&resp, 8);
    sr_err err = {0};
    JSValueRef v = NULL;
    if (run->job->service_call(run->job->host_ctx, req, sizeof(req), &resp, &err) != SR_OK)
        v = sr_js__throw(ctx, "Error", err.msg, exc);
    else if (resp.len != 8)
        v = sr_js__throw(ctx, "Error", "Date: the supervisor's clock answer is malformed", exc);
    else {
        uint64_t ns = 0;
        for (int i = 7; i >= 0; i--)
            ns = ns << 8 | (uint8_t)resp.data[i];
        v = JSValueMakeNumber(ctx, (double)(ns / 1000000u));
    }
    sr_buf_fini(&resp);
    return v;
}

static JSValueRef
record_random(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
              const JSValueRef argv[], JSValueRef *exc)
{
    (void)fn, (void)self, (void)argc, (void)argv, (void)exc;
    uint64_t r = 0;
    randombytes_buf(&r, sizeof(r));
    return JSValueMakeNumber(ctx, ldexp((double)(r >> 11), -53));
}

sr_status
sr_js__install_record(struct sr_js__run *run, sr_err *err)
{
    if (!run->job->record)
        return SR_OK;
    JSContextRef ctx = run->ctx;
    JSValueRef exc = NULL;
    JSValueRef out = NULL;
    JSValueRef args[2] = {sr_js__function(ctx, "now", record_now),
                          sr_js__function(ctx, "random", record_random)};
    if (sr_js__eval_prelude(ctx, record_js, "sealrun:record.js", 2, args, &out, &exc) != SR_OK)
        return sr_err_set(err, SR_EINTERNAL, "cannot install the recorded clock");
    return SR_OK;
}
