"""End-to-end harness: the built component in wasmtime (hosts/python/host.py) against the local
stand-in of the API (standin/standin.py), started once per session on loopback.

Every call goes through `Harness.call`, which also checks, for every test:
  - the number of POSTs the stand-in received for that call (exactly one, or none when the
    request is invalid or the server is unreachable): a create must never be sent twice;
  - that no secret appears anywhere in what the component returned, except the returned token
    in `revealed_secrets` and in `execute`'s Ok output.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
WASM = REPO / "target" / "wasm32-wasip2" / "release" / "do_dedicated_inference_task.wasm"
sys.path.insert(0, str(REPO / "hosts" / "python"))
sys.path.insert(0, str(REPO / "standin"))

from host import ComponentTrap, TaskHost  # noqa: E402
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402

API_TOKEN = "dop_v1_e2e5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
HF_TOKEN = "hf_e2eGatedModelTokenZ9Y8X7W6V5"
MASK = "••••••••"


def load_fixture(name: str) -> dict:
    return json.loads((REPO / "fixtures" / name).read_text())


def unique_name(prefix: str = "e2e") -> str:
    """spec.name is unique per team (the stand-in enforces it): one per call."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class StandIn:
    """The stand-in, running in a process of its own, and what it recorded."""

    def __init__(self, url: str) -> None:
        self.url = url

    def records(self, call_id: str | None = None) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/__standin/requests") as answer:
            records = json.load(answer)
        return [r for r in records if call_id is None or r.get("call_id") == call_id]


def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Call:
    """One prepared call: the task input plus what the harness needs to check it."""

    definition: dict
    parameters: dict
    secrets: dict = field(default_factory=lambda: {"token": API_TOKEN})
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def task_input(self) -> dict:
        return {"definition": self.definition, "parameters": self.parameters, "secrets": self.secrets}

    def secret_values(self) -> list[str]:
        values = [v for v in self.secrets.values() if v]
        tokens = self.parameters.get("huggingFaceToken")
        if isinstance(tokens, str) and tokens:
            values.append(tokens)
        return values


def leaked(value: Any, secrets: list[str], where: str = "result") -> list[str]:
    """Every place in `value` (any nesting of dicts, lists, tuples, strings) holding a secret."""
    found = []
    if isinstance(value, str):
        found += [f"{where}: {s[:6]}…" for s in secrets if s in value]
    elif isinstance(value, dict):
        for k, v in value.items():
            found += leaked(k, secrets, f"{where}.{k}") + leaked(v, secrets, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += leaked(v, secrets, f"{where}[{i}]")
    return found


class Harness:
    def __init__(self, host: TaskHost, standin: StandIn) -> None:
        self.host = host
        self.standin = standin
        #: Every string the component returned in this session, for the secret scan.
        self.outputs: list[tuple[str, Any, list[str]]] = []

    def prepare(
        self,
        *,
        fault: str | None = None,
        url: str | None = None,
        connect_timeout: int = 2,
        read_timeout: int = 2,
        edit: Callable[[dict, dict], None] | None = None,
    ) -> Call:
        """The fixture definition pointed at the stand-in, a unique name, short timeouts."""
        definition = load_fixture("definition.json")
        parameters = load_fixture("parameters.json")
        parameters["name"] = unique_name()
        parameters["huggingFaceToken"] = HF_TOKEN
        call = Call(definition, parameters)
        request = definition["httpRequest"]
        request["url"] = url or f"{self.standin.url}/v2/dedicated-inferences"
        request["headers"]["X-Call-Id"] = call.call_id
        if fault:
            request["headers"]["X-Standin-Fault"] = fault
        definition["connectionTimeoutSeconds"] = connect_timeout
        definition["readTimeoutSeconds"] = read_timeout
        if edit:
            edit(definition, parameters)
        return call

    def call(self, function: str, call: Call, *, posts: int | None = 1) -> Any:
        """Calls `function` on a fresh instance, then checks POST count and secrets.
        `posts=None` skips the count (the request never reaches this stand-in)."""
        try:
            result = getattr(self.host, function)(call.task_input())
        except ComponentTrap as trap:  # a trap kills the step with no explanation
            pytest.fail(f"{function} trapped: {trap}")
        received = self.standin.records(call.call_id)
        if posts is not None:
            assert len(received) == posts, f"{function}: stand-in received {len(received)} POSTs, expected {posts}"
        issued = [r["issued_token"] for r in received if r.get("issued_token")]
        self.check_secrets(function, result, call.secret_values() + issued)
        return result

    def assert_invalid(self, edit: Callable[[dict, dict], None], path: str, needle: str) -> dict:
        """Test-requests the edited fixture: nothing may be sent, and the first diagnostic is
        an error at `path` whose message contains `needle`."""
        result = self.call("test_request", self.prepare(edit=edit), posts=0)
        assert result["outcome"] == "invalid"
        first = result["diagnostics"][0]
        assert (first["severity"], first["path"]) == ("error", path), result["diagnostics"]
        assert needle in first["message"], first["message"]
        return result

    def check_secrets(self, function: str, result: Any, secrets: list[str]) -> None:
        """No secret anywhere, except the returned token in revealed_secrets and in
        execute's Ok output (the workflow's own data: it must be able to store it)."""
        if function == "execute" and "ok" in result:
            return
        shown = dict(result) if function == "test_request" else result
        if function == "test_request":
            shown.pop("revealed_secrets")
        self.outputs.append((function, shown, secrets))
        problems = leaked(shown, secrets)
        assert not problems, f"{function} leaked secrets at {problems}"


def pytest_collection_modifyitems(items):
    """The secret scan reads what every other test collected: it runs last."""
    items.sort(key=lambda item: item.name == "test_no_secret_in_any_output")


#: Figures of this run, by name: printed after the results, and written to
#: target/reliability/<name>.md so that the README's numbers come from a command.
REPORTS: dict[str, str] = {}


def report(name: str, text: str) -> None:
    REPORTS[name] = text
    out = REPO / "target" / "reliability" / f"{name}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")


def pytest_terminal_summary(terminalreporter):
    for name, text in REPORTS.items():
        terminalreporter.write_sep("=", f"{name} (target/reliability/{name}.md)")
        terminalreporter.write_line(text)


@pytest.fixture(scope="session")
def standin():
    # The load test alone sends 2,000 requests with one token: past the real limits.
    with running_standin(NO_RATE_LIMITS) as api:
        yield StandIn(api.url)


@pytest.fixture(scope="session")
def host():
    if not WASM.exists():
        pytest.fail(f"{WASM} is missing: run scripts/test (it builds the component first)")
    return TaskHost(str(WASM))


@pytest.fixture(scope="session")
def harness(host, standin):
    return Harness(host, standin)
