#!/usr/bin/env bash
# Prepares the real OpenAI-compatible LLM server of tests/it/llm_serving.rs: llama.cpp's,
# as llama-cpp-python's `llama_cpp.server` (pins: tests/llm/requirements.txt), and a tiny
# random-weight model (tests/llm/make_tiny_model.py). The test starts the server itself.
#
#   bash tests/services/llama.sh      # prints LLAMA_PYTHON=… and LLAMA_MODEL=… lines
#
# llama-cpp-python compiles llama.cpp from source (CPU only, generic x86-64, at most two
# jobs): ~10 minutes on two idle cores, once. The wheel and the venv are kept under
# ${MODELWATCH_LLAMA_CACHE:-$HOME/.cache/modelwatch}/llama-<hash of the pins>, so later
# runs (and fresh clones on the same machine) take a second. tests/run.sh runs this in the
# background while cargo builds. Needs python3 with venv, cmake and a C++ compiler.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pins="$here/llm/requirements.txt"
key="$(cat "$pins" "$here/llm/make_tiny_model.py" | sha256sum | cut -c1-12)"
cache="${MODELWATCH_LLAMA_CACHE:-$HOME/.cache/modelwatch}"
dir="$cache/llama-$key"
# The compiled wheel, kept apart from the venv: a change of the other pins reuses it.
wheels="$cache/llama-wheels"

if [ ! -f "$dir/.complete" ]; then
    echo "llama.sh: building llama-cpp-python into $dir (from PyPI, compiles llama.cpp)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 -m venv "$dir/venv"
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_BLAS=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF"
    export CMAKE_BUILD_PARALLEL_LEVEL=2
    version="$(sed -n 's/^llama-cpp-python==//p' "$pins")"
    if ! ls "$wheels"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
        "$dir/venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps \
            -w "$wheels" "llama-cpp-python==$version" >&2
    fi
    "$dir/venv/bin/pip" install --quiet --disable-pip-version-check \
        --find-links "$wheels" -r "$pins" >&2
    "$dir/venv/bin/python" "$here/llm/make_tiny_model.py" "$dir/tiny.gguf"
    # Marks a finished install: an interrupted one is redone, not half used.
    touch "$dir/.complete"
fi
echo "LLAMA_PYTHON=$dir/venv/bin/python"
echo "LLAMA_MODEL=$dir/tiny.gguf"
