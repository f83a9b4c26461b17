/* SPDX-License-Identifier: MIT
 *
 * http.c - the CLI's HTTP client (libcurl): one request to sealrund with a
 * bearer token, the JSON answer parsed and capped.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <curl/curl.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"

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
    CURL *c = curl_easy_init();
    if (!c)
        return sr_err_set(err, SR_ENOMEM, "cannot start libcurl");
    sr_buf resp;
    sr_buf_init(&resp, 4u * SR_MAX_BODY);
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
cli_call(const char *server, const char *token, const char *method, const char *path,
         const char *body, size_t body_len, const char *content_type, json_t **out)
{
    char url[4096];
    (void)snprintf(url, sizeof(url), "%s%s", server, path);
    long status = 0;
    sr_err e = {0};
    if (cli_http(method, url, token, body, body_len, content_type, &status, out, &e) != SR_OK)
        return cli_fail(CLI_FAILED, "is sealrund running at that address?", "%s", e.msg);
    if (status < 200 || status > 299)
        return cli_report_http(status, *out);
    return CLI_OK;
}
