/* SPDX-License-Identifier: MIT
 *
 * cmd_token.c - `sealrun token create|list|revoke`: API tokens, written
 * straight into the data directory's store (the daemon may be running:
 * SQLite in WAL mode serves both). Only the token's SHA-256 is stored; the
 * token itself is printed once.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_limits.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

static bool
valid_user(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > SR_MAX_USER_NAME)
        return false;
    for (const char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '@'))
            return false;
    return true;
}

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
    if (!valid_user(user))
        return cli_fail(CLI_USAGE, NULL,
                        "user name '%.80s' must be 1..%d characters of A-Z a-z 0-9 _ - . @", user,
                        SR_MAX_USER_NAME);
    return CLI_OK;
}

static int
token_create(sr_store *st, const char *user, const char *label)
{
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    sr_err e = {0};
    if (sr_store_token_add(st, hash, user, label, sr_now_ms(), &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    char id[65];
    sr_hex_encode(hash, 8, id);
    printf("created token %s for user '%s' (shown once; store it now):\n%s\n", id, user, tok);
    return CLI_OK;
}

static int
token_list(sr_store *st, const char *user)
{
    struct sr_token_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_token_list(st, user, &rows, &n, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    printf("%-16s  %-20s  %-24s  %-24s  %s\n", "ID", "USER", "CREATED", "REVOKED", "LABEL");
    for (size_t i = 0; i < n; i++) {
        char c[32], r[32] = "-";
        sr_time_rfc3339(rows[i].created_at_ms, c);
        if (rows[i].revoked_at_ms)
            sr_time_rfc3339(rows[i].revoked_at_ms, r);
        printf("%-16s  %-20s  %-24s  %-24s  %s\n", rows[i].id, rows[i].owner, c, r,
               rows[i].label ? rows[i].label : "");
        sr_token_row_fini(&rows[i]);
    }
    free(rows);
    return CLI_OK;
}

/* --store, the other way to name the store (a cluster's PostgreSQL). */
static struct sr_opt
store_opt(const char **url)
{
    return (struct sr_opt){.name = "--store",
                           .kind = SR_OPT_STRING,
                           .dst = url,
                           .metavar = "URL",
                           .help = "the daemons' store of a cluster on PostgreSQL, instead of "
                                   "--data-dir (default: SEALRUN_STORE)"};
}

/* --data-dir, the option every token command takes. */
static struct sr_opt
data_dir_opt(const char **dir)
{
    return (struct sr_opt){.name = "--data-dir",
                           .kind = SR_OPT_STRING,
                           .dst = dir,
                           .metavar = "DIR",
                           .help = "the daemon's --data-dir, holding its database sealrun.db "
                                   "(or --store)"};
}

static int
token_create_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token create",
        .args = "(--data-dir DIR | --store URL) --user NAME [options]",
        .about = "Creates an API token for user NAME and prints it alone on its last line. It\n"
                 "is shown only once: the store keeps its SHA-256. The daemon may be running.\n",
    };
    const char *dir = NULL, *url = NULL, *user = NULL, *label = NULL;
    bool create = false;
    const struct sr_opt t[] = {
        data_dir_opt(&dir),
        store_opt(&url),
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &user,
         .metavar = "NAME",
         .help = "the user the token acts for: 1..64 of A-Z a-z 0-9 _ - . @ (required)"},
        {.name = "--label",
         .kind = SR_OPT_STRING,
         .dst = &label,
         .metavar = "TEXT",
         .help = "a note shown by 'token list'"},
        {.name = "--create",
         .kind = SR_OPT_FLAG,
         .dst = &create,
         .help = "make DIR and an empty database when they do not exist yet"},
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, 5, argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (check_user(user) != CLI_OK)
        return CLI_USAGE;
    sr_err e = {0};
    sr_store *st = NULL;
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if ((rc = open_store(dir, url, create, &st)) != CLI_OK)
        return rc;
    rc = token_create(st, user, label);
    sr_store_close(st);
    return rc;
}

static int
token_list_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token list",
        .args = "(--data-dir DIR | --store URL) [options]",
        .about = "Lists tokens: ids (a prefix of the hash), users, dates and labels.\n",
    };
    const char *dir = NULL, *url = NULL, *user = NULL;
    const struct sr_opt t[] = {
        data_dir_opt(&dir),
        store_opt(&url),
        {.name = "--user",
         .kind = SR_OPT_STRING,
         .dst = &user,
         .metavar = "NAME",
         .help = "only this user's tokens"},
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, 3, argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    sr_store *st = NULL;
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if ((rc = open_store(dir, url, false, &st)) != CLI_OK)
        return rc;
    rc = token_list(st, user);
    sr_store_close(st);
    return rc;
}

static int
token_revoke_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "token revoke",
        .args = "(--data-dir DIR | --store URL) ID [options]",
        .about = "Revokes the token with this id (8 or more characters of it, from 'token\n"
                 "list'). Its requests are refused from then on.\n",
    };
    const char *dir = NULL, *url = NULL, *id = NULL;
    const struct sr_opt t[] = {data_dir_opt(&dir), store_opt(&url)};
    size_t npos = 0;
    int rc = cli_parse(&h, t, 2, argc, argv, &id, 1, 1, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_err e = {0};
    sr_store *st = NULL;
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    if ((rc = open_store(dir, url, false, &st)) != CLI_OK)
        return rc;
    if (sr_store_token_revoke(st, id, sr_now_ms(), &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    else
        printf("revoked token %s\n", id);
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
                 "a revocation is seen by every daemon at its next request.\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
