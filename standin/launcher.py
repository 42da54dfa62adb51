"""Starts the stand-in (standin.py) in a process of its own and stops it: the one launcher that
the tests, `scripts/test-request`, the editor and the benchmark share.

    with running_standin() as api:
        api.url        # http://127.0.0.1:<port>
        api.process    # the subprocess (its CPU time is what the benchmark reads)

Extra command-line arguments of standin.py go in `args`. The stand-in enforces DigitalOcean's
rate limits (250 requests a minute and 5,000 an hour per token); load tests and benchmarks,
which send more with one token, pass `NO_RATE_LIMITS`:

    with running_standin(NO_RATE_LIMITS) as api: ...
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STANDIN = Path(__file__).resolve().parent / "standin.py"
READY_TIMEOUT_S = 15
#: standin.py's arguments for limits no test reaches (the counting and the headers stay).
NO_RATE_LIMITS = ("--rate-limit-hour", "1000000000", "--rate-limit-minute", "1000000000")


class StandInError(Exception):
    """The stand-in did not start."""


@dataclass
class RunningStandIn:
    url: str
    process: subprocess.Popen[str]


@contextmanager
def running_standin(args: Sequence[str] = (), *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningStandIn]:
    """The stand-in on `host:port` (0: a free port) until the block ends."""
    process = subprocess.Popen(
        [sys.executable, str(STANDIN), "--host", host, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield RunningStandIn(wait_until_ready(process), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(process: subprocess.Popen[str]) -> str:
    """The URL of the stand-in's `READY <url>` line."""
    ready: queue.Queue[str | None] = queue.Queue()

    def read_output() -> None:
        # Reads to the end, past READY too, so that the stand-in never blocks on a full pipe.
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("READY "):
                ready.put(line.split()[1].rstrip("/"))
        ready.put(None)

    threading.Thread(target=read_output, daemon=True).start()
    try:
        url = ready.get(timeout=READY_TIMEOUT_S)
    except queue.Empty:
        process.kill()
        raise StandInError(f"the stand-in was not ready within {READY_TIMEOUT_S} s") from None
    if url is None:
        raise StandInError(f"the stand-in exited with status {process.wait()} before it was ready")
    return url
