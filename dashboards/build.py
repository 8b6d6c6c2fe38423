#!/usr/bin/env python3
"""Generates the Grafana dashboards in this folder (the *.json files are its output; edit this file,
not the JSON, then run it). Standard library only.

    python3 dashboards/build.py           # rewrite dashboards/*.json
    python3 dashboards/build.py --check   # exit 1 if a JSON file is not what this script makes

Adding a row (e.g. caches, Redis when those metrics exist): write a
function that returns Row(title, [panels...]) and add it to OVERVIEW_ROWS. Layout (gridPos), panel
ids and the datasource on every panel and target are filled in by build(); every expr should go
through sel() so that it honours the $job / $instance (and, for per-route metrics, $route)
variables; the upstream and breaker metrics go through usel(), which adds $cluster.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
DURATION = "http_server_request_duration_seconds"


def sel(*extra, route=False):
    """Label matchers for the dashboard's variables, plus any extra matchers."""
    m = ['job=~"$job"', 'instance=~"$instance"']
    if route:
        m.append('http_route=~"$route"')
    m.extend(extra)
    return "{" + ", ".join(m) + "}"


def target(expr, legend="__auto", ref="A", exemplar=False, instant=False, fmt="time_series"):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend,
         "range": not instant, "instant": instant, "format": fmt, "editorMode": "code"}
    if exemplar:
        t["exemplar"] = True
    return t


def targets(*specs, **common):
    """targets((expr, legend), (expr, legend), ...) with refIds A, B, C..."""
    return [target(e, l, ref=chr(ord("A") + i), **common) for i, (e, l) in enumerate(specs)]


def timeseries(title, tgts, unit="short", desc="", w=8, h=8, stack=False, bars=False,
               min_=0, max_=None, legend_calcs=("mean", "max", "lastNotNull"), overrides=None):
    custom = {"drawStyle": "bars" if bars else "line", "lineWidth": 1,
              "fillOpacity": 60 if bars else 10, "showPoints": "never",
              "spanNulls": False,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    return {
        "type": "timeseries", "title": title, "description": desc, "targets": tgts,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {"tooltip": {"mode": "multi", "sort": "desc"},
                    "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                               "calcs": list(legend_calcs)}},
        "_size": (w, h),
    }


def stat(title, tgts, unit="short", desc="", w=6, h=4, color_mode="value", thresholds=None):
    return {
        "type": "stat", "title": title, "description": desc, "targets": tgts,
        "fieldConfig": {"defaults": {"unit": unit, "color": {"mode": "thresholds"},
                                     "thresholds": thresholds or {"mode": "absolute", "steps": [
                                         {"color": "green", "value": None}]}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": color_mode, "graphMode": "area", "justifyMode": "auto",
                    "orientation": "auto", "textMode": "auto"},
        "_size": (w, h),
    }


def table(title, tgts, desc="", w=12, h=8, exclude=("Time", "Value", "__name__"), rename=None):
    return {
        "type": "table", "title": title, "description": desc, "targets": tgts,
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}},
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {k: True for k in exclude},
                                           "renameByName": rename or {}}},
        ],
        "_size": (w, h),
    }


def heatmap(title, tgts, desc="", w=12, h=9):
    return {
        "type": "heatmap", "title": title, "description": desc, "targets": tgts,
        "fieldConfig": {"defaults": {"custom": {"scaleDistribution": {"type": "linear"},
                                                "hideFrom": {"legend": False, "tooltip": False,
                                                             "viz": False}}},
                        "overrides": []},
        "options": {"calculate": False, "cellGap": 1, "yAxis": {"axisPlacement": "left",
                                                                "unit": "s", "reverse": False},
                    "rowsFrame": {"layout": "auto"},
                    "color": {"mode": "scheme", "scheme": "Spectral", "scale": "exponential",
                              "exponent": 0.5, "steps": 64, "fill": "dark-orange",
                              "reverse": False},
                    "cellValues": {"unit": "short"}, "filterValues": {"le": 1e-9},
                    "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
                    "legend": {"show": True}, "showValue": "never",
                    "exemplars": {"color": "rgba(255,0,255,0.7)"}},
        "_size": (w, h),
    }


class Row:
    def __init__(self, title, panels, collapsed=False):
        self.title, self.panels, self.collapsed = title, panels, collapsed


# ---------------------------------------------------------------------------------------------
# Rows of the overview dashboard. Only metrics Meridian exports today.
# ---------------------------------------------------------------------------------------------

def reqs(*extra, by=None):
    inner = f"rate({DURATION}_count{sel(*extra, route=True)}[{RI}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def traffic_row():
    return Row("Traffic", [
        timeseries("Requests/s by route",
                   targets((reqs(by="http_route"), "{{http_route}}")), unit="reqps",
                   desc="Completed requests per second, by route pattern (`unmatched` = no route)."),
        timeseries("Requests/s by status class",
                   targets((f'sum by (status_class) (label_replace(rate({DURATION}_count'
                            f'{sel(route=True)}[{RI}]), "status_class", "${{1}}xx", '
                            f'"http_response_status_code", "([0-9]).*"))', "{{status_class}}")),
                   unit="reqps", stack=True,
                   desc="Completed requests per second by status class (2xx, 3xx, 4xx, 5xx).",
                   overrides=[_color("5xx", "red"), _color("4xx", "orange"),
                              _color("3xx", "blue"), _color("2xx", "green")]),
        timeseries("Active requests",
                   targets((f"sum by (instance) (http_server_active_requests{sel()})",
                            "{{instance}}")),
                   desc="Requests in flight right now, per instance."),
        timeseries("Requests/s by protocol version",
                   targets((reqs(by="network_protocol_version"), "HTTP/{{network_protocol_version}}")),
                   unit="reqps", w=12,
                   desc="Completed requests per second by HTTP version (1.0, 1.1, 2)."),
        timeseries("Body bytes/s by route",
                   targets((f"sum by (http_route) (rate(http_server_response_body_bytes_total"
                            f"{sel(route=True)}[{RI}]))", "out {{http_route}}"),
                           (f"sum by (http_route) (rate(http_server_request_body_bytes_total"
                            f"{sel(route=True)}[{RI}]))", "in {{http_route}}")),
                   unit="Bps", w=12,
                   desc="Response (out) and request (in) body bytes per second, by route."),
    ])


def _color(name, color):
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}


def _ratio_by_route(cls):
    """Share of requests with status class `cls` per route; 0 (not "no data") for routes without."""
    err = reqs(f'http_response_status_code=~"{cls[0]}.."', by="http_route")
    allr = reqs(by="http_route")
    return f"({err} or on (http_route) ({allr} * 0)) / {allr}"


def errors_row():
    all_5xx = reqs('http_response_status_code=~"5.."')
    client_errors = reqs('http_response_status_code=~"4.."',
                         by="http_route, http_response_status_code")
    per_route = reqs(by="http_route")
    return Row("Errors", [
        timeseries("5xx ratio by route",
                   targets((_ratio_by_route("5xx"), "{{http_route}}"),
                           (f"(({all_5xx}) or vector(0)) / {reqs()}", "all routes")),
                   unit="percentunit", w=12,
                   desc="Share of completed requests answered with 5xx, per route and overall."),
        timeseries("4xx responses/s by route and code",
                   targets((f"{client_errors} or on (http_route) ({per_route} * 0)",
                            "{{http_route}} {{http_response_status_code}}")),
                   unit="reqps", w=12,
                   desc="Client errors per second (routes without any show as 0)."),
        timeseries("Rejected requests/s by status code",
                   targets((f"sum by (http_response_status_code) (rate("
                            f"meridian_requests_rejected_total{sel()}[{RI}]))",
                            "{{http_response_status_code}}")),
                   unit="reqps", w=12,
                   desc="Requests refused by the parser or limits before routing: 400 malformed / "
                        "smuggling, 408 slow head or body, 413 body, 414 URI, 431 headers, "
                        "501, 505."),
        timeseries("Timeouts/s by kind",
                   targets((f"sum by (kind) (rate(meridian_timeouts_total{sel()}[{RI}]))",
                            "{{kind}}")),
                   unit="ops", w=12,
                   desc="header_read and body_read answer 408; idle and send close the connection."),
    ])


def _quantile(q, by="http_route"):
    return (f"histogram_quantile({q}, sum by ({by}, le) (rate({DURATION}_bucket"
            f"{sel(route=True)}[{RI}])))")


def latency_row():
    return Row("Latency", [
        timeseries("Latency p50 / p90 / p99 by route",
                   targets((_quantile(0.5), "p50 {{http_route}}"),
                           (_quantile(0.9), "p90 {{http_route}}"),
                           (_quantile(0.99), "p99 {{http_route}}"), exemplar=True),
                   unit="s", w=12, h=9,
                   desc="From the request-duration histogram (buckets 0.5 ms .. 10 s). Diamonds "
                        "are exemplars: click one to open its trace."),
        heatmap("Request duration heatmap",
                [target(f"sum by (le) (increase({DURATION}_bucket{sel(route=True)}[{RI}]))",
                        "{{le}}", exemplar=True, fmt="heatmap")],
                desc="Requests per duration bucket over time (all selected routes)."),
        timeseries("Mean latency by route",
                   targets((f"sum by (http_route) (rate({DURATION}_sum{sel(route=True)}[{RI}]))"
                            f" / sum by (http_route) (rate({DURATION}_count{sel(route=True)}[{RI}]))",
                            "{{http_route}}")),
                   unit="s", w=24, h=7, desc="Sum of durations / count, per route."),
    ])


def connections_row():
    return Row("Connections", [
        timeseries("Open connections by protocol",
                   targets((f"sum by (protocol) (meridian_connections_open{sel()})",
                            "{{protocol}}")), stack=True,
                   desc="`negotiating` = accepted, protocol not settled yet (TLS/ALPN, preface)."),
        timeseries("Connections accepted / refused per second",
                   targets((f"sum(rate(meridian_connections_accepted_total{sel()}[{RI}]))",
                            "accepted"),
                           (f"sum(rate(meridian_connections_refused_total{sel()}[{RI}]))",
                            "refused")),
                   unit="cps", overrides=[_color("refused", "red")],
                   desc="Refused = over limits.max_connections."),
        timeseries("Connections/s by settled protocol",
                   targets((f"sum by (protocol) (rate(meridian_connections_total{sel()}[{RI}]))",
                            "{{protocol}}")),
                   unit="cps", desc="New connections by the protocol they settled on."),
        timeseries("TLS handshakes/s by version",
                   targets((f"sum by (tls_protocol_version) (rate(meridian_tls_handshakes_total"
                            f"{sel()}[{RI}]))", "TLS {{tls_protocol_version}}")),
                   unit="ops", w=12),
        timeseries("TLS handshake failures/s by reason",
                   targets((f"sum by (reason) (rate(meridian_tls_handshake_failures_total"
                            f"{sel()}[{RI}]))", "{{reason}}")),
                   unit="ops", w=12,
                   desc="`rejected_sni` = unknown server name refused (tls.unknown_sni: reject)."),
    ])


def instances_row():
    return Row("Per-instance breakdown", [
        timeseries("Requests/s by instance",
                   targets((reqs(by="instance"), "{{instance}}")), unit="reqps"),
        timeseries("p99 latency by instance",
                   targets((_quantile(0.99, by="instance"), "{{instance}}"), exemplar=True),
                   unit="s"),
        timeseries("CPU by instance (cores)",
                   targets((f"sum by (instance) (rate(process_cpu_seconds_total{sel()}[{RI}]))",
                            "{{instance}}")),
                   unit="short", desc="CPU seconds per second: 1.0 = one core busy."),
        timeseries("Resident memory by instance",
                   targets((f"sum by (instance) (process_resident_memory_bytes{sel()})",
                            "{{instance}}")), unit="bytes"),
        timeseries("Open file descriptors by instance",
                   targets((f"sum by (instance) (process_open_fds{sel()})", "{{instance}}"))),
        timeseries("Uptime by instance",
                   targets((f"time() - max by (instance) (process_start_time_seconds{sel()})",
                            "{{instance}}")), unit="s", legend_calcs=("lastNotNull",)),
    ])


def config_row():
    return Row("Config & build", [
        timeseries("Config reloads by result",
                   targets((f"sum by (result) (increase(meridian_config_reloads_total{sel()}"
                            f"[{RI}]))", "{{result}}")),
                   bars=True, legend_calcs=("sum",),
                   overrides=[_color("failure", "red"), _color("success", "green")],
                   desc="SIGHUP / file reloads; a failure keeps the running config (see logs)."),
        stat("Config reloads in range",
             targets((f"sum by (result) (increase(meridian_config_reloads_total{sel()}"
                      f"[$__range]))", "{{result}}")), w=4, h=8,
             thresholds={"mode": "absolute", "steps": [{"color": "green", "value": None}]}),
        timeseries("Config generation by instance",
                   targets((f"max by (instance) (meridian_config_generation{sel()})",
                            "{{instance}}")), w=6, legend_calcs=("lastNotNull",),
                   min_=None, desc="Instances on different generations have not all reloaded."),
        timeseries("TLS certificate reloads by result",
                   targets((f"sum by (result) (increase(meridian_tls_certificate_reloads_total"
                            f"{sel()}[{RI}]))", "{{result}}")),
                   bars=True, legend_calcs=("sum",), w=6,
                   overrides=[_color("failure", "red"), _color("success", "green")],
                   desc="A failed reload keeps the old certificate."),
        table("Build info and last config reload",
              targets((f"max by (instance, job, version, swift_version) "
                       f"(meridian_build_info{sel()})", ""),
                      (f"time() - max by (instance) "
                       f"(meridian_config_last_reload_timestamp_seconds{sel()})", ""),
                      instant=True, fmt="table"),
              exclude=("Time", "Value #A"),
              rename={"Value #B": "seconds since last config reload",
                      "swift_version": "swift"},
              w=24, h=6,
              desc="One line per instance: version, Swift version and how long ago its config "
                   "was last (re)loaded."),
    ])


def telemetry_row():
    return Row("Telemetry health", [
        timeseries("Spans/s by sampled",
                   targets((f"sum by (sampled) (rate(meridian_tracing_spans_total{sel()}[{RI}]))",
                            "sampled={{sampled}}")), unit="ops", stack=True),
        timeseries("Spans dropped/s by reason",
                   targets((f"sum by (reason) (rate(meridian_tracing_spans_dropped_total{sel()}"
                            f"[{RI}]))", "{{reason}}")), unit="ops",
                   desc="queue_full = exporter queue full; export_failed = collector unreachable."),
        timeseries("Access log lines/s (written / dropped)",
                   targets((f"sum(rate(meridian_access_log_lines_total{sel()}[{RI}]))", "written"),
                           (f"sum(rate(meridian_access_log_dropped_total{sel()}[{RI}]))",
                            "dropped")),
                   unit="ops", overrides=[_color("dropped", "red")],
                   desc="Dropped = the access-log writer could not keep up."),
    ])


UP_DURATION = "meridian_upstream_request_duration_seconds"
UP_REQUESTS = "meridian_upstream_requests_total"


def usel(*extra):
    """sel() plus the $cluster variable, for the per-cluster (upstream, breaker) metrics."""
    return sel('cluster=~"$cluster"', *extra)


def _up_rate(metric, by, *extra):
    return f"sum by ({by}) (rate({metric}{usel(*extra)}[{RI}]))"


def _up_quantile(q, by="cluster"):
    return (f"histogram_quantile({q}, sum by ({by}, le) (rate({UP_DURATION}_bucket"
            f"{usel()}[{RI}])))")


def upstreams_row():
    failed = _up_rate(UP_REQUESTS, "cluster", 'status_class=~"5xx|error"')
    every = _up_rate(UP_REQUESTS, "cluster")
    return Row("Upstreams", [
        timeseries("Upstream tries/s by status class",
                   targets((_up_rate(UP_REQUESTS, "status_class"), "{{status_class}}")),
                   unit="reqps", stack=True,
                   desc="Tries at upstream endpoints (a retried request counts once per try), by "
                        "the status class of the upstream's answer; `error` = no answer "
                        "(connect failure, timeout, reset, invalid response).",
                   overrides=[_color("error", "purple"), _color("5xx", "red"),
                              _color("4xx", "orange"), _color("3xx", "blue"),
                              _color("2xx", "green")]),
        timeseries("Upstream tries/s by endpoint",
                   targets((_up_rate(UP_REQUESTS, "cluster, endpoint"), "{{cluster}} {{endpoint}}")),
                   unit="reqps", desc="How the balancer spreads tries over each cluster's endpoints."),
        timeseries("Upstream failure ratio by cluster",
                   targets((f"({failed} or on (cluster) ({every} * 0)) / {every}", "{{cluster}}")),
                   unit="percentunit",
                   desc="Share of tries answered 5xx or not at all, per cluster."),
        timeseries("Upstream latency p50 / p99 by cluster",
                   targets((_up_quantile(0.5), "p50 {{cluster}}"),
                           (_up_quantile(0.99), "p99 {{cluster}}"), exemplar=True),
                   unit="s", w=12, h=9,
                   desc="Duration of tries, from picking the endpoint to the end of the response. "
                        "Diamonds are exemplars: the CLIENT span of a sampled try."),
        timeseries("Upstream latency p99 by endpoint",
                   targets((_up_quantile(0.99, by="cluster, endpoint"), "{{cluster}} {{endpoint}}"),
                           exemplar=True),
                   unit="s", w=12, h=9, desc="A slow endpoint stands out from its cluster here."),
        timeseries("Active upstream requests by endpoint",
                   targets((f"sum by (cluster, endpoint) (meridian_upstream_active_requests{usel()})",
                            "{{cluster}} {{endpoint}}")),
                   desc="Tries in flight right now (what least_request balances on)."),
        timeseries("Pooled upstream connections by state",
                   targets((f"sum by (cluster, state) (meridian_upstream_connections{usel()})",
                            "{{cluster}} {{state}}")), stack=True,
                   desc="Connections kept to the upstreams: `active` carry a request, `idle` wait in "
                        "the pool for the next one."),
        timeseries("Healthy and ejected endpoints by cluster",
                   targets((f"sum by (cluster) (meridian_upstream_healthy{usel()})",
                            "healthy {{cluster}}"),
                           (f"sum by (cluster) (meridian_upstream_ejected{usel()})",
                            "ejected {{cluster}}"),
                           (f"count by (cluster) (meridian_upstream_healthy{usel()})",
                            "configured {{cluster}}")),
                   desc="Healthy = passing active health checks (all, without checks); ejected = "
                        "kept out by passive outlier detection."),
    ])


def resilience_row():
    local = usel('scope="local"')
    return Row("Circuit breakers & retries", [
        timeseries("Breaker states by cluster",
                   targets((f"sum by (cluster, state) (meridian_breaker_state{local})",
                            "{{cluster}} {{state}}")), stack=True,
                   desc="Endpoints per breaker state (scope local: this instance's breaker). "
                        "Anything but `closed` means requests are being refused or probed.",
                   overrides=[_color("open", "red"), _color("half_open", "orange")]),
        timeseries("Breaker transitions by state entered",
                   targets((f"sum by (cluster, endpoint, to) (increase(meridian_breaker_transitions_total"
                            f"{usel()}[{RI}]))", "{{cluster}} {{endpoint}} -> {{to}}")),
                   bars=True, legend_calcs=("sum",),
                   overrides=[_color("open", "red")],
                   desc="Each bar is a breaker changing state on an endpoint."),
        timeseries("Ejections by endpoint",
                   targets((f"sum by (cluster, endpoint) (increase(meridian_upstream_ejections_total"
                            f"{usel()}[{RI}]))", "{{cluster}} {{endpoint}}")),
                   bars=True, legend_calcs=("sum",),
                   desc="Endpoints taken out by passive outlier detection (consecutive 5xx or "
                        "gateway failures)."),
        timeseries("Retries/s by cluster",
                   targets((_up_rate("meridian_upstream_retries_total", "cluster"), "retries {{cluster}}"),
                           (_up_rate("meridian_upstream_retry_budget_exhausted_total", "cluster"),
                            "budget exhausted {{cluster}}")),
                   unit="ops", w=12,
                   desc="Retries started on another endpoint, and retries refused because the "
                        "cluster's retry budget was spent (the failure went to the client)."),
        timeseries("Retry share of tries by cluster",
                   targets((f"{_up_rate('meridian_upstream_retries_total', 'cluster')} / "
                            f"{_up_rate(UP_REQUESTS, 'cluster')}", "{{cluster}}")),
                   unit="percentunit", w=12,
                   desc="Retries per try: what the retry budget (budget_percent) caps."),
    ])


def shared_state_row():
    shared = usel('scope="shared"')
    return Row("Shared state: breakers, rate limits, Redis", [
        timeseries("Shared breaker states by cluster",
                   targets((f"max by (cluster, endpoint, state) (meridian_breaker_state{shared}) == 1",
                            "{{cluster}} {{endpoint}} {{state}}")),
                   desc="The cluster-wide breaker of each endpoint as each instance last heard it through "
                        "Redis (scope shared). It opens on failures from at least min_reporting_instances "
                        "instances; a lone instance's trouble opens only its local breaker.",
                   overrides=[_color("open", "red"), _color("half_open", "orange")]),
        timeseries("Rate-limited requests/s by policy",
                   targets((f"sum by (policy, scope, result) (rate(meridian_ratelimit_requests_total{sel()}[{RI}]))",
                            "{{policy}} {{scope}} {{result}}")),
                   unit="reqps", stack=True,
                   overrides=[_color("limited", "red")],
                   desc="Requests under a rate limit: allowed or limited (429), answered locally, "
                        "globally (Redis), or by the local share while Redis is down (fallback)."),
        timeseries("Redis degraded",
                   targets((f"max by (instance) (meridian_redis_degraded{sel()})", "{{instance}}")),
                   desc="1 while an instance cannot reach Redis: every shared feature is local then "
                        "(breakers, limits at the per-instance share). Requests are still served."),
        timeseries("Redis commands/s by result",
                   targets((f"sum by (result) (rate(meridian_redis_commands_total{sel()}[{RI}]))", "{{result}}")),
                   unit="ops", stack=True,
                   overrides=[_color("timeout", "orange"), _color("unavailable", "red")],
                   desc="ok, error (an error reply), timeout (past its deadline), unavailable (no "
                        "connection: answered locally at once), closed."),
        timeseries("Redis round trip p50 / p99",
                   targets((f"histogram_quantile(0.5, sum by (le) (rate(meridian_redis_command_duration_seconds_bucket{sel()}[{RI}])))",
                            "p50"),
                           (f"histogram_quantile(0.99, sum by (le) (rate(meridian_redis_command_duration_seconds_bucket{sel()}[{RI}])))",
                            "p99")),
                   unit="s",
                   desc="Round-trip time of Redis commands that got an answer (pipelined: includes the "
                        "wait behind earlier commands on the connection)."),
        timeseries("Redis reconnects and pub/sub messages",
                   targets((f"sum by (instance) (increase(meridian_redis_reconnects_total{sel()}[{RI}]))",
                            "reconnects {{instance}}"),
                           (f"sum by (channel) (rate(meridian_redis_pubsub_messages_total{sel()}[{RI}]))",
                            "messages/s {{channel}}")),
                   desc="Connections made again after a loss, and breaker transitions (and other "
                        "fan-out) received on pub/sub."),
    ])


def cluster_row():
    shared = usel('scope="shared"')
    lookups = "meridian_cache_lookups_total"
    hits = sel('result="hit"')
    return Row("Cluster: instances, Redis, shared breakers, cache tiers", [
        stat("Live instances",
             targets((f"max(meridian_cluster_instances{sel()})", "instances")),
             desc="Instances whose heartbeat reached Redis within 5 s, as the instances themselves see it "
                  "(each instance's status page lists them, with their admin addresses)."),
        timeseries("Live instances as each instance sees them",
                   targets((f"max by (instance) (meridian_cluster_instances{sel()})", "{{instance}}")),
                   w=6, legend_calcs=("lastNotNull",),
                   desc="Disagreement means an instance cannot reach Redis (it keeps its last count) or a "
                        "heartbeat is late."),
        timeseries("Instances in degraded mode",
                   targets((f"sum(meridian_redis_degraded{sel()})", "degraded")),
                   w=6, legend_calcs=("max", "lastNotNull"),
                   desc="Instances that cannot reach Redis: shared state is local on them until it returns."),
        timeseries("Shared breakers by state",
                   targets((f"sum by (state) (meridian_breaker_state{shared})", "{{state}}")),
                   w=6, stack=True, overrides=[_color("open", "red"), _color("half_open", "orange")],
                   desc="Endpoints in each cluster-wide breaker state, summed over the instances reporting them."),
        timeseries("Cache hit ratio by tier",
                   targets((f"sum by (tier) (rate({lookups}{hits}[{RI}])) "
                            f"/ sum by (tier) (rate({lookups}{sel()}[{RI}]))", "{{tier}}")),
                   w=6, unit="percentunit", max_=1,
                   desc="L1 (in-process) and L2 (Redis, shared by the cluster: its ratio is of L1's misses)."),
    ])


def cache_row():
    lookups = "meridian_cache_lookups_total"
    hits = sel('result="hit"')
    return Row("HTTP cache: L1, L2 (Redis), coalescing, purges", [
        timeseries("Hit ratio by route and tier",
                   targets((f"sum by (route, tier) (rate({lookups}{hits}[{RI}])) "
                            f"/ sum by (route, tier) (rate({lookups}{sel()}[{RI}]))",
                            "{{route}} {{tier}}")),
                   unit="percentunit", max_=1,
                   desc="Share of lookups answered by each tier without the origin. L2 (Redis) is asked "
                        "only when L1 (in-process) missed, so its ratio is of L1's misses."),
        timeseries("Lookups/s by tier and result",
                   targets((f"sum by (tier, result) (rate({lookups}{sel()}[{RI}]))", "{{tier}} {{result}}")),
                   unit="ops", stack=True,
                   overrides=[_color("l1 hit", "green"), _color("l2 hit", "blue"), _color("l2 error", "red")],
                   desc="hit, stale (served stale: while revalidating or on an origin error), miss, "
                        "revalidated (a 304 refreshed it), pass (not cacheable), error (Redis down or slow: "
                        "the request went on without L2)."),
        timeseries("L1 bytes and bound",
                   targets((f"sum by (instance) (meridian_cache_l1_bytes{sel()})", "used {{instance}}"),
                           (f"max by (instance) (meridian_cache_l1_limit_bytes{sel()})", "bound {{instance}}")),
                   unit="bytes",
                   desc="Bytes the in-process cache holds against cache.memory; SIEVE evicts past it."),
        timeseries("Coalescing: collapsed requests and lock waits/s",
                   targets((f"sum by (instance) (rate(meridian_cache_collapsed_requests_total{sel()}[{RI}]))",
                            "collapsed {{instance}}"),
                           (f"sum by (outcome) (rate(meridian_cache_lock_waits_total{sel()}[{RI}]))",
                            "lock {{outcome}}"),
                           (f"sum by (instance) (rate(meridian_cache_background_refreshes_total{sel()}[{RI}]))",
                            "background refresh {{instance}}")),
                   unit="ops",
                   desc="Requests that waited for another request's fill (here or on another instance "
                        "through the Redis lock) instead of going to the origin; lock waits that timed out "
                        "went to the origin."),
        timeseries("Evictions, purges and L2 writes/s",
                   targets((f"sum by (instance) (rate(meridian_cache_l1_evictions_total{sel()}[{RI}]))",
                            "evictions {{instance}}"),
                           (f"sum by (instance) (rate(meridian_cache_purges_total{sel()}[{RI}]))",
                            "purges {{instance}}"),
                           (f"sum by (instance) (rate(meridian_cache_l2_stores_total{sel()}[{RI}]))",
                            "L2 stores {{instance}}")),
                   unit="ops",
                   desc="Entries evicted from L1, purge rules applied, entries written to Redis."),
    ])


def channels_row():
    route = '{{route}} {{protocol}}'
    fanout = "meridian_channel_fanout_seconds_bucket"
    return Row("WebSocket and SSE channels", [
        timeseries("Open channel connections by route",
                   targets((f"sum by (route, protocol) (meridian_channel_connections{sel()})", route)),
                   desc="WebSockets and event streams open now, per route pattern (channel names are never labels)."),
        timeseries("Messages/s from and to clients",
                   targets((f"sum by (route, protocol, direction) (rate(meridian_channel_messages_total{sel()}[{RI}]))",
                            "{{route}} {{protocol}} {{direction}}")),
                   unit="ops",
                   desc="in: messages WebSocket clients sent (each one published); out: frames and events written to "
                        "clients. out / in is the fan-out."),
        timeseries("Fan-out latency p50 / p99",
                   targets((f"histogram_quantile(0.5, sum by (le) (rate({fanout}{sel()}[{RI}])))", "p50"),
                           (f"histogram_quantile(0.99, sum by (le) (rate({fanout}{sel()}[{RI}])))", "p99")),
                   unit="s",
                   desc="From publish (on any instance) to delivery to this instance's subscribers, through Redis "
                        "when it is configured."),
        timeseries("Published/s by scope",
                   targets((f"sum by (scope) (rate(meridian_channel_published_total{sel()}[{RI}]))", "{{scope}}")),
                   unit="ops", stack=True, overrides=[_color("instance", "orange")],
                   desc="cluster: through Redis to every instance; instance: this instance's subscribers only "
                        "(no Redis, or Redis down or too slow for the call)."),
        timeseries("Connections ended by the server/s, and dropped messages/s",
                   targets((f"sum by (reason) (rate(meridian_channel_closed_total{sel()}[{RI}]))", "closed {{reason}}"),
                           (f"sum by (route) (rate(meridian_channel_dropped_messages_total{sel()}[{RI}]))",
                            "dropped {{route}}")),
                   unit="ops",
                   desc="slow: a client's queue overflowed; draining: shutdown (1001); protocol: a broken rule "
                        "(1002, 1007, 1009) or no pong; dropped: slow_consumer: drop_oldest."),
    ])


OVERVIEW_ROWS = [traffic_row, errors_row, latency_row, upstreams_row, resilience_row, cache_row, channels_row,
                 cluster_row, shared_state_row, connections_row, instances_row, config_row, telemetry_row]


def variables():
    def query_var(name, label, query, include_all=True, multi=True):
        return {"type": "query", "name": name, "label": label, "datasource": DS,
                "definition": query,
                "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                "refresh": 2, "sort": 1, "includeAll": include_all, "multi": multi,
                "allValue": None, "current": {"selected": True, "text": ["All"],
                                              "value": ["$__all"]},
                "options": [], "regex": "", "hide": 0, "skipUrlSync": False}
    return [
        {"type": "datasource", "name": "datasource", "label": "Data source",
         "query": "prometheus", "current": {}, "options": [], "refresh": 1, "regex": "",
         "hide": 0, "includeAll": False, "multi": False, "skipUrlSync": False},
        query_var("job", "Job", "label_values(meridian_build_info, job)"),
        query_var("instance", "Instance",
                  'label_values(meridian_build_info{job=~"$job"}, instance)'),
        query_var("route", "Route",
                  f'label_values({DURATION}_count{{job=~"$job", instance=~"$instance"}}, '
                  f'http_route)'),
        query_var("cluster", "Upstream cluster",
                  f'label_values({UP_REQUESTS}{{job=~"$job", instance=~"$instance"}}, cluster)'),
    ]


def build(uid, title, rows, tags, description):
    panels, next_id, y = [], 1, 0
    for make_row in rows:
        row = make_row()
        panels.append({"type": "row", "title": row.title, "collapsed": row.collapsed,
                       "id": next_id, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                       "panels": []})
        next_id += 1
        y += 1
        x, line_h = 0, 0
        for p in row.panels:
            w, h = p.pop("_size")
            if x + w > 24:
                x, y, line_h = 0, y + line_h, 0
            p["id"] = next_id
            next_id += 1
            p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            p["datasource"] = DS
            x += w
            line_h = max(line_h, h)
            panels.append(p)
        y += line_h
    return {
        "id": None, "uid": uid, "title": title, "description": description, "tags": tags,
        "timezone": "browser", "editable": True, "graphTooltip": 1, "fiscalYearStartMonth": 0,
        "liveNow": False, "refresh": "10s", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-30m", "to": "now"}, "timepicker": {},
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [], "templating": {"list": variables()}, "panels": panels,
    }


DASHBOARDS = {
    "meridian-overview.json": lambda: build(
        "meridian-overview", "Meridian overview", OVERVIEW_ROWS, ["meridian"],
        "Traffic, errors, latency, upstreams, circuit breakers and retries, the HTTP cache, connections, "
        "instances, config and telemetry health of "
        "Meridian. Generated by dashboards/build.py."),
}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, make in DASHBOARDS.items():
        text = json.dumps(make(), indent=2) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 dashboards/build.py): " + ", ".join(stale),
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
