#!/usr/bin/env python3
"""The chaos suite: modelwatch's promises under load and faults, each scenario a script run
of the real binary against real services on loopback (a canned-response nginx model
server, the real OpenSearch node, a real load generator).

Every scenario states its promise, prints its figures, and the suite exits 1 when a
promise is broken. Two sizes:

  --scale ci    seconds per scenario, every correctness assertion, no timing assertion
                (h2load from Debian drives the load; tests/run.sh runs this size)
  --scale full  the issue's sizes: 1,000 rps for 5 minutes per run (oha with latency
                correction drives the load; `bash tests/chaos/run.sh` runs this size)

    python3 tests/chaos/chaos.py --scale ci --binary target/debug/modelwatch
    python3 tests/chaos/chaos.py --scale ci --only blackhole,sigterm
    CHAOS_SECONDS=20 CHAOS_OUTAGE=20 python3 tests/chaos/chaos.py --scale full

CHAOS_RATE, CHAOS_SECONDS and CHAOS_OUTAGE override a scale's rate, run and fault lengths.

OPENSEARCH_URL must name a running node (tests/services/opensearch.sh start prints it).
The disk-full scenario mounts a small tmpfs in a private mount namespace (`unshare
--mount`), so it needs root; without root it is reported as skipped, never as passed.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "benches", "proxy"))
import bench  # noqa: E402  (benches/proxy/bench.py: nginx, free ports, bodies, /proc readers)

sys.path.insert(0, HERE)
from es_front import Front  # noqa: E402

PATH = "/v2/models/credit/infer"
FEATURES = 50
# proxy.shutdown_delay in the SIGTERM scenario.
SHUTDOWN_DELAY = "5s"
# compose/k8s/deployment.yaml's limits.memory for the sidecar.
MEMORY_LIMIT_MIB = 128


@dataclass
class Scale:
    rate: int  # requests per second the load generator holds
    seconds: int  # one load run
    outage: int  # how long a fault lasts
    slow_connections: int  # slowloris connections
    header_timeout: str  # proxy.header_read_timeout for the slowloris scenario
    loadgen: str  # "h2load" or "oha"
    timing: bool  # whether timing promises (p99 within 10%) are asserted


SCALES = {
    "ci": Scale(rate=200, seconds=4, outage=4, slow_connections=200, header_timeout="2s",
                loadgen="h2load", timing=False),
    "full": Scale(rate=1000, seconds=300, outage=300, slow_connections=1000,
                  header_timeout="10s", loadgen="oha", timing=True),
}

FAILURES = []
TABLE = []


def say(text):
    print(text, file=sys.stderr, flush=True)


def promise(ok, scenario, text):
    """Records one promise; a broken one fails the suite at the end."""
    say(f"  [{'kept' if ok else 'BROKEN'}] {text}")
    if not ok:
        FAILURES.append(f"{scenario}: {text}")


# ---------------------------------------------------------------------------------------
# Load generation


@dataclass
class Load:
    sent: int  # requests answered (any status)
    failed: int  # non-2xx answers, resets, timeouts: what a client would see as failure
    p50_ms: float
    p99_ms: float


def run_load(scale, url, body_file, rate=None, seconds=None, h2=False):
    """Holds `rate` requests per second against `url` for `seconds`."""
    rate = rate or scale.rate
    seconds = seconds or scale.seconds
    connections = 16
    if scale.loadgen == "oha":
        args = ["oha", "-z", f"{seconds}s", "-q", str(rate), "--latency-correction",
                "-c", str(connections), "-m", "POST", "-D", body_file,
                "-T", "application/json", "--no-tui", "--output-format", "json"]
        if h2:
            # Multiplexed: 8 streams on each of 16 connections.
            args += ["--http2", "-p", "8"]
        result = json.loads(subprocess.run(args + [url], check=True, capture_output=True,
                                           text=True).stdout)
        codes = {int(c): n for c, n in result.get("statusCodeDistribution", {}).items()}
        # Requests the -z deadline cut off are the generator stopping, not failures.
        errors = {k: n for k, n in result.get("errorDistribution", {}).items()
                  if "deadline" not in k}
        lat = result["latencyPercentiles"]
        return Load(sum(codes.values()),
                    sum(n for c, n in codes.items() if c >= 300) + sum(errors.values()),
                    (lat["p50"] or 0) * 1000, (lat["p99"] or 0) * 1000)
    log = tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log", delete=False).name
    connections = 8
    args = ["h2load", "-c", str(connections), "--rps", str(max(1, rate // connections)),
            "-D", str(seconds), "-d", body_file, "-H", "content-type: application/json",
            "--log-file", log]
    args += ["-m", "8"] if h2 else ["--h1", "-m", "1"]
    out = subprocess.run(args + [url], capture_output=True, text=True).stdout
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    if not m:
        raise SystemExit(f"h2load printed no request summary:\n{out}")
    done, failed = int(m.group(3)), int(m.group(5))
    # h2load's `failed` covers every request that did not end in 2xx/3xx, network errors
    # and timeouts included; the canned model server answers only 200.
    latencies = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                latencies.append(int(parts[2]) / 1000)
    os.unlink(log)
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return Load(done, failed, pct(0.50), pct(0.99))


# ---------------------------------------------------------------------------------------
# The processes


class Sidecar:
    """One `modelwatch proxy` in front of the canned model server, analysis on."""

    def __init__(self, rig, name, env=None, args=(), wrap=(), state=None, reference=None):
        self.rig, self.name = rig, name
        self.port, self.admin = bench.free_port(), bench.free_port()
        self.state = state or os.path.join(rig.tmp, name)
        os.makedirs(self.state, exist_ok=True)
        self.log_path = os.path.join(rig.tmp, f"{name}.log")
        full_env = dict(os.environ, MODELWATCH_LOG="info",
                        MODELWATCH_HOME=os.path.join(rig.tmp, "home"),
                        MODELWATCH_STATE_DIR=self.state, **(env or {}))
        self.command = list(wrap) + [
            rig.binary, "proxy", "--upstream", f"http://127.0.0.1:{rig.upstream}",
            "--listen", f"127.0.0.1:{self.port}", "--admin-listen", f"127.0.0.1:{self.admin}",
            "--reference", reference or rig.reference, "--model-name", "credit", *args]
        self.env = full_env
        self.start()

    def start(self):
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=self.log,
                                        stderr=self.log)
        self.rig.procs.append(self.process)
        wait_for(lambda: self.ready(), f"{self.name} ready", self)

    def ready(self):
        if self.process.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.process.returncode}:\n"
                             + self.log_text()[-3000:])
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/readyz",
                                          timeout=2).status == 200
        except (OSError, urllib.error.URLError):
            return False

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{PATH}"

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def metrics(self):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics",
                                      timeout=10).read().decode()

    def metric(self, name, **labels):
        """The sum of a family's samples whose labels include `labels`."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("#") or not (line.startswith(name + "{") or
                                            line.startswith(name + " ")):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def pid(self):
        """The modelwatch process itself (under `unshare`, the wrapper's child)."""
        if self.command[0] == self.rig.binary:
            return self.process.pid
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                             text=True).stdout.split()
        return int(out[0]) if out else self.process.pid

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        self.log.close()
        return code


def wait_for(condition, what, sidecar=None, timeout=120):
    """Polls `condition` until it holds; fails the suite with the sidecar's log if not."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    log = sidecar.log_text()[-3000:] if sidecar else ""
    raise SystemExit(f"{what}: not reached in {timeout} s\n{log}")


class Rig:
    """What every scenario shares: the model server, the reference, the request body."""

    def __init__(self, binary, scale):
        self.binary, self.scale = os.path.abspath(binary), scale
        self.tmp = tempfile.mkdtemp(prefix="mw-chaos-")
        self.procs = []
        bench.MODELWATCH = self.binary
        self.body = os.path.join(self.tmp, "body.json")
        with open(self.body, "w") as f:
            f.write(bench.request_body(features=FEATURES, rows=4))
        reply = json.dumps({"model_name": "credit", "outputs": [
            {"name": "output-0", "shape": [4], "datatype": "INT64", "data": [0] * 4}]})
        # nginx's `return` may answer before the request body has arrived, as no real
        # model server does (the proxy then stops sending, and analysis rightly skips the
        # incomplete body). So a front server reads every body whole (proxy_request_buffering)
        # before the canned answer is given behind it.
        self.upstream, canned = bench.free_port(), bench.free_port()
        conf = bench.nginx_conf(self.tmp, "upstream", f"""
    server {{ listen 127.0.0.1:{canned}; location / {{
        default_type application/json; return 200 '{reply}'; }} }}
    upstream canned {{ server 127.0.0.1:{canned}; keepalive 64; }}
    server {{ listen 127.0.0.1:{self.upstream}; client_body_buffer_size 64k; location / {{
        proxy_pass http://canned; proxy_http_version 1.1; proxy_set_header Connection "";
        proxy_request_buffering on; }} }}""")
        self.procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", self.tmp],
                                           stderr=subprocess.DEVNULL))
        bench.wait_port(self.upstream)
        self.reference = bench.reference_profile(self.tmp, FEATURES)
        self.node = os.environ["OPENSEARCH_URL"].rstrip("/")
        self.streams = 0

    def stream(self):
        """A data stream of the scenario's own, so counts see only its events."""
        self.streams += 1
        return f"logs-modelwatch.inference-chaos{os.getpid()}n{self.streams}"

    def export_env(self, url, stream, **extra):
        env = {"MODELWATCH__EXPORT__ELASTICSEARCH__URL": url,
               "MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM": stream,
               "MODELWATCH__EXPORT__ELASTICSEARCH__REQUEST_TIMEOUT": "2s"}
        env.update({f"MODELWATCH__EXPORT__ELASTICSEARCH__{k.upper()}": v
                    for k, v in extra.items()})
        return env

    def close(self):
        bench.stop_all(self.procs)
        if os.environ.get("KEEP_CHAOS_STATE") == "1":
            say(f"state kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# OpenSearch


def node_call(rig, method, path, body=None):
    request = urllib.request.Request(f"{rig.node}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"content-type": "application/json"})
    try:
        return json.loads(urllib.request.urlopen(request, timeout=60).read() or b"null")
    except urllib.error.HTTPError as err:
        return json.loads(err.read() or b"null")


def stored_request_ids(rig, stream):
    """{request id: copies} of every event stored in `stream`, paged exactly (composite)."""
    node_call(rig, "POST", f"/{stream}/_refresh")
    ids, after = {}, None
    while True:
        composite = {"size": 10000, "sources": [
            {"id": {"terms": {"field": "http.request.id"}}}]}
        if after:
            composite["after"] = after
        answer = node_call(rig, "POST", f"/{stream}/_search",
                           {"size": 0, "aggs": {"ids": {"composite": composite}}})
        if "aggregations" not in answer:
            return ids  # the stream does not exist (yet): nothing stored
        agg = answer["aggregations"]["ids"]
        for bucket in agg["buckets"]:
            ids[bucket["key"]["id"]] = bucket["doc_count"]
        after = agg.get("after_key")
        if not agg["buckets"] or not after:
            return ids


def delivered_once(rig, scenario, sidecar, stream, expected):
    """Waits until `expected` events are stored, then checks each request id is there once."""
    def count():
        node_call(rig, "POST", f"/{stream}/_refresh")
        answer = node_call(rig, "GET", f"/{stream}/_count")
        return (answer or {}).get("count", 0)

    try:
        wait_for(lambda: count() >= expected, f"{expected} events in {stream}", sidecar,
                 timeout=300)
    except SystemExit as err:
        say(str(err)[:2000])
    ids = stored_request_ids(rig, stream)
    copies = sum(ids.values())
    twice = [i for i, n in ids.items() if n > 1]
    promise(copies == expected and not twice, scenario,
            f"every request's event stored exactly once: {expected} requests, {copies} "
            f"events stored, {len(ids)} distinct request ids, {len(twice)} stored twice")
    node_call(rig, "DELETE", f"/_data_stream/{stream}")
    return copies


def requests_seen(sidecar):
    return int(sidecar.metric("modelwatch_requests_total"))


def events(sidecar, outcome, **kind):
    """modelwatch_export_events_total of one outcome: every kind of document, or only
    `kind="request"`, `"drift"` or `"performance"`."""
    return int(sidecar.metric("modelwatch_export_events_total", sink="elasticsearch",
                              outcome=outcome, **kind))


def peak_rss(sidecar):
    return bench.peak_rss_mb(sidecar.pid())


# ---------------------------------------------------------------------------------------
# The scenarios


def sustained(rig):
    """1. Sustained load, HTTP/1.1 and h2: no failed request; added latency, RSS, CPU."""
    scale = rig.scale
    say("\n## sustained: no failed request at the rate, over HTTP/1.1 and h2")
    sidecar = Sidecar(rig, "sustained")
    for h2 in (False, True):
        proto = "h2" if h2 else "HTTP/1.1"
        direct = run_load(scale, f"http://127.0.0.1:{rig.upstream}{PATH}", rig.body,
                          h2=False)
        before_cpu = bench.cpu_seconds(sidecar.pid())
        through = run_load(scale, sidecar.url, rig.body, h2=h2)
        cpu = (bench.cpu_seconds(sidecar.pid()) - before_cpu) / max(through.sent, 1) * 1000
        drops = sidecar.metric("modelwatch_analysis_dropped_total")
        promise(through.failed == 0 and through.sent > 0, "sustained",
                f"{proto}: {through.sent} requests, {through.failed} failed")
        TABLE.append(("sustained", proto, f"{through.sent} req, {through.failed} failed; "
                      f"p50 {through.p50_ms:.2f} ms (direct {direct.p50_ms:.2f}), p99 "
                      f"{through.p99_ms:.2f} ms (direct {direct.p99_ms:.2f}); added p99 "
                      f"{through.p99_ms - direct.p99_ms:+.2f} ms; peak RSS "
                      f"{peak_rss(sidecar):.1f} MiB; {cpu:.3f} CPU-s per 1k req; "
                      f"analysis drops {drops:.0f}"))
    sidecar.stop()


def outage(rig, name, fault, extra_env=None):
    """A cluster that misbehaves for a while, then is healthy: the events of every request
    arrive exactly once afterwards, none is dead-lettered, traffic is unaffected."""
    scale = rig.scale
    stream = rig.stream()
    front = Front(rig.node)
    env = rig.export_env(front.url, stream, **(extra_env or {}))
    sidecar = Sidecar(rig, name, env=env)
    healthy = run_load(scale, sidecar.url, rig.body, seconds=max(2, scale.seconds // 2))
    front.set_mode(fault)
    during = run_load(scale, sidecar.url, rig.body, seconds=scale.outage)
    # The fault must have been felt before it ends, or the scenario proves nothing.
    if fault == "unauthorized":
        wait_for(lambda: sidecar.metric("modelwatch_export_blocked", sink="elasticsearch") == 1,
                 "the export blocked by 401s", sidecar)
    else:
        wait_for(lambda: events(sidecar, "retried") > 0, "a bulk request timed out and retried",
                 sidecar)
    blocked = sidecar.metric("modelwatch_export_blocked", sink="elasticsearch")
    retried = events(sidecar, "retried")
    rss = peak_rss(sidecar)
    promise(rss <= MEMORY_LIMIT_MIB, name, f"peak RSS {rss:.1f} MiB under the Kubernetes "
            f"example's limit of {MEMORY_LIMIT_MIB} MiB")
    front.set_mode("relay")
    after = run_load(scale, sidecar.url, rig.body, seconds=max(2, scale.seconds // 2))
    promise(healthy.failed + during.failed + after.failed == 0, name,
            f"no request failed: {healthy.sent + during.sent + after.sent} requests, "
            f"{healthy.failed + during.failed + after.failed} failed")
    seen = requests_seen(sidecar)
    delivered_once(rig, name, sidecar, stream, seen)
    dead = events(sidecar, "dead_letter")
    promise(dead == 0, name, f"no event dead-lettered ({dead})")
    if scale.timing:
        promise(during.p99_ms <= healthy.p99_ms * 1.10, name,
                f"p99 during the fault {during.p99_ms:.2f} ms within 10% of healthy "
                f"{healthy.p99_ms:.2f} ms")
    TABLE.append((name, fault, f"{seen} requests; p99 healthy {healthy.p99_ms:.2f} / during "
                  f"{during.p99_ms:.2f} / after {after.p99_ms:.2f} ms; peak RSS {rss:.1f} MiB; "
                  f"blocked gauge during {blocked:.0f}; {retried} event retries; dead letters {dead}"))
    sidecar.stop()
    front.close()
    return blocked


def blackhole(rig):
    """2. The cluster accepts connections and never answers for the outage, then is healthy."""
    say("\n## blackhole: Elasticsearch accepts and never answers, then recovers")
    outage(rig, "blackhole", "blackhole")


def revoked(rig):
    """3. Credentials revoked mid-run (every request answered 401), then restored."""
    say("\n## revoked: 401 for every request for a while, then accepted again")
    blocked = outage(rig, "revoked", "unauthorized")
    promise(blocked == 1, "revoked",
            f"modelwatch_export_blocked was 1 while the cluster refused ({blocked:.0f})")


def disk_full(rig):
    """4. The state directory's filesystem fills while the cluster is down."""
    say("\n## disk-full: the spool's filesystem fills during an outage, then space returns")
    if os.geteuid() != 0:
        say("  SKIPPED: mounting a small filesystem needs root")
        TABLE.append(("disk-full", "skipped", "needs root (unshare --mount, tmpfs)"))
        return
    scale = rig.scale
    stream = rig.stream()
    front = Front(rig.node)
    front.set_mode("blackhole")
    mount = os.path.join(rig.tmp, "small")
    os.makedirs(mount)
    # A 1 MiB tmpfs of the sidecar's own, in a private mount namespace; a filler file
    # leaves it 256 KiB, which the spool fills within seconds at the rate. 1 MiB is less
    # than a quarter of the spool's segment size (100 MiB / 16): a drained segment must be
    # let go because the disk is full, not because it grew large.
    disk_bytes, filler_bytes = 1 << 20, 3 << 18
    wrap = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount -t tmpfs -o size={disk_bytes} tmpfs "$0" && '
            f'head -c {filler_bytes} /dev/zero > "$0/filler" && exec "$@"', mount]
    env = rig.export_env(front.url, stream, spool_bytes="104857600")
    # With the reference, and evaluating every second: drift snapshots compete with
    # request events for the small disk, as in production. The drop counter's `kind`
    # label tells them apart, so "requests - dropped request events" is exactly the
    # request events that must arrive.
    env["MODELWATCH__ANALYSIS__EVALUATION_INTERVAL"] = "1s"
    sidecar = Sidecar(rig, "disk-full", env=env, wrap=wrap, state=mount)
    during = run_load(scale, sidecar.url, rig.body, seconds=scale.outage + 2)
    wait_for(lambda: events(sidecar, "dropped", kind="request") > 0,
             "request events dropped on a full disk", sidecar)
    spooled_full = events(sidecar, "spooled")
    promise(during.failed == 0, "disk-full",
            f"traffic unaffected by the full disk: {during.sent} requests, {during.failed} "
            f"failed")
    # Space returns (the filler goes, seen through the process's own mount namespace),
    # then the cluster does, and the backlog is shipped (after the outage the sender may
    # sit out its retry backoff, up to 30 s: at 1,000 rps more than this disk holds, so
    # drops until then are the disk being full, counted). Then the load runs until the
    # events spooled since outnumber two whole disks' worth: a spool that lets go of
    # delivered segments only when they are large, or holds them open, fills the disk
    # once and drops from then on.
    os.unlink(f"/proc/{sidecar.pid()}/root{mount}/filler")
    front.set_mode("relay")
    wait_for(lambda: sidecar.metric("modelwatch_export_spool_bytes") == 0,
             "the backlog shipped after the cluster returned", sidecar, timeout=120)
    dropped_full = events(sidecar, "dropped")
    spooled = events(sidecar, "spooled")
    per_disk = spooled_full * disk_bytes // (disk_bytes - filler_bytes)
    after = Load(0, 0, 0, 0)
    runs = 0
    while events(sidecar, "spooled") - spooled < 2 * per_disk and runs < 30:
        part = run_load(scale, sidecar.url, rig.body, seconds=max(2, scale.seconds // 2))
        after = Load(after.sent + part.sent, after.failed + part.failed, part.p50_ms, part.p99_ms)
        runs += 1
    spooled_after = events(sidecar, "spooled") - spooled
    promise(after.failed == 0, "disk-full", f"traffic after: {after.failed} failed")
    seen = requests_seen(sidecar)
    dropped = events(sidecar, "dropped")  # every kind: no drift snapshot may be lost either
    promise(dropped == dropped_full and spooled_after >= 2 * per_disk, "disk-full",
            f"no drops once space returned and the backlog was shipped ({dropped_full} "
            f"before, {dropped} in all; "
            f"{spooled_after} events spooled since, about {spooled_after / per_disk:.1f} "
            "disks' worth)")
    dropped_requests = events(sidecar, "dropped", kind="request")
    stored = delivered_once(rig, "disk-full", sidecar, stream, seen - dropped_requests)
    drift_delivered = events(sidecar, "delivered", kind="drift")
    drift_dropped = events(sidecar, "dropped", kind="drift")
    corrupt = [line for line in sidecar.log_text().splitlines() if "truncat" in line
               or "checksum" in line]
    promise(not corrupt, "disk-full", f"no spool record found corrupt ({len(corrupt)} log "
            "lines about truncation or checksums)")
    TABLE.append(("disk-full", "1 MiB tmpfs", f"{seen} requests; {dropped} events dropped "
                  f"and counted while the disk was full ({dropped_requests} request events, "
                  f"{drift_dropped} drift snapshots; {drift_delivered} drift snapshots "
                  f"delivered); {spooled_after} spooled after space returned "
                  f"({spooled_after / per_disk:.1f} disks); {stored} delivered once; all "
                  "acknowledged spooled events delivered"))
    sidecar.stop()
    front.close()


def sigterm(rig):
    """5. SIGTERM under load: in-flight requests complete, exit 0 within the drain timeout,
    every event delivered or kept in the spool. Then SIGKILL under load: loss bounded."""
    say("\n## sigterm: graceful stop under load; SIGKILL and restart under load")
    scale = rig.scale
    stream = rig.stream()
    env = rig.export_env(rig.node, stream)
    # Serving on for a moment after SIGTERM, closing each keep-alive connection after its
    # next response (without it, each client connection's next request is reset).
    env["MODELWATCH__PROXY__SHUTDOWN_DELAY"] = SHUTDOWN_DELAY
    sidecar = Sidecar(rig, "sigterm", env=env)
    client = KeepAliveClients(sidecar.port, rig.body, rate=scale.rate)
    wait_for(lambda: client.answered > scale.rate, "traffic flowing", sidecar)
    started = time.time()
    code = sidecar.stop(signal.SIGTERM, timeout=40)
    took = time.time() - started
    client.stop()
    promise(code == 0, "sigterm", f"exit status {code} after SIGTERM (in {took:.1f} s; "
            f"shutdown delay {SHUTDOWN_DELAY} + drain timeout 25 s)")
    promise(client.cut == 0 and client.unanswered == 0, "sigterm",
            f"no request failed: {client.answered} answered, {client.cut} cut off, "
            f"{client.unanswered} unanswered ({client.refused} connects refused once the "
            "listener had closed: the client goes to another replica)")
    # The spool that is left is shipped by the next start. An event is written for every
    # request the sidecar read, so events = answers means that every request it read was
    # answered, and the unanswered ones were never read (sent into a keep-alive
    # connection as the sidecar closed it; safe for a client to retry).
    sidecar.start()
    delivered_once(rig, "sigterm", sidecar, stream, client.answered)
    TABLE.append(("sigterm", "SIGTERM", f"{client.answered} answered, {client.cut} cut, "
                  f"{client.unanswered} unanswered, "
                  f"{client.refused} connects refused after; exit {code} in {took:.1f} s"))

    # SIGKILL: what may be lost is what was still in the in-memory queue (docs/events.md);
    # every event the sidecar had counted as written to the spool must arrive.
    stream = rig.stream()
    sidecar.stop()
    sidecar.env.update(rig.export_env(rig.node, stream))
    sidecar.start()
    client = KeepAliveClients(sidecar.port, rig.body, rate=scale.rate)
    wait_for(lambda: client.answered > scale.rate, "traffic flowing", sidecar)
    spooled = events(sidecar, "spooled")
    sidecar.stop(signal.SIGKILL)
    client.stop()
    answered = client.answered_ok
    sidecar.start()
    try:
        wait_for(lambda: sum(stored_request_ids(rig, stream).values()) >= spooled,
                 "the spooled events after SIGKILL", sidecar, timeout=120)
    except SystemExit as err:
        say(str(err)[:2000])
    ids = stored_request_ids(rig, stream)
    stored = sum(ids.values())
    promise(stored >= spooled and stored == len(ids) and stored <= answered, "sigterm",
            f"SIGKILL: {answered} answered, {spooled} counted as spooled a moment before the "
            f"kill, {stored} stored after the restart, each once; {answered - stored} lost "
            "from the in-memory queue")
    TABLE.append(("sigterm", "SIGKILL + restart", f"{answered} answered, "
                  f"{answered - stored} lost (in the in-memory queue at the kill)"))
    sidecar.stop()


class KeepAliveClients:
    """Clients on keep-alive connections that count how each request ended:

    - answered: a whole response (any status);
    - cut: a response that started and broke off (always a failure);
    - unanswered: the request was written, then the connection closed without a response
      byte. On a keep-alive connection this is also the race HTTP/1.1 allows when a server
      closes an idle connection as a request is sent; the server's own count (an event per
      request it read) tells the two apart;
    - refused: no connection (the listener had closed; a client goes elsewhere).
    """

    def __init__(self, port, body_file, rate, threads=8):
        with open(body_file, "rb") as f:
            self.body = f.read()
        self.port, self.interval = port, threads / rate
        self.answered = self.answered_ok = self.cut = self.unanswered = self.refused = 0
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def count(self, outcome, ok=False):
        with self.lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            self.answered_ok += ok

    def run(self):
        conn = None
        while self.running:
            begun = time.time()
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                try:
                    conn.connect()
                except OSError:
                    conn = None
                    self.count("refused")
                    time.sleep(self.interval)
                    continue
            try:
                conn.request("POST", PATH, self.body, {"content-type": "application/json"})
                response = conn.getresponse()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
                self.count("unanswered")
                continue
            try:
                response.read()
                self.count("answered", ok=response.status == 200)
                if response.will_close:
                    conn.close()
                    conn = None
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = None
                self.count("cut")
            time.sleep(max(0.0, self.interval - (time.time() - begun)))

    def stop(self):
        self.running = False
        for t in self.threads:
            t.join(35)


def slowloris(rig):
    """6. Slow clients holding connections with half a request head, beside normal load."""
    scale = rig.scale
    say(f"\n## slowloris: {scale.slow_connections} connections dribbling a request head")
    timeout = scale.header_timeout
    sidecar = Sidecar(rig, "slowloris", env={"MODELWATCH__PROXY__HEADER_READ_TIMEOUT": timeout})
    limit = float(timeout.rstrip("s")) + 1
    calm = run_load(scale, sidecar.url, rig.body)
    closed_after = []
    opened = []

    def dribble():
        s = socket.create_connection(("127.0.0.1", sidecar.port))
        s.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        opened.append((s, time.time()))

    for _ in range(scale.slow_connections):
        dribble()
    done = threading.Event()

    def keep_dribbling():
        # One header line per second on every slow connection, until each is closed.
        while not done.is_set():
            for s, since in list(opened):
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(1)

    def watch():
        for s, since in opened:
            s.settimeout(limit + 30)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            closed_after.append(time.time() - since)

    sender = threading.Thread(target=keep_dribbling, daemon=True)
    sender.start()
    watchers = [threading.Thread(target=watch, daemon=True)]
    for w in watchers:
        w.start()
    loaded = run_load(scale, sidecar.url, rig.body)
    for w in watchers:
        w.join(limit + 60)
    done.set()
    worst = max(closed_after) if closed_after else float("inf")
    promise(len(closed_after) == scale.slow_connections and worst <= limit, "slowloris",
            f"{len(closed_after)} of {scale.slow_connections} slow connections closed, the "
            f"last {worst:.1f} s after it opened (header timeout {timeout} + 1 s)")
    promise(loaded.failed == 0, "slowloris",
            f"normal traffic beside them: {loaded.sent} requests, {loaded.failed} failed")
    if scale.timing:
        promise(loaded.p99_ms <= calm.p99_ms * 1.10, "slowloris",
                f"normal p99 {loaded.p99_ms:.2f} ms within 10% of {calm.p99_ms:.2f} ms")
    TABLE.append(("slowloris", f"{scale.slow_connections} conns",
                  f"last closed after {worst:.1f} s; normal p99 {calm.p99_ms:.2f} → "
                  f"{loaded.p99_ms:.2f} ms, {loaded.failed} failed"))
    for s, _ in opened:
        s.close()
    sidecar.stop()


def reload(rig):
    """7. References reloaded under load: no failed request, and each reload starts a new
    window, so no window mixes rows compared against two references."""
    scale = rig.scale
    say("\n## reload: references swapped and reloaded under load")
    # The sidecar reads its reference through a link that is flipped between two profiles
    # (the canned traffic drifts from one, not from the other) before every reload.
    profiles = [rig.reference, shifted_profile(rig)]
    link = os.path.join(rig.tmp, "reference-link.json")
    os.symlink(profiles[0], link)
    sidecar = Sidecar(rig, "reload", reference=link, env={
        "MODELWATCH__ADMIN__ENABLE_LIFECYCLE": "true",
        "MODELWATCH__ANALYSIS__EVALUATION_INTERVAL": "200ms"})
    answers = []
    stop = threading.Event()

    def keep_reloading():
        while not stop.is_set():
            flip_and_reload(sidecar, link, profiles[(len(answers) + 1) % 2], answers)
            stop.wait(0.5)

    reloader = threading.Thread(target=keep_reloading, daemon=True)
    reloader.start()
    # Load in rounds until several reloads happened under it: a slow machine reloads
    # (profile read, bins rebuilt) fewer times per round, and the promise is about reloads.
    load_sent = load_failed = rounds = 0
    while rounds == 0 or (len(answers) < 3 and rounds < 10):
        loaded = run_load(scale, sidecar.url, rig.body)
        load_sent, load_failed = load_sent + loaded.sent, load_failed + loaded.failed
        rounds += 1
    stop.set()
    reloader.join()
    promise(load_failed == 0, "reload", f"{load_sent} requests during {len(answers)} "
            f"reloads, {load_failed} failed")
    promise(len(answers) > 1 and all(a[0] == 200 for a in answers), "reload",
            f"every reload accepted ({sorted(set(a[0] for a in answers))})")
    # One more reload with nothing in flight, then a known number of rows: the window
    # holds exactly those, compared with the reference the reload installed.
    installed = (len(answers) + 1) % 2
    flip_and_reload(sidecar, link, profiles[installed], answers)
    expected, previous = answers[-1][1], answers[-2][1]
    sent = 50
    post_many(sidecar, rig.body, sent)
    # (The report is the last evaluation's: wait for one of the new window with every row.)
    wait_for(lambda: reference_version(sidecar) == expected and window_rows(sidecar) >= sent * 4,
             "an evaluation of the reloaded reference's window", sidecar)
    rows, version = window_rows(sidecar), reference_version(sidecar)
    promise(rows == sent * 4 and version == expected != previous, "reload",
            f"the window after the last reload holds only the {sent * 4} rows sent since "
            f"({rows}), compared with the reference the reload installed (version {version}; "
            f"the reload said {expected}, the one before {previous})")
    TABLE.append(("reload", f"{len(answers)} reloads", f"{load_sent} requests, "
                  f"{load_failed} failed; window after the last reload {rows} rows"))
    sidecar.stop()


def shifted_profile(rig):
    """A profile of the same columns whose values sit far from the canned traffic's."""
    csv_path = os.path.join(rig.tmp, "shifted.csv")
    with open(csv_path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(FEATURES)) + "\n")
        for r in range(5000):
            f.write(",".join(str(round(bench.feature_value(r, j) + 1000, 2))
                             for j in range(FEATURES)) + "\n")
    out = os.path.join(rig.tmp, "shifted.json")
    subprocess.run([rig.binary, "dataset", "profile", csv_path, "-o", out], check=True,
                   stderr=subprocess.DEVNULL)
    return out


def flip_and_reload(sidecar, link, profile, answers):
    """Points `link` at `profile` (atomically) and asks the sidecar to reload."""
    flipped = link + ".next"
    os.symlink(profile, flipped)
    os.replace(flipped, link)
    request = urllib.request.Request(
        f"http://127.0.0.1:{sidecar.admin}/-/reload", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            # "reloaded: credit=PATH (VERSION)"
            answers.append((answer.status, answer.read().decode().rsplit("(", 1)[-1].strip(")\n")))
    except urllib.error.HTTPError as err:
        answers.append((err.code, err.read().decode()))


def post_many(sidecar, body_file, count):
    with open(body_file, "rb") as f:
        body = f.read()
    for _ in range(count):
        urllib.request.urlopen(urllib.request.Request(
            sidecar.url, data=body, headers={"content-type": "application/json"}),
            timeout=30).read()


def credit_report(sidecar):
    report = json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{sidecar.admin}/api/v1/drift", timeout=10).read())
    models = [m for m in report["models"] if m["model"] == "credit"]
    return models[0] if models else None


def window_rows(sidecar):
    report = credit_report(sidecar)
    return report["window"]["rows"] if report else 0


def reference_version(sidecar):
    report = credit_report(sidecar)
    return report["reference"]["version"] if report else None


SCENARIOS = {
    "sustained": sustained,
    "blackhole": blackhole,
    "revoked": revoked,
    "disk-full": disk_full,
    "sigterm": sigterm,
    "slowloris": slowloris,
    "reload": reload,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=SCALES, default="ci")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release",
                                                         "modelwatch"))
    parser.add_argument("--only", help="comma-separated scenario names: "
                        + ", ".join(SCENARIOS))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [c for c in chosen if c not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown}; known: {', '.join(SCENARIOS)}")
    if "OPENSEARCH_URL" not in os.environ:
        parser.error("OPENSEARCH_URL is not set: start a node with "
                     "`bash tests/services/opensearch.sh start` and export what it prints")
    scale = SCALES[args.scale]
    # Shorter or gentler runs of a scale, e.g. to try the full one quickly:
    # CHAOS_SECONDS=20 CHAOS_OUTAGE=20 CHAOS_RATE=500.
    scale.rate = int(os.environ.get("CHAOS_RATE", scale.rate))
    scale.seconds = int(os.environ.get("CHAOS_SECONDS", scale.seconds))
    scale.outage = int(os.environ.get("CHAOS_OUTAGE", scale.outage))
    rig = Rig(args.binary, scale)
    say(f"# chaos suite, scale {args.scale}: {scale.rate} rps, {scale.seconds} s runs, "
        f"{scale.outage} s faults, {FEATURES}-feature reference, {scale.loadgen}")
    try:
        for name in chosen:
            try:
                SCENARIOS[name](rig)
            except SystemExit as err:
                # A condition the scenario waited for never came: that is a broken promise
                # too; the next scenario still runs (each starts its own sidecar).
                promise(False, name, f"aborted: {str(err).splitlines()[0]}")
                say(str(err)[-3000:])
    finally:
        rig.close()
    print("\n| scenario | case | figures |")
    print("|---|---|---|")
    for row in TABLE:
        print(f"| {row[0]} | {row[1]} | {row[2]} |")
    if FAILURES:
        print("\nBROKEN PROMISES:\n" + "\n".join(f"- {f}" for f in FAILURES))
        sys.exit(1)
    print(f"\nall promises kept ({len(chosen)} scenarios)")


if __name__ == "__main__":
    main()
