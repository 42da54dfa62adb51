"""The artifact every host runs (scripts/build): its size under the ceiling, and its imports
exactly what wit/world.wit says a host must provide (plus what Rust's standard library adds for
itself, as the world's comment lists): no filesystem, no sockets."""

import re
import subprocess

from kit.paths import REPO, WASM

#: A ceiling, not a target: bytes are not worth hand-written copies of well-kept libraries.
#: 512 KiB until the JSONata engine (jsonata-core, with regex and chrono: docs/performance.md
#: has the growth by crate), 2.5 MiB with it, for this engine only.
CEILING = 2560 * 1024
JCO = REPO / "hosts" / "node" / "node_modules" / ".bin" / "jco"
#: What Rust's std imports for itself (wit/world.wit's comment says the same).
STD_IMPORTS = {
    "wasi:cli/environment", "wasi:cli/exit", "wasi:cli/stdin", "wasi:cli/stdout", "wasi:cli/stderr",
    "wasi:cli/terminal-input", "wasi:cli/terminal-output", "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr", "wasi:clocks/wall-clock",
    "wasi:random/insecure-seed",
    # jsonata-core's `rand` (for `$shuffle`), through getrandom; chrono adds nothing (its
    # `$now` reads wall-clock, already std's).
    "wasi:random/random",
}


def interfaces(lines: str, verb: str) -> set[str]:
    return {m.group(1) for m in re.finditer(rf"^\s*{verb} ([a-z-]+:[a-z-]+/[a-z-]+)@", lines, re.M)}


def test_the_artifact_stays_under_its_ceiling():
    size = WASM.stat().st_size
    assert size <= CEILING, f"the component is {size} bytes ({size / 1024:.1f} KiB)"


def test_its_imports_are_what_the_world_says():
    built = subprocess.run([str(JCO), "wit", str(WASM)], capture_output=True, text=True, check=True).stdout
    world = (REPO / "wit" / "world.wit").read_text()
    world = world[world.index("world http-task"):]
    declared = interfaces(world, "import")
    imported = interfaces(built, "import") - {"workflow:http-task/types", "wasi:io/error"}
    assert declared <= imported, declared - imported
    assert imported <= declared | STD_IMPORTS, imported - declared - STD_IMPORTS
    assert not any(i.startswith(("wasi:filesystem", "wasi:sockets")) for i in imported)
    assert interfaces(built, "export") == {"workflow:http-task/task"}
