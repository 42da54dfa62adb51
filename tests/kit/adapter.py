"""A client of the conformance adapter protocol (docs/conformance.md): one adapter process per
host, calls written as JSON lines, answers read back with a timeout, so that a host that never
answers fails the case instead of hanging the suite."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.paths import REPO

#: Where each adapter process's stderr goes, one file per process: the session's end scans
#: them for secrets, and an adapter that fails shows their tail.
STDERR_DIR = REPO / "target" / "adapter-stderr"

#: A reply later than this is a hang: every call of the kit ends within its deadline + 1 s,
#: and the largest deadline any case sets is far below it.
REPLY_TIMEOUT_S = 120
#: Node transpiles the component on its first start; a fresh Rust host loads it: allow both.
READY_TIMEOUT_S = 300


class Trap(Exception):
    """The call failed in the host: the component trapped, or the host threw. An engine gets no
    result at all in that case."""


class AdapterError(Exception):
    """The adapter itself failed: it did not start, said it could not make the call, or hung."""


def wit_to_python(value: Any) -> Any:
    """The WIT value as JSON (kebab-case record fields) with Python's `_` in field names, the
    spelling the cases use."""
    if isinstance(value, dict):
        return {key.replace("-", "_"): wit_to_python(item) for key, item in value.items()}
    if isinstance(value, list):
        return [wit_to_python(item) for item in value]
    return value


def wit_input(task_input: Mapping[str, Any]) -> dict[str, Any]:
    """A task input for the wire: definition and parameters as JSON text (a str is sent as is,
    so cases can send malformed JSON), secrets as [name, value] pairs."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    secrets = task_input.get("secrets", {})
    pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
    return {
        "definition": text(task_input["definition"]),
        "parameters": text(task_input["parameters"]),
        "secrets": [[name, value] for name, value in pairs],
    }


@dataclass
class Exchange:
    """One call as it went over the wire: the adapter's raw reply line, and what the case that
    made it knew of its secrets (tagged by the harness)."""

    call: str
    reply: str
    secrets: set[str] = field(default_factory=set)
    issued: set[str] = field(default_factory=set)


#: Every adapter started in this session, for the scan at its end.
STARTED: list[Adapter] = []


class Adapter:
    """One adapter process; calls are made one at a time, in order. Keeps every raw reply
    (`transcript`) and its stderr in a file (`stderr_path`)."""

    def __init__(self, name: str, command: Sequence[str]) -> None:
        self.name = name
        self.command = [str(part) for part in command]
        self.transcript: list[Exchange] = []
        STDERR_DIR.mkdir(parents=True, exist_ok=True)
        self.stderr_path = STDERR_DIR / f"{name}-{os.getpid()}-{len(STARTED)}.log"
        try:
            with self.stderr_path.open("w") as stderr:
                self._process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    encoding="utf-8",
                    bufsize=1,
                )
        except OSError as error:
            raise AdapterError(f"{name}: cannot start {self.command[0]}: {error}") from error
        STARTED.append(self)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, name=f"adapter-{name}", daemon=True).start()
        self._lock = threading.Lock()
        self._next_id = 0
        ready = self._reply(READY_TIMEOUT_S, "its ready line")
        if not ready.get("ready"):
            raise AdapterError(f"{name}: expected a ready line, got {ready}")
        self.host: str = ready.get("host", name)
        self.memory_limit: bool = ready.get("memory-limit", True)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.strip():
                self._lines.put(line)
        self._lines.put(None)

    def _reply(self, timeout: float, what: str) -> dict[str, Any]:
        return json.loads(self._line(timeout, what))

    def _line(self, timeout: float, what: str) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise AdapterError(f"{self.name}: no answer within {timeout} s for {what}") from None
        if line is None:
            raise AdapterError(
                f"{self.name}: the adapter exited ({self._process.wait()}) before {what}; its stderr ends:\n"
                + self.stderr_tail())
        return line

    def stderr_tail(self, lines: int = 20) -> str:
        return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])

    def tag_last(self, secrets: Sequence[str], issued: Sequence[str]) -> None:
        """Marks the last exchange with secrets its case knows of, and the tokens it issued."""
        if self.transcript:
            self.transcript[-1].secrets.update(secrets)
            self.transcript[-1].issued.update(issued)

    def call(self, function: str, task_input: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Calls `function` (`describe`, `render`, `test-request`, `execute`, or with `_`) on a
        fresh instance; returns its value with Python field names, or raises Trap."""
        call = function.replace("_", "-")
        with self._lock:
            self._next_id += 1
            request: dict[str, Any] = {"id": self._next_id, "call": call}
            if task_input is not None:
                request["input"] = wit_input(task_input)
            if options:
                request["options"] = {k.replace("_", "-"): v for k, v in options.items()}
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
                self._process.stdin.flush()
            except OSError as error:
                raise AdapterError(f"{self.name}: cannot write to the adapter: {error}") from error
            line = self._line(REPLY_TIMEOUT_S, f"call {self._next_id} ({call})")
            self.transcript.append(Exchange(call, line))
            reply = json.loads(line)
        if reply.get("id") != request["id"]:
            raise AdapterError(f"{self.name}: answer {reply.get('id')} to call {request['id']}")
        if "trap" in reply:
            raise Trap(f"{self.name}: {reply['trap']}")
        if "error" in reply:
            raise AdapterError(f"{self.name}: {reply['error']}")
        return wit_to_python(reply["ok"])

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            try:
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
