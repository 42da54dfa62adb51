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


def answer(host: TaskHost, request: dict[str, Any]) -> dict[str, Any]:
    call = request.get("call")
    if call not in CALLS:
        return {"error": f"unknown call {call!r}"}
    options = request.get("options") or {}
    host.memory_limit_bytes = options.get("memory-limit-bytes")
    try:
        if call == "describe":
            value = host.describe()
        else:
            task_input = dict(request["input"])
            task_input["secrets"] = [tuple(pair) for pair in task_input.get("secrets", [])]
            value = getattr(host, call.replace("-", "_"))(task_input)
    except ComponentTrap as trap:
        return {"trap": str(trap)}
    return {"ok": wit_names(value)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: adapter.py COMPONENT.wasm", file=sys.stderr)
        return 2
    host = TaskHost(argv[1])
    ready = {"ready": True, "host": f"wasmtime-py {metadata.version('wasmtime')}"}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        reply = {"id": request.get("id"), **answer(host, request)}
        print(json.dumps(reply, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
