"""Drives the proxy benchmark: starts the upstream, nginx and modelwatch as processes on
loopback, runs oha at fixed rates against each, and prints medians side by side.

The upstream is a one-worker nginx answering every request with a fixed 1 KiB-ish JSON,
so that the three paths differ only by the proxy in the middle. nginx as a proxy keeps
connections to the upstream alive (upstream keepalive, HTTP/1.1) and runs one worker, as
the issue asks; modelwatch runs with its defaults.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

RATES = [int(r) for r in os.environ.get("RATES", "200 1000").split()]
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "15"))
RUNS = int(os.environ.get("RUNS", "3"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELWATCH = os.path.join(ROOT, "target", "release", "modelwatch")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feature_value(row, j):
    return ((row * 7919 + j * 104729) % 1000) * 0.37 + j


def request_body(features=14, rows=9):
    # About 1 KiB of Open Inference Protocol JSON for 14 features × 9 rows: one [rows, n]
    # tensor, mapped onto the reference's features by position.
    data = [round(feature_value(r + 13, j), 2) for r in range(rows) for j in range(features)]
    body = {"inputs": [{"name": "input-0", "shape": [rows, features], "datatype": "FP64",
                        "data": data}]}
    text = json.dumps(body)
    return text + " " * max(0, 1024 - len(text))


def reference_profile(tmp, features):
    """A reference profile for `features` numeric columns, made by modelwatch itself."""
    csv_path = os.path.join(tmp, f"ref{features}.csv")
    with open(csv_path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(features)) + "\n")
        for r in range(5000):
            f.write(",".join(str(round(feature_value(r, j), 2)) for j in range(features)) + "\n")
    out = os.path.join(tmp, f"ref{features}.json")
    subprocess.run([MODELWATCH, "dataset", "profile", csv_path, "-o", out], check=True,
                   stderr=subprocess.DEVNULL)
    return out


def start_modelwatch(upstream, port, admin, reference=None, window_rows=None):
    env = dict(os.environ, MODELWATCH_LOG="warn")
    if window_rows:
        env["MODELWATCH__ANALYSIS__WINDOW_ROWS"] = str(window_rows)
    args = [MODELWATCH, "proxy", "--upstream", f"http://127.0.0.1:{upstream}",
            "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"]
    if reference:
        args += ["--reference", reference, "--model-name", "credit"]
    return subprocess.Popen(args, env=env)


def nginx_conf(tmp, name, server_block):
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write(f"""
worker_processes 1;
daemon off;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}.error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/{name}-body;
    proxy_temp_path {tmp}/{name}-proxy;
    fastcgi_temp_path {tmp}/{name}-fastcgi;
    uwsgi_temp_path {tmp}/{name}-uwsgi;
    scgi_temp_path {tmp}/{name}-scgi;
    keepalive_requests 1000000;
    {server_block}
}}
""")
    return path


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port} after {timeout}s")


def oha(url, rate, body_file):
    out = subprocess.run(
        ["oha", "-z", f"{SECONDS}s", "-q", str(rate), "--latency-correction",
         "-c", str(CONNECTIONS), "-m", "POST", "-D", body_file, "-T", "application/json",
         "--no-tui", "--output-format", "json", url],
        check=True, capture_output=True, text=True).stdout
    result = json.loads(out)
    lat = result["latencyPercentiles"]
    codes = result.get("statusCodeDistribution", {})
    errors = sum(n for c, n in codes.items() if c != "200") + sum(result.get("errorDistribution", {}).values())
    # summary.total is the run's length in seconds; the request count is the sum of the
    # status codes (errors at the end of a -z run are requests cut off by the deadline).
    answered = sum(codes.values())
    return lat["p50"] * 1000, lat["p99"] * 1000, answered, errors


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def status_mb(pid, field):
    """A memory figure of /proc/PID/status (`VmHWM`, `VmRSS`) in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid):
    return status_mb(pid, "VmHWM")


def rss_mb(pid):
    return status_mb(pid, "VmRSS")


def metric(admin, name, **labels):
    """The sum of a family's samples on the admin port whose labels include `labels`."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def stop_all(procs):
    """SIGTERM every process still running, then SIGKILL what has not exited in 10 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main():
    tmp = tempfile.mkdtemp(prefix="mw-bench-")
    procs = []
    try:
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            f.write(request_body())
        reply = json.dumps({"model_name": "credit", "model_version": "1", "outputs": [
            {"name": "output-0", "shape": [9], "datatype": "INT64", "data": [0] * 9}]})
        up, ng, mw, admin = free_port(), free_port(), free_port(), free_port()
        mwa, admin_a = free_port(), free_port()
        upstream_conf = nginx_conf(tmp, "upstream", f"""
    server {{ listen 127.0.0.1:{up}; location / {{
        default_type application/json; return 200 '{reply}'; }} }}""")
        proxy_conf = nginx_conf(tmp, "proxy", f"""
    upstream model {{ server 127.0.0.1:{up}; keepalive 64; }}
    server {{ listen 127.0.0.1:{ng}; location / {{
        proxy_pass http://model; proxy_http_version 1.1;
        proxy_set_header Connection ""; proxy_buffering off; }} }}""")
        for conf in (upstream_conf, proxy_conf):
            procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp],
                                          stderr=subprocess.DEVNULL))
        modelwatch = start_modelwatch(up, mw, admin)
        procs.append(modelwatch)
        # The same sidecar with live analysis: a 14-feature reference, every body decoded.
        analysing = start_modelwatch(up, mwa, admin_a, reference_profile(tmp, 14))
        procs.append(analysing)
        for port in (up, ng, mw, mwa):
            wait_port(port)
        targets = [("direct", up), ("nginx", ng), ("modelwatch", mw), ("modelwatch+analysis", mwa)]
        path = "/v2/models/credit/infer"
        # Warm up every path (connection pools, page cache).
        for _, port in targets:
            for _ in range(50):
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}{path}", data=b"{}", method="POST")).read()

        print(f"# {RUNS} runs × {SECONDS} s per point, {CONNECTIONS} connections, "
              f"1 KiB JSON POST, oha --latency-correction; medians in ms", file=sys.stderr)
        rows = []
        for rate in RATES:
            results = {name: [] for name, _ in targets}
            cpu = []
            cpu_analysis = []
            for run in range(RUNS):
                for name, port in targets:
                    before = cpu_seconds(modelwatch.pid), cpu_seconds(analysing.pid)
                    p50, p99, total, errors = oha(f"http://127.0.0.1:{port}{path}", rate, body_file)
                    if name == "modelwatch":
                        cpu.append((cpu_seconds(modelwatch.pid) - before[0]) / max(total, 1) * 1000)
                    if name == "modelwatch+analysis":
                        cpu_analysis.append(
                            (cpu_seconds(analysing.pid) - before[1]) / max(total, 1) * 1000)
                    results[name].append((p50, p99, errors))
                    print(f"  rate {rate} run {run + 1} {name:10} p50 {p50:.3f} p99 {p99:.3f} "
                          f"errors {errors}", file=sys.stderr)
            med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                       sum(r[2] for r in v)) for n, v in results.items()}
            rows.append((rate, med, statistics.median(cpu), statistics.median(cpu_analysis)))

        print()
        print("| rate rps | path | p50 ms | p99 ms | added p50 ms | added p99 ms | errors |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for rate, med, _, _ in rows:
            d50, d99, _ = med["direct"]
            for name in ("direct", "nginx", "modelwatch", "modelwatch+analysis"):
                p50, p99, errors = med[name]
                added = "" if name == "direct" else f"{p50 - d50:+.3f} | {p99 - d99:+.3f}"
                if name == "direct":
                    added = " | "
                print(f"| {rate} | {name} | {p50:.3f} | {p99:.3f} | {added} | {errors} |")
        print()
        print("| rate rps | added p50 modelwatch/nginx | added p99 modelwatch/nginx "
              "| added p99 analysis on/off | CPU s per 1k req (off / on) |")
        print("|---:|---:|---:|---:|---:|")
        for rate, med, cpu, cpu_a in rows:
            d50, d99, _ = med["direct"]
            ratio = lambda name, i, d: (med[name][i] - d) / max(med["nginx"][i] - d, 1e-6)
            on_off = (med["modelwatch+analysis"][1] - d99) / max(med["modelwatch"][1] - d99, 1e-6)
            print(f"| {rate} | {ratio('modelwatch', 0, d50):.2f} | {ratio('modelwatch', 1, d99):.2f} "
                  f"| {on_off:.2f} | {cpu:.4f} / {cpu_a:.4f} |")
        print()
        print(f"modelwatch peak RSS: {peak_rss_mb(modelwatch.pid):.1f} MB without analysis, "
              f"{peak_rss_mb(analysing.pid):.1f} MB with a 14-feature reference")

        # Memory with 50 features and a 10,000-row window, filled several times over.
        big_mw, big_admin = free_port(), free_port()
        big = start_modelwatch(up, big_mw, big_admin, reference_profile(tmp, 50), 10_000)
        procs.append(big)
        wait_port(big_mw)
        big_body = os.path.join(tmp, "body50.json")
        with open(big_body, "w") as f:
            f.write(request_body(features=50, rows=20))
        oha(f"http://127.0.0.1:{big_mw}{path}", 500, big_body)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{big_admin}/metrics").read().decode()
        analysed = sum(float(l.split()[-1]) for l in metrics.splitlines()
                       if l.startswith("modelwatch_rows_total{"))
        print(f"modelwatch peak RSS with 50 features and a 10,000-row window: "
              f"{peak_rss_mb(big.pid):.1f} MB after {analysed:.0f} rows analysed")
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
