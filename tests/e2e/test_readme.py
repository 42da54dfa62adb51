"""The README's and docs/embedding.md's code is the code that runs: their generated parts (the Rust embedding snippet, the
host differences) are up to date with what they are made from (tools/readme.py), and its
JavaScript and Python embedding snippets are run here, as written, against the stand-in."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from kit.harness import API_TOKEN, load_fixture
from kit.paths import REPO

#: The embedding snippets live in docs/embedding.md (the README links to it).
EMBEDDING = (REPO / "docs" / "embedding.md").read_text()


def block(language: str, containing: str) -> str:
    for match in re.finditer(rf"^```{language}\n(.*?)^```$", EMBEDDING, re.M | re.S):
        if containing in match.group(1):
            return match.group(1)
    raise AssertionError(f"no {language} block with {containing!r} in docs/embedding.md")


def inputs(standin) -> tuple[dict, dict]:
    definition = load_fixture("definition.json")
    definition["httpRequest"]["url"] = f"{standin.url}/v2/dedicated-inferences"
    parameters = load_fixture("parameters.json")
    parameters["name"] = "readme-" + str(abs(hash(standin.url)) % 10**8)
    return definition, parameters


def test_the_generated_parts_are_up_to_date():
    done = subprocess.run([sys.executable, str(REPO / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_python_snippet_runs_as_written(standin):
    definition, parameters = inputs(standin)
    scope = {"definition": definition, "parameters": parameters, "token": API_TOKEN}
    exec(block("python", "TaskHost("), scope)  # noqa: S102 (the README's own code)
    rendered = scope["rendered"]["ok"]  # 0.2.0: the record `rendered`
    assert rendered["request"]["method"] == "POST" and rendered["warnings"] == []
    output = json.loads(scope["result"]["ok"])
    assert output["statusCode"] == 202 and output["body"]["token"]["value"].startswith("dit_")


def test_the_javascript_snippet_runs_as_written(standin, tmp_path):
    definition, parameters = inputs(standin)
    parameters["name"] += "-js"
    code = block("js", "TaskHost.load")
    # Run from the repository: the snippet's paths are relative to it.
    code = code.replace('"./hosts/node/host.mjs"', json.dumps((REPO / "hosts/node/host.mjs").as_uri()))
    script = tmp_path / "snippet.mjs"
    script.write_text(
        f"const definition = {json.dumps(definition)};\nconst parameters = {json.dumps(parameters)};\n"
        + code
        + "\nconsole.log(JSON.stringify(reply));\n"
    )
    done = subprocess.run(
        ["node", str(script)], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "DIGITALOCEAN_TOKEN": API_TOKEN},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    output = json.loads(reply["ok"]["ok"])
    assert output["statusCode"] == 202
