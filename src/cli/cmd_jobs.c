/* SPDX-License-Identifier: MIT
 *
 * cmd_jobs.c - `sealrun jobs list|get|wait|cancel|deliveries` (GET /jobs,
 * GET /jobs/{id}, POST /jobs/{id}/cancel, GET /jobs/{id}/deliveries)
 * and `sealrun modules upload|list|get|rm` (the /modules endpoints) on a
 * sealrund server. Every command prints the server's JSON answer.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sealrun/sr_limits.h"

static const char *const states[] = {"queued", "running", "completed", "failed", NULL};
static const char *const runtimes[] = {"js", "wasm", NULL};

/* Appends "&name=value" (the first one with '?') to path, value escaped. */
static void
add_query(char *path, size_t cap, const char *name, const char *value)
{
    if (!value)
        return;
    size_t n = strlen(path);
    (void)snprintf(path + n, cap - n, "%s%s=", strchr(path, '?') ? "&" : "?", name);
    cli_escape(path, cap, value);
}

static int
print_answer(int rc, json_t *ans)
{
    if (rc == CLI_OK) {
        cli_print_json(ans);
        json_decref(ans);
    }
    return rc;
}

/* ---- jobs ---- */

static int
jobs_list(int argc, char **argv)
{
    const char *before = NULL, *since = NULL, *until = NULL;
    int64_t limit = 0;
    int state = 0, runtime = 0;
    bool has_state = false, has_runtime = false;
    const struct sr_opt t[] = {
        {.name = "--limit",
         .kind = SR_OPT_INT,
         .dst = &limit,
         .metavar = "N",
         .help = "jobs per page, 1..100 (default 20)",
         .min = 1,
         .max = SR_MAX_PAGE},
        {.name = "--before",
         .kind = SR_OPT_STRING,
         .dst = &before,
         .metavar = "ID",
         .help = "the page after this job: 'next' of the previous page"},
        {.name = "--status",
         .kind = SR_OPT_CHOICE,
         .dst = &state,
         .metavar = "STATE",
         .help = "only jobs in this state: queued, running, completed or failed",
         .choices = states,
         .seen = &has_state},
        {.name = "--runtime",
         .kind = SR_OPT_CHOICE,
         .dst = &runtime,
         .metavar = "js|wasm",
         .help = "only jobs of this runtime",
         .choices = runtimes,
         .seen = &has_runtime},
        {.name = "--since",
         .kind = SR_OPT_STRING,
         .dst = &since,
         .metavar = "TIME",
         .help = "only jobs created at or after TIME (RFC 3339, 2026-12-01T00:00:00Z)"},
        {.name = "--until",
         .kind = SR_OPT_STRING,
         .dst = &until,
         .metavar = "TIME",
         .help = "only jobs created before TIME (RFC 3339)"},
    };
    static const struct cli_help h = {
        .cmd = "jobs list",
        .args = "[options]",
        .about = "Lists your jobs on the server, newest first, one page at a time: {\"jobs\":\n"
                 "[...], \"next\": ID or null}. Pass 'next' as --before for the page after.\n",
    };
    struct cli_remote r;
    size_t npos = 0;
    int rc = cli_parse(&h, t, sizeof(t) / sizeof(t[0]), argc, argv, NULL, 0, 0, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[1024] = "/jobs", num[24];
    if (limit) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)limit);
        add_query(path, sizeof(path), "limit", num);
    }
    add_query(path, sizeof(path), "before", before);
    add_query(path, sizeof(path), "status", has_state ? states[state] : NULL);
    add_query(path, sizeof(path), "runtime", has_runtime ? runtimes[runtime] : NULL);
    add_query(path, sizeof(path), "since", since);
    add_query(path, sizeof(path), "until", until);
    json_t *ans = NULL;
    rc = cli_call(&r, "GET", path, NULL, 0, NULL, &ans);
    return print_answer(rc, ans);
}

/* The commands of one job: parses "ID [options]" and makes the call
 * METHOD /jobs/ID + suffix. CLI_OK with *ans owned by the caller. */
static int
one_job_call(const struct cli_help *h, int argc, char **argv, const char *method,
             const char *suffix, json_t **ans)
{
    struct cli_remote r;
    const char *id = NULL;
    size_t npos = 0;
    int rc = cli_parse(h, NULL, 0, argc, argv, &id, 1, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[256] = "/jobs/";
    cli_escape(path, sizeof(path), id);
    size_t n = strlen(path);
    (void)snprintf(path + n, sizeof(path) - n, "%s", suffix);
    return cli_call(&r, method, path, NULL, 0, NULL, ans);
}

static int
jobs_get(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "jobs get",
        .args = "ID [options]",
        .about = "Prints one of your jobs (as GET /jobs/ID answers it). Exit status 1 when the\n"
                 "job failed.\n",
    };
    json_t *ans = NULL;
    int rc = one_job_call(&h, argc, argv, "GET", "", &ans);
    if (rc != CLI_OK)
        return rc;
    cli_print_json(ans);
    rc = cli_job_exit(ans);
    json_decref(ans);
    return rc;
}

static int
jobs_wait(int argc, char **argv)
{
    int64_t timeout = 0;
    const struct sr_opt t[] = {
        {.name = "--timeout",
         .kind = SR_OPT_DURATION,
         .dst = &timeout,
         .metavar = "DURATION",
         .help = "give up after this long (90s, 10m, 1h; default: wait as long as it takes)",
         .min = 1,
         .max = INT64_MAX / 4},
    };
    static const struct cli_help h = {
        .cmd = "jobs wait",
        .args = "ID [options]",
        .about = "Waits until the job has ended (polling GET /jobs/ID, each pause longer than\n"
                 "the last, up to 2 s) and prints it. Exit status 1 when the job failed or the\n"
                 "wait timed out.\n",
    };
    struct cli_remote r;
    const char *id = NULL;
    size_t npos = 0;
    int rc = cli_parse(&h, t, 1, argc, argv, &id, 1, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    return cli_wait_job(&r, id, timeout);
}

static int
jobs_cancel(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "jobs cancel",
        .args = "ID [options]",
        .about = "Cancels one of your async jobs (POST /jobs/ID/cancel): a queued job ends\n"
                 "without running, a running one has its job process killed; either ends\n"
                 "failed with CANCELLED and its own receipt. Prints the job as it ended. A job\n"
                 "that had already ended is an error (409) naming its state.\n",
    };
    json_t *ans = NULL;
    int rc = one_job_call(&h, argc, argv, "POST", "/cancel", &ans);
    return print_answer(rc, ans);
}

static int
jobs_deliveries(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "jobs deliveries",
        .args = "ID [options]",
        .about = "Prints the completion webhook of one of your jobs (submitted with\n"
                 "--callback-url): its state and every delivery attempt.\n",
    };
    json_t *ans = NULL;
    int rc = one_job_call(&h, argc, argv, "GET", "/deliveries", &ans);
    return print_answer(rc, ans);
}

static const struct cli_sub job_subs[] = {
    {"list", "list your jobs, newest first (filters: status, runtime, time)", jobs_list},
    {"get", "print one job", jobs_get},
    {"wait", "wait until a job has ended, then print it", jobs_wait},
    {"cancel", "cancel a queued or running job", jobs_cancel},
    {"deliveries", "show a job's completion webhook and its attempts", jobs_deliveries},
};

int
cmd_jobs(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "jobs",
        .about = "Your jobs on a sealrund server (sealrun exec --async queues one).\n",
        .subs = job_subs,
        .n = sizeof(job_subs) / sizeof(job_subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}

/* ---- modules ---- */

static int
modules_upload(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "modules upload",
        .args = "FILE.wasm [options]",
        .about = "Uploads a WebAssembly module (checked in a job process on the server) and\n"
                 "prints its description: {\"hash\": SHA-256, imports, exports, ...}. Run it\n"
                 "with 'sealrun exec --module-hash HASH'.\n",
    };
    struct cli_remote r;
    const char *file = NULL;
    size_t npos = 0;
    int rc = cli_parse(&h, NULL, 0, argc, argv, &file, 1, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    char *bytes = NULL;
    size_t len = 0;
    sr_err e = {0};
    if (cli_read_file(file, SR_MAX_MODULE, &bytes, &len, &e) != SR_OK)
        return cli_fail(CLI_FAILED, NULL, "%s", e.msg);
    json_t *ans = NULL;
    rc = cli_call(&r, "POST", "/modules", bytes, len, "application/wasm", &ans);
    free(bytes);
    return print_answer(rc, ans);
}

static int
modules_list(int argc, char **argv)
{
    const char *before = NULL;
    int64_t limit = 0;
    const struct sr_opt t[] = {
        {.name = "--limit",
         .kind = SR_OPT_INT,
         .dst = &limit,
         .metavar = "N",
         .help = "modules per page, 1..100 (default 20)",
         .min = 1,
         .max = SR_MAX_PAGE},
        {.name = "--before",
         .kind = SR_OPT_STRING,
         .dst = &before,
         .metavar = "HASH",
         .help = "the page after this module: 'next' of the previous page"},
    };
    static const struct cli_help h = {
        .cmd = "modules list",
        .args = "[options]",
        .about = "Lists your modules with their sizes and last use, and your quota.\n",
    };
    struct cli_remote r;
    size_t npos = 0;
    int rc = cli_parse(&h, t, 2, argc, argv, NULL, 0, 0, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[512] = "/modules", num[24];
    if (limit) {
        (void)snprintf(num, sizeof(num), "%lld", (long long)limit);
        add_query(path, sizeof(path), "limit", num);
    }
    add_query(path, sizeof(path), "before", before);
    json_t *ans = NULL;
    rc = cli_call(&r, "GET", path, NULL, 0, NULL, &ans);
    return print_answer(rc, ans);
}

/* GET or DELETE /modules/HASH. */
static int
module_one(const struct cli_help *h, const char *method, int argc, char **argv)
{
    struct cli_remote r;
    const char *hash = NULL;
    size_t npos = 0;
    int rc = cli_parse(h, NULL, 0, argc, argv, &hash, 1, 1, &npos, &r);
    if (rc != CLI_CONTINUE)
        return rc;
    char path[256] = "/modules/";
    cli_escape(path, sizeof(path), hash);
    json_t *ans = NULL;
    rc = cli_call(&r, method, path, NULL, 0, NULL, &ans);
    return print_answer(rc, ans);
}

static int
modules_get(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "modules get",
        .args = "HASH [options]",
        .about = "Prints the description of one of your modules (imports, exports, size).\n",
    };
    return module_one(&h, "GET", argc, argv);
}

static int
modules_rm(int argc, char **argv)
{
    static const struct cli_help h = {
        .cmd = "modules rm",
        .args = "HASH [options]",
        .about = "Drops your claim on a module; its bytes go when no user holds it any more.\n",
    };
    return module_one(&h, "DELETE", argc, argv);
}

static const struct cli_sub module_subs[] = {
    {"upload", "upload a WebAssembly module and print its hash", modules_upload},
    {"list", "list your modules and your quota", modules_list},
    {"get", "print one module's description", modules_get},
    {"rm", "drop your claim on a module", modules_rm},
};

int
cmd_modules(int argc, char **argv)
{
    static const struct cli_group g = {
        .cmd = "modules",
        .about = "Your WebAssembly modules on a sealrund server, stored once by their SHA-256.\n",
        .subs = module_subs,
        .n = sizeof(module_subs) / sizeof(module_subs[0]),
    };
    return cli_dispatch(&g, argc, argv);
}
