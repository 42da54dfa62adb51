#!/usr/bin/env python3
"""Writes the generated parts of README.md and docs/embedding.md from the code they describe, so
that they cannot drift:

- `<!-- snippet LANG: PATH -->`: the region of PATH between its `snippet:start` and
  `snippet:end` comment lines, as a LANG code block (the embedding code the hosts run);
- `<!-- host differences -->`: the table of tests/kit/differences.py's rows (each asserted in
  every host by tests/conformance/test_host_differences.py).

Each generated part runs to the next `<!-- end -->` line.

    python3 tools/readme.py           # rewrites README.md and docs/embedding.md
    python3 tools/readme.py --check   # exit 1 when either is stale (tests/e2e/test_readme.py)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The documents with generated parts.
DOCUMENTS = [REPO / "README.md", REPO / "docs" / "embedding.md"]
PART = re.compile(r"^(<!-- (snippet (\w+): (\S+)|host differences) -->\n)(.*?)(^<!-- end -->$)", re.M | re.S)


def snippet(language: str, path: str) -> str:
    text = (REPO / path).read_text()
    match = re.search(r"^\s*(?://|#)\s*snippet:start\s*\n(.*?)^\s*(?://|#)\s*snippet:end\s*$", text, re.M | re.S)
    if match is None:
        raise SystemExit(f"readme: {path} has no snippet:start / snippet:end region")
    lines = match.group(1).rstrip("\n").splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    body = "\n".join(line[indent:] for line in lines)
    return f"```{language}\n{body}\n```\n"


def host_differences() -> str:
    sys.path.insert(0, str(REPO / "tests"))
    from kit.differences import DIFFERENCES

    hosts = ["python", "rust", "node"]
    lines = ["| answer | why | " + " | ".join(f"{h}: test-request / execute" for h in hosts) + " |",
             "|---|---|" + "---|" * len(hosts)]
    for name, (why, expected) in DIFFERENCES.items():
        cells = " | ".join(" / ".join(expected[h]) for h in hosts)
        lines.append(f"| {name} | {why} | {cells} |")
    return "\n".join(lines) + "\n"


def generated(text: str) -> str:
    def fill(match: re.Match[str]) -> str:
        content = host_differences() if match.group(2) == "host differences" else snippet(match.group(3), match.group(4))
        return match.group(1) + content + match.group(6)

    return PART.sub(fill, text)


def main(argv: list[str]) -> int:
    stale = []
    for document in DOCUMENTS:
        text = document.read_text()
        fresh = generated(text)
        if fresh == text:
            continue
        if "--check" in argv:
            stale.append(document.relative_to(REPO))
        else:
            document.write_text(fresh)
    for path in stale:
        print(f"readme: {path} is stale: run python3 tools/readme.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
