#!/usr/bin/env python3
"""The README's Rust embedding snippet is src/lib.rs between `// snippet:start` and
`// snippet:end` (marker lines excluded), so that the code the README shows is code that
compiles and that the adapter runs.

    python3 examples/rust-host/snippet.py                   print the region
    python3 examples/rust-host/snippet.py --check README.md exit 1 unless README.md shows it,
                                                            verbatim, as one ```rust block
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parent / "src/lib.rs"
START, END = "// snippet:start", "// snippet:end"


def region(source: str | None = None) -> str:
    """The lines between the markers, with a final newline."""
    lines = (LIB.read_text() if source is None else source).splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"{LIB} must have one {START!r} line before one {END!r} line")
    return "\n".join(lines[starts[0] + 1 : ends[0]]) + "\n"


def rust_blocks(markdown: str) -> list[str]:
    """The bodies of the ```rust fenced blocks."""
    return re.findall(r"^```rust\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def main(argv: list[str]) -> int:
    if len(argv) == 1:
        sys.stdout.write(region())
        return 0
    if len(argv) == 3 and argv[1] == "--check":
        if region() in rust_blocks(Path(argv[2]).read_text()):
            return 0
        print(f"{argv[2]} has no ```rust block identical to {LIB}'s snippet region", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
