"""The HTTP Task as a step of a real Restate workflow: the pinned restate-server
(tools/bootstrap-restate.sh), the service (engines/restate) and the stand-in, all on loopback.
Each case is judged from the stand-in's own records (what was sent) and Restate's answers; the
crash run kills the service mid-create and the server once, then checks every workflow, the
instances, the sealed tokens and Restate's storage for secrets."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import sys
import time
import uuid
from pathlib import Path

import pyrage
import pytest

from kit.paths import FIXTURES, REPO, WASM
from kit.reports import report

sys.path.insert(0, str(REPO / "engines" / "restate"))
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402
from stack import RestateServer, Service, http  # noqa: E402

SERVICE_BINARY = REPO / "target" / "rust-host" / "release" / "http-task-restate"
API_TOKEN = "dop_v1_" + "e" * 56
HF_TOKEN = "hf_restateenginetestsecret"
CRASH_WORKFLOWS = 40


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not SERVICE_BINARY.exists():
        pytest.fail(f"{SERVICE_BINARY} is missing: run engines/restate/build.sh (scripts/test does)")
    data = REPO / "target" / "engine-tests" / uuid.uuid4().hex[:8]
    credentials = tmp_path_factory.mktemp("engine") / "credentials.json"
    credentials.write_text(json.dumps({
        "digitalocean-prod": {"token": API_TOKEN, "hugging_face_token": HF_TOKEN},
        "api-only": {"token": API_TOKEN, "allowedHosts": ["api.digitalocean.com"]},
    }))
    with running_standin(NO_RATE_LIMITS) as api:
        server = RestateServer(data / "restate")
        service = Service(SERVICE_BINARY, WASM, {"HTTP_TASK_CREDENTIALS": str(credentials)}, data / "service.log")
        with server, service:
            server.register(service.url)
            yield api.url, server, service
    shutil.rmtree(data, ignore_errors=True)


def task(api_url: str, workflow_id: str, *, headers: dict | None = None, recipient: str | None = None, **definition_fields):
    definition = json.loads((FIXTURES / "definition.json").read_text())
    parameters = json.loads((FIXTURES / "parameters.json").read_text())
    definition["httpRequest"]["url"] = f"{api_url}/v2/dedicated-inferences"
    definition["httpRequest"]["headers"].update({"X-Call-Id": workflow_id, **(headers or {})})
    definition["httpRequest"]["body"]["access_tokens"]["hugging_face_token"] = "${secret:hugging_face_token}"
    parameters.pop("huggingFaceToken", None)
    parameters["name"] = workflow_id
    definition.update(definition_fields)
    body = {"definition": definition, "parameters": parameters}
    if recipient:
        body["tokenRecipient"] = recipient
    return body


def records(api_url: str, call_id: str) -> list[dict]:
    return [r for r in http("GET", f"{api_url}/__standin/requests")[1] if r["call_id"] == call_id]


def open_sealed(armoured: str, identity) -> str:
    lines = [line for line in armoured.strip().splitlines() if not line.startswith("-----")]
    return pyrage.decrypt(base64.b64decode("".join(lines)), [identity]).decode()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_202_ends_the_workflow_with_the_output_and_the_token_sealed_to_the_caller(stack):
    api, server, _ = stack
    identity = pyrage.x25519.Identity.generate()
    wf = new_id("ok")
    status, output = server.run(wf, task(api, wf, recipient=str(identity.to_public())))
    assert status == 200, output
    assert output["statusCode"] == 202
    sent = records(api, wf)
    assert len(sent) == 1 and sent[0]["status"] == 202
    assert "value" not in output["body"]["token"]
    assert open_sealed(output["body"]["token"]["sealed"], identity) == sent[0]["issued_token"]
    assert json.loads(sent[0]["body"])["access_tokens"]["hugging_face_token"] == HF_TOKEN


def test_a_429_with_retry_after_3_waits_3_s_then_succeeds(stack):
    api, server, _ = stack
    wf = new_id("ratelimited")
    body = task(api, wf, headers={"X-Standin-Fault": "rate-limit=3", "X-Standin-Fault-Times": "1"},
                retry={"intervalSeconds": 1, "maxAttempts": 3, "backoffRate": 2.0})
    status, output = server.run(wf, body)
    assert status == 200 and output["statusCode"] == 202, output
    first, second = records(api, wf)
    assert (first["status"], second["status"]) == (429, 202)
    assert second["time"] - first["time"] >= 3.0, second["time"] - first["time"]


def test_a_401_ends_the_workflow_terminally_after_exactly_one_post(stack):
    api, server, _ = stack
    wf = new_id("unauthorized")
    status, answer = server.run(wf, task(api, wf, headers={"X-Standin-Fault": "status=401"}))
    assert status != 200
    assert "401" in json.dumps(answer), answer
    time.sleep(1.5)  # had Restate retried it, a second POST would have arrived by now
    assert len(records(api, wf)) == 1


def test_a_timeout_is_retried(stack):
    api, server, _ = stack
    wf = new_id("timeout")
    body = task(api, wf, headers={"X-Standin-Fault": "slow-first-byte=2500", "X-Standin-Fault-Times": "1"},
                readTimeoutSeconds=1, retry={"intervalSeconds": 0.2, "maxAttempts": 3, "backoffRate": 1.0})
    status, output = server.run(wf, body)
    assert status == 200 and output["statusCode"] in (202, 200), output
    assert len(records(api, wf)) >= 2


def test_invalid_parameters_fail_with_the_field_path_and_send_nothing(stack):
    api, server, _ = stack
    wf = new_id("invalid")
    body = task(api, wf)
    body["parameters"]["model"]["scale"] = "lots"
    status, answer = server.run(wf, body)
    assert status != 200
    assert "model_deployments[0].accelerators[0].scale" in json.dumps(answer), answer
    assert records(api, wf) == []


def test_a_credential_is_refused_for_a_host_it_is_not_bound_to(stack):
    api, server, _ = stack
    wf = new_id("refused")
    status, answer = server.run(wf, task(api, wf, credentials="api-only"))
    assert status != 200
    assert "may not be sent to `127.0.0.1`" in json.dumps(answer), answer
    assert records(api, wf) == []


def secret_forms(secret: str) -> list[bytes]:
    """The forms a secret takes in Restate's storage: clear, hex, and an array of byte values."""
    raw = secret.encode()
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), ",".join(str(b) for b in raw).encode()]


def test_crash_run_every_workflow_completes_once_with_its_sealed_token_and_no_secret_stored(stack):
    api, server, service = stack
    run = uuid.uuid4().hex[:6]
    ids = [f"crash-{run}-{i}" for i in range(CRASH_WORKFLOWS)]
    identities = {wf: pyrage.x25519.Identity.generate() for wf in ids}
    # Every create takes 1.5 s before its answer, so that many are in flight when the service dies.
    for wf in ids:
        body = task(api, wf, headers={"X-Standin-Fault": "slow-first-byte=1500"}, recipient=str(identities[wf].to_public()))
        assert server.send(wf, body)[0] in (200, 202)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        in_flight = [r for r in http("GET", f"{api}/__standin/requests")[1] if r["call_id"] in identities and r["status"] is None]
        if len(in_flight) >= 3:
            break
        time.sleep(0.05)
    in_flight_at_kill = len(in_flight)
    service.kill()
    service.start()
    time.sleep(1)
    server.kill()
    server.start()
    outputs = {wf: server.attach(wf, timeout=300) for wf in ids}
    sent = [r for r in http("GET", f"{api}/__standin/requests")[1] if r["call_id"] in identities]
    minted = http("GET", f"{api}/__standin/tokens")[1]
    issued = {r["issued_token"] for r in sent if r.get("issued_token")} | {t["value"] for t in minted}
    rows = []
    for wf in ids:
        status, output = outputs[wf]
        assert status == 200, (wf, output)
        listed = http("GET", f"{api}/v2/dedicated-inferences?name={wf}", headers={"authorization": f"Bearer {API_TOKEN}"})[1]
        instances = [i for i in listed["dedicated_inferences"] if i["name"] == wf]
        token = open_sealed(output["body"]["token"]["sealed"], identities[wf])
        rows.append((wf, len([r for r in sent if r["call_id"] == wf]), bool(output.get("adopted") or output["body"].get("adopted")), len(instances), token in issued))
    # Restate's storage: the SQL introspection tables and every file of its data directory.
    secrets = [API_TOKEN, HF_TOKEN, *issued]
    tables = {t: json.dumps(server.query(f"select * from {t}")) for t in ("sys_journal", "state", "sys_invocation", "sys_journal_events")}
    stored = [(t, s[:6]) for t, text in tables.items() for s in secrets for form in secret_forms(s) if form.decode() in text]
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    on_disk = [(p.name, s[:6]) for p in files for s in secrets for form in secret_forms(s) if form in p.read_bytes()]
    lines = [
        f"{CRASH_WORKFLOWS} workflows, {in_flight_at_kill} creates in flight when the service was SIGKILLed and restarted; restate-server killed and restarted once",
        "",
        "| workflow | POSTs | adopted | instances | token opens |",
        "|---|---:|---|---:|---|",
        *(f"| {wf} | {posts} | {adopted} | {count} | {opens} |" for wf, posts, adopted, count, opens in rows),
        "",
        f"secrets looked for: {len(secrets)}; found in {', '.join(tables)}: {len(stored)}; in {len(files)} files of the data directory: {len(on_disk)}",
    ]
    report("restate-crash-run", "\n".join(lines))
    assert all(count == 1 for _, _, _, count, _ in rows), rows
    assert all(opens for *_, opens in rows), rows
    assert stored == [] and on_disk == [], (stored, on_disk)
    assert in_flight_at_kill >= 1
