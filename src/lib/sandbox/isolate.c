/* SPDX-License-Identifier: MIT
 *
 * isolate.c - the Linux mechanisms that take privilege away from the zygote
 * and the job processes (docs/security-model.md, "The sandbox"): namespaces
 * at creation, user and group ids, capabilities, and an empty read-only root.
 *
 * The policy (what runs where, in which order) lives in zygote.c and
 * child.c; these functions only do one step each and say what failed.
 *
 * Why clone3 and not fork() + unshare(): a new PID namespace only applies to
 * the children of the process that creates it, so the job process must be
 * created inside it, and glibc's fork() takes no flags. A bare clone leaves
 * glibc's thread descriptor stale (its cached tid is the parent's, and
 * pthread_getattr_np(), which JavaScriptCore calls for the main thread's
 * stack, then asks the kernel about a thread that does not exist in the new
 * namespace). sr_sandbox__clone() therefore passes the address glibc
 * registered with set_tid_address() (read back with PR_GET_TID_ADDRESS) as
 * CLONE_CHILD_SETTID/CLEARTID and re-registers the robust futex list in the
 * child: exactly what fork() does, with namespace flags. Sections: creation,
 * ids and capabilities, the empty root.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- creation ---- */

/* struct clone_args of linux/sched.h, version 0 (64 bytes); declared here
 * because that header clashes with glibc's sched.h. */
struct sr_clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal;
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
};

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

pid_t
sr_sandbox__clone(uint64_t flags, int *pidfd)
{
    pid_t *tidp = NULL;
    void *head = NULL;
    size_t head_len = 0;
    int fd = -1;

    *pidfd = -1;
    if (prctl(PR_GET_TID_ADDRESS, &tidp) != 0 || !tidp) {
        if (flags) {
            errno = ENOSYS; /* no CONFIG_CHECKPOINT_RESTORE: namespaces need it here */
            return -1;
        }
        return fork();
    }
    (void)syscall(SYS_get_robust_list, 0, &head, &head_len);
    struct sr_clone_args ca = {
        .flags = flags | CLONE_PIDFD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID,
        .pidfd = (uint64_t)(uintptr_t)&fd,
        .child_tid = (uint64_t)(uintptr_t)tidp,
        .exit_signal = SIGCHLD,
    };
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    if (pid < 0 && !flags && errno != EAGAIN && errno != ENOMEM)
        return fork(); /* a seccomp profile that hides clone3 (container runtimes do) */
    if (pid == 0 && head)
        (void)syscall(SYS_set_robust_list, head, head_len);
    if (pid > 0)
        *pidfd = fd;
    return (pid_t)pid;
}

pid_t
sr_sandbox__pidfd_pid(int pidfd)
{
    char path[64], buf[512];

    (void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    (void)close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nPid:");
    if (!p)
        return -1;
    long pid = strtol(p + 5, NULL, 10);
    return pid > 0 && pid <= INT32_MAX ? (pid_t)pid : -1;
}

/* ---- ids and capabilities ---- */

static sr_status
write_file(const char *path, const char *text, sr_err *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot open '%s': %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    (void)close(fd);
    if (n != (ssize_t)len)
        return sr_err_set(err, SR_EIO, "cannot write '%s' to '%s': %s", text, path,
                          n < 0 ? strerror(e) : "short write");
    return SR_OK;
}

sr_status
sr_sandbox__map_ids(pid_t pid, uint32_t uid, uint32_t gid, sr_err *err)
{
    char dir[32], path[64], line[48];
    sr_status rc;

    if (pid > 0)
        (void)snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
    else
        (void)snprintf(dir, sizeof(dir), "/proc/self");
    /* setgroups must be refused before an unprivileged gid_map is accepted;
     * the process has no business calling it either way */
    (void)snprintf(path, sizeof(path), "%s/setgroups", dir);
    if ((rc = write_file(path, "deny", err)) != SR_OK)
        return rc;
    (void)snprintf(path, sizeof(path), "%s/uid_map", dir);
    (void)snprintf(line, sizeof(line), "%u %u 1\n", uid, uid);
    if ((rc = write_file(path, line, err)) != SR_OK)
        return rc;
    (void)snprintf(path, sizeof(path), "%s/gid_map", dir);
    (void)snprintf(line, sizeof(line), "%u %u 1\n", gid, gid);
    return write_file(path, line, err);
}

sr_status
sr_sandbox__set_ids(uint32_t uid, uint32_t gid, bool clear_groups, sr_err *err)
{
    if (clear_groups && setgroups(0, NULL) != 0)
        return sr_err_set(err, SR_EIO, "cannot drop the supplementary groups: %s", strerror(errno));
    if (setresgid(gid, gid, gid) != 0)
        return sr_err_set(err, SR_EIO, "cannot switch to gid %u: %s", gid, strerror(errno));
    if (setresuid(uid, uid, uid) != 0)
        return sr_err_set(err, SR_EIO, "cannot switch to uid %u: %s", uid, strerror(errno));
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid)
        return sr_err_set(err, SR_EINTERNAL, "uid is not %u after setresuid", uid);
    return SR_OK;
}

bool
sr_sandbox__drop_bounding(void)
{
    bool all = true;

    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            all = false; /* no CAP_SETPCAP (ordinary user, no user namespace) */
    }
    return all;
}

sr_status
sr_sandbox__clear_caps(sr_err *err)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];

    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capset, &hdr, data) != 0)
        return sr_err_set(err, SR_EIO, "cannot clear the capability sets: %s", strerror(errno));
    if (syscall(SYS_capget, &hdr, data) != 0 || data[0].effective || data[0].permitted ||
        data[0].inheritable || data[1].effective || data[1].permitted || data[1].inheritable)
        return sr_err_set(err, SR_EINTERNAL, "capabilities remain after capset");
    return SR_OK;
}

/* ---- the empty root ---- */

/* Where the new root is mounted before pivot_root: any existing directory
 * of the old root will do (the mount is private to our mount namespace). */
static const char *const sr_root_spots[] = {"/tmp", "/mnt", "/run", "/var/tmp"};

static const char *
root_spot(void)
{
    struct stat st;
    for (size_t i = 0; i < sizeof(sr_root_spots) / sizeof(sr_root_spots[0]); i++) {
        if (stat(sr_root_spots[i], &st) == 0 && S_ISDIR(st.st_mode))
            return sr_root_spots[i];
    }
    return NULL;
}

/* Bind-mounts the device node 'name' (under /dev) onto an empty file in the
 * new root. */
static sr_status
bind_dev(const char *root, const char *name, sr_err *err)
{
    char src[64], dst[96];
    (void)snprintf(src, sizeof(src), "/dev/%s", name);
    (void)snprintf(dst, sizeof(dst), "%s/dev/%s", root, name);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0)
        return sr_err_set(err, SR_EIO, "cannot create '%s': %s", dst, strerror(errno));
    (void)close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
        return sr_err_set(err, SR_EIO, "cannot bind '%s': %s", src, strerror(errno));
    return SR_OK;
}

/* A procfs of the caller's PID namespace; "subset=pid" (Linux 5.8) leaves
 * out everything but the processes. */
static sr_status
mount_proc(const char *root, sr_err *err)
{
    char dst[96];
    const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    (void)snprintf(dst, sizeof(dst), "%s/proc", root);
    if (mkdir(dst, 0555) != 0)
        return sr_err_set(err, SR_EIO, "cannot create '%s': %s", dst, strerror(errno));
    if (mount("proc", dst, "proc", fl, "subset=pid") == 0 ||
        mount("proc", dst, "proc", fl, NULL) == 0)
        return SR_OK;
    return sr_err_set(err, SR_EIO, "cannot mount a /proc of our own: %s", strerror(errno));
}

sr_status
sr_sandbox__enter_empty_root(bool with_tmp, sr_err *err)
{
    const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const char *root = root_spot();
    char dir[96];
    sr_status rc;

    if (!root)
        return sr_err_set(err, SR_EIO,
                          "no directory to mount the new root on (tried '/tmp', "
                          "'/mnt', '/run', '/var/tmp')");
    /* Nothing we mount may propagate back to the namespace we came from. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return sr_err_set(err, SR_EIO, "cannot make the mounts private: %s", strerror(errno));
    if (mount("tmpfs", root, "tmpfs", fl, "size=64k,nr_inodes=32,mode=0755") != 0)
        return sr_err_set(err, SR_EIO, "cannot mount a tmpfs on '%s': %s", root, strerror(errno));
    (void)snprintf(dir, sizeof(dir), "%s/dev", root);
    if (mkdir(dir, 0755) != 0)
        return sr_err_set(err, SR_EIO, "cannot create '%s': %s", dir, strerror(errno));
    /* /tmp: where job processes mount their own root (zygote only) */
    (void)snprintf(dir, sizeof(dir), "%s/tmp", root);
    if (with_tmp && mkdir(dir, 0755) != 0)
        return sr_err_set(err, SR_EIO, "cannot create '%s': %s", dir, strerror(errno));
    if ((rc = bind_dev(root, "null", err)) != SR_OK ||
        (rc = bind_dev(root, "urandom", err)) != SR_OK || (rc = mount_proc(root, err)) != SR_OK)
        return rc;
    /* pivot_root(".", ".") stacks the old root on the new one; detaching
     * it leaves the new root alone, with no directory to reach the old. */
    if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0)
        return sr_err_set(err, SR_EIO, "cannot pivot_root into '%s': %s", root, strerror(errno));
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        return sr_err_set(err, SR_EIO, "cannot detach the old root: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | fl, NULL) != 0)
        return sr_err_set(err, SR_EIO, "cannot make the new root read-only: %s", strerror(errno));
    return SR_OK;
}
