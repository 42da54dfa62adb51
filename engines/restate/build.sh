#!/usr/bin/env bash
# Builds the Restate service of the HTTP Task (engines/restate) and its native floor
# (examples/native_floor.rs, the benchmark's reference: bench/engine.py, run by scripts/bench and
# by the quick benchmark in scripts/test) into the repo's target/rust-host/ (shared with
# hosts/rust: same pins, so wasmtime is built once) and prints the service's path as its last
# line. RUST_HOST_LINT=1 also runs clippy -D warnings and
# rustfmt --check on it (scripts/test does).
set -euo pipefail

TOOLCHAIN=1.97
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    echo "restate-engine: installing Rust $TOOLCHAIN (rustup, minimal profile)" >&2
    rustup toolchain install "$TOOLCHAIN" --profile minimal --no-self-update >&2
fi

export CARGO_TARGET_DIR=$repo/target/rust-host
cd "$here"
cargo "+$TOOLCHAIN" build --locked --release --quiet --bins --example native_floor >&2
if [[ ${RUST_HOST_LINT:-0} == 1 ]]; then
    cargo "+$TOOLCHAIN" fmt -- --check >&2
    cargo "+$TOOLCHAIN" clippy --locked --release --quiet --all-targets -- -D warnings >&2
fi
echo "$CARGO_TARGET_DIR/release/http-task-restate"
