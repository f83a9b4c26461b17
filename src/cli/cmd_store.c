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

static const char usage[] =
    "usage: sealrun store migrate --store URL\n"
    "       sealrun store copy --from sqlite:DIR --to postgres://...\n"
    "\n"
    "migrate applies the schema migrations this sealrun has and a store lacks\n"
    "(URL: postgres://... or sqlite:PATH; also SEALRUN_STORE) and prints the version.\n"
    "copy moves every row of the SQLite store in DIR (DIR/sealrun.db, or a file) into\n"
    "an empty PostgreSQL store, in one transaction, and verifies each table row by row\n"
    "before it commits. Stop the daemon of DIR first.\n";

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

int
cmd_store(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *url = NULL, *from = NULL, *to = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if ((v = sr_opt_value(argv[i], "--store", &i, argc, argv)))
            url = v;
        else if ((v = sr_opt_value(argv[i], "--from", &i, argc, argv)))
            from = v;
        else if ((v = sr_opt_value(argv[i], "--to", &i, argc, argv)))
            to = v;
        else
            return cli_fail(CLI_USAGE, "see 'sealrun store --help'", "unknown argument '%s'",
                            argv[i]);
    }
    if (strcmp(argv[1], "migrate") == 0) {
        if (!url) {
            const char *env = getenv("SEALRUN_STORE");
            url = env && *env ? env : NULL;
        }
        if (!url)
            return cli_fail(CLI_USAGE, "give --store URL", "store migrate needs a store");
        return store_migrate(url);
    }
    if (strcmp(argv[1], "copy") == 0)
        return store_copy(from, to);
    return cli_fail(CLI_USAGE, "use migrate or copy", "unknown store command '%s'", argv[1]);
}
