"""A small client of the stand-in (standin/standin.py) for its tests, and the facts of
fixtures/openapi/dedicated-inferences.json with a JSON Schema validator that checks formats."""

from __future__ import annotations

import copy
import http.client
import json
import re
import select
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "standin"))

import standin  # noqa: E402
from launcher import NO_RATE_LIMITS  # noqa: E402

SCRIPT = REPO / "standin" / "standin.py"
FACTS = REPO / "fixtures" / "openapi" / "dedicated-inferences.json"
PATH = "/v2/dedicated-inferences"
TOKEN = "dop_v1_" + "c0ffee" * 8
HF_TOKEN = "hf_standinGatedModelToken0123456789"
GO_CLIENT_SECRET = "hf_goClientSpelling9876543210"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def header_fields(headers: dict[str, str]) -> dict[str, str]:
    """Header fields given as Python names: `X_Call_Id` is `X-Call-Id`."""
    return {name.replace("_", "-"): value for name, value in headers.items()}


def unique_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def unique_token(scopes: Iterable[str] | None = None) -> str:
    """A token with a rate budget of its own; with `scopes`, limited to them."""
    if scopes is None:
        return "dop_v1_" + uuid.uuid4().hex
    return f"dop_v1_scopes={','.join(scopes)};{uuid.uuid4().hex[:8]}"


def create_body(**spec_changes: Any) -> dict[str, Any]:
    """docs/operation.md's example body, with a fresh name and secrets in both spellings."""
    spec = {**copy.deepcopy(standin.EXAMPLE_SPEC), "name": unique_name()}
    return {
        "spec": {**spec, **spec_changes},
        "access_tokens": {"hugging_face_token": HF_TOKEN},
        "secrets": {"hugging_face_token": GO_CLIENT_SECRET},
    }


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A client of one running stand-in: a new connection per call."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.url = url
        self.host, self.port = parts.hostname, parts.port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            connection.close()

    def create(self, body: Any = None, *, token: str | None = TOKEN, **headers: str) -> Answer:
        """POST to the create path: `body` (a fresh valid one by default) as JSON, the token
        and `headers`."""
        sent = {"Content-Type": "application/json", **header_fields(headers)}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.request("POST", PATH, json.dumps(create_body() if body is None else body).encode(), sent)

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = TOKEN, **headers: str) -> Answer:
        """Any API call with the token (and `body` as JSON when given)."""
        sent = header_fields(headers)
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
            data = json.dumps(body).encode()
        return self.request(method, path, data, sent)

    def created(self, **spec_changes: Any) -> dict[str, Any]:
        """A new inference (its 202's `dedicated_inference`)."""
        answer = self.create(create_body(**spec_changes))
        assert answer.status == 202, answer.body
        inference: dict[str, Any] = answer.json()["dedicated_inference"]
        return inference

    def fault(self, mode: str, **headers: str) -> Answer:
        """A POST with fault `mode`, without token or body: a fault answers whatever they are."""
        return self.request("POST", PATH, headers={"X-Standin-Fault": mode, **header_fields(headers)})

    def records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.request("GET", "/__standin/requests").json()
        return records

    def raw(self, mode: str, body: bytes | None = None) -> socket.socket:
        """A connection that has sent a POST with fault `mode` (and `body`, else no
        Content-Length at all), for reading the answer's bytes."""
        sock = socket.create_connection((self.host, self.port), timeout=10)
        length = "" if body is None else f"Content-Length: {len(body)}\r\n"
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: standin\r\nX-Standin-Fault: {mode}\r\n{length}\r\n".encode()
            + (body or b"")
        )
        return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def split_answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, body


def spawn(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Starts the stand-in's CLI; returns the process and the URL of its READY line."""
    process = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 10)
    line = process.stdout.readline() if ready else ""
    match = re.fullmatch(r"READY (http://127\.0\.0\.1:\d+)\n", line)
    if match is None:
        process.kill()
        process.wait()
        pytest.fail(f"no READY line from the stand-in, got {line!r}")
    return process, match[1]


@contextmanager
def running(*args: str) -> Iterator[Api]:
    """The stand-in's CLI with `args`, for one test or module."""
    process, url = spawn("--port", "0", *args)
    try:
        yield Api(url)
    finally:
        process.kill()
        process.wait()


def unlimited(*args: str) -> tuple[str, ...]:
    """`args` with rate limits that tests which are not about them never reach."""
    return (*NO_RATE_LIMITS, *args)


def assert_error(answer: Answer, status: int, error_id: str) -> dict[str, Any]:
    assert answer.status == status, answer.body
    document: dict[str, Any] = answer.json()
    assert document["id"] == error_id
    assert isinstance(document["message"], str) and document["message"]
    assert document["request_id"] == answer.headers["x-request-id"]
    return document


# --- The API description's facts ---


@cache
def facts() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FACTS.read_text())
    return document


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value: object) -> bool:
    """RFC 3339 (jsonschema checks it only with an extra package)."""
    if not isinstance(value, str):
        return True
    if not RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri")
def is_uri(value: object) -> bool:
    """An absolute URI with a scheme and a host (jsonschema checks it only with an extra
    package)."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) and parts.netloc) and " " not in value


def schema_errors(document: Any, schema: dict[str, Any]) -> list[str]:
    """Every way `document` breaks `schema` (formats checked), as `path: message` lines."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def documented_response(operation: str, status: int) -> dict[str, Any]:
    """The description's response of `operation` for `status`, else its `default`."""
    responses: dict[str, Any] = facts()["operations"][operation]["responses"]
    return responses.get(str(status)) or responses["default"]


def assert_documented(operation: str, answer: Answer) -> None:
    """`answer` is what the description documents for `operation` and its status: the
    response's headers (each an integer where the schema says so), its media type and a body
    valid against its schema (or no body where it has none)."""
    response = documented_response(operation, answer.status)
    for name, header in response["headers"].items():
        value = answer.headers.get(name)
        assert value is not None, f"{operation} {answer.status}: no {name} header"
        if header["schema"].get("type") == "integer":
            assert re.fullmatch(r"-?\d+", value), f"{name}: {value!r} is not an integer"
    if response["schema"] is None:
        assert answer.body == b"", f"{operation} {answer.status}: the description has no body, got {answer.body!r}"
        return
    assert answer.headers.get_content_type() == response["content_type"], answer.headers["Content-Type"]
    document = json.loads(answer.body.decode("utf-8", "replace"))
    problems = schema_errors(document, response["schema"])
    assert not problems, f"{operation} {answer.status} breaks {response['source']}:\n" + "\n".join(problems)
