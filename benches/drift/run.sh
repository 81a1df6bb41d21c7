#!/usr/bin/env bash
# Drift benchmark: modelwatch (release) against scipy's ks_2samp and Evidently's
# DataDriftPreset on credit-shaped files of 1e5, 1e6 and 1e7 rows x 14 columns, plus the
# peak RSS of modelwatch on 1e6 rows and on a ~1 GB file.
#
# Usage: benches/drift/run.sh [WORK_DIR] [extra flags for bench.py, e.g. --sizes 1e5,1e6]
# Needs: cargo, python3 with benches/drift/requirements.txt, /usr/bin/time (GNU time).
# Generated data (~2.5 GB) is cached in WORK_DIR (default: target/drift-bench).
#
# benches/drift/run.sh --multivariate [WORK_DIR] [flags for multivariate.py]: instead,
# `modelwatch drift --multivariate` against NannyML 0.13.1's multivariate calculators at
# 1e5 and 1e6 rows, in the pinned NannyML venv that tests/fixtures/drift/check.sh
# multivariate creates (run that first).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--multivariate" ]; then
    shift
    work="${1:-target/drift-bench}"
    shift || true
    pins=tests/fixtures/drift/multivariate/requirements.txt
    venv="${MODELWATCH_FIXTURE_VENVS:-$HOME/.cache/modelwatch}/drift-$(sha256sum "$pins" | cut -c1-12)"
    [ -f "$venv/.complete" ] || {
        echo "run.sh: no pinned NannyML venv at $venv: run tests/fixtures/drift/check.sh multivariate first" >&2
        exit 2
    }
    cargo build --release --quiet
    mkdir -p "$work"
    exec "$venv/bin/python" benches/drift/multivariate.py --bin target/release/modelwatch --work "$work" "$@"
fi
work="${1:-target/drift-bench}"
shift || true
python3 -c 'import scipy, evidently, pandas' 2>/dev/null || {
    echo "installing the Python reference (benches/drift/requirements.txt)" >&2
    python3 -m pip install -q -r benches/drift/requirements.txt
}
cargo build --release --quiet
mkdir -p "$work"
exec python3 benches/drift/bench.py --bin target/release/modelwatch --work "$work" "$@"
