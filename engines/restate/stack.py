"""Starts and stops what a Restate run of the HTTP Task needs, on loopback: restate-server
(one node, data under a directory of target/), the service (engines/restate) and its
registration. `scripts/engine` and tests/engine share it.

    with RestateServer(data_dir) as server, Service(binary, ["--component", wasm], env, log) as service:
        server.register(service.url)
        server.run("wf-1", {"definition": ..., "parameters": ...})
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: Any = None, timeout: float = 120, headers: dict | None = None) -> tuple[int, Any]:
    """(status, parsed JSON or text) of one request; errors are answers too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json", "accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def wait_for(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout} s")


class Managed:
    """A process this stack started: `start` it (or enter it), `kill` it (SIGKILL, a crash),
    `stop` it (SIGTERM, then SIGKILL after `stop_timeout` seconds)."""

    process: subprocess.Popen | None = None
    stop_timeout: float = 10

    def start(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()


class RestateServer(Managed):
    """restate-server on loopback ports, its data in `data_dir` (kept across restarts): one
    node with the embedded defaults, or, given `config` (a TOML text), a node as it says."""

    stop_timeout = 20

    def __init__(self, data_dir: Path, binary: Path | None = None, config: str = "") -> None:
        self.binary = binary or Path(subprocess.run([str(REPO / "tools/bootstrap-restate.sh")], check=True, capture_output=True, text=True).stdout.split()[-1])
        self.data_dir = data_dir
        self.config = config
        self.ingress_port, self.admin_port, self.node_port = free_port(), free_port(), free_port()
        self.ingress = f"http://127.0.0.1:{self.ingress_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Starts the process without waiting: a cluster's nodes come up together."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "RESTATE_LOG_FILTER": "warn"}
        if self.config:
            config = self.data_dir / "restate.toml"
            config.write_text(self.config)
            arguments = ["--config-file", str(config)]
        else:
            env |= {"RESTATE_INGRESS__BIND_ADDRESS": f"127.0.0.1:{self.ingress_port}", "RESTATE_ADMIN__BIND_ADDRESS": f"127.0.0.1:{self.admin_port}"}
            arguments = ["--bind-ip", "127.0.0.1", "--bind-port", str(self.node_port), "--listen-mode", "tcp"]
        log = open(self.data_dir / "server.log", "ab")
        self.process = subprocess.Popen([str(self.binary), "--no-logo", "--base-dir", str(self.data_dir), *arguments], env=env, stdout=log, stderr=log)

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: http("GET", f"{self.admin}/health", timeout=2)[0] == 200 and http("GET", f"{self.ingress}/restate/health", timeout=2)[0] == 200, f"restate-server ({self.data_dir.name})", timeout)

    def register(self, uri: str) -> None:
        status, answer = http("POST", f"{self.admin}/deployments", {"uri": uri, "force": True})
        if status not in (200, 201):
            raise RuntimeError(f"registering {uri}: {status} {answer}")

    def run(self, workflow_id: str, task: dict, timeout: float = 120) -> tuple[int, Any]:
        return http("POST", f"{self.ingress}/HttpTask/{workflow_id}/run", task, timeout=timeout)

    def send(self, workflow_id: str, task: dict) -> tuple[int, Any]:
        return http("POST", f"{self.ingress}/HttpTask/{workflow_id}/run/send", task)

    def attach(self, workflow_id: str, timeout: float = 300) -> tuple[int, Any]:
        return http("GET", f"{self.ingress}/restate/workflow/HttpTask/{workflow_id}/attach", timeout=timeout)

    def query(self, sql: str) -> list[dict]:
        status, answer = http("POST", f"{self.admin}/query", {"query": sql})
        if status != 200:
            raise RuntimeError(f"query {sql!r}: {status} {answer}")
        return answer["rows"]


CLUSTER_NODE_TOML = Path(__file__).with_name("cluster-node.toml")


class RestateCluster:
    """`size` restate-server nodes on loopback forming one cluster, each configured by
    cluster-node.toml (replication `replication`, small memory settings); the first
    provisions it. Every node serves ingress and admin."""

    def __init__(self, data_dir: Path, size: int = 3, replication: int = 2) -> None:
        self.nodes = [RestateServer(data_dir / f"n{i + 1}") for i in range(size)]
        peers = ", ".join(f'"http://127.0.0.1:{node.node_port}"' for node in self.nodes)
        template = CLUSTER_NODE_TOML.read_text()
        for i, node in enumerate(self.nodes):
            node.config = template.format(
                name=f"n{i + 1}", auto_provision=str(i == 0).lower(), replication=replication,
                node_port=node.node_port, admin_port=node.admin_port, ingress_port=node.ingress_port, peers=peers,
            )

    def __enter__(self) -> Self:
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready(timeout=120)
        return self

    def __exit__(self, *_: Any) -> None:
        for node in self.nodes:
            node.stop()

    def live(self) -> list[RestateServer]:
        return [node for node in self.nodes if node.process and node.process.poll() is None]


class Service(Managed):
    """A Restate service binary on a loopback port, `BINARY --listen 127.0.0.1:PORT ARGUMENTS`
    (the HTTP Task's: `--component C.wasm`), its output appended to `log`. `started` is the
    perf_counter of its last process start: a cold start counts from there."""

    def __init__(self, binary: Path, arguments: Sequence[str], env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.binary, self.arguments, self.env, self.log = binary, list(arguments), env, log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [str(binary), "--listen", f"127.0.0.1:{self.port}", *self.arguments]
        self.process: subprocess.Popen | None = None
        self.started = 0.0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("HTTP_TASK_CREDENTIALS", "DIGITALOCEAN_TOKEN")} | self.env
        with open(self.log, "ab") as log:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(self.command, env=env, stdout=log, stderr=log)
        wait_for_port(self.port, self.process)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Until `process` listens on `port`, polled tightly: the services bind at once, and a
    cold start counts this wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.002)
    raise RuntimeError(f"{process.args[0]} did not listen on {port} within {timeout} s")
