/* SPDX-License-Identifier: MIT
 *
 * cmd_key.c - `sealrun keygen`, `sealrun decrypt` and `sealrun
 * verify-output`: the client side of output protection
 * (docs/output-protection.md).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

static const struct cli_help keygen_help = {
    .cmd = "keygen",
    .args = "",
    .about = "Prints a new X25519 key pair as JSON: {\"public_key\": B64, \"secret_key\": B64}.\n"
             "Send public_key as the job's output_pubkey (sealrun exec --output-pubkey); keep\n"
             "secret_key to decrypt.\n",
};

static const struct cli_help decrypt_help = {
    .cmd = "decrypt",
    .args = "[JOB.json|-] [options]",
    .about = "Opens the job's encrypted_output (the job JSON from exec or GET /jobs/ID, on\n"
             "stdin by default) and prints the output JSON.\n",
};

static const struct cli_help verify_help = {
    .cmd = "verify-output",
    .args = "[JOB.json|-] [options]",
    .about = "Recomputes output_hash (SHA-256 of the RFC 8785 canonical output) and checks\n"
             "it; with the master keys at hand (COMPUTE_MASTER_KEY and SECRETS_MASTER_KEY, or\n"
             "the key files of --data-dir DIR), also checks the signature (HMAC). For a job\n"
             "with encrypted_output, --secret-key decrypts it first and checks that too.\n"
             "Prints one line per check; exit 0 only when every check passes.\n",
};

/* --secret-key, defaulting to SEALRUN_SECRET_KEY. */
static struct sr_opt
secret_key_opt(const char **sk)
{
    *sk = getenv("SEALRUN_SECRET_KEY");
    return (struct sr_opt){.name = "--secret-key",
                           .kind = SR_OPT_STRING,
                           .dst = sk,
                           .metavar = "B64",
                           .help = "your X25519 secret key from keygen (default: "
                                   "SEALRUN_SECRET_KEY)"};
}

int
cmd_keygen(int argc, char **argv)
{
    size_t npos = 0;
    int rc = cli_parse(&keygen_help, NULL, 0, argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    uint8_t pk[SR_BOX_PK_LEN], sk[SR_BOX_SK_LEN];
    sr_box_keygen(pk, sk);
    char *pk64 = sr_base64_encode(pk, sizeof(pk));
    char *sk64 = sr_base64_encode(sk, sizeof(sk));
    sodium_memzero(sk, sizeof(sk));
    if (!pk64 || !sk64)
        return cli_fail(CLI_FAILED, NULL, "out of memory");
    printf("{\n  \"public_key\": \"%s\",\n  \"secret_key\": \"%s\"\n}\n", pk64, sk64);
    sodium_memzero(sk64, strlen(sk64));
    free(pk64);
    free(sk64);
    return CLI_OK;
}

static sr_status
load_job(const char *path, json_t **job, sr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    sr_status rc = cli_read_file(path, 4u * SR_MAX_BODY, &text, &len, err);
    if (rc == SR_OK)
        rc = sr_json_parse(text, len, 4096, "job file", job, err);
    free(text);
    if (rc == SR_OK && !json_is_object(*job)) {
        json_decref(*job);
        rc = sr_err_set(err, SR_EINVAL, "'%s' does not hold a job object", path);
    }
    return rc;
}

/* Opens encrypted_output with a base64 secret key; *out = owned output JSON. */
static sr_status
open_output(const json_t *job, const char *sk64, json_t **out, sr_err *err)
{
    const char *sealed = json_string_value(json_object_get(job, "encrypted_output"));
    if (!sealed)
        return sr_err_set(err, SR_EINVAL,
                          "the job has no 'encrypted_output' (was "
                          "output_pubkey given?)");
    uint8_t *sk = NULL;
    size_t sk_len = 0;
    if (sr_base64_decode(sk64, strlen(sk64), &sk, &sk_len, err) != SR_OK || sk_len != 32) {
        free(sk);
        return sr_err_set(err, SR_EINVAL, "--secret-key must be 32 bytes of base64 (from keygen)");
    }
    uint8_t pk[SR_BOX_PK_LEN];
    crypto_scalarmult_base(pk, sk);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    sr_status rc = sr_box_open(pk, sk, sealed, &plain, &plain_len, err);
    sodium_memzero(sk, sk_len);
    free(sk);
    if (rc != SR_OK)
        return sr_err_wrap(err, "decrypting encrypted_output");
    rc = sr_json_parse((const char *)plain, plain_len, 4096, "decrypted output", out, err);
    free(plain);
    return rc;
}

int
cmd_decrypt(int argc, char **argv)
{
    const char *sk = NULL, *file = "-";
    const struct sr_opt t[] = {secret_key_opt(&sk)};
    size_t npos = 0;
    int prc = cli_parse(&decrypt_help, t, 1, argc, argv, &file, 0, 1, &npos, NULL);
    if (prc != CLI_CONTINUE)
        return prc;
    if (!sk)
        return cli_fail(CLI_USAGE, NULL, "--secret-key is required");
    sr_err e = {0};
    json_t *job = NULL, *out = NULL;
    if (sr_crypto_init(&e) != SR_OK || load_job(file, &job, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    sr_status rc = open_output(job, sk, &out, &e);
    json_decref(job);
    if (rc != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    cli_print_json(out);
    json_decref(out);
    return CLI_OK;
}

static bool
check(bool ok, const char *what, const char *detail)
{
    printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "", detail ? detail : "");
    return ok;
}

static bool
verify_hash(const json_t *output, const char *want, char got[SR_HASH_HEX_LEN + 1])
{
    sr_buf canon;
    sr_buf_init(&canon, 4u * SR_MAX_OUTPUT);
    sr_err e = {0};
    bool ok = sr_json_canonical(output, &canon, &e) == SR_OK;
    if (ok)
        sr_sha256_hex(canon.data, canon.len, got);
    sr_buf_fini(&canon);
    return ok && want && strcmp(got, want) == 0;
}

int
cmd_verify_output(int argc, char **argv)
{
    const char *file = NULL, *sk = NULL, *dir = NULL;
    const struct sr_opt t[] = {
        secret_key_opt(&sk),
        {.name = "--data-dir",
         .kind = SR_OPT_STRING,
         .dst = &dir,
         .metavar = "DIR",
         .help = "read the master keys from DIR/keys (the daemon's --data-dir)"},
    };
    size_t npos = 0;
    int prc = cli_parse(&verify_help, t, 2, argc, argv, &file, 0, 1, &npos, NULL);
    if (prc != CLI_CONTINUE)
        return prc;
    sr_err e = {0};
    json_t *job = NULL;
    if (sr_crypto_init(&e) != SR_OK || load_job(file ? file : "-", &job, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    const char *id = json_string_value(json_object_get(job, "job_id"));
    const char *hash = json_string_value(json_object_get(job, "output_hash"));
    const char *mac = json_string_value(json_object_get(job, "signature"));
    json_t *output = json_incref(json_object_get(job, "output"));
    bool all = check(hash != NULL, "job has an output_hash", hash ? NULL : "missing (failed job?)");
    if (json_object_get(job, "encrypted_output") && sk) {
        json_decref(output);
        output = NULL;
        bool opened = open_output(job, sk, &output, &e) == SR_OK;
        all &= check(opened, "encrypted_output opens", opened ? NULL : e.msg);
    }
    char got[SR_HASH_HEX_LEN + 1] = "";
    if (output && !json_is_null(output))
        all &= check(verify_hash(output, hash, got), "output_hash matches the output", got);
    else
        all &= check(false, "output present", "no clear output (pass --secret-key to decrypt)");
    sr_keys *keys = NULL;
    if ((dir || getenv("COMPUTE_MASTER_KEY")) &&
        sr_keys_load(dir ? dir : "/nonexistent", false, &(bool){false}, &keys, &e) == SR_OK)
        all &= check(id && hash && mac && sr_output_mac_verify(keys, id, hash, mac),
                     "signature (HMAC-SHA256 under the output-MAC subkey)", NULL);
    else
        printf("skip signature: no master keys (set COMPUTE_MASTER_KEY and SECRETS_MASTER_KEY, "
               "or pass --data-dir)%s%s\n",
               dir ? ": " : "", dir ? e.msg : "");
    sr_keys_free(keys);
    json_decref(output);
    json_decref(job);
    return all ? CLI_OK : CLI_FAILED;
}
