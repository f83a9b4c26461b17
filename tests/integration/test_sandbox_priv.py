# SPDX-License-Identifier: MIT
"""test_sandbox_priv.py - issue 9 item 13 end to end, on a real sealrund: what
the zygote and running job processes hold, read from /proc as an operator
would (status: Uid, Gid, Groups, CapEff, CapPrm, CapBnd, NoNewPrivs, Seccomp,
NSpid; environ; fd; ns), in both isolation modes; that two owners' job
processes share neither a uid nor a PID namespace; that GET /info and the
start-up log line say what is in place; and the same checks for sealrund run
as an ordinary user and where the kernel refuses new namespaces (what holds
then is in docs/security-model.md)."""
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Daemon, descendants, main  # noqa: E402

ROOT = os.geteuid() == 0
SPIN = "function main(){ for(;;){} }"
ZERO_CAPS = "0000000000000000"
NS = ("user", "pid", "net", "mnt", "ipc", "uts")
NS_NAMES = {"mnt": "mount"}  # /proc/PID/ns names vs the names GET /info uses


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = " ".join(v.split())
    except OSError:
        pass
    return out


def ns_link(pid, ns):
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def fd_targets(pid):
    d = f"/proc/{pid}/fd"
    return {int(fd): os.readlink(os.path.join(d, fd)) for fd in os.listdir(d)}


def is_dev_null(pid, fd):
    st = os.stat(f"/proc/{pid}/fd/{fd}")
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat("/dev/null").st_rdev


def environ_bytes(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read().strip(b"\0")


class SandboxPrivTest(unittest.TestCase):
    def sandbox_tree(self, d, owners):
        """Starts one spinning job per owner and returns (zygote pid, {owner:
        job pid}) once every job process is past its setup (seccomp on)."""
        for owner in owners:
            st, job, _ = d.execute(d.token(owner), SPIN, timeout=8, **{"async": True})
            self.assertEqual(st, 202, job)
        deadline = time.time() + 30
        while time.time() < deadline:
            procs = descendants(d.proc.pid)
            zyg = [p for p in procs if status(p).get("Name") == "sealrun-zygote"]
            jobs = [p for p in procs if status(p).get("Name") == "sealrun-job"
                    and status(p).get("Seccomp") == "2"]
            if len(zyg) == 1 and len(jobs) >= len(owners):
                return zyg[0], jobs
            time.sleep(0.05)
        self.fail(f"job processes did not start: {descendants(d.proc.pid)}")

    def check_ids_and_caps(self, pid, uid, what):
        s = status(pid)
        self.assertEqual(s["Uid"], f"{uid} {uid} {uid} {uid}", what)
        if ROOT:
            self.assertEqual(s["Gid"], f"{uid} {uid} {uid} {uid}", what)
            self.assertEqual(s["Groups"], "", what)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"):
            self.assertEqual(s[cap], ZERO_CAPS, f"{what} {cap}")
        self.assertEqual(s["NoNewPrivs"], "1", what)

    def check_files(self, d, pid, zygote, what):
        """Empty environment; stdio on /dev/null; the daemon's log (its fd 2,
        the pipe the harness reads) nowhere; and only the expected fds: the
        zygote's control socket and signalfd, or the job's socket, its
        /proc/self/statm and what JavaScriptCore opens (/dev/urandom,
        eventfds)."""
        self.assertEqual(environ_bytes(pid), b"", what)
        fds = fd_targets(pid)
        for fd in (0, 1, 2):
            self.assertTrue(is_dev_null(pid, fd), f"{what} fd {fd}: {fds.get(fd)}")
        daemon_log = os.readlink(f"/proc/{d.proc.pid}/fd/2")
        self.assertTrue(daemon_log.startswith("pipe:"), daemon_log)
        self.assertNotIn(daemon_log, fds.values(), what)
        rest = sorted(t for fd, t in fds.items() if fd > 2)
        if zygote:
            self.assertEqual(len(rest), 2, f"{what}: {fds}")
            self.assertTrue(rest[0] == "anon_inode:[signalfd]" and rest[1].startswith("socket:"),
                            f"{what}: {fds}")
            return
        self.assertEqual(sum(t.startswith("socket:") for t in rest), 1, f"{what}: {fds}")
        self.assertEqual(sum(t.endswith("/statm") for t in rest), 1, f"{what}: {fds}")
        for t in rest:
            self.assertTrue(t.startswith("socket:") or t.endswith("/statm") or
                            t == "/dev/urandom" or t == "anon_inode:[eventfd]", f"{what}: {fds}")

    def check_sandbox(self, d, info):
        sb = info["sandbox"]
        uid = os.geteuid()
        zygote, jobs = self.sandbox_tree(d, ["ann", "bob"])
        if ROOT:
            self.assertEqual(sb["zygote_uid"], 2000000000)
            self.assertEqual((sb["job_uid_first"], sb["job_uid_count"]), (2000000001, 64))
            uid = sb["zygote_uid"]
        self.check_ids_and_caps(zygote, uid, "zygote")
        zns = status(zygote)["NSpid"].split()
        self.assertEqual(len(zns), 2, "zygote: a PID namespace of its own")
        self.assertEqual(zns[-1], "1")
        self.assertEqual(sorted(sb["job_namespaces"]), sorted(["user", "pid", "mount", "ipc", "uts"]))
        self.assertTrue(sb["empty_root"])
        self.assertTrue(sb["bounding_set_cleared"])
        uids = set()
        for job in jobs:
            s = status(job)
            juid = int(s["Uid"].split()[0])
            uids.add(juid)
            if ROOT:
                self.assertIn(juid, range(sb["job_uid_first"], sb["job_uid_first"] + 64))
            else:
                self.assertEqual(juid, uid)
            self.check_ids_and_caps(job, juid, f"job {job}")
            self.assertEqual(s["Seccomp"], "2")
            nspid = s["NSpid"].split()
            self.assertEqual(len(nspid), 3, f"job {job}: daemon's, zygote's and its own: {nspid}")
            self.assertEqual(nspid[-1], "1")
        if not ROOT:
            return
        self.assertEqual(len(uids), len(jobs), "two owners' processes never share a uid")
        for job in jobs:
            self.check_files(d, job, False, f"job {job}")
            for ns in NS:
                self.assertNotEqual(ns_link(job, ns), ns_link(d.proc.pid, ns), f"job {ns}")
                if ns != "net":
                    self.assertNotEqual(ns_link(job, ns), ns_link(zygote, ns), f"job {ns}")
            self.assertEqual(ns_link(job, "net"), ns_link(zygote, "net"))
        self.assertNotEqual(ns_link(jobs[0], "pid"), ns_link(jobs[1], "pid"))
        self.check_files(d, zygote, True, "zygote")
        for ns in NS:
            want_same = ns == "user"  # as root the zygote stays in the host's user namespace
            self.assertEqual(ns_link(zygote, ns) == ns_link(d.proc.pid, ns), want_same, ns)
            if not want_same:
                self.assertIn(NS_NAMES.get(ns, ns), sb["zygote_namespaces"])

    def run_mode(self, mode):
        with Daemon("--isolation=" + mode) as d:
            st, info, _ = d.request("GET", "/info")
            self.assertEqual(st, 200)
            self.check_sandbox(d, info)
            self.assertIn("info sandbox: zygote: uid ", d.log_text())

    def test_tenant_mode(self):
        self.run_mode("tenant")

    def test_job_mode(self):
        self.run_mode("job")

    def test_jobs_still_work(self):
        with Daemon() as d:
            tok = d.token("w")
            st, job, _ = d.execute(tok, "function main(i){ return {d: new Date(0).toISOString(),"
                                   " x: i, tz: Intl.DateTimeFormat().resolvedOptions().timeZone}; }",
                                   input=7)
            self.assertEqual((st, job["status"]), (200, "completed"), job)
            self.assertEqual(job["output"], {"d": "1970-01-01T00:00:00.000Z", "x": 7, "tz": "UTC"})

    def wrapped(self, wrapper_lines, binaries):
        """Replaces harness.SEALRUND and SEALRUN with scripts that run the
        real binaries through wrapper_lines; returns a cleanup function."""
        tmp = tempfile.mkdtemp(prefix="sealrun-priv-")
        os.chmod(tmp, 0o755)
        saved = (harness.SEALRUND, harness.SEALRUN)
        for name, real in (("sealrund", harness.SEALRUND), ("sealrun", harness.SEALRUN)):
            target = real
            if binaries:
                target = os.path.join(tmp, name + ".bin")
                shutil.copy2(real, target)
                os.chmod(target, 0o755)
            script = os.path.join(tmp, name)
            with open(script, "w") as f:
                f.write("#!/bin/sh\nexec " + wrapper_lines + " " + target + ' "$@"\n')
            os.chmod(script, 0o755)
        harness.SEALRUND, harness.SEALRUN = os.path.join(tmp, "sealrund"), os.path.join(tmp, "sealrun")

        def cleanup():
            harness.SEALRUND, harness.SEALRUN = saved
            shutil.rmtree(tmp, ignore_errors=True)
        return cleanup

    @unittest.skipUnless(ROOT, "needs root to start sealrund as another user")
    def test_as_an_ordinary_user(self):
        user = 54321
        cleanup = self.wrapped(f"setpriv --reuid={user} --regid={user} --clear-groups", True)
        data = tempfile.mkdtemp(prefix="sealrun-it-user-")
        os.chown(data, user, user)
        pg_dir = harness.postgres().dir if harness.test_store_is_pg() else None
        if pg_dir:  # the daemon, now that user, reaches the server's socket directory
            os.chmod(pg_dir, 0o711)
        try:
            with Daemon(data_dir=data) as d:
                st, info, _ = d.request("GET", "/info")
                sb = info["sandbox"]
                self.assertEqual((sb["zygote_uid"], sb["job_uid_first"], sb["job_uid_count"]),
                                 (user, user, 1))
                self.assertIn("user", sb["zygote_namespaces"])
                zygote, jobs = self.sandbox_tree(d, ["carl"])
                self.check_ids_and_caps(zygote, user, "zygote")
                for job in jobs:
                    self.check_ids_and_caps(job, user, "job")
                    self.assertEqual(status(job)["Seccomp"], "2")
                    self.check_files(d, job, False, "job")
                    for ns in NS:
                        self.assertNotEqual(ns_link(job, ns), ns_link(d.proc.pid, ns), ns)
                self.check_files(d, zygote, True, "zygote")
                for ns in NS:
                    self.assertNotEqual(ns_link(zygote, ns), ns_link(d.proc.pid, ns), ns)
                st, job, _ = d.execute(d.token("dora"), "function main(){ return {n: 6 * 7}; }")
                self.assertEqual(job.get("output"), {"n": 42}, job)
        finally:
            if pg_dir:
                os.chmod(pg_dir, 0o700)
            cleanup()
            shutil.rmtree(data, ignore_errors=True)

    def test_where_the_kernel_refuses_namespaces(self):
        tool = os.environ.get("SR_NO_NAMESPACES")
        if not tool:
            self.skipTest("SR_NO_NAMESPACES is not set (run through ctest)")
        cleanup = self.wrapped(tool, False)
        try:
            with Daemon() as d:
                st, info, _ = d.request("GET", "/info")
                sb = info["sandbox"]
                self.assertEqual((sb["zygote_namespaces"], sb["job_namespaces"]), ([], []))
                self.assertFalse(sb["empty_root"])
                uid = 2000000000 if ROOT else os.geteuid()
                self.assertEqual((sb["zygote_uid"], sb["job_uid_first"], sb["job_uid_count"]),
                                 (uid, uid, 1))
                zygote, jobs = self.sandbox_tree(d, ["eve"])
                self.check_ids_and_caps(zygote, uid, "zygote")
                for job in jobs:
                    self.check_ids_and_caps(job, uid, "job")
                    self.assertEqual(status(job)["Seccomp"], "2")
                    if ROOT:
                        self.check_files(d, job, False, "job")
                st, job, _ = d.execute(d.token("fay"), "function main(){ return {s: 'still'}; }")
                self.assertEqual(job.get("output"), {"s": "still"}, job)
                self.assertIn("no namespaces of their own", d.log_text())
        finally:
            cleanup()


if __name__ == "__main__":
    main()
