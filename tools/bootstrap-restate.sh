#!/usr/bin/env bash
# Installs the pinned restate-server (the npm package @restatedev/restate-server-linux-x64, a
# registry binary: nothing is downloaded from elsewhere) into target/restate/<version>/ and
# prints the binary's path as its last line. Idempotent: does nothing when it is there.
# x86-64 Linux only (the package this pins).
set -euo pipefail

VERSION=1.7.12
PACKAGE=@restatedev/restate-server-linux-x64
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$repo/target/restate/$VERSION
binary=$dir/restate-server

if [[ ! -x $binary ]]; then
    echo "bootstrap-restate: installing $PACKAGE@$VERSION from npm (an 81 MB tarball)" >&2
    # target/ may not exist yet: scripts/engine installs the server before it builds anything.
    mkdir -p "$repo/target"
    work=$(mktemp -d "$repo/target/restate-pack.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    # npm pack checks the tarball against the registry's integrity hash.
    (cd "$work" && npm pack --silent "$PACKAGE@$VERSION" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work" package/bin/restate-server
    mkdir -p "$dir"
    mv "$work/package/bin/restate-server" "$binary.partial"
    chmod +x "$binary.partial"
    mv "$binary.partial" "$binary"
fi
echo "$binary"
