#!/usr/bin/env bash
# Installs the pinned npm packages of the editor page (CodeMirror 6, exact versions from
# hosts/browser/package-lock.json) into hosts/browser/node_modules with `npm ci`. Idempotent:
# does nothing when the lock file has not changed since the last install. Needs Node.js >= 20
# (npm only: the page itself runs in the browser, with no bundler).
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../hosts/browser" && pwd)
stamp=$dir/node_modules/.lock.sha256

if ! command -v npm >/dev/null; then
    echo "bootstrap-browser: npm (Node.js >= 20) is required" >&2
    exit 1
fi
wanted=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    echo "bootstrap-browser: installing hosts/browser/package-lock.json (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$wanted" >"$stamp"
fi
