/* SPDX-License-Identifier: MIT
 *
 * keystore_channel.c - the signed channel between coordinator, keystore and
 * worker (sr_keystore.h): requests signed as a worker's are, answers in a
 * signed envelope bound to the request's signature, one libcurl handle per
 * call, every answer read up to its cap into secure memory.
 */
#include "sealrun/sr_keystore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <sodium.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

#define URL_MAX 1024

static void
part(crypto_hash_sha256_state *h, const char *s)
{
    crypto_hash_sha256_update(h, (const unsigned char *)s, strlen(s) + 1); /* with its NUL */
}

void
sr_keystore_answer_digest(const char *path, const char *request_sig_hex, const char *text,
                          size_t len, uint8_t out[32])
{
    uint8_t th[32];
    crypto_hash_sha256(th, len ? (const unsigned char *)text : (const unsigned char *)"", len);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    part(&h, SR_KEYSTORE_ANSWER_DOMAIN);
    part(&h, path);
    part(&h, request_sig_hex ? request_sig_hex : "");
    crypto_hash_sha256_update(&h, th, sizeof(th));
    crypto_hash_sha256_final(&h, out);
}

json_t *
sr_keystore_answer_sign(const sr_worker_key *key, const char *path, const char *request_sig_hex,
                        const json_t *a)
{
    char *text = sr_json_dumps(a, JSON_COMPACT);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    uint8_t d[32];
    char sig[SR_ED25519_SIG_HEX_LEN + 1];
    sr_keystore_answer_digest(path, request_sig_hex, text, len, d);
    sr_worker_request_sign(key, d, sig);
    json_t *env = json_pack("{s:s%, s:s}", "answer", text, len, "signature", sig);
    sodium_memzero(text, len); /* it may hold sealed values: wiped all the same */
    free(text);
    return env;
}

sr_status
sr_keystore_request_verify(const uint8_t pk[SR_ED25519_PK_LEN], const char *method,
                           const char *path, const char *query, const char *time_text,
                           const char *sig_hex, const void *body, size_t len, sr_err *err)
{
    int64_t t = 0, now = sr_now_ms();
    if (!time_text || sr_parse_i64(time_text, 1, INT64_MAX / 2, "header " SR_WORKER_TIME_HEADER, &t,
                                   NULL) != SR_OK)
        return sr_err_set(err, SR_EDENIED,
                          "missing or malformed header " SR_WORKER_TIME_HEADER
                          " (epoch milliseconds)");
    if (t < now - SR_WORKER_CLOCK_SKEW_MS || t > now + SR_WORKER_CLOCK_SKEW_MS)
        return sr_err_set(err, SR_EDENIED,
                          "request time is %lld ms from this clock; at most %d ms are accepted",
                          (long long)(t - now), SR_WORKER_CLOCK_SKEW_MS);
    uint8_t d[32];
    sr_worker_request_digest(method, path, query ? query : "", time_text, body, len, d);
    return sr_worker_request_verify(pk, d, sig_hex, err);
}

size_t
sr_keystore_curl_sink(char *p, size_t size, size_t n, void *arg)
{
    sr_buf *b = arg;
    return sr_buf_append(b, p, size * n, NULL) == SR_OK ? size * n : 0; /* over the cap: abort */
}

sr_status
sr_keystore_http_status(long http)
{
    switch (http) {
    case 400:
    case 413:
        return SR_EINVAL;
    case 401:
        return SR_EDENIED;
    case 403:
        return SR_EFORBIDDEN;
    case 404:
        return SR_ENOTFOUND;
    case 409:
        return SR_ECONFLICT;
    case 429:
        return SR_EBUSY;
    default:
        return SR_EIO;
    }
}

/* The answer inside a signed envelope, checked against the pinned key. */
static sr_status
open_envelope(const struct sr_keystore_peer *p, const char *path, const char *sig,
              const json_t *env, json_t **out, sr_err *err)
{
    const json_t *a = json_object_get(env, "answer");
    const char *s = json_string_value(json_object_get(env, "signature"));
    if (!json_is_string(a) || !s)
        return sr_err_set(err, SR_EIO, "the %s's answer to %s is not signed", p->name, path);
    uint8_t d[32];
    sr_keystore_answer_digest(path, sig, json_string_value(a), json_string_length(a), d);
    sr_err ve = {0};
    if (sr_worker_request_verify(p->pinned, d, s, &ve) != SR_OK)
        return sr_err_set(err, SR_EIO,
                          "the %s's answer to %s is not signed by its pinned key (--%s-key)",
                          p->name, path, p->name);
    return sr_json_parse(json_string_value(a), json_string_length(a), SR_MAX_JSON_DEPTH,
                         "a signed answer", out, err);
}

sr_status
sr_keystore_call(const struct sr_keystore_peer *p, const char *method, const char *path,
                 const char *query, const char *body, size_t max_answer, json_t **out, sr_err *err)
{
    size_t blen = body ? strlen(body) : 0;
    char tm[24], sig[SR_ED25519_SIG_HEX_LEN + 1], url[URL_MAX + 256];
    (void)snprintf(tm, sizeof(tm), "%lld", (long long)sr_now_ms());
    uint8_t digest[32];
    sr_worker_request_digest(method, path, query ? query : "", tm, body, blen, digest);
    sr_worker_request_sign(p->key, digest, sig);
    if (strlen(p->url) >= URL_MAX)
        return sr_err_set(err, SR_EINVAL, "the %s's URL is over %d bytes", p->name, URL_MAX);
    (void)snprintf(url, sizeof(url), "%s%s%s%s", p->url, path, query && *query ? "?" : "",
                   query ? query : "");
    if (!max_answer)
        max_answer = SR_KEYSTORE_MAX_ANSWER;
    CURL *c = curl_easy_init();
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "cannot start libcurl");
    char th[64], sh[200];
    (void)snprintf(th, sizeof(th), SR_WORKER_TIME_HEADER ": %s", tm);
    (void)snprintf(sh, sizeof(sh), SR_WORKER_SIGNATURE_HEADER ": %s", sig);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, th);
    h = curl_slist_append(h, sh);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    sr_buf resp;
    sr_buf_init_secure(&resp, max_answer); /* a release carries sealed values */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sr_keystore_curl_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT,
                     (long)(p->timeout_s ? p->timeout_s : SR_KEYSTORE_TIMEOUT_S));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    CURLcode cc = curl_easy_perform(c);
    long http = 0;
    sr_status rc = SR_OK;
    json_t *ans = NULL;
    if (cc == CURLE_WRITE_ERROR) {
        rc = sr_err_set(err, SR_EIO, "the %s's answer to %s %s is over %zu bytes", p->name, method,
                        path, max_answer);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = sr_err_set(err, SR_EIO, "%s %s%s failed: %s", method, p->url, path,
                        curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    sr_err pe = {0};
    if (sr_json_parse(resp.data ? resp.data : "", resp.len, SR_MAX_JSON_DEPTH, "an answer", &ans,
                      &pe) != SR_OK)
        ans = NULL;
    if (http >= 200 && http <= 299 && ans) {
        rc = open_envelope(p, path, sig, ans, out, err);
        goto out;
    }
    const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    rc = sr_err_set(err, http >= 200 && http <= 299 ? SR_EIO : sr_keystore_http_status(http),
                    "the %s answered %s %s with %ld: %s", p->name, method, path, http,
                    msg ? msg : (ans ? "(no message)" : pe.msg));
out:
    json_decref(ans);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sr_buf_fini_secure(&resp);
    return rc;
}
