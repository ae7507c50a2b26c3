#!/usr/bin/env python3
"""Builds grafana/dashboards/*.json (the files Grafana provisions) from the definitions below.

    python3 grafana/build_dashboards.py           # rewrite the JSON files
    python3 grafana/build_dashboards.py --check   # exit 1 when a JSON file is not what this makes

Edit the panels here, not the JSON. Rules every dashboard follows (checked by .ci/config-checks):
* every panel names its datasource by the fixed uid (`prometheus` or `tempo`), no `${DS_...}`,
  no `__inputs`;
* queries use only the names the service exports (docs/metrics.md), the recording rules in
  prometheus/rules, the collector's own otelcol_* metrics and Prometheus' `up`/`scrape_*`/`ALERTS`;
* no exact integer `le` matcher (Prometheus 3 writes integer bounds as le="1.0");
* the `job` variable defaults to `swaggy-stacks` (direct scrape) and offers every job that has
  `swaggy_build_info`, so the same dashboards work for the collector path (`swaggy-stacks-otlp`).
"""

import json
import sys
import urllib.parse
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
PROM = {"type": "prometheus", "uid": "prometheus"}
TEMPO = {"type": "tempo", "uid": "tempo"}
J = 'job="$job"'
RI = "$__rate_interval"
SERVICE = "swaggy-stacks"


# --------------------------------------------------------------------------------------------
# Links to traces
# --------------------------------------------------------------------------------------------
def explore_traces_url(traceql, var_tokens=()):
    """A Grafana Explore URL running `traceql` on the Tempo datasource over the panel's time
    range. `var_tokens` are Grafana variables inside the query (e.g. `${__data.fields.http_route}`)
    that must survive URL encoding; they are percent-encoded by Grafana when the link is built."""
    pane = {
        "t": {
            "datasource": "tempo",
            "queries": [{
                "refId": "A",
                "datasource": TEMPO,
                "queryType": "traceql",
                "query": traceql,
                "limit": 20,
                "tableType": "traces",
            }],
            "range": {"from": "${__from}", "to": "${__to}"},
        }
    }
    raw = json.dumps(pane, separators=(",", ":"))
    keep = ["${__from}", "${__to}", *var_tokens]
    marks = {}
    for i, tok in enumerate(keep):
        mark = f"@@{i}@@"
        marks[mark] = tok
        raw = raw.replace(tok, mark)
    enc = urllib.parse.quote(raw, safe="")
    for mark, tok in marks.items():
        if tok in var_tokens:
            # the value is inserted into a JSON string inside the URL: percent-encode it
            tok = tok[:-1] + ":percentencode}"
        enc = enc.replace(urllib.parse.quote(mark, safe=""), tok)
    return "/explore?schemaVersion=1&orgId=1&panes=" + enc


def trace_link(title, traceql, var_tokens=()):
    return {"title": title, "url": explore_traces_url(traceql, var_tokens), "targetBlank": False}


SVC_TRACES = '{resource.service.name="%s"}' % SERVICE
ERR_TRACES = '{resource.service.name="%s" && status=error}' % SERVICE


# --------------------------------------------------------------------------------------------
# Panel builders
# --------------------------------------------------------------------------------------------
class Board:
    def __init__(self, uid, title, description, tags, variables=("job",), links=()):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.variables = variables
        self.links = list(links)
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        self.panels.append({
            "id": self._id(), "type": "row", "title": title, "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": [],
        })
        self.y += 1

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def panel(self, kind, title, targets, w=12, h=8, unit=None, desc=None, links=None,
              options=None, field=None, overrides=None, datasource=PROM, transformations=None):
        defaults = {"unit": unit or "short"}
        if field:
            defaults.update(field)
        if links:
            defaults["links"] = links
        p = {
            "id": self._id(),
            "type": kind,
            "title": title,
            "gridPos": self._place(w, h),
            "datasource": datasource,
            "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": options or {},
        }
        if desc:
            p["description"] = desc
        if transformations:
            p["transformations"] = transformations
        self.panels.append(p)
        return p

    # shorthands -------------------------------------------------------------------------
    def ts(self, title, exprs, unit=None, w=12, h=8, desc=None, stack=False, links=None, field=None):
        targets = [q(e, l, chr(65 + i)) for i, (e, l) in enumerate(exprs)]
        custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                  "spanNulls": False}
        if stack:
            custom["stacking"] = {"mode": "normal", "group": "A"}
        f = {"custom": custom}
        if field:
            f.update(field)
        return self.panel("timeseries", title, targets, w, h, unit, desc, links,
                          {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                           "tooltip": {"mode": "multi", "sort": "desc"}}, f)

    def stat(self, title, expr, unit=None, w=6, h=4, desc=None, legend="", thresholds=None,
             mappings=None, text_mode="auto", color_mode="value", links=None):
        field = {"thresholds": {"mode": "absolute", "steps": thresholds or [{"color": "green", "value": None}]}}
        if mappings:
            field["mappings"] = mappings
        return self.panel("stat", title, [q(expr, legend, "A", instant=True)], w, h, unit, desc, links,
                          {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                           "colorMode": color_mode, "graphMode": "none", "textMode": text_mode,
                           "justifyMode": "auto", "orientation": "auto"}, field)

    def table(self, title, exprs, w=12, h=8, desc=None, links=None, unit=None, overrides=None,
              exclude=("Time",)):
        targets = [q(e, "", chr(65 + i), instant=True, fmt="table") for i, e in enumerate(exprs)]
        trans = [{"id": "organize", "options": {"excludeByName": {k: True for k in exclude}}}]
        if len(exprs) > 1:
            trans.insert(0, {"id": "merge", "options": {}})
        return self.panel("table", title, targets, w, h, unit, desc, links,
                          {"showHeader": True, "cellHeight": "sm"}, None, overrides,
                          transformations=trans)

    def traces(self, title, traceql, w=24, h=8, desc=None):
        return self.panel("table", title, [{
            "refId": "A", "datasource": TEMPO, "queryType": "traceql", "query": traceql,
            "limit": 20, "tableType": "traces",
        }], w, h, None, desc, None, {"showHeader": True, "cellHeight": "sm"}, datasource=TEMPO)

    # output -------------------------------------------------------------------------------
    def json(self):
        templating = []
        if "job" in self.variables:
            templating.append({
                "name": "job", "label": "job", "type": "query", "datasource": PROM,
                "query": {"query": "label_values(swaggy_build_info, job)", "refId": "job"},
                "definition": "label_values(swaggy_build_info, job)",
                "current": {"selected": True, "text": SERVICE, "value": SERVICE},
                "refresh": 1, "sort": 1, "includeAll": False, "multi": False, "hide": 0,
                "options": [], "regex": "",
                "description": "swaggy-stacks = the service's /metrics; swaggy-stacks-otlp = the same "
                               "metrics through the collector",
            })
        if "route" in self.variables:
            templating.append({
                "name": "route", "label": "route", "type": "query", "datasource": PROM,
                "query": {"query": f'label_values(http_server_request_duration_seconds_count{{job="$job", {HTTP_SCOPE}}}, http_route)',
                          "refId": "route"},
                "definition": f'label_values(http_server_request_duration_seconds_count{{job="$job", {HTTP_SCOPE}}}, http_route)',
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "refresh": 2, "sort": 1, "includeAll": True, "allValue": ".*", "multi": True, "hide": 0,
                "options": [], "regex": "",
            })
        links = [
            {"title": "Swaggy Stacks", "type": "dashboards", "tags": ["swaggy-stacks"], "asDropdown": True,
             "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
             "tooltip": "", "url": ""},
            {"title": "Traces (Tempo)", "type": "link", "url": explore_traces_url(SVC_TRACES),
             "icon": "external link", "tooltip": "Explore the service's traces", "targetBlank": False,
             "asDropdown": False, "includeVars": False, "keepTime": True, "tags": []},
            {"title": "Runbooks", "type": "link",
             "url": "https://github.com/swaggy-stacks/telemetry/blob/main/docs/runbooks.md",
             "icon": "doc", "tooltip": "docs/runbooks.md", "targetBlank": True,
             "asDropdown": False, "includeVars": False, "keepTime": False, "tags": []},
        ] + self.links
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["swaggy-stacks"] + self.tags,
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "timezone": "",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard",
            }]},
            "links": links,
            "templating": {"list": templating},
            "panels": self.panels,
        }


def q(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {"refId": ref, "datasource": PROM, "expr": expr, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "format": fmt, "editorMode": "code"}
    return t


def rate(metric, sel="", by=None, rng=RI):
    s = f"{J}, {sel}" if sel else J
    inner = f"rate({metric}{{{s}}}[{rng}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(qv, metric, sel="", by=None):
    s = f"{J}, {sel}" if sel else J
    by_ = f"{by}, le" if by else "le"
    return f"histogram_quantile({qv}, sum by ({by_}) (rate({metric}_bucket{{{s}}}[{RI}])))"


PCT = {"unit": "percentunit"}
RED_GREEN = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
HEALTH_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "healthy", "color": "green", "index": 0},
    "1": {"text": "degraded", "color": "orange", "index": 1},
    "2": {"text": "unhealthy", "color": "red", "index": 2},
}}]

HTTP_SCOPE = 'http_route!~"/metrics|/health(/.*)?|/ws|/sim/.*"'


# --------------------------------------------------------------------------------------------
# Dashboards
# --------------------------------------------------------------------------------------------
def overview():
    b = Board("swaggy-overview", "Swaggy Stacks / Overview",
              "Health of the swaggy-stacks service at a glance: overall and per-check health, "
              "traffic, errors, latency, firing alerts and the process.", ["overview", "health"])
    b.row("Health")
    b.stat("Overall health",
           f'(max(swaggy_health_status{{{J}, swaggy_health_state="unhealthy"}}) * 2)'
           f' or (max(swaggy_health_status{{{J}, swaggy_health_state="degraded"}}) * 1)'
           f' or (max(swaggy_health_status{{{J}, swaggy_health_state="healthy"}}) * 0)',
           color_mode="background", mappings=HEALTH_MAPPINGS,
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}, {"color": "red", "value": 2}],
           desc="The health engine's overall state: healthy, degraded (an optional check fails) or "
                "unhealthy (a critical check fails; /health answers 503).")
    b.stat("Service metrics arriving", f'(min(up{{{J}}}) * on () group(swaggy_build_info{{{J}}})) or on () vector(0)',
           thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
           mappings=[{"type": "value", "options": {"0": {"text": "NO"}, "1": {"text": "YES"}}}],
           color_mode="background",
           desc="YES when Prometheus scrapes the selected job's target and the service's own series "
                "(swaggy_build_info) are on it. job swaggy-stacks: the service's /metrics. job "
                "swaggy-stacks-otlp: the target is the collector's exporter, which stays up while the "
                "service is down; the service's series leave it 1 minute after its last OTLP export.")
    b.stat("Firing alerts", f'count(ALERTS{{alertstate="firing", service="{SERVICE}", alertname!="Watchdog"}}) or vector(0)',
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}],
           color_mode="background",
           desc="Alerts of service swaggy-stacks firing now (see docs/runbooks.md), without the "
                "always-firing Watchdog heartbeat.")
    b.stat("Uptime", f'max(process_uptime_seconds{{{J}}})', unit="s")
    b.table("Health checks", [
        f'max by (swaggy_health_check, swaggy_health_state) (swaggy_health_check_status{{{J}}}) == 1',
        f'max by (swaggy_health_check) (swaggy_health_check_last_success_age_seconds{{{J}}})',
        f'max by (swaggy_health_check) (swaggy_health_check_duration_seconds{{{J}}})',
    ], w=12, h=9, desc="Current state of every check, seconds since its last success, last duration.",
        overrides=[
            {"matcher": {"id": "byName", "options": "Value #A"}, "properties": [{"id": "custom.hidden", "value": True}]},
            {"matcher": {"id": "byName", "options": "Value #B"}, "properties": [{"id": "displayName", "value": "since last success"}, {"id": "unit", "value": "s"}]},
            {"matcher": {"id": "byName", "options": "Value #C"}, "properties": [{"id": "displayName", "value": "last duration"}, {"id": "unit", "value": "s"}]},
        ])
    b.ts("Seconds since each check last succeeded",
         [(f'max by (swaggy_health_check) (swaggy_health_check_last_success_age_seconds{{{J}}})', "{{swaggy_health_check}}")],
         unit="s", h=9)
    b.row("Traffic")
    b.ts("Requests / s", [(rate("http_server_request_duration_seconds_count", HTTP_SCOPE), "requests"),
                          (rate("http_server_request_duration_seconds_count", HTTP_SCOPE + ', http_response_status_code=~"5.."') + " or vector(0)", "5xx")],
         unit="reqps", w=8)
    b.ts("5xx ratio (5m)", [(f'job:slo_http_errors:ratio_rate5m{{{J}}}', "5xx ratio")], w=8, field=PCT,
         desc="Recorded by prometheus/rules/slo.yml (excluding /metrics, /health, /ws and /sim); "
              "alert HttpErrorRatioHigh above 1 %.")
    b.ts("p99 latency (5m)", [(f'job:http_server_request_duration_seconds:p99_rate5m{{{J}}}', "p99")], unit="s", w=8)
    b.row("Work")
    b.ts("Orders / s", [(rate("swaggy_trading_orders_submitted_total"), "submitted"),
                        (rate("swaggy_trading_orders_filled_total"), "filled"),
                        (rate("swaggy_trading_orders_rejected_total"), "rejected")], unit="ops", w=8)
    b.ts("Task queue depth", [(f'sum by (swaggy_task_queue_name) (swaggy_task_queue_depth{{{J}}})', "{{swaggy_task_queue_name}}"),
                              (f'sum(swaggy_task_queue_workers{{{J}}}) or vector(0)', "workers")], w=8,
         desc="Tasks waiting per queue (Redis list length) and workers with a fresh heartbeat.")
    b.ts("WebSocket connections", [(f'sum(swaggy_websocket_connections{{{J}}})', "open"),
                                   (f'max(swaggy_websocket_connection_limit{{{J}}})', "limit")], w=8)
    b.row("Process")
    b.ts("CPU (fraction of one core)", [(f'max(process_cpu_utilization_ratio{{{J}}})', "cpu")], w=8, field=PCT)
    b.ts("Memory", [(f'max(process_memory_usage_bytes{{{J}}})', "rss")], unit="bytes", w=8)
    b.ts("Tokio runtime", [(f'max(swaggy_runtime_tokio_tasks{{{J}}})', "tasks"),
                           (f'max(swaggy_runtime_tokio_global_queue_depth{{{J}}})', "global queue"),
                           (f'max(process_threads{{{J}}})', "threads")], w=8)
    b.table("Build", [f'swaggy_build_info{{{J}}}'], w=24, h=4,
            exclude=("Time", "Value", "__name__", "otel_scope_name", "otel_scope_version"))
    return b


def http():
    b = Board("swaggy-http", "Swaggy Stacks / HTTP (RED)",
              "Rate, errors and duration of the HTTP API (http.server.request.duration), per route, "
              "with the availability and latency SLOs. Same scope as the alerts: /metrics, /health, "
              "/health/*, /ws and /sim/* are left out; unmatched paths count.", ["http", "red", "slo"], variables=("job", "route"))
    # The alerts' scope (no /metrics, /health*, /ws, /sim/*) on every request panel, then the
    # route variable.
    R = f'{HTTP_SCOPE}, http_route=~"$route"'
    rows_link = trace_link("Traces of ${__data.fields.http_route}",
                           '{resource.service.name="%s" && span.http.route="${__data.fields.http_route}"}' % SERVICE,
                           ["${__data.fields.http_route}"])
    series_link = trace_link("Traces of ${__field.labels.http_route}",
                             '{resource.service.name="%s" && span.http.route="${__field.labels.http_route}"}' % SERVICE,
                             ["${__field.labels.http_route}"])
    b.row("Rate")
    b.ts("Requests / s by route", [(rate("http_server_request_duration_seconds_count", R, "http_route"), "{{http_route}}")],
         unit="reqps", links=[series_link])
    b.ts("Requests / s by status", [(rate("http_server_request_duration_seconds_count", R, "http_response_status_code"), "{{http_response_status_code}}")],
         unit="reqps", stack=True)
    b.ts("Active requests", [(f'sum by (http_request_method) (http_server_active_requests{{{J}}})', "{{http_request_method}}")], w=8,
         desc="All paths: the instrument has no route attribute (open /ws upgrades count here).")
    b.table("Routes (last 5 minutes)", [
        f'sum by (http_route) (rate(http_server_request_duration_seconds_count{{{J}, {R}}}[5m]))',
        f'histogram_quantile(0.99, sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket{{{J}, {R}}}[5m])))',
    ], w=16, links=[rows_link], desc="Requests/s and p99 per route; click a row for its traces.",
        overrides=[
            {"matcher": {"id": "byName", "options": "Value #A"}, "properties": [{"id": "displayName", "value": "req/s"}, {"id": "unit", "value": "reqps"}]},
            {"matcher": {"id": "byName", "options": "Value #B"}, "properties": [{"id": "displayName", "value": "p99"}, {"id": "unit", "value": "s"}]},
        ])
    b.row("Errors")
    b.ts("5xx / s by route", [(rate("http_server_request_duration_seconds_count", R + ', http_response_status_code=~"5.."', "http_route, error_type") + " or vector(0)", "{{http_route}} {{error_type}}")],
         unit="reqps", links=[series_link])
    errors = rate("http_server_request_duration_seconds_count", f'{R}, http_response_status_code=~"5.."')
    requests = rate("http_server_request_duration_seconds_count", R)
    b.ts("5xx ratio", [(f"({errors} or vector(0)) / {requests}", "5xx ratio")],
         field=PCT, desc="Excluding /metrics, /health, /ws and /sim, as the alerts.")
    b.ts("4xx / s by route", [(rate("http_server_request_duration_seconds_count", R + ', http_response_status_code=~"4.."', "http_route, http_response_status_code"), "{{http_route}} {{http_response_status_code}}")],
         unit="reqps", w=24, h=7)
    b.row("Duration")
    b.ts("Latency quantiles", [(quantile(0.5, "http_server_request_duration_seconds", R), "p50"),
                               (quantile(0.9, "http_server_request_duration_seconds", R), "p90"),
                               (quantile(0.99, "http_server_request_duration_seconds", R), "p99")], unit="s",
         desc="Excluding /metrics, /health, /ws and /sim, as the alerts.")
    b.ts("p99 by route", [(quantile(0.99, "http_server_request_duration_seconds", R, "http_route"), "{{http_route}}")],
         unit="s", links=[series_link])
    b.traces("Recent error traces", ERR_TRACES, desc="Tempo: the service's traces with an error status.")
    b.row("SLOs (prometheus/rules/slo.yml)")
    b.ts("Availability: 5xx ratio by window", [
        (f'job:slo_http_errors:ratio_rate5m{{{J}}}', "5m"), (f'job:slo_http_errors:ratio_rate1h{{{J}}}', "1h"),
        (f'job:slo_http_errors:ratio_rate6h{{{J}}}', "6h"), (f'job:slo_http_errors:ratio_rate3d{{{J}}}', "3d")],
        field=PCT, desc="Objective: 99.9 % of requests not 5xx (budget 0.1 %).")
    b.ts("Availability: burn rate (1h)", [(f'job:slo_http_errors:ratio_rate1h{{{J}}} / 0.001', "burn rate"),
                                          ("vector(14.4)", "page (14.4x)"), ("vector(6)", "page (6x, 6h)")],
         desc="1 = the 30-day budget is used up exactly in 30 days.")
    b.ts("Latency: share slower than 0.5 s by window", [
        (f'job:slo_http_latency_bad:ratio_rate5m{{{J}}}', "5m"), (f'job:slo_http_latency_bad:ratio_rate1h{{{J}}}', "1h"),
        (f'job:slo_http_latency_bad:ratio_rate6h{{{J}}}', "6h"), (f'job:slo_http_latency_bad:ratio_rate3d{{{J}}}', "3d")],
        field=PCT, desc='Objective: 99 % of requests within 0.5 s (bucket le="0.5"; budget 1 %).')
    b.ts("Latency: burn rate (1h)", [(f'job:slo_http_latency_bad:ratio_rate1h{{{J}}} / 0.01', "burn rate"),
                                     ("vector(14.4)", "page (14.4x)"), ("vector(6)", "page (6x, 6h)")])
    return b


def trading():
    b = Board("swaggy-trading", "Swaggy Stacks / Trading",
              "Order flow through the simulated broker, fills, rejections, latency, risk checks, "
              "market data freshness and the book.", ["trading"])
    order_link = trace_link("Order traces", '{resource.service.name="%s" && span.http.route="/api/orders"}' % SERVICE)
    b.row("Orders")
    b.ts("Orders / s", [(rate("swaggy_trading_orders_submitted_total"), "submitted"),
                        (rate("swaggy_trading_orders_filled_total"), "filled"),
                        (rate("swaggy_trading_orders_rejected_total"), "rejected"),
                        (rate("swaggy_trading_orders_cancelled_total"), "cancelled")], unit="ops", links=[order_link])
    b.ts("Rejections / s by reason", [(rate("swaggy_trading_orders_rejected_total", by="swaggy_order_reject_reason"), "{{swaggy_order_reject_reason}}")],
         unit="ops", stack=True)
    b.ts("Rejected share", [(f'job:swaggy_trading_orders_rejected:ratio_rate5m{{{J}}}', "all reasons"),
                            (f'job:swaggy_trading_orders_rejected_system:ratio_rate5m{{{J}}}', "system-side")],
         w=8, field=PCT, desc="Alert OrderRejectionSpike: all reasons above 10 % (ticket), system-side above 25 % (page).")
    b.ts("Submit-to-fill latency", [(quantile(0.5, "swaggy_trading_order_latency_seconds"), "p50"),
                                    (quantile(0.99, "swaggy_trading_order_latency_seconds"), "p99")], unit="s", w=8,
         links=[order_link], desc="Alert OrderLatencyHigh: p99 above 0.5 s (ticket) or 2.5 s (page), both bucket bounds.")
    b.ts("Orders in flight", [(f'sum(swaggy_trading_orders_active{{{J}}})', "active")], w=8)
    b.ts("Cancellations / s by reason", [(rate("swaggy_trading_orders_cancelled_total", by="swaggy_order_cancel_reason"), "{{swaggy_order_cancel_reason}}")],
         unit="ops", w=8)
    b.ts("Orders / s by side and type", [(rate("swaggy_trading_orders_submitted_total", by="swaggy_order_side, swaggy_order_type"), "{{swaggy_order_side}} {{swaggy_order_type}}")],
         unit="ops", w=8)
    b.ts("Fill size (median shares)", [(quantile(0.5, "swaggy_trading_fill_size", by="swaggy_order_side"), "{{swaggy_order_side}}")], w=8)
    b.row("Fills and book")
    b.ts("Notional traded (USD / s)", [(rate("swaggy_trading_notional_total", by="swaggy_order_side"), "{{swaggy_order_side}}")], unit="currencyUSD", w=8)
    b.ts("PnL", [(f'sum(swaggy_trading_pnl_realized{{{J}}})', "realized"), (f'sum(swaggy_trading_pnl_unrealized{{{J}}})', "unrealized")],
         unit="currencyUSD", w=8)
    b.ts("Cash and exposure", [(f'sum(swaggy_trading_cash{{{J}}})', "cash"),
                               (f'sum by (swaggy_trading_exposure_kind) (swaggy_trading_exposure{{{J}}})', "{{swaggy_trading_exposure_kind}}")],
         unit="currencyUSD", w=8)
    b.table("Positions", [f'sum by (swaggy_trading_symbol) (swaggy_trading_position_quantity{{{J}}}) != 0'], w=8,
            desc="Signed quantity per symbol (non-zero only).")
    b.ts("Fills / s by side", [(rate("swaggy_trading_fills_total", by="swaggy_order_side"), "{{swaggy_order_side}}")], unit="ops", w=16)
    b.row("Market data and risk")
    b.ts("Market data age", [(f'max by (swaggy_market_feed) (swaggy_market_data_age_seconds{{{J}}})', "{{swaggy_market_feed}}")],
         unit="s", w=8, desc="The broker rejects orders on quotes older than 5 s (alert MarketDataStale).")
    b.ts("Quotes / s", [(rate("swaggy_market_quotes_total", by="swaggy_market_feed"), "{{swaggy_market_feed}}")], unit="ops", w=8)
    b.ts("Risk checks / s", [(rate("swaggy_risk_checks_total", by="swaggy_risk_check, swaggy_risk_outcome"), "{{swaggy_risk_check}} {{swaggy_risk_outcome}}")],
         unit="ops", w=8)
    b.ts("Risk check p99", [(quantile(0.99, "swaggy_risk_check_duration_seconds", by="swaggy_risk_check"), "{{swaggy_risk_check}}")], unit="s", w=24, h=7)
    return b


def mcp():
    b = Board("swaggy-mcp", "Swaggy Stacks / MCP & agents",
              "MCP servers run by the orchestrator, MCP client calls (semantic conventions) and agent "
              "coordinations built from them.", ["mcp", "agents"])
    mcp_link = trace_link("MCP call traces", '{resource.service.name="%s" && span.mcp.method.name != ""}' % SERVICE)
    b.row("Servers")
    b.table("Server state", [f'max by (swaggy_mcp_server, swaggy_mcp_server_state) (swaggy_mcp_server_status{{{J}}}) == 1'],
            w=8, desc="Orchestrator state of every configured MCP server (ready is good).",
            overrides=[{"matcher": {"id": "byName", "options": "Value"}, "properties": [{"id": "custom.hidden", "value": True}]}])
    b.ts("Open client sessions", [(f'sum by (swaggy_mcp_server) (swaggy_mcp_client_sessions{{{J}}})', "{{swaggy_mcp_server}}")], w=8)
    b.ts("Server (re)starts", [(f'sum by (swaggy_mcp_server) (increase(swaggy_mcp_server_restarts_total{{{J}}}[$__range]))', "{{swaggy_mcp_server}}")], w=8,
         desc="Starts performed by the orchestrator over the dashboard's time range.")
    b.row("Client calls")
    b.ts("Calls / s by server and method", [(rate("mcp_client_operation_duration_seconds_count", by="swaggy_mcp_server, mcp_method_name") + " or vector(0)", "{{swaggy_mcp_server}} {{mcp_method_name}}")],
         unit="ops", links=[mcp_link])
    b.ts("Tool calls / s by tool", [(rate("mcp_client_operation_duration_seconds_count", 'mcp_method_name="tools/call"', "swaggy_mcp_server, gen_ai_tool_name") + " or vector(0)", "{{swaggy_mcp_server}} {{gen_ai_tool_name}}")],
         unit="ops")
    b.ts("Error ratio by server (5m)", [(f'job_server:mcp_client_operation_errors:ratio_rate5m{{{J}}}', "{{swaggy_mcp_server}}")],
         field=PCT, desc="Alert McpErrorRatioHigh above 5 % (ticket) / 25 % (critical).")
    b.ts("Errors / s by type", [(rate("mcp_client_operation_duration_seconds_count", 'error_type!=""', "swaggy_mcp_server, error_type") + " or vector(0)", "{{swaggy_mcp_server}} {{error_type}}")],
         unit="ops", links=[mcp_link])
    b.ts("p99 by server and method (5m)", [(f'job_server_method:mcp_client_operation_duration_seconds:p99_rate5m{{{J}}}', "{{swaggy_mcp_server}} {{mcp_method_name}}")],
         unit="s", desc="Alert McpLatencyHigh above 2 s.")
    b.ts("Tool call latency by tool", [(quantile(0.5, "mcp_client_operation_duration_seconds", 'mcp_method_name="tools/call"', "gen_ai_tool_name"), "p50 {{gen_ai_tool_name}}"),
                                       (quantile(0.99, "mcp_client_operation_duration_seconds", 'mcp_method_name="tools/call"', "gen_ai_tool_name"), "p99 {{gen_ai_tool_name}}")],
         unit="s")
    b.row("Agent coordination")
    b.ts("Coordinations / s by task and outcome", [(rate("swaggy_agent_coordinations_total", by="swaggy_agent_task, swaggy_agent_outcome") + " or vector(0)", "{{swaggy_agent_task}} {{swaggy_agent_outcome}}")],
         unit="ops", stack=True)
    b.ts("Failure ratio by task (10m)", [(f'job_task:swaggy_agent_coordination_failures:ratio_rate10m{{{J}}}', "{{swaggy_agent_task}}")],
         field=PCT, desc="Alert AgentCoordinationFailures above 10 %.")
    b.ts("Coordination duration", [(quantile(0.5, "swaggy_agent_coordination_duration_seconds", by="swaggy_agent_task"), "p50 {{swaggy_agent_task}}"),
                                   (quantile(0.99, "swaggy_agent_coordination_duration_seconds", by="swaggy_agent_task"), "p99 {{swaggy_agent_task}}")],
         unit="s", w=8)
    b.ts("MCP calls per coordination (median)", [(quantile(0.5, "swaggy_agent_coordination_calls", by="swaggy_agent_task"), "{{swaggy_agent_task}}")], w=8)
    b.ts("Agents per coordination (median)", [(quantile(0.5, "swaggy_agent_coordination_agents", by="swaggy_agent_task"), "{{swaggy_agent_task}}")], w=8)
    return b


def database():
    b = Board("swaggy-database", "Swaggy Stacks / Database & cache",
              "Postgres/SQLite and Redis client operations (semantic conventions), connection pools "
              "and the quote cache.", ["database", "redis"])
    db_link = trace_link("Database spans", '{resource.service.name="%s" && span.db.system.name != ""}' % SERVICE)
    b.row("Health")
    b.table("Dependency checks", [
        f'max by (swaggy_health_check, swaggy_health_state) (swaggy_health_check_status{{{J}, swaggy_health_check=~"postgres|sqlite|redis"}}) == 1'],
        w=8, h=6, overrides=[{"matcher": {"id": "byName", "options": "Value"}, "properties": [{"id": "custom.hidden", "value": True}]}])
    b.ts("Check latency", [(f'max by (swaggy_health_check) (swaggy_health_check_duration_seconds{{{J}, swaggy_health_check=~"postgres|sqlite|redis"}})', "{{swaggy_health_check}}")],
         unit="s", w=16, h=6)
    b.row("Operations")
    b.ts("Operations / s by system and operation", [(rate("db_client_operation_duration_seconds_count", by="db_system_name, db_operation_name"), "{{db_system_name}} {{db_operation_name}}")],
         unit="ops", links=[db_link])
    b.ts("Errors / s by system and type", [(rate("db_client_operation_duration_seconds_count", 'error_type!=""', "db_system_name, error_type") + " or vector(0)", "{{db_system_name}} {{error_type}}")],
         unit="ops", links=[db_link])
    b.ts("p99 by system and operation", [(quantile(0.99, "db_client_operation_duration_seconds", by="db_system_name, db_operation_name"), "{{db_system_name}} {{db_operation_name}}")],
         unit="s")
    b.ts("Rows returned (median) by query", [(quantile(0.5, "db_client_response_returned_rows", by="db_query_summary"), "{{db_query_summary}}")])
    b.row("Connection pools")
    b.ts("Connections by state", [(f'sum by (db_client_connection_pool_name, db_client_connection_state) (db_client_connections_usage{{{J}}})', "{{db_client_connection_pool_name}} {{db_client_connection_state}}"),
                                  (f'max by (db_client_connection_pool_name) (db_client_connection_max{{{J}}})', "{{db_client_connection_pool_name}} max")], w=8)
    b.ts("Pool utilisation", [(f'max by (db_client_connection_pool_name) (instance_pool:db_client_connections_used:ratio{{{J}}})', "{{db_client_connection_pool_name}}")],
         w=8, field=PCT, desc="Alert DatabasePoolSaturation above 80 % (ticket) / 95 % (critical).")
    b.ts("Waiting for a connection", [(f'sum by (db_client_connection_pool_name) (db_client_connection_pending_requests{{{J}}})', "{{db_client_connection_pool_name}} pending"),
                                      (rate("db_client_connection_timeouts_total", by="db_client_connection_pool_name") + " or vector(0)", "{{db_client_connection_pool_name}} timeouts/s")], w=8)
    b.ts("Connection wait time", [(quantile(0.99, "db_client_connection_wait_time_seconds", by="db_client_connection_pool_name"), "p99 {{db_client_connection_pool_name}}")], unit="s")
    b.ts("Connection use time", [(quantile(0.99, "db_client_connection_use_time_seconds", by="db_client_connection_pool_name"), "p99 {{db_client_connection_pool_name}}")], unit="s")
    b.row("Cache")
    b.ts("Cache lookups / s by result", [(rate("swaggy_cache_lookups_total", by="swaggy_cache_name, swaggy_cache_result"), "{{swaggy_cache_name}} {{swaggy_cache_result}}")],
         unit="ops", stack=True, w=8)
    hits = rate("swaggy_cache_lookups_total", 'swaggy_cache_result="hit"', "swaggy_cache_name")
    lookups = rate("swaggy_cache_lookups_total", by="swaggy_cache_name")
    b.ts("Cache hit ratio", [(f"{hits} / {lookups}", "{{swaggy_cache_name}}")], w=8, field=PCT)
    b.ts("Redis command p99", [(quantile(0.99, "db_client_operation_duration_seconds", 'db_system_name="redis"', "db_operation_name"), "{{db_operation_name}}")], unit="s", w=8)
    return b


def ai():
    b = Board("swaggy-ai", "Swaggy Stacks / AI insights",
              "GenAI client calls (semantic conventions: token usage, operation duration) and the "
              "insights the insights agent produces.", ["ai", "genai"])
    b.row("Insights")
    b.stat("Insights in range", f'sum(increase(swaggy_ai_insights_total{{{J}}}[$__range])) or vector(0)', w=6)
    b.stat("Tokens in range", f'sum(increase(gen_ai_client_token_usage_sum{{{J}}}[$__range])) or vector(0)', w=6)
    b.stat("GenAI calls in range", f'sum(increase(gen_ai_client_operation_duration_seconds_count{{{J}}}[$__range])) or vector(0)', w=6)
    b.stat("GenAI errors in range", f'sum(increase(gen_ai_client_operation_duration_seconds_count{{{J}, error_type!=""}}[$__range])) or vector(0)', w=6,
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}])
    b.ts("Insights / min by kind", [(f'sum by (swaggy_insight_kind) (rate(swaggy_ai_insights_total{{{J}}}[{RI}])) * 60 or vector(0)', "{{swaggy_insight_kind}}")], w=24, h=7)
    b.row("Tokens")
    b.ts("Tokens / s by type", [(rate("gen_ai_client_token_usage_sum", by="gen_ai_token_type") + " or vector(0)", "{{gen_ai_token_type}}")])
    b.ts("Tokens / s by model", [(rate("gen_ai_client_token_usage_sum", by="gen_ai_provider_name, gen_ai_request_model") + " or vector(0)", "{{gen_ai_provider_name}} {{gen_ai_request_model}}")])
    b.ts("Tokens per call", [(quantile(0.5, "gen_ai_client_token_usage", by="gen_ai_token_type"), "p50 {{gen_ai_token_type}}"),
                             (quantile(0.99, "gen_ai_client_token_usage", by="gen_ai_token_type"), "p99 {{gen_ai_token_type}}")], w=24, h=7)
    b.row("Calls")
    b.ts("Calls / s by operation and model", [(rate("gen_ai_client_operation_duration_seconds_count", by="gen_ai_operation_name, gen_ai_request_model") + " or vector(0)", "{{gen_ai_operation_name}} {{gen_ai_request_model}}")],
         unit="ops", w=8)
    b.ts("Errors / s by type", [(rate("gen_ai_client_operation_duration_seconds_count", 'error_type!=""', "error_type") + " or vector(0)", "{{error_type}}")], unit="ops", w=8)
    b.ts("Call duration by model", [(quantile(0.5, "gen_ai_client_operation_duration_seconds", by="gen_ai_request_model"), "p50 {{gen_ai_request_model}}"),
                                    (quantile(0.99, "gen_ai_client_operation_duration_seconds", by="gen_ai_request_model"), "p99 {{gen_ai_request_model}}")], unit="s", w=8)
    return b


def websocket():
    b = Board("swaggy-websocket", "Swaggy Stacks / WebSocket stream",
              "The live WebSocket stream: connections against the limit, frames per topic, gaps for "
              "slow clients, errors and refusals.", ["websocket"])
    b.row("Connections")
    b.stat("Open connections", f'sum(swaggy_websocket_connections{{{J}}}) or vector(0)', w=6)
    b.stat("Limit", f'max(swaggy_websocket_connection_limit{{{J}}})', w=6)
    b.stat("Utilisation", f'max(instance:swaggy_websocket_connections:utilization_ratio{{{J}}}) or vector(0)', unit="percentunit", w=6,
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.8}, {"color": "red", "value": 0.95}],
           color_mode="background")
    b.stat("Refused in range", f'sum(increase(swaggy_websocket_refusals_total{{{J}}}[$__range])) or vector(0)', w=6,
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}])
    b.ts("Connections vs limit", [(f'sum(swaggy_websocket_connections{{{J}}})', "open"),
                                  (f'max(swaggy_websocket_connection_limit{{{J}}})', "limit")], w=24, h=7)
    b.row("Traffic")
    b.ts("Frames sent / s by topic", [(rate("swaggy_websocket_messages_sent_total", by="swaggy_websocket_topic") + " or vector(0)", "{{swaggy_websocket_topic}}")], unit="ops", stack=True)
    b.ts("Gaps / s by topic (slow clients)", [(rate("swaggy_websocket_gaps_total", by="swaggy_websocket_topic") + " or vector(0)", "{{swaggy_websocket_topic}}")], unit="ops")
    b.ts("Errors / s by reason", [(rate("swaggy_websocket_errors_total", by="swaggy_websocket_reason") + " or vector(0)", "{{swaggy_websocket_reason}}")], unit="ops")
    b.ts("Refusals / s by reason", [(rate("swaggy_websocket_refusals_total", by="swaggy_websocket_reason") + " or vector(0)", "{{swaggy_websocket_reason}}")], unit="ops")
    return b


def pipeline():
    b = Board("swaggy-pipeline", "Swaggy Stacks / Telemetry pipeline",
              "The telemetry pipeline watching itself: the service's exporters and cardinality limits, "
              "the OpenTelemetry Collector (job otel-collector), the alerting path (Watchdog, "
              "Prometheus -> Alertmanager -> receivers) and Prometheus' scrapes.", ["pipeline", "otel"])
    C = 'job="otel-collector"'
    b.row("Service exporters")
    b.ts("Export failures by signal (per interval)", [(f'sum by (swaggy_telemetry_signal) (increase(swaggy_telemetry_export_failures_total{{{J}}}[{RI}]))', "{{swaggy_telemetry_signal}}")],
         w=8, desc="Failed OTLP export batches (alert TelemetryExportFailing).")
    b.ts("Spans / s", [(rate("swaggy_telemetry_spans_exported_total"), "exported"), (rate("swaggy_telemetry_spans_dropped_total"), "dropped")], unit="ops", w=8)
    b.ts("Dropped span ratio", [(f'({rate("swaggy_telemetry_spans_dropped_total")} / (({rate("swaggy_telemetry_spans_exported_total")} + {rate("swaggy_telemetry_spans_dropped_total")}) > 0)) or vector(0)', "dropped")],
         w=8, field=PCT, desc="Alert TelemetrySpansDropped above 1 %.")
    b.table("Instruments in cardinality overflow",
            [f'(max by (swaggy_telemetry_instrument) (swaggy_telemetry_metric_overflow{{{J}}}) == 1)'
             ' or on () label_replace(vector(0), "swaggy_telemetry_instrument", "none", "", "")'], w=12, h=6,
            desc='"none" (value 0) is good. Alert TelemetryCardinalityOverflow.')
    b.stat("Overflow series", f'count({{otel_metric_overflow="true", {J}}}) or vector(0)', w=12, h=6,
           thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}], color_mode="background",
           desc='Series with otel_metric_overflow="true" (excess attribute sets folded into one).')
    b.row("Collector (job otel-collector)")
    b.stat("Collector up", f'min(up{{{C}}}) or vector(0)', w=6, thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
           mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}], color_mode="background")
    b.stat("Collector uptime", f'max(otelcol_process_uptime_seconds_total{{{C}}})', unit="s", w=6)
    b.stat("Collector memory (RSS)", f'max(otelcol_process_memory_rss_bytes{{{C}}})', unit="bytes", w=6)
    b.stat("OTLP exporter queue", f'max(otelcol_exporter_queue_size{{{C}}}) / max(otelcol_exporter_queue_capacity{{{C}}})', unit="percentunit", w=6,
           thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.5}, {"color": "red", "value": 0.9}])
    b.ts("Spans / s", [(f'sum by (receiver) (rate(otelcol_receiver_accepted_spans_total{{{C}}}[{RI}]))', "accepted {{receiver}}"),
                       (f'sum by (receiver) (rate(otelcol_receiver_refused_spans_total{{{C}}}[{RI}]))', "refused {{receiver}}"),
                       (f'sum by (exporter) (rate(otelcol_exporter_sent_spans_total{{{C}}}[{RI}]))', "sent {{exporter}}"),
                       (f'sum by (exporter) (rate(otelcol_exporter_send_failed_spans_total{{{C}}}[{RI}]))', "failed {{exporter}}")], unit="ops")
    b.ts("Metric points / s", [(f'sum by (receiver) (rate(otelcol_receiver_accepted_metric_points_total{{{C}}}[{RI}]))', "accepted {{receiver}}"),
                               (f'sum by (receiver) (rate(otelcol_receiver_refused_metric_points_total{{{C}}}[{RI}]))', "refused {{receiver}}"),
                               (f'sum by (exporter) (rate(otelcol_exporter_sent_metric_points_total{{{C}}}[{RI}]))', "sent {{exporter}}"),
                               (f'sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points_total{{{C}}}[{RI}]))', "failed {{exporter}}")], unit="ops")
    b.ts("Dropped on enqueue / s", [(f'sum by (exporter) (rate(otelcol_exporter_enqueue_failed_spans_total{{{C}}}[{RI}]))', "spans {{exporter}}"),
                                    (f'sum by (exporter) (rate(otelcol_exporter_enqueue_failed_metric_points_total{{{C}}}[{RI}]))', "metric points {{exporter}}")],
         unit="ops", w=8)
    b.ts("Exporter queue", [(f'max by (exporter) (otelcol_exporter_queue_size{{{C}}})', "size {{exporter}}"),
                            (f'max by (exporter) (otelcol_exporter_queue_capacity{{{C}}})', "capacity {{exporter}}")], w=8)
    b.ts("Collector CPU", [(f'sum(rate(otelcol_process_cpu_seconds_total{{{C}}}[{RI}]))', "cores")], w=8)
    AM = 'job="alertmanager"'
    P = 'job="prometheus"'
    b.row("Alerting (Prometheus -> Alertmanager -> receivers)")
    b.stat("Watchdog", 'max(ALERTS{alertname="Watchdog", alertstate="firing"}) or vector(0)', w=6,
           thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}], color_mode="background",
           mappings=[{"type": "value", "options": {"0": {"text": "NOT FIRING"}, "1": {"text": "FIRING"}}}],
           desc="The always-firing heartbeat (prometheus/rules/alerting.yml): FIRING is healthy. Its "
                "notifications go to the external dead-man's switch (ALERT_WATCHDOG_WEBHOOK_URL).")
    b.stat("Notifications failed (1h)", f'sum(increase(alertmanager_notifications_failed_total{{{AM}}}[1h])) or vector(0)', w=6,
           thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}], color_mode="background",
           desc="Notifications Alertmanager gave up on (alert AlertmanagerNotificationsFailing).")
    b.ts("Notifications / s by integration", [
        (f'sum by (integration) (rate(alertmanager_notifications_total{{{AM}}}[{RI}]))', "sent {{integration}}"),
        (f'sum by (integration) (rate(alertmanager_notifications_failed_total{{{AM}}}[{RI}]))', "failed {{integration}}"),
        (f'sum by (integration) (rate(alertmanager_notification_requests_failed_total{{{AM}}}[{RI}]))', "failed attempts {{integration}}")],
         unit="ops", w=12, desc="Alertmanager -> receivers. A failed notification was retried for a group interval first.")
    b.ts("Prometheus -> Alertmanager", [
        (f'sum(rate(prometheus_notifications_sent_total{{{P}}}[{RI}]))', "sent"),
        (f'sum(rate(prometheus_notifications_errors_total{{{P}}}[{RI}]))', "errors"),
        (f'sum(rate(prometheus_notifications_dropped_total{{{P}}}[{RI}]))', "dropped")], unit="ops", w=12,
         desc="Alerts Prometheus sent to Alertmanager; errors and drops mean alerts never reach it.")
    b.ts("Rule evaluation failures / s", [(f'sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{{{P}}}[{RI}])) or vector(0)', "{{rule_group}}")],
         unit="ops", w=12)
    b.ts("Alertmanager alerts by state", [(f'sum by (state) (alertmanager_alerts{{{AM}}})', "{{state}}")], w=12,
         desc="active / suppressed (inhibited or silenced) / unprocessed.")
    b.row("Prometheus scrapes")
    jobs = "swaggy-stacks|swaggy-stacks-otlp|otel-collector|alertmanager|prometheus"
    b.ts("Targets up", [(f'up{{job=~"{jobs}"}}', "{{job}} {{instance}}")], w=8,
         field={"min": 0, "max": 1})
    b.ts("Scrape duration", [(f'scrape_duration_seconds{{job=~"{jobs}"}}', "{{job}}")], unit="s", w=8)
    b.ts("Samples per scrape", [(f'scrape_samples_scraped{{job=~"{jobs}"}}', "{{job}}")], w=8)
    return b


BOARDS = [overview, http, trading, mcp, database, ai, websocket, pipeline]
FILES = {
    "swaggy-overview": "overview.json", "swaggy-http": "http.json", "swaggy-trading": "trading.json",
    "swaggy-mcp": "mcp-agents.json", "swaggy-database": "database-cache.json", "swaggy-ai": "ai-insights.json",
    "swaggy-websocket": "websocket.json", "swaggy-pipeline": "pipeline.json",
}


def render():
    out = {}
    for make in BOARDS:
        b = make()
        out[FILES[b.uid]] = json.dumps(b.json(), indent=2, ensure_ascii=False) + "\n"
    return out


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, text in render().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    known = set(FILES.values())
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in known)
    if check and (stale or extra):
        for name in stale:
            print(f"grafana/dashboards/{name} differs from grafana/build_dashboards.py (run it)")
        for name in extra:
            print(f"grafana/dashboards/{name} is not made by grafana/build_dashboards.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
