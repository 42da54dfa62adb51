#!/usr/bin/env bash
# Installs what the project's scripts and tests need, all inside the work tree or rustup:
# the wasm32-wasip2 target and a .venv with tools/requirements.txt. Idempotent; prints
# nothing when there is nothing to do, and only to stderr otherwise.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/.venv
requirements=$repo/tools/requirements.txt
# The hash of the requirements last installed, so that an edit triggers a reinstall.
stamp=$venv/requirements.sha256

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2 >&2
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: python3 >= 3.11 is required, found $(python3 --version 2>&1)" >&2
    exit 1
fi

if [[ ! -x $venv/bin/python ]]; then
    python3 -m venv "$venv" >&2
fi

wanted=$(python3 -c 'import hashlib, pathlib, sys
print(hashlib.sha256(pathlib.Path(sys.argv[1]).read_bytes()).hexdigest())' "$requirements")
if [[ $(cat "$stamp" 2>/dev/null) != "$wanted" ]]; then
    echo "bootstrap: installing tools/requirements.txt into .venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$wanted" >"$stamp"
fi
