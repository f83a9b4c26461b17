/* SPDX-License-Identifier: MIT
 *
 * bench_js.c - the JavaScript engine benchmark: fib(27), a numeric loop,
 * string building and a JSON round trip, each run once through sr_js_run()
 * with the JIT on and with the JIT off, and through node, printed with the
 * ratios. Also the cost of a trivial job in a warm VM and of the first VM.
 *
 * The JIT option is process-wide, so each sealrun mode runs in a child forked
 * before any VM exists and reports back over a pipe. The compared figure is
 * CPU time, which a shared machine disturbs less than wall time: for sealrun
 * gas_used (thread CPU from the syntax check to the JSON output), for node
 * process.cpuUsage() around main() (start-up and its compiler threads'
 * start excluded; node's background JIT threads are included, JSC's are not).
 * The wall time of each sr_js_run is printed too.
 *
 * Usage: bench_js [path-to-node]   (default "node" on PATH)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <JavaScriptCore/JavaScript.h>
#include "sealrun/sr_js.h"

struct bench_case {
    const char *name;
    const char *script;
};

static const struct bench_case g_cases[] = {
    {"fib(27)", "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n"
                "function main() { return fib(27); }\n"},
    {"numeric loop", "function main() {\n"
                     "  let s = 0, x = 0;\n"
                     "  for (let i = 0; i < 10000000; i++) { s = (s + i * 7) | 0; s ^= s >>> 3; "
                     "x += Math.sqrt(i); }\n"
                     "  return s + Math.floor(x);\n"
                     "}\n"},
    {"string building", "function main() {\n"
                        "  let s = '';\n"
                        "  for (let i = 0; i < 300000; i++) s += i.toString(36) + ',';\n"
                        "  const parts = [];\n"
                        "  for (let i = 0; i < 300000; i++) parts.push('k' + i);\n"
                        "  return s.length + parts.join('|').length;\n"
                        "}\n"},
    {"JSON round trip",
     "function main() {\n"
     "  const o = {items: []};\n"
     "  for (let i = 0; i < 20000; i++)\n"
     "    o.items.push({id: i, name: 'item' + i, tags: ['a', 'b'], v: i * 1.5});\n"
     "  let n = 0;\n"
     "  for (let k = 0; k < 5; k++) n += JSON.parse(JSON.stringify(o)).items.length;\n"
     "  return n;\n"
     "}\n"},
};
#define NCASES (sizeof(g_cases) / sizeof(g_cases[0]))
#define TRIVIAL_JOBS 500

/* What a child reports for one mode. */
struct mode_result {
    double first_vm_ms; /* sr_js_vm_new + first trivial job */
    double context_ms;  /* JSGlobalContextCreateInGroup + release, warm */
    double trivial_ms;  /* per trivial job, warm VM */
    double wall_ms[NCASES];
    double gas_ms[NCASES];
    char output[NCASES][64];
    int ok;
};

static double
now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
run_job(sr_js_vm *vm, const char *script, double *wall, double *gas, char *out, size_t out_len)
{
    struct sr_js_job job = {.script = script, .script_len = strlen(script), .statm_fd = -1};
    struct sr_js_result res;
    sr_err err;
    double t0 = now_ms();
    if (sr_js_run(vm, &job, &res, &err) != SR_OK) {
        fprintf(stderr, "bench_js: %s\n", err.msg);
        return -1;
    }
    *wall = now_ms() - t0;
    *gas = (double)res.gas_used / 1000.0;
    (void)snprintf(out, out_len, "%s", res.ok ? res.output_json : res.error_message);
    int rc = res.ok ? 0 : -1;
    sr_js_result_fini(&res);
    return rc;
}

static void
measure_mode(bool no_jit, struct mode_result *r)
{
    static const char trivial[] = "function main(input) { return {ok: true}; }";
    sr_js_vm *vm = NULL;
    sr_err err;
    double wall = 0;
    double gas = 0;
    char out[64];
    memset(r, 0, sizeof(*r));
    double t0 = now_ms();
    if (sr_js_vm_new(&(struct sr_js_options){.no_jit = no_jit}, &vm, &err) != SR_OK ||
        run_job(vm, trivial, &wall, &gas, out, sizeof(out)) != 0)
        return;
    r->first_vm_ms = now_ms() - t0;
    for (int i = 0; i < 50; i++)
        (void)run_job(vm, trivial, &wall, &gas, out, sizeof(out));
    t0 = now_ms();
    for (int i = 0; i < TRIVIAL_JOBS; i++)
        (void)run_job(vm, trivial, &wall, &gas, out, sizeof(out));
    r->trivial_ms = (now_ms() - t0) / TRIVIAL_JOBS;
    JSContextGroupRef group = JSContextGroupCreate();
    JSGlobalContextRelease(JSGlobalContextCreateInGroup(group, NULL));
    t0 = now_ms();
    for (int i = 0; i < TRIVIAL_JOBS; i++)
        JSGlobalContextRelease(JSGlobalContextCreateInGroup(group, NULL));
    r->context_ms = (now_ms() - t0) / TRIVIAL_JOBS;
    JSContextGroupRelease(group);
    for (size_t i = 0; i < NCASES; i++) {
        if (run_job(vm, g_cases[i].script, &r->wall_ms[i], &r->gas_ms[i], r->output[i],
                    sizeof(r->output[i])) != 0)
            fprintf(stderr, "bench_js: %s failed: %s\n", g_cases[i].name, r->output[i]);
    }
    sr_js_vm_free(vm);
    r->ok = 1;
}

/* Runs measure_mode in a child so each gets its own process-wide JIT option. */
static int
run_mode(bool no_jit, struct mode_result *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        (void)close(fds[0]);
        struct mode_result mine;
        measure_mode(no_jit, &mine);
        ssize_t n = write(fds[1], &mine, sizeof(mine));
        _exit(n == (ssize_t)sizeof(mine) ? 0 : 1);
    }
    (void)close(fds[1]);
    size_t got = 0;
    while (got < sizeof(*r)) {
        ssize_t n = read(fds[0], (char *)r + got, sizeof(*r) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    (void)close(fds[0]);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    return got == sizeof(*r) && r->ok ? 0 : -1;
}

/* Times main() of one case in node, in-process; -1 on failure. */
static double
run_node(const char *node, const struct bench_case *c, char *out, size_t out_len)
{
    char path[] = "/tmp/bench_js_XXXXXX.js";
    int fd = mkstemps(path, 3);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f)
        return -1;
    fprintf(f,
            "%s\nconst t0 = process.cpuUsage();\nconst r = main();\n"
            "const t1 = process.cpuUsage(t0);\n"
            "console.log((t1.user + t1.system) / 1e3, JSON.stringify({result: r}));\n",
            c->script);
    (void)fclose(f);
    char cmd[512];
    (void)snprintf(cmd, sizeof(cmd), "%s %s", node, path);
    FILE *p = popen(cmd, "r");
    double ms = -1;
    char line[256] = {0};
    if (p && fgets(line, sizeof(line), p)) {
        char *rest = NULL;
        ms = strtod(line, &rest);
        if (rest == line)
            ms = -1;
        else
            (void)snprintf(out, out_len, "%s", rest + strspn(rest, " "));
        out[strcspn(out, "\n")] = '\0';
    }
    if (p)
        (void)pclose(p);
    (void)unlink(path);
    return ms;
}

int
main(int argc, char **argv)
{
    const char *node = argc > 1 ? argv[1] : "node";
    struct mode_result jit;
    struct mode_result nojit;
    if (run_mode(false, &jit) != 0 || run_mode(true, &nojit) != 0) {
        fprintf(stderr, "bench_js: a sealrun run failed\n");
        return 1;
    }
    printf("engine: %s; node: %s\n\n", sr_js_engine_version(), node);
    printf("%-16s %9s %9s %9s %9s %10s %9s %9s %9s\n", "case (CPU ms)", "JIT", "noJIT", "node",
           "JIT/node", "noJIT/node", "noJIT/JIT", "JIT wall", "noJIT wall");
    for (size_t i = 0; i < NCASES; i++) {
        char out[64] = {0};
        double n = run_node(node, &g_cases[i], out, sizeof(out));
        printf("%-16s %9.2f %9.2f %9.2f %9.2f %10.2f %9.2f %9.2f %9.2f\n", g_cases[i].name,
               jit.gas_ms[i], nojit.gas_ms[i], n, n > 0 ? jit.gas_ms[i] / n : 0,
               n > 0 ? nojit.gas_ms[i] / n : 0, nojit.gas_ms[i] / jit.gas_ms[i], jit.wall_ms[i],
               nojit.wall_ms[i]);
        if (strcmp(jit.output[i], nojit.output[i]) != 0 || strcmp(jit.output[i], out) != 0)
            printf("  outputs differ: JIT %s, noJIT %s, node %s\n", jit.output[i], nojit.output[i],
                   out);
    }
    printf("\n%-16s %11s %11s\n", "(ms)", "JIT", "noJIT");
    printf("%-16s %11.3f %11.3f\n", "trivial job", jit.trivial_ms, nojit.trivial_ms);
    printf("%-16s %11.3f %11.3f\n", "first VM + job", jit.first_vm_ms, nojit.first_vm_ms);
    printf("%-16s %11.3f %11.3f\n", "bare context", jit.context_ms, nojit.context_ms);
    return 0;
}
