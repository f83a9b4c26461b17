/* SPDX-License-Identifier: MIT
 *
 * cli.h - shared pieces of the sealrun command-line tool: option parsing,
 * error printing (style.md 2.5: "sealrun: error: ..." on stderr, exit 1 for
 * a failed operation, 2 for bad usage), and file reading.
 */
#ifndef SR_CLI_H
#define SR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "sealrun/sr_err.h"
#include "sealrun/sr_util.h" /* sr_opt_value() parses every command's options */

#define CLI_OK 0
#define CLI_FAILED 1
#define CLI_USAGE 2

/* true if argv holds --help or -h. */
bool cli_wants_help(int argc, char **argv);
/* Prints "sealrun: error: MSG" (and a hint if not NULL); returns 'code'. */
int cli_fail(int code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a whole file ("-" = stdin) up to 'max' bytes. Returns owned text. */
sr_status cli_read_file(const char *path, size_t max, char **out, size_t *out_len, sr_err *err);
/* Prints a JSON value, indented, on stdout. */
void cli_print_json(const json_t *v);

/* One HTTP request to sealrund (libcurl; curl_global_init done by main).
 * *out is the parsed JSON answer (owned), *status the HTTP status. */
sr_status cli_http(const char *method, const char *url, const char *token, const char *body,
                   size_t body_len, const char *content_type, long *status, json_t **out,
                   sr_err *err);
/* cli_http to server + path, for commands that print the answer: CLI_OK with
 * *out (owned) on a 2xx; otherwise prints the failure (and frees the answer)
 * and returns CLI_FAILED. */
int cli_call(const char *server, const char *token, const char *method, const char *path,
             const char *body, size_t body_len, const char *content_type, json_t **out);
/* Prints a server error answer ("server answered 404: ...") and frees ans;
 * returns CLI_FAILED. */
int cli_report_http(long status, json_t *ans);

int cmd_token(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_storage(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_verify_output(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_verify_vrf(int argc, char **argv);

#endif /* SR_CLI_H */
