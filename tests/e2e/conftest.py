"""The project's own end-to-end checks beyond the conformance cases: the component in-process in
wasmtime-py (hosts/python/host.py), where the test needs what only an in-process host gives
(threads sharing one compiled component for the load run, the benchmark's own host)."""

from __future__ import annotations

import pytest

from host import TaskHost
from kit.paths import WASM


@pytest.fixture(scope="session")
def task_host():
    if not WASM.exists():
        pytest.fail(f"{WASM} is missing: run scripts/build (scripts/test does)")
    return TaskHost(str(WASM))
