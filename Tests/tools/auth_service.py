#!/usr/bin/env python3
"""A forward-auth service for the tests (what Authelia or oauth2-proxy would be): prints "PORT n", then

  GET /verify   Authorization "Bearer good" -> 200 with X-User: alice, X-Tenant: acme
                Authorization "Bearer login" -> 302 to https://sso.example/login
                anything else -> 401 with WWW-Authenticate: Bearer realm="sso" and a body
  GET /count    how many /verify requests arrived
  GET /last     the headers of the last /verify request, as JSON
"""
import http.server, json, threading

lock = threading.Lock()
state = {"count": 0, "last": {}}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/count":
            with lock:
                return self.send(200, [], str(state["count"]).encode())
        if self.path == "/last":
            with lock:
                return self.send(200, [("Content-Type", "application/json")], json.dumps(state["last"]).encode())
        with lock:
            state["count"] += 1
            state["last"] = {k.lower(): v for k, v in self.headers.items()}
        auth = self.headers.get("Authorization", "")
        if auth == "Bearer good":
            return self.send(200, [("X-User", "alice"), ("X-Tenant", "acme"), ("X-Internal", "secret")])
        if auth == "Bearer login":
            return self.send(302, [("Location", "https://sso.example/login")])
        return self.send(401, [("WWW-Authenticate", 'Bearer realm="sso"'), ("Content-Type", "text/plain")], b"sso says no\n")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
