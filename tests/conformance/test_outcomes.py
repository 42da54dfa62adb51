"""Every row of the outcome table (README, "What the calls return"), through both test-request and execute, in
each host, against the stand-in (or a port nobody listens on)."""

import json

import pytest

from kit.harness import MASK, free_port


def step_output(result: dict) -> dict:
    return json.loads(result["ok"])


def failure(result: dict) -> dict:
    assert "err" in result, f"expected a step failure, got {result}"
    return result["err"]


def test_accepted(harness):
    call = harness.prepare()
    result = harness.call("test_request", call)
    assert result["outcome"] == "accepted"
    assert result["response"]["status"] == 202
    summary = result["summary"]
    name = call.parameters["name"]
    assert summary.startswith(f"202 Accepted: the dedicated inference `{name}` was created"), summary
    assert "not ready yet" in summary and "store it now" in summary
    new_id = json.loads(result["response"]["body"])["dedicated_inference"]["id"]
    assert f"DELETE /v2/dedicated-inferences/{new_id}" in summary
    assert f"POST /v2/dedicated-inferences/{new_id}/tokens" in summary
    assert result["diagnostics"] == []
    [(name, token)] = result["revealed_secrets"]
    assert name == "token.value" and token.startswith("dit_")
    assert json.loads(result["response"]["body"])["token"]["value"] == MASK
    assert isinstance(result["elapsed_ms"], int) and result["elapsed_ms"] >= 0


def test_a_plain_create_is_the_one_exchange(harness):
    """0.2.0: `exchanges` lists every exchange of the call; a create accepted at once made
    exactly one, the create, and it is the `request` and `response` of the result."""
    result = harness.call("test_request", harness.prepare())
    assert result["outcome"] == "accepted"
    [exchange] = result["exchanges"]
    assert exchange == {"request": result["request"], "response": result["response"], "error": None}
    assert exchange["request"]["method"] == "POST" and exchange["response"]["status"] == 202


def test_nothing_sent_is_no_exchange(harness):
    def bad_scale(_, parameters):
        parameters["model"]["scale"] = 0

    result = harness.call("test_request", harness.prepare(edit=bad_scale), posts=0)
    assert result["outcome"] == "invalid" and result["exchanges"] == []


def test_a_refused_connection_is_one_exchange_with_its_error(harness):
    call = harness.prepare(url=f"http://127.0.0.1:{free_port()}/v2/dedicated-inferences")
    result = harness.call("test_request", call, posts=None)
    assert result["outcome"] == "unreachable"
    [exchange] = result["exchanges"]
    assert exchange["request"] == result["request"] and exchange["response"] is None
    assert exchange["error"], exchange


def test_accepted_execute_returns_the_step_output_with_the_token(harness):
    call = harness.prepare()
    output = step_output(harness.call("execute", call))
    assert output["statusCode"] == 202
    assert output["headers"]["content-type"].startswith("application/json")
    assert output["body"]["dedicated_inference"]["spec"]["name"] == call.parameters["name"]
    assert output["body"]["dedicated_inference"]["status"] == "provisioning"
    [record] = harness.standin.records(call.call_id)
    assert output["body"]["token"]["value"] == record["issued_token"]


def test_other_2xx_succeeds(harness):
    call = harness.prepare(fault="status=200")
    assert harness.call("test_request", call)["outcome"] == "succeeded"
    call = harness.prepare(fault="status=200")
    assert step_output(harness.call("execute", call))["statusCode"] == 200


def test_text_2xx_body_is_text(harness):
    call = harness.prepare(fault="not-json")
    assert harness.call("test_request", call)["outcome"] == "succeeded"
    call = harness.prepare(fault="not-json")
    assert step_output(harness.call("execute", call))["body"] == "accepted, but not JSON"


# (fault or setup, status, outcome, retryable)
# 429 and 5xx are in the fault matrix (test_fault_matrix.py).
REJECTIONS = [
    ("status=400", 400, "rejected", False),
    ("status=404", 404, "rejected", False),
    ("status=408", 408, "rejected", True),
]


@pytest.mark.parametrize("fault,status,outcome,retryable", REJECTIONS)
def test_status_rows(harness, fault, status, outcome, retryable):
    result = harness.call("test_request", harness.prepare(fault=fault))
    assert result["outcome"] == outcome
    assert result["response"]["status"] == status
    assert result["summary"].startswith(str(status)), result["summary"]
    f = failure(harness.call("execute", harness.prepare(fault=fault)))
    assert (f["kind"], f["retryable"]) == ("http-status", retryable)
    assert json.loads(f["response"])["statusCode"] == status


def test_non_json_error_page_is_text_in_the_step_output(harness):
    f = failure(harness.call("execute", harness.prepare(fault="html-error")))
    body = json.loads(f["response"])["body"]
    assert isinstance(body, str) and "<html" in body.lower()
    assert "not the API's JSON error (text/html" in f["message"]


def test_unauthorized(harness):
    call = harness.prepare()
    call.secrets = {"token": "dop_v1_short"}
    result = harness.call("test_request", call)
    assert result["outcome"] == "rejected" and result["response"]["status"] == 401
    assert "Check the API token" in result["summary"]
    call = harness.prepare()
    call.secrets = {"token": "not-a-digitalocean-token"}
    f = failure(harness.call("execute", call))
    assert (f["kind"], f["retryable"], f["retry_after_ms"]) == ("http-status", False, None)


def test_no_token_is_a_warning_and_the_api_says_401(harness):
    call = harness.prepare()
    call.secrets = {}
    result = harness.call("test_request", call)
    assert result["outcome"] == "rejected" and result["response"]["status"] == 401
    [warning] = result["diagnostics"]
    assert warning["severity"] == "warning" and warning["path"] == "httpRequest.headers.Authorization"


def test_unsupported_media_type(harness):
    def text_plain(definition, _):
        definition["httpRequest"]["headers"]["Content-Type"] = "text/plain"

    result = harness.call("test_request", harness.prepare(edit=text_plain))
    assert result["outcome"] == "rejected" and result["response"]["status"] == 415
    assert result["diagnostics"][0]["path"] == "httpRequest.headers.Content-Type"


def test_a_taken_name_is_rejected_for_good(harness):
    """A second create of the same name (an engine retrying a step whose create went through)
    is refused: rejected, not retryable, and the message says why it may have happened.
    That is `ifExists: fail`; the ready definition adopts instead."""
    first = harness.prepare()
    assert harness.call("test_request", first)["outcome"] == "accepted"
    name = first.parameters["name"]

    def same_name(definition, parameters):
        definition["ifExists"] = "fail"
        parameters["name"] = name

    result = harness.call("test_request", harness.prepare(edit=same_name))
    assert result["outcome"] == "rejected" and result["response"]["status"] in (409, 422)
    assert "earlier attempt of this same step" in result["summary"], result["summary"]
    f = failure(harness.call("execute", harness.prepare(edit=same_name)))
    assert (f["kind"], f["retryable"]) == ("http-status", False)


def test_an_accepted_create_whose_body_breaks_off_is_never_retryable(harness):
    """`ifExists: fail`: the step says how to find the instance (adopt would look it up)."""
    result = harness.call("test_request", harness.prepare(fault="reset-mid-body", if_exists="fail"))
    assert result["response"]["status"] == 202 and result["response"]["body"] == ""
    assert result["revealed_secrets"] == []
    summary = result["summary"]
    assert "The dedicated inference was created." in summary and "Do not run the step again" in summary, summary
    assert "GET /v2/dedicated-inferences" in summary and "/tokens" in summary, summary
    f = failure(harness.call("execute", harness.prepare(fault="reset-mid-body", if_exists="fail")))
    assert f["retryable"] is False
    assert json.loads(f["response"])["body"] is None


def test_slow_but_within_timeouts_is_fine(harness):
    result = harness.call("test_request", harness.prepare(fault="slow-first-byte=500", read_timeout=2))
    assert result["outcome"] == "accepted" and result["elapsed_ms"] >= 450


def test_body_over_the_bound_shows_its_first_mebibyte(harness):
    result = harness.call("test_request", harness.prepare(fault=f"large={8 * 1024 * 1024}"))
    view = result["response"]
    assert view["truncated"] and len(view["body"].encode()) <= 1024 * 1024
    assert "larger than 4 MiB" in result["summary"]


def test_body_between_display_and_read_bounds(harness):
    result = harness.call("test_request", harness.prepare(fault=f"large={2 * 1024 * 1024}"))
    assert result["outcome"] == "accepted" and result["response"]["truncated"]
    assert "larger than" not in result["summary"]
    output = step_output(harness.call("execute", harness.prepare(fault=f"large={2 * 1024 * 1024}")))
    assert output["statusCode"] == 202 and output["body"]["token"]["value"].startswith("dit_")


def test_invalid_utf8_is_replaced_in_the_view(harness):
    result = harness.call("test_request", harness.prepare(fault="invalid-utf8"))
    assert "\ufffd" in result["response"]["body"]


def test_invalid_request_is_never_sent(harness):
    def bad_scale(_, parameters):
        parameters["model"]["scale"] = 0

    result = harness.call("test_request", harness.prepare(edit=bad_scale), posts=0)
    assert result["outcome"] == "invalid" and result["response"] is None
    assert result["request"] is not None
    assert result["diagnostics"][0]["path"] == "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"
    f = failure(harness.call("execute", harness.prepare(edit=bad_scale), posts=0))
    assert (f["kind"], f["retryable"], f["response"]) == ("invalid-request", False, None)
