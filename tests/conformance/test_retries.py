"""A retried step, end to end: an engine-like driver applies a retry policy over `execute`
against the stand-in, with faults on chosen attempts, in each host. The wide exploration (2,000
randomized schedules) is native (tests/retries.rs); these schedules check the same promises on
the wire: one POST per attempt, no retry after a 2xx, never a second resource for one step."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from kit.harness import API_TOKEN

#: (name, the fault of each attempt (None: a plain create), maxAttempts, how the step ends)
SCHEDULES = [
    # The API created it after the step gave up waiting: the retry finds the name taken.
    ("timeout after the create, then a retry", ["slow-first-byte=1500", None], 3, "taken"),
    ("rate limited, then a retry", ["rate-limit=1", None], 3, "ok"),
    ("two server errors, attempts spent", ["server-error", "server-error", None], 2, "retryable"),
    ("the 202's body broke off: no retry", ["reset-mid-body", None], 3, "final"),
    ("refused, then a retry", ["refused", None], 2, "ok"),
]


def instances(standin, name: str) -> int:
    """How many inferences the stand-in holds under `name` (the list's undocumented `name`
    filter, which the Go client and doctl use)."""
    request = urllib.request.Request(
        f"{standin.url}/v2/dedicated-inferences?name={name}", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["meta"]["total"]


@pytest.mark.parametrize("name,faults,max_attempts,ending", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_a_retried_step(harness, name, faults, max_attempts, ending):
    step_name = None
    results = []
    for attempt in range(max_attempts):
        fault = faults[attempt] if attempt < len(faults) else None
        url = "http://127.0.0.1:9/v2/dedicated-inferences" if fault == "refused" else None
        call = harness.prepare(fault=None if fault == "refused" else fault, url=url, read_timeout=1)
        if step_name is None:
            step_name = call.parameters["name"]
        call.parameters["name"] = step_name  # every attempt is the same step
        result = harness.call("execute", call, posts=0 if fault == "refused" else 1)
        results.append(result)
        if "ok" in result or not result["err"]["retryable"]:
            break
        # The engine waits: the larger of its interval (1 s) and what the API asked for.
        time.sleep(max(1.0, (result["err"]["retry_after_ms"] or 0) / 1000))
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
    # Whatever happened, the step made one dedicated inference at most.
    assert instances(harness.standin, step_name) <= 1
