"""The crash runs of the HTTP Task on Restate, shared by tests/engine/test_restate.py (40
workflows on one node, 12 on a cluster) and engines/restate/scale_out.py (200 of each):
workflows whose creates are slow are sent, what the scenario is about is killed while creates
are in flight, then every workflow is attached and judged from the stand-in's own records,
its instances' endpoints and Restate's storage.

    run, what_happened = single_node(api_url, service_binary, wasm, credentials_env(tmp), data, 40)
    print(run.table(what_happened))
    assert run.problems() == []

`CrashRun` is the instrument the two scenarios (`single_node`, `cluster`) drive.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyrage

from stack import RestateCluster, RestateServer, Service, http

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
#: Each create waits this long before its answer, so that many are in flight at a crash.
SLOW_CREATE = "slow-first-byte=1500"


def workflow_input(api_url: str, workflow_id: str, *, headers: dict | None = None, recipient: str | None = None, **definition_fields: Any) -> dict:
    """The fixture task for workflow `workflow_id` against the stand-in at `api_url`: the name
    is the workflow id, the Hugging Face token comes from the credential (`${secret:…}`, since
    Restate stores the input), `X-Call-Id` is the workflow id so that the stand-in's records
    tell the workflows apart."""
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


def open_sealed(armoured: str, identity: pyrage.x25519.Identity) -> str:
    """The token an ASCII-armoured age message holds, opened with the caller's identity."""
    lines = [line for line in armoured.strip().splitlines() if not line.startswith("-----")]
    return pyrage.decrypt(base64.b64decode("".join(lines)), [identity]).decode()


def secret_forms(secret: str) -> list[bytes]:
    """The forms a secret takes in Restate's storage: clear, hex, and an array of byte values."""
    raw = secret.encode()
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), ",".join(str(b) for b in raw).encode()]


def endpoint_accepts(api_url: str, endpoint: str, token: str, timeout: float = 30) -> bool:
    """Whether the inference's endpoint (an `https://` URI its document names, served by the
    stand-in under that `Host`) lists its models for `token`; waits out its provisioning."""
    deadline = time.monotonic() + timeout
    while True:
        status, answer = http("GET", f"{api_url}/v1/models", headers={"host": urlsplit(endpoint).hostname or "", "authorization": f"Bearer {token}"})
        if status != 503 or time.monotonic() > deadline:
            return status == 200 and bool(answer["data"])
        time.sleep(0.2)


def query_patiently(server: RestateServer, sql: str, attempts: int = 20) -> list[dict]:
    """`server.query(sql)`, asked again while it fails: a cluster whose node just came back
    answers 500 until its partitions' scanners are there again."""
    for attempt in range(attempts):
        try:
            return server.query(sql)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


@dataclass
class Row:
    """What became of one workflow."""

    workflow: str
    status: int
    posts: int
    adopted: bool
    instances: int
    opens: bool  # the caller opened its sealed token, and it is one the stand-in issued
    accepted: bool  # the instance's endpoint accepts that token


class CrashRun:
    TABLES = ("sys_journal", "state", "sys_invocation", "sys_journal_events")

    def __init__(self, api_url: str, api_token: str, secrets: list[str], count: int, prefix: str = "crash") -> None:
        self.api_url, self.api_token, self.secrets = api_url, api_token, secrets
        run = uuid.uuid4().hex[:6]
        self.ids = [f"{prefix}-{run}-{i}" for i in range(count)]
        self.identities = {wf: pyrage.x25519.Identity.generate() for wf in self.ids}
        self.outputs: dict[str, tuple[int, Any]] = {}
        self.rows: list[Row] = []
        self.issued: list[str] = []  # every token the stand-in issued to the run
        self.stored: list[tuple[str, str]] = []  # (where, the secret's first characters)
        self.files_scanned = 0
        self.in_flight_at_kill = 0  # creates sent and not answered when the service was killed
        self.started = time.monotonic()
        self.elapsed = 0.0

    def records(self) -> list[dict]:
        return [r for r in http("GET", f"{self.api_url}/__standin/requests")[1] if r["call_id"] in self.identities]

    def send(self, ingresses: list[str]) -> None:
        """Starts every workflow (`/run/send`), spread over `ingresses` in turn."""
        self.started = time.monotonic()
        for i, wf in enumerate(self.ids):
            body = workflow_input(self.api_url, wf, headers={"X-Standin-Fault": SLOW_CREATE}, recipient=str(self.identities[wf].to_public()))
            status, answer = http("POST", f"{ingresses[i % len(ingresses)]}/HttpTask/{wf}/run/send", body)
            if status not in (200, 202):
                raise RuntimeError(f"{wf} was not accepted: {status} {answer}")

    def wait_for_creates_in_flight(self, at_least: int = 3, timeout: float = 30) -> int:
        """How many creates had arrived at the stand-in without an answer yet, once at least
        `at_least` had (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            in_flight = sum(1 for r in self.records() if r["status"] is None)
            if in_flight >= at_least or time.monotonic() > deadline:
                return in_flight
            time.sleep(0.05)

    def wait_for_answered(self, count: int, timeout: float = 120) -> int:
        """Waits until the stand-in has answered `count` of the run's creates (the middle of a
        run, for a crash); how many it had."""
        deadline = time.monotonic() + timeout
        while True:
            answered = sum(1 for r in self.records() if r["status"] is not None)
            if answered >= count or time.monotonic() > deadline:
                return answered
            time.sleep(0.1)

    def attach(self, ingresses: list[str], timeout: float = 300) -> None:
        """Waits for every workflow's end through `ingresses` (the next one when one is down)."""
        for i, wf in enumerate(self.ids):
            for attempt in range(len(ingresses)):
                ingress = ingresses[(i + attempt) % len(ingresses)]
                try:
                    self.outputs[wf] = http("GET", f"{ingress}/restate/workflow/HttpTask/{wf}/attach", timeout=timeout)
                    break
                except OSError as error:
                    self.outputs[wf] = (0, f"{ingress}: {error}")
        self.elapsed = time.monotonic() - self.started

    def judge(self) -> None:
        """One row per workflow, from its output, the stand-in's records and listing, and the
        instance's endpoint."""
        sent = self.records()
        minted = [t["value"] for t in http("GET", f"{self.api_url}/__standin/tokens")[1]]
        issued = {r["issued_token"] for r in sent if r.get("issued_token")} | set(minted)
        self.issued = sorted(issued)
        for wf in self.ids:
            status, output = self.outputs.get(wf, (0, None))
            listed = http("GET", f"{self.api_url}/v2/dedicated-inferences?name={wf}&per_page=200", headers={"authorization": f"Bearer {self.api_token}"})[1]
            instances = [i for i in listed["dedicated_inferences"] if i["name"] == wf]
            opens = accepted = adopted = False
            if status == 200 and isinstance(output, dict):
                adopted = bool(output.get("adopted"))
                token = open_sealed(output["body"]["token"]["sealed"], self.identities[wf])
                opens = token in issued
                endpoint = output["body"]["dedicated_inference"]["endpoints"]["public_endpoint_fqdn"]
                accepted = opens and endpoint_accepts(self.api_url, endpoint, token)
            posts = sum(1 for r in sent if r["call_id"] == wf)
            self.rows.append(Row(wf, status, posts, adopted, len(instances), opens, accepted))

    def scan_storage(self, servers: list[RestateServer]) -> None:
        """Looks for every secret, in each form, in the SQL introspection tables (cluster-wide:
        asked of the first server) and in every file of every server's data directory."""
        secrets = [*self.secrets, *self.issued]
        for table in self.TABLES:
            text = json.dumps(query_patiently(servers[0], f"select * from {table}"))
            self.stored += [(table, s[:6]) for s in secrets if any(f.decode() in text for f in secret_forms(s))]
        for server in servers:
            for path in (p for p in server.data_dir.rglob("*") if p.is_file()):
                self.files_scanned += 1
                data = path.read_bytes()
                self.stored += [(str(path.relative_to(server.data_dir)), s[:6]) for s in secrets if any(f in data for f in secret_forms(s))]

    def problems(self) -> list[str]:
        """Every requirement a workflow, or the storage, fails; empty when the run passed."""
        found = [f"{r.workflow}: {what}" for r in self.rows for what, failed in (
            (f"ended with {r.status}: {self.outputs[r.workflow][1]}", r.status != 200),
            (f"{r.instances} instances", r.instances != 1),
            ("its sealed token does not open to an issued one", not r.opens),
            ("the endpoint refuses its token", r.opens and not r.accepted),
        ) if failed]
        return found + [f"a secret ({s}…) is stored in {where}" for where, s in self.stored]

    def table(self, what_happened: str, *, every_workflow: bool = True) -> str:
        """The run as Markdown: what happened, the outcomes counted (and a row per workflow,
        with `every_workflow`), the totals, the storage scan."""
        rows = self.rows
        outcomes = Counter((r.status, r.posts, r.adopted, r.instances, r.opens, r.accepted) for r in rows)
        columns = "ended | POSTs | adopted | instances | token opens | endpoint accepts it"
        per_second = len(rows) / self.elapsed if self.elapsed else 0.0
        lines = [
            what_happened,
            "",
            f"| workflows | {columns} |",
            "|---:|---:|---:|---|---:|---|---|",
            *(f"| {n} | {' | '.join(map(str, outcome))} |" for outcome, n in sorted(outcomes.items(), key=lambda item: -item[1])),
            "",
        ]
        if every_workflow:
            lines += [
                f"| workflow | {columns} |",
                "|---|---:|---:|---|---:|---|---|",
                *(f"| {r.workflow} | {r.status} | {r.posts} | {r.adopted} | {r.instances} | {r.opens} | {r.accepted} |" for r in rows),
                "",
            ]
        return "\n".join([
            *lines,
            f"{len(rows)} workflows in {self.elapsed:.1f} s ({per_second:.1f}/s, crashes included): "
            f"{sum(r.status == 200 for r in rows)} completed, {sum(r.adopted for r in rows)} adopted, "
            f"{sum(r.instances == 1 for r in rows)} with exactly one instance, {sum(r.posts for r in rows)} POSTs, "
            f"{sum(r.accepted for r in rows)} tokens accepted by their endpoint.",
            f"Secrets looked for: {len(self.secrets) + len(self.issued)} in {', '.join(self.TABLES)} "
            f"and {self.files_scanned} files of the data directories: {len(self.stored)} found.",
        ])


# --- The scenarios ---

#: The scenarios' secrets: the service's credential, and what the scan looks for.
API_TOKEN = "dop_v1_" + "5" * 56
HF_TOKEN = "hf_crashrunsecret"


def credentials_env(directory: Path) -> dict[str, str]:
    """The service's environment: a credentials file with the run's two secrets."""
    credentials = directory / "credentials.json"
    credentials.write_text(json.dumps({"digitalocean-prod": {"token": API_TOKEN, "hugging_face_token": HF_TOKEN}}))
    return {"HTTP_TASK_CREDENTIALS": str(credentials)}


def single_node(api: str, binary: Path, wasm: Path, env: dict, data: Path, workflows: int) -> tuple[CrashRun, str]:
    """One node: the service SIGKILLed with creates in flight and restarted, then restate-server
    SIGKILLed once half the creates were answered, and restarted. The run, judged, and what
    happened."""
    with RestateServer(data / "restate") as server, Service(binary, ["--component", str(wasm)], env, data / "service.log") as service:
        server.register(service.url)
        run = CrashRun(api, API_TOKEN, [API_TOKEN, HF_TOKEN], workflows, prefix="single")
        run.send([server.ingress])
        run.in_flight_at_kill = run.wait_for_creates_in_flight()
        service.kill()
        service.start()
        time.sleep(1)
        answered = run.wait_for_answered(workflows // 2)
        server.kill()
        server.start()
        run.attach([server.ingress])
        run.judge()
        run.scan_storage([server])
    return run, (
        f"One node, {workflows} workflows: the service SIGKILLed with {run.in_flight_at_kill} creates in flight and "
        f"restarted; restate-server SIGKILLed once {answered} creates had been answered, and restarted."
    )


def cluster(api: str, binary: Path, wasm: Path, env: dict, data: Path, workflows: int) -> tuple[CrashRun, str]:
    """A 3-node cluster, workflows sent through every ingress, one node SIGKILLed once a third
    of the creates were answered and left down until every workflow ended. The run, judged, and
    what happened."""
    with RestateCluster(data / "cluster", size=3, replication=2) as nodes, Service(binary, ["--component", str(wasm)], env, data / "service.log") as service:
        nodes.nodes[0].register(service.url)
        time.sleep(2)  # the deployment reaches every node through the metadata
        run = CrashRun(api, API_TOKEN, [API_TOKEN, HF_TOKEN], workflows, prefix="cluster")
        run.send([node.ingress for node in nodes.nodes])
        answered = run.wait_for_answered(workflows // 3)
        victim = nodes.nodes[2]
        victim.kill()
        run.attach([node.ingress for node in nodes.live()])
        run.judge()
        victim.start()  # back in the cluster before the storage is read: every node is scanned
        run.scan_storage(nodes.nodes)
    return run, (
        f"3-node cluster on loopback (replication 2, engines/restate/cluster-node.toml), {workflows} workflows "
        f"sent through the three ingresses in turn; node n3 SIGKILLed once {answered} creates had been answered, "
        "and left down until every workflow had ended (attached through n1 and n2)."
    )
