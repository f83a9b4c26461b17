/* storage_guest.c - a WASI guest using sealrun's storage imports
 * (include/sealrun/guest/sealrun_storage.h), for tests/integration/
 * test_storage.py. argv[1] is the command; it prints one JSON value:
 *   incr KEY        reads a decimal counter, writes +1: {"before":N,"after":N+1}
 *   get KEY         {"value":"..."} or {"value":null}
 *   set KEY VALUE   {"ok":true}; setget KEY VALUE reads its own write back
 *   del KEY         {"ok":true}
 *   list PREFIX     {"keys":[...],"more":B}
 *   fail KEY        writes KEY then exits with code 3 (nothing is committed)
 *   trap KEY        writes KEY then traps (unreachable)
 *   big KEY         writes 1 MiB of 'z'; toobig KEY: 1 MiB + 1 byte
 *   badkey          a key that is not UTF-8: {"rc":N}
 *   caps KIND N [exit]  N different reads, lists or deletes (KIND r, l, w),
 *                   stopping at the first refusal: {"done":D,"rc":RC}; with
 *                   "exit", a refusal ends the program with code 1
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/guest/sealrun_storage.h"

static char buf[SEALRUN_STORAGE_MAX_VALUE + 1];

static int32_t
get(const char *key)
{
    return sealrun_storage_get(key, (uint32_t)strlen(key), buf, sizeof(buf) - 1);
}

static int32_t
set(const char *key, const char *v, uint32_t len)
{
    return sealrun_storage_set(key, (uint32_t)strlen(key), v, len);
}

static void
print_value(int32_t n)
{
    if (n < 0) {
        printf("{\"value\":null,\"rc\":%d}", (int)n);
        return;
    }
    buf[n] = 0;
    printf("{\"value\":\"%s\"}", buf);
}

static void
list(const char *prefix)
{
    int32_t n = sealrun_storage_list(prefix, (uint32_t)strlen(prefix), "", 0, 0, buf, sizeof(buf));
    if (n < 0) {
        printf("{\"rc\":%d}", (int)n);
        return;
    }
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t count = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24, pos = 5;
    printf("{\"more\":%s,\"keys\":[", p[4] ? "true" : "false");
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len = p[pos] | p[pos + 1] << 8;
        printf("%s\"%.*s\"", i ? "," : "", (int)len, (const char *)p + pos + 2);
        pos += 2 + len;
    }
    printf("]}");
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *key = argc > 2 ? argv[2] : "k";
    const char *val = argc > 3 ? argv[3] : "";
    if (strcmp(cmd, "incr") == 0) {
        int32_t n = get(key);
        long before = n >= 0 ? (buf[n] = 0, strtol(buf, NULL, 10)) : 0;
        char out[32];
        int len = snprintf(out, sizeof(out), "%ld", before + 1);
        int32_t rc = set(key, out, (uint32_t)len);
        printf("{\"before\":%ld,\"after\":%ld,\"rc\":%d}", before, before + 1, (int)rc);
    } else if (strcmp(cmd, "get") == 0) {
        print_value(get(key));
    } else if (strcmp(cmd, "set") == 0 || strcmp(cmd, "setget") == 0) {
        int32_t rc = set(key, val, (uint32_t)strlen(val));
        if (cmd[3] == 'g')
            print_value(get(key));
        else
            printf("{\"ok\":%s,\"rc\":%d}", rc == 0 ? "true" : "false", (int)rc);
    } else if (strcmp(cmd, "del") == 0) {
        int32_t rc = sealrun_storage_delete(key, (uint32_t)strlen(key));
        printf("{\"ok\":%s}", rc == 0 ? "true" : "false");
    } else if (strcmp(cmd, "list") == 0) {
        list(argc > 2 ? argv[2] : "");
    } else if (strcmp(cmd, "fail") == 0 || strcmp(cmd, "trap") == 0) {
        set(key, "written", 7);
        if (cmd[0] == 't')
            __builtin_trap();
        return 3;
    } else if (strcmp(cmd, "big") == 0 || strcmp(cmd, "toobig") == 0) {
        uint32_t len = SEALRUN_STORAGE_MAX_VALUE + (cmd[0] == 't');
        memset(buf, 'z', len);
        printf("{\"rc\":%d}", (int)set(key, buf, len));
    } else if (strcmp(cmd, "caps") == 0) {
        long n = strtol(val, NULL, 10), i = 0;
        int32_t rc = 0;
        char k[32];
        for (; i < n && rc >= 0; i++) {
            uint32_t len = (uint32_t)snprintf(k, sizeof(k), "cap%ld", i);
            if (key[0] == 'r')
                rc = sealrun_storage_get(k, len, buf, 0);
            else if (key[0] == 'l')
                rc = sealrun_storage_list("", 0, k, len, 1, buf, sizeof(buf));
            else
                rc = sealrun_storage_delete(k, len);
            rc = rc == SEALRUN_STORAGE_ENOTFOUND ? 0 : rc;
        }
        printf("{\"done\":%ld,\"rc\":%d}", rc < 0 ? i - 1 : i, (int)rc);
        return rc < 0 && argc > 4 ? 1 : 0;
    } else if (strcmp(cmd, "badkey") == 0) {
        printf("{\"rc\":%d}", (int)sealrun_storage_set("\xff\xfe", 2, "v", 1));
    } else {
        printf("{\"error\":\"unknown command\"}");
    }
    return 0;
}
