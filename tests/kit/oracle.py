"""The secret oracle of the end-to-end cases: does any output carry a secret, in any view a
reader may decode and any form the secret is used in? The same promise as the property tests
(tests/properties.rs), written again here, independently of the component's masking.

Promised (README, Security): the secret as given, trimmed, and ASCII-lower-cased, found in the
text as it is, with its JSON string escapes decoded up to three times, or its percent-encoding
decoded (also inside one level of JSON escapes). Not promised: base64 or any other encoding.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})(?:\\u([0-9a-fA-F]{4}))?|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def json_unescaped(text: str) -> str:
    """JSON string escapes decoded wherever they are; anything else kept."""

    def decode(match: re.Match[str]) -> str:
        if match.group(3):
            return _SIMPLE[match.group(3)]
        high = int(match.group(1), 16)
        if match.group(2) and 0xD800 <= high < 0xDC00:
            low = int(match.group(2), 16)
            if 0xDC00 <= low < 0xE000:
                return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if 0xD800 <= high < 0xE000:
            return match.group(0)  # a lone surrogate is no character
        rest = f"\\u{match.group(2)}" if match.group(2) else ""
        return chr(high) + json_unescaped(rest) if rest else chr(high)

    return _ESCAPE.sub(decode, text)


def percent_decoded(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", "replace")


def views(text: str) -> list[str]:
    once = json_unescaped(text)
    twice = json_unescaped(once)
    return [text, once, twice, json_unescaped(twice), percent_decoded(text), percent_decoded(once)]


def forms(secret: str) -> set[str]:
    trimmed = secret.strip()
    return {f for f in (secret, trimmed, secret.lower(), trimmed.lower()) if f}


def leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets (abbreviated) that `text` carries in some view."""
    found = []
    decoded = views(text)
    for secret in secrets:
        if any(form in view for form in forms(secret) for view in decoded):
            found.append(secret[:6] + "…")
    return found


def leaked(value: Any, secrets: list[str], where: str = "result") -> list[str]:
    """Every place in `value` (any nesting of dicts, lists, tuples, strings) holding a secret.
    A string that is a JSON text (a step failure's `response`, a response body) is checked as
    a reader reads it, decoded: its syntax holds `":"` and `{`, which a secret may equal."""
    found = []
    if isinstance(value, str):
        decoded = None
        if value[:1] in "{[":
            try:
                decoded = json.loads(value)
            except ValueError:
                pass
        if decoded is None:
            found += [f"{where}: {s}" for s in leaks(value, secrets)]
        else:
            found += leaked(decoded, secrets, f"{where} (decoded)")
    elif isinstance(value, dict):
        for k, v in value.items():
            found += leaked(k, secrets, f"{where}.{k}") + leaked(v, secrets, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found += leaked(v, secrets, f"{where}[{i}]")
    return found


def count_strings(value: Any) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, dict):
        return sum(count_strings(k) + count_strings(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(count_strings(v) for v in value)
    return 0


def allowed_removed(function: str, result: Any, issued: list[str]) -> tuple[Any, list[str]]:
    """What of a call's result must hold no secret, and the problems with what it may hold.

    The single allowance: the token the API returned once (`issued`, as the server that made
    it up recorded it), in test-request's `revealed_secrets` and at `body.token.value` of
    execute's Ok output (the workflow must be able to store it). Anything else in
    `revealed_secrets` is a problem; so is an execute Ok output that is not JSON."""
    function = function.replace("-", "_")
    problems: list[str] = []
    if function == "test_request" and isinstance(result, dict):
        revealed = result.get("revealed_secrets") or []
        problems += [f"revealed_secrets holds {name!r}, which the server did not issue"
                     for name, value in revealed if value not in issued]
        return {k: v for k, v in result.items() if k != "revealed_secrets"}, problems
    if function == "execute" and isinstance(result, dict) and "ok" in result:
        try:
            output = json.loads(result["ok"])
        except (TypeError, ValueError):
            return result, ["execute's Ok output is not JSON"]
        token = output.get("body", {}).get("token") if isinstance(output.get("body"), dict) else None
        if isinstance(token, dict) and token.get("value") in issued:
            token = dict(token)
            del token["value"]
            output = {**output, "body": {**output["body"], "token": token}}
        return {"ok": output}, problems
    return result, problems
