"""`scripts/editor` itself: the URL comes first, everything runs on loopback, and Ctrl-C
stops everything it started."""

from __future__ import annotations

import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, start_editor


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
