/* SPDX-License-Identifier: MIT
 *
 * ratelimit.c - request-rate limits per token and per client address
 * (docs/accounts.md#rate-limits): one token bucket each, in GCRA form (one
 * "theoretical arrival time" per key). A bucket of L requests per minute
 * holds L (the burst) and refills one every 60/L s. The operator sets the
 * defaults (--rate-per-token, --rate-per-address) and per-user overrides
 * of the token limit (--rate-limits FILE).
 *
 * Buckets live in one fixed table (in stripes with a lock each) searched
 * over a fixed window of slots, keyed by the token's id or the address
 * (IPv4, or IPv6 /64), hashed with a random SipHash key: memory and time
 * per request are constant whatever clients do. A full window gives up a
 * bucket that is full again (it holds nothing), else the one closest to
 * full. Each daemon counts its own requests (a cluster's limit is per
 * daemon).
 */
#include "api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sodium.h>
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define WINDOW 8 /* slots searched per lookup */
/* The table is cut into stripes, each with its own lock and holding whole
 * windows, so requests on different keys rarely wait for one lock. */
#define STRIPES 16
#define STRIPE_SLOTS (SR_HTTP_RATE_SLOTS / STRIPES)
#define KEY_LEN SR_API_RATE_KEY_LEN
#define FILE_MAX (1u << 20) /* bytes of a --rate-limits file */
#define USERS_MAX 100000    /* users in it */

struct slot {
    uint8_t key[KEY_LEN]; /* 't' + 16 hex of a token id, or 'a' + an address key */
    bool used;
    int64_t tat_us; /* the bucket is full again at this time */
};

struct user_rate {
    char *name;
    unsigned per_min; /* 0 = no limit */
};

struct sr_api__rates {
    pthread_mutex_t lock[STRIPES];
    unsigned per_token;      /* requests per minute; 0 = no limit */
    unsigned per_address;    /* likewise */
    struct user_rate *users; /* sorted by name */
    size_t nusers;
    uint8_t sipkey[crypto_shorthash_KEYBYTES];
    struct slot slots[SR_HTTP_RATE_SLOTS];
};

static int
cmp_user(const void *a, const void *b)
{
    return strcmp(((const struct user_rate *)a)->name, ((const struct user_rate *)b)->name);
}

static sr_status
read_capped(const char *path, char **out, size_t *out_len, sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EINVAL, "cannot open rate limits file '%s': %s", path,
                          sr_errno_text(errno));
    char *buf = malloc(FILE_MAX + 1);
    size_t len = 0;
    ssize_t n = 1;
    while (buf && n > 0 && len <= FILE_MAX) {
        n = read(fd, buf + len, FILE_MAX + 1 - len);
        len += n > 0 ? (size_t)n : 0;
    }
    int e = errno;
    (void)close(fd);
    if (!buf)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
    if (n < 0 || len > FILE_MAX) {
        free(buf);
        return n < 0 ? sr_err_set(err, SR_EINVAL, "cannot read '%s': %s", path, sr_errno_text(e))
                     : sr_err_set(err, SR_EINVAL, "rate limits file '%s' is over %u bytes", path,
                                  FILE_MAX);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return SR_OK;
}

/* {"users": {"NAME": {"per_token": N}, ...}}; N 0..60000 (0: no limit). */
static sr_status
parse_users(const json_t *root, const char *path, struct sr_api__rates *r, sr_err *err)
{
    const json_t *users = json_object_get(root, "users");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_object(users))
        return sr_err_set(err, SR_EINVAL,
                          "rate limits file '%s' must be {\"users\": {\"NAME\": {\"per_token\": "
                          "N}, ...}}",
                          path);
    if (json_object_size(users) > USERS_MAX)
        return sr_err_set(err, SR_EINVAL, "rate limits file '%s' names over %d users", path,
                          USERS_MAX);
    r->users = calloc(json_object_size(users) + 1, sizeof(*r->users));
    if (!r->users)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)users, name, v)
    {
        const json_t *n = json_object_get(v, "per_token");
        if (!sr_is_user_name(name))
            return sr_err_set(err, SR_EINVAL, "rate limits file '%s': '%.64s' is not a user name",
                              path, name);
        if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_integer(n) ||
            json_integer_value(n) < 0 || json_integer_value(n) > SR_HTTP_MAX_RATE)
            return sr_err_set(err, SR_EINVAL,
                              "rate limits file '%s': user '%s' must be {\"per_token\": N}, N "
                              "requests per minute from 0 (no limit) to %d",
                              path, name, SR_HTTP_MAX_RATE);
        r->users[r->nusers].name = strdup(name);
        if (!r->users[r->nusers].name)
            return sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
        r->users[r->nusers++].per_min = (unsigned)json_integer_value(n);
    }
    qsort(r->users, r->nusers, sizeof(*r->users), cmp_user);
    return SR_OK;
}

sr_status
sr_api__rates_new(unsigned per_token, unsigned per_address, const char *users_file,
                  sr_api__rates **out, sr_err *err)
{
    if (per_token > SR_HTTP_MAX_RATE || per_address > SR_HTTP_MAX_RATE)
        return sr_err_set(err, SR_EINVAL, "rate limits must be 0..%d requests per minute",
                          SR_HTTP_MAX_RATE);
    sr_api__rates *r = calloc(1, sizeof(*r));
    if (!r)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the rate limiter");
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_init(&r->lock[i], NULL);
    r->per_token = per_token;
    r->per_address = per_address;
    randombytes_buf(r->sipkey, sizeof(r->sipkey));
    sr_status rc = SR_OK;
    if (users_file) {
        char *text = NULL;
        size_t len = 0;
        json_t *root = NULL;
        rc = read_capped(users_file, &text, &len, err);
        if (rc == SR_OK)
            rc = sr_json_parse(text, len, 8, users_file, &root, err);
        if (rc == SR_OK)
            rc = parse_users(root, users_file, r, err);
        json_decref(root);
        free(text);
    }
    if (rc != SR_OK) {
        sr_api__rates_free(r);
        return rc;
    }
    *out = r;
    return SR_OK;
}

void
sr_api__rates_free(sr_api__rates *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nusers; i++)
        free(r->users[i].name);
    free(r->users);
    for (size_t i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&r->lock[i]);
    free(r);
}

unsigned
sr_api__rate_of(const sr_api__rates *r, const char *user)
{
    if (!r)
        return 0;
    if (!r->nusers)
        return r->per_token;
    const struct user_rate k = {.name = (char *)(uintptr_t)user};
    const struct user_rate *u = bsearch(&k, r->users, r->nusers, sizeof(k), cmp_user);
    return u ? u->per_min : r->per_token;
}

unsigned
sr_api__rate_per_token(const sr_api__rates *r)
{
    return r ? r->per_token : 0;
}

unsigned
sr_api__rate_per_address(const sr_api__rates *r)
{
    return r ? r->per_address : 0;
}

static size_t
home(const sr_api__rates *r, const uint8_t key[KEY_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, KEY_LEN, r->sipkey);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (SR_HTTP_RATE_SLOTS - 1));
}

/* 0 free, 1 full again (holds nothing), 2 in use. */
static int
rank(const struct slot *s, int64_t now_us)
{
    return !s->used ? 0 : s->tat_us <= now_us ? 1 : 2;
}

/* The key's slot in the window from slot h: its own, else a free one,
 * else one full again, else the one that fills first (given up). Called
 * with the lock of h's stripe held. */
static struct slot *
find(sr_api__rates *r, const uint8_t key[KEY_LEN], size_t h, int64_t now_us)
{
    size_t base = h & ~(size_t)(STRIPE_SLOTS - 1);
    struct slot *best = NULL;
    for (size_t i = 0; i < WINDOW; i++) {
        struct slot *s = &r->slots[base | ((h + i) & (STRIPE_SLOTS - 1))];
        if (s->used && memcmp(s->key, key, KEY_LEN) == 0)
            return s;
        int rs = rank(s, now_us), rb = best ? rank(best, now_us) : 3;
        if (rs < rb || (rs == 2 && rb == 2 && s->tat_us < best->tat_us))
            best = s;
    }
    memcpy(best->key, key, KEY_LEN);
    best->used = true;
    best->tat_us = now_us;
    return best;
}

void
sr_api__rate_take(sr_api__rates *r, const uint8_t key[KEY_LEN], unsigned per_min, int64_t now_us,
                  struct sr_api__rate_answer *out)
{
    *out = (struct sr_api__rate_answer){.limit = per_min};
    if (!r || !per_min)
        return;
    const int64_t t = 60000000 / (int64_t)per_min; /* µs per request */
    const int64_t tolerance = ((int64_t)per_min - 1) * t;
    size_t h = home(r, key);
    pthread_mutex_t *lock = &r->lock[h / STRIPE_SLOTS];
    pthread_mutex_lock(lock);
    struct slot *s = find(r, key, h, now_us);
    int64_t tat = s->tat_us > now_us ? s->tat_us : now_us;
    if (tat - now_us > tolerance) {
        out->refused = true;
        out->retry_after_s = (unsigned)((tat - now_us - tolerance + 999999) / 1000000);
    } else {
        tat += t;
        s->tat_us = tat;
        out->remaining = (unsigned)((tolerance + t - (tat - now_us)) / t);
    }
    out->reset_s = (unsigned)((tat - now_us + 999999) / 1000000);
    pthread_mutex_unlock(lock);
}

void
sr_api__rate_key_token(const char id[17], uint8_t key[SR_API_RATE_KEY_LEN])
{
    memset(key, 0, SR_API_RATE_KEY_LEN);
    key[0] = 't';
    memcpy(key + 1, id, 16);
}

void
sr_api__rate_key_address(const struct sr_api_client *c, uint8_t key[SR_API_RATE_KEY_LEN])
{
    memset(key, 0, SR_API_RATE_KEY_LEN);
    key[0] = 'a';
    sr_api__addr_key(c, key + 1);
}
