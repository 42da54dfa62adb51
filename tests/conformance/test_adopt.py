"""`"ifExists": "adopt"` end to end, one case per fault, in every host, against the stand-in:
an engine-like driver retries `execute` while it says retryable (at most 3 attempts, the
ready definition's policy), with the fault on the first attempt's create. Asserted from the
stand-in's records and state, not from what the component says:

  - one create POST per attempt, never two in one call;
  - at most one instance of the step's name, ever;
  - the step ends Ok with that instance and a token the stand-in issued (a fresh create's, or
    one it minted for the adoption), or, when the lookup is refused for scope, fails at once
    naming `dedicated_inference:read`; a refused mint still adopts, with `token: null`.

The wide exploration (random schedules, four API modes) is native: tests/adopt_retries.rs."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from dataclasses import dataclass

import pytest

from kit.harness import API_TOKEN, StandIn, free_port


@dataclass(frozen=True)
class Case:
    name: str
    #: X-Standin-Fault of the first attempt ("refused": a port nobody listens on).
    fault: str | None
    #: How the step ends: "created" (Ok, a fresh create), "adopted" (Ok, adopted with a new
    #: token), "adopted without a token" (the mint refused), or "final: <text>".
    ending: str
    #: The attempt that ends it (1 or 2).
    attempts: int
    #: The scopes of the API token (None: every scope).
    scopes: str | None = None


CASES = [
    Case("refused connection", "refused", "created", 2),
    # The stand-in creates after 2.5 s, once the client gave up (read timeout 1 s) and looked:
    # the retry meets the name taken and adopts.
    Case("a slow create that finishes after the client gave up", "slow-first-byte=2500", "adopted", 2),
    Case("timeout before the status line, the instance made", "created-then-silence=2500", "adopted", 1),
    Case("reset after the request was sent", "created-then-reset", "adopted", 1),
    Case("reset in the middle of the 202 body", "created-then-reset-mid-body", "adopted", 1),
    Case("a 429 burst", "rate-limit=1", "created", 2),
    Case("a 500", "server-error", "created", 2),
    Case("a concurrent creator racing for the name", "concurrent-create", "adopted", 1),
    Case("403 on the lookup", "created-then-reset", "final: dedicated_inference:read", 1,
         scopes="dedicated_inference:create"),
    Case("403 on the mint", "created-then-reset", "adopted without a token", 1,
         scopes="dedicated_inference:create,dedicated_inference:read"),
]


def api_get(standin: StandIn, path: str) -> dict:
    request = urllib.request.Request(f"{standin.url}{path}", headers={"Authorization": f"Bearer {API_TOKEN}"})
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def minted(standin: StandIn) -> list[dict]:
    with urllib.request.urlopen(f"{standin.url}/__standin/tokens") as answer:
        return json.load(answer)


def issued_for(standin: StandIn, call_id: str) -> list[str]:
    """Every token the stand-in gave this call: its create's, and any it minted."""
    created = [r["issued_token"] for r in standin.records(call_id) if r.get("issued_token")]
    return created + [t["value"] for t in minted(standin) if t["call_id"] == call_id]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_an_adopting_step_is_never_stranded(harness, case):
    step_name = f"adopt-{uuid.uuid4().hex[:12]}"
    token = f"dop_v1_scopes={case.scopes};{uuid.uuid4().hex}" if case.scopes else API_TOKEN
    results = []
    for attempt in range(3):
        fault = case.fault if attempt == 0 else None
        url = f"http://127.0.0.1:{free_port()}/v2/dedicated-inferences" if fault == "refused" else None
        call = harness.prepare(fault=None if fault == "refused" else fault, url=url, read_timeout=1,
                               deadline=10)
        call.parameters["name"] = step_name
        call.secrets["token"] = token
        assert call.definition["ifExists"] == "adopt", "the ready definition adopts"
        result = harness.call("execute", call, posts=0 if fault == "refused" else 1,
                              issued_by=lambda call_id: issued_for(harness.standin, call_id))
        results.append(result)
        if "ok" in result or not result["err"]["retryable"]:
            break
        # The engine waits its interval (1 s), and long enough for a slow create to land.
        time.sleep(2)

    listed = api_get(harness.standin, f"/v2/dedicated-inferences?name={step_name}")["dedicated_inferences"]
    assert len(listed) <= 1, f"two instances of {step_name}: {listed}"
    last = results[-1]
    assert len(results) == case.attempts, results
    if case.ending.startswith("final: "):
        failure = last["err"]
        assert not failure["retryable"], failure
        assert case.ending.removeprefix("final: ") in failure["message"], failure["message"]
        return
    assert "ok" in last, last
    output = json.loads(last["ok"])
    [instance] = listed
    assert output["body"]["dedicated_inference"]["id"] == instance["id"]
    tokens = {t["value"] for t in minted(harness.standin)} | {
        r["issued_token"] for r in harness.standin.records() if r.get("issued_token")}
    if case.ending == "created":
        assert "adopted" not in output
        assert output["body"]["token"]["value"] in tokens
    elif case.ending == "adopted":
        assert output["adopted"] is True, output
        value = output["body"]["token"]["value"]
        assert value in {t["value"] for t in minted(harness.standin) if t["inference_id"] == instance["id"]}
        assert output["body"]["token"]["name"].startswith(f"{step_name}-adopted-")
    else:
        assert output["adopted"] is True and output["body"]["token"] is None, output
        assert "dedicated_inference_tokens:create" in output["tokenNotMinted"]


def test_test_request_shows_each_exchange_of_an_adoption(harness):
    """On loopback, test-request adopts without asking and lists create, lookup, read, mint."""
    call = harness.prepare(fault="created-then-reset")
    result = harness.call("test_request", call, issued_by=lambda call_id: issued_for(harness.standin, call_id))
    assert result["outcome"] == "accepted", result["summary"]
    assert "Adopted the existing dedicated inference" in result["summary"]
    shown = [(e["request"]["method"], e["request"]["url"].split("?")[0].rsplit("/", 1)[-1]) for e in result["exchanges"]]
    assert [m for m, _ in shown] == ["POST", "GET", "GET", "POST"], shown
    assert shown[-1][1] == "tokens"
    assert result["exchanges"][0]["response"] is None and result["exchanges"][0]["error"]
    assert [e["response"]["status"] for e in result["exchanges"][1:]] == [200, 200, 202]
    [(name, value)] = result["revealed_secrets"]
    assert name == "token.value" and value in issued_for(harness.standin, call.call_id)


def test_describe_offers_if_exists_and_the_ready_definition_adopts(harness):
    info = harness.adapter.call("describe")
    [field] = [f for f in info["definition_fields"] if f["path"] == "ifExists"]
    assert field["allowed_values"] == ["fail", "adopt"] and field["default_value"] == "fail"
    for scope in ("dedicated_inference:read", "dedicated_inference_tokens:create"):
        assert scope in field["description"] and scope in info["description"]
    assert json.loads(info["default_definition"])["ifExists"] == "adopt"
