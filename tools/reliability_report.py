#!/usr/bin/env python3
"""Assembles docs/reliability.md from the reports the last runs wrote to target/reliability/:
the test suite's (scripts/test: fault matrix, adversarial suite, limits, load, secret scan,
retried steps) and the fuzzers' (scripts/fuzz). scripts/test runs it after a full, green run;
a report that is missing is said so, not left out silently.

    python3 tools/reliability_report.py
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "target" / "reliability"
OUT = REPO / "docs" / "reliability.md"

#: (report, title, what it shows and the command that reproduces it)
SECTIONS = [
    ("fault-matrix", "Fault matrix, in every host",
     "Every fault of the stand-in and the network, through test-request and execute, in each host: the "
     "outcome or failure kind, whether it is retryable, the retry hint, and the time (connect and read "
     "timeouts 1 s). The timeout rows must read the same in every host. `scripts/test -k fault_matrix`."),
    ("adversarial", "Adversarial suite, in every host",
     "A hostile server on a raw socket and hostile inputs: each attack asserts no trap, one POST, no "
     "secret in any output, the call within its deadline plus 1 s, and nothing retryable once a 2xx "
     "reached the component. `scripts/test -k adversarial`."),
    ("hostile-inputs", "Hostile inputs and the Limits table, under a 64 MiB memory cap",
     "Each refused with the path shown, without a trap, on an instance whose linear memory is capped. "
     "`scripts/test -k limits`."),
    ("retries", "Retried steps: after a 2xx and after an ambiguous failure",
     "An engine-like driver retries execute while it says retryable, with faults at every point of an "
     "exchange, over random schedules, against a fake API that logs every request it receives: once "
     "refusing a taken name (as the API documents), once accepting duplicates. From the fake's log: no "
     "POST after a delivered 2xx; a second instance only after an ambiguous failure (counted by fault); "
     "what each failure said about the create, and how each step ended. `cargo test --test retries` "
     "(`RETRY_SCHEDULES=<n>` for more). These run with `ifExists: fail`."),
    ("adopt-retries", "Retried steps with ifExists: adopt",
     "The same kind of driver over `execute` with `ifExists: adopt`, against a fake of the API's create, "
     "list, get and token routes, with a fault on each attempt's create (refused, timeouts before and "
     "after creating, a reset, a 202 whose body broke off, a slow create that finishes after the client "
     "gave up, 429, 500, a concurrent creator), in four API modes. Asserted: one create per call, no "
     "stranded workflow, Ok naming the instance and a token the fake issued, one instance per name with "
     "unique names, and with duplicates accepted a second instance only from a create that finished "
     "after its lookup or another client's. `cargo test --test adopt_retries` (`ADOPT_SCHEDULES=<n>` for "
     "more)."),
    ("load", "Exactly once, under load",
     "2,000 execute calls, 32 at a time, each on a fresh instance, with faults mixed in: POSTs received "
     "per call, hangs, traps and leaks. `scripts/test -k load`."),
    ("secret-scan", "Secret scan",
     "Independent of the cases' own checks: every raw reply each host's adapter printed (execute's Ok "
     "output included) searched for the kit's tokens, the secrets its case knew of and the tokens the "
     "servers issued, in every view (tests/kit/oracle.py), with one allowance (an issued token in "
     "revealed-secrets and at execute's body.token.value); and every adapter's stderr. A find fails "
     "the session (tests/conftest.py)."),
    ("restate-crash-run", "A real Restate: the crash run",
     "40 workflows on restate-server with creates slowed to 1.5 s: the service SIGKILLed with creates in "
     "flight and restarted, restate-server killed and restarted once. Asserted: every workflow completes, "
     "one instance per name on the stand-in, every caller opens its sealed token to one the stand-in "
     "issued and the instance's endpoint accepts it, no secret in Restate's SQL tables or data "
     "directory. `scripts/test -k crash_run`; 200 workflows: docs/engine-runs.md."),
    ("restate-cluster-run", "A real Restate: a 3-node cluster losing a node",
     "The same requirements on a 3-node cluster on loopback (replication 2), workflows sent through "
     "every node's ingress and one node SIGKILLed in the middle of the run. `scripts/test -k cluster`; "
     "200 workflows: docs/engine-runs.md."),
    ("fuzz", "Fuzzing",
     "The cargo-fuzz targets (fuzz/), each for a bounded time. `scripts/fuzz [SECONDS]`."),
]


def main() -> int:
    today = datetime.date.today().isoformat()
    lines = [
        "# Reliability figures",
        "",
        f"Assembled on {today} by `tools/reliability_report.py` from target/reliability/, which the last "
        "full `scripts/test` (and `scripts/fuzz`) wrote. Every figure comes from the command named with it.",
    ]
    for name, title, what in SECTIONS:
        lines += ["", f"## {title}", "", what, ""]
        for suffix in (".md", ".json"):
            path = REPORTS / f"{name}{suffix}"
            if path.exists():
                text = path.read_text().rstrip()
                lines.append(f"```json\n{json.dumps(json.loads(text), indent=2)}\n```" if suffix == ".json" else text)
                break
        else:
            lines.append(f"(no report: run the command above; target/reliability/{name}.md is missing)")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"(written to {OUT.relative_to(REPO)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
