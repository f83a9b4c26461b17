/* SPDX-License-Identifier: MIT
 *
 * test_pg.h - a throw-away PostgreSQL server for unit tests: the first
 * call of test_pg_database() runs initdb and pg_ctl (Debian's postgresql,
 * /usr/lib/postgresql/<v>/bin or PATH) in a mkdtemp directory, as 'nobody'
 * when the test runs as root (PostgreSQL refuses root), listening only on a
 * unix socket in that directory (listen_addresses empty: no TCP port); an
 * atexit handler stops it (pg_ctl -m immediate) and removes the directory.
 * fsync is off: tests kill clients, never this server. Each name (a test's
 * database path) gets its own database, created on first use.
 */
#ifndef SR_TEST_PG_H
#define SR_TEST_PG_H

#include <dirent.h>
#include <ftw.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

struct test_pg_server {
    char dir[64];
    char bin[200];
    int up;
    pid_t owner; /* the process that started it (forked children must not stop it) */
};
static struct test_pg_server test_pg_server_;

/* The directory of initdb: PATH's, else the newest /usr/lib/postgresql/N/bin. */
static inline void
test_pg_find_bin(char *out, size_t n)
{
    out[0] = '\0';
    DIR *d = opendir("/usr/lib/postgresql");
    struct dirent *e;
    int best = 0;
    while (d && (e = readdir(d))) {
        int v = (int)strtol(e->d_name, NULL, 10);
        char p[256];
        (void)snprintf(p, sizeof(p), "/usr/lib/postgresql/%s/bin/initdb", e->d_name);
        if (v > best && access(p, X_OK) == 0) {
            best = v;
            (void)snprintf(out, n, "/usr/lib/postgresql/%s/bin/", e->d_name);
        }
    }
    if (d)
        closedir(d);
}

/* Runs argv (argv[0] in the server's bin directory) as 'nobody' when root. */
static inline int
test_pg_run(const char *prog, char *const argv[])
{
    char path[300];
    (void)snprintf(path, sizeof(path), "%s%s", test_pg_server_.bin, prog);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0) {
            const struct passwd *pw = getpwnam("nobody");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
                _exit(126);
        }
        char log[128];
        (void)snprintf(log, sizeof(log), "%s/tool.log", test_pg_server_.dir);
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
            _exit(126);
        if (test_pg_server_.bin[0])
            execv(path, argv);
        else
            execvp(prog, argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline int
test_pg_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
test_pg_stop(void)
{
    if (!test_pg_server_.up || getpid() != test_pg_server_.owner)
        return;
    char data[128];
    (void)snprintf(data, sizeof(data), "%s/data", test_pg_server_.dir);
    char *const stop[] = {"pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", NULL};
    (void)test_pg_run("pg_ctl", stop);
    (void)nftw(test_pg_server_.dir, test_pg_rm, 16, FTW_DEPTH | FTW_PHYS);
    test_pg_server_.up = 0;
}

static inline int test_pg_ctl(const char *action);

static inline void
test_pg_start(void)
{
    if (test_pg_server_.up)
        return;
    test_pg_find_bin(test_pg_server_.bin, sizeof(test_pg_server_.bin));
    (void)snprintf(test_pg_server_.dir, sizeof(test_pg_server_.dir), "/tmp/sr_pg.XXXXXX");
    if (!mkdtemp(test_pg_server_.dir)) {
        fprintf(stderr, "test_pg: mkdtemp failed\n");
        exit(1);
    }
    const struct passwd *pw = geteuid() == 0 ? getpwnam("nobody") : NULL;
    if (pw && chown(test_pg_server_.dir, pw->pw_uid, pw->pw_gid) != 0) {
        fprintf(stderr, "test_pg: cannot give %s to nobody\n", test_pg_server_.dir);
        exit(1);
    }
    char data[128];
    (void)snprintf(data, sizeof(data), "%s/data", test_pg_server_.dir);
    char *const init[] = {"initdb",    "-D",
                          data,        "-U",
                          "sealrun",   "--auth=trust",
                          "-E",        "UTF8",
                          "--no-sync", "--no-instructions",
                          NULL};
    test_pg_server_.up = 1;
    test_pg_server_.owner = getpid();
    atexit(test_pg_stop);
    if (test_pg_run("initdb", init) != 0 || test_pg_ctl("start") != 0) {
        fprintf(stderr, "test_pg: cannot start PostgreSQL in %s (see its tool.log)\n",
                test_pg_server_.dir);
        exit(1);
    }
}

/* pg_ctl start or stop (fast: sessions are ended, data kept) of the server. */
static inline int
test_pg_ctl(const char *action)
{
    char data[128], log[128], opts[256], act[16];
    (void)snprintf(data, sizeof(data), "%s/data", test_pg_server_.dir);
    (void)snprintf(log, sizeof(log), "%s/server.log", test_pg_server_.dir);
    (void)snprintf(opts, sizeof(opts),
                   "-k %s -c listen_addresses= -c fsync=off -c max_connections=200",
                   test_pg_server_.dir);
    (void)snprintf(act, sizeof(act), "%s", action);
    char *const start[] = {"pg_ctl", "-D", data, "-l", log, "-o",
                           opts,     "-w", "-t", "60", act, NULL};
    char *const stop[] = {"pg_ctl", "-D", data, "-m", "fast", "-w", act, NULL};
    return test_pg_run("pg_ctl", strcmp(action, "stop") == 0 ? stop : start);
}

static inline PGresult *
test_pg_query(const char *uri, const char *sql)
{
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
        fprintf(stderr, "test_pg: '%.80s': %s", sql, PQerrorMessage(c));
    PQfinish(c);
    return r;
}

static inline int
test_pg_exec(const char *uri, const char *sql)
{
    PGresult *r = test_pg_query(uri, sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    return ok ? 0 : -1;
}

static inline long long
test_pg_int(const char *uri, const char *sql)
{
    PGresult *r = test_pg_query(uri, sql);
    long long v = -1;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

/* The URI of the database for 'name' (created on first use). */
static inline void
test_pg_database(const char *name, char *out, size_t n)
{
    test_pg_start();
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    char db[32], admin[200], sql[96];
    (void)snprintf(db, sizeof(db), "t%016llx", (unsigned long long)h);
    (void)snprintf(admin, sizeof(admin), "postgresql:///postgres?host=%s&user=sealrun",
                   test_pg_server_.dir);
    (void)snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_database WHERE datname = '%s'", db);
    if (test_pg_int(admin, sql) == 0) {
        (void)snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
        (void)test_pg_exec(admin, sql);
    }
    (void)snprintf(out, n, "postgresql:///%s?host=%s&user=sealrun", db, test_pg_server_.dir);
}

#endif /* SR_TEST_PG_H */
