/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_db.c - the SQLite backend's machinery: connections and their
 * statement caches, migrations, the reader pool and group commit (see
 * store_sqlite_int.h for the model).
 *
 * Durability: WAL with synchronous=FULL, so every commit fsyncs the WAL
 * before the caller is answered; an acknowledged write survives kill -9 and
 * power loss. NORMAL would survive kill -9 only. Group commit makes FULL
 * affordable: concurrent writers share one fsync.
 *
 * Sections: errors and statements; connections; migrations; open/close;
 * readers; group commit.
 */
#include "store_sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sealrun/sr_metrics.h"
#include "sealrun/sr_util.h"

struct sq_write {
    sq_write_fn fn;
    void *arg;
    sr_err *err; /* the caller's; may be NULL */
    sr_status rc;
    bool done; /* under wlock */
    struct sq_write *next;
};

/* --- errors and statements --- */

sr_status
sr_store__sq_fail(sqlite3 *db, int rc, sr_err *err, const char *fmt, ...)
{
    char what[SR_ERR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive, va_start above
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    sr_status st = SR_EIO;
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        st = SR_ECONFLICT;
    else if ((rc & 0xff) == SQLITE_CONSTRAINT)
        st = SR_EINVAL;
    else if ((rc & 0xff) == SQLITE_NOMEM)
        st = SR_ENOMEM;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return sr_err_set(err, st, "%s: %s", what, msg);
}

sr_status
sr_store__sq_stmt(struct sq_conn *c, enum sq_stmt id, sqlite3_stmt **out, sr_err *err)
{
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, sr_store__sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return sr_store__sq_fail(c->db, rc, err, "cannot prepare statement %d", (int)id);
    }
    *out = c->stmt[id];
    return SR_OK;
}

void
sr_store__sq_done(sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    (void)sqlite3_reset(stmt);
    (void)sqlite3_clear_bindings(stmt);
}

/* Runs a statement without parameters or rows (transaction control). */
static sr_status
exec_stmt(struct sq_conn *c, enum sq_stmt id, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, id, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int src = sqlite3_step(stmt);
    if (src != SQLITE_DONE && src != SQLITE_ROW)
        rc = sr_store__sq_fail(c->db, src, err, "cannot run '%s'", sr_store__sq_sql[id]);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
exec_sql(sqlite3 *db, const char *sql, const char *what, sr_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return SR_OK;
    sr_status st = sr_err_set(err, (rc & 0xff) == SQLITE_NOMEM ? SR_ENOMEM : SR_EIO, "%s: %s", what,
                              msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return st;
}

/* --- connections --- */

static sr_status
pragma_wal(sqlite3 *db, const char *path, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return sr_store__sq_fail(db, rc, err, "cannot switch database '%s' to WAL", path);
    }
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    bool ok = mode && strcmp(mode, "wal") == 0;
    sr_status st =
        ok ? SR_OK
           : sr_err_set(err, SR_EIO, "cannot switch database '%s' to WAL: journal mode stays '%s'",
                        path, mode ? mode : "?");
    sqlite3_finalize(stmt);
    return st;
}

/* Every statement's time, for GET /metrics (SQLITE_TRACE_PROFILE gives it in
 * nanoseconds when the statement ends). */
static int
on_profile(unsigned type, void *ctx, void *stmt, void *ns)
{
    (void)stmt;
    if (type == SQLITE_TRACE_PROFILE && ns)
        sr_metrics_store(ctx != NULL, *(const int64_t *)ns);
    return 0;
}

static sr_status
conn_open(struct sq_conn *c, const char *path, bool is_writer, sr_err *err)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
    memset(c, 0, sizeof(*c));
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sr_status st = sr_err_set(err, rc == SQLITE_NOMEM ? SR_ENOMEM : SR_EIO,
                                  "cannot open database '%s': %s", path,
                                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        c->db = NULL;
        return st;
    }
    (void)sqlite3_extended_result_codes(c->db, 1);
    (void)sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
    (void)sqlite3_trace_v2(c->db, SQLITE_TRACE_PROFILE, on_profile, is_writer ? c : NULL);
    sr_status st = SR_OK;
    if (is_writer) {
        st = pragma_wal(c->db, path, err);
        if (st == SR_OK) /* FULL: see the file comment */
            st = exec_sql(c->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
                          "cannot configure database", err);
    } else {
        st = exec_sql(c->db, "PRAGMA foreign_keys=ON; PRAGMA query_only=ON",
                      "cannot configure database", err);
    }
    if (st != SR_OK) {
        sqlite3_close(c->db);
        c->db = NULL;
    }
    return st;
}

static void
conn_close(struct sq_conn *c)
{
    if (!c->db)
        return;
    for (size_t i = 0; i < SQ__COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    (void)sqlite3_close(c->db);
    memset(c, 0, sizeof(*c));
}

/* --- migrations --- */

static sr_status
read_version(sqlite3 *db, int *out, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                                &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return sr_store__sq_fail(db, rc, err, "cannot read the schema version");
    }
    *out = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return SR_OK;
}

static sr_status
record_version(sqlite3 *db, const struct sr_store__migration *m, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)", -1, &stmt,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(stmt, 1, m->version);
        sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, sr_now_ms());
        rc = sqlite3_step(stmt);
    }
    sr_status st = SR_OK;
    if (rc != SQLITE_DONE)
        st = sr_store__sq_fail(db, rc, err, "cannot record schema version %d", m->version);
    sqlite3_finalize(stmt);
    return st;
}

/* Whether version v is recorded as applied. */
static sr_status
has_version(sqlite3 *db, int v, bool *yes, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version WHERE version = ?1", -1,
                                &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 1, v);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return sr_store__sq_fail(db, rc, err, "cannot read the schema version");
    }
    *yes = sqlite3_column_int(stmt, 0) > 0;
    sqlite3_finalize(stmt);
    return SR_OK;
}

/* Applies one migration in its own transaction, unless it is recorded (by
 * another process meanwhile: checked again under the write lock). */
static sr_status
apply_one(sqlite3 *db, const struct sr_store__migration *m, sr_err *err)
{
    sr_status rc = exec_sql(db, "BEGIN IMMEDIATE", "cannot begin migration", err);
    if (rc != SR_OK)
        return rc;
    bool done = false;
    rc = has_version(db, m->version, &done, err);
    if (rc == SR_OK && !done) {
        rc = exec_sql(db, m->sql, "migration failed", err);
        if (rc == SR_OK)
            rc = record_version(db, m, err);
    }
    if (rc == SR_OK)
        rc = exec_sql(db, "COMMIT", "cannot commit migration", err);
    if (rc != SR_OK) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return sr_err_wrap(err, "applying migration '%s'", m->name);
    }
    return SR_OK;
}

static sr_status
migrate(struct sq_store *s, sr_err *err)
{
    sqlite3 *db = s->writer.db;
    const size_t count = sr_store__migration_count;
    const int known = count ? sr_store__migrations[count - 1].version : 0;
    sr_status rc = exec_sql(db,
                            "CREATE TABLE IF NOT EXISTS schema_version ("
                            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                            "applied_at INTEGER NOT NULL)",
                            "cannot create table 'schema_version'", err);
    int cur = 0;
    if (rc == SR_OK)
        rc = read_version(db, &cur, err);
    if (rc != SR_OK)
        return rc;
    if (cur > known)
        return sr_err_set(err, SR_ECONFLICT,
                          "database '%s' has schema version %d, newer than the %d this sealrun "
                          "knows: upgrade sealrun",
                          s->path, cur, known);
    /* versions grow strictly (embed_sql.cmake); gaps are numbers reserved for
     * other features, so each version not yet recorded is applied, in order,
     * even one below the highest recorded (a feature that landed later) */
    for (size_t i = 0; i < count; i++) {
        bool done = false;
        rc = has_version(db, sr_store__migrations[i].version, &done, err);
        if (rc == SR_OK && !done) /* checked again under the write lock */
            rc = apply_one(db, &sr_store__migrations[i], err);
        if (rc != SR_OK)
            return rc;
    }
    return read_version(db, &s->version, err);
}

/* --- open / close --- */

/* Creates the file with mode 0600 before SQLite does (it would use 0644 and
 * give the same mode to -wal and -shm): jobs hold users' data. */
static sr_status
create_private(const char *path, sr_err *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open database '%s': %s", path, sr_errno_text(errno));
    (void)close(fd);
    return SR_OK;
}

static sr_status
sync_init(struct sq_store *s, sr_err *err)
{
    if (pthread_mutex_init(&s->wlock, NULL) != 0 || pthread_cond_init(&s->wdone, NULL) != 0 ||
        pthread_mutex_init(&s->rlock, NULL) != 0 || pthread_cond_init(&s->rfree, NULL) != 0)
        return sr_err_set(err, SR_ENOMEM, "cannot create the store's locks");
    return SR_OK;
}

sr_status
sr_store__sq_open(const char *path, const uint8_t *seal_key, struct sq_store **out, sr_err *err)
{
    struct sq_store *s = calloc(1, sizeof(*s));
    if (!s)
        return sr_err_set(err, SR_ENOMEM, "out of memory opening database '%s'", path);
    s->base.ops = &sr_store__sqlite_ops;
    s->path = strdup(path);
    sr_status rc = s->path ? sync_init(s, err)
                           : sr_err_set(err, SR_ENOMEM, "out of memory opening '%s'", path);
    if (rc == SR_OK)
        rc = create_private(path, err);
    if (rc == SR_OK)
        rc = conn_open(&s->writer, path, true, err);
    if (rc == SR_OK)
        rc = migrate(s, err);
    if (rc == SR_OK && seal_key) /* before any reader exists: nothing reads a legacy row */
        rc = sr_store__sq_seal_legacy(s, seal_key, err);
    for (size_t i = 0; rc == SR_OK && i < SQ_READERS; i++) {
        rc = conn_open(&s->readers[i], path, false, err);
        s->readers[i].next_free = s->free_readers;
        s->free_readers = &s->readers[i];
    }
    if (rc != SR_OK) {
        sr_store__sq_close(s);
        return rc;
    }
    *out = s;
    return SR_OK;
}

void
sr_store__sq_close(struct sq_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < SQ_READERS; i++)
        conn_close(&s->readers[i]);
    conn_close(&s->writer); /* last connection: checkpoints and removes the WAL */
    pthread_mutex_destroy(&s->wlock);
    pthread_cond_destroy(&s->wdone);
    pthread_mutex_destroy(&s->rlock);
    pthread_cond_destroy(&s->rfree);
    free(s->path);
    free(s);
}

/* --- readers --- */

struct sq_conn *
sr_store__sq_reader(struct sq_store *s)
{
    pthread_mutex_lock(&s->rlock);
    while (!s->free_readers)
        pthread_cond_wait(&s->rfree, &s->rlock);
    struct sq_conn *c = s->free_readers;
    s->free_readers = c->next_free;
    pthread_mutex_unlock(&s->rlock);
    return c;
}

void
sr_store__sq_reader_put(struct sq_store *s, struct sq_conn *c)
{
    pthread_mutex_lock(&s->rlock);
    c->next_free = s->free_readers;
    s->free_readers = c;
    pthread_cond_signal(&s->rfree);
    pthread_mutex_unlock(&s->rlock);
}

/* --- group commit --- */

/* The batch transaction is gone: every write that had succeeded, or had not
 * run yet (rc still SR_OK), fails with 'why'; a write that failed on its own
 * keeps its own error. */
static void
fail_batch(struct sq_write *batch, const sr_err *why)
{
    for (struct sq_write *w = batch; w; w = w->next)
        if (w->rc == SR_OK)
            w->rc = sr_err_set(w->err, why->status, "%s", why->msg);
}

/* Runs one write inside the batch transaction, in its own savepoint so a
 * failing write leaves the others intact. false: the transaction is gone. */
static bool
run_one(struct sq_conn *c, struct sq_write *w, sr_err *why)
{
    w->rc = exec_stmt(c, SQ_SAVEPOINT, w->err);
    if (w->rc == SR_OK)
        w->rc = w->fn(c, w->arg, w->err);
    if (sqlite3_get_autocommit(c->db)) { /* SQLite rolled the whole transaction back */
        (void)sr_err_set(why, SR_EIO, "write rolled back: %s", sqlite3_errmsg(c->db));
        return false;
    }
    if (w->rc != SR_OK)
        (void)exec_stmt(c, SQ_ROLLBACK_TO, NULL);
    (void)exec_stmt(c, SQ_RELEASE, NULL);
    return true;
}

/* The leader's work: one transaction, one commit. Returns the writes it
 * committed. No lock is held; only the leader touches the writer. */
static uint64_t
run_batch(struct sq_store *s, struct sq_write *batch)
{
    struct sq_conn *c = &s->writer;
    sr_err why = {0};
    for (struct sq_write *w = batch; w; w = w->next)
        w->rc = SR_OK;
    if (exec_stmt(c, SQ_BEGIN, &why) != SR_OK) {
        fail_batch(batch, &why);
        return 0;
    }
    uint64_t n = 0;
    for (struct sq_write *w = batch; w; w = w->next) {
        if (!run_one(c, w, &why)) {
            fail_batch(batch, &why);
            return 0;
        }
        n += w->rc == SR_OK;
    }
    if (exec_stmt(c, SQ_COMMIT, &why) != SR_OK) {
        (void)exec_stmt(c, SQ_ROLLBACK, NULL);
        fail_batch(batch, &why);
        return 0;
    }
    return n;
}

sr_status
sr_store__sq_write(struct sq_store *s, sq_write_fn fn, void *arg, sr_err *err)
{
    /* 'me' lives on this stack while queued: a leader unlinks it before it
     * sets me.done, and we only return after that. */
    struct sq_write me = {.fn = fn, .arg = arg, .err = err};
    pthread_mutex_lock(&s->wlock);
    if (s->tail)
        s->tail->next = &me;
    else
        // cppcheck-suppress autoVariables ; unlinked before this function returns
        s->head = &me;
    // cppcheck-suppress autoVariables ; unlinked before this function returns
    s->tail = &me;
    while (!me.done) {
        if (s->has_leader) {
            pthread_cond_wait(&s->wdone, &s->wlock);
            continue;
        }
        /* become the leader: take up to SQ_BATCH_MAX queued writes */
        s->has_leader = true;
        struct sq_write *batch = s->head;
        struct sq_write *last = batch;
        for (size_t i = 1; i < SQ_BATCH_MAX && last->next; i++)
            last = last->next;
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->wlock);

        uint64_t n = run_batch(s, batch);

        pthread_mutex_lock(&s->wlock);
        for (struct sq_write *w = batch; w; w = w->next)
            w->done = true;
        s->commits += n > 0;
        s->writes += n;
        s->has_leader = false;
        pthread_cond_broadcast(&s->wdone);
    }
    pthread_mutex_unlock(&s->wlock);
    return me.rc;
}
