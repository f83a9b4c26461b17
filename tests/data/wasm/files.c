/* SPDX-License-Identifier: MIT
 *
 * files.c - a WASI program that reaches for files, directories and sockets,
 * as ordinary C programs do (issue 10 item 4: linking fopen imports
 * fd_fdstat_set_flags and friends). Built at build time with clang
 * --target=wasm32-wasi (tests/data/wasm/CMakeLists.txt); a job has no
 * preopened directory, so each attempt must fail cleanly with an errno, and
 * the program goes on.
 *
 * argv[1] = "libc" (default): one JSON object, each libc call's outcome
 * ("ok" or strerror(errno)). argv[1] = "raw": every wasi_snapshot_preview1
 * function that takes a descriptor, called directly on fd 3 (none exists)
 * and on fd 1 (stdout), as "name": [errno on 3, errno on 1].
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

/* Not in this wasi-libc's api.h, but part of preview 1. */
__attribute__((__import_module__("wasi_snapshot_preview1"),
               __import_name__("proc_raise"))) extern uint16_t
raw_proc_raise(uint32_t sig);

static const char *
outcome(int failed)
{
    return failed ? strerror(errno) : "ok";
}

static void
field(const char *name, const char *value, int last)
{
    printf("\"%s\":\"%s\"%s", name, value, last ? "" : ",");
}

static int
libc_calls(void)
{
    struct stat st;
    char buf[16];
    printf("{");
    FILE *f = fopen("data.txt", "r");
    field("fopen_read", outcome(f == NULL), 0);
    if (f)
        fclose(f);
    f = fopen("/tmp/out.txt", "w");
    field("fopen_write", outcome(f == NULL), 0);
    if (f)
        fclose(f);
    DIR *d = opendir(".");
    field("opendir", outcome(d == NULL), 0);
    if (d)
        closedir(d);
    field("mkdir", outcome(mkdir("made", 0700) != 0), 0);
    field("unlink", outcome(unlink("gone") != 0), 0);
    field("stat", outcome(stat("/", &st) != 0), 0);
    field("fstat_stdout", outcome(fstat(1, &st) != 0 || !S_ISCHR(st.st_mode)), 0);
    field("lseek_stdout", outcome(lseek(1, 0, SEEK_CUR) < 0), 0);
    field("fcntl_setfl", outcome(fcntl(1, F_SETFL, O_APPEND) != 0), 0);
    field("fsync_stdout", outcome(fsync(1) != 0), 0);
    field("read_fd3", outcome(read(3, buf, sizeof(buf)) < 0), 0);
    field("isatty_stdout", isatty(1) ? "yes" : "no", 1);
    printf("}\n");
    return 0;
}

#define RAW(name, call3, call1) printf("%s\"%s\":[%u,%u]", sep, name, (call3), (call1)), sep = ","

static int
raw_calls(void)
{
    uint8_t buf[64] = {0};
    __wasi_fd_t fd = 0;
    __wasi_size_t n = 0;
    __wasi_filesize_t pos = 0;
    __wasi_iovec_t iov = {.buf = buf, .buf_len = sizeof(buf)};
    __wasi_ciovec_t ciov = {.buf = buf, .buf_len = 0};
    const char *sep = "";
    printf("{");
    RAW("fd_advise", __wasi_fd_advise(3, 0, 0, 0), __wasi_fd_advise(1, 0, 0, 0));
    RAW("fd_allocate", __wasi_fd_allocate(3, 0, 1), __wasi_fd_allocate(1, 0, 1));
    RAW("fd_datasync", __wasi_fd_datasync(3), __wasi_fd_datasync(1));
    RAW("fd_fdstat_set_flags", __wasi_fd_fdstat_set_flags(3, 0),
        __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_APPEND));
    RAW("fd_fdstat_set_rights", __wasi_fd_fdstat_set_rights(3, 0, 0),
        __wasi_fd_fdstat_set_rights(1, 0, 0));
    RAW("fd_filestat_get", __wasi_fd_filestat_get(3, (__wasi_filestat_t *)buf),
        __wasi_fd_filestat_get(1, (__wasi_filestat_t *)buf));
    RAW("fd_filestat_set_size", __wasi_fd_filestat_set_size(3, 0),
        __wasi_fd_filestat_set_size(1, 0));
    RAW("fd_filestat_set_times", __wasi_fd_filestat_set_times(3, 0, 0, 0),
        __wasi_fd_filestat_set_times(1, 0, 0, 0));
    RAW("fd_pread", __wasi_fd_pread(3, &iov, 1, 0, &n), __wasi_fd_pread(1, &iov, 1, 0, &n));
    RAW("fd_pwrite", __wasi_fd_pwrite(3, &ciov, 1, 0, &n), __wasi_fd_pwrite(1, &ciov, 1, 0, &n));
    RAW("fd_readdir", __wasi_fd_readdir(3, buf, sizeof(buf), 0, &n),
        __wasi_fd_readdir(1, buf, sizeof(buf), 0, &n));
    RAW("fd_renumber", __wasi_fd_renumber(3, 1), __wasi_fd_renumber(1, 2));
    RAW("fd_seek", __wasi_fd_seek(3, 0, __WASI_WHENCE_CUR, &pos),
        __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos));
    RAW("fd_sync", __wasi_fd_sync(3), __wasi_fd_sync(1));
    RAW("fd_tell", __wasi_fd_tell(3, &pos), __wasi_fd_tell(1, &pos));
    RAW("fd_prestat_get", __wasi_fd_prestat_get(3, (__wasi_prestat_t *)buf),
        __wasi_fd_prestat_get(1, (__wasi_prestat_t *)buf));
    RAW("path_create_directory", __wasi_path_create_directory(3, "d"),
        __wasi_path_create_directory(1, "d"));
    RAW("path_filestat_get", __wasi_path_filestat_get(3, 0, "f", (__wasi_filestat_t *)buf),
        __wasi_path_filestat_get(1, 0, "f", (__wasi_filestat_t *)buf));
    RAW("path_filestat_set_times", __wasi_path_filestat_set_times(3, 0, "f", 0, 0, 0),
        __wasi_path_filestat_set_times(1, 0, "f", 0, 0, 0));
    RAW("path_link", __wasi_path_link(3, 0, "a", 1, "b"), __wasi_path_link(1, 0, "a", 2, "b"));
    RAW("path_open", __wasi_path_open(3, 0, "f", 0, 0, 0, 0, &fd),
        __wasi_path_open(1, 0, "f", 0, 0, 0, 0, &fd));
    RAW("path_readlink", __wasi_path_readlink(3, "l", buf, sizeof(buf), &n),
        __wasi_path_readlink(1, "l", buf, sizeof(buf), &n));
    RAW("path_remove_directory", __wasi_path_remove_directory(3, "d"),
        __wasi_path_remove_directory(1, "d"));
    RAW("path_rename", __wasi_path_rename(3, "a", 1, "b"), __wasi_path_rename(1, "a", 2, "b"));
    RAW("path_symlink", __wasi_path_symlink("a", 3, "b"), __wasi_path_symlink("a", 1, "b"));
    RAW("path_unlink_file", __wasi_path_unlink_file(3, "f"), __wasi_path_unlink_file(1, "f"));
    RAW("sock_accept", __wasi_sock_accept(3, 0, &fd), __wasi_sock_accept(1, 0, &fd));
    RAW("sock_recv", __wasi_sock_recv(3, &iov, 1, 0, &n, (__wasi_roflags_t *)buf),
        __wasi_sock_recv(1, &iov, 1, 0, &n, (__wasi_roflags_t *)buf));
    RAW("sock_send", __wasi_sock_send(3, &ciov, 1, 0, &n), __wasi_sock_send(1, &ciov, 1, 0, &n));
    RAW("sock_shutdown", __wasi_sock_shutdown(3, __WASI_SDFLAGS_WR),
        __wasi_sock_shutdown(1, __WASI_SDFLAGS_WR));
    RAW("proc_raise", raw_proc_raise(6), raw_proc_raise(6));
    printf("}\n");
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "raw") == 0)
        return raw_calls();
    return libc_calls();
}
