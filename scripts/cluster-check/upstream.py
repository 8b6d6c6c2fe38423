"""An upstream service for scripts/cluster-check.sh: answers at once, over HTTP/1.1 keep-alive, and counts every
request it receives per path so the check can tell how many reached the origin.

  GET /api/...              200, Cache-Control: no-store (the plain proxied route)
  GET /cached/hot/...       200, Cache-Control: public, max-age=5, Surrogate-Key: hot cached
  GET /cached/...           200, Cache-Control: public, max-age=300, Surrogate-Key: <last segment> cached
  GET /healthz              200
  GET /__counts             {"name": ..., "counts": {path: n}, "total": n}  (not counted itself)

Every counted answer carries X-Origin: <name> and X-Origin-Seq: <n> (this process's running count), also in the
body, so a client can tell a cached copy from a fresh one.

Usage: upstream.py NAME PORT
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_path = {}
        self.total = 0

    def add(self, path):
        with self.lock:
            self.by_path[path] = self.by_path.get(path, 0) + 1
            self.total += 1
            return self.total

    def snapshot(self):
        with self.lock:
            return dict(self.by_path), self.total


NAME = sys.argv[1]
COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cluster-check-upstream"

    def log_message(self, *args):  # no line per request: it would cost CPU the instances need
        pass

    def answer(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/__counts":
            counts, total = COUNTS.snapshot()
            self.answer(200, json.dumps({"name": NAME, "counts": counts, "total": total}), [("Content-Type", "application/json")])
            return
        seq = COUNTS.add(path)
        common = [("X-Origin", NAME), ("X-Origin-Seq", str(seq)), ("Content-Type", "text/plain")]
        if path == "/healthz":
            self.answer(200, "ok\n", common)
        elif path.startswith("/cached/hot/"):
            self.answer(200, f"{NAME} seq={seq} {path}\n", common + [("Cache-Control", "public, max-age=5"), ("Surrogate-Key", "hot cached")])
        elif path.startswith("/cached/"):
            tag = path.rstrip("/").rsplit("/", 1)[-1]
            self.answer(200, f"{NAME} seq={seq} {path}\n", common + [("Cache-Control", "public, max-age=300"), ("Surrogate-Key", f"{tag} cached")])
        elif path.startswith("/api/"):
            self.answer(200, f"{NAME} seq={seq} {path}\n", common + [("Cache-Control", "no-store")])
        else:
            self.answer(404, "not found\n", common)

    do_HEAD = do_GET


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[2])), Handler)
    print(f"upstream {NAME} listening on 127.0.0.1:{sys.argv[2]}", flush=True)
    server.serve_forever()
