"""What every pytest suite under tests/ shares: the kit (tests/kit) on the import path, the
hosts to run the component in (`--hosts`, `--adapter`), one stand-in per session, one adapter
process per host, the harness, and the reports printed at the end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kit import adapter as kit_adapter  # noqa: E402
from kit import harness as kit_harness  # noqa: E402
from kit.adapter import Adapter, wit_to_python  # noqa: E402
from kit.hosts import adapter_commands  # noqa: E402
from kit.oracle import allowed_removed, count_strings, leaked, leaks  # noqa: E402
from kit.paths import WASM  # noqa: E402
from kit.reports import print_reports, report  # noqa: E402
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--hosts",
        default=os.environ.get("E2E_HOSTS", "python,node,rust"),
        help="the project's hosts to run the cases in, comma-separated (default: all three)",
    )
    parser.addoption(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="another host's conformance adapter (docs/conformance.md); may be repeated",
    )


def _commands(config) -> dict[str, list[str]]:
    return adapter_commands(config.getoption("--hosts"), config.getoption("--adapter"), WASM)


def pytest_generate_tests(metafunc):
    # A case that takes `host_name` runs once in each host.
    if "host_name" in metafunc.fixturenames:
        metafunc.parametrize("host_name", list(_commands(metafunc.config)), scope="session")


@pytest.fixture(scope="session")
def standin():
    # The real limits (250 a minute) would stop the suite: it sends thousands with one token.
    with running_standin(NO_RATE_LIMITS) as api:
        yield kit_harness.StandIn(api.url)


@pytest.fixture(scope="session")
def adapters(pytestconfig):
    """Adapter processes, started on first use and stopped at the end of the session."""
    if not WASM.exists():
        pytest.fail(f"{WASM} is missing: run scripts/build (scripts/test does)")
    commands = _commands(pytestconfig)
    started: dict[str, Adapter] = {}

    def get(name: str) -> Adapter:
        if name not in started:
            started[name] = Adapter(name, commands[name])
        return started[name]

    yield get
    for adapter in started.values():
        adapter.close()


@pytest.fixture(scope="session")
def harness(host_name, adapters, standin):
    return kit_harness.Harness(adapters(host_name), standin)


def pytest_terminal_summary(terminalreporter):
    print_reports(terminalreporter)


def pytest_sessionfinish(session):
    """The secret scan, independent of the cases' own checks: it reads what the hosts printed,
    every raw adapter reply (`execute`'s Ok included) and every adapter's stderr, and looks for
    the kit's API and access tokens, the secrets each case tagged its call with, and the tokens
    the servers issued. The only allowance is the kit's one (kit/oracle.py): an issued token in
    `revealed_secrets` and at execute's Ok `body.token.value`. A find fails the session."""
    adapters = kit_adapter.STARTED
    if not adapters:
        return
    always = [kit_harness.API_TOKEN, kit_harness.HF_TOKEN]
    lines = ["| host | replies | strings scanned | secrets found | stderr bytes | secrets in stderr |",
             "|---|---:|---:|---:|---:|---:|"]
    finds: list[str] = []
    for adapter in adapters:
        strings = found = 0
        long_secrets = set(always)
        for number, exchange in enumerate(adapter.transcript, 1):
            secrets = sorted(set(always) | exchange.secrets | exchange.issued)
            long_secrets |= {s for s in secrets if len(s.strip()) >= 8}
            reply = json.loads(exchange.reply)
            if "ok" in reply:
                shown, problems = allowed_removed(exchange.call, wit_to_python(reply["ok"]), sorted(exchange.issued))
            else:  # a trap or an adapter error: its text as printed
                shown, problems = exchange.reply, []
            problems += leaked(shown, secrets)
            strings += count_strings(shown)
            found += len(problems)
            finds += [f"{adapter.name} reply {number} ({exchange.call}): {p}" for p in problems]
        stderr = adapter.stderr_path.read_text(errors="replace")
        in_stderr = leaks(stderr, sorted(long_secrets))
        finds += [f"{adapter.name} stderr ({adapter.stderr_path}): {s}" for s in in_stderr]
        lines.append(f"| {adapter.name} | {len(adapter.transcript)} | {strings} | {found} | {len(stderr.encode())} | "
                     f"{len(in_stderr)} |")
    text = "\n".join(lines)
    if finds:
        text += "\n\nFound:\n" + "\n".join(f"- {f}" for f in finds[:50])
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    report("secret-scan", text)
