#!/usr/bin/env python3
"""Rewrites the generated part of docs/jsonata.md (between its `<!-- suite -->` markers) from
the verdicts in target/jsonata-suite/: native.jsonl (cargo test --test jsonata_suite),
wasm.jsonl (tests/e2e/test_suites_in_wasm.py) and candidate-jsonata-rs.jsonl
(bench/jsonata-candidates/run). Usage: tools/jsonata_report.py"""
from __future__ import annotations

import collections
import json
import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "target" / "jsonata-suite"
DOC = REPO / "docs" / "jsonata.md"
COLUMNS = [
    ("native.jsonl", "jsonata-core, native"),
    ("wasm.jsonl", "jsonata-core, in wasm"),
    ("candidate-jsonata-rs.jsonl", "jsonata-rs 0.3.4, native"),
]


def load(name: str) -> dict[tuple[str, str], str | None]:
    # jsonata-rs prints to stdout itself ("year 2008"): only verdict lines count.
    lines = [line for line in (RESULTS / name).read_text().splitlines() if line.startswith('{"group"')]
    return {(v["group"], v["name"]): v["failure"] for v in map(json.loads, lines)}


def main() -> None:
    runs = [load(file) for file, _ in COLUMNS]
    groups: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    for case in runs[0]:
        groups[case[0]].append(case)

    def cell(run: dict, cases: list) -> str:
        passed = sum(1 for c in cases if run.get(c, "missing") is None)
        return f"{passed}/{len(cases)}" + (" ✗" if passed < len(cases) else "")

    out = ["| group | " + " | ".join(title for _, title in COLUMNS) + " |",
           "|---|" + "---|" * len(COLUMNS)]
    every = list(runs[0])
    total = ["**all**"] + [
        f"**{sum(1 for c in every if r.get(c, 'missing') is None)}/{len(every)} "
        f"({100 * sum(1 for c in every if r.get(c, 'missing') is None) / len(every):.1f} %)**"
        for r in runs
    ]
    out.append("| " + " | ".join(total) + " |")
    for group in sorted(groups):
        out.append(f"| {group} | " + " | ".join(cell(r, groups[group]) for r in runs) + " |")
    out += ["", "Every case jsonata-core fails here, with the reason the run gave:", ""]
    for (group, name), failure in sorted(runs[0].items()):
        if failure is not None:
            wasm = runs[1].get((group, name))
            same = "" if wasm == failure else f" (in wasm: {wasm})"
            out.append(f"- `{group}/{name}`: {failure}{same}")
    panics = sum(1 for f in runs[2].values() if f and f.startswith("panic"))
    out += ["", f"jsonata-rs panicked on {panics} cases (each a trap in the component, "
            "where `panic = \"abort\"`)."]
    text = DOC.read_text()
    start, end = "<!-- suite -->\n", "<!-- end suite -->"
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    DOC.write_text(before + start + "\n".join(out) + "\n" + end + after)
    print(f"{DOC.relative_to(REPO)}: {len(every)} cases in {len(groups)} groups")


if __name__ == "__main__":
    main()
