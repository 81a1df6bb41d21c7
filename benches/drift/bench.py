"""Drift benchmark: modelwatch vs scipy ks_2samp vs Evidently DataDriftPreset, one run.

Reference: examples/credit/credit_data.csv (4,454 rows, the training data). Current files:
rows resampled from it with numeric values jittered (x * (1 + N(0, 0.05)), rounded like the
source), generated in 1e6-row chunks with distinct seeds and cached in --work.

Every timing is wall time of the whole task from the CSV file on disk to the verdicts, as a
user would run it: modelwatch is one process (`modelwatch drift`), the Python side is
`pandas.read_csv` + the statistic (the reference DataFrame is loaded beforehand and not
timed, in Python's favour). Medians of --repeat runs (one run at 1e7 and for the 1 GB file).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

CREDIT = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "credit", "credit_data.csv")
NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]
CHUNK = 1_000_000


def generate(path, rows, ref):
    """Writes `rows` rows (multiple of CHUNK or smaller) of jittered credit data."""
    if os.path.exists(path):
        return
    tmp = path + ".partial"
    with open(tmp, "w") as out:
        written, seed = 0, 0
        while written < rows:
            n = min(CHUNK, rows - written)
            rng = np.random.default_rng(1000 + seed)
            chunk = ref.iloc[rng.integers(0, len(ref), n)].reset_index(drop=True)
            for col in NUMERIC:
                jitter = 1.0 + rng.normal(0.0, 0.05, n)
                decimals = 1 if col in ("Income", "Assets", "Debt") else 0
                chunk[col] = (chunk[col] * jitter).round(decimals)
                if decimals == 0:
                    chunk[col] = chunk[col].astype("Int64")
            chunk.to_csv(out, header=(written == 0), index=False)
            written += n
            seed += 1
    os.rename(tmp, path)


def grow_to(path, source, target_bytes):
    """Writes `source` repeatedly (header once) until the file reaches target_bytes."""
    if os.path.exists(path):
        return
    tmp = path + ".partial"
    with open(source, "rb") as f:
        header = f.readline()
        body = f.read()
    with open(tmp, "wb") as out:
        out.write(header)
        while out.tell() < target_bytes:
            out.write(body)
    os.rename(tmp, path)


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_modelwatch(binary, current, extra=(), repeat=3):
    """Median wall time, peak RSS (KiB) and the JSON report of `modelwatch drift`."""
    cmd = ["/usr/bin/time", "-v", binary, "drift", "--reference", CREDIT, "--target", "Status",
           "--current", current, "--json", *extra]
    times, rss, report = [], [], None
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"modelwatch failed: {proc.stderr}")
        report = json.loads(proc.stdout)
        for line in proc.stderr.splitlines():
            if "Maximum resident set size" in line:
                rss.append(int(line.split(":")[1]))
    return statistics.median(times), max(rss), report


def scipy_ks(ref, current):
    cur = pd.read_csv(current)
    return {c: stats.ks_2samp(ref[c].dropna(), cur[c].dropna()) for c in NUMERIC}


def evidently_preset(ref, current):
    from evidently import Report
    from evidently.presets import DataDriftPreset

    cur = pd.read_csv(current)
    return Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref).dict()


def fmt_s(x):
    return "-" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--sizes", default="1e5,1e6,1e7")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--evidently-max", type=float, default=1e6,
                    help="largest size Evidently runs at (capped: ~20 s at 1e5 here, it grows "
                         "linearly, so 1e7 would take about an hour)")
    ap.add_argument("--gb", type=float, default=1.0, help="size of the RSS file in GB (0: skip)")
    args = ap.parse_args()

    ref = pd.read_csv(CREDIT)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        path = os.path.join(args.work, f"current_{n}.csv")
        print(f"# generating {path}", file=sys.stderr, flush=True)
        generate(path, n, ref)
        repeat = args.repeat if n <= 1_000_000 else 1
        print(f"# {n} rows: modelwatch", file=sys.stderr, flush=True)
        mw_auto, rss, report = run_modelwatch(args.bin, path, repeat=repeat)
        mw_ks, _, ks_report = run_modelwatch(args.bin, path, ["--method", "ks"], repeat=repeat)
        print(f"# {n} rows: scipy", file=sys.stderr, flush=True)
        sp, sp_result = timed(lambda: scipy_ks(ref, path), repeat)
        by_name = {c["name"]: c for c in ks_report["columns"]}
        agreement = max(abs(by_name[c]["p_value"] - sp_result[c].pvalue) for c in NUMERIC)
        ev = None
        if n <= args.evidently_max:
            print(f"# {n} rows: evidently", file=sys.stderr, flush=True)
            ev, _ = timed(lambda: evidently_preset(ref, path), 1 if n > 100_000 else repeat)
        rows.append(dict(n=n, mw_auto=mw_auto, mw_ks=mw_ks, scipy=sp,
                         evidently=ev, rss=rss, agreement=agreement,
                         drift_share=report["drift_share"]))

    print()
    print("modelwatch drift vs Python, 14 columns (9 numeric), reference credit_data.csv "
          f"(4,454 rows); medians of {args.repeat} runs (1 run at 1e7), seconds")
    header = ["rows", "mw auto", "Evidently", "ratio", "mw ks", "scipy ks", "ratio", "max |dp|",
              "mw RSS MiB"]
    table = [header]
    for r in rows:
        table.append([
            f"{r['n']:.0e}",
            fmt_s(r["mw_auto"]),
            fmt_s(r["evidently"]) if r["evidently"] is not None else "capped",
            f"{r['evidently'] / r['mw_auto']:.0f}x" if r["evidently"] else "-",
            fmt_s(r["mw_ks"]),
            fmt_s(r["scipy"]),
            f"{r['scipy'] / r['mw_ks']:.1f}x",
            f"{r['agreement']:.1e}" if r["agreement"] is not None else "-",
            f"{r['rss'] / 1024:.0f}",
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    print(f"Evidently capped above {args.evidently_max:.0e} rows (\"capped\")")
    print("mw ks: --method ks, exact on every row (current values counted between the "
          "reference values); max |dp|: largest KS p-value difference modelwatch vs scipy over "
          "the 9 numeric columns; mw RSS: peak of the auto run")

    if args.gb > 0:
        small = os.path.join(args.work, "current_1000000.csv")
        generate(small, 1_000_000, ref)
        big = os.path.join(args.work, f"current_{args.gb:g}GB.csv")
        print(f"# generating {big}", file=sys.stderr, flush=True)
        grow_to(big, small, int(args.gb * 1e9))
        t_small, rss_small, _ = run_modelwatch(args.bin, small, repeat=1)
        t_big, rss_big, rep_big = run_modelwatch(args.bin, big, repeat=1)
        print()
        print("peak RSS of modelwatch drift (auto), /usr/bin/time -v")
        print(f"{'file':>28}  {'size':>9}  {'rows':>10}  {'seconds':>8}  {'peak RSS':>9}")
        for name, t, rss, rows_ in [(small, t_small, rss_small, 1_000_000),
                                    (big, t_big, rss_big, rep_big["rows"])]:
            size = os.path.getsize(name) / 1e6
            print(f"{os.path.basename(name):>28}  {size:>7.0f}MB  {rows_:>10}  {t:>8.2f}  "
                  f"{rss / 1024:>6.0f}MiB")


if __name__ == "__main__":
    main()
