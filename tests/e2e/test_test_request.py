"""`scripts/test-request`, the command-line "Test request": the exchanges it lists, and how it
tells which instance a `needs-confirmation` result would adopt (hosts/python/test_request.py).

A real host with an existing instance is out of reach here (no network): the confirmation
itself is checked on canned results, as the component returns them."""

from __future__ import annotations

import json
import os
import re
import subprocess

import test_request
from kit.paths import REPO

ID = "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d"
OTHER = "0d9c3b2a-1f0e-4d8c-9b7a-6e5f4d3c2b1a"
URL = "https://api.digitalocean.com/v2/dedicated-inferences"


def preview(method: str, url: str, body: str | None = None) -> dict:
    return {"method": method, "url": url, "headers": [], "body": body}


def response(status: int, body: object) -> dict:
    return {"status": status, "headers": [], "body": json.dumps(body), "truncated": False}


def would_adopt(lookups: list[dict], instance_id: str = ID) -> dict:
    create = preview("POST", URL, json.dumps({"spec": {"name": "support-llm"}}))
    taken = response(409, {"id": "conflict", "message": "name already in use"})
    return {
        "outcome": "needs-confirmation",
        "summary": f"Would adopt the existing dedicated inference {instance_id} (its name and spec match) "
        "and mint a token for it. Nothing was minted: confirm to go on.",
        "request": create,
        "response": taken,
        "diagnostics": [],
        "elapsed_ms": 12,
        "revealed_secrets": [],
        "exchanges": [{"request": create, "response": taken, "error": None}, *lookups],
    }


def listing(*items: dict) -> dict:
    page = {"dedicated_inferences": list(items), "links": {}, "meta": {"total": len(items)}}
    return {"request": preview("GET", f"{URL}?per_page=200&page=1"), "response": response(200, page), "error": None}


def test_the_id_comes_from_the_listing_item_of_that_name():
    result = would_adopt([listing({"id": OTHER, "spec": {"name": "another"}}, {"id": ID, "spec": {"name": "support-llm"}})])
    assert test_request.adoption_id(result) == ID


def test_with_duplicate_names_the_summary_tells_which():
    duplicates = listing({"id": OTHER, "spec": {"name": "support-llm"}}, {"id": ID, "spec": {"name": "support-llm"}})
    assert test_request.adoption_id(would_adopt([duplicates], ID)) == ID
    assert test_request.adoption_id(would_adopt([duplicates], OTHER)) == OTHER


def test_the_id_comes_from_a_get_of_the_instance():
    get = {"request": preview("GET", f"{URL}/{ID}"), "response": response(200, {"dedicated_inference": {"id": ID}}), "error": None}
    result = would_adopt([listing({"id": ID, "name": "support-llm"}), get])
    assert test_request.adoption_id(result) == ID


def test_without_lookups_to_read_the_summary_names_it():
    assert test_request.adoption_id(would_adopt([])) == ID


def test_each_exchange_is_one_line():
    result = would_adopt([listing(), {"request": preview("POST", f"{URL}/{ID}/tokens"), "response": None, "error": "connection reset"}])
    text = test_request.format_result(result, reveal=False, saved=None, color=False)
    assert text.startswith("NEEDS-CONFIRMATION  409 in 12 ms")
    exchanges = text.split("\nExchanges\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert exchanges == [
        f"  1. POST {URL} → 409 Conflict",
        f"  2. GET {URL}?per_page=200&page=1 → 200 OK",
        f"  3. POST {URL}/{ID}/tokens → connection reset",
    ]


def test_without_a_terminal_it_declines_and_says_how_to_confirm(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert test_request.ask_to_adopt(would_adopt([]), ID) is False
    assert f"--confirm-adopt {ID}" in capsys.readouterr().err


def test_confirm_adopt_goes_into_the_definition():
    definition = json.loads(test_request.with_confirmed_adoption('{"ifExists": "adopt"}', ID))
    assert definition == {"ifExists": "adopt", "confirmAdopt": ID}


def test_against_the_stand_in_it_lists_the_create():
    done = subprocess.run(
        [str(REPO / "scripts" / "test-request")], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**{k: v for k, v in os.environ.items() if k != "DIGITALOCEAN_TOKEN"}, "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ACCEPTED  202")
    exchanges = done.stdout.split("\nExchanges\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(exchanges) == 1 and re.fullmatch(r"  1\. POST http://127\.0\.0\.1:\d+/v2/dedicated-inferences → 202 Accepted", exchanges[0])
    assert "--confirm-adopt ID" in subprocess.run(
        [str(REPO / "scripts" / "test-request"), "--help"], capture_output=True, text=True, timeout=120
    ).stdout
