"""The two long engine runs, run once by `scripts/engine-scale-out`, which writes their output to
docs/engine-runs.md (tests/engine runs both smaller on every `scripts/test`: 40 workflows on
one node, 12 on the cluster):

1. the crash run with 200 workflows on one node: the service SIGKILLed with creates in flight
   and restarted, restate-server killed and restarted once;
2. scale-out: 200 workflows sent through the three ingresses of a 3-node cluster on loopback
   (cluster-node.toml: replication 2, bind-ip 127.0.0.1, small memory settings), one node
   SIGKILLed in the middle of the run and left down until every workflow has ended.

Each must end with every workflow completed, one instance per name, every sealed token opened
and accepted by its instance's endpoint, and no secret in Restate's storage.

    .venv/bin/python engines/restate/scale_out.py SERVICE_BINARY COMPONENT.wasm OUTPUT.md [--workflows N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE), str(REPO / "standin")]

from crash_run import cluster, credentials_env, single_node  # noqa: E402
from launcher import NO_RATE_LIMITS, running_standin  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", type=Path)
    parser.add_argument("wasm", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--workflows", type=int, default=200)
    args = parser.parse_args()
    data = REPO / "target" / "engine-scale-out" / uuid.uuid4().hex[:8]
    data.mkdir(parents=True)
    env = credentials_env(data)
    sections, problems = [], []
    for name, scenario in (("crash run", single_node), ("scale-out", cluster)):
        with running_standin(NO_RATE_LIMITS) as api:
            print(f"== {name}: {args.workflows} workflows", file=sys.stderr, flush=True)
            run, what = scenario(api.url, args.binary, args.wasm, env, data / name.replace(" ", "-"), args.workflows)
        found = run.problems()
        problems += [f"{name}: {problem}" for problem in found]
        verdict = "PASS" if not found else f"FAIL: {len(found)} problems: " + "; ".join(found[:10])
        sections.append(f"## {name.capitalize()}: {verdict}\n\n{run.table(what, every_workflow=False)}")
        print(sections[-1], file=sys.stderr, flush=True)
    args.output.write_text("\n".join([
        "# The engine's long runs",
        "",
        "Written by `scripts/engine-scale-out` (engines/restate/scale_out.py), run once; it is not part of",
        "`scripts/test`, which runs the same two runs smaller (40 workflows on one node, 12 on the cluster:",
        "tests/engine/test_restate.py, figures in docs/reliability.md). Each row of a table counts the",
        "workflows that ended alike. Every create answers after 1.5 s (the stand-in's",
        "`slow-first-byte` fault), so that many are in flight at each kill; `adopted` means the step met",
        "the instance an earlier, lost attempt had created and adopted it (`\"ifExists\": \"adopt\"`).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; restate-server 1.7.12.",
        "",
        *("\n".join([section, ""]) for section in sections),
    ]))
    shutil.rmtree(data, ignore_errors=True)
    print(f"wrote {args.output}" + (f"; {len(problems)} problems" if problems else ""), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
