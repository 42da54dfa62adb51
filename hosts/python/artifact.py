"""The component every tool runs: scripts/build makes it (the release build through jco opt)
and prints its path last; its own output goes to stderr, so that a tool's stdout stays its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class BuildError(Exception):
    """scripts/build could not make the artifact."""


def build_artifact() -> Path:
    try:
        done = subprocess.run([str(REPO / "scripts" / "build")], cwd=REPO, stdout=subprocess.PIPE, text=True)
    except OSError as error:
        raise BuildError(f"cannot run scripts/build: {error.strerror}") from error
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise BuildError("scripts/build failed")
    for line in lines[:-1]:
        print(line, file=sys.stderr)
    return REPO / lines[-1]
