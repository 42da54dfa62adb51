"""The stand-in's inferences over time and its other routes: get, list, delete, token create."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from standin_client import (
    PATH,
    RFC3339_UTC,
    TOKEN,
    UUID,
    Api,
    assert_error,
    create_body,
    running,
    unique_name,
    unlimited,
)

#: How long the stand-in of this module keeps an inference provisioning, and deleting.
DELAY_S = 0.5


@pytest.fixture(scope="module")
def short() -> Iterator[Api]:
    """A stand-in whose inferences become active, and disappear, within DELAY_S."""
    with running(*unlimited("--provisioning-seconds", str(DELAY_S), "--deleting-seconds", str(DELAY_S))) as api:
        yield api


def get(api: Api, inference_id: str) -> Any:
    return api.call("GET", f"{PATH}/{inference_id}")


def wait(seconds: float = DELAY_S) -> None:
    time.sleep(seconds + 0.1)


def test_provisioning_then_active(short: Api) -> None:
    created = short.created()
    read = get(short, created["id"])
    assert read.status == 200 and read.json() == {"dedicated_inference": created}
    assert created["status"] == "provisioning" and "pending_deployment_spec" in created
    wait()
    active = get(short, created["id"]).json()["dedicated_inference"]
    assert active["status"] == "active"
    assert "pending_deployment_spec" not in active  # pending only while provisioning
    accelerators = active["spec"]["model_deployments"][0]["accelerators"]
    assert [a["status"] for a in accelerators] == ["active"]
    assert RFC3339_UTC.fullmatch(active["updated_at"]) and active["updated_at"] >= created["updated_at"]
    assert active["created_at"] == created["created_at"] and active["id"] == created["id"]


def test_the_default_provisioning_time_is_two_seconds(api: Api) -> None:
    created = api.created()
    time.sleep(1.5)
    assert get(api, created["id"]).json()["dedicated_inference"]["status"] == "provisioning"
    time.sleep(0.6)
    assert get(api, created["id"]).json()["dedicated_inference"]["status"] == "active"


def test_delete_is_202_then_deleting_then_gone(short: Api) -> None:
    body = create_body()
    created = short.create(body).json()["dedicated_inference"]
    item = f"{PATH}/{created['id']}"
    deleted = short.call("DELETE", item)
    assert (deleted.status, deleted.body, deleted.headers["Content-Length"]) == (202, b"", "0")
    assert get(short, created["id"]).json()["dedicated_inference"]["status"] == "deleting"
    assert short.call("DELETE", item).status == 202  # again, while deleting
    assert short.create(body).status == 422  # the name is still taken
    wait()
    for answer in (get(short, created["id"]), short.call("DELETE", item)):
        document = assert_error(answer, 404, "not_found")
        assert document["message"] == "The resource you requested could not be found."
    assert short.create(body).status == 202  # the name is free again


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_unknown_inference_is_404_and_a_missing_token_401(short: Api, method: str) -> None:
    item = f"{PATH}/6b5c619c-359c-44ca-87e2-47e98170c01d"
    assert_error(short.call(method, item), 404, "not_found")
    assert_error(short.call(method, item, token=None), 401, "unauthorized")


# --- The list ---


def listing(api: Api, query: str = "", token: str = TOKEN) -> Any:
    answer = api.call("GET", f"{PATH}?{query}" if query else PATH, token=token)
    assert answer.status == 200, answer.body
    return answer.json()


def test_list_items_are_the_inferences_without_their_specs(short: Api) -> None:
    created = short.created()
    [item] = listing(short, f"name={created['name']}")["dedicated_inferences"]
    assert item == {k: v for k, v in created.items() if k not in ("spec", "pending_deployment_spec")}


def test_list_filters_by_region_and_name() -> None:
    with running(*unlimited()) as api:
        names = {region: [api.created(region=region)["name"] for _ in range(2)] for region in ("atl1", "nyc2")}
        document = listing(api, "region=nyc2")
        assert [i["name"] for i in document["dedicated_inferences"]] == names["nyc2"]
        assert document["meta"] == {"total": 2} and document["links"] == {}
        assert [i["name"] for i in listing(api, f"name={names['atl1'][1]}")["dedicated_inferences"]] == [
            names["atl1"][1]
        ]
        assert listing(api, f"name={unique_name()}") == {"dedicated_inferences": [], "links": {}, "meta": {"total": 0}}
        assert listing(api)["meta"]["total"] == 4


def test_pages_link_to_each_other_and_cover_every_inference() -> None:
    with running(*unlimited()) as api:
        ids = [api.created()["id"] for _ in range(5)]
        first = listing(api, "per_page=2")
        assert set(first["links"]["pages"]) == {"next", "last"}  # no first or prev on page 1
        assert first["meta"] == {"total": 5}
        seen, document, pages = [], first, 0
        while True:
            pages += 1
            seen += [i["id"] for i in document["dedicated_inferences"]]
            next_url = document["links"].get("pages", {}).get("next")
            if next_url is None:
                break
            parts = urlsplit(next_url)
            assert parts.scheme == "http" and f"{parts.hostname}:{parts.port}" == f"{api.host}:{api.port}"
            document = listing(api, parts.query)
        assert seen == ids and pages == 3
        assert set(document["links"]["pages"]) == {"first", "prev"}  # the last page
        last = parse_qs(urlsplit(first["links"]["pages"]["last"]).query)
        assert last == {"page": ["3"], "per_page": ["2"]}
        middle = listing(api, "page=2&per_page=2")["links"]["pages"]
        assert set(middle) == {"first", "prev", "next", "last"}
        beyond = listing(api, "page=9&per_page=2")
        assert beyond["dedicated_inferences"] == [] and beyond["meta"] == {"total": 5}
        assert len(listing(api, "per_page=500")["dedicated_inferences"]) == 5  # served as 200


def test_twenty_per_page_by_default() -> None:
    with running(*unlimited()) as api:
        for _ in range(21):
            api.created()
        document = listing(api)
        assert len(document["dedicated_inferences"]) == 20
        assert parse_qs(urlsplit(document["links"]["pages"]["next"]).query) == {"page": ["2"], "per_page": ["20"]}


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=abc", "page=-1", "page=1.5"])
def test_a_page_or_per_page_that_is_not_a_positive_integer_is_400(short: Api, query: str) -> None:
    document = assert_error(short.call("GET", f"{PATH}?{query}"), 400, "bad_request")
    assert query.partition("=")[0] in document["message"]


def test_the_list_shows_deleting_inferences_until_they_are_gone(short: Api) -> None:
    created = short.created()
    assert short.call("DELETE", f"{PATH}/{created['id']}").status == 202
    [item] = listing(short, f"name={created['name']}")["dedicated_inferences"]
    assert item["status"] == "deleting"
    wait()
    assert listing(short, f"name={created['name']}")["dedicated_inferences"] == []


# --- Tokens ---


def test_token_create_returns_a_fresh_value_once(short: Api) -> None:
    created = short.created()
    tokens = f"{PATH}/{created['id']}/tokens"
    first = short.call("POST", tokens, {"name": "ci-reader"})
    assert first.status == 202
    token = first.json()["token"]
    assert set(token) == {"id", "name", "created_at", "is_managed", "value"}
    assert UUID.fullmatch(token["id"]) and token["name"] == "ci-reader" and token["is_managed"] is False
    assert RFC3339_UTC.fullmatch(token["created_at"]) and re.fullmatch(r"dit_[0-9a-f]{40}", token["value"])
    second = short.call("POST", tokens, {"name": "ci-reader"}).json()["token"]
    assert second["value"] != token["value"] and second["id"] != token["id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name: is required"),
        ({"name": "has space"}, "name: must match"),
        ({"name": "x" * 256}, "name: must be 1 to 255 characters long"),
        ({"name": 7}, "name: expected string"),
        ([], "body: expected object"),
    ],
)
def test_token_create_checks_the_name(short: Api, body: Any, message: str) -> None:
    tokens = f"{PATH}/{short.created()['id']}/tokens"
    assert assert_error(short.call("POST", tokens, body), 422, "unprocessable_entity")["message"].startswith(message)


def test_token_create_needs_an_inference_and_json(short: Api) -> None:
    assert_error(short.call("POST", f"{PATH}/nope/tokens", {"name": "t"}), 404, "not_found")
    tokens = f"{PATH}/{short.created()['id']}/tokens"
    assert_error(short.call("POST", tokens, {"name": "t"}, Content_Type="text/plain"), 415, "unsupported_media_type")
    assert_error(short.call("POST", tokens, {"name": "t"}, token=None), 401, "unauthorized")


# --- The inference's own endpoint, which its tokens are for ---


def endpoint_models(api: Api, endpoint: str, token: str | None) -> Any:
    """`GET /v1/models` on `endpoint` (an `https://` URI of `endpoints`), sent to the stand-in."""
    headers = {"Host": urlsplit(endpoint).hostname or ""}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.request("GET", "/v1/models", headers=headers)


def test_the_endpoint_takes_the_token_create_returned_and_minted_ones_once_active(short: Api) -> None:
    answer = short.create(create_body())
    created, token = answer.json()["dedicated_inference"], answer.json()["token"]["value"]
    endpoint = created["endpoints"]["public_endpoint_fqdn"]
    provisioning = endpoint_models(short, endpoint, token)
    assert provisioning.status == 503 and int(provisioning.headers["Retry-After"]) >= 1
    wait()
    for url in created["endpoints"].values():  # public and private alike
        listed = endpoint_models(short, url, token)
        assert listed.status == 200, listed.body
        assert listed.json()["data"] == [{"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "owned_by": "hugging_face"}]
    minted = short.call("POST", f"{PATH}/{created['id']}/tokens", {"name": "second"}).json()["token"]["value"]
    assert endpoint_models(short, endpoint, minted).status == 200


def test_the_endpoint_refuses_another_inferences_token_the_api_token_and_none(short: Api) -> None:
    first, second = (short.create(create_body()).json() for _ in range(2))
    wait()
    endpoint = first["dedicated_inference"]["endpoints"]["public_endpoint_fqdn"]
    for token in (second["token"]["value"], TOKEN, None):
        refused = endpoint_models(short, endpoint, token)
        assert refused.status == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert endpoint_models(short, endpoint, first["token"]["value"]).status == 200


def test_a_deleted_inferences_endpoint_and_other_paths_are_not_found(short: Api) -> None:
    answer = short.create(create_body()).json()
    wait()
    endpoint, token = answer["dedicated_inference"]["endpoints"]["public_endpoint_fqdn"], answer["token"]["value"]
    other = short.request("GET", "/v1/chat", headers={"Host": urlsplit(endpoint).hostname or "", "Authorization": f"Bearer {token}"})
    assert other.status == 404
    assert short.call("DELETE", f"{PATH}/{answer['dedicated_inference']['id']}").status == 202
    assert endpoint_models(short, endpoint, token).status == 404
