#!/usr/bin/env bash
# Installs what the browser tests need, pinned and cached, and prints the node_modules
# directory on its last line:
# - Debian's chromium (apt; skipped when `chromium` is already on PATH);
# - playwright-core and axe-core at the exact versions of package-lock.json, with `npm ci`
#   into ~/.cache/modelwatch/browser-<hash of the lockfile>, so a warm machine installs
#   nothing and a changed lockfile gets a fresh directory.
# tests/run.sh starts it in the background while cargo builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo -n apt-get); fi
    "${apt_get[@]}" update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q chromium >/dev/null
fi
hash="$(sha256sum "$here/package-lock.json" | cut -c1-12)"
dir="${MODELWATCH_CACHE:-$HOME/.cache/modelwatch}/browser-$hash"
if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$dir/.complete"
fi
echo "$dir/node_modules"
