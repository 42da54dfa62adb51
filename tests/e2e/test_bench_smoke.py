"""Smoke test of the benchmark command: `bench/bench.py --quick` runs (few iterations, no
criterion, twiggy or extra builds) and its report has the figures, each with a number. It
checks that the script works, not the figures: timings are not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

from kit.paths import REPO, WASM

#: Figures a quick run must report with a number: one of each kind the benchmark measures.
MUST_HAVE = [
    "component size (the artifact: release build through jco opt)",
    "render wasm, fixture (median per call, warm instance)",
    "instantiate (Store + WASI + linker.instantiate), median",
    "execute, warm instance, p50",
    "execute/direct, warm instance (ratio of p50s)",
    "masking in wasm (test-request, 4 MiB 202): a 4,000-char token of a's in a's",
    "jco/Node: execute, fresh instance, p50",
    "Rust wasmtime: execute, fresh instance, p50",
    "peak linear memory: execute, 8 MiB response",
    # scripts/test builds the Restate service and its floor (engines/restate/build.sh).
    "Restate workflow: time per workflow, component/floor (floor workflows/s ÷ component's)",
]
ROW = re.compile(r"^\| (.+?) \| (.+?) \| (.+?) \| (PASS|FAIL|—) \|$")
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?( |×|$)")
#: What a quick run leaves out, or what needs scripts/bench's own builds (size floor,
#: criterion, the native masking run) or the Rust host's build.
LEFT_OUT = re.compile(r"^(skipped|missing|not measured)")


def test_bench_quick_reports_its_figures(tmp_path):
    report = tmp_path / "report.md"
    assert WASM.exists(), "scripts/build makes the artifact"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench.py"), "--quick", "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the assertion below shows stderr
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert report.read_text().strip() == done.stdout.strip()
    rows = {}
    for line in done.stdout.splitlines():
        if (match := ROW.match(line)) and match.group(1) != "figure":
            rows[match.group(1).strip()] = match.groups()[1:]
    missing = [figure for figure in MUST_HAVE if figure not in rows]
    assert not missing, missing
    for figure, (value, budget, result) in rows.items():
        if LEFT_OUT.match(value):
            assert figure not in MUST_HAVE, f"{figure}: {value}"
            continue
        assert NUMBER.match(value), f"{figure}: {value!r} is not a number"
        assert (budget == "—") == (result == "—"), f"{figure}: a budget needs a verdict"
    assert done.stdout.rstrip().splitlines()[-1].startswith("Budgets failed: ")


def test_the_benchmark_fixtures_are_what_their_generator_writes():
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gen_fixtures.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
