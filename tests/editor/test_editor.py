"""The editor page, used as a person would: load the reference and the ready definition, edit
the JSON and the form, watch the live diagnostics, and click Test request for every outcome.

Each Test request sets a fresh `X-Call-Id` header in the definition (typed into the form), so
that the stand-in's record of it can be counted: exactly one POST per click, none when the
request is invalid, refused or never confirmed.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
import uuid

import pytest
from playwright.sync_api import Locator, Page, expect

from conftest import HF_TOKEN, REPO, SHOTS, Editor, Recorder

MASK = "••••••••"
#: Badge colour of each outcome seen, to check that no two look alike.
BADGES: dict[str, tuple[str, str]] = {}


# --- What a person does ---


def use_ready_definition(page: Page) -> None:
    page.get_by_role("button", name="Use this").click()
    expect(page.locator("#preview [data-state=ok]")).to_be_visible()


def show_form(page: Page) -> None:
    page.get_by_role("tab", name="Form").click()
    expect(page.locator("#view-form")).to_be_visible()


def show_json(page: Page) -> None:
    page.get_by_role("tab", name="JSON").click()
    expect(page.locator("#view-json")).to_be_visible()


def type_into(box: Locator, text: str) -> None:
    """Click, select all, type: what a person does to replace a field's text."""
    box.click()
    box.press("ControlOrMeta+a")
    if text:
        box.press_sequentially(text)
    else:
        box.press("Delete")


def form_input(page: Page, path: str) -> Locator:
    return page.locator(f'#task-form input[data-path="{path}"]')


def add_header(page: Page, name: str, value: str, *, typed: bool = True) -> None:
    type_into(page.get_by_label("New header name"), name)
    if typed:
        type_into(page.get_by_label("New header value"), value)
    else:  # test instrumentation (the call id): pasted, not typed key by key
        page.get_by_label("New header value").fill(value)
    page.get_by_role("button", name="Add header").click()
    expect(form_input(page, f"httpRequest.headers.{name}")).to_have_value(value)


def settle(page: Page) -> None:
    """Waits for the debounced render after the last keystroke."""
    page.wait_for_function("() => !document.body.dataset.validating")


def prepare(
    page: Page,
    *,
    fault: str | None = None,
    credentials: str | None = None,
    url: str | None = None,
    read_timeout: int | None = None,
    unique_name: bool = False,
) -> str:
    """The ready definition, edited in the form for one test: a call id, and the stand-in
    fault, credential, URL or timeout asked for; a unique `name` parameter for a request that
    creates an inference (names are unique per team). Returns the call id."""
    use_ready_definition(page)
    show_form(page)
    call_id = uuid.uuid4().hex
    add_header(page, "X-Call-Id", call_id, typed=False)
    if fault:
        add_header(page, "X-Standin-Fault", fault)
    if unique_name:
        type_into(form_input(page, "parameters.name"), f"editor-{call_id[:12]}")
    if credentials is not None:
        type_into(form_input(page, "credentials"), credentials)
    if url is not None:
        type_into(form_input(page, "httpRequest.url"), url)
    if read_timeout is not None:
        type_into(form_input(page, "readTimeoutSeconds"), str(read_timeout))
    settle(page)
    return call_id


def click_test_request(page: Page) -> Locator:
    """Clicks Test request; the finished result."""
    page.get_by_role("button", name="Test request").click()
    result = page.locator("#result > .result:not([data-outcome=pending])")
    expect(result).to_be_visible(timeout=15_000)
    return result


def expect_outcome(result: Locator, outcome: str, label: str) -> None:
    expect(result).to_have_attribute("data-outcome", outcome)
    badge = result.get_by_test_id("outcome-badge")
    expect(badge).to_contain_text(label)
    BADGES[outcome] = (
        badge.evaluate("(e) => getComputedStyle(e).backgroundColor"),
        result.evaluate("(e) => getComputedStyle(e).borderColor + ' ' + getComputedStyle(e).borderStyle"),
    )


def response_header(result: Locator, name: str) -> Locator:
    return result.locator("section.response table.headers tr", has=result.page.locator(f"th:text-is('{name}')")).locator("td")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- The reference and the ready definition ---


def test_reference_and_ready_definition(page: Page, editor: Editor) -> None:
    reference = page.locator("#reference")
    expect(reference.locator(".method-badge")).to_have_text("POST")
    expect(reference.locator(".operation-path")).to_have_text("/v2/dedicated-inferences")
    expect(reference.locator(".operation-summary")).to_have_text("Create a Dedicated Inference")
    expect(reference).to_contain_text("billed until it is deleted")
    headers = reference.locator("table", has=page.locator("caption", has_text="Headers"))
    content_type = headers.locator('tr[data-field="Content-Type"]')
    expect(content_type).to_contain_text("string")
    expect(content_type).to_contain_text("required")
    expect(content_type).to_contain_text("application/json")
    body = reference.locator("table", has=page.locator("caption", has_text="Body fields"))
    expect(body.locator('tr[data-field="spec.region"]')).to_contain_text("required")
    region_text = body.locator('tr[data-field="spec.region"] + tr')
    for region in ("atl1", "nyc2", "tor1"):
        expect(region_text).to_contain_text(region)
    expect(body.locator('tr[data-field="spec.model_deployments[].accelerators[].scale"]')).to_contain_text("integer")
    expect(body.locator('tr[data-field="access_tokens"]')).to_contain_text("optional")
    SHOTS.mkdir(parents=True, exist_ok=True)
    reference.screenshot(path=SHOTS / "reference.png")

    use_ready_definition(page)
    definition = page.get_by_label("Task definition (JSON)")
    expect(definition).to_contain_text(f'"url": "{editor.standin}/v2/dedicated-inferences"')
    expect(definition).to_contain_text('"credentials": "digitalocean-prod"')
    expect(page.get_by_label("Parameters (JSON)")).to_contain_text('"name": "support-llm"')
    preview = page.locator("#preview")
    expect(preview.locator(".request-line")).to_have_text(f"POST {editor.standin}/v2/dedicated-inferences")
    expect(preview.locator("table.headers")).to_contain_text(f"authorizationBearer {MASK}")
    expect(preview.locator("table.headers")).to_contain_text("content-length")
    expect(preview.locator("pre.body")).to_contain_text('"name": "support-llm"')
    expect(preview.locator("pre.body")).to_contain_text(f'"hugging_face_token": "{MASK}"')
    expect(page.locator("#problems-count")).to_have_text("none")
    page.screenshot(path=SHOTS / "ready.png")


# --- Live validation ---


def retype_version(page: Page, text: str) -> None:
    """In the JSON text, replaces `1,` of the ready definition's `"version": 1,` line with
    `text`, key by key, as a person does."""
    version_line = page.locator("#definition-editor .cm-line", has_text='"version": 1,')
    version_line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.type(text)
    settle(page)


def test_diagnostic_appears_at_its_field_and_disappears_when_fixed(page: Page) -> None:
    use_ready_definition(page)
    retype_version(page, '"one",')

    path = "httpRequest.body.spec.version"
    # In the JSON text: underlined at the value, and written out under its line.
    expect(page.locator("#definition-editor .cm-lintRange-error")).to_have_text('"one"')
    inline = page.locator(f'#definition-editor .inline-diagnostic[data-path="{path}"]')
    expect(inline).to_contain_text("expected an integer")
    expect(page.locator("#problems-list")).to_contain_text(f"{path} expected an integer")
    # A problem in the list shows its place in the text.
    page.locator("#problems-list button", has_text=path).click()
    expect(page.locator("#definition-editor .cm-editor")).to_have_class(re.compile("cm-focused"))
    assert page.evaluate("() => document.getSelection().toString()") == '"one"'
    expect(page.locator("#preview [data-state=blocked]")).to_contain_text("1 error")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#editors").screenshot(path=SHOTS / "invalid.png")
    page.screenshot(path=SHOTS / "invalid-page.png")

    # In the form: the field is marked and says why.
    show_form(page)
    version = form_input(page, path)
    expect(version).to_have_value("one")
    expect(version).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f'#task-form .field[data-path="{path}"] .field-problems')).to_contain_text("expected an integer")
    version.evaluate("(input) => input.scrollIntoView({ block: 'center' })")
    page.locator("#editors").screenshot(path=SHOTS / "invalid-form.png")

    # Fixed in the form: gone everywhere, and the JSON text follows.
    type_into(version, "1")
    settle(page)
    expect(version).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#task-form .problem")).to_have_count(0)
    expect(page.locator("#problems-count")).to_have_text("none")
    expect(page.locator("#preview [data-state=ok]")).to_be_visible()
    show_json(page)
    expect(page.locator("#definition-editor .cm-lintRange-error")).to_have_count(0)
    expect(page.locator("#definition-editor .inline-diagnostic")).to_have_count(0)
    expect(page.get_by_label("Task definition (JSON)")).to_contain_text('"version": 1,')


def test_jsonata_is_validated_live_and_shown_in_the_reference(page: Page) -> None:
    expect(page.locator("#reference .jsonata-example")).to_contain_text("${jsonata: $lowercase(team)")
    use_ready_definition(page)
    retype_version(page, '"${jsonata: model.scale +}",')
    path = "httpRequest.body.spec.version"
    inline = page.locator(f'#definition-editor .inline-diagnostic[data-path="{path}"]')
    expect(inline).to_contain_text("is not valid JSONata: S0207")
    expect(page.locator("#preview [data-state=blocked]")).to_contain_text("1 error")
    # Completed, it computes an integer, as `spec.version` needs.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.type(" 1")
    settle(page)
    expect(page.locator("#problems-count")).to_have_text("none")
    expect(page.locator("#preview pre.body")).to_contain_text('"version": 2')


def test_json_syntax_error_is_shown_where_it_is(page: Page) -> None:
    use_ready_definition(page)
    line = page.locator("#definition-editor .cm-line", has_text='"method": "POST",')
    line.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")  # the comma
    settle(page)
    diagnostic = page.locator('#definition-editor .inline-diagnostic[data-path="definition"]')
    expect(diagnostic).to_contain_text("is not valid JSON")
    # Marked on the line after the missing comma, where the parser stopped.
    marked_line = page.locator("#definition-editor .cm-line", has=page.locator(".cm-lintRange-error"))
    expect(marked_line).to_contain_text('"headers"')
    show_form(page)
    expect(page.locator("#task-form .form-problems")).to_contain_text("is not valid JSON")
    show_json(page)
    page.locator("#definition-editor .cm-content").press("ControlOrMeta+z")
    settle(page)
    expect(page.locator("#definition-editor .inline-diagnostic")).to_have_count(0)
    expect(page.locator("#problems-count")).to_have_text("none")


def test_form_and_json_stay_in_sync(page: Page) -> None:
    use_ready_definition(page)
    # JSON → form: a region typed in the parameters text shows in the parameters form.
    line = page.locator("#parameters-editor .cm-line", has_text='"region": "tor1"')
    line.click()
    page.keyboard.press("End")
    for _ in range(len('"tor1",')):
        page.keyboard.press("Backspace")
    page.keyboard.type('"nyc2",')
    settle(page)
    show_form(page)
    expect(form_input(page, "parameters.region")).to_have_value("nyc2")
    expect(page.locator("#preview pre.body")).to_contain_text('"region": "nyc2"')
    # Form → JSON: a literal typed over a placeholder, and a missing parameter reported at
    # the placeholder that reads it.
    type_into(form_input(page, "httpRequest.body.spec.region"), "atl1")
    type_into(form_input(page, "httpRequest.body.spec.name"), "${$.team}")
    settle(page)
    name_field = page.locator('#task-form .field[data-path="httpRequest.body.spec.name"]')
    expect(name_field.locator(".field-problems")).to_contain_text("selects nothing")
    show_json(page)
    definition = page.get_by_label("Task definition (JSON)")
    expect(definition).to_contain_text('"region": "atl1"')
    expect(definition).to_contain_text('"name": "${$.team}"')
    expect(page.locator("#definition-editor .cm-lintRange-error")).to_have_text('"${$.team}"')
    # Adding an accelerator in the form adds an object to the JSON, with its required fields
    # reported at their places (once the placeholders render again: a placeholder error
    # stops validation).
    show_form(page)
    type_into(form_input(page, "httpRequest.body.spec.name"), "${$.name}")
    page.get_by_role("button", name="Add accelerators item").click()
    settle(page)
    expect(page.locator('#task-form fieldset[data-path="httpRequest.body.spec.model_deployments[0].accelerators[1]"]')).to_be_visible()
    expect(page.locator('#task-form [data-path="httpRequest.body.spec.model_deployments[0].accelerators[1].scale"] .field-problems')).to_contain_text("required")


# --- Test request, every outcome ---


def test_accepted_reveals_the_returned_token_only_on_request(page: Page, editor: Editor, recorder: Recorder) -> None:
    call_id = prepare(page, unique_name=True)
    result = click_test_request(page)
    expect_outcome(result, "accepted", "Accepted")
    expect(result.get_by_test_id("summary")).to_contain_text("202 Accepted: the dedicated inference")
    expect(result.locator(".status-line")).to_have_text("202 Accepted")
    expect(result.locator(".elapsed")).to_have_text(re.compile(r"in \d+ ms"))
    expect(result.locator("section.request table.headers")).to_contain_text(f"authorizationBearer {MASK}")
    expect(result.locator("section.response pre.body")).to_contain_text('"status": "provisioning"')
    expect(result.locator("section.response pre.body")).to_contain_text(f'"value": "{MASK}"')
    expect(result.locator(".credential-note")).to_contain_text("$HTTP_TASK_CREDENTIALS")

    records = editor.records(call_id)
    assert len(records) == 1, f"{len(records)} POSTs for one click"
    token = records[0]["issued_token"]
    assert token and token.startswith("dit_")
    # Returned once: masked until revealed, with the warning to store it now.
    revealed = result.locator("section.revealed")
    expect(revealed).to_contain_text("Store it now")
    expect(revealed.get_by_test_id("secret-value")).to_have_text(MASK)
    assert token not in page.content()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#run").screenshot(path=SHOTS / "accepted.png")
    recorder.revealed.add(token)
    revealed.get_by_role("button", name="Reveal").click()
    expect(revealed.get_by_test_id("secret-value")).to_have_text(token)
    revealed.get_by_role("button", name="Copy").click()
    expect(revealed.locator(".copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("() => navigator.clipboard.readText()") == token
    revealed.get_by_role("button", name="Hide").click()
    expect(revealed.get_by_test_id("secret-value")).to_have_text(MASK)
    # The token came to the page only in the engine's answer to this Test request.
    answers = [r for r in recorder.responses if r.url.endswith("/api/test-request")]
    assert len(answers) == 1 and token in answers[0].text()


def exchange_rows(result: Locator) -> Locator:
    return result.locator("section.exchanges [data-testid=exchange]")


def test_the_exchanges_show_under_the_result(page: Page, editor: Editor) -> None:
    """0.2.0's `exchanges`: a plain create is one line, `POST <url> → 202 Accepted`, whose
    masked request and response open on a click."""
    prepare(page, unique_name=True)
    result = click_test_request(page)
    expect_outcome(result, "accepted", "Accepted")
    rows = exchange_rows(result)
    expect(rows).to_have_count(1)
    expect(result.locator("section.exchanges > h4")).to_have_text("Exchanges (1)")
    line = rows.locator("summary")
    expect(line).to_have_text(f"POST {editor.standin}/v2/dedicated-inferences → 202 Accepted")
    body = rows.get_by_label("Response 1 body")
    expect(body).to_be_hidden()
    line.click()
    expect(body).to_be_visible()
    expect(body).to_contain_text(f'"value": "{MASK}"')
    expect(rows.get_by_label("Request 1 body")).to_contain_text(f'"hugging_face_token": "{MASK}"')
    expect(rows.locator("table.headers").first).to_contain_text(f"authorizationBearer {MASK}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    result.locator("section.exchanges").screenshot(path=SHOTS / "exchanges.png")


def test_a_taken_name_on_the_stand_in_is_adopted_with_its_exchanges(page: Page, editor: Editor) -> None:
    """The ready definition adopts: the second Test request of the same name meets it taken,
    looks it up and, on loopback without asking, mints a token for it; every exchange shows."""
    call_id = prepare(page, unique_name=True)
    expect_outcome(click_test_request(page), "accepted", "Accepted")
    result = click_test_request(page)
    expect(result.get_by_test_id("summary")).to_contain_text("Adopted the existing dedicated inference")
    expect_outcome(result, "accepted", "Accepted")
    rows = exchange_rows(result)
    expect(rows.last).to_contain_text("/tokens")
    lines = [text.strip() for text in rows.locator("summary").all_inner_texts()]
    base = re.escape(f"{editor.standin}/v2/dedicated-inferences")
    # The create, met taken; the listing (and a GET of the instance, when the listing did not
    # carry its spec); the mint.
    assert re.fullmatch(rf"POST {base} → (409 Conflict|422 Unprocessable (Entity|Content))", lines[0]), lines
    assert re.fullmatch(rf"GET {base}\?\S*per_page=200\S* → 200 OK", lines[1]), lines
    assert all(re.fullmatch(rf"GET {base}[/?]\S* → 200 OK", line) for line in lines[2:-1]), lines
    assert re.fullmatch(rf"POST {base}/[^/ ]+/tokens → 202 Accepted", lines[-1]), lines
    expect(result.locator("section.revealed")).to_contain_text("Store it now")
    assert len(editor.records(call_id)) == 2, "one create per click"
    page.locator("#run").screenshot(path=SHOTS / "adopted.png")


NEEDS_ID = "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d"
REAL_URL = "https://api.digitalocean.com/v2/dedicated-inferences"


def canned(outcome: str, summary: str, exchanges: list[dict], revealed: list | None = None) -> str:
    """An engine answer as engine.py gives it (the test-result in camelCase)."""
    first = exchanges[0]
    result = {
        "outcome": outcome, "summary": summary, "request": first["request"], "response": first["response"],
        "diagnostics": [], "elapsedMs": 42, "revealedSecrets": revealed or [], "exchanges": exchanges,
    }
    return json.dumps({"result": result, "credential": {"name": "digitalocean-prod", "source": "$HTTP_TASK_CREDENTIALS"}})


def exchange(method: str, url: str, status: int, body: object, request_body: str | None = None) -> dict:
    return {
        "request": {"method": method, "url": url, "headers": [{"name": "authorization", "value": f"Bearer {MASK}"}], "body": request_body},
        "response": {"status": status, "headers": [{"name": "content-type", "value": "application/json"}], "body": json.dumps(body), "truncated": False},
        "error": None,
    }


def would_adopt_answer() -> str:
    create = exchange("POST", REAL_URL, 409, {"id": "conflict", "message": "name is already in use"}, json.dumps({"spec": {"name": "support-llm"}}))
    listing = exchange("GET", f"{REAL_URL}?per_page=200&page=1", 200, {"dedicated_inferences": [
        {"id": "0d9c3b2a-1f0e-4d8c-9b7a-6e5f4d3c2b1a", "spec": {"name": "another"}},
        {"id": NEEDS_ID, "spec": {"name": "support-llm"}},
    ]})
    summary = (f"Would adopt the existing dedicated inference {NEEDS_ID} (its name and spec match) and mint a token "
               "for it. Nothing was minted: confirm to go on.")
    return canned("needs-confirmation", summary, [create, listing])


def send_to_the_real_api(page: Page) -> None:
    prepare(page, url=REAL_URL)
    page.get_by_role("button", name="Test request").click()
    billed = page.get_by_role("dialog", name="Create a real, billed resource?")
    billed.get_by_role("button", name="Send and create it").click()


def test_needs_confirmation_asks_and_adopt_sends_again_with_confirm_adopt(page: Page) -> None:
    """The confirmation flow for a real host. No real host with an existing instance is
    reachable from the tests (no network), so the page's /api/test-request is answered by a
    Playwright route: first with a canned `needs-confirmation` result (as the component gives
    it), then, after the person clicks Adopt, with a canned adopted result; the test asserts
    that the second request is the same definition plus `"confirmAdopt": "<the id>"`."""
    bodies: list[dict] = []

    def answer(route) -> None:
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fulfill(status=200, content_type="application/json", body=would_adopt_answer())
        else:
            created = exchange("POST", REAL_URL, 409, {"id": "conflict", "message": "name is already in use"})
            minted = exchange("POST", f"{REAL_URL}/{NEEDS_ID}/tokens", 202, {"token": {"value": MASK}})
            summary = f"Adopted the existing dedicated inference {NEEDS_ID}: its name and spec match this request."
            route.fulfill(status=200, content_type="application/json", body=canned("accepted", summary, [created, minted]))

    page.route("**/api/test-request", answer)
    send_to_the_real_api(page)
    dialog = page.get_by_role("dialog", name=f"Adopt {NEEDS_ID} and mint a token?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("new token")
    expect(page.locator("#result .result")).to_have_attribute("data-outcome", "needs-confirmation")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "confirm-adopt.png")
    assert len(bodies) == 1 and "confirmAdopt" not in json.loads(bodies[0]["definition"])
    dialog.get_by_role("button", name="Adopt").click()
    expect(dialog).to_be_hidden()
    result = page.locator("#result > .result:not([data-outcome=pending])")
    expect(result).to_have_attribute("data-outcome", "accepted")
    expect(result.get_by_test_id("summary")).to_contain_text(f"Adopted the existing dedicated inference {NEEDS_ID}")
    assert len(bodies) == 2
    first, second = (json.loads(b["definition"]) for b in bodies)
    assert second == {**first, "confirmAdopt": NEEDS_ID}
    assert second["ifExists"] == "adopt" and bodies[1]["confirmBilled"] is True
    expect(exchange_rows(result)).to_have_count(2)


def test_needs_confirmation_cancelled_mints_nothing(page: Page) -> None:
    """As above (a Playwright route stands in for a real host, which the tests cannot reach):
    Cancel sends nothing more and says the instance was not adopted."""
    bodies: list[str] = []

    def answer(route) -> None:
        bodies.append(route.request.post_data)
        route.fulfill(status=200, content_type="application/json", body=would_adopt_answer())

    page.route("**/api/test-request", answer)
    send_to_the_real_api(page)
    dialog = page.get_by_role("dialog", name=f"Adopt {NEEDS_ID} and mint a token?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    result = page.locator("#result > .result")
    expect_outcome(result, "needs-confirmation", "Needs confirmation")
    expect(result.get_by_test_id("result-note")).to_have_text(f"Not adopted: {NEEDS_ID} was left as it is and no token was minted.")
    expect(exchange_rows(result)).to_have_count(2)
    assert len(bodies) == 1


def test_render_warnings_show_under_problems(page: Page) -> None:
    """0.2.0: render's Ok carries warnings; the page lists them as it types (nothing sent)."""
    use_ready_definition(page)
    line = page.locator("#definition-editor .cm-line", has_text='"deadlineSeconds": 60')
    line.click()
    page.keyboard.press("End")
    page.keyboard.type(', "readTimeoutSecond": 3')
    settle(page)
    expect(page.locator("#problems-count")).to_have_text("1 warning")
    problem = page.locator('#problems-list .problem-item.warning[data-path="readTimeoutSecond"]')
    expect(problem).to_contain_text("readTimeoutSeconds")
    expect(page.locator("#preview [data-state=ok]")).to_be_visible()  # a warning does not block
    page.locator("#definition-editor .cm-content").press("ControlOrMeta+z")
    settle(page)
    expect(page.locator("#problems-count")).to_have_text("none")


def test_succeeded_other_2xx(page: Page, editor: Editor) -> None:
    call_id = prepare(page, fault="status=201")
    result = click_test_request(page)
    expect_outcome(result, "succeeded", "Succeeded")
    expect(result.locator(".status-line")).to_have_text("201 Created")
    expect(result.locator("section.response pre.body")).to_contain_text('"ok": true')
    assert len(editor.records(call_id)) == 1


def test_rejected_401_with_a_bad_token_credential(page: Page, editor: Editor) -> None:
    call_id = prepare(page, credentials="revoked")
    result = click_test_request(page)
    expect_outcome(result, "rejected", "Rejected")
    expect(result.locator(".status-line")).to_have_text("401 Unauthorized")
    expect(result.get_by_test_id("summary")).to_contain_text("401 Unauthorized")
    expect(result.locator(".credential-note")).to_contain_text("revoked")
    assert len(editor.records(call_id)) == 1


def test_rejected_422(page: Page, editor: Editor) -> None:
    call_id = prepare(page, fault="status=422")
    result = click_test_request(page)
    expect_outcome(result, "rejected", "Rejected")
    expect(result.locator(".status-line")).to_have_text("422 Unprocessable Content")
    expect(result.get_by_test_id("summary")).to_contain_text("Fix the request")
    assert len(editor.records(call_id)) == 1


def test_rejected_429_with_its_retry_hint(page: Page, editor: Editor) -> None:
    call_id = prepare(page, fault="rate-limit=7")
    result = click_test_request(page)
    expect_outcome(result, "rejected", "Rejected")
    expect(result.locator(".status-line")).to_have_text("429 Too Many Requests")
    expect(result.get_by_test_id("summary")).to_contain_text("retry after 7 s")
    expect(response_header(result, "retry-after")).to_have_text("7")
    expect(result.locator("section.response pre.body")).to_contain_text('"id": "too_many_requests"')
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#run").screenshot(path=SHOTS / "rejected.png")
    assert len(editor.records(call_id)) == 1


def test_failed_500(page: Page, editor: Editor) -> None:
    call_id = prepare(page, fault="server-error")
    result = click_test_request(page)
    expect_outcome(result, "failed", "Failed")
    expect(result.locator(".status-line")).to_have_text("500 Internal Server Error")
    expect(result.get_by_test_id("summary")).to_contain_text("may have been created")
    assert len(editor.records(call_id)) == 1


def test_unreachable_refused(page: Page, editor: Editor) -> None:
    port = free_port()
    call_id = prepare(page, url=f"http://127.0.0.1:{port}/v2/dedicated-inferences")
    result = click_test_request(page)
    expect_outcome(result, "unreachable", "Unreachable")
    expect(result.get_by_test_id("summary")).to_contain_text("the connection was refused")
    expect(result.locator(".result-status")).to_have_text("no response")
    expect(result.locator(".no-response")).to_be_visible()
    assert len(editor.records(call_id)) == 0  # it never reached the stand-in


def test_unreachable_timeout(page: Page, editor: Editor) -> None:
    """The ready definition adopts: after the timeout it looks the name up (the stand-in
    creates only after 3 s, so nothing is listed yet) and the exchanges show both."""
    call_id = prepare(page, fault="slow-first-byte=3000", read_timeout=1, unique_name=True)
    result = click_test_request(page)
    expect_outcome(result, "unreachable", "Unreachable")
    expect(result.get_by_test_id("summary")).to_contain_text("No answer came after the create was sent")
    rows = exchange_rows(result)
    expect(rows).to_have_count(2)
    expect(rows.first.locator("summary")).to_contain_text("readTimeoutSeconds")
    expect(rows.last.locator("summary")).to_contain_text("per_page=200")
    expect(rows.last.locator("summary")).to_contain_text("200 OK")
    elapsed = int(re.search(r"\d+", result.locator(".elapsed").inner_text()).group())
    assert 900 <= elapsed < 3000
    assert len(editor.records(call_id)) == 1


def test_invalid_sends_nothing(page: Page, editor: Editor) -> None:
    call_id = prepare(page)
    type_into(form_input(page, "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"), "0")
    settle(page)
    expect(page.locator("#preview [data-state=blocked]")).to_be_visible()
    result = click_test_request(page)
    expect_outcome(result, "invalid", "Invalid")
    expect(result.locator(".result-status")).to_have_text("nothing sent")
    diagnostics = result.locator(".result-diagnostics")
    expect(diagnostics).to_contain_text("httpRequest.body.spec.model_deployments[0].accelerators[0].scale")
    expect(diagnostics).to_contain_text("must be at least 1, found 0")
    assert len(editor.records(call_id)) == 0


def test_truncated_body_is_marked(page: Page, editor: Editor) -> None:
    call_id = prepare(page, fault="large=1200000")
    result = click_test_request(page)
    expect_outcome(result, "accepted", "Accepted")
    expect(result.get_by_test_id("truncated")).to_have_text("truncated")
    expect(result.locator(".truncated-note")).to_contain_text("first 1 MiB")
    assert len(editor.records(call_id)) == 1


# --- The billed-resource guard and the engine's own failures ---


def test_real_host_asks_for_confirmation_and_cancel_sends_nothing(page: Page, recorder: Recorder) -> None:
    prepare(page, url="https://api.digitalocean.com/v2/dedicated-inferences")
    page.get_by_role("button", name="Test request").click()
    dialog = page.get_by_role("dialog", name="Create a real, billed resource?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("api.digitalocean.com")
    expect(dialog).to_contain_text("billed until you delete it")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#run-status")).to_have_text("Not sent.")
    expect(page.locator("#result .result")).to_have_count(0)
    assert recorder.test_request_calls() == []


def test_engine_refuses_a_real_host_without_confirmation(editor: Editor) -> None:
    definition = json.loads((REPO / "fixtures" / "definition.json").read_text())
    parameters = (REPO / "fixtures" / "parameters.json").read_text()
    body = json.dumps({"definition": json.dumps(definition), "parameters": parameters, "confirmBilled": False}).encode()
    request = urllib.request.Request(f"{editor.url}api/test-request", body, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 409
    assert json.load(refused.value)["error"] == "confirmation-required"


def test_unknown_credential_is_an_engine_error(page: Page, editor: Editor) -> None:
    call_id = prepare(page, credentials="nobody")
    result = click_test_request(page)
    expect_outcome(result, "engine-error", "Engine error")
    expect(result.get_by_test_id("summary")).to_contain_text("knows no credential named nobody")
    expect(result).to_contain_text("nothing was sent")
    assert len(editor.records(call_id)) == 0


def test_a_credential_goes_only_to_its_hosts(page: Page, editor: Editor) -> None:
    call_id = prepare(page, credentials="api-only")
    result = click_test_request(page)
    expect_outcome(result, "engine-error", "Engine error")
    expect(result.get_by_test_id("summary")).to_contain_text("may be sent only to api.digitalocean.com")
    assert len(editor.records(call_id)) == 0


def test_engine_refuses_a_host_the_credential_is_not_for(editor: Editor) -> None:
    """The definition comes from whoever edits it: pointing the URL at a server of one's own
    must not hand it the team's token, confirmation or not (refused before anything is sent,
    so no network is needed)."""
    definition = json.loads((REPO / "fixtures" / "definition.json").read_text())
    definition["httpRequest"]["url"] = "https://collector.example/v2/dedicated-inferences"
    parameters = (REPO / "fixtures" / "parameters.json").read_text()
    body = json.dumps({"definition": json.dumps(definition), "parameters": parameters, "confirmBilled": True}).encode()
    request = urllib.request.Request(f"{editor.url}api/test-request", body, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403
    answer = json.load(refused.value)
    assert answer["error"] == "host-not-allowed" and answer["host"] == "collector.example"


def test_a_secret_placeholder_takes_the_credentials_secret(page: Page, editor: Editor) -> None:
    call_id = prepare(page, credentials="with-hf", unique_name=True)
    type_into(form_input(page, "httpRequest.body.access_tokens"), '{"hugging_face_token": "${secret:hugging_face_token}"}')
    settle(page)
    # The live render has no secrets: the preview shows the field masked, with no problem.
    expect(page.locator("#problems-count")).to_have_text("none")
    expect(page.locator("#preview")).to_contain_text('"hugging_face_token": "••••••••"')
    result = click_test_request(page)
    expect_outcome(result, "accepted", "Accepted")
    [record] = editor.records(call_id)
    assert json.loads(record["body"])["access_tokens"]["hugging_face_token"] == HF_TOKEN


def test_engine_down_is_shown_as_such(page: Page) -> None:
    prepare(page)
    page.route("**/api/test-request", lambda route: route.abort("connectionrefused"))
    result = click_test_request(page)
    expect_outcome(result, "engine-unreachable", "Engine unreachable")
    expect(result.get_by_test_id("summary")).to_contain_text("The local engine did not answer")
    expect(result).to_contain_text("check GET /v2/dedicated-inferences")


def test_engine_failure_is_shown_as_such(page: Page) -> None:
    prepare(page)
    page.route("**/api/test-request", lambda route: route.fulfill(status=502, body="<html>Bad Gateway</html>", content_type="text/html"))
    result = click_test_request(page)
    expect_outcome(result, "engine-error", "Engine error")
    expect(result.locator(".result-status")).to_have_text("engine answered 502 Bad Gateway")
    expect(result).to_contain_text("whether it reached the API is unknown")


# --- The engine's HTTP side ---


def post(editor: Editor, headers: dict[str, str], host: str | None = None) -> int:
    body = json.dumps({"definition": "{}", "parameters": "{}"}).encode()
    url = editor.url + "api/test-request"
    request = urllib.request.Request(url, body, headers)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_engine_answers_only_its_own_page(editor: Editor) -> None:
    json_type = {"Content-Type": "application/json"}
    assert post(editor, json_type) == 200  # an invalid definition: nothing sent
    assert post(editor, {**json_type, "Origin": "http://evil.example"}) == 403
    assert post(editor, {"Content-Type": "text/plain"}) == 403
    assert post(editor, json_type, host="rebound.example:80") == 421
    with urllib.request.urlopen(editor.url) as page:
        policy = page.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in policy and "default-src 'self'" in policy


def test_outcomes_look_distinct() -> None:
    """Every outcome seen above (the seven of the component and the engine's two failures) has
    a badge colour and a frame of its own."""
    seen = dict(BADGES)
    if len(seen) < 9:
        pytest.skip(f"run with the outcome tests (saw {sorted(seen)})")
    assert len(set(seen.values())) == len(seen), seen
