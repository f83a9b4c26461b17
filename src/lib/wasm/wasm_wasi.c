/* SPDX-License-Identifier: MIT
 *
 * wasm_wasi.c - WASI preview 1 (wasi_snapshot_preview1) as sealrun offers it
 * (design.md section 3, docs/wasm.md "WASI") and sr_wasm_run_wasi(), the one
 * call the service makes.
 *
 * Every preview 1 function resolves, so any program built for wasm32-wasi
 * instantiates. The guest sees: args and environ from the config, fd 0 = the
 * input bytes, fd 1 = the output buffer (capped; going past the cap stops the
 * guest), fd 2 = the logs buffer (capped; the rest is dropped and marked),
 * clocks, random bytes, proc_exit, sched_yield and poll_oneoff (every
 * subscription is ready at once: sleeping never blocks). There is no
 * preopened directory, no file and no socket: the calls that need one answer
 * the errno a runtime without preopens gives (EBADF for a descriptor other
 * than 0..2, ENOTDIR, ENOTSOCK, ENOTCAPABLE or ESPIPE for what the standard
 * streams cannot do, ENOSYS for proc_raise), so libc reports "no such
 * file" cleanly. Nothing here makes a system call other than memory
 * allocation, clock_gettime and getrandom, so it runs under the job
 * sandbox's seccomp filter.
 */
#include "wasm_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sealrun/sr_buf.h"
#include "sealrun/sr_limits.h"

#define WASI_MODULE "wasi_snapshot_preview1"

/* WASI errno values (wasi/api.h __WASI_ERRNO_*). */
enum {
    E_SUCCESS = 0,
    E_BADF = 8,
    E_FAULT = 21,
    E_INVAL = 28,
    E_IO = 29,
    E_NOSPC = 51,
    E_NOSYS = 52,
    E_NOTDIR = 54,
    E_NOTSOCK = 57,
    E_NOTSUP = 58,
    E_SPIPE = 70,
    E_NOTCAPABLE = 76,
};

/* Rights of the standard streams (__WASI_RIGHTS_*), as fd_fdstat_get reports. */
#define R_FD_READ (1ull << 1)
#define R_FD_WRITE (1ull << 6)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_POLL_FD_READWRITE (1ull << 27)
#define FILETYPE_CHARACTER_DEVICE 2

struct wasi {
    const struct sr_wasi_config *cfg;
    size_t stdin_pos;
    sr_buf out;
    sr_buf err;
    bool out_over;
    bool err_cut;
    uint64_t fake_ns;
};

static bool
put_u32(sr_wasm_instance *inst, uint64_t ptr, uint32_t v)
{
    uint8_t *p = sr_wasm_guest_bytes(inst, ptr, 4);
    if (p)
        memcpy(p, &v, 4);
    return p != NULL;
}

static bool
put_u64(sr_wasm_instance *inst, uint64_t ptr, uint64_t v)
{
    uint8_t *p = sr_wasm_guest_bytes(inst, ptr, 8);
    if (p)
        memcpy(p, &v, 8);
    return p != NULL;
}

static uint32_t
arg32(const uint64_t *s, int i)
{
    return (uint32_t)s[i];
}

static sr_status
ret_errno(uint64_t *slots, uint32_t e)
{
    slots[0] = e;
    return SR_OK;
}

/* ---- args and environ ------------------------------------------------------------------- */

static sr_status
strings_sizes(sr_wasm_instance *inst, uint64_t *s, const char *const *v, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    if (!put_u32(inst, arg32(s, 0), (uint32_t)n) || !put_u32(inst, arg32(s, 1), (uint32_t)total))
        return ret_errno(s, E_FAULT);
    return ret_errno(s, E_SUCCESS);
}

static sr_status
strings_get(sr_wasm_instance *inst, uint64_t *s, const char *const *v, size_t n)
{
    uint64_t ptrs = arg32(s, 0), buf = arg32(s, 1);
    for (size_t i = 0; i < n; i++) {
        const size_t len = strlen(v[i]) + 1;
        uint8_t *dst = sr_wasm_guest_bytes(inst, buf, len);
        if (!dst || !put_u32(inst, ptrs + 4 * i, (uint32_t)buf))
            return ret_errno(s, E_FAULT);
        memcpy(dst, v[i], len);
        buf += len;
    }
    return ret_errno(s, E_SUCCESS);
}

static sr_status
w_args_sizes_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    const struct wasi *w = ctx;
    return strings_sizes(inst, s, w->cfg->argv, w->cfg->argc);
}

static sr_status
w_args_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    const struct wasi *w = ctx;
    return strings_get(inst, s, w->cfg->argv, w->cfg->argc);
}

static sr_status
w_environ_sizes_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    const struct wasi *w = ctx;
    return strings_sizes(inst, s, w->cfg->env, w->cfg->envc);
}

static sr_status
w_environ_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    const struct wasi *w = ctx;
    return strings_get(inst, s, w->cfg->env, w->cfg->envc);
}

/* ---- file descriptors --------------------------------------------------------------------- */

/* fd_read(fd, iovs, iovs_len, nread) */
static sr_status
w_fd_read(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct wasi *w = ctx;
    if (arg32(s, 0) != 0)
        return ret_errno(s, E_BADF);
    uint64_t total = 0;
    for (uint32_t i = 0; i < arg32(s, 2); i++) {
        const uint8_t *iov = sr_wasm_guest_bytes(inst, (uint64_t)arg32(s, 1) + 8ull * i, 8);
        if (!iov)
            return ret_errno(s, E_FAULT);
        uint32_t ptr, len;
        memcpy(&ptr, iov, 4);
        memcpy(&len, iov + 4, 4);
        uint8_t *dst = sr_wasm_guest_bytes(inst, ptr, len);
        if (!dst)
            return ret_errno(s, E_FAULT);
        const size_t left = w->cfg->stdin_len - w->stdin_pos;
        const size_t n = len < left ? len : left;
        if (n)
            memcpy(dst, w->cfg->stdin_data + w->stdin_pos, n);
        w->stdin_pos += n;
        total += n;
        if (n < len)
            break;
    }
    if (!put_u32(inst, arg32(s, 3), (uint32_t)total))
        return ret_errno(s, E_FAULT);
    return ret_errno(s, E_SUCCESS);
}

static sr_status
write_bytes(struct wasi *w, sr_wasm_instance *inst, uint32_t fd, const uint8_t *p, size_t n)
{
    if (fd == 1) {
        if (sr_buf_append(&w->out, p, n, NULL) != SR_OK) {
            w->out_over = true;
            return sr_wasm_host_trap(inst, "output exceeds the cap of %zu bytes", w->out.max);
        }
        return SR_OK;
    }
    const size_t room = w->err.max - w->err.len;
    if (n > room) {
        w->err_cut = true;
        n = room;
    }
    if (n && sr_buf_append(&w->err, p, n, NULL) != SR_OK)
        w->err_cut = true;
    return SR_OK;
}

/* fd_write(fd, iovs, iovs_len, nwritten) */
static sr_status
w_fd_write(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    struct wasi *w = ctx;
    const uint32_t fd = arg32(s, 0);
    if (fd != 1 && fd != 2)
        return ret_errno(s, E_BADF);
    uint64_t total = 0;
    for (uint32_t i = 0; i < arg32(s, 2); i++) {
        const uint8_t *iov = sr_wasm_guest_bytes(inst, (uint64_t)arg32(s, 1) + 8ull * i, 8);
        if (!iov)
            return ret_errno(s, E_FAULT);
        uint32_t ptr, len;
        memcpy(&ptr, iov, 4);
        memcpy(&len, iov + 4, 4);
        const uint8_t *src = sr_wasm_guest_bytes(inst, ptr, len);
        if (!src)
            return ret_errno(s, E_FAULT);
        sr_status st = write_bytes(w, inst, fd, src, len);
        if (st != SR_OK)
            return st;
        total += len;
    }
    if (!put_u32(inst, arg32(s, 3), (uint32_t)total))
        return ret_errno(s, E_FAULT);
    return ret_errno(s, E_SUCCESS);
}

static sr_status
w_fd_close(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return ret_errno(s, arg32(s, 0) <= 2 ? E_SUCCESS : E_BADF);
}

/* fd_fdstat_get(fd, stat): a character device; 0 readable, 1 and 2 writable. */
static sr_status
w_fd_fdstat_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    const uint32_t fd = arg32(s, 0);
    if (fd > 2)
        return ret_errno(s, E_BADF);
    uint8_t *p = sr_wasm_guest_bytes(inst, arg32(s, 1), 24);
    if (!p)
        return ret_errno(s, E_FAULT);
    const uint64_t rights =
        (fd == 0 ? R_FD_READ : R_FD_WRITE) | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE;
    memset(p, 0, 24);
    p[0] = FILETYPE_CHARACTER_DEVICE;
    memcpy(p + 8, &rights, 8);
    return ret_errno(s, E_SUCCESS);
}

/* fd_filestat_get(fd, filestat): 0..2 are character devices of size 0. */
static sr_status
w_fd_filestat_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    if (arg32(s, 0) > 2)
        return ret_errno(s, E_BADF);
    uint8_t *p = sr_wasm_guest_bytes(inst, arg32(s, 1), 64);
    if (!p)
        return ret_errno(s, E_FAULT);
    memset(p, 0, 64);
    p[16] = FILETYPE_CHARACTER_DEVICE;
    return ret_errno(s, E_SUCCESS);
}

/* ---- what needs a file, a directory or a socket ------------------------------------------- */

/* errno of a call on descriptor fd that the standard streams cannot serve:
 * EBADF for any other descriptor (none exists: no preopens), else e. */
static sr_status
stdio_only(uint64_t *s, uint32_t fd, uint32_t e)
{
    return ret_errno(s, fd <= 2 ? e : E_BADF);
}

/* fd_advise, fd_allocate, fd_datasync, fd_sync, fd_fdstat_set_flags,
 * fd_fdstat_set_rights, fd_filestat_set_size, fd_filestat_set_times,
 * fd_readdir: the streams lack the right (fd_fdstat_get lists theirs). */
static sr_status
w_fd_notcapable(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0), E_NOTCAPABLE);
}

/* fd_seek, fd_tell, fd_pread, fd_pwrite: a stream has no position. */
static sr_status
w_fd_spipe(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0), E_SPIPE);
}

/* fd_prestat_get, fd_prestat_dir_name: there are no preopened directories, so
 * libc's scan of descriptors 3.. stops at once. */
static sr_status
w_fd_prestat(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return ret_errno(s, E_BADF);
}

/* fd_renumber(fd, to): the job's streams stay where they are. */
static sr_status
w_fd_renumber(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0) > arg32(s, 1) ? arg32(s, 0) : arg32(s, 1), E_NOTSUP);
}

/* path_*(dirfd, ...): a stream is not a directory; no other descriptor exists. */
static sr_status
w_path_at0(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0), E_NOTDIR);
}

/* path_symlink(old_path, old_path_len, dirfd, new_path, new_path_len) */
static sr_status
w_path_symlink(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 2), E_NOTDIR);
}

/* path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len) */
static sr_status
w_path_link(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0) > arg32(s, 4) ? arg32(s, 0) : arg32(s, 4), E_NOTDIR);
}

/* path_rename(fd, old_path, old_len, new_fd, new_path, new_len) */
static sr_status
w_path_rename(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0) > arg32(s, 3) ? arg32(s, 0) : arg32(s, 3), E_NOTDIR);
}

/* sock_accept, sock_recv, sock_send, sock_shutdown: no socket exists. */
static sr_status
w_sock(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return stdio_only(s, arg32(s, 0), E_NOTSOCK);
}

/* proc_raise(sig): no signals in a job. */
static sr_status
w_proc_raise(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return ret_errno(s, E_NOSYS);
}

/* ---- clocks, random, process ---------------------------------------------------------------- */

static bool
now_ns(struct wasi *w, uint32_t id, uint64_t *ns)
{
    if (w->cfg->fake_clock) {
        w->fake_ns += 1000;
        *ns = w->fake_ns;
        return id <= 3;
    }
    if (w->cfg->clock)
        return id <= 3 && w->cfg->clock(w->cfg->clock_ctx, id, ns) == 0;
    static const clockid_t ids[4] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                                     CLOCK_THREAD_CPUTIME_ID};
    struct timespec ts;
    if (id > 3 || clock_gettime(ids[id], &ts) != 0)
        return false;
    *ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return true;
}

/* clock_time_get(id, precision: i64, time) */
static sr_status
w_clock_time_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    uint64_t ns = 0;
    if (!now_ns(ctx, arg32(s, 0), &ns))
        return ret_errno(s, E_INVAL);
    return ret_errno(s, put_u64(inst, arg32(s, 2), ns) ? E_SUCCESS : E_FAULT);
}

static sr_status
w_clock_res_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    if (arg32(s, 0) > 3)
        return ret_errno(s, E_INVAL);
    return ret_errno(s, put_u64(inst, arg32(s, 1), 1000) ? E_SUCCESS : E_FAULT);
}

static int
default_random(void *ctx, uint8_t *buf, size_t len)
{
    (void)ctx;
    while (len > 0) {
        const ssize_t n = getrandom(buf, len, 0);
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static sr_status
w_random_get(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    const struct wasi *w = ctx;
    uint8_t *p = sr_wasm_guest_bytes(inst, arg32(s, 0), arg32(s, 1));
    if (!p)
        return ret_errno(s, E_FAULT);
    const sr_wasi_random_fn fn = w->cfg->random ? w->cfg->random : default_random;
    return ret_errno(s, fn(w->cfg->random_ctx, p, arg32(s, 1)) == 0 ? E_SUCCESS : E_IO);
}

static sr_status
w_proc_exit(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    return sr_wasm_host_exit(inst, arg32(s, 0));
}

static sr_status
w_sched_yield(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    (void)inst;
    return ret_errno(s, E_SUCCESS);
}

/* poll_oneoff(in, out, nsubscriptions, nevents): every subscription fires at once. */
static sr_status
w_poll_oneoff(void *ctx, sr_wasm_instance *inst, uint64_t *s)
{
    (void)ctx;
    const uint32_t n = arg32(s, 2);
    if (n == 0)
        return ret_errno(s, E_INVAL);
    const uint8_t *in = sr_wasm_guest_bytes(inst, arg32(s, 0), 48ull * n);
    uint8_t *out = sr_wasm_guest_bytes(inst, arg32(s, 1), 32ull * n);
    if (!in || !out)
        return ret_errno(s, E_FAULT);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *sub = in + 48ull * i;
        uint8_t *ev = out + 32ull * i;
        const uint8_t tag = sub[8];
        uint32_t fd = 0;
        memcpy(&fd, sub + 16, 4);
        uint16_t error = 0;
        if (tag > 2)
            error = E_INVAL;
        else if (tag != 0 && fd > 2)
            error = E_BADF;
        memset(ev, 0, 32);
        memcpy(ev, sub, 8); /* userdata */
        memcpy(ev + 8, &error, 2);
        ev[10] = tag;
    }
    return ret_errno(s, put_u32(inst, arg32(s, 3), n) ? E_SUCCESS : E_FAULT);
}

/* Every wasi_snapshot_preview1 function, sorted by name (check_imports
 * searches it), with its signature as clang and rustc import it. Keep in
 * sync with docs/wasm.md (the WASI table). */
struct wasi_func {
    const char *name;
    const char *sig;
    sr_wasm_host_fn fn;
};

static const struct wasi_func wasi_funcs[] = {
    {"args_get", "ii:i", w_args_get},
    {"args_sizes_get", "ii:i", w_args_sizes_get},
    {"clock_res_get", "ii:i", w_clock_res_get},
    {"clock_time_get", "iIi:i", w_clock_time_get},
    {"environ_get", "ii:i", w_environ_get},
    {"environ_sizes_get", "ii:i", w_environ_sizes_get},
    {"fd_advise", "iIIi:i", w_fd_notcapable},
    {"fd_allocate", "iII:i", w_fd_notcapable},
    {"fd_close", "i:i", w_fd_close},
    {"fd_datasync", "i:i", w_fd_notcapable},
    {"fd_fdstat_get", "ii:i", w_fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii:i", w_fd_notcapable},
    {"fd_fdstat_set_rights", "iII:i", w_fd_notcapable},
    {"fd_filestat_get", "ii:i", w_fd_filestat_get},
    {"fd_filestat_set_size", "iI:i", w_fd_notcapable},
    {"fd_filestat_set_times", "iIIi:i", w_fd_notcapable},
    {"fd_pread", "iiiIi:i", w_fd_spipe},
    {"fd_prestat_dir_name", "iii:i", w_fd_prestat},
    {"fd_prestat_get", "ii:i", w_fd_prestat},
    {"fd_pwrite", "iiiIi:i", w_fd_spipe},
    {"fd_read", "iiii:i", w_fd_read},
    {"fd_readdir", "iiiIi:i", w_fd_notcapable},
    {"fd_renumber", "ii:i", w_fd_renumber},
    {"fd_seek", "iIii:i", w_fd_spipe},
    {"fd_sync", "i:i", w_fd_notcapable},
    {"fd_tell", "ii:i", w_fd_spipe},
    {"fd_write", "iiii:i", w_fd_write},
    {"path_create_directory", "iii:i", w_path_at0},
    {"path_filestat_get", "iiiii:i", w_path_at0},
    {"path_filestat_set_times", "iiiiIIi:i", w_path_at0},
    {"path_link", "iiiiiii:i", w_path_link},
    {"path_open", "iiiiiIIii:i", w_path_at0},
    {"path_readlink", "iiiiii:i", w_path_at0},
    {"path_remove_directory", "iii:i", w_path_at0},
    {"path_rename", "iiiiii:i", w_path_rename},
    {"path_symlink", "iiiii:i", w_path_symlink},
    {"path_unlink_file", "iii:i", w_path_at0},
    {"poll_oneoff", "iiii:i", w_poll_oneoff},
    {"proc_exit", "i:", w_proc_exit},
    {"proc_raise", "i:i", w_proc_raise},
    {"random_get", "ii:i", w_random_get},
    {"sched_yield", ":i", w_sched_yield},
    {"sock_accept", "iii:i", w_sock},
    {"sock_recv", "iiiiii:i", w_sock},
    {"sock_send", "iiiii:i", w_sock},
    {"sock_shutdown", "ii:i", w_sock},
};
#define NWASI (sizeof(wasi_funcs) / sizeof(wasi_funcs[0]))

static bool
name_is(const struct sr_wasm__import *im, const char *module, const char *name)
{
    return strcmp(im->module, module) == 0 && im->name_len == strlen(name) &&
           memcmp(im->name, name, im->name_len) == 0;
}

static bool
is_wasi_func(const struct sr_wasm__import *im)
{
    if (strcmp(im->module, WASI_MODULE) != 0 || im->kind != SR_WASM_EXTERN_FUNC)
        return false;
    size_t lo = 0, hi = NWASI;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        const int c = strcmp(wasi_funcs[mid].name, im->name);
        if (c == 0)
            return name_is(im, WASI_MODULE, wasi_funcs[mid].name);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Names the first import that nothing here defines (the linker would say
 * only "unknown import"). O(log) per WASI import, O(nhost_funcs) else. */
static sr_status
check_imports(const sr_wasm_module *mod, const struct sr_wasi_config *cfg, sr_err *err)
{
    for (uint32_t i = 0; i < mod->nimports; i++) {
        const struct sr_wasm__import *im = &mod->imports[i];
        bool known = is_wasi_func(im);
        for (size_t k = 0; !known && k < cfg->nhost_funcs; k++)
            known = name_is(im, cfg->host_funcs[k].module, cfg->host_funcs[k].name) &&
                    im->kind == SR_WASM_EXTERN_FUNC;
        if (!known)
            return sr_err_set(err, SR_EINVAL,
                              "import '%s.%s' is not available: sealrun offers the functions "
                              "of WASI preview 1 (wasi_snapshot_preview1) and its own host "
                              "functions (see docs/wasm.md)",
                              im->module, im->name);
    }
    return SR_OK;
}

sr_status
sr_wasi_check_imports(const sr_wasm_module *mod, const struct sr_wasi_config *cfg, sr_err *err)
{
    return check_imports(mod, cfg, err);
}

static void
fill_result(struct wasi *w, sr_wasm_instance *inst, struct sr_wasi_result *res)
{
    res->fuel_used = inst ? sr_wasm_instance_fuel_used(inst) : 0;
    int type = 0;
    uint64_t v = 0;
    if (inst && sr_wasm_global_read(inst, SR_WASM_FUEL_EXPORT, &type, &v, NULL) == SR_OK &&
        type == SR_WASM_I64) {
        res->module_fuel = true;
        res->module_fuel_left = v;
        res->module_fuel_exhausted =
            sr_wasm_global_read(inst, SR_WASM_FUEL_FLAG_EXPORT, &type, &v, NULL) == SR_OK &&
            type == SR_WASM_I32 && (uint32_t)v == 1;
    }
    res->memory_limit = inst ? sr_wasm_instance_limit_hit(inst) : false;
    res->stdout_truncated = w->out_over;
    res->stdout_len = w->out.len;
    res->stdout_data = (uint8_t *)sr_buf_steal(&w->out);
    res->stderr_len = w->err.len;
    res->stderr_data = (uint8_t *)sr_buf_steal(&w->err);
    if (!res->stdout_data)
        res->stdout_len = 0;
    if (!res->stderr_data)
        res->stderr_len = 0;
}

/* Maps how _start ended to the status and the result fields. */
static sr_status
finish_run(sr_wasm_instance *inst, struct wasi *w, sr_status st, struct sr_wasi_result *res,
           sr_err *err)
{
    const sr_wasm_trap t = sr_wasm_instance_trap(inst);
    if (st == SR_OK || t == SR_WASM_TRAP_EXIT) {
        res->exited = true;
        res->exit_code = t == SR_WASM_TRAP_EXIT ? sr_wasm_instance_exit_code(inst) : 0;
        sr_err_clear(err);
        return SR_OK;
    }
    res->trap = t;
    snprintf(res->message, sizeof(res->message), "%s", err ? err->msg : sr_wasm_trap_message(t));
    if (w->out_over)
        return sr_err_set(err, SR_ELIMIT, "%s", res->message);
    return st;
}

sr_status
sr_wasm_run_wasi(const sr_wasm_module *mod, const struct sr_wasm_limits *lim,
                 const struct sr_wasi_config *cfg, struct sr_wasi_result *res, sr_err *err)
{
    struct wasi w = {.cfg = cfg};
    sr_wasm_linker *lk = NULL;
    sr_wasm_instance *inst = NULL;
    sr_err local = {0};
    sr_err *e = err ? err : &local;
    memset(res, 0, sizeof(*res));
    sr_buf_init(&w.out, cfg->stdout_max ? cfg->stdout_max : SR_MAX_OUTPUT);
    sr_buf_init(&w.err,
                cfg->stderr_max ? cfg->stderr_max : (size_t)SR_MAX_LOG_ENTRIES * SR_MAX_LOG_ENTRY);
    sr_status st = check_imports(mod, cfg, e);
    if (st == SR_OK)
        st = sr_wasm_linker_new(&lk, e);
    for (size_t k = 0; st == SR_OK && k < NWASI; k++)
        st = sr_wasm_linker_define_func(lk, WASI_MODULE, wasi_funcs[k].name, wasi_funcs[k].sig,
                                        wasi_funcs[k].fn, &w, e);
    for (size_t k = 0; st == SR_OK && k < cfg->nhost_funcs; k++) {
        const struct sr_wasi_host_func *h = &cfg->host_funcs[k];
        st = sr_wasm_linker_define_func(lk, h->module, h->name, h->sig, h->fn, h->ctx, e);
    }
    if (st == SR_OK)
        st = sr_wasm_linker_instantiate(lk, mod, lim, &inst, e);
    if (st == SR_OK) {
        st = sr_wasm_call(inst, "_start", NULL, 0, NULL, 0, e);
        if (st == SR_ENOTFOUND || st == SR_EINVAL)
            st = sr_err_set(e, SR_EINVAL, "module has no '_start' function of type [] -> []");
        else
            st = finish_run(inst, &w, st, res, e);
    } else if (inst && sr_wasm_instance_trap(inst) != SR_WASM_TRAP_NONE) {
        st = finish_run(inst, &w, st, res, e); /* the start function ended the run */
    }
    if (st != SR_OK && res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message), "%s", e->msg);
    fill_result(&w, inst, res);
    sr_wasm_linker_free(lk);
    return st;
}

size_t
sr_wasm__wasi_count(void)
{
    return NWASI;
}

void
sr_wasm__wasi_entry(size_t i, struct sr_wasi_host_func *out)
{
    *out = (struct sr_wasi_host_func){.module = WASI_MODULE,
                                      .name = wasi_funcs[i].name,
                                      .sig = wasi_funcs[i].sig,
                                      .fn = wasi_funcs[i].fn};
}

/* The interpreter's linker refuses an import whose type differs from the host
 * function's signature; the native tier checks the same before it runs. */
static sr_status
check_import_types(const sr_wasm_module *mod, const struct sr_wasi_host_func *funcs, size_t n,
                   sr_err *err)
{
    for (uint32_t i = 0; i < mod->nimports; i++) {
        const struct sr_wasm__import *im = &mod->imports[i];
        const struct sr_wasm__functype *ft = &mod->types[im->type];
        for (size_t k = 0; k < n; k++) {
            if (strcmp(funcs[k].module, im->module) != 0 || strcmp(funcs[k].name, im->name) != 0)
                continue;
            char sig[64];
            size_t len = 0;
            bool ok = ft->nparams + ft->nresults + 2 < sizeof(sig);
            for (uint32_t j = 0; ok && j < ft->nparams + ft->nresults; j++) {
                if (j == ft->nparams)
                    sig[len++] = ':';
                const uint8_t t = ft->types[j];
                sig[len++] = t == SR_WASM_I32         ? 'i'
                             : t == SR_WASM_I64       ? 'I'
                             : t == SR_WASM_F32       ? 'f'
                             : t == SR_WASM_F64       ? 'F'
                             : t == SR_WASM_EXTERNREF ? 'r'
                                                      : 'R';
            }
            if (ok && ft->nresults == 0)
                sig[len++] = ':';
            sig[ok ? len : 0] = '\0';
            const char *want = funcs[k].sig;
            const bool want_colon = strchr(want, ':') != NULL;
            char w[64];
            (void)snprintf(w, sizeof(w), "%s%s", want, want_colon ? "" : ":");
            if (!ok || strcmp(sig, w) != 0)
                return sr_err_set(err, SR_EINVAL, "incompatible import type for '%s.%s'",
                                  im->module, im->name);
            break;
        }
    }
    return SR_OK;
}

/* The module's memory, if any, must be exported as "memory": the glue hands
 * that one to the host functions. */
static bool
memory_exported(const sr_wasm_module *mod)
{
    if (mod->nmems == 0)
        return true;
    const struct sr_wasm__export *x = sr_wasm__find_export(mod, "memory", 6);
    return x && x->kind == SR_WASM_EXTERN_MEMORY && x->index == 0;
}

sr_status
sr_wasm_run_wasi_native(const sr_wasm_module *mod, const sr_wasm_native *n,
                        const struct sr_wasm_limits *lim, const struct sr_wasi_config *cfg,
                        struct sr_wasi_result *res, sr_err *err)
{
    struct wasi w = {.cfg = cfg};
    sr_err local = {0};
    sr_err *e = err ? err : &local;
    const struct sr_wasm_limits none = {0};
    if (!lim)
        lim = &none;
    memset(res, 0, sizeof(*res));
    sr_buf_init(&w.out, cfg->stdout_max ? cfg->stdout_max : SR_MAX_OUTPUT);
    sr_buf_init(&w.err,
                cfg->stderr_max ? cfg->stderr_max : (size_t)SR_MAX_LOG_ENTRIES * SR_MAX_LOG_ENTRY);
    struct sr_wasi_host_func *funcs = calloc(NWASI + cfg->nhost_funcs + 1, sizeof(*funcs));
    sr_status st = funcs ? SR_OK : sr_err_set(e, SR_ENOMEM, "out of memory running native code");
    for (size_t k = 0; st == SR_OK && k < NWASI; k++) {
        sr_wasm__wasi_entry(k, &funcs[k]);
        funcs[k].ctx = &w;
    }
    for (size_t k = 0; st == SR_OK && k < cfg->nhost_funcs; k++)
        funcs[NWASI + k] = cfg->host_funcs[k];
    if (st == SR_OK)
        st = check_imports(mod, cfg, e);
    if (st == SR_OK)
        st = check_import_types(mod, funcs, NWASI + cfg->nhost_funcs, e);
    if (st == SR_OK && !memory_exported(mod))
        st = sr_err_set(e, SR_EINVAL,
                        "the native tier needs the module's memory exported as 'memory' (as "
                        "WASI programs do)");
    struct sr_wasm__native_end end = {0};
    if (st == SR_OK) {
        st = sr_wasm__native_run(n, mod, funcs, NWASI + cfg->nhost_funcs, lim, &end, e);
        if (st == SR_OK || end.trap == SR_WASM_TRAP_EXIT) {
            res->exited = true;
            res->exit_code = end.trap == SR_WASM_TRAP_EXIT ? end.exit_code : 0;
            sr_err_clear(e);
            st = SR_OK;
        } else if (end.trap != SR_WASM_TRAP_NONE) {
            res->trap = end.trap;
            snprintf(res->message, sizeof(res->message), "%s", e->msg);
            if (w.out_over)
                st = sr_err_set(e, SR_ELIMIT, "%s", res->message);
        }
    }
    free(funcs);
    if (st != SR_OK && res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message), "%s", e->msg);
    const uint64_t initial = lim->fuel ? lim->fuel : UINT64_MAX;
    res->fuel_used = end.has_fuel ? initial - end.fuel_left : 0;
    res->memory_limit = end.limit_hit;
    res->stdout_truncated = w.out_over;
    res->stdout_len = w.out.len;
    res->stdout_data = (uint8_t *)sr_buf_steal(&w.out);
    res->stderr_len = w.err.len;
    res->stderr_data = (uint8_t *)sr_buf_steal(&w.err);
    if (!res->stdout_data)
        res->stdout_len = 0;
    if (!res->stderr_data)
        res->stderr_len = 0;
    return st;
}

void
sr_wasi_result_fini(struct sr_wasi_result *res)
{
    free(res->stdout_data);
    free(res->stderr_data);
    res->stdout_data = NULL;
    res->stderr_data = NULL;
    res->stdout_len = res->stderr_len = 0;
}
