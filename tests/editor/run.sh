#!/usr/bin/env bash
# The editor's browser tests: installs what is missing, then runs tests/editor with pytest.
#   - Debian's chromium (apt-get; Playwright's own browser downloads are not used),
#   - .venv with tools/requirements.txt (playwright, pytest, wasmtime),
#   - the pinned npm packages of hosts/node (jco, preview2-shim) and hosts/browser (CodeMirror),
#   - the release component (scripts/editor, which the tests start, transpiles it).
# Screenshots go to target/editor/. Extra arguments go to pytest (e.g. -k accepted).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -x /usr/bin/chromium ]]; then
    echo "run.sh: installing Debian's chromium (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y chromium >&2; then
        apt-get update >&2
        apt-get install -y chromium >&2
    fi
fi
tools/bootstrap.sh
tools/bootstrap-node.sh
tools/bootstrap-browser.sh
scripts/build >/dev/null
exec .venv/bin/python -m pytest tests/editor -q "$@"
