/* SPDX-License-Identifier: MIT */
/*
 * sr_native.h - the native tier's compiler: a module with fuel in it
 * (sr_wasm_fuel_instrument) through Debian's wasm2c and the system C compiler,
 * each run as a sandboxed process, into a shared object kept in a cache of
 * bounded total size (docs/wasm.md, "The native tier's compiler").
 *
 * Each tool runs in a process of its own, started with fork + execve from the
 * calling thread: a new network namespace (no network; creating it is required,
 * the compile fails otherwise), its own temporary directory as working
 * directory and only file it may write, RLIMIT_CPU, RLIMIT_AS and RLIMIT_FSIZE
 * caps, no core dumps, no new privileges, a session of its own (the wall clock
 * kills the whole group), stdin from /dev/null and stderr kept up to 4 KiB for
 * the error message; as root it runs as nobody (65534). Only the module's
 * bytes, already validated by the caller, reach wasm2c; only what wasm2c wrote
 * reaches the compiler.
 *
 * One thread at a time uses a sr_native; processes of the same cache
 * directory may share it (entries are written to a temporary name and
 * renamed).
 */
#ifndef SR_NATIVE_H
#define SR_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sealrun/sr_err.h"

typedef struct sr_native sr_native;

/* Bumped whenever the code the tier generates changes meaning (the fuel
 * rewrite, the runtime glue, the compiler flags): part of every cache key. */
#define SR_NATIVE_TIER_VERSION 3

#define SR_NATIVE_DEFAULT_CACHE (256u << 20) /* bytes of cached objects */
#define SR_NATIVE_DEFAULT_TIMEOUT_MS 60000u  /* wasm2c + the compiler, wall clock */
#define SR_NATIVE_DEFAULT_MEM (2ull << 30)   /* RLIMIT_AS of each tool */
#define SR_NATIVE_DEFAULT_FILE (256u << 20)  /* RLIMIT_FSIZE: the C, the object */

/* A file of sealrun's own written next to what wasm2c made ("m.c", "m.h"),
 * such as the native tier's runtime glue (sr_wasm_native_glue). Names are
 * plain file names; a name ending in ".c" is compiled and linked in. */
struct sr_native_file {
    const char *name;
    const char *text;
    size_t len;
};

#define SR_NATIVE_MAX_FILES 8u

struct sr_native_config {
    const char *cache_dir;    /* required; created (0700) if missing */
    uint64_t cache_max_bytes; /* total of the cached objects; 0 = SR_NATIVE_DEFAULT_CACHE */
    uint32_t timeout_ms;      /* one compilation, both tools; 0 = the default */
    uint64_t mem_bytes;       /* 0 = SR_NATIVE_DEFAULT_MEM */
    uint64_t file_bytes;      /* 0 = SR_NATIVE_DEFAULT_FILE; also the largest object read */
    const char *opt_level;    /* "-O3" (NULL) or "-O0", "-O1", "-O2", "-Os" */
    const char *wasm2c;       /* NULL = /usr/bin/wasm2c */
    const char *cc;           /* NULL = /usr/bin/cc */
    /* up to SR_NATIVE_MAX_FILES, copied; their SHA-256 is part of the identity */
    const struct sr_native_file *files;
    size_t nfiles;
};

/* Checks the tools (runs each with --version, which also names them in the
 * identity), creates the cache directory. Copies cfg's strings. SR_EINVAL for
 * a bad option (named), SR_ENOTFOUND when a tool is missing, SR_EIO, SR_ENOMEM. */
sr_status sr_native_new(const struct sr_native_config *cfg, sr_native **out, sr_err *err);

/* NULL is a no-op. The cache stays on disk. */
void sr_native_free(sr_native *n);

/* "sealrun-native/3 wasm2c 1.0.32 cc 12.2.0 -O2 glue 1a2b3c4d5e6f7a8b": what the
 * cache keys name (the last word: the files' hash, when there are files).
 * Borrowed from n. */
const char *sr_native_identity(const sr_native *n);

/* The shared object for wasm[0..len) (a validated module, normally one made by
 * sr_wasm_fuel_instrument), from the cache or compiled now and then cached
 * (evicting the least recently used entries past cache_max_bytes; an object
 * larger than that is returned but not kept). On SR_OK *so (malloc'd,
 * *so_len bytes) is the caller's, and *hit says whether it came from the
 * cache. SR_ELIMIT when a tool ran past the time, memory or file cap (the
 * message says which and the cap), SR_EINVAL when a tool refused the module
 * (its first line of stderr in the message), SR_EIO, SR_ENOMEM. */
sr_status sr_native_get(sr_native *n, const uint8_t *wasm, size_t len, uint8_t **so, size_t *so_len,
                        bool *hit, sr_err *err);

/* sr_native_get() without compiling: SR_OK with *so (malloc'd, the
 * caller's) when the object for wasm[0..len) is in the cache (its use is
 * touched), SR_ENOTFOUND when it is not there or cannot be read. */
sr_status sr_native_lookup(sr_native *n, const uint8_t *wasm, size_t len, uint8_t **so,
                           size_t *so_len, sr_err *err);

/* Bytes of objects in the cache directory now (scans it). */
uint64_t sr_native_cache_bytes(const sr_native *n);

#endif /* SR_NATIVE_H */
