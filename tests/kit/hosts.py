"""The hosts the kit runs the component in, each through its conformance adapter
(docs/conformance.md). Another engine's host joins with `--adapter NAME=COMMAND`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from kit.paths import REPO

#: The project's own hosts: the adapter command, before the component's path.
OWN_HOSTS: dict[str, list[str]] = {
    "python": [sys.executable, str(REPO / "hosts" / "python" / "adapter.py")],
    "node": ["node", str(REPO / "hosts" / "node" / "adapter.mjs")],
    "rust": [str(REPO / "target" / "rust-host" / "release" / "rust-host"), "adapter"],
}


def adapter_commands(hosts: str, extra: list[str], wasm: Path) -> dict[str, list[str]]:
    """Name -> command for the hosts selected (`python,node,rust`) and the extra adapters
    (`name=command with args`), each followed by the component's path."""
    commands: dict[str, list[str]] = {}
    for name in filter(None, (h.strip() for h in hosts.split(","))):
        if name not in OWN_HOSTS:
            raise ValueError(f"unknown host {name!r}: one of {', '.join(OWN_HOSTS)}, or --adapter")
        commands[name] = [*OWN_HOSTS[name], str(wasm)]
    for spec in extra:
        name, _, command = spec.partition("=")
        if not name or not command:
            raise ValueError(f"--adapter wants NAME=COMMAND, got {spec!r}")
        commands[name] = [*shlex.split(command), str(wasm)]
    return commands
