"""The Rust host's conformance adapter against the Python one: the same calls through both
(`rust-host adapter` and `hosts/python/adapter.py`), one at a time against one stand-in, and
the same answers, apart from what differs from call to call (elapsed time, ids, dates, the
stand-in's rate-limit counters, the tokens it issues).

    .venv/bin/python -m pytest examples/rust-host -q

Builds the host first with examples/rust-host/build.sh (seconds when it is built; a fresh
build takes minutes). Every reply pair goes to target/rust-host/adapter-diff.json. Traps are
compared too: both hosts report wasmtime's error the same way (`{:?}`, as its C API does).
"""

from __future__ import annotations

import copy
import json
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "standin"))
from launcher import running_standin  # noqa: E402

WASM = REPO / "target/wasm32-wasip2/release/do_dedicated_inference_task.wasm"
EVIDENCE = REPO / "target/rust-host/adapter-diff.json"
DEFINITION = json.loads((REPO / "fixtures/definition.json").read_text())
PARAMETERS = json.loads((REPO / "fixtures/parameters.json").read_text())
# One token per adapter, of the same length, so that the stand-in counts their rate limits
# apart and both see the same counts; both are masked in every answer.
TOKENS = {"py": "dop_v1_" + "a1" * 30, "rs": "dop_v1_" + "b2" * 30}
HF_TOKEN = PARAMETERS["huggingFaceToken"]
REPLY_TIMEOUT_S = 60
MIB = 1024 * 1024


class Adapter:
    """One adapter process: a call is a request line out, a reply line back."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.ready = json.loads(self.read_line())

    def read_line(self) -> str:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], REPLY_TIMEOUT_S)
        assert readable, f"no reply within {REPLY_TIMEOUT_S} s"
        line = self.process.stdout.readline()
        assert line, f"the adapter exited with status {self.process.wait()}"
        return line

    def send(self, line: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.read_line())

    def close(self) -> tuple[int, str]:
        """Ends the input; the exit status and everything written to stderr."""
        assert self.process.stdin is not None and self.process.stderr is not None
        self.process.stdin.close()
        status = self.process.wait(timeout=30)
        return status, self.process.stderr.read()


@pytest.fixture(scope="module")
def rust_host() -> Path:
    built = subprocess.run(
        [str(REPO / "examples/rust-host/build.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return Path(built.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    with running_standin() as standin:
        yield standin


@pytest.fixture(scope="module")
def adapters(rust_host: Path) -> Iterator[dict[str, Adapter]]:
    assert WASM.exists(), "build the component first: cargo build --release --target wasm32-wasip2"
    pair = {
        "py": Adapter([str(REPO / ".venv/bin/python"), str(REPO / "hosts/python/adapter.py"), str(WASM)]),
        "rs": Adapter([str(rust_host), "adapter", str(WASM)]),
    }
    yield pair
    for side, adapter in pair.items():
        status, stderr = adapter.close()
        assert status == 0, (side, stderr)
        if side == "rs":
            # The host writes no secret anywhere: not in its own messages, not in a trap.
            for secret in (*TOKENS.values(), HF_TOKEN):
                assert secret not in stderr


RECORDS: list[dict[str, Any]] = []


@pytest.fixture(scope="module", autouse=True)
def evidence() -> Iterator[None]:
    yield
    EVIDENCE.parent.mkdir(parents=True, exist_ok=True)
    EVIDENCE.write_text(json.dumps(RECORDS, indent=1, ensure_ascii=False) + "\n")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_input(side: str, url: str, *, name: str, headers: dict[str, str] | None = None,
               definition_changes: dict[str, Any] | None = None, parameters: Any = None,
               as_text: bool = True) -> dict[str, Any]:
    definition = copy.deepcopy(DEFINITION)
    definition["httpRequest"]["url"] = url + "/v2/dedicated-inferences"
    definition["httpRequest"]["headers"].update(headers or {})
    definition.update(definition_changes or {})
    params = dict(PARAMETERS, name=f"diff-{side}-{name}") if parameters is None else parameters
    return {
        "definition": json.dumps(definition) if as_text else definition,
        "parameters": json.dumps(params) if as_text else params,
        "secrets": [["token", TOKENS[side]]],
    }


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FQDN = re.compile(r"\b[0-9a-f]{8}(?=\.(?:private\.)?inference\.do-ai\.run)")
ISSUED = re.compile(r"dit_[0-9a-f]{40}")
HTTP_DATE = re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
RATE_IN_TEXT = re.compile(r'(ratelimit-(?:remaining|reset)\\*"\s*:\s*\\*")\d+')
SIDE_NAME = re.compile(r"diff-(?:py|rs)-")
VOLATILE_HEADERS = {"ratelimit-remaining", "ratelimit-reset"}


def normalized(value: Any) -> Any:
    """`value` with what changes from call to call replaced by fixed text."""
    if isinstance(value, dict):
        if set(value) == {"name", "value"} and str(value["name"]).lower() in VOLATILE_HEADERS:
            return {"name": value["name"], "value": "N"}
        return {key: 0 if key == "elapsed-ms" else normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, str):
        for pattern, replacement in (
            (UUID, "UUID"), (FQDN, "HEX8"), (ISSUED, "dit_ISSUED"), (HTTP_DATE, "DATE"),
            (ISO_TIME, "TIME"), (RATE_IN_TEXT, r"\g<1>N"), (SIDE_NAME, "diff-XX-"),
        ):
            value = pattern.sub(replacement, value)
    return value


def both(adapters: dict[str, Adapter], case: str, request_for: Any) -> dict[str, dict[str, Any]]:
    """The same request (built per side by `request_for(side)`) through both adapters."""
    replies = {side: adapter.send(json.dumps(request_for(side))) for side, adapter in adapters.items()}
    RECORDS.append({"case": case, **replies})
    return replies


def assert_same(replies: dict[str, dict[str, Any]]) -> None:
    assert normalized(replies["rs"]) == normalized(replies["py"])


def test_ready_lines(adapters):
    assert adapters["py"].ready["ready"] is True and adapters["rs"].ready["ready"] is True
    assert adapters["rs"].ready["memory-limit"] is True


def test_describe(adapters):
    assert_same(both(adapters, "describe", lambda side: {"id": 1, "call": "describe"}))


def test_render_ok_and_err(adapters, api):
    ok = both(adapters, "render ok", lambda side: {
        "id": 2, "call": "render", "input": make_input(side, api.url, name="render")})
    assert "ok" in ok["rs"]["ok"]
    assert_same(ok)
    err = both(adapters, "render err", lambda side: {
        "id": 3, "call": "render", "input": make_input(side, api.url, name="x", parameters={})})
    assert "err" in err["rs"]["ok"]
    assert_same(err)


def test_input_documents_given_as_json_values_not_texts(adapters, api):
    # Both adapters accept `definition`/`parameters` as JSON values too, written as text.
    replies = both(adapters, "render, input as JSON values", lambda side: {
        "id": 4, "call": "render", "input": make_input(side, api.url, name="values", as_text=False)})
    assert "ok" in replies["rs"]["ok"]
    assert_same(replies)


@pytest.mark.parametrize("call", ["test-request", "execute"])
def test_accepted(adapters, api, call):
    replies = both(adapters, f"{call} accepted", lambda side: {
        "id": 5, "call": call, "input": make_input(side, api.url, name=f"accepted-{call}")})
    if call == "execute":
        assert json.loads(replies["rs"]["ok"]["ok"])["statusCode"] == 202
    else:
        assert replies["rs"]["ok"]["outcome"] == "accepted"
    assert_same(replies)


FAULTS = {
    "rate-limit": ({"X-Standin-Fault": "rate-limit"}, {}, "rejected"),
    "server-error": ({"X-Standin-Fault": "server-error"}, {}, "failed"),
    "html-error": ({"X-Standin-Fault": "html-error"}, {}, "failed"),
    "not-json": ({"X-Standin-Fault": "not-json"}, {}, "succeeded"),
    "invalid-utf8": ({"X-Standin-Fault": "invalid-utf8"}, {}, "accepted"),
    "truncated": ({"X-Standin-Fault": "truncated"}, {}, "unreachable"),
    "reset": ({"X-Standin-Fault": "reset"}, {}, "unreachable"),
    "reset-mid-body": ({"X-Standin-Fault": "reset-mid-body"}, {}, "unreachable"),
    "large over 4 MiB": ({"X-Standin-Fault": f"large={5 * MIB}"}, {}, "accepted"),
    "first-byte timeout": ({"X-Standin-Fault": "slow-first-byte=3000"}, {"readTimeoutSeconds": 1}, "unreachable"),
    "between-bytes timeout": ({"X-Standin-Fault": "slow-body=3000"}, {"readTimeoutSeconds": 1}, "unreachable"),
}


@pytest.mark.parametrize("call", ["test-request", "execute"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault(adapters, api, fault, call):
    headers, changes, outcome = FAULTS[fault]
    name = re.sub(r"[^a-z0-9]+", "-", f"{fault}-{call}")  # slow-body answers normally: a new name
    replies = both(adapters, f"{call} {fault}", lambda side: {
        "id": 6, "call": call,
        "input": make_input(side, api.url, name=name, headers=headers, definition_changes=changes)})
    if call == "test-request":
        assert replies["rs"]["ok"]["outcome"] == outcome
    assert_same(replies)


@pytest.mark.parametrize("call", ["test-request", "execute"])
def test_connection_refused(adapters, call):
    url = f"http://127.0.0.1:{closed_port()}"
    replies = both(adapters, f"{call} connection refused", lambda side: {
        "id": 7, "call": call, "input": make_input(side, url, name="refused")})
    if call == "execute":
        assert replies["rs"]["ok"]["err"]["kind"] == "connection"
    assert_same(replies)


@pytest.mark.parametrize("call", ["test-request", "execute"])
def test_header_the_host_forbids(adapters, api, call):
    # The component lets Proxy-Authorization through; wasmtime-wasi-http's default hooks refuse
    # it (DEFAULT_FORBIDDEN_HEADERS): `invalid` / `invalid-request`, nothing sent.
    replies = both(adapters, f"{call} Proxy-Authorization", lambda side: {
        "id": 13, "call": call,
        "input": make_input(side, api.url, name="proxy", headers={"Proxy-Authorization": "Basic eA=="})})
    if call == "test-request":
        assert replies["rs"]["ok"]["outcome"] == "invalid"
    assert_same(replies)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[str]:
    """https://127.0.0.1:<port> with a self-signed certificate that no client trusts."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                try:
                    context.wrap_socket(connection, server_side=True).close()
                except (ssl.SSLError, OSError):
                    pass  # the client refused the certificate, as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("call", ["test-request", "execute"])
def test_untrusted_certificate(adapters, tls_server, call):
    replies = both(adapters, f"{call} TLS, untrusted certificate", lambda side: {
        "id": 14, "call": call, "input": make_input(side, tls_server, name="tls")})
    if call == "execute":
        assert replies["rs"]["ok"]["err"]["kind"] == "connection"
    assert_same(replies)


@pytest.mark.parametrize("call", ["render", "test-request", "execute"])
def test_invalid_definition_text(adapters, call):
    replies = both(adapters, f"{call} invalid JSON", lambda side: {
        "id": 8, "call": call,
        "input": {"definition": "{not json", "parameters": "{}", "secrets": [["token", TOKENS[side]]]}})
    assert_same(replies)


def test_memory_cap_large_enough(adapters, api):
    replies = both(adapters, "test-request capped at 64 MiB", lambda side: {
        "id": 9, "call": "test-request", "options": {"memory-limit-bytes": 64 * MIB},
        "input": make_input(side, api.url, name="capped")})
    assert replies["rs"]["ok"]["outcome"] == "accepted"
    assert_same(replies)


def test_memory_cap_below_the_initial_memory_traps_at_instantiation(adapters, api):
    replies = both(adapters, "render capped at 64 KiB", lambda side: {
        "id": 10, "call": "render", "options": {"memory-limit-bytes": 64 * 1024},
        "input": make_input(side, api.url, name="tiny")})
    assert set(replies["py"]) == set(replies["rs"]) == {"id", "trap"}
    assert_same(replies)


def test_memory_cap_reached_during_the_call_traps(adapters, api):
    # 3 MiB of parameters do not fit in 2 MiB of linear memory.
    parameters = dict(PARAMETERS, padding="x" * (3 * MIB))
    replies = both(adapters, "render capped at 2 MiB with 3 MiB of parameters", lambda side: {
        "id": 11, "call": "render", "options": {"memory-limit-bytes": 2 * MIB},
        "input": make_input(side, api.url, name="big", parameters=dict(parameters, name=f"diff-{side}-big"))})
    assert set(replies["py"]) == set(replies["rs"]) == {"id", "trap"}
    assert "unreachable" in replies["rs"]["trap"]
    assert_same(replies)


def test_no_cap_after_a_capped_call(adapters, api):
    # The cap is per call: the next call without options runs uncapped.
    parameters = dict(PARAMETERS, padding="x" * (3 * MIB))
    replies = both(adapters, "render uncapped with 3 MiB of parameters", lambda side: {
        "id": 12, "call": "render", "input": make_input(side, api.url, name="big", parameters=parameters)})
    assert "ok" in replies["rs"]["ok"]
    assert_same(replies)


BAD_LINES = {
    "not JSON": "{nope",
    "not an object": "[1, 2]",
    "unknown call": '{"id": 20, "call": "frobnicate"}',
    "no call": '{"id": 21}',
    "no input": '{"id": 22, "call": "render"}',
    "input not an object": '{"id": 23, "call": "render", "input": 5}',
    "secrets not pairs": '{"id": 24, "call": "render", "input": {"definition": "{}", "parameters": "{}", "secrets": [["token"]]}}',
    "secret not a string": '{"id": 25, "call": "render", "input": {"definition": "{}", "parameters": "{}", "secrets": [["token", 5]]}}',
    "memory limit not a number": '{"id": 26, "call": "describe", "options": {"memory-limit-bytes": "lots"}}',
    "memory limit negative": '{"id": 27, "call": "describe", "options": {"memory-limit-bytes": -1}}',
}


@pytest.mark.parametrize("case", list(BAD_LINES))
def test_bad_request_lines_get_an_error_reply(adapters, case):
    # Only through the Rust adapter: the Python one ends on most of these (a traceback).
    reply = adapters["rs"].send(BAD_LINES[case])
    assert set(reply) == {"id", "error"}, reply
    RECORDS.append({"case": f"bad line: {case}", "rs": reply})


def test_unknown_call_reads_as_the_python_adapters(adapters):
    replies = both(adapters, "unknown call", lambda side: {"id": 30, "call": "frobnicate"})
    assert replies["rs"] == replies["py"] == {"id": 30, "error": "unknown call 'frobnicate'"}


def test_still_answering_after_bad_lines(adapters):
    replies = both(adapters, "describe after bad lines", lambda side: {"id": 31, "call": "describe"})
    assert_same(replies)
