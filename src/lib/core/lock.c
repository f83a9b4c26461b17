/* SPDX-License-Identifier: MIT
 *
 * lock.c - one daemon per data directory: an exclusive flock(2) on
 * DIR/sealrund.pid, held for the life of the process, with the holder's pid
 * written into the file so a second daemon can say who holds it.
 *
 * flock locks belong to the open file description: a fork (the sandbox
 * zygote) that closes its copy of the descriptor leaves the lock with the
 * daemon, and the lock goes when the daemon's process ends, however it
 * ends (kill -9 included), so a stale file never blocks a restart.
 */
#include "sealrun/sr_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define LOCK_FILE "sealrund.pid"

/* The pid written by the holder, or 0 when the file says nothing usable. */
static long
holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : 0;
}

sr_status
sr_datadir_lock(const char *dir, int *out_fd, sr_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE) >= (int)sizeof(path))
        return sr_err_set(err, SR_EINVAL, "data directory path '%.64s...' is too long", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open lock file '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = holder_pid(fd);
        (void)close(fd);
        if (e != EWOULDBLOCK)
            return sr_err_set(err, SR_EIO, "cannot lock '%s': %s", path, strerror(e));
        if (pid)
            return sr_err_set(err, SR_ECONFLICT,
                              "data directory '%s' is in use by another sealrund (pid %ld); stop "
                              "it or use another --data-dir",
                              dir, pid);
        return sr_err_set(err, SR_ECONFLICT,
                          "data directory '%s' is in use by another sealrund; stop it or use "
                          "another --data-dir",
                          dir);
    }
    char line[32];
    int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        int e = errno;
        (void)close(fd);
        return sr_err_set(err, SR_EIO, "cannot write lock file '%s': %s", path, strerror(e));
    }
    *out_fd = fd;
    return SR_OK;
}
