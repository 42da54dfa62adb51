"""Smoke test of the benchmark command: `bench/bench.py --quick` runs (a few seconds, few
iterations, no criterion or twiggy) and its report has every figure, each with a number.
It checks that the script works, not the figures: timings are not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from kit.paths import REPO, WASM

#: Every figure of the report, in order.
FIGURES = [
    "component size (stripped release)",
    "size floor (bench/size-floor: the platform work of a call, no product logic)",
    "component above the floor (the product's own code and data)",
    "render native, fixture (criterion median)",
    "render native, 50 deployments (criterion median)",
    "render native, 100 deployments (criterion median)",
    "render native, 100 vs 50 deployments",
    "render wasm, fixture (median per call, warm instance)",
    "render wasm, 50 deployments (median per call, warm instance)",
    "render wasm, 100 deployments (median per call, warm instance)",
    "render wasm, 100 vs 50 deployments",
    "render wasm/native, fixture",
    "render wasm/native, 50 deployments",
    "render wasm/native, 100 deployments",
    "wasm call floor: render of `{}` (median)",
    "wasm call floor: describe (median; lifts a large record)",
    "render wasm, fixture: inside the FFI call (guest + canonical ABI)",
    "render wasm, fixture: Python side (types, lowering, lifting)",
    "compile (Component.from_file, best)",
    "serialize (best)",
    "serialized component (native code)",
    "deserialize (best)",
    "instantiate (Store + WASI + linker.instantiate), median",
    "instantiate, p99",
    "Store drop after a call, median",
    "execute, warm instance, p50",
    "execute, warm instance, p99",
    "direct http.client POST (paired with warm), p50",
    "direct http.client POST (paired with warm), p99",
    "execute/direct, warm instance (ratio of p50s)",
    "execute/direct, warm instance (ratio of p99s)",
    "execute, fresh instance, p50",
    "execute, fresh instance, p99",
    "of which instantiate (last_instantiate_s), p50",
    "of which instantiate (last_instantiate_s), p99",
    "direct http.client POST (paired with fresh), p50",
    "direct http.client POST (paired with fresh), p99",
    "execute/direct, fresh instance (ratio of p50s)",
    "execute/direct, fresh instance without instantiate (ratio of p50s)",
    "execute, warm: inside the FFI call (guest + wasi:http + network), p50",
    "execute, warm: Python side (types, lowering, lifting), p50",
    "execute/direct, warm, FFI call only (ratio of p50s)",
    "calls not answered 202 (component or direct)",
    "calls/s, execute warm, 1 caller",
    "calls/s, execute warm, 8 callers",
    "calls/s, execute fresh, 8 callers",
    "calls/s, direct, 1 caller",
    "calls/s, direct, 8 callers",
    "peak linear memory: render fixture",
    "peak linear memory: render 50 deployments",
    "peak linear memory: execute, 8 MiB response",
    "peak linear memory: execute, 32 MiB response",
]
#: --quick leaves out criterion (native figures and the ratios to them); the size floor is
#: built by scripts/bench, not by the script, so a fresh clone has none yet.
MAY_BE_LEFT_OUT = {
    figure
    for figure in FIGURES
    if figure.startswith(("render native", "render wasm/native", "size floor", "component above the floor"))
}
assert len(MAY_BE_LEFT_OUT) == 9, MAY_BE_LEFT_OUT
ROW = re.compile(r"^\| (.+?) \| (.+?) \| (.+?) \| (PASS|FAIL|—) \|$")
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?( |×|$)")


def test_bench_quick_reports_every_figure(tmp_path):
    if not WASM.exists():
        pytest.fail(f"{WASM} is missing: run scripts/test (it builds the component first)")
    report = tmp_path / "report.md"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "--quick", "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the assertion below shows stderr
    )
    assert done.returncode == 0, done.stderr
    assert report.read_text().strip() == done.stdout.strip()
    rows = {}
    for line in done.stdout.splitlines():
        if match := ROW.match(line):
            figure, value, budget, result = match.groups()
            if figure != "figure":  # the header
                rows[figure.strip()] = (value, budget, result)
    assert list(rows) == FIGURES
    for figure, (value, budget, result) in rows.items():
        if value.startswith(("skipped", "missing")):
            assert figure in MAY_BE_LEFT_OUT, f"{figure}: {value}"
            continue
        assert NUMBER.match(value), f"{figure}: {value!r} is not a number"
        assert (budget == "—") == (result == "—"), f"{figure}: a budget needs a verdict"
    assert done.stdout.rstrip().splitlines()[-1].startswith("Budgets failed: ")
