/* SPDX-License-Identifier: MIT
 *
 * measure.c - the measurement of a running sealrund (docs/receipts.md,
 * "Measurement"):
 *
 *   measurement = SHA-256("sealrun.measurement.v1" 0x00
 *                         || SHA-256(executable bytes)   (32 raw bytes)
 *                         || JCS(config))
 *
 * where config is the JSON object of everything that changes how a job runs
 * (engine names and versions, JIT, isolation, limits policy), built by the
 * caller. The executable is read through /proc/self/exe, which names the
 * inode the process runs even if the path was replaced since.
 */
#include "receipt_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_util.h"

#define READ_CHUNK (16u * 1024u) /* bytes read per call */

static sr_status
hash_fd(int fd, const char *path, crypto_hash_sha256_state *st, sr_err *err)
{
    uint8_t chunk[READ_CHUNK];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sr_err_set(err, SR_EIO, "cannot read '%s': %s", path, sr_errno_text(errno));
        if (n == 0)
            return SR_OK;
        crypto_hash_sha256_update(st, chunk, (unsigned long long)n);
    }
}

sr_status
sr_measurement_file_sha256(const char *path, uint8_t out[32], sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '%s' to measure it: %s", path,
                          sr_errno_text(errno));
    struct stat sb;
    sr_status rc = SR_OK;
    if (fstat(fd, &sb) != 0)
        rc = sr_err_set(err, SR_EIO, "cannot stat '%s': %s", path, sr_errno_text(errno));
    else if (!S_ISREG(sb.st_mode))
        rc =
            sr_err_set(err, SR_EINVAL, "'%s' is not a regular file; expected the executable", path);
    if (rc == SR_OK) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        rc = hash_fd(fd, path, &st, err);
        if (rc == SR_OK)
            crypto_hash_sha256_final(&st, out);
    }
    (void)close(fd);
    return rc;
}

sr_status
sr_measurement_combine(const uint8_t exe_sha256[32], const json_t *config,
                       uint8_t out[SR_MEASUREMENT_LEN], sr_err *err)
{
    static const uint8_t domain[] = SR_MEASUREMENT_DOMAIN; /* hashed with its NUL */
    if (!json_is_object(config))
        return sr_err_set(err, SR_EINVAL,
                          "measurement config must be a JSON object (engines, jit, isolation, "
                          "limits)");
    sr_buf canon;
    sr_buf_init(&canon, SR_MAX_MEASUREMENT_CONFIG);
    sr_status rc = sr_json_canonical(config, &canon, err);
    if (rc != SR_OK) {
        sr_buf_fini(&canon);
        return sr_err_wrap(err, "canonicalising the measurement config");
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, domain, sizeof(domain));
    crypto_hash_sha256_update(&st, exe_sha256, 32);
    crypto_hash_sha256_update(&st, (const uint8_t *)canon.data, canon.len);
    crypto_hash_sha256_final(&st, out);
    sr_buf_fini(&canon);
    return SR_OK;
}

sr_status
sr_measurement_compute(const char *exe_path, const json_t *config, uint8_t out[SR_MEASUREMENT_LEN],
                       sr_err *err)
{
    uint8_t exe[32];
    sr_status rc = sr_measurement_file_sha256(exe_path, exe, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "measuring the executable");
    return sr_measurement_combine(exe, config, out, err);
}
