/* SPDX-License-Identifier: MIT
 *
 * http.c - the CLI's HTTP client (libcurl): one request to sealrund with a
 * bearer token, the JSON answer parsed and capped.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_util.h"

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    sr_buf *b = arg;
    return sr_buf_append(b, p, size * n, NULL) == SR_OK ? size * n : 0;
}

sr_status
cli_http(const char *method, const char *url, const char *token, const char *body, size_t body_len,
         const char *content_type, long *status, json_t **out, sr_err *err)
{
    return cli_http_cap(method, url, token, body, body_len, content_type, 4u * SR_MAX_BODY, status,
                        out, err);
}

sr_status
cli_http_cap(const char *method, const char *url, const char *token, const char *body,
             size_t body_len, const char *content_type, size_t cap, long *status, json_t **out,
             sr_err *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "cannot start libcurl");
    sr_buf resp;
    sr_buf_init(&resp, cap);
    char auth[512], ctype[128];
    (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    (void)snprintf(ctype, sizeof(ctype), "Content-Type: %s",
                   content_type ? content_type : "application/json");
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, ctype);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 180L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode cc = curl_easy_perform(c);
    sr_status rc = SR_OK;
    if (cc != CURLE_OK)
        rc = sr_err_set(err, SR_EIO, "request to '%s' failed: %s", url, curl_easy_strerror(cc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (rc == SR_OK)
        rc = sr_json_parse(resp.data ? resp.data : "", resp.len, 4096, "server answer", out, err);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sr_buf_fini(&resp);
    return rc;
}

int
cli_call(const struct cli_remote *r, const char *method, const char *path, const char *body,
         size_t body_len, const char *content_type, json_t **out)
{
    char url[4096];
    (void)snprintf(url, sizeof(url), "%s%s", r->server, path);
    long status = 0;
    sr_err e = {0};
    *out = NULL;
    if (cli_http(method, url, r->token, body, body_len, content_type, &status, out, &e) != SR_OK)
        return cli_fail(CLI_FAILED, "is sealrund running at that address?", "%s", e.msg);
    if (status < 200 || status > 299)
        return cli_report_http(status, *out);
    return CLI_OK;
}

int
cli_report_http(long status, json_t *ans)
{
    const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    int rc = cli_fail(CLI_FAILED,
                      status == 401 ? "check --token (sealrun token list on the server)" : NULL,
                      "server answered %ld: %s", status, msg ? msg : "(no message)");
    json_decref(ans);
    return rc;
}

int
cli_job_exit(const json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "status"));
    return st && strcmp(st, "failed") == 0 ? CLI_FAILED : CLI_OK;
}

int
cli_wait_job(const struct cli_remote *r, const char *id, int64_t timeout_ms)
{
    char path[256] = "/jobs/";
    if (!id)
        return cli_fail(CLI_FAILED, NULL, "the server's answer has no 'job_id'");
    cli_escape(path, sizeof(path), id);
    int64_t deadline = timeout_ms ? sr_mono_us() / 1000 + timeout_ms : 0;
    useconds_t pause_us = 100000;
    for (;;) {
        json_t *job = NULL;
        int rc = cli_call(r, "GET", path, NULL, 0, NULL, &job);
        if (rc != CLI_OK)
            return rc;
        const char *st = json_string_value(json_object_get(job, "status"));
        if (st && (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0)) {
            cli_print_json(job);
            rc = cli_job_exit(job);
            json_decref(job);
            return rc;
        }
        json_decref(job);
        int64_t now = sr_mono_us() / 1000;
        if (deadline && now >= deadline)
            return cli_fail(CLI_FAILED,
                            "wait longer with --timeout, or look later with 'sealrun jobs get'",
                            "job '%s' has not ended after %lld ms", id, (long long)timeout_ms);
        useconds_t nap = pause_us;
        if (deadline && (deadline - now) * 1000 < (int64_t)nap)
            nap = (useconds_t)((deadline - now) * 1000);
        usleep(nap);
        pause_us = pause_us * 2 > 2000000 ? 2000000 : pause_us * 2;
    }
}
