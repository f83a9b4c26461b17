/* SPDX-License-Identifier: MIT
 *
 * keys.c - the two master keys (compute, secrets) and their purpose subkeys.
 *
 * Each master comes from, in order: its environment variable, its key file
 * under DATA_DIR/keys/, or (dev mode only) a new random key written there.
 * Text is hex when it is all hex digits of even length, else base64. Key
 * bytes only ever live in sodium_malloc'd memory (read-only once loaded) or
 * in temporaries that are wiped; no message names a key's value.
 *
 * Subkeys are BLAKE2b keyed with the master over the purpose label. BLAKE2b
 * takes at most 64 key bytes, so a longer master is first compressed to 64
 * bytes with BLAKE2b-512 over "sealrun/master-key/v1" 0x00 master; that
 * compressed value is what struct sr_keys holds.
 */
#include "sealrun/sr_crypto.h"

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

#define KEY_MIN_BYTES 32
#define KEY_MAX_BYTES 1024 /* decoded master key; longer is surely a mistake */
#define KEY_TEXT_MAX 4096  /* bytes of a key file or variable we read */
#define KEY_DEV_BYTES 32   /* random bytes of a key made by --dev */
#define COMPRESS_LABEL "sealrun/master-key/v1"

struct sr_keys {
    uint8_t *compute; /* sodium_malloc, read-only; 32..64 bytes (compressed if longer) */
    size_t compute_len;
    uint8_t *secrets; /* same for the secrets master; NULL on a coordinator with a keystore */
    size_t secrets_len;
    /* without the secrets master: the subkeys of it this process was given
     * (a coordinator's storage subkeys, from its keystore) */
    struct {
        char label[48];
        uint8_t *key; /* sodium_malloc, 32 bytes */
    } sub[SR_KEYS_MAX_SUBKEYS];
    size_t nsub;
};

struct key_spec {
    const char *env;  /* environment variable */
    const char *file; /* file name under DATA_DIR/keys/ */
    const char *name; /* for messages */
};

static const struct key_spec key_specs[2] = {
    {"COMPUTE_MASTER_KEY", "compute.key", "compute"},
    {"SECRETS_MASTER_KEY", "secrets.key", "secrets"},
};

sr_status
sr_crypto_init(sr_err *err)
{
    if (sodium_init() < 0)
        return sr_err_set(err, SR_EINTERNAL, "cannot initialise libsodium");
    return SR_OK;
}

/* Copies raw[0..len) (compressing it past 64 bytes) into new protected memory. */
static sr_status
key_store(const uint8_t *raw, size_t len, const char *what, uint8_t **out, size_t *out_len,
          sr_err *err)
{
    if (len < KEY_MIN_BYTES || len > KEY_MAX_BYTES)
        return sr_err_set(err, SR_EINVAL, "%s must decode to %d..%d bytes, got %zu", what,
                          KEY_MIN_BYTES, KEY_MAX_BYTES, len);
    size_t n = len > crypto_generichash_KEYBYTES_MAX ? crypto_generichash_KEYBYTES_MAX : len;
    uint8_t *key = sodium_malloc(n);
    if (!key)
        return sr_err_set(err, SR_ENOMEM, "out of memory storing the %s", what);
    if (n == len) {
        memcpy(key, raw, len);
    } else {
        static const uint8_t label[] = COMPRESS_LABEL; /* hashed with its NUL */
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, n);
        crypto_generichash_update(&st, label, sizeof(label));
        crypto_generichash_update(&st, raw, len);
        crypto_generichash_final(&st, key, n);
        sodium_memzero(&st, sizeof(st));
    }
    (void)sodium_mprotect_readonly(key); /* best effort: not every platform can */
    *out = key;
    *out_len = n;
    return SR_OK;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_hex_text(const char *s, size_t len)
{
    if (len == 0 || len % 2 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Decodes key text (hex, else base64; surrounding whitespace ignored). 'what'
 * names the source in messages, never the value. */
static sr_status
key_decode(const char *text, size_t len, const char *what, uint8_t **out, size_t *out_len,
           sr_err *err)
{
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    if (len == 0)
        return sr_err_set(err, SR_EINVAL, "%s is empty: expected hex or base64 of >= %d bytes",
                          what, KEY_MIN_BYTES);
    if (len > KEY_TEXT_MAX)
        return sr_err_set(err, SR_EINVAL, "%s is too long: %zu characters, at most %d", what, len,
                          KEY_TEXT_MAX);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    sr_err sub = {0};
    sr_status rc;
    if (is_hex_text(text, len)) {
        raw_len = len / 2;
        raw = sodium_malloc(raw_len);
        if (!raw)
            return sr_err_set(err, SR_ENOMEM, "out of memory decoding %s", what);
        rc = sr_hex_decode(text, len, raw, raw_len, &sub);
    } else {
        uint8_t *tmp = NULL;
        rc = sr_base64_decode(text, len, &tmp, &raw_len, &sub);
        if (rc == SR_OK) {
            raw = sodium_malloc(raw_len ? raw_len : 1);
            if (raw)
                memcpy(raw, tmp, raw_len);
            sodium_memzero(tmp, raw_len);
            free(tmp);
            if (!raw)
                return sr_err_set(err, SR_ENOMEM, "out of memory decoding %s", what);
        }
    }
    if (rc != SR_OK) {
        sodium_free(raw);
        return sr_err_set(err, SR_EINVAL, "%s is neither hex nor base64 (%s)", what, sub.msg);
    }
    rc = key_store(raw, raw_len, what, out, out_len, err);
    sodium_free(raw);
    return rc;
}

static void
key_path(const char *data_dir, const char *file, char *out, size_t cap)
{
    if (file)
        (void)snprintf(out, cap, "%s/keys/%s", data_dir, file);
    else
        (void)snprintf(out, cap, "%s/keys", data_dir);
}

/* Reads a key file. *found is false (and SR_OK) when the file does not exist. */
static sr_status
key_read_file(const char *path, bool *found, uint8_t **out, size_t *out_len, sr_err *err)
{
    char what[600];
    *found = false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return SR_OK;
        return sr_err_set(err, SR_EIO, "cannot open key file '%s': %s", path, sr_errno_text(errno));
    }
    *found = true;
    struct stat sb;
    sr_status rc = SR_OK;
    char *text = NULL;
    if (fstat(fd, &sb) != 0) {
        rc = sr_err_set(err, SR_EIO, "cannot stat key file '%s': %s", path, sr_errno_text(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = sr_err_set(err, SR_EINVAL, "key file '%s' is not a regular file", path);
    } else if ((sb.st_mode & 077) != 0) {
        rc = sr_err_set(err, SR_EINVAL,
                        "key file '%s' has mode %04o: it must not be accessible by group or "
                        "others (chmod 600 '%s')",
                        path, (unsigned)(sb.st_mode & 07777), path);
    } else if (sb.st_size > KEY_TEXT_MAX) {
        rc = sr_err_set(err, SR_EINVAL, "key file '%s' is too large: %lld bytes, at most %d", path,
                        (long long)sb.st_size, KEY_TEXT_MAX);
    }
    if (rc != SR_OK)
        goto out_close;
    text = sodium_malloc(KEY_TEXT_MAX + 1);
    if (!text) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory reading key file '%s'", path);
        goto out_close;
    }
    ssize_t n = read(fd, text, KEY_TEXT_MAX);
    if (n < 0) {
        rc = sr_err_set(err, SR_EIO, "cannot read key file '%s': %s", path, sr_errno_text(errno));
        goto out_close;
    }
    (void)snprintf(what, sizeof(what), "key file '%s'", path);
    rc = key_decode(text, (size_t)n, what, out, out_len, err);
out_close:
    sodium_free(text);
    (void)close(fd);
    return rc;
}

static sr_status
mkdir_private(const char *path, sr_err *err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return sr_err_set(err, SR_EIO, "cannot create directory '%s': %s", path,
                          sr_errno_text(errno));
    return SR_OK;
}

/* Creates a new random key file (O_EXCL). *raced is set when another process
 * created it first; the caller then reads that one. */
static sr_status
key_create_file(const char *data_dir, const char *path, bool *raced, sr_err *err)
{
    char dir[4096];
    *raced = false;
    sr_status rc = mkdir_private(data_dir, err);
    if (rc != SR_OK)
        return rc;
    key_path(data_dir, NULL, dir, sizeof(dir));
    rc = mkdir_private(dir, err);
    if (rc != SR_OK)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        *raced = true;
        return SR_OK;
    }
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot create key file '%s': %s", path,
                          sr_errno_text(errno));
    char *hex = sodium_malloc(2 * KEY_DEV_BYTES + 2);
    if (!hex) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory creating key file '%s'", path);
    } else {
        uint8_t raw[KEY_DEV_BYTES];
        randombytes_buf(raw, sizeof(raw));
        sr_hex_encode(raw, sizeof(raw), hex);
        sodium_memzero(raw, sizeof(raw));
        hex[(size_t)2 * KEY_DEV_BYTES] = '\n';
        char what[4200];
        (void)snprintf(what, sizeof(what), "key file '%s'", path);
        if (fchmod(fd, 0600) != 0) /* exact mode whatever the umask */
            rc = sr_err_set(err, SR_EIO, "cannot chmod key file '%s': %s", path,
                            sr_errno_text(errno));
        else
            rc = sr_write_all(fd, hex, 2 * KEY_DEV_BYTES + 1, true, what, err);
    }
    sodium_free(hex);
    (void)close(fd);
    if (rc != SR_OK) {
        (void)unlink(path);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* make the new directory entry durable too */
        (void)fsync(dfd);
        (void)close(dfd);
    }
    sr_log(SR_LOG_WARN, "crypto",
           "created a new dev master key '%s': keep it, or every sealed value is lost; never "
           "use --dev keys in production",
           path);
    return SR_OK;
}

/* Loads one master key. *missing is set (SR_OK) when there is none at all. */
static sr_status
key_load_one(const struct key_spec *spec, const char *data_dir, bool dev, bool *created,
             bool *missing, uint8_t **out, size_t *out_len, sr_err *err)
{
    *missing = false;
    const char *env = getenv(spec->env); // NOLINT(concurrency-mt-unsafe): called at start
    if (env)
        return key_decode(env, strlen(env), spec->env, out, out_len, err);
    if (!data_dir) {
        *missing = true;
        return SR_OK;
    }
    char path[4096];
    bool found = false;
    key_path(data_dir, spec->file, path, sizeof(path));
    sr_status rc = key_read_file(path, &found, out, out_len, err);
    if (rc != SR_OK || found)
        return rc;
    if (!dev) {
        *missing = true;
        return SR_OK;
    }
    bool raced = false;
    rc = key_create_file(data_dir, path, &raced, err);
    if (rc != SR_OK)
        return rc;
    if (!raced)
        *created = true;
    rc = key_read_file(path, &found, out, out_len, err);
    if (rc == SR_OK && !found)
        return sr_err_set(err, SR_EIO, "key file '%s' vanished right after it was created", path);
    return rc;
}

static sr_status
keys_missing(const char *data_dir, const bool missing[2], sr_err *err)
{
    char msg[SR_ERR_MSG_MAX];
    size_t off = 0;
    off += (size_t)snprintf(msg, sizeof(msg), "missing master keys:");
    for (size_t i = 0; i < 2 && off < sizeof(msg); i++) {
        if (!missing[i])
            continue;
        char path[300];
        if (data_dir)
            (void)snprintf(path, sizeof(path), " or create '%s/keys/%s'", data_dir,
                           key_specs[i].file);
        else
            path[0] = '\0';
        off += (size_t)snprintf(msg + off, sizeof(msg) - off,
                                " set %s (hex or base64, >= %d bytes)%s;", key_specs[i].env,
                                KEY_MIN_BYTES, path);
    }
    if (off < sizeof(msg))
        (void)snprintf(msg + off, sizeof(msg) - off, " or start with --dev to create them");
    return sr_err_set(err, SR_EINVAL, "%s", msg);
}

sr_status
sr_keys_load(const char *data_dir, bool dev, bool *created, sr_keys **out, sr_err *err)
{
    return sr_keys_load_only(data_dir, dev, SR_KEYS_COMPUTE | SR_KEYS_SECRETS, created, out, err);
}

sr_status
sr_keys_load_only(const char *data_dir, bool dev, unsigned which, bool *created, sr_keys **out,
                  sr_err *err)
{
    if (sodium_init() < 0)
        return sr_err_set(err, SR_EINTERNAL, "cannot initialise libsodium");
    sr_keys *keys = calloc(1, sizeof(*keys));
    if (!keys)
        return sr_err_set(err, SR_ENOMEM, "out of memory loading keys");
    bool made = false;
    bool missing[2] = {false, false};
    uint8_t **bufs[2] = {&keys->compute, &keys->secrets};
    size_t *lens[2] = {&keys->compute_len, &keys->secrets_len};
    for (size_t i = 0; i < 2; i++) {
        if (!(which & (1u << i)))
            continue;
        sr_status rc =
            key_load_one(&key_specs[i], data_dir, dev, &made, &missing[i], bufs[i], lens[i], err);
        if (rc != SR_OK) {
            sr_keys_free(keys);
            return sr_err_wrap(err, "loading the %s master key", key_specs[i].name);
        }
    }
    if (missing[0] || missing[1]) {
        sr_keys_free(keys);
        return keys_missing(data_dir, missing, err);
    }
    if (created)
        *created = made;
    *out = keys;
    return SR_OK;
}

sr_status
sr_keys_new(const uint8_t *compute, size_t compute_len, const uint8_t *secrets, size_t secrets_len,
            sr_keys **out, sr_err *err)
{
    if (sodium_init() < 0)
        return sr_err_set(err, SR_EINTERNAL, "cannot initialise libsodium");
    sr_keys *keys = calloc(1, sizeof(*keys));
    if (!keys)
        return sr_err_set(err, SR_ENOMEM, "out of memory making keys");
    sr_status rc = key_store(compute, compute_len, "compute master key", &keys->compute,
                             &keys->compute_len, err);
    if (rc == SR_OK)
        rc = key_store(secrets, secrets_len, "secrets master key", &keys->secrets,
                       &keys->secrets_len, err);
    if (rc != SR_OK) {
        sr_keys_free(keys);
        return rc;
    }
    *out = keys;
    return SR_OK;
}

void
sr_keys_free(sr_keys *keys)
{
    if (!keys)
        return;
    sodium_free(keys->compute); /* sodium_free wipes, whatever the protection */
    sodium_free(keys->secrets);
    for (size_t i = 0; i < keys->nsub; i++)
        sodium_free(keys->sub[i].key);
    free(keys);
}

static void
derive(const uint8_t *master, size_t master_len, const char *label, uint8_t out[32])
{
    crypto_generichash(out, 32, (const uint8_t *)label, strlen(label), master, master_len);
}

void
sr_keys_derive_compute(const sr_keys *keys, const char *label, uint8_t out[32])
{
    derive(keys->compute, keys->compute_len, label, out);
}

void
sr_keys_derive_secrets(const sr_keys *keys, const char *label, uint8_t out[32])
{
    if (keys->secrets) {
        derive(keys->secrets, keys->secrets_len, label, out);
        return;
    }
    for (size_t i = 0; i < keys->nsub; i++) {
        if (strcmp(keys->sub[i].label, label) == 0) {
            memcpy(out, keys->sub[i].key, 32);
            return;
        }
    }
    /* a bug: this process was not given that subkey (sr_keys_has_secrets) */
    sr_log(SR_LOG_ERROR, "crypto", "subkey '%s' of the secrets master is not held here", label);
    abort();
}

bool
sr_keys_has_secrets(const sr_keys *keys)
{
    return keys && keys->secrets;
}

bool
sr_keys_has_secrets_subkey(const sr_keys *keys, const char *label)
{
    if (sr_keys_has_secrets(keys))
        return true;
    for (size_t i = 0; keys && i < keys->nsub; i++)
        if (strcmp(keys->sub[i].label, label) == 0)
            return true;
    return false;
}

sr_status
sr_keys_add_secrets_subkey(sr_keys *keys, const char *label, const uint8_t key[32], sr_err *err)
{
    if (keys->secrets)
        return sr_err_set(err, SR_ECONFLICT, "these keys hold the secrets master already");
    if (strlen(label) >= sizeof(keys->sub[0].label) || keys->nsub >= SR_KEYS_MAX_SUBKEYS)
        return sr_err_set(err, SR_ELIMIT, "at most %d subkeys of at most %zu bytes of label",
                          SR_KEYS_MAX_SUBKEYS, sizeof(keys->sub[0].label) - 1);
    uint8_t *k = sodium_malloc(32);
    if (!k)
        return sr_err_set(err, SR_ENOMEM, "out of memory for a subkey");
    memcpy(k, key, 32);
    (void)snprintf(keys->sub[keys->nsub].label, sizeof(keys->sub[0].label), "%s", label);
    keys->sub[keys->nsub++].key = k;
    return SR_OK;
}
