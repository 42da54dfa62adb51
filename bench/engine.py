"""The engine benchmark: workflows per second through Restate with the component as the step
(the `HttpTask` service, engines/restate) against the same workflow whose step is a plain
native POST (`NativeFloor`, engines/restate/examples/native_floor.rs: the engine's own floor),
and the component's cold start (compile against deserialize the precompiled copy).

scripts/bench runs it through bench/bench.py, whose report (target/bench/report.md,
docs/performance.md) takes its rows and section; `.venv/bin/python bench/engine.py [--quick]`
runs it alone and prints the same rows. Both binaries must be built first: engines/restate/build.sh
builds them (scripts/bench and scripts/test run it).

How it is measured, and why:
- One stand-in (its own process, rate limits raised), one restate-server (one node, data under
  target/bench/engine/run-<pid>/, removed after a run that ended) and both services, each its
  own deployment on its own port.
- The floor POSTs the bytes the component put on the wire: one probe workflow goes through
  `HttpTask` first, and the stand-in's record of it (headers, body) is the floor's request,
  with the bearer from the floor's environment (as the component's comes from the
  credentials). Every workflow creates an inference with a name of its own, of one length
  for all, so both take the stand-in's 202 path with bodies of one size.
- Workflows/s: `CONCURRENCY` threads each send `POST INGRESS/<workflow>/<id>/run` and wait for
  its answer (keep-alive connections, new ones every round), in rounds that alternate
  component, floor, floor, component, ... within one run, so that whatever else the machine
  does hits both. Throughput is the workflows of a kind over the wall time of its rounds; the
  ratio is the floor's workflows/s over the component's (time per workflow, component/floor).
  Every workflow must end 200 with `statusCode` 202, or the kind says FAIL and no figure.
- Cold start: the `HttpTask` service restarted on its registered port with an empty
  `--cache-dir` (it compiles) and again with the copy that start wrote (it deserializes):
  the `component ready (… in N ms)` the service prints, and the time from its process start
  to the first workflow answered through Restate (the caller waits for the port first). The
  floor's restart is the reference for what Restate and a process start cost by themselves.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "engines/restate"), str(REPO / "standin")]
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402
from stack import RestateServer, Service  # noqa: E402
from figures import percentile  # noqa: E402
from stack import http as call  # noqa: E402  (a JSON request; `http` is the standard module here)

SERVICE = REPO / "target/rust-host/release/http-task-restate"
FLOOR = REPO / "target/rust-host/release/examples/native_floor"
WASM = REPO / "target/component/do_dedicated_inference_task.wasm"
OUT = REPO / "target/bench/engine"
FIXTURES = REPO / "fixtures"

#: The stand-in accepts any `dop_v1_` token of 8 or more further characters.
API_TOKEN = "dop_v1_benchengine" + "0" * 54
HF_TOKEN = "hf_benchEngineGatedModelToken0123"
#: The issue's goal: a workflow with the component as its step at most 1.3× the floor's time.
RATIO_BUDGET = 1.3
CONCURRENCY = 16
RATIO_FIGURE = "Restate workflow: time per workflow, component/floor (floor workflows/s ÷ component's)"
READY = re.compile(r"component ready \((compiled|deserialized the precompiled copy) in (\d+) ms\)")


@dataclass(frozen=True)
class Sizes:
    """Workflows per kind (split over `rounds`), warm-up workflows per kind, cold starts."""

    workflows: int
    rounds: int
    warmup: int
    cold_starts: int


# Rounds of many times CONCURRENCY workflows: a round's ramp-up and tail are a small part of it.
FULL = Sizes(workflows=1200, rounds=6, warmup=32, cold_starts=3)
QUICK = Sizes(workflows=160, rounds=2, warmup=16, cold_starts=1)


@dataclass
class Row:
    """One row of bench/bench.py's report: `passed` None for a figure without a budget."""

    figure: str
    value: str
    budget: str = "—"
    passed: bool | None = None


# --- Processes ---


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_s() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, summed over its cores."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK"), sum(ticks) / os.sysconf("SC_CLK_TCK")


# --- Workflows ---


@dataclass
class Kind:
    """One step kind: its workflow, its service, and how it builds a workflow's input."""

    label: str
    workflow: str
    service: Service
    make_input: Callable[[str], dict[str, Any]]
    #: Per workflow: seconds from the POST to its answer.
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    #: CPU seconds over the measured rounds, per process.
    cpu: dict[str, float] = field(default_factory=dict)
    #: The whole machine's busy and all CPU seconds over the measured rounds.
    machine_busy: float = 0.0
    machine_all: float = 0.0
    #: Workflows/s of each measured round, in order.
    per_round: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies)

    def per_s(self) -> float:
        return self.count / self.wall_s if self.wall_s > 0 else math.inf


def judge(status: int, answer: Any) -> str | None:
    """None when the workflow ended as it must: 200, with the step output of a 202."""
    if status == 200 and isinstance(answer, dict) and answer.get("statusCode") == 202:
        return None
    return f"{status} {json.dumps(answer)[:300]}"


def run_workflows(ingress_port: int, kind: Kind, ids: Sequence[str]) -> tuple[float, list[float], list[str]]:
    """`ids` through `kind`'s workflow from CONCURRENCY threads, each on a keep-alive
    connection of its own: (wall seconds, latencies, failures)."""
    local = threading.local()
    bodies = [(workflow_id, json.dumps(kind.make_input(workflow_id)).encode()) for workflow_id in ids]

    def one(item: tuple[str, bytes]) -> tuple[float, str | None]:
        workflow_id, body = item
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", ingress_port, timeout=120)
        started = time.perf_counter()
        try:
            connection.request("POST", f"/{kind.workflow}/{workflow_id}/run", body,
                               {"content-type": "application/json", "accept": "application/json"})
            response = connection.getresponse()
            status, text = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            local.connection = None
            return time.perf_counter() - started, f"{workflow_id}: {error!r}"
        elapsed = time.perf_counter() - started
        try:
            answer = json.loads(text) if text else None
        except ValueError:
            answer = text.decode(errors="replace")
        failure = judge(status, answer)
        return elapsed, None if failure is None else f"{workflow_id}: {failure}"

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(pool.map(one, bodies))
    wall = time.perf_counter() - started
    return wall, [latency for latency, _ in results], [failure for _, failure in results if failure]


def names(kind: str, round_: str, count: int) -> list[str]:
    """Workflow ids, which are also the inferences' names: one length for all."""
    return [f"eb-{kind}{round_}-{i:05d}" for i in range(count)]


@dataclass
class ColdStart:
    how: str
    ready_ms: int | None
    first_workflow_s: float


def cold_start(server: RestateServer, service: Service, workflow_id: str, make_input: Callable[[str], dict]) -> ColdStart:
    """Starts `service` (its deployment already registered at its port), runs one workflow
    through Restate as soon as the port answers; stops the service."""
    offset = service.log.stat().st_size if service.log.exists() else 0
    with service:
        status, answer = call("POST", f"{server.ingress}/{workflow_name(service)}/{workflow_id}/run", make_input(workflow_id))
        first = time.perf_counter() - service.started
    failure = judge(status, answer)
    if failure:
        raise RuntimeError(f"cold start of {service.command[0]}: {failure}")
    with open(service.log, "rb") as log:
        log.seek(offset)
        match = READY.search(log.read().decode(errors="replace"))
    how = "native" if match is None else ("compiled" if match.group(1) == "compiled" else "deserialized")
    return ColdStart(how, None if match is None else int(match.group(2)), first)


def workflow_name(service: Service) -> str:
    return "NativeFloor" if service.binary == FLOOR else "HttpTask"


# --- The run ---


@dataclass
class Figures:
    quick: bool
    sizes: Sizes
    kinds: list[Kind]
    compile: list[ColdStart]
    deserialize: list[ColdStart]
    floor_start: list[ColdStart]


def measure(quick: bool) -> Figures:
    sizes = QUICK if quick else FULL
    for binary, how in ((SERVICE, "engines/restate/build.sh"), (FLOOR, "engines/restate/build.sh"), (WASM, "scripts/build")):
        if not binary.exists():
            raise RuntimeError(f"{binary.relative_to(REPO)} is missing: run {how}")
    # A directory per run (two runs at once must not share restate-server's data); the
    # precompiled copy of the throughput service is shared, written atomically.
    run = OUT / f"run-{os.getpid()}"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    figures = measure_in(run, sizes)
    shutil.rmtree(run, ignore_errors=True)  # kept when the run failed, for its logs
    return figures


def measure_in(run: Path, sizes: Sizes) -> Figures:
    credentials = run / "credentials.json"
    definition = json.loads((FIXTURES / "definition.json").read_text())
    credentials.write_text(json.dumps({definition["credentials"]: {"token": API_TOKEN, "hugging_face_token": HF_TOKEN}}))
    credentials.chmod(0o600)

    with running_standin(NO_RATE_LIMITS) as api:
        definition["httpRequest"]["url"] = f"{api.url}/v2/dedicated-inferences"
        # Restate stores the input: the Hugging Face token comes from the credential.
        definition["httpRequest"]["body"]["access_tokens"]["hugging_face_token"] = "${secret:hugging_face_token}"
        parameters = json.loads((FIXTURES / "parameters.json").read_text())
        parameters.pop("huggingFaceToken", None)

        def component_input(workflow_id: str) -> dict[str, Any]:
            return {"definition": definition, "parameters": dict(parameters, name=workflow_id)}

        cache = OUT / "precompiled"
        component = Service(SERVICE, ["--component", str(WASM), "--cache-dir", str(cache)],
                            {"HTTP_TASK_CREDENTIALS": str(credentials)}, run / "service.log")
        floor = Service(FLOOR, [], {"NATIVE_FLOOR_TOKEN": API_TOKEN}, run / "floor.log")
        server = RestateServer(run / "restate")
        with server:
            with component, floor:
                server.register(component.url)
                server.register(floor.url)
                floor_input = probe_request(server, api.url, component_input)
                kinds = [Kind("component", "HttpTask", component, component_input),
                         Kind("native floor", "NativeFloor", floor, floor_input)]
                for kind, tag in zip(kinds, "cn"):
                    _, _, failures = run_workflows(server.ingress_port, kind, names(tag, "w", sizes.warmup))
                    kind.failures += [f"warm-up {failure}" for failure in failures]
                each_round = math.ceil(sizes.workflows / sizes.rounds)
                for round_ in range(sizes.rounds):
                    order = list(zip(kinds, "cn"))
                    for kind, tag in order if round_ % 2 == 0 else reversed(order):
                        pids = {"restate-server": server.process.pid, "step service": kind.service.process.pid,
                                "stand-in": api.process.pid, "callers": os.getpid()}
                        before = {name: cpu_s(pid) for name, pid in pids.items()}
                        busy, total = machine_s()
                        wall, latencies, failures = run_workflows(server.ingress_port, kind, names(tag, str(round_ + 1), each_round))
                        for name, pid in pids.items():
                            kind.cpu[name] = kind.cpu.get(name, 0.0) + cpu_s(pid) - before[name]
                        kind.machine_busy += machine_s()[0] - busy
                        kind.machine_all += machine_s()[1] - total
                        kind.wall_s += wall
                        kind.per_round.append(len(latencies) / wall)
                        kind.latencies += latencies
                        kind.failures += failures
                        call("DELETE", f"{api.url}/__standin/requests")
            # Both services are stopped: each restart below is a cold start on its port.
            compiles, deserializes, floor_starts = [], [], []
            for i in range(sizes.cold_starts):
                empty = run / f"cold-cache-{i}"
                cold = Service(SERVICE, [*component.arguments[:-1], str(empty)], component.env, run / "cold-start.log", component.port)
                compiles.append(cold_start(server, cold, f"eb-k{i}-00000", component_input))
                deserializes.append(cold_start(server, cold, f"eb-d{i}-00000", component_input))
                floor_starts.append(cold_start(server, floor, f"eb-f{i}-00000", floor_input))
    return Figures(sizes is QUICK, sizes, kinds, compiles, deserializes, floor_starts)


def probe_request(server: RestateServer, api_url: str, component_input: Callable[[str], dict]) -> Callable[[str], dict[str, Any]]:
    """One workflow through the component; what the stand-in received is the floor's request
    (its name replaced by each workflow's)."""
    probe = names("p", "0", 1)[0]
    call("DELETE", f"{api_url}/__standin/requests")
    status, answer = server.run(probe, component_input(probe))
    if judge(status, answer):
        raise RuntimeError(f"the probe workflow through HttpTask failed: {judge(status, answer)}")
    (record,) = call("GET", f"{api_url}/__standin/requests")[1]
    call("DELETE", f"{api_url}/__standin/requests")
    headers = {k: v for k, v in record["headers"].items() if k not in ("host", "content-length", "authorization")}
    body, quoted = record["body"], json.dumps(probe)
    if body.count(quoted) != 1:
        raise RuntimeError(f"the probe's name appears {body.count(quoted)} times in its body")
    url = f"{api_url}/v2/dedicated-inferences"

    def floor_input(workflow_id: str) -> dict[str, Any]:
        return {"url": url, "headers": headers, "body": body.replace(quoted, json.dumps(workflow_id))}

    return floor_input


# --- The figures ---


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def rows(figures: Figures) -> list[Row]:
    component, floor = figures.kinds
    out: list[Row] = []
    for kind in figures.kinds:
        prefix = f"Restate workflow, step = {kind.label}"
        if kind.failures:
            out.append(Row(f"{prefix}: workflows/s ({CONCURRENCY} concurrent callers)",
                           f"FAIL: {len(kind.failures)} workflows did not end 200 with statusCode 202 "
                           f"(first: `{kind.failures[0][:160]}`)", "every workflow 202", False))
            continue
        out.append(Row(f"{prefix}: workflows/s ({CONCURRENCY} concurrent callers)", f"{kind.per_s():,.1f} /s"))
        out.append(Row(f"{prefix}: latency per workflow p50 / p95",
                       f"{ms(statistics.median(kind.latencies))} / {ms(percentile(kind.latencies, 95))}"))
    budget, figure = f"≤ {RATIO_BUDGET}×", RATIO_FIGURE
    if component.failures or floor.failures:
        out.append(Row(figure, "FAIL: not measured (workflows failed)", budget, False))
    else:
        times = floor.per_s() / component.per_s()
        out.append(Row(figure, f"{times:.2f}×", budget, times <= RATIO_BUDGET))
    for label, starts in (("compile (empty --cache-dir)", figures.compile), ("deserialize the precompiled copy", figures.deserialize)):
        ready = [s.ready_ms for s in starts if s.ready_ms is not None]
        out.append(Row(f"Restate service cold start, {label}: `component ready` figure (median)",
                       f"{statistics.median(ready):,.0f} ms" if ready else "not printed"))
        out.append(Row(f"Restate service cold start, {label}: process start → first workflow answered (median)",
                       ms(statistics.median(s.first_workflow_s for s in starts))))
    ready_compile = [s.ready_ms for s in figures.compile if s.ready_ms]
    ready_load = [s.ready_ms for s in figures.deserialize if s.ready_ms]
    if ready_compile and ready_load:
        out.append(Row("Restate service cold start: compile/deserialize, `component ready`",
                       f"{statistics.median(ready_compile) / max(statistics.median(ready_load), 1):.1f}×"))
    first_compile = statistics.median(s.first_workflow_s for s in figures.compile)
    first_load = statistics.median(s.first_workflow_s for s in figures.deserialize)
    out.append(Row("Restate service cold start: compile/deserialize, first workflow", f"{first_compile / first_load:.1f}×"))
    out.append(Row("native floor restart: process start → first workflow answered (median; the reference)",
                   ms(statistics.median(s.first_workflow_s for s in figures.floor_start))))
    return out


def section(figures: Figures) -> str:
    sizes = figures.sizes
    lines = [
        f"bench/engine.py: one restate-server {restate_version()} (one node, loopback), the stand-in, "
        "and two services, each its own deployment: `HttpTask` (engines/restate, the component as the "
        "step: render, then one `ctx.run` executing it) and `NativeFloor` "
        "(engines/restate/examples/native_floor.rs: one `ctx.run` POSTing the bytes the component "
        "sent, a new connection each, with hyper). Both journal `{statusCode, headers, body}`, "
        "the returned token removed.",
        "",
        f"{sizes.workflows} workflows per kind after {sizes.warmup} of warm-up, in {sizes.rounds} "
        f"rounds alternating component / floor / floor / component, {CONCURRENCY} callers each "
        "waiting on `POST /<workflow>/<id>/run`; every workflow checked for 200 and `statusCode` 202. "
        "On a 2-core machine the callers, the stand-in, restate-server and the service share the "
        "cores, so workflows/s is what one workflow costs all of them together; the ratio is "
        "taken within the one run. The same ratio round by round (floor ÷ component): "
        + ", ".join(f"{f / c:.2f}×" for c, f in zip(*(kind.per_round for kind in figures.kinds)))
        + ".",
        "",
        "CPU per workflow over the measured rounds (ms of user + system time, per process; the "
        "callers are this Python process), and how busy the machine's cores were meanwhile:",
        "",
        "| step | restate-server | step service | stand-in | callers | machine busy |",
        "|---|---|---|---|---|---|",
    ]
    for kind in figures.kinds:
        per = {name: f"{1e3 * seconds / max(kind.count, 1):.2f}" for name, seconds in kind.cpu.items()}
        busy = 100 * kind.machine_busy / kind.machine_all if kind.machine_all > 0 else math.nan
        lines.append(f"| {kind.label} | {per['restate-server']} | {per['step service']} | {per['stand-in']} "
                     f"| {per['callers']} | {busy:.0f} % |")
    lines += [
        "",
        f"Cold start ({len(figures.compile)} of each): the `HttpTask` service restarted on its registered port, "
        "first with an empty `--cache-dir` (compiles, and writes the precompiled copy), then with that copy "
        "(deserializes); the first workflow is sent as soon as the port answers, so its time holds "
        "the component's load. The native floor restarted the same way is the reference. Each start:",
        "",
        "| start | `component ready` | process start → first workflow |",
        "|---|---|---|",
    ]
    for label, starts in (("compile", figures.compile), ("deserialize", figures.deserialize), ("native floor", figures.floor_start)):
        for start in starts:
            ready = "—" if start.ready_ms is None else f"{start.ready_ms:,} ms ({start.how})"
            lines.append(f"| {label} | {ready} | {ms(start.first_workflow_s)} |")
    if figures.quick:
        lines += ["", "QUICK RUN: a smoke test, not figures to quote."]
    return "\n".join(lines)


def restate_version() -> str:
    try:
        binary = subprocess.run([str(REPO / "tools/bootstrap-restate.sh")], check=True, capture_output=True, text=True).stdout.split()[-1]
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError, IndexError):
        return ""
    found = re.search(r"\d+\.\d+\.\d+", done.stdout)
    return found.group(0) if found else ""


def set_concurrency(callers: int) -> None:
    """For trying another load from the command line; the report uses CONCURRENCY's default."""
    global CONCURRENCY
    CONCURRENCY = callers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/engine.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.workflows} workflows per kind, one cold start of each")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help=f"callers at once (default {CONCURRENCY})")
    args = parser.parse_args(argv)
    set_concurrency(args.concurrency)
    figures = measure(args.quick)
    print("| figure | value | budget | result |\n|---|---|---|---|")
    for row in rows(figures):
        result = "—" if row.passed is None else ("PASS" if row.passed else "FAIL")
        print(f"| {row.figure} | {row.value} | {row.budget} | {result} |")
    print()
    print(section(figures))
    for kind in figures.kinds:
        for failure in kind.failures[:5]:
            print(f"{kind.label}: {failure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
