#!/usr/bin/env python3
"""An OCSP responder for the tests: `openssl ocsp` answers every request (-reqin/-respout with -index, -CA,
-rsigner, -rkey, -nmin), behind an HTTP server on 127.0.0.1 only (`openssl ocsp -port` binds every interface).
Prints "PORT n" first. The index file is read per request, so a test may write it after the port is known.
Each request is appended to --log as one line (the HTTP method), so a test can count fetches. While the
--fail-if file exists it answers 503: a responder that is down, without the connect retries an absent one costs."""
import argparse
import http.server
import os
import subprocess
import sys
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--index", required=True)
parser.add_argument("--ca", required=True)
parser.add_argument("--rsigner", required=True)
parser.add_argument("--rkey", required=True)
parser.add_argument("--nmin", default="10")
parser.add_argument("--log")
parser.add_argument("--fail-if", help="while this file exists, answer 503 (a responder that is down)")
args = parser.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if args.log:
            with open(args.log, "a") as f:
                f.write("POST\n")
        if args.fail_if and os.path.exists(args.fail_if):
            self.send_response(503)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        with tempfile.TemporaryDirectory() as d:
            req, resp = os.path.join(d, "req.der"), os.path.join(d, "resp.der")
            with open(req, "wb") as f:
                f.write(body)
            run = subprocess.run(
                ["openssl", "ocsp", "-index", args.index, "-CA", args.ca, "-rsigner", args.rsigner, "-rkey", args.rkey,
                 "-nmin", args.nmin, "-reqin", req, "-respout", resp],
                capture_output=True)
            if run.returncode != 0 or not os.path.exists(resp):
                sys.stderr.write(run.stderr.decode(errors="replace"))
                self.send_response(500)
                self.end_headers()
                return
            with open(resp, "rb") as f:
                data = f.read()
        self.send_response(200)
        self.send_header("content-type", "application/ocsp-response")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
