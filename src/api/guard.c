/* SPDX-License-Identifier: MIT
 *
 * guard.c - what the HTTP edge remembers about clients between requests:
 *   1. failed authentication per client address, limited by a token bucket
 *      in GCRA form (one "theoretical arrival time" per address): N failures
 *      in a burst, then one more every 60/N s; successes cost nothing;
 *   2. the tokens seen valid lately (their SHA-256, for SR_HTTP_KNOWN_TOKEN_MS),
 *      which lets the server pick the authenticated thread lane and read a
 *      body without a store lookup. The router still checks every request's
 *      token in the store, so a revoked token is refused at once.
 * Both tables have a fixed size and are searched over a fixed window of
 * slots, so memory and time per request are constant whatever clients do;
 * a full window gives up its stalest entry. Addresses are keyed by IPv4
 * address or IPv6 /64 (one host usually has a whole /64), hashed with a
 * random SipHash key so that no client can choose collisions.
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"

#define WINDOW 8 /* slots searched per lookup */
#define KEY_LEN SR_API_ADDR_KEY_LEN

struct addr_slot {
    uint8_t key[KEY_LEN]; /* family tag, then 4 (IPv4) or 8 (IPv6 /64) bytes */
    bool used;
    int64_t tat_ms; /* the bucket is full again at this time */
};

struct token_slot {
    uint8_t hash[32];
    int64_t until_ms; /* 0 = empty */
};

struct sr_api_guard {
    pthread_mutex_t lock;
    int64_t interval_ms;  /* one failure's cost: 60000 / failures per minute */
    int64_t tolerance_ms; /* the burst: (failures per minute - 1) * interval */
    uint8_t sipkey[crypto_shorthash_KEYBYTES];
    struct addr_slot addrs[SR_HTTP_GUARD_SLOTS];
    struct token_slot tokens[SR_HTTP_KNOWN_TOKENS];
};

sr_status
sr_api__guard_new(unsigned failures_per_min, sr_api_guard **out, sr_err *err)
{
    if (failures_per_min < 1 || failures_per_min > 60000)
        return sr_err_set(err, SR_EINVAL,
                          "failed authentications per minute must be 1..60000, got %u",
                          failures_per_min);
    sr_api_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return sr_err_set(err, SR_ENOMEM, "out of memory creating the authentication limiter");
    pthread_mutex_init(&g->lock, NULL);
    g->interval_ms = 60000 / (int64_t)failures_per_min;
    g->tolerance_ms = ((int64_t)failures_per_min - 1) * g->interval_ms;
    randombytes_buf(g->sipkey, sizeof(g->sipkey));
    *out = g;
    return SR_OK;
}

void
sr_api__guard_free(sr_api_guard *g)
{
    if (!g)
        return;
    pthread_mutex_destroy(&g->lock);
    sodium_memzero(g->tokens, sizeof(g->tokens));
    free(g);
}

void
sr_api__addr_key(const struct sr_api_client *c, uint8_t key[SR_API_ADDR_KEY_LEN])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, KEY_LEN);
    if (c->family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, c->addr, 4);
    } else if (c->family == AF_INET6 && memcmp(c->addr, mapped, sizeof(mapped)) == 0) {
        key[0] = 4;
        memcpy(key + 1, c->addr + 12, 4);
    } else if (c->family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, c->addr, 8);
    }
}

static size_t
addr_home(const sr_api_guard *g, const uint8_t key[KEY_LEN])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, key, KEY_LEN, g->sipkey);
    uint64_t v;
    memcpy(&v, h, sizeof(v));
    return (size_t)(v & (SR_HTTP_GUARD_SLOTS - 1));
}

/* The address's slot, or NULL. Called with the lock held. */
static struct addr_slot *
addr_find(sr_api_guard *g, const uint8_t key[KEY_LEN])
{
    size_t home = addr_home(g, key);
    for (size_t i = 0; i < WINDOW; i++) {
        struct addr_slot *s = &g->addrs[(home + i) & (SR_HTTP_GUARD_SLOTS - 1)];
        if (s->used && memcmp(s->key, key, KEY_LEN) == 0)
            return s;
    }
    return NULL;
}

/* A slot for a new address: a free one, else one whose bucket is full again
 * (it says nothing any more), else the one that fills first. */
static struct addr_slot *
addr_take(sr_api_guard *g, const uint8_t key[KEY_LEN], int64_t now_ms)
{
    size_t home = addr_home(g, key);
    struct addr_slot *best = NULL;
    for (size_t i = 0; i < WINDOW; i++) {
        struct addr_slot *s = &g->addrs[(home + i) & (SR_HTTP_GUARD_SLOTS - 1)];
        if (!s->used || s->tat_ms <= now_ms) {
            best = s;
            break;
        }
        if (!best || s->tat_ms < best->tat_ms)
            best = s;
    }
    memcpy(best->key, key, KEY_LEN);
    best->used = true;
    best->tat_ms = now_ms;
    return best;
}

unsigned
sr_api__guard_wait(sr_api_guard *g, const struct sr_api_client *c, int64_t now_ms)
{
    if (!g)
        return 0;
    uint8_t key[KEY_LEN];
    sr_api__addr_key(c, key);
    unsigned wait_s = 0;
    pthread_mutex_lock(&g->lock);
    const struct addr_slot *s = addr_find(g, key);
    if (s && s->tat_ms - now_ms > g->tolerance_ms) {
        int64_t ms = s->tat_ms - now_ms - g->tolerance_ms;
        wait_s = (unsigned)((ms + 999) / 1000);
    }
    pthread_mutex_unlock(&g->lock);
    return wait_s;
}

void
sr_api__guard_failed(sr_api_guard *g, const struct sr_api_client *c, int64_t now_ms)
{
    if (!g)
        return;
    uint8_t key[KEY_LEN];
    sr_api__addr_key(c, key);
    pthread_mutex_lock(&g->lock);
    struct addr_slot *s = addr_find(g, key);
    if (!s)
        s = addr_take(g, key, now_ms);
    s->tat_ms = (s->tat_ms > now_ms ? s->tat_ms : now_ms) + g->interval_ms;
    pthread_mutex_unlock(&g->lock);
}

static size_t
token_home(const uint8_t hash[32])
{
    uint64_t v;
    memcpy(&v, hash, sizeof(v)); /* a SHA-256 of a random token: already uniform */
    return (size_t)(v & (SR_HTTP_KNOWN_TOKENS - 1));
}

void
sr_api__guard_token_ok(sr_api_guard *g, const uint8_t hash[32], int64_t now_ms)
{
    if (!g)
        return;
    size_t home = token_home(hash);
    pthread_mutex_lock(&g->lock);
    struct token_slot *best = NULL;
    for (size_t i = 0; i < WINDOW; i++) {
        struct token_slot *s = &g->tokens[(home + i) & (SR_HTTP_KNOWN_TOKENS - 1)];
        if (sodium_memcmp(s->hash, hash, 32) == 0 || s->until_ms <= now_ms) {
            best = s;
            break;
        }
        if (!best || s->until_ms < best->until_ms)
            best = s;
    }
    memcpy(best->hash, hash, 32);
    best->until_ms = now_ms + SR_HTTP_KNOWN_TOKEN_MS;
    pthread_mutex_unlock(&g->lock);
}

bool
sr_api__guard_token_known(sr_api_guard *g, const uint8_t hash[32], int64_t now_ms)
{
    if (!g)
        return false;
    size_t home = token_home(hash);
    bool known = false;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < WINDOW && !known; i++) {
        const struct token_slot *s = &g->tokens[(home + i) & (SR_HTTP_KNOWN_TOKENS - 1)];
        known = s->until_ms > now_ms && sodium_memcmp(s->hash, hash, 32) == 0;
    }
    pthread_mutex_unlock(&g->lock);
    return known;
}

bool
sr_api__bearer_hash(const char *authorization, uint8_t hash[32])
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > SR_MAX_TOKEN_TEXT)
        return false;
    sr_token_hash(tok, hash);
    return true;
}
