"""`scripts/editor` itself: the URL comes first, everything runs on loopback, and Ctrl-C
stops everything it started."""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from conftest import GOOD_TOKEN, REPO, dom_text, start_editor


def refuses(url: str) -> bool:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_url_first_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    editor = start_editor(tmp_path)
    try:
        first = editor.stdout.lines[0].strip()
        assert first == editor.url and first.startswith("http://127.0.0.1:") and first.endswith("/")
        assert editor.standin.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(editor.url) as page:
            assert "<title>HTTP Task editor" in page.read().decode()
        with urllib.request.urlopen(f"{editor.standin}/__standin/health") as health:
            assert health.status == 200
    finally:
        status = editor.stop()
    assert status == 0
    assert refuses(editor.url), "the page is still served after Ctrl-C"
    assert refuses(editor.standin), "the stand-in still runs after Ctrl-C"


def test_real_needs_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DIGITALOCEAN_TOKEN", "HTTP_TASK_CREDENTIALS")}
    done = subprocess.run(
        [str(REPO / "scripts" / "editor"), "--real", "--port", "0"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 2
    assert "DIGITALOCEAN_TOKEN" in done.stderr
    assert done.stdout == ""


def test_real_targets_the_api_and_asks_before_sending(tmp_path: Path, browser: Browser) -> None:
    """With --real the ready definition targets api.digitalocean.com; Test request asks first.
    (Cancelled: this machine has no network, and nothing billed is ever sent by a test.)"""
    editor = start_editor(tmp_path, "--real", env={"DIGITALOCEAN_TOKEN": GOOD_TOKEN})
    try:
        # The third line ("target: …"); start_editor read the first two.
        target = editor.stdout.next_line(10)
        assert target and "REAL API" in target, editor.stdout.text()
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url))
        page.goto(editor.url)
        page.wait_for_selector("body[data-ready=true]")
        expect(page.locator("#target-chip")).to_contain_text("real API, billed")
        page.get_by_role("button", name="Use this").click()
        expect(page.locator("#preview .request-line")).to_have_text("POST https://api.digitalocean.com/v2/dedicated-inferences")
        page.get_by_role("button", name="Test request").click()
        dialog = page.get_by_role("dialog", name="Create a real, billed resource?")
        expect(dialog).to_contain_text("api.digitalocean.com")
        dialog.get_by_role("button", name="Cancel").click()
        expect(page.locator("#run-status")).to_have_text("Not sent.")
        assert not [url for url in sent if url.endswith("/api/test-request")]
        assert GOOD_TOKEN not in dom_text(page)
        page.close()
    finally:
        status = editor.stop()
    assert status == 0
    assert GOOD_TOKEN not in editor.stdout.text() + editor.stderr.text()
