/* SPDX-License-Identifier: MIT
 *
 * store_pg_db.c - the PostgreSQL backend's machinery: the bounded pool and
 * its reconnection with backoff, statements (prepared once per
 * connection), errors, transactions, advisory locks, column readers and
 * the migrations (see store_pg_int.h for the model).
 *
 * Durability: a write is acknowledged after its COMMIT returned, which
 * PostgreSQL answers once the commit record is flushed (synchronous_commit
 * on, the server default); an acknowledged write survives kill -9 of
 * sealrund and of the server.
 *
 * Sections: parameters; errors; connections; the pool; statements;
 * transactions; columns; migrations; open/close.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealrun/sr_metrics.h"
#include "sealrun/sr_util.h"

/* --- parameters --- */

static bool
arg_room(struct pg_args *a)
{
    return a->n < PG_MAX_ARGS; /* the statements use far fewer; sr_assert-like guard */
}

void
sr_store__pg_text(struct pg_args *a, const char *s)
{
    if (!arg_room(a))
        return;
    a->v[a->n] = s;
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

void
sr_store__pg_int(struct pg_args *a, int64_t v)
{
    if (!arg_room(a))
        return;
    (void)snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)v);
    a->v[a->n] = a->num[a->n];
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    a->n++;
}

void
sr_store__pg_ms(struct pg_args *a, int64_t ms)
{
    if (ms)
        sr_store__pg_int(a, ms);
    else
        sr_store__pg_text(a, NULL);
}

/* A non-NULL pointer for an empty blob (NULL would bind SQL NULL). */
static const char empty_blob[1];

void
sr_store__pg_blob(struct pg_args *a, const void *p, size_t len)
{
    if (!arg_room(a))
        return;
    a->v[a->n] = p ? (len ? (const char *)p : empty_blob) : NULL;
    a->len[a->n] = (int)len;
    a->fmt[a->n] = 1;
    a->n++;
}

/* --- errors --- */

/* The server's primary message only: DETAIL lines can quote row values. */
static void
primary_message(const PGresult *res, PGconn *db, char *out, size_t n)
{
    const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m)
        m = db ? PQerrorMessage(db) : "no connection";
    (void)snprintf(out, n, "%s", m && *m ? m : "unknown error");
    size_t len = strlen(out);
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
}

static sr_status
status_of(const char *state)
{
    if (!state)
        return SR_EIO;
    if (strcmp(state, "23505") == 0)
        return SR_ECONFLICT; /* unique_violation */
    if (strncmp(state, "23", 2) == 0)
        return SR_EINVAL; /* other integrity constraints */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return SR_EBUSY; /* serialization failure, deadlock: retry later */
    if (strcmp(state, "53200") == 0)
        return SR_ENOMEM;
    return SR_EIO; /* connection, timeout (57014), server trouble */
}

static sr_status
fail_result(PGresult *res, PGconn *db, const char *what, sr_err *err)
{
    char msg[256];
    primary_message(res, db, msg, sizeof(msg));
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool timeout = state && strcmp(state, "57014") == 0;
    return sr_err_set(err, status_of(state), "%s: %s%s", what, msg,
                      timeout ? " (statement_timeout; the database is overloaded or locked)" : "");
}

/* --- connections --- */

static void
quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (IF NOT EXISTS ...) are not errors */
}

static void
conn_drop(struct pg_conn *c)
{
    if (c->db)
        PQfinish(c->db);
    c->db = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
}

static void
note_failure(struct pg_store *s, const char *cause)
{
    pthread_mutex_lock(&s->mu);
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : PG_BACKOFF_MIN_MS;
    if (s->backoff_ms > PG_BACKOFF_MAX_MS)
        s->backoff_ms = PG_BACKOFF_MAX_MS;
    s->retry_at_ms = sr_now_ms() + s->backoff_ms;
    (void)snprintf(s->cause, sizeof(s->cause), "%s", cause);
    pthread_mutex_unlock(&s->mu);
}

/* Opens a session, unless an attempt failed less than the backoff ago. */
sr_status
sr_store__pg_connect(struct pg_store *s, PGconn **out, sr_err *err)
{
    pthread_mutex_lock(&s->mu);
    int64_t wait = s->retry_at_ms - sr_now_ms();
    char cause[sizeof(s->cause)];
    memcpy(cause, s->cause, sizeof(cause));
    pthread_mutex_unlock(&s->mu);
    if (wait > 0)
        return sr_err_set(err, SR_EIO, "database '%s' is unreachable: %s (next attempt in %lld ms)",
                          s->shown, cause, (long long)wait);
    char options[160];
    (void)snprintf(options, sizeof(options),
                   "-c statement_timeout=%d -c idle_in_transaction_session_timeout=%d",
                   PG_STATEMENT_TIMEOUT_MS, PG_IDLE_TX_TIMEOUT_MS);
    /* later keywords override what the URI says */
    const char *const keys[] = {"dbname", "options", "application_name", "connect_timeout", NULL};
    const char *const vals[] = {s->target, options, "sealrund", PG_CONNECT_TIMEOUT_S, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (!db)
        return sr_err_set(err, SR_ENOMEM, "out of memory connecting to '%s'", s->shown);
    if (PQstatus(db) != CONNECTION_OK) {
        char msg[sizeof(s->cause)];
        primary_message(NULL, db, msg, sizeof(msg));
        PQfinish(db);
        note_failure(s, msg);
        return sr_err_set(err, SR_EIO, "cannot connect to database '%s': %s", s->shown, msg);
    }
    (void)PQsetNoticeProcessor(db, quiet_notices, NULL);
    pthread_mutex_lock(&s->mu);
    s->backoff_ms = 0;
    s->retry_at_ms = 0;
    s->cause[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    *out = db;
    return SR_OK;
}

/* Connects c (under the backoff). */
static sr_status
conn_connect(struct pg_store *s, struct pg_conn *c, sr_err *err)
{
    PGconn *db = NULL;
    sr_status rc = sr_store__pg_connect(s, &db, err);
    if (rc == SR_OK) {
        conn_drop(c);
        c->db = db;
    }
    return rc;
}

/* --- the pool --- */

sr_status
sr_store__pg_get(struct pg_store *s, struct pg_conn **out, sr_err *err)
{
    pthread_mutex_lock(&s->mu);
    while (!s->free)
        pthread_cond_wait(&s->freed, &s->mu);
    struct pg_conn *c = s->free;
    s->free = c->next_free;
    pthread_mutex_unlock(&s->mu);
    if (c->db && PQstatus(c->db) != CONNECTION_OK)
        conn_drop(c);
    sr_status rc = c->db ? SR_OK : conn_connect(s, c, err);
    if (rc != SR_OK) {
        sr_store__pg_put(s, c);
        return rc;
    }
    *out = c;
    return SR_OK;
}

void
sr_store__pg_put(struct pg_store *s, struct pg_conn *c)
{
    if (c->db && PQstatus(c->db) != CONNECTION_OK)
        conn_drop(c);
    if (c->db && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
        PQclear(PQexec(c->db, "ROLLBACK"));
        if (PQtransactionStatus(c->db) != PQTRANS_IDLE)
            conn_drop(c);
    }
    c->in_tx = false;
    pthread_mutex_lock(&s->mu);
    c->next_free = s->free;
    s->free = c;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->mu);
}

/* --- statements --- */

static sr_status
exec_once(struct pg_conn *c, enum pg_stmt id, const struct pg_args *a, PGresult **res,
          const char *what, sr_err *err)
{
    char name[16];
    (void)snprintf(name, sizeof(name), "s%d", (int)id);
    if (!c->prepared[id]) {
        PGresult *p = PQprepare(c->db, name, sr_store__pg_sql[id], 0, NULL);
        bool ok = p && PQresultStatus(p) == PGRES_COMMAND_OK;
        sr_status rc = ok ? SR_OK : fail_result(p, c->db, what, err);
        PQclear(p);
        if (rc != SR_OK)
            return rc;
        c->prepared[id] = true;
    }
    int n = a ? a->n : 0;
    struct timespec t0, t1;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    PGresult *r =
        PQexecPrepared(c->db, name, n, a ? a->v : NULL, a ? a->len : NULL, a ? a->fmt : NULL, 0);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    /* GET /metrics: a SELECT counts as a reader's statement, anything else a writer's */
    sr_metrics_store(strncmp(sr_store__pg_sql[id], "SELECT", 6) != 0,
                     (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec));
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        sr_status rc = fail_result(r, c->db, what, err);
        PQclear(r);
        return rc;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return SR_OK;
}

sr_status
sr_store__pg_run(struct pg_store *s, struct pg_conn *c, enum pg_stmt id, const struct pg_args *a,
                 PGresult **res, const char *what, sr_err *err)
{
    if (a && a->n >= PG_MAX_ARGS)
        return sr_err_set(err, SR_EINTERNAL, "%s: too many parameters", what);
    sr_status rc = exec_once(c, id, a, res, what, err);
    if (rc == SR_OK || PQstatus(c->db) == CONNECTION_OK)
        return rc;
    conn_drop(c); /* the server went away (restart, network): a new connection next time */
    if (c->in_tx || strncmp(sr_store__pg_sql[id], "SELECT", 6) != 0)
        return rc; /* a write's outcome is unknown: never sent twice */
    rc = conn_connect(s, c, err);
    return rc == SR_OK ? exec_once(c, id, a, res, what, err) : rc;
}

sr_status
sr_store__pg_run1(struct pg_store *s, enum pg_stmt id, const struct pg_args *a, PGresult **res,
                  const char *what, sr_err *err)
{
    struct pg_conn *c = NULL;
    sr_status rc = sr_store__pg_get(s, &c, err);
    if (rc == SR_OK) {
        rc = sr_store__pg_run(s, c, id, a, res, what, err);
        sr_store__pg_put(s, c);
    }
    return rc;
}

uint64_t
sr_store__pg_changes(PGresult *res)
{
    const char *t = res ? PQcmdTuples(res) : NULL;
    return t && *t ? strtoull(t, NULL, 10) : 0;
}

/* --- transactions --- */

static sr_status
exec_simple(struct pg_conn *c, const char *sql, const char *what, sr_err *err)
{
    PGresult *r = PQexec(c->db, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    sr_status rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY
                       ? SR_OK
                       : fail_result(r, c->db, what, err);
    PQclear(r);
    return rc;
}

static sr_status
run_tx(struct pg_store *s, const char *begin, pg_tx_fn fn, void *arg, sr_err *err)
{
    struct pg_conn *c = NULL;
    sr_status rc = sr_store__pg_get(s, &c, err);
    if (rc != SR_OK)
        return rc;
    c->in_tx = true;
    rc = exec_simple(c, begin, "cannot begin a transaction", err);
    if (rc == SR_OK) {
        rc = fn(s, c, arg, err);
        if (rc == SR_OK)
            rc =
                exec_simple(c, "COMMIT", "cannot commit (the write may or may not be stored)", err);
    }
    sr_store__pg_put(s, c); /* rolls back what is left open */
    return rc;
}

sr_status
sr_store__pg_tx(struct pg_store *s, pg_tx_fn fn, void *arg, sr_err *err)
{
    return run_tx(s, "BEGIN", fn, arg, err);
}

sr_status
sr_store__pg_snapshot(struct pg_store *s, pg_tx_fn fn, void *arg, sr_err *err)
{
    return run_tx(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn, arg, err);
}

sr_status
sr_store__pg_lock(struct pg_store *s, struct pg_conn *c, const char *name, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, name);
    return sr_store__pg_run(s, c, PG_LOCK, &a, NULL, "cannot take a lock", err);
}

sr_status
sr_store__pg_try_lock(struct pg_store *s, struct pg_conn *c, const char *name, bool *got,
                      sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, name);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_TRY_LOCK, &a, &res, "cannot take a lock", err);
    *got = rc == SR_OK && sr_store__pg_col_int(res, 0, 0) == 1;
    PQclear(res);
    return rc;
}

/* --- columns --- */

int64_t
sr_store__pg_col_int(const PGresult *res, int r, int i)
{
    if (PQgetisnull(res, r, i))
        return 0;
    return strtoll(PQgetvalue(res, r, i), NULL, 10);
}

sr_status
sr_store__pg_col_dup(const PGresult *res, int r, int i, char **out, sr_err *err)
{
    *out = NULL;
    if (PQgetisnull(res, r, i))
        return SR_OK;
    *out = strdup(PQgetvalue(res, r, i));
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory reading column %d", i);
}

sr_status
sr_store__pg_col_blob(const PGresult *res, int r, int i, uint8_t **out, size_t *len, sr_err *err)
{
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea(
        (const unsigned char *)(PQgetisnull(res, r, i) ? "" : PQgetvalue(res, r, i)), &n);
    if (!raw)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a blob column");
    *out = malloc(n ? n : 1);
    if (*out && n)
        memcpy(*out, raw, n);
    PQfreemem(raw);
    if (!*out)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a blob column");
    *len = n;
    return SR_OK;
}

sr_status
sr_store__pg_col_fixed(const PGresult *res, int r, int i, uint8_t *out, size_t n, sr_err *err)
{
    uint8_t *b = NULL;
    size_t len = 0;
    sr_status rc = sr_store__pg_col_blob(res, r, i, &b, &len, err);
    if (rc == SR_OK && len != n)
        rc = sr_err_set(err, SR_EIO, "stored id has %zu bytes, expected %zu", len, n);
    if (rc == SR_OK)
        memcpy(out, b, n);
    free(b);
    return rc;
}

sr_status
sr_store__pg_col_open(const uint8_t *key, const PGresult *res, int r, int i, const char *field,
                      const char *owner, const char *record, char **out, size_t *out_len,
                      sr_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (PQgetisnull(res, r, i))
        return SR_OK;
    uint8_t *blob = NULL, *plain = NULL;
    size_t len = 0, plain_len = 0;
    sr_status rc = sr_store__pg_col_blob(res, r, i, &blob, &len, err);
    if (rc == SR_OK)
        rc = sr_store__open(key, field, owner, record, blob, len, &plain, &plain_len, err);
    free(blob);
    if (rc == SR_OK) {
        *out = (char *)plain;
        if (out_len)
            *out_len = plain_len;
    }
    return rc;
}

/* --- migrations --- */

#define MIGRATE_LOCK "sealrun.migrate"

static sr_status
migrate_prepare(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    (void)arg;
    sr_status rc = sr_store__pg_lock(s, c, MIGRATE_LOCK, err);
    return rc == SR_OK ? exec_simple(c,
                                     "CREATE TABLE IF NOT EXISTS schema_version ("
                                     "version integer PRIMARY KEY, name text NOT NULL, "
                                     "applied_at bigint NOT NULL)",
                                     "cannot create table 'schema_version'", err)
                       : rc;
}

/* The highest recorded version (*max) and whether version v is recorded. */
static sr_status
read_versions(struct pg_conn *c, int v, int *max, bool *has, sr_err *err)
{
    char sql[160];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT coalesce(max(version), 0), count(*) FILTER (WHERE version = %d) "
                   "FROM schema_version",
                   v);
    PGresult *r = PQexec(c->db, sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        sr_status rc = fail_result(r, c->db, "cannot read the schema version", err);
        PQclear(r);
        return rc;
    }
    *max = (int)sr_store__pg_col_int(r, 0, 0);
    *has = sr_store__pg_col_int(r, 0, 1) > 0;
    PQclear(r);
    return SR_OK;
}

static sr_status
migrate_one(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct sr_store__migration *m = arg;
    int max = 0;
    bool done = false;
    sr_status rc = sr_store__pg_lock(s, c, MIGRATE_LOCK, err);
    if (rc == SR_OK)
        rc = read_versions(c, m->version, &max, &done, err);
    if (rc != SR_OK || done)
        return rc;
    rc = exec_simple(c, m->sql, "migration failed", err);
    if (rc != SR_OK)
        return rc;
    char sql[200];
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO schema_version (version, name, applied_at) VALUES (%d, '%s', %lld)",
                   m->version, m->name, (long long)sr_now_ms()); /* embedded names: [a-z0-9_] */
    return exec_simple(c, sql, "cannot record the schema version", err);
}

static sr_status
migrate_check(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    (void)s;
    bool has = false;
    return read_versions(c, 0, arg, &has, err);
}

static sr_status
migrate(struct pg_store *s, sr_err *err)
{
    const size_t count = sr_store__pg_migrations_count;
    const int known = count ? sr_store__pg_migrations[count - 1].version : 0;
    int cur = 0;
    sr_status rc = sr_store__pg_tx(s, migrate_prepare, NULL, err);
    if (rc == SR_OK)
        rc = sr_store__pg_tx(s, migrate_check, &cur, err);
    if (rc != SR_OK)
        return sr_err_wrap(err, "migrating database '%s'", s->shown);
    if (cur > known)
        return sr_err_set(err, SR_ECONFLICT,
                          "database '%s' has schema version %d, newer than the %d this sealrun "
                          "knows: upgrade sealrun",
                          s->shown, cur, known);
    for (size_t i = 0; i < count; i++) {
        rc = sr_store__pg_tx(s, migrate_one, (void *)(uintptr_t)&sr_store__pg_migrations[i], err);
        if (rc != SR_OK)
            return sr_err_wrap(err, "applying migration '%s' to '%s'",
                               sr_store__pg_migrations[i].name, s->shown);
    }
    rc = sr_store__pg_tx(s, migrate_check, &s->version, err);
    return rc;
}

/* --- open / close --- */

/* The URI without its password (postgres://user:secret@host -> user:***@host). */
static char *
mask_password(const char *uri)
{
    size_t n = strlen(uri) + 4;
    char *out = malloc(n);
    if (!out)
        return NULL;
    const char *scheme = strstr(uri, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *slash = scheme ? strchr(scheme + 3, '/') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && (!slash || at < slash) && colon && colon < at)
        (void)snprintf(out, n, "%.*s***%s", (int)(colon - uri) + 1, uri, at);
    else
        (void)snprintf(out, n, "%s", uri);
    return out;
}

sr_status
sr_store__pg_open(const char *target, struct pg_store **out, sr_err *err)
{
    struct pg_store *s = calloc(1, sizeof(*s));
    if (!s)
        return sr_err_set(err, SR_ENOMEM, "out of memory opening a PostgreSQL store");
    s->base.ops = &sr_store__pg_ops;
    s->target = strdup(target);
    s->shown = mask_password(target);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->lmu, NULL);
    pthread_cond_init(&s->freed, NULL);
    for (size_t i = 0; i < PG_POOL; i++) {
        s->conns[i].next_free = s->free;
        s->free = &s->conns[i];
    }
    sr_status rc = s->target && s->shown
                       ? migrate(s, err)
                       : sr_err_set(err, SR_ENOMEM, "out of memory opening a PostgreSQL store");
    if (rc != SR_OK) {
        sr_store__pg_close(s);
        return rc;
    }
    *out = s;
    return SR_OK;
}

void
sr_store__pg_close(struct pg_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < PG_POOL; i++)
        conn_drop(&s->conns[i]);
    if (s->listener)
        PQfinish(s->listener);
    pthread_mutex_destroy(&s->lmu);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->freed);
    free(s->target);
    free(s->shown);
    free(s);
}
