/* SPDX-License-Identifier: MIT
 *
 * bench_store.c - durable insert rate of the SQLite store.
 *
 * Each run inserts ROWS job rows of realistic size into a fresh database
 * (WAL, synchronous=FULL) from T threads, every insert acknowledged only
 * after its commit, and prints rows/s and how many commits carried them.
 * "store" goes through sr_store_job_insert (group commit, and the request
 * and result sealed at rest as sealrund does); "baseline" is raw SQLite on
 * one connection behind a mutex, one transaction per insert, in clear,
 * which is what the store would do without group commit.
 *
 * usage: bench_store [--rows N] [--dir DIR]   (defaults: 4000 rows, /tmp)
 */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"
#include "store_int.h"

static const char request_json[] =
    "{\"runtime\":\"js\",\"script\":\"export function main(input){return {sum: input.a + "
    "input.b};}\",\"input\":{\"a\":1,\"b\":2},\"timeout\":30,\"memory_mb\":128}";
static const char result_json[] =
    "{\"status\":\"completed\",\"output\":{\"sum\":3},\"logs\":[],\"gas_used\":412,"
    "\"output_hash\":\"0e8b7b5c7f8a0f2f0b6d2f6f62c3f3a0a1d36a6e0e4b7a9b2c8f5d1e3a7b9c0d\","
    "\"signature\":\"5d1e3a7b9c0d0e8b7b5c7f8a0f2f0b6d2f6f62c3f3a0a1d36a6e0e4b7a9b2c8f\"}";

struct run {
    const char *path;
    sr_store *st;         /* store mode */
    sqlite3 *db;          /* baseline mode */
    sqlite3_stmt *ins;    /* baseline: prepared insert */
    pthread_mutex_t lock; /* baseline: one connection, one writer */
    unsigned per_thread;
    unsigned failures;
};

struct worker {
    struct run *run;
    unsigned base;
};

static void
make_row(unsigned n, struct sr_job_row *r)
{
    memset(r, 0, sizeof(*r));
    (void)snprintf(r->id, sizeof(r->id), "%032x", n);
    r->owner = "bench";
    r->state = SR_JOB_COMPLETED;
    r->runtime = "js";
    r->request_json = (char *)(uintptr_t)request_json;
    r->result_json = (char *)(uintptr_t)result_json;
    r->created_at_ms = sr_now_ms();
    r->expires_at_ms = r->created_at_ms + 86400000;
}

static void *
store_worker(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < w->run->per_thread; i++) {
        struct sr_job_row r;
        make_row(w->base + i, &r);
        sr_err err = {0};
        if (sr_store_job_insert(w->run->st, &r, &err) != SR_OK) {
            fprintf(stderr, "bench_store: error: %s\n", err.msg);
            __atomic_add_fetch(&w->run->failures, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static int
baseline_insert(struct run *run, const struct sr_job_row *r)
{
    sqlite3_stmt *s = run->ins;
    int rc = sqlite3_exec(run->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, "completed", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->runtime, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->request_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->result_json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, r->created_at_ms);
    sqlite3_bind_int64(s, 8, r->expires_at_ms);
    if (rc == SQLITE_OK && sqlite3_step(s) != SQLITE_DONE)
        rc = SQLITE_ERROR;
    sqlite3_reset(s);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(run->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

static void *
baseline_worker(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < w->run->per_thread; i++) {
        struct sr_job_row r;
        make_row(w->base + i, &r);
        pthread_mutex_lock(&w->run->lock);
        int rc = baseline_insert(w->run, &r);
        pthread_mutex_unlock(&w->run->lock);
        if (rc != SQLITE_OK)
            __atomic_add_fetch(&w->run->failures, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static int
baseline_open(struct run *run)
{
    /* the store creates the schema; the baseline then writes through its own connection */
    if (sr_store_open_sqlite(run->path, &run->st, NULL) != SR_OK)
        return -1;
    sr_store_close(run->st);
    run->st = NULL;
    if (sqlite3_open(run->path, &run->db) != SQLITE_OK)
        return -1;
    sqlite3_exec(run->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL);
    return sqlite3_prepare_v2(run->db,
                              "INSERT INTO jobs (id, owner, state, runtime, request_json, "
                              "result_json, created_at, expires_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                              -1, &run->ins, NULL) == SQLITE_OK
               ? 0
               : -1;
}

/* The store as sealrund opens it: with keys (fixed bytes: a benchmark). */
static int
store_open(struct run *run)
{
    uint8_t k[32];
    memset(k, 0x5a, sizeof(k));
    sr_keys *keys = NULL;
    if (sr_keys_new(k, sizeof(k), k, sizeof(k), &keys, NULL) != SR_OK)
        return -1;
    sr_status rc = sr_store_open_sqlite_keyed(run->path, keys, &run->st, NULL);
    sr_keys_free(keys);
    return rc == SR_OK ? 0 : -1;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
bench(const char *dir, bool baseline, unsigned threads, unsigned rows)
{
    char tmp[512], path[600];
    (void)snprintf(tmp, sizeof(tmp), "%s/bench_store.XXXXXX", dir);
    if (!mkdtemp(tmp)) {
        perror("bench_store: mkdtemp");
        return -1;
    }
    (void)snprintf(path, sizeof(path), "%s/bench.db", tmp);
    struct run run = {.path = path, .per_thread = rows / threads};
    pthread_mutex_init(&run.lock, NULL);
    int rc = baseline ? baseline_open(&run) : store_open(&run);
    if (rc != 0) {
        fprintf(stderr, "bench_store: error: cannot open '%s'\n", path);
        return -1;
    }
    pthread_t t[64];
    struct worker w[64];
    int64_t t0 = sr_mono_us();
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (struct worker){.run = &run, .base = i * 1000000u};
        pthread_create(&t[i], NULL, baseline ? baseline_worker : store_worker, &w[i]);
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    int64_t us = sr_mono_us() - t0;
    unsigned n = run.per_thread * threads;
    uint64_t commits = n, writes = n;
    if (!baseline)
        sr_store__sqlite_stats(run.st, &commits, &writes);
    printf("%-8s threads=%-2u rows=%-6u %8.0f rows/s  %6.1f us/row  commits=%-6llu "
           "rows/commit=%.2f  failures=%u\n",
           baseline ? "baseline" : "store", threads, n, n * 1e6 / (double)us, (double)us / n,
           (unsigned long long)commits, commits ? (double)writes / (double)commits : 0.0,
           run.failures);
    fflush(stdout);
    sqlite3_finalize(run.ins);
    sqlite3_close(run.db);
    sr_store_close(run.st);
    pthread_mutex_destroy(&run.lock);
    (void)nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return run.failures ? -1 : 0;
}

int
main(int argc, char **argv)
{
    const char *dir = "/tmp";
    int64_t rows = 4000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
            sr_err err = {0};
            if (sr_parse_i64(argv[++i], 64, 10000000, "--rows", &rows, &err) != SR_OK) {
                fprintf(stderr, "bench_store: error: %s\n", err.msg);
                return 2;
            }
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_store [--rows N] [--dir DIR]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    static const unsigned threads[] = {1, 4, 16};
    int failed = 0;
    for (size_t i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
        failed |= bench(dir, false, threads[i], (unsigned)rows);
    for (size_t i = 0; i < 2; i++)
        failed |= bench(dir, true, threads[i], (unsigned)rows);
    return failed ? 1 : 0;
}
