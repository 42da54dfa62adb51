"""The fault matrix: every fault the stand-in (or the network) can produce × both test-request
and execute × each host, each cell asserting the outcome, the failure kind, retryable,
retry-after-ms, a masked and readable summary, and the elapsed time against the configured
timeouts. The table, one column per host, is printed at the end of the run and written to
target/reliability/fault-matrix.md: the rows must read the same in every host."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import pytest

from kit.harness import free_port
from kit.paths import REPO
from kit.reports import report

CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 1
MIB = 1024 * 1024


@dataclass(frozen=True)
class Fault:
    name: str
    #: X-Standin-Fault value, or None for a plain request.
    header: str | None
    #: test-request's outcome.
    outcome: str
    #: execute: "ok", or the failure kind.
    kind: str
    retryable: bool | None
    #: Expected retry-after-ms, with its tolerance.
    retry_after_ms: int | None = None
    tolerance_ms: int = 0
    #: Where the request goes: "standin", "refused", "unaccepted" (connect timeout),
    #: "unresolvable" (a name no resolver knows) or "untrusted-tls" (a certificate no client
    #: trusts).
    target: str = "standin"
    #: deadlineSeconds, when the row is about it; the call then ends within it plus slack.
    deadline: int | None = None
    #: A word the summary must hold (which limit fired, what failed).
    says: str | None = None
    #: The step's wall time is at least this (a timeout that must fire).
    min_elapsed_s: float = 0.0
    #: Whether the stand-in records the POST.
    reaches_server: bool = True
    #: Whether a status line arrives (test-request then has a `response`).
    status_arrives: bool = True


FAULTS = [
    Fault("202 Accepted", None, "accepted", "ok", None),
    Fault("429 with Retry-After (seconds)", "rate-limit=7", "rejected", "http-status", True, 7000),
    Fault("429 with Retry-After (HTTP date)", "rate-limit-date=30", "rejected", "http-status", True, 30000, 2000),
    Fault("429, ratelimit-remaining 0", "rate-limit-reset=20", "rejected", "http-status", True, 20000, 2000),
    Fault("429 without any hint", "rate-limit-bare", "rejected", "http-status", True),
    Fault("500 Internal Server Error", "server-error", "failed", "http-status", True),
    Fault("502 HTML error page", "html-error", "failed", "http-status", True),
    Fault("503 Service Unavailable", "status=503", "failed", "http-status", True),
    Fault("200 with a non-JSON body", "not-json", "succeeded", "ok", None),
    Fault("slow first byte (3 s > 1 s)", "slow-first-byte=3000", "unreachable", "timeout", True,
          min_elapsed_s=READ_TIMEOUT_S, status_arrives=False),
    # The 202's status line arrived before the body stalled: the instance exists.
    Fault("slow body (3 s > 1 s)", "slow-body=3000", "unreachable", "timeout", False, min_elapsed_s=READ_TIMEOUT_S),
    Fault("connection refused", None, "unreachable", "connection", True,
          target="refused", reaches_server=False, status_arrives=False),
    Fault("connect timeout (full accept queue)", None, "unreachable", "timeout", True,
          target="unaccepted", min_elapsed_s=CONNECT_TIMEOUT_S, reaches_server=False, status_arrives=False),
    # wasmtime reports an RST before any byte of the answer as HTTP-protocol-error.
    Fault("reset before answering", "reset", "unreachable", "protocol", True, status_arrives=False),
    # ...and a body that breaks off as a stream error: the connection. After a 202 the
    # instance exists: nothing is retryable.
    Fault("reset mid-body", "reset-mid-body", "unreachable", "connection", False),
    Fault("truncated body (Content-Length too large)", "truncated", "unreachable", "connection", False),
    Fault("8 MiB body", f"large={8 * MIB}", "accepted", "protocol", False),
    Fault("invalid UTF-8 body", "invalid-utf8", "accepted", "ok", None),
    # A redirect is never followed (it would take the token along): final, as it stands.
    Fault("302 Found, not followed", "status=302", "rejected", "http-status", False),
    Fault("unresolvable host", None, "unreachable", "connection", True,
          target="unresolvable", reaches_server=False, status_arrives=False, says="could not be resolved"),
    Fault("TLS certificate no client trusts", None, "unreachable", "connection", True,
          target="untrusted-tls", reaches_server=False, status_arrives=False, says="TLS"),
    # The deadline, not a timeout, ends these: every read is quick enough, the whole is not.
    Fault("deadline before the status line (2 s)", "slow-first-byte=2500", "unreachable", "timeout", True,
          min_elapsed_s=2, status_arrives=False, deadline=2, says="deadline"),
    Fault("deadline in a paused 202 body (2 s)", "slow-body=2500", "unreachable", "timeout", False,
          min_elapsed_s=2, deadline=2, says="deadline"),
]

#: (fault, call) -> host -> what happened, filled as the cells run.
CELLS: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)


@pytest.fixture(scope="module")
def unaccepted_port():
    """A listener whose accept queue is full: connects hang in SYN-SENT until they time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.1)
    yield server.getsockname()[1]
    for s in fillers + [server]:
        s.close()


@pytest.fixture(scope="module")
def untrusted_tls_port():
    """A loopback TLS server whose certificate (tests/kit/untrusted-tls) no client trusts: it
    offers the handshake, which the client must refuse."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    folder = REPO / "tests" / "kit" / "untrusted-tls"
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def serve():
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(sock, server_side=True) as tls:
                    tls.recv(1)  # the client aborts the handshake: nothing arrives
            except (OSError, ssl.SSLError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def url_for(fault: Fault, harness, unaccepted_port, untrusted_tls_port) -> str:
    if fault.target == "unresolvable":
        return "https://no-such-host.invalid/v2/dedicated-inferences"  # RFC 6761: never resolves
    if fault.target == "untrusted-tls":
        return f"https://127.0.0.1:{untrusted_tls_port}/v2/dedicated-inferences"
    port = {"refused": free_port, "unaccepted": lambda: unaccepted_port}.get(fault.target)
    if port is None:
        return f"{harness.standin.url}/v2/dedicated-inferences"
    return f"http://127.0.0.1:{port()}/v2/dedicated-inferences"


def readable(summary: str) -> bool:
    """A sentence for a person: no debug dumps, no JSON, a sane length, a full stop."""
    return 20 < len(summary) < 800 and summary.rstrip().endswith(".") and "::" not in summary and "{" not in summary


@pytest.mark.parametrize("function", ["test_request", "execute"])
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_matrix(harness, unaccepted_port, untrusted_tls_port, fault, function):
    # A deadline row gives every read time enough (a timeout must not be what fires).
    read_timeout = 3 if fault.deadline else READ_TIMEOUT_S
    call = harness.prepare(
        fault=fault.header,
        url=url_for(fault, harness, unaccepted_port, untrusted_tls_port),
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout,
        deadline=fault.deadline,
        # The matrix is `ifExists: fail`'s table; adopt's answers to the same faults are
        # test_adopt.py's.
        if_exists="fail",
    )
    started = time.monotonic()
    result = harness.call(function, call, posts=1 if fault.reaches_server else None)
    elapsed_s = time.monotonic() - started
    # Every timeout fires on time: never early, and never later than its setting plus slack.
    limit_s = fault.deadline + 1 if fault.deadline else CONNECT_TIMEOUT_S + READ_TIMEOUT_S + 1.5
    assert fault.min_elapsed_s <= elapsed_s < limit_s, elapsed_s

    if function == "test_request":
        assert result["outcome"] == fault.outcome, result["summary"]
        summary, kind, retryable, retry_after = result["summary"], "—", "—", "—"
        assert (result["response"] is not None) == fault.status_arrives
    else:
        if fault.kind == "ok":
            assert "ok" in result, result
            summary, kind, retryable, retry_after = "(step output)", "Ok", "—", "—"
            assert json.loads(result["ok"])["statusCode"] in (200, 202)
        else:
            failure = result["err"]
            assert (failure["kind"], failure["retryable"]) == (fault.kind, fault.retryable), failure["message"]
            if fault.retry_after_ms is None:
                assert failure["retry_after_ms"] is None
            else:
                assert abs(failure["retry_after_ms"] - fault.retry_after_ms) <= fault.tolerance_ms
            summary, kind, retryable = failure["message"], failure["kind"], failure["retryable"]
            retry_after = failure["retry_after_ms"]
    if summary != "(step output)":
        assert readable(summary), summary
    if fault.says:
        assert fault.says.lower() in summary.lower(), summary
    shown = result["outcome"] if function == "test_request" else kind
    if retryable not in ("—", None):
        shown += ", retryable" if retryable else ", final"
    if retry_after not in ("—", None):
        shown += f", retry after {retry_after} ms"
    CELLS[(fault.name, function.replace("_", "-"))][harness.host] = f"{shown} ({elapsed_s * 1000:.0f} ms)"


def matrix_table() -> str:
    """The matrix as a Markdown table, in the order of FAULTS, one column per host."""
    hosts = sorted({host for cells in CELLS.values() for host in cells})
    lines = ["| fault | call | " + " | ".join(hosts) + " |", "|---|---|" + "---|" * len(hosts)]
    for fault in FAULTS:
        for call in ("test-request", "execute"):
            cells = CELLS.get((fault.name, call))
            if cells:
                lines.append(f"| {fault.name} | {call} | " + " | ".join(cells.get(h, "") for h in hosts) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def report_the_matrix():
    yield
    if CELLS:
        report(
            "fault-matrix",
            f"connectionTimeoutSeconds {CONNECT_TIMEOUT_S}, readTimeoutSeconds {READ_TIMEOUT_S}\n\n{matrix_table()}",
        )
