/* SPDX-License-Identifier: MIT
 *
 * worker_key.c - the worker's Ed25519 identity (docs/receipts.md, "Worker
 * key").
 *
 * One key per sealrund instance, kept in DATA_DIR/keys/worker.key as the hex
 * of its 32-byte seed. It is made at first start and survives restarts; it is
 * deliberately not derived from COMPUTE_MASTER_KEY, because every instance
 * sharing a master key would then share one identity and a receipt could not
 * say which machine (and which quote) produced it.
 *
 * A new file is written under a random temporary name with O_EXCL, synced,
 * then link()ed to the final name: link fails with EEXIST if another start
 * won the race (we then load its key), and a crash leaves at most a stray
 * temporary, never a half-written worker.key.
 */
#include "receipt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_vrf.h"

#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define SEED_LEN crypto_sign_SEEDBYTES
#define KEY_TEXT_MAX 256 /* bytes of worker.key we read: 64 hex + whitespace */
#define PATH_CAP 4096

struct sr_worker_key {
    /* sodium_malloc, read-only: crypto_sign_SECRETKEYBYTES (seed || pk),
     * then the VRF key's seed (SR_VRF_SEED bytes, derived from the seed) */
    uint8_t *sk;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t vrf_pk[SR_VRF_PUBLIC];
};

sr_status
sr_worker_key_new(const uint8_t seed[32], sr_worker_key **out, sr_err *err)
{
    sr_worker_key *key = calloc(1, sizeof(*key));
    if (!key)
        return sr_err_set(err, SR_ENOMEM, "out of memory making the worker key");
    key->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES + SR_VRF_SEED);
    if (!key->sk) {
        free(key);
        return sr_err_set(err, SR_ENOMEM, "out of memory making the worker key");
    }
    if (crypto_sign_seed_keypair(key->pk, key->sk, seed) != 0) {
        sr_worker_key_free(key);
        return sr_err_set(err, SR_EINTERNAL, "cannot derive the Ed25519 key pair from its seed");
    }
    /* the VRF key: its own key, derived (one key per algorithm) */
    uint8_t *vrf = key->sk + crypto_sign_SECRETKEYBYTES;
    (void)crypto_generichash(vrf, SR_VRF_SEED, (const uint8_t *)SR_VRF_KEY_DOMAIN,
                             sizeof(SR_VRF_KEY_DOMAIN) - 1, seed, 32);
    sr_vrf_public(vrf, key->vrf_pk);
    (void)sodium_mprotect_readonly(key->sk); /* best effort */
    *out = key;
    return SR_OK;
}

void
sr_worker_key_free(sr_worker_key *key)
{
    if (!key)
        return;
    sodium_free(key->sk); /* wipes */
    free(key);
}

void
sr_worker_key_public(const sr_worker_key *key, uint8_t pk[SR_ED25519_PK_LEN])
{
    memcpy(pk, key->pk, SR_ED25519_PK_LEN);
}

void
sr_worker_key_vrf_public(const sr_worker_key *key, uint8_t pk[SR_VRF_PUBLIC])
{
    memcpy(pk, key->vrf_pk, SR_VRF_PUBLIC);
}

sr_status
sr_worker_key_vrf_prove(const sr_worker_key *key, const uint8_t *alpha, size_t len,
                        uint8_t proof[SR_VRF_PROOF], uint8_t output[SR_VRF_OUTPUT], sr_err *err)
{
    return sr_vrf_prove(key->sk + crypto_sign_SECRETKEYBYTES, alpha, len, proof, output, err);
}

sr_status
sr_vrf_alpha(const char *job_id, const char *owner_hash, const uint8_t *seed, size_t seed_len,
             sr_buf *out, sr_err *err)
{
    if (!job_id || !sr_is_lower_hex(job_id, SR_ID_HEX_LEN) || !owner_hash ||
        !sr_is_lower_hex(owner_hash, SR_HASH_HEX_LEN) || seed_len > SR_VRF_MAX_SEED)
        return sr_err_set(err, SR_EINVAL,
                          "VRF input: the job id must be %d and the owner hash %d lower-case hex "
                          "characters, the seed at most %d bytes",
                          SR_ID_HEX_LEN, SR_HASH_HEX_LEN, SR_VRF_MAX_SEED);
    sr_status rc = sr_buf_append(out, SR_VRF_ALPHA_DOMAIN, sizeof(SR_VRF_ALPHA_DOMAIN), err);
    if (rc == SR_OK)
        rc = sr_buf_append(out, job_id, SR_ID_HEX_LEN, err);
    if (rc == SR_OK)
        rc = sr_buf_append(out, owner_hash, SR_HASH_HEX_LEN, err);
    if (rc == SR_OK && seed_len)
        rc = sr_buf_append(out, seed, seed_len, err);
    return rc;
}

void
sr_worker_key_sign(const sr_worker_key *key, const void *msg, size_t len,
                   uint8_t sig[SR_ED25519_SIG_LEN])
{
    (void)crypto_sign_detached(sig, NULL, msg, len, key->sk);
}

sr_status
sr_worker_box_seal(const uint8_t pk[SR_ED25519_PK_LEN], const void *msg, size_t len, char **out,
                   sr_err *err)
{
    uint8_t x[crypto_box_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(x, pk) != 0)
        return sr_err_set(err, SR_EINVAL, "the worker key has no X25519 form");
    return sr_box_seal(x, msg, len, out, err);
}

sr_status
sr_worker_key_box_open(const sr_worker_key *key, const char *b64, uint8_t **out, size_t *len,
                       sr_err *err)
{
    uint8_t x_pk[crypto_box_PUBLICKEYBYTES], x_sk[crypto_box_SECRETKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(x_pk, key->pk) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(x_sk, key->sk) != 0)
        return sr_err_set(err, SR_EDENIED, "authentication failed");
    sr_status rc = sr_box_open(x_pk, x_sk, b64, out, len, err);
    sodium_memzero(x_sk, sizeof(x_sk));
    return rc;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Parses the file text (hex seed, surrounding whitespace allowed) into a key. */
static sr_status
key_from_text(const char *path, char *text, size_t len, sr_worker_key **out, sr_err *err)
{
    size_t start = 0;
    while (start < len && is_space(text[start]))
        start++;
    while (len > start && is_space(text[len - 1]))
        len--;
    if (len - start != 2 * SEED_LEN)
        return sr_err_set(err, SR_EINVAL,
                          "worker key file '%s' must hold %d hex characters (an Ed25519 seed), "
                          "got %zu; delete it to make a new worker identity",
                          path, 2 * SEED_LEN, len - start);
    uint8_t *seed = sodium_malloc(SEED_LEN);
    if (!seed)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading the worker key");
    sr_status rc = sr_hex_decode(text + start, len - start, seed, SEED_LEN, NULL);
    if (rc != SR_OK)
        rc = sr_err_set(err, SR_EINVAL,
                        "worker key file '%s' is not hex; delete it to make a new worker identity",
                        path);
    else
        rc = sr_worker_key_new(seed, out, err);
    sodium_free(seed);
    return rc;
}

/* Reads an existing key file. *found is false (SR_OK) when it does not exist. */
static sr_status
key_read(const char *path, bool *found, sr_worker_key **out, sr_err *err)
{
    *found = false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return SR_OK;
        return sr_err_set(err, SR_EIO, "cannot open worker key file '%s': %s", path,
                          sr_errno_text(errno));
    }
    *found = true;
    struct stat sb;
    char text[KEY_TEXT_MAX + 1];
    ssize_t n = 0;
    sr_status rc = SR_OK;
    if (fstat(fd, &sb) != 0)
        rc = sr_err_set(err, SR_EIO, "cannot stat worker key file '%s': %s", path,
                        sr_errno_text(errno));
    else if (!S_ISREG(sb.st_mode))
        rc = sr_err_set(err, SR_EINVAL, "worker key file '%s' is not a regular file", path);
    else if ((sb.st_mode & 077) != 0)
        rc = sr_err_set(err, SR_EINVAL,
                        "worker key file '%s' has mode %04o: it must not be accessible by group "
                        "or others (chmod 600 '%s')",
                        path, (unsigned)(sb.st_mode & 07777), path);
    else if ((n = read(fd, text, sizeof(text))) < 0)
        rc = sr_err_set(err, SR_EIO, "cannot read worker key file '%s': %s", path,
                        sr_errno_text(errno));
    else if ((size_t)n > KEY_TEXT_MAX)
        rc = sr_err_set(err, SR_EINVAL, "worker key file '%s' is longer than %d bytes", path,
                        KEY_TEXT_MAX);
    (void)close(fd);
    if (rc == SR_OK)
        rc = key_from_text(path, text, (size_t)n, out, err);
    sodium_memzero(text, sizeof(text));
    return rc;
}

/* Writes a new random seed to 'tmp' (O_EXCL, 0600), then links it to 'path'.
 * *raced is set when another process created 'path' first. */
static sr_status
key_create(const char *path, const char *tmp, bool *raced, sr_err *err)
{
    *raced = false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot create worker key file '%s': %s", tmp,
                          sr_errno_text(errno));
    uint8_t seed[SEED_LEN];
    char text[2 * SEED_LEN + 2];
    randombytes_buf(seed, sizeof(seed));
    sr_hex_encode(seed, sizeof(seed), text);
    text[2 * SEED_LEN] = '\n';
    text[2 * SEED_LEN + 1] = '\0';
    char what[4200];
    (void)snprintf(what, sizeof(what), "worker key file '%s'", tmp);
    sr_status rc = sr_write_all(fd, text, 2 * SEED_LEN + 1, true, what, err);
    (void)close(fd);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(text, sizeof(text));
    if (rc == SR_OK && link(tmp, path) != 0) {
        if (errno == EEXIST)
            *raced = true;
        else
            rc = sr_err_set(err, SR_EIO, "cannot link worker key file '%s' to '%s': %s", tmp, path,
                            sr_errno_text(errno));
    }
    (void)unlink(tmp);
    return rc;
}

/* Makes a new directory entry durable (the key must not vanish in a crash
 * after receipts were signed with it). */
static sr_status
sync_dir(const char *dir, sr_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            (void)close(fd);
        return sr_err_set(err, SR_EIO, "cannot sync key directory '%s': %s", dir, sr_errno_text(e));
    }
    (void)close(fd);
    return SR_OK;
}

static sr_status
ensure_dir(const char *dir, sr_err *err)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return SR_OK;
    return sr_err_set(err, SR_EIO, "cannot create key directory '%s': %s", dir,
                      sr_errno_text(errno));
}

sr_status
sr_worker_key_load(const char *data_dir, bool create, bool *created, sr_worker_key **out,
                   sr_err *err)
{
    char dir[PATH_CAP];
    char path[PATH_CAP];
    char tmp[PATH_CAP];
    if (created)
        *created = false;
    if (!data_dir || !*data_dir)
        return sr_err_set(err, SR_EINVAL, "no data directory given for the worker key");
    int n1 = snprintf(dir, sizeof(dir), "%s/keys", data_dir);
    int n2 = snprintf(path, sizeof(path), "%s/%s", dir, SR_WORKER_KEY_FILE);
    uint8_t rnd[8];
    char rnd_hex[17];
    randombytes_buf(rnd, sizeof(rnd));
    sr_hex_encode(rnd, sizeof(rnd), rnd_hex);
    int n3 = snprintf(tmp, sizeof(tmp), "%s.tmp.%s", path, rnd_hex);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n3 >= sizeof(tmp))
        return sr_err_set(err, SR_EINVAL, "data directory path is too long (%zu bytes)",
                          strlen(data_dir));
    bool found = false;
    sr_status rc = key_read(path, &found, out, err);
    if (rc != SR_OK || found)
        return rc;
    if (!create)
        return sr_err_set(err, SR_ENOTFOUND,
                          "worker key file '%s' does not exist (start sealrund once to create it)",
                          path);
    bool raced = false;
    rc = ensure_dir(dir, err);
    if (rc == SR_OK)
        rc = key_create(path, tmp, &raced, err);
    if (rc == SR_OK && !raced)
        rc = sync_dir(dir, err);
    if (rc == SR_OK)
        rc = key_read(path, &found, out, err);
    if (rc == SR_OK && !found)
        rc = sr_err_set(err, SR_EIO, "worker key file '%s' vanished right after it was created",
                        path);
    if (rc == SR_OK && !raced) {
        if (created)
            *created = true;
        sr_log(SR_LOG_INFO, "receipt", "created a new worker identity in '%s'", path);
    }
    return rc;
}
