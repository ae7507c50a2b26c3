#!/usr/bin/env python3
"""Structural checks of the pipeline configuration that promtool/amtool do not do.

Run from the repository root by .ci/config-checks (which also runs promtool, amtool, yamllint and
check-jsonschema). Subcommands:

  dashboards       every grafana/dashboards/*.json parses, has no __inputs and no ${DS_...},
                   names only the fixed datasource uids (prometheus, tempo), unique uids/ids
  le               no rule, dashboard or datasource query matches an exact integer `le`
  names            every metric and label in rules, dashboards and datasource queries exists:
                   docs/metrics.md (the service's exported names), the recording rules, the
                   collector's own metrics, Alertmanager's and Prometheus' own metrics (both are
                   scraped by prometheus.yml) and Prometheus' synthetic series
  promql FILE      writes every dashboard/datasource query (Grafana variables substituted) as a
                   recording rule into FILE, for `promtool check rules` to parse
  alerts           every alert: severity, page, service labels; summary, description and
                   runbook_url annotations; the runbook anchor exists in docs/runbooks.md; a
                   promtool test expects it firing and one expects it quiet (the always-firing
                   Watchdog: quiet while pending)
  routes           prints `expected-receivers labels...` for every alert rule (the routing scheme)
                   and for alertmanager/routes-test.txt
  inhibitions URL  posts the cases of alertmanager/inhibit-test.txt to a running Alertmanager
                   (started by .ci/config-checks on the rendered config) and checks which
                   alerts its inhibit_rules mute
  collector        otel-collector/config.yaml: receivers, processor order, exporter settings that
                   keep metric names identical to the service's /metrics, metric_expiration
                   against the export interval and the state alerts' `for:`
  compose          compose.yaml: pinned images, a health check or a reason for none, depends_on
                   conditions, configs mounted from the repository, service.instance.id for the
                   app, Prometheus' external labels expanded, every receiver URL passed through
"""

import glob
import json
import os
import re
import sys
import time
import urllib.request

import yaml

ROOT = os.getcwd()
RULE_FILES = sorted(glob.glob("prometheus/rules/*.yml"))
TEST_FILES = sorted(glob.glob("prometheus/rules/tests/*.yml"))
DASHBOARDS = sorted(glob.glob("grafana/dashboards/*.json"))
DATASOURCES = "grafana/provisioning/datasources/datasources.yml"
DS_UIDS = {"prometheus": "prometheus", "tempo": "tempo"}
RUNBOOK_BASE = "https://github.com/swaggy-stacks/telemetry/blob/main/docs/runbooks.md#"

errors = []


def fail(msg):
    errors.append(msg)


def finish(what):
    if errors:
        print(f"FAIL {what}")
        for e in errors:
            print(f"     {e}")
        sys.exit(1)
    print(f"ok   {what}")


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------
def load_rules():
    out = []
    for f in RULE_FILES:
        for g in yaml.safe_load(open(f))["groups"]:
            for r in g["rules"]:
                out.append((f, g["name"], r))
    return out


def dashboard_exprs():
    """(where, promql) for every Prometheus query in the dashboards and datasources."""
    out = []
    for f in DASHBOARDS:
        d = json.load(open(f))
        for p in d.get("panels", []):
            for t in p.get("targets", []):
                ds = t.get("datasource") or p.get("datasource") or {}
                if ds.get("type") == "prometheus" and t.get("expr"):
                    out.append((f"{f}: panel '{p.get('title')}'", t["expr"]))
        for v in d.get("templating", {}).get("list", []):
            qv = v.get("query")
            qs = qv.get("query") if isinstance(qv, dict) else qv
            if v.get("type") == "query" and qs:
                m = re.fullmatch(r"label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)", qs.strip())
                if not m:
                    fail(f"{f}: variable {v.get('name')}: unexpected query {qs!r}")
                    continue
                out.append((f"{f}: variable {v.get('name')}", m.group(1)))
    ds = yaml.safe_load(open(DATASOURCES))
    for d in ds.get("datasources", []):
        t2m = (d.get("jsonData") or {}).get("tracesToMetrics") or {}
        for qd in t2m.get("queries", []):
            out.append((f"{DATASOURCES}: {d['name']} tracesToMetrics '{qd['name']}'", qd["query"]))
    return out


GRAFANA_VARS = [
    ("$$__tags", 'job="swaggy-stacks"'), ("$__tags", 'job="swaggy-stacks"'),
    ("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h"),
    ("${job}", "swaggy-stacks"), ("$job", "swaggy-stacks"),
    ("${route}", ".*"), ("$route", ".*"),
]


def substitute(expr):
    for k, v in GRAFANA_VARS:
        expr = expr.replace(k, v)
    if re.search(r"\$\{?[A-Za-z_]", expr):
        fail(f"unknown Grafana variable in {expr!r}")
    return expr


# ------------------------------------------------------------------------------------------
# A small PromQL scanner: metric names, their label matchers, grouping labels
# ------------------------------------------------------------------------------------------
TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<dur>\[[^\]]*\])
  | (?P<num>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?![A-Za-z_:]))
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=,(){}])
""", re.X)
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "Inf", "NaN", "atan2"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio"}


def tokens(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot scan {expr[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def scan(expr):
    """Returns (selectors, grouping_labels): selectors are (metric or None, [(label, op, value)])."""
    toks = tokens(expr)
    sels, grouping = [], []
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and val in GROUPING and nxt[1] == "(":
            j = i + 2
            while toks[j][1] != ")":
                if toks[j][0] == "ident":
                    grouping.append(toks[j][1])
                j += 1
            i = j + 1
            continue
        if kind == "ident" and (nxt[1] == "(" or val in AGGREGATIONS):
            i += 1  # a function or an aggregation (`sum by (x) (...)`)
            continue
        if kind == "ident" and val in KEYWORDS:
            i += 1
            continue
        if (kind == "ident") or (kind == "op" and val == "{"):
            name = val if kind == "ident" else None
            j = i + 1 if kind == "ident" else i
            matchers = []
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while toks[j][1] != "}":
                    if toks[j][1] == ",":
                        j += 1
                        continue
                    lab, op, v = toks[j][1], toks[j + 1][1], toks[j + 2][1]
                    matchers.append((lab, op, v[1:-1]))
                    j += 3
                j += 1
            sels.append((name, matchers))
            i = j
            continue
        i += 1
    return sels, grouping


# ------------------------------------------------------------------------------------------
# What exists
# ------------------------------------------------------------------------------------------
COMMON_LABELS = {"job", "instance", "otel_scope_name", "otel_scope_version", "otel_metric_overflow",
                 "exported_job", "exported_instance", "__name__"}
COLLECTOR_LABELS = {"job", "instance", "receiver", "transport", "exporter", "processor", "data_type",
                    "otel_scope_name", "otel_scope_version", "service_name", "service_instance_id",
                    "service_version", "otel_signal"}
# The collector's own metrics used by rules and dashboards, as its pull reader exposes them in
# 0.116 (counters with _total, units appended).
COLLECTOR_METRICS = {
    "otelcol_receiver_accepted_spans_total", "otelcol_receiver_refused_spans_total",
    "otelcol_receiver_accepted_metric_points_total", "otelcol_receiver_refused_metric_points_total",
    "otelcol_exporter_sent_spans_total", "otelcol_exporter_send_failed_spans_total",
    "otelcol_exporter_sent_metric_points_total", "otelcol_exporter_send_failed_metric_points_total",
    "otelcol_exporter_enqueue_failed_spans_total", "otelcol_exporter_enqueue_failed_metric_points_total",
    "otelcol_exporter_queue_size", "otelcol_exporter_queue_capacity",
    "otelcol_process_uptime_seconds_total", "otelcol_process_memory_rss_bytes",
    "otelcol_process_cpu_seconds_total",
}
# Prometheus' synthetic series, and its own metrics (job "prometheus" in prometheus.yml).
PROMETHEUS_METRICS = {
    "up": {"job", "instance"}, "scrape_duration_seconds": {"job", "instance"},
    "scrape_samples_scraped": {"job", "instance"}, "scrape_series_added": {"job", "instance"},
    "ALERTS": None, "ALERTS_FOR_STATE": None,  # any label
    "prometheus_notifications_sent_total": {"job", "instance", "alertmanager"},
    "prometheus_notifications_errors_total": {"job", "instance", "alertmanager"},
    "prometheus_notifications_dropped_total": {"job", "instance"},
    "prometheus_rule_evaluation_failures_total": {"job", "instance", "rule_group"},
}
# Alertmanager's own metrics (job "alertmanager" in prometheus.yml; Alertmanager 0.25+ exports
# the per-integration counters at 0 from start).
ALERTMANAGER_METRICS = {
    "alertmanager_notifications_total": {"job", "instance", "integration"},
    "alertmanager_notifications_failed_total": {"job", "instance", "integration"},
    "alertmanager_notification_requests_total": {"job", "instance", "integration"},
    "alertmanager_notification_requests_failed_total": {"job", "instance", "integration"},
    "alertmanager_alerts": {"job", "instance", "state"},
}


def catalog():
    """{prometheus name: set of labels} from docs/metrics.md (histograms expanded)."""
    names = {}
    for line in open("docs/metrics.md"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[1].startswith("`"):
            continue
        prom, kind, attrs = cells[1].strip("`"), cells[2], cells[4]
        labels = {a.strip().strip("`").replace(".", "_") for a in attrs.split(",") if a.strip()}
        labels |= COMMON_LABELS
        if kind == "histogram":
            names[prom + "_bucket"] = labels | {"le"}
            names[prom + "_sum"] = labels
            names[prom + "_count"] = labels
        else:
            names[prom] = labels
    if len(names) < 50:
        fail(f"docs/metrics.md: only {len(names)} names parsed; has the table format changed?")
    names["target_info"] = None
    return names


def recorded(rules, known):
    """{record name: labels} for the recording rules; labels = what their `by (...)` keep."""
    out = {}
    for _, _, r in rules:
        if "record" not in r:
            continue
        _, grouping = scan(r["expr"])
        labels = set(grouping) | {"job"}
        out[r["record"]] = labels
    return out


# ------------------------------------------------------------------------------------------
# Subcommands
# ------------------------------------------------------------------------------------------
def cmd_dashboards():
    uids = {}
    for f in DASHBOARDS:
        raw = open(f).read()
        try:
            d = json.loads(raw)
        except ValueError as e:
            fail(f"{f}: invalid JSON: {e}")
            continue
        if "__inputs" in d or "__requires" in d:
            fail(f"{f}: has __inputs/__requires (an export for sharing, not provisioning)")
        if "${DS_" in raw or "$DS_" in raw:
            fail(f"{f}: uses a ${{DS_...}} datasource variable")
        uid = d.get("uid")
        if not uid:
            fail(f"{f}: no uid")
        elif uid in uids:
            fail(f"{f}: uid {uid} also used by {uids[uid]}")
        uids[uid] = f
        ids = set()

        def check_ds(where, ds):
            if not isinstance(ds, dict) or DS_UIDS.get(ds.get("type")) != ds.get("uid"):
                fail(f"{f}: {where}: datasource {ds!r} is not one of the fixed uids {DS_UIDS}")

        for p in d.get("panels", []):
            if p.get("id") in ids:
                fail(f"{f}: duplicate panel id {p.get('id')}")
            ids.add(p.get("id"))
            if p.get("type") == "row":
                continue
            check_ds(f"panel '{p.get('title')}'", p.get("datasource"))
            if not p.get("targets"):
                fail(f"{f}: panel '{p.get('title')}' has no query")
            for t in p.get("targets", []):
                check_ds(f"panel '{p.get('title')}' target {t.get('refId')}", t.get("datasource", p.get("datasource")))
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") == "query":
                check_ds(f"variable {v.get('name')}", v.get("datasource"))
                cur = (v.get("current") or {}).get("value")
                if v.get("name") == "job" and cur != "swaggy-stacks":
                    fail(f"{f}: variable job must default to swaggy-stacks, not {cur!r}")
    ds = yaml.safe_load(open(DATASOURCES))
    got = {d.get("uid"): d.get("type") for d in ds.get("datasources", [])}
    for uid, typ in ((v, k) for k, v in DS_UIDS.items()):
        if got.get(uid) != typ:
            fail(f"{DATASOURCES}: no {typ} datasource with uid {uid}")
    if len(DASHBOARDS) < 8:
        fail(f"expected 8 dashboards, found {len(DASHBOARDS)}")
    finish(f"dashboards ({len(DASHBOARDS)} files)")


INT_LE = re.compile(r"""\ble\s*(?:=|!=|=~|!~)\s*\\?["'`]\+?\d+(?:\.0*)?\\?["'`]""")


def cmd_le():
    paths = RULE_FILES + DASHBOARDS + [DATASOURCES]
    for f in paths:
        for n, line in enumerate(open(f), 1):
            if f.endswith(".yml") and line.lstrip().startswith("#"):
                continue
            if INT_LE.search(line):
                fail(f"{f}:{n}: exact integer le matcher: {line.strip()}")
    # and in the parsed expressions (catches matchers split across lines)
    exprs = [(f"{f} {r.get('alert') or r.get('record')}", r["expr"]) for f, _, r in load_rules()]
    exprs += dashboard_exprs()
    for where, e in exprs:
        sels, _ = scan(substitute(e))
        for name, matchers in sels:
            for lab, _, v in matchers:
                if lab == "le" and re.fullmatch(r"\+?\d+(\.0*)?", v):
                    fail(f"{where}: {name}{{le=\"{v}\"}} matches an exact integer bucket bound")
    finish(f"no integer le matchers ({len(paths)} files)")


def cmd_names():
    rules = load_rules()
    known = catalog()
    rec = recorded(rules, known)
    all_labels = set()
    for labels in known.values():
        all_labels |= labels or set()
    all_labels |= COLLECTOR_LABELS | {"alertname", "alertstate", "severity", "page", "service", "le"}
    for labels in list(PROMETHEUS_METRICS.values()) + list(ALERTMANAGER_METRICS.values()):
        all_labels |= labels or set()
    exprs = [(f"{f}: {r.get('alert') or r.get('record')}", r["expr"]) for f, _, r in rules]
    exprs += dashboard_exprs()
    for where, e in exprs:
        try:
            sels, grouping = scan(substitute(e))
        except (ValueError, IndexError) as err:
            fail(f"{where}: cannot scan {e!r}: {err}")
            continue
        for name, matchers in sels:
            labels = [lab for lab, _, _ in matchers]
            if name is None:
                for lab, op, v in matchers:
                    if lab == "__name__":
                        fail(f"{where}: selects by __name__ ({v}); name the metric instead")
                allowed = all_labels
            elif name in known:
                allowed = known[name]
            elif name in rec:
                allowed = rec[name] | {"instance"}
            elif name in COLLECTOR_METRICS:
                allowed = COLLECTOR_LABELS
            elif name in PROMETHEUS_METRICS:
                allowed = PROMETHEUS_METRICS[name]
            elif name in ALERTMANAGER_METRICS:
                allowed = ALERTMANAGER_METRICS[name]
            else:
                fail(f"{where}: metric {name} is not exported (docs/metrics.md), recorded, a collector, "
                     "an Alertmanager or a Prometheus metric")
                continue
            if allowed is None:
                continue
            for lab in labels:
                if lab not in allowed:
                    fail(f"{where}: {name or '{...}'} has no label {lab} (known: {sorted(allowed - COMMON_LABELS)})")
        for lab in grouping:
            if lab not in all_labels:
                fail(f"{where}: groups by unknown label {lab}")
    # legends name labels too
    for f in DASHBOARDS:
        d = json.load(open(f))
        for p in d.get("panels", []):
            for t in p.get("targets", []):
                for lab in re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", t.get("legendFormat", "")):
                    if lab not in all_labels:
                        fail(f"{f}: panel '{p.get('title')}': legend uses unknown label {lab}")
    finish(f"metric and label names ({len(exprs)} expressions, {len(known)} exported series names, {len(rec)} recorded)")


def cmd_promql(out):
    rules = []
    for i, (where, e) in enumerate(dashboard_exprs()):
        rules.append({"record": f"grafana:query:{i}", "expr": substitute(e)})
    yaml.safe_dump({"groups": [{"name": "grafana-queries", "rules": rules}]}, open(out, "w"))
    print(f"ok   wrote {len(rules)} dashboard/datasource queries to {out}")


def runbook_anchors():
    anchors = set()
    for line in open("docs/runbooks.md"):
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def cmd_alerts():
    anchors = runbook_anchors()
    alerts = [(f, g, r) for f, g, r in load_rules() if "alert" in r]
    firing, quiet = set(), set()
    for tf in TEST_FILES:
        for t in yaml.safe_load(open(tf)).get("tests", []):
            for a in t.get("alert_rule_test", []):
                exp = a.get("exp_alerts") or []
                if not exp:
                    quiet.add(a["alertname"])
                for e in exp:
                    firing.add((a["alertname"], e["exp_labels"].get("severity")))
    names = set()
    for f, g, r in alerts:
        name = r["alert"]
        names.add(name)
        labels = r.get("labels") or {}
        ann = r.get("annotations") or {}
        where = f"{f}: {name} ({labels.get('severity')})"
        if name == WATCHDOG:
            # The dead-man's switch heartbeat: not a problem, never paired or paged.
            if labels.get("severity") != "none" or labels.get("page") != "false":
                fail(f"{where}: the heartbeat must be severity none, page \"false\"")
        elif labels.get("severity") not in ("critical", "warning"):
            fail(f"{where}: severity must be critical or warning")
        if labels.get("page") not in ("true", "false"):
            fail(f"{where}: page must be \"true\" or \"false\"")
        if labels.get("page") == "true" and labels.get("severity") != "critical":
            fail(f"{where}: only critical alerts page")
        if labels.get("service") != "swaggy-stacks":
            fail(f"{where}: service must be swaggy-stacks")
        for k in ("summary", "description", "runbook_url"):
            if not ann.get(k):
                fail(f"{where}: annotation {k} missing")
        url = ann.get("runbook_url", "")
        if not url.startswith(RUNBOOK_BASE):
            fail(f"{where}: runbook_url must start with {RUNBOOK_BASE}")
        elif url[len(RUNBOOK_BASE):] not in anchors:
            fail(f"{where}: docs/runbooks.md has no section #{url[len(RUNBOOK_BASE):]}")
        if not r.get("for"):
            fail(f"{where}: no `for:` (an alert must survive one bad evaluation)")
        if (name, labels.get("severity")) not in firing:
            fail(f"{where}: no promtool test expects it firing")
        if name not in quiet:
            fail(f"{where}: no promtool test expects it quiet")
    finish(f"alerts ({len(alerts)} rules, {len(names)} names, runbooks and tests)")


WATCHDOG = "Watchdog"


def expected_receivers(labels):
    if labels.get("alertname") == WATCHDOG:
        return ["watchdog"]
    if labels.get("service") != "swaggy-stacks":
        return ["fallback"]
    out = []
    if labels.get("page") == "true":
        out.append("swaggy-pager")
    sev = labels.get("severity")
    out.append({"critical": "swaggy-chat", "warning": "swaggy-tickets"}.get(sev, "swaggy-tickets"))
    return out


def cmd_routes():
    seen = set()
    for _, _, r in load_rules():
        if "alert" not in r:
            continue
        labels = {"alertname": r["alert"], **{k: str(v) for k, v in (r.get("labels") or {}).items()}}
        line = ",".join(expected_receivers(labels)) + " " + " ".join(f"{k}={v}" for k, v in labels.items())
        if line not in seen:
            seen.add(line)
            print(line)
    for line in open("alertmanager/routes-test.txt"):
        line = line.strip()
        if line and not line.startswith("#"):
            print(" ".join(line.split()))


def cmd_collector():
    c = yaml.safe_load(open("otel-collector/config.yaml"))
    otlp = c["receivers"]["otlp"]["protocols"]
    if otlp.get("grpc", {}).get("endpoint") != "0.0.0.0:4317" or otlp.get("http", {}).get("endpoint") != "0.0.0.0:4318":
        fail("receivers.otlp: grpc 0.0.0.0:4317 and http 0.0.0.0:4318 expected")
    pipes = c["service"]["pipelines"]
    for name in ("traces", "metrics"):
        p = pipes.get(name)
        if not p:
            fail(f"pipeline {name} missing")
            continue
        procs = p.get("processors", [])
        if not procs or procs[0] != "memory_limiter" or procs[-1] != "batch":
            fail(f"pipeline {name}: processors {procs}: memory_limiter must be first and batch last")
        for comp, kind in [(x, "receivers") for x in p.get("receivers", [])] + [(x, "processors") for x in procs] + [(x, "exporters") for x in p.get("exporters", [])]:
            if comp not in (c.get(kind) or {}):
                fail(f"pipeline {name}: {comp} is not defined under {kind}")
    if "prometheus" not in pipes.get("metrics", {}).get("exporters", []):
        fail("metrics pipeline must export to prometheus")
    if "otlp/traces" not in pipes.get("traces", {}).get("exporters", []):
        fail("traces pipeline must export to otlp/traces")
    prom = c["exporters"]["prometheus"]
    if prom.get("add_metric_suffixes") is not True:
        fail("exporters.prometheus.add_metric_suffixes must be true (names as on /metrics)")
    if (prom.get("resource_to_telemetry_conversion") or {}).get("enabled") is not False:
        fail("exporters.prometheus.resource_to_telemetry_conversion.enabled must be false")
    for k in ("namespace", "const_labels", "translation_strategy"):
        if prom.get(k):
            fail(f"exporters.prometheus.{k} changes metric names or labels")
    if prom.get("endpoint") != "0.0.0.0:8889":
        fail("exporters.prometheus.endpoint must be 0.0.0.0:8889 (prometheus.yml scrapes it)")
    res = c["processors"]["resource"]["attributes"]
    if not any(a.get("key") == "deployment.environment" and a.get("action") == "upsert"
               and "${env:DEPLOYMENT_ENVIRONMENT" in str(a.get("value")) for a in res):
        fail("processors.resource must upsert deployment.environment from ${env:DEPLOYMENT_ENVIRONMENT}")
    readers = c["service"]["telemetry"]["metrics"].get("readers") or []
    pull = [r["pull"]["exporter"]["prometheus"] for r in readers if "pull" in r]
    if not pull or pull[0].get("host") != "0.0.0.0" or pull[0].get("port") != 8888:
        fail("service.telemetry.metrics.readers: a pull prometheus reader on 0.0.0.0:8888 expected")
    if c.get("extensions", {}).get("health_check", {}).get("endpoint") != "0.0.0.0:13133" or \
            "health_check" not in c["service"].get("extensions", []):
        fail("health_check extension on 0.0.0.0:13133 expected and enabled")
    check_metric_expiration(prom)
    finish("otel-collector/config.yaml")


def seconds(d):
    """A Prometheus/Go duration such as 1m, 15s, 1m30s, 2h -> seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", str(d))
    if not parts or "".join(n + u for n, u in parts) != str(d):
        raise ValueError(f"not a duration: {d!r}")
    return sum(float(n) * units[u] for n, u in parts)


# The "current state" gauges: the service exports only the current state's series, so an ended
# state lives on at the collector's exporter until metric_expiration.
STATE_GAUGES = ("swaggy_health_status", "swaggy_health_check_status", "swaggy_mcp_server_status")


def check_metric_expiration(prom):
    """metric_expiration must outlast a few lost exports, and an ended state must leave the
    exporter before any state alert's `for:` runs out."""
    try:
        expiration = seconds(prom.get("metric_expiration", "5m"))
    except ValueError as e:
        fail(f"exporters.prometheus.metric_expiration: {e}")
        return
    app_env = yaml.safe_load(open("compose.yaml"))["services"]["app"].get("environment", {})
    export = int(str(app_env.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))) / 1000
    scrape = seconds(yaml.safe_load(open("prometheus/prometheus.yml"))["global"]["scrape_interval"])
    fors = [(r["alert"], seconds(r["for"])) for _, _, r in load_rules()
            if "alert" in r and r.get("for") and any(g in r["expr"] for g in STATE_GAUGES)]
    if expiration < 3 * export:
        fail(f"exporters.prometheus.metric_expiration {expiration:g}s is under 3x the service's export "
             f"interval ({export:g}s, compose.yaml): live series would flap between exports")
    linger = expiration + export + scrape
    for name, f in fors:
        if linger >= f:
            fail(f"exporters.prometheus.metric_expiration {expiration:g}s: an ended state lingers up to "
                 f"{linger:g}s on the collector path, not shorter than {name}'s `for:` ({f:g}s) - a blip pages")


NO_HEALTHCHECK = {
    "otel-collector": "the image has no shell or HTTP client",
    "tempo-init": "a one-shot job",
}


def cmd_compose():
    c = yaml.safe_load(open("compose.yaml"))
    services = c["services"]
    for name in ("app", "postgres", "redis", "otel-collector", "prometheus", "alertmanager", "grafana", "tempo"):
        if name not in services:
            fail(f"service {name} missing")
    for name, s in services.items():
        img = s.get("image", "")
        if "build" not in s:
            tag = img.rsplit(":", 1)[1] if ":" in img.split("/")[-1] else ""
            if not tag or tag == "latest" or not re.search(r"\d", tag):
                fail(f"{name}: image {img!r} is not pinned to a version")
        if "healthcheck" not in s and name not in NO_HEALTHCHECK:
            fail(f"{name}: no healthcheck")
        for dep, cond in (s.get("depends_on") or {}).items():
            cond = (cond or {}).get("condition")
            want = "service_healthy" if "healthcheck" in services.get(dep, {}) else None
            if dep == "tempo-init":
                want = "service_completed_successfully"
            if want and cond != want:
                fail(f"{name}: depends_on {dep} should use condition {want}, not {cond}")
            if not cond:
                fail(f"{name}: depends_on {dep} without a condition")
        for v in s.get("volumes") or []:
            src = v.split(":", 1)[0]
            if src.startswith("./") and not os.path.exists(src):
                fail(f"{name}: mounts {src}, which does not exist")
    env = services["app"].get("environment", {})
    for k, want in {"DATABASE_URL": "@postgres:5432/", "REDIS_URL": "redis://redis:6379",
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
                    "OTEL_SERVICE_NAME": "swaggy-stacks"}.items():
        if want not in str(env.get(k, "")):
            fail(f"app: environment {k} should contain {want}")
    # Replicas must not collide on the collector path: each sets its own service.instance.id.
    app_start = json.dumps(services["app"].get("entrypoint")) + str(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    if "service.instance.id=" not in app_start:
        fail("app: OTEL_RESOURCE_ATTRIBUTES (or the entrypoint) must set service.instance.id per replica")
    # external_labels with ${VAR} need the feature flag, and the variable in the container.
    ext = (yaml.safe_load(open("prometheus/prometheus.yml"))["global"].get("external_labels") or {})
    if "environment" not in ext:
        fail("prometheus/prometheus.yml: external_labels.environment missing (which deployment paged?)")
    for k, v in ext.items():
        for var in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", str(v)):
            prom = services["prometheus"]
            if "--enable-feature=expand-external-labels" not in (prom.get("command") or []):
                fail(f"prometheus: external label {k}={v} needs --enable-feature=expand-external-labels")
            if var not in (prom.get("environment") or {}):
                fail(f"prometheus: external label {k}={v} needs {var} in the container's environment")
    # Every receiver URL that render-config.sh knows is passed through to the container.
    am_env = services["alertmanager"].get("environment") or {}
    for var in re.findall(r"(ALERT_[A-Z]+_WEBHOOK_URL)", open("alertmanager/render-config.sh").read()):
        for name in (var, var + "_FILE"):
            if name not in am_env:
                fail(f"alertmanager: environment {name} missing (render-config.sh reads it)")
    finish(f"compose.yaml ({len(services)} services)")


def cmd_inhibitions(base):
    """alertmanager/inhibit-test.txt against a running Alertmanager: every case's alerts are
    posted at once, each case in its own `environment` (every inhibit rule has it in `equal`, so
    cases cannot mute each other), then each target's inhibitedBy is compared with the case."""
    cases = []
    for n, line in enumerate(open("alertmanager/inhibit-test.txt"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(muted|kept)\s+(.*?)\s+<-\s+(.*)", line)
        if not m:
            fail(f"alertmanager/inhibit-test.txt:{n}: expected `muted|kept TARGET-LABELS <- SOURCE-LABELS`")
            continue

        def labels(text):
            out = dict(kv.split("=", 1) for kv in text.split())
            out.setdefault("environment", f"case{n}")
            out["case"] = str(n)
            return out
        cases.append((n, m.group(1), labels(m.group(2)), labels(m.group(3)), line))
    alerts = []
    for n, _, target, source, _ in cases:
        alerts.append({"labels": {**source, "role": "source"}})
        alerts.append({"labels": {**target, "role": "target"}})
    req = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=10).read()

    def muted():
        got = json.load(urllib.request.urlopen(f"{base}/api/v2/alerts?silenced=false", timeout=10))
        return {a["labels"]["case"]: bool(a["status"]["inhibitedBy"])
                for a in got if a["labels"].get("role") == "target"}
    # The inhibitor learns of new alerts asynchronously: wait until every expected mute holds
    # (or 10 s), then compare everything.
    deadline = time.time() + 10
    while True:
        state = muted()
        ready = len(state) == len(cases) and all(state.get(str(n)) for n, want, *_ in cases if want == "muted")
        if ready or time.time() > deadline:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    state = muted()
    for n, want, _, _, line in cases:
        got = state.get(str(n))
        if got is None:
            fail(f"alertmanager/inhibit-test.txt:{n}: the target alert is missing")
        elif got != (want == "muted"):
            fail(f"alertmanager/inhibit-test.txt:{n}: {'muted' if got else 'kept'}, expected: {line}")
    finish(f"inhibitions ({len(cases)} cases)")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd = sys.argv[1]
    if cmd == "dashboards":
        cmd_dashboards()
    elif cmd == "le":
        cmd_le()
    elif cmd == "names":
        cmd_names()
    elif cmd == "promql":
        cmd_promql(sys.argv[2])
    elif cmd == "alerts":
        cmd_alerts()
    elif cmd == "routes":
        cmd_routes()
    elif cmd == "inhibitions":
        cmd_inhibitions(sys.argv[2])
    elif cmd == "collector":
        cmd_collector()
    elif cmd == "compose":
        cmd_compose()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
