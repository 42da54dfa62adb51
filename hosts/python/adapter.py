"""The conformance-kit adapter for the Python host: runs calls read from stdin, one JSON object
per line, on a fresh instance each (hosts/python/host.py), and answers each with one line.

    python hosts/python/adapter.py path/to/component.wasm

The protocol is in docs/conformance.md. Values are the WIT values as JSON: records are
objects keyed by the WIT field names (kebab-case), enums their case name, options the value or
null, tuples arrays, results {"ok": ...} or {"err": ...}.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from typing import Any

from host import ComponentTrap, TaskHost

CALLS = {"describe", "render", "test-request", "execute"}


def wit_names(value: Any) -> Any:
    """host.py's plain data with the WIT's kebab-case field names (host.py uses `_`)."""
    if isinstance(value, dict):
        return {key.replace("_", "-"): wit_names(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [wit_names(item) for item in value]
    return value


def task_input(request: dict[str, Any]) -> dict[str, Any] | None:
    """The request's `input` as host.py takes it, or None when it is not a task input."""
    given = request.get("input")
    if not isinstance(given, dict):
        return None
    texts = given.get("definition"), given.get("parameters")
    secrets = given.get("secrets", [])
    pairs_ok = isinstance(secrets, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in secrets
    )
    if not all(isinstance(t, str) for t in texts) or not pairs_ok:
        return None
    return {"definition": texts[0], "parameters": texts[1], "secrets": [tuple(p) for p in secrets]}


def answer(host: TaskHost, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict):
        return {"error": "a request is a JSON object"}
    call = request.get("call")
    if call not in CALLS:
        return {"error": f"unknown call {call!r}"}
    options = request.get("options") or {}
    host.memory_limit_bytes = options.get("memory-limit-bytes")
    given = None if call == "describe" else task_input(request)
    if call != "describe" and given is None:
        return {"error": "`input` must hold `definition` and `parameters` (JSON texts) and `secrets` ([name, value] pairs)"}
    try:
        value = host.describe() if given is None else getattr(host, call.replace("-", "_"))(given)
    except ComponentTrap as trap:
        return {"trap": str(trap)}
    return {"ok": wit_names(value)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: adapter.py COMPONENT.wasm", file=sys.stderr)
        return 2
    host = TaskHost(argv[1])
    ready = {"ready": True, "host": f"wasmtime-py {metadata.version('wasmtime')}", "memory-limit": True}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError:
            # The line is not echoed: it may hold a token.
            print(json.dumps({"id": None, "error": "the line is not JSON"}), flush=True)
            continue
        reply = {"id": request.get("id") if isinstance(request, dict) else None, **answer(host, request)}
        print(json.dumps(reply, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
