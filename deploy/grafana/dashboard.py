"""Writes deploy/grafana/mlserve.json, the Grafana dashboard over internal/monitoring's metrics.

Run: python3 deploy/grafana/dashboard.py (the JSON is committed; edit this and rerun).
"""
from pathlib import Path

import json
OUT = Path(__file__).with_name("mlserve.json")
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
sel = 'model=~"$model",version=~"$version"'
panels = []
pid = [0]
def panel(title, typ, targets, x, y, w=12, h=8, unit=None, extra=None, desc=None):
    pid[0] += 1
    p = {"id": pid[0], "title": title, "type": typ, "datasource": DS,
         "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "targets": [{"datasource": DS, "refId": chr(65 + i), "expr": e, "legendFormat": l}
                     for i, (e, l) in enumerate(targets)],
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}}
    if unit: p["fieldConfig"]["defaults"]["unit"] = unit
    if desc: p["description"] = desc
    if extra:
        for k, v in extra.items():
            if k == "defaults": p["fieldConfig"]["defaults"].update(v)
            else: p[k] = v
    panels.append(p)
def row(title, y):
    pid[0] += 1
    panels.append({"id": pid[0], "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
R = "[$__rate_interval]"
row("Traffic", 0)
panel("Models loaded", "stat", [("mlserve_models_loaded", "loaded")], 0, 1, 4, 4)
panel("Requests/s", "stat", [(f'sum(rate(mlserve_http_request_duration_seconds_count{{{sel}}}{R}))', "req/s")], 4, 1, 4, 4, "reqps")
panel("Error ratio", "stat", [(f'sum(rate(mlserve_errors_total{{{sel}}}{R})) / clamp_min(sum(rate(mlserve_http_request_duration_seconds_count{{{sel}}}{R})), 1e-9)', "errors")], 8, 1, 4, 4, "percentunit")
panel("Redis fallback", "stat", [("mlserve_cache_redis_fallback", "fallback")], 12, 1, 4, 4,
      extra={"defaults": {"mappings": [{"type": "value", "options": {"0": {"text": "Redis OK", "color": "green"}, "1": {"text": "FALLBACK", "color": "red"}}}]}})
panel("Drift status (worst)", "stat", [(f'max(mlserve_drift_status{{{sel}}})', "drift")], 16, 1, 4, 4,
      extra={"defaults": {"mappings": [{"type": "value", "options": {"0": {"text": "ok", "color": "green"}, "1": {"text": "warn", "color": "orange"}, "2": {"text": "alert", "color": "red"}}}]}})
panel("Live accuracy", "stat", [(f'mlserve_live_accuracy{{{sel}}}', "{{model}}-{{version}}")], 20, 1, 4, 4, "percentunit")
panel("Requests/s by endpoint and code", "timeseries", [(f'sum by (endpoint, code) (rate(mlserve_http_request_duration_seconds_count{{{sel}}}{R}))', "{{endpoint}} {{code}}")], 0, 5, 12, 8, "reqps")
panel("Request latency p50 / p90 / p99", "timeseries",
      [(f'histogram_quantile({q}, sum by (le) (rate(mlserve_http_request_duration_seconds_bucket{{{sel}}}{R})))', f"p{int(q*100)}") for q in (0.5, 0.9, 0.99)],
      12, 5, 12, 8, "s")
row("Where the time goes", 13)
panel("Queue wait vs inference (p99)", "timeseries",
      [(f'histogram_quantile(0.99, sum by (le, model, version) (rate(mlserve_queue_wait_seconds_bucket{{{sel}}}{R})))', "queue wait {{model}}-{{version}}"),
       (f'histogram_quantile(0.99, sum by (le, model, version) (rate(mlserve_inference_duration_seconds_bucket{{{sel}}}{R})))', "inference {{model}}-{{version}}")],
      0, 14, 8, 8, "s")
panel("Batch size (mean, p90)", "timeseries",
      [(f'sum by (model, version) (rate(mlserve_batch_size_sum{{{sel}}}{R})) / sum by (model, version) (rate(mlserve_batch_size_count{{{sel}}}{R}))', "mean {{model}}-{{version}}"),
       (f'histogram_quantile(0.9, sum by (le, model, version) (rate(mlserve_batch_size_bucket{{{sel}}}{R})))', "p90 {{model}}-{{version}}")],
      8, 14, 8, 8, "short")
panel("Queue depth", "timeseries", [(f'mlserve_queue_depth{{{sel}}}', "{{model}}-{{version}}")], 16, 14, 8, 8, "short")
row("Predictions", 22)
panel("Prediction distribution (share by label)", "timeseries",
      [(f'sum by (model, version, label) (rate(mlserve_predictions_total{{{sel}}}{R})) / ignoring(label) group_left sum by (model, version) (rate(mlserve_predictions_total{{{sel}}}{R}))', "{{model}}-{{version}} {{label}}")],
      0, 23, 12, 8, "percentunit", extra={"defaults": {"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 60}}})
panel("Confidence", "heatmap", [(f'sum by (le) (increase(mlserve_prediction_confidence_bucket{{{sel}}}{R}))', "{{le}}")], 12, 23, 12, 8,
      extra={"options": {"calculate": False, "yAxis": {"unit": "percentunit"}, "cellGap": 1}})
panel("Errors/s by kind", "timeseries", [(f'sum by (kind) (rate(mlserve_errors_total{{{sel}}}{R}))', "{{kind}}")], 0, 31, 12, 8, "reqps")
panel("Cache hit ratio by tier", "timeseries",
      [(f'sum by (tier) (rate(mlserve_cache_lookups_total{{result="hit"}}{R})) / sum by (tier) (rate(mlserve_cache_lookups_total{R}))', "{{tier}}")],
      12, 31, 12, 8, "percentunit")
row("Drift and accuracy", 39)
thresholds = {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 0.1}, {"color": "red", "value": 0.25}]}
panel("Drift PSI by signal", "timeseries", [(f'mlserve_drift_psi{{{sel}}}', "{{model}}-{{version}} {{signal}}")], 0, 40, 12, 8, "short",
      extra={"defaults": {"thresholds": thresholds, "custom": {"thresholdsStyle": {"mode": "line+area"}}}},
      desc="Population stability index of the recent window against the reference; 0.1 warn, 0.25 alert (defaults).")
panel("Drift status by signal (0 ok, 1 warn, 2 alert)", "state-timeline", [(f'mlserve_drift_status{{{sel}}}', "{{model}}-{{version}} {{signal}}")], 12, 40, 12, 8,
      extra={"defaults": {"mappings": [{"type": "value", "options": {"0": {"text": "ok", "color": "green"}, "1": {"text": "warn", "color": "orange"}, "2": {"text": "alert", "color": "red"}}}]}})
panel("Live accuracy", "timeseries", [(f'mlserve_live_accuracy{{{sel}}}', "{{model}}-{{version}}")], 0, 48, 12, 8, "percentunit")
panel("Feedback/s (correct, wrong)", "timeseries", [(f'sum by (model, version, result) (rate(mlserve_feedback_total{{{sel}}}{R}))', "{{model}}-{{version}} {{result}}")], 12, 48, 12, 8, "reqps")
row("Model loads", 56)
panel("Model load duration (p50, p99 over the range)", "timeseries",
      [(f'histogram_quantile({q}, sum by (le) (rate(mlserve_model_load_duration_seconds_bucket[$__range])))', f"p{int(q*100)}") for q in (0.5, 0.99)],
      0, 57, 12, 8, "s")
panel("Model load failures", "timeseries", [("increase(mlserve_model_load_failures_total" + R + ")", "failures")], 12, 57, 12, 8, "short")

def var(name, query):
    return {"name": name, "label": name, "type": "query", "datasource": DS, "query": {"query": query, "refId": "v"},
            "definition": query, "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1}
dash = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "The Prometheus that scrapes mlserve's monitoring listener",
                  "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "__requires": [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                   {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
                   {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
                   {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
                   {"type": "panel", "id": "heatmap", "name": "Heatmap", "version": ""},
                   {"type": "panel", "id": "state-timeline", "name": "State timeline", "version": ""}],
    "title": "mlserve", "uid": "mlserve-overview", "description": "mlserve: traffic, latency, batching, predictions, cache, drift and live accuracy (internal/monitoring).",
    "tags": ["mlserve"], "timezone": "", "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
    "refresh": "10s", "time": {"from": "now-1h", "to": "now"}, "annotations": {"list": []}, "links": [],
    "templating": {"list": [var("model", "label_values(mlserve_http_request_duration_seconds_count, model)"),
                            var("version", 'label_values(mlserve_http_request_duration_seconds_count{model=~"$model"}, version)')]},
    "panels": panels,
}
json.dump(dash, open(OUT, "w"), indent=2)
open(OUT, "a").write("\n")
print(len(panels), "panels")
