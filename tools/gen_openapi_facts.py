#!/usr/bin/env python3
"""Writes fixtures/openapi/dedicated-inferences.json: the facts this project relies on about
DigitalOcean's Dedicated Inference API, taken from a checkout of DigitalOcean's own API
description (github.com/digitalocean/openapi), with every `$ref` resolved so that each schema
in the fixture stands alone as a JSON Schema (draft 2020-12).

    .venv/bin/python tools/gen_openapi_facts.py CHECKOUT            # writes the fixture
    .venv/bin/python tools/gen_openapi_facts.py CHECKOUT --check    # exit 1 when it is stale

CHECKOUT is either a work tree of digitalocean/openapi (it has `specification/`) or a bare git
directory of it (as the search tool's `fetch` leaves it), read at `--rev` (HEAD). The fixture
records where each fact came from: the repository, the commit, and every file read (with its
git blob id when the checkout is a git repository), and for facts only written as prose in
`specification/description.yml`, the lines they were read from. Nothing else reads the
network; the tests read only the committed fixture. docs/api-facts.md says what the fixture
holds and how the project differs from it.

Conversion from OpenAPI 3.0 schemas: `$ref` inlined, `nullable: true` becomes a `"null"` type,
`example` becomes `examples: [...]`, `x-*` extensions are dropped; everything else (`readOnly`,
`format`, `enum`, `required`, `minItems`, `pattern`, ...) is kept as written.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "fixtures" / "openapi" / "dedicated-inferences.json"
REPOSITORY = "https://github.com/digitalocean/openapi"
SPEC = "specification"
MAIN = f"{SPEC}/DigitalOcean-public.v2.yaml"
DESCRIPTION = f"{SPEC}/description.yml"
RESOURCE = f"{SPEC}/resources/dedicated_inferences"
JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
#: The operations the project relies on: fixture key -> operation file under RESOURCE. Their
#: method and path come from the description's `paths` table.
OPERATIONS = {
    "create": "dedicated_inferences_create.yml",
    "list": "dedicated_inferences_list.yml",
    "get": "dedicated_inferences_get.yml",
    "delete": "dedicated_inferences_delete.yml",
    "token_create": "dedicated_inferences_tokens_create.yml",
}


class FactError(Exception):
    """The description does not say what this generator expects: read it again."""


class Checkout:
    """Files of a work tree or of a bare git directory, at one revision."""

    def __init__(self, path: Path, rev: str) -> None:
        self.path = path
        self.bare = not (path / SPEC).is_dir()
        self.files: dict[str, str | None] = {}  # path read -> git blob id (None: not in git)
        self._texts: dict[str, str] = {}
        self.commit = self._git("rev-parse", f"{rev}^{{commit}}" if self.bare else "HEAD")
        self.rev = rev if self.bare else "HEAD"
        if self.bare and self.commit is None:
            raise FactError(f"{path} has no {SPEC}/ and is not a git directory with revision {rev}")
        self.commit_date = self._git("log", "-1", "--format=%cI", self.commit) if self.commit else None

    def _git(self, *args: str) -> str | None:
        option = f"--git-dir={self.path}" if self.bare else f"--work-tree={self.path}"
        command = ["git", option, *args] if self.bare else ["git", "-C", str(self.path), *args]
        done = subprocess.run(command, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    def text(self, name: str) -> str:
        if name not in self._texts:
            if self.bare:
                done = subprocess.run(
                    ["git", f"--git-dir={self.path}", "show", f"{self.commit}:{name}"],
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise FactError(f"{name} is not in {self.path} at {self.commit}: {done.stderr.strip()}")
                self._texts[name] = done.stdout
            else:
                self._texts[name] = (self.path / name).read_text()
            blob = self._git("rev-parse", f"{self.commit}:{name}") if self.commit else None
            self.files[name] = blob
        return self._texts[name]

    def yaml(self, name: str) -> Any:
        return yaml.safe_load(self.text(name))


class Resolver:
    """Turns OpenAPI 3.0 objects with relative `$ref`s into self-contained JSON."""

    def __init__(self, checkout: Checkout) -> None:
        self.checkout = checkout

    def target(self, ref: str, base: str) -> tuple[Any, str]:
        """The object `ref` points to from file `base`, and the file it is in."""
        file_part, _, pointer = ref.partition("#")
        name = posixpath.normpath(posixpath.join(posixpath.dirname(base), file_part)) if file_part else base
        node = self.checkout.yaml(name)
        for token in filter(None, pointer.split("/")):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node, name

    def follow(self, node: Any, base: str) -> tuple[Any, str]:
        """`node` with `$ref`s at its top followed, and the file the result is in."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            key = (node["$ref"], base)
            if key in seen:
                raise FactError(f"$ref cycle at {node['$ref']} in {base}")
            seen.add(key)
            node, base = self.target(node["$ref"], base)
        return node, base

    def schema(self, node: Any, base: str, trail: tuple[str, ...] = ()) -> Any:
        """A JSON Schema for the OpenAPI schema `node` of file `base`."""
        if isinstance(node, dict) and "$ref" in node:
            where = f"{base}{node['$ref']}" if node["$ref"].startswith("#") else node["$ref"]
            if where in trail:
                raise FactError(f"recursive schema at {where}: the fixture cannot inline it")
            target, target_base = self.target(node["$ref"], base)
            return self.schema(target, target_base, (*trail, where))
        if isinstance(node, list):
            return [self.schema(item, base, trail) for item in node]
        if not isinstance(node, dict):
            return node
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key.startswith("x-") or key == "nullable":
                continue
            if key == "example":
                result["examples"] = [value]
            elif key == "description" and isinstance(value, str):
                result[key] = " ".join(value.split())
            elif key == "properties":
                result[key] = {name: self.schema(child, base, trail) for name, child in value.items()}
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                result[key] = self.schema(value, base, trail)
            else:
                result[key] = value
        if node.get("nullable") is True and "type" in result:
            result["type"] = [result["type"], "null"]
        return result


def rooted(schema: Any) -> Any:
    return {"$schema": JSON_SCHEMA, **schema} if isinstance(schema, dict) else schema


def response(resolver: Resolver, node: Any, base: str) -> dict[str, Any]:
    node, base = resolver.follow(node, base)
    headers = {}
    for name, header in (node.get("headers") or {}).items():
        header, header_base = resolver.follow(header, base)
        headers[name] = {
            "description": " ".join(str(header.get("description", "")).split()),
            "schema": rooted(resolver.schema(header.get("schema", {}), header_base)),
        }
    result: dict[str, Any] = {
        "source": base,
        "description": " ".join(str(node.get("description", "")).split()),
        "headers": headers,
        "content_type": None,
        "schema": None,
    }
    content = node.get("content") or {}
    if content:
        [(media_type, body)] = content.items()
        result["content_type"] = media_type
        result["schema"] = rooted(resolver.schema(body.get("schema", {}), base))
        if "example" in body:
            result["example"] = body["example"]
    return result


def operation(checkout: Checkout, resolver: Resolver, key: str, file_name: str, paths: dict) -> dict[str, Any]:
    name = f"{RESOURCE}/{file_name}"
    found = [
        (method.upper(), path)
        for path, item in paths.items()
        for method, ref in item.items()
        if isinstance(ref, dict) and posixpath.normpath(posixpath.join(SPEC, ref.get("$ref", ""))) == name
    ]
    if len(found) != 1:
        raise FactError(f"{name} is used by {len(found)} entries of the paths table, expected 1")
    [(method, path)] = found
    node = checkout.yaml(name)
    scopes = [scope for requirement in node.get("security", []) for scope in requirement.get("bearer_auth", [])]
    parameters = []
    for parameter in node.get("parameters", []):
        parameter, parameter_base = resolver.follow(parameter, name)
        parameters.append(
            {
                "name": parameter["name"],
                "in": parameter["in"],
                "required": bool(parameter.get("required", False)),
                "description": " ".join(str(parameter.get("description", "")).split()),
                "schema": rooted(resolver.schema(parameter.get("schema", {}), parameter_base)),
            }
        )
    request = None
    if "requestBody" in node:
        body, body_base = resolver.follow(node["requestBody"], name)
        [(media_type, content)] = body["content"].items()
        request = {
            "required": bool(body.get("required", False)),
            "content_type": media_type,
            "schema": rooted(resolver.schema(content["schema"], body_base)),
        }
    return {
        "operation_id": node["operationId"],
        "method": method,
        "path": path,
        "summary": node["summary"],
        "description": " ".join(node["description"].split()),
        "scopes": scopes,
        "source": name,
        "parameters": parameters,
        "request": request,
        "responses": {str(status): response(resolver, value, name) for status, value in node["responses"].items()},
    }


# --- Facts written only as prose in description.yml ---


class Prose:
    """The lines of a file, for reading facts out of its text with their line numbers."""

    def __init__(self, checkout: Checkout, name: str) -> None:
        self.name = name
        self.lines = checkout.text(name).splitlines()

    def section(self, heading: str) -> tuple[int, int]:
        """1-based first and last line of the Markdown section `## heading`."""
        starts = [i for i, line in enumerate(self.lines) if line.strip() == f"## {heading}"]
        if len(starts) != 1:
            raise FactError(f"{self.name}: {len(starts)} sections '## {heading}'")
        start = starts[0]
        end = next(
            (i for i in range(start + 1, len(self.lines)) if re.match(r"\s*## ", self.lines[i])), len(self.lines)
        )
        while end > start and not self.lines[end - 1].strip():
            end -= 1
        return start + 1, end

    def find(self, lines: tuple[int, int], pattern: str) -> tuple[re.Match[str], int]:
        """The first match of `pattern` in the 1-based line range, and its line."""
        for number in range(lines[0], lines[1] + 1):
            match = re.search(pattern, self.lines[number - 1].strip())
            if match:
                return match, number
        raise FactError(f"{self.name} lines {lines[0]}-{lines[1]}: nothing matches {pattern!r}")

    def quote(self, lines: tuple[int, int], pattern: str) -> dict[str, Any]:
        match, number = self.find(lines, pattern)
        return {"line": number, "text": self.lines[number - 1].strip()}


def number(text: str) -> int:
    return int(text.replace(",", ""))


def rate_limit(prose: Prose, checkout: Checkout, resolver: Resolver) -> dict[str, Any]:
    lines = prose.section("Rate Limit")
    per_hour, hour_line = prose.find(lines, r"\*\s+([\d,]+) requests per hour")
    per_minute, minute_line = prose.find(lines, r"\*\s+([\d,]+) requests per minute")
    per, _ = prose.find(lines, r"rate limited per (OAuth token)")
    headers_yml = f"{SPEC}/shared/headers.yml"
    shared_headers = checkout.yaml(headers_yml)
    headers = {
        name: {
            "description": " ".join(shared_headers[name]["description"].split()),
            "schema": rooted(resolver.schema(shared_headers[name]["schema"], headers_yml)),
        }
        for name in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")
    }
    return {
        "per": "token" if per[1] == "OAuth token" else per[1],
        "per_hour": number(per_hour[1]),
        "per_minute": number(per_minute[1]),
        "headers": headers,
        "burst_only_headers": [prose.find(lines, r"\*\s+\*\*(retry-after)\*\*")[0][1]],
        "source": {"file": prose.name, "lines": list(lines), "shared_headers": headers_yml},
        "quotes": [
            {"line": hour_line, "text": prose.lines[hour_line - 1].strip()},
            {"line": minute_line, "text": prose.lines[minute_line - 1].strip()},
            prose.quote(lines, r"each request instead has its own timer"),
            prose.quote(lines, r"\*\*ratelimit-reset\*\*"),
            prose.quote(lines, r"burst limit error response headers"),
            prose.quote(lines, r"\*\*retry-after\*\*"),
            prose.quote(lines, r"reaches zero, subsequent requests will receive"),
            prose.quote(lines, r"In this case, the 429 error response will include"),
            prose.quote(lines, r"^id: \"too_many_requests\""),
            prose.quote(lines, r"message: \""),
        ],
    }


def cors(prose: Prose) -> dict[str, Any]:
    lines = prose.section("Cross Origin Resource Sharing")
    bullets = [n for n in range(lines[0], lines[1] + 1) if re.match(r"\s*\*\s+\*\*Access-Control-", prose.lines[n - 1])]
    credentials, _ = prose.find(lines, r"Allow-Credentials\*\*: This will be set to `(\w+)`")
    return {
        "headers": [re.search(r"\*\*([A-Za-z-]+)\*\*", prose.lines[n - 1])[1] for n in bullets],
        "allow_credentials": credentials[1] == "true",
        "preflight_method": prose.find(lines, r"uses the `(\w+)` method")[0][1],
        "allow_origin": "the origin the request was sent from (its Origin header)",
        "source": {"file": prose.name, "lines": list(lines)},
        "quotes": [
            prose.quote(lines, r"API implements"),
            prose.quote(lines, r"uses the `OPTIONS` method"),
            *({"line": n, "text": prose.lines[n - 1].strip()} for n in bullets),
        ],
    }


def pagination(prose: Prose) -> dict[str, Any]:
    lines = prose.section("Links & Pagination")
    default, _ = prose.find(lines, r"By default, (\d+) objects are returned per page")
    maximum, _ = prose.find(lines, r"per page is (\d+)")
    return {
        "default_per_page": int(default[1]),
        "max_per_page": int(maximum[1]),
        "link_keys": [
            re.search(r"\*\*(\w+)\*\*", prose.lines[n - 1])[1]
            for n in range(lines[0], lines[1] + 1)
            if re.match(r"\s*\*\s+\*\*(first|prev|next|last)\*\*", prose.lines[n - 1])
        ],
        "source": {"file": prose.name, "lines": list(lines)},
        "quotes": [
            prose.quote(lines, r"By default, \d+ objects"),
            prose.quote(lines, r"no `links` object will be returned"),
            prose.quote(lines, r"per page is \d+"),
            prose.quote(lines, r"will only include the links that make sense"),
            prose.quote(lines, r"no `first` or `prev` links"),
        ],
    }


#: The description's shared error responses, by status: their examples are its error texts,
#: also for statuses that no Dedicated Inference operation lists.
SHARED_ERRORS = {
    "400": "bad_request.yml",
    "401": "unauthorized.yml",
    "403": "forbidden.yml",
    "404": "not_found.yml",
    "409": "conflict.yml",
    "422": "unprocessable_entity.yml",
    "429": "too_many_requests.yml",
    "500": "server_error.yml",
    "default": "unexpected_error.yml",
}


def errors(prose: Prose, checkout: Checkout, resolver: Resolver) -> dict[str, Any]:
    lines = prose.section("HTTP Statuses")
    model = f"{SPEC}/shared/models/error.yml"
    examples = {}
    for status, file_name in SHARED_ERRORS.items():
        name = f"{SPEC}/shared/responses/{file_name}"
        example = checkout.yaml(name)["content"]["application/json"]["example"]
        examples[status] = {"id": example["id"], "message": example["message"], "source": name}
    return {
        "schema": rooted(resolver.schema(checkout.yaml(model), model)),
        "examples": examples,
        "source": {"file": prose.name, "lines": list(lines), "schema": model},
        "quotes": [
            prose.quote(lines, r"400 and 500 level error responses will include"),
            prose.quote(lines, r"^\|id\|string\|"),
            prose.quote(lines, r"^\|message\|string\|"),
            prose.quote(lines, r"^\|request_id\|string\|"),
            prose.quote(lines, r"HTTP/1.1 403 Forbidden"),
            prose.quote(lines, r"\"message\":"),
        ],
    }


def authentication(checkout: Checkout, main: dict) -> dict[str, Any]:
    scheme = main["components"]["securitySchemes"]["bearer_auth"]
    lines = checkout.text(MAIN).splitlines()
    prefixes = {}
    for number_, line in enumerate(lines, 1):
        match = re.match(r"\s*- `(do\w_v1_)` for (.+)", line)
        if match and match[1] not in prefixes:
            prefixes[match[1]] = {"meaning": match[2].strip(), "line": number_}
    if not prefixes:
        raise FactError(f"{MAIN}: no token prefixes in bearer_auth's description")
    return {
        "scheme": scheme["scheme"],
        "header": "Authorization: Bearer <token>",
        "token_prefixes": prefixes,
        "scopes_table": "POST <resource>:create, GET <resource>:read, PUT/PATCH <resource>:update, "
        "DELETE <resource>:delete",
        "source": {"file": MAIN, "at": "components.securitySchemes.bearer_auth"},
    }


def facts(checkout: Checkout) -> dict[str, Any]:
    resolver = Resolver(checkout)
    main = checkout.yaml(MAIN)
    prose = Prose(checkout, DESCRIPTION)
    operations = {key: operation(checkout, resolver, key, name, main["paths"]) for key, name in OPERATIONS.items()}
    document = {
        "about": "Facts about DigitalOcean's Dedicated Inference API that this project relies on, from "
        "DigitalOcean's API description. Generated by tools/gen_openapi_facts.py: do not edit by hand. "
        "docs/api-facts.md explains it.",
        "source": {
            "repository": REPOSITORY,
            "commit": checkout.commit,
            "commit_date": checkout.commit_date,
            "files": {},  # filled below, once every file has been read
        },
        "server": main["servers"][0]["url"],
        "authentication": authentication(checkout, main),
        "errors": errors(prose, checkout, resolver),
        "rate_limit": rate_limit(prose, checkout, resolver),
        "cors": cors(prose),
        "pagination": pagination(prose),
        "operations": operations,
    }
    document["source"]["files"] = dict(sorted(checkout.files.items()))
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="work tree or bare git directory of digitalocean/openapi")
    parser.add_argument("--rev", default="HEAD", help="revision of a bare git directory (HEAD)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="exit 1 when the fixture differs")
    args = parser.parse_args(argv)
    try:
        text = json.dumps(facts(Checkout(args.checkout, args.rev)), indent=2, ensure_ascii=False) + "\n"
    except FactError as error:
        print(f"gen_openapi_facts: {error}", file=sys.stderr)
        return 2
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            print(f"{args.out} is stale: rerun without --check", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
