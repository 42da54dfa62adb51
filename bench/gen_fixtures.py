#!/usr/bin/env python3
"""Writes the large task definitions the benchmarks render: bench/fixtures/definition-<N>.json
and parameters-<N>.json, the fixture with N model deployments instead of one.

Both benchmarks read these files (bench/render.rs natively, bench/bench.py in wasm), so
they measure the same work. Each deployment has placeholders of its own
(`${$.models[<i>].slug}`, ...) that select its own parameters: rendering N deployments
parses and evaluates 4·N JSONPaths and validates N deployments, so the work really scales
with N. docs/operation.md puts no cap on `model_deployments`, and 100 deployments hold 405
(4·N + 5) placeholders, under the component's 1,000; the outputs render without any diagnostic
(checked by bench/render.rs and bench/bench.py before they time anything).

Standard library only; deterministic, so rerunning it leaves the committed files unchanged:

    python3 bench/gen_fixtures.py          # writes bench/fixtures/
    python3 bench/gen_fixtures.py --check  # exit 1 when the files are stale
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
OUT = REPO / "bench" / "fixtures"
SIZES = (50, 100)
# Real GPU slugs and Hugging Face models, cycled so that the deployments differ.
GPUS = ("gpu-h100x1-80gb", "gpu-h100x8-640gb", "gpu-l40sx1-48gb", "gpu-mi300x1-192gb")
MODELS = (
    "meta-llama/Llama-3.1-8B-Instruct",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "Qwen/Qwen2.5-14B-Instruct",
    "google/gemma-2-9b-it",
)


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def generate(deployments: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixture's definition and parameters with `deployments` deployments, each wired
    to its own entry of `parameters.models`."""
    definition = load("definition.json")
    parameters = load("parameters.json")
    spec = definition["httpRequest"]["body"]["spec"]
    (template,) = spec["model_deployments"]  # the fixture has exactly one
    entries = []
    models = []
    for i in range(deployments):
        entry = copy.deepcopy(template)
        entry["model_slug"] = f"${{$.models[{i}].slug}}"
        entry["provider_model_id"] = f"${{$.models[{i}].slug}}"
        accelerator = entry["accelerators"][0]
        accelerator["scale"] = f"${{$.models[{i}].scale}}"
        accelerator["accelerator_slug"] = f"${{$.models[{i}].gpu}}"
        entries.append(entry)
        models.append({"slug": MODELS[i % len(MODELS)], "scale": 1 + i % 4, "gpu": GPUS[i % len(GPUS)]})
    spec["model_deployments"] = entries
    definition["description"] = f"Benchmark: the fixture with {deployments} model deployments"
    del parameters["model"]  # replaced by `models`: an unused parameter would only add parsing
    parameters["models"] = models
    return definition, parameters


def outputs() -> dict[Path, str]:
    files = {}
    for n in SIZES:
        definition, parameters = generate(n)
        files[OUT / f"definition-{n}.json"] = json.dumps(definition, indent=2) + "\n"
        files[OUT / f"parameters-{n}.json"] = json.dumps(parameters, indent=2) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when bench/fixtures/ is stale")
    args = parser.parse_args()
    stale = [path for path, text in outputs().items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(REPO)} (run bench/gen_fixtures.py)", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in outputs().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
