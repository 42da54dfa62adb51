"""src/jsonpath.rs against serde_json_path's own parser, as the component uses them: builds the
component a second time with the `serde-json-path-parser` feature (placeholders parsed and
evaluated by serde_json_path 0.7 with its `functions` and `regex` features), then measures both
builds the same way, in wasmtime-py:

- the size of the plain release build and of the optimised artifact (`jco opt`, as
  scripts/build does);
- the render time of the fixture (median of 300 renders on one instance);
- the hostile inputs of the Limits table that a JSONPath parser and evaluator meet (depth,
  length, cost), each in a process of its own under a 64 MiB memory cap and a 60 s timeout:
  whether it is refused with a diagnostic, renders, traps or hangs.

Writes docs/jsonpath-parser.md. Run it as `.venv/bin/python bench/jsonpath_parser.py` (scripts/bench
runs it too); the second build takes ~7 minutes on 2 cores the first time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "hosts" / "python"))

MIB = 1024 * 1024
TIMEOUT_S = 60
VARIANT_TARGET = REPO / "target" / "bench-jsonpath-parser"
PLAIN = "wasm32-wasip2/release/do_dedicated_inference_task.wasm"
SHIPPED = REPO / "target" / "component" / "do_dedicated_inference_task.wasm"
VARIANT = VARIANT_TARGET / "component.wasm"
OUT = REPO / "docs" / "jsonpath-parser.md"
TOKEN = "dop_v1_" + "b" * 64


def fixture(name: str) -> dict:
    return json.loads((REPO / "fixtures" / name).read_text())


def nested(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value  # type: ignore[return-value]


def hostile_inputs() -> dict[str, tuple[str, dict]]:
    """name -> (the placeholder in `spec.name`, extra parameters)."""
    deep_filter = "$[?" + "(" * 480 + "@" + ")" * 480 + "]"
    return {
        "480 nested parentheses (1 KB)": ("${" + deep_filter + "}", {}),
        "`..*` four times over 100 levels (10^8 visits)": ("${$.deep..*..*..*..*}", {"deep": nested(100)}),
        "a union doubling 40 times": ("${$.name" + "[0,0]" * 40 + "}", {}),
        "`length()` of a 2 MB string at each of 100,000 items": (
            "${$.items[?length($.big) == 1]}",
            {"big": "x" * (2 * MIB), "items": [1] * 100_000},
        ),
    }


def task_input(placeholder: str | None, extra: dict) -> dict:
    definition = fixture("definition.json")
    if placeholder is not None:
        definition["httpRequest"]["body"]["spec"]["name"] = placeholder
    return {
        "definition": json.dumps(definition),
        "parameters": json.dumps({**fixture("parameters.json"), **extra}),
        "secrets": {"token": TOKEN},
    }


def build_variant() -> None:
    env = {**os.environ, "CARGO_TARGET_DIR": str(VARIANT_TARGET)}
    subprocess.run(
        ["cargo", "build", "--release", "--target", "wasm32-wasip2", "--lib", "--features", "serde-json-path-parser", "--quiet"],
        cwd=REPO, env=env, check=True,
    )
    subprocess.run(
        [str(REPO / "hosts/node/node_modules/.bin/jco"), "opt", str(VARIANT_TARGET / PLAIN), "-o", str(VARIANT), "--", "-Oz",
         "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
         "--enable-mutable-globals", "--enable-multivalue", "--enable-reference-types"],
        cwd=REPO, check=True, capture_output=True,
    )


def render_median_us(wasm: Path) -> float:
    from host import TaskHost

    host = TaskHost(wasm, fresh_instance=False)
    case = task_input(None, {})
    assert "ok" in host.render(case), host.render(case)
    samples = []
    for _ in range(300):
        start = time.perf_counter()
        host.render(case)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def hostile_child(wasm: str, name: str) -> None:
    """In a child process: one hostile render under the cap; prints what happened."""
    from host import ComponentTrap, TaskHost

    placeholder, extra = hostile_inputs()[name]
    host = TaskHost(wasm)
    host.memory_limit_bytes = 64 * MIB
    start = time.perf_counter()
    try:
        result = host.render(task_input(placeholder, extra))
    except ComponentTrap as trap:
        print(json.dumps({"outcome": f"trap ({str(trap).splitlines()[0][:60]})", "s": time.perf_counter() - start}))
        return
    elapsed = time.perf_counter() - start
    if "ok" in result:
        print(json.dumps({"outcome": "rendered", "s": elapsed}))
        return
    first = next((d for d in result["err"] if d["path"] == "httpRequest.body.spec.name"), result["err"][0])
    # The message without the placeholder it quotes (the table names the input).
    message = first["message"]
    if message.startswith("placeholder `"):
        message = "placeholder " + message.split("` ", 1)[-1]
    print(json.dumps({"outcome": f"refused: {message[:90]}", "s": elapsed}))


def hostile(wasm: Path, name: str) -> str:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--hostile", str(wasm), name],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"still running after {TIMEOUT_S} s (killed)"
    if done.returncode != 0:
        return f"the host process died ({done.stderr.strip().splitlines()[-1][:80] if done.stderr.strip() else done.returncode})"
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return f"{answer['outcome']} in {answer['s'] * 1000:.0f} ms"


def main() -> None:
    subprocess.run([str(REPO / "scripts" / "build")], check=True, capture_output=True)
    build_variant()
    builds = {"src/jsonpath.rs (shipped)": (REPO / "target" / PLAIN, SHIPPED), "serde_json_path's parser": (VARIANT_TARGET / PLAIN, VARIANT)}
    rows = []
    for label, (plain, optimised) in builds.items():
        rows.append((label, plain.stat().st_size, optimised.stat().st_size, render_median_us(optimised)))
    (_, base_plain, base_opt, base_us), (_, var_plain, var_opt, var_us) = rows
    lines = [
        "# src/jsonpath.rs against serde_json_path's own parser",
        "",
        "Made by `.venv/bin/python bench/jsonpath_parser.py` (also run by `scripts/bench`) on this 2-core",
        "machine: the same component built twice, the second time with the measurement-only feature",
        "`serde-json-path-parser` (placeholders parsed and evaluated by serde_json_path 0.7 with its",
        "`functions` and `regex` features instead of src/jsonpath.rs); render times in wasmtime-py.",
        "",
        "| build | plain release | optimised artifact | render of the fixture (median) |",
        "|---|---:|---:|---:|",
    ]
    for label, plain, optimised, micros in rows:
        lines.append(f"| {label} | {plain:,} B | {optimised:,} B | {micros:.0f} µs |")
    lines += [
        f"| difference | {var_plain - base_plain:+,} B | {var_opt - base_opt:+,} B | {var_us / base_us:.2f}× |",
        "",
        f"Hostile inputs, each rendered in a process of its own, memory capped at 64 MiB, killed after {TIMEOUT_S} s:",
        "",
        "| input | src/jsonpath.rs (shipped) | serde_json_path's parser |",
        "|---|---|---|",
    ]
    for name in hostile_inputs():
        lines.append(f"| {name} | {hostile(SHIPPED, name)} | {hostile(VARIANT, name)} |")
    lines += [
        "",
        "serde_json_path keeps its parsed query's AST private (`JsonPath(Query)`), so a query cannot be",
        "costed before it runs: the render budget (docs/definition.md, Limits) has nothing to measure.",
        "The decision this table supports is in src/jsonpath.rs's header comment.",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"(written to {OUT.relative_to(REPO)})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--hostile":
        hostile_child(sys.argv[2], sys.argv[3])
    else:
        main()
