/* SPDX-License-Identifier: MIT
 *
 * cmd_token.c - `sealrun token create|list|revoke`: API tokens, written
 * straight into the data directory's store (the daemon may be running:
 * SQLite in WAL mode serves both), or over HTTP with --server/--token (the
 * /tokens endpoints, under their rules: docs/accounts.md). Only the token's
 * SHA-256 is stored; the token itself is printed once.
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

struct token_opts {
    const char *dir, *url, *server, *token, *user, *label, *scopes, *expires, *id;
    bool create;
};

/* Opens DIR/sealrun.db. Without 'create', a missing directory or database
 * is an error: a typo in --data-dir must not make a new, empty store whose
 * tokens the daemon would never see. */
int
cli_open_store(const char *dir, const char *url, bool create, sr_store **st)
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

struct sr_opt
cli_data_dir_opt(const char **dir)
{
    return (struct sr_opt){.name = "--data-dir",
                           .kind = SR_OPT_STRING,
                           .dst = dir,
                           .metavar = "DIR",
                           .help = "the daemon's --data-dir, holding its database sealrun.db "
                                   "(or --store)"};
}

struct sr_opt
cli_store_opt(const char **url)
{
    return (struct sr_opt){.name = "--store",
                           .kind = SR_OPT_STRING,
                           .dst = url,
                           .metavar = "URL",
                           .help = "the daemons' store of a cluster on PostgreSQL, instead of "
                                   "--data-dir (default: SEALRUN_STORE)"};
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
    int rc = text ? cli_call(&(struct cli_remote){.server = o->server, .token = o->token}, "POST",
                             "/tokens", text, strlen(text), NULL, &ans)
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
    int rc = cli_call(&(struct cli_remote){.server = o->server, .token = o->token}, "GET", path,
                      NULL, 0, NULL, &ans);
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

/* --server and --token: the /tokens endpoints instead of a store. */
static struct sr_opt
server_opt(const char **v)
{
    return (struct sr_opt){.name = "--server",
                           .kind = SR_OPT_STRING,
                           .dst = v,
                           .metavar = "URL",
                           .help = "go through sealrund's API at URL instead of a store "
                                   "(default: SEALRUN_SERVER, the config file)"};
}

static struct sr_opt
token_opt(const char **v)
{
    return (struct sr_opt){.name = "--token",
                           .kind = SR_OPT_STRING,
                           .dst = v,
                           .metavar = "TOKEN",
                           .help = "the token the API request is made with (default: "
                                   "SEALRUN_TOKEN, the config file)"};
}

/* Whether the command goes over HTTP: --server or --token given, or no
 * store named anywhere and SEALRUN_SERVER or SEALRUN_TOKEN set. *remote
 * says so; o->server and o->token are then resolved (remote.c).
 * CLI_CONTINUE, or the exit code after an error. */
static int
pick(struct token_opts *o, struct cli_remote *r, bool *remote)
{
    *remote = false;
    bool store = o->dir || o->url, asked = o->server || o->token;
    if (store && asked)
        return cli_fail(CLI_USAGE, NULL,
                        "give --server/--token or a store (--data-dir, --store), not both");
    const char *env_store = getenv("SEALRUN_STORE"), *es = getenv("SEALRUN_SERVER"),
               *et = getenv("SEALRUN_TOKEN");
    bool env_remote = (es && *es) || (et && *et);
    if (!asked && (store || (env_store && *env_store) || !env_remote))
        return CLI_CONTINUE;
    int rc = cli__remote_resolve(r, o->server, o->token);
    if (rc != CLI_CONTINUE)
        return rc;
    o->server = r->server;
    o->token = r->token;
    *remote = true;
    return CLI_CONTINUE;
}

static int
token_create_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token create",
        .args = "(--data-dir DIR | --store URL | --server URL --token TOKEN) [--user NAME] "
                "[options]",
        .about = "Creates an API token for user NAME and prints it alone on its last line. It\n"
                 "is shown only once: the store keeps its SHA-256. The daemon may be running.\n"
                 "Over HTTP (--server), a token makes tokens for its own user (--user needs\n"
                 "the admin scope) within its own scopes and expiry (docs/accounts.md).\n",
    };
    struct token_opts o = {0};
    const struct sr_opt t[] = {
        cli_data_dir_opt(&o.dir),
        cli_store_opt(&o.url),
        server_opt(&o.server),
        token_opt(&o.token),
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &o.user,
         .metavar = "NAME",
         .help = "the user the token acts for: 1..64 of A-Z a-z 0-9 _ - . @ (required with a "
                 "store; over HTTP, default the caller)"},
        {.name = "--scopes",
         .kind = SR_OPT_STRING,
         .dst = &o.scopes,
         .metavar = "LIST",
         .help = "what it may do, comma-separated: execute, jobs:read, secrets:write, "
                 "secrets:read, storage:read, storage:write, modules:write, admin (default: "
                 "every scope but admin)"},
        {.name = "--expires-in",
         .kind = SR_OPT_STRING,
         .dst = &o.expires,
         .metavar = "DURATION",
         .help = "expire after 24h, 90m, 45s or a number of seconds (default: never)"},
        {.name = "--label",
         .kind = SR_OPT_STRING,
         .dst = &o.label,
         .metavar = "TEXT",
         .help = "a note shown by 'token list'"},
        {.name = "--create",
         .kind = SR_OPT_FLAG,
         .dst = &o.create,
         .help = "make DIR and an empty database when they do not exist yet"},
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    struct cli_remote r;
    bool remote = false;
    if ((rc = pick(&o, &r, &remote)) != CLI_CONTINUE)
        return rc;
    if ((remote ? (o.user != NULL) : true) && check_user(o.user) != CLI_OK)
        return CLI_USAGE;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (remote)
        return o.create ? cli_fail(CLI_USAGE, NULL, "--create only goes with --data-dir")
                        : remote_create(&o);
    sr_store *st = NULL;
    if ((rc = cli_open_store(o.dir, o.url, o.create, &st)) != CLI_OK)
        return rc;
    rc = token_create(st, &o);
    sr_store_close(st);
    return rc;
}

static int
token_list_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token list",
        .args = "(--data-dir DIR | --store URL | --server URL --token TOKEN) [options]",
        .about = "Lists tokens: ids (a prefix of the hash), users, dates, expiry, scopes and\n"
                 "labels. Over HTTP, the caller's own (--user another's, with admin).\n",
    };
    struct token_opts o = {0};
    const struct sr_opt t[] = {
        cli_data_dir_opt(&o.dir),
        cli_store_opt(&o.url),
        server_opt(&o.server),
        token_opt(&o.token),
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &o.user,
         .metavar = "NAME",
         .help = "only this user's tokens"},
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    struct cli_remote r;
    bool remote = false;
    if ((rc = pick(&o, &r, &remote)) != CLI_CONTINUE)
        return rc;
    if (o.user && check_user(o.user) != CLI_OK)
        return CLI_USAGE;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (remote)
        return remote_list(&o);
    sr_store *st = NULL;
    if ((rc = cli_open_store(o.dir, o.url, false, &st)) != CLI_OK)
        return rc;
    rc = token_list(st, o.user);
    sr_store_close(st);
    return rc;
}

static int
remote_revoke(const struct token_opts *o)
{
    if (strlen(o->id) > 64 || !sr_is_lower_hex(o->id, strlen(o->id)))
        return cli_fail(CLI_USAGE, "see 'sealrun token list'",
                        "token id '%.70s' must be lower-case hex characters", o->id);
    char path[96];
    (void)snprintf(path, sizeof(path), "/tokens/%s", o->id);
    json_t *ans = NULL;
    int rc = cli_call(&(struct cli_remote){.server = o->server, .token = o->token}, "DELETE", path,
                      NULL, 0, NULL, &ans);
    if (rc == CLI_OK)
        printf("revoked token %s\n", o->id);
    json_decref(ans);
    return rc;
}

static int
token_revoke_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token revoke",
        .args = "(--data-dir DIR | --store URL | --server URL --token TOKEN) ID [options]",
        .about = "Revokes the token with this id (8 or more characters of it, from 'token\n"
                 "list'). Its requests are refused from then on.\n",
    };
    struct token_opts o = {0};
    const struct sr_opt t[] = {cli_data_dir_opt(&o.dir), cli_store_opt(&o.url),
                               server_opt(&o.server), token_opt(&o.token)};
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, &o.id, 1, 1, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    struct cli_remote r;
    bool remote = false;
    if ((rc = pick(&o, &r, &remote)) != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if (remote)
        return remote_revoke(&o);
    sr_store *st = NULL;
    if ((rc = cli_open_store(o.dir, o.url, false, &st)) != CLI_OK)
        return rc;
    if (sr_store_token_revoke(st, o.id, sr_now_ms(), &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    else
        printf("revoked token %s\n", o.id);
    sr_store_close(st);
    return rc;
}

static const struct cli_sub subs[] = {
    {"create", "create a token for a user (printed once)", token_create_cmd},
    {"list", "list tokens", token_list_cmd},
    {"revoke", "revoke a token", token_revoke_cmd},
};

int
cmd_token(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "token",
        .about = "API tokens, written straight into a data directory's store (run these on\n"
                 "the machine of sealrund, as a user who may read its --data-dir), or with a\n"
                 "cluster on PostgreSQL into the daemons' store (--store URL or SEALRUN_STORE);\n"
                 "a revocation is seen by every daemon at its next request. With --server and\n"
                 "--token they go through the API's /tokens endpoints (docs/accounts.md).\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
