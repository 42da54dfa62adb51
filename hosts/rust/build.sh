#!/usr/bin/env bash
# Builds the Rust engine host (wasmtime 50 + wasmtime-wasi-http) into the repo's
# target/rust-host/ and prints the binary's path as its last line.
#
#   hosts/rust/build.sh            # the host binary
#
# wasmtime 50 needs rustc >= 1.97, newer than the component's toolchain: the pinned toolchain
# is installed through rustup when it is missing (a minimal profile; clippy and rustfmt only
# when RUST_HOST_LINT=1 asks for them). Everything else comes from crates.io, pinned by
# hosts/rust/Cargo.lock (--locked).
set -euo pipefail

TOOLCHAIN=1.97
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    echo "rust-host: installing Rust $TOOLCHAIN (rustup, minimal profile)" >&2
    rustup toolchain install "$TOOLCHAIN" --profile minimal --no-self-update >&2
fi
if [[ ${RUST_HOST_LINT:-0} == 1 ]]; then
    for component in clippy rustfmt; do
        if ! rustup component list --installed --toolchain "$TOOLCHAIN" | grep -q "^$component"; then
            rustup component add "$component" --toolchain "$TOOLCHAIN" >&2
        fi
    done
fi

export CARGO_TARGET_DIR=$repo/target/rust-host
cd "$here"
cargo "+$TOOLCHAIN" build --locked --release --quiet >&2
echo "$CARGO_TARGET_DIR/release/rust-host"
