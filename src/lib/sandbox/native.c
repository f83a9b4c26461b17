/* SPDX-License-Identifier: MIT
 *
 * native.c - the native tier's compiler (sr_native.h): wasm2c and the C
 * compiler as sandboxed processes, and the cache of the shared objects they
 * make. docs/wasm.md, "The native tier's compiler".
 *
 * Sections: running one tool (fork, the child's limits, the wall clock, what
 * its exit means), one compilation in a temporary directory, the cache.
 */
#include "sealrun/sr_native.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sealrun/sr_crypto.h"
#include "sealrun/sr_metrics.h"

#define TOOL_OUT_MAX 4096u /* bytes of a tool's stdout + stderr kept for messages */
#define NOBODY 65534u      /* the tools' uid and gid when the daemon is root */
#define EXIT_NO_NETNS 125  /* the child could not leave the network */
#define EXIT_NO_SETUP 126  /* the child could not apply its limits */
#define CACHE_MAX_ENTRIES 100000u

struct sr_native {
    char *dir;
    uint64_t cache_max;
    uint32_t timeout_ms;
    uint64_t mem, file;
    char opt[4];
    char *wasm2c, *cc;
    char identity[256];
    struct {
        char *name, *text;
        size_t len;
    } files[SR_NATIVE_MAX_FILES]; /* copies of the config's */
    size_t nfiles;
};

/* ---- one tool ------------------------------------------------------------------------- */

struct tool_run {
    char *const *argv;
    const char *cwd;   /* working directory, also TMPDIR */
    uint64_t deadline; /* ms, monotonic */
    char out[TOOL_OUT_MAX + 1];
    size_t out_len;
    int wstatus;
    bool timed_out;
};

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
child_limit(int res, uint64_t v)
{
    const struct rlimit rl = {.rlim_cur = v, .rlim_max = v};
    if (setrlimit(res, &rl) != 0)
        _exit(EXIT_NO_SETUP);
}

/* In the child, between fork and execve: system calls only (the parent may have
 * threads, so nothing that allocates or locks). */
__attribute__((noreturn)) static void
child_exec(const sr_native *n, const struct tool_run *t, int out_fd, char *const *envp)
{
    const bool root = geteuid() == 0;
    /* the daemon's signal mask and ignored signals are not the tools' */
    sigset_t none;
    (void)sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    (void)sigaction(SIGPIPE, &dfl, NULL);
    (void)setsid();
    if (unshare(root ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) != 0)
        _exit(EXIT_NO_NETNS);
    child_limit(RLIMIT_CPU, n->timeout_ms / 1000u + 1u);
    child_limit(RLIMIT_AS, n->mem);
    child_limit(RLIMIT_FSIZE, n->file);
    child_limit(RLIMIT_CORE, 0);
    if (root && (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
                 setresuid(NOBODY, NOBODY, NOBODY) != 0))
        _exit(EXIT_NO_SETUP);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || chdir(t->cwd) != 0)
        _exit(EXIT_NO_SETUP);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(EXIT_NO_SETUP);
    /* nothing of the daemon's (sockets, the store) reaches the tools */
    if (close_range(3, ~0u, 0) != 0)
        _exit(EXIT_NO_SETUP);
    /* only now: with more than 64 descriptors open in the parent (a busy
     * daemon), /dev/null could not have been opened under the cap */
    child_limit(RLIMIT_NOFILE, 64);
    execve(t->argv[0], t->argv, envp);
    _exit(127);
}

/* Reads the tool's output (keeping TOOL_OUT_MAX bytes) until it closes it or
 * the deadline passes, then reaps it; kills its process group at the deadline. */
static void
tool_wait(struct tool_run *t, pid_t pid, int fd)
{
    for (;;) {
        const uint64_t now = now_ms();
        if (now >= t->deadline) {
            t->timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        const int r = poll(&p, 1, (int)(t->deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue; /* the deadline is checked at the top */
        char buf[1024];
        const ssize_t k = read(fd, buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        const size_t keep =
            TOOL_OUT_MAX - t->out_len < (size_t)k ? TOOL_OUT_MAX - t->out_len : (size_t)k;
        memcpy(t->out + t->out_len, buf, keep);
        t->out_len += keep;
    }
    t->out[t->out_len] = '\0';
    /* output closed: the tool is exiting; give it until the deadline */
    while (!t->timed_out && waitpid(pid, &t->wstatus, WNOHANG) == 0) {
        if (now_ms() >= t->deadline)
            t->timed_out = true;
        else
            (void)nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
    }
    if (t->timed_out) {
        (void)kill(-pid, SIGKILL);
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, &t->wstatus, 0);
    }
}

static sr_status
tool_run(const sr_native *n, struct tool_run *t, sr_err *err)
{
    char tmpdir[4200];
    snprintf(tmpdir, sizeof(tmpdir), "TMPDIR=%s", t->cwd);
    char path_env[] = "PATH=/usr/bin:/bin", lc_env[] = "LC_ALL=C";
    char *envp[] = {path_env, lc_env, tmpdir, NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return sr_err_set(err, SR_EIO, "pipe for the compiler: %s", strerror(errno));
    const pid_t pid = fork();
    if (pid < 0) {
        const int e = errno;
        close(fds[0]);
        close(fds[1]);
        return sr_err_set(err, SR_EIO, "fork for the compiler: %s", strerror(e));
    }
    if (pid == 0)
        child_exec(n, t, fds[1], envp);
    close(fds[1]);
    t->out_len = 0;
    tool_wait(t, pid, fds[0]);
    close(fds[0]);
    return SR_OK;
}

/* The first line of a tool's output, for messages. */
static const char *
first_line(struct tool_run *t)
{
    char *nl = strchr(t->out, '\n');
    if (nl)
        *nl = '\0';
    return t->out[0] ? t->out : "(no output)";
}

/* What the tool's ending means. */
static sr_status
tool_status(const sr_native *n, struct tool_run *t, const char *what, sr_err *err)
{
    const int w = t->wstatus;
    if (t->timed_out)
        return sr_err_set(err, SR_ELIMIT, "%s took longer than %u ms (the cap)", what,
                          n->timeout_ms);
    if (WIFSIGNALED(w) && (WTERMSIG(w) == SIGXCPU || WTERMSIG(w) == SIGKILL))
        return sr_err_set(err, SR_ELIMIT, "%s used more than %u s of CPU (the cap)", what,
                          n->timeout_ms / 1000u + 1u);
    if (WIFSIGNALED(w) && WTERMSIG(w) == SIGXFSZ)
        return sr_err_set(err, SR_ELIMIT, "%s wrote a file over %llu bytes (the cap)", what,
                          (unsigned long long)n->file);
    if (WIFSIGNALED(w))
        return sr_err_set(err, SR_EINVAL, "%s died of signal %d", what, WTERMSIG(w));
    if (WEXITSTATUS(w) == EXIT_NO_NETNS)
        return sr_err_set(err, SR_EIO,
                          "%s: cannot run it in a network namespace of its own (no user "
                          "namespaces here?)",
                          what);
    if (WEXITSTATUS(w) == EXIT_NO_SETUP || WEXITSTATUS(w) == 127)
        return sr_err_set(err, SR_EIO, "%s: cannot start it under its limits", what);
    if (WEXITSTATUS(w) != 0) {
        if (strstr(t->out, "out of memory") || strstr(t->out, "virtual memory exhausted") ||
            strstr(t->out, "Cannot allocate memory"))
            return sr_err_set(err, SR_ELIMIT, "%s ran out of its %llu bytes of memory (the cap)",
                              what, (unsigned long long)n->mem);
        return sr_err_set(err, SR_EINVAL, "%s failed (exit %d): %s", what, WEXITSTATUS(w),
                          first_line(t));
    }
    return SR_OK;
}

/* ---- one compilation ------------------------------------------------------------------- */

static sr_status
write_file(const char *path, const uint8_t *p, size_t len, sr_err *err)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot create '%s': %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        const ssize_t k = write(fd, p + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            const int e = errno;
            close(fd);
            return sr_err_set(err, SR_EIO, "cannot write '%s': %s", path, strerror(e));
        }
        off += (size_t)k;
    }
    if (geteuid() == 0 && fchown(fd, NOBODY, NOBODY) != 0) {
        close(fd);
        return sr_err_set(err, SR_EIO, "cannot hand '%s' to the compiler: %s", path,
                          strerror(errno));
    }
    return close(fd) == 0 ? SR_OK : sr_err_set(err, SR_EIO, "cannot write '%s'", path);
}

/* Reads a whole file of at most max bytes. */
static sr_status
read_file(int fd, uint64_t max, uint8_t **out, size_t *len, sr_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return sr_err_set(err, SR_EIO, "cannot read a compiled module: %s", strerror(errno));
    if ((uint64_t)st.st_size > max)
        return sr_err_set(err, SR_ELIMIT, "compiled module of %lld bytes exceeds the cap of %llu",
                          (long long)st.st_size, (unsigned long long)max);
    uint8_t *p = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!p)
        return sr_err_set(err, SR_ENOMEM, "out of memory reading a compiled module");
    size_t off = 0;
    while (off < (size_t)st.st_size) {
        const ssize_t k = read(fd, p + off, (size_t)st.st_size - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(p);
            return sr_err_set(err, SR_EIO, "short read of a compiled module");
        }
        off += (size_t)k;
    }
    *out = p;
    *len = off;
    return SR_OK;
}

/* Removes the temporary directory and everything the tools left in it (they
 * write only there: the directory is their cwd and TMPDIR; no subdirectories). */
static void
remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        const struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                (void)unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    (void)rmdir(dir);
}

static sr_status
compile_in(const sr_native *n, const char *dir, const uint8_t *wasm, size_t len, uint8_t **so,
           size_t *so_len, sr_err *err)
{
    char in[4200], c_src[4200], obj[4200];
    snprintf(in, sizeof(in), "%s/m.wasm", dir);
    snprintf(c_src, sizeof(c_src), "%s/m.c", dir);
    snprintf(obj, sizeof(obj), "%s/m.so", dir);
    sr_status st = write_file(in, wasm, len, err);
    const uint64_t deadline = now_ms() + n->timeout_ms;
    char a_in[] = "m.wasm", a_n[] = "-n", a_m[] = "m", a_o[] = "-o", a_c[] = "m.c";
    char *const w2c_argv[] = {n->wasm2c, a_in, a_n, a_m, a_o, a_c, NULL};
    struct tool_run w2c = {.argv = w2c_argv, .cwd = dir, .deadline = deadline};
    if (st == SR_OK)
        st = tool_run(n, &w2c, err);
    if (st == SR_OK)
        st = tool_status(n, &w2c, "wasm2c", err);
    /* only what wasm2c generated, and sealrun's own files */
    for (size_t i = 0; st == SR_OK && i < n->nfiles; i++) {
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, n->files[i].name);
        st = write_file(path, (const uint8_t *)n->files[i].text, n->files[i].len, err);
    }
    /* -fsignaling-nans: gcc may not fold x * 1.0, x - 0.0 and the like to x, which would
     * keep a signalling NaN that Wasm's arithmetic quiets (the interpreter's bits) */
    char opt[sizeof(n->opt)], a_sh[] = "-shared", a_pic[] = "-fPIC", a_w[] = "-w",
                              a_alias[] = "-fno-strict-aliasing", a_snan[] = "-fsignaling-nans",
                              a_so[] = "m.so", a_lm[] = "-lm";
    memcpy(opt, n->opt, sizeof(opt));
    char *cc_argv[16 + SR_NATIVE_MAX_FILES];
    size_t k = 0;
    cc_argv[k++] = n->cc;
    cc_argv[k++] = opt;
    cc_argv[k++] = a_sh;
    cc_argv[k++] = a_pic;
    cc_argv[k++] = a_w;
    cc_argv[k++] = a_alias;
    cc_argv[k++] = a_snan;
    cc_argv[k++] = a_c;
    for (size_t i = 0; i < n->nfiles; i++) {
        const size_t flen = strlen(n->files[i].name);
        if (flen > 2 && strcmp(n->files[i].name + flen - 2, ".c") == 0)
            cc_argv[k++] = n->files[i].name;
    }
    cc_argv[k++] = a_o;
    cc_argv[k++] = a_so;
    cc_argv[k++] = a_lm;
    cc_argv[k] = NULL;
    struct tool_run cc = {.argv = cc_argv, .cwd = dir, .deadline = deadline};
    if (st == SR_OK)
        st = tool_run(n, &cc, err);
    if (st == SR_OK)
        st = tool_status(n, &cc, "the C compiler", err);
    if (st != SR_OK)
        return st;
    const int fd = open(obj, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "the C compiler wrote no object: %s", strerror(errno));
    st = read_file(fd, n->file, so, so_len, err);
    close(fd);
    return st;
}

static sr_status
compile(const sr_native *n, const uint8_t *wasm, size_t len, uint8_t **so, size_t *so_len,
        sr_err *err)
{
    char dir[] = "/tmp/sealrun-native-XXXXXX";
    if (!mkdtemp(dir))
        return sr_err_set(err, SR_EIO, "cannot make a directory for the compiler: %s",
                          strerror(errno));
    sr_status st = SR_OK;
    if (geteuid() == 0 && chown(dir, NOBODY, NOBODY) != 0)
        st = sr_err_set(err, SR_EIO, "cannot hand '%s' to the compiler: %s", dir, strerror(errno));
    if (st == SR_OK)
        st = compile_in(n, dir, wasm, len, so, so_len, err);
    remove_tmpdir(dir);
    if (st != SR_OK)
        sr_err_wrap(err, "compiling a module to native code");
    return st;
}

/* ---- the cache ------------------------------------------------------------------------------ */

struct entry {
    char name[96];
    uint64_t size;
    struct timespec used; /* mtime: set at every hit */
};

static int
older(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool
is_entry(const char *name)
{
    const size_t k = strlen(name);
    return k > 3 && k < 96 && name[0] != '.' && strcmp(name + k - 3, ".so") == 0;
}

/* The objects of the cache directory (at most CACHE_MAX_ENTRIES), *n of them. */
static struct entry *
scan(const sr_native *nat, size_t *n, uint64_t *total)
{
    *n = 0;
    *total = 0;
    DIR *d = opendir(nat->dir);
    if (!d)
        return NULL;
    struct entry *v = NULL;
    size_t cap = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL && *n < CACHE_MAX_ENTRIES) {
        struct stat st;
        if (!is_entry(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *q = realloc(v, cap * sizeof(*v));
            if (!q)
                break;
            v = q;
        }
        struct entry *x = &v[(*n)++];
        snprintf(x->name, sizeof(x->name), "%.95s", e->d_name);
        x->size = (uint64_t)st.st_size;
        x->used = st.st_mtim;
        *total += x->size;
    }
    closedir(d);
    return v;
}

uint64_t
sr_native_cache_bytes(const sr_native *n)
{
    size_t k = 0;
    uint64_t total = 0;
    free(scan(n, &k, &total));
    return total;
}

/* Least recently used out until the objects fit in cache_max. */
static void
evict(const sr_native *nat)
{
    size_t n = 0;
    uint64_t total = 0;
    struct entry *v = scan(nat, &n, &total);
    if (!v)
        return;
    qsort(v, n, sizeof(*v), older);
    const int dfd = open(nat->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    unsigned gone = 0;
    for (size_t i = 0; i < n && total > nat->cache_max && dfd >= 0; i++)
        if (unlinkat(dfd, v[i].name, 0) == 0) {
            total -= v[i].size;
            gone++;
        }
    if (gone)
        sr_metrics_native_evicted(gone);
    if (dfd >= 0)
        close(dfd);
    free(v);
}

static void
entry_path(const sr_native *n, const uint8_t *wasm, size_t len, char *out, size_t cap, bool tmp)
{
    char mod[SR_HASH_HEX_LEN + 1], id[SR_HASH_HEX_LEN + 1];
    sr_sha256_hex(wasm, len, mod);
    sr_sha256_hex(n->identity, strlen(n->identity), id);
    if (tmp)
        snprintf(out, cap, "%s/.tmp-%s-%.16s-%ld", n->dir, mod, id, (long)getpid());
    else
        snprintf(out, cap, "%s/%s-%.16s.so", n->dir, mod, id);
}

static bool
cache_get(const sr_native *n, const char *path, uint8_t **so, size_t *so_len)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    const bool ok = read_file(fd, n->file, so, so_len, NULL) == SR_OK;
    if (ok)
        (void)futimens(fd, NULL); /* recently used */
    close(fd);
    return ok;
}

static void
cache_put(const sr_native *n, const uint8_t *wasm, size_t len, const char *path, const uint8_t *so,
          size_t so_len)
{
    if (so_len > n->cache_max)
        return;
    char tmp[4400];
    entry_path(n, wasm, len, tmp, sizeof(tmp), true);
    (void)unlink(tmp);
    if (write_file(tmp, so, so_len, NULL) == SR_OK && rename(tmp, path) == 0)
        evict(n);
    else
        (void)unlink(tmp);
}

sr_status
sr_native_lookup(sr_native *n, const uint8_t *wasm, size_t len, uint8_t **so, size_t *so_len,
                 sr_err *err)
{
    char path[4400];
    *so = NULL;
    *so_len = 0;
    entry_path(n, wasm, len, path, sizeof(path), false);
    const bool hit = cache_get(n, path, so, so_len);
    sr_metrics_native_lookup(hit);
    if (hit)
        return SR_OK;
    return sr_err_set(err, SR_ENOTFOUND, "no compiled object for this module in the cache");
}

sr_status
sr_native_get(sr_native *n, const uint8_t *wasm, size_t len, uint8_t **so, size_t *so_len,
              bool *hit, sr_err *err)
{
    char path[4400];
    *so = NULL;
    *so_len = 0;
    *hit = false;
    entry_path(n, wasm, len, path, sizeof(path), false);
    if (cache_get(n, path, so, so_len)) {
        *hit = true;
        sr_metrics_native_lookup(true);
        return SR_OK;
    }
    sr_metrics_native_lookup(false);
    struct timespec t0, t1;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    sr_status st = compile(n, wasm, len, so, so_len, err);
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    sr_metrics_native_compile(st == SR_OK, (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 +
                                               (t1.tv_nsec - t0.tv_nsec));
    if (st == SR_OK)
        cache_put(n, wasm, len, path, *so, *so_len);
    return st;
}

/* ---- setup ------------------------------------------------------------------------------------
 */

/* The first word of a tool's answer to a version query ("1.0.32", "12.2.0"). */
static sr_status
tool_version(const sr_native *n, char *tool, const char *flag, char *out, size_t cap, sr_err *err)
{
    if (access(tool, X_OK) != 0)
        return sr_err_set(err, SR_ENOTFOUND, "'%s' is not an executable: %s", tool,
                          strerror(errno));
    char f[32];
    snprintf(f, sizeof(f), "%s", flag);
    char *const argv[] = {tool, f, NULL};
    struct tool_run t = {.argv = argv, .cwd = "/", .deadline = now_ms() + 10000};
    sr_status st = tool_run(n, &t, err);
    if (st == SR_OK)
        st = tool_status(n, &t, tool, err);
    if (st != SR_OK)
        return st;
    const size_t k = strcspn(t.out, " \n");
    snprintf(out, cap, "%.*s", (int)(k < 40 ? k : 40), t.out);
    return SR_OK;
}

static char *
dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

sr_status
sr_native_new(const struct sr_native_config *cfg, sr_native **out, sr_err *err)
{
    *out = NULL;
    const char *opt = cfg->opt_level ? cfg->opt_level : "-O3";
    if (!cfg->cache_dir || !cfg->cache_dir[0] || strlen(cfg->cache_dir) > 4000)
        return sr_err_set(err, SR_EINVAL,
                          "the native tier needs a cache directory (1 to 4000 "
                          "bytes of path)");
    if (strcmp(opt, "-O0") != 0 && strcmp(opt, "-O1") != 0 && strcmp(opt, "-O2") != 0 &&
        strcmp(opt, "-O3") != 0 && strcmp(opt, "-Os") != 0)
        return sr_err_set(err, SR_EINVAL,
                          "native optimisation level '%s': expected -O0, -O1, -O2, -O3 or -Os",
                          opt);
    sr_native *n = calloc(1, sizeof(*n));
    if (!n)
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    n->dir = strdup(cfg->cache_dir);
    n->wasm2c = dup_or(cfg->wasm2c, "/usr/bin/wasm2c");
    n->cc = dup_or(cfg->cc, "/usr/bin/cc");
    n->cache_max = cfg->cache_max_bytes ? cfg->cache_max_bytes : SR_NATIVE_DEFAULT_CACHE;
    n->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : SR_NATIVE_DEFAULT_TIMEOUT_MS;
    n->mem = cfg->mem_bytes ? cfg->mem_bytes : SR_NATIVE_DEFAULT_MEM;
    n->file = cfg->file_bytes ? cfg->file_bytes : SR_NATIVE_DEFAULT_FILE;
    snprintf(n->opt, sizeof(n->opt), "%s", opt);
    bool files_ok = cfg->nfiles <= SR_NATIVE_MAX_FILES;
    for (size_t i = 0; files_ok && i < cfg->nfiles; i++) {
        const char *nm = cfg->files[i].name;
        files_ok = nm && nm[0] && nm[0] != '.' && strlen(nm) < 64 && !strchr(nm, '/') &&
                   strcmp(nm, "m.c") != 0 && strcmp(nm, "m.h") != 0 && strcmp(nm, "m.wasm") != 0 &&
                   strcmp(nm, "m.so") != 0;
        if (files_ok) {
            char *name = strdup(nm);
            char *text = malloc(cfg->files[i].len + 1);
            if (text)
                memcpy(text, cfg->files[i].text, cfg->files[i].len);
            n->files[n->nfiles].name = name;
            n->files[n->nfiles].text = text;
            n->files[n->nfiles++].len = cfg->files[i].len;
            if (!name || !text)
                files_ok = false;
        }
    }
    if (!files_ok) {
        sr_native_free(n);
        return sr_err_set(err, SR_EINVAL,
                          "native compiler files: at most %u, each a plain file name other than "
                          "m.c, m.h, m.wasm and m.so",
                          SR_NATIVE_MAX_FILES);
    }
    if (!n->dir || !n->wasm2c || !n->cc) {
        sr_native_free(n);
        return sr_err_set(err, SR_ENOMEM, "out of memory");
    }
    char v1[48] = "", v2[48] = "";
    sr_status st = tool_version(n, n->wasm2c, "--version", v1, sizeof(v1), err);
    if (st == SR_OK)
        st = tool_version(n, n->cc, "-dumpfullversion", v2, sizeof(v2), err);
    if (st == SR_OK && mkdir(n->dir, 0700) != 0 && errno != EEXIST)
        st = sr_err_set(err, SR_EIO, "cannot create the native cache '%s': %s", n->dir,
                        strerror(errno));
    if (st != SR_OK) {
        sr_native_free(n);
        return st;
    }
    char files_id[40] = "";
    if (n->nfiles) {
        /* the hash of (name, hash of text) of each file */
        uint8_t d[SR_NATIVE_MAX_FILES * 96];
        size_t len = 0;
        for (size_t i = 0; i < n->nfiles; i++) {
            const size_t k = strlen(n->files[i].name);
            memcpy(d + len, n->files[i].name, k + 1);
            len += k + 1;
            sr_sha256(n->files[i].text, n->files[i].len, d + len);
            len += 32;
        }
        char hex[SR_HASH_HEX_LEN + 1];
        sr_sha256_hex(d, len, hex);
        snprintf(files_id, sizeof(files_id), " glue %.16s", hex);
    }
    snprintf(n->identity, sizeof(n->identity), "sealrun-native/%d wasm2c %s cc %s %s%s",
             SR_NATIVE_TIER_VERSION, v1, v2, n->opt, files_id);
    *out = n;
    return SR_OK;
}

void
sr_native_free(sr_native *n)
{
    if (!n)
        return;
    free(n->dir);
    free(n->wasm2c);
    free(n->cc);
    for (size_t i = 0; i < n->nfiles; i++) {
        free(n->files[i].name);
        free(n->files[i].text);
    }
    free(n);
}

const char *
sr_native_identity(const sr_native *n)
{
    return n->identity;
}
