"""Performance figures of the HTTP Task component, each with its budget: size, render +
validate (native and in wasm), the cold path, the per-call overhead of a request, peak memory.

Run it as `scripts/bench`, which first builds the release component, a copy with names (for
twiggy) and bench/size-floor, and runs the native criterion benchmark (bench/render.rs);
this script reads what those left behind and measures the rest in one run. It prints the report as
Markdown and writes it to target/bench/report.md; the last line names the budgets that failed.
Exit status 0 when it ran (whatever failed), 2 when it could not run.

`--quick` runs few iterations and leaves out criterion and twiggy (their rows say
`skipped`): a smoke test of the script in a few seconds, not figures to quote.

How each figure is measured, and why:
- Render in wasm: `render` on ONE warm instance (`TaskHost(fresh_instance=False)`), the
  median per call of many calls, inputs already JSON text. A call through wasmtime-py also
  pays Python's lowering of the input and lifting of the result; the floor (a `render` of
  `{}`, `describe`) and the time inside the FFI call (measured by wrapping
  `wasmtime_component_func_call`) are reported next to it, but the budget is the plain call.
- Cold path: compile, serialize and deserialize once each (best of a few); per-call
  instantiation (Store, WASI, wasi:http, `Linker.instantiate`) over >= 1000 iterations.
- Per-call overhead: `execute` through the component and the same POST sent with
  `http.client` (same headers, same body bytes, a new connection each, as wasi:http makes),
  interleaved call by call against one stand-in running in its own process (its own GIL).
  Every call creates an inference with a unique name (equal lengths, so equal body sizes):
  both sides take the stand-in's normal 202 path.
- Memory: the smallest `TaskHost.memory_limit_bytes`, at 64 KiB page granularity, at which
  the call completes without trapping (binary search; a guest that cannot grow its memory
  traps). An instance's memory never shrinks, so that cap is the call's peak linear memory.
- The engine: workflows/s through Restate with the component as the step against the same
  workflow whose step is a native POST, and the service's cold start (compile against
  deserialize); bench/engine.py measures them (its docstring says how) and gives the rows.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import wasmtime._ffi as wasmtime_ffi

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / d) for d in ("hosts/python", "standin", "tests")]
from host import ComponentTrap, TaskHost, TaskInput
from kit.adapter import Adapter, AdapterError
from kit.hostile import HostileServer, Request, Wire, head
from kit.hosts import OWN_HOSTS
from launcher import NO_RATE_LIMITS, running_standin
from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker

import engine  # bench/engine.py
from figures import percentile  # bench/figures.py

REPO = Path(__file__).resolve().parent.parent
# The artifact every tool runs (scripts/build); the plain release build is what twiggy reads.
WASM = REPO / "target/component/do_dedicated_inference_task.wasm"
PLAIN_WASM = REPO / "target/wasm32-wasip2/release/do_dedicated_inference_task.wasm"
# The same component built with `strip = "debuginfo"` (by scripts/bench): names for twiggy only.
SYMBOLS_WASM = REPO / "target/bench-symbols/wasm32-wasip2/release/do_dedicated_inference_task.wasm"
# bench/size-floor: the same WIT world, dependencies and profile doing only the platform
# work of a call (built by scripts/bench): what bounds how small the component can get.
SIZE_FLOOR_WASM = REPO / "bench/size-floor/target/wasm32-wasip2/release/size_floor.wasm"
TWIGGY = REPO / ".tools/bin/twiggy"
WASM_TOOLS = REPO / ".tools/bin/wasm-tools"
CRITERION = REPO / "target/criterion/render"
OUT = REPO / "target/bench"
FIXTURES = REPO / "fixtures"

# The stand-in accepts any `dop_v1_` token of 8 or more further characters.
TOKEN = "dop_v1_bench" + "0" * 60
KIB = 1024
MIB = 1024 * KIB
PAGE = 64 * KIB
# src/response.rs: BODY_LIMIT, the most of a response body the component reads.
BODY_LIMIT = 4 * MIB
LARGE_RESPONSE = 8 * MIB
# A response four times the large one: if memory followed the response, it would show here.
HUGE_RESPONSE = 32 * MIB

# Budgets (the issue "Performance").
# A ceiling, not a target: bytes are not worth hand-written copies of well-kept libraries.
#: tests/e2e/test_artifact.py's ceiling: 512 KiB until the JSONata engine, 2.5 MiB with it.
SIZE_CEILING = 2560 * KIB
NATIVE_RENDER_BUDGET_US = 20.0
WASM_NATIVE_RATIO_BUDGET = 3.0
LINEAR_RANGE = (1.6, 2.4)
INSTANTIATE_BUDGET_US = 100.0
WARM_RATIO_BUDGET = 1.3
# "Bounded by the response body limit": the body buffer (BODY_LIMIT) plus 2 MiB for
# everything else, i.e. Rust's 1 MiB shadow stack (the guest's memory starts there) and 1 MiB
# of working memory; the same whatever the server sends.
LARGE_RESPONSE_MEMORY_BUDGET = BODY_LIMIT + 2 * MIB


@dataclass(frozen=True)
class Sizes:
    """Iteration counts: the full run's, or --quick's."""

    render_fixture: int
    render_large: int
    floor: int
    instantiate: int
    compile_repeats: int
    execute_pairs: int
    throughput_calls: int


FULL = Sizes(
    render_fixture=3000,
    render_large=300,
    floor=3000,
    instantiate=2000,
    compile_repeats=3,
    execute_pairs=500,
    throughput_calls=400,
)
QUICK = Sizes(
    render_fixture=100,
    render_large=10,
    floor=100,
    instantiate=100,
    compile_repeats=1,
    execute_pairs=20,
    throughput_calls=16,
)

# The benchmark cases: (criterion id, label, definition, parameters). bench/fixtures/ is
# made by bench/gen_fixtures.py; bench/render.rs renders the same files.
CASES = (
    ("fixture", "fixture", FIXTURES / "definition.json", FIXTURES / "parameters.json"),
    (
        "deployments-50",
        "50 deployments",
        REPO / "bench/fixtures/definition-50.json",
        REPO / "bench/fixtures/parameters-50.json",
    ),
    (
        "deployments-100",
        "100 deployments",
        REPO / "bench/fixtures/definition-100.json",
        REPO / "bench/fixtures/parameters-100.json",
    ),
)

SKIPPED = "skipped"


# --- The report ---


@dataclass
class Row:
    figure: str
    value: str
    budget: str = "—"
    #: PASS, FAIL, or "—" for a figure reported without a budget.
    result: str = "—"


@dataclass
class Report:
    machine: str = ""
    rows: list[Row] = field(default_factory=list)
    #: Markdown sections printed after the table (contributors, notes).
    sections: list[tuple[str, str]] = field(default_factory=list)

    def add(self, figure: str, value: str, budget: str = "—", passed: bool | None = None) -> None:
        result = "—" if passed is None else ("PASS" if passed else "FAIL")
        self.rows.append(Row(figure, value, budget, result))

    def skip(self, figure: str, budget: str = "—", why: str = SKIPPED) -> None:
        self.rows.append(Row(figure, why, budget, "—"))

    def section(self, title: str, text: str) -> None:
        self.sections.append((title, text))

    def failed(self) -> list[str]:
        return [row.figure for row in self.rows if row.result == "FAIL"]

    def markdown(self) -> str:
        lines = ["# Performance of the HTTP Task component", "", self.machine, ""]
        lines += ["| figure | value | budget | result |", "|---|---|---|---|"]
        lines += [f"| {r.figure} | {r.value} | {r.budget} | {r.result} |" for r in self.rows]
        for title, text in self.sections:
            lines += ["", f"## {title}", "", text.rstrip()]
        failed = self.failed()
        lines += ["", f"Budgets failed: {', '.join(failed) if failed else 'none'}"]
        return "\n".join(lines)


def ratio(a: float, b: float) -> float:
    """a / b for two measured quantities: a measurement can be 0 on a fast or coarse clock,
    and a smoke run must not crash on it (infinity prints as `inf`)."""
    return a / b if b > 0 else math.inf


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    """Seconds taken by each of `repeats` calls of `function`."""
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


# --- The machine ---


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = command_output(["rustc", "--version"]) or "rustc not found"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {rustc}, wasmtime-py {metadata.version('wasmtime')}, "
        f"Python {platform.python_version()}; load average {load:.2f} at start "
        "(other work on the machine shows up in every figure)."
    )


def command_output(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


# --- Inputs ---


@dataclass(frozen=True)
class Case:
    id: str
    label: str
    definition: str
    parameters: str

    def task_input(self) -> TaskInput:
        return {"definition": self.definition, "parameters": self.parameters, "secrets": {"token": TOKEN}}


def load_cases() -> list[Case]:
    cases = []
    for case_id, label, definition, parameters in CASES:
        if not definition.exists() or not parameters.exists():
            raise SystemExit(f"bench: {definition.relative_to(REPO)} is missing: run bench/gen_fixtures.py")
        cases.append(Case(case_id, label, definition.read_text(), parameters.read_text()))
    return cases


# --- Size ---


def read_leb128(data: bytes, at: int) -> tuple[int, int]:
    """An unsigned LEB128 at `at`: (value, offset after it)."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def sections(binary: bytes) -> Iterator[tuple[int, int, int]]:
    """(id, start of contents, end of contents) of each top-level section of a core module or
    component binary (both: 8-byte preamble, then id byte, LEB128 size, contents)."""
    at = 8
    while at < len(binary):
        section_id = binary[at]
        size, start = read_leb128(binary, at + 1)
        yield section_id, start, start + size
        at = start + size


# Component section ids (component-model Binary.md): 1 is a core module, 0 a custom section.
COMPONENT_SECTIONS = {
    0: "custom",
    1: "core module",
    2: "core instance",
    3: "core type",
    4: "component",
    5: "instance",
    6: "alias",
    7: "type",
    8: "canon",
    9: "start",
    10: "import",
    11: "export",
}
CORE_SECTIONS = {
    0: "custom",
    1: "type",
    2: "import",
    3: "function",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "element",
    10: "code",
    11: "data",
    12: "data count",
}


def custom_name(binary: bytes, start: int) -> str:
    length, at = read_leb128(binary, start)
    return binary[at : at + length].decode("utf-8", "replace")


def section_table(binary: bytes, names: dict[int, str]) -> list[tuple[str, int]]:
    """Bytes per kind of section, biggest first; custom sections by name."""
    totals: dict[str, int] = {}
    for section_id, start, end in sections(binary):
        name = names.get(section_id, f"id {section_id}")
        if section_id == 0:
            name = f"custom `{custom_name(binary, start)}`"
        # The section's header (id and size) counts with it: the total is the file's size.
        header = 1 + len_leb128(end - start)
        totals[name] = totals.get(name, 0) + header + (end - start)
    return sorted(totals.items(), key=lambda item: -item[1])


def len_leb128(value: int) -> int:
    return max(1, math.ceil(value.bit_length() / 7))


def core_modules(component: bytes) -> list[bytes]:
    """The core modules embedded at the top level of a component, biggest first."""
    modules = [component[start:end] for section_id, start, end in sections(component) if section_id == 1]
    return sorted(modules, key=len, reverse=True)


def measure_size(report: Report, quick: bool) -> None:
    binary = WASM.read_bytes()
    report.add(
        "component size (the artifact: release build through jco opt)",
        f"{len(binary):,} B ({len(binary) / KIB:.1f} KiB)",
        f"≤ {SIZE_CEILING:,} B (2.5 MiB, a ceiling)",
        len(binary) <= SIZE_CEILING,
    )
    if PLAIN_WASM.exists():
        plain = PLAIN_WASM.stat().st_size
        report.add("component size (plain cargo build --release)", f"{plain:,} B ({plain / KIB:.1f} KiB)")
    if SIZE_FLOOR_WASM.exists():
        floor = SIZE_FLOOR_WASM.stat().st_size
        report.add("size floor (bench/size-floor: the platform work of a call, no product logic)", f"{floor:,} B")
        report.add("component above the floor (the product's own code and data)", f"{len(binary) - floor:,} B")
    else:
        why = "missing: run scripts/bench (it builds bench/size-floor)"
        report.skip("size floor (bench/size-floor: the platform work of a call, no product logic)", why=why)
        report.skip("component above the floor (the product's own code and data)", why=why)
    modules = core_modules(binary)
    lines = ["What the stripped release component is made of (section sizes, from its binary):", ""]
    lines += ["| component section | bytes |", "|---|---|"]
    lines += [f"| {name} | {size:,} |" for name, size in section_table(binary, COMPONENT_SECTIONS)]
    if modules:
        core = modules[0]
        lines += ["", f"Its biggest core module ({len(core):,} B; {len(modules)} core modules in all):", ""]
        lines += ["| core module section | bytes |", "|---|---|"]
        lines += [f"| {name} | {size:,} |" for name, size in section_table(core, CORE_SECTIONS)]
    report.section("Size: sections", "\n".join(lines))
    if quick:
        report.section("Size: top contributors (twiggy)", f"{SKIPPED} (--quick)")
        return
    report.section("Size: top contributors (twiggy)", twiggy_contributors())


def twiggy_contributors() -> str:
    """twiggy's top items and a rollup by crate, over the core module of the build with
    symbols (`strip = "debuginfo"`: the release's code with its names)."""
    if not TWIGGY.exists():
        return f"twiggy is not installed ({TWIGGY.relative_to(REPO)}): run scripts/bench, which installs it."
    if not SYMBOLS_WASM.exists():
        return f"{SYMBOLS_WASM.relative_to(REPO)} is missing: run scripts/bench, which builds it."
    core, how = extract_core_module(SYMBOLS_WASM, OUT / "core-with-symbols")
    if core is None:
        return "no core module found in the component"
    listed = subprocess.run(
        [str(TWIGGY), "top", "-n", "1000000", "--format", "json", str(core)],
        capture_output=True,
        text=True,
        check=False,  # reported in the section instead
    )
    if listed.returncode != 0:
        return f"twiggy failed: {listed.stderr.strip()}"
    # The name section's subsections exist only in this build: the release has no names.
    items = [
        (str(item["name"]), int(item["shallow_size"]))
        for item in json.loads(listed.stdout)
        if not str(item["name"]).endswith(" subsection")
    ]
    total = sum(size for _, size in items)
    top = ["| bytes | share | item |", "|---|---|---|"]
    for name, size in sorted(items, key=lambda item: -item[1])[:15]:
        top.append(f"| {size:,} | {100 * size / total:.1f} % | `{without_hash(name)}` |")
    by_crate: dict[str, int] = {}
    for name, size in items:
        crate = crate_of(name)
        by_crate[crate] = by_crate.get(crate, 0) + size
    rollup = ["| crate (or kind of item) | bytes | share |", "|---|---|---|"]
    for crate, size in sorted(by_crate.items(), key=lambda kv: -kv[1])[:15]:
        rollup.append(f"| {crate} | {size:,} | {100 * size / total:.1f} % |")
    # What the JSONata engine brought (src/jsonata.rs): jsonata-core and the crates only it
    # pulls in. Its share of `data segments` (tables, strings) is not attributable here.
    jsonata = ["| crate that came with JSONata | bytes |", "|---|---|"]
    brought = {c: n for c, n in by_crate.items() if c in JSONATA_CRATES}
    for crate, size in sorted(brought.items(), key=lambda kv: -kv[1]):
        jsonata.append(f"| {crate} | {size:,} |")
    jsonata.append(f"| **together** | **{sum(brought.values()):,}** ({100 * sum(brought.values()) / total:.1f} % of the code) |")
    return "\n".join(
        [
            (
                f"`twiggy top` over the core module of a build with names ({SIZE_NOTE}; extracted "
                f"with {how}): {total:,} B of items without the name section."
            ),
            "",
            *top,
            "",
            (
                "Rolled up by crate (a function counts for the first crate of its path, "
                "`<T as Trait>` for T's; data segments hold every crate's constants and tables):"
            ),
            "",
            *rollup,
            "",
            (
                "The JSONata engine's growth by crate (the artifact was 364,837 B before it, in "
                "the last scripts/bench of the JSONPath-only component):"
            ),
            "",
            *jsonata,
        ]
    )


#: The crates the JSONata engine pulls in (jsonata-core 2.2.13's dependency tree, less what the
#: component had before it).
JSONATA_CRATES = {
    "jsonata_core", "regex", "regex_automata", "regex_syntax", "aho_corasick", "chrono",
    "rand", "rand_core", "chacha20", "getrandom", "indexmap", "stacker", "psm", "base64",
    "num_traits", "thiserror", "equivalent",
}

SIZE_NOTE = 'the release profile with `strip = "debuginfo"`, so the same code as the stripped release'


def without_hash(name: str) -> str:
    """A demangled Rust name without its hashes (`::h<16 hex>`, `core[<16 hex>]`); backticks
    made harmless for Markdown."""
    return re.sub(r"\[[0-9a-f]{16}\]", "", re.sub(r"::h[0-9a-f]{16}$", "", name)).replace("`", "'")


def extract_core_module(component: Path, directory: Path) -> tuple[Path | None, str]:
    """The biggest core module of `component`, written under `directory`, and how it was
    extracted: `wasm-tools component unbundle` when installed, else by reading the
    component's sections here."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if WASM_TOOLS.exists():
        unbundled = subprocess.run(
            [str(WASM_TOOLS), "component", "unbundle", "--threshold", "0", "--module-dir", str(directory),
             "-o", str(directory / "rest.wasm"), str(component)],
            capture_output=True,
            text=True,
            check=False,  # a failure falls back to reading the sections here
        )
        modules = sorted(directory.glob("unbundled-module*.wasm"), key=lambda p: p.stat().st_size)
        if unbundled.returncode == 0 and modules:
            return modules[-1], "`wasm-tools component unbundle`"
    embedded = core_modules(component.read_bytes())
    if not embedded:
        return None, ""
    core = directory / "module.wasm"
    core.write_bytes(embedded[0])
    return core, "the component's sections, read by bench/bench.py"


# A path's crate: an identifier, with the `[<hash>]` rustc's v0 names may add, before `::`.
CRATE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?(?=::)")


def crate_of(name: str) -> str:
    """The crate (or kind) a twiggy item belongs to, from its demangled name."""
    if name.startswith("data segment"):
        return "data segments"
    if name.startswith("custom section"):
        return "custom sections"
    if "workflow:http-task/" in name:
        return "component exports (wit-bindgen glue)"
    if re.match(r"(type|import|export|elem|table|memory|global|func|code)\b", name):
        return "wasm structure (types, imports, exports, tables)"
    # The first crate-qualified path: `<T as Trait>` counts for T's crate, and a primitive T
    # (`<str as core::fmt::Debug>`) for the trait's.
    match = CRATE.search(name)
    if match:
        return match.group(1)
    if "::" in name:
        return "core"  # inherent methods of primitive types: `<char>::escape_debug_ext`
    # Plain C names: wasi-libc's allocator (dlmalloc), stdio, environment and string functions.
    return "wasi-libc (C: allocator, stdio, strings)"


# --- Render ---


def criterion_median_s(case_id: str) -> float | None:
    """The median of criterion's last run of `render/<case_id>`, in seconds."""
    estimates = CRITERION / case_id / "new/estimates.json"
    try:
        document = json.loads(estimates.read_text())
        return float(document["median"]["point_estimate"]) / 1e9
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def ffi_call_timer() -> Iterator[list[float]]:
    """Collects the seconds spent inside each `wasmtime_component_func_call`, the FFI call
    that runs the guest (with wasmtime's own lowering into and lifting out of the guest's
    memory); the rest of a call's time is Python (types, lowering to and lifting from C)."""
    original = wasmtime_ffi.wasmtime_component_func_call
    inside: list[float] = []

    def call(*args: Any) -> Any:
        started = time.perf_counter()
        result = original(*args)
        inside.append(time.perf_counter() - started)
        return result

    # The wrapper takes any arguments; the binding's type names them.
    wasmtime_ffi.wasmtime_component_func_call = call  # type: ignore[assignment]
    try:
        yield inside
    finally:
        wasmtime_ffi.wasmtime_component_func_call = original


def linear_verdict(ratio: float) -> tuple[str, bool]:
    low, high = LINEAR_RANGE
    linear = low <= ratio <= high
    return f"{ratio:.2f}× ({'linear' if linear else 'not linear'})", linear


def measure_render(report: Report, cases: list[Case], sizes: Sizes, quick: bool) -> None:
    host = TaskHost(WASM, fresh_instance=False)
    wasm: dict[str, float] = {}
    for case in cases:
        task_input = case.task_input()
        # Render once to check it, and so that the instance is warm.
        result = host.render(task_input)
        if "ok" not in result:
            raise SystemExit(f"bench: {case.label} does not render: {result}")
        repeats = sizes.render_fixture if case.id == "fixture" else sizes.render_large
        gc.collect()
        wasm[case.id] = statistics.median(timed(partial(host.render, task_input), repeats))

    native: dict[str, float | None] = {
        case.id: None if quick else criterion_median_s(case.id) for case in cases
    }
    for case in cases:
        budget = f"≤ {NATIVE_RENDER_BUDGET_US:.0f} µs" if case.id == "fixture" else "—"
        value = native[case.id]
        if value is None:
            why = f"{SKIPPED} (--quick)" if quick else "missing: run scripts/bench (cargo bench --bench render)"
            report.skip(f"render native, {case.label} (criterion median)", budget, why)
        else:
            passed = value * 1e6 <= NATIVE_RENDER_BUDGET_US if case.id == "fixture" else None
            report.add(f"render native, {case.label} (criterion median)", us(value), budget, passed)
    native_50, native_100 = native["deployments-50"], native["deployments-100"]
    linear_budget = f"{LINEAR_RANGE[0]}–{LINEAR_RANGE[1]}×"
    if native_50 and native_100:
        text, linear = linear_verdict(ratio(native_100, native_50))
        report.add("render native, 100 vs 50 deployments", text, linear_budget, linear)
    else:
        report.skip("render native, 100 vs 50 deployments", linear_budget)

    for case in cases:
        report.add(f"render wasm, {case.label} (median per call, warm instance)", us(wasm[case.id]))
    text, linear = linear_verdict(ratio(wasm["deployments-100"], wasm["deployments-50"]))
    report.add("render wasm, 100 vs 50 deployments", text, linear_budget, linear)
    for case in cases:
        figure = f"render wasm/native, {case.label}"
        budget = f"≤ {WASM_NATIVE_RATIO_BUDGET:.0f}×"
        value = native[case.id]
        if value is None:
            report.skip(figure, budget)
        else:
            times = ratio(wasm[case.id], value)
            report.add(figure, f"{times:.2f}×", budget, times <= WASM_NATIVE_RATIO_BUDGET)

    # One placeholder through JSONata against the same value through JSONPath, in one run.
    def with_name(placeholder: str) -> TaskInput:
        definition = json.loads((FIXTURES / "definition.json").read_text())
        definition["httpRequest"]["body"]["spec"]["name"] = placeholder
        return {**cases[0].task_input(), "definition": json.dumps(definition)}

    through = {}
    for kind, placeholder in (("JSONPath", "${$.name}"), ("JSONata", "${jsonata: name}")):
        task_input = with_name(placeholder)
        result = host.render(task_input)
        if "ok" not in result:
            raise SystemExit(f"bench: the fixture with {placeholder} does not render: {result}")
        through[kind] = statistics.median(timed(partial(host.render, task_input), sizes.render_fixture))
        report.add(f"render wasm, fixture, spec.name through {kind} (median)", us(through[kind]))
    report.add("render wasm: one JSONata placeholder vs the same value through JSONPath",
               f"{ratio(through['JSONata'], through['JSONPath']):.2f}×")

    # The floor of a call through wasmtime-py, and where the fixture's time goes.
    empty: TaskInput = {"definition": "{}", "parameters": "{}", "secrets": {}}
    host.render(empty)
    floor = statistics.median(timed(lambda: host.render(empty), sizes.floor))
    report.add("wasm call floor: render of `{}` (median)", us(floor))
    host.describe()
    describe = statistics.median(timed(host.describe, max(sizes.floor // 10, 10)))
    report.add("wasm call floor: describe (median; lifts a large record)", us(describe))
    fixture = cases[0].task_input()
    whole: list[float] = []
    with ffi_call_timer() as inside:
        for _ in range(sizes.render_fixture):
            started = time.perf_counter()
            host.render(fixture)
            whole.append(time.perf_counter() - started)
    in_ffi = statistics.median(inside)
    python_side = statistics.median(w - i for w, i in zip(whole, inside))
    report.add("render wasm, fixture: inside the FFI call (guest + canonical ABI)", us(in_ffi))
    report.add("render wasm, fixture: Python side (types, lowering, lifting)", us(python_side))
    fixture_native = native["fixture"]
    guest_ratio = "" if fixture_native is None else f" ({in_ffi / fixture_native:.1f}× native)"
    report.section(
        "Render: where a call's time goes",
        "\n".join(
            [
                (
                    f"- A `render` of the fixture through wasmtime-py takes {us(wasm['fixture'])} "
                    f"(medians): {us(in_ffi)} inside `wasmtime_component_func_call` (the guest, "
                    f"and wasmtime copying the input in and the result out){guest_ratio}, "
                    f"{us(python_side)} in Python around it."
                ),
                (
                    "- The Python side is wasmtime-py's: on every call `Func.__call__` asks the C API "
                    "for the function's type, and lowering and lifting walk each record's field types "
                    "through the C API again (`RecordType.fields`, `valtype_from_ptr`); a `render` of "
                    f"`{{}}` (one short diagnostic back) already costs {us(floor)}, a `describe` (a large "
                    f"record) {us(describe)}. No change to the component shortens that part."
                ),
            ]
        ),
    )


# --- Cold path ---


def new_linker(engine: Engine) -> Linker:
    linker = Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    return linker


def measure_cold_path(report: Report, sizes: Sizes) -> None:
    engine = Engine()
    compiled: list[Component] = []
    compile_s = min(timed(lambda: compiled.append(Component.from_file(engine, WASM)), sizes.compile_repeats))
    component = compiled[-1]
    serialized: list[bytearray] = []
    serialize_s = min(timed(lambda: serialized.append(component.serialize()), sizes.compile_repeats))
    encoded = bytes(serialized[-1])
    deserialize_s = min(timed(lambda: Component.deserialize(engine, encoded), sizes.compile_repeats))
    report.add("compile (Component.from_file, best)", ms(compile_s))
    report.add("serialize (best)", ms(serialize_s))
    report.add("serialized component (native code)", f"{len(encoded) / KIB:,.0f} KiB")
    report.add("deserialize (best)", ms(deserialize_s))

    # What TaskHost does per call with fresh_instance=True (hosts/python/host.py, _instantiate).
    linker = new_linker(engine)
    instantiate: list[float] = []
    drop: list[float] = []
    gc.collect()
    for _ in range(sizes.instantiate):
        started = time.perf_counter()
        store = Store(engine)
        wasi = WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        store.set_wasi_http()
        instance = linker.instantiate(store, component)
        instantiated = time.perf_counter()
        del instance, store
        instantiate.append(instantiated - started)
        drop.append(time.perf_counter() - instantiated)
    median = statistics.median(instantiate)
    report.add(
        "instantiate (Store + WASI + linker.instantiate), median",
        us(median),
        f"≤ {INSTANTIATE_BUDGET_US:.0f} µs",
        median * 1e6 <= INSTANTIATE_BUDGET_US,
    )
    report.add("instantiate, p99", us(percentile(instantiate, 99)))
    report.add("Store drop after a call, median", us(statistics.median(drop)))


# --- Requests ---


@dataclass
class StandInProcess:
    url: str
    process: subprocess.Popen[str]

    def cpu_s(self) -> float:
        """User + system CPU seconds the stand-in process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def clear_records(self) -> None:
        """Records grow with every POST; they are not needed between phases."""
        self.request("DELETE", "/__standin/requests")

    def records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = json.loads(self.request("GET", "/__standin/requests"))
        return records

    def request(self, method: str, path: str) -> bytes:
        parts = urlsplit(self.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            connection.request(method, path)
            return connection.getresponse().read()
        finally:
            connection.close()


@contextmanager
def standin() -> Iterator[StandInProcess]:
    """standin/standin.py in a process of its own: its work must not take the host's GIL.
    Without DigitalOcean's rate limits: the benchmark sends thousands of requests a minute."""
    with running_standin(NO_RATE_LIMITS) as api:
        url, process = api.url, api.process
        yield StandInProcess(url, process)


@dataclass
class Requests:
    """The execute inputs and the direct POSTs of one phase, each with a unique name."""

    api: StandInProcess
    definition: str
    parameters: dict[str, Any]
    #: The component's request as the stand-in received it: headers (lower-case) and body.
    headers: list[tuple[str, str]]
    body_template: str
    name_template: str

    def execute_input(self, name: str) -> TaskInput:
        parameters = dict(self.parameters, name=name)
        return {"definition": self.definition, "parameters": json.dumps(parameters), "secrets": {"token": TOKEN}}

    def direct_body(self, name: str) -> bytes:
        return self.body_template.replace(json.dumps(self.name_template), json.dumps(name)).encode()

    def direct(self, body: bytes) -> int:
        """One POST with http.client on a new connection: the component's headers and bytes."""
        parts = urlsplit(self.api.url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            connection.putrequest("POST", "/v2/dedicated-inferences", skip_accept_encoding=True)
            for name, value in self.headers:
                connection.putheader(name, value)
            connection.putheader("content-length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


def prepare_requests(api: StandInProcess, host: TaskHost) -> Requests:
    """Sends one request through the component to learn exactly what it puts on the wire."""
    definition = json.loads((FIXTURES / "definition.json").read_text())
    definition["httpRequest"]["url"] = f"{api.url}/v2/dedicated-inferences"
    parameters = json.loads((FIXTURES / "parameters.json").read_text())
    name = "bench-probe-000000"
    requests = Requests(api, json.dumps(definition), parameters, [], "", name)
    api.clear_records()
    result = host.execute(requests.execute_input(name))
    if "ok" not in result or json.loads(result["ok"])["statusCode"] != 202:  # type: ignore[typeddict-item]
        raise SystemExit(f"bench: the component's request was not accepted: {result}")
    (record,) = api.records()
    requests.headers = [
        (header, value)
        for header, value in record["headers"].items()
        # http.client writes these itself (Host) or per body (Content-Length).
        if header not in ("host", "content-length")
    ]
    requests.body_template = record["body"]
    api.clear_records()
    return requests


@dataclass
class Paired:
    component: list[float]
    direct: list[float]
    instantiate: list[float]
    failures: int


def run_pairs(requests: Requests, host: TaskHost, pairs: int, tag: str) -> Paired:
    """`pairs` calls of each kind, interleaved: component, direct, component, direct..."""
    # Names of one length, so that every body has the same size.
    inputs = [requests.execute_input(f"bench-{tag}c-{i:06d}") for i in range(pairs)]
    bodies = [requests.direct_body(f"bench-{tag}d-{i:06d}") for i in range(pairs)]
    paired = Paired([], [], [], 0)
    gc.collect()
    for task_input, body in zip(inputs, bodies):
        started = time.perf_counter()
        result = host.execute(task_input)
        paired.component.append(time.perf_counter() - started)
        paired.instantiate.append(host.last_instantiate_s)
        started = time.perf_counter()
        status = requests.direct(body)
        paired.direct.append(time.perf_counter() - started)
        paired.failures += ("ok" not in result) + (status != 202)
    requests.api.clear_records()
    return paired


def throughput(callers: int, calls: int, make_call: Callable[[int], Callable[[int], None]]) -> float:
    """Calls per second of `callers` threads making `calls` calls in all; `make_call(t)` is
    thread t's call (made before the clock starts), given the call's number."""
    per_thread = [make_call(t) for t in range(callers)]
    barrier = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        barrier.wait()
        try:
            for i in range(t, calls, callers):
                per_thread[t](i)
        # Any failure is kept and raised by the caller after the run, not lost in a thread.
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(callers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return ratio(calls, elapsed)


def measure_requests(report: Report, api: StandInProcess, sizes: Sizes) -> None:
    warm_host = TaskHost(WASM, fresh_instance=False)
    requests = prepare_requests(api, warm_host)
    # Warm-up of both paths (and of the stand-in), not counted.
    run_pairs(requests, warm_host, max(sizes.execute_pairs // 10, 5), "w")
    warm = run_pairs(requests, warm_host, sizes.execute_pairs, "a")
    fresh_host = TaskHost(WASM, fresh_instance=True)
    fresh = run_pairs(requests, fresh_host, sizes.execute_pairs, "b")

    n = sizes.execute_pairs
    report.add("execute, warm instance, p50", ms(statistics.median(warm.component)))
    report.add("execute, warm instance, p99", ms(percentile(warm.component, 99)))
    report.add("direct http.client POST (paired with warm), p50", ms(statistics.median(warm.direct)))
    report.add("direct http.client POST (paired with warm), p99", ms(percentile(warm.direct, 99)))
    warm_ratio = ratio(statistics.median(warm.component), statistics.median(warm.direct))
    report.add(
        "execute/direct, warm instance (ratio of p50s)",
        f"{warm_ratio:.2f}×",
        f"≤ {WARM_RATIO_BUDGET}×",
        warm_ratio <= WARM_RATIO_BUDGET,
    )
    report.add(
        "execute/direct, warm instance (ratio of p99s)",
        f"{ratio(percentile(warm.component, 99), percentile(warm.direct, 99)):.2f}×",
    )
    report.add("execute, fresh instance, p50", ms(statistics.median(fresh.component)))
    report.add("execute, fresh instance, p99", ms(percentile(fresh.component, 99)))
    report.add("  of which instantiate (last_instantiate_s), p50", ms(statistics.median(fresh.instantiate)))
    report.add("  of which instantiate (last_instantiate_s), p99", ms(percentile(fresh.instantiate, 99)))
    report.add("direct http.client POST (paired with fresh), p50", ms(statistics.median(fresh.direct)))
    report.add("direct http.client POST (paired with fresh), p99", ms(percentile(fresh.direct, 99)))
    fresh_ratio = ratio(statistics.median(fresh.component), statistics.median(fresh.direct))
    report.add("execute/direct, fresh instance (ratio of p50s)", f"{fresh_ratio:.2f}×")
    without = statistics.median(c - i for c, i in zip(fresh.component, fresh.instantiate))
    report.add(
        "execute/direct, fresh instance without instantiate (ratio of p50s)",
        f"{ratio(without, statistics.median(fresh.direct)):.2f}×",
    )
    # Where a warm call's time goes: the FFI call (guest, wasi:http, the network and the
    # stand-in) and Python around it. A run of its own: the timing wrapper is not free.
    breakdown_inputs = [requests.execute_input(f"bench-f-{i:06d}") for i in range(max(n // 2, 10))]
    whole: list[float] = []
    with ffi_call_timer() as inside:
        for task_input in breakdown_inputs:
            started = time.perf_counter()
            warm_host.execute(task_input)
            whole.append(time.perf_counter() - started)
    requests.api.clear_records()
    in_ffi = statistics.median(inside)
    report.add("execute, warm: inside the FFI call (guest + wasi:http + network), p50", ms(in_ffi))
    report.add(
        "execute, warm: Python side (types, lowering, lifting), p50",
        ms(statistics.median(w - i for w, i in zip(whole, inside))),
    )
    report.add(
        "execute/direct, warm, FFI call only (ratio of p50s)", f"{ratio(in_ffi, statistics.median(warm.direct)):.2f}×"
    )
    failures = warm.failures + fresh.failures
    report.add("calls not answered 202 (component or direct)", str(failures), "0", failures == 0)

    # Throughput: 1 and 8 callers. Warm: a TaskHost per thread (a shared instance would
    # serialize the calls). Fresh: one TaskHost shared, an instance per call.
    calls = sizes.throughput_calls
    warm_hosts = [TaskHost(WASM, fresh_instance=False) for _ in range(8)]
    counter = iter(range(10**9))

    def component_call(host: TaskHost) -> Callable[[int], None]:
        def call(_: int) -> None:
            if "ok" not in host.execute(requests.execute_input(f"bench-t{next(counter):07d}")):
                raise RuntimeError("execute failed during the throughput run")

        return call

    def direct_call(_: int) -> None:
        if requests.direct(requests.direct_body(f"bench-t{next(counter):07d}")) != 202:
            raise RuntimeError("a direct POST failed during the throughput run")

    for host in warm_hosts:  # instantiate and warm each before the clock starts
        component_call(host)(0)
    stand_in_cpu: dict[str, float] = {}
    for callers in (1, 8):
        cpu = api.cpu_s()
        rate = throughput(callers, calls, lambda t: component_call(warm_hosts[t]))
        stand_in_cpu[f"execute warm, {callers}"] = (api.cpu_s() - cpu) / calls
        report.add(f"calls/s, execute warm, {callers} caller{'s' if callers > 1 else ''}", f"{rate:,.0f}")
    cpu = api.cpu_s()
    rate = throughput(8, calls, lambda t: component_call(fresh_host))
    stand_in_cpu["execute fresh, 8"] = (api.cpu_s() - cpu) / calls
    report.add("calls/s, execute fresh, 8 callers", f"{rate:,.0f}")
    for callers in (1, 8):
        cpu = api.cpu_s()
        rate = throughput(callers, calls, lambda t: direct_call)
        stand_in_cpu[f"direct, {callers}"] = (api.cpu_s() - cpu) / calls
        report.add(f"calls/s, direct, {callers} caller{'s' if callers > 1 else ''}", f"{rate:,.0f}")
    api.clear_records()
    per_request = statistics.median(stand_in_cpu.values())
    report.section(
        "Requests: notes",
        "\n".join(
            [
                (
                    f"- The stand-in (Python `http.server`, its own process) used {per_request * 1e3:.2f} ms "
                    f"of CPU per request (median over the throughput runs): it alone caps a run at about "
                    f"{ratio(1, per_request):,.0f} requests/s, and it shares the machine's {os.cpu_count()} cores "
                    "with the callers."
                ),
                (
                    "- GIL: libwasmtime is called through `ctypes.CDLL`, which releases the GIL for the whole "
                    "guest call (including its wait on the network); Python's lowering and lifting around "
                    "it, and all of `http.client`'s work, hold the GIL."
                ),
                (
                    "- Both sides open a new connection per request (wasi:http in wasmtime does not pool). "
                    "The component also parses the answer and builds the step output; the direct side only "
                    "reads the bytes."
                ),
            ]
        ),
    )


# --- Memory ---


def smallest_cap(host: TaskHost, call: Callable[[], bool], high: int = 256 * MIB) -> int | None:
    """The smallest memory cap (a multiple of 64 KiB) at which `call` completes and returns
    True; None when it fails even at `high`. Assumes that more memory never hurts."""

    def succeeds(pages: int) -> bool:
        host.memory_limit_bytes = pages * PAGE
        try:
            return call()
        except ComponentTrap:
            return False

    low_pages, high_pages = 0, high // PAGE  # low fails (no memory), high is checked below
    try:
        if not succeeds(high_pages):
            return None
        while high_pages - low_pages > 1:
            middle = (low_pages + high_pages) // 2
            if succeeds(middle):
                high_pages = middle
            else:
                low_pages = middle
    finally:
        host.memory_limit_bytes = None
    return high_pages * PAGE


@contextmanager
def guest_stderr_to(path: Path) -> Iterator[None]:
    """Sends file descriptor 2, which the guest's stderr inherits, to `path`: a guest out of
    memory prints `memory allocation of N bytes failed` before it traps, at every failed step
    of a binary search."""
    sys.stderr.flush()
    saved = os.dup(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def measure_memory(report: Report, cases: list[Case], api: StandInProcess) -> None:
    with guest_stderr_to(OUT / "memory-search-guest-stderr.log"):
        search_memory(report, cases, api)


def search_memory(report: Report, cases: list[Case], api: StandInProcess) -> None:
    host = TaskHost(WASM, fresh_instance=True)
    for case in cases[:2]:
        task_input = case.task_input()
        def renders(task_input: TaskInput = task_input) -> bool:
            return "ok" in host.render(task_input)

        cap = smallest_cap(host, renders)
        figure = f"peak linear memory: render {case.label}"
        report.add(figure, "did not complete under 256 MiB" if cap is None else f"{cap / KIB:,.0f} KiB")

    for size in (LARGE_RESPONSE, HUGE_RESPONSE):
        definition = json.loads((FIXTURES / "definition.json").read_text())
        request = definition["httpRequest"]
        request["url"] = f"{api.url}/v2/dedicated-inferences"
        # The stand-in answers 202 with a JSON body of exactly `size` bytes.
        request["headers"]["X-Standin-Fault"] = f"large={size}"
        parameters = json.loads((FIXTURES / "parameters.json").read_text())
        large: TaskInput = {"definition": definition, "parameters": parameters, "secrets": {"token": TOKEN}}

        def over_limit(large: TaskInput = large) -> bool:
            # The expected end: the body bound hit, a `protocol` failure that is not retryable.
            result = host.execute(large)
            return "err" in result and result["err"]["kind"] == "protocol"  # type: ignore[typeddict-item]

        cap = smallest_cap(host, over_limit)
        budget = (
            f"≤ {LARGE_RESPONSE_MEMORY_BUDGET / MIB:.0f} MiB (BODY_LIMIT {BODY_LIMIT // MIB} MiB "
            "+ 1 MiB stack + 1 MiB)"
        )
        figure = f"peak linear memory: execute, {size // MIB} MiB response"
        if cap is None:
            report.add(figure, "did not complete under 256 MiB", budget, False)
        else:
            value = f"{cap / KIB:,.0f} KiB ({cap / size:.2f} × the response)"
            report.add(figure, value, budget, cap <= LARGE_RESPONSE_MEMORY_BUDGET)
        api.clear_records()


# --- Masking, chunked bodies and the other hosts ---

#: The masking budget: adversarial text at most this many times ordinary text of its kind.
MASKING_RATIO_BUDGET = 2.0
MASKING_JSONL = OUT / "masking.jsonl"


def measure_masking_native(report: Report, quick: bool) -> None:
    """Rows from bench/masking.rs (`cargo bench --bench masking`, run by scripts/bench)."""
    if quick or not MASKING_JSONL.exists():
        report.skip("masking 4 MiB natively: the worst adversarial case / its ordinary text",
                    f"≤ {MASKING_RATIO_BUDGET:.0f}×", SKIPPED if quick else "missing: run scripts/bench")
        return
    cases = [json.loads(line) for line in MASKING_JSONL.read_text().splitlines() if line.strip()]
    baselines = {c["case"]: c["ms"] for c in cases if c["case"] == c["baseline"]}
    worst = 0.0
    for case in cases:
        if case["case"] == case["baseline"]:
            report.add(f"masking 4 MiB natively: {case['case']}", f"{case['ms']:.1f} ms")
            continue
        times = ratio(case["ms"], baselines[case["baseline"]])
        worst = max(worst, times)
        report.add(f"masking 4 MiB natively: {case['case']}", f"{case['ms']:.1f} ms ({times:.2f}× ordinary)")
    report.add("masking 4 MiB natively: the worst adversarial case / its ordinary text", f"{worst:.2f}×",
               f"≤ {MASKING_RATIO_BUDGET:.0f}×", worst <= MASKING_RATIO_BUDGET)


def accepted_body(token: str, padding: str) -> bytes:
    """A 202 as the API writes it, with a `note` padding it to 4 MiB."""
    document = {
        "dedicated_inference": {"id": "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d", "status": "provisioning",
                                "spec": {"name": "bench"}},
        "token": {"id": "t", "name": "bench-token", "value": token},
    }
    text = json.dumps(document)[:-1] + ', "note": "'
    room = 4 * MIB - len(text) - 2
    return (text + (padding * (room // len(padding) + 1))[:room] + '"}').encode()


#: (case, its baseline, the token the 202 returns, what pads its body)
MASKING_WASM_CASES = [
    ("ordinary 202 body", "ordinary 202 body", "dit_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
     "region tor1 status provisioning "),
    ("a 4,000-char token of a's in a's", "ordinary 202 body", "a" * 4000, "a"),
    ("a periodic token (ab)^2000 in (ab)*", "ordinary 202 body", "ab" * 2000, "ab"),
]


def measure_masking_wasm(report: Report, sizes: Sizes) -> None:
    """test-request in wasm on a 4 MiB 202 from a local server: the same JSON shape, with an
    ordinary token or an adversarial one (a match at every byte of the body)."""
    def serving(body: bytes) -> Callable[[Wire, Request], None]:
        return lambda wire, _: wire.send(head("202 Accepted", [("Content-Type", "application/json")], body))

    attacks = {f"masking-{i}": serving(accepted_body(token, padding))
               for i, (_, _, token, padding) in enumerate(MASKING_WASM_CASES)}
    host = TaskHost(WASM, fresh_instance=True)
    repeats = 2 if sizes is QUICK else 5
    medians: dict[str, float] = {}
    with HostileServer(attacks) as server:
        for i, (name, baseline, _, _) in enumerate(MASKING_WASM_CASES):
            definition = json.loads((FIXTURES / "definition.json").read_text())
            definition["httpRequest"]["url"] = server.url_for(f"masking-{i}")
            definition["readTimeoutSeconds"] = definition["deadlineSeconds"] = 120
            parameters = json.loads((FIXTURES / "parameters.json").read_text())
            task_input: TaskInput = {"definition": definition, "parameters": parameters, "secrets": {"token": TOKEN}}
            samples = timed(lambda task_input=task_input: host.test_request(task_input), repeats)
            medians[name] = statistics.median(samples)
            if name == baseline:
                report.add(f"masking in wasm (test-request, 4 MiB 202): {name}", ms(medians[name]))
            else:
                times = ratio(medians[name], medians[baseline])
                report.add(f"masking in wasm (test-request, 4 MiB 202): {name}",
                           f"{ms(medians[name])} ({times:.2f}× ordinary)", f"≤ {MASKING_RATIO_BUDGET:.0f}×",
                           times <= MASKING_RATIO_BUDGET)


CHUNKS = 500_000


def measure_chunked_bodies(report: Report) -> None:
    """test-request on a 202 whose body comes in 500,000 one-byte chunks, in each host (the
    host's cost per body frame: wasmtime hands over one per read)."""
    body = accepted_body("dit_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", " ")[:CHUNKS]

    def serve(wire: Wire, request: Request) -> None:
        chunks = b"".join(b"1\r\n%s\r\n" % body[i:i + 1] for i in range(len(body)))
        wire.send(head("202 Accepted", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
                  + chunks + b"0\r\n\r\n")

    with HostileServer({"chunks": serve}) as server:
        for name, command in OWN_HOSTS.items():
            figure = f"a 202 in {CHUNKS:,} one-byte chunks, test-request in {name}"
            try:
                adapter = Adapter(name, [*command, str(WASM)])
            except AdapterError as error:
                report.skip(figure, why=f"host not available ({error})")
                continue
            definition = json.loads((FIXTURES / "definition.json").read_text())
            definition["httpRequest"]["url"] = server.url_for("chunks")
            definition["readTimeoutSeconds"] = definition["deadlineSeconds"] = 120
            parameters = json.loads((FIXTURES / "parameters.json").read_text())
            started = time.perf_counter()
            result = adapter.call("test_request", {"definition": definition, "parameters": parameters,
                                                   "secrets": {"token": TOKEN}})
            elapsed = time.perf_counter() - started
            adapter.close()
            report.add(figure, f"{elapsed:.2f} s ({result['outcome']})")


def run_json(command: list[str], timeout: float) -> dict[str, Any] | None:
    """A host's own benchmark program, which prints its figures as JSON on stdout."""
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def measure_other_hosts(report: Report, api: StandInProcess, quick: bool) -> None:
    """Each host's own figures, measured in one run by its own program against the stand-in:
    instantiate, and execute and test-request per call against a direct POST from the same
    language (hosts/node/bench.mjs; hosts/rust's `bench`)."""
    pairs = "30" if quick else "300"
    node = run_json(["node", "hosts/node/bench.mjs", str(WASM), api.url, "--pairs", pairs]
                    + (["--quick"] if quick else []), 600)
    rust_binary = Path(OWN_HOSTS["rust"][0])
    rust = run_json([str(rust_binary), "bench", str(WASM), api.url, pairs], 600) if rust_binary.exists() else None
    for name, figures in (("jco/Node", node), ("Rust wasmtime", rust)):
        if figures is None:
            report.skip(f"{name}: execute/direct, new connections (ratio of p50s)",
                        why="not measured: the host is not built, or its benchmark failed")
            continue
        for label, path, unit in HOST_FIGURES[name]:
            value = dig(figures, path)
            if isinstance(value, (int, float)):
                if unit == "us":
                    value, unit = value / 1000, "ms"
                report.add(f"{name}: {label}", f"{value:,.3f} ms" if unit == "ms" else f"{value:.2f}×")


#: Where each host's benchmark program (hosts/node/bench.mjs, hosts/rust's `bench`)
#: reports the same figures in its JSON, and in which unit.
HOST_FIGURES = {
    "jco/Node": [
        # What the editor's page pays once (its own load is the browser's version of it).
        ("load: import + compile the transpiled component, once", "load.totalMs", "ms"),
        ("load: compile of the core modules, once", "load.compileMs", "ms"),
        ("instantiate, p50", "instantiateMs.p50", "ms"),
        ("execute, fresh instance, p50", "calls.executeMs.p50", "ms"),
        ("test-request, fresh instance, p50", "calls.testRequestMs.p50", "ms"),
        ("direct POST from the same language, new connection, p50", "calls.directNewConnectionMs.p50", "ms"),
        ("execute/direct, new connections (ratio of p50s)", "ratios.executeVsDirectNewConnection.p50", "×"),
        ("test-request/direct, new connections (ratio of p50s)", "ratios.testRequestVsDirectNewConnection.p50", "×"),
    ],
    "Rust wasmtime": [
        ("instantiate, p50", "instantiate-us.p50", "us"),
        ("execute, fresh instance, p50", "execute-ms.p50", "ms"),
        ("test-request, fresh instance, p50", "test-request-ms.p50", "ms"),
        ("direct POST from the same language, new connection, p50", "direct-post-paired-with-execute-ms.p50", "ms"),
        ("execute/direct, new connections (ratio of p50s)", "ratios.execute/direct p50", "×"),
        ("test-request/direct, new connections (ratio of p50s)", "ratios.test-request/direct p50", "×"),
    ],
}


def dig(figures: dict[str, Any], path: str) -> Any:
    value: Any = figures
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


# --- The engine ---


def measure_engine(report: Report, quick: bool) -> None:
    """bench/engine.py's rows and section. A stack that does not come up is a FAIL row (the
    rest of the report stands), with the error on stderr."""
    try:
        figures = engine.measure(quick)
    except Exception as error:  # noqa: BLE001
        traceback.print_exc()
        report.add(engine.RATIO_FIGURE, f"FAIL: not measured ({str(error)[:200]})", f"≤ {engine.RATIO_BUDGET}×", False)
        return
    for row in engine.rows(figures):
        report.add(row.figure, row.value, row.budget, row.passed)
    report.section("The task as a Restate step (bench/engine.py)", engine.section(figures))


# --- Main ---


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations, no criterion or twiggy (smoke test)")
    parser.add_argument(
        "--report",
        type=Path,
        help="where to write the Markdown report (default target/bench/report.md, "
        "report-quick.md with --quick)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out = args.report or OUT / ("report-quick.md" if args.quick else "report.md")
    if not WASM.exists():
        print(f"bench: {WASM.relative_to(REPO)} is missing: run scripts/bench (it builds it)", file=sys.stderr)
        return 2
    report = Report(machine=machine_line())
    cases = load_cases()
    try:
        measure_size(report, args.quick)
        measure_render(report, cases, sizes, args.quick)
        measure_cold_path(report, sizes)
        measure_masking_native(report, args.quick)
        measure_masking_wasm(report, sizes)
        with standin() as api:
            measure_requests(report, api, sizes)
            measure_other_hosts(report, api, args.quick)
            measure_memory(report, cases, api)
        if not args.quick:
            measure_chunked_bodies(report)
        # After the stand-in above has stopped: it starts its own, with restate-server.
        measure_engine(report, args.quick)
    # Whatever stopped the run is printed in full; the status says that it did not run.
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        return 2
    parsers = REPO / "docs" / "jsonpath-parser.md"
    if parsers.exists():
        # Written just before by bench/jsonpath_parser.py (scripts/bench runs it first).
        tables = [line for line in parsers.read_text().splitlines() if line.startswith("|")]
        report.section(
            "JSONPath: src/jsonpath.rs against serde_json_path's own parser",
            "From bench/jsonpath_parser.py ([jsonpath-parser.md](jsonpath-parser.md) has the "
            "hostile inputs too):\n\n" + "\n".join(line for line in tables if "B |" in line or line.startswith("| build") or line.startswith("|---|---:")),
        )
    report.section(
        "Samples",
        f"render in wasm: {sizes.render_fixture} calls (fixture), {sizes.render_large} (50 and 100 "
        f"deployments); call floors: {sizes.floor}; instantiate: {sizes.instantiate}; compile, "
        f"serialize, deserialize: best of {sizes.compile_repeats}; execute vs direct: "
        f"{sizes.execute_pairs} interleaved pairs per figure; throughput: {sizes.throughput_calls} "
        "calls per figure; native: criterion's default 100 samples; engine: "
        f"{(engine.QUICK if args.quick else engine.FULL).workflows} workflows per step kind."
        + (" QUICK RUN: a smoke test, not figures to quote." if args.quick else ""),
    )
    text = report.markdown()
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if not args.quick and args.report is None:
        # The committed figures: the README links this file; only a full run rewrites it.
        (REPO / "docs" / "performance.md").write_text(text + "\n")
    print(f"(written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
