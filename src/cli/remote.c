/* SPDX-License-Identifier: MIT
 *
 * remote.c - where a remote command sends its requests: --server and
 * --token, else SEALRUN_SERVER and SEALRUN_TOKEN, else the config file
 * ($XDG_CONFIG_HOME/sealrun or ~/.config/sealrun), else the default server.
 *
 * The config file holds lines "server = URL" and "token = TOKEN"; '#'
 * starts a comment line, blank lines are skipped, any other line or key
 * is an error naming its line. A file that holds a token must be readable
 * by its owner only (mode 0600 or stricter), as ssh asks of a key: sealrun
 * refuses it otherwise rather than use a token others may have read.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file is a few lines; anything bigger is not one. */
#define CONFIG_MAX 65536

bool
cli_config_path(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int w;
    if (xdg && *xdg)
        w = snprintf(out, cap, "%s/sealrun", xdg);
    else if (home && *home)
        w = snprintf(out, cap, "%s/.config/sealrun", home);
    else
        return false;
    return w > 0 && (size_t)w < cap;
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Reads the config file's values into r's buffers; a missing file is
 * none. CLI_CONTINUE, or CLI_FAILED after saying what is wrong. */
static int
read_config(const char *path, struct cli_remote *r, bool *has_server, bool *has_token)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? CLI_CONTINUE
                   : cli_fail(CLI_FAILED, NULL, "cannot open config file '%s': %s", path,
                              strerror(errno));
    struct stat sb;
    char *text = NULL;
    int rc = CLI_CONTINUE;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = cli_fail(CLI_FAILED, NULL, "config file '%s' is not a regular file", path);
        goto out;
    }
    if (sb.st_size > CONFIG_MAX) {
        rc = cli_fail(CLI_FAILED, NULL, "config file '%s' is larger than %d bytes", path,
                      CONFIG_MAX);
        goto out;
    }
    text = calloc(1, (size_t)sb.st_size + 1);
    ssize_t got = text ? read(fd, text, (size_t)sb.st_size) : -1;
    if (got != sb.st_size) {
        rc = cli_fail(CLI_FAILED, NULL, "cannot read config file '%s'", path);
        goto out;
    }
    int line = 0;
    for (char *p = text, *next; p && *p; p = next) {
        line++;
        next = strchr(p, '\n');
        if (next)
            *next++ = '\0';
        char *s = trim(p);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = cli_fail(CLI_FAILED, "lines are 'server = URL' or 'token = TOKEN'",
                          "config file '%s' line %d: expected KEY = VALUE", path, line);
            goto out;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        char *dst = NULL;
        size_t cap = 0;
        if (strcmp(key, "server") == 0) {
            dst = r->server_buf;
            cap = sizeof(r->server_buf);
            *has_server = true;
        } else if (strcmp(key, "token") == 0) {
            dst = r->token_buf;
            cap = sizeof(r->token_buf);
            *has_token = true;
        } else {
            rc = cli_fail(CLI_FAILED, NULL,
                          "config file '%s' line %d: unknown key '%.64s'; expected 'server' or "
                          "'token'",
                          path, line, key);
            goto out;
        }
        if (strlen(val) >= cap || !*val) {
            rc = cli_fail(CLI_FAILED, NULL,
                          "config file '%s' line %d: '%s' must be 1..%zu characters", path, line,
                          key, cap - 1);
            goto out;
        }
        memcpy(dst, val, strlen(val) + 1);
    }
    if (*has_token && (sb.st_mode & 077)) {
        char hint[4200];
        (void)snprintf(hint, sizeof(hint), "chmod 600 '%s'", path);
        rc = cli_fail(CLI_FAILED, hint,
                      "config file '%s' holds a token but is readable by others (mode %04o); "
                      "refusing to use it",
                      path, (unsigned)(sb.st_mode & 07777));
    }
out:
    if (text) {
        memset(text, 0, (size_t)sb.st_size);
        free(text);
    }
    close(fd);
    return rc;
}

/* An http:// or https:// URL, without its trailing '/'s (paths are
 * appended). */
static int
check_server(struct cli_remote *r, const char *from)
{
    const char *s = r->server;
    if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
        return cli_fail(CLI_USAGE, NULL, "%s '%.200s' must start with http:// or https://", from,
                        s);
    size_t n = strlen(s);
    if (n && s[n - 1] == '/') {
        if (n >= sizeof(r->server_buf))
            return cli_fail(CLI_USAGE, NULL, "%s is longer than %zu characters", from,
                            sizeof(r->server_buf) - 1);
        if (s != r->server_buf)
            memcpy(r->server_buf, s, n + 1);
        while (n > 0 && r->server_buf[n - 1] == '/')
            r->server_buf[--n] = '\0';
        r->server = r->server_buf;
    }
    return CLI_CONTINUE;
}

int
cli__remote_resolve(struct cli_remote *r, const char *server_opt, const char *token_opt)
{
    const char *from = "--server";
    r->server = server_opt;
    r->token = token_opt;
    const char *env_server = getenv("SEALRUN_SERVER"), *env_token = getenv("SEALRUN_TOKEN");
    if (!r->server && env_server && *env_server) {
        r->server = env_server;
        from = "SEALRUN_SERVER";
    }
    if (!r->token && env_token && *env_token)
        r->token = env_token;
    char path[4096];
    if ((!r->server || !r->token) && cli_config_path(path, sizeof(path))) {
        bool has_server = false, has_token = false;
        int rc = read_config(path, r, &has_server, &has_token);
        if (rc != CLI_CONTINUE)
            return rc;
        if (!r->server && has_server) {
            r->server = r->server_buf;
            from = "the config file's server";
        }
        if (!r->token && has_token)
            r->token = r->token_buf;
    }
    if (!r->server)
        r->server = CLI_DEFAULT_SERVER;
    if (!r->token || !*r->token)
        return cli_fail(CLI_USAGE,
                        "pass --token, set SEALRUN_TOKEN, or put 'token = TOKEN' in "
                        "~/.config/sealrun (mode 0600)",
                        "no API token");
    return check_server(r, from);
}
