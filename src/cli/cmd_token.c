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

static const char usage[] =
    "usage: sealrun token create (--data-dir DIR | --store URL) --user NAME [--label TEXT]\n"
    "                            [--create]\n"
    "       sealrun token list   (--data-dir DIR | --store URL) [--user NAME]\n"
    "       sealrun token revoke (--data-dir DIR | --store URL) ID\n"
    "\n"
    "create prints the new token alone on its last line; it is shown only once\n"
    "(the store keeps its SHA-256). list shows ids (a prefix of the hash), users\n"
    "and dates. revoke takes an id (8 or more characters of it).\n"
    "DIR must be the daemon's --data-dir holding its database; --create makes the\n"
    "directory and an empty database when they do not exist yet. With a cluster on\n"
    "PostgreSQL, --store URL (or SEALRUN_STORE) names the daemons' store instead;\n"
    "a revocation is seen by every daemon at its next request.\n";

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

int
cmd_token(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *sub = argv[1];
    const char *dir = NULL, *url = NULL, *user = NULL, *label = NULL, *id = NULL;
    bool create = false;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--create") == 0)
            create = true;
        else if ((v = sr_opt_value(argv[i], "--data-dir", &i, argc, argv)))
            dir = v;
        else if ((v = sr_opt_value(argv[i], "--store", &i, argc, argv)))
            url = v;
        else if ((v = sr_opt_value(argv[i], "--user", &i, argc, argv)))
            user = v;
        else if ((v = sr_opt_value(argv[i], "--label", &i, argc, argv)))
            label = v;
        else if (argv[i][0] != '-' && !id)
            id = argv[i];
        else
            return cli_fail(CLI_USAGE, "see 'sealrun token --help'", "unknown argument '%s'",
                            argv[i]);
    }
    if (strcmp(sub, "create") && strcmp(sub, "list") && strcmp(sub, "revoke"))
        return cli_fail(CLI_USAGE, "use create, list or revoke", "unknown token command '%s'", sub);
    if (strcmp(sub, "revoke") == 0 && !id)
        return cli_fail(CLI_USAGE, "see 'sealrun token list'", "token revoke needs an ID");
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    sr_store *st = NULL;
    if (create && strcmp(sub, "create") != 0)
        return cli_fail(CLI_USAGE, NULL, "--create only goes with 'token create'");
    if (strcmp(sub, "create") == 0 && check_user(user) != CLI_OK)
        return CLI_USAGE;
    int rc = open_store(dir, url, create, &st);
    if (rc != CLI_OK)
        return rc;
    if (strcmp(sub, "create") == 0)
        rc = token_create(st, user, label);
    else if (strcmp(sub, "list") == 0)
        rc = token_list(st, user);
    else if (sr_store_token_revoke(st, id, sr_now_ms(), &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    else
        printf("revoked token %s\n", id);
    sr_store_close(st);
    return rc;
}
