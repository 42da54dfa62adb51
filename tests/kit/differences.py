"""Where the project's hosts differ: every host keeps every promise, but their HTTP layers read
some malformed answers differently (wasmtime's hyper accepts what Node's llhttp refuses and the
other way round), and wasmtime-wasi-http hands the component one body frame per read unless
the embedding reads bodies ahead (the Rust host does). The rows are
asserted in every host by tests/conformance/test_host_differences.py and make the
README's table (tools/readme.py): data only, so that the tool needs no test runner."""

from __future__ import annotations

WASMTIME = ("python", "rust")

#: attack -> (why, {host: (test-request outcome, execute result)}); wasmtime hosts share a value.
DIFFERENCES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "LF-only line endings": (
        "hyper accepts bare LF line endings, llhttp refuses them",
        {"node": ("unreachable", "protocol"), **{h: ("accepted", "Ok") for h in WASMTIME}},
    ),
    "100 KB reason phrase": (
        "llhttp limits the status line",
        {"node": ("unreachable", "protocol"), **{h: ("accepted", "Ok") for h in WASMTIME}},
    ),
    "a 100 KB header value": (
        "llhttp limits a header's size (16 KB), hyper the whole head",
        {"node": ("unreachable", "protocol"), **{h: ("accepted", "Ok") for h in WASMTIME}},
    ),
    "204 with a body": (
        "hyper refuses bytes after a 204, llhttp leaves them unread",
        {"node": ("succeeded", "Ok"), **{h: ("unreachable", "protocol") for h in WASMTIME}},
    ),
    "101 Switching Protocols": (
        "hyper refuses a final 101; Node waits for a final answer until the first-byte timeout",
        {"node": ("unreachable", "timeout"), **{h: ("unreachable", "protocol") for h in WASMTIME}},
    ),
    "Content-Length and chunked together": (
        "hyper reads the chunked body, llhttp refuses the pair",
        {"node": ("unreachable", "protocol"), **{h: ("accepted", "protocol") for h in WASMTIME}},
    ),
    "a chunk size that is not hex": (
        "a malformed chunk is a protocol error in Node, a broken body stream in wasmtime",
        {"node": ("unreachable", "protocol"), **{h: ("unreachable", "connection") for h in WASMTIME}},
    ),
    "a 202 in 500,000 one-byte chunks": (
        "wasmtime-wasi-http hands over one body frame per read, ~15 µs each: past a 3 s deadline "
        "in wasmtime-py, which has no hook to change that; the Rust host reads bodies ahead "
        "(~1 s), jco's shim buffers them (~1 s)",
        {"python": ("unreachable", "timeout"), "rust": ("accepted", "Ok"), "node": ("accepted", "Ok")},
    ),
}
