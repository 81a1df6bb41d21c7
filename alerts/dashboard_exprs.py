"""Turns every PromQL expression of the Grafana dashboards into files promtool can check.

    python3 alerts/dashboard_exprs.py rules OUT.yml   # each expression as a recording rule
    python3 alerts/dashboard_exprs.py test OUT_DIR    # a promtool unit test that evaluates them

`rules` lets `promtool check rules` parse every expression (syntax). `test` evaluates every
expression with the real PromQL engine on synthetic series shaped like the metric contract
(alerts/metrics.txt: names and labels, two sidecar instances), next to the recording rules
of alerts/modelwatch-rules.yml, and asserts each returns at least one series: it catches
what parsing cannot, such as many-to-many matching errors or a label matcher that can never
match. It does not replace the test against a running sidecar (which the live-drift work
adds); it runs without one. Used by alerts/check.sh. Python 3 standard library only.
"""

import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DASHBOARDS = os.path.join(REPO, "dashboards", "grafana")

# Grafana variables filled in the way a user selecting "All" would see them.
FILL = {"$__rate_interval": "4m", "$__interval": "1m", "$__range": "1h"}

# Values each label takes in the synthetic series (every combination is generated).
LABEL_VALUES = {
    "job": ["modelwatch"],
    "instance": ["a:9090", "b:9090"],
    "model": ["credit"],
    "model_version": ["3"],
    "code": ["200", "404", "500", "502"],
    "reason": ["connect_refused", "queue_full", "stop", "length"],
    "feature": ["income", "purpose", "prediction:score", "prompt_tokens"],
    "bin": ["0", "1"],
    "method": ["psi"],
    "output": ["score"],
    "class": ["good", "bad"],
    "reference": ["credit-train"],
    "reference_version": ["sha256:ab12"],
    "sink": ["elasticsearch"],
    "outcome": ["delivered", "dead_letter", "dropped"],
    "version": ["0.1.0"],
    "revision": ["8be82f1"],
    "kind": ["feature", "category", "request", "drift"],
    "metric": ["accuracy", "roc_auc"],
    "operation": ["chat", "embeddings"],
    "token_type": ["input", "output"],
    "source": ["usage", "chunks"],
    "error_type": ["500", "stream_error"],
}
# Histogram bucket edges with cumulative per-minute increments.
BUCKETS = [("0.1", 5), ("0.5", 8), ("+Inf", 10)]
SAMPLES = 90  # minutes of data: enough for the 1h windows of the recording rules
EVAL_TIME = "80m"


def dashboards():
    for name in sorted(os.listdir(DASHBOARDS)):
        if name.endswith(".json"):
            with open(os.path.join(DASHBOARDS, name)) as f:
                yield name, json.load(f)


def fill(expr):
    for var, value in FILL.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?(\w+)\}?", ".+", expr)


def expressions():
    """(where, expression with variables filled) for every panel target and variable."""
    found = []

    def walk(panels, fname):
        for p in panels:
            walk(p.get("panels", []), fname)
            for t in p.get("targets", []):
                found.append((f"{fname}: panel '{p.get('title')}' {t.get('refId')}", fill(t["expr"])))

    for fname, d in dashboards():
        walk(d.get("panels", []), fname)
        for v in d.get("templating", {}).get("list", []):
            if v.get("type") != "query":
                continue
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S)
            if not m:
                sys.exit(f"{fname}: variable {v['name']}: expected label_values(selector, label), got {q!r}")
            found.append((f"{fname}: variable {v['name']}", fill(m.group(1))))
    return found


def contract():
    """[(series name, [labels])] from alerts/metrics.txt."""
    series = []
    with open(os.path.join(REPO, "alerts", "metrics.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, labels = line.split()
            series.append((name, [] if labels == "-" else labels.split(",")))
    return series


def combinations(labels):
    combos = [{}]
    for label in ["job", "instance"] + labels:
        if label == "le":
            continue
        combos = [dict(c, **{label: v}) for c in combos for v in LABEL_VALUES[label]]
    return combos


def selector(name, labels):
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def input_series():
    out = []
    for name, labels in contract():
        for i, combo in enumerate(combinations(labels)):
            if name.endswith("_bucket"):
                for le, step in BUCKETS:
                    out.append((selector(name, dict(combo, le=le)), f"0+{step}x{SAMPLES}"))
            elif name.endswith(("_total", "_count", "_sum")):
                out.append((selector(name, combo), f"0+{i + 1}x{SAMPLES}"))
            elif name == "modelwatch_reference_bin_ratio":
                out.append((selector(name, combo), f"0.5x{SAMPLES}"))
            else:
                out.append((selector(name, combo), f"1x{SAMPLES}"))
    for instance in LABEL_VALUES["instance"]:
        out.append((selector("up", {"job": "modelwatch", "instance": instance}), f"1x{SAMPLES}"))
    return out


def write_rules(path):
    exprs = expressions()
    with open(path, "w") as f:
        f.write("groups:\n  - name: dashboard-exprs\n    rules:\n")
        for i, (where, expr) in enumerate(exprs):
            f.write(f"      # {where}\n      - record: dashboard_expr_{i}\n        expr: {json.dumps(expr)}\n")
    print(f"{len(exprs)} expressions from {len(list(dashboards()))} dashboards")


def write_test(out_dir):
    # promtool resolves rule_files relative to the test file: copy the rules next to it.
    rules = os.path.join(REPO, "alerts", "modelwatch-rules.yml")
    with open(rules) as src, open(os.path.join(out_dir, "modelwatch-rules.yml"), "w") as dst:
        dst.write(src.read())
    exprs = expressions()
    path = os.path.join(out_dir, "dashboard-exprs-test.yml")
    with open(path, "w") as f:
        f.write("rule_files:\n  - modelwatch-rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n")
        f.write("    input_series:\n")
        for series, values in input_series():
            f.write(f"      - series: {json.dumps(series)}\n        values: {json.dumps(values)}\n")
        f.write("    promql_expr_test:\n")
        for where, expr in exprs:
            # The comment names the panel in promtool's failure output; count() > 0 is
            # "returns data", clamp_max turns it into a value the test can expect.
            check = f"# {where}\nclamp_max(count({expr}), 1)"
            f.write(f"      - expr: {json.dumps(check)}\n        eval_time: {EVAL_TIME}\n")
            f.write("        exp_samples:\n          - labels: '{}'\n            value: 1\n")
    print(f"{len(exprs)} expressions to evaluate on {len(input_series())} synthetic series: {path}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("rules", "test"):
        sys.exit(__doc__)
    (write_rules if sys.argv[1] == "rules" else write_test)(sys.argv[2])
