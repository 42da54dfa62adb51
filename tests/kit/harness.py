"""The harness every end-to-end case calls through: it prepares a task input aimed at the
stand-in, makes the call in one host, and checks for every call

  - the POSTs the stand-in received for it: exactly one, or none when the request is invalid
    or the server unreachable (a create must never be sent twice);
  - that no secret appears in what the component returned (kit/oracle.py), with one
    allowance: the token the server issued, in `revealed_secrets` and at `body.token.value`
    of `execute`'s Ok output;

and tags the adapter's raw reply with the call's secrets, for the independent scan of every
raw reply and every adapter's stderr at the end of the session (tests/conftest.py)."""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from kit.adapter import Adapter, Trap
from kit.oracle import allowed_removed, leaked
from kit.paths import FIXTURES

API_TOKEN = "dop_v1_e2e5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"
HF_TOKEN = "hf_e2eGatedModelTokenZ9Y8X7W6V5"
MASK = "••••••••"

def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def unique_name(prefix: str = "e2e") -> str:
    """spec.name is unique per team (the stand-in enforces it): one per call."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """The stand-in, running in a process of its own, and what it recorded."""

    def __init__(self, url: str) -> None:
        self.url = url

    def records(self, call_id: str | None = None) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/__standin/requests") as answer:
            records = json.load(answer)
        return [r for r in records if call_id is None or r.get("call_id") == call_id]


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
        values = [v for v in self.secrets.values() if v and v.strip()]
        tokens = self.parameters.get("huggingFaceToken")
        if isinstance(tokens, str) and tokens:
            values.append(tokens)
        return values


def prepare_call(
    standin: StandIn,
    *,
    fault: str | None = None,
    url: str | None = None,
    connect_timeout: int = 2,
    read_timeout: int = 2,
    deadline: int | None = None,
    if_exists: str | None = None,
    edit: Callable[[dict, dict], None] | None = None,
) -> Call:
    """The fixture definition pointed at the stand-in, a unique name, short timeouts.
    `if_exists` sets the definition's `ifExists` (the fixture's is `adopt`): the cases that
    prove what `fail` does, one create and nothing else per call, pin `"fail"`."""
    definition = load_fixture("definition.json")
    parameters = load_fixture("parameters.json")
    parameters["name"] = unique_name()
    parameters["huggingFaceToken"] = HF_TOKEN
    call = Call(definition, parameters)
    request = definition["httpRequest"]
    request["url"] = url or f"{standin.url}/v2/dedicated-inferences"
    request["headers"]["X-Call-Id"] = call.call_id
    if fault:
        request["headers"]["X-Standin-Fault"] = fault
    definition["connectionTimeoutSeconds"] = connect_timeout
    definition["readTimeoutSeconds"] = read_timeout
    if deadline is not None:
        definition["deadlineSeconds"] = deadline
    if if_exists is not None:
        definition["ifExists"] = if_exists
    if edit:
        edit(definition, parameters)
    return call


class Harness:
    """Calls into one host (an adapter) against the stand-in."""

    def __init__(self, adapter: Adapter, standin: StandIn) -> None:
        self.adapter = adapter
        self.host = adapter.name
        self.standin = standin

    def prepare(self, **how: Any) -> Call:
        """`prepare_call` against this harness's stand-in."""
        return prepare_call(self.standin, **how)

    def call(
        self,
        function: str,
        call: Call,
        *,
        posts: int | None = 1,
        extra_secrets: list[str] = (),
        issued_by: Callable[[str], list[str]] | None = None,
        **options: Any,
    ) -> Any:
        """Calls `function` on a fresh instance, then checks POST count and secrets.
        `posts=None` skips the count (the request never reaches this stand-in); `issued_by`
        names the tokens another server issued to a call id (default: the stand-in's)."""
        try:
            result = self.adapter.call(function, call.task_input(), **options)
        except Trap as trap:  # a trap kills the step with no explanation
            pytest.fail(f"{function} trapped: {trap}")
        received = self.standin.records(call.call_id)
        if posts is not None:
            assert len(received) == posts, f"{function}: stand-in received {len(received)} POSTs, expected {posts}"
        issued = [r["issued_token"] for r in received if r.get("issued_token")]
        if issued_by is not None:
            issued = issued_by(call.call_id)
        self.check_secrets(function, result, call.secret_values() + list(extra_secrets), issued)
        return result

    def raw(self, function: str, task_input: dict, secrets: list[str] = (), **options: Any) -> Any:
        """Calls `function` with a task input as given (malformed JSON included); checks that
        none of its secrets, nor `secrets`, shows in the result."""
        try:
            result = self.adapter.call(function, task_input, **options)
        except Trap as trap:
            pytest.fail(f"{function} trapped: {trap}")
        given = task_input.get("secrets", {})
        values = list(given.values()) if isinstance(given, dict) else [v for _, v in given]
        self.check_secrets(function, result, [v for v in values if v.strip()] + list(secrets))
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

    def check_secrets(self, function: str, result: Any, secrets: list[str], issued: list[str] = ()) -> None:
        """No secret anywhere, nor any token the server issued, except an issued token in
        revealed_secrets and at execute's Ok `body.token.value` (kit/oracle.py)."""
        function = function.replace("-", "_")
        issued = list(issued)
        self.adapter.tag_last(secrets + issued, issued)
        shown, problems = allowed_removed(function, result, issued)
        problems += leaked(shown, secrets + issued)
        assert not problems, f"{function} leaked secrets at {problems}"
