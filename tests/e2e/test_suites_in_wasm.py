"""The conformance suites inside wasm: the `suite` command (src/bin/suite.rs, built by
scripts/build next to the component with the same profile and crates) runs, in wasmtime-py,

- the official JSONata suite (fixtures/jsonata-suite/suite.jsonl) through the component's
  JSONata evaluation path: every case that passes natively (tests/jsonata_suite.rs, run earlier
  by scripts/test, which writes target/jsonata-suite/native.jsonl) must pass here too;
- the JSONPath Compliance Test Suite (fixtures/jsonpath-cts/cts.json) through the component's
  JSONPath parser and evaluation, `match()` and `search()` included: every case must pass, as
  natively (tests/jsonpath.rs).

A trap fails the run. A case lost inside wasm is the project's defect, not a crate's."""

from __future__ import annotations

import json
from pathlib import Path

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker

from kit.paths import FIXTURES, REPO

RUNNER = REPO / "target" / "wasm32-wasip2" / "release" / "suite.wasm"
OUT = REPO / "target" / "jsonata-suite"


def run_in_wasm(which: str, suite: Path, out: Path) -> list[dict]:
    """`suite WHICH < suite > out` in wasmtime-py; the verdicts it printed."""
    assert RUNNER.exists(), f"{RUNNER} is missing: run scripts/build"
    out.parent.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    component = Component.from_file(engine, str(RUNNER))
    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    store = Store(engine)
    wasi = WasiConfig()
    wasi.argv = ["suite", which]
    wasi.stdin_file = str(suite)
    wasi.stdout_file = str(out)
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    store.set_wasi_http()
    instance = linker.instantiate(store, component)
    run = next(n for n in component.type.exports(engine) if n.startswith("wasi:cli/run@"))
    func = instance.get_func(store, component.get_export_index("run", component.get_export_index(run)))
    assert func is not None
    result = func(store)  # a trap raises here
    assert getattr(result, "tag", None) == "ok", result
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_the_jsonata_suite_passes_in_wasm_wherever_it_passes_natively():
    native_file = OUT / "native.jsonl"
    assert native_file.exists(), "run `cargo test --test jsonata_suite` first (scripts/test does)"
    native = {(v["group"], v["name"]): v["failure"] for v in map(json.loads, native_file.read_text().splitlines())}
    verdicts = run_in_wasm("jsonata", FIXTURES / "jsonata-suite" / "suite.jsonl", OUT / "wasm.jsonl")
    wasm = {(v["group"], v["name"]): v["failure"] for v in verdicts}
    assert len(wasm) == len(native) == 1686
    lost = {case: wasm[case] for case, failure in native.items() if failure is None and wasm.get(case) is not None}
    assert not lost, f"{len(lost)} cases pass natively but not in wasm: {lost}"
    passed = sum(1 for failure in wasm.values() if failure is None)
    print(f"JSONata suite in wasm: {passed}/{len(wasm)}")


def test_the_jsonpath_compliance_suite_passes_in_wasm():
    cts = FIXTURES / "jsonpath-cts" / "cts.json"
    verdicts = run_in_wasm("jsonpath", cts, REPO / "target" / "jsonpath-cts" / "wasm.jsonl")
    assert len(verdicts) == len(json.loads(cts.read_text())["tests"]) == 703
    failed = {v["name"]: v["failure"] for v in verdicts if v["failure"] is not None}
    assert not failed, f"{len(failed)} of {len(verdicts)} cases fail in wasm: {failed}"
    print(f"JSONPath compliance test suite in wasm: {len(verdicts)}/{len(verdicts)}")
