"""Who may call the stand-in, how often, and from which web page: scope-limited tokens (403),
DigitalOcean's rate limits (429) and CORS, as the API description says (fixtures/openapi)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standin_client import (
    PATH,
    Answer,
    Api,
    assert_error,
    create_body,
    facts,
    running,
    standin,
    unique_token,
    unlimited,
)

# --- Scopes ---

#: One call of each API route: (operation, method, path template, body).
CALLS = [
    ("create", "POST", PATH, None),
    ("list", "GET", PATH, None),
    ("get", "GET", PATH + "/{id}", None),
    ("delete", "DELETE", PATH + "/{id}", None),
    ("token_create", "POST", PATH + "/{id}/tokens", {"name": "t"}),
]


def test_the_routes_need_the_scopes_the_description_names() -> None:
    needed = {operation: scope for operation, scope in standin.ROUTES.values()}
    assert needed == {key: " ".join(op["scopes"]) for key, op in facts()["operations"].items()}


def call(api: Api, operation: str, token: str) -> Answer:
    _, method, template, body = next(c for c in CALLS if c[0] == operation)
    if operation == "create":
        return api.create(create_body(), token=token)
    inference_id = api.created()["id"]
    return api.call(method, template.format(id=inference_id), body, token=token)


@pytest.mark.parametrize("operation", [c[0] for c in CALLS])
def test_a_token_needs_the_scope_of_the_route(api: Api, operation: str) -> None:
    needed = next(scope for op, scope in standin.ROUTES.values() if op == operation)
    others = [scope for _, scope in standin.ROUTES.values() if scope != needed]
    document = assert_error(call(api, operation, unique_token(others)), 403, "forbidden")
    assert document["message"] == facts()["errors"]["examples"]["403"]["message"]
    assert call(api, operation, unique_token([needed])).status in (200, 202)
    assert_error(call(api, operation, unique_token([])), 403, "forbidden")


def test_a_read_only_token_reads_but_does_not_create(api: Api) -> None:
    reader = "dop_v1_scopes=dedicated_inference:read;ci-7"
    assert api.call("GET", PATH, token=reader).status == 200
    assert_error(api.create(token=reader), 403, "forbidden")
    assert api.create(token="doo_v1_scopes=dedicated_inference:create").status == 202


def test_a_refused_scope_is_checked_after_the_token_and_before_the_body(api: Api) -> None:
    reader = unique_token(["dedicated_inference:read"])
    assert_error(api.create({"spec": "nonsense"}, token=reader), 403, "forbidden")
    assert_error(api.create(token="dop_v1_scopes"), 401, "unauthorized")  # too short: not a token


# --- Rate limits ---


def hours(n: float) -> float:
    return n * 3600


class TestTheLimiter:
    """standin.RateLimiter with a clock of its own."""

    def test_each_request_counts_for_an_hour(self) -> None:
        limiter = standin.RateLimiter(per_hour=3, per_minute=100)
        uses = [limiter.use("t", 1000.0 + i * 100, count=True) for i in range(3)]
        assert [u.remaining for u in uses] == [2, 1, 0]
        assert {u.reset for u in uses} == {1000 + 3600}  # when the oldest expires
        refused = limiter.use("t", 1300.0, count=True)
        assert (refused.limited, refused.remaining, refused.retry_after, refused.reset) == (True, 0, None, 4600)
        # The oldest request expires at 4600: one more is allowed, and the reset moves on.
        later = limiter.use("t", 4600.5, count=True)
        assert (later.limited, later.remaining, later.reset) == (False, 0, 1100 + 3600)

    def test_the_burst_limit_sends_retry_after(self) -> None:
        limiter = standin.RateLimiter(per_hour=100, per_minute=2)
        limiter.use("t", 10.0, count=True)
        limiter.use("t", 30.0, count=True)
        burst = limiter.use("t", 40.0, count=True)
        assert (burst.limited, burst.remaining, burst.retry_after) == (True, 0, 30)  # 10 + 60 - 40
        assert limiter.use("t", 70.5, count=True).limited is False  # the first left the minute

    def test_refused_requests_and_peeks_do_not_count(self) -> None:
        limiter = standin.RateLimiter(per_hour=2, per_minute=100)
        limiter.use("t", 0.0, count=True)
        assert limiter.use("t", 1.0, count=False).remaining == 1
        limiter.use("t", 2.0, count=True)
        for second in range(3, 10):
            assert limiter.use("t", float(second), count=True).limited
        assert limiter.use("t", 3600.5, count=True).remaining == 0  # only the first expired

    def test_tokens_have_budgets_of_their_own(self) -> None:
        limiter = standin.RateLimiter(per_hour=1, per_minute=1)
        assert not limiter.use("a", 0.0, count=True).limited
        assert limiter.use("a", 0.0, count=True).limited
        assert not limiter.use("b", 0.0, count=True).limited

    def test_an_unused_token_resets_an_hour_from_now(self) -> None:
        use = standin.RateLimiter(per_hour=5, per_minute=5).use("t", 100.2, count=False)
        assert (use.remaining, use.reset) == (5, math.ceil(100.2 + 3600))


def test_the_default_limits_are_the_descriptions(api: Api) -> None:
    described = facts()["rate_limit"]
    defaults = standin.Settings()
    assert (defaults.rate_limit_hour, defaults.rate_limit_minute) == (described["per_hour"], described["per_minute"])
    with running() as limited:
        assert limited.create().headers["ratelimit-limit"] == str(described["per_hour"])


@pytest.fixture(scope="module")
def hourly() -> Iterator[Api]:
    with running("--rate-limit-hour", "3", "--rate-limit-minute", "100") as api:
        yield api


@pytest.fixture(scope="module")
def bursty() -> Iterator[Api]:
    with running("--rate-limit-hour", "100", "--rate-limit-minute", "2") as api:
        yield api


def rate_headers(answer: Answer) -> tuple[int, int, int]:
    limit, remaining, reset = (int(answer.headers[f"ratelimit-{name}"]) for name in ("limit", "remaining", "reset"))
    return limit, remaining, reset


def test_past_the_hourly_limit_every_route_is_429_without_retry_after(hourly: Api) -> None:
    token = unique_token()
    started = time.time()
    allowed = [hourly.create(token=token) for _ in range(2)] + [hourly.call("GET", PATH, token=token)]
    assert [a.status for a in allowed] == [202, 202, 200]
    assert [rate_headers(a)[:2] for a in allowed] == [(3, 2), (3, 1), (3, 0)]
    reset = rate_headers(allowed[0])[2]
    assert math.ceil(started + 3600) <= reset <= math.ceil(time.time() + 3600)
    refused = [
        hourly.create(token=token),
        hourly.call("GET", PATH, token=token),
        hourly.call("GET", f"{PATH}/x", token=token),
        hourly.call("DELETE", f"{PATH}/x", token=token),
        hourly.call("POST", f"{PATH}/x/tokens", {"name": "t"}, token=token),
    ]
    for answer in refused:
        document = assert_error(answer, 429, "too_many_requests")
        assert document["message"] == facts()["errors"]["examples"]["429"]["message"]
        assert rate_headers(answer) == (3, 0, reset) and "Retry-After" not in answer.headers
    assert hourly.create(token=unique_token()).status == 202  # another token's budget is whole


def test_past_the_burst_limit_a_429_says_when_to_retry(bursty: Api) -> None:
    token = unique_token()
    assert [bursty.create(token=token).status for _ in range(2)] == [202, 202]
    answer = bursty.create(token=token)
    assert_error(answer, 429, "too_many_requests")
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert answer.headers["ratelimit-remaining"] == "0"  # as the description's burst sample
    assert facts()["rate_limit"]["burst_only_headers"] == ["retry-after"]


def test_a_fault_answers_even_past_the_limits(hourly: Api) -> None:
    token = unique_token()
    for _ in range(3):
        hourly.create(token=token)
    assert hourly.fault("status=202", Authorization=f"Bearer {token}").status == 202


def test_the_control_routes_and_preflights_are_not_counted(bursty: Api) -> None:
    token = unique_token()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        assert bursty.request("GET", "/__standin/health", headers=auth).status == 200
        assert bursty.request("OPTIONS", PATH, headers=auth).status == 204
    assert [bursty.create(token=token).status for _ in range(2)] == [202, 202]


# --- CORS ---

ORIGIN = "http://127.0.0.1:5173"
EXPOSED = {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-request-id", "retry-after"}


def listed(value: str | None) -> set[str]:
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def test_a_preflight_allows_the_page_to_send_its_request(api: Api) -> None:
    asked = "authorization, content-type, x-call-id, x-standin-fault"
    answer = api.request(
        "OPTIONS",
        PATH,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked},
    )
    assert (answer.status, answer.body) == (204, b"")
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    methods = {m.upper() for m in listed(answer.headers["Access-Control-Allow-Methods"])}
    assert {"GET", "POST", "DELETE", "OPTIONS"} <= methods
    assert listed(answer.headers["Access-Control-Allow-Headers"]) == listed(asked)
    assert int(answer.headers["Access-Control-Max-Age"]) > 0
    # Every header the description's CORS section names is there.
    assert all(name in answer.headers for name in facts()["cors"]["headers"])


def cors_exposes(answer: Answer) -> None:
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert EXPOSED <= listed(answer.headers["Access-Control-Expose-Headers"])
    assert "origin" in listed(answer.headers["Vary"])


@pytest.mark.parametrize(
    "send",
    [
        lambda api: api.create(Origin=ORIGIN),
        lambda api: api.create(token=None, Origin=ORIGIN),
        lambda api: api.fault("rate-limit", Origin=ORIGIN),
        lambda api: api.fault("html-error", Origin=ORIGIN),
        lambda api: api.call("GET", PATH, Origin=ORIGIN),
        lambda api: api.call("GET", "/nowhere", Origin=ORIGIN),
    ],
    ids=["202", "401", "429", "html-502", "list", "404"],
)
def test_every_answer_to_a_page_lets_it_read_the_headers(api: Api, send: Any) -> None:
    cors_exposes(send(api))


def test_no_origin_no_cors_headers(api: Api) -> None:
    answer = api.create()
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    plain = api.request("OPTIONS", PATH)
    assert plain.status == 204 and "Access-Control-Allow-Origin" not in plain.headers
    assert "POST" in plain.headers["Allow"]
