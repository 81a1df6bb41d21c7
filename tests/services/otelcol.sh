#!/usr/bin/env bash
# Starts and stops the real OpenTelemetry Collector that modelwatch's OTLP tests export to:
# the OTLP receiver (gRPC and HTTP on loopback, plain and over TLS with a test CA made by
# openssl) and the file exporter writing what arrives as OTLP JSON lines, one file per
# signal.
#
#   otelcol.sh start
#       Builds the collector if needed (tests/otelcol/builder.yaml with the official
#       builder, against tests/otelcol/go.mod and go.sum; about 2-3 min on an empty Go
#       module cache, 10 s on a warm one), starts it on free ports, waits until it is ready
#       and prints to stdout (also written to $STATE/env), one variable per line:
#           OTELCOL_GRPC_ENDPOINT=http://127.0.0.1:PORT
#           OTELCOL_HTTP_ENDPOINT=http://127.0.0.1:PORT
#           OTELCOL_GRPCS_ENDPOINT=https://127.0.0.1:PORT   (TLS)
#           OTELCOL_HTTPS_ENDPOINT=https://127.0.0.1:PORT   (TLS)
#           OTELCOL_CA_FILE=FILE       (the CA that signed the TLS receivers' certificate)
#           OTELCOL_OTHER_CA_FILE=FILE (a CA that signed nothing)
#           OTELCOL_GRPC_MTLS_ENDPOINT=https://127.0.0.1:PORT  (TLS, client certificate required)
#           OTELCOL_HTTP_MTLS_ENDPOINT=https://127.0.0.1:PORT  (TLS, client certificate required)
#           OTELCOL_CLIENT_CERT_FILE=FILE, OTELCOL_CLIENT_KEY_FILE=FILE (signed by the CA)
#           OTELCOL_OUTPUT_DIR=DIR     (traces.jsonl and metrics.jsonl in it)
#       Already running: prints the same lines again and succeeds.
#   otelcol.sh stop
#       SIGTERM, then SIGKILL after 10 s; removes the output. Stopping a stopped one succeeds.
#   otelcol.sh status
#       Exit 0 and print the lines if it runs, else exit 1.
#
# Environment: MODELWATCH_TEST_STATE (default /tmp/modelwatch-test; $STATE below is its
# otelcol/ subdirectory). Needs: bash, Go 1.26+ and the Go module proxy (first build only),
# python3 (to pick free ports).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(cd "$here/../otelcol" && pwd)"
state="${MODELWATCH_TEST_STATE:-/tmp/modelwatch-test}/otelcol"
builder_version="v0.165.0"
binary="$project/target/mw-otelcol"
build_stamp="$project/target/built"

say() { echo "otelcol.sh: $*" >&2; }
die() { say "$*"; exit 1; }
source "$here/background_service.sh"

needs_build() {
    [[ -x "$binary" && -f "$build_stamp" ]] || return 0
    local input
    for input in "$project/builder.yaml" "$project/go.mod" "$project/go.sum"; do
        [[ "$input" -nt "$build_stamp" ]] && return 0
    done
    return 1
}

build() { locked_build needs_build build_steps "$project/target"; }

build_steps() {
    command -v go > /dev/null || die "go not found: install Go 1.26+ (https://go.dev/dl)"
    say "building the collector in $project/target (first time: ~2-3 min of Go modules)"
    local started=$SECONDS
    rm -rf "$project/target/src" "$build_stamp"
    # The builder only generates main.go and components.go here; the module versions come
    # from the committed go.mod/go.sum, not from a fresh resolution.
    (cd "$project" && go run "go.opentelemetry.io/collector/cmd/builder@$builder_version" \
        --config builder.yaml --skip-get-modules --skip-compilation) > "$project/target/builder.log" 2>&1 \
        || { cat "$project/target/builder.log" >&2; die "the collector builder failed"; }
    cp "$project/go.mod" "$project/go.sum" "$project/target/src/"
    (cd "$project/target/src" && go build -trimpath -o "$binary" .) >&2 \
        || die "go build of the collector failed (see above)"
    touch "$build_stamp"
    say "collector built in $((SECONDS - started)) s"
}

running_pid() { pid_of_running mw-otelcol; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A test CA, a server certificate it signed for 127.0.0.1 (the TLS receivers'), a client
# certificate it signed, and a second CA that signed nothing (for clients that must refuse
# the server).
make_certificates() {
    local dir="$1"
    mkdir -p "$dir"
    local ca=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
    for name in ca other-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -subj "/CN=modelwatch test $name" "${ca[@]}" \
            -keyout "$dir/$name.key" -out "$dir/$name.pem" 2> "$dir/openssl.log" \
            || { cat "$dir/openssl.log" >&2; die "openssl could not make the test CA"; }
    done
    sign_by_ca "$dir" server "/CN=127.0.0.1" \
        "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth"
    # A client certificate from the same CA, for the receivers that require one (mTLS).
    sign_by_ca "$dir" client "/CN=modelwatch test client" "extendedKeyUsage=clientAuth"
}

# sign_by_ca DIR NAME SUBJECT EXTENSION...: a key DIR/NAME.key and a certificate
# DIR/NAME.pem for it, signed by DIR/ca.pem, with the given v3 extensions.
sign_by_ca() {
    local dir="$1" name="$2" subject="$3"
    shift 3
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
        -keyout "$dir/$name.key" -out "$dir/$name.csr" 2> "$dir/openssl.log" \
        || { cat "$dir/openssl.log" >&2; die "openssl could not make the $name key"; }
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "$@" \
        > "$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 30 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2> "$dir/openssl.log" \
        || { cat "$dir/openssl.log" >&2; die "openssl could not sign the $name certificate"; }
}

cmd_start() {
    if running_pid > /dev/null && [[ -f "$state/env" ]]; then
        cat "$state/env"
        return 0
    fi
    build
    mkdir -p "$state/out"
    rm -f "$state/env" "$state/out/"*.jsonl
    local grpc http grpcs https grpcm httpm
    grpc="$(free_port)"
    http="$(free_port)"
    grpcs="$(free_port)"
    https="$(free_port)"
    grpcm="$(free_port)"
    httpm="$(free_port)"
    while [[ "$(printf '%s\n' "$grpc" "$http" "$grpcs" "$https" "$grpcm" "$httpm" | sort -u | wc -l)" != 6 ]]; do
        http="$(free_port)"
        grpcs="$(free_port)"
        https="$(free_port)"
        grpcm="$(free_port)"
        httpm="$(free_port)"
    done
    make_certificates "$state/tls"
    cat > "$state/config.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpc
      http:
        endpoint: 127.0.0.1:$http
  otlp/tls:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpcs
        tls: &server_tls
          cert_file: $state/tls/server.pem
          key_file: $state/tls/server.key
      http:
        endpoint: 127.0.0.1:$https
        tls: *server_tls
  otlp/mtls:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpcm
        tls: &client_certificate_required
          <<: *server_tls
          client_ca_file: $state/tls/ca.pem
      http:
        endpoint: 127.0.0.1:$httpm
        tls: *client_certificate_required
exporters:
  file/traces:
    path: $state/out/traces.jsonl
    flush_interval: 100ms
  file/metrics:
    path: $state/out/metrics.jsonl
    flush_interval: 100ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp, otlp/tls, otlp/mtls]
      exporters: [file/traces]
    metrics:
      receivers: [otlp, otlp/tls, otlp/mtls]
      exporters: [file/metrics]
EOF
    [[ -f "$state/collector.log" ]] && mv -f "$state/collector.log" "$state/collector.log.1"
    "$binary" --config "$state/config.yaml" > "$state/collector.log" 2>&1 < /dev/null &
    echo $! > "$state/pid"
    local pid=$! started=$SECONDS
    until grep -q "Everything is ready" "$state/collector.log" 2> /dev/null; do
        if ! kill -0 "$pid" 2> /dev/null; then
            tail -n 20 "$state/collector.log" >&2 || true
            die "the collector exited during start-up (log: $state/collector.log)"
        fi
        (( SECONDS - started > 60 )) && { cmd_stop; die "the collector was not ready after 60 s"; }
        sleep 0.1
    done
    {
        echo "OTELCOL_GRPC_ENDPOINT=http://127.0.0.1:$grpc"
        echo "OTELCOL_HTTP_ENDPOINT=http://127.0.0.1:$http"
        echo "OTELCOL_GRPCS_ENDPOINT=https://127.0.0.1:$grpcs"
        echo "OTELCOL_HTTPS_ENDPOINT=https://127.0.0.1:$https"
        echo "OTELCOL_CA_FILE=$state/tls/ca.pem"
        echo "OTELCOL_OTHER_CA_FILE=$state/tls/other-ca.pem"
        echo "OTELCOL_GRPC_MTLS_ENDPOINT=https://127.0.0.1:$grpcm"
        echo "OTELCOL_HTTP_MTLS_ENDPOINT=https://127.0.0.1:$httpm"
        echo "OTELCOL_CLIENT_CERT_FILE=$state/tls/client.pem"
        echo "OTELCOL_CLIENT_KEY_FILE=$state/tls/client.key"
        echo "OTELCOL_OUTPUT_DIR=$state/out"
    } > "$state/env"
    say "ready after $((SECONDS - started)) s, pid $pid"
    cat "$state/env"
}

cmd_stop() {
    local pid
    if pid="$(running_pid)"; then
        terminate_then_kill "$pid" 10
    fi
    rm -rf "$state/pid" "$state/env" "$state/out"
}

cmd_status() {
    running_pid > /dev/null && [[ -f "$state/env" ]] || return 1
    cat "$state/env"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) die "usage: $0 start|stop|status" ;;
esac
