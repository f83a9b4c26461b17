/* SPDX-License-Identifier: MIT
 *
 * cmd_store.c - `sealrun store migrate|copy`: operations on a store itself
 * (docs/cluster.md): apply pending schema migrations to a store, and move
 * an embedded SQLite installation into an empty PostgreSQL store, verified
 * row by row. Neither needs the master keys: sealed rows move sealed.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

static int
store_migrate(const char *url)
{
    sr_store *st = NULL;
    sr_err e = {0};
    if (sr_store_open(url, NULL, &st, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    printf("store %s: schema version %d\n", sr_store_backend(st), sr_store_schema_version(st));
    sr_store_close(st);
    return CLI_OK;
}

static int
store_copy(const char *from, const char *to)
{
    if (!from || strncmp(from, "sqlite:", 7) != 0 || !from[7])
        return cli_fail(CLI_USAGE, "give --from sqlite:DIR", "--from must name a SQLite store");
    if (!to || (strncmp(to, "postgres://", 11) != 0 && strncmp(to, "postgresql://", 13) != 0))
        return cli_fail(CLI_USAGE, "give --to postgres://...", "--to must name a PostgreSQL store");
    char path[4096];
    struct stat sb;
    if (stat(from + 7, &sb) == 0 && S_ISDIR(sb.st_mode))
        (void)snprintf(path, sizeof(path), "%s/sealrun.db", from + 7);
    else
        (void)snprintf(path, sizeof(path), "%s", from + 7);
    if (stat(path, &sb) != 0)
        return cli_fail(CLI_FAILED, "pass the daemon's --data-dir", "no sealrun database '%s'",
                        path);
    struct sr_store_copy_report rep;
    sr_err e = {0};
    if (sr_store_copy(path, to, &rep, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s (nothing was copied)", e.msg);
    printf("copied %llu rows of %llu tables; verified row by row\n", (unsigned long long)rep.rows,
           (unsigned long long)rep.tables);
    return CLI_OK;
}

static struct sr_opt
str_opt(const char *name, const char **dst, const char *metavar, const char *help)
{
    return (struct sr_opt){
        .name = name, .kind = SR_OPT_STRING, .dst = dst, .metavar = metavar, .help = help};
}

static int
store_migrate_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "store migrate",
        .args = "--store URL",
        .about = "Applies the schema migrations this sealrun has and the store lacks, and\n"
                 "prints the version. URL: postgres://... or sqlite:PATH (or SEALRUN_STORE).\n",
    };
    const char *url = NULL;
    const struct sr_opt t[] = {str_opt("--store", &url, "URL", "the store to migrate")};
    size_t npos = 0;
    int rc = cli_parse(&h, t, 1, argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!url) {
        const char *env = getenv("SEALRUN_STORE");
        url = env && *env ? env : NULL;
    }
    if (!url)
        return cli_fail(CLI_USAGE, "give --store URL", "store migrate needs a store");
    return store_migrate(url);
}

static int
store_copy_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "store copy",
        .args = "--from sqlite:DIR --to postgres://...",
        .about = "Moves every row of the SQLite store in DIR (DIR/sealrun.db, or a file) into\n"
                 "an empty PostgreSQL store, in one transaction, and verifies each table row\n"
                 "by row before it commits. Stop the daemon of DIR first; no master key is\n"
                 "needed (sealed rows move sealed).\n",
    };
    const char *from = NULL, *to = NULL;
    const struct sr_opt t[] = {
        str_opt("--from", &from, "sqlite:DIR", "the embedded store to copy"),
        str_opt("--to", &to, "URL", "the empty PostgreSQL store (postgres://...)"),
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, 2, argc, argv, NULL, 0, 0, &npos, NULL);
    return rc != CLI_CONTINUE ? rc : store_copy(from, to);
}

static const struct cli_sub subs[] = {
    {"migrate", "apply pending schema migrations to a store", store_migrate_cmd},
    {"copy", "move a SQLite store into an empty PostgreSQL store, verified", store_copy_cmd},
};

int
cmd_store(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "store",
        .about = "Operations on a store itself (docs/cluster.md).\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
