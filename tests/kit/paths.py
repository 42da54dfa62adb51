"""Where things are in the repository."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The artifact every test runs: made by scripts/build (the release component through jco opt).
WASM = REPO / "target" / "component" / "do_dedicated_inference_task.wasm"
FIXTURES = REPO / "fixtures"
RELIABILITY = REPO / "target" / "reliability"

for folder in ("hosts/python", "standin"):
    path = str(REPO / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
