"""Test request: renders, sends and reports one request through the component, as the
workflow editor's "Test request" button does.

By default the request goes to the local stand-in of the API (standin/standin.py); with
--real it goes to https://api.digitalocean.com and an accepted request creates a real,
billed dedicated inference. Run it as scripts/test-request, which installs the tools first.
Exit status: 0 when the outcome is accepted or succeeded, 1 for any other outcome, 2 for a
usage or tool error.
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

from wasmtime import WasmtimeError


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "standin"))

from artifact import BuildError, build_artifact  # noqa: E402
from host import ComponentTrap, Header, RequestTestResult, TaskHost  # noqa: E402
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
        try:
            return TaskHost(wasm).test_request(
                {"definition": definition, "parameters": parameters, "secrets": {"token": token}}
            )
        except (ComponentTrap, WasmtimeError, ValueError) as error:
            raise ToolError(f"the component failed: {error}") from error


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
