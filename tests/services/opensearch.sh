#!/usr/bin/env bash
# Starts and stops the single-node OpenSearch 2.19 server that modelwatch's integration tests
# ship events into. No Docker here: the node is the Maven Central server jar plus its netty4
# HTTP plugin, run by the launcher in tests/opensearch/ (built on first use).
#
#   opensearch.sh start [--port PORT] [--data DIR]
#       Builds the launcher if needed, starts the node in the background, waits until the
#       cluster is at least yellow and prints one line to stdout:
#           OPENSEARCH_URL=http://127.0.0.1:PORT
#       (also written to $STATE/env), so a caller can `eval` or `source` it. Progress and
#       errors go to stderr. Already running: prints the URL again and succeeds.
#       PORT defaults to the port kept by `stop --keep-data`, else a free one the kernel picks.
#       DIR  defaults to the data dir kept by `stop --keep-data`, else $STATE/data.
#   opensearch.sh stop [--keep-data]
#       SIGTERM, then SIGKILL after OPENSEARCH_STOP_TIMEOUT seconds. Without --keep-data it
#       also deletes $STATE/data and forgets port and data dir (a --data DIR given by the
#       caller is the caller's: it is never deleted). Stopping a stopped node succeeds.
#       With --keep-data the next `start` comes back on the same port with the same indices:
#       that is how the outage test takes the node away and brings it back.
#   opensearch.sh status
#       Exit 0 and print the URL line if the node runs and answers, else exit 1.
#
# Environment: MODELWATCH_TEST_STATE (default /tmp/modelwatch-test; $STATE below is its
# opensearch/ subdirectory), OPENSEARCH_HEAP (default 512m), OPENSEARCH_START_TIMEOUT
# (default 180 s), OPENSEARCH_STOP_TIMEOUT (default 30 s), JAVA_HOME (else java on PATH).
# Needs: bash, curl, Java 17+, Maven (the first build downloads ~67 MB from Maven Central,
# 45 MB of it the jars the node runs on).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../opensearch" && pwd)"
state="${MODELWATCH_TEST_STATE:-/tmp/modelwatch-test}/opensearch"
heap="${OPENSEARCH_HEAP:-512m}"
start_timeout="${OPENSEARCH_START_TIMEOUT:-180}"
stop_timeout="${OPENSEARCH_STOP_TIMEOUT:-30}"
main_class="modelwatch.testnode.OpenSearchTestNode"
class_file="$project/target/classes/modelwatch/testnode/OpenSearchTestNode.class"
classpath_file="$project/target/classpath.txt"
# (The dependency plugin leaves an unchanged classpath file untouched, so its mtime cannot
# tell when the last build ran: this stamp does.)
build_stamp="$project/target/launcher.built"

say() { echo "opensearch.sh: $*" >&2; }
die() { say "$*"; exit 1; }
source "$here/background_service.sh"

java_bin() {
    if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}
javac_bin() {
    if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/javac"; else echo javac; fi
}

# The launcher is stale when the stamp of its last build is missing or older than its
# sources, or when a jar on its classpath has gone from the local Maven repository.
needs_build() {
    [[ -f "$build_stamp" && -f "$class_file" && -f "$classpath_file" ]] || return 0
    [[ "$project/pom.xml" -nt "$build_stamp" ]] && return 0
    local src
    while IFS= read -r src; do
        [[ "$src" -nt "$build_stamp" ]] && return 0
    done < <(find "$project/src/main/java" -name '*.java')
    local jar
    while IFS= read -r jar; do
        [[ -f "$jar" ]] || return 0
    done < <(tr ':' '\n' < "$classpath_file")
    return 1
}

build() { locked_build needs_build build_steps "$project/target"; }

build_steps() {
    command -v mvn > /dev/null || die "mvn not found: install Maven (apt-get install maven)"
    say "building the launcher in $project (on an empty ~/.m2: ~70 MB from Maven Central)"
    local started=$SECONDS
    # Only the dependency plugin runs: it resolves the jars and writes the classpath file.
    # (Maven 3.8 prints colour resets even in batch mode: strip them from the error output.)
    mvn -B -q -f "$project/pom.xml" dependency:build-classpath 2>&1 \
        | sed 's/\x1b\[[0-9;]*m//g' >&2 \
        || die "Maven could not resolve the OpenSearch jars (see above)"
    rm -rf "$project/target/classes" "$build_stamp"
    mkdir -p "$project/target/classes"
    local sources=()
    mapfile -t sources < <(find "$project/src/main/java" -name '*.java')
    "$(javac_bin)" --release 17 -d "$project/target/classes" -cp "$(cat "$classpath_file")" \
        "${sources[@]}" >&2 \
        || die "javac failed on the launcher in $project/src/main/java"
    touch "$build_stamp"
    say "launcher built in $((SECONDS - started)) s"
}

# The node's pid, if it runs.
running_pid() { pid_of_running "$main_class"; }

url() { echo "http://127.0.0.1:$(cat "$state/port")"; }

healthy() {
    [[ -f "$state/port" ]] || return 1
    curl -fsS --max-time 5 "$(url)/_cluster/health" > /dev/null 2>&1
}

log_tail() {
    if [[ -f "$state/node.log" ]]; then
        say "last lines of $state/node.log:"
        tail -n 40 "$state/node.log" >&2
    fi
}

cmd_start() {
    local port="" data=""
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --port) port="${2:?--port needs a number}"; shift 2 ;;
            --data) data="${2:?--data needs a directory}"; shift 2 ;;
            *) die "start: unknown argument '$1' (expected --port PORT or --data DIR)" ;;
        esac
    done
    [[ -z "$port" || "$port" =~ ^[0-9]+$ ]] || die "start: --port must be a number, got '$port'"

    if pid="$(running_pid)"; then
        if healthy; then
            [[ -z "$port" || "$port" == "$(cat "$state/port")" ]] \
                || die "already running on port $(cat "$state/port"), not $port: stop it first"
            echo "OPENSEARCH_URL=$(url)"
            return 0
        fi
        die "a node (pid $pid) is running but not answering: run '$0 stop' first"
    fi

    mkdir -p "$state"
    # A port and data dir kept by `stop --keep-data` are reused unless overridden.
    [[ -z "$port" && -f "$state/kept-port" ]] && port="$(cat "$state/kept-port")"
    [[ -z "$data" && -f "$state/data-dir" ]] && data="$(cat "$state/data-dir")"
    port="${port:-0}"
    data="${data:-$state/data}"
    mkdir -p "$data"
    data="$(cd "$data" && pwd)"
    echo "$data" > "$state/data-dir"

    build

    rm -f "$state/port" "$state/env"
    # Keep the previous run's log: after an outage restart it shows how the first run ended.
    [[ -f "$state/node.log" ]] && mv -f "$state/node.log" "$state/node.log.1"
    say "starting OpenSearch (heap $heap, data $data, port ${port/#0/any free})"
    local started=$SECONDS
    # Detached from stdin/stdout so a caller capturing our output does not wait for the node.
    "$(java_bin)" -Xms128m -Xmx"$heap" -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
        -cp "$project/target/classes:$(cat "$classpath_file")" "$main_class" \
        --home "$state/home" --data "$data" --port "$port" --port-file "$state/port" \
        > "$state/node.log" 2>&1 < /dev/null &
    echo $! > "$state/pid"

    # The launcher writes the port file once HTTP is bound; then wait for the shards.
    local pid
    pid="$(cat "$state/pid")"
    while true; do
        # kill -0, not running_pid: until the forked shell has exec'd java, its command line
        # does not name the launcher yet.
        if ! kill -0 "$pid" 2> /dev/null; then
            log_tail
            local reason
            reason="$(grep -h 'modelwatch-test-node: start failed' "$state/node.log" | tail -n 1)" || true
            die "the node exited during start-up${reason:+ (${reason#modelwatch-test-node: })} (log: $state/node.log)"
        fi
        if [[ -f "$state/port" ]] && curl -fsS --max-time 10 \
            "$(url)/_cluster/health?wait_for_status=yellow&timeout=5s" > /dev/null 2>&1; then
            break
        fi
        if (( SECONDS - started > start_timeout )); then
            log_tail
            cmd_stop --keep-data > /dev/null 2>&1 || true
            die "the node was not yellow after ${start_timeout} s (log: $state/node.log)"
        fi
        sleep 0.5
    done
    cat "$state/port" > "$state/kept-port"
    echo "OPENSEARCH_URL=$(url)" > "$state/env"
    say "yellow after $((SECONDS - started)) s, pid $pid"
    cat "$state/env"
}

cmd_stop() {
    local keep=false
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --keep-data) keep=true; shift ;;
            *) die "stop: unknown argument '$1' (expected --keep-data)" ;;
        esac
    done
    local pid
    if pid="$(running_pid)"; then
        terminate_then_kill "$pid" "$stop_timeout"
        # The node is not this shell's child (another invocation started it): poll, not wait.
        while kill -0 "$pid" 2> /dev/null; do sleep 0.1; done
        say "stopped pid $pid"
    fi
    rm -f "$state/pid" "$state/port" "$state/env"
    if [[ "$keep" == false ]]; then
        rm -rf "${state:?}/data" "${state:?}/home"
        rm -f "$state/kept-port" "$state/data-dir"
    fi
}

cmd_status() {
    if running_pid > /dev/null && healthy; then
        echo "OPENSEARCH_URL=$(url)"
        return 0
    fi
    say "not running"
    return 1
}

case "${1:-}" in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) shift; cmd_status "$@" ;;
    *) die "usage: $0 start [--port PORT] [--data DIR] | stop [--keep-data] | status" ;;
esac
