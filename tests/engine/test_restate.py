"""The HTTP Task as a step of a real Restate workflow: the pinned restate-server
(tools/bootstrap-restate.sh), the service (engines/restate) and the stand-in, all on loopback.
Each case is judged from the stand-in's own records (what was sent) and Restate's answers; the
crash run kills the service mid-create and the server once, then checks every workflow, the
instances, the sealed tokens and Restate's storage for secrets."""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid

import pyrage
import pytest

from kit.paths import REPO, WASM
from kit.reports import report

sys.path.insert(0, str(REPO / "engines" / "restate"))
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402
from crash_run import cluster, credentials_env, open_sealed, single_node, workflow_input  # noqa: E402
from stack import RestateServer, Service, http  # noqa: E402

SERVICE_BINARY = REPO / "target" / "rust-host" / "release" / "http-task-restate"
API_TOKEN = "dop_v1_" + "e" * 56
HF_TOKEN = "hf_restateenginetestsecret"
CRASH_WORKFLOWS = 40
CLUSTER_WORKFLOWS = 12


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
        service = Service(SERVICE_BINARY, ["--component", str(WASM)], {"HTTP_TASK_CREDENTIALS": str(credentials)}, data / "service.log")
        with server, service:
            server.register(service.url)
            yield api.url, server, service
    shutil.rmtree(data, ignore_errors=True)


def records(api_url: str, call_id: str) -> list[dict]:
    return [r for r in http("GET", f"{api_url}/__standin/requests")[1] if r["call_id"] == call_id]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_202_ends_the_workflow_with_the_output_and_the_token_sealed_to_the_caller(stack):
    api, server, _ = stack
    identity = pyrage.x25519.Identity.generate()
    wf = new_id("ok")
    status, output = server.run(wf, workflow_input(api, wf, recipient=str(identity.to_public())))
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
    body = workflow_input(api, wf, headers={"X-Standin-Fault": "rate-limit=3", "X-Standin-Fault-Times": "1"},
                retry={"intervalSeconds": 1, "maxAttempts": 3, "backoffRate": 2.0})
    status, output = server.run(wf, body)
    assert status == 200 and output["statusCode"] == 202, output
    first, second = records(api, wf)
    assert (first["status"], second["status"]) == (429, 202)
    assert second["time"] - first["time"] >= 3.0, second["time"] - first["time"]


def test_a_401_ends_the_workflow_terminally_after_exactly_one_post(stack):
    api, server, _ = stack
    wf = new_id("unauthorized")
    status, answer = server.run(wf, workflow_input(api, wf, headers={"X-Standin-Fault": "status=401"}))
    assert status != 200
    assert "401" in json.dumps(answer), answer
    time.sleep(1.5)  # had Restate retried it, a second POST would have arrived by now
    assert len(records(api, wf)) == 1


def test_a_timeout_is_retried(stack):
    api, server, _ = stack
    wf = new_id("timeout")
    body = workflow_input(api, wf, headers={"X-Standin-Fault": "slow-first-byte=2500", "X-Standin-Fault-Times": "1"},
                readTimeoutSeconds=1, retry={"intervalSeconds": 0.2, "maxAttempts": 3, "backoffRate": 1.0})
    status, output = server.run(wf, body)
    assert status == 200 and output["statusCode"] in (202, 200), output
    assert len(records(api, wf)) >= 2


def test_invalid_parameters_fail_with_the_field_path_and_send_nothing(stack):
    api, server, _ = stack
    wf = new_id("invalid")
    body = workflow_input(api, wf)
    body["parameters"]["model"]["scale"] = "lots"
    status, answer = server.run(wf, body)
    assert status != 200
    assert "model_deployments[0].accelerators[0].scale" in json.dumps(answer), answer
    assert records(api, wf) == []


def test_a_credential_is_refused_for_a_host_it_is_not_bound_to(stack):
    api, server, _ = stack
    wf = new_id("refused")
    status, answer = server.run(wf, workflow_input(api, wf, credentials="api-only"))
    assert status != 200
    assert "may not be sent to `127.0.0.1`" in json.dumps(answer), answer
    assert records(api, wf) == []


def test_crash_run_every_workflow_completes_once_with_its_sealed_token_and_no_secret_stored(tmp_path):
    """The service SIGKILLed with creates in flight, restate-server killed once."""
    data = REPO / "target" / "engine-tests" / uuid.uuid4().hex[:8]
    with running_standin(NO_RATE_LIMITS) as api:
        run, what = single_node(api.url, SERVICE_BINARY, WASM, credentials_env(tmp_path), data, CRASH_WORKFLOWS)
    shutil.rmtree(data, ignore_errors=True)
    report("restate-crash-run", run.table(what))
    assert run.in_flight_at_kill >= 1
    assert len(run.rows) == CRASH_WORKFLOWS
    assert run.problems() == []


def test_a_3_node_cluster_losing_a_node_mid_run_completes_every_workflow_once(tmp_path):
    """engines/restate/scale_out.py runs both with 200 workflows: docs/engine-runs.md."""
    data = REPO / "target" / "engine-tests" / uuid.uuid4().hex[:8]
    with running_standin(NO_RATE_LIMITS) as api:
        run, what = cluster(api.url, SERVICE_BINARY, WASM, credentials_env(tmp_path), data, CLUSTER_WORKFLOWS)
    shutil.rmtree(data, ignore_errors=True)
    report("restate-cluster-run", run.table(what, every_workflow=False))
    assert len(run.rows) == CLUSTER_WORKFLOWS
    assert run.problems() == []
