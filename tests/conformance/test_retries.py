"""A retried step, end to end: an engine-like driver applies a retry policy over `execute`
against the stand-in, with faults on chosen attempts, in each host, in two modes of the
stand-in: names unique within the team (the API's documented behaviour), and a test mode that
creates a second inference under a taken name (`--duplicate-names`), which shows what the
component itself does, without the API's uniqueness to lean on. The wide exploration (random
schedules) is native (tests/retries.rs). Asserted here, from the stand-in's own records:

  - one POST per attempt, and none after an attempt whose 2xx status line reached the client;
  - with unique names, never a second inference for one step;
  - with duplicate names, a second one only from the retry of an ambiguous failure (the
    request went out, no status came back), which is exactly what `ifExists` will address."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from kit.harness import API_TOKEN, StandIn
from launcher import NO_RATE_LIMITS, running_standin

#: Faults whose 2xx head reaches the client at once (a plain create is None): once such an
#: attempt's record shows a 2xx, the step must send nothing more.
HEAD_ARRIVES = {None, "reset-mid-body", "truncated"}

#: (name, the fault of each attempt (None: a plain create), maxAttempts,
#:  how the step ends and how many inferences it leaves, with unique names / duplicate names)
SCHEDULES = [
    # The API created it after the step gave up waiting: the retry meets the name taken, or,
    # without uniqueness, makes a second one.
    ("timeout after the create, then a retry", ["slow-first-byte=1500", None], 3, ("taken", 1), ("ok", 2)),
    ("rate limited, then a retry", ["rate-limit=1", None], 3, ("ok", 1), ("ok", 1)),
    ("two server errors, attempts spent", ["server-error", "server-error", None], 2, ("retryable", 0), ("retryable", 0)),
    # A fault's 202 stores nothing: what counts is that nothing follows it.
    ("the 202's body broke off: no retry", ["reset-mid-body", None], 3, ("final", 0), ("final", 0)),
    ("refused, then a retry", ["refused", None], 2, ("ok", 1), ("ok", 1)),
    ("a plain create, then nothing", [None, None], 3, ("ok", 1), ("ok", 1)),
]
MODES = ["unique names", "duplicate names"]


@pytest.fixture(scope="module")
def duplicating_standin():
    with running_standin((*NO_RATE_LIMITS, "--duplicate-names")) as api:
        yield StandIn(api.url)


def instances(standin: StandIn, name: str) -> int:
    """How many inferences the stand-in holds under `name` (the list's undocumented `name`
    filter, which the Go client and doctl use)."""
    request = urllib.request.Request(
        f"{standin.url}/v2/dedicated-inferences?name={name}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["meta"]["total"]


def creates_for(standin: StandIn, name: str) -> list[dict]:
    """The stand-in's records of the POSTs that asked for `name`, in the order they came."""
    def asked(record: dict) -> str | None:
        try:
            return json.loads(record["body"])["spec"]["name"]
        except (ValueError, KeyError, TypeError):
            return None

    return sorted((r for r in standin.records() if asked(r) == name), key=lambda r: r["seq"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,faults,max_attempts,unique,duplicates", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_a_retried_step(harness, duplicating_standin, mode, name, faults, max_attempts, unique, duplicates):
    api = harness.standin if mode == "unique names" else duplicating_standin
    ending, expected_instances = unique if mode == "unique names" else duplicates
    step_name = None
    results = []
    for attempt in range(max_attempts):
        fault = faults[attempt] if attempt < len(faults) else None
        url = "http://127.0.0.1:9/v2/dedicated-inferences" if fault == "refused" else f"{api.url}/v2/dedicated-inferences"
        # `ifExists: fail`: what a retry does without adopting (test_adopt.py: with it).
        call = harness.prepare(fault=None if fault == "refused" else fault, url=url, read_timeout=1, if_exists="fail")
        if step_name is None:
            step_name = call.parameters["name"]
        call.parameters["name"] = step_name  # every attempt is the same step
        # The harness counts POSTs on the session's stand-in; this one counts its own below.
        result = harness.call("execute", call, posts=None, issued_by=lambda call_id: [
            r["issued_token"] for r in api.records(call_id) if r.get("issued_token")])
        assert len(api.records(call.call_id)) == (0 if fault == "refused" else 1)
        results.append(result)
        if "ok" in result or not result["err"]["retryable"]:
            break
        # The engine waits: the larger of its interval (1 s) and what the API asked for.
        time.sleep(max(1.0, (result["err"]["retry_after_ms"] or 0) / 1000))

    # From the stand-in's records: nothing was sent after a 2xx head reached the client.
    records = creates_for(api, step_name)
    for index, record in enumerate(records):
        if record["fault"] in HEAD_ARRIVES and record["status"] is not None and 200 <= record["status"] < 300:
            assert index == len(records) - 1, f"a create followed the 2xx of POST {record['seq']}: {records}"

    last = results[-1]
    if ending == "ok":
        assert "ok" in last, last
    elif ending == "taken":
        failure = last["err"]
        assert (failure["kind"], failure["retryable"]) == ("http-status", False), failure
        assert "earlier attempt of this same step" in failure["message"], failure["message"]
    elif ending == "retryable":
        assert len(results) == max_attempts and last["err"]["retryable"], last
    else:
        assert len(results) == 1 and not last["err"]["retryable"], last
    assert instances(api, step_name) == expected_instances
