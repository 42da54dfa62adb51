#!/usr/bin/env python3
"""A local stand-in of DigitalOcean's Dedicated Inference API (`/v2/dedicated-inferences`), for
end-to-end tests and the editor: a test instrument that answers as the API's description
documents (github.com/digitalocean/openapi; the facts this project uses are in
fixtures/openapi/dedicated-inferences.json, explained in docs/api-facts.md), never as the
component would like. Where the description is silent, it does what the real API most
plausibly does; each such choice is marked *(choice)* below and listed in docs/api-facts.md.

Standard library only. As a program:

    python3 standin/standin.py [--host 127.0.0.1] [--port 0] [--verbose]
        [--provisioning-seconds 2] [--deleting-seconds 2] [--taken-name-status 422] [--duplicate-names]
        [--rate-limit-hour 5000] [--rate-limit-minute 250]

prints one line, `READY http://127.0.0.1:<port>`, once it listens, and serves until SIGTERM or
SIGINT (then exits with status 0). In-process:

    with StandIn() as api:                       # or StandIn(settings=Settings(...))
        ...  # send to api.url, then look at api.requests()

| option | default | effect |
|---|---|---|
| `--provisioning-seconds S` | 2 | a new inference is `provisioning` this long, then `active` |
| `--deleting-seconds S` | 2 | a deleted inference is `deleting` this long, then gone (404) |
| `--taken-name-status N` | 422 | 409 or 422: the answer to a create whose name is taken |
| `--duplicate-names` | off | a test mode, not the API's behaviour: a taken name is created again (a second inference) |
| `--rate-limit-hour N` | 5000 | requests per token per rolling hour (the description's) |
| `--rate-limit-minute N` | 250 | requests per token per rolling minute, the burst limit |

Load tests and benchmarks raise the two limits (`launcher.NO_RATE_LIMITS`): the real ones stop a token
after 250 requests in a minute.

API routes (`{id}`: an inference's id, a UUID):

| operation | route | scope | success: status, members |
|---|---|---|---|
| create | `POST /v2/dedicated-inferences` | `dedicated_inference:create` | 202 `dedicated_inference`, `token` |
| list | `GET /v2/dedicated-inferences` | `dedicated_inference:read` | 200 `dedicated_inferences`, `links`, `meta` |
| get | `GET /v2/dedicated-inferences/{id}` | `dedicated_inference:read` | 200 `dedicated_inference` |
| delete | `DELETE /v2/dedicated-inferences/{id}` | `dedicated_inference:delete` | 202, no body |
| token create | `POST /v2/dedicated-inferences/{id}/tokens` | `dedicated_inference_tokens:create` | 202 `token` |

Each API request is checked in this order, the first failure answering:
1. the token: `Authorization: Bearer dop_v1_…` or `doo_v1_…` with 8 or more further
   characters, else 401 `Unable to authenticate you.`;
2. the rate limits of that token (below), else 429;
3. the token's scopes (below), else 403 `You do not have permission to perform this action.`;
4. the inference (item routes): one created here and not yet gone, else 404 `The resource you
   requested could not be found.`;
5. the body (POST routes): `Content-Type: application/json` (else 415 *(choice)*), then the
   request schema (else 422 `<dotted.path>: <problem>` *(choice: the description documents no
   422 for these operations; its generic example says `request payload validation failed`)*);
6. create only: the name, unique among this stand-in's inferences that are not gone, else
   `--taken-name-status` (422 `unprocessable_entity` or 409 `conflict`) with the message
   `spec.name: '<name>' is already in use` *(choice: the description documents neither)*.

Create's body is checked against the description's create schema, except that `region` and
`model_provider` may hold values outside their documented lists *(choice: docs/operation.md says
the lists grow)*. `vpc.uuid` must be a UUID (`format: uuid`) and `access_tokens` values
strings. Unknown members are ignored, `secrets` (the Go client's spelling) included.

An inference (`GET`, list items, create's 202) has `id`, `name` *(choice: not in the
description's model, whose name is `spec.name`; DigitalOcean's Go client reads it)*,
`region`, `vpc_uuid`, `status`, `endpoints` (`https://` URIs, `format: uri` as described;
`public_endpoint_fqdn` left out for a private-only inference *(choice)*), `spec` (the request's,
secrets removed, each deployment's `model_id` filled with a UUID when empty and each
accelerator's read-only `status` set *(choice)*), `pending_deployment_spec` (only while
`provisioning`: the description types it as an object, not null), `created_at`, `updated_at`.
Its `status` is `provisioning` for `--provisioning-seconds`, then `active`; after a DELETE it
is `deleting` for `--deleting-seconds`, then the inference is gone: 404 everywhere, its name
free again. A DELETE of a `deleting` inference answers 202 again *(choice)*. List items carry
the same members without `spec` and `pending_deployment_spec` *(choice: as the description's
example and the Go client's list item)*.

The list: `page` (from 1) and `per_page` (1-200, default 20) as described; a value that is not
an integer or is below 1 is 400, a `per_page` above 200 is served as 200 *(choice)*; `region`
and the undocumented `name` (sent by the Go client and doctl) filter by equality, oldest first.
`links.pages` has `first`/`prev` when there are earlier pages and `next`/`last` when there are
later ones, as absolute URIs on this stand-in; `links` is `{}` for a single page (the schema
requires `links`; the prose says it is left out) and `meta.total` counts every match.

Token create: body `{"name": ...}` (required; `^[a-zA-Z0-9_-]+$`, at most 255 characters),
answered 202 `{"token": {"id", "name", "created_at", "is_managed": false, "value"}}`; the
value, like create's token value (`dit_` + 40 hex characters, fresh each time), is never
shown again.

Tokens and scopes: any token of the right form has every scope, except one written
`dop_v1_scopes=<scope>[,<scope>...][;<anything>]` (or `doo_v1_…`), which has only the scopes
listed: `dop_v1_scopes=dedicated_inference:read;ci-7` may read but not create (403).
`dop_v1_scopes=;none` has no scope at all. The part after `;` makes a token unique, with a rate
budget of its own.

Rate limits, as the description's "Rate Limit" section says: per token (the `Authorization`
value), each request counted for one hour from when it was made. Every answer carries
`ratelimit-limit` (the hourly limit), `ratelimit-remaining` (the hourly limit less the requests
counted in the last hour) and `ratelimit-reset` (the Unix second at which the oldest counted
request expires; an hour from now when none is counted). A request over the hourly limit is
429 with `ratelimit-remaining: 0` and no `Retry-After`; one over the burst limit (requests in
the last 60 s) is 429 with `ratelimit-remaining: 0` and `Retry-After: <seconds until the
oldest of them is a minute old>`. A 429 is not counted *(choice)*. The control routes and
preflights are not counted. 429's message: `API rate limit exceeded.` (the description's
too_many_requests response; its prose spells it `API Rate limit exceeded.`).

CORS, as the description's "Cross Origin Resource Sharing" section says: a request with an
`Origin` gets `Access-Control-Allow-Origin: <that origin>`, `Access-Control-Allow-Credentials:
true`, `Access-Control-Expose-Headers: ratelimit-limit, ratelimit-remaining, ratelimit-reset,
x-request-id, retry-after` and `Vary: Origin`, on every answer, errors and faults included. A
preflight (`OPTIONS` on any path) is 204 with those and `Access-Control-Allow-Methods`,
`Access-Control-Allow-Headers` (the ones asked for) and `Access-Control-Max-Age: 86400`
*(choice: the description names these headers without values)*.

Errors have the description's shape `{"id", "message", "request_id"}`: `id` the status's
snake-cased name (`unauthorized`, `not_found`, `unprocessable_entity`, `server_error`, ...),
`request_id` the answer's `x-request-id`, and `message` the description's text where it has
one (401, 403, 404, 409, 422, 429, 500 and 400 `error parsing request body`), else the
specific problem. The `access_tokens` and `secrets` of a request never appear in an answer of
the API routes; the records keep requests verbatim, since checking what was sent is their
purpose.

The inference's own endpoint, which the token is for: a request whose `Host` is one of an
inference's `endpoints` (the host part, e.g. `Host: <label>-public-dedicated-inference.do-infra.ai`,
sent to the stand-in's address) is served as that endpoint, not as the API: `GET /v1/models`
(the OpenAI-compatible listing DigitalOcean's inference endpoints serve) answers 200 `{"object":
"list", "data": [{"id": <model_slug>, "object": "model", "owned_by": <model_provider>}, ...]}`
for `Authorization: Bearer <a token issued for this inference>` (create's or one minted with
`POST /{id}/tokens`), 401 `{"error": {"message", "type": "invalid_request_error", "code":
"invalid_api_key"}}` for any other, and 503 with `Retry-After` while the inference is
`provisioning` *(choice: the shapes are OpenAI's; the description documents neither)*. Another
path, or a `deleting` inference's endpoint, is 404. Endpoint requests are not rate limited *(choice: the API's limits are the
API's)*.

Control routes (no token, not rate limited): `GET /__standin/requests` lists the records,
`DELETE /__standin/requests` clears them (the numbering goes on), `GET /__standin/tokens` lists
every token minted with `POST /{id}/tokens` (`inference_id`, `call_id`, `name`, `value`: a test
instrument's record, not an API route), `GET /__standin/health`
answers `{"ok": true}`. Anything else: 404.

A record, one per POST to the create path whose body arrived: `seq`, `time`, `fault` (the
`X-Standin-Fault` value), `call_id` (the `X-Call-Id` value), `path` (with the query),
`headers` (lower-case names), `body` (text), `content_length` (int or None), `status` (None
until, or unless, one is sent) and `issued_token` (the token value of a 202, when one was made).

Faults: the request header `X-Standin-Fault: <mode>[=<arg>]` on a POST to the create path
replaces the checks and the answer, whatever the token and body, except for the two `slow-`
modes, which delay a normal answer, and the `created-then-` and `concurrent-create` modes, which
create for real. A 202 made by any other fault is built from the request's spec when it is valid
(else an example) and creates nothing. Faults are deliberate departures from the
API: the 2xx of `status=NNN` other than 202, `html-error`, `not-json` and the broken bodies
are not answers the description documents.

| mode | answer |
|---|---|
| `rate-limit[=S]` | 429, `Retry-After: S` (7), `ratelimit-remaining: 0` (a burst limit's 429) |
| `rate-limit-date[=S]` | 429, `Retry-After` the HTTP date S seconds ahead (30), `ratelimit-remaining: 0` |
| `rate-limit-reset[=S]` | 429, no `Retry-After`, `ratelimit-remaining: 0`, `ratelimit-reset` now + S (20) |
| `rate-limit-bare` | 429, no `Retry-After`, `ratelimit-remaining` above 0 |
| `status=NNN` | NNN (200-599): 202 a fault's 202, other 2xx `{"ok": true}`, else the error shape |
| `server-error` | as `status=500` |
| `html-error[=NNN]` | NNN (502), `Content-Type: text/html`, a gateway's HTML page |
| `slow-first-byte=MS` | the normal answer, after MS milliseconds of silence |
| `slow-body=MS` | the normal answer, paused MS milliseconds after half of its body |
| `reset` | nothing: the connection is aborted with a TCP RST |
| `created-then-silence=MS` | creates as normal (records the token), sends nothing for MS milliseconds, then a TCP RST |
| `created-then-reset` | creates as normal, then a TCP RST instead of the answer |
| `created-then-reset-mid-body` | creates as normal, sends the 202's head and half its body, then a TCP RST |
| `concurrent-create` | another client creates the same spec first (if the name is free), then the normal answer (a taken name) |
| `reset-mid-body` | 202 head and half its body, then a TCP RST |
| `truncated` | 202 head and half its body, then a clean close (FIN) |
| `large=BYTES` | 202, a JSON body of exactly BYTES bytes (a `padding` field), streamed |
| `invalid-utf8` | 202, JSON with the bytes FF FE inside a string |
| `not-json` | 200, `Content-Type: text/plain`, `accepted, but not JSON` |

An unknown mode or a bad argument is answered 400 in the error shape. With
`X-Standin-Fault-Times: N` beside it, the fault answers only the first N creates of the same
`X-Call-Id` (the records still name it); later ones get the normal answer, as a retried step
sees a transient fault clear.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import math
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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["Settings", "StandIn", "main"]

COLLECTION_PATH = "/v2/dedicated-inferences"
ITEM_PATH = re.compile(re.escape(COLLECTION_PATH) + r"/([^/]+)")
TOKENS_PATH = re.compile(re.escape(COLLECTION_PATH) + r"/([^/]+)/tokens")
CONTROL_PREFIX = "/__standin/"
#: What every inference's endpoint host ends with: `<label>-public` or `<label>-private` before it.
ENDPOINT_DOMAIN = "-dedicated-inference.do-infra.ai"
JSON_UTF8 = "application/json; charset=utf-8"
# An idle keep-alive connection, or a client that stops reading, is dropped after this long,
# so that its thread ends.
IDLE_TIMEOUT_SECONDS = 30
# Bodies above this are refused (413) rather than read into memory.
MAX_REQUEST_BODY = 8 * 1024 * 1024
PADDING_CHUNK = b"x" * (64 * 1024)
# RFC 9110: these statuses carry no content.
BODYLESS_STATUSES = frozenset({204, 205, 304})

#: (method, route) -> (operation, the scope it needs), as the description's `security` says.
#: The operation names are the keys of fixtures/openapi/dedicated-inferences.json.
ROUTES = {
    ("POST", "collection"): ("create", "dedicated_inference:create"),
    ("GET", "collection"): ("list", "dedicated_inference:read"),
    ("GET", "item"): ("get", "dedicated_inference:read"),
    ("DELETE", "item"): ("delete", "dedicated_inference:delete"),
    ("POST", "tokens"): ("token_create", "dedicated_inference_tokens:create"),
}
TOKEN_PATTERN = re.compile(r"(?i:bearer) +((?:dop|doo)_v1_\S{8,})")
SCOPED_TOKEN = re.compile(r"(?:dop|doo)_v1_scopes=([^;]*)(?:;.*)?")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")
NAME_MAX = 255
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SECRET_KEYS = frozenset({"access_tokens", "secrets"})
# DigitalOcean's error ids where they differ from the reason phrase (Python 3.13 renames 422).
ERROR_IDS = {422: "unprocessable_entity", 500: "server_error"}
# The description's messages (the examples of specification/shared/responses/*.yml).
MESSAGES = {
    400: "error parsing request body",
    401: "Unable to authenticate you.",
    403: "You do not have permission to perform this action.",
    404: "The resource you requested could not be found.",
    409: "The request could not be completed due to a conflict.",
    422: "request payload validation failed",
    429: "API rate limit exceeded.",
    500: "Unexpected server-side error",
}
# Pagination, as the description's "Links & Pagination" section says.
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 200
# CORS: what a browser page on another origin must be able to read.
EXPOSED_HEADERS = "ratelimit-limit, ratelimit-remaining, ratelimit-reset, x-request-id, retry-after"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
PREFLIGHT_MAX_AGE = "86400"
# Rate limits: each request counts for an hour; the burst limit looks at the last minute.
HOUR = 3600.0
MINUTE = 60.0
# The spec of a fault's 202 when the request's own is not valid (docs/operation.md's example).
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


@dataclass(frozen=True)
class Settings:
    """What the command-line options set (see the module's documentation)."""

    provisioning_seconds: float = 2.0
    deleting_seconds: float = 2.0
    taken_name_status: int = 422
    #: Not the API's behaviour: a test mode that creates a second inference under a taken name,
    #: to count what retries would create if names were not unique.
    duplicate_names: bool = False
    rate_limit_hour: int = 5000
    rate_limit_minute: int = 250


class ApiError(Exception):
    """A problem answered in DigitalOcean's error shape, raised wherever it is found."""

    def __init__(
        self, status: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message or default_message(status))
        self.status = status
        self.headers = headers or {}


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


def endpoint_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    """An error of an inference's endpoint, in the OpenAI-compatible shape it answers with."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return json_reply(status, {"error": {"message": message, "type": kind, "code": code}}, headers)


def host_name(host: str) -> str:
    """A `Host` header's name, without its port."""
    name, colon, port = host.strip().rpartition(":")
    return name if colon and port.isdigit() else host.strip()


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def default_message(status: int) -> str:
    """The description's text for `status`, else its reason phrase."""
    return MESSAGES.get(status) or reason_phrase(status) or f"status {status}"


def error_id(status: int) -> str:
    """`not_found` for 404, `server_error` for 500, `http_599` for a status without a name."""
    derived = re.sub(r"[^a-z0-9]+", "_", reason_phrase(status).lower()).strip("_")
    return ERROR_IDS.get(status) or derived or f"http_{status}"


def utc_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Request bodies (the description's request schemas) ---


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


def checked_name(obj: dict[str, Any], key: str, path: str) -> str:
    """A name as the description constrains it: `^[a-zA-Z0-9_-]+$`, at most 255 long."""
    full_path = f"{path}.{key}" if path else key
    name: str = checked_field(obj, key, path, "string")
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidBodyError(full_path, f"must be 1 to {NAME_MAX} characters long, found {len(name)}")
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidBodyError(full_path, "must match ^[a-zA-Z0-9_-]+$")
    return name


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise InvalidBodyError("body", f"is not valid JSON ({error})") from None


def validate_create(document: Any) -> dict[str, Any]:
    """The `spec` of a valid create request; raises InvalidBodyError at the first problem."""
    expect_type(document, "body", "object")
    access_tokens = checked_field(document, "access_tokens", "", "object", required=False) or {}
    for key, value in access_tokens.items():
        expect_type(value, f"access_tokens.{key}", "string")
    spec: dict[str, Any] = checked_field(document, "spec", "", "object")
    checked_field(spec, "version", "spec", "integer")
    checked_name(spec, "name", "spec")
    checked_field(spec, "region", "spec", "string")  # any value: the documented list grows
    vpc = checked_field(spec, "vpc", "spec", "object")
    vpc_uuid = checked_field(vpc, "uuid", "spec.vpc", "string")
    if not UUID_PATTERN.fullmatch(vpc_uuid):
        raise InvalidBodyError("spec.vpc.uuid", "must be a UUID")
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


def validate_token_create(document: Any) -> str:
    """The name of a valid token create request."""
    expect_type(document, "body", "object")
    return checked_name(document, "name", "")


# --- Documents the API answers ---


def without_secrets(value: Any) -> Any:
    """A copy of `value` without any `access_tokens` or `secrets` key, at any depth."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [without_secrets(item) for item in value]
    return value


def endpoint_label() -> str:
    """25 random characters of [a-z2-7], like the description's example host names."""
    return base64.b32encode(secrets.token_bytes(20)).decode().lower()[:25]


def stored_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as the API keeps it: secrets removed, each deployment's `model_id` set."""
    kept = without_secrets(spec)
    for deployment in kept["model_deployments"]:
        if not deployment.get("model_id"):
            deployment["model_id"] = str(uuid.uuid4())
    return kept


def new_token(name: str, *, managed: bool, now: float) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "created_at": utc_text(now),
        "is_managed": managed,
        "value": "dit_" + secrets.token_hex(20),
    }


@dataclass
class Inference:
    """An inference as created; its documents depend on the time they are read at. `spec` is
    never changed: the documents share its parts."""

    id: str
    spec: dict[str, Any]
    deployment_id: str
    endpoint_label: str
    created: float  # time.time()
    created_at: str  # as the documents write it
    deleted: float | None = None
    #: The values of the tokens issued for it (create's and minted ones): its endpoint's keys.
    token_values: set[str] = field(default_factory=set)

    @classmethod
    def create(cls, spec: dict[str, Any], now: float) -> Inference:
        ids = str(uuid.uuid4()), str(uuid.uuid4())
        return cls(ids[0], stored_spec(spec), ids[1], endpoint_label(), now, utc_text(now))

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def endpoint_hosts(self) -> dict[str, str]:
        """Its endpoints' host names (without `https://`) by kind, `public` (if enabled) first."""
        kinds = ["public", "private"] if self.spec["enable_public_endpoint"] else ["private"]
        return {kind: f"{self.endpoint_label}-{kind}{ENDPOINT_DOMAIN}" for kind in kinds}

    def status(self, now: float, settings: Settings) -> str | None:
        """`provisioning`, `active`, `deleting`, or None once gone."""
        if self.deleted is not None:
            return "deleting" if now - self.deleted < settings.deleting_seconds else None
        return "provisioning" if now - self.created < settings.provisioning_seconds else "active"

    def document(self, now: float, settings: Settings, *, full: bool = True) -> dict[str, Any]:
        """The `dedicated_inference` object (`full`) or a list item."""
        status = self.status(now, settings) or "deleting"
        if self.deleted is not None:
            updated_at = utc_text(self.deleted)
        elif status == "active":
            updated_at = utc_text(self.created + settings.provisioning_seconds)
        else:
            updated_at = self.created_at
        endpoints = {f"{kind}_endpoint_fqdn": f"https://{host}" for kind, host in self.endpoint_hosts().items()}
        document: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "region": self.spec["region"],
            "vpc_uuid": self.spec["vpc"]["uuid"],
            "status": status,
            "endpoints": endpoints,
        }
        if full:
            provisioning = status == "provisioning"
            document["spec"] = spec = self.spec_view("provisioning" if provisioning else "active")
            if provisioning:
                # The deployment being provisioned, as the description's pending_deployment_spec.
                document["pending_deployment_spec"] = {
                    "id": self.deployment_id,
                    **{key: spec[key] for key in ("version", "name")},
                    "status": "provisioning",
                    **{key: spec[key] for key in ("vpc", "enable_public_endpoint", "model_deployments")},
                    "created_at": self.created_at,
                    "updated_at": self.created_at,
                }
        document["created_at"] = self.created_at
        document["updated_at"] = updated_at
        return document

    def spec_view(self, accelerator_status: str) -> dict[str, Any]:
        """The spec with each accelerator's read-only `status` set."""
        deployments = [
            {**d, "accelerators": [{**a, "status": accelerator_status} for a in d["accelerators"]]}
            if d.get("accelerators")
            else d
            for d in self.spec["model_deployments"]
        ]
        return {**self.spec, "model_deployments": deployments}


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


def token_scopes(token: str) -> frozenset[str] | None:
    """The scopes a `scopes=` token lists; None for a token with every scope."""
    match = SCOPED_TOKEN.fullmatch(token)
    if match is None:
        return None
    return frozenset(scope.strip() for scope in match[1].split(",") if scope.strip())


def api_route(path: str) -> tuple[str, str]:
    """The kind of API route (a key part of ROUTES, else "") and the inference id in it."""
    if path == COLLECTION_PATH:
        return "collection", ""
    if item := ITEM_PATH.fullmatch(path):
        return "item", item[1]
    if tokens := TOKENS_PATH.fullmatch(path):
        return "tokens", tokens[1]
    return "", ""


def query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    if not values:
        return default
    text = values[-1].strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ApiError(400, f"{name} must be an integer of at least 1, found {values[-1]!r}")
    return int(text)


# --- State shared by the connections ---


@dataclass
class RateUse:
    """One request's place in its token's budget."""

    remaining: int
    reset: int
    limited: bool = False
    retry_after: int | None = None  # seconds: only when the burst limit was hit


class RateLimiter:
    """The description's rate limits: per token, each request counted for an hour from when
    it was made, and at most `per_minute` in any minute."""

    def __init__(self, per_hour: int, per_minute: int) -> None:
        self.per_hour = per_hour
        self.per_minute = per_minute
        self._hour: dict[str, deque[float]] = {}
        self._minute: dict[str, deque[float]] = {}

    def use(self, token: str, now: float, *, count: bool) -> RateUse:
        """Counts a request of `token` at `now` (unless `count` is false or it is over a
        limit, which is not counted either). Callers hold the state's lock."""
        hour = self._hour.setdefault(token, deque())
        minute = self._minute.setdefault(token, deque())
        while hour and hour[0] <= now - HOUR:
            hour.popleft()
        while minute and minute[0] <= now - MINUTE:
            minute.popleft()
        if count and len(hour) >= self.per_hour:
            return RateUse(0, math.ceil(hour[0] + HOUR), limited=True)
        if count and len(minute) >= self.per_minute:
            retry_after = max(1, math.ceil(minute[0] + MINUTE - now))
            return RateUse(0, math.ceil(hour[0] + HOUR), limited=True, retry_after=retry_after)
        if count:
            hour.append(now)
            minute.append(now)
        oldest = hour[0] if hour else now
        if not hour:  # nothing counted: drop the empty budgets again
            del self._hour[token], self._minute[token]
        return RateUse(max(self.per_hour - len(hour), 0), math.ceil(oldest + HOUR))


class State:
    """Records, inferences and rate-limit budgets, behind one lock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        #: Every token minted with POST /{id}/tokens: inference_id, call_id, name, value.
        self._minted: list[dict[str, Any]] = []
        self._seq = 0
        self._inferences: dict[str, Inference] = {}  # by id, in creation order
        #: name -> ids: one id, unless `duplicate_names` let a name be created again.
        self._ids_by_name: dict[str, set[str]] = {}
        self._deleting: set[str] = set()
        self._limiter = RateLimiter(settings.rate_limit_hour, settings.rate_limit_minute)

    def add_record(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, "time": time.time(), **fields, "status": None}
            self._records.append(record)
            return record

    def earlier_faults(self, call_id: str | None, fault: str) -> int:
        """How many earlier records of `call_id` carried `fault` (for X-Standin-Fault-Times)."""
        with self._lock:
            return sum(1 for r in self._records[:-1] if r["call_id"] == call_id and r["fault"] == fault)

    def update_record(self, record: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            record.update(fields)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._records)

    def add_minted(self, **fields: Any) -> None:
        with self._lock:
            self._minted.append(fields)

    def minted(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._minted)

    def clear_records(self) -> None:
        with self._lock:
            self._records.clear()

    def use_rate_limit(self, token: str, *, count: bool = True) -> RateUse:
        with self._lock:
            return self._limiter.use(token, time.time(), count=count)

    def _live(self, now: float) -> None:
        """Forgets the inferences whose deletion has finished. Callers hold the lock."""
        for inference_id in list(self._deleting):
            inference = self._inferences[inference_id]
            if inference.status(now, self.settings) is None:
                self._deleting.discard(inference_id)
                del self._inferences[inference_id]
                ids = self._ids_by_name[inference.name]
                ids.discard(inference_id)
                if not ids:
                    del self._ids_by_name[inference.name]

    def add_inference(self, spec: dict[str, Any], token_value: str) -> dict[str, Any] | None:
        """A new inference for a valid `spec`, whose endpoint takes `token_value`, as its
        document; None when the name is taken."""
        now = time.time()
        with self._lock:
            self._live(now)
            if spec["name"] in self._ids_by_name and not self.settings.duplicate_names:
                return None
            inference = Inference.create(spec, now)
            inference.token_values.add(token_value)
            self._inferences[inference.id] = inference
            self._ids_by_name.setdefault(inference.name, set()).add(inference.id)
            return inference.document(now, self.settings)

    def inference(self, inference_id: str) -> dict[str, Any] | None:
        now = time.time()
        with self._lock:
            self._live(now)
            inference = self._inferences.get(inference_id)
            return None if inference is None else inference.document(now, self.settings)

    def add_token(self, inference_id: str, token_value: str) -> bool:
        """Lets the inference's endpoint take one more token; False when it is gone."""
        with self._lock:
            self._live(time.time())
            inference = self._inferences.get(inference_id)
            if inference is None:
                return False
            inference.token_values.add(token_value)
            return True

    def endpoint(self, host: str) -> tuple[Inference, str] | None:
        """The inference one of whose endpoints is `host`, with its status; None if none."""
        if not host.endswith(ENDPOINT_DOMAIN):  # every API request: no search
            return None
        now = time.time()
        with self._lock:
            self._live(now)
            for inference in self._inferences.values():
                if host in inference.endpoint_hosts().values():
                    return inference, inference.status(now, self.settings) or "deleting"
        return None

    def delete_inference(self, inference_id: str) -> bool:
        """Starts deleting; False when there is no such inference (any more)."""
        now = time.time()
        with self._lock:
            self._live(now)
            inference = self._inferences.get(inference_id)
            if inference is None:
                return False
            if inference.deleted is None:
                inference.deleted = now
                self._deleting.add(inference_id)
            return True

    def list_inferences(self, region: str | None, name: str | None) -> list[dict[str, Any]]:
        now = time.time()
        with self._lock:
            self._live(now)
            return [
                inference.document(now, self.settings, full=False)
                for inference in self._inferences.values()
                if region in (None, inference.spec["region"]) and name in (None, inference.name)
            ]


# --- HTTP ---


class Server(ThreadingHTTPServer):
    # Closing the server does not wait for clients' open keep-alive connections.
    block_on_close = False
    # Dozens of clients connecting at once must not overflow the accept queue.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], verbose: bool, settings: Settings) -> None:
        self.state = State(settings)
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
    _rate = RateUse(0, 0)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answers what http.server itself rejects (a malformed request, an unknown method)."""
        self.log_error("code %d, message %s", code, message)
        self._start(token="", count=False)
        self.close_connection = True
        self._send(self._error(code, message or reason_phrase(code)))

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if endpoint := self.server.state.endpoint(host_name(self.headers.get("Host", ""))):
            self._start(token="", count=False)
            # /v1/models takes no body: one sent is not read, so the connection cannot be reused.
            self.close_connection = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
            self._send(self._endpoint(*endpoint, path))
            return
        counted = not path.startswith(CONTROL_PREFIX) and self.command != "OPTIONS"
        self._start(self.headers.get("Authorization", ""), count=counted)
        try:
            length = self._content_length()
            body = self._read_body(length)
            if body is None:
                return
            route, inference_id = api_route(path)
            if self.command == "OPTIONS":
                self._send(Reply(204, headers=self._preflight_headers()))
            elif (self.command, path) == ("POST", COLLECTION_PATH):
                self._post(body, length)
            elif (self.command, path) == ("GET", "/__standin/health"):
                self._send(json_reply(200, {"ok": True}))
            elif (self.command, path) == ("GET", "/__standin/requests"):
                self._send(json_reply(200, self.server.state.records()))
            elif (self.command, path) == ("GET", "/__standin/tokens"):
                self._send(json_reply(200, self.server.state.minted()))
            elif (self.command, path) == ("DELETE", "/__standin/requests"):
                self.server.state.clear_records()
                self._send(Reply(204))
            elif (self.command, route) in ROUTES:
                operation, scope = ROUTES[(self.command, route)]
                self._admit(scope)
                match operation:
                    case "list":
                        self._send(self._list(parse_qs(parts.query)))
                    case "get":
                        self._send(json_reply(200, {"dedicated_inference": self._inference(inference_id)}))
                    case "delete":
                        if not self.server.state.delete_inference(inference_id):
                            raise ApiError(404)
                        self._send(Reply(202))
                    case "token_create":
                        self._send(self._token_create(inference_id, body))
            else:
                raise ApiError(404)
        except ApiError as error:
            self._send(self._error(error.status, str(error), error.headers))

    # http.server calls do_<METHOD>; _dispatch routes on method and path together.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _start(self, token: str, count: bool) -> None:
        """Per-request state: a request id, no record yet, this request's use of the token's
        rate budget."""
        self._request_id = str(uuid.uuid4())
        self._record = None
        self._rate = self.server.state.use_rate_limit(token, count=count)

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

    def _admit(self, scope: str) -> None:
        """The checks every API request passes first: token, rate limits, scope."""
        match = TOKEN_PATTERN.fullmatch(self.headers.get("Authorization", "").strip())
        if match is None:
            raise ApiError(401)
        if self._rate.limited:
            retry_after = self._rate.retry_after
            raise ApiError(429, headers={} if retry_after is None else {"Retry-After": str(retry_after)})
        scopes = token_scopes(match[1])
        if scopes is not None and scope not in scopes:
            raise ApiError(403)

    def _json_body(self, body: bytes) -> Any:
        media_type = self.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            raise ApiError(415, f"Content-Type must be application/json, found {media_type or 'none'}")
        return parse_json(body)

    def _inference(self, inference_id: str) -> dict[str, Any]:
        inference = self.server.state.inference(inference_id)
        if inference is None:
            raise ApiError(404)
        return inference

    def _list(self, query: dict[str, list[str]]) -> Reply:
        page = query_int(query, "page", 1)
        per_page = min(query_int(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        region = (query.get("region") or [None])[-1]
        name = (query.get("name") or [None])[-1]
        matches = self.server.state.list_inferences(region, name)
        last = max(1, math.ceil(len(matches) / per_page))
        pages: dict[str, str] = {}
        if page > 1:
            pages["first"] = self._page_url(query, 1, per_page)
            pages["prev"] = self._page_url(query, min(page - 1, last), per_page)
        if page < last:
            pages["next"] = self._page_url(query, page + 1, per_page)
            pages["last"] = self._page_url(query, last, per_page)
        return json_reply(
            200,
            {
                "dedicated_inferences": matches[(page - 1) * per_page : page * per_page],
                "links": {"pages": pages} if pages else {},
                "meta": {"total": len(matches)},
            },
        )

    def _page_url(self, query: dict[str, list[str]], page: int, per_page: int) -> str:
        kept = {key: values[-1] for key, values in query.items() if key in ("region", "name")}
        host = self.headers.get("Host") or f"{self.server.server_name}:{self.server.server_port}"
        return f"http://{host}{COLLECTION_PATH}?{urlencode({**kept, 'page': page, 'per_page': per_page})}"

    def _endpoint(self, inference: Inference, status: str, path: str) -> Reply:
        """The inference's own endpoint (see the module's documentation)."""
        if (self.command, path) != ("GET", "/v1/models") or status == "deleting":
            return endpoint_error(404, "not_found", f"{self.command} {path} is not served here")
        if status == "provisioning":
            ready = inference.created + self.server.state.settings.provisioning_seconds - time.time()
            retry_after = {"Retry-After": str(max(1, math.ceil(ready)))}
            return endpoint_error(503, "unavailable", "the endpoint is being provisioned", retry_after)
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in inference.token_values:
            return endpoint_error(401, "invalid_api_key", "Invalid API key.")
        models = [
            {"id": d["model_slug"], "object": "model", "owned_by": d.get("model_provider", "")}
            for d in inference.spec["model_deployments"]
        ]
        return json_reply(200, {"object": "list", "data": models})

    def _token_create(self, inference_id: str, body: bytes) -> Reply:
        self._inference(inference_id)
        name = validate_token_create(self._json_body(body))
        token = new_token(name, managed=False, now=time.time())
        if not self.server.state.add_token(inference_id, token["value"]):
            raise ApiError(404)
        self.server.state.add_minted(
            inference_id=inference_id, call_id=self.headers.get("X-Call-Id"), name=name, value=token["value"]
        )
        return json_reply(202, {"token": token})

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
        times = self.headers.get("X-Standin-Fault-Times")
        if fault is not None and times is not None and times.isdigit():
            # A fault for the first N creates of this X-Call-Id only: a retried step meets it
            # N times, then the real answer.
            if self.server.state.earlier_faults(self._record["call_id"], fault) >= int(times):
                fault = None
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
            return self._error(error.status, str(error), error.headers)

    def _create(self, body: bytes) -> Reply:
        self._admit(ROUTES[("POST", "collection")][1])
        spec = validate_create(self._json_body(body))
        token = new_token(f"{spec['name']}-token", managed=True, now=time.time())
        inference = self.server.state.add_inference(spec, token["value"])
        if inference is None:
            status = self.server.state.settings.taken_name_status
            raise ApiError(status, f"spec.name: {spec['name']!r} is already in use")
        self._note_issued(token)
        return json_reply(202, {"dedicated_inference": inference, "token": token})

    def _note_issued(self, token: dict[str, Any]) -> None:
        """The token value of a 202 goes into the request's record (`issued_token`), so that
        tests know which secret must be masked everywhere."""
        if self._record is not None:
            self.server.state.update_record(self._record, issued_token=token["value"])

    def _fault_accepted(self, body: bytes) -> dict[str, Any]:
        """A 202 document for a fault; stores nothing."""
        now = time.time()
        spec = fault_spec(body)
        token = new_token(f"{spec['name']}-token", managed=True, now=now)
        self._note_issued(token)
        inference = Inference.create(spec, now).document(now, self.server.state.settings)
        return {"dedicated_inference": inference, "token": token}

    def _fault(self, mode: str, arg: str | None, body: bytes) -> None:
        match mode:
            case "rate-limit":
                headers = {"Retry-After": str(fault_int(mode, arg, 7)), "ratelimit-remaining": "0"}
                self._send(self._error(429, headers=headers))
            case "rate-limit-date":
                retry_at = int(time.time()) + fault_int(mode, arg, 30)
                headers = {"Retry-After": formatdate(retry_at, usegmt=True), "ratelimit-remaining": "0"}
                self._send(self._error(429, headers=headers))
            case "rate-limit-reset":
                reset = int(time.time()) + fault_int(mode, arg, 20)
                headers = {"ratelimit-remaining": "0", "ratelimit-reset": str(reset)}
                self._send(self._error(429, headers=headers))
            case "rate-limit-bare":
                # Above 0 even when this token's budget really is spent.
                headers = {"ratelimit-remaining": str(max(self._rate.remaining, 1))}
                self._send(self._error(429, headers=headers))
            case "status" | "server-error":
                status = 500 if mode == "server-error" else fault_int(mode, arg, None, 200, 599)
                if status == 202:
                    self._send(json_reply(202, self._fault_accepted(body)))
                elif 200 <= status < 300:
                    self._send(json_reply(status, {"ok": True}))
                else:
                    self._send(self._error(status))
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
            case "created-then-silence":
                # Created for real, then no answer until the client gave up.
                self._normal(body)
                time.sleep(fault_int(mode, arg) / 1000)
                self._abort()
            case "created-then-reset":
                self._normal(body)
                self._abort()
            case "created-then-reset-mid-body":
                self._send_half(self._normal(body))
                self._abort()
            case "concurrent-create":
                # Another client's create of the same spec lands first; then this one is
                # answered as the API would (taken, or a second one with --duplicate-names).
                try:
                    spec = validate_create(self._json_body(body))
                    other = new_token(f"{spec['name']}-token", managed=True, now=time.time())
                    self.server.state.add_inference(spec, other["value"])
                except ApiError:
                    pass
                self._send(self._normal(body))
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

    def _error(self, status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        """An answer in DigitalOcean's error shape; its request_id is the x-request-id."""
        text = message or default_message(status)
        document = {"id": error_id(status), "message": text, "request_id": self._request_id}
        return json_reply(status, document, headers)

    def _cors_headers(self) -> dict[str, str]:
        """What a browser needs to let a page on `Origin` read the answer."""
        headers = getattr(self, "headers", None)  # absent when the request line was malformed
        origin = headers.get("Origin") if headers is not None else None
        if not origin:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }

    def _preflight_headers(self) -> dict[str, str]:
        if not self.headers.get("Origin"):
            return {"Allow": ALLOWED_METHODS}
        headers = {
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
        if asked := self.headers.get("Access-Control-Request-Headers"):
            headers["Access-Control-Allow-Headers"] = asked
        return headers

    def _head(
        self, status: int, content_type: str | None, length: int | None, headers: Mapping[str, str]
    ) -> bytes:
        """The status line and headers of an answer, with those every answer gets; also notes
        the status in the request's record and in the log."""
        fields = {
            "Date": self.date_time_string(),
            "Server": self.server_version,
            "x-request-id": self._request_id,
            "ratelimit-limit": str(self.server.state.settings.rate_limit_hour),
            "ratelimit-remaining": str(self._rate.remaining),
            "ratelimit-reset": str(self._rate.reset),
            **self._cors_headers(),
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

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        settings: Settings | None = None,
    ) -> None:
        self._server = Server((host, port), verbose, settings or Settings())
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
    parser = argparse.ArgumentParser(description="Local stand-in of DigitalOcean's Dedicated Inference API.")
    defaults = Settings()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument(
        "--provisioning-seconds", type=float, default=defaults.provisioning_seconds,
        help="how long a new inference is provisioning before it is active (%(default)s)",
    )
    parser.add_argument(
        "--deleting-seconds", type=float, default=defaults.deleting_seconds,
        help="how long a deleted inference is deleting before it is gone (%(default)s)",
    )
    parser.add_argument(
        "--taken-name-status", type=int, choices=(409, 422), default=defaults.taken_name_status,
        help="the status of a create whose name is taken (%(default)s)",
    )
    parser.add_argument(
        "--duplicate-names", action="store_true",
        help="test mode: create a second inference under a taken name, as no real API does",
    )
    parser.add_argument(
        "--rate-limit-hour", type=int, default=defaults.rate_limit_hour,
        help="requests per token per rolling hour (%(default)s)",
    )
    parser.add_argument(
        "--rate-limit-minute", type=int, default=defaults.rate_limit_minute,
        help="requests per token per rolling minute, the burst limit (%(default)s)",
    )
    args = parser.parse_args(argv)
    if min(args.provisioning_seconds, args.deleting_seconds) < 0:
        parser.error("--provisioning-seconds and --deleting-seconds must be 0 or more")
    if min(args.rate_limit_hour, args.rate_limit_minute) < 1:
        parser.error("--rate-limit-hour and --rate-limit-minute must be 1 or more")
    settings = Settings(
        provisioning_seconds=args.provisioning_seconds,
        deleting_seconds=args.deleting_seconds,
        taken_name_status=args.taken_name_status,
        duplicate_names=args.duplicate_names,
        rate_limit_hour=args.rate_limit_hour,
        rate_limit_minute=args.rate_limit_minute,
    )
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    # Blocked before the server thread exists (threads inherit the mask), so that only the
    # sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with StandIn(args.host, args.port, verbose=args.verbose, settings=settings) as api:
        print(f"READY {api.url}", flush=True)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
