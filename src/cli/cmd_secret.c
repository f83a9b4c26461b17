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
#include "sealrun/sr_secret.h"

static const char usage[] =
    "usage: sealrun secret set NAME [--file F]     value from stdin (or F), sealed locally\n"
    "       sealrun secret list\n"
    "       sealrun secret rm NAME\n"
    "       sealrun secret policy NAME FILE.json   (- for stdin; see docs/secrets.md)\n"
    "       sealrun secret audit NAME [--limit N] [--before ID]   newest first; --before\n"
    "                                              takes 'next' from the previous page\n"
    "       sealrun secret generate NAME KIND          a key made in the service (ed25519,\n"
    "                                              secp256k1, x25519, random32); prints\n"
    "                                              the public key, never the value\n"
    "       sealrun secret pubkey\n"
    "\n"
    "Every command takes --server URL and --token TOKEN (or SEALRUN_SERVER and\n"
    "SEALRUN_TOKEN). The value is read as it is, byte for byte: use printf '%s',\n"
    "not echo, if a trailing newline is not part of it.\n";

struct secret_opts {
    const char *server, *token, *file, *limit, *before;
    const char *pos[2];
    int npos;
};

static int
secret_set(const struct secret_opts *o, const char *name)
{
    char *value = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cli_read_file(o->file ? o->file : "-", SR_SECRET_VALUE_MAX, &value, &len, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "GET", "/secrets/pubkey", NULL, 0, NULL, &ans);
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
    char path[256];
    (void)snprintf(path, sizeof(path), "/secrets/%s", name);
    rc = cli_call(o->server, o->token, "PUT", path, text, strlen(text), NULL, &ans);
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
    int rc = cli_call(o->server, o->token, method, path, body, len, NULL, &ans);
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
    char path[256];
    (void)snprintf(path, sizeof(path), "/secrets/%s/policy", name);
    int rc = simple(o, "PUT", path, text, len);
    free(text);
    return rc;
}

/* Query values are numbers: anything else is refused here rather than sent
 * half-encoded. */
static bool
is_number(const char *s)
{
    if (!*s || strlen(s) > 19)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int
secret_audit(const struct secret_opts *o, const char *name)
{
    if ((o->limit && !is_number(o->limit)) || (o->before && !is_number(o->before)))
        return cli_fail(CLI_USAGE, "see 'sealrun secret --help'",
                        "--limit and --before take whole numbers (--before: 'next' of the "
                        "previous page)");
    char path[512];
    (void)snprintf(path, sizeof(path), "/secrets/%s/audit?limit=%s%s%s", name,
                   o->limit ? o->limit : "20", o->before ? "&before=" : "",
                   o->before ? o->before : "");
    return simple(o, "GET", path, NULL, 0);
}

static int
parse(int argc, char **argv, struct secret_opts *o)
{
    o->server = getenv("SEALRUN_SERVER");
    o->token = getenv("SEALRUN_TOKEN");
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = sr_opt_value(argv[i], "--server", &i, argc, argv)))
            o->server = v;
        else if ((v = sr_opt_value(argv[i], "--token", &i, argc, argv)))
            o->token = v;
        else if ((v = sr_opt_value(argv[i], "--file", &i, argc, argv)))
            o->file = v;
        else if ((v = sr_opt_value(argv[i], "--limit", &i, argc, argv)))
            o->limit = v;
        else if ((v = sr_opt_value(argv[i], "--before", &i, argc, argv)))
            o->before = v;
        else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && o->npos < 2)
            o->pos[o->npos++] = argv[i];
        else
            return cli_fail(CLI_USAGE, "see 'sealrun secret --help'", "unknown argument '%s'",
                            argv[i]);
    }
    if (!o->server || !o->token)
        return cli_fail(CLI_USAGE, "see 'sealrun secret --help'",
                        "--server and --token are required");
    return CLI_OK;
}

static int
need(const struct secret_opts *o, int n, const char *what)
{
    if (o->npos != n)
        return cli_fail(CLI_USAGE, "see 'sealrun secret --help'", "%s", what);
    return CLI_OK;
}

int
cmd_secret(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    struct secret_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;
    const char *sub = argv[1];
    char path[256];
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (strcmp(sub, "set") == 0)
        return (rc = need(&o, 1, "secret set takes NAME")) ? rc : secret_set(&o, o.pos[0]);
    if (strcmp(sub, "list") == 0)
        return (rc = need(&o, 0, "secret list takes no NAME"))
                   ? rc
                   : simple(&o, "GET", "/secrets", NULL, 0);
    if (strcmp(sub, "pubkey") == 0)
        return (rc = need(&o, 0, "secret pubkey takes no NAME"))
                   ? rc
                   : simple(&o, "GET", "/secrets/pubkey", NULL, 0);
    if (strcmp(sub, "rm") == 0) {
        if ((rc = need(&o, 1, "secret rm takes NAME")))
            return rc;
        (void)snprintf(path, sizeof(path), "/secrets/%s", o.pos[0]);
        return simple(&o, "DELETE", path, NULL, 0);
    }
    if (strcmp(sub, "policy") == 0)
        return (rc = need(&o, 2, "secret policy takes NAME FILE.json"))
                   ? rc
                   : secret_policy(&o, o.pos[0], o.pos[1]);
    if (strcmp(sub, "generate") == 0) {
        if ((rc = need(&o, 2, "secret generate takes NAME KIND")))
            return rc;
        json_t *body = json_pack("{s:s}", "kind", o.pos[1]);
        char *text = body ? sr_json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!text)
            return cli_fail(CLI_FAILED, NULL, "out of memory");
        (void)snprintf(path, sizeof(path), "/secrets/%s/generate", o.pos[0]);
        rc = simple(&o, "POST", path, text, strlen(text));
        free(text);
        return rc;
    }
    if (strcmp(sub, "audit") == 0) {
        if ((rc = need(&o, 1, "secret audit takes NAME")))
            return rc;
        return secret_audit(&o, o.pos[0]);
    }
    return cli_fail(CLI_USAGE, "use set, generate, list, rm, policy, audit or pubkey",
                    "unknown secret command '%s'", sub);
}
