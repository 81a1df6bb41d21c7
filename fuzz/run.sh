#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: libFuzzer through cargo-fuzz, with
# AddressSanitizer, on the stable toolchain. cargo-fuzz passes nightly-only flags
# (-Zsanitizer=address …); RUSTC_BOOTSTRAP=1 lets stable rustc accept them, and the
# sanitizer runtimes ship with stable's rust-std for x86_64-unknown-linux-gnu. No nightly
# toolchain is needed (none can be downloaded here).
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]     # default: 10 s each, every target
#
# Each target starts from its committed seeds (tests/fixtures/protocol/corpus/<target>/ or
# tests/fixtures/export/corpus/<target>/, read-only) plus a scratch corpus under
# $FUZZ_STATE (default fuzz/corpus/, where libFuzzer writes what it finds). A crash, a
# failed property or a leak stops the run with libFuzzer's report; the input is saved in
# fuzz/artifacts/<target>/ (add it to the committed corpus once fixed: tests/it replays it).
# Needs: cargo-fuzz (`cargo install --locked cargo-fuzz`), a C++ compiler (libFuzzer).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-10}"
shift || true
state="${FUZZ_STATE:-fuzz/corpus}"
export RUSTC_BOOTSTRAP=1
# The instrumented build of every dependency takes long (tens of minutes on 2 cores); it is
# kept outside the checkout, so that a fresh clone on the same machine (CI) reuses it.
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/modelwatch/fuzz-target}"
mkdir -p "$target_dir"

command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is not installed: cargo install --locked cargo-fuzz" >&2
    exit 1
}
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# One build for all targets (release with debug assertions, as cargo fuzz run does).
cargo fuzz build -O --target-dir "$target_dir"

for target in "${targets[@]}"; do
    seeds=""
    for area in protocol export; do
        dir="tests/fixtures/$area/corpus/$target"
        [ -d "$dir" ] && seeds="$dir"
    done
    [ -n "$seeds" ] || { echo "fuzz target $target has no committed corpus" >&2; exit 1; }
    mkdir -p "$state/$target"
    log="$(mktemp)"
    if ! cargo fuzz run -O --target-dir "$target_dir" "$target" "$state/$target" "$seeds" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        cat "$log" >&2
        echo "fuzz target $target failed: the input is in fuzz/artifacts/$target/" >&2
        rm -f "$log"
        exit 1
    fi
    # "stat::number_of_executed_units: N" from -print_final_stats.
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    printf '%-22s %10s runs in %s s, no failure\n' "$target" "${runs:-?}" "$seconds"
    rm -f "$log"
done
