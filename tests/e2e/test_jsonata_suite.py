"""The official JSONata suite inside wasm: the `jsonata-suite` command (src/bin/jsonata-suite.rs,
built by scripts/build next to the component, same profile, same crates) runs every case of
fixtures/jsonata-suite/suite.jsonl through the component's evaluation path in wasmtime-py. Every
case that passes natively (tests/jsonata_suite.rs, run earlier by scripts/test, which writes
target/jsonata-suite/native.jsonl) must pass here too, with no trap: a case lost inside wasm is
the project's defect, not the crate's."""

from __future__ import annotations

import json

from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker

from kit.paths import FIXTURES, REPO

RUNNER = REPO / "target" / "wasm32-wasip2" / "release" / "jsonata-suite.wasm"
OUT = REPO / "target" / "jsonata-suite"


def run_in_wasm() -> list[dict]:
    engine = Engine()
    component = Component.from_file(engine, str(RUNNER))
    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    store = Store(engine)
    wasi = WasiConfig()
    wasi.stdin_file = str(FIXTURES / "jsonata-suite" / "suite.jsonl")
    wasi.stdout_file = str(OUT / "wasm.jsonl")
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    store.set_wasi_http()
    instance = linker.instantiate(store, component)
    run = next(n for n in component.type.exports(engine) if n.startswith("wasi:cli/run@"))
    func = instance.get_func(store, component.get_export_index("run", component.get_export_index(run)))
    assert func is not None
    result = func(store)  # a trap raises here
    assert getattr(result, "tag", None) == "ok", result
    return [json.loads(line) for line in (OUT / "wasm.jsonl").read_text().splitlines()]


def test_the_suite_passes_in_wasm_wherever_it_passes_natively():
    native_file = OUT / "native.jsonl"
    assert native_file.exists(), "run `cargo test --test jsonata_suite` first (scripts/test does)"
    assert RUNNER.exists(), f"{RUNNER} is missing: run scripts/build"
    native = {(v["group"], v["name"]): v["failure"] for v in map(json.loads, native_file.read_text().splitlines())}
    wasm = {(v["group"], v["name"]): v["failure"] for v in run_in_wasm()}
    assert len(wasm) == len(native) == 1686
    lost = {case: wasm[case] for case, failure in native.items() if failure is None and wasm.get(case) is not None}
    assert not lost, f"{len(lost)} cases pass natively but not in wasm: {lost}"
    passed = sum(1 for failure in wasm.values() if failure is None)
    print(f"JSONata suite in wasm: {passed}/{len(wasm)}")
