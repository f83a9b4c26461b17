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

struct storage_opts {
    struct cli_remote r;
    const char *file, *out, *after, *ns;
    int64_t limit;
};

/* /storage/NS/KEY into path. */
static void
key_path(const struct storage_opts *o, const char *key, char *path, size_t cap)
{
    (void)snprintf(path, cap, "/storage/");
    cli_escape(path, cap, o->ns);
    (void)snprintf(path + strlen(path), cap - strlen(path), "/");
    cli_escape(path, cap, key);
}

static int
storage_get(const struct storage_opts *o, const char *key)
{
    char path[2048];
    key_path(o, key, path, sizeof(path));
    json_t *ans = NULL;
    int rc = cli_call(&o->r, "GET", path, NULL, 0, NULL, &ans);
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
    int rc = cli_call(&o->r, "PUT", path, value, len, "application/octet-stream", &ans);
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
    int rc = cli_call(&o->r, "DELETE", path, NULL, 0, NULL, &ans);
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
    cli_escape(path, sizeof(path), o->ns);
    const char *sep = "?";
    if (prefix) {
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%sprefix=", sep);
        cli_escape(path, sizeof(path), prefix);
        sep = "&";
    }
    if (o->after) {
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%safter=", sep);
        cli_escape(path, sizeof(path), o->after);
        sep = "&";
    }
    if (o->limit)
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%slimit=%lld", sep,
                       (long long)o->limit);
    json_t *ans = NULL;
    int rc = cli_call(&o->r, "GET", path, NULL, 0, NULL, &ans);
    if (rc == CLI_OK) {
        cli_print_json(ans);
        json_decref(ans);
    }
    return rc;
}

/* Parses a storage command's options: --namespace, then 'extra'. */
static int
parse(const struct cli_help *h, const struct sr_opt *extra, size_t nextra, int argc, char **argv,
      const char **pos, size_t minpos, size_t maxpos, struct storage_opts *o)
{
    struct sr_opt t[CLI_MAX_OPTS];
    size_t n = 0;
    t[n++] = (struct sr_opt){.name = "--namespace",
                             .kind = SR_OPT_STRING,
                             .dst = &o->ns,
                             .metavar = "NS",
                             .help = "the storage namespace (default \"default\")"};
    for (size_t i = 0; i < nextra; i++)
        t[n++] = extra[i];
    size_t npos = 0;
    o->ns = SR_STORAGE_DEFAULT_NS;
    int rc = cli_parse(h, t, n, argc, argv, pos, minpos, maxpos, &npos, &o->r);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    if (sr_storage_ns_check(o->ns, strlen(o->ns), &e) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "%s", e.msg);
    return CLI_CONTINUE;
}

static int
get_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "storage get",
        .args = "KEY [options]",
        .about = "Writes the value of KEY, its bytes as they are, to stdout (or --out FILE).\n",
    };
    struct storage_opts o = {0};
    const struct sr_opt t[] = {{.name = "--out",
                                .kind = SR_OPT_STRING,
                                .dst = &o.out,
                                .metavar = "FILE",
                                .help = "write the value to FILE instead of stdout"}};
    const char *key = NULL;
    int rc = parse(&h, t, 1, argc, argv, &key, 1, 1, &o);
    return rc != CLI_CONTINUE ? rc : storage_get(&o, key);
}

static int
put_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "storage put",
        .args = "KEY [options]",
        .about = "Sets KEY to the bytes read from stdin (or --file), up to 1 MiB.\n",
    };
    struct storage_opts o = {0};
    const struct sr_opt t[] = {{.name = "--file",
                                .kind = SR_OPT_STRING,
                                .dst = &o.file,
                                .metavar = "FILE",
                                .help = "read the value from FILE instead of stdin"}};
    const char *key = NULL;
    int rc = parse(&h, t, 1, argc, argv, &key, 1, 1, &o);
    return rc != CLI_CONTINUE ? rc : storage_put(&o, key);
}

static int
rm_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "storage rm",
        .args = "KEY [options]",
        .about = "Deletes KEY.\n",
    };
    struct storage_opts o = {0};
    const char *key = NULL;
    int rc = parse(&h, NULL, 0, argc, argv, &key, 1, 1, &o);
    return rc != CLI_CONTINUE ? rc : storage_rm(&o, key);
}

static int
ls_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "storage ls",
        .args = "[PREFIX] [options]",
        .about = "Lists the keys of the namespace (those starting with PREFIX), in key order,\n"
                 "one page at a time.\n",
    };
    struct storage_opts o = {0};
    const struct sr_opt t[] = {
        {.name = "--limit",
         .kind = SR_OPT_INT,
         .dst = &o.limit,
         .metavar = "N",
         .help = "keys per page, 1..1000 (default 100)",
         .min = 1,
         .max = SR_STORAGE_MAX_LIST},
        {.name = "--after",
         .kind = SR_OPT_STRING,
         .dst = &o.after,
         .metavar = "KEY",
         .help = "the page after this key: 'next' of the previous page"},
    };
    const char *prefix = NULL;
    int rc = parse(&h, t, 2, argc, argv, &prefix, 0, 1, &o);
    return rc != CLI_CONTINUE ? rc : storage_ls(&o, prefix);
}

static const struct cli_sub subs[] = {
    {"get", "write a value to stdout or a file", get_cmd},
    {"put", "set a value from stdin or a file", put_cmd},
    {"rm", "delete a key", rm_cmd},
    {"ls", "list keys", ls_cmd},
};

int
cmd_storage(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "storage",
        .about = "Your jobs' key-value storage on a sealrund server (docs/storage.md).\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
