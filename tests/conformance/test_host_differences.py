"""Where the hosts differ, written down and held: every host keeps every promise (the rest of the
conformance cases), but their HTTP layers read some malformed answers differently: wasmtime's
(hyper) accepts what Node's (llhttp) refuses and the other way round, and wasmtime hands the
component one body frame per read. Each row is asserted here, in every host, and the README's
table is made from the same rows (tools/readme.py)."""

from __future__ import annotations

import pytest

from kit.hostile import HostileServer
from test_adversarial import CASES, CONNECT_S, DEADLINE_S, READ_S

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
        "wasmtime hands over one body frame per read (~10 µs each): past a 3 s deadline; jco's "
        "shim buffers them (~1.5 s)",
        {"node": ("accepted", "Ok"), **{h: ("unreachable", "timeout") for h in WASMTIME}},
    ),
}


@pytest.fixture(scope="module")
def server():
    with HostileServer({name: CASES[name].attack for name in DIFFERENCES}) as server:
        yield server


@pytest.mark.parametrize("name", list(DIFFERENCES))
def test_a_known_host_difference_holds(harness, server, name):
    why, expected = DIFFERENCES[name]
    if harness.host not in expected:
        pytest.skip(f"{harness.host} is not one of the project's hosts")
    seen = []
    for function in ("test_request", "execute"):
        call = harness.prepare(url=server.url_for(name), connect_timeout=CONNECT_S, read_timeout=READ_S, deadline=DEADLINE_S)
        result = harness.call(function, call, posts=None)
        if function == "test_request":
            seen.append(result["outcome"])
        else:
            seen.append("Ok" if "ok" in result else result["err"]["kind"])
    assert tuple(seen) == expected[harness.host], f"{name} ({why})"
