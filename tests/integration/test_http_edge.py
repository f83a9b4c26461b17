# SPDX-License-Identifier: MIT
"""test_http_edge.py - the HTTP edge under attack and at its strictest, with
raw sockets against the real sealrund on 127.0.0.0/8 (issue 9, items 5 and
15; docs/security-model.md, "The HTTP edge").

Slow clients (slowloris): header and body trickles are cut at their total
deadline while an authenticated client's jobs complete promptly, the daemon's
thread count and resident memory stay bounded (/proc/PID/status), one address
cannot hold more than its share of connections, and when every connection is
taken a newcomer replaces the oldest one that never authenticated.

Strict parsing (RFC 9112): a NUL or control byte in a header, ambiguous or
unknown framing, a NUL or stray byte in the path or query, duplicate
parameters and singleton fields, oversized lines and header blocks, other
HTTP versions, folded lines: each is refused with its status and the
connection closed; pipelined requests behind a refused one never run.
Failed authentication is limited per client address (from the socket, not
from any header), successes are not.

Client addresses other than 127.0.0.1 are other loopback addresses
(127.0.0.0/8 is all local on Linux), bound as the source of a socket.
"""
import http.client
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Daemon, main  # noqa: E402


def port_of(d):
    return int(d.url.rsplit(":", 1)[1])


def connect(d, source=None, timeout=10):
    src = (source, 0) if source else None
    return socket.create_connection(("127.0.0.1", port_of(d)), timeout=timeout,
                                    source_address=src)


def read_all(s, timeout=10):
    """Everything until the server closes (or the timeout, marked)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return out, True
            out += b
    except socket.timeout:
        return out, False
    except ConnectionResetError:
        return out, True


def parse(raw):
    """The answers in raw, in order: (status, headers, body bytes)."""
    answers = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = int(headers.get("content-length", "0"))
        answers.append((status, headers, rest[:n]))
        raw = rest[n:]
    return answers


def exchange(d, data, source=None, timeout=10):
    """Sends data on a new connection; returns (answers, closed_by_server)."""
    s = connect(d, source, timeout)
    try:
        s.sendall(data)
        raw, closed = read_all(s, timeout)
    finally:
        s.close()
    return parse(raw), closed


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return int(out["Threads"]), int(out["VmRSS"].split()[0])


def get(path, token=None, extra=b""):
    h = b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n"
    if token:
        h += b"Authorization: Bearer " + token.encode() + b"\r\n"
    return h + extra + b"\r\n"


class StrictParsingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.tok = cls.d.token("strict")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def refused(self, data, status, text, code=None):
        answers, closed = exchange(self.d, data)
        self.assertEqual(len(answers), 1, (data[:120], answers))
        st, headers, body = answers[0]
        self.assertEqual(st, status, (data[:120], body))
        err = json.loads(body)["error"]
        self.assertIn(text, err["message"])
        if code:
            self.assertEqual(err["code"], code)
        self.assertEqual(headers.get("connection"), "close")
        self.assertTrue(closed, "the connection stays open after a refused request")
        return err

    def ok(self, data, status=200):
        answers, _ = exchange(self.d, data)
        self.assertEqual([a[0] for a in answers], [status], (data[:120], answers))
        return json.loads(answers[0][2])

    def test_nul_in_authorization_does_not_truncate_the_token(self):
        tok = self.tok.encode()
        self.ok(get(b"/jobs", self.tok, b"Connection: close\r\n"))
        # As the only, the first and the last field, before CRLF or bare LF.
        for fields in (b"Authorization: Bearer " + tok + b"\x00junk\r\n",
                       b"Authorization: Bearer " + tok + b"\x00junk\r\nX-After: 1\r\n",
                       b"X-Before: 1\r\nAuthorization: Bearer " + tok + b"\x00\x00\r\n",
                       b"Authorization: Bearer " + tok + b"\x00junk\n"):
            self.refused(b"GET /jobs HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n", 400,
                         "NUL byte")
        self.refused(b"GET /health HTTP/1.1\r\nHost: t\x00evil\r\n\r\n", 400, "NUL byte")
        # A NUL in a field's name hides its ':' from libmicrohttpd, which
        # refuses the line itself.
        answers, closed = exchange(self.d, get(b"/jobs", self.tok, b"X-A\x00b: 1\r\n"))
        self.assertEqual((answers[0][0], closed), (400, True))

    def test_control_bytes_in_field_values(self):
        for c in (b"\x01", b"\x1b", b"\x7f", b"\r"):
            self.refused(get(b"/health", None, b"X-A: a" + c + b"b\r\n"), 400,
                         "control byte 0x%02x" % c[0])
        self.ok(get(b"/health", None, b"X-Tab: a\tb\r\nX-Text: caf\xc3\xa9\r\nConnection: "
                    b"close\r\n"))

    def test_framing_must_be_unambiguous(self):
        tok = self.tok.encode()
        post = (b"POST /execute HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + tok +
                b"\r\nContent-Type: application/json\r\n")
        body = b'{"script":"function main(){ return 1; }"}'
        n = str(len(body)).encode()
        self.refused(post + b"Content-Length: " + n + b"\r\nContent-Length: " + n + b"\r\n\r\n" +
                     body, 400, "'Content-Length' is given more than once")
        self.refused(post + b"Content-Length: 2\r\nContent-Length: " + n + b"\r\n\r\n" + body,
                     400, "'Content-Length' is given more than once")
        self.refused(post + b"Content-Length: " + n + b"\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     body, 400, "both Content-Length and Transfer-Encoding")
        self.refused(post + b"Transfer-Encoding: chunked\r\nContent-Length: " + n + b"\r\n\r\n" +
                     body, 400, "both Content-Length and Transfer-Encoding")
        # An unknown coding used to leave the request waiting for a close.
        t0 = time.time()
        self.refused(post + b"Transfer-Encoding: gzip\r\n\r\n", 400,
                     "Transfer-Encoding 'gzip' is not supported")
        self.assertLess(time.time() - t0, 5)
        self.refused(post + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 400, "not supported")
        self.refused(post + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                     400, "'Transfer-Encoding' is given more than once")
        self.refused(b"POST /execute HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                     "not allowed in an HTTP/1.0 request")
        # A Content-Length that is not a number: libmicrohttpd answers it
        # itself (an HTML body), before sealrun sees the request.
        for bad in (b"abc", b"-1", b"+5", b"5 5", b"0x10"):
            answers, closed = exchange(self.d, post + b"Content-Length: " + bad + b"\r\n\r\n")
            self.assertEqual(answers[0][0], 400, bad)
            self.assertTrue(closed)
        # The same job, framed once, runs; chunked too.
        job = self.ok(post + b"Content-Length: " + n + b"\r\nConnection: close\r\n\r\n" + body)
        self.assertEqual(job["output"], {"result": 1})
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        job = self.ok(post + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked)
        self.assertEqual(job["output"], {"result": 1})

    def test_path_nul_and_bytes_no_route_has(self):
        self.ok(get(b"/jobs", self.tok, b"Connection: close\r\n"))
        self.refused(get(b"/jobs%00/x", self.tok), 400, "'%00' (a NUL byte)")
        self.refused(get(b"/jobs/%00", self.tok), 400, "'%00' (a NUL byte)")
        self.refused(get(b"/jobs%zz", self.tok), 400, "malformed percent-escape")
        self.refused(get(b"/jobs%4", self.tok), 400, "malformed percent-escape")
        self.refused(get(b"/jobs/%ff%fe", self.tok), 400, "not valid UTF-8")
        self.refused(get(b"/jobs/\xc3\xa9", self.tok), 400, "byte 0xc3 at offset 6")
        self.refused(get(b"/jobs/a\"b", self.tok), 400, "byte 0x22")
        self.refused(get(b"/jobs\x01", self.tok), 400, "byte 0x01")
        self.refused(get(b"/jobs#frag", self.tok), 400, "byte 0x23")
        self.refused(get(b"*", None), 400, "origin form")
        self.refused(get(b"http://t/health", None), 400, "origin form")
        # A raw NUL inside the request line.
        self.refused(b"GET /jobs\x00/x HTTP/1.1\r\nHost: t\r\n\r\n", 400, "single spaces")
        self.refused(b"GE\x00T /health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "single spaces")
        # Escapes that decode to bytes a storage key may hold still route.
        answers, _ = exchange(self.d, get(b"/storage/default/a%2Fb%20c", self.tok,
                                          b"Connection: close\r\n"))
        self.assertEqual(answers[0][0], 404)
        self.assertIn("a/b c", json.loads(answers[0][2])["error"]["message"])

    def test_query_nul_and_duplicate_parameters(self):
        self.ok(get(b"/jobs?limit=1", self.tok, b"Connection: close\r\n"))
        self.refused(get(b"/jobs?limit=1&limit=100", self.tok), 400,
                     "'limit' is given more than once")
        self.refused(get(b"/jobs?before=a&limit=2&before=b", self.tok), 400,
                     "'before' is given more than once")
        self.refused(get(b"/jobs?limit=5%00", self.tok), 400, "'%00'")
        self.refused(get(b"/jobs?li%00mit=5", self.tok), 400, "'%00'")
        self.refused(get(b"/jobs?=5", self.tok), 400, "empty name")
        self.refused(get(b"/jobs?" + b"&".join(b"p%d=1" % i for i in range(33)), self.tok), 400,
                     "more than 32 parameters")
        # '+' is a space in a query, as before; a bare name has an empty value.
        answers, _ = exchange(self.d, get(b"/jobs?limit", self.tok, b"Connection: close\r\n"))
        self.assertEqual(answers[0][0], 400)

    def test_header_and_target_sizes(self):
        self.refused(get(b"/health", None, b"X-Big: " + b"a" * 9000 + b"\r\n"), 431,
                     "longer than 8192 bytes", "header_fields_too_large")
        many = b"".join(b"X-F%d: 1\r\n" % i for i in range(101))
        self.refused(get(b"/health", None, many), 431, "at most 100", "header_fields_too_large")
        self.refused(get(b"/health", None, b"".join(b"X-G%d: %s\r\n" % (i, b"b" * 7000)
                                                  for i in range(5))),
                     431, "at most 32768", "header_fields_too_large")
        self.refused(get(b"/jobs/" + b"a" * 8200, self.tok), 414, "at most 8192", "uri_too_long")
        self.ok(get(b"/health", None, b"".join(b"X-F%d: 1\r\n" % i for i in range(98)) +
                    b"Connection: close\r\n"))

    def test_request_line_and_version(self):
        for v in (b"HTTP/1.2", b"HTTP/1.9"):
            self.refused(b"GET /health " + v + b"\r\nHost: t\r\n\r\n", 505, "HTTP/1.1 or HTTP/1.0",
                         "http_version_not_supported")
        # libmicrohttpd itself refuses versions it cannot parse, and 2.0.
        for v, st in ((b"HTTP/1.10", 400), (b"HTTP/2.0", 505), (b"HTTP/x", 400)):
            answers, closed = exchange(self.d, b"GET /health " + v + b"\r\nHost: t\r\n\r\n")
            self.assertEqual((answers[0][0], closed), (st, True), v)
        self.refused(b"GET  /health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "single spaces")
        self.refused(b"GET /health  HTTP/1.1\r\nHost: t\r\n\r\n", 400, "byte 0x20")
        self.ok(b"GET /health HTTP/1.0\r\n\r\n")

    def test_field_syntax(self):
        self.refused(get(b"/health", None, b"Content-Length : 0\r\n"), 400, "is not a token")
        self.refused(get(b"/health", None, b"X-A: a\r\n folded\r\n"), 400, "folded")
        self.refused(get(b"/health", None, b"X(A): 1\r\n"), 400, "is not a token")
        self.refused(b"GET /health HTTP/1.1\r\n\r\n", 400, "must have a Host")
        self.refused(get(b"/health", None, b"Host: u\r\n"), 400, "'Host' is given more than once")
        self.refused(get(b"/jobs", self.tok, b"Authorization: Bearer x\r\n"), 400,
                     "'Authorization' is given more than once")
        self.refused(get(b"/health", None, b"Content-Type: a\r\ncontent-type: b\r\n"), 400,
                     "'Content-Type' is given more than once")

    def test_pipelined_requests_behind_a_refused_one_never_run(self):
        tok = self.tok.encode()
        body = b'{"script":"function main(){ return 7; }","async":true}'
        job = (b"POST /execute HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + tok +
               b"\r\nContent-Type: application/json\r\nContent-Length: " +
               str(len(body)).encode() + b"\r\n\r\n" + body)
        before = self.ok(get(b"/jobs?limit=100", self.tok, b"Connection: close\r\n"))
        # Two good ones in one write: both answered, in order.
        answers, _ = exchange(self.d, get(b"/health") + get(b"/jobs?limit=1", self.tok,
                                                           b"Connection: close\r\n"))
        self.assertEqual([a[0] for a in answers], [200, 200])
        self.assertIn("jobs", json.loads(answers[1][2]))
        # A smuggling attempt: a refused request, then a job in the same write.
        answers, closed = exchange(self.d, b"POST /execute HTTP/1.1\r\nHost: t\r\n"
                                   b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                   b"0\r\n\r\n" + job)
        self.assertEqual([a[0] for a in answers], [400])
        self.assertTrue(closed)
        answers, closed = exchange(self.d, get(b"/jobs%00") + job)
        self.assertEqual([a[0] for a in answers], [400])
        after = self.ok(get(b"/jobs?limit=100", self.tok, b"Connection: close\r\n"))
        self.assertEqual(len(after["jobs"]), len(before["jobs"]), "a pipelined job ran")

    def test_no_body_is_read_without_a_valid_token(self):
        """The answer comes right after the headers: the 1 MiB body is never
        sent, and nothing waits for it. The router still says what it would
        say without a token: 401 where one is needed, else 404 or 405."""
        for auth, method, path, status in (
                (b"", b"POST", b"/execute", 401),
                (b"Authorization: Bearer srt_not_a_token\r\n", b"POST", b"/execute", 401),
                (b"", b"POST", b"/nope", 404), (b"", b"POST", b"/attestation", 405),
                (b"Authorization: Basic eDp5\r\n", b"PUT", b"/secrets/K", 401)):
            s = connect(self.d)
            t0 = time.time()
            s.sendall(method + b" " + path + b" HTTP/1.1\r\nHost: t\r\n" + auth +
                      b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            raw, closed = read_all(s, 10)
            s.close()
            self.assertLess(time.time() - t0, 5)
            self.assertEqual(parse(raw)[0][0], status, path)
            self.assertTrue(closed)


    def test_expect_100_continue_only_with_a_valid_token(self):
        body = b'{"script":"function main(){ return 2; }"}'
        head = (b"POST /execute HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\n")
        s = connect(self.d)
        s.sendall(head + b"Authorization: Bearer srt_not_a_token\r\n\r\n")
        raw, closed = read_all(s, 10)
        s.close()
        self.assertTrue(raw.startswith(b"HTTP/1.1 401 "), raw[:40])
        s = connect(self.d)
        s.sendall(head + b"Authorization: Bearer " + self.tok.encode() + b"\r\n\r\n")
        s.settimeout(10)
        first = s.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue"), first)
        s.sendall(body)
        raw, closed = read_all(s, 30)
        s.close()
        answers = parse(raw)
        self.assertEqual(answers[0][0], 200)
        self.assertEqual(json.loads(answers[0][2])["output"], {"result": 2})


class AuthLimitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--auth-failures-per-minute", "20").start()
        cls.tok = cls.d.token("limited")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def call(self, source, token, extra=None, path="/jobs?limit=1"):
        c = http.client.HTTPConnection("127.0.0.1", port_of(self.d), timeout=30,
                                       source_address=(source, 0))
        headers = {"Authorization": "Bearer " + token}
        headers.update(extra or {})
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return r.status, body, r.getheader("Retry-After")

    def test_failed_authentication_is_limited_per_address(self):
        src = "127.0.3.1"
        for i in range(20):
            st, body, _ = self.call(src, "srt_wrong_%d" % i)
            self.assertEqual(st, 401, (i, body))
        st, body, retry = self.call(src, "srt_wrong_x")
        self.assertEqual(st, 429)
        self.assertEqual(body["error"]["code"], "too_many_requests")
        self.assertIn("too many failed authentications from this address", body["error"]["message"])
        self.assertGreaterEqual(int(retry), 1)
        # The address is limited whatever it sends, and a header cannot move it.
        self.assertEqual(self.call(src, self.tok)[0], 429)
        self.assertEqual(self.call(src, "srt_wrong_y", {"X-Forwarded-For": "10.9.9.9",
                                                        "X-Real-IP": "10.9.9.9"})[0], 429)
        # A body request from there is refused before its body, with 429.
        s = connect(self.d, src)
        s.sendall(b"POST /execute HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                  self.tok.encode() + b"\r\nContent-Length: 100000\r\n\r\n")
        raw, _ = read_all(s, 10)
        s.close()
        self.assertEqual(parse(raw)[0][0], 429)
        # Another address is not affected.
        self.assertEqual(self.call("127.0.3.2", "srt_wrong_z")[0], 401)
        self.assertEqual(self.call("127.0.3.2", self.tok)[0], 200)
        # After Retry-After seconds, one more attempt is allowed.
        time.sleep(int(retry) + 0.2)
        self.assertEqual(self.call(src, self.tok)[0], 200)
        self.assertEqual(self.call(src, "srt_wrong_w")[0], 401)
        self.assertEqual(self.call(src, "srt_wrong_v")[0], 429)

    def test_successful_requests_are_never_limited(self):
        src = "127.0.3.3"
        for i in range(60):
            st, body, _ = self.call(src, self.tok)
            self.assertEqual(st, 200, (i, body))
        # Requests without any token are not authentication failures.
        for i in range(30):
            c = http.client.HTTPConnection("127.0.0.1", port_of(self.d), timeout=30,
                                           source_address=("127.0.3.4", 0))
            c.request("GET", "/jobs")
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual(r.status, 401)


class Trickle:
    """n sockets from the given source addresses, each sending prefix and
    then one byte of filler every 'every' seconds, until the server closes
    it. Records when each one was closed and what it received."""

    def __init__(self, d, sources, n, prefix, every=0.5):
        self.socks = []
        for i in range(n):
            s = connect(d, sources[i % len(sources)])
            s.setblocking(False)
            self.socks.append(s)
        self.t0 = time.time()
        self.closed_at = [None] * n
        self.got = [b""] * n
        self.prefix, self.every = prefix, every
        self.stop = False
        for s in self.socks:
            s.send(prefix)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop and None in self.closed_at:
            for i, s in enumerate(self.socks):
                if self.closed_at[i] is not None:
                    continue
                try:
                    while True:
                        b = s.recv(65536)
                        if not b:
                            self.closed_at[i] = time.time() - self.t0
                            break
                        self.got[i] += b
                except BlockingIOError:
                    pass
                except OSError:
                    self.closed_at[i] = time.time() - self.t0
                    continue
                if self.closed_at[i] is None:
                    try:
                        s.send(b"a")
                    except OSError:
                        self.closed_at[i] = time.time() - self.t0
            time.sleep(self.every)

    def open_count(self):
        return sum(1 for c in self.closed_at if c is None)

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


class SlowClientTest(unittest.TestCase):
    HEADER_S = 3
    BODY_S = 3

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--header-timeout", str(cls.HEADER_S), "--body-timeout", str(cls.BODY_S),
                       "--max-connections-per-address", "64").start()
        cls.tok = cls.d.token("honest")
        cls.pid = cls.d.proc.pid
        # Warm up (job process, store, allocator) so that growth under the
        # attack is the attack's.
        for i in range(50):
            cls.d.execute(cls.tok, "function main(i){ return {i}; }", input=i)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def honest_jobs(self, until, out):
        """Sync jobs from 127.0.0.1, one after another, timing each."""
        i = 0
        while time.time() < until:
            t0 = time.time()
            st, job, _ = self.d.execute(self.tok, "function main(i){ return {i}; }", input=i)
            out.append((st, job.get("status"), time.time() - t0))
            i += 1

    def attack(self, prefix, deadline):
        """200 trickling sockets; what they cost alone after a second, then
        honest jobs beside them until they are cut."""
        sources = ["127.0.4.%d" % k for k in range(1, 5)]
        threads0, rss0 = proc_status(self.pid)
        tr = Trickle(self.d, sources, 200, prefix)
        jobs = []
        try:
            time.sleep(1.2)
            peak_threads, attack_rss = proc_status(self.pid)
            worker = threading.Thread(target=self.honest_jobs,
                                      args=(time.time() + deadline - 1.2, jobs))
            worker.start()
            end = time.time() + deadline + 4
            while time.time() < end and tr.open_count():
                peak_threads = max(peak_threads, proc_status(self.pid)[0])
                time.sleep(0.1)
            worker.join()
        finally:
            tr.close()
        return tr, jobs, threads0, peak_threads, rss0, attack_rss

    def check(self, tr, jobs, threads0, peak_threads, rss0, attack_rss, deadline):
        closed = [c for c in tr.closed_at if c is not None]
        print(f"\n  200 slow clients, deadline {deadline} s: closed after "
              f"{min(closed or [0]):.2f}..{max(closed or [0]):.2f} s ({len(closed)} of 200); "
              f"sealrund threads {threads0} -> peak {peak_threads}, VmRSS {rss0} -> "
              f"{attack_rss} kB with the sockets open; honest jobs {len(jobs)}, slowest "
              f"{max([j[2] for j in jobs] or [0]):.3f} s", file=sys.stderr)
        self.assertEqual(len(closed), 200, "trickling connections still open past the deadline")
        self.assertGreaterEqual(min(closed), deadline - 0.5, "cut before the deadline")
        self.assertLessEqual(max(closed), deadline + 3.5, "cut long after the deadline")
        # A slow client costs a socket, not a thread (the honest client's
        # jobs use a request thread or two), and a few KiB.
        self.assertLessEqual(peak_threads - threads0, 8, (threads0, peak_threads))
        self.assertLessEqual(attack_rss - rss0, 8 * 1024, (rss0, attack_rss))
        self.assertGreater(len(jobs), 3)
        for st, status, secs in jobs:
            self.assertEqual((st, status), (200, "completed"))
            self.assertLess(secs, 4, "an honest job waited behind the slow clients")

    def test_header_trickle_is_cut_at_the_header_deadline(self):
        r = self.attack(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ", self.HEADER_S)
        self.check(*r, self.HEADER_S)
        tr = r[0]
        timeouts = [parse(g) for g in tr.got if g]
        self.assertGreater(len(timeouts), 100)
        for answers in timeouts:
            self.assertEqual(answers[0][0], 408)
            err = json.loads(answers[0][2])["error"]
            self.assertEqual(err["code"], "request_timeout")
            self.assertIn("--header-timeout", err["message"])

    def test_body_trickle_is_cut_at_the_body_deadline(self):
        # Authenticated, so the body is read at all.
        prefix = (b"POST /execute HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                  self.tok.encode() + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{\"script\":\"")
        r = self.attack(prefix, self.BODY_S)
        self.check(*r, self.BODY_S)
        answers = [parse(g) for g in r[0].got if g]
        self.assertGreater(len(answers), 100)
        self.assertTrue(all(a[0][0] == 408 and b"--body-timeout" in a[0][2] for a in answers))

    def test_kept_alive_connection_is_closed_between_requests_without_an_answer(self):
        s = connect(self.d)
        s.sendall(get(b"/health"))
        t0 = time.time()
        raw, closed = read_all(s, self.HEADER_S + 5)
        s.close()
        self.assertEqual([a[0] for a in parse(raw)], [200])  # no 408 after it
        self.assertTrue(closed)
        self.assertGreater(time.time() - t0, self.HEADER_S - 0.5)

    def test_one_address_holds_at_most_its_share(self):
        socks = [connect(self.d, "127.0.5.1") for _ in range(80)]
        try:
            for s in socks:
                try:
                    s.send(b"GET /health HTTP/1.1\r\n")
                except OSError:
                    pass  # one of those refused at once
            time.sleep(1)
            open_now = 0
            for s in socks:
                s.setblocking(False)
                try:
                    open_now += 0 if s.recv(1) == b"" else 1
                except BlockingIOError:
                    open_now += 1
                except OSError:
                    pass
            self.assertEqual(open_now, 64)
            # Another address still gets in.
            self.assertEqual(exchange(self.d, get(b"/health", None, b"Connection: close\r\n"),
                                      "127.0.5.2")[0][0][0], 200)
        finally:
            for s in socks:
                s.close()


class FullTableTest(unittest.TestCase):
    """Every connection taken by clients that never authenticate: newcomers
    replace the oldest of them, never a connection that authenticated."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon("--max-connections", "64", "--max-connections-per-address", "16",
                       "--header-timeout", "60").start()
        cls.tok = cls.d.token("member")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_newcomers_replace_the_oldest_unauthenticated_connections(self):
        # An authenticated keep-alive connection, idle during the attack.
        member = http.client.HTTPConnection("127.0.0.1", port_of(self.d), timeout=30)
        member.request("GET", "/jobs?limit=1", headers={"Authorization": "Bearer " + self.tok})
        r = member.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        socks = []
        try:
            for a in range(1, 7):
                for _ in range(16):
                    s = connect(self.d, "127.0.6.%d" % a)
                    s.send(b"GET /health HTTP/1.1\r\nX-Slow: ")
                    socks.append(s)
                    time.sleep(0.005)
            time.sleep(1)
            for i in range(5):
                st, job, _ = self.d.execute(self.tok, "function main(){ return {ok: true}; }")
                self.assertEqual((st, job["status"]), (200, "completed"))
            time.sleep(0.5)
            open_now = 0
            oldest_open = False
            for i, s in enumerate(socks):
                s.setblocking(False)
                try:
                    alive = s.recv(1) != b""
                except BlockingIOError:
                    alive = True
                except OSError:
                    alive = False
                open_now += alive
                oldest_open |= alive and i < 16
            self.assertLessEqual(open_now, 64)
            self.assertFalse(oldest_open, "the oldest idle connections were not the ones replaced")
            member.request("GET", "/jobs?limit=1",
                           headers={"Authorization": "Bearer " + self.tok})
            r = member.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        finally:
            member.close()
            for s in socks:
                s.close()


class StopTest(unittest.TestCase):
    def test_a_request_running_at_sigterm_is_answered(self):
        import signal
        d = Daemon().start()
        try:
            tok = d.token("stopper")
            out = {}

            def job():
                try:
                    out["r"] = d.execute(tok, "function main(){ var t = Date.now(); "
                                              "while (Date.now() - t < 2000) {} return 5; }")
                except OSError as e:
                    out["r"] = e

            t = threading.Thread(target=job)
            t.start()
            time.sleep(0.7)
            d.proc.send_signal(signal.SIGTERM)
            t.join(60)
            self.assertIsInstance(out["r"], tuple, out["r"])
            st, body, _ = out["r"]
            self.assertEqual((st, body["output"]), (200, {"result": 5}))
            self.assertEqual(d.proc.wait(60), 0)
        finally:
            d.cleanup()


class OptionsTest(unittest.TestCase):
    def test_options_are_checked_and_documented(self):
        import subprocess
        from harness import ENV, SEALRUND
        helptext = subprocess.run([SEALRUND, "--help"], capture_output=True, text=True,
                                  env=ENV).stdout
        for opt in ("--max-connections N", "--max-connections-per-address N",
                    "--header-timeout S", "--body-timeout S", "--request-threads N",
                    "--auth-failures-per-minute N"):
            self.assertIn(opt, helptext)
        for args, text in ((["--header-timeout", "0"], "--header-timeout must be 1..3600, got 0"),
                           (["--body-timeout", "99999"], "--body-timeout must be 1..3600"),
                           (["--max-connections", "x"], "--max-connections"),
                           (["--max-connections-per-address=0"],
                            "--max-connections-per-address must be 1..16384"),
                           (["--request-threads", "-1"], "--request-threads"),
                           (["--auth-failures-per-minute", "0"], "--auth-failures-per-minute")):
            p = subprocess.run([SEALRUND, *args, "--listen", "127.0.0.1:0", "--dev",
                                "--data-dir", "/nonexistent/never-created"],
                               capture_output=True, text=True, env=ENV, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(text, p.stderr)


if __name__ == "__main__":
    main()
