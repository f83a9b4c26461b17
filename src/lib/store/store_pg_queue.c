/* SPDX-License-Identifier: MIT
 *
 * store_pg_queue.c - the cluster queue on PostgreSQL (sr_store.h "the
 * cluster queue"): bounded enqueue, leased start and claim, renewal, the
 * fenced finish, the take-over of expired leases, LISTEN/NOTIFY wake-ups,
 * and the daemons' heartbeat rows.
 *
 * Per-user caps: a claim or start counts the owner's running jobs under
 * the transaction-level advisory lock "run:<owner>" (a claim only tries
 * it and passes over an owner another daemon is claiming for), an enqueue
 * counts queued jobs under "queue:<owner>"; the count and the write commit
 * together, so no two daemons pass a cap together. Claims lock their
 * candidate rows FOR UPDATE SKIP LOCKED: daemons claiming at once take
 * different jobs. Every claim and take-over adds one to the job's fence;
 * the finish matches holder and fence in its WHERE, so a daemon whose lease
 * was taken over (it stalled past its lease) writes nothing.
 */
#include "store_pg_int.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANNEL "sealrun_jobs"

static sr_status
owner_count(struct pg_store *s, struct pg_conn *c, const char *owner, const char *state, int64_t *n,
            sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, state);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_QUEUE_COUNT, &a, &res, "cannot count jobs", err);
    *n = rc == SR_OK ? sr_store__pg_col_int(res, 0, 0) : 0;
    PQclear(res);
    return rc;
}

static sr_status
lock_named(struct pg_store *s, struct pg_conn *c, const char *kind, const char *owner, sr_err *err)
{
    char name[SR_ERR_MSG_MAX];
    (void)snprintf(name, sizeof(name), "%s:%s", kind, owner);
    return sr_store__pg_lock(s, c, name, err);
}

/* --- enqueue and start --- */

struct insert_arg {
    const uint8_t *key;
    const struct sr_job_row *row;
    unsigned cap;
    struct sr_lease *lease; /* NULL: enqueue */
};

static sr_status
tx_insert(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct insert_arg *t = arg;
    const struct sr_job_row *r = t->row;
    const char *kind = t->lease ? "run" : "queue";
    int64_t n = 0;
    sr_status rc = lock_named(s, c, kind, r->owner, err);
    if (rc == SR_OK)
        rc = owner_count(s, c, r->owner, t->lease ? "running" : "queued", &n, err);
    if (rc == SR_OK && t->cap && n >= (int64_t)t->cap)
        return t->lease ? sr_err_set(err, SR_EBUSY,
                                     "user '%s' already has %u running jobs (the limit); retry "
                                     "later or submit with \"async\": true",
                                     r->owner, t->cap)
                        : sr_err_set(err, SR_EBUSY,
                                     "user '%s' already has %u queued jobs (the limit); retry "
                                     "later",
                                     r->owner, t->cap);
    uint8_t *req = NULL, *result = NULL;
    struct pg_args a = {0};
    if (rc == SR_OK)
        rc = sr_store__pg_job_args(t->key, r, true, &a, &req, &result, err);
    if (t->lease) {
        sr_store__pg_text(&a, t->lease->holder);
        sr_store__pg_int(&a, t->lease->until_ms);
    }
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, t->lease ? PG_JOB_INSERT_LEASED : PG_JOB_INSERT, &a, NULL,
                              "cannot insert a job", err);
    free(req);
    free(result);
    if (rc == SR_ECONFLICT)
        return sr_err_set(err, SR_ECONFLICT, "job '%s' exists already", r->id);
    if (rc == SR_OK && !t->lease) /* delivered at commit */
        rc = sr_store__pg_run(s, c, PG_NOTIFY, NULL, NULL, "cannot wake the daemons", err);
    if (rc == SR_OK && t->lease)
        t->lease->fence = 1;
    return rc;
}

sr_status
sr_store__pg_job_enqueue(sr_store *st, const struct sr_job_row *row, unsigned max_queued,
                         sr_err *err)
{
    struct insert_arg a = {st->seal_key, row, max_queued, NULL};
    return sr_store__pg_tx((struct pg_store *)st, tx_insert, &a, err);
}

sr_status
sr_store__pg_job_start(sr_store *st, const struct sr_job_row *row, unsigned max_running,
                       struct sr_lease *lease, sr_err *err)
{
    struct insert_arg a = {st->seal_key, row, max_running, lease};
    return sr_store__pg_tx((struct pg_store *)st, tx_insert, &a, err);
}

/* --- claim --- */

struct claim_arg {
    const uint8_t *key;
    int64_t now_ms;
    unsigned cap;
    struct sr_lease *lease;
    struct sr_job_row *out;
    bool found;
};

/* Whether owner may have one more job running now: its lock is free (no
 * other daemon is claiming or starting one of its jobs) and it runs fewer
 * than the cap. */
static sr_status
owner_can_run(struct pg_store *s, struct pg_conn *c, const char *owner, unsigned cap, bool *yes,
              sr_err *err)
{
    char name[SR_ERR_MSG_MAX];
    (void)snprintf(name, sizeof(name), "run:%s", owner);
    bool got = false;
    int64_t running = 0;
    sr_status rc = sr_store__pg_try_lock(s, c, name, &got, err);
    if (rc == SR_OK && got)
        rc = owner_count(s, c, owner, "running", &running, err);
    *yes = rc == SR_OK && got && (!cap || running < (int64_t)cap);
    return rc;
}

static sr_status
claim_row(struct pg_store *s, struct pg_conn *c, struct claim_arg *t, const char *id,
          const char *owner, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_int(&a, t->now_ms);
    sr_store__pg_text(&a, t->lease->holder);
    sr_store__pg_int(&a, t->lease->until_ms);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run(s, c, PG_CLAIM_ONE, &a, &res, "cannot claim a job", err);
    if (rc == SR_OK && PQntuples(res) == 1) {
        rc = sr_store__pg_read_job(t->key, res, 0, t->out, err);
        t->lease->fence = (uint64_t)sr_store__pg_col_int(res, 0, 13);
        t->found = rc == SR_OK;
    }
    PQclear(res);
    struct pg_args u = {0};
    sr_store__pg_text(&u, owner);
    sr_store__pg_int(&u, t->now_ms);
    if (rc == SR_OK && t->found) /* the owner goes to the back of the turn */
        rc = sr_store__pg_run(s, c, PG_TURN_PUT, &u, NULL, "cannot record a turn", err);
    return rc;
}

static sr_status
tx_claim(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    struct claim_arg *t = arg;
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run(s, c, PG_CLAIM_CANDIDATES, NULL, &res, "cannot read the queue", err);
    int n = rc == SR_OK ? PQntuples(res) : 0;
    for (int i = 0; rc == SR_OK && i < n && !t->found; i++) {
        bool yes = false;
        rc = owner_can_run(s, c, PQgetvalue(res, i, 1), t->cap, &yes, err);
        if (rc == SR_OK && yes)
            rc = claim_row(s, c, t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), err);
    }
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_job_claim(sr_store *st, int64_t now_ms, unsigned max_running, struct sr_lease *lease,
                       struct sr_job_row *out, sr_err *err)
{
    struct claim_arg a = {st->seal_key, now_ms, max_running, lease, out, false};
    sr_status rc = sr_store__pg_tx((struct pg_store *)st, tx_claim, &a, err);
    if (rc == SR_OK && !a.found)
        return sr_err_set(err, SR_ENOTFOUND, "no queued job can run now");
    if (rc != SR_OK && a.found)
        sr_job_row_fini(out);
    return rc;
}

/* --- renew and finish --- */

sr_status
sr_store__pg_job_renew(sr_store *st, const char *id, const struct sr_lease *lease, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, (int64_t)lease->fence);
    sr_store__pg_int(&a, lease->until_ms);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOB_RENEW, &a, &res,
                                     "cannot renew a lease", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ECONFLICT, "the lease of job '%s' (fence %llu) is no longer held",
                        id, (unsigned long long)lease->fence);
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_job_finish(sr_store *st, const struct sr_job_row *row, const struct sr_lease *lease,
                        sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    uint8_t *req = NULL, *result = NULL;
    struct pg_args a = {0};
    sr_status rc = sr_store__pg_job_args(st->seal_key, row, false, &a, &req, &result, err);
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, (int64_t)lease->fence);
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run1(s, PG_JOB_FINISH, &a, &res, "cannot store a job's end", err);
    if (rc == SR_OK && sr_store__pg_changes(res) == 0)
        rc = sr_err_set(err, SR_ECONFLICT,
                        "job '%s' was taken over (its lease, fence %llu, is no longer held): "
                        "nothing written",
                        row->id, (unsigned long long)lease->fence);
    PQclear(res);
    free(req);
    free(result);
    struct pg_args o = {0};
    sr_store__pg_text(&o, row->owner);
    if (rc == SR_OK) /* a slot is free: the owner's queued job may run now */
        (void)sr_store__pg_run1(s, PG_NOTIFY_OWNER, &o, NULL, "cannot wake the daemons", NULL);
    return rc;
}

struct end_arg {
    const uint8_t *key;
    const struct sr_job_end *end;
    struct sr_kv_result *res;
};

/* The write set first, under the owner's storage lock (nothing is written
 * when the namespace moved or a quota refuses it), then the row, fenced
 * when leased: a failure of either rolls back both. */
static sr_status
tx_end(struct pg_store *s, struct pg_conn *c, void *arg, sr_err *err)
{
    const struct end_arg *t = arg;
    const struct sr_job_end *end = t->end;
    const struct sr_job_row *row = end->row;
    sr_status rc = SR_OK;
    if (end->kv) {
        rc = sr_store__pg_kv_apply(s, c, end->kv, t->res, err);
        if (rc != SR_OK || t->res->moved)
            return rc;
    }
    bool insert = end->insert && !end->lease;
    uint8_t *req = NULL, *result = NULL;
    struct pg_args a = {0};
    rc = sr_store__pg_job_args(t->key, row, insert, &a, &req, &result, err);
    if (end->lease) {
        sr_store__pg_text(&a, end->lease->holder);
        sr_store__pg_int(&a, (int64_t)end->lease->fence);
    }
    enum pg_stmt id = end->lease ? PG_JOB_FINISH : insert ? PG_JOB_INSERT : PG_JOB_UPDATE;
    PGresult *res = NULL;
    if (rc == SR_OK)
        rc = sr_store__pg_run(s, c, id, &a, &res, "cannot store a job's end", err);
    if (rc == SR_ECONFLICT && insert)
        rc = sr_err_set(err, SR_ECONFLICT, "job '%s' exists already", row->id);
    if (rc == SR_OK && !insert && sr_store__pg_changes(res) == 0)
        rc = end->lease ? sr_err_set(err, SR_ECONFLICT,
                                     "job '%s' was taken over (its lease, fence %llu, is no "
                                     "longer held): nothing written",
                                     row->id, (unsigned long long)end->lease->fence)
                        : sr_err_set(err, SR_ENOTFOUND, "job '%s' not found", row->id);
    PQclear(res);
    free(req);
    free(result);
    return rc;
}

sr_status
sr_store__pg_job_end(sr_store *st, const struct sr_job_end *end, struct sr_kv_result *res,
                     sr_err *err)
{
    struct pg_store *s = (struct pg_store *)st;
    struct end_arg a = {st->seal_key, end, res};
    sr_status rc = sr_store__pg_tx(s, tx_end, &a, err);
    if (rc != SR_OK && rc != SR_ELIMIT && res) /* ELIMIT keeps which quota */
        memset(res, 0, sizeof(*res));
    struct pg_args o = {0};
    sr_store__pg_text(&o, end->row->owner);
    if (rc == SR_OK && end->lease && !(res && res->moved)) /* a slot is free */
        (void)sr_store__pg_run1(s, PG_NOTIFY_OWNER, &o, NULL, "cannot wake the daemons", NULL);
    return rc;
}

/* --- take-over --- */

/* The rows and fences of a take-over's RETURNING. Owned arrays. */
static sr_status
rows_of(sr_store *st, const PGresult *res, struct sr_job_row **rows, uint64_t **fences, size_t *n,
        sr_err *err)
{
    size_t k = (size_t)PQntuples(res), i = 0;
    struct sr_job_row *v = calloc(k + 1, sizeof(*v));
    uint64_t *f = calloc(k + 1, sizeof(*f));
    sr_status rc =
        v && f ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory taking over %zu jobs", k);
    for (; rc == SR_OK && i < k; i++) {
        rc = sr_store__pg_read_job(st->seal_key, res, (int)i, &v[i], err);
        f[i] = (uint64_t)sr_store__pg_col_int(res, (int)i, 13);
    }
    if (rc != SR_OK) {
        for (size_t j = 0; v && j < i; j++)
            sr_job_row_fini(&v[j]);
        free(v);
        free(f);
        return rc;
    }
    *rows = v;
    *fences = f;
    *n = k;
    return SR_OK;
}

sr_status
sr_store__pg_jobs_expired(sr_store *st, int64_t now_ms, const struct sr_lease *lease, size_t max,
                          struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, now_ms);
    sr_store__pg_int(&a, lease->until_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOBS_EXPIRED, &a, &res,
                                     "cannot take over expired jobs", err);
    rc = rc == SR_OK ? rows_of(st, res, rows, fences, n, err) : rc;
    PQclear(res);
    return rc;
}

sr_status
sr_store__pg_jobs_reclaim(sr_store *st, const struct sr_lease *lease, size_t max,
                          struct sr_job_row **rows, uint64_t **fences, size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, lease->until_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOBS_RECLAIM, &a, &res,
                                     "cannot reclaim this daemon's jobs", err);
    rc = rc == SR_OK ? rows_of(st, res, rows, fences, n, err) : rc;
    PQclear(res);
    return rc;
}

/* --- cancel and expiry --- */

sr_status
sr_store__pg_job_take(sr_store *st, const char *owner, const char *id, struct sr_lease *lease,
                      struct sr_job_row *out, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, id);
    sr_store__pg_text(&a, owner);
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, lease->until_ms);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, PG_JOB_TAKE, &a, &res, "cannot take a job", err);
    bool took = rc == SR_OK && PQntuples(res) == 1;
    if (took) {
        rc = sr_store__pg_read_job(st->seal_key, res, 0, out, err);
        lease->fence = (uint64_t)sr_store__pg_col_int(res, 0, 13);
    }
    PQclear(res);
    if (rc != SR_OK || took)
        return rc;
    /* not queued or running: missing, another owner's, or ended */
    struct sr_job_row r = {0};
    rc = sr_store_job_get(st, owner, id, &r, err);
    if (rc == SR_OK)
        rc = sr_err_set(err, SR_ECONFLICT, "job '%s' has already ended: it is %s", id,
                        sr_job_state_name(r.state));
    sr_job_row_fini(&r);
    return rc;
}

sr_status
sr_store__pg_jobs_stale(sr_store *st, int64_t created_before_ms, const struct sr_lease *lease,
                        size_t max, struct sr_job_row **rows, uint64_t **fences, size_t *n,
                        sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, lease->holder);
    sr_store__pg_int(&a, created_before_ms);
    sr_store__pg_int(&a, lease->until_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc = sr_store__pg_run1((struct pg_store *)st, PG_JOBS_STALE, &a, &res,
                                     "cannot expire queued jobs", err);
    rc = rc == SR_OK ? rows_of(st, res, rows, fences, n, err) : rc;
    PQclear(res);
    return rc;
}

/* --- wake-ups --- */

static bool
listener_ready(struct pg_store *s)
{
    if (s->listener && PQstatus(s->listener) == CONNECTION_OK)
        return true;
    if (s->listener)
        PQfinish(s->listener);
    s->listener = NULL;
    PGconn *db = NULL;
    if (sr_store__pg_connect(s, &db, NULL) != SR_OK)
        return false;
    PGresult *r = PQexec(db, "LISTEN " CHANNEL);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        PQfinish(db);
        return false;
    }
    s->listener = db;
    return true;
}

static bool
drain_notifies(PGconn *db)
{
    bool any = false;
    PGnotify *n;
    while ((n = PQnotifies(db))) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

bool
sr_store__pg_wait_jobs(sr_store *st, int timeout_ms)
{
    struct pg_store *s = (struct pg_store *)st;
    pthread_mutex_lock(&s->lmu);
    bool ready = listener_ready(s);
    bool any = false;
    if (ready) {
        (void)PQconsumeInput(s->listener);
        any = drain_notifies(s->listener);
        struct pollfd p = {.fd = PQsocket(s->listener), .events = POLLIN};
        if (!any && p.fd >= 0 && poll(&p, 1, timeout_ms) > 0) {
            if (PQconsumeInput(s->listener) == 1)
                any = drain_notifies(s->listener);
            else
                any = true; /* the connection broke: wake the callers, they will see */
        }
    }
    pthread_mutex_unlock(&s->lmu);
    if (!ready) /* unreachable: wait as long as a wake-up would have */
        (void)poll(NULL, 0, timeout_ms);
    return any;
}

/* --- heartbeats --- */

sr_status
sr_store__pg_daemon_beat(sr_store *st, const struct sr_daemon_row *d, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_text(&a, d->id);
    sr_store__pg_text(&a, d->public_key);
    sr_store__pg_text(&a, d->measurement);
    sr_store__pg_text(&a, d->version);
    sr_store__pg_int(&a, d->started_at_ms);
    sr_store__pg_int(&a, d->heartbeat_at_ms);
    return sr_store__pg_run1((struct pg_store *)st, PG_DAEMON_BEAT, &a, NULL,
                             "cannot record a heartbeat", err);
}

sr_status
sr_store__pg_daemons(sr_store *st, int64_t since_ms, size_t max, struct sr_daemon_row **rows,
                     size_t *n, sr_err *err)
{
    struct pg_args a = {0};
    sr_store__pg_int(&a, since_ms);
    sr_store__pg_int(&a, (int64_t)max);
    PGresult *res = NULL;
    sr_status rc =
        sr_store__pg_run1((struct pg_store *)st, PG_DAEMONS, &a, &res, "cannot list daemons", err);
    size_t k = rc == SR_OK ? (size_t)PQntuples(res) : 0;
    struct sr_daemon_row *v = rc == SR_OK ? calloc(k + 1, sizeof(*v)) : NULL;
    if (rc == SR_OK && !v)
        rc = sr_err_set(err, SR_ENOMEM, "out of memory listing daemons");
    for (size_t i = 0; rc == SR_OK && i < k; i++) {
        (void)snprintf(v[i].id, sizeof(v[i].id), "%s", PQgetvalue(res, (int)i, 0));
        (void)snprintf(v[i].public_key, sizeof(v[i].public_key), "%s", PQgetvalue(res, (int)i, 1));
        (void)snprintf(v[i].measurement, sizeof(v[i].measurement), "%s",
                       PQgetvalue(res, (int)i, 2));
        (void)snprintf(v[i].version, sizeof(v[i].version), "%s", PQgetvalue(res, (int)i, 3));
        v[i].started_at_ms = sr_store__pg_col_int(res, (int)i, 4);
        v[i].heartbeat_at_ms = sr_store__pg_col_int(res, (int)i, 5);
    }
    PQclear(res);
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    *rows = v;
    *n = k;
    return SR_OK;
}
