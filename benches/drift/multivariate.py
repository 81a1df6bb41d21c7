"""Multivariate drift benchmark: `modelwatch drift --multivariate` against NannyML 0.13.1's
DataReconstructionDriftCalculator and DomainClassifierCalculator, one run.

Run it through `benches/drift/run.sh --multivariate [WORK_DIR]`: it needs the pinned NannyML
environment of tests/fixtures/drift/multivariate (requirements.txt there).

Reference and current files are bench.py's: examples/credit/credit_data.csv (4,454 rows,
13 features besides the target Status) and credit-shaped files of --sizes rows (resampled,
numeric values jittered by 5%), cached in --work.

Every timing is of the whole task from the CSV file on disk to the verdicts, as a user would
run it, median of --repeat runs; wall time and CPU time (user + system, every thread).
modelwatch is one process: `modelwatch drift --multivariate --json` (which runs the
per-column tests as well: they count against it) on a seeded sample of at most
`--multivariate-rows` rows a side (10,000 by default). NannyML runs in a child process per
method and size, with the reference DataFrame loaded beforehand and not timed (in its
favour); timed are `pandas.read_csv` of the current file, `fit` on the reference and
`calculate` on the current rows with the calculator's defaults (10 chunks of the current
rows, each with a verdict), on every row and, for the same work as modelwatch, on a
uniform sample of 10,000 rows. A child that passes --timeout is killed; its finished runs
still count and the table says so. Evidently (benches/drift/requirements.txt, 0.7.23) has
no multivariate drift for tabular data: see README.md.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# NannyML posts usage analytics unless told not to (and the network here is closed).
os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"

import pandas as pd  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench import CREDIT, generate  # noqa: E402

TARGET = "Status"
METHODS = {"reconstruction_error": "DataReconstructionDriftCalculator",
           "domain_classifier": "DomainClassifierCalculator"}


def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def nannyml_child(method, current, repeat, rows):
    """Runs in the child process: prints one JSON line per finished run."""
    import warnings

    import nannyml as nml

    warnings.filterwarnings("ignore")
    ref = pd.read_csv(CREDIT)
    features = [c for c in ref.columns if c != TARGET]
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
        cur = pd.read_csv(current)
        if rows and len(cur) > rows:
            cur = cur.sample(n=rows, random_state=0)
        if method == "reconstruction_error":
            calc = nml.DataReconstructionDriftCalculator(column_names=features)
        else:
            calc = nml.DomainClassifierCalculator(feature_column_names=features)
        calc.fit(ref[features])
        result = calc.calculate(cur[features]).filter(period="analysis").to_df()
        wall = time.perf_counter() - wall
        cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
        metric = result.columns.get_level_values(0)[-1]
        values = result[(metric, "value")]
        print(json.dumps({
            "wall": wall, "cpu": cpu,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "verdict": f"{int(result[(metric, 'alert')].sum())}/{len(values)} chunks alert, "
                       f"{metric} {values.min():.3f}–{values.max():.3f}",
        }), flush=True)


def run_nannyml(method, current, repeat, rows, timeout):
    """Finished runs of the child, and whether it timed out (or failed: the reason)."""
    cmd = [sys.executable, __file__, "--child", method, "--current", current,
           "--repeat", str(repeat), "--rows", str(rows)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    problem = None
    try:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            problem = f"exit {proc.returncode}: {err.strip().splitlines()[-1] if err.strip() else ''}"
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        problem = f"killed after {timeout:.0f} s"
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return runs, problem


def run_modelwatch(binary, current, repeat):
    """Wall and CPU time (with /usr/bin/time's own, a few ms) of each run, and the report."""
    cmd = ["/usr/bin/time", "-v", binary, "drift", "--reference", CREDIT, "--target", TARGET,
           "--current", current, "--multivariate", "--json"]
    runs, report = [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - wall
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu
        if proc.returncode not in (0, 1):
            sys.exit(f"modelwatch failed: {proc.stderr}")
        report = json.loads(proc.stdout)
        rss = [int(line.split(":")[1]) for line in proc.stderr.splitlines()
               if "Maximum resident set size" in line]
        runs.append({"wall": wall, "cpu": cpu, "rss_mib": max(rss) / 1024})
    return runs, report


def median(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def fmt_s(x):
    return "-" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def ratio(theirs, ours):
    if theirs is None:
        return "-"
    x = theirs / ours
    return f"{x:.1f}x" if x < 10 else f"{x:.0f}x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin")
    ap.add_argument("--work")
    ap.add_argument("--sizes", default="1e5,1e6")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--classifier-repeat", type=int, default=1,
                    help="runs of NannyML's DomainClassifierCalculator (LightGBM, 5 folds per "
                         "chunk: minutes per run)")
    ap.add_argument("--timeout", type=float, default=1200,
                    help="seconds a NannyML child may take for all its runs before it is killed")
    ap.add_argument("--child", choices=sorted(METHODS))
    ap.add_argument("--current")
    ap.add_argument("--rows", type=int, default=0)
    args = ap.parse_args()
    if args.child:
        nannyml_child(args.child, args.current, args.repeat, args.rows)
        return
    if not args.bin or not args.work:
        ap.error("--bin and --work are required")
    import nannyml as nml

    ref = pd.read_csv(CREDIT)
    cap = 10_000
    lines = []
    for n in [int(float(s)) for s in args.sizes.split(",")]:
        path = os.path.join(args.work, f"current_{n}.csv")
        print(f"# generating {path}", file=sys.stderr, flush=True)
        generate(path, n, ref)
        print(f"# {n} rows: modelwatch", file=sys.stderr, flush=True)
        mw, report = run_modelwatch(args.bin, path, args.repeat)
        verdicts = {m["method"]: m for m in report["multivariate"]}
        for method, calculator in METHODS.items():
            v = verdicts[method]
            mw_verdict = (f"{method} {v['score']:.3f} vs {v['threshold']:.3f}: "
                          f"{'drift' if v['drifted'] else 'no drift'}")
            for rows in (0, cap) if n > cap else (0,):
                label = "every row" if rows == 0 else f"{cap:,}-row sample"
                print(f"# {n} rows: NannyML {calculator}, {label}", file=sys.stderr, flush=True)
                repeat = args.repeat if method == "reconstruction_error" else args.classifier_repeat
                runs, problem = run_nannyml(method, path, repeat, rows, args.timeout)
                for r in runs:
                    print(f"#   {json.dumps(r)}", file=sys.stderr, flush=True)
                if problem:
                    print(f"#   {problem}", file=sys.stderr, flush=True)
                lines.append(dict(n=n, method=method, nannyml_rows=label, mw=mw, nml=runs,
                                  problem=problem, mw_verdict=mw_verdict,
                                  nml_verdict=runs[-1]["verdict"] if runs else "-"))

    print()
    print(f"modelwatch drift --multivariate (both methods and the per-column tests, at most "
          f"{cap:,} rows a side) vs NannyML {nml.__version__} (one calculator, default chunks), "
          "reference credit_data.csv (4,454 rows, 13 features); medians of "
          f"{args.repeat} runs (NannyML's domain classifier: {args.classifier_repeat}), seconds")
    header = ["rows", "NannyML calculator", "NannyML on", "mw wall", "mw CPU", "NannyML wall",
              "NannyML CPU", "wall ratio", "CPU ratio", "NannyML runs", "NannyML MiB"]
    table = [header]
    for r in lines:
        mw_wall, mw_cpu = median(r["mw"], "wall"), median(r["mw"], "cpu")
        nml_wall, nml_cpu = median(r["nml"], "wall"), median(r["nml"], "cpu")
        table.append([
            f"{r['n']:.0e}", METHODS[r["method"]], r["nannyml_rows"], fmt_s(mw_wall),
            fmt_s(mw_cpu), fmt_s(nml_wall), fmt_s(nml_cpu),
            ratio(nml_wall, mw_wall),
            ratio(nml_cpu, mw_cpu),
            f"{len(r['nml'])}" + (f" ({r['problem']})" if r["problem"] else ""),
            f"{max(x['rss_mib'] for x in r['nml']):.0f}" if r["nml"] else "-",
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    print(f"modelwatch peak RSS (MiB): "
          + ", ".join(f"{n:.0e} rows {max(x['rss_mib'] for x in r['mw']):.0f}"
                      for n, r in {r["n"]: r for r in lines}.items()))
    print()
    print("verdicts (modelwatch: one score for the file; NannyML: its chunks, last run)")
    for r in lines:
        print(f"  {r['n']:.0e} {r['nannyml_rows']:>17}: modelwatch {r['mw_verdict']}; "
              f"NannyML {r['nml_verdict']}")


if __name__ == "__main__":
    main()
