/* SPDX-License-Identifier: MIT
 *
 * cmd_vrf.c - `sealrun verify-vrf`: checks the verifiable randomness of a
 * job (docs/receipts.md, "Verifiable randomness"): each entry of its
 * receipt's "vrf" list is an ECVRF-EDWARDS25519-SHA512-TAI proof, under the
 * VRF key, of the input made from the receipt's job_id and owner_hash and
 * the entry's seed, and its output is that proof's. No server, no secret.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_receipt.h"
#include "sealrun/sr_util.h"
#include "sealrun/sr_vrf.h"

static const struct cli_help vrf_help = {
    .cmd = "verify-vrf",
    .args = "JOB.json|- [options]",
    .about = "Checks every crypto.vrf / sealrun.vrf result in the job's receipt: the proof is\n"
             "the VRF key's (ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381) over the job id, the\n"
             "owner hash and the seed, and the output is the one that proof gives. JOB.json is\n"
             "the job as exec or GET /jobs/ID returns it ('-' reads stdin).\n",
    .footer = "Prints one line per entry. Exit status: 0 when every entry verifies, 1 when\n"
              "one does not (or there are none), 2 bad usage.\n",
};

#define MAX_JOB_FILE (4u * SR_MAX_BODY)
#define MAX_DEPTH 4096

/* Lower-case hex of exactly n bytes from the member 'name' of o into out. */
static bool
hex_member(const json_t *o, const char *name, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s && strlen(s) == 2 * n && sr_is_lower_hex(s, 2 * n) &&
           sr_hex_decode(s, 2 * n, out, n, NULL) == SR_OK;
}

/* Checks entry i; prints its line; true if it verifies. */
static bool
check_entry(const json_t *receipt, const uint8_t pk[32], size_t i, const json_t *use)
{
    uint8_t seed[SR_VRF_MAX_SEED], proof[SR_VRF_PROOF], output[SR_VRF_OUTPUT], got[SR_VRF_OUTPUT];
    const char *seed_hex = json_string_value(json_object_get(use, "seed"));
    size_t seed_len = seed_hex ? strlen(seed_hex) / 2 : 0;
    if (!seed_hex || strlen(seed_hex) % 2 || seed_len > SR_VRF_MAX_SEED ||
        !sr_is_lower_hex(seed_hex, 2 * seed_len) ||
        (seed_len && sr_hex_decode(seed_hex, 2 * seed_len, seed, seed_len, NULL) != SR_OK) ||
        !hex_member(use, "proof", proof, SR_VRF_PROOF) ||
        !hex_member(use, "output", output, SR_VRF_OUTPUT)) {
        printf("FAIL vrf[%zu]: needs 'seed' (hex, <= %d bytes), 'proof' (80 bytes) and "
               "'output' (64 bytes) in lower-case hex\n",
               i, SR_VRF_MAX_SEED);
        return false;
    }
    sr_buf alpha;
    sr_buf_init(&alpha, 256 + SR_VRF_MAX_SEED);
    sr_err e = {0};
    bool ok = sr_vrf_alpha(json_string_value(json_object_get(receipt, "job_id")),
                           json_string_value(json_object_get(receipt, "owner_hash")), seed,
                           seed_len, &alpha, &e) == SR_OK &&
              sr_vrf_verify(pk, proof, (const uint8_t *)alpha.data, alpha.len, got);
    sr_buf_fini(&alpha);
    if (!ok) {
        printf("FAIL vrf[%zu]: the proof does not verify under the VRF key%s%s\n", i,
               e.msg[0] ? ": " : "", e.msg);
        return false;
    }
    if (sodium_memcmp(got, output, SR_VRF_OUTPUT) != 0) {
        printf("FAIL vrf[%zu]: the output is not the proof's\n", i);
        return false;
    }
    printf("ok   vrf[%zu]: seed %s, output %.32s...\n", i, seed_len ? seed_hex : "(empty)",
           json_string_value(json_object_get(use, "output")));
    return true;
}

static int
verify_receipt_vrf(const json_t *job, const char *pinned)
{
    const json_t *receipt = json_object_get(job, "receipt");
    const json_t *list = json_object_get(receipt, "vrf");
    uint8_t pk[32];
    if (!json_is_object(receipt) || !json_is_array(list) || json_array_size(list) == 0) {
        printf("FAIL the job's receipt has no 'vrf' list: the job made no crypto.vrf call\n");
        return CLI_FAILED;
    }
    if (!hex_member(receipt, "vrf_public_key", pk, 32)) {
        printf("FAIL the receipt's vrf_public_key is not 64 lower-case hex\n");
        return CLI_FAILED;
    }
    if (pinned) {
        uint8_t want[32];
        if (!sr_is_lower_hex(pinned, 64) || strlen(pinned) != 64 ||
            sr_hex_decode(pinned, 64, want, 32, NULL) != SR_OK)
            return cli_fail(CLI_USAGE, NULL, "--vrf-key must be 64 lower-case hex characters");
        if (memcmp(want, pk, 32) != 0) {
            printf("FAIL the receipt's vrf_public_key is not the --vrf-key given\n");
            return CLI_FAILED;
        }
        printf("ok   vrf_public_key is the pinned key\n");
    } else {
        printf("skip vrf_public_key not pinned (--vrf-key): the receipt's own key is used\n");
    }
    bool all = true;
    for (size_t i = 0; i < json_array_size(list); i++)
        all = check_entry(receipt, pk, i, json_array_get(list, i)) && all;
    return all ? CLI_OK : CLI_FAILED;
}

int
cmd_verify_vrf(int argc, char **argv)
{
    const char *file = NULL;
    const char *key = NULL;
    const struct sr_opt t[] = {
        {.name = "--vrf-key",
         .kind = SR_OPT_STRING,
         .dst = &key,
         .metavar = "HEX",
         .help = "the worker's VRF public key (vrf_public_key of GET /attestation, 64 hex): "
                 "proves whose randomness it is; without it the receipt's own vrf_public_key "
                 "is used (run 'sealrun verify --worker-key' too: the worker key signs that "
                 "one)"},
    };
    size_t npos = 0;
    int prc = cli_parse(&vrf_help, t, 1, argc, argv, &file, 1, 1, &npos, NULL);
    if (prc != CLI_CONTINUE)
        return prc;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    json_t *job = NULL;
    if (cli_read_file(file, MAX_JOB_FILE, &text, &len, &e) != SR_OK ||
        sr_json_parse(text, len, MAX_DEPTH, "job file", &job, &e) != SR_OK) {
        free(text);
        printf("FAIL job file '%s' is not readable JSON: %s\n", file, e.msg);
        return CLI_FAILED;
    }
    free(text);
    int rc = verify_receipt_vrf(job, key);
    fflush(stdout);
    json_decref(job);
    return rc;
}
