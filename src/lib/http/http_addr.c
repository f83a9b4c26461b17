/* SPDX-License-Identifier: MIT
 *
 * http_addr.c - the address guard (docs/http.md, "Addresses"): the class of
 * a resolved IPv4 or IPv6 address. Only SR_HTTP_ADDR_PUBLIC is reachable,
 * apart from the networks an operator names with --http-allow-private.
 *
 * The tables follow the IANA special-purpose registries (RFC 6890 and its
 * updates). IPv6 forms that carry an IPv4 address (mapped, compatible,
 * NAT64, 6to4, Teredo) are refused as such: the IPv4 address inside them is
 * never looked at, so no spelling of a refused IPv4 address gets through.
 */
#include "http_int.h"

#include <netinet/in.h>
#include <string.h>

struct range4 {
    uint32_t net;
    unsigned bits;
    enum sr_http_addr_class cls;
};

/* first match wins */
static const struct range4 ranges4[] = {
    {0x00000000u, 8, SR_HTTP_ADDR_UNSPECIFIED}, /* 0.0.0.0/8 "this network" */
    {0x0a000000u, 8, SR_HTTP_ADDR_PRIVATE},     /* 10/8 */
    {0x64400000u, 10, SR_HTTP_ADDR_CGNAT},      /* 100.64/10 */
    {0x7f000000u, 8, SR_HTTP_ADDR_LOOPBACK},    /* 127/8 */
    {0xa9fe0000u, 16, SR_HTTP_ADDR_LINK_LOCAL}, /* 169.254/16 */
    {0xac100000u, 12, SR_HTTP_ADDR_PRIVATE},    /* 172.16/12 */
    {0xc0000000u, 24, SR_HTTP_ADDR_RESERVED},   /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200u, 24, SR_HTTP_ADDR_RESERVED},   /* 192.0.2/24 TEST-NET-1 */
    {0xc0586300u, 24, SR_HTTP_ADDR_RESERVED},   /* 192.88.99/24 6to4 relay anycast */
    {0xc0a80000u, 16, SR_HTTP_ADDR_PRIVATE},    /* 192.168/16 */
    {0xc6120000u, 15, SR_HTTP_ADDR_RESERVED},   /* 198.18/15 benchmarking */
    {0xc6336400u, 24, SR_HTTP_ADDR_RESERVED},   /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100u, 24, SR_HTTP_ADDR_RESERVED},   /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000u, 4, SR_HTTP_ADDR_MULTICAST},   /* 224/4 */
    {0xf0000000u, 4, SR_HTTP_ADDR_RESERVED},    /* 240/4 and 255.255.255.255 */
};

struct range6 {
    uint8_t net[16];
    unsigned bits;
    enum sr_http_addr_class cls;
};

/* first match wins; what none matches and is outside 2000::/3 is reserved */
static const struct range6 ranges6[] = {
    {{0}, 128, SR_HTTP_ADDR_UNSPECIFIED},                  /* :: */
    {{[15] = 1}, 128, SR_HTTP_ADDR_LOOPBACK},              /* ::1 */
    {{[10] = 0xff, [11] = 0xff}, 96, SR_HTTP_ADDR_MAPPED}, /* ::ffff:0:0/96 */
    {{0}, 96, SR_HTTP_ADDR_COMPAT},                        /* ::/96 */
    {{0, 0x64, 0xff, 0x9b}, 96, SR_HTTP_ADDR_NAT64},       /* 64:ff9b::/96 */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, SR_HTTP_ADDR_NAT64}, /* 64:ff9b:1::/48 */
    {{0x01}, 64, SR_HTTP_ADDR_RESERVED},                   /* 100::/64 discard */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, SR_HTTP_ADDR_RESERVED}, /* 2001:db8::/32 */
    {{0x20, 0x01}, 23, SR_HTTP_ADDR_RESERVED},             /* 2001::/23 IETF, Teredo 2001::/32 */
    {{0x20, 0x02}, 16, SR_HTTP_ADDR_RESERVED},             /* 2002::/16 6to4 */
    {{0x3f, 0xff}, 20, SR_HTTP_ADDR_RESERVED},             /* 3fff::/20 documentation */
    {{0xfc}, 7, SR_HTTP_ADDR_ULA},                         /* fc00::/7 */
    {{0xfe, 0x80}, 10, SR_HTTP_ADDR_LINK_LOCAL},           /* fe80::/10 */
    {{0xfe, 0xc0}, 10, SR_HTTP_ADDR_RESERVED},             /* fec0::/10 site-local (deprecated) */
    {{0xff}, 8, SR_HTTP_ADDR_MULTICAST},                   /* ff00::/8 */
};

bool
sr_http__prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static enum sr_http_addr_class
classify4(uint32_t a)
{
    for (size_t i = 0; i < sizeof(ranges4) / sizeof(ranges4[0]); i++) {
        uint32_t mask = ranges4[i].bits ? ~0u << (32 - ranges4[i].bits) : 0;
        if ((a & mask) == ranges4[i].net)
            return ranges4[i].cls;
    }
    return SR_HTTP_ADDR_PUBLIC;
}

static enum sr_http_addr_class
classify6(const uint8_t a[16])
{
    for (size_t i = 0; i < sizeof(ranges6) / sizeof(ranges6[0]); i++)
        if (sr_http__prefix_match(a, ranges6[i].net, ranges6[i].bits))
            return ranges6[i].cls;
    /* global unicast is 2000::/3; everything else is unassigned */
    return (a[0] & 0xe0) == 0x20 ? SR_HTTP_ADDR_PUBLIC : SR_HTTP_ADDR_RESERVED;
}

enum sr_http_addr_class
sr_http_addr_classify(const struct sockaddr *sa)
{
    if (!sa)
        return SR_HTTP_ADDR_RESERVED;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        return classify4(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        return classify6(in6.sin6_addr.s6_addr);
    }
    return SR_HTTP_ADDR_RESERVED;
}

const char *
sr_http_addr_class_name(enum sr_http_addr_class c)
{
    switch (c) {
    case SR_HTTP_ADDR_PUBLIC:
        return "public";
    case SR_HTTP_ADDR_UNSPECIFIED:
        return "unspecified";
    case SR_HTTP_ADDR_LOOPBACK:
        return "loopback";
    case SR_HTTP_ADDR_PRIVATE:
        return "private";
    case SR_HTTP_ADDR_LINK_LOCAL:
        return "link-local";
    case SR_HTTP_ADDR_CGNAT:
        return "shared (CGNAT)";
    case SR_HTTP_ADDR_MULTICAST:
        return "multicast";
    case SR_HTTP_ADDR_RESERVED:
        return "reserved";
    case SR_HTTP_ADDR_MAPPED:
        return "IPv4-mapped IPv6";
    case SR_HTTP_ADDR_COMPAT:
        return "IPv4-compatible IPv6";
    case SR_HTTP_ADDR_ULA:
        return "unique local (ULA)";
    case SR_HTTP_ADDR_NAT64:
        return "NAT64";
    }
    return "reserved";
}
