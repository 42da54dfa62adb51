#!/usr/bin/env bash
# The editor's browser tests: installs what is missing, then runs tests/editor with pytest.
#   - Debian's chromium (apt-get; Playwright's own browser downloads are not used),
#   - .venv with tools/requirements.txt (playwright, pytest, wasmtime),
#   - the pinned npm packages of hosts/node (jco, preview2-shim) and hosts/browser (CodeMirror),
#   - the release component (scripts/editor, which the tests start, transpiles it).
# Screenshots go to target/editor/. Extra arguments go to pytest (e.g. -k accepted).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

tools/bootstrap-chromium.sh
tools/bootstrap.sh
tools/bootstrap-node.sh
scripts/build >/dev/null
exec .venv/bin/python -m pytest tests/editor -q "$@"
