/* SPDX-License-Identifier: MIT
 *
 * cmd_worker.c - `sealrun worker token create|list|drain|resume|revoke`:
 * remote workers (docs/workers.md), written straight into the
 * coordinator's store (--data-dir or --store, as `sealrun token`). A
 * worker token is printed once; the store keeps its SHA-256. The first
 * worker that registers with it binds its key to it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_crypto.h"
#include "sealrun/sr_store.h"
#include "sealrun/sr_util.h"

struct worker_opts {
    const char *dir, *url, *name, *id;
    bool create;
};

static int
with_store(const struct worker_opts *o, bool create, sr_store **st)
{
    sr_err e = {0};
    if (sr_crypto_init(&e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    return cli_open_store(o->dir, o->url, create, st);
}

static int
token_create_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "worker token create",
        .args = "(--data-dir DIR | --store URL) --name NAME",
        .about = "Creates a worker token and prints it alone on its last line, once: the\n"
                 "store keeps its SHA-256. Give it to one worker (sealrund --role worker\n"
                 "--worker-token, or SEALRUN_WORKER_TOKEN); the first worker that registers\n"
                 "with it binds its key to it for good.\n",
    };
    struct worker_opts o = {0};
    const struct sr_opt t[] = {
        cli_data_dir_opt(&o.dir),
        cli_store_opt(&o.url),
        {.name = "--name",
         .kind = SR_OPT_STRING,
         .dst = &o.name,
         .metavar = "NAME",
         .help = "what 'worker list' calls it: 1..64 of A-Z a-z 0-9 _ - . @ (required)"},
        {.name = "--create",
         .kind = SR_OPT_FLAG,
         .dst = &o.create,
         .help = "make DIR and an empty database when they do not exist yet"},
    };
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    if (!o.name)
        return cli_fail(CLI_USAGE, NULL, "--name NAME is required");
    sr_store *st = NULL;
    if ((rc = with_store(&o, o.create, &st)) != CLI_OK)
        return rc;
    char tok[SR_TOKEN_LEN + 1];
    sr_token_new(tok);
    uint8_t hash[32];
    sr_token_hash(tok, hash);
    sr_err e = {0};
    if (sr_store_worker_add(st, hash, o.name, sr_now_ms(), &e) != SR_OK) {
        rc = cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    } else {
        char id[17];
        sr_hex_encode(hash, 8, id);
        printf("created worker token %s for worker '%s' (shown once; store it now):\n%s\n", id,
               o.name, tok);
    }
    sr_store_close(st);
    return rc;
}

static void
print_row(const char *id, const char *name, const char *state, const char *att, const char *seen,
          const char *key)
{
    printf("%-16s  %-20s  %-8s  %-4s  %-24s  %s\n", id, name, state, att, seen, key);
}

static int
list_cmd(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "worker list",
        .args = "(--data-dir DIR | --store URL)",
        .about = "Lists the workers: id, name, state (active, draining, revoked), attestation,\n"
                 "when it was last heard from, and its key (\"-\" until it registers).\n",
    };
    struct worker_opts o = {0};
    const struct sr_opt t[] = {cli_data_dir_opt(&o.dir), cli_store_opt(&o.url)};
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, NULL, 0, 0, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_store *st = NULL;
    if ((rc = with_store(&o, false, &st)) != CLI_OK)
        return rc;
    struct sr_worker_row *rows = NULL;
    size_t n = 0;
    sr_err e = {0};
    if (sr_store_worker_list(st, &rows, &n, &e) != SR_OK) {
        sr_store_close(st);
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    }
    print_row("ID", "NAME", "STATE", "ATT", "LAST SEEN", "KEY");
    for (size_t i = 0; i < n; i++) {
        char seen[32] = "-";
        if (rows[i].seen_at_ms)
            sr_time_rfc3339(rows[i].seen_at_ms, seen);
        print_row(rows[i].id, rows[i].name, sr_worker_state_name(rows[i].state),
                  rows[i].attestation[0] ? rows[i].attestation : "-", seen,
                  rows[i].public_key[0] ? rows[i].public_key : "-");
    }
    free(rows);
    sr_store_close(st);
    return CLI_OK;
}

/* drain, resume and revoke: one worker by id, to a new state. */
static int
set_state(int argc, char **argv, const char *cmd, enum sr_worker_state state, const char *about,
          const char *done)
{
    const struct cli_help h = {
        .cmd = cmd,
        .args = "(--data-dir DIR | --store URL) ID",
        .about = about,
    };
    struct worker_opts o = {0};
    const struct sr_opt t[] = {cli_data_dir_opt(&o.dir), cli_store_opt(&o.url)};
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, &o.id, 1, 1, &npos, NULL);
    if (rc != CLI_CONTINUE)
        return rc;
    sr_store *st = NULL;
    if ((rc = with_store(&o, false, &st)) != CLI_OK)
        return rc;
    struct sr_worker_row row;
    sr_err e = {0};
    if (sr_store_worker_set_state(st, o.id, state, sr_now_ms(), &row, &e) != SR_OK)
        rc = cli_fail(CLI_FAILED, "see 'sealrun worker list'", "%s", e.msg);
    else
        printf("%s worker %s (%s)\n", done, row.id, row.name);
    sr_store_close(st);
    return rc;
}

static int
drain_cmd(int argc, char **argv)
{
    return set_state(argc, argv, "worker drain", SR_WORKER_DRAINING,
                     "Drains a worker (id: 8 or more characters of it, from 'worker list'): it\n"
                     "finishes what it holds and is given no new job. 'worker resume' undoes it.\n",
                     "draining");
}

static int
resume_cmd(int argc, char **argv)
{
    return set_state(argc, argv, "worker resume", SR_WORKER_ACTIVE,
                     "Makes a draining worker active again.\n", "resumed");
}

static int
revoke_cmd(int argc, char **argv)
{
    return set_state(argc, argv, "worker revoke", SR_WORKER_REVOKED,
                     "Revokes a worker for good: the coordinator refuses its next request, and\n"
                     "its token and key can never register again.\n",
                     "revoked");
}

static int
token_cmd(int argc, char **argv)
{
    static const struct cli_sub subs[] = {
        {"create", "create a worker token (printed once)", token_create_cmd},
    };
    static const struct cli_group g = {
        .cmd = "worker token",
        .about = "Worker tokens, written into the coordinator's store.\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}

static const struct cli_sub subs[] = {
    {"token", "worker tokens: 'worker token create'", token_cmd},
    {"list", "list the workers", list_cmd},
    {"drain", "give a worker no new job", drain_cmd},
    {"resume", "make a draining worker active again", resume_cmd},
    {"revoke", "refuse a worker for good", revoke_cmd},
};

int
cmd_worker(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "worker",
        .about = "Remote workers of a coordinator (docs/workers.md), managed in its store: run\n"
                 "these on the coordinator's machine, as a user who may read its --data-dir,\n"
                 "or with --store URL for a store on PostgreSQL. A change is seen at the\n"
                 "worker's next request.\n",
        .subs = subs,
        .n = sizeof(subs) / sizeof(subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
