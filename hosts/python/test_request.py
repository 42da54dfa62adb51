"""Test request: renders, sends and reports one request through the component, as the
workflow editor's "Test request" button does.

By default the request goes to the local stand-in of the API (standin/standin.py); with
--real it goes to https://api.digitalocean.com and an accepted request creates a real,
billed dedicated inference. Run it as scripts/test-request, which installs the tools first.
The output lists every exchange the call made (the create, then with "ifExists": "adopt" its
lookups and token mint), masked, one line each.

Adopting (the ready definition's "ifExists": "adopt"): when the name is taken by an instance
with the same spec, the component adopts it and mints a new token for it. Against the
stand-in (loopback) it does so at once. With --real it stops first (outcome
needs-confirmation, nothing minted) and this tool asks "Adopt <id> and mint a token? [y/N]"
when stdin is a terminal, and sends again with "confirmAdopt": "<id>" on yes. Without a
terminal it prints the id and exits 1: rerun with --confirm-adopt ID to mint.

Exit status: 0 when the outcome is accepted or succeeded, 1 for any other outcome (declined
adoption included), 2 for a usage or tool error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

from wasmtime import WasmtimeError


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "standin"))

from artifact import BuildError, build_artifact  # noqa: E402
from host import ComponentTrap, Exchange, Header, RequestTestResult, TaskHost  # noqa: E402
from launcher import StandInError, running_standin  # noqa: E402

# The stand-in accepts any `dop_v1_` token of 8 or more further characters.
DEMO_TOKEN = "dop_v1_standin" + "0" * 57
MASK = "••••••••"
# Scheme and authority of an absolute URL: what the stand-in replaces.
ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")

OUTCOME_COLORS = {
    "succeeded": "32",
    "accepted": "32",
    "rejected": "33",
    "failed": "31",
    "unreachable": "31",
    "invalid": "31",
    "needs-confirmation": "33",
}
SEVERITY_COLORS = {"error": "31", "warning": "33"}


class ToolError(Exception):
    """Something that keeps a request from being tested at all (exit status 2)."""


def main() -> int:
    # Turns SIGTERM into an exception, so that the stand-in is stopped as on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args = parse_args()
    saved = None
    try:
        result = run(args)
        if result["revealed_secrets"] and (args.save_secrets or args.real):
            # With --real the token can never be read again: never only mask it away.
            saved = save_secrets(result["revealed_secrets"], args.save_secrets or default_secrets_file())
    except ToolError as error:
        print(f"test-request: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    if not args.reveal:
        result["revealed_secrets"] = [(name, MASK) for name, _ in result["revealed_secrets"]]
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(format_result(result, reveal=args.reveal, saved=saved, color=color))
    return 0 if result["outcome"] in ("accepted", "succeeded") else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/test-request",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--definition",
        type=Path,
        default=REPO / "fixtures/definition.json",
        metavar="FILE",
        help="the HTTP task definition (default: fixtures/definition.json)",
    )
    parser.add_argument(
        "--parameters",
        type=Path,
        default=REPO / "fixtures/parameters.json",
        metavar="FILE",
        help="the task input parameters (default: fixtures/parameters.json)",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="send to https://api.digitalocean.com with $DIGITALOCEAN_TOKEN (billed!)",
    )
    parser.add_argument(
        "--confirm-adopt",
        metavar="ID",
        help='adopt the existing instance ID (its name and spec match) and mint a token for it '
        'without asking: adds "confirmAdopt": ID to the definition (only --real asks at all)',
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON, as the component returns it"
    )
    parser.add_argument(
        "--save-secrets",
        type=Path,
        metavar="FILE",
        help="write the secrets the API returns once to FILE (mode 600); with --real this "
        "happens by default, to ./revealed-secrets-<time>.json",
    )
    parser.add_argument(
        "--reveal",
        action="store_true",
        help="print the secrets the API returns once (masked otherwise, in --json too)",
    )
    return parser.parse_args()


def run(args: argparse.Namespace) -> RequestTestResult:
    env_token = os.environ.get("DIGITALOCEAN_TOKEN")
    if args.real and not env_token:
        raise ToolError("--real needs the API token in DIGITALOCEAN_TOKEN")
    definition = read_text(args.definition)
    parameters = read_text(args.parameters)
    try:
        wasm = build_artifact()
    except BuildError as error:
        raise ToolError(str(error)) from error
    with ExitStack() as stack:
        if args.real:
            print(
                "warning: --real sends to https://api.digitalocean.com; "
                "an accepted request creates a real, billed dedicated inference",
                file=sys.stderr,
            )
        else:
            definition = point_at(definition, stack.enter_context(standin()))
        token = env_token or DEMO_TOKEN
        if args.confirm_adopt:
            definition = with_confirmed_adoption(definition, args.confirm_adopt)
        try:
            host = TaskHost(wasm)
            secrets = {"token": token}
            result = host.test_request({"definition": definition, "parameters": parameters, "secrets": secrets})
            if result["outcome"] != "needs-confirmation":
                return result
            adopt = adoption_id(result)
            if adopt is None or not ask_to_adopt(result, adopt):
                return result
            # Sent again, create first: the name is taken by `adopt`, which it now mints for.
            confirmed = with_confirmed_adoption(definition, adopt)
            return host.test_request({"definition": confirmed, "parameters": parameters, "secrets": secrets})
        except (ComponentTrap, WasmtimeError, ValueError) as error:
            raise ToolError(f"the component failed: {error}") from error


def with_confirmed_adoption(definition: str, instance_id: str) -> str:
    """The definition with `"confirmAdopt": instance_id` (the person confirmed adopting it)."""
    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError:
        return definition  # for the component to report
    if not isinstance(parsed, dict):
        return definition
    parsed["confirmAdopt"] = instance_id
    return json.dumps(parsed, ensure_ascii=False)


def adoption_id(result: RequestTestResult) -> str | None:
    """The id of the instance a `needs-confirmation` result would adopt.

    Taken from the exchanges, not from the summary's wording: the last lookup's answer is a
    `GET …/{id}` (its URL's last segment) or a listing page, whose items named like the
    create's `spec.name` are the candidates. The summary must name the candidate (with
    duplicate names allowed, that tells which); failing that, the id the summary names."""
    candidates: list[str] = []
    name = created_name(result)
    for exchange in reversed(result["exchanges"][1:]):
        request, response = exchange["request"], exchange["response"]
        if request["method"] != "GET":
            continue
        path = urlsplit(request["url"]).path.rstrip("/")
        create_path = urlsplit(result["exchanges"][0]["request"]["url"]).path.rstrip("/")
        if path.startswith(create_path + "/"):
            candidates.append(unquote(path[len(create_path) + 1 :]))
        elif response is not None and name is not None:
            candidates += listed_ids(response["body"], name)
        if candidates:
            break
    for candidate in candidates:
        if candidate and candidate in result["summary"]:
            return candidate
    named = re.search(r"Would adopt the existing .*? (\S+) \(", result["summary"])
    return named.group(1) if named else None


def created_name(result: RequestTestResult) -> str | None:
    request = result["request"]
    try:
        body = json.loads(request["body"]) if request and request["body"] else None
    except json.JSONDecodeError:
        return None
    spec = body.get("spec") if isinstance(body, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) else None


def listed_ids(body: str, name: str) -> list[str]:
    try:
        page = json.loads(body)
    except json.JSONDecodeError:
        return []
    items = page.get("dedicated_inferences") if isinstance(page, dict) else None
    ids = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        spec = item.get("spec") if isinstance(item.get("spec"), dict) else {}
        if name in (spec.get("name"), item.get("name")) and isinstance(item.get("id"), str):
            ids.append(item["id"])
    return ids


def ask_to_adopt(result: RequestTestResult, instance_id: str) -> bool:
    """Asks the person on the terminal; without one, says how to confirm and declines."""
    print(result["summary"], file=sys.stderr)
    if not sys.stdin.isatty():
        print(f"test-request: not adopted; rerun with --confirm-adopt {instance_id} to adopt it "
              "and mint a token", file=sys.stderr)
        return False
    try:
        answer = input(f"Adopt {instance_id} and mint a token? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def default_secrets_file() -> Path:
    return Path(f"revealed-secrets-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")


def save_secrets(secrets: list[tuple[str, str]], path: Path) -> Path:
    """Writes the once-returned secrets as a JSON object, readable by the owner only."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(dict(secrets), file, indent=2)
            file.write("\n")
    except OSError as error:
        raise ToolError(f"cannot write {path}: {error.strerror}") from error
    return path


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ToolError(f"cannot read {path}: {error.strerror}") from error


@contextmanager
def standin() -> Iterator[str]:
    """The stand-in on a free loopback port; yields its base URL and stops it on exit."""
    try:
        with running_standin() as api:
            yield api.url
    except StandInError as error:
        raise ToolError(str(error)) from error


def point_at(definition: str, base_url: str) -> str:
    """The definition with the scheme and authority of `httpRequest.url` replaced by
    `base_url`'s. A definition without such a URL is returned as it is, for the component
    to report."""
    try:
        parsed = json.loads(definition)
    except json.JSONDecodeError:
        return definition
    request = parsed.get("httpRequest") if isinstance(parsed, dict) else None
    url = request.get("url") if isinstance(request, dict) else None
    origin = ORIGIN.match(url) if isinstance(url, str) else None
    if request is None or url is None or origin is None:
        return definition
    request["url"] = base_url + url[origin.end() :]
    return json.dumps(parsed, ensure_ascii=False)


def format_result(result: RequestTestResult, *, reveal: bool, saved: Path | None, color: bool) -> str:
    """The result as the editor shows it, in plain text."""

    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    outcome = result["outcome"]
    request, response = result["request"], result["response"]
    elapsed = f"{result['elapsed_ms']} ms"
    if response is not None:
        detail = f"{response['status']} in {elapsed}"
    elif outcome == "invalid":
        detail = "nothing sent"
    else:
        detail = f"no response after {elapsed}"
    lines = [f"{paint(outcome.upper(), OUTCOME_COLORS[outcome])}  {detail}", result["summary"]]

    if request is not None:
        lines += ["", "Request", f"  {request['method']} {request['url']}"]
        lines += header_lines(request["headers"])
        if request["body"] is not None:
            lines += ["", indent(pretty(request["body"]))]
    if response is not None:
        lines += ["", "Response", f"  {status_text(response['status'])}"]
        lines += header_lines(response["headers"])
        if response["body"]:
            lines += ["", indent(pretty(response["body"]))]
        if response["truncated"]:
            lines.append("  (body truncated: only its first 1 MiB is shown)")

    if result["exchanges"]:
        lines += ["", "Exchanges"]
        lines += [f"  {number}. {exchange_line(exchange)}" for number, exchange in enumerate(result["exchanges"], 1)]

    lines += ["", "Diagnostics"]
    for diagnostic in result["diagnostics"]:
        severity = paint(diagnostic["severity"].ljust(8), SEVERITY_COLORS[diagnostic["severity"]])
        lines.append(f"  {severity}{diagnostic['path']}: {diagnostic['message']}")
    if not result["diagnostics"]:
        lines.append("  no diagnostics")

    if result["revealed_secrets"]:
        if reveal:
            note = "store it now"
        elif saved:
            note = f"saved to {saved}, readable by you only"
        else:
            note = "rerun with --reveal to print it"
        lines += ["", "Revealed secrets"]
        for name, value in result["revealed_secrets"]:
            lines.append(f"  {name}: {value}  (returned once; {note})")
    return "\n".join(lines)


def exchange_line(exchange: Exchange) -> str:
    """`GET <url> → 200 OK`, or `→ <why no answer came>`: masked, as the component gives it."""
    request, response = exchange["request"], exchange["response"]
    if response is not None:
        answer = status_text(response["status"])
    else:
        answer = exchange["error"] or "no answer"
    return f"{request['method']} {request['url']} → {answer}"


def header_lines(headers: list[Header]) -> list[str]:
    return [f"  {header['name']}: {header['value']}" for header in headers]


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def pretty(body: str) -> str:
    """JSON pretty-printed; anything else (such as a truncated body) as it is."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except json.JSONDecodeError:
        return body


def indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
