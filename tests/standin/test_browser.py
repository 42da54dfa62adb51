"""CORS in a real browser: a page on another loopback origin calls the stand-in with fetch(),
as the editor page will. Needs Chromium (`apt-get install chromium`); skipped without it."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standin_client import running

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

# Each line: what was asked, the status, and the headers the page could read ("-": hidden).
PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
const api = location.hash.slice(1);
const auth = {"Authorization": "Bearer dop_v1_browserpage0001"};
const headers = {...auth, "Content-Type": "application/json", "X-Call-Id": "browser"};
const spec = {version: 1, name: "browser-" + Date.now(), region: "tor1",
  vpc: {uuid: "5a4981aa-9653-4bd1-bef5-d6bff52042e4"}, enable_public_endpoint: true,
  model_deployments: [{model_slug: "m", accelerators: [{type: "prefill_decode", scale: 1, accelerator_slug: "gpu"}]}]};
const read = (r, ...names) => [r.status, ...names.map(n => r.headers.get(n) ?? "-")].join(" ");
async function go() {
  const lines = [];
  let r = await fetch(api + "/v2/dedicated-inferences", {method: "POST", headers, body: JSON.stringify({spec})});
  lines.push("create " + read(r, "ratelimit-limit", "ratelimit-remaining", "x-request-id"));
  r = await fetch(api + "/v2/dedicated-inferences",
    {method: "POST", headers: {...headers, "X-Standin-Fault": "rate-limit=9"}, body: "{}"});
  lines.push("burst " + read(r, "retry-after", "ratelimit-remaining", "ratelimit-reset"));
  r = await fetch(api + "/v2/dedicated-inferences?per_page=1", {headers: auth, credentials: "include"});
  lines.push("list " + read(r, "ratelimit-remaining"));
  return lines.join("\\n");
}
go().then(text => document.getElementById("out").textContent = text,
          error => document.getElementById("out").textContent = "ERROR " + error);
</script></body></html>
"""


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[str]:
    """The URL of PAGE, served from a loopback port of its own (another origin)."""
    (tmp_path / "page.html").write_text(PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    server.RequestHandlerClass.log_message = lambda *_: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/page.html"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_reads_the_answers_and_their_headers(page: str) -> None:
    with running() as api:
        assert CHROMIUM is not None
        browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000"]
        dom = subprocess.run(
            [*browser, "--dump-dom", f"{page}#{api.url}"], capture_output=True, text=True, timeout=60
        ).stdout
    match = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert match, dom[:500]
    lines = match[1].splitlines()
    assert not match[1].startswith("ERROR"), match[1]  # "Failed to fetch": CORS refused
    create, burst, listing = (line.split() for line in lines)
    assert create[:4] == ["create", "202", "5000", "4999"] and create[4] != "-"
    assert burst[:3] == ["burst", "429", "9"] and burst[3] == "0" and burst[4] != "-"
    assert listing[:2] == ["list", "200"] and listing[2] != "-"
