/* SPDX-License-Identifier: MIT
 *
 * cmd_storage.c - `sealrun storage get|put|rm|ls`: the caller's storage
 * namespaces on a sealrund server (docs/storage.md). `put` reads the value
 * from stdin or a file, byte for byte; `get` writes the raw bytes to stdout
 * (or --out FILE). Keys and prefixes are percent-encoded into the URL.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_storage.h"
#include "sealrun/sr_util.h"

static const char usage[] =
    "usage: sealrun storage get KEY [--out FILE]      the value's bytes to stdout (or FILE)\n"
    "       sealrun storage put KEY [--file F]        value from stdin (or F), up to 1 MiB\n"
    "       sealrun storage rm KEY\n"
    "       sealrun storage ls [PREFIX] [--limit N] [--after KEY]\n"
    "\n"
    "Every command takes --namespace NS (default \"default\"), --server URL and\n"
    "--token TOKEN (or SEALRUN_SERVER and SEALRUN_TOKEN).\n";

struct storage_opts {
    const char *server, *token, *file, *out, *limit, *after, *ns;
    const char *pos[1];
    int npos;
};

/* Appends s percent-encoded (RFC 3986 unreserved characters stay). */
static void
escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(dst);
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < cap; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (keep) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = '\0';
}

/* /storage/NS/KEY into path. */
static void
key_path(const struct storage_opts *o, const char *key, char *path, size_t cap)
{
    (void)snprintf(path, cap, "/storage/");
    escape(path, cap, o->ns);
    (void)snprintf(path + strlen(path), cap - strlen(path), "/");
    escape(path, cap, key);
}

static int
storage_get(const struct storage_opts *o, const char *key)
{
    char path[2048];
    key_path(o, key, path, sizeof(path));
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "GET", path, NULL, 0, NULL, &ans);
    if (rc != CLI_OK)
        return rc;
    const char *b64 = json_string_value(json_object_get(ans, "value"));
    uint8_t *v = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (!b64 || sr_base64_decode(b64, strlen(b64), &v, &len, &e) != SR_OK) {
        json_decref(ans);
        return cli_fail(CLI_FAILED, NULL, "the server's answer has no readable 'value'");
    }
    json_decref(ans);
    FILE *f = o->out ? fopen(o->out, "wb") : stdout;
    if (!f) {
        free(v);
        return cli_fail(CLI_FAILED, NULL, "cannot open '%s' for writing", o->out);
    }
    bool ok = fwrite(v, 1, len, f) == len;
    ok = (o->out ? fclose(f) : fflush(f)) == 0 && ok;
    free(v);
    return ok ? CLI_OK : cli_fail(CLI_FAILED, NULL, "cannot write the value");
}

static int
storage_put(const struct storage_opts *o, const char *key)
{
    char *value = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cli_read_file(o->file ? o->file : "-", SR_STORAGE_MAX_VALUE, &value, &len, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char path[2048];
    key_path(o, key, path, sizeof(path));
    json_t *ans = NULL;
    int rc =
        cli_call(o->server, o->token, "PUT", path, value, len, "application/octet-stream", &ans);
    free(value);
    if (rc == CLI_OK) {
        printf("key '%s' set in namespace '%s' (%zu bytes), version %lld\n", key, o->ns, len,
               (long long)json_integer_value(json_object_get(ans, "version")));
        json_decref(ans);
    }
    return rc;
}

static int
storage_rm(const struct storage_opts *o, const char *key)
{
    char path[2048];
    key_path(o, key, path, sizeof(path));
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "DELETE", path, NULL, 0, NULL, &ans);
    if (rc == CLI_OK) {
        printf("key '%s' deleted from namespace '%s', version %lld\n", key, o->ns,
               (long long)json_integer_value(json_object_get(ans, "version")));
        json_decref(ans);
    }
    return rc;
}

static int
storage_ls(const struct storage_opts *o, const char *prefix)
{
    char path[2048] = "/storage/";
    escape(path, sizeof(path), o->ns);
    const char *sep = "?";
    if (prefix) {
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%sprefix=", sep);
        escape(path, sizeof(path), prefix);
        sep = "&";
    }
    if (o->after) {
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%safter=", sep);
        escape(path, sizeof(path), o->after);
        sep = "&";
    }
    if (o->limit) {
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%slimit=", sep);
        escape(path, sizeof(path), o->limit);
    }
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "GET", path, NULL, 0, NULL, &ans);
    if (rc == CLI_OK) {
        cli_print_json(ans);
        json_decref(ans);
    }
    return rc;
}

static int
parse(int argc, char **argv, struct storage_opts *o)
{
    o->server = getenv("SEALRUN_SERVER");
    o->token = getenv("SEALRUN_TOKEN");
    o->ns = SR_STORAGE_DEFAULT_NS;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = sr_opt_value(argv[i], "--server", &i, argc, argv)))
            o->server = v;
        else if ((v = sr_opt_value(argv[i], "--token", &i, argc, argv)))
            o->token = v;
        else if ((v = sr_opt_value(argv[i], "--namespace", &i, argc, argv)))
            o->ns = v;
        else if ((v = sr_opt_value(argv[i], "--file", &i, argc, argv)))
            o->file = v;
        else if ((v = sr_opt_value(argv[i], "--out", &i, argc, argv)))
            o->out = v;
        else if ((v = sr_opt_value(argv[i], "--limit", &i, argc, argv)))
            o->limit = v;
        else if ((v = sr_opt_value(argv[i], "--after", &i, argc, argv)))
            o->after = v;
        else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && o->npos < 1)
            o->pos[o->npos++] = argv[i];
        else
            return cli_fail(CLI_USAGE, "see 'sealrun storage --help'", "unknown argument '%s'",
                            argv[i]);
    }
    if (!o->server || !o->token)
        return cli_fail(CLI_USAGE, "see 'sealrun storage --help'",
                        "--server and --token are required");
    sr_err e = {0};
    if (sr_storage_ns_check(o->ns, strlen(o->ns), &e) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "%s", e.msg);
    return CLI_OK;
}

int
cmd_storage(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    struct storage_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;
    const char *sub = argv[1];
    bool keyed = strcmp(sub, "get") == 0 || strcmp(sub, "put") == 0 || strcmp(sub, "rm") == 0;
    if (keyed && o.npos != 1)
        return cli_fail(CLI_USAGE, "see 'sealrun storage --help'", "storage %s takes KEY", sub);
    if (strcmp(sub, "get") == 0)
        return storage_get(&o, o.pos[0]);
    if (strcmp(sub, "put") == 0)
        return storage_put(&o, o.pos[0]);
    if (strcmp(sub, "rm") == 0)
        return storage_rm(&o, o.pos[0]);
    if (strcmp(sub, "ls") == 0)
        return storage_ls(&o, o.npos ? o.pos[0] : NULL);
    return cli_fail(CLI_USAGE, "use get, put, rm or ls", "unknown storage command '%s'", sub);
}
