/* SPDX-License-Identifier: MIT
 *
 * cmd_verify.c - `sealrun verify`: checks a job's signed receipt
 * (docs/receipts.md, "Verifying") with sr_receipt_check_job() and prints
 * one line per check. Needs no key but the worker's public one, and no
 * server: the same checks as examples/verify-receipt.mjs.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"

static const struct cli_help verify_help = {
    .cmd = "verify",
    .args = "JOB.json|- [options]",
    .about = "Checks the job's receipt (docs/receipts.md): the Ed25519 signature, that the\n"
             "job's id, status, error code, output, encrypted_output and logs match it, and,\n"
             "when given, the code, the input and the measurement. JOB.json is the job as\n"
             "exec or GET /jobs/ID returns it ('-' reads stdin).\n",
    .footer = "Prints one line per check: 'ok', 'FAIL' or 'skip' (not checkable with what was\n"
              "given). Exit status: 0 when no check failed, 1 when one did, 2 bad usage.\n",
};

/* Generous: a job response holds an output of up to SR_MAX_OUTPUT as JSON,
 * logs, and possibly its sealed copy in base64. */
#define MAX_JOB_FILE (4u * SR_MAX_BODY)
#define MAX_DEPTH 4096

struct verify_opts {
    const char *job, *script, *module, *input, *key, *measurement;
};

static int
parse_verify_args(int argc, char **argv, struct verify_opts *o)
{
    const struct sr_opt t[] = {
        {.name = "--script",
         .kind = SR_OPT_STRING,
         .dst = &o->script,
         .metavar = "FILE",
         .help = "the script the job ran: its SHA-256 must be code_hash"},
        {.name = "--module",
         .kind = SR_OPT_STRING,
         .dst = &o->module,
         .metavar = "FILE",
         .help = "the WebAssembly module the job ran (instead of --script)"},
        {.name = "--input",
         .kind = SR_OPT_STRING,
         .dst = &o->input,
         .metavar = "FILE",
         .help = "a JSON file with the job's input: checks input_hash"},
        {.name = "--worker-key",
         .kind = SR_OPT_STRING,
         .dst = &o->key,
         .metavar = "HEX",
         .help = "the worker's public key (worker_public_key of GET /attestation, 64 hex): "
                 "proves who signed; without it the receipt's own key is used, which proves "
                 "integrity only"},
        {.name = "--expect-measurement",
         .kind = SR_OPT_STRING,
         .dst = &o->measurement,
         .metavar = "HEX",
         .help = "the measurement the worker must report (64 hex)"},
    };
    size_t npos = 0;
    int rc = cli_parse(&verify_help, t, 5, argc, argv, &o->job, 1, 1, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (o->script && o->module)
        return cli_fail(CLI_USAGE, NULL, "give --script or --module, not both");
    return CLI_CONTINUE;
}

/* 64 lower-case hex characters into 32 bytes (verifiers accept only the
 * form sealrund writes, docs/receipts.md). */
static int
parse_hex32(const char *opt, const char *hex, uint8_t out[32])
{
    if (!sr_is_lower_hex(hex, 64) || sr_hex_decode(hex, 64, out, 32, NULL) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "%s must be 64 lower-case hex characters, got '%.80s'",
                        opt, hex);
    return CLI_OK;
}

static sr_status
load_json_file(const char *path, size_t max, const char *what, json_t **out, sr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    sr_status rc = cli_read_file(path, max, &text, &len, err);
    if (rc == SR_OK)
        rc = sr_json_parse(text, len, MAX_DEPTH, what, out, err);
    free(text);
    return rc;
}

static void
print_check(void *arg, enum sr_check_result res, const char *line)
{
    (void)arg;
    static const char *const tag[] = {"ok  ", "FAIL", "skip"};
    printf("%s %s\n", tag[res], line);
}

/* Loads what the options name into *c (code and input owned by the caller). */
static int
load_evidence(const struct verify_opts *o, struct sr_receipt_check_opts *c, uint8_t pk[32],
              uint8_t meas[32], char **code, json_t **input)
{
    sr_err e = {0};
    if (o->key) {
        if (parse_hex32("--worker-key", o->key, pk) != CLI_OK)
            return CLI_USAGE;
        c->worker_pk = pk;
    }
    if (o->measurement) {
        if (parse_hex32("--expect-measurement", o->measurement, meas) != CLI_OK)
            return CLI_USAGE;
        c->measurement = meas;
    }
    const char *cf = o->script ? o->script : o->module;
    if (cf) {
        size_t len = 0;
        if (cli_read_file(cf, o->script ? SR_MAX_SCRIPT : SR_MAX_MODULE, code, &len, &e) != SR_OK)
            return cli_fail(CLI_USAGE, NULL, "%s: %s", o->script ? "--script" : "--module", e.msg);
        c->code = *code;
        c->code_len = len;
        c->has_code = true;
    }
    if (o->input) {
        if (load_json_file(o->input, SR_MAX_BODY, "input file", input, &e) != SR_OK)
            return cli_fail(CLI_USAGE, NULL, "--input: %s", e.msg);
        c->input = *input;
    }
    return CLI_OK;
}

int
cmd_verify(int argc, char **argv)
{
    struct verify_opts o = {0};
    int rc = parse_verify_args(argc, argv, &o);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    struct sr_receipt_check_opts c = {0};
    uint8_t pk[32], meas[32];
    char *code = NULL;
    json_t *input = NULL, *job = NULL;
    rc = load_evidence(&o, &c, pk, meas, &code, &input);
    if (rc == CLI_OK && load_json_file(o.job, MAX_JOB_FILE, "job file", &job, &e) != SR_OK) {
        printf("FAIL job file '%s' is not readable JSON: %s\n", o.job, e.msg);
        rc = CLI_FAILED;
    }
    if (rc == CLI_OK) {
        if (sr_receipt_check_job(job, &c, print_check, NULL, &e) != SR_OK)
            rc = cli_fail(CLI_FAILED, NULL, "the receipt does not hold: %s", e.msg);
    }
    fflush(stdout);
    json_decref(job);
    json_decref(input);
    free(code);
    return rc;
}
