# What opensearch.sh and otelcol.sh share about the one background process each runs: a
# build done once under a lock, the pid file that names the running process, and a stop
# that escalates from SIGTERM to SIGKILL. Sourced, not run: the caller sets $state (its
# state directory, holding `pid`) and defines say and die.

# locked_build NEEDS_BUILD BUILD_STEPS TARGET_DIR: runs the function BUILD_STEPS if the
# function NEEDS_BUILD says so, holding TARGET_DIR/build.lock while it does.
locked_build() {
    local needs_build="$1" build_steps="$2" target="$3"
    "$needs_build" || return 0
    # Two starts at once from a fresh checkout (say a test's private node beside the shared
    # one) must not build into the same directory together.
    mkdir -p "$target"
    exec 9> "$target/build.lock"
    flock 9
    # The other one may have built it meanwhile.
    if "$needs_build"; then
        "$build_steps"
    fi
    exec 9>&-  # the service started next must not inherit the lock
}

# pid_of_running PATTERN: prints the pid in $state/pid if that process is alive and its
# command line contains PATTERN (a pid file can outlive its process, and the kernel reuses
# pids); fails otherwise.
pid_of_running() {
    local pattern="$1"
    [[ -f "$state/pid" ]] || return 1
    local pid
    pid="$(cat "$state/pid")"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$pattern" || return 1
    echo "$pid"
}

# terminate_then_kill PID SECONDS: SIGTERM, and SIGKILL if PID still runs SECONDS later.
terminate_then_kill() {
    local pid="$1" timeout="$2"
    kill -TERM "$pid" 2> /dev/null || true
    local waited=0
    while kill -0 "$pid" 2> /dev/null; do
        if (( waited >= timeout * 10 )); then
            say "pid $pid ignored SIGTERM for ${timeout} s: SIGKILL"
            kill -KILL "$pid" 2> /dev/null || true
            return 0
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}
