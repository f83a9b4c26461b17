/* SPDX-License-Identifier: MIT
 *
 * http_guard_test.c - the outbound HTTP guard without a packet: the class
 * of every special-purpose range (IPv4 and IPv6), host patterns, the
 * operator's --http-allow-private networks, the job's "http" field, the
 * host-call wire format (caps checked before use), secret placeholders and
 * the value scan, and a session that refuses every loopback spelling and
 * every policy miss before anything is sent (the addresses here are
 * resolved by getaddrinfo from numbers or /etc/hosts; no name server is
 * asked and no connection is made). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "http_int.h"

static enum sr_http_addr_class
cls(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return sr_http_addr_classify((const struct sockaddr *)&ss);
}

static void
test_classifies_ipv4_ranges(void **state)
{
    (void)state;
    static const struct {
        const char *a;
        enum sr_http_addr_class c;
    } t[] = {
        {"0.0.0.0", SR_HTTP_ADDR_UNSPECIFIED},
        {"0.1.2.3", SR_HTTP_ADDR_UNSPECIFIED},
        {"10.0.0.1", SR_HTTP_ADDR_PRIVATE},
        {"10.255.255.255", SR_HTTP_ADDR_PRIVATE},
        {"100.64.0.1", SR_HTTP_ADDR_CGNAT},
        {"100.127.255.254", SR_HTTP_ADDR_CGNAT},
        {"100.128.0.1", SR_HTTP_ADDR_PUBLIC},
        {"127.0.0.1", SR_HTTP_ADDR_LOOPBACK},
        {"127.255.0.9", SR_HTTP_ADDR_LOOPBACK},
        {"169.254.169.254", SR_HTTP_ADDR_LINK_LOCAL},
        {"172.16.0.1", SR_HTTP_ADDR_PRIVATE},
        {"172.31.255.255", SR_HTTP_ADDR_PRIVATE},
        {"172.32.0.1", SR_HTTP_ADDR_PUBLIC},
        {"192.0.0.8", SR_HTTP_ADDR_RESERVED},
        {"192.0.2.1", SR_HTTP_ADDR_RESERVED},
        {"192.88.99.1", SR_HTTP_ADDR_RESERVED},
        {"192.168.1.1", SR_HTTP_ADDR_PRIVATE},
        {"198.18.0.1", SR_HTTP_ADDR_RESERVED},
        {"198.19.255.255", SR_HTTP_ADDR_RESERVED},
        {"198.51.100.7", SR_HTTP_ADDR_RESERVED},
        {"203.0.113.9", SR_HTTP_ADDR_RESERVED},
        {"224.0.0.1", SR_HTTP_ADDR_MULTICAST},
        {"239.255.255.250", SR_HTTP_ADDR_MULTICAST},
        {"240.0.0.1", SR_HTTP_ADDR_RESERVED},
        {"255.255.255.255", SR_HTTP_ADDR_RESERVED},
        {"8.8.8.8", SR_HTTP_ADDR_PUBLIC},
        {"1.1.1.1", SR_HTTP_ADDR_PUBLIC},
        {"93.184.216.34", SR_HTTP_ADDR_PUBLIC},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (cls(t[i].a) != t[i].c)
            fail_msg("%s: got %s, expected %s", t[i].a, sr_http_addr_class_name(cls(t[i].a)),
                     sr_http_addr_class_name(t[i].c));
    }
}

static void
test_classifies_ipv6_ranges(void **state)
{
    (void)state;
    static const struct {
        const char *a;
        enum sr_http_addr_class c;
    } t[] = {
        {"::", SR_HTTP_ADDR_UNSPECIFIED},
        {"::1", SR_HTTP_ADDR_LOOPBACK},
        {"::ffff:127.0.0.1", SR_HTTP_ADDR_MAPPED},
        {"::ffff:8.8.8.8", SR_HTTP_ADDR_MAPPED},
        {"::127.0.0.1", SR_HTTP_ADDR_COMPAT},
        {"::8.8.8.8", SR_HTTP_ADDR_COMPAT},
        {"64:ff9b::7f00:1", SR_HTTP_ADDR_NAT64},
        {"64:ff9b:1::1", SR_HTTP_ADDR_NAT64},
        {"100::1", SR_HTTP_ADDR_RESERVED},
        {"2001:db8::1", SR_HTTP_ADDR_RESERVED},
        {"2001::1", SR_HTTP_ADDR_RESERVED},        /* Teredo */
        {"2002:7f00:1::1", SR_HTTP_ADDR_RESERVED}, /* 6to4 of 127.0.0.1 */
        {"3fff::1", SR_HTTP_ADDR_RESERVED},
        {"fc00::1", SR_HTTP_ADDR_ULA},
        {"fd12:3456::1", SR_HTTP_ADDR_ULA},
        {"fe80::1", SR_HTTP_ADDR_LINK_LOCAL},
        {"febf::1", SR_HTTP_ADDR_LINK_LOCAL},
        {"fec0::1", SR_HTTP_ADDR_RESERVED},
        {"ff02::1", SR_HTTP_ADDR_MULTICAST},
        {"4000::1", SR_HTTP_ADDR_RESERVED}, /* outside 2000::/3 */
        {"2606:4700:4700::1111", SR_HTTP_ADDR_PUBLIC},
        {"2a00:1450:4001::200e", SR_HTTP_ADDR_PUBLIC},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (cls(t[i].a) != t[i].c)
            fail_msg("%s: got %s, expected %s", t[i].a, sr_http_addr_class_name(cls(t[i].a)),
                     sr_http_addr_class_name(t[i].c));
    }
}

static void
test_matches_host_patterns(void **state)
{
    (void)state;
    assert_true(sr_http_pattern_match("api.example.com", "api.example.com", 443, 443));
    assert_true(sr_http_pattern_match("api.example.com", "API.Example.com", 443, 443));
    assert_false(sr_http_pattern_match("api.example.com", "api.example.com", 8443, 443));
    assert_false(sr_http_pattern_match("api.example.com", "xapi.example.com", 443, 443));
    assert_true(sr_http_pattern_match("*.example.org:8443", "a.b.example.org", 8443, 443));
    assert_false(sr_http_pattern_match("*.example.org:8443", "example.org", 8443, 443));
    assert_false(sr_http_pattern_match("*.example.org:8443", "evilexample.org", 8443, 443));
    assert_false(sr_http_pattern_match("*.example.org:8443", "a.example.org", 443, 443));
    assert_true(sr_http_pattern_match("127.0.0.1:8080", "127.0.0.1", 8080, 80));
    assert_true(sr_http_pattern_match("[::1]:99", "[::1]", 99, 443));
}

static void
test_refuses_bad_patterns(void **state)
{
    (void)state;
    sr_err e = {0};
    assert_true(sr_http_pattern_valid("api.example.com", &e));
    assert_true(sr_http_pattern_valid("*.example.org:8443", &e));
    assert_true(sr_http_pattern_valid("[2001:db8::1]:443", &e));
    assert_false(sr_http_pattern_valid("", &e));
    assert_false(sr_http_pattern_valid("https://api.example.com", &e));
    assert_non_null(strstr(e.msg, "must end with ':PORT'"));
    assert_false(sr_http_pattern_valid("a..b", &e));
    assert_false(sr_http_pattern_valid("api.example.com:0", &e));
    assert_false(sr_http_pattern_valid("api.example.com:65536", &e));
    assert_false(sr_http_pattern_valid("*", &e));
    assert_false(sr_http_pattern_valid("a*.example.com", &e));
    assert_false(sr_http_pattern_valid("[::1", &e));
    assert_false(sr_http_pattern_valid("[nothex]", &e));
    assert_false(sr_http_pattern_valid("a/b", &e));
}

static void
test_private_networks_are_opt_in(void **state)
{
    (void)state;
    const char *nets[] = {"127.0.0.1", "10.1.0.0/16"};
    sr_http_policy *p = NULL;
    sr_err e = {0};
    assert_int_equal(
        sr_http_policy_new(&(struct sr_http_config){.private_nets = nets, .nprivate = 2}, &p, &e),
        SR_OK);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_true(sr_http_policy_private_ok(p, (struct sockaddr *)&a));
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    assert_false(sr_http_policy_private_ok(p, (struct sockaddr *)&a));
    inet_pton(AF_INET, "10.1.200.3", &a.sin_addr);
    assert_true(sr_http_policy_private_ok(p, (struct sockaddr *)&a));
    inet_pton(AF_INET, "10.2.0.1", &a.sin_addr);
    assert_false(sr_http_policy_private_ok(p, (struct sockaddr *)&a));
    sr_http_policy_free(p);

    const char *bad[] = {"127.0.0.1/33"};
    assert_int_equal(
        sr_http_policy_new(&(struct sr_http_config){.private_nets = bad, .nprivate = 1}, &p, &e),
        SR_EINVAL);
    const char *worse[] = {"localhost"};
    assert_int_equal(
        sr_http_policy_new(&(struct sr_http_config){.private_nets = worse, .nprivate = 1}, &p, &e),
        SR_EINVAL);
    assert_non_null(strstr(e.msg, "IPv4 or IPv6 address"));
}

static json_t *
parse(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    return v;
}

static void
test_parses_the_jobs_http_field(void **state)
{
    (void)state;
    struct sr_http_job j;
    sr_err e = {0};
    json_t *v = parse("{\"allow\":[\"API.example.com\",\"*.x.org:8443\"],\"max_requests\":3}");
    assert_int_equal(sr_http_job_parse(v, &j, &e), SR_OK);
    assert_int_equal(j.nallow, 2);
    assert_string_equal(j.allow[0], "api.example.com");
    assert_int_equal(j.max_requests, 3);
    json_t *back = sr_http_job_to_json(&j);
    assert_non_null(back);
    struct sr_http_job k;
    assert_int_equal(sr_http_job_parse(back, &k, &e), SR_OK);
    assert_int_equal(k.nallow, 2);
    sr_http_job_fini(&k);
    json_decref(back);
    sr_http_job_fini(&j);
    json_decref(v);

    static const char *const bad[] = {
        "[]",
        "{\"allow\":[]}",
        "{\"allow\":[1]}",
        "{\"allow\":[\"a.com\"],\"max_requests\":65}",
        "{\"allow\":[\"a.com\"],\"max_response_bytes\":8388609}",
        "{\"allow\":[\"a.com\"],\"record\":1,\"typo\":2}",
        "{\"allow\":[\"http://a.com\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i]);
        if (sr_http_job_parse(v, &j, &e) != SR_EINVAL)
            fail_msg("accepted %s", bad[i]);
        json_decref(v);
    }
}

static struct sr_http_bytes
b(const char *s)
{
    return (struct sr_http_bytes){(const uint8_t *)s, strlen(s)};
}

static void
test_wire_round_trips_and_checks_caps(void **state)
{
    (void)state;
    struct sr_http_message *m = calloc(1, sizeof(*m)), *d = calloc(1, sizeof(*d));
    m->method = b("POST");
    m->url = b("https://api.example.com/x?y=1");
    m->nheaders = 2;
    m->headers[0] = (struct sr_http_header){b("content-type"), b("application/json")};
    m->headers[1] = (struct sr_http_header){b("x-key"), b("{{secrets.K}}")};
    m->body = b("{\"a\":1}");
    m->timeout_ms = 1500;
    m->redirect = SR_HTTP_REDIRECT_MANUAL;
    sr_buf buf;
    sr_buf_init(&buf, 1 << 20);
    sr_err e = {0};
    assert_int_equal(sr_http_wire_request(&buf, m, &e), SR_OK);
    assert_int_equal(sr_http_wire_request_decode((uint8_t *)buf.data, buf.len, d, &e), SR_OK);
    assert_int_equal(d->nheaders, 2);
    assert_memory_equal(d->headers[1].value.p, "{{secrets.K}}", 13);
    assert_int_equal(d->timeout_ms, 1500);
    assert_int_equal(d->redirect, SR_HTTP_REDIRECT_MANUAL);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < buf.len; n++)
        assert_int_not_equal(sr_http_wire_request_decode((uint8_t *)buf.data, n, d, &e), SR_OK);
    /* a length over its cap is refused before use */
    uint8_t huge[] = {'F', 3, 'G', 'E', 'T', 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(sr_http_wire_request_decode(huge, sizeof(huge), d, &e), SR_ELIMIT);
    assert_non_null(strstr(e.msg, "URL"));

    sr_buf_reset(&buf);
    m->status = 201;
    m->redirected = true;
    assert_int_equal(sr_http_wire_answer(&buf, m, &e), SR_OK);
    enum sr_http_wire_code code;
    assert_int_equal(sr_http_wire_answer_decode((uint8_t *)buf.data, buf.len, &code, d, &e), SR_OK);
    assert_int_equal(code, SR_HTTP_WIRE_OK);
    assert_int_equal(d->status, 201);
    assert_true(d->redirected);
    assert_int_equal(d->body.len, 7);
    sr_buf_fini(&buf);
    free(m);
    free(d);
}

static void
test_substitutes_placeholders_for_allowed_hosts_only(void **state)
{
    (void)state;
    const char *hosts[] = {"api.example.com"};
    const struct sr_http_secret sec[] = {
        {"K", (const uint8_t *)"s3cr3t-value", 12, hosts, 1},
        {"FREE", (const uint8_t *)"anywhere-ok", 11, NULL, 0},
    };
    struct sr_http_session_config cfg = {.secrets = sec, .nsecrets = 2};
    const char *text = "a={{secrets.K}}&b={{secrets.FREE}}&c={{secrets.}}&d={{secrets.K";
    sr_buf out;
    sr_buf_init(&out, 4096);
    char msg[512];
    size_t n = 0;
    assert_int_equal(sr_http__subst(&cfg, "api.example.com", 443, 443, (const uint8_t *)text,
                                    strlen(text), false, &out, &n, msg, sizeof(msg)),
                     SR_HTTP_WIRE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out.data, "a=s3cr3t-value&b=anywhere-ok&c={{secrets.}}&d={{secrets.K");
    sr_buf_reset(&out);
    assert_int_equal(sr_http__subst(&cfg, "evil.example.net", 443, 443, (const uint8_t *)text,
                                    strlen(text), false, &out, &n, msg, sizeof(msg)),
                     SR_HTTP_WIRE_DENIED);
    assert_non_null(strstr(msg, "secret 'K' may not be sent to 'evil.example.net:443'"));
    assert_null(strstr(msg, "s3cr3t"));
    sr_buf_reset(&out);
    const char *unknown = "{{secrets.NOPE}}";
    assert_int_equal(sr_http__subst(&cfg, "api.example.com", 443, 443, (const uint8_t *)unknown,
                                    strlen(unknown), false, &out, &n, msg, sizeof(msg)),
                     SR_HTTP_WIRE_INVALID);
    /* in a URL: the form a URL parser percent-encoded counts, the value goes in encoded */
    const struct sr_http_secret odd[] = {{"Q", (const uint8_t *)"a b&c/d", 7, NULL, 0}};
    struct sr_http_session_config ucfg = {.secrets = odd, .nsecrets = 1};
    const char *path = "/v1/%7B%7Bsecrets.Q%7D%7D/{{secrets.Q}}/%7b%7bsecrets.Q%7d%7d/%7B%7B";
    sr_buf_reset(&out);
    n = 0;
    assert_int_equal(sr_http__subst(&ucfg, "api.example.com", 443, 443, (const uint8_t *)path,
                                    strlen(path), true, &out, &n, msg, sizeof(msg)),
                     SR_HTTP_WIRE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out.data, "/v1/a%20b%26c%2Fd/a%20b%26c%2Fd/a%20b%26c%2Fd/%7B%7B");
    sr_buf_reset(&out);
    /* the value itself, written by the guest, is refused elsewhere too */
    const char *raw = "x=s3cr3t-value";
    assert_int_equal(sr_http__scan(&cfg, "evil.example.net", 443, 443, (const uint8_t *)raw,
                                   strlen(raw), msg, sizeof(msg)),
                     SR_HTTP_WIRE_DENIED);
    assert_null(strstr(msg, "s3cr3t"));
    assert_int_equal(sr_http__scan(&cfg, "api.example.com", 443, 443, (const uint8_t *)raw,
                                   strlen(raw), msg, sizeof(msg)),
                     SR_HTTP_WIRE_OK);
    sr_buf_fini(&out);
}

/* One request through a session; returns the answer's code and its text. */
static enum sr_http_wire_code
ask(sr_http_session *s, const char *url, char *msg, size_t cap)
{
    struct sr_http_message *m = calloc(1, sizeof(*m));
    m->method = b("GET");
    m->url = b(url);
    sr_buf req, resp;
    sr_buf_init(&req, 1 << 20);
    sr_buf_init(&resp, 16 << 20);
    assert_int_equal(sr_http_wire_request(&req, m, NULL), SR_OK);
    assert_int_equal(sr_http_session_handle(s, (uint8_t *)req.data, req.len, &resp, NULL), SR_OK);
    enum sr_http_wire_code code;
    assert_int_equal(sr_http_wire_answer_decode((uint8_t *)resp.data, resp.len, &code, m, NULL),
                     SR_OK);
    (void)snprintf(cap ? msg : NULL, cap, "%.*s", (int)m->body.len, (const char *)m->body.p);
    sr_buf_fini(&req);
    sr_buf_fini(&resp);
    free(m);
    return code;
}

static void
test_session_refuses_every_loopback_spelling(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "https://127.0.0.1/",       "https://127.0.0.2/",
        "https://localhost/",       "https://2130706433/",
        "https://0x7f.1/",          "https://017700000001/",
        "https://[::1]/",           "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",         "https://127.1/",
        "https://[::ffff:7f00:1]/", "https://[64:ff9b::7f00:1]/",
    };
    static const char *const allow[] = {
        "127.0.0.1",       "127.0.0.2",    "localhost", "2130706433",
        "0x7f.1",          "017700000001", "[::1]",     "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]", "0.0.0.0",      "127.1",     "[64:ff9b::7f00:1]"};
    struct sr_http_job job = {.allow = (char **)(uintptr_t)allow, .nallow = 12};
    sr_http_policy *pol = NULL;
    assert_int_equal(sr_http_policy_new(NULL, &pol, NULL), SR_OK);
    sr_http_session *s = NULL;
    assert_int_equal(
        sr_http_session_new(&(struct sr_http_session_config){.policy = pol, .job = &job}, &s, NULL),
        SR_OK);
    char msg[512];
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        enum sr_http_wire_code c = ask(s, urls[i], msg, sizeof(msg));
        if (c != SR_HTTP_WIRE_DENIED)
            fail_msg("%s: code %d: %s", urls[i], c, msg);
        /* the URL's host may be normalised (2130706433 is 127.0.0.1), never allowed */
        assert_non_null(strstr(msg, "address guard"));
    }
    size_t n = 0;
    (void)sr_http_session_exchanges(s, &n);
    assert_int_equal(n, 0); /* nothing was sent */
    sr_http_session_free(s);
    sr_http_policy_free(pol);
}

static void
test_session_applies_policy_before_resolving(void **state)
{
    (void)state;
    static const char *const allow[] = {"api.example.com"};
    const char *deny[] = {"api.example.com"};
    struct sr_http_job job = {.allow = (char **)(uintptr_t)allow, .nallow = 1, .max_requests = 5};
    sr_http_policy *pol = NULL, *denying = NULL;
    assert_int_equal(sr_http_policy_new(NULL, &pol, NULL), SR_OK);
    assert_int_equal(
        sr_http_policy_new(&(struct sr_http_config){.deny = deny, .ndeny = 1}, &denying, NULL),
        SR_OK);
    sr_http_session *s = NULL;
    assert_int_equal(
        sr_http_session_new(&(struct sr_http_session_config){.policy = pol, .job = &job}, &s, NULL),
        SR_OK);
    char msg[512];
    assert_int_equal(ask(s, "https://other.example.com/", msg, sizeof(msg)), SR_HTTP_WIRE_DENIED);
    assert_non_null(strstr(msg, "'other.example.com:443' is not in the job's http.allow"));
    assert_int_equal(ask(s, "http://api.example.com/", msg, sizeof(msg)), SR_HTTP_WIRE_DENIED);
    assert_non_null(strstr(msg, "only https is allowed"));
    assert_int_equal(ask(s, "https://api.example.com:8443/", msg, sizeof(msg)),
                     SR_HTTP_WIRE_DENIED);
    assert_int_equal(ask(s, "ftp://api.example.com/", msg, sizeof(msg)), SR_HTTP_WIRE_DENIED);
    assert_int_equal(ask(s, "https://user:pw@api.example.com/", msg, sizeof(msg)),
                     SR_HTTP_WIRE_INVALID);
    assert_int_equal(ask(s, "not a url", msg, sizeof(msg)), SR_HTTP_WIRE_LIMIT);
    assert_non_null(strstr(msg, "its 5 requests"));
    sr_http_session_free(s);

    assert_int_equal(
        sr_http_session_new(&(struct sr_http_session_config){.policy = denying, .job = &job}, &s,
                            NULL),
        SR_OK);
    assert_int_equal(ask(s, "https://api.example.com/", msg, sizeof(msg)), SR_HTTP_WIRE_DENIED);
    assert_non_null(strstr(msg, "--http-deny"));
    sr_http_session_free(s);

    /* a job without http.allow makes no request at all */
    assert_int_equal(sr_http_session_new(&(struct sr_http_session_config){.policy = pol}, &s, NULL),
                     SR_OK);
    assert_int_equal(ask(s, "https://api.example.com/", msg, sizeof(msg)), SR_HTTP_WIRE_DENIED);
    assert_non_null(strstr(msg, "no http.allow"));
    sr_http_session_free(s);
    sr_http_policy_free(denying);
    sr_http_policy_free(pol);
}

/* A callback URL is checked ahead, resolving nothing: scheme, credentials,
 * the operator's lists, and the guard for address literals and loopback
 * names; its host:port pattern comes back. */
static void
test_checks_a_url_ahead(void **state)
{
    (void)state;
    sr_http_policy *pol = NULL, *priv = NULL, *plain = NULL, *denying = NULL;
    const char *loop[] = {"127.0.0.0/8"};
    const char *deny[] = {"*.internal.example"};
    assert_int_equal(sr_http_policy_new(NULL, &pol, NULL), SR_OK);
    assert_int_equal(
        sr_http_policy_new(
            &(struct sr_http_config){.private_nets = loop, .nprivate = 1, .allow_http = true},
            &priv, NULL),
        SR_OK);
    assert_int_equal(sr_http_policy_new(&(struct sr_http_config){.allow_http = true}, &plain, NULL),
                     SR_OK);
    assert_int_equal(
        sr_http_policy_new(&(struct sr_http_config){.deny = deny, .ndeny = 1}, &denying, NULL),
        SR_OK);
    char pat[300];
    sr_err e = {0};
    assert_int_equal(
        sr_http_url_check(pol, "https://Hooks.Example.com/x?y=1", pat, sizeof(pat), &e), SR_OK);
    assert_string_equal(pat, "hooks.example.com:443");
    assert_int_equal(
        sr_http_url_check(pol, "https://[2001:4860::8888]:8443/", pat, sizeof(pat), &e), SR_OK);
    assert_string_equal(pat, "[2001:4860::8888]:8443");
    assert_int_equal(sr_http_url_check(pol, "http://hooks.example.com/", pat, sizeof(pat), &e),
                     SR_EINVAL);
    assert_non_null(strstr(e.msg, "only https is allowed"));
    assert_int_equal(sr_http_url_check(plain, "http://hooks.example.com/", pat, sizeof(pat), &e),
                     SR_OK);
    assert_int_equal(sr_http_url_check(pol, "https://u:p@hooks.example.com/", pat, sizeof(pat), &e),
                     SR_EINVAL);
    assert_non_null(strstr(e.msg, "credentials"));
    assert_int_equal(sr_http_url_check(pol, "hooks.example.com/x", pat, sizeof(pat), &e),
                     SR_EINVAL);
    assert_int_equal(sr_http_url_check(pol, "ftp://hooks.example.com/", pat, sizeof(pat), &e),
                     SR_EINVAL);
    assert_int_equal(
        sr_http_url_check(denying, "https://a.internal.example/", pat, sizeof(pat), &e), SR_EINVAL);
    assert_non_null(strstr(e.msg, "--http-deny"));
    static const char *const guarded[] = {"https://127.0.0.1:9000/", "https://localhost/",
                                          "https://api.localhost/",  "https://10.1.2.3/",
                                          "https://[::1]/",          "https://[fe80::1]/",
                                          "https://169.254.169.254/"};
    for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
        assert_int_equal(sr_http_url_check(pol, guarded[i], pat, sizeof(pat), &e), SR_EINVAL);
        assert_non_null(strstr(e.msg, "address guard"));
    }
    /* the operator's switch lets exactly its networks through */
    assert_int_equal(sr_http_url_check(priv, "http://127.0.0.1:9000/hook", pat, sizeof(pat), &e),
                     SR_OK);
    assert_string_equal(pat, "127.0.0.1:9000");
    assert_int_equal(sr_http_url_check(priv, "http://10.1.2.3/", pat, sizeof(pat), &e), SR_EINVAL);
    sr_http_policy_free(pol);
    sr_http_policy_free(priv);
    sr_http_policy_free(plain);
    sr_http_policy_free(denying);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classifies_ipv4_ranges),
        cmocka_unit_test(test_classifies_ipv6_ranges),
        cmocka_unit_test(test_matches_host_patterns),
        cmocka_unit_test(test_refuses_bad_patterns),
        cmocka_unit_test(test_private_networks_are_opt_in),
        cmocka_unit_test(test_parses_the_jobs_http_field),
        cmocka_unit_test(test_wire_round_trips_and_checks_caps),
        cmocka_unit_test(test_substitutes_placeholders_for_allowed_hosts_only),
        cmocka_unit_test(test_session_refuses_every_loopback_spelling),
        cmocka_unit_test(test_session_applies_policy_before_resolving),
        cmocka_unit_test(test_checks_a_url_ahead),
    };
    return cmocka_run_group_tests_name("http_guard", tests, NULL, NULL);
}
