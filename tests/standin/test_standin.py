"""The stand-in (standin/standin.py) through its CLI and in-process: the create operation's
checks and answers, the faults, the records, concurrency and robustness. test_lifecycle.py
covers the other routes and the inferences' states, test_access.py tokens, scopes, rate
limits and CORS, and test_description.py every answer against the API description."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from standin_client import (
    GO_CLIENT_SECRET,
    HF_TOKEN,
    PATH,
    RFC3339_UTC,
    TOKEN,
    UUID,
    Api,
    assert_error,
    create_body,
    read_until_closed,
    running,
    spawn,
    split_answer,
    standin,
    unlimited,
)


# --- The CLI and the class ---


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_ready_and_exits_cleanly_on_signal(stop_signal: signal.Signals) -> None:
    process, url = spawn()
    try:
        assert Api(url).request("GET", "/__standin/health").json() == {"ok": True}
        process.send_signal(stop_signal)
        assert process.wait(timeout=5) == 0
    finally:
        process.kill()
        process.wait()


def test_class_in_process_records_and_does_not_leak_threads() -> None:
    with standin.StandIn(host="127.0.0.1", port=0) as server:
        client = Api(server.url)
        assert client.create(X_Call_Id="in-process").status == 202
        threads_before = threading.active_count()
        for _ in range(200):  # a new connection each time: each gets its own thread
            assert client.request("GET", "/__standin/health").status == 200
        time.sleep(0.1)
        assert threading.active_count() <= threads_before + 1
        assert [(r["seq"], r["call_id"], r["status"]) for r in server.requests()] == [(1, "in-process", 202)]
    with pytest.raises(OSError):
        client.request("GET", "/__standin/health")


# --- 202 ---


def test_created_202_has_the_documented_shape(api: Api) -> None:
    body = create_body()
    answer = api.create(body)
    assert answer.status == 202
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    document = answer.json()
    assert set(document) == {"dedicated_inference", "token"}
    inference, token = document["dedicated_inference"], document["token"]
    spec = body["spec"]
    assert UUID.fullmatch(inference["id"])
    assert inference["name"] == spec["name"]
    assert inference["region"] == "tor1"
    assert inference["vpc_uuid"] == spec["vpc"]["uuid"]
    assert inference["status"] == "provisioning"
    host = r"https://[0-9a-z]{25}-%s-dedicated-inference\.do-infra\.ai"
    assert re.fullmatch(host % "public", inference["endpoints"]["public_endpoint_fqdn"])
    assert re.fullmatch(host % "private", inference["endpoints"]["private_endpoint_fqdn"])
    # The request's spec, with the ids and states the API fills in.
    [deployment] = inference["spec"].pop("model_deployments")
    assert UUID.fullmatch(deployment.pop("model_id"))
    assert [a.pop("status") for a in deployment["accelerators"]] == ["provisioning"]
    assert inference["spec"] == {k: v for k, v in spec.items() if k != "model_deployments"}
    assert deployment == spec["model_deployments"][0]
    pending = inference["pending_deployment_spec"]
    assert pending["status"] == "provisioning" and UUID.fullmatch(pending["id"])
    assert (pending["name"], pending["vpc"]) == (spec["name"], spec["vpc"])
    assert RFC3339_UTC.fullmatch(inference["created_at"]) and RFC3339_UTC.fullmatch(inference["updated_at"])
    assert UUID.fullmatch(token["id"])
    assert token["name"] == f"{spec['name']}-token"
    assert RFC3339_UTC.fullmatch(token["created_at"])
    assert token["is_managed"] is True
    assert re.fullmatch(r"dit_[0-9a-f]{40}", token["value"])


def test_a_model_id_sent_is_kept(api: Api) -> None:
    body = create_body()
    body["spec"]["model_deployments"][0]["model_id"] = "kept-id"
    inference = api.create(body).json()["dedicated_inference"]
    assert inference["spec"]["model_deployments"][0]["model_id"] == "kept-id"


def test_request_secrets_are_never_echoed(api: Api) -> None:
    body = create_body()
    body["spec"]["access_tokens"] = {"hugging_face_token": HF_TOKEN}  # misplaced, still secret
    for answer in (
        api.create(body),
        api.create(body),
        api.request("GET", PATH + "/x", headers={"Authorization": f"Bearer {TOKEN}"}),
    ):
        assert HF_TOKEN.encode() not in answer.body and GO_CLIENT_SECRET.encode() not in answer.body


def test_each_create_returns_a_fresh_token(api: Api) -> None:
    values = {api.create().json()["token"]["value"] for _ in range(3)}
    assert len(values) == 3


def test_private_only_inference_has_no_public_endpoint(api: Api) -> None:
    endpoints = api.created(enable_public_endpoint=False)["endpoints"]
    assert set(endpoints) == {"private_endpoint_fqdn"}


def test_undocumented_region_and_oauth_token_are_accepted(api: Api) -> None:
    assert api.create(create_body(region="ams9"), token="doo_v1_" + "ab" * 32).status == 202


def test_json_media_type_parameters_and_case_are_ignored(api: Api) -> None:
    body = json.dumps(create_body()).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "Application/JSON; charset=utf-8"}
    assert api.request("POST", PATH, body, headers).status == 202


# --- 401, 415, 422 ---



@pytest.mark.parametrize(
    "token",
    [None, "", "dop_v1_short", "xyz_v1_" + "0" * 64, "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty", "too-short", "unknown-prefix", "basic"],
)
def test_bad_token_is_401(api: Api, token: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = token if token.startswith("Basic") else f"Bearer {token}"
    document = assert_error(
        api.request("POST", PATH, json.dumps(create_body()).encode(), headers), 401, "unauthorized"
    )
    assert document["message"] == "Unable to authenticate you."


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_415(api: Api, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    assert_error(
        api.request("POST", PATH, json.dumps(create_body()).encode(), headers), 415, "unsupported_media_type"
    )


def first_accelerator(body: dict[str, Any]) -> dict[str, Any]:
    accelerator: dict[str, Any] = body["spec"]["model_deployments"][0]["accelerators"][0]
    return accelerator


# How to break a valid body, and the start of the 422's message.
INVALID_BODIES: list[tuple[Callable[[dict[str, Any]], Any], str]] = [
    (lambda b: b.pop("spec"), "spec: is required"),
    (lambda b: b["spec"].pop("version"), "spec.version: is required"),
    (lambda b: b["spec"].update(version="1"), "spec.version: expected integer, found string"),
    (lambda b: b["spec"].update(version=True), "spec.version: expected integer, found boolean"),
    (lambda b: b["spec"].update(name="has space"), "spec.name: must match"),
    (lambda b: b["spec"].update(name=""), "spec.name: must be 1 to 255 characters long, found 0"),
    (
        lambda b: b["spec"].update(name="a" * 256),
        "spec.name: must be 1 to 255 characters long, found 256",
    ),
    (lambda b: b["spec"].update(region=7), "spec.region: expected string, found integer"),
    (lambda b: b["spec"]["vpc"].pop("uuid"), "spec.vpc.uuid: is required"),
    (lambda b: b["spec"]["vpc"].update(uuid="vpc-1"), "spec.vpc.uuid: must be a UUID"),
    (
        lambda b: b["spec"].update(enable_public_endpoint="yes"),
        "spec.enable_public_endpoint: expected boolean",
    ),
    (
        lambda b: b["spec"].update(model_deployments=[]),
        "spec.model_deployments: must have at least one item",
    ),
    (
        lambda b: first_accelerator(b).update(scale=0),
        "spec.model_deployments[0].accelerators[0].scale: must be at least 1",
    ),
    (
        lambda b: first_accelerator(b).update(scale=1.5),
        "spec.model_deployments[0].accelerators[0].scale: expected integer, found number",
    ),
    (
        lambda b: first_accelerator(b).pop("accelerator_slug"),
        "spec.model_deployments[0].accelerators[0].accelerator_slug: is required",
    ),
    (lambda b: b.update(access_tokens="hf_x"), "access_tokens: expected object, found string"),
    (
        lambda b: b.update(access_tokens={"hugging_face_token": 7}),
        "access_tokens.hugging_face_token: expected string, found integer",
    ),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(*case, id=case[1]) for case in INVALID_BODIES])
def test_invalid_body_is_422_naming_the_field(
    api: Api, change: Callable[[dict[str, Any]], Any], message: str
) -> None:
    body = create_body()
    change(body)
    document = assert_error(api.create(body), 422, "unprocessable_entity")
    assert document["message"].startswith(message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "body: is not valid JSON"), (b"[1]", "body: expected object, found array")],
)
def test_body_that_is_not_an_object_is_422(api: Api, raw: bytes, message: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert assert_error(api.request("POST", PATH, raw, headers), 422, "unprocessable_entity")[
        "message"
    ].startswith(message)


@pytest.mark.parametrize(("status", "error_id"), [(422, "unprocessable_entity"), (409, "conflict")])
def test_a_taken_name_is_refused_with_the_status_chosen(status: int, error_id: str) -> None:
    with running(*unlimited("--taken-name-status", str(status))) as api:
        body = create_body()
        assert api.create(body).status == 202
        document = assert_error(api.create(body), status, error_id)
        assert document["message"] == f"spec.name: {body['spec']['name']!r} is already in use"
        assert api.create(create_body()).status == 202  # other names are free


# --- Other routes ---


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("PUT", PATH),
        ("POST", PATH + "/x"),
        ("PATCH", PATH + "/x"),
        ("GET", PATH + "/x/tokens"),
        ("GET", "/v2/droplets"),
    ],
)
def test_anything_else_is_404(api: Api, method: str, path: str) -> None:
    document = assert_error(api.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"}), 404, "not_found")
    assert document["message"] == "The resource you requested could not be found."


def test_every_answer_carries_rate_limit_headers_and_a_request_id(api: Api) -> None:
    token = "dop_v1_" + "ab12" * 8  # a budget of its own
    started = time.time()
    answers = [
        api.create(token=token),
        api.create({}, token=token),
        api.create(token=None),
        api.fault("server-error", Authorization=f"Bearer {token}"),
        api.request("GET", "/__standin/health", headers={"Authorization": f"Bearer {token}"}),
        api.request("GET", "/nowhere"),
    ]
    for answer in answers:
        assert int(answer.headers["ratelimit-limit"]) > 0
        assert int(answer.headers["ratelimit-reset"]) >= started
        assert UUID.fullmatch(answer.headers["x-request-id"])
    remaining = [int(a.headers["ratelimit-remaining"]) for a in answers]
    limit = int(answers[0].headers["ratelimit-limit"])
    # Counted per token; the control route only shows the budget.
    assert remaining[0:2] + remaining[3:5] == [limit - 1, limit - 2, limit - 3, limit - 3]
    # The oldest counted request of the token expires an hour after it was made.
    assert started + 3600 <= int(answers[0].headers["ratelimit-reset"]) <= time.time() + 3601
    assert len({a.headers["x-request-id"] for a in answers}) == len(answers)


def test_keep_alive_serves_several_requests_on_one_connection(api: Api) -> None:
    connection = http.client.HTTPConnection(api.host, api.port, timeout=10)
    try:
        statuses = []
        for _ in range(3):
            connection.request("GET", "/__standin/health")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            sock = connection.sock
        connection.request(
            "POST",
            PATH,
            body=json.dumps(create_body()),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        assert statuses == [200, 200, 200] and response.status == 202
        assert connection.sock is sock
    finally:
        connection.close()


# --- Faults ---


@pytest.mark.parametrize(("mode", "retry_after"), [("rate-limit", "7"), ("rate-limit=3", "3")])
def test_rate_limit_sends_retry_after_seconds(api: Api, mode: str, retry_after: str) -> None:
    answer = api.fault(mode)
    assert_error(answer, 429, "too_many_requests")
    assert answer.headers["Retry-After"] == retry_after
    assert answer.headers["ratelimit-remaining"] == "0"  # as the description's burst 429


@pytest.mark.parametrize(("mode", "seconds"), [("rate-limit-date", 30), ("rate-limit-date=90", 90)])
def test_rate_limit_date_sends_an_http_date(api: Api, mode: str, seconds: int) -> None:
    answer = api.fault(mode)
    assert_error(answer, 429, "too_many_requests")
    value = answer.headers["Retry-After"]
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", value)
    assert answer.headers["ratelimit-remaining"] == "0"
    assert seconds - 2 <= parsedate_to_datetime(value).timestamp() - time.time() <= seconds


def test_rate_limit_reset_sends_remaining_zero_and_reset(api: Api) -> None:
    answer = api.fault("rate-limit-reset=20")
    assert_error(answer, 429, "too_many_requests")
    assert "Retry-After" not in answer.headers
    assert answer.headers["ratelimit-remaining"] == "0"
    assert 18 <= int(answer.headers["ratelimit-reset"]) - time.time() <= 20
    assert 18 <= int(api.fault("rate-limit-reset").headers["ratelimit-reset"]) - time.time() <= 20


def test_rate_limit_bare_has_no_retry_hint(api: Api) -> None:
    answer = api.fault("rate-limit-bare")
    assert_error(answer, 429, "too_many_requests")
    assert "Retry-After" not in answer.headers
    assert int(answer.headers["ratelimit-remaining"]) > 0


@pytest.mark.parametrize(
    ("mode", "status", "error_id"),
    [
        ("status=404", 404, "not_found"),
        ("status=408", 408, "request_timeout"),
        ("status=500", 500, "server_error"),
        ("server-error", 500, "server_error"),
        ("status=503", 503, "service_unavailable"),
    ],
)
def test_status_fault_answers_in_the_error_shape(api: Api, mode: str, status: int, error_id: str) -> None:
    assert_error(api.fault(mode), status, error_id)


def test_status_fault_with_2xx_answers_success(api: Api) -> None:
    for status in (200, 201):
        answer = api.fault(f"status={status}")
        assert (answer.status, answer.json()) == (status, {"ok": True})
    accepted = api.fault("status=202")
    assert accepted.status == 202 and "token" in accepted.json()
    no_content = api.fault("status=204")
    assert (no_content.status, no_content.body) == (204, b"")


@pytest.mark.parametrize(
    "mode", ["no-such-mode", "status", "status=abc", "status=99", "large=10", "slow-body"]
)
def test_unknown_fault_or_bad_argument_is_400_naming_it(api: Api, mode: str) -> None:
    document = assert_error(api.fault(mode), 400, "bad_request")
    assert mode.partition("=")[0] in document["message"]


@pytest.mark.parametrize(("mode", "status"), [("html-error", 502), ("html-error=503", 503)])
def test_html_error_is_not_json(api: Api, mode: str, status: int) -> None:
    answer = api.fault(mode)
    assert answer.status == status
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.body.startswith(b"<html>") and str(status).encode() in answer.body
    with pytest.raises(ValueError):
        answer.json()


def test_not_json_is_200_text(api: Api) -> None:
    answer = api.fault("not-json")
    assert (answer.status, answer.headers["Content-Type"], answer.body) == (
        200,
        "text/plain",
        b"accepted, but not JSON",
    )


def test_invalid_utf8_is_202_json_with_bad_bytes(api: Api) -> None:
    answer = api.fault("invalid-utf8")
    assert answer.status == 202 and answer.headers["Content-Type"] == "application/json"
    assert b'"\xff\xfe"' in answer.body
    with pytest.raises(UnicodeDecodeError):
        answer.body.decode("utf-8")
    assert "token" in json.loads(answer.body.decode("latin-1"))


def test_large_body_has_exactly_the_size_asked(api: Api) -> None:
    answer = api.fault("large=1000000")
    assert answer.status == 202 and answer.headers["Content-Type"] == "application/json"
    assert int(answer.headers["Content-Length"]) == len(answer.body) == 1_000_000
    document = answer.json()
    assert "dedicated_inference" in document and set(document["padding"]) == {"x"}


def test_large_body_survives_a_client_that_leaves(api: Api) -> None:
    sock = api.raw("large=50000000")
    sock.recv(1000)
    sock.close()
    assert api.request("GET", "/__standin/health").status == 200


def test_slow_first_byte_delays_a_normal_answer(api: Api) -> None:
    start = time.monotonic()
    accepted = api.create(X_Standin_Fault="slow-first-byte=300")
    assert accepted.status == 202 and time.monotonic() - start >= 0.3
    assert api.create(token=None, X_Standin_Fault="slow-first-byte=50").status == 401  # checks still apply


def test_slow_body_pauses_after_half_the_body(api: Api) -> None:
    body = json.dumps(create_body()).encode()
    sock = socket.create_connection((api.host, api.port), timeout=10)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: standin\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nX-Standin-Fault: slow-body=400\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    start = time.monotonic()
    sock.sendall(head.encode() + body)
    first = sock.recv(65536)
    first_at = time.monotonic() - start
    status, headers, received = split_answer(first)
    while len(received) < int(headers["content-length"]):
        received += sock.recv(65536)
    sock.close()
    assert status == 202 and first_at < 0.3 and time.monotonic() - start >= 0.4
    assert 0 < len(split_answer(first)[2]) < len(received)
    assert "token" in json.loads(received)


def test_reset_aborts_without_a_status(api: Api) -> None:
    sock = api.raw("reset", b'{"spec": {}}')
    with pytest.raises(ConnectionResetError):
        sock.recv(65536)
    sock.close()
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        api.fault("reset")


def test_reset_mid_body_aborts_after_half_the_body(api: Api) -> None:
    sock = api.raw("reset-mid-body")
    received = b""
    with pytest.raises(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    sock.close()
    status, headers, body = split_answer(received)
    assert status == 202 and 0 < len(body) < int(headers["content-length"])


def test_truncated_closes_cleanly_before_content_length(api: Api) -> None:
    sock = api.raw("truncated")
    status, headers, body = split_answer(read_until_closed(sock))  # ends with EOF, not a reset
    sock.close()
    assert status == 202 and 0 < len(body) < int(headers["content-length"])
    with pytest.raises(http.client.IncompleteRead):
        api.fault("truncated")


# --- Records, concurrency, robustness ---


def test_records_note_each_post_with_its_call_id_and_status(api: Api) -> None:
    assert api.request("DELETE", "/__standin/requests").status == 204
    body = create_body()
    created_answer = api.create(body, X_Call_Id="rec-created")
    api.create(body, X_Call_Id="rec-duplicate")
    with api.raw("reset") as sock, pytest.raises(ConnectionResetError):
        sock.recv(100)
    api.fault("rate-limit=5", X_Call_Id="rec-limited")
    records = api.records()
    assert [r["call_id"] for r in records] == ["rec-created", "rec-duplicate", None, "rec-limited"]
    assert [r["status"] for r in records] == [202, 422, None, 429]
    assert [r["fault"] for r in records] == [None, None, "reset", "rate-limit=5"]
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    created = records[0]
    assert json.loads(created["body"]) == body
    assert created["content_length"] == len(created["body"].encode())
    assert created["headers"]["x-call-id"] == "rec-created"
    assert created["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert all(name == name.lower() for name in created["headers"])
    assert (records[2]["content_length"], records[2]["body"]) == (None, "")
    assert (records[3]["content_length"], records[3]["body"]) == (0, "")
    assert isinstance(created["time"], float) and created["time"] <= records[3]["time"]
    assert created["path"] == "/v2/dedicated-inferences"
    assert created["issued_token"] == json.loads(created_answer.body)["token"]["value"]
    assert "issued_token" not in records[1]


def test_32_concurrent_posts_are_all_answered(api: Api) -> None:
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(
            pool.map(lambda _: api.create(X_Standin_Fault="slow-first-byte=300").status, range(32))
        )
    assert statuses == [202] * 32
    assert time.monotonic() - start < 3  # one after the other would take 9.6 s


def test_malformed_requests_and_vanishing_clients_do_not_stop_the_server(api: Api) -> None:
    sock = socket.create_connection((api.host, api.port), timeout=10)
    sock.sendall(b"GARBAGE\r\n\r\n")
    status, _, body = split_answer(read_until_closed(sock))
    sock.close()
    assert status == 400 and json.loads(body)["id"] == "bad_request"
    for request in (
        b"",
        b"POST " + PATH.encode() + b' HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"spec',
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ):
        sock = socket.create_connection((api.host, api.port), timeout=10)
        sock.sendall(request)
        sock.close()
    chunked = api.request("POST", PATH, body=iter([b"{}"]), headers={"Transfer-Encoding": "chunked"})
    assert_error(chunked, 411, "length_required")
    assert api.request("GET", "/__standin/health").json() == {"ok": True}


# --- What adopt's tests need: faults that create for real, duplicates, minted tokens ---


def names(api: Api, name: str) -> int:
    return api.call("GET", f"{PATH}?name={name}").json()["meta"]["total"]


@pytest.mark.parametrize("mode", ["created-then-silence=100", "created-then-reset", "created-then-reset-mid-body"])
def test_a_created_then_fault_creates_for_real_and_records_the_token(api: Api, mode: str) -> None:
    body = create_body()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        answer = api.create(body, X_Standin_Fault=mode)
        answer.json()  # a half body does not parse, if the read got that far
        raise ConnectionError("read a whole answer")
    assert names(api, body["spec"]["name"]) == 1
    [record] = [r for r in api.records() if f'"{body["spec"]["name"]}"' in r["body"]]
    assert record["issued_token"].startswith("dit_")


def test_a_concurrent_creator_takes_the_name_first(api: Api) -> None:
    body = create_body()
    answer = api.create(body, X_Standin_Fault="concurrent-create")
    assert_error(answer, 422, "unprocessable_entity")
    assert names(api, body["spec"]["name"]) == 1


def test_duplicate_names_mode_creates_a_second_instance() -> None:
    with running(*unlimited("--duplicate-names")) as api:
        body = create_body()
        assert api.create(body).status == 202
        assert api.create(body).status == 202
        assert names(api, body["spec"]["name"]) == 2


def test_minted_tokens_are_recorded_for_the_tests(api: Api) -> None:
    inference = api.created()
    answer = api.call("POST", f"{PATH}/{inference['id']}/tokens", {"name": "ci-mint"}, X_Call_Id="c-1")
    assert answer.status == 202
    minted = api.request("GET", "/__standin/tokens").json()
    assert {"inference_id": inference["id"], "call_id": "c-1", "name": "ci-mint",
            "value": answer.json()["token"]["value"]} in minted
