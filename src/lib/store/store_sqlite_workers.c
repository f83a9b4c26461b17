/* SPDX-License-Identifier: MIT
 *
 * store_sqlite_workers.c - remote workers on the SQLite backend (the
 * contracts are in sr_store.h, "remote workers"). Registration and state
 * changes read the row and write it inside one write of the group commit,
 * so two registrations with one token cannot both bind a key.
 */
#include "store_sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_util.h"

/* The row at the statement's current result. */
static sr_status
read_worker(sqlite3_stmt *stmt, struct sr_worker_row *out, sr_err *err)
{
    if (sqlite3_column_bytes(stmt, 0) != 32)
        return sr_err_set(err, SR_EIO, "stored worker token hash is not 32 bytes");
    const struct sr_store__worker_cols c = {
        .hash = sqlite3_column_blob(stmt, 0),
        .name = (const char *)sqlite3_column_text(stmt, 1),
        .state = (const char *)sqlite3_column_text(stmt, 2),
        .created_at = sqlite3_column_int64(stmt, 3),
        .public_key = (const char *)sqlite3_column_text(stmt, 4),
        .measurement = (const char *)sqlite3_column_text(stmt, 5),
        .attestation = (const char *)sqlite3_column_text(stmt, 6),
        .version = (const char *)sqlite3_column_text(stmt, 7),
        .registered_at = sqlite3_column_int64(stmt, 8),
        .seen_at = sqlite3_column_int64(stmt, 9),
        .revoked_at = sqlite3_column_int64(stmt, 10),
    };
    return sr_store__worker_fill(&c, out, err);
}

/* One row by hash on connection c. */
static sr_status
get_on(struct sq_conn *c, const uint8_t hash[32], struct sr_worker_row *out, sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WORKER_GET, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    int src = b ? b : sqlite3_step(stmt);
    if (src == SQLITE_ROW)
        rc = read_worker(stmt, out, err);
    else if (src == SQLITE_DONE)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker token not found");
    else
        rc = sr_store__sq_fail(c->db, src, err, "cannot look up a worker");
    sr_store__sq_done(stmt);
    return rc;
}

struct add_arg {
    const uint8_t *hash;
    const char *name;
    int64_t now_ms;
};

static sr_status
w_add(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct add_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WORKER_ADD, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, a->hash, 32, SQLITE_STATIC);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->name);
    b = b ? b : sqlite3_bind_int64(stmt, 3, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "add worker", a->name);
    sr_store__sq_done(stmt);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "a worker token with this hash exists already");
    return rc;
}

sr_status
sr_store__sq_worker_add(sr_store *st, const uint8_t hash[32], const char *name, int64_t now_ms,
                        sr_err *err)
{
    struct add_arg a = {hash, name, now_ms};
    return sr_store__sq_write((struct sq_store *)st, w_add, &a, err);
}

sr_status
sr_store__sq_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                        sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sr_status rc = get_on(c, hash, out, err);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct reg_arg {
    const uint8_t *hash;
    const struct sr_worker_reg *r;
    struct sr_worker_row *out;
};

static sr_status
w_register(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct reg_arg *a = arg;
    struct sr_worker_row cur;
    sr_status rc = get_on(c, a->hash, &cur, err);
    if (rc != SR_OK)
        return rc;
    if (cur.state == SR_WORKER_REVOKED)
        return sr_err_set(err, SR_EFORBIDDEN, "worker '%s' is revoked", cur.id);
    if (cur.public_key[0] && strcmp(cur.public_key, a->r->public_key) != 0)
        return sr_err_set(err, SR_ECONFLICT,
                          "worker token '%s' is bound to another key (%.16s...); a worker "
                          "registers once per token: make a new token for a new key",
                          cur.id, cur.public_key);
    sqlite3_stmt *stmt = NULL;
    rc = sr_store__sq_stmt(c, SQ_WORKER_REGISTER, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, a->hash, 32, SQLITE_STATIC);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, a->r->public_key);
    b = b ? b : sr_store__sq_bind_text(stmt, 3, a->r->measurement);
    b = b ? b : sr_store__sq_bind_text(stmt, 4, a->r->attestation);
    b = b ? b : sr_store__sq_bind_text(stmt, 5, a->r->version);
    b = b ? b : sqlite3_bind_int64(stmt, 6, a->r->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "register worker", cur.id);
    sr_store__sq_done(stmt);
    return rc == SR_OK ? get_on(c, a->hash, a->out, err) : rc;
}

sr_status
sr_store__sq_worker_register(sr_store *st, const uint8_t hash[32], const struct sr_worker_reg *r,
                             struct sr_worker_row *out, sr_err *err)
{
    struct sr_worker_row row;
    struct reg_arg a = {hash, r, &row};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_register, &a, err);
    if (rc == SR_OK)
        *out = row;
    return rc;
}

struct seen_arg {
    const uint8_t *hash;
    int64_t now_ms;
};

static sr_status
w_seen(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct seen_arg *a = arg;
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WORKER_SEEN, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, a->hash, 32, SQLITE_STATIC);
    b = b ? b : sqlite3_bind_int64(stmt, 2, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "record a request of", "a worker");
    sr_store__sq_done(stmt);
    if (rc == SR_OK && sqlite3_changes(c->db) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker token not found or revoked");
    return rc;
}

sr_status
sr_store__sq_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms, sr_err *err)
{
    struct seen_arg a = {hash, now_ms};
    return sr_store__sq_write((struct sq_store *)st, w_seen, &a, err);
}

static sr_status
read_worker_row(void *ctx, sqlite3_stmt *stmt, void *row, sr_err *err)
{
    (void)ctx;
    return read_worker(stmt, row, err);
}

static void
fini_worker_row(void *row)
{
    (void)row; /* fixed-size fields only */
}

sr_status
sr_store__sq_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n, sr_err *err)
{
    struct sq_store *s = (struct sq_store *)st;
    struct sq_conn *c = sr_store__sq_reader(s);
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WORKER_LIST, &stmt, err);
    if (rc == SR_OK)
        rc = sr_store__sq_collect(stmt, sizeof(**rows), read_worker_row, NULL, fini_worker_row,
                                  "workers", (void **)rows, n, err);
    sr_store__sq_done(stmt);
    sr_store__sq_reader_put(s, c);
    return rc;
}

struct state_arg {
    const char *prefix;
    enum sr_worker_state state;
    int64_t now_ms;
    struct sr_worker_row *out;
};

/* The one worker whose id starts with 'prefix', with its hash. */
static sr_status
match(struct sq_conn *c, const char *prefix, uint8_t hash[32], struct sr_worker_row *out,
      sr_err *err)
{
    sqlite3_stmt *stmt = NULL;
    sr_status rc = sr_store__sq_stmt(c, SQ_WORKER_MATCH, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int n = 0;
    int src = sr_store__sq_bind_text(stmt, 1, prefix);
    while (rc == SR_OK && (src == SQLITE_OK || src == SQLITE_ROW)) {
        src = sqlite3_step(stmt);
        if (src == SQLITE_ROW && n++ == 0) {
            rc = read_worker(stmt, out, err);
            if (rc == SR_OK)
                memcpy(hash, sqlite3_column_blob(stmt, 0), 32); /* read_worker checked 32 */
        }
    }
    if (rc == SR_OK && src != SQLITE_DONE)
        rc = sr_store__sq_fail(c->db, src, err, "cannot look up worker '%s'", prefix);
    else if (rc == SR_OK && n == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker '%s' not found", prefix);
    else if (rc == SR_OK && n > 1)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "worker id '%s' is ambiguous: it matches more than one worker; give "
                        "more characters",
                        prefix);
    sr_store__sq_done(stmt);
    return rc;
}

static sr_status
w_state(struct sq_conn *c, void *arg, sr_err *err)
{
    const struct state_arg *a = arg;
    uint8_t hash[32];
    struct sr_worker_row cur;
    sr_status rc = match(c, a->prefix, hash, &cur, err);
    if (rc != SR_OK)
        return rc;
    if (cur.state == SR_WORKER_REVOKED)
        return sr_err_set(err, SR_ECONFLICT, "worker '%s' is revoked already", cur.id);
    sqlite3_stmt *stmt = NULL;
    rc = sr_store__sq_stmt(c, SQ_WORKER_STATE, &stmt, err);
    if (rc != SR_OK)
        return rc;
    int b = sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    b = b ? b : sr_store__sq_bind_text(stmt, 2, sr_worker_state_name(a->state));
    b = b ? b : sqlite3_bind_int64(stmt, 3, a->now_ms);
    rc = b ? sr_store__sq_bind_failed(stmt, b, err)
           : sr_store__sq_step_done(stmt, err, "change worker", cur.id);
    sr_store__sq_done(stmt);
    return rc == SR_OK ? get_on(c, hash, a->out, err) : rc;
}

sr_status
sr_store__sq_worker_set_state(sr_store *st, const char *id_prefix, enum sr_worker_state state,
                              int64_t now_ms, struct sr_worker_row *out, sr_err *err)
{
    struct sr_worker_row row;
    struct state_arg a = {id_prefix, state, now_ms, &row};
    sr_status rc = sr_store__sq_write((struct sq_store *)st, w_state, &a, err);
    if (rc == SR_OK && out)
        *out = row;
    return rc;
}
