/* SPDX-License-Identifier: MIT
 *
 * no_namespaces.c - test helper: runs a command where the kernel refuses
 * new namespaces, as a container runtime's default seccomp profile does for
 * a container without CAP_SYS_ADMIN (clone3 answers ENOSYS, since its flags
 * cannot be filtered; clone and unshare with any CLONE_NEW* flag answer
 * EPERM), so the integration tests can check what sealrund keeps then.
 *   no_namespaces COMMAND [ARG...] */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
#include <seccomp.h>

int
main(int argc, char **argv)
{
    static const scmp_datum_t ns[] = {CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,   CLONE_NEWNS,
                                      CLONE_NEWIPC,  CLONE_NEWUTS, CLONE_NEWCGROUP};
    if (argc < 2) {
        fprintf(stderr, "usage: no_namespaces COMMAND [ARG...]\n");
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ctx ? 0 : -1;
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) /* any one of the flags */
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i]));
    if (rc != 0 || seccomp_load(ctx) != 0) {
        fprintf(stderr, "no_namespaces: cannot load the seccomp filter\n");
        return 1;
    }
    seccomp_release(ctx);
    execvp(argv[1], argv + 1);
    perror("no_namespaces: execvp");
    return 127;
}
