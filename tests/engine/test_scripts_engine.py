"""`scripts/engine`, as a person uses it: start it, run the `curl` it prints, press Ctrl-C.
The curl must run the fixture workflow through Restate against the stand-in (a 202, the
Hugging Face token taken from the credential, not from what Restate stores), and Ctrl-C must
stop everything the script started: the server, the service and the stand-in."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from kit.output import Output
from kit.paths import REPO

sys.path.insert(0, str(REPO / "engines" / "restate"))
from stack import http  # noqa: E402

READY = "Ctrl-C stops everything."
URL_LINE = re.compile(r"(ingress|admin|service|stand-in)\s+(http://\S+)")


def read_until_ready(output: Output, timeout: float) -> list[str]:
    """The lines `scripts/engine` printed up to its ready line."""
    deadline = time.monotonic() + timeout
    while (line := output.next_line(max(0.1, deadline - time.monotonic()))) is not None:
        if line.rstrip("\n") == READY:
            return [seen.rstrip("\n") for seen in output.lines]
    raise AssertionError("scripts/engine ended or stalled before it was ready:\n" + output.text()[-4000:])


def answers(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


def test_scripts_engine_prints_a_curl_that_runs_the_fixture_workflow_and_ctrl_c_stops_everything():
    # No credential in the environment: the script makes a demo one the stand-in accepts.
    env = {k: v for k, v in os.environ.items() if k not in ("HTTP_TASK_CREDENTIALS", "DIGITALOCEAN_TOKEN")}
    process = subprocess.Popen(
        [str(REPO / "scripts" / "engine")], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    group = os.getpgid(process.pid)
    try:
        printed = read_until_ready(Output(process.stdout), timeout=600)
        urls = dict(match.groups() for line in printed if (match := URL_LINE.fullmatch(line)))
        assert set(urls) == {"ingress", "admin", "service", "stand-in"}, printed
        curl = next(line.strip() for line in printed if line.strip().startswith("curl "))
        assert curl.startswith(f"curl -s {urls['ingress']}/HttpTask/"), curl

        ran = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        output = json.loads(ran.stdout)
        assert output["statusCode"] == 202, output
        # No tokenRecipient in the printed input: the returned token is left out, and said so.
        assert "value" not in output["body"]["token"] and "tokenRecipient" in output["omitted"], output

        # The Hugging Face token reached the API from the credential: the input Restate stores
        # does not hold it.
        hf_token = json.loads((REPO / "fixtures" / "parameters.json").read_text())["huggingFaceToken"]
        stored_input = curl.split("--data @", 1)[1]
        assert hf_token not in open(stored_input).read()
        _, creates = http("GET", f"{urls['stand-in']}/__standin/requests")  # a record is a create's POST
        assert len(creates) == 1 and creates[0]["status"] == 202, creates
        assert json.loads(creates[0]["body"])["access_tokens"]["hugging_face_token"] == hf_token

        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(group, signal.SIGINT)
        assert process.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not group_alive(group), "a process scripts/engine started outlived Ctrl-C"
        assert [name for name, url in urls.items() if answers(url)] == [], "still listening after Ctrl-C"
    finally:
        if group_alive(group):
            os.killpg(group, signal.SIGKILL)
