"""Hostile input: each case gets a clear `invalid` result with the field path, without a trap,
on an instance whose linear memory is capped (a guest that needed more would trap), and is
never sent. The time each took is reported (target/reliability/hostile-inputs.md)."""

from __future__ import annotations

import json
import time

import pytest

from conftest import API_TOKEN, WASM, load_fixture, report
from host import ComponentTrap, TaskHost

MIB = 1024 * 1024
#: The cap on the guest's linear memory for these calls.
MEMORY_CAP = 48 * MIB
ROWS: list[str] = []


def definition_with(edit) -> str:
    definition = load_fixture("definition.json")
    edit(definition)
    return json.dumps(definition)


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def case(definition=None, parameters=None):
    return {
        "definition": definition if definition is not None else json.dumps(load_fixture("definition.json")),
        "parameters": parameters if parameters is not None else json.dumps(load_fixture("parameters.json")),
        "secrets": {"token": API_TOKEN},
    }


def header(name):
    def edit(d):
        d["httpRequest"]["headers"][name] = "x"

    return edit


def url(value):
    def edit(d):
        d["httpRequest"]["url"] = value

    return edit


def body_name(value):
    def edit(d):
        d["httpRequest"]["body"]["spec"]["name"] = value

    return edit


CASES = {
    "10 MiB definition": (case(definition=json.dumps({"description": "x" * (10 * MIB)})), "definition", "at most"),
    "10 MiB parameters": (case(parameters=json.dumps({"blob": "x" * (10 * MIB)})), "parameters", "at most"),
    "10,000 placeholders": (
        case(definition=definition_with(lambda d: d["httpRequest"]["body"].update(many=["${$.name}"] * 10_000))),
        "definition",
        "placeholders; at most 1000",
    ),
    "1,000-level nesting (definition)": (case(definition=nested(1000)), "definition", "nests deeper than 128"),
    "1,000-level nesting (parameters)": (case(parameters=nested(1000)), "parameters", "nests deeper than 128"),
    "1,000-level JSONPath": (
        case(definition=definition_with(body_name("${$" + "[?(" * 1000 + "}"))),
        "httpRequest.body.spec.name",
        "placeholder",
    ),
    "placeholder loop through parameters": (
        case(
            definition=definition_with(body_name("${$.a}")),
            parameters=json.dumps({**load_fixture("parameters.json"), "a": "${$.b}", "b": "${$.a}"}),
        ),
        "httpRequest.body.spec.name",
        "contains `$`",  # inserted as text, never evaluated: then the name's own rule refuses it
    ),
    "JSONPath `..*` four times over 100 levels": (
        case(
            definition=definition_with(body_name("${$.deep..*..*..*..*}")),
            parameters=json.dumps({**load_fixture("parameters.json"), "deep": json.loads(nested(100))}),
        ),
        "httpRequest.body.spec.name",
        "could visit",  # 10^8 visits once took 0.27 s per placeholder: refused before evaluating
    ),
    "JSONPath near the budget: 8 × `..*` three times": (
        # 8 placeholders of ~1,040,000 visits each use the render's 8,000,000 budget up: the
        # time this case takes is what the costliest affordable render costs.
        case(
            definition=definition_with(
                lambda d: d["httpRequest"]["body"].update(many=["${$.deep..*..*..*}"] * 7)
                or body_name("${$.deep..*..*..*}")(d)
            ),
            parameters=json.dumps({**load_fixture("parameters.json"), "deep": json.loads(nested(100))}),
        ),
        "httpRequest.body.spec.name",
        "selects",
    ),
    "JSONPath union doubling 40 times": (
        case(definition=definition_with(body_name("${$.name" + "[0,0]" * 40 + "}"))),
        "httpRequest.body.spec.name",
        "could visit",
    ),
    "header name with a space": (case(definition=definition_with(header("Bad Name"))), "httpRequest.headers.Bad Name", "not a valid header name"),
    "header name with a colon": (case(definition=definition_with(header("X:Y"))), "httpRequest.headers.X:Y", "not a valid header name"),
    "header name not ASCII": (case(definition=definition_with(header("Événement"))), "httpRequest.headers.Événement", "not a valid header name"),
    "URL with userinfo": (case(definition=definition_with(url("https://user:pw@api.digitalocean.com/v2/dedicated-inferences"))), "httpRequest.url", "user name or password"),
    "URL with a host behind userinfo": (case(definition=definition_with(url("https://api.digitalocean.com@evil.example/v2"))), "httpRequest.url", "user name or password"),
    "IPv4 as one number": (case(definition=definition_with(url("http://2130706433/v2"))), "httpRequest.url", "non-standard form"),
    "IPv4 shortened": (case(definition=definition_with(url("http://127.1/v2"))), "httpRequest.url", "non-standard form"),
    "IPv4 in hex": (case(definition=definition_with(url("http://0x7f.0.0.1/v2"))), "httpRequest.url", "non-standard form"),
    "IPv4 in octal": (case(definition=definition_with(url("http://0177.0.0.1/v2"))), "httpRequest.url", "non-standard form"),
    "IPv6 with a zone": (case(definition=definition_with(url("http://[fe80::1%25eth0]/v2"))), "httpRequest.url", "not a valid IPv6"),
    "percent-encoded host": (case(definition=definition_with(url("https://%61pi.digitalocean.com/v2"))), "httpRequest.url", "contains `%`"),
    "plain http to a public host": (case(definition=definition_with(url("http://api.digitalocean.com/v2"))), "httpRequest.url", "only for loopback"),
}


@pytest.fixture(scope="module")
def capped_host():
    host = TaskHost(str(WASM))
    host.memory_limit_bytes = MEMORY_CAP
    yield host
    lines = ["| input | path | diagnostic | time |", "|---|---|---|---|", *ROWS]
    report("hostile-inputs", f"each on a fresh instance capped at {MEMORY_CAP // MIB} MiB of linear memory\n\n" + "\n".join(lines))


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_invalid_with_a_path(harness, capped_host, name):
    task_input, path, needle = CASES[name]
    started = time.monotonic()
    try:
        result = capped_host.test_request(task_input)
    except ComponentTrap as trap:
        pytest.fail(f"{name}: trapped under a {MEMORY_CAP // MIB} MiB cap: {trap}")
    elapsed_ms = (time.monotonic() - started) * 1000
    assert result["outcome"] == "invalid" and result["response"] is None
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    match = [d for d in errors if d["path"] == path and needle in d["message"]]
    assert match, errors[:3]
    message = match[0]["message"].replace("|", "\\|")
    ROWS.append(f"| {name} | `{path}` | {message[:80]}{'…' if len(message) > 80 else ''} | {elapsed_ms:.0f} ms |")
    failed = capped_host.execute(task_input)
    assert (failed["err"]["kind"], failed["err"]["retryable"]) == ("invalid-request", False)
    # Both results join the secret scan (test_secret_scan.py), and are checked here already.
    harness.check_secrets("test_request", result, [API_TOKEN])
    harness.check_secrets("execute", failed, [API_TOKEN])
