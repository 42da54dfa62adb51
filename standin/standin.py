#!/usr/bin/env python3
"""A local stand-in of DigitalOcean's `POST /v2/dedicated-inferences`, for end-to-end tests.

Standard library only. As a program:

    python3 scripts/standin.py [--host 127.0.0.1] [--port 0] [--verbose]

prints one line, `READY http://127.0.0.1:<port>`, once it listens, and serves until SIGTERM or
SIGINT (then exits with status 0). In-process:

    with StandIn() as api:
        ...  # send to api.url, then look at api.requests()

Routes:
- `POST /v2/dedicated-inferences` is recorded (see below), then checked as the real API does:
  a `Bearer dop_v1_…`/`doo_v1_…` token (else 401), `Content-Type: application/json` (else 415),
  the body against operation.md's table (else 422 `<dotted.path>: <problem>`), and a name not
  already used by an inference created here (else 422). Then 202 with the new inference and
  its one-time token (`dit_` + 40 hex characters, fresh each time).
- `GET /v2/dedicated-inferences/{id}` reads an inference created here (status `active` once
  2 s have passed), `DELETE` forgets it (204); both need a token, and answer 404 for an
  unknown id.
- `GET /__standin/requests` lists the records, `DELETE /__standin/requests` clears them (the
  numbering goes on), `GET /__standin/health` answers `{"ok": true}`. No token needed.
- Anything else: 404. Errors have DigitalOcean's shape `{"id", "message", "request_id"}`.

Every answer carries `ratelimit-limit: 5000`, `ratelimit-remaining` (counted per
`Authorization` value, refilled at each minute), `ratelimit-reset` (the next minute, Unix
seconds) and `x-request-id` (also the error body's `request_id`). The `access_tokens` and
`secrets` of a request never appear in an answer of the API routes; the records keep requests
verbatim, since checking what was sent is their purpose.

A record, one per POST to the create path whose body arrived: `seq`, `time`, `fault` (the
`X-Standin-Fault` value), `call_id` (the `X-Call-Id` value), `path` (with the query),
`headers` (lower-case names), `body` (text), `content_length` (int or None), `status` (None
until, or unless, one is sent) and `issued_token` (the token value of a 202, when one was made).

Faults: the request header `X-Standin-Fault: <mode>[=<arg>]` on that POST replaces the checks
and the answer, whatever the token and body, except for the two `slow-` modes, which delay a
normal answer. A 202 made by a fault is built from the request's spec when it is valid (else
an example) and creates nothing.

| mode | answer |
|---|---|
| `rate-limit[=S]` | 429, `Retry-After: S` (7) |
| `rate-limit-date[=S]` | 429, `Retry-After` the HTTP date S seconds ahead (30) |
| `rate-limit-reset[=S]` | 429, no `Retry-After`, `ratelimit-remaining: 0`, `ratelimit-reset` now + S (20) |
| `rate-limit-bare` | 429, no `Retry-After`, `ratelimit-remaining` above 0 |
| `status=NNN` | NNN (200-599): 202 a fault's 202, other 2xx `{"ok": true}`, else the error shape |
| `server-error` | as `status=500` |
| `html-error[=NNN]` | NNN (502), `Content-Type: text/html`, a gateway's HTML page |
| `slow-first-byte=MS` | the normal answer, after MS milliseconds of silence |
| `slow-body=MS` | the normal answer, paused MS milliseconds after half of its body |
| `reset` | nothing: the connection is aborted with a TCP RST |
| `reset-mid-body` | 202 head and half its body, then a TCP RST |
| `truncated` | 202 head and half its body, then a clean close (FIN) |
| `large=BYTES` | 202, a JSON body of exactly BYTES bytes (a `padding` field), streamed |
| `invalid-utf8` | 202, JSON with the bytes FF FE inside a string |
| `not-json` | 200, `Content-Type: text/plain`, `accepted, but not JSON` |

An unknown mode or a bad argument is answered 400 in the error shape.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = ["StandIn", "main"]

COLLECTION_PATH = "/v2/dedicated-inferences"
ITEM_PATH = re.compile(re.escape(COLLECTION_PATH) + r"/([^/]+)")
JSON_UTF8 = "application/json; charset=utf-8"
RATE_LIMIT = 5000
ACTIVE_AFTER_SECONDS = 2.0
# An idle keep-alive connection, or a client that stops reading, is dropped after this long,
# so that its thread ends.
IDLE_TIMEOUT_SECONDS = 30
# Bodies above this are refused (413) rather than read into memory.
MAX_REQUEST_BODY = 8 * 1024 * 1024
PADDING_CHUNK = b"x" * (64 * 1024)
# RFC 9110: these statuses carry no content.
BODYLESS_STATUSES = frozenset({204, 205, 304})

TOKEN_PATTERN = re.compile(r"(?i:bearer) +(?:dop|doo)_v1_\S{8,}")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
SECRET_KEYS = frozenset({"access_tokens", "secrets"})
# DigitalOcean's error ids where they differ from the reason phrase (Python 3.13 renames 422).
ERROR_IDS = {422: "unprocessable_entity", 500: "server_error"}
RATE_LIMITED_MESSAGE = "API Rate limit exceeded."
# The spec of a fault's 202 when the request's own is not valid (operation.md's example).
EXAMPLE_SPEC: dict[str, Any] = {
    "version": 1,
    "name": "support-llm",
    "region": "tor1",
    "vpc": {"uuid": "5a4981aa-9653-4bd1-bef5-d6bff52042e4"},
    "enable_public_endpoint": True,
    "model_deployments": [
        {
            "model_slug": "meta-llama/Llama-3.1-8B-Instruct",
            "model_provider": "hugging_face",
            "accelerators": [{"type": "prefill_decode", "scale": 1, "accelerator_slug": "gpu-h100x1-80gb"}],
        }
    ],
}


class ApiError(Exception):
    """A problem answered in DigitalOcean's error shape, raised wherever it is found."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class InvalidBodyError(ApiError):
    """A body that breaks the contract: 422 with `<path>: <problem>`."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(422, f"{path}: {problem}")


@dataclass
class Reply:
    """A complete answer; `headers` are added to (or replace) the ones every answer gets."""

    status: int
    body: bytes = b""
    content_type: str = JSON_UTF8
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(document).encode(), JSON_UTF8, headers or {})


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def error_id(status: int) -> str:
    """`not_found` for 404, `server_error` for 500, `http_599` for a status without a name."""
    derived = re.sub(r"[^a-z0-9]+", "_", reason_phrase(status).lower()).strip("_")
    return ERROR_IDS.get(status) or derived or f"http_{status}"


# --- The request body's contract (operation.md) ---


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: a boolean is not an integer here
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def expect_type(value: Any, path: str, kind: str) -> None:
    found = json_type(value)
    if found != kind:
        raise InvalidBodyError(path, f"expected {kind}, found {found}")


def checked_field(obj: dict[str, Any], key: str, path: str, kind: str, required: bool = True) -> Any:
    """`obj[key]`, checked to be of JSON type `kind`; None when optional and absent or null."""
    full_path = f"{path}.{key}" if path else key
    if key not in obj:
        if required:
            raise InvalidBodyError(full_path, "is required")
        return None
    value = obj[key]
    if value is None and not required:
        return None
    expect_type(value, full_path, kind)
    return value


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidBodyError("body", f"is not valid JSON ({error})") from None


def validate_create(document: Any) -> dict[str, Any]:
    """The `spec` of a valid create request; raises InvalidBodyError at the first problem."""
    expect_type(document, "body", "object")
    checked_field(document, "access_tokens", "", "object", required=False)
    spec: dict[str, Any] = checked_field(document, "spec", "", "object")
    checked_field(spec, "version", "spec", "integer")
    name: str = checked_field(spec, "name", "spec", "string")
    if not 1 <= len(name) <= 255:
        raise InvalidBodyError("spec.name", f"must be 1 to 255 characters long, found {len(name)}")
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidBodyError("spec.name", "must match ^[a-zA-Z0-9_-]+$")
    checked_field(spec, "region", "spec", "string")  # any value: the documented list grows
    vpc = checked_field(spec, "vpc", "spec", "object")
    checked_field(vpc, "uuid", "spec.vpc", "string")
    checked_field(spec, "enable_public_endpoint", "spec", "boolean")
    deployments = checked_field(spec, "model_deployments", "spec", "array")
    if not deployments:
        raise InvalidBodyError("spec.model_deployments", "must have at least one item")
    for index, deployment in enumerate(deployments):
        path = f"spec.model_deployments[{index}]"
        expect_type(deployment, path, "object")
        for key in ("model_id", "model_slug", "model_provider"):
            checked_field(deployment, key, path, "string", required=False)
        checked_field(deployment, "workload_config", path, "object", required=False)
        accelerators = checked_field(deployment, "accelerators", path, "array", required=False) or []
        for accelerator_index, accelerator in enumerate(accelerators):
            accelerator_path = f"{path}.accelerators[{accelerator_index}]"
            expect_type(accelerator, accelerator_path, "object")
            checked_field(accelerator, "type", accelerator_path, "string")
            scale = checked_field(accelerator, "scale", accelerator_path, "integer")
            if scale < 1:
                raise InvalidBodyError(f"{accelerator_path}.scale", f"must be at least 1, found {scale}")
            checked_field(accelerator, "accelerator_slug", accelerator_path, "string")
            checked_field(accelerator, "status", accelerator_path, "string", required=False)
    return spec


# --- Documents the API answers ---


def without_secrets(value: Any) -> Any:
    """A copy of `value` without any `access_tokens` or `secrets` key, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def new_inference(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new inference for a valid `spec`, as the API describes it, and its one-time token."""
    inference_id = str(uuid.uuid4())
    host = inference_id[:8]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    inference = {
        "id": inference_id,
        "name": spec["name"],
        "region": spec["region"],
        "vpc_uuid": spec["vpc"]["uuid"],
        "status": "provisioning",
        "endpoints": {
            "public_endpoint_fqdn": f"{host}.inference.do-ai.run" if spec["enable_public_endpoint"] else "",
            "private_endpoint_fqdn": f"{host}.private.inference.do-ai.run",
        },
        "spec": without_secrets(spec),
        "pending_deployment_spec": None,
        "created_at": now,
        "updated_at": now,
    }
    token = {
        "id": str(uuid.uuid4()),
        "name": f"{spec['name']}-token",
        "created_at": now,
        "is_managed": True,
        "value": "dit_" + secrets.token_hex(20),
    }
    return inference, token


def fault_spec(body: bytes) -> dict[str, Any]:
    """The spec a fault's 202 describes: the request's if valid, else the example."""
    try:
        return validate_create(parse_json(body))
    except ApiError:
        return EXAMPLE_SPEC


def around_last_string(document: dict[str, Any], key: str) -> tuple[bytes, bytes]:
    """`document` serialized with a last string field `key`: the bytes before its value and after
    it, so that the caller can write any bytes as the value."""
    before = json.dumps(document)[:-1] + f', "{key}": "'  # ASCII: json.dumps escapes the rest
    return before.encode(), b'"}'


def html_error_page(status: int) -> bytes:
    """The kind of page a gateway in front of the API answers."""
    title = f"{status} {reason_phrase(status)}".strip()
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def fault_int(
    mode: str, arg: str | None, default: int | None = None, low: int = 0, high: int = sys.maxsize
) -> int:
    """The integer argument of fault `mode` (`<mode>=<arg>`), or its default."""
    if arg is None:
        if default is None:
            raise ApiError(400, f"X-Standin-Fault {mode!r} needs an argument: {mode}=<number>")
        return default
    try:
        value = int(arg)
    except ValueError:
        raise ApiError(400, f"X-Standin-Fault {mode!r}: {arg!r} is not an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"X-Standin-Fault {mode!r}: {value} is outside {low}..{high}")
    return value


# --- State shared by the connections ---


@dataclass
class StoredInference:
    inference: dict[str, Any]
    created: float  # time.monotonic()


class State:
    """Records, created inferences and rate-limit counters, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._seq = 0
        self._inferences: dict[str, StoredInference] = {}
        self._ids_by_name: dict[str, str] = {}
        self._minute = 0
        self._remaining: dict[str, int] = {}

    def add_record(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, "time": time.time(), **fields, "status": None}
            self._records.append(record)
            return record

    def update_record(self, record: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            record.update(fields)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._records)

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    def add_inference(self, inference: dict[str, Any]) -> bool:
        """Stores `inference`; False (and nothing stored) when its name is taken."""
        with self._lock:
            if inference["name"] in self._ids_by_name:
                return False
            self._ids_by_name[inference["name"]] = inference["id"]
            self._inferences[inference["id"]] = StoredInference(inference, time.monotonic())
            return True

    def inference(self, inference_id: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._inferences.get(inference_id)
        if stored is None:
            return None
        view = copy.deepcopy(stored.inference)
        if time.monotonic() - stored.created >= ACTIVE_AFTER_SECONDS:
            view["status"] = "active"
        return view

    def delete_inference(self, inference_id: str) -> bool:
        with self._lock:
            stored = self._inferences.pop(inference_id, None)
            if stored is not None:
                del self._ids_by_name[stored.inference["name"]]
            return stored is not None

    def use_rate_limit(self, token: str) -> tuple[int, int]:
        """One request's use of `token`'s budget: (remaining, reset). Budgets refill at each
        minute, so that a long test run never runs out."""
        minute = int(time.time() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute = minute
                self._remaining.clear()
            remaining = max(self._remaining.get(token, RATE_LIMIT) - 1, 0)
            self._remaining[token] = remaining
        return remaining, (minute + 1) * 60


# --- HTTP ---


class Server(ThreadingHTTPServer):
    # Closing the server does not wait for clients' open keep-alive connections.
    block_on_close = False
    # Dozens of clients connecting at once must not overflow the accept queue.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], verbose: bool) -> None:
        self.state = State()
        self.verbose = verbose
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, a DNS query that can stall start-up.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that disconnect or stop reading are routine here: several faults provoke them.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    timeout = IDLE_TIMEOUT_SECONDS
    # A half body written before a pause or an abort must leave at once.
    disable_nagle_algorithm = True

    # Per request, set by _start().
    _request_id = ""
    _record: dict[str, Any] | None = None
    _remaining = RATE_LIMIT
    _reset = 0

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answers what http.server itself rejects (a malformed request, an unknown method)."""
        self.log_error("code %d, message %s", code, message)
        self._start(token="")
        self.close_connection = True
        self._send(self._error(code, message or reason_phrase(code)))

    def _dispatch(self) -> None:
        self._start(self.headers.get("Authorization", ""))
        try:
            length = self._content_length()
            body = self._read_body(length)
            if body is None:
                return
            path = urlsplit(self.path).path
            item = ITEM_PATH.fullmatch(path)
            if (self.command, path) == ("POST", COLLECTION_PATH):
                self._post(body, length)
            elif (self.command, path) == ("GET", "/__standin/health"):
                self._send(json_reply(200, {"ok": True}))
            elif (self.command, path) == ("GET", "/__standin/requests"):
                self._send(json_reply(200, self.server.state.records()))
            elif (self.command, path) == ("DELETE", "/__standin/requests"):
                self.server.state.clear_records()
                self._send(Reply(204))
            elif item and self.command in ("GET", "DELETE"):
                self._one_inference(item[1])
            else:
                raise ApiError(404, "The resource you were accessing could not be found.")
        except ApiError as error:
            self._send(self._error(error.status, str(error)))

    # http.server calls do_<METHOD>; _dispatch routes on method and path together.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _start(self, token: str) -> None:
        """Per-request state: a request id, no record yet, one use of the token's budget."""
        self._request_id = str(uuid.uuid4())
        self._record = None
        self._remaining, self._reset = self.server.state.use_rate_limit(token)

    def _content_length(self) -> int | None:
        if "Transfer-Encoding" in self.headers:
            # The task must send an explicit Content-Length: make its absence obvious.
            self.close_connection = True
            raise ApiError(411, "send the body with a Content-Length")
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        if not (value.strip().isascii() and value.strip().isdigit()):
            self.close_connection = True
            raise ApiError(400, "Content-Length is not a number")
        return int(value)

    def _read_body(self, length: int | None) -> bytes | None:
        """The body, or None when the client went away before sending all of it."""
        if length is None:
            return b""
        if length > MAX_REQUEST_BODY:
            self.close_connection = True
            raise ApiError(413, f"the body is over {MAX_REQUEST_BODY} bytes")
        try:
            body = self.rfile.read(length)
        except OSError:
            body = b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _authorize(self) -> None:
        if not TOKEN_PATTERN.fullmatch(self.headers.get("Authorization", "").strip()):
            raise ApiError(401, "Unable to authenticate you")

    def _one_inference(self, inference_id: str) -> None:
        self._authorize()
        state = self.server.state
        if self.command == "GET" and (inference := state.inference(inference_id)) is not None:
            self._send(json_reply(200, {"dedicated_inference": inference}))
        elif self.command == "DELETE" and state.delete_inference(inference_id):
            self._send(Reply(204))
        else:
            raise ApiError(404, f"dedicated inference {inference_id!r} not found")

    def _post(self, body: bytes, length: int | None) -> None:
        fault = self.headers.get("X-Standin-Fault")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self._record = self.server.state.add_record(
            path=self.path,
            fault=fault,
            call_id=self.headers.get("X-Call-Id"),
            headers=headers,
            body=body.decode("utf-8", "replace"),
            content_length=length,
        )
        if fault is None:
            self._send(self._normal(body))
        else:
            mode, _, arg = fault.partition("=")
            self._fault(mode.strip().lower(), arg.strip() or None, body)

    def _normal(self, body: bytes) -> Reply:
        """The real API's answer: the first failed check's error, or 202."""
        try:
            return self._create(body)
        except ApiError as error:
            return self._error(error.status, str(error))

    def _create(self, body: bytes) -> Reply:
        self._authorize()
        media_type = self.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, f"Content-Type must be application/json, found {media_type or 'none'}")
        spec = validate_create(parse_json(body))
        inference, token = new_inference(spec)
        if not self.server.state.add_inference(inference):
            raise InvalidBodyError("spec.name", f"{spec['name']!r} is already in use")
        self._note_issued(token)
        return json_reply(202, {"dedicated_inference": inference, "token": token})

    def _note_issued(self, token: dict[str, Any]) -> None:
        """The token value of a 202 goes into the request's record (`issued_token`), so that
        tests know which secret must be masked everywhere."""
        if self._record is not None:
            self.server.state.update_record(self._record, issued_token=token["value"])

    def _fault_accepted(self, body: bytes) -> dict[str, Any]:
        """A 202 document for a fault; stores nothing."""
        inference, token = new_inference(fault_spec(body))
        self._note_issued(token)
        return {"dedicated_inference": inference, "token": token}

    def _fault(self, mode: str, arg: str | None, body: bytes) -> None:
        match mode:
            case "rate-limit":
                self._send(self._rate_limited({"Retry-After": str(fault_int(mode, arg, 7))}))
            case "rate-limit-date":
                retry_at = int(time.time()) + fault_int(mode, arg, 30)
                self._send(self._rate_limited({"Retry-After": formatdate(retry_at, usegmt=True)}))
            case "rate-limit-reset":
                reset = int(time.time()) + fault_int(mode, arg, 20)
                self._send(self._rate_limited({"ratelimit-remaining": "0", "ratelimit-reset": str(reset)}))
            case "rate-limit-bare":
                # Above 0 even when this token's budget really is spent.
                self._send(self._rate_limited({"ratelimit-remaining": str(max(self._remaining, 1))}))
            case "status" | "server-error":
                status = 500 if mode == "server-error" else fault_int(mode, arg, None, 200, 599)
                if status == 202:
                    self._send(json_reply(202, self._fault_accepted(body)))
                elif 200 <= status < 300:
                    self._send(json_reply(status, {"ok": True}))
                else:
                    self._send(self._error(status, reason_phrase(status) or f"status {status}"))
            case "html-error":
                status = fault_int(mode, arg, 502, 200, 599)
                self._send(Reply(status, html_error_page(status), "text/html"))
            case "slow-first-byte":
                time.sleep(fault_int(mode, arg) / 1000)
                self._send(self._normal(body))
            case "slow-body":
                pause = fault_int(mode, arg) / 1000
                rest = self._send_half(self._normal(body))
                time.sleep(pause)
                self.wfile.write(rest)
            case "reset":
                self._abort()
            case "reset-mid-body":
                self._send_half(json_reply(202, self._fault_accepted(body)))
                self._abort()
            case "truncated":
                self.close_connection = True
                self._send_half(json_reply(202, self._fault_accepted(body)))
            case "large":
                self._send_large(fault_int(mode, arg), body)
            case "invalid-utf8":
                before, after = around_last_string(self._fault_accepted(body), "note")
                self._send(Reply(202, before + b"\xff\xfe" + after, "application/json"))
            case "not-json":
                self._send(Reply(200, b"accepted, but not JSON", "text/plain"))
            case _:
                raise ApiError(400, f"unknown X-Standin-Fault mode {mode!r}")

    def _rate_limited(self, headers: dict[str, str]) -> Reply:
        return self._error(429, RATE_LIMITED_MESSAGE, headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """An answer in DigitalOcean's error shape; its request_id is the x-request-id."""
        return json_reply(
            status, {"id": error_id(status), "message": message, "request_id": self._request_id}, headers
        )

    def _head(
        self, status: int, content_type: str | None, length: int | None, headers: Mapping[str, str]
    ) -> bytes:
        """The status line and headers of an answer, with those every answer gets; also notes
        the status in the request's record and in the log."""
        fields = {
            "Date": self.date_time_string(),
            "Server": self.server_version,
            "x-request-id": self._request_id,
            "ratelimit-limit": str(RATE_LIMIT),
            "ratelimit-remaining": str(self._remaining),
            "ratelimit-reset": str(self._reset),
        }
        if content_type is not None:
            fields["Content-Type"] = content_type
        if length is not None:
            fields["Content-Length"] = str(length)
        if self.close_connection:
            fields["Connection"] = "close"
        fields.update(headers)  # a fault's values replace the defaults: same spellings
        if self._record is not None:
            self.server.state.update_record(self._record, status=status)
        self.log_request(status, "-" if length is None else length)
        lines = [
            f"HTTP/1.1 {status} {reason_phrase(status)}",
            *(f"{name}: {value}" for name, value in fields.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, reply: Reply) -> None:
        body = b"" if reply.status in BODYLESS_STATUSES else reply.body
        content_type = reply.content_type if body else None
        length = None if reply.status == 204 else len(body)  # RFC 9110: no Content-Length in a 204
        self.wfile.write(self._head(reply.status, content_type, length, reply.headers) + body)

    def _send_half(self, reply: Reply) -> bytes:
        """Writes the head (with the full Content-Length) and the first half of the body;
        returns the rest, for a fault to deal with."""
        half = len(reply.body) // 2
        head = self._head(reply.status, reply.content_type, len(reply.body), reply.headers)
        self.wfile.write(head + reply.body[:half])
        return reply.body[half:]

    def _send_large(self, size: int, body: bytes) -> None:
        """A 202 of exactly `size` bytes, its padding written a chunk at a time."""
        before, after = around_last_string(self._fault_accepted(body), "padding")
        padding = size - len(before) - len(after)
        if padding < 0:
            raise ApiError(
                400, f"X-Standin-Fault 'large': the smallest body is {len(before) + len(after)} bytes"
            )
        self.wfile.write(self._head(202, "application/json", size, {}) + before)
        chunks, rest = divmod(padding, len(PADDING_CHUNK))
        for _ in range(chunks):
            self.wfile.write(PADDING_CHUNK)
        self.wfile.write(PADDING_CHUNK[:rest] + after)

    def _abort(self) -> None:
        """Ends the connection with a TCP RST. The descriptor is closed here: socket.close()
        would wait for the handler's file objects, and shutdown() would send a FIN first."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(self.connection.detach())
        self.close_connection = True


class StandIn:
    """The stand-in, in-process: listens from construction, serves between start() and stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self._server = Server((host, port), verbose)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.server_name}:{self._server.server_port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def requests(self) -> list[dict[str, Any]]:
        """Copies of the records, oldest first."""
        return self._server.state.records()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Local stand-in of DigitalOcean's POST /v2/dedicated-inferences."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked before the server thread exists (threads inherit the mask), so that only the
    # sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with StandIn(args.host, args.port, verbose=args.verbose) as api:
        print(f"READY {api.url}", flush=True)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
