#!/usr/bin/env bash
# Regenerates the README's screenshots of the drift page and of a drift report, at
# 1280×800 (laptop) and 390×844 (phone), into docs/screenshots/: the browser test
# (tests/it/drift_page.rs) takes them after it has sent clean then drifted traffic
# through a real sidecar, so they show what the test checked.
#
#   bash docs/screenshots.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
modules="$(bash tests/browser/install.sh | tail -n 1)"
MODELWATCH_SCREENSHOTS="$PWD/docs/screenshots" MODELWATCH_BROWSER_MODULES="$modules" \
    cargo test --test it drift_page -- --exact drift_page::the_drift_page_shows_drift_in_a_browser
ls -l docs/screenshots/
