/* SPDX-License-Identifier: MIT
 *
 * cache.c - a remote worker's on-disk module cache (docs/workers.md
 * "Modules"): DATA_DIR/modules/<sha256>.wasm, bounded by bytes, least
 * recently used out (a file's mtime is its last use). Every read is checked
 * against its name's hash, so a file changed on disk is dropped and
 * fetched again, never run. Files are written to a temporary name and
 * renamed, so a crash never leaves half a module under a hash. One thread
 * at a time uses a cache.
 */
#include "worker_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define SUFFIX ".wasm"

sr_status
sr_worker__cache_open(struct sr_worker__cache *c, const char *data_dir, uint64_t max_bytes,
                      sr_err *err)
{
    int n = snprintf(c->dir, sizeof(c->dir), "%s/modules", data_dir);
    if (n < 0 || (size_t)n >= sizeof(c->dir))
        return sr_err_set(err, SR_EINVAL, "data directory path too long for the module cache");
    if (mkdir(c->dir, 0700) != 0 && errno != EEXIST)
        return sr_err_set(err, SR_EIO, "cannot create the module cache '%s': %s", c->dir,
                          strerror(errno));
    c->max_bytes = max_bytes;
    return SR_OK;
}

static void
path_of(const struct sr_worker__cache *c, const char *hash, char *out, size_t cap)
{
    (void)snprintf(out, cap, "%s/%.64s" SUFFIX, c->dir, hash);
}

/* Reads up to SR_MAX_MODULE bytes of 'path'. */
static sr_status
read_file(const char *path, uint8_t **out, size_t *len, sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT
                   ? SR_ENOTFOUND
                   : sr_err_set(err, SR_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    sr_status rc = SR_OK;
    uint8_t *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > SR_MAX_MODULE) {
        rc = SR_ENOTFOUND; /* not one of ours: dropped and fetched again */
        goto out;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        rc = sr_err_set(err, SR_ENOMEM, "out of memory reading a cached module");
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = sr_err_set(err, SR_EIO, "cannot read '%s': %s", path,
                            r < 0 ? strerror(errno) : "short file");
            goto out;
        }
        got += (size_t)r;
    }
    *out = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    (void)close(fd);
    return rc;
}

sr_status
sr_worker__cache_get(struct sr_worker__cache *c, const char *hash, uint8_t **out, size_t *len,
                     sr_err *err)
{
    char path[sizeof(c->dir) + 80];
    path_of(c, hash, path, sizeof(path));
    uint8_t *bytes = NULL;
    size_t n = 0;
    sr_status rc = read_file(path, &bytes, &n, err);
    if (rc != SR_OK) {
        if (rc == SR_ENOTFOUND)
            (void)unlink(path);
        return rc;
    }
    uint8_t d[32];
    char hex[SR_HASH_HEX_LEN + 1];
    sr_sha256(bytes, n, d);
    sr_hex_encode(d, sizeof(d), hex);
    if (strcmp(hex, hash) != 0) {
        sr_log(SR_LOG_WARN, "worker", "cached module '%s' does not hash to its name: dropped",
               path);
        free(bytes);
        (void)unlink(path);
        return SR_ENOTFOUND;
    }
    (void)utimensat(AT_FDCWD, path, NULL, 0); /* its last use: now */
    *out = bytes;
    *len = n;
    return SR_OK;
}

/* One cached file, for eviction. */
struct entry {
    char name[SR_HASH_HEX_LEN + sizeof(SUFFIX)];
    uint64_t size;
    struct timespec used;
};

static bool
older(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Removes the least recently used files until the cache fits its bound.
 * Linear in the cached files per removal; they are at most max_bytes of
 * modules. */
static void
evict(struct sr_worker__cache *c)
{
    for (;;) {
        DIR *d = opendir(c->dir);
        if (!d)
            return;
        struct entry oldest = {0};
        uint64_t total = 0;
        bool any = false;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) { /* NOLINT(concurrency-mt-unsafe): one thread */
            size_t nl = strlen(de->d_name);
            if (nl != SR_HASH_HEX_LEN + strlen(SUFFIX) ||
                strcmp(de->d_name + SR_HASH_HEX_LEN, SUFFIX) != 0)
                continue;
            struct stat st;
            if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            total += (uint64_t)st.st_size;
            if (!any || older(&st.st_mtim, &oldest.used)) {
                memcpy(oldest.name, de->d_name, nl + 1);
                oldest.size = (uint64_t)st.st_size;
                oldest.used = st.st_mtim;
                any = true;
            }
        }
        if (!any || total <= c->max_bytes) {
            (void)closedir(d);
            return;
        }
        (void)unlinkat(dirfd(d), oldest.name, 0);
        (void)closedir(d);
        sr_log(SR_LOG_INFO, "worker",
               "module %.16s evicted from the cache (%llu bytes; bound %llu)", oldest.name,
               (unsigned long long)oldest.size, (unsigned long long)c->max_bytes);
    }
}

sr_status
sr_worker__cache_put(struct sr_worker__cache *c, const char *hash, const uint8_t *bytes, size_t len,
                     sr_err *err)
{
    char path[sizeof(c->dir) + 80], tmp[sizeof(c->dir) + 96];
    path_of(c, hash, path, sizeof(path));
    (void)snprintf(tmp, sizeof(tmp), "%s/.tmp-%.64s", c->dir, hash);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, bytes + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            (void)close(fd);
            (void)unlink(tmp);
            return sr_err_set(err, SR_EIO, "cannot write '%s': %s", tmp, strerror(e));
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        (void)unlink(tmp);
        return sr_err_set(err, SR_EIO, "cannot store '%s': %s", path, strerror(e));
    }
    evict(c);
    return SR_OK;
}
