/* SPDX-License-Identifier: MIT
 *
 * cmd_secret.c - `sealrun secret ...`: secrets on a sealrund server. `set`
 * reads the value from stdin or a file (never from the command line, where
 * other users could see it), seals it on this machine to the owner's key
 * from GET /secrets/pubkey, and sends only the sealed box.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_secret.h"

struct secret_opts {
    struct cli_remote r;
    const char *file;
    int64_t limit, before;
};

/* "/secrets/NAME" + suffix into path, the name escaped. */
static void
secret_path(const char *name, const char *suffix, char *path, size_t cap)
{
    (void)snprintf(path, cap, "/secrets/");
    cli_escape(path, cap, name);
    (void)snprintf(path + strlen(path), cap - strlen(path), "%s", suffix);
}

static int
secret_set(const struct secret_opts *o, const char *name)
{
    char *value = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cli_read_file(o->file ? o->file : "-", SR_SECRET_VALUE_MAX, &value, &len, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    json_t *ans = NULL;
    int rc = cli_call(&o->r, "GET", "/secrets/pubkey", NULL, 0, NULL, &ans);
    uint8_t pk[SR_BOX_PK_LEN];
    char *sealed = NULL;
    if (rc == CLI_OK &&
        (sr_box_pk_parse(json_string_value(json_object_get(ans, "public_key")), pk, &e) != SR_OK ||
         sr_secret_seal(pk, value, len, &sealed, &e) != SR_OK))
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    sodium_memzero(value, len);
    free(value);
    if (rc == CLI_OK)
        json_decref(ans);
    if (rc != CLI_OK)
        return rc;
    json_t *body = json_pack("{s:s}", "sealed", sealed);
    char *text = sr_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    free(sealed);
    char path[512];
    secret_path(name, "", path, sizeof(path));
    rc = cli_call(&o->r, "PUT", path, text, strlen(text), NULL, &ans);
    free(text);
    if (rc == CLI_OK) {
        printf("secret '%s' set, version %lld\n", name,
               (long long)json_integer_value(json_object_get(ans, "version")));
        json_decref(ans);
    }
    return rc;
}

static int
simple(const struct secret_opts *o, const char *method, const char *path, const char *body,
       size_t len)
{
    json_t *ans = NULL;
    int rc = cli_call(&o->r, method, path, body, len, NULL, &ans);
    if (rc == CLI_OK) {
        cli_print_json(ans);
        json_decref(ans);
    }
    return rc;
}

static int
secret_policy(const struct secret_opts *o, const char *name, const char *file)
{
    char *text = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cli_read_file(file, SR_SECRET_POLICY_MAX_TEXT, &text, &len, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char path[512];
    secret_path(name, "/policy", path, sizeof(path));
    int rc = simple(o, "PUT", path, text, len);
    free(text);
    return rc;
}

static const struct cli_help set_help = {
    .cmd = "secret set",
    .args = "NAME [options]",
    .about = "Sets your secret NAME (a new version when it exists). The value is read from\n"
             "stdin (or --file) as it is, byte for byte: use printf '%s', not echo, if a\n"
             "trailing newline is not part of it. It is sealed on this machine to your key\n"
             "on the server (GET /secrets/pubkey): only the sealed box is sent.\n",
};

static int
secret_set_cmd(int argc, char **argv)
{
    struct secret_opts o = {0};
    const struct sr_opt t[] = {
        {.name = "--file",
         .kind = SR_OPT_STRING,
         .dst = &o.file,
         .metavar = "FILE",
         .help = "read the value from FILE instead of stdin"},
    };
    const char *name = NULL;
    size_t npos = 0;
    int rc = cli_parse(&set_help, t, 1, argc, argv, &name, 1, 1, &npos, &o.r);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    return secret_set(&o, name);
}

static int
secret_list_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "secret list",
        .args = "[options]",
        .about = "Lists your secrets: names, versions, dates and policies (never values).\n",
    };
    struct secret_opts o = {0};
    size_t npos = 0;
    int rc = cli_parse(&h, NULL, 0, argc, argv, NULL, 0, 0, &npos, &o.r);
    return rc != CLI_CONTINUE ? rc : simple(&o, "GET", "/secrets", NULL, 0);
}

static int
secret_pubkey_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "secret pubkey",
        .args = "[options]",
        .about = "Prints the X25519 public key your secret values are sealed to.\n",
    };
    struct secret_opts o = {0};
    size_t npos = 0;
    int rc = cli_parse(&h, NULL, 0, argc, argv, NULL, 0, 0, &npos, &o.r);
    return rc != CLI_CONTINUE ? rc : simple(&o, "GET", "/secrets/pubkey", NULL, 0);
}

static int
secret_rm_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "secret rm",
        .args = "NAME [options]",
        .about = "Deletes your secret NAME (every version).\n",
    };
    struct secret_opts o = {0};
    const char *name = NULL;
    size_t npos = 0;
    int rc = cli_parse(&h, NULL, 0, argc, argv, &name, 1, 1, &npos, &o.r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[512];
    secret_path(name, "", path, sizeof(path));
    return simple(&o, "DELETE", path, NULL, 0);
}

static int
secret_policy_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "secret policy",
        .args = "NAME FILE.json [options]",
        .about = "Sets the policy of your secret NAME from FILE.json ('-' for stdin): who may\n"
                 "use it, from which code and entry points (docs/secrets.md).\n",
    };
    struct secret_opts o = {0};
    const char *pos[2] = {NULL, NULL};
    size_t npos = 0;
    int rc = cli_parse(&h, NULL, 0, argc, argv, pos, 2, 2, &npos, &o.r);
    return rc != CLI_CONTINUE ? rc : secret_policy(&o, pos[0], pos[1]);
}

static int
secret_audit_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "secret audit",
        .args = "NAME [options]",
        .about = "Prints the audit of your secret NAME, newest first: every use and change.\n",
    };
    struct secret_opts o = {0};
    const struct sr_opt t[] = {
        {.name = "--limit",
         .kind = SR_OPT_INT,
         .dst = &o.limit,
         .metavar = "N",
         .help = "rows per page, 1..100 (default 20)",
         .min = 1,
         .max = SR_MAX_PAGE},
        {.name = "--before",
         .kind = SR_OPT_INT,
         .dst = &o.before,
         .metavar = "ID",
         .help = "the page after this row: 'next' of the previous page",
         .min = 1,
         .max = INT64_MAX},
    };
    const char *name = NULL;
    size_t npos = 0;
    int rc = cli_parse(&h, t, 2, argc, argv, &name, 1, 1, &npos, &o.r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[768];
    secret_path(name, "/audit?limit=", path, sizeof(path));
    (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "%lld",
                   (long long)(o.limit ? o.limit : SR_DEFAULT_PAGE));
    if (o.before)
        (void)snprintf(path + strlen(path), sizeof(path) - strlen(path), "&before=%lld",
                       (long long)o.before);
    return simple(&o, "GET", path, NULL, 0);
}

static const struct cli_sub subs[] = {
    {"set", "set a secret (value from stdin or a file, sealed on this machine)", secret_set_cmd},
    {"list", "list your secrets (never their values)", secret_list_cmd},
    {"rm", "delete a secret", secret_rm_cmd},
    {"policy", "set a secret's policy from a JSON file", secret_policy_cmd},
    {"audit", "a secret's audit, newest first", secret_audit_cmd},
    {"pubkey", "the public key values are sealed to", secret_pubkey_cmd},
};

int
cmd_secret(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "secret",
        .about = "Your secrets on a sealrund server (docs/secrets.md). Jobs get them with\n"
                 "'sealrun exec --secret NAME'.\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
