"""The editor page end to end: `scripts/editor` (component build, jco transpile, the stand-in,
the engine backend and the page) driven through Debian's Chromium with Playwright, as a person
uses it: clicking and typing.

Every test gets a fresh page whose console messages, network requests and answers are
recorded; after the test, `Recorder.check_no_leaks` asserts that no API token (the ones in the
credentials file the engine reads) appears in the page's DOM text, its console or its network
traffic, that the tokens the API returned once appear only in the engine's answer (and in the
DOM only where the test revealed one), and that the page loaded nothing from another origin.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from kit.output import Output

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "target" / "editor"
CHROMIUM = os.environ.get("EDITOR_TEST_CHROMIUM", "/usr/bin/chromium")
# The machine's network is closed: nothing may try to reach Google's services.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
if os.geteuid() == 0:
    CHROMIUM_ARGS.append("--no-sandbox")

# The credentials the engine resolves (through $HTTP_TASK_CREDENTIALS): the good one the
# stand-in accepts, and one it answers 401 to.
GOOD_TOKEN = "dop_v1_e2eeditor" + "5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081"
BAD_TOKEN = "revoked-editor-token-7d1c9e"
# A Hugging Face token that a `${secret:hugging_face_token}` takes from a credential.
HF_TOKEN = "hf_editorCredential0123456789abcdefgh"
CREDENTIALS = {
    "digitalocean-prod": GOOD_TOKEN,
    "revoked": BAD_TOKEN,
    "with-hf": {"token": GOOD_TOKEN, "hugging_face_token": HF_TOKEN},
    # Bound to the real API only: the stand-in on loopback is not among its hosts.
    "api-only": {"token": GOOD_TOKEN, "allowedHosts": ["api.digitalocean.com"]},
}
API_TOKENS = [GOOD_TOKEN, BAD_TOKEN, HF_TOKEN]


@dataclass
class Editor:
    """A running `scripts/editor`: its page URL, the stand-in's, and its output."""

    process: subprocess.Popen[str]
    url: str
    standin: str
    stdout: Output
    stderr: Output

    def records(self, call_id: str | None = None) -> list[dict]:
        with urllib.request.urlopen(f"{self.standin}/__standin/requests") as answer:
            records = json.load(answer)
        return [r for r in records if call_id is None or r.get("call_id") == call_id]

    def stop(self) -> int:
        """Ctrl-C, as a person stops it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_editor(tmp: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Editor:
    """`scripts/editor --port 0 …`, with the test credentials file unless `env` is given (then
    with `env` and no file); waits for its URL lines."""
    base = {k: v for k, v in os.environ.items() if k not in ("DIGITALOCEAN_TOKEN", "HTTP_TASK_CREDENTIALS")}
    if env is None:
        credentials = tmp / "credentials.json"
        credentials.write_text(json.dumps(CREDENTIALS))
        credentials.chmod(0o600)
        env = {"HTTP_TASK_CREDENTIALS": str(credentials)}
    env = {**base, **env}
    process = subprocess.Popen(
        [str(REPO / "scripts" / "editor"), "--port", "0", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = Output(process.stdout), Output(process.stderr)
    deadline = time.monotonic() + timeout
    first = stdout.next_line(timeout)
    second = stdout.next_line(max(1.0, deadline - time.monotonic()))
    if not first or not second or not second.startswith("stand-in: "):
        process.kill()
        raise RuntimeError(f"scripts/editor did not start:\n{stdout.text()}\n{stderr.text()}")
    return Editor(process, first.strip(), second.split(": ", 1)[1].strip(), stdout, stderr)


@pytest.fixture(scope="session")
def editor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Editor]:
    running = start_editor(tmp_path_factory.mktemp("editor"))
    yield running
    status = running.stop()
    log = running.stdout.text() + running.stderr.text()
    # The engine's log never names a token, good or bad.
    for token in API_TOKENS:
        assert token not in log, "an API token is in the editor's output"
    assert status == 0, f"scripts/editor exited with {status} on Ctrl-C"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: tests/editor/run.sh installs Debian's chromium")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Recorder:
    """What one page showed and sent, for the secret checks."""

    origin: str
    console: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: Returned tokens the test revealed on purpose: allowed in the DOM.
    revealed: set[str] = field(default_factory=set)

    def attach(self, page: Page) -> None:
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request))
        page.on("response", lambda response: self.responses.append(response))

    def test_request_calls(self) -> list[Any]:
        return [r for r in self.requests if r.url.endswith("/api/test-request")]

    def check_no_leaks(self, page: Page, returned: list[str]) -> None:
        dom = dom_text(page)
        console = "\n".join(self.console)
        sent = "\n".join(f"{r.url}\n{json.dumps(r.headers)}\n{r.post_data or ''}" for r in self.requests)
        received = "\n".join(
            f"{r.url}\n{json.dumps(r.headers)}\n{body_text(r)}" for r in self.responses if "/api/" in r.url
        )
        for token in API_TOKENS:
            assert token not in dom, "an API token is in the page's DOM"
            assert token not in console, "an API token is in the console"
            assert token not in sent, "an API token is in a request of the page"
            assert token not in received, "an API token is in an answer to the page"
        for token in returned:
            assert token not in console, "the returned token is in the console"
            assert token not in sent, "the returned token is in a request of the page"
            if token not in self.revealed:
                assert token not in dom, "the returned token is in the DOM before it was revealed"
        foreign = [r.url for r in self.requests if not (r.url.startswith(self.origin) or r.url.startswith("data:"))]
        assert not foreign, f"the page loaded from elsewhere: {foreign}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"


def body_text(response: Any) -> str:
    try:
        return response.text()
    except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
        return ""


def dom_text(page: Page) -> str:
    """Everything the page holds as text: markup, visible text and every input's value."""
    return page.evaluate(
        """() => document.documentElement.outerHTML + '\\n' + document.body.innerText + '\\n' +
             [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\\n')"""
    )


@pytest.fixture(scope="session")
def context(browser: Browser, editor: Editor) -> Iterator[BrowserContext]:
    """One context for the session, so that its HTTP cache serves the page's modules to every
    test's page (revalidated: 304); each test still gets a page of its own."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=editor.url.rstrip("/"))
    yield context
    context.close()


@pytest.fixture
def recorder(editor: Editor) -> Recorder:
    return Recorder(origin=editor.url.rstrip("/"))


@pytest.fixture
def page(context: BrowserContext, editor: Editor, recorder: Recorder) -> Iterator[Page]:
    page = context.new_page()
    recorder.attach(page)
    page.goto(editor.url)
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    yield page
    returned = [r["issued_token"] for r in editor.records() if r.get("issued_token")]
    try:
        recorder.check_no_leaks(page, returned)
    finally:
        page.close()
