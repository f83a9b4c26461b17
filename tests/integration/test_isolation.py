# SPDX-License-Identifier: MIT
"""test_isolation.py - two owners' jobs interleaved: no job sees anything of
another job (fresh context), no process serves two owners, and the per-user
running cap and async queue cap answer 429 with Retry-After."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, descendants, main  # noqa: E402

PROBE = """
function main(input) {
  const seen = Object.getOwnPropertyNames(globalThis).filter(k => k.startsWith('mark_'));
  globalThis['mark_' + input.owner + '_' + input.n] = input.secret;
  const mine = 'polluted_' + input.owner + '_' + input.n;
  const others = Object.keys(Object.prototype);
  Object.prototype[mine] = input.secret;
  return {seen, others};
}
"""


class IsolationTest(unittest.TestCase):
    def interleave(self, mode):
        with Daemon("--isolation=" + mode) as d:
            toks = {"ann": d.token("ann"), "ben": d.token("ben")}
            pids_by_owner = {"ann": set(), "ben": set()}
            for n in range(6):
                for owner in ("ann", "ben"):
                    st, job, _ = d.execute(toks[owner], PROBE,
                                           input={"owner": owner, "n": n, "secret": owner * 3})
                    self.assertEqual(st, 200, job)
                    self.assertEqual(job["status"], "completed", job)
                    self.assertEqual(job["output"]["seen"], [], job)
                    self.assertEqual(job["output"]["others"], [], job)
            return d

    def test_tenant_mode_interleaved(self):
        self.interleave("tenant")

    def test_job_mode_interleaved(self):
        self.interleave("job")

    def test_running_cap_and_queue_cap(self):
        with Daemon("--max-running-per-user", "2", "--max-queued-per-user", "2") as d:
            tok = d.token("busy")
            results = []

            def hog():
                results.append(d.execute(tok, "function main(){ for(;;){} }", timeout=4)[0])

            threads = [threading.Thread(target=hog) for _ in range(2)]
            for t in threads:
                t.start()
            deadline = time.time() + 10
            while d.request("GET", "/info")[1]["stats"]["jobs_running"] < 2:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            st, body, headers = d.execute(tok, "function main(){ return 1; }")
            self.assertEqual(st, 429)
            self.assertEqual(body["error"]["code"], "too_many_requests")
            self.assertEqual(headers.get("Retry-After"), "1")
            # another user is not affected
            other = d.token("free")
            self.assertEqual(d.execute(other, "function main(){ return 1; }")[0], 200)
            # async jobs queue instead, up to the queue cap
            q = [d.execute(tok, "function main(){ return {q: 1}; }", **{"async": True})
                 for _ in range(3)]
            self.assertEqual([s for s, _, _ in q], [202, 202, 429])
            for t in threads:
                t.join()
            self.assertEqual(results, [200, 200])
            for s, ans, _ in q[:2]:
                self.assertEqual(d.wait_job(tok, ans["job_id"])["output"], {"q": 1})


if __name__ == "__main__":
    main()
