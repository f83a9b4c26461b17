/* SPDX-License-Identifier: MIT
 *
 * server_int.h - private pieces of the HTTP server (server.c) shared with
 * its parts: the request checks (edge.c), the thread lanes (server_lane.c)
 * and the connection table with its deadlines (server_conn.c).
 * docs/security-model.md, "The HTTP edge", says what they guarantee.
 */
#ifndef SR_SERVER_INT_H
#define SR_SERVER_INT_H

#include "api_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include "sealrun/sr_limits.h"

/* --- edge.c: what a request must look like ------------------------------ */

/* One header field as the parser holds it (borrowed, not NUL-terminated). */
struct sr_api_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* What the server takes from the checked fields. */
struct sr_api_framing {
    const char *authorization; /* borrowed from the fields; NULL = absent */
    const char *content_type;  /* likewise */
    bool chunked;              /* Transfer-Encoding: chunked */
    bool has_length;           /* Content-Length was given */
    uint64_t content_length;   /* bytes */
};

/* A request target split and percent-decoded. */
struct sr_api_target {
    char *buf;        /* owned: every decoded part, NUL-separated */
    const char *path; /* starts with '/', no NUL, valid UTF-8 */
    struct sr_api_query query[SR_HTTP_MAX_QUERY_PARAMS];
    size_t nquery;
};

bool sr_api__is_token(const char *p, size_t n);
bool sr_api__is_utf8(const char *s, size_t n);

/* Parses raw[0..len) (origin form). SR_EINVAL names the offending byte or
 * part, SR_ELIMIT a target over SR_HTTP_MAX_TARGET (answer 414), SR_ENOMEM.
 * On SR_OK *out owns a buffer: sr_api__target_fini(). */
sr_status sr_api__target_parse(const char *raw, size_t len, struct sr_api_target *out, sr_err *err);
void sr_api__target_fini(struct sr_api_target *t);
/* The value of query parameter 'key', or NULL. Borrowed from t. */
const char *sr_api__target_query(const struct sr_api_target *t, const char *key);

/* The request line as libmicrohttpd 0.9.75 hands it over: method, target and
 * version are C strings in one buffer, where the two spaces were. 0 when it
 * is well-formed, else the status to answer (400, 505) with err set. */
unsigned sr_api__request_line_check(const char *method, const char *target, size_t target_len,
                                    const char *version, sr_err *err);

/* Checks the n header fields of a request (names, values, sizes, the
 * singletons, Host, and the framing: RFC 9112 6). 0 and *out filled when
 * they are acceptable, else the status to answer (400, 431) with err set. */
unsigned sr_api__fields_check(const struct sr_api_field *f, size_t n, bool http10,
                              struct sr_api_framing *out, sr_err *err);

/* Whether the header block [line_end, end) holds exactly the fields f[0..n)
 * in order, as libmicrohttpd 0.9.75 parses it in place: every CR and LF of a
 * line end and each field's ':' became a NUL, and a name and its value are
 * C strings. A NUL the client sent inside a line shows up as bytes the
 * fields do not account for, as does obsolete line folding. line_end points
 * just past the request line's version; end just past the empty line.
 * A NUL right before a line's bare LF cannot be told from the CR of a CRLF
 * and passes; it hides nothing, since the line ends there anyway. */
bool sr_api__block_check(const char *line_end, const char *end, const struct sr_api_field *f,
                         size_t n);

/* --- server_lane.c: threads that run requests ---------------------------- */

/* Work for a lane, embedded in the request it belongs to. */
struct sr_server__task {
    struct sr_server__task *next;
    void (*run)(struct sr_server__task *t);
};

/* A queue served by up to max_threads threads, started when work waits and
 * ending after SR_SERVER_LANE_IDLE_S without any. Thread-safe. */
typedef struct sr_server__lane sr_server__lane;

sr_status sr_server__lane_new(unsigned max_threads, sr_server__lane **out, sr_err *err);
/* Queues t: a lane thread calls t->run(t), in order of arrival. false when
 * the lane is stopping or no thread can be started (t is not queued). */
bool sr_server__lane_push(sr_server__lane *l, struct sr_server__task *t);
/* Refuses new work and waits until the queued and running tasks are done. */
void sr_server__lane_stop(sr_server__lane *l);
/* Stops the lane if needed and frees it. NULL is a no-op. */
void sr_server__lane_free(sr_server__lane *l);

#define SR_SERVER_LANE_IDLE_S 30
/* At shutdown: how long answers already made may take to be sent. */
#define SR_SERVER_DRAIN_MS 5000

/* --- server_conn.c: every open connection and its deadline ---------------- */

enum sr_conn_phase {
    SR_CONN_HEAD, /* waiting for a request line and headers: header deadline */
    SR_CONN_BODY, /* reading a body: body deadline */
    SR_CONN_RUN,  /* the request runs on a lane thread: no deadline */
    SR_CONN_SEND, /* sending the answer: body deadline */
};

/* One open connection. Every field is guarded by the table's lock. */
struct sr_server__conn {
    struct MHD_Connection *c; /* NULL: the slot is free */
    int fd;                   /* valid until the CLOSED notification, which frees the slot */
    enum sr_conn_phase phase;
    int64_t since_ms;    /* monotonic; when the phase began */
    int64_t deadline_ms; /* monotonic; 0 = none */
    bool proven;         /* a request with a valid token was read on it */
    bool answered;       /* an answer was sent: now waiting between requests */
    bool cut;            /* shut down by the watchdog or for a newcomer */
    int next_free;
};

/* The table: capacity = libmicrohttpd's connection limit, so every accepted
 * connection has a slot. A watchdog thread shuts down (shutdown(2)) those
 * past their deadline; the CLOSED notification frees a slot under the lock
 * before libmicrohttpd closes the descriptor, so a descriptor number is
 * never used after it may have been reused. */
struct sr_server__conns {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t watchdog;
    bool started;
    bool stop;
    struct sr_server__conn *slots;
    size_t cap;      /* slots */
    size_t soft_cap; /* beyond this many open, a newcomer replaces the oldest unproven one */
    size_t used;     /* slots in use, cut ones included until they close */
    size_t ncut;     /* of those, cut and not yet closed */
    int free_head;
    int64_t header_ms;
    int64_t body_ms;
    char *timeout_head; /* the 408 answers, built once */
    char *timeout_body;
    size_t timeout_head_len;
    size_t timeout_body_len;
    /* counters for the log, reset by each report */
    unsigned cut_head, cut_body, cut_send, evicted, refused;
};

sr_status sr_server__conns_init(struct sr_server__conns *t, size_t soft_cap, size_t cap,
                                unsigned header_s, unsigned body_s, sr_err *err);
/* Starts the watchdog thread. */
sr_status sr_server__conns_start(struct sr_server__conns *t, sr_err *err);
/* Stops the watchdog and frees the table. Safe on a zeroed or failed init. */
void sr_server__conns_fini(struct sr_server__conns *t);
/* A new connection (NOTIFY_CONNECTION STARTED): its slot, in phase HEAD. */
struct sr_server__conn *sr_server__conn_open(struct sr_server__conns *t, struct MHD_Connection *c,
                                             int fd);
/* The CLOSED notification: frees the slot. NULL is a no-op. */
void sr_server__conn_close(struct sr_server__conns *t, struct sr_server__conn *k);
/* Enters a phase; its deadline starts now. NULL is a no-op. */
void sr_server__conn_phase(struct sr_server__conns *t, struct sr_server__conn *k,
                           enum sr_conn_phase phase);
/* Marks the connection as carrying a valid token: never replaced. */
void sr_server__conn_prove(struct sr_server__conns *t, struct sr_server__conn *k);
/* Waits, at most timeout_ms, until no connection is running a request or
 * sending an answer (at shutdown, once the lanes are drained). */
void sr_server__conns_drain(struct sr_server__conns *t, int64_t timeout_ms);
/* The accept policy: true when a new connection may be taken, after cutting
 * the oldest unproven idle one if the table is at soft_cap. */
bool sr_server__conn_admit(struct sr_server__conns *t);

#endif /* SR_SERVER_INT_H */
