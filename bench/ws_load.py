"""WebSocket load generator for bench/websocket.sh: a raw RFC 6455 client on one epoll loop (no asyncio, no
`websockets`): a Python asyncio client spends most of its time in the event loop and the library's frame
machinery, and with 1,000 connections it, not the server, would be what is measured. Client frames are masked
(a fixed key; the server unmasks every byte either way); server frames are read unmasked, no extensions.

  fanout  SUBS subscribers to /ws/CHANNEL split evenly over the --servers (host:port each); subscriber 0 (on the
          first server) also publishes MESSAGES messages at RATE/s (0: as fast as a window of WINDOW messages in
          flight, counted by the publisher's own copies, allows). Each message carries its sequence number and
          its send time (CLOCK_MONOTONIC, ns); each delivery's latency is receive time - send time, read at the
          recv() that brought it, so time the client itself spent busy counts too.
  echo    CONNS connections, each on its own channel /ws/echo-PID-I, each sending a message and waiting for the
          copy the server sends back to its sender before sending the next, COUNT times (after WARMUP discarded).

Prints one line of key=value pairs (a leading space before each key). CPU: this process's (getrusage) and, for
every --pid NAME=PID, that process's utime+stime from /proc, as % of one core over the measured phase.
"""
import argparse
import base64
import os
import resource
import select
import socket
import sys
import time
from array import array

CLOCK = time.CLOCK_MONOTONIC
HZ = os.sysconf("SC_CLK_TCK")


def now_ns():
    return time.clock_gettime_ns(CLOCK)


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except OSError:
        return 0


class CPU:
    """CPU use of this process and of the --pid processes between start() and stop()."""

    def __init__(self, pids):
        self.pids = pids

    def start(self):
        self.t0 = now_ns()
        r = resource.getrusage(resource.RUSAGE_SELF)
        self.self0 = r.ru_utime + r.ru_stime
        self.p0 = {n: proc_ticks(p) for n, p in self.pids.items()}

    def stop(self):
        secs = (now_ns() - self.t0) / 1e9
        r = resource.getrusage(resource.RUSAGE_SELF)
        out = {"cpu_client": 100 * (r.ru_utime + r.ru_stime - self.self0) / secs}
        for n, p in self.pids.items():
            out[f"cpu_{n}"] = 100 * (proc_ticks(p) - self.p0[n]) / HZ / secs
        return out


MASK = b"\x5a\x13\xc7\x2e"


def client_frame(payload, opcode=1):
    """A masked, final client frame."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = (MASK * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big") if n else b""
    return head + MASK + masked


class Conn:
    __slots__ = ("sock", "fd", "buf", "server", "index", "count", "next", "gaps", "dups", "seen", "closed", "sent_at", "seq")

    def __init__(self, sock, server, index):
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b""
        self.server = server
        self.index = index
        self.count = 0  # distinct data messages received
        self.next = 0  # the sequence number expected next
        self.gaps = 0  # messages that did not come in order (one before them lost, late or reordered)
        self.dups = 0  # copies of a message already received
        self.seen = None  # fan-out: one byte per message, 1 once received
        self.closed = None  # the close frame's code, or "eof"
        self.sent_at = 0
        self.seq = 0


def open_conns(targets, timeout=20):
    """targets: [(host, port, path)]; opens them 100 at a time (handshake sent, then all answers read)."""
    conns = []
    for start in range(0, len(targets), 100):
        batch = []
        for i, (host, port, path) in enumerate(targets[start:start + 100], start):
            s = socket.create_connection((host, port), timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            batch.append(Conn(s, f"{host}:{port}", i))
        for c in batch:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.sock.recv(4096)
                if not chunk:
                    raise SystemExit(f"connection {c.index} to {c.server}: closed during the handshake after {data!r}")
                data += chunk
            head, rest = data.split(b"\r\n\r\n", 1)
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                raise SystemExit(f"connection {c.index} to {c.server}: handshake answered {head.decode(errors='replace')!r}")
            c.buf = rest
            c.sock.setblocking(False)
        conns.extend(batch)
    return conns


def frames(c, data):
    """Appends data to c's buffer; yields the payloads of complete data frames, answers pings, notes closes."""
    buf = c.buf + data if c.buf else data
    pos = 0
    end = len(buf)
    out = []
    while end - pos >= 2:
        b0 = buf[pos]
        n = buf[pos + 1] & 0x7F
        h = 2
        if n == 126:
            if end - pos < 4:
                break
            n = int.from_bytes(buf[pos + 2:pos + 4], "big")
            h = 4
        elif n == 127:
            if end - pos < 10:
                break
            n = int.from_bytes(buf[pos + 2:pos + 10], "big")
            h = 10
        if end - pos < h + n:
            break
        op = b0 & 0x0F
        payload = buf[pos + h:pos + h + n]
        pos += h + n
        if op == 1 or op == 2:
            out.append(payload)
        elif op == 9:
            c.sock.send(client_frame(payload, 0xA))
        elif op == 8:
            c.closed = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
    c.buf = buf[pos:] if pos < end else b""
    return out


def payload_for(seq, ts, size):
    p = b"%08d%020d" % (seq, ts)
    return p + b"x" * (size - len(p)) if size > len(p) else p


def percentile(sorted_values, q):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def fanout(a):
    servers = [tuple(s.rsplit(":", 1)) for s in a.servers]
    targets = [(servers[i % len(servers)][0], int(servers[i % len(servers)][1]), f"/ws/{a.channel}") for i in range(a.subscribers)]
    conns = open_conns(targets)
    time.sleep(a.settle)  # let every subscription register before the first publish
    pub = conns[0]
    for c in conns:
        c.seen = bytearray(a.messages)
    byfd = {c.fd: c for c in conns}
    ep = select.epoll()
    for c in conns:
        ep.register(c.fd, select.EPOLLIN)
    lats = {c.server: array("q") for c in conns}  # latencies of first copies, by server
    expected = a.messages * len(conns)
    received = 0
    sent = 0
    period = 1e9 / a.rate if a.rate > 0 else 0
    cpu = CPU(a.pid)
    cpu.start()
    t0 = now_ns()
    last_rx = t0
    deadline = None
    # 64 KiB reads: recv(256 KiB) mallocs (mmaps) that much per call, 17 us against 2 us a message on this VM.
    recv = socket.socket.recv
    while received < expected:
        now = now_ns()
        if sent < a.messages:
            if a.rate > 0:
                due = min(a.messages, int((now - t0) / period) + 1)
                while sent < due:
                    pub.sock.send(client_frame(payload_for(sent, now_ns(), a.size)))
                    sent += 1
                timeout = max(0.0, (t0 + sent * period - now_ns()) / 1e9)
            else:
                while sent < a.messages and sent - pub.count < a.window:
                    pub.sock.send(client_frame(payload_for(sent, now_ns(), a.size)))
                    sent += 1
                timeout = 0.05
            if sent == a.messages:
                deadline = now_ns() + int(a.drain * 1e9)
        else:
            if now > deadline:
                break
            timeout = 0.05
        for fd, _ in ep.poll(timeout):
            c = byfd[fd]
            try:
                data = recv(c.sock, 65536)
            except BlockingIOError:
                continue
            t = now_ns()
            if not data:
                c.closed = c.closed or "eof"
                ep.unregister(fd)
                continue
            seen = c.seen
            lat = lats[c.server]
            for p in frames(c, data):
                seq = int(p[:8])
                if seq >= a.messages or seen[seq]:
                    c.dups += 1  # Meridian's local fallback after a Redis timeout, say, and then Redis's copy
                    continue
                seen[seq] = 1
                lat.append(t - int(p[8:28]))
                if seq != c.next:
                    c.gaps += 1
                c.next = seq + 1
                c.count += 1
                received += 1
                last_rx = t
    usage = cpu.stop()
    elapsed = (last_rx - t0) / 1e9
    lat = sorted(x for v in lats.values() for x in v)
    split = []
    for server, v in lats.items():
        mine = [c for c in conns if c.server == server]
        v = sorted(v)
        split.append(f"{server}/{len(mine)}subs/{sum(c.count for c in mine)}msgs/{sum(c.dups for c in mine)}dups/"
                     f"p50={percentile(v, 0.5) / 1e6:.1f}ms/p99={percentile(v, 0.99) / 1e6:.1f}ms")
    closed = [c for c in conns if c.closed]
    res = {
        "subscribers": len(conns), "messages": a.messages, "sent": sent, "expected": expected, "received": received,
        "lost": expected - received, "duplicates": sum(c.dups for c in conns), "gaps": sum(c.gaps for c in conns),
        "closed": len(closed),
        "close_codes": ",".join(sorted({str(c.closed) for c in closed})) or "-",
        "elapsed_s": round(elapsed, 3), "deliveries_per_s": round(received / elapsed) if elapsed > 0 else 0,
        "publish_per_s": round(sent / elapsed, 1) if elapsed > 0 else 0,
        "p50_ms": round(percentile(lat, 0.50) / 1e6, 3), "p99_ms": round(percentile(lat, 0.99) / 1e6, 3),
        "max_ms": round(lat[-1] / 1e6, 3) if lat else 0,
        "split": ",".join(split),
    }
    res.update({k: round(v) for k, v in usage.items()})
    return res


def echo(a):
    host, port = a.server.rsplit(":", 1)
    tag = os.getpid()
    conns = open_conns([(host, int(port), f"/ws/echo-{tag}-{i}") for i in range(a.connections)])
    time.sleep(a.settle)
    byfd = {c.fd: c for c in conns}
    ep = select.epoll()
    for c in conns:
        ep.register(c.fd, select.EPOLLIN)
    rtts = array("q")
    total = a.count * len(conns)
    done = 0
    warm = a.warmup * len(conns)
    cpu = CPU(a.pid)
    t0 = None

    def send(c):
        c.sent_at = now_ns()
        c.sock.send(client_frame(payload_for(c.seq, c.sent_at, a.size)))

    if warm == 0:
        cpu.start()
        t0 = now_ns()
    for c in conns:
        send(c)
    deadline = now_ns() + int(a.timeout * 1e9)
    recv = socket.socket.recv
    while done < warm + total:
        events = ep.poll(1.0)
        t = now_ns()
        if t > deadline:
            break
        for fd, _ in events:
            c = byfd[fd]
            try:
                data = recv(c.sock, 65536)
            except BlockingIOError:
                continue
            t = now_ns()
            if not data:
                c.closed = c.closed or "eof"
                ep.unregister(fd)
                continue
            for p in frames(c, data):
                if int(p[:8]) != c.seq:
                    c.gaps += 1
                    continue
                done += 1
                if done > warm:
                    rtts.append(t - c.sent_at)
                elif done == warm:
                    cpu.start()
                    t0 = t
                c.seq += 1
                if c.seq < a.warmup + a.count:
                    send(c)
    if t0 is None:
        raise SystemExit(f"echo: no round trip finished the warm-up in {a.timeout}s ({done} done)")
    usage = cpu.stop()
    elapsed = (now_ns() - t0) / 1e9
    rtts = sorted(rtts)
    closed = [c for c in conns if c.closed]
    res = {
        "connections": len(conns), "round_trips": len(rtts), "expected": total, "elapsed_s": round(elapsed, 3),
        "rt_per_s": round(len(rtts) / elapsed) if elapsed > 0 else 0,
        "p50_ms": round(percentile(rtts, 0.50) / 1e6, 3), "p99_ms": round(percentile(rtts, 0.99) / 1e6, 3),
        "max_ms": round(rtts[-1] / 1e6, 3) if rtts else 0, "gaps": sum(c.gaps for c in conns),
        "closed": len(closed), "close_codes": ",".join(sorted({str(c.closed) for c in closed})) or "-",
    }
    res.update({k: round(v) for k, v in usage.items()})
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--servers", nargs="+", required=True)
    f.add_argument("--channel", default="bench")
    f.add_argument("--subscribers", type=int, default=1000)
    f.add_argument("--messages", type=int, default=2000)
    f.add_argument("--rate", type=float, default=200)
    f.add_argument("--window", type=int, default=20)
    f.add_argument("--drain", type=float, default=10, help="seconds to wait for deliveries after the last send")
    e = sub.add_parser("echo")
    e.add_argument("--server", required=True)
    e.add_argument("--connections", type=int, default=1)
    e.add_argument("--count", type=int, default=5000)
    e.add_argument("--warmup", type=int, default=200)
    e.add_argument("--timeout", type=float, default=60)
    for p in (f, e):
        p.add_argument("--size", type=int, default=64, help="message bytes (at least 28: sequence and timestamp)")
        p.add_argument("--settle", type=float, default=0.5, help="seconds between connecting and the first message")
        p.add_argument("--pid", action="append", default=[], metavar="NAME=PID")
    a = ap.parse_args()
    a.pid = dict(x.split("=", 1) for x in a.pid)
    res = fanout(a) if a.mode == "fanout" else echo(a)
    print("".join(f" {k}={v}" for k, v in res.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
