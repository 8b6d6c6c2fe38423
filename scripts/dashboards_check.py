#!/usr/bin/env python3
"""Checks the Grafana dashboards in dashboards/ against a real Prometheus that scrapes Meridian.

Normally run through scripts/dashboards-check.sh, which starts a throwaway Prometheus scraping a
running Meridian and then calls this script. Standard library only.

  1. Lints every dashboards/*.json (schemaVersion, a `datasource` variable used by every panel and
     target, unique panel ids, sane gridPos, every range selector uses a Grafana interval variable)
     and, when dashboards/build.py exists, that the JSON is what it generates.
  2. Optionally waits until Prometheus holds --wait-samples samples of the scrape job.
  3. Resolves the template variables the way Grafana does (label_values() queries against
     Prometheus; "All" = allValue or the regex of every value), substitutes them and Grafana's
     built-ins ($__rate_interval, $__interval, $__range, ...), and runs every target's expr as an
     instant query (/api/v1/query). A query that errors or returns no series is a failure.
  4. Asks /api/v1/query_exemplars for the latency histogram (and for every target with
     "exemplar": true) and reports whether exemplars came through (a warning, never a failure).
  5. Prints a summary table. Exit 0 only when the lint passed and every query returned data.

Usage: dashboards_check.py --prometheus http://127.0.0.1:PORT [--dashboards DIR] [--job JOB]
                           [--wait-samples N] [--static-only]
"""
import argparse
import json
import math
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LATENCY_BUCKETS = "http_server_request_duration_seconds_bucket"
VAR_RE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)(?::(\w+))?\]\]|\$(\w+)")
RANGE_RE = re.compile(r"\[([^\]]*)\]")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(.*?)\s*,\s*)?(\w+)\s*\)\s*$", re.S)
PROM_REGEX_SPECIALS = set("\\^$.|?*+()[]{}")


class Prom:
    def __init__(self, base, timeout=15.0):
        self.base = base.rstrip("/")
        self.timeout = timeout

    def call(self, path, params):
        """Returns (data, None) or (None, error message)."""
        body = urllib.parse.urlencode(params, doseq=True).encode()
        req = urllib.request.Request(self.base + path, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.load(resp)
        except urllib.error.HTTPError as e:
            try:
                payload = json.load(e)
            except Exception:
                return None, f"HTTP {e.code} {e.reason}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            return None, f"request failed: {e}"
        if payload.get("status") != "success":
            return None, f"{payload.get('errorType', 'error')}: {payload.get('error', payload)}"
        return payload.get("data"), None

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=self.timeout) as resp:
                return json.load(resp).get("data")
        except Exception:
            return None


# ---------------------------------------------------------------------------------------------
# Dashboard walking and lint
# ---------------------------------------------------------------------------------------------

def walk_panels(panels):
    for p in panels or []:
        yield p
        # Collapsed rows keep their panels inside the row.
        yield from walk_panels(p.get("panels"))


def ds_is_variable(ds):
    if isinstance(ds, dict):
        uid = ds.get("uid", "")
    else:
        uid = ds or ""
    return uid in ("${datasource}", "$datasource", "[[datasource]]")


def lint(name, dash):
    errors = []
    sv = dash.get("schemaVersion", 0)
    if not isinstance(sv, int) or sv < 38:
        errors.append(f"schemaVersion is {sv!r}, want >= 38")
    if not dash.get("uid"):
        errors.append("no uid")
    variables = dash.get("templating", {}).get("list", [])
    dsvars = [v for v in variables if v.get("name") == "datasource"]
    if not dsvars or dsvars[0].get("type") != "datasource" or dsvars[0].get("query") != "prometheus":
        errors.append("no template variable `datasource` of type datasource with query prometheus")
    for v in variables:
        if v.get("type") == "query" and not ds_is_variable(v.get("datasource")):
            errors.append(f"variable {v.get('name')} does not use the datasource variable")
    ids = {}
    for p in walk_panels(dash.get("panels")):
        title = p.get("title", "?")
        pid = p.get("id")
        if pid in ids:
            errors.append(f"panel id {pid} used by both {ids[pid]!r} and {title!r}")
        ids[pid] = title
        gp = p.get("gridPos") or {}
        if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")):
            errors.append(f"panel {title!r}: gridPos missing or incomplete")
        elif gp["x"] + gp["w"] > 24:
            errors.append(f"panel {title!r}: gridPos x+w > 24")
        if p.get("type") == "row":
            continue
        if not ds_is_variable(p.get("datasource")):
            errors.append(f"panel {title!r}: datasource is not ${{datasource}}")
        tgts = p.get("targets") or []
        if not tgts:
            errors.append(f"panel {title!r}: no targets")
        refs = [t.get("refId") for t in tgts]
        if len(set(refs)) != len(refs):
            errors.append(f"panel {title!r}: duplicate refIds {refs}")
        for t in tgts:
            if not ds_is_variable(t.get("datasource")):
                errors.append(f"panel {title!r} target {t.get('refId')}: datasource is not "
                              f"${{datasource}}")
            expr = (t.get("expr") or "").strip()
            if not expr:
                errors.append(f"panel {title!r} target {t.get('refId')}: empty expr")
            for rng in RANGE_RE.findall(STRING_RE.sub('""', expr)):
                if "$__" not in rng:
                    errors.append(f"panel {title!r} target {t.get('refId')}: fixed range [{rng}]"
                                  f" (use $__rate_interval / $__range)")
    return [f"{name}: {e}" for e in errors]


# ---------------------------------------------------------------------------------------------
# Template variables
# ---------------------------------------------------------------------------------------------

def prom_regex_escape(value):
    # Grafana's Prometheus datasource escapes regex metacharacters in multi-value variables; the
    # backslash itself is doubled again because it sits inside a PromQL double-quoted string.
    return "".join("\\\\" + c if c in PROM_REGEX_SPECIALS else c for c in value)


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(3) or m.group(5)
        return values.get(name, m.group(0))
    return VAR_RE.sub(repl, expr)


def builtin_values(args):
    range_s = parse_duration(args.range)
    return {
        "__rate_interval": args.rate_interval,
        "__interval": args.interval,
        "__interval_ms": str(parse_duration(args.interval) * 1000),
        "__range": args.range,
        "__range_s": str(range_s),
        "__range_ms": str(range_s * 1000),
        "datasource": "ignored",
    }


def parse_duration(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text)
    if not m:
        raise SystemExit(f"bad duration {text!r} (want e.g. 5s, 1m)")
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": n // 1000, "s": n, "m": n * 60, "h": n * 3600, "d": n * 86400}[unit]


def resolve_variables(dash, prom, values, window_s):
    """Fills `values` with each template variable's Grafana-like value; returns (report, errors)."""
    report, errors = [], []
    for v in dash.get("templating", {}).get("list", []):
        name, vtype = v.get("name"), v.get("type")
        if vtype == "datasource":
            continue
        if vtype in ("constant", "textbox", "custom", "interval"):
            cur = v.get("current", {}).get("value") or v.get("query", "")
            if isinstance(cur, list):
                cur = cur[0] if cur else ""
            if vtype == "custom" and cur in ("", "$__all"):
                opts = [o.strip() for o in str(v.get("query", "")).split(",") if o.strip()]
                cur = "(" + "|".join(prom_regex_escape(o) for o in opts) + ")" if opts else ".*"
            if vtype == "interval":
                cur = values["__interval"]
            values[name] = str(cur)
            report.append((name, vtype, str(cur), "-"))
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or v.get("definition", ""))
        m = LABEL_VALUES_RE.match(q)
        if not m:
            values[name] = v.get("allValue") or ".*"
            report.append((name, vtype, values[name], f"unsupported query {q!r}, used .*"))
            continue
        selector, label = m.group(1), m.group(2)
        params = {"start": str(time.time() - window_s), "end": str(time.time())}
        if selector:
            params["match[]"] = substitute(selector, values)
        # The label values endpoint only supports GET.
        url = f"/api/v1/label/{label}/values?" + urllib.parse.urlencode(params)
        found = prom.get(url)
        if not found:
            errors.append(f"variable ${name}: {q} returned no values")
            found = []
        if v.get("includeAll"):
            if v.get("allValue"):
                value = v["allValue"]
            elif found:
                value = "(" + "|".join(prom_regex_escape(x) for x in found) + ")"
            else:
                value = ".*"
        else:
            value = prom_regex_escape(found[0]) if found else ".*"
        values[name] = value
        report.append((name, vtype, value, ", ".join(found) or "NONE"))
    return report, errors


# ---------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------

def run_query(prom, expr):
    """Returns (series count, NaN count, error)."""
    data, err = prom.call("/api/v1/query", {"query": expr})
    if err:
        return 0, 0, err
    rtype, result = data.get("resultType"), data.get("result")
    if rtype in ("scalar", "string"):
        return 1, int(rtype == "scalar" and _isnan(result[1])), None
    nan = sum(1 for s in result if _isnan((s.get("value") or [0, "0"])[1]))
    return len(result), nan, None


def _isnan(v):
    try:
        return math.isnan(float(v))
    except (TypeError, ValueError):
        return False


def query_exemplars(prom, expr, window_s):
    now = time.time()
    data, err = prom.call("/api/v1/query_exemplars",
                          {"query": expr, "start": str(now - window_s), "end": str(now)})
    if err:
        return 0, 0, None, err
    series = data or []
    total = sum(len(s.get("exemplars") or []) for s in series)
    sample = None
    for s in series:
        for e in s.get("exemplars") or []:
            sample = e.get("labels")
            break
        if sample:
            break
    return len(series), total, sample, None


def wait_for_samples(prom, job, want, timeout_s):
    deadline = time.time() + timeout_s
    last = ""
    while time.time() < deadline:
        data, err = prom.call("/api/v1/query", {"query": f'count_over_time(up{{job="{job}"}}[1m])'})
        up, _ = prom.call("/api/v1/query", {"query": f'up{{job="{job}"}}'})
        have = int(float(data["result"][0]["value"][1])) if data and data.get("result") else 0
        is_up = bool(up and up.get("result") and up["result"][0]["value"][1] == "1")
        if have >= want and is_up:
            print(f"dashboards-check: {have} scrapes of job {job!r} in Prometheus, target up")
            return True
        if have >= 3 and not is_up:
            targets = prom.get("/api/v1/targets") or {}
            errs = [t.get("lastError") for t in targets.get("activeTargets", [])
                    if t.get("labels", {}).get("job") == job]
            print(f"dashboards-check: FAIL: target of job {job!r} is down: {errs}",
                  file=sys.stderr)
            return False
        msg = f"{have}/{want} scrapes" + ("" if is_up else ", target not up yet")
        if msg != last:
            print(f"dashboards-check: waiting: {msg}")
            last = msg
        time.sleep(1)
    print(f"dashboards-check: FAIL: fewer than {want} scrapes after {timeout_s}s", file=sys.stderr)
    return False


def print_table(rows, headers):
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(str(c)))
    fmt = "  ".join("{:<%d}" % w for w in widths[:-1]) + "  {}"
    print(fmt.format(*headers))
    print(fmt.format(*["-" * w for w in widths[:-1]], "-" * len(headers[-1])))
    for r in rows:
        print(fmt.format(*[str(c) for c in r]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prometheus", help="base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--dashboards", default=str(Path(__file__).resolve().parent.parent /
                                                "dashboards"))
    ap.add_argument("--job", default="meridian", help="scrape job name to wait for")
    ap.add_argument("--wait-samples", type=int, default=0,
                    help="wait until Prometheus has this many scrapes of --job (0 = don't)")
    ap.add_argument("--wait-timeout", type=int, default=90)
    ap.add_argument("--rate-interval", default="5s", help="value for $__rate_interval")
    ap.add_argument("--interval", default="5s", help="value for $__interval")
    ap.add_argument("--range", default="1m", help="value for $__range")
    ap.add_argument("--exemplar-window", type=int, default=300, help="seconds")
    ap.add_argument("--static-only", action="store_true", help="lint only, no Prometheus")
    args = ap.parse_args()

    files = sorted(Path(args.dashboards).glob("*.json"))
    if not files:
        print(f"dashboards-check: FAIL: no *.json in {args.dashboards}", file=sys.stderr)
        return 1
    dashboards, lint_errors = [], []
    for f in files:
        try:
            dash = json.loads(f.read_text())
        except ValueError as e:
            lint_errors.append(f"{f.name}: not JSON: {e}")
            continue
        dashboards.append((f.name, dash))
        lint_errors += lint(f.name, dash)
    builder = Path(args.dashboards) / "build.py"
    if builder.exists():
        r = subprocess.run([sys.executable, str(builder), "--check"], capture_output=True,
                           text=True)
        if r.returncode:
            lint_errors.append(f"build.py --check: {(r.stderr or r.stdout).strip()}")
    n_targets = sum(len(p.get("targets") or []) for _, d in dashboards
                    for p in walk_panels(d.get("panels")) if p.get("type") != "row")
    print(f"dashboards-check: lint: {len(files)} dashboard(s), {n_targets} targets, "
          f"{len(lint_errors)} problem(s)")
    for e in lint_errors:
        print(f"  LINT {e}", file=sys.stderr)
    if args.static_only:
        return 1 if lint_errors else 0
    if not args.prometheus:
        ap.error("--prometheus is required unless --static-only")

    prom = Prom(args.prometheus)
    if args.wait_samples and not wait_for_samples(prom, args.job, args.wait_samples,
                                                  args.wait_timeout):
        return 1

    failures, rows, warnings = list(lint_errors), [], []
    for fname, dash in dashboards:
        values = builtin_values(args)
        var_report, var_errors = resolve_variables(dash, prom, values, args.exemplar_window)
        failures += [f"{fname}: {e}" for e in var_errors]
        print(f"\n== {fname}: template variables")
        print_table([(n, t, v, found) for n, t, v, found in var_report],
                    ["variable", "type", "substituted", "values found"])
        for p in walk_panels(dash.get("panels")):
            if p.get("type") == "row":
                continue
            for t in p.get("targets") or []:
                raw = (t.get("expr") or "").strip()
                expr = substitute(raw, values)
                leftover = [m.group(0) for m in VAR_RE.finditer(expr)
                            if not (m.group(1) or m.group(3) or m.group(5)).isdigit()]
                n, nan, err = run_query(prom, expr)
                ex = "-"
                if t.get("exemplar"):
                    _, total, _, xerr = query_exemplars(prom, expr, args.exemplar_window)
                    ex = "error" if xerr else str(total)
                    if xerr:
                        warnings.append(f"{p.get('title')} [{t.get('refId')}]: exemplar query "
                                        f"failed: {xerr}")
                status = "ok"
                if err:
                    status = "ERROR"
                    failures.append(f"{fname}: panel {p.get('title')!r} [{t.get('refId')}]: "
                                    f"{err}\n      expr: {expr}")
                elif n == 0:
                    status = "EMPTY"
                    failures.append(f"{fname}: panel {p.get('title')!r} [{t.get('refId')}]: "
                                    f"no series\n      expr: {expr}")
                elif leftover:
                    warnings.append(f"{p.get('title')} [{t.get('refId')}]: unsubstituted "
                                    f"{leftover}")
                if nan and n:
                    warnings.append(f"{p.get('title')} [{t.get('refId')}]: {nan}/{n} series are "
                                    f"NaN right now (e.g. no traffic on a route)")
                rows.append((status, p.get("title", "?"), t.get("refId"), n, ex,
                             " ".join(raw.split())))
        print(f"\n== {fname}: queries (instant, $__rate_interval={args.rate_interval}, "
              f"$__range={args.range})")
        print_table(rows, ["status", "panel", "ref", "series", "exemplars", "expr"])

    # Exemplars on the latency histogram itself.
    n_series, total, sample, xerr = query_exemplars(prom, LATENCY_BUCKETS, args.exemplar_window)
    print()
    if xerr:
        print(f"dashboards-check: WARN: query_exemplars({LATENCY_BUCKETS}) failed: {xerr} "
              f"(is --enable-feature=exemplar-storage on?)")
    elif total:
        print(f"dashboards-check: exemplars: {total} on {n_series} series of {LATENCY_BUCKETS} in "
              f"the last {args.exemplar_window}s, e.g. {sample}")
    else:
        print(f"dashboards-check: WARN: no exemplars on {LATENCY_BUCKETS} (they only come with "
              f"sampled, traced requests and an OpenMetrics scrape)")
    for w in warnings:
        print(f"dashboards-check: WARN: {w}")
    ok = sum(1 for r in rows if r[0] == "ok")
    if failures:
        print(f"\ndashboards-check: FAIL: {len(failures)} problem(s):", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
    print(f"{ok} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
