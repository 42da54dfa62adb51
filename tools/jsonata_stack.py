#!/usr/bin/env python3
"""Calibrates JSONata's depth and stack limits (src/jsonata.rs, DEFAULT_LIMITS) against the wasm
stacks of wasmtime (wasmtime-py, 512 KiB by default) and V8 (Node, through jco).

1. Builds the component with `--cfg jsonata_calibration` (the crate's own depth limit, 30,000,
   and no stack guard) into target/jsonata-calibration/, and finds, for each recursion shape,
   the most calls that do not trap in each host (a trap there is the host's stack running out).
2. Runs each shape 100,000 calls deep through the real artifact (scripts/build) in both hosts:
   each must end with an error (D1011, or the stack guard), never a trap.

Usage: tools/jsonata_stack.py   (a few minutes; prints its table and writes it into
docs/jsonata.md, between the `<!-- stack -->` markers)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hosts" / "python"))
from host import ComponentTrap, TaskHost  # noqa: E402

SHAPES = {
    "1 + f(n-1)": "($f := function($n){$n = 0 ? 0 : 1 + $f($n - 1)}; $f(N))",
    "through $map": "($f := function($n){$n = 0 ? 0 : $sum($map([1], function($x){$f($n - 1)}))}; $f(N))",
    "through $map twice": "($f := function($n){$n = 0 ? 0 : $sum($map([1], function($x){$sum($map([1], function($y){$f($n - 1)}))}))}; $f(N))",
    "through $filter": "($f := function($n){$n = 0 ? 0 : $count($filter([1], function($x){$f($n - 1) >= 0}))}; $f(N))",
    "through $sort": "($f := function($n){$n = 0 ? 0 : $sort([1, 2], function($a, $b){$f($n - 1) > 0})[0]}; $f(N))",
    "through $reduce": "($f := function($n){$n = 0 ? 0 : $reduce([1, 2], function($a, $b){$f($n - 1)})}; $f(N))",
    "through ~>": "($f := function($n){$n = 0 ? 0 : ($n - 1 ~> $f) + 1}; $f(N))",
    "through a path": "($f := function($n){$n = 0 ? 0 : $count([$f($n - 1)].($ + 1))}; $f(N))",
    "through an object": "($f := function($n){$n = 0 ? 0 : {'a': $f($n - 1)}.a + 1}; $f(N))",
    "through a closure": "($f := function($n){ $n > 0 ? ( $g := function($m){$m}; $g($f($n - 1)) + 1 ) : 0 }; $f(N))",
}
DEFINITION = json.loads((REPO / "fixtures" / "definition.json").read_text())
PARAMETERS = (REPO / "fixtures" / "parameters.json").read_text()
NODE = """
import { readFileSync } from "node:fs";
import { TaskHost } from "%s";
const [wasm, ...inputs] = JSON.parse(readFileSync(0, "utf8"));
const host = await TaskHost.load(wasm);
const out = inputs.map((i) => { const r = host.call("render", i); return r.trap ? "trap" : JSON.stringify(r.ok ?? r); });
console.log(JSON.stringify(out));
""" % (REPO / "hosts" / "node" / "host.mjs")


def task_input(expression: str) -> dict:
    definition = json.loads(json.dumps(DEFINITION))
    definition["httpRequest"]["body"]["spec"]["version"] = "${jsonata: " + expression + "}"
    return {"definition": json.dumps(definition), "parameters": PARAMETERS, "secrets": []}


def python_results(wasm: Path, expressions: list[str]) -> list[str]:
    host = TaskHost(str(wasm))
    out = []
    for expression in expressions:
        try:
            out.append(json.dumps(host.render(task_input(expression))))
        except ComponentTrap:
            out.append("trap")
    return out


def node_results(wasm: Path, expressions: list[str]) -> list[str]:
    script = REPO / "target" / "jsonata-calibration" / "calibrate.mjs"
    script.write_text(NODE)
    inputs = [str(wasm)] + [task_input(e) for e in expressions]
    done = subprocess.run(["node", str(script)], input=json.dumps(inputs), capture_output=True,
                          text=True, check=True, cwd=REPO / "hosts" / "node")
    return json.loads(done.stdout.strip().splitlines()[-1])


def most_calls(run, shape: str) -> int:
    """The most calls of `shape` that do not trap (bisection: a trap at n means at all > n)."""
    low, high = 1, 4000
    while low < high:
        middle = (low + high + 1) // 2
        if run([shape.replace("N", str(middle))])[0] == "trap":
            high = middle - 1
        else:
            low = middle
    return low


def main() -> None:
    target = REPO / "target" / "jsonata-calibration"
    target.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RUSTFLAGS": "--cfg jsonata_calibration", "CARGO_TARGET_DIR": str(target)}
    subprocess.run(["cargo", "build", "--release", "--target", "wasm32-wasip2", "--lib", "--quiet"],
                   cwd=REPO, env=env, check=True)
    calibration = target / "wasm32-wasip2" / "release" / "do_dedicated_inference_task.wasm"
    artifact = Path(subprocess.run([str(REPO / "scripts" / "build")], capture_output=True, text=True,
                                   check=True).stdout.split()[-1])
    artifact = REPO / artifact if not artifact.is_absolute() else artifact
    deep = [shape.replace("N", "100000") for shape in SHAPES.values()]
    ends = {"wasmtime": python_results(artifact, deep), "V8": node_results(artifact, deep)}
    rows = ["| recursion | calls before a trap, wasmtime (no limits) | calls before a trap, V8 (no limits) "
            "| 100,000 calls with the limits, wasmtime | the same, V8 |", "|---|---:|---:|---|---|"]
    for i, (name, shape) in enumerate(SHAPES.items()):
        cells = [str(most_calls(lambda e: python_results(calibration, e), shape)),
                 str(most_calls(lambda e: node_results(calibration, e), shape))]
        for host in ("wasmtime", "V8"):
            result = ends[host][i]
            if result == "trap":
                cells.append("**trap**")
            else:
                message = " ".join(d["message"] for d in json.loads(result).get("err", []))
                cells.append("D1011" if "D1011" in message else "stack guard" if "too deeply" in message else message[:60])
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(rows))
    doc = REPO / "docs" / "jsonata.md"
    before, rest = doc.read_text().split("<!-- stack -->\n", 1)
    doc.write_text(before + "<!-- stack -->\n" + "\n".join(rows) + "\n<!-- end stack -->" + rest.split("<!-- end stack -->", 1)[1])


if __name__ == "__main__":
    main()
