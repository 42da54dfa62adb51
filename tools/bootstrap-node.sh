#!/usr/bin/env bash
# Installs the pinned npm packages of hosts/node (jco and preview2-shim, exact versions from
# hosts/node/package-lock.json) into hosts/node/node_modules with `npm ci`. Idempotent: does
# nothing when the lock file has not changed since the last install. Needs Node.js >= 20.
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hosts/node" && pwd)
stamp=$dir/node_modules/.lock.sha256

if ! command -v node >/dev/null || ! node -e "process.exit(Number(process.versions.node.split('.')[0]) < 20 ? 1 : 0)"; then
    echo "bootstrap-node: Node.js >= 20 is required, found $(node --version 2>/dev/null || echo none)" >&2
    exit 1
fi
wanted=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    echo "bootstrap-node: installing hosts/node/package-lock.json (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$wanted" >"$stamp"
fi
