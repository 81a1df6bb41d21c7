# Sourced by the latency benchmarks: installs what they drive when it is missing (nginx,
# the oha load generator) and builds the release binary.
if ! command -v nginx >/dev/null; then
    apt-get install -y nginx-light >/dev/null || apt-get install -y nginx >/dev/null
fi
if ! command -v oha >/dev/null; then
    if [ -x /opt/oha/bin/oha ]; then export PATH="/opt/oha/bin:$PATH"; else
        cargo install oha --locked --root /opt/oha && export PATH="/opt/oha/bin:$PATH"
    fi
fi
cargo build --release --locked --bin modelwatch >&2
