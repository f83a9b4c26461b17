/* SPDX-License-Identifier: MIT
 *
 * attest.c - quote providers: "none" and "tdx" over configfs-tsm
 * (Documentation/ABI/testing/configfs-tsm-report):
 *
 *   mkdir ROOT/sealrun-PID-RAND           attributes appear
 *   read  provider                        must be a TDX provider ("tdx_guest")
 *   read  generation                      g0
 *   write inblob  <- report_data (64)     generation becomes g0 + 1
 *   read  outblob -> quote                the kernel asks the TDX module here
 *   read  generation                      must be g0 + 1: nobody else wrote
 *   rmdir ROOT/sealrun-PID-RAND
 *
 * A directory per request is what the ABI recommends to avoid conflicts; the
 * generation check catches anything that still interfered.
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

#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define PATH_CAP 4096
#define SMALL_ATTR_MAX 64 /* provider, generation */
#define TDX_HEADER_LEN 48
#define TDX_REPORT_DATA_OFF 520 /* in the TD report body (TDX 1.0 layout) */
#define TDX_V5_DESCRIPTOR_LEN 6 /* body type (2) + body size (4) */

struct sr_attest_quote {
    enum sr_attest_provider provider;
    uint8_t *bytes; /* outblob; NULL for none */
    size_t len;
    char *b64; /* base64 of bytes; NULL for none */
    char tsm_provider[SMALL_ATTR_MAX + 1];
};

static struct sr_attest__hooks hooks;

void
sr_attest__set_hooks(const struct sr_attest__hooks *h)
{
    if (h)
        hooks = *h;
    else
        memset(&hooks, 0, sizeof(hooks));
}

sr_status
sr_attest_provider_parse(const char *name, enum sr_attest_provider *out, sr_err *err)
{
    if (name && strcmp(name, "none") == 0)
        *out = SR_ATTEST_NONE;
    else if (name && strcmp(name, "tdx") == 0)
        *out = SR_ATTEST_TDX;
    else
        return sr_err_set(err, SR_EINVAL,
                          "unknown attestation provider '%.32s'; expected none or tdx",
                          name ? name : "");
    return SR_OK;
}

const char *
sr_attest_provider_name(enum sr_attest_provider p)
{
    return p == SR_ATTEST_TDX ? "tdx" : "none";
}

void
sr_attest_report_data(const uint8_t pk[32], const uint8_t measurement[32],
                      uint8_t out[SR_REPORT_DATA_LEN])
{
    crypto_hash_sha512_state st;
    crypto_hash_sha512_init(&st);
    crypto_hash_sha512_update(&st, pk, 32);
    crypto_hash_sha512_update(&st, measurement, 32);
    crypto_hash_sha512_final(&st, out);
}

/* Reads a whole attribute file into a new buffer (NUL-terminated, not
 * counted). SR_EINVAL when it holds more than 'max' bytes. */
static sr_status
read_attr(const char *path, size_t max, uint8_t **out, size_t *out_len, sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '%s': %s", path, sr_errno_text(errno));
    uint8_t *buf = malloc(max + 2);
    size_t len = 0;
    sr_status rc = buf ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
    while (rc == SR_OK) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = sr_err_set(err, SR_EIO, "cannot read '%s': %s", path, sr_errno_text(errno));
        else if (n == 0)
            break;
        else if ((len += (size_t)n) > max)
            rc = sr_err_set(err, SR_EINVAL, "'%s' holds more than %zu bytes", path, max);
    }
    (void)close(fd);
    if (rc != SR_OK) {
        free(buf);
        return rc;
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return SR_OK;
}

/* Reads a small text attribute, trailing whitespace removed. */
static sr_status
read_text_attr(const char *dir, const char *name, char out[SMALL_ATTR_MAX + 1], sr_err *err)
{
    char path[PATH_CAP];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *p = NULL;
    size_t len = 0;
    sr_status rc = read_attr(path, SMALL_ATTR_MAX, &p, &len, err);
    if (rc != SR_OK)
        return rc;
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == ' ' || p[len - 1] == '\0'))
        len--;
    memcpy(out, p, len);
    out[len] = 0;
    free(p);
    return SR_OK;
}

static sr_status
read_generation(const char *dir, int64_t *out, sr_err *err)
{
    char text[SMALL_ATTR_MAX + 1];
    sr_status rc = read_text_attr(dir, "generation", text, err);
    if (rc == SR_OK)
        rc = sr_parse_i64(text, 0, INT64_MAX - 1, "configfs-tsm 'generation'", out, err);
    return rc;
}

static sr_status
write_inblob(const char *dir, const uint8_t data[SR_REPORT_DATA_LEN], sr_err *err)
{
    char path[PATH_CAP];
    (void)snprintf(path, sizeof(path), "%s/inblob", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '%s' for writing: %s", path,
                          sr_errno_text(errno));
    ssize_t n;
    do
        n = write(fd, data, SR_REPORT_DATA_LEN);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    sr_status rc = SR_OK;
    if (close(fd) != 0 && n == SR_REPORT_DATA_LEN) {
        n = -1;
        saved = errno;
    }
    if (n != SR_REPORT_DATA_LEN)
        rc = sr_err_set(err, SR_EIO, "cannot write report data to '%s': %s", path,
                        n < 0 ? sr_errno_text(saved) : "short write");
    return rc;
}

/* The steps between mkdir and rmdir: provider, generation, inblob, outblob. */
static sr_status
tdx_request(const char *dir, const uint8_t rd[SR_REPORT_DATA_LEN], sr_attest_quote *q, sr_err *err)
{
    int64_t g0 = 0;
    int64_t g1 = 0;
    sr_status rc = read_text_attr(dir, "provider", q->tsm_provider, err);
    if (rc == SR_OK && strncmp(q->tsm_provider, "tdx", 3) != 0)
        rc = sr_err_set(err, SR_EINVAL,
                        "the configfs-tsm provider in '%s' is '%s', expected a TDX provider "
                        "('tdx_guest'); choose the attestation provider this machine has",
                        dir, q->tsm_provider);
    if (rc == SR_OK)
        rc = read_generation(dir, &g0, err);
    if (rc == SR_OK)
        rc = write_inblob(dir, rd, err);
    if (rc == SR_OK && hooks.after_inblob)
        hooks.after_inblob(dir, hooks.arg);
    char path[PATH_CAP];
    (void)snprintf(path, sizeof(path), "%s/outblob", dir);
    if (rc == SR_OK)
        rc = read_attr(path, SR_ATTEST_MAX_QUOTE, &q->bytes, &q->len, err);
    if (rc == SR_OK && q->len == 0)
        rc = sr_err_set(err, SR_EINVAL, "'%s' is empty: the kernel returned no quote", path);
    if (rc == SR_OK)
        rc = read_generation(dir, &g1, err);
    if (rc == SR_OK && g1 != g0 + 1)
        rc = sr_err_set(err, SR_EINVAL,
                        "configfs-tsm 'generation' in '%s' went from %lld to %lld around one "
                        "write: another process wrote to this report; try again",
                        dir, (long long)g0, (long long)g1);
    return rc;
}

static sr_status
tdx_quote(const char *root, const uint8_t rd[SR_REPORT_DATA_LEN], sr_attest_quote *q, sr_err *err)
{
    struct stat sb;
    if (stat(root, &sb) != 0)
        return sr_err_set(err, errno == ENOENT ? SR_ENOTFOUND : SR_EIO,
                          "attestation 'tdx' needs the configfs-tsm report interface at '%s', "
                          "which is not usable: %s (run inside a TDX guest with Linux >= 6.7 "
                          "and configfs mounted, or choose --attestation none)",
                          root, sr_errno_text(errno));
    if (!S_ISDIR(sb.st_mode))
        return sr_err_set(err, SR_EINVAL, "configfs-tsm report root '%s' is not a directory", root);
    uint8_t rnd[6];
    char rnd_hex[13];
    char dir[PATH_CAP];
    randombytes_buf(rnd, sizeof(rnd));
    sr_hex_encode(rnd, sizeof(rnd), rnd_hex);
    int n = snprintf(dir, sizeof(dir), "%s/sealrun-%ld-%s", root, (long)getpid(), rnd_hex);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return sr_err_set(err, SR_EINVAL, "configfs-tsm report root '%.200s' is too long", root);
    if (mkdir(dir, 0700) != 0)
        return sr_err_set(err, SR_EIO, "cannot create report directory '%s': %s", dir,
                          sr_errno_text(errno));
    if (hooks.after_mkdir)
        hooks.after_mkdir(dir, hooks.arg);
    sr_status rc = tdx_request(dir, rd, q, err);
    if (hooks.before_rmdir)
        hooks.before_rmdir(dir, hooks.arg);
    if (rmdir(dir) != 0)
        sr_log(SR_LOG_WARN, "attest", "cannot remove report directory '%s': %s", dir,
               sr_errno_text(errno));
    return rc;
}

sr_status
sr_attest_quote_new(const struct sr_attest_config *cfg, const uint8_t pk[32],
                    const uint8_t measurement[32], sr_attest_quote **out, sr_err *err)
{
    sr_attest_quote *q = calloc(1, sizeof(*q));
    if (!q)
        return sr_err_set(err, SR_ENOMEM, "out of memory taking a quote");
    q->provider = cfg ? cfg->provider : SR_ATTEST_NONE;
    if (q->provider == SR_ATTEST_NONE) {
        *out = q;
        return SR_OK;
    }
    if (q->provider != SR_ATTEST_TDX) {
        free(q);
        return sr_err_set(err, SR_EINVAL, "unknown attestation provider %d", (int)cfg->provider);
    }
    uint8_t rd[SR_REPORT_DATA_LEN];
    sr_attest_report_data(pk, measurement, rd);
    const char *root = cfg->tsm_root ? cfg->tsm_root : SR_ATTEST_TSM_ROOT;
    sr_status rc = tdx_quote(root, rd, q, err);
    if (rc == SR_OK) {
        q->b64 = sr_base64_encode(q->bytes, q->len);
        if (!q->b64)
            rc = sr_err_set(err, SR_ENOMEM, "out of memory encoding the quote");
    }
    if (rc != SR_OK) {
        sr_attest_quote_free(q);
        return sr_err_wrap(err, "taking a TDX quote");
    }
    *out = q;
    return SR_OK;
}

void
sr_attest_quote_free(sr_attest_quote *q)
{
    if (!q)
        return;
    free(q->bytes);
    free(q->b64);
    free(q);
}

enum sr_attest_provider
sr_attest_quote_provider(const sr_attest_quote *q)
{
    return q->provider;
}

const uint8_t *
sr_attest_quote_bytes(const sr_attest_quote *q, size_t *len)
{
    *len = q->len;
    return q->bytes;
}

const char *
sr_attest_quote_base64(const sr_attest_quote *q)
{
    return q->b64;
}

const char *
sr_attest_quote_tsm_provider(const sr_attest_quote *q)
{
    return q->tsm_provider;
}

static json_t *
hex_json(const uint8_t *p, size_t len)
{
    char hex[2 * SR_REPORT_DATA_LEN + 1];
    sr_hex_encode(p, len, hex);
    return json_string(hex);
}

sr_status
sr_attest_document(const sr_attest_quote *q, const uint8_t pk[32], const uint8_t measurement[32],
                   const uint8_t *exe_sha256, const json_t *config, json_t **out, sr_err *err)
{
    uint8_t rd[SR_REPORT_DATA_LEN];
    sr_attest_report_data(pk, measurement, rd);
    bool hw = q && q->provider == SR_ATTEST_TDX;
    json_t *doc = json_pack(
        "{s:o, s:o, s:o, s:s, s:o, s:o, s:s}", "worker_public_key", hex_json(pk, 32), "measurement",
        hex_json(measurement, 32), "report_data", hex_json(rd, sizeof(rd)), "quote_type",
        sr_attest_provider_name(hw ? SR_ATTEST_TDX : SR_ATTEST_NONE), "quote",
        hw ? json_string(q->b64) : json_null(), "tsm_provider",
        hw ? json_string(q->tsm_provider) : json_null(), "note",
        hw ? "Intel TDX quote from configfs-tsm; its report_data is "
             "SHA-512(worker_public_key || measurement)"
           : "software only: no hardware quote vouches for this key; trust in it rests on the "
             "operator");
    if (doc && exe_sha256)
        json_object_set_new(doc, "exe_sha256", hex_json(exe_sha256, 32));
    if (doc && config)
        json_object_set_new(doc, "config", json_deep_copy(config));
    if (!doc)
        return sr_err_set(err, SR_ENOMEM, "out of memory building the attestation document");
    *out = doc;
    return SR_OK;
}

sr_status
sr_attest_tdx_check_binding(const uint8_t *quote, size_t len, const uint8_t pk[32],
                            const uint8_t measurement[32], sr_err *err)
{
    if (len < 2)
        return sr_err_set(err, SR_EINVAL, "TDX quote is %zu bytes; too short for a header", len);
    unsigned version = (unsigned)quote[0] | (unsigned)quote[1] << 8;
    size_t off;
    if (version == 4)
        off = TDX_HEADER_LEN + TDX_REPORT_DATA_OFF;
    else if (version == 5)
        off = TDX_HEADER_LEN + TDX_V5_DESCRIPTOR_LEN + TDX_REPORT_DATA_OFF;
    else
        return sr_err_set(err, SR_EINVAL, "TDX quote has version %u; expected 4 or 5", version);
    if (len < off + SR_REPORT_DATA_LEN)
        return sr_err_set(err, SR_EINVAL,
                          "TDX quote (version %u) is %zu bytes; report_data needs %zu", version,
                          len, off + SR_REPORT_DATA_LEN);
    uint8_t rd[SR_REPORT_DATA_LEN];
    sr_attest_report_data(pk, measurement, rd);
    if (memcmp(quote + off, rd, sizeof(rd)) != 0)
        return sr_err_set(err, SR_EINVAL,
                          "TDX quote's report_data is not SHA-512(worker_public_key || "
                          "measurement): the quote was taken for another key or measurement");
    return SR_OK;
}
