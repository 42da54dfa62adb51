"""Exactly once, under load: 2,000 `execute` calls, 32 at a time, each on a fresh component
instance, against the stand-in with faults injected. The stand-in must have received exactly
one POST for every call that reached it (none for the others), no call may outlive its
timeouts, and every call must end in Ok or a classified step failure. The counts and the host
process's peak memory are printed and written to target/reliability/load.json."""

from __future__ import annotations

import json
import resource
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from host import ComponentTrap
from kit.harness import free_port, prepare_call
from kit.oracle import allowed_removed, leaked
from kit.reports import report

CALLS = 2000
CONCURRENCY = 32
CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 1
#: Longest a call may take: both timeouts, plus slack for a loaded 2-core machine.
HANG_AFTER_S = CONNECT_TIMEOUT_S + READ_TIMEOUT_S + 3
#: The faults, round-robin; None is a plain request. "refused" goes to a closed port and
#: "invalid" is never sent.
MIX = [None] * 8 + [
    "rate-limit=3",
    "rate-limit-reset=5",
    "rate-limit-bare",
    "server-error",
    "html-error",
    "status=503",
    "not-json",
    "invalid-utf8",
    "reset",
    "reset-mid-body",
    "truncated",
    "slow-first-byte=1500",
    "slow-body=1500",
    "refused",
    "invalid",
]
#: One call in this many gets an 8 MiB answer instead (the body bound under load).
LARGE_EVERY = 200



def plan(i: int) -> str | None:
    return f"large={8 * 1024 * 1024}" if i % LARGE_EVERY == LARGE_EVERY - 1 else MIX[i % len(MIX)]


def test_exactly_once_under_load(task_host, standin):
    closed_port = free_port()
    calls = []
    for i in range(CALLS):
        fault = plan(i)
        url = f"http://127.0.0.1:{closed_port}/v2/dedicated-inferences" if fault == "refused" else None
        edit = (lambda _, p: p["model"].update(scale=0)) if fault == "invalid" else None
        header = None if fault in ("refused", "invalid") else fault
        call = prepare_call(
            standin,
            fault=header, url=url, edit=edit, connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S
        )
        calls.append((fault, call))

    def run(planned):
        fault, call = planned
        started = time.monotonic()
        try:
            result = task_host.execute(call.task_input())
        except ComponentTrap as trap:
            result = {"trap": str(trap)}
        return fault, call, result, time.monotonic() - started

    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        outcomes = list(pool.map(run, calls))
    wall_s = time.monotonic() - started
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    posts = Counter(r["call_id"] for r in standin.records())
    issued = {r["call_id"]: r["issued_token"] for r in standin.records() if r.get("issued_token")}
    by_kind, by_fault = Counter(), {}
    traps = hangs = duplicates = missing = leaks = 0
    for fault, call, result, elapsed in outcomes:
        expected_posts = 0 if fault in ("refused", "invalid") else 1
        received = posts.get(call.call_id, 0)
        duplicates += received > 1
        missing += received < expected_posts
        hangs += elapsed > HANG_AFTER_S
        if "trap" in result:
            traps += 1
            kind = "trap"
        else:
            kind = "ok" if "ok" in result else result["err"]["kind"]
            assert "ok" in result or isinstance(result["err"]["retryable"], bool)
            returned = [issued[call.call_id]] if call.call_id in issued else []
            shown, problems = allowed_removed("execute", result, returned)
            leaks += bool(problems or leaked(shown, call.secret_values() + returned))
        by_kind[kind] += 1
        by_fault.setdefault(str(fault), Counter())[kind] += 1

    LOAD_REPORT = dict(
        calls=CALLS,
        concurrency=CONCURRENCY,
        wall_seconds=round(wall_s, 1),
        posts_received=sum(posts[c.call_id] for _, c in calls),
        calls_that_reach_the_server=sum(f not in ("refused", "invalid") for f, _ in calls),
        outcomes_by_kind=dict(sorted(by_kind.items())),
        hangs=hangs,
        duplicates=duplicates,
        missing=missing,
        traps=traps,
        secret_leaks=leaks,
        host_peak_rss_mib=round(peak_rss_kib / 1024, 1),
        host_peak_rss_before_load_mib=round(rss_before_kib / 1024, 1),
        outcomes_by_fault={k: dict(v) for k, v in by_fault.items()},
    )
    rows = [f"| {key.replace('_', ' ')} | {json.dumps(value) if isinstance(value, dict) else value} |"
            for key, value in LOAD_REPORT.items()]
    report("load", "| figure | value |\n|---|---|\n" + "\n".join(rows))

    assert (traps, hangs, duplicates, missing, leaks) == (0, 0, 0, 0, 0), LOAD_REPORT
    assert LOAD_REPORT["posts_received"] == LOAD_REPORT["calls_that_reach_the_server"]
    assert set(by_kind) <= {"ok", "http-status", "timeout", "connection", "protocol", "invalid-request"}
