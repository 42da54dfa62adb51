"""Every answer the stand-in gives, on every route, for every status and every fault mode that
produces JSON, against what DigitalOcean's API description documents for that operation and
status (fixtures/openapi/dedicated-inferences.json): the rate-limit headers, the media type and
a body valid against the response's JSON Schema (formats checked), or no body where the
description has none. A status the operation does not list is held to its `default` response
(the error shape). Answers outside any operation (an unknown path, a malformed request) are
held to the description's error shape."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from standin_client import (
    PATH,
    Answer,
    Api,
    assert_documented,
    create_body,
    facts,
    running,
    schema_errors,
    standin,
    unique_token,
    unlimited,
)

#: How long this module's stand-in keeps an inference provisioning, and deleting.
DELAY_S = 0.4


@dataclass
class Apis:
    """The stand-ins the cases need: each setting gives other answers."""

    main: Api  # short delays, no rate limits
    conflict: Api  # --taken-name-status 409
    hourly: Api  # one request an hour per token
    burst: Api  # one request a minute per token


@pytest.fixture(scope="module")
def apis() -> Iterator[Apis]:
    delays = ("--provisioning-seconds", str(DELAY_S), "--deleting-seconds", str(DELAY_S))
    with (
        running(*unlimited(*delays)) as main,
        running(*unlimited("--taken-name-status", "409")) as conflict,
        running("--rate-limit-hour", "1", "--rate-limit-minute", "100") as hourly,
        running("--rate-limit-hour", "100", "--rate-limit-minute", "1") as burst,
    ):
        yield Apis(main, conflict, hourly, burst)


def raw(api: Api, request: bytes) -> Answer:
    """The answer to `request`, written as bytes."""
    with socket.create_connection((api.host, api.port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Answer(response.status, response.headers, response.read())


def limited(api: Api, method: str, path: str, body: Any = None) -> Answer:
    """A call with a token whose budget the previous call spent."""
    token = unique_token()
    api.call("GET", PATH, token=token)
    return api.call(method, path, body, token=token)


def inference(api: Api, wait_s: float = 0.0, *, delete: bool = False) -> str:
    """The path of a new inference: read after `wait_s`, deleted first with `delete`."""
    item = f"{PATH}/{api.created()['id']}"
    if delete:
        assert api.call("DELETE", item).status == 202
    time.sleep(wait_s)
    return item


def taken(api: Api) -> Answer:
    body = create_body()
    api.create(body)
    return api.create(body)


def fault(mode: str) -> Callable[[Apis], Answer]:
    return lambda a: a.main.fault(mode)


def create_fault(mode: str) -> Callable[[Apis], Answer]:
    """A valid create with `mode` (the slow modes delay a normal answer)."""
    return lambda a: a.main.create(X_Standin_Fault=mode)


def call(method: str, path: str, body: Any = None, **headers: Any) -> Callable[[Apis], Answer]:
    """A call to the main stand-in; `{new}` in `path` is a new inference's path."""

    def send(a: Apis) -> Answer:
        return a.main.call(method, path.replace("{new}", inference(a.main)), body, **headers)

    return send


def scoped(*scopes: str) -> dict[str, str]:
    """The `token` argument of a call with a token limited to `scopes`."""
    return {"token": unique_token(scopes)}


READ, CREATE = "dedicated_inference:read", "dedicated_inference:create"
NAME = {"name": "ci"}
ITEM, TOKENS = f"{PATH}/x", f"{PATH}/x/tokens"


def request_line(line: str) -> Callable[[Apis], Answer]:
    return lambda a: raw(a.main, f"{line}\r\n\r\n".encode())


@dataclass
class Case:
    name: str
    operation: str | None  # None: no operation; the description's error shape
    status: int
    send: Callable[[Apis], Answer]


CASES = [
    # create
    Case("create", "create", 202, lambda a: a.main.create()),
    Case("create private-only", "create", 202, call("POST", PATH, create_body(enable_public_endpoint=False))),
    Case("create without token", "create", 401, lambda a: a.main.create(token=None)),
    Case("create, read-only token", "create", 403, lambda a: a.main.create(**scoped(READ))),
    Case("create, text/plain", "create", 415, lambda a: a.main.create(Content_Type="text/plain")),
    Case("create, invalid body", "create", 422, lambda a: a.main.create({"spec": {}})),
    Case("create, name taken (422)", "create", 422, lambda a: taken(a.main)),
    Case("create, name taken (409)", "create", 409, lambda a: taken(a.conflict)),
    Case("create, hourly limit", "create", 429, lambda a: limited(a.hourly, "POST", PATH, create_body())),
    Case("create, burst limit", "create", 429, lambda a: limited(a.burst, "POST", PATH, create_body())),
    Case("create, chunked", "create", 411, call("POST", PATH, Transfer_Encoding="chunked")),
    Case("create, over 8 MiB", "create", 413, request_line(f"POST {PATH} HTTP/1.1\r\nContent-Length: 9000000")),
    Case("create, bad Content-Length", "create", 400, request_line(f"POST {PATH} HTTP/1.1\r\nContent-Length: x")),
    # create's faults
    *(
        Case(f"fault {mode}", "create", 429, fault(mode))
        for mode in ("rate-limit", "rate-limit-date", "rate-limit-reset", "rate-limit-bare")
    ),
    *(Case(f"fault status={s}", "create", s, fault(f"status={s}")) for s in (202, 400, 404, 408, 409, 422, 500, 503)),
    Case("fault status=599", "create", 599, fault("status=599")),
    Case("fault server-error", "create", 500, fault("server-error")),
    Case("fault slow-first-byte", "create", 202, create_fault("slow-first-byte=50")),
    Case("fault slow-body", "create", 202, create_fault("slow-body=50")),
    Case("fault large", "create", 202, fault("large=200000")),
    Case("fault invalid-utf8", "create", 202, fault("invalid-utf8")),
    Case("fault concurrent-create", "create", 422, create_fault("concurrent-create")),
    Case("fault unknown mode", "create", 400, fault("no-such-mode")),
    # list
    Case("list", "list", 200, lambda a: (a.main.created(), a.main.call("GET", f"{PATH}?per_page=1&page=2"))[1]),
    Case("list, empty", "list", 200, call("GET", f"{PATH}?name=none-such")),
    Case("list, bad page", "list", 400, call("GET", f"{PATH}?page=0")),
    Case("list without token", "list", 401, call("GET", PATH, token=None)),
    Case("list, create-only token", "list", 403, call("GET", PATH, **scoped(CREATE))),
    Case("list, hourly limit", "list", 429, lambda a: limited(a.hourly, "GET", PATH)),
    # get
    Case("get provisioning", "get", 200, call("GET", "{new}")),
    Case("get active", "get", 200, lambda a: a.main.call("GET", inference(a.main, DELAY_S + 0.1))),
    Case("get deleting", "get", 200, lambda a: a.main.call("GET", inference(a.main, delete=True))),
    Case("get without token", "get", 401, call("GET", ITEM, token=None)),
    Case("get, create-only token", "get", 403, call("GET", ITEM, **scoped(CREATE))),
    Case("get unknown", "get", 404, call("GET", ITEM)),
    Case("get gone", "get", 404, lambda a: a.main.call("GET", inference(a.main, DELAY_S + 0.1, delete=True))),
    Case("get, burst limit", "get", 429, lambda a: limited(a.burst, "GET", ITEM)),
    # delete
    Case("delete", "delete", 202, call("DELETE", "{new}")),
    Case("delete without token", "delete", 401, call("DELETE", ITEM, token=None)),
    Case("delete, read-only token", "delete", 403, call("DELETE", ITEM, **scoped(READ))),
    Case("delete unknown", "delete", 404, call("DELETE", ITEM)),
    Case("delete, hourly limit", "delete", 429, lambda a: limited(a.hourly, "DELETE", ITEM)),
    # token create
    Case("token create", "token_create", 202, call("POST", "{new}/tokens", NAME)),
    Case("token create without token", "token_create", 401, call("POST", TOKENS, NAME, token=None)),
    Case("token create, read-only token", "token_create", 403, call("POST", TOKENS, NAME, **scoped(READ))),
    Case("token create unknown", "token_create", 404, call("POST", TOKENS, NAME)),
    Case("token create, text", "token_create", 415, call("POST", "{new}/tokens", NAME, Content_Type="text/plain")),
    Case("token create, bad name", "token_create", 422, call("POST", "{new}/tokens", {"name": "a b"})),
    Case("token create, hourly limit", "token_create", 429, lambda a: limited(a.hourly, "POST", TOKENS, NAME)),
    # no operation
    Case("unknown path", None, 404, call("GET", "/v2/droplets")),
    Case("malformed request", None, 400, request_line("GARBAGE")),
    Case("unknown method", None, 501, request_line(f"BREW {PATH} HTTP/1.1")),
]

#: Fault modes whose answers are not documented, on purpose: what they test is a departure
#: from the API (a gateway's page, a broken connection, a success the operation never gives).
UNDOCUMENTED_FAULTS = {
    "status=200": "a 2xx other than 202: create documents none",
    "html-error": "a gateway's HTML page",
    "not-json": "a text body",
    "reset": "no answer",
    "reset-mid-body": "half an answer",
    "truncated": "half an answer",
    "created-then-silence=1": "no answer, after a real create",
    "created-then-reset": "no answer, after a real create",
    "created-then-reset-mid-body": "half an answer, after a real create",
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_answer_is_what_the_description_documents(apis: Apis, case: Case) -> None:
    answer = case.send(apis)
    assert answer.status == case.status, answer.body[:300]
    if case.operation is not None:
        assert_documented(case.operation, answer)
        return
    for name in facts()["rate_limit"]["headers"]:
        assert re.fullmatch(r"\d+", answer.headers[name]), name
    problems = schema_errors(json.loads(answer.body), facts()["errors"]["schema"])
    assert not problems, problems


def test_the_cases_cover_every_fault_mode_and_every_documented_status() -> None:
    modes = set(re.findall(r"^\| `([a-z][a-z0-9-]*)", standin.__doc__ or "", re.M))
    assert "rate-limit" in modes and "truncated" in modes  # the table was read
    covered = {c.name.removeprefix("fault ").split("=")[0] for c in CASES if c.name.startswith("fault ")}
    assert modes - covered == {m.split("=")[0] for m in UNDOCUMENTED_FAULTS} - {"status"}
    for key, operation in facts()["operations"].items():
        statuses = {c.status for c in CASES if c.operation == key}
        # 500 comes only from faults, which only create has.
        wanted = {int(s) for s in operation["responses"] if s not in ("default", "500")} | {403}
        assert wanted <= statuses, (key, wanted - statuses)


@pytest.mark.parametrize("status", sorted(standin.MESSAGES))
def test_the_error_texts_are_the_descriptions(status: int) -> None:
    example = facts()["errors"]["examples"][str(status)]
    assert (standin.error_id(status), standin.MESSAGES[status]) == (example["id"], example["message"])


def test_the_descriptions_own_examples_fit_its_schemas() -> None:
    """The fixture's schemas and the format checks are not vacuous: the description's examples
    pass them, and answers that break them do not."""
    checked = 0
    for operation in facts()["operations"].values():
        for response in operation["responses"].values():
            if "example" in response and response["schema"] is not None:
                assert not schema_errors(response["example"], response["schema"]), response["source"]
                checked += 1
    assert checked >= 5
    get_200 = facts()["operations"]["get"]["responses"]["200"]["schema"]
    for broken, where in [
        ({"dedicated_inference": {"status": "running"}}, "dedicated_inference/status"),
        ({"dedicated_inference": {"endpoints": {"public_endpoint_fqdn": "abc.do-ai.run"}}}, "public_endpoint_fqdn"),
        ({"dedicated_inference": {"created_at": "2024-01-09 20:44"}}, "created_at"),
        ({"dedicated_inference": {"id": "not-a-uuid"}}, "dedicated_inference/id"),
        ({"dedicated_inference": {"pending_deployment_spec": None}}, "pending_deployment_spec"),
    ]:
        problems = schema_errors(broken, get_200)
        assert problems and where in problems[0], (broken, problems)
