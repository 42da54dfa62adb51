"""What every pytest suite under tests/ shares: the kit (tests/kit) on the import path, the
hosts to run the component in (`--hosts`, `--adapter`), one stand-in per session, one adapter
process per host, the harness, and the reports printed at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kit import harness as kit_harness  # noqa: E402
from kit.adapter import Adapter  # noqa: E402
from kit.hosts import adapter_commands  # noqa: E402
from kit.oracle import count_strings, leaked  # noqa: E402
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
    """The secret scan, as a report over whatever ran: every case already failed on a leak of
    its own, so the report only counts, whichever subset (`-k`) ran."""
    outputs = kit_harness.OUTPUTS
    if not outputs:
        return
    by_host: dict[str, list] = {}
    for host, *rest in outputs:
        by_host.setdefault(host, []).append(rest)
    lines = ["| host | results | strings scanned | secrets found |", "|---|---:|---:|---:|"]
    for host, results in sorted(by_host.items()):
        strings = sum(count_strings(shown) for _, shown, _ in results)
        found = sum(len(leaked(shown, secrets)) for _, shown, secrets in results)
        lines.append(f"| {host} | {len(results)} | {strings} | {found} |")
    report("secret-scan", "\n".join(lines))
