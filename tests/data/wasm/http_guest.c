/* SPDX-License-Identifier: MIT */
/* http_guest.c - a WASI guest using sealrun's HTTP imports
 * (include/sealrun/guest/sealrun_http.h), for tests/integration/test_http.py.
 * argv: METHOD URL [BODY [HEADERS]] (HEADERS: "Name: value" lines with \n);
 * prints one JSON object: {"rc":N} and, for an answer, "len" and "body"
 * (the first 200 bytes, which the tests keep ASCII); for a failure, "error".
 * With an environment variable EXIT_ON_ERROR set, a failure exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/guest/sealrun_http.h"

static char body[SEALRUN_HTTP_MAX_RESPONSE];
static char msg[1024];

int
main(int argc, char **argv)
{
    if (argc < 3) {
        printf("{\"usage\":\"METHOD URL [BODY [HEADERS]]\"}");
        return 2;
    }
    const char *b = argc > 3 ? argv[3] : "";
    const char *h = argc > 4 ? argv[4] : "";
    int32_t rc =
        sealrun_http_request(argv[1], (uint32_t)strlen(argv[1]), argv[2], (uint32_t)strlen(argv[2]),
                             h, (uint32_t)strlen(h), b, (uint32_t)strlen(b), 0);
    if (rc < 0) {
        int32_t n = sealrun_http_error(msg, sizeof(msg) - 1);
        msg[n > 0 && n < (int32_t)sizeof(msg) ? n : 0] = 0;
        for (char *p = msg; *p; p++)
            if (*p == '"' || *p == '\\')
                *p = '\'';
        printf("{\"rc\":%d,\"error\":\"%s\"}", (int)rc, msg);
        return getenv("EXIT_ON_ERROR") ? 1 : 0;
    }
    int32_t n = sealrun_http_response_body(body, sizeof(body));
    int32_t small = sealrun_http_response_body(body, 0); /* the length, nothing copied */
    int shown = n > 200 ? 200 : (n < 0 ? 0 : n);
    for (int i = 0; i < shown; i++)
        if (body[i] == '"' || body[i] == '\\' || (unsigned char)body[i] < 0x20)
            body[i] = '\'';
    printf("{\"rc\":%d,\"len\":%d,\"len_again\":%d,\"body\":\"%.*s\"}", (int)rc, (int)n, (int)small,
           shown, body);
    return 0;
}
