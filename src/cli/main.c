/* SPDX-License-Identifier: MIT
 *
 * main.c - the sealrun command-line tool: dispatches to one command and
 * holds the helpers every command shares (cli.h).
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

static const char usage[] =
    "usage: sealrun COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  token create|list|revoke   manage API tokens in a data directory or store\n"
    "  store migrate|copy         migrate a store; move SQLite into PostgreSQL (cluster)\n"
    "  secret set|list|rm|policy|audit|pubkey\n"
    "                             manage your secrets on a server (sealed on this machine)\n"
    "  storage get|put|rm|ls      your jobs' key-value storage on a server\n"
    "  exec FILE.js               run a script on a sealrund server\n"
    "  run FILE.js                run a script locally, in the same sandbox and runtime\n"
    "  keygen                     make an X25519 key pair for output_pubkey\n"
    "  decrypt                    open a job's encrypted_output with your secret key\n"
    "  verify-output JOB.json     recompute a job's output_hash (and its signature)\n"
    "  verify JOB.json            check a job's signed receipt (code, input, worker key)\n"
    "  verify-vrf JOB.json        check a job's verifiable randomness (crypto.vrf)\n"
    "\n"
    "Every command answers --help.\n";

bool
cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
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

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"token", cmd_token},
        {"exec", cmd_exec},
        {"run", cmd_run},
        {"store", cmd_store},
        {"secret", cmd_secret},
        {"storage", cmd_storage},
        {"verify", cmd_verify},
        {"keygen", cmd_keygen},
        {"decrypt", cmd_decrypt},
        {"verify-output", cmd_verify_output},
        {"verify-vrf", cmd_verify_vrf},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("sealrun %s\n", SR_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            int rc = cmds[i].fn(argc - 1, argv + 1);
            curl_global_cleanup();
            return rc;
        }
    }
    return cli_fail(CLI_USAGE, "run 'sealrun --help' for the list of commands",
                    "unknown command '%s'", argv[1]);
}
