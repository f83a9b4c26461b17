/* SPDX-License-Identifier: MIT
 *
 * store_pg_workers.c - remote workers on the PostgreSQL backend (the
 * contracts are in sr_store.h, "remote workers"). Registration and state
 * changes lock the row (FOR UPDATE) in one transaction, so two daemons
 * registering one token at once cannot both bind a key.
 */
#include "store_pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "sealrun/sr_util.h"

static const char *
col(const PGresult *res, int r, int i)
{
    return PQgetisnull(res, r, i) ? NULL : PQgetvalue(res, r, i);
}

static sr_status
read_worker(const PGresult *res, int r, struct sr_worker_row *out, uint8_t hash[32], sr_err *err)
{
    sr_status rc = sr_store__pg_col_fixed(res, r, 0, hash, 32, err);
    if (rc != SR_OK)
        return rc;
    const struct sr_store__worker_cols c = {
        .hash = hash,
        .name = col(res, r, 1),
        .state = col(res, r, 2),
        .created_at = sr_store__pg_col_int(res, r, 3),
        .public_key = col(res, r, 4),
        .measurement = col(res, r, 5),
        .attestation = col(res, r, 6),
        .version = col(res, r, 7),
        .registered_at = sr_store__pg_col_int(res, r, 8),
        .seen_at = sr_store__pg_col_int(res, r, 9),
        .revoked_at = sr_store__pg_col_int(res, r, 10),
    };
    return sr_store__worker_fill(&c, out, err);
}

/* One row by hash: on c when given (inside a transaction, FOR UPDATE),
 * else on a connection of its own. */
static sr_status
get_row(struct pg_store *s, struct pg_conn *c, const uint8_t hash[32], struct sr_worker_row *out,
        sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_blob(&a, hash, 32);
    PGresult *res = NULL;
    sr_status rc =
        c ? sr_store__pg_run(s, c, PG_WORKER_LOCK, &a, &res, "cannot look up a worker", err)
          : sr_store__pg_run1(s, PG_WORKER_GET, &a, &res, "cannot look up a worker", err);
    uint8_t h[32];
    if (rc == SR_OK && PQntuples(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker token not found");
    else if (rc == SR_OK)
        rc = read_worker(res, 0, out, h, err);
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_worker_add(sr_store *st, const uint8_t hash[32], const char *name, int64_t now_ms,
                        sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_blob(&a, hash, 32);
    sr_store__pg_text(&a, name);
    sr_store__pg_int(&a, now_ms);
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_WORKER_ADD, &a, NULL,
                                     "cannot add a worker", err);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "a worker token with this hash exists already");
    return rc;
}

sr_status
sr_store__pg_worker_get(sr_store *st, const uint8_t hash[32], struct sr_worker_row *out,
                        sr_err *err)
{
    return get_row((struct pg_store *)st, NULL, hash, out, err);
}

struct reg_arg {
    const uint8_t *hash;
    const struct sr_worker_reg *r;
    struct sr_worker_row *out;
};

static sr_status
tx_register(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct reg_arg *a = arg;
    struct sr_worker_row cur;
    sr_status rc = get_row(s, c, a->hash, &cur, err);
    if (rc != SR_OK)
        return rc;
    if (cur.state == SR_WORKER_REVOKED)
        return sr_err_set(err, SR_EFORBIDDEN, "worker '%s' is revoked", cur.id);
    if (cur.public_key[0] && strcmp(cur.public_key, a->r->public_key) != 0)
        return sr_err_set(err, SR_ECONFLICT,
                          "worker token '%s' is bound to another key (%.16s...); a worker "
                          "registers once per token: make a new token for a new key",
                          cur.id, cur.public_key);
    struct pg_args u = {0};
    sr_store__pg_blob(&u, a->hash, 32);
    sr_store__pg_text(&u, a->r->public_key);
    sr_store__pg_text(&u, a->r->measurement);
    sr_store__pg_text(&u, a->r->attestation);
    sr_store__pg_text(&u, a->r->version);
    sr_store__pg_int(&u, a->r->now_ms);
    rc = sr_store__pg_run(s, c, PG_WORKER_REGISTER, &u, NULL, "cannot register a worker", err);
    return rc == SR_OK ? get_row(s, c, a->hash, a->out, err) : rc;
}

sr_status
sr_store__pg_worker_register(sr_store *st, const uint8_t hash[32], const struct sr_worker_reg *r,
                             struct sr_worker_row *out, sr_err *err)
{
    struct sr_worker_row row;
    struct reg_arg a = {hash, r, &row};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_register, &a, err);
    if (rc == SR_OK)
        *out = row;
    return rc;
}

sr_status
sr_store__pg_worker_seen(sr_store *st, const uint8_t hash[32], int64_t now_ms, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_blob(&a, hash, 32);
    sr_store__pg_int(&a, now_ms);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_WORKER_SEEN, &a, &res,
                                     "cannot record a request of a worker", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker token not found or revoked");
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_worker_list(sr_store *st, struct sr_worker_row **rows, size_t *n, sr_err *err)
{
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_WORKER_LIST, NULL, &res,
                                     "cannot list workers", err);
    if (rc != SR_OK)
        return rc;
    int k = PQntuples(res);
    struct sr_worker_row *v = calloc((size_t)k + 1, sizeof(*v));
    uint8_t h[32];
    if (!v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing %d workers", k);
    for (int i = 0; rc == SR_OK && i < k; i++)
        rc = read_worker(res, i, &v[i], h, err);
    PQclear(res);
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    *rows = v;
    *n = (size_t)k;
    return SR_OK;
}

struct state_arg {
    const char *prefix;
    enum sr_worker_state state;
    int64_t now_ms;
    struct sr_worker_row *out;
};

static sr_status
tx_state(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct state_arg *t = arg;
    struct pg_args a = {0};
    sr_store__pg_text(&a, t->prefix);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_WORKER_MATCH, &a, &res, "cannot look up a worker", err);
    if (rc != SR_OK)
        return rc;
    int n = PQntuples(res);
    uint8_t hash[32];
    struct sr_worker_row cur;
    if (n == 0)
        rc = sr_err_set(err, SR_ENOTFOUND, "worker '%s' not found", t->prefix);
    else if (n > 1)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "worker id '%s' is ambiguous: it matches more than one worker; give "
                        "more characters",
                        t->prefix);
    else
        rc = read_worker(res, 0, &cur, hash, err);
    PQclear(res);
    if (rc == SR_OK && cur.state == SR_WORKER_REVOKED)
        rc = sr_err_set(err, SR_ECONFLICT, "worker '%s' is revoked already", cur.id);
    if (rc != SR_OK)
        return rc;
    struct pg_args u = {0};
    sr_store__pg_blob(&u, hash, sizeof(hash));
    sr_store__pg_text(&u, sr_worker_state_name(t->state));
    sr_store__pg_int(&u, t->now_ms);
    rc = sr_store__pg_run(s, c, PG_WORKER_STATE, &u, NULL, "cannot change a worker", err);
    return rc == SR_OK ? get_row(s, c, hash, t->out, err) : rc;
}

sr_status
sr_store__pg_worker_set_state(sr_store *st, const char *id_prefix, enum sr_worker_state state,
                              int64_t now_ms, struct sr_worker_row *out, sr_err *err)
{
    struct sr_worker_row row;
    struct state_arg a = {id_prefix, state, now_ms, &row};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_state, &a, err);
    if (rc == SR_OK && out)
        *out = row;
    return rc;
}
