/* SPDX-License-Identifier: MIT
 *
 * cmd_token.c - `sealrun token create|list|revoke`: API tokens, written
 * straight into the data directory's store (the daemon may be running:
 * SQLite in WAL mode serves both), or over HTTP with --server (the /tokens
 * endpoints, under their rules: docs/accounts.md). Only the token's SHA-256
 * is stored; the token itself is printed once.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_scope.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

static const char usage[] =
    "usage: sealrun token create WHERE --user NAME [--scopes LIST] [--expires-in DURATION]\n"
    "                            [--label TEXT] [--create]\n"
    "       sealrun token list   WHERE [--user NAME]\n"
    "       sealrun token revoke WHERE ID\n"
    "WHERE: --data-dir DIR | --store URL | --server URL --token TOKEN\n"
    "\n"
    "create prints the new token alone on its last line; it is shown only once\n"
    "(the store keeps its SHA-256). --scopes is a comma-separated list of execute,\n"
    "jobs:read, secrets:write, secrets:read, storage:read, storage:write,\n"
    "modules:write and admin (default: every scope but admin); --expires-in takes\n"
    "24h, 90m, 45s or seconds (default: never). list shows ids (a prefix of the\n"
    "hash), users, dates and scopes. revoke takes an id (8 or more characters).\n"
    "DIR must be the daemon's --data-dir holding its database; --create makes the\n"
    "directory and an empty database when they do not exist yet. With a cluster on\n"
    "PostgreSQL, --store URL (or SEALRUN_STORE) names the daemons' store instead;\n"
    "a revocation is seen by every daemon at its next request. --server URL and\n"
    "--token TOKEN (or SEALRUN_SERVER and SEALRUN_TOKEN, when no store is named)\n"
    "go through the API instead: a token manages its own user's tokens within its\n"
    "scopes and expiry, and one with the admin scope anyone's (--user).\n";

struct token_opts {
    const char *dir, *url, *server, *token, *user, *label, *scopes, *expires, *id;
    bool create;
};

/* Opens DIR/sealrun.db. Without 'create', a missing directory or database
 * is an error: a typo in --data-dir must not make a new, empty store whose
 * tokens the daemon would never see. */
static int
open_store(const char *dir, const char *url, bool create, sr_store **st)
{
    sr_err e = {0};
    if (!dir && !url) {
        const char *env = getenv("SEALRUN_STORE");
        url = env && *env ? env : NULL;
    }
    if (url && !dir) {
        if (sr_store_open(url, NULL, st, &e) != SR_OK)
            return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
        return CLI_OK;
    }
    if (url)
        return cli_fail(CLI_USAGE, NULL, "give --data-dir or --store, not both");
    if (!dir)
        return cli_fail(CLI_USAGE, "pass the daemon's --data-dir (or its --store URL)",
                        "--data-dir is required");
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/sealrun.db", dir);
    struct stat sb;
    if (!create && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return cli_fail(CLI_FAILED, "pass the daemon's --data-dir, or --create for a new one",
                        "data directory '%s' does not exist", dir);
    if (!create && stat(path, &sb) != 0)
        return cli_fail(CLI_FAILED, "pass the daemon's --data-dir, or --create for a new one",
                        "no sealrun database in '%s' (expected '%s')", dir, path);
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cli_fail(CLI_FAILED, NULL, "cannot create data directory '%s': %s", dir,
                        strerror(errno));
    if (sr_store_open_sqlite(path, st, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    return CLI_OK;
}

static int
check_user(const char *user)
{
    if (!user)
        return cli_fail(CLI_USAGE, NULL, "--user NAME is required");
    if (!sr_is_user_name(user))
        return cli_fail(CLI_USAGE, NULL,
                        "user name '%.80s' must be 1..%d characters of A-Z a-z 0-9 _ - . @", user,
                        SR_MAX_USER_NAME);
    return CLI_OK;
}

/* The expiry asked for: 0 = never; CLI_USAGE after printing why. */
static int
parse_expiry(const char *text, int64_t *ms)
{
    *ms = 0;
    if (!text)
        return CLI_OK;
    sr_err e = {0};
    if (sr_parse_duration_ms(text, ms, &e) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "--expires-in: %s", e.msg);
    if (*ms <= 0 || *ms > SR_MAX_TOKEN_LIFETIME_MS)
        return cli_fail(CLI_USAGE, NULL, "--expires-in must be from 1 s to 3650 days");
    return CLI_OK;
}

static int
token_create(sr_store *st, const struct token_opts *o)
{
    uint32_t scopes = SR_SCOPES_USER;
    int64_t expires_ms = 0;
    sr_err e = {0};
    if (o->scopes && sr_scopes_parse(o->scopes, "--scopes", &scopes, &e) != SR_OK)
        return cli_fail(CLI_USAGE, NULL, "%s", e.msg);
    if (parse_expiry(o->expires, &expires_ms) != CLI_OK)
        return CLI_USAGE;
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    int64_t now = sr_now_ms();
    const struct sr_token_new t = {.hash = hash,
                                   .owner = o->user,
                                   .label = o->label,
                                   .scopes = scopes,
                                   .expires_at_ms = expires_ms ? now + expires_ms : 0,
                                   .now_ms = now};
    if (sr_store_token_create(st, &t, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char id[65];
    sr_hex_encode(hash, 8, id);
    printf("created token %s for user '%s' (shown once; store it now):\n%s\n", id, o->user, tok);
    return CLI_OK;
}

static void
print_row(const char *id, const char *user, const char *created, const char *revoked,
          const char *expires, const char *scopes, const char *label)
{
    printf("%-16s  %-20s  %-24s  %-24s  %-24s  %-40s  %s\n", id, user, created, revoked, expires,
           scopes, label);
}

static int
token_list(sr_store *st, const char *user)
{
    struct sr_token_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_token_list(st, user, &rows, &n, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    print_row("ID", "USER", "CREATED", "REVOKED", "EXPIRES", "SCOPES", "LABEL");
    for (size_t i = 0; i < n; i++) {
        char c[32], r[32] = "-", x[32] = "-", sc[SR_SCOPES_TEXT_MAX];
        sr_time_rfc3339(rows[i].created_at_ms, c);
        if (rows[i].revoked_at_ms)
            sr_time_rfc3339(rows[i].revoked_at_ms, r);
        if (rows[i].expires_at_ms)
            sr_time_rfc3339(rows[i].expires_at_ms, x);
        sr_scopes_format(rows[i].scopes, sc, sizeof(sc));
        for (char *p = sc; *p; p++)
            *p = *p == ' ' ? ',' : *p;
        print_row(rows[i].id, rows[i].owner, c, r, x, sc, rows[i].label ? rows[i].label : "");
        sr_token_row_fini(&rows[i]);
    }
    free(rows);
    return CLI_OK;
}

/* --- over HTTP --- */

static int
remote_create(const struct token_opts *o)
{
    json_t *body = json_object();
    if (o->user)
        json_object_set_new(body, "user", json_string(o->user));
    if (o->label)
        json_object_set_new(body, "label", json_string(o->label));
    if (o->expires)
        json_object_set_new(body, "expires_in", json_string(o->expires));
    if (o->scopes) {
        uint32_t set = 0;
        sr_err e = {0};
        if (sr_scopes_parse(o->scopes, "--scopes", &set, &e) != SR_OK) {
            json_decref(body);
            return cli_fail(CLI_USAGE, NULL, "%s", e.msg);
        }
        json_t *a = json_array();
        for (uint32_t bit = 1; bit <= SR_SCOPE_ADMIN; bit <<= 1)
            if (set & bit)
                json_array_append_new(a, json_string(sr_scope_name(bit)));
        json_object_set_new(body, "scopes", a);
    }
    char *text = sr_json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *ans = NULL;
    int rc = text ? cli_call(o->server, o->token, "POST", "/tokens", text, strlen(text), NULL, &ans)
                  : cli_fail(CLI_FAILED, NULL, "out of memory");
    free(text);
    if (rc != CLI_OK)
        return rc;
    printf("created token %s for user '%s' (shown once; store it now):\n%s\n",
           json_string_value(json_object_get(ans, "id")),
           json_string_value(json_object_get(ans, "user")),
           json_string_value(json_object_get(ans, "token")));
    json_decref(ans);
    return CLI_OK;
}

static const char *
field(const json_t *o, const char *key, const char *none)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : none;
}

static int
remote_list(const struct token_opts *o)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/tokens%s%s", o->user ? "?user=" : "",
                   o->user ? o->user : "");
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "GET", path, NULL, 0, NULL, &ans);
    if (rc != CLI_OK)
        return rc;
    print_row("ID", "USER", "CREATED", "REVOKED", "EXPIRES", "SCOPES", "LABEL");
    size_t i;
    const json_t *t;
    json_array_foreach(json_object_get(ans, "tokens"), i, t)
    {
        char sc[SR_SCOPES_TEXT_MAX] = "";
        size_t at = 0, j;
        const json_t *s;
        json_array_foreach(json_object_get(t, "scopes"), j, s)
        {
            int w = snprintf(sc + at, sizeof(sc) - at, "%s%s", at ? "," : "",
                             json_string_value(s) ? json_string_value(s) : "");
            if (w > 0 && (size_t)w < sizeof(sc) - at)
                at += (size_t)w;
        }
        print_row(field(t, "id", "?"), field(t, "user", "?"), field(t, "created_at", "-"),
                  field(t, "revoked_at", "-"), field(t, "expires_at", "-"), sc,
                  field(t, "label", ""));
    }
    json_decref(ans);
    return CLI_OK;
}

static int
remote(const char *sub, const struct token_opts *o)
{
    if (!o->token)
        return cli_fail(CLI_USAGE, "see 'sealrun token --help'",
                        "--server needs --token TOKEN (or SEALRUN_TOKEN)");
    if (o->create)
        return cli_fail(CLI_USAGE, NULL, "--create only goes with --data-dir");
    if (strcmp(sub, "create") == 0)
        return remote_create(o);
    if (strcmp(sub, "list") == 0)
        return remote_list(o);
    if (strlen(o->id) > 64 || !sr_is_lower_hex(o->id, strlen(o->id)))
        return cli_fail(CLI_USAGE, "see 'sealrun token list'",
                        "token id '%.70s' must be lower-case hex characters", o->id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/tokens/%s", o->id);
    json_t *ans = NULL;
    int rc = cli_call(o->server, o->token, "DELETE", path, NULL, 0, NULL, &ans);
    if (rc == CLI_OK)
        printf("revoked token %s\n", o->id);
    json_decref(ans);
    return rc;
}

static int
parse(int argc, char **argv, struct token_opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--create") == 0)
            o->create = true;
        else if ((v = sr_opt_value(argv[i], "--data-dir", &i, argc, argv)))
            o->dir = v;
        else if ((v = sr_opt_value(argv[i], "--store", &i, argc, argv)))
            o->url = v;
        else if ((v = sr_opt_value(argv[i], "--server", &i, argc, argv)))
            o->server = v;
        else if ((v = sr_opt_value(argv[i], "--token", &i, argc, argv)))
            o->token = v;
        else if ((v = sr_opt_value(argv[i], "--user", &i, argc, argv)))
            o->user = v;
        else if ((v = sr_opt_value(argv[i], "--label", &i, argc, argv)))
            o->label = v;
        else if ((v = sr_opt_value(argv[i], "--scopes", &i, argc, argv)))
            o->scopes = v;
        else if ((v = sr_opt_value(argv[i], "--expires-in", &i, argc, argv)))
            o->expires = v;
        else if (argv[i][0] != '-' && !o->id)
            o->id = argv[i];
        else
            return cli_fail(CLI_USAGE, "see 'sealrun token --help'", "unknown argument '%s'",
                            argv[i]);
    }
    if (o->server && (o->dir || o->url))
        return cli_fail(CLI_USAGE, NULL,
                        "give --server or a store (--data-dir, --store), not both");
    /* the environment names a server only when no store is named anywhere */
    const char *env_store = getenv("SEALRUN_STORE");
    if (!o->server && !o->dir && !o->url && !(env_store && *env_store))
        o->server = getenv("SEALRUN_SERVER");
    if (o->server && !o->token)
        o->token = getenv("SEALRUN_TOKEN");
    return CLI_OK;
}

int
cmd_token(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    struct token_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
        return cli_fail(CLI_USAGE, "use create, list or revoke", "unknown token command '%s'", sub);
    if (strcmp(sub, "revoke") == 0 && !o.id)
        return cli_fail(CLI_USAGE, "see 'sealrun token list'", "token revoke needs an ID");
    if (strcmp(sub, "create") != 0 && (o.scopes || o.expires || o.label))
        return cli_fail(CLI_USAGE, NULL, "--scopes, --expires-in and --label go with 'create'");
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (o.user && check_user(o.user) != CLI_OK)
        return CLI_USAGE;
    if (o.server)
        return remote(sub, &o);
    if (o.create && strcmp(sub, "create") != 0)
        return cli_fail(CLI_USAGE, NULL, "--create only goes with 'token create'");
    if (strcmp(sub, "create") == 0 && check_user(o.user) != CLI_OK)
        return CLI_USAGE;
    sr_store *st = NULL;
    rc = open_store(o.dir, o.url, o.create, &st);
    if (rc != CLI_OK)
        return rc;
    if (strcmp(sub, "create") == 0)
        rc = token_create(st, &o);
    else if (strcmp(sub, "list") == 0)
        rc = token_list(st, o.user);
    else if (sr_store_token_revoke(st, o.id, sr_now_ms(), &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    else
        printf("revoked token %s\n", o.id);
    sr_store_close(st);
    return rc;
}
