"""Drives the proxy benchmark: starts the upstream, nginx and modelwatch as processes on
loopback, runs oha at fixed rates against each, and prints medians side by side.

The upstream is a one-worker nginx answering every request with a fixed 1 KiB-ish JSON,
so that the three paths differ only by the proxy in the middle. nginx as a proxy keeps
connections to the upstream alive (upstream keepalive, HTTP/1.1) and runs one worker, as
the issue asks; modelwatch runs with its defaults, once without a reference and once with
live analysis on a 14-feature reference.

The targets take turns within each run (reversed every other run), so a noisy neighbour
hits them alike; added latency is taken per run against that run's direct figure, and
CPU seconds per 1,000 requests are read from /proc for each proxy (nginx's worker too).
`BASELINE=path/to/modelwatch` adds another binary's two sidecars to the same rounds and
prints this binary's figures over the baseline's, run by run (an A/B on one machine).
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
# Another modelwatch binary to measure beside this one, in the same rounds (A/B).
BASELINE = os.environ.get("BASELINE")


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


def start_modelwatch(upstream, port, admin, reference=None, window_rows=None, binary=MODELWATCH):
    env = dict(os.environ, MODELWATCH_LOG="warn")
    if window_rows:
        env["MODELWATCH__ANALYSIS__WINDOW_ROWS"] = str(window_rows)
    args = [binary, "proxy", "--upstream", f"http://127.0.0.1:{upstream}",
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
    # Requests the -z deadline cut off ("aborted due to deadline") are oha stopping, not
    # the path failing: every path, direct included, had a few per run.
    errors = (sum(n for c, n in codes.items() if c != "200")
              + sum(n for k, n in result.get("errorDistribution", {}).items()
                    if "deadline" not in k))
    # summary.total is the run's length in seconds; the request count is the sum of the
    # status codes.
    answered = sum(codes.values())
    return lat["p50"] * 1000, lat["p99"] * 1000, answered, errors


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def tree_cpu_seconds(pid):
    """CPU seconds of a process and its live children (nginx's master and its worker)."""
    total = cpu_seconds(pid)
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            total += sum(cpu_seconds(int(child)) for child in f.read().split())
    except OSError:
        pass
    return total


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


def modelwatch_pair(binary, up, reference):
    """The same binary twice: without a reference and with live analysis (every body
    decoded against `reference`). Returns [(process, port)] in that order."""
    pair = []
    for ref in (None, reference):
        port, admin = free_port(), free_port()
        pair.append((start_modelwatch(up, port, admin, ref, binary=binary), port))
    return pair


def added(values, direct):
    """Per-run latency minus the same run's direct latency: pairs stay paired."""
    return [v - d for v, d in zip(values, direct)]


def main():
    tmp = tempfile.mkdtemp(prefix="mw-bench-")
    procs = []
    try:
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            f.write(request_body())
        reply = json.dumps({"model_name": "credit", "model_version": "1", "outputs": [
            {"name": "output-0", "shape": [9], "datatype": "INT64", "data": [0] * 9}]})
        up, ng = free_port(), free_port()
        upstream_conf = nginx_conf(tmp, "upstream", f"""
    server {{ listen 127.0.0.1:{up}; location / {{
        default_type application/json; return 200 '{reply}'; }} }}""")
        proxy_conf = nginx_conf(tmp, "proxy", f"""
    upstream model {{ server 127.0.0.1:{up}; keepalive 64; }}
    server {{ listen 127.0.0.1:{ng}; location / {{
        proxy_pass http://model; proxy_http_version 1.1;
        proxy_set_header Connection ""; proxy_buffering off; }} }}""")
        nginx_procs = []
        for conf in (upstream_conf, proxy_conf):
            nginx_procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp],
                                                stderr=subprocess.DEVNULL))
        procs += nginx_procs
        reference = reference_profile(tmp, 14)
        # Each modelwatch binary twice: without a reference, and with live analysis on a
        # 14-feature reference, every body decoded. With BASELINE=path/to/other/modelwatch
        # that binary runs beside this checkout's, in the same rounds (A/B on one machine).
        binaries = [("", MODELWATCH)]
        if BASELINE:
            binaries.append(("baseline ", BASELINE))
        targets = [("direct", up, None), ("nginx", ng, nginx_procs[1])]
        for prefix, binary in binaries:
            (off, off_port), (on, on_port) = modelwatch_pair(binary, up, reference)
            procs += [off, on]
            targets += [(f"{prefix}modelwatch", off_port, off),
                        (f"{prefix}modelwatch+analysis", on_port, on)]
        for _, port, _ in targets:
            wait_port(port)
        path = "/v2/models/credit/infer"
        # Warm up every path (connection pools, page cache).
        for _, port, _ in targets:
            for _ in range(50):
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}{path}", data=b"{}", method="POST")).read()

        print(f"# {RUNS} runs × {SECONDS} s per point, {CONNECTIONS} connections, "
              f"1 KiB JSON POST, oha --latency-correction; medians in ms; the targets "
              f"take turns, in reverse order every other run", file=sys.stderr)
        rows = []
        for rate in RATES:
            results = {name: [] for name, _, _ in targets}
            for run in range(RUNS):
                order = targets if run % 2 == 0 else targets[::-1]
                for name, port, proc in order:
                    before = tree_cpu_seconds(proc.pid) if proc else 0.0
                    p50, p99, total, errors = oha(f"http://127.0.0.1:{port}{path}", rate, body_file)
                    cpu = ((tree_cpu_seconds(proc.pid) - before) / max(total, 1) * 1000
                           if proc else float("nan"))
                    results[name].append((p50, p99, errors, cpu))
                    print(f"  rate {rate} run {run + 1} {name:28} p50 {p50:.3f} p99 {p99:.3f} "
                          f"errors {errors} cpu/1k {cpu:.4f}", file=sys.stderr)
            rows.append((rate, results))

        print()
        print("| rate rps | path | p50 ms | p99 ms | added p50 ms | added p99 ms "
              "| added p99 / nginx's | CPU s per 1k req | errors |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        med = statistics.median
        for rate, results in rows:
            d50 = [r[0] for r in results["direct"]]
            d99 = [r[1] for r in results["direct"]]
            nginx99 = med(added([r[1] for r in results["nginx"]], d99))
            for name, _, proc in targets:
                runs = results[name]
                p50, p99 = med(r[0] for r in runs), med(r[1] for r in runs)
                errors = sum(r[2] for r in runs)
                if name == "direct":
                    print(f"| {rate} | direct | {p50:.3f} | {p99:.3f} | | | | | {errors} |")
                    continue
                a50 = med(added([r[0] for r in runs], d50))
                a99 = med(added([r[1] for r in runs], d99))
                cpu = f"{med(r[3] for r in runs):.4f}"
                print(f"| {rate} | {name} | {p50:.3f} | {p99:.3f} | {a50:+.3f} | {a99:+.3f} "
                      f"| {a99 / max(nginx99, 1e-3):.2f} | {cpu} | {errors} |")
        if BASELINE:
            print()
            print("| rate rps | path | CPU this/baseline | added p99 this/baseline |")
            print("|---:|---|---:|---:|")
            for rate, results in rows:
                d99 = [r[1] for r in results["direct"]]
                for name in ("modelwatch", "modelwatch+analysis"):
                    new, old = results[name], results[f"baseline {name}"]
                    cpu_ratio = med(n[3] / o[3] for n, o in zip(new, old))
                    p99_ratio = med(a / max(b, 1e-3) for a, b in zip(
                        added([r[1] for r in new], d99), added([r[1] for r in old], d99)))
                    print(f"| {rate} | {name} | {cpu_ratio:.2f} | {p99_ratio:.2f} |")
        print()
        for name, _, proc in targets[2:]:
            print(f"{name} peak RSS: {peak_rss_mb(proc.pid):.1f} MB")

        if os.environ.get("MEMORY_RUN", "1") == "0":
            return
        # Memory with 50 features and a 10,000-row window, filled several times over.
        big_mw, big_admin = free_port(), free_port()
        big = start_modelwatch(up, big_mw, big_admin, reference_profile(tmp, 50), 10_000)
        procs.append(big)
        wait_port(big_mw)
        big_body = os.path.join(tmp, "body50.json")
        with open(big_body, "w") as f:
            f.write(request_body(features=50, rows=20))
        oha(f"http://127.0.0.1:{big_mw}{path}", 500, big_body)
        analysed = metric(big_admin, "modelwatch_rows_total")
        print(f"modelwatch peak RSS with 50 features and a 10,000-row window: "
              f"{peak_rss_mb(big.pid):.1f} MB after {analysed:.0f} rows analysed")
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
