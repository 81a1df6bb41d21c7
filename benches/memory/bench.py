"""Peak RSS of the sidecar at a fixed rate, analysis on, Elasticsearch down.

Two sidecars run side by side behind the same canned-response nginx upstream, each with
the 14-feature reference the proxy benchmark uses and the defaults otherwise: `export-off`
exports nothing; `es-down` exports request events to a cluster address where nothing
listens (connection refused), so every event goes through the in-memory queue into the
on-disk spool and stays there. oha drives each at RATE for SECONDS_PER_RUN (one after the
other, the same load); RSS is sampled every second from /proc and the peak is the kernel's
high-water mark (VmHWM).
"""

import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proxy"))
import bench  # noqa: E402  (benches/proxy/bench.py: nginx, oha, /proc readers)

RATE = int(os.environ.get("RATE", "1000"))
bench.SECONDS = int(os.environ.get("SECONDS_PER_RUN", "300"))


def du_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total / 1e6


def main():
    tmp = tempfile.mkdtemp(prefix="mw-memory-")
    procs = []
    try:
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "w") as f:
            f.write(bench.request_body())
        reply = json.dumps({"model_name": "credit", "model_version": "1", "outputs": [
            {"name": "output-0", "shape": [9], "datatype": "INT64", "data": [0] * 9}]})
        up = bench.free_port()
        conf = bench.nginx_conf(tmp, "upstream", f"""
    server {{ listen 127.0.0.1:{up}; location / {{
        default_type application/json; return 200 '{reply}'; }} }}""")
        procs.append(bench.subprocess.Popen(["nginx", "-c", conf, "-p", tmp],
                                            stderr=bench.subprocess.DEVNULL))
        reference = bench.reference_profile(tmp, 14)
        dead = bench.free_port()  # nothing listens here: the cluster is down
        sidecars = {}
        for name in ("export-off", "es-down"):
            port, admin = bench.free_port(), bench.free_port()
            state = os.path.join(tmp, name)
            os.makedirs(state)
            env = {"MODELWATCH_STATE_DIR": state, "MODELWATCH_HOME": os.path.join(tmp, "home")}
            if name == "es-down":
                env["MODELWATCH__EXPORT__ELASTICSEARCH__URL"] = f"http://127.0.0.1:{dead}"
            old = dict(os.environ)
            os.environ.update(env)
            try:
                p = bench.start_modelwatch(up, port, admin, reference)
            finally:
                os.environ.clear()
                os.environ.update(old)
            procs.append(p)
            sidecars[name] = (p, port, admin, state)
        for _, port, _, _ in sidecars.values():
            bench.wait_port(port)

        print(f"# {RATE} rps for {bench.SECONDS} s per sidecar, {bench.CONNECTIONS} connections, "
              "1 KiB OIP JSON, 14-feature reference, defaults otherwise", file=sys.stderr)
        rows = []
        for name, (p, port, admin, state) in sidecars.items():
            samples = []
            done = threading.Event()

            def sample():
                while not done.is_set():
                    samples.append(bench.rss_mb(p.pid))
                    time.sleep(1)

            sampler = threading.Thread(target=sample)
            sampler.start()
            before = bench.cpu_seconds(p.pid)
            p50, p99, answered, errors = bench.oha(
                f"http://127.0.0.1:{port}/v2/models/credit/infer", RATE, body_file)
            done.set()
            sampler.join()
            cpu = (bench.cpu_seconds(p.pid) - before) / max(answered, 1) * 1000
            drops = bench.metric(admin, "modelwatch_analysis_dropped_total")
            # One event is counted once per outcome it reaches (spooled, then delivered),
            # so the outcomes are read apart, never summed.
            spooled, dropped = (bench.metric(admin, "modelwatch_export_events_total",
                                             outcome=outcome)
                                for outcome in ("spooled", "dropped"))
            rows.append((name, answered, errors, p99, max(samples), bench.peak_rss_mb(p.pid),
                         bench.rss_mb(p.pid), cpu, drops, spooled, dropped, du_mb(state)))
            print(f"  {name}: answered {answered} errors {errors} peak RSS "
                  f"{bench.peak_rss_mb(p.pid):.1f} MB", file=sys.stderr)

        print()
        print("| sidecar | answered | errors | p99 ms | peak RSS MiB (VmHWM) | RSS at end MiB "
              "| CPU s per 1k req | analysis drops | events spooled | events dropped "
              "| state dir MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (name, answered, errors, p99, _, hwm, end, cpu, drops, spooled, dropped,
             disk) in rows:
            print(f"| {name} | {answered} | {errors} | {p99:.2f} | {hwm:.1f} | {end:.1f} "
                  f"| {cpu:.3f} | {drops:.0f} | {spooled:.0f} | {dropped:.0f} | {disk:.1f} |")
    finally:
        bench.stop_all(procs)
        bench.shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
