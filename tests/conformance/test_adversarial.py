"""The adversarial suite: a hostile server on a raw socket (tests/kit/hostile.py) and hostile
definitions, parameters and secrets, each attack run through test-request and execute in every
host. Every attack asserts the promises, whatever the attack:

  - no trap: the engine always gets a result;
  - one POST, never two (the server counts what it received);
  - no secret in any output, in any spelling the README promises (tests/kit/oracle.py): the API
    token, the access token, and whatever the server "returned once";
  - bounded time: every call ends within its deadline (`deadlineSeconds`) plus 1 s;
  - once the server sent a well-formed 2xx status line (the attacks in DELIVERS_2XX),
    nothing is retryable.

The table of what each attack got, in each host, goes to target/reliability/adversarial.md."""

from __future__ import annotations

import gzip
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from kit.harness import Call
from kit.hostile import Attack, HostileServer, Request, Wire, head
from kit.reports import report

CONNECT_S, READ_S, DEADLINE_S = 1, 1, 3
#: The promise: every call returns within its deadline plus this.
SLACK_S = 1.0

JSON = ("Content-Type", "application/json")


def error_body(message: str, status_id: str = "unauthorized") -> bytes:
    return json.dumps({"id": status_id, "message": message, "request_id": "r-1"}).encode()


def created(token: str, **inference) -> dict:
    return {
        "dedicated_inference": {"id": "6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d", "status": "provisioning",
                                "spec": {"name": "x"}, **inference},
        "token": {"id": "t-1", "name": "x-token", "value": token},
    }


def accepted(wire: Wire, token: str = "dit_hostile0123456789abcdef", **inference) -> bytes:
    return json.dumps(created(wire.issue(token), **inference)).encode()


# --- Spellings of a secret, as an echoing server may write them --------------------------


def u_escaped(text: str) -> str:
    """Every character as a JSON `\\u` escape (UTF-16 code units)."""
    data = text.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(data[i:i + 2], 'big'):04x}" for i in range(0, len(data), 2))


def percent(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


SPELLINGS: dict[str, Callable[[str], str]] = {
    "as is": lambda s: s,
    "lower-cased": str.lower,
    "every character \\u-escaped": u_escaped,
    "escaped twice": lambda s: u_escaped(s).replace("\\", "\\\\"),
    "percent-encoded": percent,
    "percent-encoded in JSON escapes": lambda s: "".join(
        f"\\u{ord(c):04x}" if c.isalpha() else c for c in percent(s)
    ),
}

CONTAINERS: dict[str, Callable[[str], tuple[str, bytes]]] = {
    "JSON error": lambda sp: ("application/json", b'{"id":"unauthorized","message":"bad token '
                              + sp.encode() + b'","request_id":"r-1"}'),
    "text body": lambda sp: ("text/plain", b"bad token " + sp.encode()),
    "broken JSON": lambda sp: ("application/json", b'{"message": "bad token ' + sp.encode() + b'", oops'),
}


# --- The attacks ------------------------------------------------------------------------


@dataclass
class Case:
    attack: Attack
    #: Edits the call before it is made (hostile definitions, parameters, secrets); returns
    #: the secrets it wrote where the harness does not look (a literal in the definition).
    edit: Callable[[Call], list[str]] | None = None
    #: The request never leaves (refused at render): no POST.
    invalid: bool = False


CASES: dict[str, Case] = {}


def attack(name: str, **how):
    def register(fn: Attack) -> Attack:
        CASES[name] = Case(fn, **how)
        return fn

    return register


def send(data: bytes | Callable[[Wire, Request], bytes], *, then: str = "close") -> Attack:
    def run(wire: Wire, request: Request) -> None:
        wire.send(data(wire, request) if callable(data) else data)
        if then == "reset":
            wire.reset()
        elif then == "stall":
            time.sleep(DEADLINE_S + 2)

    return run


# Status lines and framing.
for status in ["000 Zero", "099 Low", "600 High", "999 Max", "abc OK", "2O2 Accepted"]:
    CASES[f"status {status}"] = Case(send(lambda w, r, s=status: head(s, [JSON], accepted(w))))
CASES["HTTP/1.0, body until close"] = Case(
    send(lambda w, r: b"HTTP/1.0 202 Accepted\r\nContent-Type: application/json\r\n\r\n" + accepted(w)))
CASES["no reason phrase"] = Case(send(lambda w, r: head("202", [JSON], accepted(w))))
CASES["LF-only line endings"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w)).replace(b"\r\n", b"\n")))
CASES["100 KB reason phrase"] = Case(send(lambda w, r: head("202 " + "A" * 100_000, [JSON], accepted(w))))
CASES["not HTTP at all"] = Case(send(b"SSH-2.0-OpenSSH_9.6\r\n" * 10))
CASES["100 Continue, then 202"] = Case(
    send(lambda w, r: b"HTTP/1.1 100 Continue\r\n\r\n" + head("202 Accepted", [JSON], accepted(w))))
CASES["103 Early Hints, then 202"] = Case(
    send(lambda w, r: head("103 Early Hints", [("Link", "</a>; rel=preload")]) + head("202 Accepted", [JSON], accepted(w))))
CASES["101 Switching Protocols"] = Case(send(head("101 Switching Protocols", [("Upgrade", "h2c"), ("Connection", "Upgrade")])))
CASES["204 with a body"] = Case(send(lambda w, r: head("204 No Content", [JSON]) + accepted(w)))
CASES["304 Not Modified"] = Case(send(head("304 Not Modified", [])))

# Headers.
CASES["a 100 KB header value"] = Case(send(lambda w, r: head("202 Accepted", [JSON, ("X-Big", "v" * 100_000)], accepted(w))))
CASES["10,000 headers"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, *((f"X-H{i}", "1") for i in range(10_000))], accepted(w))))
CASES["the token in a header name"] = Case(send(lambda w, r: head("401 Unauthorized", [JSON, (f"X-{r.token}", "1")], error_body("no"))))
CASES["the token, lower-cased, as a header name"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, (r.token.lower(), "1")], error_body("no"))))
CASES["the access token in a header name"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, (f"X-{r.access_token}", "1")], error_body("no"))))
CASES["Authorization echoed in a header"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, ("X-Echo", r.headers["authorization"])], error_body("no"))))
CASES["the token percent-encoded in a header"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, ("X-Echo", percent(r.token))], error_body("no"))))
CASES["two different Content-Lengths"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, ("Content-Length", "5")], accepted(w))))
CASES["Content-Length and chunked together"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, ("Transfer-Encoding", "chunked"), ("Content-Length", "9999")])
         + b"5\r\nhello\r\n0\r\n\r\n"))
CASES["gzip-encoded 202 holding the token"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, ("Content-Encoding", "gzip")], gzip.compress(accepted(w), 0))))
CASES["br-encoded 202"] = Case(send(lambda w, r: head("202 Accepted", [JSON, ("Content-Encoding", "br")], b"\x0b\x02\x80")))
CASES["Retry-After: 10^30"] = Case(send(head("429 Too Many Requests", [JSON, ("Retry-After", "1" + "0" * 30)], error_body("slow"))))
CASES["Retry-After: -5"] = Case(send(head("429 Too Many Requests", [JSON, ("Retry-After", "-5")], error_body("slow"))))
CASES["ratelimit-reset in the year 9999"] = Case(send(head(
    "429 Too Many Requests", [JSON, ("ratelimit-remaining", "0"), ("ratelimit-reset", "253402300799")], error_body("slow"))))
CASES["302 to a URL holding the token"] = Case(
    send(lambda w, r: head("302 Found", [("Location", f"https://evil.example/?t={r.token}&h={r.access_token}")], b"")))
CASES["Set-Cookie holding the token"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, ("Set-Cookie", f"t={r.token}")], error_body("no"))))
CASES["obs-fold header continuation"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, ("X-Fold", "a\r\n b")], accepted(w))))
CASES["a NUL byte in a header"] = Case(send(lambda w, r: head("202 Accepted", [JSON, ("X-Nul", "a\x00b")], accepted(w))))
CASES["Content-Type holding the token"] = Case(
    send(lambda w, r: head("500 Internal Server Error", [("Content-Type", f"text/{r.token}")], b"x")))


def chunked(body: bytes, size: int = 1) -> bytes:
    out = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + b"0\r\n\r\n"


CHUNKED = ("Transfer-Encoding", "chunked")
CASES["a 202 in 500,000 one-byte chunks"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, CHUNKED]) + chunked(accepted(w) + b" " * (500_000 - len(accepted(w))))))
CASES["a chunk size past 2^64"] = Case(send(head("202 Accepted", [JSON, CHUNKED]) + b"FFFFFFFFFFFFFFFFFF\r\nabc"))
CASES["a chunk size that is not hex"] = Case(send(head("202 Accepted", [JSON, CHUNKED]) + b"zz\r\nabc\r\n0\r\n\r\n"))
CASES["a negative chunk size"] = Case(send(head("202 Accepted", [JSON, CHUNKED]) + b"-5\r\nabc\r\n0\r\n\r\n"))
CASES["1 MB of chunk extensions"] = Case(send(head("202 Accepted", [JSON, CHUNKED]) + b"2;" + b"x" * 1_000_000 + b"\r\n{}\r\n0\r\n\r\n"))
CASES["chunked, cut before the last chunk"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, CHUNKED]) + chunked(accepted(w), 64)[:-5]))
CASES["a trailer holding the token"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON, CHUNKED]) + b"2\r\n{}\r\n0\r\nX-T: " + r.token.encode() + b"\r\n\r\n"))
CASES["4 MiB + 1 in 64 KB chunks"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, CHUNKED]) + chunked(accepted(w)[:-1] + b' ,"p":"' + b"p" * (4 * 1024 * 1024) + b'"}', 65536)))

# Echoes of every secret, in every spelling, in every kind of body.
for secret_name, pick in [("the token", lambda r: r.token), ("the access token", lambda r: r.access_token)]:
    for spelling, spell in SPELLINGS.items():
        for container, wrap in CONTAINERS.items():
            def echo(wire: Wire, request: Request, pick=pick, spell=spell, wrap=wrap) -> None:
                content_type, body = wrap(spell(pick(request)))
                wire.send(head("401 Unauthorized", [("Content-Type", content_type)], body))

            CASES[f"{secret_name} {spelling}, {container}"] = Case(echo)

# The 202 and the token it returns once.
for name, value in [("an object", {"secret": "dit_in_an_object"}), ("a number", 123456789), ("an array", ["dit_a", "dit_b"]),
                    ("null", None), ("empty", ""), ("16,000 characters", "dit_" + "k" * 16_000)]:
    CASES[f"token.value is {name}"] = Case(send(lambda w, r, v=value: head(
        "202 Accepted", [JSON], json.dumps(created(w.issue(v) if isinstance(v, str) and v else v)).encode())))
CASES["token.value of 4,000 a's in 1 MB of a's"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w, "a" * 4000, note="a" * 1_000_000))))
CASES["token.value of 4,000 a's echoed 200 times"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w, "a" * 4000, note=("a" * 4000 + "b") * 200))))
CASES["a periodic token.value overlapping itself"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w, "abab" * 500, note="ab" * 500_000))))
CASES["a 202 with a byte-order mark"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], b"\xef\xbb\xbf" + accepted(w))))
CASES["token.value every character \\u-escaped"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w).replace(w.issued[-1].encode(), u_escaped(w.issued[-1]).encode()))))
CASES["a 202 of 4 MB of tiny JSON values"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w)[:-1] + b',"many":[' + b"0," * 1_900_000 + b"0]}")))
CASES["a 202 nested 200 levels"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w)[:-1] + b',"deep":' + b"[" * 200 + b"]" * 200 + b"}")))
CASES["a 3 MB id"] = Case(send(lambda w, r: head("202 Accepted", [JSON], accepted(w, id="i" * 3_000_000))))
CASES["an id with CR, LF and ANSI escapes"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w, id="x\r\nX-Forged: 1\x1b[31mred"))))
CASES["the token echoed in the id"] = Case(send(lambda w, r: head("202 Accepted", [JSON], accepted(w, id=r.token))))
CASES["every secret echoed in a 202's fields and headers"] = Case(send(lambda w, r: head(
    "202 Accepted", [JSON, ("X-Echo", r.headers["authorization"]), (f"X-{r.access_token}", r.token)],
    accepted(w, id=r.access_token, region=r.token, spec={"name": r.token, "access": r.access_token}))))
CASES["every secret echoed in a 200, the token as a header name"] = Case(send(lambda w, r: head(
    "200 OK", [JSON, (r.token, r.access_token)],
    json.dumps({"echo": {"authorization": r.headers["authorization"], "body": r.body.decode()}}).encode())))
CASES["a 202 cut inside its token at 4 MiB"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON]) + b'{"x":"' + b"x" * (4 * 1024 * 1024 - 30) + b'","token":{"value":"dit_cut_here_0123456789"}}'))
CASES["invalid UTF-8 around the token"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON], accepted(w).replace(b'"t-1"', b'"\xff\xfe\xfd"'))))
CASES["a 3 MB error message"] = Case(send(head("401 Unauthorized", [JSON], error_body("m" * 3_000_000))))
CASES["an error message with CR, LF and ANSI escapes"] = Case(
    send(lambda w, r: head("401 Unauthorized", [JSON], error_body(f"bad\r\nX-Forged: {r.token}\x1b[2J"))))
CASES["a taken name, as 409"] = Case(send(head("409 Conflict", [JSON], error_body("name already exists", "conflict"))))

# Timing: drips, stalls, silence.
CASES["a 202 body dripped a byte every 0.3 s"] = Case(
    lambda w, r: (w.send(head("202 Accepted", [JSON, ("Content-Length", "4000")])), w.drip(b"x" * 4000, 0.3)))
CASES["headers dripped a byte every 0.3 s"] = Case(lambda w, r: w.drip(head("202 Accepted", [JSON], b"{}"), 0.3))
CASES["never an answer"] = Case(lambda w, r: time.sleep(DEADLINE_S + 2))
CASES["a 202 head, then nothing"] = Case(send(head("202 Accepted", [JSON, ("Content-Length", "100")]), then="stall"))
CASES["half a chunked 202, then nothing"] = Case(
    send(lambda w, r: head("202 Accepted", [JSON, CHUNKED]) + b"5\r\nhello\r\n", then="stall"))
CASES["closed without an answer"] = Case(send(b""))
CASES["reset without an answer"] = Case(send(b"", then="reset"))
CASES["reset after a 202 head"] = Case(send(head("202 Accepted", [JSON, ("Content-Length", "100")]) + b'{"dedi', then="reset"))
CASES["1 MB trickled at 100 KB/s"] = Case(
    lambda w, r: (w.send(head("202 Accepted", [JSON, ("Content-Length", str(1_000_000))])), w.drip(b"x" * 1_000_000, 0.1, 10_000)))


# Hostile inputs: definitions, parameters and secrets.
def token_with(padding: str) -> Callable[[Call], list[str]]:
    def edit(call: Call) -> list[str]:
        call.secrets["token"] = f"{padding}{call.secrets['token']}{padding}"
        return []

    return edit


def echo_authorization(wire: Wire, request: Request) -> None:
    wire.send(head("401 Unauthorized", [JSON, ("X-Got", request.headers.get("authorization", ""))],
                   error_body(f"Unable to authenticate {request.headers.get('authorization', '')}")))


for name, padding in [("a trailing newline", "\n"), ("spaces around it", "  "), ("a CRLF", "\r\n"), ("tabs", "\t")]:
    CASES[f"a token with {name}, echoed"] = Case(echo_authorization, edit=token_with(padding))


def written_authorization(call: Call) -> list[str]:
    token = call.secrets.pop("token")
    call.definition["httpRequest"]["headers"]["Authorization"] = f"Bearer {token} extra-part"
    return [token, "extra-part"]


CASES["Authorization written with an extra part, echoed"] = Case(echo_authorization, edit=written_authorization)


def with_access_token(value: str) -> Callable[[Call], list[str]]:
    def edit(call: Call) -> list[str]:
        call.parameters["huggingFaceToken"] = value
        return []

    return edit


def echo_body(wire: Wire, request: Request) -> None:
    wire.send(head("422 Unprocessable Entity", [JSON], error_body(f"bad body: {request.body.decode('utf-8', 'replace')}", "x")))


CASES["an access token of JSON syntax, echoed"] = Case(echo_body, edit=with_access_token('":"'))
CASES["an access token with capitals, echoed lower-cased"] = Case(
    lambda w, r: w.send(head("401 Unauthorized", [JSON, (r.access_token.lower(), "1")], error_body(r.access_token.lower()))),
    edit=with_access_token("HF_UPPER_case_Token"))
CASES["a 4,096-byte periodic access token echoed 200 times"] = Case(
    lambda w, r: w.send(head("401 Unauthorized", [JSON], error_body((r.access_token + "z") * 200))),
    edit=with_access_token(("ab" * 2048)))
CASES["a 300,000-byte periodic access token"] = Case(echo_body, edit=with_access_token("hf_" + "xy" * 150_000), invalid=True)


def many_secrets(call: Call) -> list[str]:
    tokens = {f"k{i}": "s" * 700 + str(i) for i in range(100)}
    call.definition["httpRequest"]["body"]["access_tokens"] = tokens
    return list(tokens.values())


CASES["100 access tokens of 700 bytes"] = Case(echo_body, edit=many_secrets, invalid=True)


def nested_secret(call: Call) -> list[str]:
    call.definition["httpRequest"]["body"]["access_tokens"]["nested"] = {"deeper": "hf_nested_secret"}
    return ["hf_nested_secret"]


CASES["an access token nested in an object"] = Case(echo_body, edit=nested_secret, invalid=True)


# --- Running them ------------------------------------------------------------------------


#: attack -> host -> what happened.
CELLS: dict[str, dict[str, str]] = defaultdict(dict)


@pytest.fixture(scope="module")
def server():
    with HostileServer({name: case.attack for name, case in CASES.items()}) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def reported():
    yield
    hosts = sorted({h for cells in CELLS.values() for h in cells})
    lines = ["| attack | " + " | ".join(hosts) + " |", "|---|" + "---|" * len(hosts)]
    for name in CASES:
        if name in CELLS:
            lines.append(f"| {name.replace('|', '/')} | " + " | ".join(CELLS[name].get(h, "") for h in hosts) + " |")
    report(
        "adversarial",
        f"{len(CASES)} attacks, each through test-request and execute; connect {CONNECT_S} s, read {READ_S} s, "
        f"deadline {DEADLINE_S} s. Each cell: test-request's outcome, execute's result, the longer of the two "
        f"times.\n\n" + "\n".join(lines),
    )


#: The attacks whose answer starts with a well-formed 2xx status line (after any 1xx), which
#: every host hands to the component as it is: once it has, nothing may be retryable, whatever
#: breaks afterwards. Left out on purpose: heads that a host may refuse as malformed (a
#: LF-only or 100 KB head, obs-fold, a NUL, conflicting framing, 10,000 headers, a 204 with a
#: body), which the hosts report as protocol errors before any status.
DELIVERS_2XX = {
    "HTTP/1.0, body until close", "no reason phrase", "100 Continue, then 202", "103 Early Hints, then 202",
    "gzip-encoded 202 holding the token", "br-encoded 202", "a 202 in 500,000 one-byte chunks",
    "a chunk size past 2^64", "a chunk size that is not hex", "a negative chunk size", "1 MB of chunk extensions",
    "chunked, cut before the last chunk", "4 MiB + 1 in 64 KB chunks",
    *(f"token.value is {name}" for name in ["an object", "a number", "an array", "null", "empty", "16,000 characters"]),
    "token.value of 4,000 a's in 1 MB of a's", "token.value of 4,000 a's echoed 200 times",
    "a periodic token.value overlapping itself", "a 202 with a byte-order mark", "token.value every character \\u-escaped",
    "a 202 of 4 MB of tiny JSON values", "a 202 nested 200 levels", "a 3 MB id", "an id with CR, LF and ANSI escapes",
    "the token echoed in the id", "every secret echoed in a 202's fields and headers",
    "every secret echoed in a 200, the token as a header name", "a 202 cut inside its token at 4 MiB",
    "invalid UTF-8 around the token", "a 202 body dripped a byte every 0.3 s", "a 202 head, then nothing",
    "half a chunked 202, then nothing", "reset after a 202 head", "1 MB trickled at 100 KB/s",
}


def test_the_attacks_are_the_ones_counted():
    # An attack lost from the table (a name overwritten, a loop that ran short) fails here.
    assert len(CASES) == 122, len(CASES)
    assert DELIVERS_2XX <= set(CASES), DELIVERS_2XX - set(CASES)
    assert len(DELIVERS_2XX) == 38, len(DELIVERS_2XX)


@pytest.mark.parametrize("name", list(CASES))
def test_every_promise_holds_under_attack(harness, server, name):
    case = CASES[name]
    seen = []
    for function in ("test_request", "execute"):
        # `ifExists: fail`, so that the server's count is the create alone: adopt would look
        # the name up on this same hostile server after an ambiguous answer.
        call = harness.prepare(url=server.url_for(name), connect_timeout=CONNECT_S, read_timeout=READ_S, deadline=DEADLINE_S, if_exists="fail")
        written = case.edit(call) if case.edit else []
        started = time.monotonic()
        # What the server made up and "returned once" must be masked as well.
        result = harness.call(function, call, posts=None, extra_secrets=written, issued_by=server.issued)
        elapsed = time.monotonic() - started
        received = server.requests(call.call_id)
        assert len(received) == (0 if case.invalid else 1), f"{function}: the server got {len(received)} requests"
        assert elapsed < DEADLINE_S + SLACK_S, f"{function} took {elapsed:.1f} s"
        if function == "test_request":
            seen.append(result["outcome"])
            assert result["outcome"] != "invalid" or case.invalid, result["summary"]
        elif "ok" in result:
            seen.append("Ok")
        else:
            failure = result["err"]
            seen.append(f"{failure['kind']}{', retryable' if failure['retryable'] else ''}")
            # Once a 2xx status line went out, nothing is retryable: known from the attack,
            # not from what the component says it received.
            if name in DELIVERS_2XX:
                assert not failure["retryable"], f"a 2xx went out, yet retryable: {failure['message']}"
        seen[-1] += f" ({elapsed * 1000:.0f} ms)"
    CELLS[name][harness.host] = " / ".join(seen)
