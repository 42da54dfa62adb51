#!/usr/bin/env python3
"""Vendors the official JSONata test suite (jsonata-js/jsonata, test/test-suite) into
fixtures/jsonata-suite/suite.jsonl, the compact form tests/jsonata_suite.rs reads.

Usage: tools/vendor_jsonata_suite.py CHECKOUT COMMIT

CHECKOUT is a directory holding jsonata-js's `test/test-suite` (and its LICENSE); COMMIT is the
commit it came from, recorded in the fixture. The form: JSON Lines, first a header {"source", "commit",
"license", "datasets": {name: value}}, then one case per line with `group`, `name` (the file name, with `[i]`
for files that hold several cases), `expr` (an `expr-file` is inlined), `data` or `dataset`
(null: no input), optionally `bindings`, `timelimit`, `depth`, and exactly one of `result`,
`undefinedResult`, `code` (with `token` when given), and `unordered` when the result's order is free. An
`error: {code, token}` is written as `code` and `token`; the metadata (`description`, `category`,
`function`, an error's `message`) is left out. Nothing else is changed.
"""
import json
import pathlib
import sys

KEEP = ("expr", "data", "dataset", "bindings", "timelimit", "depth", "result",
        "undefinedResult", "unordered", "code", "token")
# Metadata the runner does not use.
DROP = {"description", "category", "function", "message"}


def main(checkout: str, commit: str) -> None:
    root = pathlib.Path(checkout) / "test" / "test-suite"
    out = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "jsonata-suite"
    datasets = {p.stem: json.loads(p.read_text()) for p in sorted((root / "datasets").glob("*.json"))}
    cases = []
    for group in sorted(p for p in (root / "groups").iterdir() if p.is_dir()):
        for file in sorted(group.glob("*.json")):
            loaded = json.loads(file.read_text())
            many = isinstance(loaded, list)
            for i, case in enumerate(loaded if many else [loaded]):
                if "expr-file" in case:
                    case["expr"] = (group / case.pop("expr-file")).read_text()
                if "error" in case:
                    # 15 cases spell `code` (and `token`) inside an `error` object.
                    error = case.pop("error")
                    case.update({k: error[k] for k in ("code", "token") if k in error})
                unknown = set(case) - set(KEEP) - DROP
                if unknown:
                    raise SystemExit(f"{file}: unknown fields {sorted(unknown)}")
                entry = {"group": group.name, "name": file.stem + (f"[{i}]" if many else "")}
                entry.update({k: case[k] for k in KEEP if k in case})
                cases.append(entry)
    header = {
        "source": "https://github.com/jsonata-js/jsonata/tree/" + commit + "/test/test-suite",
        "commit": commit,
        "license": "MIT, see LICENSE",
        "datasets": datasets,
    }
    # ASCII with escapes: two cases hold a lone surrogate (`\uD800`), which no UTF-8 file and
    # no Rust string can; the runner reads line by line and reports such a case as one it
    # cannot represent.
    lines = [json.dumps(x, ensure_ascii=True, separators=(",", ":")) for x in [header, *cases]]
    (out / "suite.jsonl").write_text("\n".join(lines) + "\n")
    (out / "LICENSE").write_text((pathlib.Path(checkout) / "LICENSE").read_text())
    print(f"{len(cases)} cases in {len({c['group'] for c in cases})} groups, {len(datasets)} datasets")


if __name__ == "__main__":
    main(*sys.argv[1:])
