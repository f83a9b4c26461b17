/* SPDX-License-Identifier: MIT
 *
 * store_copy.c - `sealrun store copy`: moves an embedded SQLite store into
 * an empty PostgreSQL store, every table row by row in one PostgreSQL
 * transaction, then verifies every table row by row (both sides read in
 * key order, each column compared as a value: integer, text or bytes).
 *
 * Rows move as they are: sealed columns stay sealed under the same keys
 * (their AAD binds owner and record, not the backend), so the copy needs
 * no master key and never sees a user's data in clear. Both stores must be
 * at the same schema version; a SQLite store that still holds rows from
 * before at-rest sealing is refused (sealrund seals them at its next
 * start). Tables of the daemons themselves (heartbeats, queue turns, the
 * schema's own) are not copied; of store_meta only the storage charge day
 * marks are (a day's storage is charged once, before and after the copy).
 *
 * Before anything is copied, both schemas are checked against the table
 * list below: a table or a column of either store that the list does not
 * name stops the copy, naming it, so no column is ever left to a default
 * (a token's scopes, its expiry).
 */
#include "store_pg_int.h"
#include "store_sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Column kinds: 'i' integer, 't' text, 'b' bytes. */
struct copy_table {
    const char *name;
    const char *cols;  /* comma-separated */
    const char *kinds; /* one per column */
    const char *order; /* key columns, comma-separated */
    const char *pg_order;
    const char *where; /* the rows copied (both dialects); NULL: all */
};

/* The storage charge day marks (settle.c), the only store_meta rows of
 * users' data. */
#define META_WHERE "key LIKE 'storage\\_charge:%' ESCAPE '\\'"

/* Tables not copied: the schema's, SQLite's own, the daemons' (heartbeats,
 * queue turns), and the tables of before at-rest sealing (empty once the
 * seal_legacy check passes: sealrund moves their rows at its start). */
static const char *const not_copied[] = {
    "schema_version",  "sqlite_sequence",    "daemons", "queue_turns",
    "storage_entries", "storage_namespaces", NULL};

/* Parents before children (module_owners references modules). */
static const struct copy_table tables[] = {
    {"tokens", "hash, owner, label, created_at, revoked_at, scopes, expires_at", "btjiiii", "hash",
     "hash", NULL},
    {"jobs",
     "id, owner, state, runtime, request_json, result_json, created_at, started_at, "
     "finished_at, expires_at, gas_used, duration_us, error_code, lease_holder, lease_fence, "
     "lease_until",
     "ttttbbiiiiiiitii", "id", "id COLLATE \"C\"", NULL},
    {"modules", "hash, bytes, size, info_json, created_at", "tbibi", "hash", "hash COLLATE \"C\"",
     NULL},
    {"module_owners", "owner, hash, created_at, size, last_used_at", "ttiii", "owner, hash",
     "owner COLLATE \"C\", hash COLLATE \"C\"", NULL},
    {"secrets", "owner, name, version, blob, policy_json, created_at, updated_at", "ttibbii",
     "owner, name", "owner COLLATE \"C\", name COLLATE \"C\"", NULL},
    {"secret_audit",
     "id, owner, name, job_id, \"user\", version, outcome, reason, time_ms, last_ms, count, "
     "window_ms, code_hash, entry_point",
     "itttti"
     "ttiiiitt",
     "id", "id", NULL},
    {"storage_ns", "owner, id, name, version, keys, bytes, updated_at", "tbbiiii", "owner, id",
     "owner COLLATE \"C\", id", NULL},
    {"storage_kv", "owner, ns, id, key, value, size, version", "tbbbbii", "owner, ns, id",
     "owner COLLATE \"C\", ns, id", NULL},
    {"storage_owners", "owner, namespaces, bytes", "tii", "owner", "owner COLLATE \"C\"", NULL},
    {"recordings", "job_id, owner, sealed, sha256, created_at, expires_at", "ttttii", "job_id",
     "job_id COLLATE \"C\"", NULL},
    {"usage_days", "subject, day, jobs, gas_js, gas_wasm, wall_ms, http", "tiiiiii", "subject, day",
     "subject COLLATE \"C\", day", NULL},
    {"holds",
     "job_id, owner, token_id, day, jobs, gas_js, gas_wasm, wall_ms, http, cost, created_at, "
     "settled_at, charged",
     "tttiiiiiiiiii", "job_id", "job_id COLLATE \"C\"", NULL},
    {"accounts", "owner, balance, updated_at", "tii", "owner", "owner COLLATE \"C\"", NULL},
    {"ledger", "id, owner, kind, amount, delta, balance, job_id, actor, note, time_ms",
     "ittiiittti", "id", "id", NULL},
    {"workers",
     "hash, name, state, created_at, public_key, measurement, attestation, version, "
     "registered_at, seen_at, revoked_at",
     "bttittttiii", "hash", "hash", NULL},
    {"webhooks", "job_id, owner, state, attempts, next_at, claim_holder, claim_until, created_at",
     "tttiitii", "job_id", "job_id COLLATE \"C\"", NULL},
    {"webhook_attempts", "job_id, attempt, owner, at, duration_ms, status, error", "titiiit",
     "job_id, attempt", "job_id COLLATE \"C\", attempt", NULL},
    {"store_meta", "key, value", "ti", "key", "key COLLATE \"C\"", META_WHERE},
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static sr_status
sq_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, sr_err *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK)
        return sr_err_set(err, SR_EIO, "cannot read the SQLite store: %s", sqlite3_errmsg(db));
    return SR_OK;
}

static sr_status
pg_exec(PGconn *db, const char *sql, sr_err *err)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    sr_status rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK
                       ? SR_OK
                       : sr_err_set(err, SR_EIO, "PostgreSQL: %s", PQerrorMessage(db));
    PQclear(r);
    return rc;
}

static int64_t
pg_int(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    int64_t v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static int64_t
sq_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* ---- the schemas against the table list ---- */

static const struct copy_table *
table_named(const char *name)
{
    for (size_t t = 0; t < NTABLES; t++)
        if (strcmp(tables[t].name, name) == 0)
            return &tables[t];
    return NULL;
}

static bool
is_not_copied(const char *name)
{
    for (size_t i = 0; not_copied[i]; i++)
        if (strcmp(not_copied[i], name) == 0)
            return true;
    return false;
}

/* Whether 'col' is one of t's columns (t->cols: "a, b, \"c\""). */
static bool
has_column(const struct copy_table *t, const char *col)
{
    size_t n = strlen(col);
    for (const char *p = t->cols; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        bool quoted = *p == '"';
        const char *start = p + quoted;
        const char *end = start;
        while (*end && *end != ',' && *end != '"')
            end++;
        if ((size_t)(end - start) == n && memcmp(start, col, n) == 0)
            return true;
        p = end + (*end == '"');
    }
    return false;
}

/* One (table, column) of a store's schema: a table the list neither copies
 * nor leaves out, or a column of a copied table it does not name, stops
 * the copy. */
static sr_status
check_column(const char *side, const char *table, const char *col, sr_err *err)
{
    if (is_not_copied(table))
        return SR_OK;
    const struct copy_table *t = table_named(table);
    if (!t)
        return sr_err_set(err, SR_ECONFLICT,
                          "the %s store has a table '%.64s' that this sealrun's copy does not "
                          "know: copy with the sealrun version that made the store",
                          side, table);
    if (!has_column(t, col))
        return sr_err_set(err, SR_ECONFLICT,
                          "the %s store's table '%.64s' has a column '%.64s' that this "
                          "sealrun's copy does not know: copy with the sealrun version that made "
                          "the store",
                          side, table, col);
    return SR_OK;
}

static sr_status
check_schemas(sqlite3 *src, PGconn *dst, sr_err *err)
{
    sqlite3_stmt *s = NULL;
    sr_status rc = sq_prepare(src,
                              "SELECT m.name, c.name FROM sqlite_master m, "
                              "pragma_table_info(m.name) c WHERE m.type = 'table' ORDER BY 1, 2",
                              &s, err);
    int step = SQLITE_ROW;
    while (rc == SR_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = check_column("SQLite", (const char *)sqlite3_column_text(s, 0),
                          (const char *)sqlite3_column_text(s, 1), err);
    if (rc == SR_OK && step != SQLITE_DONE)
        rc = sr_err_set(err, SR_EIO, "cannot read the SQLite schema: %s", sqlite3_errmsg(src));
    sqlite3_finalize(s);
    if (rc != SR_OK)
        return rc;
    PGresult *r = PQexec(dst, "SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = current_schema() ORDER BY 1, 2");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = sr_err_set(err, SR_EIO, "cannot read the PostgreSQL schema: %s", PQerrorMessage(dst));
    for (int i = 0; rc == SR_OK && i < PQntuples(r); i++)
        rc = check_column("PostgreSQL", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), err);
    PQclear(r);
    return rc;
}

/* Same schema version, a sealed source, an empty target. */
static sr_status
check_pair(sqlite3 *src, PGconn *dst, sr_err *err)
{
    int64_t sv = sq_int(src, "SELECT max(version) FROM schema_version");
    int64_t dv = pg_int(dst, "SELECT max(version) FROM schema_version");
    if (sv != dv)
        return sr_err_set(err, SR_ECONFLICT,
                          "the SQLite store has schema version %lld and PostgreSQL %lld: run "
                          "'sealrun store migrate' on both with this sealrun first",
                          (long long)sv, (long long)dv);
    if (sq_int(src, "SELECT count(*) FROM store_meta WHERE key = 'seal_legacy'") > 0)
        return sr_err_set(err, SR_ECONFLICT,
                          "the SQLite store holds rows from before at-rest sealing: start "
                          "sealrund on it once (it seals them), then copy");
    for (size_t t = 0; t < NTABLES; t++) {
        char sql[160];
        (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", tables[t].name,
                       tables[t].where ? tables[t].where : "true");
        if (pg_int(dst, sql) != 0)
            return sr_err_set(err, SR_ECONFLICT,
                              "the PostgreSQL store is not empty (table '%s' has rows): copy "
                              "into a new database",
                              tables[t].name);
    }
    return SR_OK;
}

/* One SQLite value as a libpq parameter (kind k); NULL stays NULL. */
static void
bind_value(sqlite3_stmt *s, int i, char k, struct pg_args *a)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        sr_store__pg_text(a, NULL);
    else if (k == 'i')
        sr_store__pg_int(a, sqlite3_column_int64(s, i));
    else if (k == 't')
        sr_store__pg_text(a, (const char *)sqlite3_column_text(s, i));
    else
        sr_store__pg_blob(a, sqlite3_column_blob(s, i), (size_t)sqlite3_column_bytes(s, i));
}

static sr_status
copy_table(sqlite3 *src, PGconn *dst, const struct copy_table *t, uint64_t *rows, sr_err *err)
{
    size_t n = strlen(t->kinds);
    char sel[640], ins[768], params[160] = "";
    (void)snprintf(sel, sizeof(sel), "SELECT %s FROM %s WHERE %s ORDER BY %s", t->cols, t->name,
                   t->where ? t->where : "true", t->order);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(params);
        (void)snprintf(params + len, sizeof(params) - len, "%s$%zu", i ? ", " : "", i + 1);
    }
    (void)snprintf(ins, sizeof(ins), "INSERT INTO %s (%s) %sVALUES (%s)", t->name, t->cols,
                   strcmp(t->name, "secret_audit") == 0 || strcmp(t->name, "ledger") == 0
                       ? "OVERRIDING SYSTEM VALUE "
                       : "",
                   params);
    sqlite3_stmt *s = NULL;
    sr_status rc = sq_prepare(src, sel, &s, err);
    int step = SQLITE_ROW;
    while (rc == SR_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct pg_args a = {0};
        for (size_t i = 0; i < n; i++)
            bind_value(s, (int)i, t->kinds[i], &a);
        PGresult *r = PQexecParams(dst, ins, a.n, NULL, a.v, a.len, a.fmt, 0);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = sr_err_set(err, SR_EIO, "cannot copy a row of '%s': %s", t->name,
                            PQerrorMessage(dst));
        PQclear(r);
        *rows += rc == SR_OK;
    }
    if (rc == SR_OK && step != SQLITE_DONE)
        rc = sr_err_set(err, SR_EIO, "cannot read table '%s': %s", t->name, sqlite3_errmsg(src));
    sqlite3_finalize(s);
    return rc;
}

/* Whether SQLite column i and PostgreSQL column i (text format) hold the same value. */
static bool
same_value(sqlite3_stmt *s, const PGresult *r, int row, int i, char k)
{
    bool sn = sqlite3_column_type(s, i) == SQLITE_NULL, pn = PQgetisnull(r, row, i);
    if (sn || pn)
        return sn && pn;
    if (k == 'i')
        return sqlite3_column_int64(s, i) == strtoll(PQgetvalue(r, row, i), NULL, 10);
    if (k == 't')
        return strcmp((const char *)sqlite3_column_text(s, i), PQgetvalue(r, row, i)) == 0;
    size_t len = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, i), &len);
    bool same = b && len == (size_t)sqlite3_column_bytes(s, i) &&
                (len == 0 || memcmp(b, sqlite3_column_blob(s, i), len) == 0);
    PQfreemem(b);
    return same;
}

/* Reads both sides in key order (PostgreSQL through a cursor, a page at a
 * time) and compares them row by row. */
static sr_status
verify_table(sqlite3 *src, PGconn *dst, const struct copy_table *t, sr_err *err)
{
    size_t n = strlen(t->kinds);
    char sel[640], psel[800];
    const char *where = t->where ? t->where : "true";
    (void)snprintf(sel, sizeof(sel), "SELECT %s FROM %s WHERE %s ORDER BY %s", t->cols, t->name,
                   where, t->order);
    (void)snprintf(psel, sizeof(psel),
                   "DECLARE verify NO SCROLL CURSOR FOR SELECT %s FROM %s WHERE %s "
                   "ORDER BY %s",
                   t->cols, t->name, where, t->pg_order);
    sqlite3_stmt *s = NULL;
    sr_status rc = sq_prepare(src, sel, &s, err);
    if (rc == SR_OK)
        rc = pg_exec(dst, psel, err);
    PGresult *page = NULL;
    int prow = 0, pn = 0;
    int64_t seen = 0;
    while (rc == SR_OK) {
        int step = sqlite3_step(s);
        if (prow == pn) { /* the next page of PostgreSQL rows */
            PQclear(page);
            page = PQexec(dst, "FETCH 500 FROM verify");
            if (!page || PQresultStatus(page) != PGRES_TUPLES_OK) {
                rc = sr_err_set(err, SR_EIO, "cannot read back '%s': %s", t->name,
                                PQerrorMessage(dst));
                break;
            }
            prow = 0;
            pn = PQntuples(page);
        }
        if (step == SQLITE_DONE) {
            if (pn != 0)
                rc = sr_err_set(err, SR_EIO, "verify: '%s' has more rows in PostgreSQL", t->name);
            break;
        }
        if (step != SQLITE_ROW || pn == 0) {
            rc = sr_err_set(err, SR_EIO, "verify: '%s' row %lld is missing in PostgreSQL", t->name,
                            (long long)seen + 1);
            break;
        }
        for (size_t i = 0; rc == SR_OK && i < n; i++)
            if (!same_value(s, page, prow, (int)i, t->kinds[i]))
                rc = sr_err_set(err, SR_EIO, "verify: '%s' row %lld differs in column %zu", t->name,
                                (long long)seen + 1, i + 1);
        prow++;
        seen++;
    }
    PQclear(page);
    if (rc == SR_OK)
        rc = pg_exec(dst, "CLOSE verify", err);
    sqlite3_finalize(s);
    return rc;
}

sr_status
sr_store_copy(const char *sqlite_path, const char *pg_url, struct sr_store_copy_report *rep,
              sr_err *err)
{
    memset(rep, 0, sizeof(*rep));
    /* open both through the store first: migrations, and the URL's checks */
    sr_store *a = NULL, *b = NULL;
    char target[4096];
    (void)snprintf(target, sizeof(target), "sqlite:%s", sqlite_path);
    sr_status rc = sr_store_open(target, NULL, &a, err);
    if (rc == SR_OK)
        rc = sr_store_open(pg_url, NULL, &b, err);
    if (rc == SR_OK && strcmp(sr_store_backend(b), "postgres") != 0)
        rc = sr_err_set(err, SR_EINVAL, "the target of a copy must be a postgres:// store");
    sr_store_close(a);
    sr_store_close(b);
    if (rc != SR_OK)
        return rc;
    sqlite3 *src = NULL;
    PGconn *dst = PQconnectdb(pg_url);
    if (sqlite3_open_v2(sqlite_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        rc = sr_err_set(err, SR_EIO, "cannot open '%s': %s", sqlite_path, sqlite3_errmsg(src));
    else if (PQstatus(dst) != CONNECTION_OK)
        rc = sr_err_set(err, SR_EIO, "cannot connect to the PostgreSQL store: %s",
                        PQerrorMessage(dst));
    /* one read transaction on SQLite (a snapshot), one write on PostgreSQL */
    if (rc == SR_OK && sqlite3_exec(src, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = sr_err_set(err, SR_EIO, "cannot read '%s': %s", sqlite_path, sqlite3_errmsg(src));
    if (rc == SR_OK)
        rc = pg_exec(dst, "BEGIN", err);
    if (rc == SR_OK)
        rc = check_pair(src, dst, err);
    if (rc == SR_OK)
        rc = check_schemas(src, dst, err);
    for (size_t t = 0; rc == SR_OK && t < NTABLES; t++) {
        uint64_t n = 0;
        rc = copy_table(src, dst, &tables[t], &n, err);
        rep->rows += n;
        rep->tables += rc == SR_OK;
    }
    if (rc == SR_OK)
        rc = pg_exec(dst,
                     "SELECT setval(pg_get_serial_sequence('secret_audit', 'id'), "
                     "coalesce((SELECT max(id) FROM secret_audit), 0) + 1, false)",
                     err);
    if (rc == SR_OK)
        rc = pg_exec(dst,
                     "SELECT setval(pg_get_serial_sequence('ledger', 'id'), "
                     "coalesce((SELECT max(id) FROM ledger), 0) + 1, false)",
                     err);
    for (size_t t = 0; rc == SR_OK && t < NTABLES; t++)
        rc = verify_table(src, dst, &tables[t], err);
    if (rc == SR_OK)
        rc = pg_exec(dst, "COMMIT", err);
    rep->verified = rc == SR_OK;
    PQfinish(dst);
    sqlite3_close(src);
    return rc;
}
