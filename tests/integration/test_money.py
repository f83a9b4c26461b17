# SPDX-License-Identifier: MIT
"""test_money.py - budgets, prices, balances and the ledger against a real
sealrund (docs/accounts.md): every daily budget refuses a job before it
runs with BUDGET_EXHAUSTED naming the budget and its reset, per user and
per token; a priced job without the balance is INSUFFICIENT_BALANCE;
reserve, charge and refund for completed, failed and timed-out jobs, the
cost in the job object and its signed receipt; POST /estimate; admin
credit; the ledger recomputed after a mixed concurrent load of several
users equals every balance; and kill -9 of sealrund between reserve and
charge releases the reservation exactly once at the restart."""
import base64
import concurrent.futures
import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, cli, main, test_store_is_pg  # noqa: E402

PRICES = {"base_fee": 1000, "gas_per_million": {"js": 10, "wasm": 1}, "wall_ms": 2,
          "http_request": 500}
OK = "function main(){ return {n: 1}; }"
THROW = "function main(){ throw new Error('no'); }"
SPIN = "function main(){ for(;;){} }"
EMPTY_WASM = base64.b64encode(b"\0asm\1\0\0\0").decode()
GUEST = os.environ.get("SR_WASM_GUEST", "")


def write_json(v):
    fd, path = tempfile.mkstemp(prefix="sr-money-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(v, f)
    return path


def reserved_for(timeout_s, http=0):
    """The most a JS job may cost at PRICES (its gas is its timeout)."""
    gas = (timeout_s * 1000000 * PRICES["gas_per_million"]["js"] + 999999) // 1000000
    return PRICES["base_fee"] + gas + timeout_s * 1000 * PRICES["wall_ms"] + \
        http * PRICES["http_request"]


def admin_token(d):
    p = cli("token", "create", *d.where(), "--user", "ops", "--scopes", "admin,execute",
            check=True)
    return p.stdout.strip().splitlines()[-1]


def whole_ledger(d, token, user=None):
    rows, before = [], None
    while True:
        q = "?limit=7" + (f"&before={before}" if before else "") + (f"&user={user}" if user
                                                                    else "")
        st, acct, _ = d.request("GET", "/account" + q, token=token)
        assert st == 200, acct
        rows += acct["ledger"]
        if acct["next"] is None:
            return acct, rows
        before = acct["next"]


class PricedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prices = write_json(PRICES)
        cls.d = Daemon("--prices", cls.prices, "--max-running-per-user", "20").start()
        cls.admin = admin_token(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        os.unlink(cls.prices)

    def credit(self, user, amount, note=None):
        st, ans, _ = self.d.request("POST", "/account/credit",
                                    {"user": user, "amount": amount, "note": note},
                                    token=self.admin)
        self.assertEqual(st, 200, ans)
        return ans["balance"]

    def check_ledger(self, token, user=None):
        # a job's charge is written just after its end: wait until every
        # reservation has been settled (10 s at most), then check
        deadline = time.time() + 10
        while True:
            acct, rows = whole_ledger(self.d, token, user)
            kinds = [r["kind"] for r in rows]
            if kinds.count("charge") >= kinds.count("reservation") or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(sum(r["delta"] for r in rows), acct["balance"])
        running = 0
        for r in reversed(rows):  # oldest first: each row's balance is the running sum
            running += r["delta"]
            self.assertEqual(r["balance"], running, r)
        by_job = {}
        for r in rows:
            if r["job_id"]:
                by_job.setdefault(r["job_id"], {})[r["kind"]] = r["amount"]
        for job, kinds in by_job.items():
            if "charge" in kinds:  # settled: the reservation is charge + refund
                self.assertEqual(kinds["reservation"], kinds["charge"] + kinds.get("refund", 0),
                                 (job, kinds))
        return acct, rows

    def test_a_priced_job_needs_a_balance(self):
        t = self.d.token("poor")
        st, body, _ = self.d.execute(t, OK, timeout=2)
        self.assertEqual(st, 402, body)
        self.assertEqual(body["error"]["code"], "INSUFFICIENT_BALANCE")
        self.assertIn("insufficient balance: user 'poor' has 0 micro-units", body["error"]["message"])
        self.assertIn(f"may cost up to {reserved_for(2)}", body["error"]["message"])
        st, body, _ = self.d.execute(t, OK, timeout=2, **{"async": True})
        self.assertEqual(st, 402, body)
        st, acct, _ = self.d.request("GET", "/account", token=t)
        self.assertEqual((st, acct["balance"], acct["ledger"]), (200, 0, []))
        self.assertEqual(acct["prices"]["base_fee"], 1000)
        self.assertEqual(self.d.sql("SELECT count(*) FROM jobs WHERE owner = 'poor'"), [(0,)])

    def test_reserve_charge_refund_and_the_receipt(self):
        t = self.d.token("carol")
        self.assertEqual(self.credit("carol", 100000, "welcome"), 100000)
        st, job, _ = self.d.execute(t, OK, timeout=2)
        self.assertEqual(st, 200, job)
        cost = job["cost"]
        self.assertEqual(cost["reserved"], reserved_for(2))
        self.assertEqual(cost["charged"] + cost["refunded"], cost["reserved"])
        wall = job["receipt"]["duration_us"]
        self.assertGreaterEqual(cost["charged"], PRICES["base_fee"])
        self.assertLess(cost["charged"], cost["reserved"])
        self.assertEqual(job["receipt"]["cost"], cost)  # signed with the receipt
        self.assertGreater(wall, 0)
        st, again, _ = self.d.request("GET", "/jobs/" + job["job_id"], token=t)
        self.assertEqual(again["cost"], cost)
        # a failed job pays what it used (the base fee at least), a timeout the whole reservation
        st, failed, _ = self.d.execute(t, THROW, timeout=2)
        self.assertEqual(failed["error"]["code"], "EXECUTION_ERROR")
        self.assertGreaterEqual(failed["cost"]["charged"], PRICES["base_fee"])
        self.assertLess(failed["cost"]["charged"], failed["cost"]["reserved"])
        st, slow, _ = self.d.execute(t, SPIN, timeout=1)
        self.assertEqual(slow["error"]["code"], "TIMEOUT", slow)
        self.assertEqual(slow["cost"]["charged"], reserved_for(1))
        self.assertEqual(slow["cost"]["refunded"], 0)
        acct, rows = self.check_ledger(t)
        spent = cost["charged"] + failed["cost"]["charged"] + slow["cost"]["charged"]
        self.assertEqual(acct["balance"], 100000 - spent)
        kinds = [r["kind"] for r in reversed(rows)]
        self.assertEqual(kinds[0], "credit")
        self.assertEqual(rows[-1]["note"], "welcome")
        self.assertIn("ops", rows[-1]["actor"])
        self.assertEqual(kinds.count("reservation"), 3)
        self.assertEqual(kinds.count("charge"), 3)
        self.assertEqual(kinds.count("refund"), 2)  # the timeout kept everything

    def test_estimate_is_the_reservation(self):
        t = self.d.token("dave")
        st, est, _ = self.d.request("POST", "/estimate", {"script": OK, "timeout": 3},
                                    token=t)
        self.assertEqual(st, 200, est)
        self.assertEqual(est["max_cost"], reserved_for(3))
        self.assertEqual(est["max"], {"gas": 3000000, "wall_ms": 3000, "http_requests": 0})
        st, est, _ = self.d.request(
            "POST", "/estimate",
            {"script": OK, "timeout": 1, "http": {"allow": ["example.com"], "max_requests": 4}},
            token=t)
        self.assertEqual(est["max_cost"], reserved_for(1, http=4))
        st, est, _ = self.d.request("POST", "/estimate", {"runtime": "wasm", "module": EMPTY_WASM,
                                                      "gas_limit": 5000000, "timeout": 5},
                                    token=t)
        self.assertEqual((st, est["runtime"], est["max"]["gas"]), (200, "wasm", 5000000))
        self.assertEqual(est["max_cost"], PRICES["base_fee"] + 5 + 5000 * 2)
        st, body, _ = self.d.request("POST", "/estimate", {"script": OK, "nope": 1}, token=t)
        self.assertEqual(st, 400)
        self.assertIn("nope", body["error"]["message"])

    @unittest.skipUnless(os.path.exists(GUEST), "WASI guest not built")
    def test_dry_run_gives_the_exact_gas_and_stores_nothing(self):
        t = self.d.token("hank")
        self.credit("hank", 500000)
        with open(GUEST, "rb") as f:
            module = base64.b64encode(f.read()).decode()
        body = {"runtime": "wasm", "module": module, "args": ["echo"], "input": {"x": [1, 2, 3]},
                "timeout": 5}
        st, a, _ = self.d.request("POST", "/estimate", dict(body, dry_run=True), token=t)
        self.assertEqual(st, 200, a)
        self.assertEqual((a["dry_run"], a["status"]), (True, "completed"))
        st, b, _ = self.d.request("POST", "/estimate", dict(body, dry_run=True), token=t)
        self.assertEqual(a["gas_used"], b["gas_used"])  # fuel is exact
        self.assertGreater(a["gas_used"], 0)
        self.assertLessEqual(a["cost"], a["max_cost"])
        self.assertEqual(a["charged"], a["cost"])  # a dry run is work done: charged as a job
        st, jobs, _ = self.d.request("GET", "/jobs", token=t)
        self.assertEqual(jobs["jobs"], [])  # nothing stored
        st, job, _ = self.d.request("POST", "/execute", body, token=t)
        self.assertEqual((st, job["gas_used"]), (200, a["gas_used"]))
        self.check_ledger(t)
        st, body2, _ = self.d.request("POST", "/estimate", {"script": OK, "dry_run": True},
                                      token=t)
        self.assertEqual(st, 400)
        self.assertIn("WebAssembly", body2["error"]["message"])
        st, body2, _ = self.d.request("POST", "/estimate", dict(body, dry_run=1), token=t)
        self.assertEqual(st, 400)
        self.assertIn("'dry_run' must be true or false", body2["error"]["message"])
        st, body2, _ = self.d.request(
            "POST", "/estimate", dict(body, dry_run=True, http={"allow": ["example.com"]}),
            token=t)
        self.assertEqual(st, 400)
        self.assertIn("would really be sent", body2["error"]["message"])

    def test_credit_needs_admin_and_a_good_body(self):
        t = self.d.token("erin")
        st, body, _ = self.d.request("POST", "/account/credit", {"user": "erin", "amount": 5},
                                     token=t)
        self.assertEqual(st, 403)
        self.assertIn("'admin'", body["error"]["message"])
        for bad, want in [({"user": "erin"}, "'amount'"),
                          ({"user": "erin", "amount": 0}, "'amount'"),
                          ({"user": "erin", "amount": 1.5}, "'amount'"),
                          ({"user": "a b", "amount": 1}, "'user'"),
                          ({"user": "erin", "amount": 1, "x": 1}, "unknown field 'x'"),
                          ({"user": "erin", "amount": 1, "note": "n" * 201}, "'note'")]:
            st, body, _ = self.d.request("POST", "/account/credit", bad, token=self.admin)
            self.assertEqual(st, 400, (bad, body))
            self.assertIn(want, body["error"]["message"])
        st, body, _ = self.d.request("GET", "/account?user=erin", token=t)
        self.assertEqual(st, 200)  # one's own, named
        st, body, _ = self.d.request("GET", "/account?user=carol", token=t)
        self.assertEqual(st, 403)
        st, body, _ = self.d.request("GET", "/account?user=erin", token=self.admin)
        self.assertEqual((st, body["user"]), (200, "erin"))

    def test_cli_account_commands(self):
        self.d.token("fred")
        env = {"SEALRUN_SERVER": self.d.url, "SEALRUN_TOKEN": self.admin}
        p = cli("account", "credit", "fred", "2500", "--note", "from the cli", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2500", p.stdout)
        p = cli("account", "show", "--user", "fred", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("balance", p.stdout)
        self.assertIn("2500", p.stdout)
        p = cli("account", "ledger", "--user", "fred", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("credit", p.stdout)
        self.assertIn("from the cli", p.stdout)

    def test_ledger_recomputes_every_balance_after_a_mixed_concurrent_load(self):
        users = ["load1", "load2", "load3"]
        tokens = {u: self.d.token(u) for u in users}
        for u in users:
            self.credit(u, 200000)
        plan = []
        for u in users:
            plan += [(u, OK, 2, False), (u, THROW, 2, False), (u, SPIN, 1, False),
                     (u, OK, 1, True), (u, THROW, 1, True), (u, OK, 2, False),
                     (u, SPIN, 1, True), (u, OK, 1, False), (u, "cancel", 20, True),
                     (u, "cancel", 20, True)]

        def run(item):
            u, script, timeout_s, is_async = item
            body = {"timeout": timeout_s}
            if is_async:
                body["async"] = True
            st, job, _ = self.d.execute(tokens[u], SPIN if script == "cancel" else script,
                                        **body)
            self.assertIn(st, (200, 202), job)
            if script == "cancel":  # queued or running, whichever it is by now
                deadline = time.time() + 30
                while True:
                    st, ans, _ = self.d.request("POST", f"/jobs/{job['job_id']}/cancel",
                                                token=tokens[u])
                    if st != 429 or time.time() > deadline:
                        break
                    time.sleep(0.05)
                self.assertEqual(st, 200, ans)
            if is_async:
                job = self.d.wait_job(tokens[u], job["job_id"], timeout=120)
            if script == "cancel":
                self.assertEqual(job["error"]["code"], "CANCELLED", job)
            if script == SPIN:
                self.assertEqual(job["error"]["code"], "TIMEOUT", job)
            return u, job

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            done = list(pool.map(run, plan))
        for u in users:
            jobs = [j for who, j in done if who == u]
            charged = sum(j["cost"]["charged"] for j in jobs)
            acct, rows = self.check_ledger(tokens[u])
            self.assertEqual(acct["balance"], 200000 - charged, u)
            self.assertEqual(sum(1 for r in rows if r["kind"] == "reservation"), len(jobs))
            self.assertEqual(sum(1 for r in rows if r["kind"] == "charge"), len(jobs))
            # the two spinning jobs (and, on a loaded machine, maybe a 1 s job that
            # did not start in time): a timed-out job keeps its whole reservation
            timeouts = [j for j in jobs if j.get("error", {}).get("code") == "TIMEOUT"]
            self.assertGreaterEqual(len(timeouts), 2)
            for j in timeouts:
                self.assertEqual(j["cost"]["refunded"], 0)
        self.assertEqual(self.d.sql("SELECT count(*) FROM holds WHERE settled_at = 0 AND owner "
                                    "IN ('load1', 'load2', 'load3')"), [(0,)])
        # the store agrees with itself: balance = credits - what the holds kept
        for u in users:
            ((bal,),) = self.d.sql(f"SELECT balance FROM accounts WHERE owner = '{u}'")
            ((kept,),) = self.d.sql(f"SELECT sum(charged) FROM holds WHERE owner = '{u}'")
            ((deltas,),) = self.d.sql(f"SELECT sum(delta) FROM ledger WHERE owner = '{u}'")
            self.assertEqual((bal, deltas), (200000 - kept, bal))


class BudgetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.budgets = write_json({"users": {
            "b_jobs": {"user": {"jobs_per_day": 2}},
            "b_gas": {"user": {"gas_js_per_day": 1500000, "gas_wasm_per_day": 1000}},
            "b_wall": {"user": {"wall_s_per_day": 3}},
            "b_http": {"user": {"http_requests_per_day": 3}},
            "b_tok": {"token": {"jobs_per_day": 1}},
            "b_free": {"user": {"jobs_per_day": 0}},
        }})
        cls.d = Daemon("--budget-user", "jobs_per_day=1000", "--budgets", cls.budgets).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        os.unlink(cls.budgets)

    def refused(self, st, body, budget, who):
        self.assertEqual(st, 429, body)
        self.assertEqual(body["error"]["code"], "BUDGET_EXHAUSTED")
        msg = body["error"]["message"]
        self.assertIn(f"budget '{budget}' of {who} exhausted", msg)
        day = time.gmtime(time.time() + 86400)
        self.assertIn("resets at " + time.strftime("%Y-%m-%dT00:00:00", day), msg)

    def test_jobs_per_day(self):
        t = self.d.token("b_jobs")
        for _ in range(2):
            st, job, _ = self.d.execute(t, OK)
            self.assertEqual(st, 200, job)
            self.assertNotIn("cost", job)  # no price table: nothing charged
        st, body, hdrs = self.d.execute(t, OK)
        self.refused(st, body, "jobs_per_day", "user 'b_jobs'")
        self.assertGreater(int(hdrs["Retry-After"]), 0)
        self.assertLessEqual(int(hdrs["Retry-After"]), 86400)
        st, body, _ = self.d.execute(t, OK, **{"async": True})  # async is refused alike
        self.refused(st, body, "jobs_per_day", "user 'b_jobs'")
        st, acct, _ = self.d.request("GET", "/account", token=t)
        self.assertEqual(acct["budgets"]["user"]["jobs_per_day"], {"used": 2, "limit": 2})
        self.assertEqual(acct["budgets"]["user"]["wall_s_per_day"]["limit"], None)
        self.assertEqual(acct["balance"], 0)
        self.assertEqual(acct["prices"], None)

    def test_gas_per_runtime(self):
        t = self.d.token("b_gas")
        st, body, _ = self.d.execute(t, OK, timeout=2)  # may use 2 s of CPU: more than 1.5
        self.refused(st, body, "gas_js_per_day", "user 'b_gas'")
        st, job, _ = self.d.execute(t, OK, timeout=2, gas_limit=500000)
        self.assertEqual(st, 200, job)
        st, acct, _ = self.d.request("GET", "/account", token=t)
        used = acct["budgets"]["user"]["gas_js_per_day"]["used"]
        self.assertEqual(used, job["gas_used"])  # what it used, not what it held
        st, body, _ = self.d.request("POST", "/execute", {"runtime": "wasm", "module": EMPTY_WASM},
                                     token=t)
        self.refused(st, body, "gas_wasm_per_day", "user 'b_gas'")
        st, body, _ = self.d.request("POST", "/execute", {"runtime": "wasm", "module": EMPTY_WASM,
                                                                "gas_limit": 900},
                                     token=t)
        self.assertNotEqual(st, 429, body)

    def test_wall_seconds_per_day(self):
        t = self.d.token("b_wall")
        st, body, _ = self.d.execute(t, OK, timeout=5)
        self.refused(st, body, "wall_s_per_day", "user 'b_wall'")
        self.assertIn("this job may use 5 s, at most 3 s a day", body["error"]["message"])
        st, job, _ = self.d.execute(t, OK, timeout=2)
        self.assertEqual(st, 200, job)
        st, job, _ = self.d.execute(t, OK, timeout=2)  # the first used far less than 2 s
        self.assertEqual(st, 200, job)

    def test_http_requests_per_day(self):
        t = self.d.token("b_http")
        http = {"allow": ["example.com"], "max_requests": 4}
        st, body, _ = self.d.execute(t, OK, http=http)
        self.refused(st, body, "http_requests_per_day", "user 'b_http'")
        http["max_requests"] = 3
        st, job, _ = self.d.execute(t, OK, http=http)
        self.assertEqual(st, 200, job)
        st, acct, _ = self.d.request("GET", "/account", token=t)
        self.assertEqual(acct["budgets"]["user"]["http_requests_per_day"],
                         {"used": 0, "limit": 3})

    def test_token_budget(self):
        a = self.d.token("b_tok")
        b = self.d.token("b_tok")
        st, job, _ = self.d.execute(a, OK)
        self.assertEqual(st, 200, job)
        st, body, _ = self.d.execute(a, OK)
        self.assertEqual(st, 429)
        self.assertIn("budget 'jobs_per_day' of token '", body["error"]["message"])
        st, job, _ = self.d.execute(b, OK)  # another token of the same user
        self.assertEqual(st, 200, job)
        st, acct, _ = self.d.request("GET", "/account", token=b)
        self.assertEqual(acct["budgets"]["token"]["budgets"]["jobs_per_day"],
                         {"used": 1, "limit": 1})
        self.assertEqual(acct["budgets"]["user"]["jobs_per_day"], {"used": 2, "limit": 1000})

    def test_zero_is_no_limit_and_bad_files_stop_sealrund(self):
        t = self.d.token("b_free")
        st, acct, _ = self.d.request("GET", "/account", token=t)
        self.assertEqual(acct["budgets"]["user"]["jobs_per_day"]["limit"], None)
        bad = write_json({"users": {"x": {"user": {"jobs": 1}}}})
        try:
            for args, want in [(["--budgets", bad], "unknown budget 'jobs'"),
                               (["--prices", bad], "unknown field 'users'"),
                               (["--budget-user", "jobs_per_day=x"], "jobs_per_day"),
                               (["--prices", "/nonexistent"], "cannot open prices file")]:
                with self.assertRaises(AssertionError) as cm:
                    Daemon(*args).start()
                self.assertIn(want, str(cm.exception))
        finally:
            os.unlink(bad)


class StorageChargeTest(unittest.TestCase):
    def test_stored_bytes_are_charged_once_a_day(self):
        prices = write_json({"stored_byte_day": 3})
        d = Daemon("--prices", prices).start()
        d2 = None
        try:
            admin = admin_token(d)
            t = d.token("ivy")
            st, ans, _ = d.request("POST", "/account/credit", {"user": "ivy", "amount": 100000},
                                   token=admin)
            self.assertEqual(st, 200, ans)
            st, ans, _ = d.request("PUT", "/storage/ns/key1", raw=b"v" * 96, token=t,
                                   headers={"Content-Type": "application/octet-stream"})
            self.assertIn(st, (200, 201), ans)
            st, ns, _ = d.request("GET", "/storage", token=t)
            stored = ns["bytes"]
            self.assertGreater(stored, 96)
            d.stop()
            for _ in range(2):  # charged at the first start of the day, not again
                d2 = Daemon("--prices", prices, data_dir=d.data_dir, store=d.store).start()
                st, acct, _ = d2.request("GET", "/account", token=t)
                charges = [r for r in acct["ledger"] if r["actor"] == "storage"]
                self.assertEqual(len(charges), 1, acct["ledger"])
                self.assertEqual(charges[0]["kind"], "charge")
                self.assertEqual(charges[0]["amount"], stored * 3)
                self.assertIn(f"{stored} bytes at 3 per byte-day", charges[0]["note"])
                self.assertEqual(acct["balance"], 100000 - stored * 3)
                self.assertEqual(acct["prices"]["stored_byte_day"], 3)
                d2.cleanup()
                d2 = None
        finally:
            if d2:
                d2.cleanup()
            d.cleanup()
            os.unlink(prices)


class CrashTest(unittest.TestCase):
    def test_kill9_between_reserve_and_charge_releases_once(self):
        prices = write_json(PRICES)
        lease = ["--lease", "2"] if test_store_is_pg() else []
        d = Daemon("--prices", prices, "--test-pause-after-hold", "60000", *lease).start()
        d2 = None
        try:
            admin = admin_token(d)
            t = d.token("gina")
            st, ans, _ = d.request("POST", "/account/credit", {"user": "gina", "amount": 50000},
                                   token=admin)
            self.assertEqual(st, 200, ans)
            errors = []

            def stuck(body):
                try:
                    d.request("POST", "/execute", body, token=t, timeout=90)
                except Exception as e:  # noqa: BLE001 - the daemon dies under it
                    errors.append(e)

            for body in ({"script": OK, "timeout": 2},
                         {"script": OK, "timeout": 3, "async": True}):
                threading.Thread(target=stuck, args=(body,), daemon=True).start()
            deadline = time.time() + 30
            while time.time() < deadline:
                st, acct, _ = d.request("GET", "/account", token=t)
                if acct["balance"] == 50000 - reserved_for(2) - reserved_for(3):
                    break
                time.sleep(0.1)
            self.assertEqual(acct["balance"], 50000 - reserved_for(2) - reserved_for(3))
            d.kill9()
            if test_store_is_pg():
                time.sleep(4.5)  # two leases: a cluster daemon's holds are then dangling
            for _ in range(2):  # released at the first restart, untouched at the second
                d2 = Daemon("--prices", prices, *lease, data_dir=d.data_dir, store=d.store)
                d2.start()
                st, acct, _ = d2.request("GET", "/account", token=t)
                self.assertEqual((st, acct["balance"]), (200, 50000), acct)
                kinds = sorted(r["kind"] for r in acct["ledger"])
                self.assertEqual(kinds, ["charge", "charge", "credit", "refund", "refund",
                                         "reservation", "reservation"])
                self.assertEqual(sum(r["delta"] for r in acct["ledger"]), 50000)
                self.assertEqual(d2.sql("SELECT count(*) FROM holds WHERE settled_at = 0"),
                                 [(0,)])
                self.assertEqual(d2.sql("SELECT sum(charged) FROM holds"), [(0,)])
                d2.cleanup()
                d2 = None
        finally:
            if d2:
                d2.cleanup()
            d.cleanup()
            os.unlink(prices)


class JobControlMoneyTest(unittest.TestCase):
    """Cancel and queue expiry settle like every other end
    (docs/accounts.md#cancel): a queued job cancelled or expired gets its
    whole reservation back; a running job cancelled keeps what it used (on
    one daemon) or everything (a cluster ends it in the store, where what it
    used is not known), never more than it reserved."""

    def wait_status(self, d, token, job_id, want, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, job, _ = d.request("GET", "/jobs/" + job_id, token=token)
            self.assertEqual(st, 200, job)
            if job["status"] == want:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} is not {want} after {timeout}s: {job['status']}")

    def cancel(self, d, token, job_id):
        deadline = time.time() + 30
        while True:
            st, job, _ = d.request("POST", f"/jobs/{job_id}/cancel", token=token)
            if st != 429 or time.time() > deadline:  # 429: between the queue and its run
                self.assertEqual(st, 200, job)
                break
            time.sleep(0.05)
        if job["status"] != "failed":  # a cluster: the holder kills it a moment later
            job = d.wait_job(token, job_id, timeout=60)
        self.assertEqual(job["error"]["code"], "CANCELLED", job)
        return job

    def test_cancel_and_expiry_refund(self):
        prices = write_json(PRICES)
        d = Daemon("--prices", prices, "--max-running-per-user", "1", "--queue-max-age",
                   "4").start()
        try:
            admin = admin_token(d)
            t = d.token("kim")
            st, ans, _ = d.request("POST", "/account/credit", {"user": "kim", "amount": 200000},
                                   token=admin)
            self.assertEqual(st, 200, ans)
            st, running, _ = d.execute(t, SPIN, timeout=30, **{"async": True})
            self.assertEqual(st, 202, running)
            self.wait_status(d, t, running["job_id"], "running")
            st, queued, _ = d.execute(t, OK, timeout=2, **{"async": True})
            self.assertEqual(st, 202, queued)
            # queued: nothing ran, the whole reservation comes back
            q = self.cancel(d, t, queued["job_id"])
            self.assertEqual(q["cost"], {"reserved": reserved_for(2), "charged": 0,
                                         "refunded": reserved_for(2), "unit": "micro-units"})
            self.assertEqual(q["receipt"]["cost"], q["cost"])
            time.sleep(0.5)  # the running job uses some of its reservation
            r = self.cancel(d, t, running["job_id"])
            c = r["cost"]
            self.assertEqual(c["reserved"], reserved_for(30))
            self.assertEqual(c["charged"] + c["refunded"], c["reserved"])
            if test_store_is_pg():
                self.assertEqual(c["charged"], 0, c)
            else:  # what it used until it was killed: the base fee and a few seconds at most
                self.assertGreaterEqual(c["charged"], PRICES["base_fee"], c)
                self.assertLess(c["charged"], c["reserved"] // 2, c)
            self.assertEqual(r["receipt"]["cost"], c)

            # expiry: a job that waits past --queue-max-age gets everything back
            st, blocker, _ = d.execute(t, SPIN, timeout=8, **{"async": True})
            self.assertEqual(st, 202, blocker)
            self.wait_status(d, t, blocker["job_id"], "running")
            st, late, _ = d.execute(t, OK, timeout=3, **{"async": True})
            self.assertEqual(st, 202, late)
            e = d.wait_job(t, late["job_id"], timeout=60)
            self.assertEqual(e["error"]["code"], "EXPIRED", e)
            self.assertEqual((e["cost"]["charged"], e["cost"]["refunded"]),
                             (0, reserved_for(3)))
            b = d.wait_job(t, blocker["job_id"], timeout=60)
            self.assertEqual(b["error"]["code"], "TIMEOUT", b)
            self.assertEqual(b["cost"]["charged"], reserved_for(8))

            # the ledger adds up: every job reserved once and settled once (the
            # settle is written just after the job's end: wait for the last one)
            deadline = time.time() + 10
            while True:
                acct, rows = whole_ledger(d, t)
                if [x["kind"] for x in rows].count("charge") >= 4 or time.time() > deadline:
                    break
                time.sleep(0.1)
            spent = sum(j["cost"]["charged"] for j in (q, r, e, b))
            self.assertEqual(acct["balance"], 200000 - spent)
            self.assertEqual(sum(x["delta"] for x in rows), acct["balance"])
            kinds = [x["kind"] for x in rows]
            self.assertEqual((kinds.count("reservation"), kinds.count("charge")), (4, 4))
            self.assertEqual(d.sql("SELECT count(*) FROM holds WHERE settled_at = 0"), [(0,)])
        finally:
            d.cleanup()
            os.unlink(prices)


if __name__ == "__main__":
    main()
