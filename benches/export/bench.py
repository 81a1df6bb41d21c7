"""Drives the export benchmark (see run.sh): p99 through the proxy with Elasticsearch
healthy vs down, and bulk throughput into a real OpenSearch node.

The upstream, ports and oha runs come from benches/proxy/bench.py, so both benchmarks
measure the same way.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("SECONDS_PER_RUN", "15")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "proxy"))
import bench as proxy  # noqa: E402  (benches/proxy/bench.py: free_port, nginx_conf, oha, …)

RATE = int(os.environ.get("RATE", "1000"))
RUNS = int(os.environ.get("RUNS", "3"))
THROUGHPUT_EVENTS = int(os.environ.get("THROUGHPUT_EVENTS", "100000"))
NODE = os.environ["OPENSEARCH_URL"]
PATH = "/v2/models/credit/infer"


def start_sidecar(upstream, port, admin, es_url=None, spool=None, stream=None):
    env = dict(os.environ, MODELWATCH_LOG="warn")
    if es_url:
        env["MODELWATCH__EXPORT__ELASTICSEARCH__URL"] = es_url
        env["MODELWATCH__EXPORT__ELASTICSEARCH__SPOOL_DIR"] = spool
        env["MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM"] = stream
        env["MODELWATCH__EXPORT__ELASTICSEARCH__FLUSH_TIMEOUT"] = "1s"
    args = [proxy.MODELWATCH, "proxy", "--upstream", f"http://127.0.0.1:{upstream}",
            "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"]
    return subprocess.Popen(args, env=env)


def node(method, path, body=None):
    request = urllib.request.Request(f"{NODE}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"content-type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(request).read() or b"null")
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"null")


def forget(stream):
    node("DELETE", f"/_data_stream/{stream}")
    node("DELETE", f"/_index_template/modelwatch-{stream}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def main():
    tmp = tempfile.mkdtemp(prefix="mw-export-bench-")
    procs = []
    streams = [f"logs-modelwatch.inference-bench{os.getpid()}{tag}" for tag in ("a", "b")]
    try:
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            f.write(proxy.request_body())
        reply = json.dumps({"model_name": "credit", "model_version": "1", "outputs": [
            {"name": "output-0", "shape": [9], "datatype": "INT64", "data": [0] * 9}]})
        up = proxy.free_port()
        conf = proxy.nginx_conf(tmp, "upstream", f"""
    server {{ listen 127.0.0.1:{up}; location / {{
        default_type application/json; return 200 '{reply}'; }} }}""")
        procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL))
        down = f"http://127.0.0.1:{proxy.free_port()}"  # nothing listens there
        sidecars = {}
        for name, es_url, stream in (("no export", None, None),
                                     ("export, healthy", NODE, streams[0]),
                                     ("export, down", down, streams[1])):
            if stream:
                forget(stream)
            port, admin = proxy.free_port(), proxy.free_port()
            spool = os.path.join(tmp, f"spool-{len(sidecars)}")
            process = start_sidecar(up, port, admin, es_url, spool, stream)
            procs.append(process)
            sidecars[name] = (port, admin, process)
        targets = [("direct", up, None)] + [(n, p, a) for n, (p, a, _) in sidecars.items()]
        for _, port, _ in targets:
            proxy.wait_port(port)
            for _ in range(50):
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}{PATH}", data=b"{}", method="POST")).read()

        print(f"# {RUNS} runs × {proxy.SECONDS} s at {RATE} rps, {proxy.CONNECTIONS} connections, "
              f"1 KiB JSON POST, oha --latency-correction; medians in ms", file=sys.stderr)
        results = {name: [] for name, _, _ in targets}
        for run in range(RUNS):
            # Healthy and down alternate which goes first, so a drift of the machine's load
            # during a run does not favour one of them.
            order = targets if run % 2 == 0 else targets[:2] + targets[2:][::-1]
            for name, port, _ in order:
                p50, p99, total, errors = proxy.oha(f"http://127.0.0.1:{port}{PATH}", RATE, body_file)
                results[name].append((p50, p99, errors))
                print(f"  run {run + 1} {name:16} p50 {p50:.3f} p99 {p99:.3f} errors {errors}",
                      file=sys.stderr)
        med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                   sum(r[2] for r in v)) for n, v in results.items()}
        d50, d99, _ = med["direct"]
        print()
        print(f"| path ({RATE} rps) | p50 ms | p99 ms | added p50 ms | added p99 ms | errors "
              "| events delivered | dropped | spool bytes at end |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, _, admin in targets:
            p50, p99, errors = med[name]
            added = " | " if name == "direct" else f"{p50 - d50:+.3f} | {p99 - d99:+.3f}"
            counts = " | | "
            if admin and name != "no export":
                counts = (f"{proxy.metric(admin, 'modelwatch_export_events_total', outcome='delivered'):.0f} | "
                          f"{proxy.metric(admin, 'modelwatch_export_events_total', outcome='dropped'):.0f} | "
                          f"{proxy.metric(admin, 'modelwatch_export_spool_bytes'):.0f}")
            print(f"| {name} | {p50:.3f} | {p99:.3f} | {added} | {errors} | {counts} |")
        # Each run measures healthy and down back to back: the ratio within a run cancels
        # most of the load the machine is under at that moment; quote its median.
        ratios = [d[1] / h[1] for h, d in zip(results["export, healthy"], results["export, down"])]
        print()
        print(f"p99 with Elasticsearch down / healthy: median of per-run ratios "
              f"{statistics.median(ratios):.3f} (runs: {', '.join(f'{r:.2f}' for r in ratios)}); "
              f"ratio of the medians {med['export, down'][1] / med['export, healthy'][1]:.3f}; "
              f"target ≤ 1.1")
        for name in ("export, healthy", "export, down"):
            stop(sidecars[name][2])

        # Bulk throughput: fill a spool while the cluster is down, then ship it.
        spool = os.path.join(tmp, "spool-throughput")
        port, admin = proxy.free_port(), proxy.free_port()
        filler = start_sidecar(up, port, admin, down, spool, streams[1])
        proxy.wait_port(port)
        subprocess.run(["oha", "-n", str(THROUGHPUT_EVENTS), "-c", "32", "-m", "POST",
                        "-D", body_file, "-T", "application/json", "--no-tui",
                        f"http://127.0.0.1:{port}{PATH}"], check=True, capture_output=True)
        while proxy.metric(admin, "modelwatch_export_events_total", outcome="spooled") + proxy.metric(
                admin, "modelwatch_export_events_total", outcome="dropped") < THROUGHPUT_EVENTS:
            time.sleep(0.1)
        spooled = proxy.metric(admin, "modelwatch_export_events_total", outcome="spooled")
        spool_bytes = proxy.metric(admin, "modelwatch_export_spool_bytes")
        stop(filler)
        port, admin = proxy.free_port(), proxy.free_port()
        started = time.monotonic()
        shipper = start_sidecar(up, port, admin, NODE, spool, streams[1])
        procs.append(shipper)
        proxy.wait_port(admin)
        while proxy.metric(admin, "modelwatch_export_spool_bytes") > 0:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        delivered = proxy.metric(admin, "modelwatch_export_events_total", outcome="delivered")
        node("POST", f"/{streams[1]}/_refresh")
        stored = node("GET", f"/{streams[1]}/_count")["count"]
        print()
        print("| bulk into OpenSearch (one node, loopback) | events | seconds | events/s |")
        print("|---|---:|---:|---:|")
        print(f"| spool of {spool_bytes / 1e6:.1f} MB replayed after a restart "
              f"| {delivered:.0f} | {elapsed:.2f} | {delivered / elapsed:.0f} |")
        print(f"\n{spooled:.0f} events spooled while the cluster was down, {delivered:.0f} "
              f"delivered after the restart, {stored} stored in the data stream")
    finally:
        proxy.stop_all(procs)
        for stream in streams:
            forget(stream)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
