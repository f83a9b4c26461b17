#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""server.py - the local HTTP server of bench/http/run.sh: answers every GET
with a 2-byte body, HTTP/1.1, one thread per connection, on 127.0.0.1 and a
free port, which it prints."""
import http.server
import socketserver
import sys


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 256


s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
sys.stdout.close()
s.serve_forever()
