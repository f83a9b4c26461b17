/* SPDX-License-Identifier: MIT
 *
 * cmd_replay.c - `sealrun replay JOB_ID`: fetches a recorded job and its
 * sealed recording from the server, checks the recording against the
 * receipt's recording_sha256, opens it with the owner's X25519 secret key,
 * reruns the job in a local sandbox with every host call answered from the
 * recording (no network, no store, no key), and compares the output hash
 * (and, for WebAssembly, the gas) with the recorded job's (docs/cli.md,
 * docs/http.md "Record and replay").
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_engine.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

/* The largest GET /jobs/{id}/recording answer read: the recording's
 * calls, a module and the request, base64 inside a sealed box, in base64. */
#define MAX_RECORDING_ANSWER (160u * SR_MIB)

static const struct cli_help replay_help = {
    .cmd = "replay",
    .args = "JOB_ID [options]",
    .about = "Reruns a recorded job (\"record\": true) on this machine, offline: fetches the job\n"
             "and its sealed recording (GET /jobs/ID/recording), checks the recording against\n"
             "the receipt's recording_sha256, opens it with your X25519 secret key (the key of\n"
             "record_pubkey), and runs the same code on the same input in a local sandbox where\n"
             "every fetch, clock read, random draw, VRF, key and storage call is answered from\n"
             "the recording. A call that differs from the recorded one is an error naming the\n"
             "first difference. Prints the replayed and the recorded output hash (and, for\n"
             "WebAssembly, gas); exit 0 only when they are equal.\n",
};

struct recorded {
    json_t *job;          /* GET /jobs/ID */
    json_t *rec;          /* GET /jobs/ID/recording */
    const char *hash;     /* the receipt's recording_sha256 */
    const char *out_hash; /* the recorded output_hash (NULL: the job failed) */
    const char *code;     /* the recorded error code (NULL: completed) */
    json_int_t gas;
    bool wasm;
};

static const json_t *
member(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return b ? json_object_get(v, b) : v;
}

/* The recorded job and its recording from the server, the one checked
 * against the other. */
static int
fetch(const struct cli_remote *r, const char *id, struct recorded *x)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/jobs/%s", id);
    int rc = cli_call(r, "GET", path, NULL, 0, NULL, &x->job);
    if (rc != CLI_OK) {
        x->job = NULL; /* cli_call freed it */
        return rc;
    }
    const json_t *receipt = json_object_get(x->job, "receipt");
    x->hash = json_string_value(member(receipt, "recording_sha256", NULL));
    if (!x->hash)
        x->hash = json_string_value(member(x->job, "recording_sha256", NULL));
    if (!x->hash)
        return cli_fail(CLI_FAILED, "run the job with \"record\": true",
                        "job '%s' was not recorded (its receipt has no recording_sha256)", id);
    x->out_hash = json_string_value(member(x->job, "output_hash", NULL));
    x->code = json_string_value(member(x->job, "error", "code"));
    x->gas = json_integer_value(member(x->job, "gas_used", NULL));
    x->wasm = json_is_string(member(x->job, "runtime", NULL)) &&
              strcmp(json_string_value(member(x->job, "runtime", NULL)), "wasm") == 0;
    char url[4096];
    (void)snprintf(url, sizeof(url), "%s/jobs/%s/recording", r->server, id);
    long status = 0;
    sr_err e = {0};
    if (cli_http_cap("GET", url, r->token, NULL, 0, NULL, MAX_RECORDING_ANSWER, &status, &x->rec,
                     &e) != SR_OK)
        return cli_fail(CLI_FAILED, "is sealrund running at that address?", "%s", e.msg);
    if (status != 200) {
        json_t *ans = x->rec;
        x->rec = NULL;
        return cli_report_http(status, ans);
    }
    const char *text = json_string_value(json_object_get(x->rec, "recording"));
    char got[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(text ? text : "", text ? strlen(text) : 0, got);
    if (!text || strcmp(got, x->hash) != 0)
        return cli_fail(CLI_FAILED, NULL,
                        "the recording of job '%s' does not match its receipt's recording_sha256 "
                        "(%s, the recording's is %s): refused",
                        id, x->hash, got);
    return CLI_OK;
}

/* Opens the sealed recording with the base64 secret key sk64. */
static sr_status
open_recording(const json_t *rec, const char *sk64, uint8_t **plain, size_t *len, sr_err *err)
{
    uint8_t *sk = NULL;
    size_t sk_len = 0;
    if (sr_base64_decode(sk64, strlen(sk64), &sk, &sk_len, err) != SR_OK || sk_len != 32) {
        if (sk)
            sodium_memzero(sk, sk_len);
        free(sk);
        return sr_err_set(err, SR_EINVAL, "--secret-key must be 32 bytes of base64 (from keygen)");
    }
    uint8_t pk[SR_BOX_PK_LEN];
    crypto_scalarmult_base(pk, sk);
    sr_status rc =
        sr_box_open(pk, sk, json_string_value(json_object_get(rec, "recording")), plain, len, err);
    sodium_memzero(sk, sk_len);
    free(sk);
    if (rc != SR_OK)
        return sr_err_wrap(err, "opening the recording (is --secret-key the key of the job's "
                                "record_pubkey?)");
    return SR_OK;
}

/* Prints the comparison; CLI_OK only when the replay reproduced the job. */
static int
report(const char *id, const struct recorded *x, json_t *job, const char *diverged)
{
    const char *out_hash = json_string_value(member(job, "output_hash", NULL));
    const char *code = json_string_value(member(job, "error", "code"));
    json_int_t gas = json_integer_value(member(job, "gas_used", NULL));
    bool same_out = x->out_hash ? out_hash && strcmp(out_hash, x->out_hash) == 0
                                : !out_hash && code && x->code && strcmp(code, x->code) == 0;
    bool same_gas = !x->wasm || gas == x->gas;
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:b}", "job_id", id, "status",
                          json_string_value(member(job, "status", NULL)), "output_hash", out_hash,
                          "recorded_output_hash", x->out_hash, "error_code", code,
                          "recorded_error_code", x->code, "output_hash_matches", same_out);
    if (o && x->wasm) {
        json_object_set_new(o, "gas_used", json_integer(gas));
        json_object_set_new(o, "recorded_gas_used", json_integer(x->gas));
        json_object_set_new(o, "gas_matches", json_boolean(same_gas));
    }
    if (o)
        json_object_set_new(o, "diverged", diverged[0] ? json_string(diverged) : json_null());
    if (o && code)
        json_object_set(o, "error", json_object_get(job, "error"));
    cli_print_json(o);
    json_decref(o);
    if (diverged[0])
        return cli_fail(CLI_FAILED, NULL, "the replay of job '%s' diverged: %s", id, diverged);
    if (!same_out || !same_gas)
        return cli_fail(CLI_FAILED, NULL, "the replay of job '%s' gave a different %s", id,
                        !same_out ? "output hash" : "gas");
    return CLI_OK;
}

/* Replays the opened recording in a local sandbox. */
static int
replay(sr_engine *eng, const char *id, const struct recorded *x, const uint8_t *plain, size_t len)
{
    sr_err e = {0};
    char *text = NULL;
    size_t tlen = 0;
    char diverged[SR_ERR_MSG_MAX];
    json_t *job = NULL;
    if (sr_engine_start(eng, NULL, NULL, &e) != SR_OK ||
        sr_engine_replay(eng, (const char *)plain, len, &text, &tlen, diverged, &e) != SR_OK ||
        sr_json_parse(text, tlen, 2048 + 8, "replayed job", &job, &e) != SR_OK) {
        free(text);
        return cli_fail(CLI_FAILED, NULL, "replaying job '%s': %s", id, e.msg);
    }
    free(text);
    int rc = report(id, x, job, diverged);
    json_decref(job);
    return rc;
}

int
cmd_replay(int argc, char **argv)
{
    const char *sk = getenv("SEALRUN_SECRET_KEY");
    const struct sr_opt t[] = {{.name = "--secret-key",
                                .kind = SR_OPT_STRING,
                                .dst = &sk,
                                .metavar = "B64",
                                .help = "the X25519 secret key of the job's record_pubkey, from "
                                        "keygen (default: SEALRUN_SECRET_KEY)"}};
    struct cli_remote r;
    const char *id = NULL;
    size_t npos = 0;
    int rc = cli_parse(&replay_help, t, 1, argc, argv, &id, 1, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!sk)
        return cli_fail(CLI_USAGE, NULL, "--secret-key is required");
    if (strlen(id) != SR_ID_HEX_LEN || !sr_is_lower_hex(id, SR_ID_HEX_LEN))
        return cli_fail(CLI_USAGE, NULL, "JOB_ID must be 32 lower-case hex characters");
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    signal(SIGPIPE, SIG_IGN);
    /* the engine forks its zygote before the key or the recording is in memory */
    sr_engine *eng = NULL;
    const struct sr_engine_config cfg = {.isolation = SR_ISOLATION_JOB};
    if (sr_engine_new(&cfg, &eng, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    struct recorded x = {0};
    uint8_t *plain = NULL;
    size_t len = 0;
    rc = fetch(&r, id, &x);
    if (rc == CLI_OK && open_recording(x.rec, sk, &plain, &len, &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (rc == CLI_OK)
        rc = replay(eng, id, &x, plain, len);
    if (plain) {
        sodium_memzero(plain, len);
        free(plain);
    }
    json_decref(x.job);
    json_decref(x.rec);
    sr_engine_free(eng);
    return rc;
}
