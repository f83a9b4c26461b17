/* SPDX-License-Identifier: MIT
 *
 * cli.h - shared pieces of the sealrun command-line tool: the one option
 * parser (sr_opts, one table per command, --help generated from it),
 * command groups, where a remote command sends its requests (--server and
 * --token, the environment, the config file, the default), error printing
 * (style.md 2.5: "sealrun: error: ..." on stderr, exit 1 for a failed
 * operation, 2 for bad usage), and file reading.
 */
#ifndef SR_CLI_H
#define SR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>
#include "sealrun/sr_err.h"
#include "sealrun/sr_opts.h"

#define CLI_OK 0
#define CLI_FAILED 1
#define CLI_USAGE 2
/* cli_parse: the options are good, run the command. */
#define CLI_CONTINUE (-1)

/* The most options one command's table may hold (cli_parse adds --help,
 * and --server and --token for a remote command). */
#define CLI_MAX_OPTS 40

/* The server a remote command talks to when nothing else names one. */
#define CLI_DEFAULT_SERVER "http://127.0.0.1:8080"

/* The help of one command, printed by --help as
 *   usage: sealrun CMD ARGS
 *   ABOUT
 *   Options: (the table)
 *   FOOTER                                                               */
struct cli_help {
    const char *cmd;    /* "secret set" */
    const char *args;   /* "NAME [options]" */
    const char *about;  /* what it does; lines end in '\n' */
    const char *footer; /* NULL, or more text after the options */
};

/* Where a remote command sends its requests. cli_parse fills it from
 * --server/--token, else SEALRUN_SERVER/SEALRUN_TOKEN, else the config
 * file (cli_config_path), else CLI_DEFAULT_SERVER (the token has no
 * default). The strings are borrowed from argv, the environment or buf. */
struct cli_remote {
    const char *server;
    const char *token;
    char server_buf[1024];
    char token_buf[512];
};

/* Parses argv[1..argc) (argv[0] is the command's name) against opts[0..n)
 * plus --help (and, when remote is not NULL, --server and --token).
 * Positional arguments go to pos[0..*npos), between minpos and maxpos of
 * them. Returns CLI_CONTINUE when the command should run; otherwise the exit
 * code to return: CLI_OK after printing the help, CLI_USAGE after printing
 * what was wrong, CLI_FAILED when the config file could not be used. */
int cli_parse(const struct cli_help *h, const struct sr_opt *opts, size_t n, int argc, char **argv,
              const char **pos, size_t minpos, size_t maxpos, size_t *npos,
              struct cli_remote *remote);
/* Prints the help of a command (the same text as --help) on f. */
void cli_print_help(const struct cli_help *h, const struct sr_opt *opts, size_t n, bool remote,
                    FILE *f);

/* Fills r from the options' values (NULL when not given) and the rest of
 * the chain above; CLI_CONTINUE or the exit code after an error. remote.c */
int cli__remote_resolve(struct cli_remote *r, const char *server_opt, const char *token_opt);

/* The config file's path into out: $XDG_CONFIG_HOME/sealrun, else
 * $HOME/.config/sealrun. false when neither variable is set. */
bool cli_config_path(char *out, size_t cap);

/* A command of a group ("secret set"): fn is called with argv[0]
 * the subcommand's name. */
struct cli_sub {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
};
struct cli_group {
    const char *cmd;   /* "secret" */
    const char *about; /* lines end in '\n' */
    const struct cli_sub *subs;
    size_t n;
};
/* Runs the subcommand argv[1] of group g (argv[0] is the group's name);
 * prints the group's help for --help (exit 0) or no subcommand (exit 2). */
int cli_dispatch(const struct cli_group *g, int argc, char **argv);

/* Prints "sealrun: error: MSG" (and a hint if not NULL); returns 'code'. */
int cli_fail(int code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a whole file ("-" = stdin) up to 'max' bytes. Returns owned text. */
sr_status cli_read_file(const char *path, size_t max, char **out, size_t *out_len, sr_err *err);
/* Prints a JSON value, indented, on stdout. */
void cli_print_json(const json_t *v);
/* Appends s percent-encoded (RFC 3986 unreserved characters stay) to the
 * string in dst[0..cap); stops before overflowing. */
void cli_escape(char *dst, size_t cap, const char *s);

/* One HTTP request to sealrund (libcurl; curl_global_init done by main).
 * *out is the parsed JSON answer (owned), *status the HTTP status. */
sr_status cli_http(const char *method, const char *url, const char *token, const char *body,
                   size_t body_len, const char *content_type, long *status, json_t **out,
                   sr_err *err);
/* As cli_http, with an answer of at most cap bytes (a recording is larger
 * than other answers). */
sr_status cli_http_cap(const char *method, const char *url, const char *token, const char *body,
                       size_t body_len, const char *content_type, size_t cap, long *status,
                       json_t **out, sr_err *err);
/* cli_http to server + path, for commands that print the answer: CLI_OK with
 * *out (owned) on a 2xx; otherwise prints the failure (and frees the answer)
 * and returns CLI_FAILED. */
int cli_call(const struct cli_remote *r, const char *method, const char *path, const char *body,
             size_t body_len, const char *content_type, json_t **out);
/* Prints a server error answer ("server answered 404: ...") and frees ans;
 * returns CLI_FAILED. */
int cli_report_http(long status, json_t *ans);
/* Exit status for a job object: CLI_FAILED when its status is "failed". */
int cli_job_exit(const json_t *job);
/* Polls GET /jobs/{id} until the job has ended (interval growing from
 * 100 ms to 2 s), at most timeout_ms (0: no limit); prints it. */
int cli_wait_job(const struct cli_remote *r, const char *id, int64_t timeout_ms);

/* Opens the store of a daemon: --data-dir DIR (DIR/sealrun.db; without
 * 'create' a missing directory or database is an error, so a typo never
 * makes an empty store) or --store URL, else SEALRUN_STORE. Without keys.
 * CLI_OK with *st (sr_store_close), or the exit code after an error.
 * cmd_token.c */
struct sr_store;
int cli_open_store(const char *dir, const char *url, bool create, struct sr_store **st);
/* The options that name that store: --data-dir DIR and --store URL, into
 * *dir and *url (cmd_token.c). */
struct sr_opt cli_data_dir_opt(const char **dir);
struct sr_opt cli_store_opt(const char **url);

int cmd_token(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_storage(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_modules(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_verify_output(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_verify_vrf(int argc, char **argv);
int cmd_account(int argc, char **argv);
int cmd_replay(int argc, char **argv);

#endif /* SR_CLI_H */
