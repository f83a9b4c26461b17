/* SPDX-License-Identifier: MIT
 *
 * main.c - the sealrun command-line tool: dispatches to one command and
 * holds the helpers every command shares (cli.h): the option parsing and
 * the help generated from each command's table, command groups, errors.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "sealrun/sr_buf.h"
#include "sealrun/sr_json.h"
#include "sealrun/sr_util.h"

static const struct {
    const char *name;
    const char *summary;
    int (*fn)(int, char **);
} commands[] = {
    {"exec", "run a script or module on a sealrund server", cmd_exec},
    {"run", "run a script or module locally, in the same sandbox and runtime", cmd_run},
    {"jobs", "list, show and wait for your jobs on a server", cmd_jobs},
    {"modules", "upload, list, show and remove your WebAssembly modules", cmd_modules},
    {"secret", "manage your secrets on a server (values sealed on this machine)", cmd_secret},
    {"storage", "your jobs' key-value storage on a server", cmd_storage},
    {"token", "create, list and revoke API tokens (data directory or HTTP)", cmd_token},
    {"account", "your balance, budgets and ledger on a server; credit (admin)", cmd_account},
    {"worker", "worker tokens; list, drain, resume and revoke remote workers", cmd_worker},
    {"store", "migrate a store; move a SQLite installation into PostgreSQL", cmd_store},
    {"keygen", "make an X25519 key pair for output_pubkey", cmd_keygen},
    {"decrypt", "open a job's encrypted_output with your secret key", cmd_decrypt},
    {"verify-output", "recompute a job's output_hash (and its signature)", cmd_verify_output},
    {"verify", "check a job's signed receipt (code, input, worker key)", cmd_verify},
    {"verify-vrf", "check a job's verifiable randomness (crypto.vrf)", cmd_verify_vrf},
    {"replay", "rerun a recorded job offline and compare its output hash", cmd_replay},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
print_usage(FILE *f)
{
    fputs("usage: sealrun COMMAND [options]\n"
          "       sealrun --version\n"
          "\n"
          "The sealrun command-line tool: runs jobs on a sealrund server or locally, and\n"
          "manages your jobs, modules, secrets and storage on a server.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-16s%s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Every command answers --help. Options are spelled --name VALUE or --name=VALUE.\n"
          "A command that talks to a server takes --server URL and --token TOKEN, else\n"
          "SEALRUN_SERVER and SEALRUN_TOKEN, else the config file (~/.config/sealrun,\n"
          "lines 'server = URL' and 'token = TOKEN'), else http://127.0.0.1:8080.\n"
          "Exit status: 0 ok, 1 the operation failed, 2 bad usage.\n",
          f);
}

int
cli_fail(int code, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sealrun: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (hint)
        fprintf(stderr, "sealrun: hint: %s\n", hint);
    return code;
}

/* ---- options and help ---- */

static bool want_help;

/* The options every command has (and a remote command's), appended to its
 * table. */
static size_t
full_table(const struct sr_opt *opts, size_t n, struct cli_remote *remote, const char **server,
           const char **token, struct sr_opt *all)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < CLI_MAX_OPTS; i++)
        all[k++] = opts[i];
    if (remote) {
        all[k++] = (struct sr_opt){.name = "--server",
                                   .kind = SR_OPT_STRING,
                                   .dst = server,
                                   .metavar = "URL",
                                   .help = "the sealrund to talk to (default: SEALRUN_SERVER, the "
                                           "config file, else " CLI_DEFAULT_SERVER ")"};
        all[k++] = (struct sr_opt){.name = "--token",
                                   .kind = SR_OPT_STRING,
                                   .dst = token,
                                   .metavar = "TOKEN",
                                   .help = "your API token (default: SEALRUN_TOKEN, else the "
                                           "config file)"};
    }
    all[k++] = (struct sr_opt){
        .name = "--help", .kind = SR_OPT_FLAG, .dst = &want_help, .help = "print this help"};
    return k;
}

static void
print_table_help(const struct cli_help *h, const struct sr_opt *all, size_t k, FILE *f)
{
    fprintf(f, "usage: sealrun %s %s\n", h->cmd, h->args);
    if (h->about)
        fprintf(f, "\n%s", h->about);
    sr_buf b;
    sr_buf_init(&b, 1u << 20);
    if (sr_opts_help(all, k, &b, NULL) == SR_OK && b.len)
        fprintf(f, "\nOptions:\n%.*s", (int)b.len, b.data);
    sr_buf_fini(&b);
    if (h->footer)
        fprintf(f, "\n%s", h->footer);
}

void
cli_print_help(const struct cli_help *h, const struct sr_opt *opts, size_t n, bool remote, FILE *f)
{
    struct sr_opt all[CLI_MAX_OPTS + 3];
    const char *s = NULL, *t = NULL;
    struct cli_remote r;
    size_t k = full_table(opts, n, remote ? &r : NULL, &s, &t, all);
    print_table_help(h, all, k, f);
}

int
cli_parse(const struct cli_help *h, const struct sr_opt *opts, size_t n, int argc, char **argv,
          const char **pos, size_t minpos, size_t maxpos, size_t *npos, struct cli_remote *remote)
{
    struct sr_opt all[CLI_MAX_OPTS + 3];
    const char *server = NULL, *token = NULL;
    char hint[128];
    (void)snprintf(hint, sizeof(hint), "see 'sealrun %s --help'", h->cmd);
    if (n > CLI_MAX_OPTS)
        return cli_fail(CLI_FAILED, NULL, "bug: command '%s' has more than %d options", h->cmd,
                        CLI_MAX_OPTS);
    size_t k = full_table(opts, n, remote, &server, &token, all);
    /* --help wins over every other mistake on the line */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_table_help(h, all, k, stdout);
            return CLI_OK;
        }
    }
    const char *dummy[1];
    sr_err e = {0};
    if (sr_opts_parse(all, k, argc, argv, 1, maxpos ? pos : dummy, maxpos, npos, &e) != SR_OK)
        return cli_fail(CLI_USAGE, hint, "%s", e.msg);
    if (*npos < minpos)
        return cli_fail(CLI_USAGE, hint, "missing argument: usage: sealrun %s %s", h->cmd, h->args);
    if (remote)
        return cli__remote_resolve(remote, server, token);
    return CLI_CONTINUE;
}

int
cli_dispatch(const struct cli_group *g, int argc, char **argv)
{
    bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                              strcmp(argv[1], "help") == 0);
    if (argc >= 2 && !help) {
        for (size_t i = 0; i < g->n; i++)
            if (strcmp(argv[1], g->subs[i].name) == 0)
                return g->subs[i].fn(argc - 1, argv + 1);
        char hint[128];
        (void)snprintf(hint, sizeof(hint), "see 'sealrun %s --help'", g->cmd);
        return cli_fail(CLI_USAGE, hint, "unknown %s command '%.64s'", g->cmd, argv[1]);
    }
    FILE *f = help ? stdout : stderr;
    fprintf(f, "usage: sealrun %s COMMAND [options]\n\n%s\nCommands:\n", g->cmd, g->about);
    for (size_t i = 0; i < g->n; i++)
        fprintf(f, "  %-16s%s\n", g->subs[i].name, g->subs[i].summary);
    fprintf(f, "\nEach command answers --help ('sealrun %s %s --help').\n", g->cmd,
            g->subs[0].name);
    return help ? CLI_OK : CLI_USAGE;
}

/* ---- shared helpers ---- */

sr_status
cli_read_file(const char *path, size_t max, char **out, size_t *out_len, sr_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return sr_err_set(err, SR_EIO, "cannot open '%s': %s", path, strerror(errno));
    sr_buf b;
    sr_buf_init(&b, max);
    char chunk[65536];
    size_t n;
    sr_status rc = SR_OK;
    while (rc == SR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = sr_buf_append(&b, chunk, n, err);
    if (rc == SR_OK && ferror(f))
        rc = sr_err_set(err, SR_EIO, "cannot read '%s': %s", path, strerror(errno));
    if (f != stdin)
        fclose(f);
    if (rc != SR_OK) {
        sr_buf_fini(&b);
        return rc == SR_ELIMIT
                   ? sr_err_set(err, SR_ELIMIT, "'%s' is larger than %zu bytes", path, max)
                   : rc;
    }
    *out_len = b.len;
    *out = sr_buf_steal(&b);
    return *out ? SR_OK : sr_err_set(err, SR_ENOMEM, "out of memory reading '%s'", path);
}

void
cli_print_json(const json_t *v)
{
    char *s = sr_json_dumps(v, JSON_INDENT(2));
    if (s) {
        puts(s);
        free(s);
    }
}

void
cli_escape(char *dst, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(dst);
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < cap; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (keep) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = '\0';
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sealrun %s\n", SR_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            int rc = commands[i].fn(argc - 1, argv + 1);
            curl_global_cleanup();
            return rc;
        }
    }
    return cli_fail(CLI_USAGE, "run 'sealrun --help' for the list of commands",
                    "unknown command '%s'", argv[1]);
}
