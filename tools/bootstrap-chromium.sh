#!/usr/bin/env bash
# Installs Debian's chromium (/usr/bin/chromium) for the editor's browser tests when it is
# missing: Playwright drives it (its own browser downloads cannot reach this network). Needs
# root and apt; prints nothing when chromium is there.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    exit 0
fi
echo "bootstrap-chromium: installing Debian's chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends chromium >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends chromium >&2
fi
