/* SPDX-License-Identifier: MIT
 *
 * server_conn.c - every open connection, the deadline of the phase it is in,
 * and the watchdog that enforces it (docs/security-model.md, "The HTTP
 * edge").
 *
 * libmicrohttpd's own timeout restarts with every byte, so a client sending
 * one byte now and then would keep a connection forever. Here each phase has
 * a total: the request line and headers must arrive within the header
 * timeout (from the accept, or from the previous answer on a kept-alive
 * connection), a body within the body timeout, and an answer must be taken
 * by the client within the body timeout. A connection past its deadline is
 * shut down with shutdown(2), after a 408 when it was sending a request; its
 * I/O thread then sees the end of the stream and closes it.
 *
 * When every slot up to soft_cap is taken, a newcomer replaces the oldest
 * connection that has never carried a valid token and is not running a
 * request: without that, clients that never authenticate could hold every
 * connection for a header timeout at a time, again and again.
 *
 * Slots live in one array sized to libmicrohttpd's connection limit; one
 * lock guards them. The descriptor is used (send, shutdown) only under the
 * lock, and the CLOSED notification frees the slot under the lock before
 * libmicrohttpd closes the descriptor, so a reused number is never touched.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_log.h"
#include "sealrun/sr_util.h"

#define TICK_MS 250

static int64_t
now_ms(void)
{
    return sr_mono_us() / 1000;
}

/* A whole 408 answer: status line, headers and the JSON error body. */
static char *
timeout_answer(const char *message, size_t *len)
{
    json_t *b = sr_api_error_body(408, message);
    char *body = b ? sr_json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(b);
    if (!body)
        return NULL;
    size_t blen = strlen(body) + 1;
    size_t cap = blen + 160;
    char *out = malloc(cap);
    if (out) {
        int n = snprintf(out, cap,
                         "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: "
                         "application/json\r\nContent-Length: %zu\r\n\r\n%s\n",
                         blen, body);
        *len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
    }
    free(body);
    return out;
}

sr_status
sr_server__conns_init(struct sr_server__conns *t, size_t soft_cap, size_t cap, unsigned header_s,
                      unsigned body_s, sr_err *err)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    t->slots = calloc(cap, sizeof(*t->slots));
    if (!t->slots)
        return sr_err_set(err, SR_ENOMEM, "out of memory for %zu connection slots", cap);
    t->cap = cap;
    t->soft_cap = soft_cap;
    for (size_t i = 0; i < cap; i++)
        t->slots[i].next_free = i + 1 < cap ? (int)(i + 1) : -1;
    t->free_head = 0;
    t->header_ms = (int64_t)header_s * 1000;
    t->body_ms = (int64_t)body_s * 1000;
    char msg[160];
    (void)snprintf(msg, sizeof(msg),
                   "the request line and headers did not arrive within %u s; send them at once "
                   "(sealrund --header-timeout)",
                   header_s);
    t->timeout_head = timeout_answer(msg, &t->timeout_head_len);
    (void)snprintf(msg, sizeof(msg),
                   "the request body did not arrive within %u s (sealrund --body-timeout)", body_s);
    t->timeout_body = timeout_answer(msg, &t->timeout_body_len);
    if (!t->timeout_head || !t->timeout_body)
        return sr_err_set(err, SR_ENOMEM, "out of memory building the 408 answers");
    return SR_OK;
}

/* Shuts k down (lock held); with a 408 first when it was sending a
 * request, so that a slow but honest client learns why. */
static void
cut(struct sr_server__conns *t, struct sr_server__conn *k, bool answer)
{
    if (answer) {
        bool head = k->phase == SR_CONN_HEAD;
        const char *a = head ? t->timeout_head : t->timeout_body;
        size_t n = head ? t->timeout_head_len : t->timeout_body_len;
        /* Best effort: the socket is non-blocking and its buffer empty in
         * these phases; a client that does not read loses the answer. */
        (void)send(k->fd, a, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    (void)shutdown(k->fd, SHUT_RDWR);
    k->cut = true;
    t->ncut++;
}

/* One pass of the watchdog (lock held). */
static void
expire(struct sr_server__conns *t, int64_t now)
{
    for (size_t i = 0; i < t->cap; i++) {
        struct sr_server__conn *k = &t->slots[i];
        if (!k->c || k->cut || !k->deadline_ms || now < k->deadline_ms)
            continue;
        /* Between requests nothing was asked: close without an answer, as
         * a 408 could be read as the answer to a request sent meanwhile. */
        bool asking = k->phase == SR_CONN_BODY || (k->phase == SR_CONN_HEAD && !k->answered);
        if (k->phase == SR_CONN_HEAD)
            t->cut_head++;
        else if (k->phase == SR_CONN_BODY)
            t->cut_body++;
        else
            t->cut_send++;
        cut(t, k, asking);
    }
}

static void
report(struct sr_server__conns *t)
{
    unsigned h = t->cut_head, b = t->cut_body, s = t->cut_send, e = t->evicted, r = t->refused;
    if (!(h | b | s | e | r))
        return;
    t->cut_head = t->cut_body = t->cut_send = t->evicted = t->refused = 0;
    pthread_mutex_unlock(&t->lock);
    sr_log(SR_LOG_WARN, "http",
           "closed connections past their deadline: %u waiting for headers, %u sending a "
           "body, %u not taking an answer; %u replaced by newcomers; %u refused (all %zu "
           "taken)",
           h, b, s, e, r, t->soft_cap);
    pthread_mutex_lock(&t->lock);
}

static void *
watchdog_main(void *arg)
{
    struct sr_server__conns *t = arg;
    int64_t last_report = now_ms();
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&t->wake, &t->lock, &until);
        if (t->stop)
            break;
        int64_t now = now_ms();
        expire(t, now);
        if (now - last_report >= 10000) { /* at most one line per 10 s under attack */
            report(t);
            last_report = now;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

sr_status
sr_server__conns_start(struct sr_server__conns *t, sr_err *err)
{
    int rc = pthread_create(&t->watchdog, NULL, watchdog_main, t);
    if (rc != 0)
        return sr_err_set(err, SR_EIO, "cannot start the connection watchdog (error %d)", rc);
    t->started = true;
    return SR_OK;
}

void
sr_server__conns_fini(struct sr_server__conns *t)
{
    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_cond_signal(&t->wake);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->watchdog, NULL);
        t->started = false;
    }
    if (t->slots) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
    }
    free(t->slots);
    free(t->timeout_head);
    free(t->timeout_body);
    memset(t, 0, sizeof(*t));
}

/* Lock held. */
static void
set_phase(struct sr_server__conns *t, struct sr_server__conn *k, enum sr_conn_phase phase,
          int64_t now)
{
    k->phase = phase;
    k->since_ms = now;
    int64_t d = phase == SR_CONN_HEAD ? t->header_ms : phase == SR_CONN_RUN ? 0 : t->body_ms;
    k->deadline_ms = d ? now + d : 0;
}

struct sr_server__conn *
sr_server__conn_open(struct sr_server__conns *t, struct MHD_Connection *c, int fd)
{
    pthread_mutex_lock(&t->lock);
    struct sr_server__conn *k = NULL;
    if (t->free_head >= 0) {
        k = &t->slots[t->free_head];
        t->free_head = k->next_free;
        *k = (struct sr_server__conn){.c = c, .fd = fd, .next_free = -1};
        set_phase(t, k, SR_CONN_HEAD, now_ms());
        t->used++;
    }
    pthread_mutex_unlock(&t->lock);
    return k;
}

void
sr_server__conn_close(struct sr_server__conns *t, struct sr_server__conn *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&t->lock);
    if (k->cut)
        t->ncut--;
    k->c = NULL;
    k->fd = -1;
    k->next_free = t->free_head;
    t->free_head = (int)(k - t->slots);
    t->used--;
    pthread_mutex_unlock(&t->lock);
}

void
sr_server__conn_phase(struct sr_server__conns *t, struct sr_server__conn *k,
                      enum sr_conn_phase phase)
{
    if (!k)
        return;
    pthread_mutex_lock(&t->lock);
    if (phase == SR_CONN_HEAD && k->phase == SR_CONN_SEND)
        k->answered = true;
    set_phase(t, k, phase, now_ms());
    pthread_mutex_unlock(&t->lock);
}

void
sr_server__conn_prove(struct sr_server__conns *t, struct sr_server__conn *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&t->lock);
    k->proven = true;
    pthread_mutex_unlock(&t->lock);
}

void
sr_server__conns_drain(struct sr_server__conns *t, int64_t timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        size_t busy = 0;
        pthread_mutex_lock(&t->lock);
        for (size_t i = 0; i < t->cap; i++) {
            const struct sr_server__conn *k = &t->slots[i];
            busy += k->c && !k->cut && (k->phase == SR_CONN_RUN || k->phase == SR_CONN_SEND);
        }
        pthread_mutex_unlock(&t->lock);
        if (!busy || now_ms() >= until)
            return;
        struct timespec ts = {.tv_nsec = 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

bool
sr_server__conn_admit(struct sr_server__conns *t)
{
    pthread_mutex_lock(&t->lock);
    bool ok = t->used - t->ncut < t->soft_cap;
    if (!ok) {
        struct sr_server__conn *oldest = NULL;
        for (size_t i = 0; i < t->cap; i++) {
            struct sr_server__conn *k = &t->slots[i];
            if (!k->c || k->cut || k->proven ||
                (k->phase != SR_CONN_HEAD && k->phase != SR_CONN_SEND))
                continue;
            if (!oldest || k->since_ms < oldest->since_ms)
                oldest = k;
        }
        if (oldest) {
            cut(t, oldest, false);
            t->evicted++;
            ok = true;
        } else {
            t->refused++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return ok;
}
