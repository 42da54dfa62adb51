"""Hostile input and the corners of the Limits table, in each host that can cap an instance's
memory: every case runs on an instance whose linear memory is capped at 64 MiB (a guest that
needed more would trap), gets a clear result (an `invalid` one with the field path for what is
refused), and is never sent when invalid. Times are reported
(target/reliability/hostile-inputs.md)."""

from __future__ import annotations

import json
import time

import pytest

from kit.adapter import Trap
from kit.harness import API_TOKEN, load_fixture
from kit.reports import report

MIB = 1024 * 1024
#: The cap on the guest's linear memory for these calls.
MEMORY_CAP = 64 * MIB
ROWS: dict[str, dict[str, str]] = {}


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


def patterns_from_parameters(items: int) -> dict:
    """`match()` at each of `items` items, each with a different 1 KB pattern of its own."""
    return case(
        definition=definition_with(body_name("${$.items[?match(@.s, @.p)].s}")),
        parameters=json.dumps({
            **load_fixture("parameters.json"),
            "items": [{"s": "a" * 100, "p": f"(a|b){{{i}}}" + "a*" * 500} for i in range(items)],
        }),
    )


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
    "`length()` of a 2 MB string at each of 100,000 items": (
        case(
            definition=definition_with(body_name("${$.items[?length($.big) == 1]}")),
            parameters=json.dumps({**load_fixture("parameters.json"), "big": "x" * (2 * MIB), "items": [1] * 100_000}),
        ),
        "httpRequest.body.spec.name",
        "could visit",  # scanning 2 MB 100,000 times: refused before evaluating
    ),
    "`match()` with a new 1 KB pattern at each of 2,000 items": (
        patterns_from_parameters(2_000),
        "httpRequest.body.spec.name",
        "could visit",  # 2,000 compilations of 1 KB: refused before evaluating
    ),
    "`match()` near the budget: a new 1 KB pattern at each of 100 items": (
        # What the costliest affordable regex render costs: 100 compilations of 1 KB each.
        patterns_from_parameters(100),
        "httpRequest.body.spec.name",
        "selects",
    ),
    "`search()` with a pattern too large once compiled": (
        case(
            definition=definition_with(body_name("${$.items[?search(@, '\\\\p{L}{1000}\\\\p{L}{1000}')]}")),
            parameters=json.dumps({**load_fixture("parameters.json"), "items": ["x" * 2000]}),
        ),
        "httpRequest.body.spec.name",
        "selects nothing",  # past regex's size limit: no match, never built
    ),
    # JSONata (src/jsonata.rs): each bound ends as `invalid` at the field, never as a trap.
    "JSONata recursion without end": (
        case(definition=definition_with(body_name("${jsonata: ($f := function($x){$f($x) + 1}; $f(1))}"))),
        "httpRequest.body.spec.name",
        "D1011",
    ),
    "JSONata tail recursion without end": (
        case(definition=definition_with(body_name("${jsonata: ($f := function($x){$f($x)}; $f(1))}"))),
        "httpRequest.body.spec.name",
        "D1012",  # the time limit: one second for all JSONata of a render
    ),
    "JSONata recursion through $reduce": (
        case(definition=definition_with(body_name(
            "${jsonata: ($f := function($n){$n = 0 ? 0 : $reduce([1, 2], function($a, $b){$f($n - 1)})}; $f(100000))}"))),
        "httpRequest.body.spec.name",
        "D1011",  # depth 100: each level through $reduce costs ~2.8 KiB of wasmtime's 512 KiB
    ),
    "JSONata range of 10^8": (
        case(definition=definition_with(body_name("${jsonata: [1..100000000]}"))),
        "httpRequest.body.spec.name",
        "D2014",
    ),
    "JSONata array literal of 13 × 99,999": (
        case(definition=definition_with(body_name("${jsonata: [" + ",".join(["[1..99999]"] * 13) + "]}"))),
        "httpRequest.body.spec.name",
        "16 MiB of memory",  # array literals are not held to the sequence limit
    ),
    "JSONata ranges of ranges: 10^10 values": (
        case(definition=definition_with(body_name("${jsonata: $count([1..99999].[1..99999])}"))),
        "httpRequest.body.spec.name",
        "16 MiB of memory",
    ),
    "JSONata string doubled 30 times": (
        case(definition=definition_with(body_name(
            "${jsonata: ($s := function($x, $n){$n = 0 ? $x : $s($x & $x, $n - 1)}; $s('ab', 30))}"))),
        "httpRequest.body.spec.name",
        "16 MiB of memory",
    ),
    "JSONata $pad to 10^8": (
        case(definition=definition_with(body_name("${jsonata: $pad('x', 100000000)}"))),
        "httpRequest.body.spec.name",
        "over the 1048576 characters",
    ),
    "JSONata 1,000 unary minus": (
        case(definition=definition_with(body_name("${jsonata: " + "-" * 1000 + "1}"))),
        "httpRequest.body.spec.name",
        "at most 256 are accepted",
    ),
    "JSONata nested 100 brackets deep": (
        case(definition=definition_with(body_name("${jsonata: " + "(" * 100 + "1" + ")" * 100 + "}"))),
        "httpRequest.body.spec.name",
        "at most 64 are accepted",
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


def big_parameters(**extra) -> str:
    """The fixture's parameters plus `extra`, as JSON text (checked to stay within 4 MiB)."""
    text = json.dumps({**load_fixture("parameters.json"), **extra})
    assert len(text) <= 4 * MIB, len(text)
    return text


#: The corners of the Limits table: the largest inputs each limit lets in, combined. None of
#: them may trap under the cap; each is refused at a path, or renders.
LIMIT_CASES = {
    "45 placeholders × a 4 MB array": (
        case(
            definition=definition_with(lambda d: d["httpRequest"]["body"]["spec"]["model_deployments"][0].update(
                workload_config={f"k{i}": "${$.big}" for i in range(45)})),
            parameters=big_parameters(big=["x" * 24] * 140_000),
        ),
        "httpRequest.body.spec.model_deployments[0].workload_config.k0",
        "larger than 1048576 bytes",
    ),
    "990 placeholders × a 4 MB string": (
        case(
            definition=definition_with(lambda d: d["httpRequest"]["body"]["spec"]["model_deployments"][0].update(
                workload_config={f"k{i}": "${$.big}" for i in range(990)})),
            parameters=big_parameters(big="x" * (4 * MIB - 1000)),
        ),
        "httpRequest.body.spec.model_deployments[0].workload_config.k0",
        "larger than 1048576 bytes",
    ),
    "990 placeholders × a 4 MB string inside one header": (
        case(
            definition=definition_with(lambda d: d["httpRequest"]["headers"].update({"X-Big": "${$.big}" * 990})),
            parameters=big_parameters(big="x" * (4 * MIB - 1000)),
        ),
        "httpRequest.headers.X-Big",
        "renders to more than",
    ),
    "a 4 MB string in the URL": (
        case(
            definition=definition_with(lambda d: d["httpRequest"].update(url=d["httpRequest"]["url"] + "?q=${$.big}")),
            parameters=big_parameters(big="x" * (4 * MIB - 1000)),
        ),
        "httpRequest.url",
        "renders to more than",
    ),
    "4 MiB of parameters that are all values": (
        case(parameters="[" + "0," * (2 * MIB - 2) + "0]"),
        "parameters",
        "JSON values",
    ),
    "a 127-level parameter inserted 3 levels down": (
        case(
            definition=definition_with(lambda d: d["httpRequest"]["body"]["spec"]["model_deployments"][0].update(
                workload_config={"deep": "${$.deep}"})),
            parameters=big_parameters(deep=json.loads(nested(126))),
        ),
        "httpRequest.body.spec.model_deployments[0].workload_config.deep",
        "nested",
    ),
}


@pytest.fixture(scope="module", autouse=True)
def reported():
    yield
    hosts = sorted({h for row in ROWS.values() for h in row})
    lines = ["| input | " + " | ".join(hosts) + " |", "|---|" + "---|" * len(hosts)]
    for name, row in ROWS.items():
        lines.append(f"| {name} | " + " | ".join(row.get(h, "") for h in hosts) + " |")
    report(
        "hostile-inputs",
        f"each on a fresh instance capped at {MEMORY_CAP // MIB} MiB of linear memory; the first "
        "error's path, and the time test-request took\n\n" + "\n".join(lines),
    )


def run_capped(harness, name, task_input, path, needle):
    if not harness.adapter.memory_limit:
        pytest.skip(f"{harness.host} cannot cap an instance's memory")
    started = time.monotonic()
    result = harness.raw("test_request", task_input, memory_limit_bytes=MEMORY_CAP)
    elapsed_ms = (time.monotonic() - started) * 1000
    assert result["outcome"] == "invalid" and result["response"] is None
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    match = [d for d in errors if d["path"] == path and needle in d["message"]]
    assert match, errors[:3]
    ROWS.setdefault(name, {})[harness.host] = f"`{path}`, {elapsed_ms:.0f} ms"
    failed = harness.raw("execute", task_input, memory_limit_bytes=MEMORY_CAP)
    assert (failed["err"]["kind"], failed["err"]["retryable"]) == ("invalid-request", False)
    rendered = harness.raw("render", task_input, memory_limit_bytes=MEMORY_CAP)
    assert "err" in rendered


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_is_invalid_with_a_path(harness, name):
    run_capped(harness, name, *CASES[name])


@pytest.mark.parametrize("name", list(LIMIT_CASES))
def test_the_limits_hold_under_a_memory_cap(harness, name):
    run_capped(harness, name, *LIMIT_CASES[name])


def test_the_largest_sendable_body_is_sent_under_a_memory_cap(harness):
    """Just under 1 MiB of body, from 4 MiB of parameters: sent, answered, within the cap."""
    if not harness.adapter.memory_limit:
        pytest.skip(f"{harness.host} cannot cap an instance's memory")

    def big(definition, parameters):
        parameters["pad"] = "p" * (1024 * 1024 - 2000)
        parameters["ballast"] = "b" * (3 * MIB)
        definition["httpRequest"]["body"]["spec"]["model_deployments"][0]["workload_config"] = {"pad": "${$.pad}"}

    call = harness.prepare(edit=big)
    result = harness.call("test_request", call, memory_limit_bytes=MEMORY_CAP)
    assert result["outcome"] == "accepted", result["summary"]
    assert len(result["request"]["body"]) > 1024 * 1024 - 2000


def test_a_cap_too_small_traps(harness):
    """The control of the cases above: an adapter that ignored its cap would pass them all, so
    a cap that cannot suffice must trap. 1 MiB is below the component's initial memory (17
    pages): it cannot even start. 2 MiB lets a small call run, and traps once 3 MiB of
    parameters must grow memory past it."""
    if not harness.adapter.memory_limit:
        pytest.skip(f"{harness.host} cannot cap an instance's memory")
    definition, parameters = load_fixture("definition.json"), load_fixture("parameters.json")
    small = {"definition": definition, "parameters": parameters, "secrets": {"token": API_TOKEN}}
    big = {**small, "parameters": {**parameters, "ballast": "b" * (3 * MIB)}}
    with pytest.raises(Trap):
        harness.adapter.call("render", small, memory_limit_bytes=1 * MIB)
    assert "ok" in harness.adapter.call("render", small, memory_limit_bytes=2 * MIB)
    with pytest.raises(Trap):
        harness.adapter.call("render", big, memory_limit_bytes=2 * MIB)
    assert "ok" in harness.adapter.call("render", big, memory_limit_bytes=MEMORY_CAP)
