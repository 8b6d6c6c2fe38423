#!/usr/bin/env python3
"""A fake OpenTelemetry Collector: an OTLP/HTTP trace receiver for Meridian's tests.

Requires: opentelemetry-proto==1.45.2 (pulls in protobuf==7.36.2), Python 3.11.
    pip install opentelemetry-proto

The Swift tests start it as a subprocess, read the single line `PORT <n>` from
stdout, point Meridian's OTLP exporter at http://127.0.0.1:<n>/v1/traces, then
read the JSON-lines file given with --out (one object per received span) and
stop the receiver with SIGTERM.

    otlp_receiver.py --out spans.jsonl [--port N] [--status 503] [--delay SECONDS]

POST /v1/traces takes an ExportTraceServiceRequest as application/x-protobuf
(or OTLP/JSON as application/json), optionally Content-Encoding: gzip, and
answers 200 with an empty ExportTraceServiceResponse. Other paths get 404, an
undecodable body 400 (reason on stderr), another content type 415.
Unframed (Content-Length) and chunked request bodies are both accepted.
--status S answers every decodable export with HTTP S instead (its spans are
not written: the "collector" refused them); --delay sleeps before answering.
Each POST to /v1/traces logs one line `export spans=N status=S` to stderr
(S is the HTTP status answered, so 400/415 count as exports too).

Span line: {"trace_id": hex32, "span_id": hex16, "parent_span_id": hex16 or "",
"name", "kind": "SERVER"|"CLIENT"|"INTERNAL"|"PRODUCER"|"CONSUMER"|"UNSPECIFIED",
"start_ns", "end_ns", "status": "UNSET"|"OK"|"ERROR", "status_message",
"attributes": {k: v}, "resource": {k: v}, "scope", "trace_state", "flags",
"events": [{"name", "time_ns", "attributes"}]}
"""
import argparse
import base64
import gzip
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

args = None
out_lock = threading.Lock()


def any_value(v):
    """opentelemetry.proto.common.v1.AnyValue -> plain Python value."""
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind) if kind else None


def attributes(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def span_records(req):
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield {
                    "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(), "name": s.name,
                    "kind": Span.SpanKind.Name(s.kind).removeprefix("SPAN_KIND_"),
                    "start_ns": s.start_time_unix_nano, "end_ns": s.end_time_unix_nano,
                    "status": Status.StatusCode.Name(s.status.code).removeprefix("STATUS_CODE_"),
                    "status_message": s.status.message,
                    "attributes": attributes(s.attributes), "resource": resource,
                    "scope": ss.scope.name, "trace_state": s.trace_state, "flags": s.flags,
                    "events": [{"name": e.name, "time_ns": e.time_unix_nano,
                                "attributes": attributes(e.attributes)} for e in s.events],
                }


def parse_json_request(body):
    """OTLP/JSON spells trace/span ids as hex, protobuf's JSON mapping expects base64."""
    doc = json.loads(body)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if s.get(key):
                        s[key] = base64.b64encode(bytes.fromhex(s[key])).decode()
    return json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real collector

    def log_message(self, fmt, *a):  # silence the default per-request access log
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return body
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def reply(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.read_body()
        if self.path.split("?")[0] != "/v1/traces":
            return self.reply(404, b"not found\n")
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-protobuf", "application/json"):
            print(f"export rejected: content-type {ctype!r}", file=sys.stderr)
            print("export spans=0 status=415", file=sys.stderr, flush=True)
            return self.reply(415, b"unsupported content type\n")
        try:
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            if ctype == "application/json":
                req = parse_json_request(body)
            else:
                req = ExportTraceServiceRequest.FromString(body)
        except Exception as e:
            print(f"export rejected: undecodable body: {e!r}", file=sys.stderr)
            print("export spans=0 status=400", file=sys.stderr, flush=True)
            return self.reply(400, f"bad request: {e}\n".encode())
        spans = list(span_records(req))
        if args.delay:
            time.sleep(args.delay)
        print(f"export spans={len(spans)} status={args.status}", file=sys.stderr, flush=True)
        if args.status != 200:
            return self.reply(args.status, b"export refused by --status\n")
        with out_lock, open(args.out, "a") as f:
            f.writelines(json.dumps(s) + "\n" for s in spans)
        if ctype == "application/json":
            return self.reply(200, b"{}", "application/json")
        self.reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self):
        self.reply(404, b"not found\n")


def main():
    global args
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="JSON-lines file receiving one object per span")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--status", type=int, default=200, help="HTTP status for every export")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    args = ap.parse_args()
    open(args.out, "a").close()  # the file exists (maybe empty) as soon as PORT is printed
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)  # daemon handler threads
    server.block_on_close = False  # else server_close() waits for idle keep-alive connections
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # raises out of serve_forever
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
