#!/usr/bin/env python3
"""Static checks of the local stack's files, for a machine without a Docker engine or collector.

    python3 deploy/check.py

- every YAML file under deploy/ and otel/ parses;
- compose.yaml: every bind-mount source exists; Grafana's provisioning mount holds datasources/ and
  dashboards/ files; each dashboard provider's path is a mounted folder with *.json in it; the
  home-dashboard path resolves through the mounts; Prometheus runs with exemplar storage;
- Grafana datasources: every exemplar trace-ID destination and cross-link names a provisioned
  datasource uid; datasource URLs point at compose services and their ports;
- prometheus.yml: every scrape target is a compose service on a port it listens on (Meridian's
  --admin port, the collector's prometheus exporter port, ...);
- otel/collector.yaml: every component named in service.pipelines / service.extensions is defined,
  connectors are an exporter in one pipeline and a receiver in another, memory_limiter comes
  first; the otlp/tempo endpoint matches Tempo's OTLP receiver; Meridian's
  OTEL_EXPORTER_OTLP_ENDPOINT matches the collector's OTLP/HTTP port;
- when available: promtool check config (Debian's promtool 2.42 predates scrape_protocols, so
  that key is dropped for it) and check-jsonschema's compose-spec schema.
Exit 1 on any problem. Needs PyYAML.
"""
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
problems, notes = [], []


def problem(msg):
    problems.append(msg)


def load(path):
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        problem(f"{path.relative_to(ROOT)}: {e}")
        return None


def hostport(text):
    """'http://tempo:3200/x' or 'tempo:4317' or '0.0.0.0:8889' -> (host, port)."""
    m = re.match(r"^(?:\w+://)?\[?([^\]/:]*)\]?:(\d+)", text)
    return (m.group(1), int(m.group(2))) if m else (None, None)


def mounts(service):
    """[(source Path or volume name, target, is_bind)] for a compose service."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            src, dst = v.get("source"), v.get("target")
        else:
            parts = v.split(":")
            src, dst = parts[0], parts[1]
        bind = src.startswith((".", "/"))
        out.append(((DEPLOY / src).resolve() if bind else src, dst, bind))
    return out


def resolve_in_container(service, path):
    """The host path behind a container path, through the service's bind mounts."""
    best = None
    for src, dst, bind in mounts(service):
        if bind and (path == dst or path.startswith(dst.rstrip("/") + "/")):
            if best is None or len(dst) > len(best[1]):
                best = (src, dst)
    if not best:
        return None
    rest = path[len(best[1]):].lstrip("/")
    return best[0] / rest if rest else best[0]


def listening_ports(name, svc, collector, tempo):
    """Ports a compose service listens on inside the network, as far as these files say."""
    ports = set()
    for p in svc.get("ports") or []:
        ports.add(int(str(p).split(":")[-1].split("/")[0]))
    for arg in svc.get("command") or []:
        for flag in ("--admin", "--listen"):
            if isinstance(arg, str) and arg.startswith(flag + "="):
                ports.add(hostport(arg.split("=", 1)[1])[1])
    cmd = svc.get("command") or []
    for flag in ("--admin", "--listen"):
        if flag in cmd:
            ports.add(hostport(cmd[cmd.index(flag) + 1])[1])
    if name == "otel-collector" and collector:
        for section in ("receivers", "exporters", "extensions"):
            for comp in (collector.get(section) or {}).values():
                for ep in _endpoints(comp):
                    ports.add(hostport(ep)[1])
    if name == "tempo" and tempo:
        ports.add(tempo.get("server", {}).get("http_listen_port", 3200))
        for ep in _endpoints(tempo.get("distributor", {})):
            ports.add(hostport(ep)[1])
    if name == "prometheus":
        ports.add(9090)
    ports.discard(None)
    return ports


def _endpoints(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "endpoint" and isinstance(v, str):
                yield v
            else:
                yield from _endpoints(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _endpoints(v)


def check_collector(col):
    svc = col.get("service") or {}
    for ext in svc.get("extensions") or []:
        if ext not in (col.get("extensions") or {}):
            problem(f"collector: extension {ext} used but not defined")
    pipelines = svc.get("pipelines") or {}
    if not pipelines:
        problem("collector: no service.pipelines")
    connectors = col.get("connectors") or {}
    used_as = {c: {"exporter": [], "receiver": []} for c in connectors}
    used = set()
    for pname, p in pipelines.items():
        ptype = pname.split("/")[0]
        if ptype not in ("traces", "metrics", "logs"):
            problem(f"collector: pipeline {pname}: type must be traces, metrics or logs")
        for kind, section in (("receivers", "receivers"), ("processors", "processors"),
                              ("exporters", "exporters")):
            for comp in p.get(kind) or []:
                used.add((section, comp))
                if comp in connectors and kind in ("receivers", "exporters"):
                    used_as[comp][kind[:-1]].append(ptype)
                    continue
                if comp not in (col.get(section) or {}):
                    problem(f"collector: pipeline {pname}: {kind[:-1]} {comp} is not defined "
                            f"under {section}:")
        procs = p.get("processors") or []
        if procs and procs[0] != "memory_limiter" and "memory_limiter" in procs:
            problem(f"collector: pipeline {pname}: memory_limiter must be the first processor")
        if not p.get("receivers") or not p.get("exporters"):
            problem(f"collector: pipeline {pname}: needs receivers and exporters")
    for c, u in used_as.items():
        if not u["exporter"] or not u["receiver"]:
            problem(f"collector: connector {c} must be an exporter in one pipeline and a receiver"
                    f" in another (exporter in {u['exporter']}, receiver in {u['receiver']})")
        if c.split("/")[0] == "spanmetrics" and (set(u["exporter"]) - {"traces"}
                                                  or set(u["receiver"]) - {"metrics"}):
            problem(f"collector: connector {c} goes from traces pipelines to metrics pipelines")
    for section in ("receivers", "processors", "exporters"):
        for comp in col.get(section) or {}:
            if (section, comp) not in used:
                notes.append(f"collector: {section[:-1]} {comp} is defined but unused")
    return pipelines


# Meridian's lifecycle defaults (README "lifecycle"; compose runs without a config file) and the span export deadline
# of MeridianApplication.shutdown.
DRAIN_DELAY, SHUTDOWN_TIMEOUT, SPAN_EXPORT = 5, 30, 5


def check_haproxy(services):
    """haproxy.cfg: mounted into the haproxy service; every server is a Meridian service on its listen port, checked
    on /readyz at the admin port; inter x fall below the drain delay; `haproxy -c` when installed."""
    svc = services.get("haproxy") or {}
    src = resolve_in_container(svc, "/usr/local/etc/haproxy/haproxy.cfg")
    if not src or src.resolve() != (DEPLOY / "haproxy.cfg").resolve():
        problem("compose: haproxy: /usr/local/etc/haproxy/haproxy.cfg is not mounted from ./haproxy.cfg")
        return
    text = (DEPLOY / "haproxy.cfg").read_text()
    lines = [l.split("#", 1)[0].split() for l in text.splitlines()]
    servers = [l for l in lines if l[:1] == ["server"]]
    defaults = next((l for l in lines if l[:1] == ["default-server"]), [])
    names = sorted(n for n in services if n.startswith("meridian-"))
    if sorted(l[1] for l in servers) != names:
        problem(f"haproxy.cfg: servers {[l[1] for l in servers]} are not the Meridian services {names}")
    for l in servers:
        host, port = hostport(l[2])
        if host != l[1] or port != 8080:
            problem(f"haproxy.cfg: server {l[1]} points at {l[2]}, not {l[1]}:8080 (the --listen port)")
    def opt(name):
        return defaults[defaults.index(name) + 1] if name in defaults else None
    if opt("port") != "9901" or "check" not in defaults:
        problem("haproxy.cfg: default-server must check the admin port 9901")
    if not re.search(r"option httpchk GET /readyz", text) or not re.search(r"http-check expect status 200", text):
        problem("haproxy.cfg: the health check must be GET /readyz expecting 200")
    inter, fall = opt("inter") or "2s", int(opt("fall") or 3)
    seconds = float(inter[:-2]) / 1000 if inter.endswith("ms") else float(inter.rstrip("s"))
    if seconds * fall >= DRAIN_DELAY:
        problem(f"haproxy.cfg: inter {inter} x fall {fall} = {seconds * fall:g}s is not below drain_delay {DRAIN_DELAY}s: "
                f"a draining instance would still get new connections when it closes its listeners")
    if shutil.which("haproxy"):
        run = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True)
        if run.returncode != 0:
            problem(f"haproxy -c: {(run.stdout + run.stderr).strip()[-500:]}")
        else:
            notes.append("haproxy -c: valid")


def main():
    for f in sorted(list(DEPLOY.rglob("*.y*ml")) + list((ROOT / "otel").rglob("*.y*ml"))):
        load(f)
    compose = load(DEPLOY / "compose.yaml") or {}
    collector = load(ROOT / "otel" / "collector.yaml") or {}
    tempo = load(DEPLOY / "tempo.yaml") or {}
    prom = load(DEPLOY / "prometheus.yml") or {}
    services = compose.get("services") or {}

    for want in ("meridian-1", "meridian-2", "meridian-3", "haproxy", "redis", "otel-collector", "tempo",
                 "prometheus", "grafana"):
        if want not in services:
            problem(f"compose: no service {want}")
    for name, svc in services.items():
        for src, dst, bind in mounts(svc):
            if bind and not src.exists():
                problem(f"compose: {name}: mount source {src} (-> {dst}) does not exist")
            if not bind and src not in (compose.get("volumes") or {}):
                problem(f"compose: {name}: named volume {src} not declared under volumes:")
        for dep in svc.get("depends_on") or []:
            if dep not in services:
                problem(f"compose: {name} depends on unknown service {dep}")

    # Meridian instances.
    pipelines = check_collector(collector)
    otlp_http_port = hostport(((collector.get("receivers") or {}).get("otlp", {})
                               .get("protocols", {}).get("http") or {}).get("endpoint", ""))[1]
    for name in ("meridian-1", "meridian-2", "meridian-3"):
        svc = services.get(name) or {}
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        redis_host, redis_port = hostport(env.get("MERIDIAN_REDIS_URL", "").split("://", 1)[-1].split("/", 1)[0])
        if redis_host != "redis" or redis_port != 6379:
            problem(f"compose: {name}: MERIDIAN_REDIS_URL={env.get('MERIDIAN_REDIS_URL')!r} is not the redis service")
        grace = str(svc.get("stop_grace_period", "10s"))
        if not grace.endswith("s") or int(grace[:-1]) <= DRAIN_DELAY + SHUTDOWN_TIMEOUT + SPAN_EXPORT:
            problem(f"compose: {name}: stop_grace_period {grace} is not above drain_delay {DRAIN_DELAY}s + "
                    f"shutdown_timeout {SHUTDOWN_TIMEOUT}s + span export {SPAN_EXPORT}s")
        cmd = svc.get("command") or []
        admin = cmd[cmd.index("--admin") + 1] if "--admin" in cmd else ""
        if not admin.startswith("0.0.0.0:"):
            problem(f"compose: {name}: --admin must bind 0.0.0.0 (got {admin!r})")
        ep = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        host, port = hostport(ep)
        if host != "otel-collector" or port != otlp_http_port:
            problem(f"compose: {name}: OTEL_EXPORTER_OTLP_ENDPOINT={ep!r} is not the collector's "
                    f"OTLP/HTTP receiver (otel-collector:{otlp_http_port})")
        if env.get("OTEL_SERVICE_NAME") != "meridian":
            problem(f"compose: {name}: OTEL_SERVICE_NAME is not meridian")

    check_haproxy(services)

    # Collector mount and Tempo endpoint.
    col_svc = services.get("otel-collector") or {}
    cfg_arg = next((a.split("=", 1)[1] for a in col_svc.get("command") or []
                    if str(a).startswith("--config=")), "/etc/otelcol-contrib/config.yaml")
    src = resolve_in_container(col_svc, cfg_arg)
    if not src or src.resolve() != (ROOT / "otel" / "collector.yaml").resolve():
        problem(f"compose: otel-collector: {cfg_arg} is not mounted from ../otel/collector.yaml")
    tempo_ep = ((collector.get("exporters") or {}).get("otlp/tempo") or {}).get("endpoint", "")
    th, tp = hostport(tempo_ep)
    tempo_grpc = hostport(tempo.get("distributor", {}).get("receivers", {}).get("otlp", {})
                          .get("protocols", {}).get("grpc", {}).get("endpoint", ""))[1]
    if th != "tempo" or tp != tempo_grpc:
        problem(f"collector: otlp/tempo endpoint {tempo_ep!r} is not Tempo's OTLP gRPC receiver "
                f"(tempo:{tempo_grpc})")

    # Prometheus.
    psvc = services.get("prometheus") or {}
    pcmd = psvc.get("command") or []
    if "--enable-feature=exemplar-storage" not in pcmd:
        problem("compose: prometheus: --enable-feature=exemplar-storage missing")
    pcfg = next((a.split("=", 1)[1] for a in pcmd if str(a).startswith("--config.file=")), None)
    src = resolve_in_container(psvc, pcfg or "")
    if not src or src.resolve() != (DEPLOY / "prometheus.yml").resolve():
        problem(f"compose: prometheus: {pcfg} is not mounted from ./prometheus.yml")
    exporters = collector.get("exporters") or {}
    if "prometheusremotewrite" in str([pipelines[p].get("exporters") for p in pipelines]) and \
            "--web.enable-remote-write-receiver" not in pcmd:
        problem("compose: prometheus: collector remote-writes but the receiver is not enabled")
    scraped = set()
    for job in prom.get("scrape_configs") or []:
        for sc in job.get("static_configs") or []:
            for t in sc.get("targets") or []:
                host, port = hostport(t)
                scraped.add((host, port))
                if host == "localhost":
                    continue
                if host not in services:
                    problem(f"prometheus.yml: job {job['job_name']}: {t}: no such service")
                elif port not in listening_ports(host, services[host], collector, tempo):
                    problem(f"prometheus.yml: job {job['job_name']}: {t}: {host} does not listen"
                            f" on {port}")
    for name in ("meridian-1", "meridian-2"):
        if not any(h == name for h, _ in scraped):
            problem(f"prometheus.yml: {name} is not scraped")
    if "prometheus" in exporters:
        port = hostport(exporters["prometheus"].get("endpoint", ""))[1]
        if ("otel-collector", port) not in scraped:
            problem(f"prometheus.yml: collector's prometheus exporter :{port} is not scraped")

    # Grafana provisioning.
    gsvc = services.get("grafana") or {}
    prov = resolve_in_container(gsvc, "/etc/grafana/provisioning")
    if not prov or not prov.is_dir():
        problem("compose: grafana: nothing mounted at /etc/grafana/provisioning")
    else:
        ds_files = sorted((prov / "datasources").glob("*.y*ml"))
        db_files = sorted((prov / "dashboards").glob("*.y*ml"))
        if not ds_files:
            problem(f"grafana: no datasource files in {prov / 'datasources'}")
        if not db_files:
            problem(f"grafana: no dashboard provider files in {prov / 'dashboards'}")
        datasources = [d for f in ds_files for d in (load(f) or {}).get("datasources") or []]
        uids = {d.get("uid") for d in datasources}
        if sum(1 for d in datasources if d.get("isDefault")) != 1:
            problem("grafana: want exactly one default datasource")
        for d in datasources:
            jd = d.get("jsonData") or {}
            links = [x.get("datasourceUid") for x in jd.get("exemplarTraceIdDestinations") or []]
            for key in ("serviceMap", "tracesToMetrics", "tracesToLogsV2", "lokiSearch"):
                if isinstance(jd.get(key), dict) and jd[key].get("datasourceUid"):
                    links.append(jd[key]["datasourceUid"])
            for uid in links:
                if uid not in uids:
                    problem(f"grafana: datasource {d.get('name')} links to unknown uid {uid}")
            host, port = hostport(d.get("url", ""))
            if host not in services:
                problem(f"grafana: datasource {d.get('name')} url {d.get('url')}: no such service")
            elif port not in listening_ports(host, services[host], collector, tempo):
                problem(f"grafana: datasource {d.get('name')} url {d.get('url')}: {host} does not"
                        f" listen on {port}")
        prom_ds = [d for d in datasources if d.get("type") == "prometheus"]
        if not any((d.get("jsonData") or {}).get("exemplarTraceIdDestinations") for d in prom_ds):
            problem("grafana: the Prometheus datasource has no exemplarTraceIdDestinations")
        tempo_uids = {d.get("uid") for d in datasources if d.get("type") == "tempo"}
        for d in prom_ds:
            for x in (d.get("jsonData") or {}).get("exemplarTraceIdDestinations") or []:
                if x.get("datasourceUid") not in tempo_uids:
                    problem("grafana: exemplar trace-id destination is not the Tempo datasource")
        for f in db_files:
            for p in (load(f) or {}).get("providers") or []:
                path = (p.get("options") or {}).get("path", "")
                host_dir = resolve_in_container(gsvc, path)
                if not host_dir or not host_dir.is_dir():
                    problem(f"grafana: provider {p.get('name')}: {path} is not a mounted folder")
                elif not list(host_dir.glob("*.json")):
                    problem(f"grafana: provider {p.get('name')}: no *.json in {host_dir}")
                else:
                    notes.append(f"grafana: provider {p.get('name')}: {path} -> "
                                 f"{host_dir.relative_to(ROOT)} "
                                 f"({len(list(host_dir.glob('*.json')))} dashboard(s))")
    env = gsvc.get("environment") or {}
    home = env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        hp = resolve_in_container(gsvc, home)
        if not hp or not hp.is_file():
            problem(f"grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} resolves to no file")

    # External validators, when present.
    if shutil.which("promtool"):
        out = subprocess.run(["promtool", "--version"], capture_output=True, text=True)
        m = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
        text = (DEPLOY / "prometheus.yml").read_text()
        label = "promtool"
        if m and (int(m.group(1)), int(m.group(2))) < (2, 49):
            text = "\n".join(l for l in text.splitlines() if "scrape_protocols:" not in l)
            label = f"promtool {m.group(1)}.{m.group(2)} (scrape_protocols dropped: needs 2.49+)"
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as tmp:
            tmp.write(text)
            tmp.flush()
            r = subprocess.run(["promtool", "check", "config", "--syntax-only", tmp.name],
                               capture_output=True, text=True)
        if r.returncode:
            problem(f"{label}: {r.stdout.strip()} {r.stderr.strip()}")
        else:
            notes.append(f"{label} check config: ok")
    cj = shutil.which("check-jsonschema")
    if cj:
        r = subprocess.run([cj, "--builtin-schema", "vendor.compose-spec",
                            str(DEPLOY / "compose.yaml")], capture_output=True, text=True)
        if r.returncode:
            problem(f"compose-spec schema: {r.stdout.strip()} {r.stderr.strip()}")
        else:
            notes.append("check-jsonschema vendor.compose-spec: ok")

    for n in notes:
        print(f"deploy-check: {n}")
    for p in problems:
        print(f"deploy-check: FAIL: {p}", file=sys.stderr)
    print(f"deploy-check: {'FAIL' if problems else 'ok'} ({len(problems)} problem(s))")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
