/* SPDX-License-Identifier: MIT
 *
 * http_int.h - private header of the http module (sr_http.h).
 *
 *   http_addr.c    the address guard
 *   http_policy.c  host patterns, the operator's policy, the job's "http"
 *   http_wire.c    the host-call format
 *   http_fetch.c   the per-job session: one request, hop by hop, with curl
 *   http_subst.c   secret placeholders and the value scan
 */
#ifndef SR_HTTP_INT_H
#define SR_HTTP_INT_H

#include <netinet/in.h>
#include "sealrun/sr_http.h"

struct sr_http__net {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
    unsigned bits;    /* prefix length */
};

struct sr_http_policy {
    char **allow; /* lower-case patterns; none: every public host */
    size_t nallow;
    char **deny;
    size_t ndeny;
    struct sr_http__net priv[SR_FETCH_MAX_PRIVATE];
    size_t npriv;
    bool allow_http;
    char *ca_file; /* NULL: the system's CAs */
};

/* True when the first 'bits' bits of a and net are equal. */
bool sr_http__prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits);

/* http_subst.c: true when sec may go to host:port. */
bool sr_http__secret_host_ok(const struct sr_http_secret *sec, const char *host, unsigned port,
                             unsigned defport);
/* Appends text with its {{secrets.NAME}} placeholders replaced to out
 * (counting them in *nsubst). Not OK: msg says why (INVALID: unknown
 * name; DENIED: not for this host; LIMIT: out's cap). */
/* url: text is a URL's path or query: %7B%7Bsecrets.NAME%7D%7D counts as a
 * placeholder too, and values go in percent-encoded. */
enum sr_http_wire_code sr_http__subst(const struct sr_http_session_config *cfg, const char *host,
                                      unsigned port, unsigned defport, const uint8_t *text,
                                      size_t len, bool url, sr_buf *out, size_t *nsubst, char *msg,
                                      size_t cap);
/* DENIED when text carries the value of a secret not allowed to host:port. */
enum sr_http_wire_code sr_http__scan(const struct sr_http_session_config *cfg, const char *host,
                                     unsigned port, unsigned defport, const uint8_t *text,
                                     size_t len, char *msg, size_t cap);

#endif /* SR_HTTP_INT_H */
